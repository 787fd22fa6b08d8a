use std::process::ExitCode;

use crate::cli::{DrbdlinksAction, DrbdlinksArgs};
use crate::error::Result;
use crate::exec::LocalRunner;
use crate::runtime::drbdlinks::{Config, Drbdlinks, LinkState, Overall};

/// LSB status codes (what Heartbeat's resource scripts and the OCF wrapper expect).
const STATUS_STOPPED: u8 = 3;
const STATUS_PARTIAL: u8 = 1;

pub fn run(args: &DrbdlinksArgs, quiet: bool) -> Result<ExitCode> {
    let links = Drbdlinks {
        config: Config::load(&args.config)?,
        root: args.root.clone(),
        mountinfo: args.mountinfo.clone(),
    };
    match args.action {
        DrbdlinksAction::Start | DrbdlinksAction::Stop => {
            let done = if args.action == DrbdlinksAction::Start {
                links.start(&LocalRunner)?
            } else {
                links.stop()?
            };
            if !quiet {
                for line in &done {
                    eprintln!("drbdlinks: {line}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DrbdlinksAction::Status => {
            let mounted = links.is_mounted()?;
            let overall = links.overall();
            // stdout's first word is what Heartbeat greps: "running" only when running.
            let (word, code) = match (overall, mounted) {
                (Overall::Running, true) => ("running", 0),
                (Overall::Stopped, _) => ("stopped", STATUS_STOPPED),
                // Leftovers of a crash (the disk is active elsewhere or nowhere):
                // not running here, and `stop` cleans them up.
                (Overall::Running, false) => (
                    "stopped (links point into an unmounted mountpoint)",
                    STATUS_STOPPED,
                ),
                (Overall::Partial, _) => ("partial", STATUS_PARTIAL),
            };
            println!("{word}");
            if !quiet {
                for (link, state) in links.states() {
                    if state != LinkState::Linked || overall != Overall::Running {
                        eprintln!("drbdlinks: {}: {state}", link.local.display());
                    }
                }
            }
            Ok(ExitCode::from(code))
        }
    }
}
