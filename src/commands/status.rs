use std::process::ExitCode;
use std::time::Duration;

use crate::cli::StatusArgs;
use crate::error::Result;
use crate::exec::LocalRunner;
use crate::runtime::status::{self, Inputs, Sources};
use crate::runtime::verify::{self, SipSettings};

pub fn run(args: &StatusArgs) -> Result<ExitCode> {
    let settings = SipSettings {
        port: args.sip_port,
        transport: args.sip_transport,
        timeout: Duration::from_millis(args.sip_timeout),
        accept: args.sip_accept.clone(),
    };
    let probe = |ip: &str| verify::sip(&settings, ip);
    let inputs = Inputs {
        engine: args.engine,
        sources: Sources {
            proc_drbd: args.proc_drbd.clone(),
            haresources: args.haresources.clone(),
            hostname: args.hostname_file.clone(),
        },
        sip: if args.no_sip { None } else { Some(&probe) },
    };
    let report = status::gather(&LocalRunner, &inputs);
    if args.json {
        // Strings, numbers and lists only: encoding cannot fail.
        let text = serde_json::to_string_pretty(&report).expect("the status report serializes");
        println!("{text}");
    } else {
        print!("{}", status::render_table(&report));
    }
    Ok(ExitCode::from(report.health.exit_code()))
}
