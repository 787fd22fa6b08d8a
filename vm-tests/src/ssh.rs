//! Control of the guests over ssh from inside the lab namespace, with the lab key
//! that `image build --lab --ssh-key` put into root's authorized_keys.
//!
//! One master connection per guest carries every command as a channel: a fresh
//! ssh login costs a software-emulated guest 0.6-0.8 s of CPU (key exchange), a
//! channel on the master 0.08 s, and the harness polls several times a second.
//! Masters are registered process groups like every child; a command finds no
//! master (not up yet, guest gone) and connects directly instead.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pbx_cluster::exec::{Cmd, LocalRunner, Output, Runner};

use crate::procs::Group;

#[derive(Clone)]
pub struct Ssh {
    pub ns: String,
    pub key: PathBuf,
    /// Where the masters' control sockets live.
    pub control_dir: PathBuf,
    masters: Arc<Mutex<HashMap<String, Group>>>,
}

impl std::fmt::Debug for Ssh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssh")
            .field("ns", &self.ns)
            .field("key", &self.key)
            .field("control_dir", &self.control_dir)
            .finish()
    }
}

impl Ssh {
    pub fn new(ns: String, key: PathBuf, control_dir: PathBuf) -> Ssh {
        Ssh {
            ns,
            key,
            control_dir,
            masters: Arc::default(),
        }
    }

    fn control_path(&self, addr: &str) -> PathBuf {
        self.control_dir.join(format!("cm-{addr}"))
    }

    /// The options every connection shares. A command's direct login gives up
    /// soon; the master waits longer for the banner and for keep-alive answers: on
    /// a guest slowed down further (a busy CI machine) sshd's banner came later than
    /// 5 s on every try, and once the master is up every command is a cheap channel.
    fn options(&self, patient: bool) -> Vec<String> {
        let (connect, alive) = if patient { ("60", "8") } else { ("5", "3") };
        [
            "-i",
            &self.key.display().to_string(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            &format!("ConnectTimeout={connect}"),
            "-o",
            "ServerAliveInterval=2",
            "-o",
            &format!("ServerAliveCountMax={alive}"),
            "-o",
            "LogLevel=ERROR",
        ]
        .map(String::from)
        .to_vec()
    }

    /// Starts the master connection to `addr` unless one runs.
    fn ensure_master(&self, addr: &str) {
        let mut masters = self.masters.lock().unwrap_or_else(|e| e.into_inner());
        if masters.get_mut(addr).is_some_and(Group::running) {
            return;
        }
        masters.remove(addr);
        let _ = std::fs::remove_file(self.control_path(addr));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, "ssh"])
            .args(self.options(true))
            .args(["-M", "-N", "-o", "ControlPersist=no", "-o"])
            .arg(format!("ControlPath={}", self.control_path(addr).display()))
            .arg(format!("root@{addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Ok(g) = Group::spawn(&format!("ssh master {addr}"), cmd) {
            masters.insert(addr.to_string(), g);
        }
    }

    /// Closes the master to a guest that was killed or replaced (a snapshot
    /// restore): its connection is dead or belongs to another life of the guest.
    pub fn forget(&self, addr: &str) {
        let mut masters = self.masters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut g) = masters.remove(addr) {
            g.kill();
        }
        let _ = std::fs::remove_file(self.control_path(addr));
    }

    pub fn argv(&self, addr: &str) -> Vec<String> {
        self.ensure_master(addr);
        let mut v: Vec<String> = vec!["netns".into(), "exec".into(), self.ns.clone(), "ssh".into()];
        v.extend(self.options(false));
        v.extend([
            "-o".into(),
            "ControlMaster=no".into(),
            "-o".into(),
            format!("ControlPath={}", self.control_path(addr).display()),
        ]);
        v.push(format!("root@{addr}"));
        v
    }

    /// Runs a shell script on the guest; the result whatever the exit code.
    pub fn run(&self, addr: &str, script: &str, timeout: Duration) -> Output {
        let cmd = Cmd::new("ip")
            .args(self.argv(addr))
            .arg(script)
            .timeout(timeout);
        match LocalRunner.run(&cmd) {
            Ok(out) => out,
            Err(e) => Output {
                code: Some(255),
                stdout: Vec::new(),
                stderr: e.to_string().into_bytes(),
            },
        }
    }

    /// Runs and requires exit 0; returns stdout.
    pub fn check(
        &self,
        addr: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<String, crate::Error> {
        let out = self.run(addr, script, timeout);
        if out.success() {
            Ok(out.stdout_str())
        } else {
            Err(crate::Error::Remote {
                addr: addr.to_string(),
                script: script.to_string(),
                code: out.code,
                stderr: tail(&String::from_utf8_lossy(&out.stderr), 12),
            })
        }
    }

    /// Copies local bytes to a guest path (over ssh's stdin, no scp needed).
    pub fn put(&self, addr: &str, path: &str, bytes: &[u8], mode: u32) -> Result<(), crate::Error> {
        let script = format!(
            "mkdir -p \"$(dirname {path})\" && cat > {path}.tmp && chmod {mode:o} {path}.tmp && mv {path}.tmp {path}"
        );
        let cmd = Cmd::new("ip")
            .args(self.argv(addr))
            .arg(&script)
            .stdin(bytes.to_vec())
            .timeout(Duration::from_secs(60));
        LocalRunner
            .run(&cmd)
            .map(|_| ())
            .map_err(crate::Error::Exec)
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_runs_ssh_in_the_namespace_with_the_lab_key_and_no_host_key_prompt() {
        let s = Ssh::new("pbxvm-none".into(), "/k/id".into(), "/c".into());
        let v = s.argv("172.30.0.11");
        assert_eq!(&v[..4], ["netns", "exec", "pbxvm-none", "ssh"]);
        assert!(v.contains(&"BatchMode=yes".to_string()));
        assert!(v.contains(&"/k/id".to_string()));
        // A channel on the node's master when it runs, a direct login otherwise.
        assert!(v.contains(&"ControlMaster=no".to_string()));
        assert!(v.contains(&"ControlPath=/c/cm-172.30.0.11".to_string()));
        assert_eq!(v.last().map(String::as_str), Some("root@172.30.0.11"));
        s.forget("172.30.0.11");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
