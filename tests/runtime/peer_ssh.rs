//! The path between the nodes, judged by OpenSSH itself: sshd reads the rendered
//! authorized_keys block, ssh uses the rendered private key. Both run inside a
//! private network namespace (unshare --net) where the lab's heartbeat addresses
//! sit on its own loopback: nothing leaves it.

use std::process::Command;

use crate::harness::{bin, repo, require_tool, text};

/// Renders lab node1's key file and authorized_keys block; the block's forced
/// command points at the binary under test (a node has it at /usr/sbin).
fn rendered(dir: &std::path::Path) {
    let model = pbx_cluster::profile::load(&repo("profiles/lab.toml"))
        .unwrap()
        .model;
    let files = pbx_cluster::render::render_node(&model, "node1").unwrap();
    let key = &files.files[pbx_cluster::render::peer::KEY_PATH];
    pbx_cluster::fsutil::write_atomic(&dir.join("key"), &key.contents, 0o600).unwrap();
    let block = files.blocks[pbx_cluster::render::peer::AUTHORIZED_KEYS_PATH].text();
    let forced = pbx_cluster::render::peer::FORCED_COMMAND;
    assert!(block.contains(forced), "{block}");
    let ours = format!("{} peer", bin().display());
    std::fs::write(dir.join("authorized_keys"), block.replace(forced, &ours)).unwrap();
}

#[test]
fn sshd_lets_the_other_nodes_key_run_pbx_cluster_peer_and_nothing_else() {
    let sshd = require_tool("/usr/sbin/sshd", "openssh-server");
    require_tool("ssh", "openssh-client");
    require_tool("unshare", "util-linux");
    let dir = tempfile::tempdir().unwrap();
    rendered(dir.path());
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("sshd_config"),
        format!(
            "Port 2222\nListenAddress 172.31.0.11\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             UsePAM no\nStrictModes no\nPidFile none\n"
        ),
    )
    .unwrap();
    // node2 (172.31.0.12) asks node1 (172.31.0.11); then a host the block does
    // not name (172.31.0.13) asks with the same key.
    let ssh = |from: &str, request: &str| {
        format!(
            "ssh -i {d}/key -p 2222 -b {from} -o BatchMode=yes -o IdentitiesOnly=yes \
             -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
             root@172.31.0.11 '{request}' 2>&1; echo \"exit $?\""
        )
    };
    let script = format!(
        "set -u; ip link set lo up; for a in 11 12 13; do ip addr add 172.31.0.$a/32 dev lo; done; \
         mount -t tmpfs tmpfs /run; mkdir -p /run/sshd; \
         ssh-keygen -q -t ed25519 -N '' -f {d}/host; \
         {} -D -e -f {d}/sshd_config 2>{d}/sshd.log & \
         for i in $(seq 100); do (echo > /dev/tcp/172.31.0.11/2222) 2>/dev/null && break; sleep 0.1; done; \
         echo '--- profile'; {}; echo '--- shell'; {}; echo '--- stranger'; {}; kill %1",
        sshd.display(),
        ssh("172.31.0.12", "profile"),
        ssh("172.31.0.12", "sh -c id"),
        ssh("172.31.0.13", "profile"),
    );
    let out = Command::new("unshare")
        .args(["--mount", "--net", "bash", "-c", &script])
        .output()
        .unwrap();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    let part = |name: &str| {
        all.split(&format!("--- {name}\n"))
            .nth(1)
            .unwrap_or_default()
            .split("--- ")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let log = std::fs::read_to_string(dir.path().join("sshd.log")).unwrap_or_default();
    // The forced command ran `pbx-cluster peer` with the request: the profile this
    // machine applied last (none, or a record).
    let profile = part("profile");
    assert!(profile.ends_with("exit 0\n"), "{all}\nsshd: {log}");
    assert!(
        profile.starts_with("null") || profile.starts_with('{'),
        "{all}"
    );
    // Whatever else the key asks for reaches `peer`, which refuses it.
    let shell = part("shell");
    assert!(shell.contains("refuses \"sh -c id\""), "{all}");
    assert!(shell.ends_with("exit 2\n"), "{all}");
    assert!(!shell.contains("uid=0"), "{all}");
    // From an address the block does not name, sshd refuses the key itself.
    let stranger = part("stranger");
    assert!(stranger.ends_with("exit 255\n"), "{all}\nsshd: {log}");
}
