//! One home per cluster engine: everything that differs between Pacemaker and
//! Heartbeat (packages, boot units, the files it renders, DRBD's fencing handlers,
//! the formation step of init, the DRBD helpers dopd needs) lives in its module
//! behind [`Home`]. Callers ask `engine::home(model.engine)`; nothing outside this
//! folder compares engines, so a third engine is a new module and one match arm.
//!
//! Input: the validated model. Output: plain data (names, file specs); rendering,
//! planning and applying stay in their stages.

pub mod heartbeat;
pub mod pacemaker;

use serde::Serialize;

use crate::model::{Engine, FenceInterface, Model, Node};

/// Where unit files and drop-ins go; a change under it needs
/// `systemctl daemon-reload`.
pub const SYSTEMD_UNITS: &str = "/etc/systemd/system";

/// Where a rendered file's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An embedded template (templates/), rendered with the node's context.
    Template(&'static str),
    /// The node's name (/etc/hostname).
    Hostname,
    /// corosync's authkey, derived from the cluster secret.
    CorosyncAuthkey,
    /// The SSH key one node uses to reach the other's `pbx-cluster peer`,
    /// derived from the cluster secret.
    PeerSshKey,
    /// DUNDi's RSA key pair (private or public half), derived from the cluster
    /// secret so both nodes hold the same pair.
    DundiPrivateKey,
    DundiPublicKey,
}

/// One file a stage contributes to a node: what, where, and how it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub source: Source,
    pub path: String,
    pub mode: u32,
    pub owner: &'static str,
    pub group: &'static str,
    /// Holds a secret: never shown, no digest published.
    pub secret: bool,
}

impl FileSpec {
    pub fn template(template: &'static str, path: &str, mode: u32) -> Self {
        Self::of(Source::Template(template), path, mode)
    }

    /// A root-owned file from any source.
    pub fn of(source: Source, path: &str, mode: u32) -> Self {
        FileSpec {
            source,
            path: path.to_string(),
            mode,
            owner: "root",
            group: "root",
            secret: false,
        }
    }

    pub fn group(mut self, group: &'static str) -> Self {
        self.group = group;
        self
    }

    pub fn secret(mut self, secret: bool) -> Self {
        self.secret = secret;
        self
    }
}

/// Beyond the membership's own settling time, before a dual-primary fence-peer
/// handler decides that its peer stays a member.
pub(crate) const DUAL_PRIMARY_SETTLE_MARGIN_S: u64 = 2;

/// DRBD's fencing policy and handlers as the engine provides them (drbd.conf(5)
/// `fencing`, `fence-peer`, `after-resync-target`).
#[derive(Debug, Serialize)]
pub struct DrbdFencing {
    pub policy: &'static str,
    pub fence_peer: String,
    pub unfence_peer: Option<String>,
}

/// What a cluster engine owns.
pub trait Home: Sync {
    /// The name the profile and reports use.
    fn name(&self) -> &'static str;
    /// Debian/Ubuntu packages of the engine itself (the same on every distro we
    /// support).
    fn packages(&self) -> &'static [&'static str];
    /// Units the engine needs started at boot.
    fn boot_enable(&self) -> &'static [&'static str];
    /// Units that leave the boot sequence because the engine starts them.
    fn boot_disable(&self) -> &'static [&'static str];
    /// Load-balanced mode: whether the balanced services (all but the database)
    /// start at boot (Heartbeat) or the engine runs them as clones (Pacemaker).
    fn balanced_services_at_boot(&self) -> bool;
    /// The engine's own files (the same on both nodes).
    fn files(&self, model: &Model) -> Vec<FileSpec>;
    /// DRBD's fencing policy and handlers, None when the engine fences nothing.
    /// `dual_primary`: DRBD is Primary on both nodes (the mode's answer), so
    /// the peer of a lost link is a Primary that no constraint stops writing.
    fn drbd_fencing(&self, model: &Model, node: &Node, dual_primary: bool) -> Option<DrbdFencing>;
    /// DRBD programs that must be setuid root:haclient for the engine's
    /// outdate-peer daemon (dopd), as drbdadm names them.
    fn dopd_helpers(&self, model: &Model) -> Vec<&'static str>;
    /// Whether init loads a rendered CIB once both nodes are members.
    fn loads_cib(&self) -> bool;
    /// Profile keys only the other engine reads (`*` stands for any table key):
    /// written under this engine, they get a warning instead of silently nothing.
    fn ignored_keys(&self) -> &'static [&'static str];
    /// How the engine reaches a fence device (what validate asks of the
    /// [fencing] table, and whether a fence-agents package is installed).
    fn fences_through(&self) -> FenceInterface;
}

pub fn home(engine: Engine) -> &'static dyn Home {
    match engine {
        Engine::Pacemaker => &pacemaker::Pacemaker,
        Engine::Heartbeat => &heartbeat::Heartbeat,
    }
}

impl Model {
    /// The home of this model's engine.
    pub fn engine_home(&self) -> &'static dyn Home {
        home(self.engine)
    }
}
