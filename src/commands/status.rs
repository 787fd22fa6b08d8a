use std::process::ExitCode;
use std::time::Duration;

use crate::cli::StatusArgs;
use crate::error::Result;
use crate::exec::LocalRunner;
use crate::runtime::sip_probe::{Probe, Target};
use crate::runtime::status::{self, Inputs, SipCheck, Sources};

pub fn run(args: &StatusArgs) -> Result<ExitCode> {
    let probe = |ip: &str| -> SipCheck {
        let target = Target {
            host: ip.to_string(),
            port: args.sip_port,
        };
        let shown = target.to_string();
        let p = Probe {
            target,
            transport: args.sip_transport,
            timeout: Duration::from_millis(args.sip_timeout),
        };
        match p.send(1) {
            Ok(r) => SipCheck {
                target: shown,
                ok: args.sip_accept.accepts(r.status),
                status_line: Some(r.status_line),
                rtt_ms: Some(r.rtt.as_secs_f64() * 1000.0),
                error: None,
            },
            Err(e) => SipCheck {
                target: shown,
                ok: false,
                status_line: None,
                rtt_ms: None,
                error: Some(e.to_string()),
            },
        }
    };
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
