use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{FencePeerArgs, HandlerEngine, UnfencePeerArgs};
use crate::error::{Error, Result};
use crate::exec::{Cmd, LocalRunner, Runner};
use crate::runtime::fence_peer::{self, Request};
use crate::runtime::fence_peer_heartbeat;

const TAG: &str = "pbx-cluster-fence-peer";
/// How long a missing designated controller is waited for (a membership change).
const CLUSTER_WAIT: Duration = Duration::from_secs(60);

/// DRBD runs its handlers without a terminal: the journal is where this is read.
fn log(line: &str) {
    eprintln!("{TAG}: {line}");
    let _ = LocalRunner.run(&Cmd::new("logger").args(["-t", TAG, "--", line]));
}

fn fail(e: fence_peer::FenceError) -> Error {
    log(&format!("error: {e}"));
    e.into()
}

/// Where the Heartbeat handler hands the fence device's parameters to `stonith`
/// (root-only, removed after the reset).
const STONITH_PARAMS: &str = "/run/pbx-cluster/fence-peer-stonith.params";
const HA_CF: &str = "/etc/ha.d/ha.cf";

pub fn fence(args: &FencePeerArgs) -> Result<ExitCode> {
    let clone = match (args.engine, &args.clone) {
        (HandlerEngine::Pacemaker, None) => {
            return Err(usage(
                "drbd-fence-peer under Pacemaker needs --clone",
                "give the DRBD clone's id in the CIB, e.g. --clone drbd-r0-clone (`pbx-cluster apply` renders the handler line with it)",
            ));
        }
        (_, clone) => clone.clone().unwrap_or_default(),
    };
    let mut req = Request::from_env(|k| std::env::var(k).ok(), &clone).map_err(fail)?;
    if args.dual_primary
        && let (Some(survivor), Some(settle)) = (&args.survivor, args.settle)
    {
        req.dual_primary = Some(fence_peer::DualPrimary {
            survivor: survivor.clone(),
            settle: Duration::from_secs(settle),
        });
    }
    let verdict = match args.engine {
        HandlerEngine::Pacemaker => {
            let me = node_name("crm_node", "-n")?;
            fence_peer::fence_peer(
                &LocalRunner,
                &req,
                &me,
                Path::new("/proc/drbd"),
                CLUSTER_WAIT,
                &mut |l| log(l),
            )
        }
        HandlerEngine::Heartbeat => {
            // Heartbeat names nodes by uname -n.
            let me = node_name("uname", "-n")?;
            let Some(dual) = &req.dual_primary else {
                return Err(usage(
                    "drbd-fence-peer --engine heartbeat handles only dual-primary DRBD",
                    "add --dual-primary --survivor NODE --settle SECS; with one Primary Heartbeat clusters use dopd",
                ));
            };
            let ha_cf = std::fs::read_to_string(HA_CF).map_err(|e| {
                log(&format!("error: cannot read {HA_CF}: {e}"));
                Error::io("cannot read", Path::new(HA_CF), e)
            })?;
            let device = fence_peer_heartbeat::device_from_ha_cf(&ha_cf, &me).map_err(fail)?;
            fence_peer_heartbeat::fence_peer(
                &LocalRunner,
                &req,
                dual,
                &me,
                &device,
                Path::new("/proc/drbd"),
                Path::new(STONITH_PARAMS),
                &mut |l| log(l),
            )
        }
    }
    .map_err(fail)?;
    Ok(ExitCode::from(verdict.exit_code()))
}

/// A usage error, also into the journal (DRBD runs the handler without a terminal).
fn usage(what: &str, fix: &str) -> Error {
    log(&format!("error: {what} (fix: {fix})"));
    Error::usage(what.to_string(), fix.to_string())
}

/// This node's name as the cluster knows it.
fn node_name(program: &str, arg: &str) -> Result<String> {
    LocalRunner
        .run_ok(&Cmd::new(program).arg(arg))
        .map(|o| o.stdout_str().trim().to_string())
        .map_err(|e| fail(fence_peer::FenceError::NoCluster(0, e.to_string())))
}

pub fn unfence(args: &UnfencePeerArgs) -> Result<ExitCode> {
    let resource = std::env::var("DRBD_RESOURCE")
        .map_err(|_| fail(fence_peer::FenceError::Env("DRBD_RESOURCE")))?;
    let id = fence_peer::constraint_id(&resource, &args.clone);
    match fence_peer::unfence_peer(&LocalRunner, &resource, &args.clone).map_err(fail)? {
        fence_peer::Unfenced::Removed => log(&format!(
            "{resource}: in sync again, removed constraint {id}"
        )),
        // Quiet: the Primary's DRBD monitor asks every interval.
        fence_peer::Unfenced::Absent => {}
        fence_peer::Unfenced::NoCluster => log(&format!(
            "{resource}: in sync; Pacemaker does not run here, so there is no constraint {id} to remove"
        )),
    }
    Ok(ExitCode::SUCCESS)
}
