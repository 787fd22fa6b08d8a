//! The node's identity files: /etc/hostname, and our block in /etc/hosts.
//!
//! /etc/hosts is shared with the system and the operator, so pbx-cluster owns
//! only a marked block in it; plan merges the block into whatever the node has,
//! and the image puts it below the loopback lines.

use crate::model::Model;

pub const HOSTNAME_PATH: &str = "/etc/hostname";
pub const HOSTS_PATH: &str = "/etc/hosts";
pub const HOSTS_BEGIN: &str = "# pbx-cluster begin (managed block, do not edit)";
pub const HOSTS_END: &str = "# pbx-cluster end";
/// What a node without /etc/hosts gets above the block.
pub const HOSTS_LOOPBACK: &str =
    "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n";

/// hostname(5) allows comments, but some tools read the first line verbatim:
/// the name alone, no header.
pub fn hostname(node: &str) -> Vec<u8> {
    format!("{node}\n").into_bytes()
}

/// A block of lines that pbx-cluster owns inside a file it shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedBlock {
    pub begin: &'static str,
    pub end: &'static str,
    /// The lines between the markers, each ending in a newline.
    pub lines: String,
    /// What stands above the block when the node has no such file.
    pub absent: &'static str,
    /// The file's mode when pbx-cluster writes it.
    pub mode: u32,
    /// What the block is, for the plan.
    pub about: &'static str,
    /// Derived from the cluster secret: no digest in the manifest.
    pub secret: bool,
}

impl ManagedBlock {
    /// The block with its markers.
    pub fn text(&self) -> String {
        format!("{}\n{}{}\n", self.begin, self.lines, self.end)
    }

    /// `current` with an older copy of the block removed and this one at the end;
    /// every other line is kept.
    pub fn merge(&self, current: &str) -> String {
        let mut out = String::new();
        let mut skipping = false;
        for line in current.lines() {
            if line == self.begin {
                skipping = true;
            } else if line == self.end {
                skipping = false;
            } else if !skipping {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(&self.text());
        out
    }
}

/// Both nodes by name and by their heartbeat link (NAME-hb), and the virtual IP
/// (CLUSTER-vip), in the order of the profile.
pub fn hosts_block(model: &Model) -> ManagedBlock {
    let mut lines = String::new();
    for n in &model.nodes {
        lines.push_str(&format!("{}\t{}\n", n.frontend.address, n.name));
    }
    for n in &model.nodes {
        lines.push_str(&format!("{}\t{}-hb\n", n.heartbeat.address, n.name));
    }
    lines.push_str(&format!(
        "{}\t{}-vip\n",
        model.network.virtual_ip, model.name
    ));
    ManagedBlock {
        begin: HOSTS_BEGIN,
        end: HOSTS_END,
        lines,
        absent: HOSTS_LOOPBACK,
        mode: 0o644,
        about: "both nodes and the virtual IP",
        secret: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> ManagedBlock {
        ManagedBlock {
            begin: HOSTS_BEGIN,
            end: HOSTS_END,
            lines: "10.0.0.1\tnode1\n".into(),
            absent: HOSTS_LOOPBACK,
            mode: 0o644,
            about: "test",
            secret: false,
        }
    }

    #[test]
    fn merge_keeps_other_lines_and_replaces_an_older_block() {
        let old = format!(
            "127.0.0.1 localhost\n{HOSTS_BEGIN}\n10.9.9.9\told\n{HOSTS_END}\n192.0.2.7 printer\n"
        );
        let merged = block().merge(&old);
        assert_eq!(
            merged,
            format!(
                "127.0.0.1 localhost\n192.0.2.7 printer\n{HOSTS_BEGIN}\n10.0.0.1\tnode1\n{HOSTS_END}\n"
            )
        );
        assert_eq!(
            block().merge(&merged),
            merged,
            "merging twice changes nothing"
        );
    }

    #[test]
    fn hostname_is_the_name_alone() {
        assert_eq!(hostname("node1"), b"node1\n");
    }
}
