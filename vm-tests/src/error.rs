//! The harness's errors: one variant per failure, each saying what failed and
//! what to do about it. `run` prints the top-level message; the causes stay typed.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "timed out after {}s waiting for: {what}\n{}{diag}",
        .after.as_secs(),
        last_error_line(.last)
    )]
    Timeout {
        what: String,
        after: Duration,
        /// What the condition last failed with (a guest that is booting refuses ssh).
        #[source]
        last: Option<Box<Error>>,
        /// Both serial logs' last lines.
        diag: String,
    },
    #[error(transparent)]
    Exec(#[from] pbx_cluster::exec::ExecError),
    #[error("on {addr}: `{script}` failed ({code:?}): {stderr}")]
    Remote {
        addr: String,
        script: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error(
        "could not create {}: {source}; the harness needs write access there (run it through `sudo vm-tests/run`, or pick another --work/--report)",
        .path.display()
    )]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "could not read the lab profile {}: {source}; pass an existing one with --profile",
        .path.display()
    )]
    ReadProfile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("lab profile {}: {missing}", .path.display())]
    LabProfile {
        path: PathBuf,
        #[source]
        missing: MissingText,
    },
    #[error(
        "could not copy {} to {}: {source}; check that both are readable and writable",
        .from.display(),
        .to.display()
    )]
    CopyFile {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
    #[error("could not write {}: {source}; check the disk and its permissions", .path.display())]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "could not write the report into {}: {source}; pick a writable folder with --report",
        .dir.display()
    )]
    WriteReport {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "could not start {what}: {source}; install the host tools (sudo vm-tests/install-host-tools)"
    )]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("{node} is already running: the harness boots a node only after killing it")]
    AlreadyRunning { node: String },
    #[error("{node}'s QEMU monitor, `{command}`: {problem}")]
    Monitor {
        node: String,
        command: String,
        #[source]
        problem: MonitorError,
    },
    #[error(
        "could not enter the lab's network namespace ({path}): {source}; something removed it while the harness ran"
    )]
    Namespace {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the lab's fence switch could not listen on {addr}: {source}; is another harness running in this namespace?"
    )]
    FenceSwitch {
        addr: String,
        source: std::io::Error,
    },
    #[error("the lab's fence switch thread ended before it listened: {0}")]
    FenceSwitchThread(#[source] std::sync::mpsc::RecvError),
    #[error(
        "the image's pbx-cluster on {node} has no `init`: rebuild the images from a current repository (vm-tests/run builds it)"
    )]
    NoInit { node: String },
    #[error(
        "{node}: could not read how long Heartbeat has run ({output:?}): {source}; is heartbeat running there?"
    )]
    HeartbeatAge {
        node: String,
        output: String,
        source: std::num::ParseIntError,
    },
}

fn last_error_line(last: &Option<Box<Error>>) -> String {
    last.as_ref()
        .map(|e| format!("last error: {e}\n"))
        .unwrap_or_default()
}

/// A line the harness's edit of the lab profile expects and did not find.
#[derive(Debug, thiserror::Error)]
#[error(
    "expected {expected} ({by} replaces it); restore that line in the profile, or change the harness's edit with it"
)]
pub struct MissingText {
    pub expected: String,
    /// Which edit needs it.
    pub by: &'static str,
}

/// What went wrong on a QEMU human monitor.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(
        "could not connect: {0}; did QEMU start (its stderr is in the .qemu.err beside the serial log)?"
    )]
    Connect(#[source] std::io::Error),
    #[error("no prompt in time: QEMU is busy or hung")]
    NoPrompt,
    #[error("QEMU closed the monitor: it exited")]
    Closed,
    #[error("{0}")]
    Io(#[source] std::io::Error),
    #[error("QEMU refused it: {0}")]
    Refused(String),
}
