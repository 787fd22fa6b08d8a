//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SHIPPED_PROFILES: &[&str] = &[
    "seed-heartbeat",
    "seed-pacemaker",
    "loadbalanced",
    "lab",
    "example",
];

/// Test-only profiles that reach the template branches the shipped ones do not.
pub const FIXTURE_PROFILES: &[&str] = &["drbd9-fenced-pacemaker", "heartbeat-unicast-stonith"];

pub fn fixture(name: &str) -> PathBuf {
    root()
        .join("tests/fixtures/profiles")
        .join(format!("{name}.toml"))
}

pub fn root_dir() -> PathBuf {
    root()
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn profile(name: &str) -> PathBuf {
    root().join("profiles").join(format!("{name}.toml"))
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pbx-cluster"))
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("pbx-cluster runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A real tool the tests need. Missing means a broken setup, not a skip.
pub fn require_tool(path: &str, package: &str) -> PathBuf {
    let p = if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        std::env::var_os("PATH")
            .and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(path))
                    .find(|c| c.exists())
            })
            .unwrap_or_else(|| PathBuf::from(path))
    };
    assert!(
        p.exists(),
        "{path} is missing: run scripts/install-test-tools (it installs the Debian package {package})"
    );
    p
}

/// Renders `profile` for all nodes into a fresh temp dir.
pub fn render_all(profile: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["render", "--quiet", "--all", "--out"])
        .arg(out.path())
        .arg(profile)
        .output()
        .unwrap();
    assert!(o.status.success(), "render failed: {}", text(&o.stderr));
    out
}

/// Every file under `dir`, as paths relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

// --- The real tools as judges of rendered files.

/// Runs a judge; whether it accepted, and all it said.
pub fn judge(cmd: &mut Command) -> (bool, String) {
    let o = cmd.output().expect("judge runs");
    (
        o.status.success(),
        format!("{}{}", text(&o.stdout), text(&o.stderr)),
    )
}

pub fn drbdadm84(conf: &Path) -> (bool, String) {
    let tool = require_tool("/lib/drbd/drbdadm-84", "drbd-utils");
    judge(Command::new(tool).arg("-c").arg(conf).args(["dump", "all"]))
}

pub fn crm_verify(cib: &Path) -> (bool, String) {
    let tool = require_tool("crm_verify", "pacemaker-cli-utils");
    judge(Command::new(tool).arg("--xml-file").arg(cib))
}

/// corosync -t checks the config as the node would see it: its authkey at
/// /etc/corosync and its ring0 address on a local interface. A private mount and
/// network namespace provide both; the veth pair carries no traffic anywhere.
pub fn corosync_t(etc_corosync: &Path, conf: &Path, local_addr: &str) -> (bool, String) {
    require_tool("corosync", "corosync");
    require_tool("unshare", "util-linux");
    let script = format!(
        "set -e; ip link add pbxt0 type veth peer name pbxt1; ip addr add {local_addr}/24 dev pbxt0; ip link set pbxt0 up; \
         mount --bind '{}' /etc/corosync; exec corosync -t -c '{}'",
        etc_corosync.display(),
        conf.display()
    );
    judge(Command::new("unshare").args(["--mount", "--net", "sh", "-c", &script]))
}
