//! Control of the guests over ssh from inside the lab namespace, with the lab key
//! that `image build --lab --ssh-key` put into root's authorized_keys.

use std::path::PathBuf;
use std::time::Duration;

use pbx_cluster::exec::{Cmd, LocalRunner, Output, Runner};

#[derive(Debug, Clone)]
pub struct Ssh {
    pub ns: String,
    pub key: PathBuf,
}

impl Ssh {
    pub fn argv(&self, addr: &str) -> Vec<String> {
        let mut v: Vec<String> = vec!["netns".into(), "exec".into(), self.ns.clone(), "ssh".into()];
        v.extend(
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
                "ConnectTimeout=5",
                "-o",
                "ServerAliveInterval=2",
                "-o",
                "ServerAliveCountMax=3",
                "-o",
                "LogLevel=ERROR",
            ]
            .map(String::from),
        );
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
        let s = Ssh {
            ns: "pbxvm1".into(),
            key: "/k/id".into(),
        };
        let v = s.argv("172.30.0.11");
        assert_eq!(&v[..4], ["netns", "exec", "pbxvm1", "ssh"]);
        assert!(v.contains(&"BatchMode=yes".to_string()));
        assert!(v.contains(&"/k/id".to_string()));
        assert_eq!(v.last().map(String::as_str), Some("root@172.30.0.11"));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
