//! The data check of a hard kill: a counter written to the replicated filesystem.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::Error;
use crate::cluster::Pair;
use crate::procs::Group;

/// Writes an increasing counter to the replicated filesystem of node `i`, each value
/// renamed into place and fsynced (file and directory) before the node acknowledges.
pub struct Counter {
    group: Group,
    last_ack: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Counter {
    pub fn start(pair: &Pair, i: usize) -> Result<Counter, Error> {
        let script = "cd /srv/ha && while read n; do echo $n > counter.new && sync counter.new && mv counter.new counter && sync . && echo $n; done";
        let mut cmd = Command::new("ip");
        cmd.args(pair.ssh.argv(&pair.addr(i)))
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut group = Group::spawn("counter writer", cmd).map_err(|source| Error::Spawn {
            what: format!("the counter writer (ssh to {})", pair.name(i)),
            source,
        })?;
        let mut stdin = group.child.stdin.take().expect("piped stdin");
        let stdout = group.child.stdout.take().expect("piped stdout");
        let last_ack = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (ack, st) = (last_ack.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut n = 1u64;
            while !st.load(Ordering::SeqCst) {
                if writeln!(stdin, "{n}").is_err() || stdin.flush().is_err() {
                    break;
                }
                match lines.next() {
                    Some(Ok(l)) if l.trim() == n.to_string() => ack.store(n, Ordering::SeqCst),
                    _ => break,
                }
                n += 1;
            }
        });
        Ok(Counter {
            group,
            last_ack,
            stop,
        })
    }

    /// The last value the node acknowledged.
    pub fn acked(&self) -> u64 {
        self.last_ack.load(Ordering::SeqCst)
    }

    /// Stops writing; returns the last acknowledged value (read before the stop).
    pub fn stop(self) -> u64 {
        let acked = self.acked();
        self.stop.store(true, Ordering::SeqCst);
        drop(self.group);
        acked
    }
}
