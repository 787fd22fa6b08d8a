//! What lets one node reach the other for `plan` and `apply` on both: an SSH key
//! pair derived from the cluster secret (the same on both nodes) and, in root's
//! authorized_keys, a block that lets that key run `pbx-cluster peer` and
//! nothing else, from the other node's addresses only.

use super::host::ManagedBlock;
use crate::model::{Model, Node};

/// The private key (0600); its public half is in the peer's authorized_keys.
pub const KEY_PATH: &str = "/etc/pbx-cluster/peer-ssh.key";
pub const AUTHORIZED_KEYS_PATH: &str = "/root/.ssh/authorized_keys";
pub const AUTHORIZED_BEGIN: &str = "# pbx-cluster begin (managed block, do not edit)";
pub const AUTHORIZED_END: &str = "# pbx-cluster end";
/// What sshd runs for the key, whatever the client asked (the request arrives
/// in SSH_ORIGINAL_COMMAND).
pub const FORCED_COMMAND: &str = "/usr/sbin/pbx-cluster peer";

/// The key's line in `node`'s authorized_keys: no tty, no forwarding
/// (`restrict`), accepted from the other node's two addresses alone.
pub fn authorized_keys_block(model: &Model, node: &Node, public_key: &str) -> ManagedBlock {
    let from: Vec<String> = model
        .nodes
        .iter()
        .filter(|n| n.name != node.name)
        .flat_map(|n| [n.heartbeat.address, n.frontend.address])
        .map(|a| a.to_string())
        .collect();
    ManagedBlock {
        begin: AUTHORIZED_BEGIN,
        end: AUTHORIZED_END,
        lines: format!(
            "restrict,from=\"{}\",command=\"{FORCED_COMMAND}\" {public_key} pbx-cluster-peer\n",
            from.join(",")
        ),
        absent: "",
        mode: 0o600,
        about: "the other node's key, for `pbx-cluster peer` only",
        // A public key, but derived from the secret: its digest would be an
        // offline oracle for guesses of the secret.
        secret: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_runs_only_pbx_cluster_peer_and_only_from_the_other_node() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/lab.toml");
        let model = crate::profile::load(&path).unwrap().model;
        let files = crate::render::render_node(&model, "node1").unwrap();
        let block = &files.blocks[AUTHORIZED_KEYS_PATH];
        let lines: Vec<&str> = block.lines.lines().collect();
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with(
                "restrict,from=\"172.31.0.12,172.30.0.12\",command=\"/usr/sbin/pbx-cluster peer\" ssh-ed25519 "
            ),
            "{}",
            lines[0]
        );
        assert_eq!(block.mode, 0o600);
        // The same public key on both nodes, and it is the private key's.
        let other = crate::render::render_node(&model, "node2").unwrap();
        let key_of = |f: &crate::render::FileSet| {
            f.blocks[AUTHORIZED_KEYS_PATH]
                .lines
                .split_whitespace()
                .nth(2)
                .unwrap()
                .to_string()
        };
        assert_eq!(key_of(&files), key_of(&other));
        assert!(
            other.blocks[AUTHORIZED_KEYS_PATH]
                .lines
                .contains("from=\"172.31.0.11,172.30.0.11\"")
        );
        let private = &files.files[KEY_PATH];
        assert!(private.secret && private.mode == 0o600);
        assert_eq!(private.contents, other.files[KEY_PATH].contents);
    }
}
