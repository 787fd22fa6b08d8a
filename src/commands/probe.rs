use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{ProbeArgs, ProbeKind, SipProbeArgs};
use crate::error::Result;
use crate::runtime::sip_probe::{Probe, median};

pub fn run(args: &ProbeArgs, quiet: bool) -> Result<ExitCode> {
    match &args.kind {
        ProbeKind::Sip(sip) => run_sip(sip, quiet),
    }
}

fn run_sip(args: &SipProbeArgs, quiet: bool) -> Result<ExitCode> {
    let probe = Probe {
        target: args.target.clone(),
        transport: args.transport,
        timeout: Duration::from_millis(args.timeout),
    };
    let mut rtts = Vec::new();
    let mut failed = 0u32;
    for seq in 1..=args.count {
        match probe.send(seq) {
            Ok(reply) => {
                let accepted = args.accept.accepts(reply.status);
                if accepted {
                    rtts.push(reply.rtt);
                } else {
                    failed += 1;
                }
                if !quiet {
                    println!(
                        "{} from {} over {} in {:.3} ms{}",
                        reply.status_line,
                        reply.peer,
                        args.transport,
                        reply.rtt.as_secs_f64() * 1000.0,
                        if accepted { "" } else { " (not accepted)" }
                    );
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if args.count > 1 && !quiet {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let summary = match (rtts.iter().min(), median(&rtts), rtts.iter().max()) {
            (Some(min), Some(med), Some(max)) => format!(
                ", rtt min/median/max = {:.3}/{:.3}/{:.3} ms",
                ms(*min),
                ms(med),
                ms(*max)
            ),
            _ => String::new(),
        };
        println!(
            "{} sent, {} accepted{summary}",
            args.count,
            args.count - failed
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
