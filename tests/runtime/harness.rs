//! Shared helpers: the real binary, required tools, temp node trees, loopback ports.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pbx-cluster"))
}

pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A tool the test needs; missing means a failed test that names the package.
pub fn require_tool(path: &str, package: &str) -> PathBuf {
    let found = if path.contains('/') {
        Some(PathBuf::from(path)).filter(|p| p.exists())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(path))
                .find(|p| p.exists())
        })
    };
    found.unwrap_or_else(|| {
        panic!(
            "`{path}` not found: install the Debian package `{package}` (apt-get install {package})"
        )
    })
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("command starts")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A free loopback UDP and TCP port (asked of the kernel, then released).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port after 50 tries");
}

/// Polls `cond` until it holds or `limit` passes; panics naming what it waited for.
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// A node tree in a temp dir: ROOT/ as the node's /, plus a fake mountinfo.
pub struct Node {
    pub dir: tempfile::TempDir,
}

impl Node {
    pub fn new() -> Node {
        let node = Node {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(node.root()).expect("root");
        node.set_mounted(&[]);
        node
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn mountinfo(&self) -> PathBuf {
        self.dir.path().join("mountinfo")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("drbdlinks.conf")
    }

    /// A node path under the root.
    pub fn path(&self, node_path: &str) -> PathBuf {
        self.root().join(node_path.trim_start_matches('/'))
    }

    pub fn write(&self, node_path: &str, content: &str) {
        let p = self.path(node_path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    pub fn read(&self, node_path: &str) -> String {
        std::fs::read_to_string(self.path(node_path)).unwrap_or_else(|e| panic!("{node_path}: {e}"))
    }

    /// Writes a mountinfo listing / and the given mount points.
    pub fn set_mounted(&self, points: &[&str]) {
        let mut text = String::from("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n");
        for (i, p) in points.iter().enumerate() {
            text.push_str(&format!(
                "{} 22 147:{i} / {p} rw,noatime shared:2 - xfs /dev/drbd{i} rw\n",
                36 + i
            ));
        }
        std::fs::write(self.mountinfo(), text).expect("mountinfo");
    }

    /// Every path under the root with what it is: a listing to compare before/after.
    pub fn snapshot(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.root(), &self.root(), &mut out);
        out.sort();
        out
    }

    /// The environment the binary and the agent scripts read.
    pub fn env(&self, cmd: &mut Command) {
        cmd.env("PBX_CLUSTER_ROOT", self.root())
            .env("PBX_CLUSTER_MOUNTINFO", self.mountinfo())
            .env("PBX_CLUSTER_BIN", bin());
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let rel = p
            .strip_prefix(base)
            .expect("under base")
            .display()
            .to_string();
        let meta = std::fs::symlink_metadata(&p).expect("meta");
        if meta.file_type().is_symlink() {
            out.push(format!(
                "{rel} -> {}",
                std::fs::read_link(&p).expect("link").display()
            ));
        } else if meta.is_dir() {
            out.push(format!("{rel}/"));
            walk(base, &p, out);
        } else {
            out.push(format!(
                "{rel} = {}",
                std::fs::read_to_string(&p).unwrap_or_default()
            ));
        }
    }
}
