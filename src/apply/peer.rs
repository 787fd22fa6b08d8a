//! Both nodes from one command. The profile travels to the other node over SSH
//! (the key pair and the forced command are rendered: `render::peer`), where
//! `pbx-cluster peer` plans or applies it for that node. Each node records the
//! profile it last applied; a command refuses to go on when the two records
//! differ, since one node was then changed without the other.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::exec::{Cmd, Output, Runner};

/// Where the profile lives on a node (the image puts it there; apply keeps it).
pub const PROFILE_PATH: &str = "/etc/pbx-cluster/cluster.toml";
/// The profile this node applied last, as it travels (profile and secret file).
pub const APPLIED_PATH: &str = "/var/lib/pbx-cluster/applied-profile.json";
/// The other node's host key, learned at the first contact (ssh's accept-new).
pub const KNOWN_HOSTS_PATH: &str = "/var/lib/pbx-cluster/peer-known-hosts";
/// The old profile before an apply replaced it.
const PREVIOUS_SUFFIX: &str = ".previous";

const PROFILE_TIMEOUT: Duration = Duration::from_secs(60);
const PLAN_TIMEOUT: Duration = Duration::from_secs(600);
/// Apply may install packages.
const APPLY_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{node} cannot be reached at {address} over ssh: {detail}")]
    Unreachable {
        node: String,
        address: String,
        detail: String,
    },
    #[error(
        "the profiles {this} and {peer} applied last differ, and neither is the one given, so one node was changed without the other; nothing was changed:\n{diff}"
    )]
    ProfilesDiffer {
        this: String,
        peer: String,
        diff: String,
    },
    #[error("{node}: `pbx-cluster peer {request}` {how}:\n{output}")]
    Failed {
        node: String,
        request: String,
        how: String,
        output: String,
    },
    #[error(
        "{node}: `pbx-cluster peer {request}` did not finish within {after_s} s; it may still be running there"
    )]
    Timeout {
        node: String,
        request: String,
        after_s: u64,
    },
    #[error("`pbx-cluster peer` refuses {0:?}: it answers only profile, plan and apply")]
    Refused(String),
    #[error("the profile sent by the other node: {0}")]
    Bundle(String),
}

impl PeerError {
    pub fn fix(&self) -> String {
        match self {
            PeerError::Unreachable { node, .. } => format!(
                "check that {node} is up and that root's authorized_keys there has pbx-cluster's block (a node set up before this version: run apply there once with --this-node); a reinstalled {node} has a new host key: `ssh-keygen -R ADDRESS -f {KNOWN_HOSTS_PATH}`; or change this node alone with --this-node"
            ),
            PeerError::ProfilesDiffer { .. } => format!(
                "decide which profile is right, then apply it on the node that differs with --this-node (the list shows the keys of {PROFILE_PATH} as each node applied them, secrets hidden)"
            ),
            PeerError::Failed { node, .. } | PeerError::Timeout { node, .. } => format!(
                "read {node}'s output above; when this node was already changed (the node without the virtual IP goes first), run the same command again once {node} is fixed: a run whose profile one node already holds goes on"
            ),
            PeerError::Refused(_) => {
                "this command is run by sshd for the other node's key, not by hand".into()
            }
            PeerError::Bundle(_) => {
                "run the same command again from a node with the current pbx-cluster".into()
            }
        }
    }
}

/// A profile as it travels and as a node records it: its text and, when it
/// names its secret file by a relative path, that file (name and contents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub profile: String,
    pub secret_file: Option<SecretFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFile {
    /// Relative to the profile's folder, without `..`.
    pub name: String,
    pub contents: String,
}

/// A node's record (APPLIED_PATH): the profile it applied last and the one
/// before it, which tells a run that stopped after its first node from a node
/// changed on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub current: Bundle,
    pub previous: Option<Bundle>,
}

impl Record {
    pub fn read(root: &Path) -> Result<Option<Record>> {
        let path = under(root, APPLIED_PATH);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::io("cannot read", &path, std::io::Error::other(e))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("cannot read", path, e)),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a record serializes")
    }
}

impl Bundle {
    /// The profile at `path` and its secret file. An absolute secret-file path
    /// does not travel: each node reads its own file there.
    pub fn read(path: &Path) -> Result<Bundle> {
        let profile =
            std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
        let secret_file = match secret_file_name(&profile) {
            Some(written) if Path::new(&written).is_relative() => {
                // It travels beside the profile: only a path inside its folder.
                let name = inside_folder(&written).ok_or_else(|| {
                    Error::usage(
                        format!(
                            "auth.secret-file = {written:?} leaves the profile's folder, so it cannot travel with the profile to the other node"
                        ),
                        "name a file in the profile's folder (e.g. \"cluster.secret\") or give an absolute path that holds the same secret on both nodes",
                    )
                })?;
                let at = path.parent().unwrap_or(Path::new(".")).join(&name);
                let contents = std::fs::read_to_string(&at)
                    .map_err(|e| Error::io("cannot read the secret file", &at, e))?;
                Some(SecretFile { name, contents })
            }
            _ => None,
        };
        Ok(Bundle {
            profile,
            secret_file,
        })
    }

    /// What this node applied last (None: nothing recorded yet).
    pub fn applied(root: &Path) -> Result<Option<Bundle>> {
        Ok(Record::read(root)?.map(|r| r.current))
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a bundle serializes")
    }

    pub fn from_json(bytes: &[u8]) -> std::result::Result<Bundle, PeerError> {
        let b: Bundle =
            serde_json::from_slice(bytes).map_err(|e| PeerError::Bundle(e.to_string()))?;
        if let Some(s) = &b.secret_file
            && !plain_relative(&s.name)
        {
            return Err(PeerError::Bundle(format!(
                "secret file {:?} is not a plain relative path",
                s.name
            )));
        }
        Ok(b)
    }

    /// Writes the profile (and its secret file) into `dir`; returns the
    /// profile's path there.
    pub fn unpack(&self, dir: &Path) -> Result<PathBuf> {
        let profile = dir.join("cluster.toml");
        write_secret(&profile, self.profile.as_bytes())?;
        if let Some(s) = &self.secret_file {
            write_secret(&dir.join(&s.name), s.contents.as_bytes())?;
        }
        Ok(profile)
    }

    /// After an apply: the profile becomes the node's (PROFILE_PATH, the old
    /// one kept beside it with PREVIOUS_SUFFIX) and the record of the last
    /// applied profile.
    pub fn install(&self, root: &Path) -> Result<()> {
        let profile = under(root, PROFILE_PATH);
        let dir = profile.parent().expect("an absolute path").to_path_buf();
        let record = Record::read(root)?;
        // The profile edited in place is already the new one: what it replaces
        // is the one applied last.
        let before = match &record {
            Some(r) => Some(r.current.profile.clone().into_bytes()),
            None => std::fs::read(&profile).ok(),
        };
        keep_previous(&profile, before.as_deref(), self.profile.as_bytes())?;
        write_secret(&profile, self.profile.as_bytes())?;
        if let Some(s) = &self.secret_file {
            let at = dir.join(&s.name);
            keep_previous(
                &at,
                std::fs::read(&at).ok().as_deref(),
                s.contents.as_bytes(),
            )?;
            write_secret(&at, s.contents.as_bytes())?;
        }
        let previous = match record {
            Some(r) if r.current != *self => Some(r.current),
            Some(r) => r.previous,
            None => None,
        };
        let record = Record {
            current: self.clone(),
            previous,
        };
        write_secret(&under(root, APPLIED_PATH), &record.to_json())
    }

    /// What differs from `other`: the keys whose values differ, each node's
    /// value shown except under `auth` and `fencing` and for keys that name a
    /// secret or a password (fence devices take passwords by position too); the
    /// secret files compared, never shown.
    pub fn diff(&self, this: &str, other: &Bundle, peer: &str) -> String {
        let (Some(a), Some(b)) = (flat(&self.profile), flat(&other.profile)) else {
            return "  (one of the profiles does not parse: not shown)\n".into();
        };
        let mut out = String::new();
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for key in keys {
            let (x, y) = (a.get(key), b.get(key));
            if x == y {
                continue;
            }
            let show = |v: Option<&String>| match v {
                None => "(absent)".to_string(),
                Some(_) if hidden(key) => "(hidden)".to_string(),
                Some(v) => v.clone(),
            };
            out.push_str(&format!(
                "  {key}: {this} {} / {peer} {}\n",
                show(x),
                show(y)
            ));
        }
        if self.secret_file != other.secret_file {
            out.push_str("  the secret files differ (contents not shown)\n");
        }
        out
    }
}

/// A profile's values by key path ("pbx.extension.2.number"), or None when it
/// does not parse.
fn flat(profile: &str) -> Option<std::collections::BTreeMap<String, String>> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut std::collections::BTreeMap<String, String>) {
        let join = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match v {
            toml::Value::Table(t) => t.iter().for_each(|(k, v)| walk(&join(k), v, out)),
            toml::Value::Array(items) if items.iter().all(toml::Value::is_table) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| walk(&join(&(i + 1).to_string()), v, out)),
            v => {
                out.insert(prefix.to_string(), v.to_string());
            }
        }
    }
    let table: toml::Table = toml::from_str(profile).ok()?;
    let mut out = std::collections::BTreeMap::new();
    walk("", &toml::Value::Table(table), &mut out);
    Some(out)
}

/// Keys whose values a diff never shows.
fn hidden(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.starts_with("auth.")
        || k.starts_with("fencing.")
        || k.contains("secret")
        || k.contains("pass")
}

/// What the other node is asked (its forced command reads it from
/// SSH_ORIGINAL_COMMAND).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The profile it applied last, as JSON (`null` when none).
    Profile,
    /// Its plan for the profile on stdin.
    Plan { allow_disruption: bool },
    /// Apply the profile on stdin there, then record it.
    Apply { allow_disruption: bool },
}

impl Request {
    pub fn parse(text: &str) -> std::result::Result<Request, PeerError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["profile"] => Ok(Request::Profile),
            ["plan"] => Ok(Request::Plan {
                allow_disruption: false,
            }),
            ["plan", "--allow-disruption"] => Ok(Request::Plan {
                allow_disruption: true,
            }),
            ["apply"] => Ok(Request::Apply {
                allow_disruption: false,
            }),
            ["apply", "--allow-disruption"] => Ok(Request::Apply {
                allow_disruption: true,
            }),
            _ => Err(PeerError::Refused(text.chars().take(80).collect())),
        }
    }

    pub fn words(&self) -> &'static str {
        match self {
            Request::Profile => "profile",
            Request::Plan {
                allow_disruption: false,
            } => "plan",
            Request::Plan {
                allow_disruption: true,
            } => "plan --allow-disruption",
            Request::Apply {
                allow_disruption: false,
            } => "apply",
            Request::Apply {
                allow_disruption: true,
            } => "apply --allow-disruption",
        }
    }

    /// `status` asks for the profile and must not hang on a dead node.
    fn connect_timeout_s(&self) -> u32 {
        match self {
            Request::Profile => 3,
            _ => 10,
        }
    }

    fn timeout(&self) -> Duration {
        match self {
            Request::Profile => PROFILE_TIMEOUT,
            Request::Plan { .. } => PLAN_TIMEOUT,
            Request::Apply { .. } => APPLY_TIMEOUT,
        }
    }
}

/// The other node, reached over its heartbeat address.
pub struct Peer<'a> {
    pub name: String,
    pub address: String,
    pub runner: &'a dyn Runner,
    /// The private key ssh uses (KEY_PATH, or a copy held for one run).
    pub key: PathBuf,
    /// The copy's file, removed when the run ends.
    held: Option<tempfile::TempPath>,
}

impl<'a> Peer<'a> {
    pub fn new(name: String, address: String, runner: &'a dyn Runner) -> Peer<'a> {
        Peer {
            name,
            address,
            runner,
            key: PathBuf::from(crate::render::peer::KEY_PATH),
            held: None,
        }
    }

    /// Keeps the key as it is now for the rest of the run: an apply that
    /// changes the cluster secret writes a new key on this node before the
    /// other node has its public half.
    pub fn hold_key(&mut self, root: &Path) -> Result<()> {
        let dir = under(root, "/run");
        let bytes = std::fs::read(&self.key).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::usage(
                    format!(
                        "this node has no key for {} yet ({} is missing: the node was set up before pbx-cluster reached the other node itself)",
                        self.name,
                        self.key.display()
                    ),
                    "run apply with --this-node once on each node (it writes the key and the other node's authorized_keys block); from then on apply reaches both",
                )
            } else {
                Error::io("cannot read", &self.key, e)
            }
        })?;
        let copy = tempfile::Builder::new()
            .prefix(".pbx-cluster-peer-key-")
            .tempfile_in(&dir)
            .map_err(|e| Error::io("cannot make a file in", &dir, e))?;
        let path = copy.into_temp_path();
        crate::fsutil::write_atomic(&path, &bytes, 0o600)
            .map_err(|e| Error::io("cannot write", path.to_path_buf(), e))?;
        self.key = path.to_path_buf();
        self.held = Some(path);
        Ok(())
    }

    /// The ssh command for `request`, the bundle on stdin (never in argv).
    pub fn command(&self, request: Request, bundle: Option<&Bundle>) -> Cmd {
        let mut cmd = Cmd::new("ssh")
            .arg("-i")
            .arg(self.key.display().to_string())
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .args(["-o", "StrictHostKeyChecking=accept-new"])
            .args(["-o", &format!("UserKnownHostsFile={KNOWN_HOSTS_PATH}")])
            .args([
                "-o",
                &format!("ConnectTimeout={}", request.connect_timeout_s()),
            ])
            .args(["-o", "ServerAliveInterval=15"])
            .arg(format!("root@{}", self.address))
            .arg(request.words())
            .timeout(request.timeout());
        if let Some(b) = bundle {
            cmd = cmd.stdin(b.to_json());
        }
        cmd
    }

    /// Runs `request` there. Exit 0 (and 3, "changes", for a plan) is an
    /// answer; ssh's own failure (255) means the node was not reached.
    pub fn ask(
        &self,
        request: Request,
        bundle: Option<&Bundle>,
    ) -> std::result::Result<Output, PeerError> {
        let out = self
            .runner
            .run(&self.command(request, bundle))
            .map_err(|e| match e {
                crate::exec::ExecError::Timeout { after, .. } => PeerError::Timeout {
                    node: self.name.clone(),
                    request: request.words().into(),
                    after_s: after.as_secs(),
                },
                e => PeerError::Unreachable {
                    node: self.name.clone(),
                    address: self.address.clone(),
                    detail: e.to_string(),
                },
            })?;
        let answered = match request {
            Request::Plan { .. } => matches!(out.code, Some(0 | 3)),
            _ => out.success(),
        };
        if answered {
            return Ok(out);
        }
        let tail = crate::exec::stderr_tail(&out.stderr);
        if out.code == Some(255) {
            return Err(PeerError::Unreachable {
                node: self.name.clone(),
                address: self.address.clone(),
                detail: tail,
            });
        }
        Err(PeerError::Failed {
            node: self.name.clone(),
            request: request.words().into(),
            how: crate::exec::how_it_ended(out.code),
            output: format!("{}{tail}", String::from_utf8_lossy(&out.stdout)),
        })
    }

    /// The other node's record of the profiles it applied.
    pub fn applied(&self) -> std::result::Result<Option<Record>, PeerError> {
        let out = self.ask(Request::Profile, None)?;
        serde_json::from_slice::<Option<Record>>(&out.stdout)
            .map_err(|e| PeerError::Bundle(e.to_string()))
    }
}

/// One apply on both nodes of a formed cluster. Refused before either node is
/// touched when the nodes applied different profiles last, or when the other
/// node's plan refuses (this node's refused already while it was planned);
/// then the node that does not hold the virtual IP first, so one node always
/// serves, and a failure there stops before the other.
pub struct Both<'a> {
    pub this: &'a str,
    /// This node holds the virtual IP (it goes second).
    pub serves: bool,
    /// This node's plan, shown beside the other's.
    pub plan: &'a crate::plan::Plan,
    pub peer: &'a Peer<'a>,
    pub bundle: &'a Bundle,
    /// What this node applied.
    pub applied: Option<Record>,
    pub allow_disruption: bool,
}

impl Both<'_> {
    pub fn run(
        &self,
        reporter: &crate::output::Reporter,
        apply_here: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let theirs = self.peer.applied()?;
        check_same_applied(
            (self.this, self.applied.as_ref()),
            (&self.peer.name, theirs.as_ref()),
            Some(self.bundle),
        )?;
        let allow_disruption = self.allow_disruption;
        let peer_plan = self
            .peer
            .ask(Request::Plan { allow_disruption }, Some(self.bundle))?;
        reporter.line(&format!("{} (this node):", self.this));
        reporter.line(self.plan.to_text().trim_end());
        reporter.line(&format!("{} (the other node, over ssh):", self.peer.name));
        reporter.line(peer_plan.stdout_str().trim_end());
        let there = || -> Result<()> {
            reporter.line(&format!("{}: applying over ssh", self.peer.name));
            let out = self
                .peer
                .ask(Request::Apply { allow_disruption }, Some(self.bundle))?;
            // Its progress is on its stderr, as a local apply's is.
            for line in String::from_utf8_lossy(&out.stderr).lines() {
                reporter.line(&format!("  {}: {line}", self.peer.name));
            }
            Ok(())
        };
        if self.serves {
            there()?;
            apply_here()
        } else {
            apply_here()?;
            there()
        }
    }
}

/// Both records, when both nodes have one, must name the same profile, unless
/// the run that is `given` stopped after its first node: that node's record is
/// the given profile and the other's is what the first node had before.
pub fn check_same_applied(
    this: (&str, Option<&Record>),
    peer: (&str, Option<&Record>),
    given: Option<&Bundle>,
) -> std::result::Result<(), PeerError> {
    let (Some(a), Some(b)) = (this.1, peer.1) else {
        return Ok(());
    };
    let resumed = |first: &Record, second: &Record| {
        given == Some(&first.current) && first.previous.as_ref() == Some(&second.current)
    };
    if a.current == b.current || resumed(a, b) || resumed(b, a) {
        return Ok(());
    }
    Err(PeerError::ProfilesDiffer {
        this: this.0.into(),
        peer: peer.0.into(),
        diff: a.current.diff(this.0, &b.current, peer.0),
    })
}

/// `auth.secret-file` as the profile writes it.
fn secret_file_name(profile: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(profile).ok()?;
    table
        .get("auth")?
        .get("secret-file")?
        .as_str()
        .map(String::from)
}

/// A path inside the profile's folder: only plain names, no `..`, not absolute.
fn plain_relative(name: &str) -> bool {
    let p = Path::new(name);
    !name.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// A relative path as a plain one inside the folder ("./s" is "s"), or None
/// when it leaves the folder.
fn inside_folder(written: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in Path::new(written).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn under(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsutil::write_atomic(path, bytes, 0o600).map_err(|e| Error::io("cannot write", path, e))
}

/// Keeps `old` beside `path` when `new` differs from it.
fn keep_previous(path: &Path, old: Option<&[u8]>, new: &[u8]) -> Result<()> {
    match old {
        Some(old) if old != new => {
            let mut keep = path.as_os_str().to_owned();
            keep.push(PREVIOUS_SUFFIX);
            write_secret(Path::new(&keep), old)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::RecordingRunner;

    fn record(current: &Bundle, previous: Option<&Bundle>) -> Record {
        Record {
            current: current.clone(),
            previous: previous.cloned(),
        }
    }

    fn bundle(profile: &str) -> Bundle {
        Bundle {
            profile: profile.into(),
            secret_file: Some(SecretFile {
                name: "lab.secret".into(),
                contents: "cluster-secret-value".into(),
            }),
        }
    }

    #[test]
    fn requests_are_the_three_words_and_nothing_else() {
        for r in [
            Request::Profile,
            Request::Plan {
                allow_disruption: false,
            },
            Request::Plan {
                allow_disruption: true,
            },
            Request::Apply {
                allow_disruption: false,
            },
            Request::Apply {
                allow_disruption: true,
            },
        ] {
            assert_eq!(Request::parse(r.words()).unwrap(), r);
        }
        for bad in [
            "",
            "sh",
            "apply; rm -rf /",
            "plan --node x",
            "apply --force-wipe-disk",
        ] {
            assert!(Request::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_bundle_goes_on_stdin_never_in_argv() {
        let r = RecordingRunner::new();
        let peer = Peer::new("node2".into(), "10.0.1.2".into(), &r);
        let b = bundle("[cluster]\n");
        let cmd = peer.command(
            Request::Apply {
                allow_disruption: false,
            },
            Some(&b),
        );
        let argv = cmd.display();
        assert!(argv.contains("root@10.0.1.2 apply"), "{argv}");
        assert!(argv.contains(crate::render::peer::KEY_PATH));
        assert!(!argv.contains("cluster-secret-value"));
        assert_eq!(cmd.stdin.as_deref(), Some(b.to_json().as_slice()));
    }

    #[test]
    fn an_unreachable_peer_and_a_failed_apply_are_told_apart() {
        let r = RecordingRunner::new()
            .respond("ssh", Output::failed(255, "ssh: connect to host: No route"));
        let peer = Peer::new("node2".into(), "10.0.1.2".into(), &r);
        let e = peer.applied().unwrap_err();
        assert!(matches!(e, PeerError::Unreachable { .. }), "{e}");
        let r = RecordingRunner::new().respond("ssh", Output::failed(1, "apt-get failed"));
        let peer = Peer::new("node2".into(), "10.0.1.2".into(), &r);
        let e = peer
            .ask(
                Request::Apply {
                    allow_disruption: false,
                },
                None,
            )
            .unwrap_err();
        assert!(matches!(e, PeerError::Failed { .. }), "{e}");
        // A plan with changes (exit 3) is an answer.
        let r = RecordingRunner::new().respond(
            "ssh",
            Output {
                code: Some(3),
                stdout: b"plan".to_vec(),
                stderr: Vec::new(),
            },
        );
        let peer = Peer::new("node2".into(), "10.0.1.2".into(), &r);
        assert!(
            peer.ask(
                Request::Plan {
                    allow_disruption: false
                },
                None
            )
            .is_ok()
        );
    }

    #[test]
    fn differing_records_are_refused_with_a_diff_that_hides_secrets() {
        let a = bundle(
            "[auth]\nsecret-file = \"lab.secret\"\n[fencing]\nheartbeat-args = [\"cl01\", \"admin\", \"fence-pw-1\"]\n[[pbx.extension]]\nnumber = \"1001\"\nsecret = \"old-pass\"\n",
        );
        let mut b = bundle(
            "[auth]\nsecret-file = \"lab.secret\"\n[fencing]\nheartbeat-args = [\"cl01\", \"admin\", \"fence-pw-2\"]\n[[pbx.extension]]\nnumber = \"1002\"\nsecret = \"new-pass\"\n",
        );
        let (ra, rb) = (record(&a, None), record(&b, None));
        assert!(check_same_applied(("node1", Some(&ra)), ("node2", Some(&ra)), None).is_ok());
        assert!(
            check_same_applied(("node1", Some(&ra)), ("node2", None), None).is_ok(),
            "nothing recorded yet on one node: nothing to compare"
        );
        b.secret_file.as_mut().unwrap().contents = "another".into();
        let rb2 = record(&b, None);
        let e = check_same_applied(("node1", Some(&ra)), ("node2", Some(&rb2)), None).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("pbx.extension.1.number: node1 \"1001\" / node2 \"1002\""),
            "{text}"
        );
        assert!(
            text.contains("fencing.heartbeat-args: node1 (hidden)"),
            "{text}"
        );
        assert!(text.contains("the secret files differ"), "{text}");
        for secret in [
            "old-pass",
            "new-pass",
            "another",
            "cluster-secret-value",
            "fence-pw",
        ] {
            assert!(!text.contains(secret), "{text}");
        }
        // A run that stopped after its first node: that node has the given
        // profile over what the other still has; the same command goes on, from
        // either node.
        let first = record(&b, Some(&a));
        assert!(
            check_same_applied(("node1", Some(&first)), ("node2", Some(&ra)), Some(&b)).is_ok()
        );
        assert!(
            check_same_applied(("node2", Some(&ra)), ("node1", Some(&first)), Some(&b)).is_ok()
        );
        // The other node changed on its own (its record is neither the given
        // profile nor what the first node had before): refused.
        let c = bundle("[cluster]\nname = \"c\"\n");
        assert!(
            check_same_applied(
                ("node1", Some(&first)),
                ("node2", Some(&record(&c, None))),
                Some(&b)
            )
            .is_err()
        );
        let _ = rb;
    }

    /// The other node as a recording runner sees it: its record, its plan's
    /// exit code; every ssh request is logged, and so is "here" (this node's apply).
    fn both_nodes(
        serves: bool,
        theirs: Option<&Bundle>,
        peer_plan_code: i32,
    ) -> (Vec<String>, Result<()>) {
        let theirs = theirs.map(|b| record(b, None));
        let answer = serde_json::to_vec(&theirs).unwrap();
        let r = RecordingRunner::new().respond_with(move |cmd: &Cmd| {
            let request = cmd.args.last().cloned().unwrap_or_default();
            Some(match request.as_str() {
                "profile" => Output::ok(answer.clone()),
                "plan" => Output {
                    code: Some(peer_plan_code),
                    stdout: b"node2's plan\n".to_vec(),
                    stderr: b"refused: a new cluster key".to_vec(),
                },
                _ => Output::ok(b"applied\n".to_vec()),
            })
        });
        let peer = Peer::new("node2".into(), "10.0.1.2".into(), &r);
        let mine = bundle("[cluster]\nname = \"a\"\n");
        let plan = crate::plan::Plan {
            node: "node1".into(),
            steps: Vec::new(),
        };
        let order = std::sync::Mutex::new(Vec::new());
        let result = Both {
            this: "node1",
            serves,
            plan: &plan,
            peer: &peer,
            bundle: &mine,
            applied: Some(record(&mine, None)),
            allow_disruption: false,
        }
        .run(&crate::output::Reporter::new(true), || {
            order
                .lock()
                .unwrap()
                .push(format!("here after {} ssh", r.calls().len()));
            Ok(())
        });
        let mut log: Vec<String> = r
            .calls()
            .iter()
            .map(|c| c.args.last().unwrap().clone())
            .collect();
        log.extend(order.into_inner().unwrap());
        (log, result)
    }

    #[test]
    fn the_node_without_the_virtual_ip_is_applied_first() {
        let same = bundle("[cluster]\nname = \"a\"\n");
        // This node is the standby: itself first, after the profile and plan asks.
        let (log, r) = both_nodes(false, Some(&same), 3);
        r.unwrap();
        assert_eq!(log, ["profile", "plan", "apply", "here after 2 ssh"]);
        // This node serves: the other node's apply comes first.
        let (log, r) = both_nodes(true, None, 0);
        r.unwrap();
        assert_eq!(log, ["profile", "plan", "apply", "here after 3 ssh"]);
    }

    #[test]
    fn a_refusal_on_either_side_changes_neither_node() {
        // The other node applied another profile last.
        let other = bundle("[cluster]\nname = \"b\"\n");
        let (log, r) = both_nodes(false, Some(&other), 0);
        assert!(r.unwrap_err().to_string().contains("differ"));
        assert_eq!(log, ["profile"], "no plan, no apply anywhere");
        // The other node's plan refuses (exit 2).
        let (log, r) = both_nodes(true, None, 2);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("refused: a new cluster key"), "{e}");
        assert_eq!(log, ["profile", "plan"], "no apply anywhere");
    }

    #[test]
    fn a_bundle_travels_with_its_relative_secret_file_and_is_installed_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.toml"), "[auth]\nsecret-file = \"s\"\n").unwrap();
        std::fs::write(dir.path().join("s"), "xyz").unwrap();
        let b = Bundle::read(&dir.path().join("p.toml")).unwrap();
        assert_eq!(b.secret_file.as_ref().unwrap().contents, "xyz");
        let back = Bundle::from_json(&b.to_json()).unwrap();
        assert_eq!(back, b);
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc/pbx-cluster")).unwrap();
        std::fs::write(root.path().join("etc/pbx-cluster/cluster.toml"), "old").unwrap();
        b.install(root.path()).unwrap();
        let p = root.path().join("etc/pbx-cluster/cluster.toml");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), b.profile);
        assert_eq!(
            std::fs::read_to_string(root.path().join("etc/pbx-cluster/cluster.toml.previous"))
                .unwrap(),
            "old"
        );
        for f in [
            "etc/pbx-cluster/cluster.toml",
            "etc/pbx-cluster/s",
            "var/lib/pbx-cluster/applied-profile.json",
        ] {
            let mode = std::fs::metadata(root.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        assert_eq!(Bundle::applied(root.path()).unwrap(), Some(b.clone()));
        // Edited in place and applied again: the previous copy is the record's.
        let edited = Bundle {
            profile: "[auth]\nsecret-file = \"s\"\n# edited\n".into(),
            ..b.clone()
        };
        std::fs::write(&p, &edited.profile).unwrap();
        edited.install(root.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("etc/pbx-cluster/cluster.toml.previous"))
                .unwrap(),
            b.profile
        );
        // "./s" travels as "s"; a path out of the folder is refused, naming the key.
        std::fs::write(dir.path().join("q.toml"), "[auth]\nsecret-file = \"./s\"\n").unwrap();
        let q = Bundle::read(&dir.path().join("q.toml")).unwrap();
        assert_eq!(q.secret_file.unwrap().name, "s");
        std::fs::write(
            dir.path().join("r.toml"),
            "[auth]\nsecret-file = \"../s\"\n",
        )
        .unwrap();
        let e = Bundle::read(&dir.path().join("r.toml")).unwrap_err();
        assert!(e.to_string().contains("auth.secret-file"), "{e}");
        // A name that would leave the folder is refused.
        let evil = br#"{"profile":"","secret_file":{"name":"../../root/.ssh/x","contents":""}}"#;
        assert!(Bundle::from_json(evil).is_err());
        let abs = br#"{"profile":"","secret_file":{"name":"/etc/shadow","contents":""}}"#;
        assert!(Bundle::from_json(abs).is_err());
    }
}
