//! Scenario 4: the shared data on OCFS2 from both nodes at once. A file written
//! and fsynced on one node reads with the same checksum on the other; both nodes
//! writing their own files at once lose nothing; and nothing that both Asterisks
//! write lands in one shared file (the lab measured OCFS2 losing lines when two
//! nodes append to the same file at once, so call records, logs and the astdb
//! must stay per node).

use std::time::Duration;

use super::SHARED;
use crate::Error;
use crate::cluster::Pair;
use crate::report::Scenario;
use crate::scenarios::{Entry, Run};

/// How long both nodes write their own files at once.
const WRITE_FOR_S: u32 = 30;
/// The other node must read the fsynced file within this.
const READ_WITHIN_S: f64 = 1.0;
/// What each Asterisk appends to or rewrites: per node, never on the shared disk.
const PER_NODE: &[&str] = &[
    "/var/log/asterisk/cdr-csv",
    "/var/log/asterisk",
    "/var/lib/asterisk/astdb.sqlite3",
    "/var/spool/asterisk/outgoing",
];
const WRITERS_T: Duration = Duration::from_secs(WRITE_FOR_S as u64 + 120);

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &run.pair;
    for (from, to) in [(0, 1), (1, 0)] {
        same_checksum(pair, &mut s, from, to);
    }
    writers_at_once(pair, &mut s);
    for i in 0..2 {
        per_node_state(pair, &mut s, i);
    }
    s.finish();
    run.push(s);
    Ok(())
}

/// One MiB of random data written and fsynced on `from`, read on `to`.
fn same_checksum(pair: &Pair, s: &mut Scenario, from: usize, to: usize) {
    let (w, r) = (pair.name(from).to_string(), pair.name(to).to_string());
    let path = format!("{SHARED}/checksum-from-{w}");
    let wrote = pair
        .sh(
            from,
            &format!("head -c 1048576 /dev/urandom > {path} && sync {path} && sha256sum < {path}"),
        )
        .stdout_str();
    // Timed on the reader itself: the ssh round trip is not the filesystem's.
    let read = pair
        .sh(
            to,
            &format!("t0=$(date +%s.%N); sum=$(sha256sum < {path}); t1=$(date +%s.%N); echo \"$sum\"; echo \"$t0 $t1\" | awk '{{printf \"%.3f\\n\", $2 - $1}}'"),
        )
        .stdout_str();
    let mut lines = read.lines();
    let (sum, took) = (
        lines.next().unwrap_or(""),
        lines.next().and_then(|t| t.trim().parse::<f64>().ok()),
    );
    let same = !wrote.trim().is_empty() && sum.trim() == wrote.trim();
    s.check(
        &format!(
            "a file fsynced on {w} reads on {r} with the same sha256 within {READ_WITHIN_S} s"
        ),
        same && took.is_some_and(|t| t <= READ_WITHIN_S),
        format!(
            "same checksum {same}, read in {}",
            took.map_or("?".into(), |t| format!("{t:.2} s"))
        ),
    );
}

/// Each node writes numbered, fsynced lines to its own file for WRITE_FOR_S
/// seconds, both at once; both nodes then count every file's lines.
fn writers_at_once(pair: &Pair, s: &mut Scenario) {
    let script = |name: &str| {
        let path = format!("{SHARED}/writer-{name}");
        format!(
            "rm -f {path}; end=$(( $(date +%s) + {WRITE_FOR_S} )); n=0; \
             while [ $(date +%s) -lt $end ]; do n=$((n+1)); echo {name}-$n >> {path}; \
             [ $((n % 20)) -eq 0 ] && sync {path}; done; sync {path}; echo $n"
        )
    };
    let (a, b) = (script(pair.name(0)), script(pair.name(1)));
    let written: Vec<Option<u64>> = std::thread::scope(|sc| {
        let one = sc.spawn(|| pair.ssh.run(&pair.addr(0), &a, WRITERS_T));
        let two = sc.spawn(|| pair.ssh.run(&pair.addr(1), &b, WRITERS_T));
        [one, two]
            .into_iter()
            .map(|h| {
                h.join()
                    .ok()
                    .filter(|o| o.success())
                    .and_then(|o| o.stdout_str().trim().parse().ok())
            })
            .collect()
    });
    let count = |i: usize| -> Vec<Option<u64>> {
        (0..2)
            .map(|w| {
                pair.sh(i, &format!("wc -l < {SHARED}/writer-{}", pair.name(w)))
                    .stdout_str()
                    .trim()
                    .parse()
                    .ok()
            })
            .collect()
    };
    let (on1, on2) = (count(0), count(1));
    let whole = written.iter().all(Option::is_some) && on1 == written && on2 == written;
    s.check(
        &format!("both nodes writing their own files at once for {WRITE_FOR_S} s lose nothing"),
        whole,
        format!("lines written {written:?}; counted on node1 {on1:?}, on node2 {on2:?}"),
    );
}

/// What Asterisk appends to on node `i` is on its own disk, not the shared one.
fn per_node_state(pair: &Pair, s: &mut Scenario, i: usize) {
    let script = PER_NODE
        .iter()
        .map(|p| format!("echo {p} $(findmnt -n -o FSTYPE -T {p})"))
        .collect::<Vec<_>>()
        .join("; ");
    let out = pair.sh(i, &script).stdout_str();
    let shared: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_end().ends_with(" ocfs2"))
        .collect();
    s.check(
        &format!(
            "{}: call records, logs, the astdb and the call spool are not on the shared filesystem",
            pair.name(i)
        ),
        shared.is_empty() && out.lines().count() == PER_NODE.len(),
        if shared.is_empty() {
            out.lines().collect::<Vec<_>>().join(", ")
        } else {
            format!("on OCFS2: {shared:?}")
        },
    );
}
