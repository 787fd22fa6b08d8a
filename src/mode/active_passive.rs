//! Active/passive: one node runs the whole group; the engine starts every service.

use super::Home;
use crate::diagnostics::{Diagnostic, Severity};
use crate::engine::FileSpec;
use crate::model::{Filesystem, Model, Storage};

pub struct ActivePassive;

impl Home for ActivePassive {
    fn name(&self) -> &'static str {
        "active-passive"
    }

    fn packages(&self) -> &'static [&'static str] {
        &[]
    }

    fn boot_enable(&self, _model: &Model) -> Vec<&'static str> {
        Vec::new()
    }

    fn boot_disable(&self) -> &'static [&'static str] {
        &[]
    }

    fn service_at_boot(&self, _model: &Model, _service: &str) -> bool {
        false
    }

    fn files(&self, _model: &Model) -> Vec<FileSpec> {
        Vec::new()
    }

    fn balances(&self) -> bool {
        false
    }

    fn moves(&self) -> super::Moves {
        super::Moves::Group
    }

    fn primary_at_boot(&self, _model: &Model) -> bool {
        // The engine promotes one node.
        false
    }

    fn cluster_filesystem(&self) -> bool {
        false
    }

    fn needs_fencing(&self) -> Option<&'static str> {
        // Without fencing the survivor still takes over (with a warning).
        None
    }

    fn storage_rules(&self, storage: &Storage) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        if storage.filesystem == Filesystem::Ocfs2 {
            out.push(Diagnostic::new(
                Severity::Warning,
                "storage.filesystem",
                "ocfs2 in active-passive mode adds a cluster stack for nothing",
                "use xfs or ext4, or set cluster.mode = \"load-balanced\"",
            ));
        }
        out
    }
}
