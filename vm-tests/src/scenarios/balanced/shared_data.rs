//! Scenario 4: the shared data on OCFS2 from both nodes at once: what one node
//! writes the other reads, appends from both nodes to one file all land (the
//! cluster's locks), and a shared folder (drbdlinks' voicemail link) shows the
//! same files on both.

use super::SHARED;
use crate::Error;
use crate::cluster::Pair;
use crate::report::Scenario;
use crate::scenarios::{Entry, Run};

/// Lines each node appends to the one file, both at once.
const APPENDS: u32 = 200;
/// The shared folder drbdlinks points into the filesystem on both nodes.
const LINKED: &str = "/var/spool/asterisk/voicemail";

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &run.pair;
    for (from, to) in [(0, 1), (1, 0)] {
        read_what_the_other_wrote(pair, &mut s, from, to);
    }
    appends_from_both(pair, &mut s);
    let token = format!("linked-{}", crate::cluster::now_epoch() as u64);
    let wrote = pair
        .sh(0, &format!("echo {token} > {LINKED}/pbx-lab-link && sync"))
        .success();
    let seen = pair
        .sh(1, &format!("cat {LINKED}/pbx-lab-link"))
        .stdout_str();
    s.check(
        &format!("{LINKED} (a drbdlinks link) shows node1's file on node2"),
        wrote && seen.trim() == token,
        format!("written {wrote}, node2 read {:?}", seen.trim()),
    );
    s.finish();
    run.push(s);
    Ok(())
}

fn read_what_the_other_wrote(pair: &Pair, s: &mut Scenario, from: usize, to: usize) {
    let (w, r) = (pair.name(from).to_string(), pair.name(to).to_string());
    let token = format!("{w}-{}", crate::cluster::now_epoch());
    let path = format!("{SHARED}/from-{w}");
    let wrote = pair
        .sh(from, &format!("echo {token} > {path} && sync {path}"))
        .success();
    let read = pair.sh(to, &format!("cat {path}")).stdout_str();
    s.check(
        &format!("{r} reads what {w} wrote"),
        wrote && read.trim() == token,
        format!("written {wrote}, read {:?}", read.trim()),
    );
}

/// Both nodes append APPENDS lines each to one file at the same time; both then
/// count every line of each.
fn appends_from_both(pair: &Pair, s: &mut Scenario) {
    let path = format!("{SHARED}/appends");
    pair.sh(0, &format!("rm -f {path}"));
    let script = |name: &str| {
        format!("for i in $(seq 1 {APPENDS}); do echo {name}-$i >> {path}; done; sync {path}")
    };
    let (a, b) = (script(pair.name(0)), script(pair.name(1)));
    let done = std::thread::scope(|sc| {
        let one = sc.spawn(|| pair.sh(0, &a).success());
        let two = sc.spawn(|| pair.sh(1, &b).success());
        one.join().unwrap_or(false) && two.join().unwrap_or(false)
    });
    let count = |i: usize| {
        let out = pair
            .sh(
                i,
                &format!(
                    "grep -c '^{}-' {path}; grep -c '^{}-' {path}",
                    pair.name(0),
                    pair.name(1)
                ),
            )
            .stdout_str();
        out.split_whitespace()
            .map(|n| n.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    let (on1, on2) = (count(0), count(1));
    let want = vec![APPENDS, APPENDS];
    s.check(
        &format!("{APPENDS} appends from each node at once, every line on both nodes"),
        done && on1 == want && on2 == want,
        format!(
            "lines per writer as node1 reads them {on1:?}, as node2 reads them {on2:?} (want {want:?})"
        ),
    );
}
