use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::FencePeerArgs;
use crate::error::{Error, Result};
use crate::exec::{Cmd, LocalRunner, Runner};
use crate::runtime::fence_peer::{self, Request};

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

pub fn fence(args: &FencePeerArgs) -> Result<ExitCode> {
    let mut req = Request::from_env(|k| std::env::var(k).ok(), &args.clone).map_err(fail)?;
    if args.dual_primary
        && let (Some(survivor), Some(settle)) = (&args.survivor, args.settle)
    {
        req.dual_primary = Some(fence_peer::DualPrimary {
            survivor: survivor.clone(),
            settle: Duration::from_secs(settle),
        });
    }
    let me = LocalRunner
        .run_ok(&Cmd::new("crm_node").arg("-n"))
        .map(|o| o.stdout_str().trim().to_string())
        .map_err(|e| fail(fence_peer::FenceError::NoCluster(0, e.to_string())))?;
    let verdict = fence_peer::fence_peer(
        &LocalRunner,
        &req,
        &me,
        Path::new("/proc/drbd"),
        CLUSTER_WAIT,
        &mut |l| log(l),
    )
    .map_err(fail)?;
    Ok(ExitCode::from(verdict.exit_code()))
}

pub fn unfence(args: &FencePeerArgs) -> Result<ExitCode> {
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
