//! What is on the node now, read through the runner (so tests can script it) and
//! from files under the node's root (so `--root DIR` works without a machine).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::exec::{Cmd, Runner};
use crate::model::Model;
use crate::render::FileSet;

/// A file as found on the node. The plan compares contents, not digests: a
/// digest of a file that holds a secret would be an offline oracle for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub contents: Vec<u8>,
    pub mode: u32,
}

/// DRBD as found on the node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DrbdState {
    /// The backing disk holds DRBD metadata for the resource.
    pub has_metadata: bool,
    /// What `blkid -p` finds on the backing disk when it is not ours: a
    /// filesystem or partition table that create-md would destroy.
    pub foreign_signature: Option<String>,
    /// The resource is configured in the kernel (`drbdadm cstate` answers).
    pub up: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceState {
    pub enabled: bool,
    pub active: bool,
    /// systemd knows no such unit (no unit file, no init script).
    pub missing: bool,
}

/// Written by `init` once the new cluster is healthy: the node is part of a
/// formed cluster from then on.
pub const INITIALIZED_MARKER: &str = "/var/lib/pbx-cluster/initialized";

/// Everything `plan` needs to know about the node. Fields the probe could not
/// learn (commands skipped) are `None`, and the plan treats them as "to do".
#[derive(Debug, Clone, Default)]
pub struct NodeState {
    pub root: PathBuf,
    pub hostname: Option<String>,
    pub addresses: Vec<Ipv4Addr>,
    /// Current content of each path the file set would write.
    pub files: BTreeMap<String, Option<FileState>>,
    /// Current text of each file the file set holds a managed block in.
    pub shared: BTreeMap<String, Option<String>>,
    pub installed: Option<BTreeSet<String>>,
    pub services: Option<BTreeMap<String, ServiceState>>,
    pub drbd: Option<DrbdState>,
    /// `dpkg-statoverride --list` of each DRBD helper dopd runs (None: none set).
    pub statoverrides: Option<BTreeMap<String, Option<String>>>,
    pub systemd: bool,
    /// The live CIB (`cibadmin --query`) where Pacemaker runs.
    pub live_cib: Option<String>,
    /// The reload table's probe commands (argv joined by spaces) that succeeded.
    pub probes_ok: BTreeSet<String>,
    /// What crm_verify says against the rendered CIB, where it is installed and
    /// refuses it (the fence devices' parameter values masked).
    pub cib_rejected: Option<String>,
    /// `init` finished on this node once (INITIALIZED_MARKER): a formed cluster.
    pub formed: bool,
}

impl NodeState {
    pub fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }
}

pub fn file_state(path: &Path) -> Option<FileState> {
    let bytes = std::fs::read(path).ok()?;
    let meta = std::fs::metadata(path).ok()?;
    Some(FileState {
        contents: bytes,
        mode: meta.mode() & 0o7777,
    })
}

/// Reads the node's files under `root`; with a runner, also asks the system.
pub fn probe(
    model: &Model,
    node: &str,
    files: &FileSet,
    root: &Path,
    runner: Option<&dyn Runner>,
) -> NodeState {
    let mut st = NodeState {
        root: root.to_path_buf(),
        ..NodeState::default()
    };
    for path in files.files.keys() {
        st.files.insert(path.clone(), file_state(&st.path(path)));
    }
    for path in files.blocks.keys() {
        st.shared
            .insert(path.clone(), std::fs::read_to_string(st.path(path)).ok());
    }
    st.formed = st.path(INITIALIZED_MARKER).exists();
    st.hostname = std::fs::read_to_string(st.path(crate::render::host::HOSTNAME_PATH))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let Some(r) = runner else { return st };

    st.systemd = root.join("run/systemd/system").is_dir();
    if let Ok(out) = r.run(&Cmd::new("hostname")) {
        if out.success() {
            st.hostname = Some(out.stdout_str().trim().to_string());
        }
    }
    if let Ok(out) = r.run(&Cmd::new("ip").args(["-j", "-4", "addr", "show"])) {
        st.addresses = crate::runtime::addresses::parse_ip_json(&out.stdout_str());
    }
    let wanted = super::packages::required(model);
    if let Ok(out) = r.run(
        &Cmd::new("dpkg-query")
            .args(["-W", "-f", "${Package}\t${db:Status-Status}\n"])
            .args(wanted.iter().cloned()),
    ) {
        st.installed = Some(
            out.stdout_str()
                .lines()
                .filter_map(|l| l.split_once('\t'))
                .filter(|(_, s)| s.trim() == "installed")
                .map(|(p, _)| p.to_string())
                .collect(),
        );
    }
    let mut services = BTreeMap::new();
    for svc in super::all_units(model) {
        let is_enabled = r.run(&Cmd::new("systemctl").args(["is-enabled", &svc]));
        let enabled = is_enabled.as_ref().is_ok_and(|o| o.success());
        let missing = is_enabled.is_ok_and(|o| {
            !o.success() && String::from_utf8_lossy(&o.stderr).contains("No such file or directory")
        });
        let active = r
            .run(&Cmd::new("systemctl").args(["is-active", &svc]))
            .map(|o| o.success())
            .unwrap_or(false);
        services.insert(
            svc,
            ServiceState {
                enabled,
                active,
                missing,
            },
        );
    }
    let pacemaker_runs = services.get("pacemaker").is_some_and(|s| s.active);
    st.services = Some(services);
    if model.engine_home().loads_cib() && pacemaker_runs {
        st.live_cib = r
            .run(&Cmd::new("cibadmin").arg("--query"))
            .ok()
            .filter(|o| o.success())
            .map(|o| o.stdout_str());
    }
    st.drbd = Some(probe_drbd(model, node, r));
    st.cib_rejected = verify_cib(model, files, r);
    for argv in super::reload::probes() {
        let ok = r
            .run(&Cmd::new(argv[0]).args(argv[1..].iter().copied()))
            .is_ok_and(|o| o.success());
        if ok {
            st.probes_ok.insert(argv.join(" "));
        }
    }
    let mut overrides = BTreeMap::new();
    for path in super::dopd_helpers(model) {
        let listed = r
            .run(&Cmd::new("dpkg-statoverride").args(["--list", path]))
            .ok()
            .filter(|o| o.success())
            .map(|o| o.stdout_str().trim().to_string());
        overrides.insert(path.to_string(), listed);
    }
    st.statoverrides = Some(overrides);
    st
}

fn probe_drbd(model: &Model, node: &str, r: &dyn Runner) -> DrbdState {
    let res = &model.storage.resource;
    let disk = model
        .node(node)
        .map(|n| n.drbd_disk.clone())
        .unwrap_or_default();
    let up = r
        .run(&Cmd::new("drbdadm").args(["cstate", res]))
        .map(|o| o.success())
        .unwrap_or(false);
    // An attached resource has metadata; dump-md refuses to run on it.
    let has_metadata = up
        || r.run(&Cmd::new("drbdadm").args(["dump-md", res]))
            .map(|o| o.success())
            .unwrap_or(false);
    let foreign_signature = if has_metadata {
        None
    } else {
        r.run(&Cmd::new("blkid").args(["-p", "-o", "export", &disk]))
            .ok()
            .filter(|o| o.success())
            .and_then(|o| {
                let text = o.stdout_str();
                text.lines()
                    .find_map(|l| {
                        l.strip_prefix("TYPE=")
                            .or_else(|| l.strip_prefix("PTTYPE="))
                    })
                    .filter(|t| *t != "drbd")
                    .map(str::to_string)
            })
    };
    DrbdState {
        has_metadata,
        foreign_signature,
        up,
    }
}

/// crm_verify's errors on the rendered CIB, read from a pipe (nothing is
/// written): None when it finds none, there is no CIB, or crm_verify is missing.
/// Warnings do not count: Pacemaker 3 exits 78 for a deprecated option name
/// alone ("Configuration may need attention"), and the rendered CIB keeps the
/// names Pacemaker 2 (Ubuntu 24.04) knows.
fn verify_cib(model: &Model, files: &FileSet, r: &dyn Runner) -> Option<String> {
    let cib = files.files.get(crate::engine::pacemaker::CIB_PATH)?;
    let out = r
        .run(
            &Cmd::new("crm_verify")
                .arg("--xml-pipe")
                .stdin(cib.contents.clone()),
        )
        .ok()?;
    // 127: not installed yet (a fresh node gets it from apply's packages).
    if out.success() || out.code == Some(127) || out.code.is_none() {
        return None;
    }
    let said = format!(
        "{}{}",
        out.stdout_str(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut errors = crm_verify_errors(&said)?;
    for value in secret_values(model) {
        errors = errors.replace(&value, "***");
    }
    Some(errors)
}

/// The error lines of crm_verify's output (`error: ...`, and the verdict
/// "config not valid" / "Unable to parse"), None when it only warned.
pub fn crm_verify_errors(said: &str) -> Option<String> {
    let errors: Vec<&str> = said
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.starts_with("error:")
                || l.contains("config not valid")
                || l.contains("Verification failed")
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// Values that must not reach the terminal through a tool's message.
fn secret_values(model: &Model) -> Vec<String> {
    let mut out = vec![model.auth.secret.expose().to_string()];
    if let crate::model::Fencing::Agent { devices, .. } = &model.fencing {
        for d in devices {
            out.extend(d.params.iter().map(|(_, v)| v.clone()));
            out.extend(d.heartbeat_args.iter().cloned());
        }
    }
    out.retain(|v| !v.is_empty());
    // The longest first: a value that contains another is masked whole.
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::crm_verify_errors;

    #[test]
    fn crm_verify_warnings_alone_are_no_rejection() {
        // Pacemaker 3.0.3 on the rendered CIB: exit 78, warnings only.
        let warned = "warning: Support for legacy name 'stonith-enabled' for cluster option 'fencing-enabled' is deprecated and will be removed in a future release\nConfiguration may need attention\n";
        assert_eq!(crm_verify_errors(warned), None);
        let bad = "error: Resource start-up disabled since no STONITH resources have been defined\nErrors found during check: config not valid\n";
        assert_eq!(
            crm_verify_errors(bad).unwrap(),
            "error: Resource start-up disabled since no STONITH resources have been defined; Errors found during check: config not valid"
        );
        assert!(
            crm_verify_errors("crm_verify: Verification failed: Unable to parse CIB XML").is_some()
        );
    }
}
