//! One home per cluster mode: what active/passive and load-balanced add to what
//! every node has (packages, boot units, files). Callers ask
//! `mode::home(model.mode)`; the engine's part of a mode (clones under Pacemaker,
//! per-node services under Heartbeat) is asked from the engine's home.

pub mod active_passive;
pub mod load_balanced;

use crate::diagnostics::Diagnostic;
use crate::engine::FileSpec;
use crate::model::{Mode, Model, Storage};

/// What the engine moves between the nodes: the shape of the resource group
/// (render builds the CIB and haresources from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moves {
    /// Everything, left to right: the replicated disk promoted on one node, its
    /// filesystem, drbdlinks, the virtual IP, the services. One node serves.
    Group,
    /// Only the director (virtual IP, ldirectord, the database); DRBD is Primary
    /// on both, the shared filesystem and the other services run on both.
    Director,
}

pub trait Home: Sync {
    fn name(&self) -> &'static str;
    /// Packages the mode adds on every distro.
    fn packages(&self) -> &'static [&'static str];
    /// Units the mode needs started at boot (with what the engine adds for it).
    fn boot_enable(&self, model: &Model) -> Vec<&'static str>;
    /// Units that leave the boot sequence because the engine runs them.
    fn boot_disable(&self) -> &'static [&'static str];
    /// Whether `service` of the group starts at boot on both nodes instead of
    /// being started by the engine.
    fn service_at_boot(&self, model: &Model, service: &str) -> bool;
    /// The mode's own files.
    fn files(&self, model: &Model) -> Vec<FileSpec>;
    /// Whether the mode balances load: it needs the [load-balancing] table, and
    /// no other mode may have one.
    fn balances(&self) -> bool;
    /// What the engine moves between the nodes.
    fn moves(&self) -> Moves;
    /// Whether DRBD is Primary on both nodes from boot, with no engine promoting it
    /// (the shared filesystem is mounted by a unit, not by the engine): init then
    /// leaves this node Primary instead of handing DRBD over.
    fn primary_at_boot(&self, model: &Model) -> bool;
    /// Whether the nodes mount a cluster filesystem (their kernel needs OCFS2/DLM).
    fn cluster_filesystem(&self) -> bool;
    /// Why the mode cannot run without a fence device, None when it can.
    fn needs_fencing(&self) -> Option<&'static str>;
    /// What the mode asks of the replicated storage (validate reports them).
    fn storage_rules(&self, storage: &Storage) -> Vec<Diagnostic>;
}

pub fn home(mode: Mode) -> &'static dyn Home {
    match mode {
        Mode::ActivePassive => &active_passive::ActivePassive,
        Mode::LoadBalanced => &load_balanced::LoadBalanced,
    }
}

impl Model {
    /// The home of this model's mode.
    pub fn mode_home(&self) -> &'static dyn Home {
        home(self.mode)
    }
}
