//! The load-balanced scenarios (issue 13): both nodes serve, the director
//! (virtual IP + ldirectord) runs on one, OCFS2 on dual-primary DRBD is mounted on
//! both. The lab profile is the active/passive one turned load-balanced by the
//! mode's home; the pair boots images with the generic kernel (OCFS2, DLM).

mod balancing;
mod both_links_cut;
mod calls_across_nodes;
mod cold_start;
mod database;
mod director_dies;
mod other_node_dies;
mod phone_call;
mod real_server_fails;
mod rejoin;
mod shared_data;

use std::time::{Duration, Instant};

use super::sipp::{sipp_outcome, sipp_register, sipp_uas};
use super::{Entry, load};
use crate::Error;
use crate::cluster::Pair;
use crate::lab::HARNESS_ADDR;

/// In run order (issue 13's list). Those without a run function are reported as
/// not built, never left out.
pub const TABLE: &[Entry] = &[
    Entry::new(
        1,
        "cold start: both nodes serve, the director on node1",
        cold_start::run,
    )
    .quick()
    .always(),
    Entry::new(
        2,
        "balancing: phones register through the virtual IP on both nodes",
        balancing::run,
    )
    .quick()
    // The phones it registers are what the later scenarios call and watch.
    .runs_for(&[3, 5, 6, 7, 9]),
    Entry::new(4, "shared data on OCFS2 from both nodes", shared_data::run),
    Entry::new(3, "calls across nodes (DUNDi)", calls_across_nodes::run).after(2),
    Entry::new(5, "a real server fails and returns", real_server_fails::run).after(2),
    // The load measurement (not in --quick): the last scenario while both nodes
    // serve, before those that kill nodes. Not after 9: 6 calls phones 9
    // registered without registering them again (registrations last 240 s).
    Entry::new(11, load::NAME, load::run_on_both_nodes),
    Entry::new(7, "the other node dies", other_node_dies::run)
        .after(2)
        .runs_for(&[9]),
    Entry::new(9, "rejoin", rejoin::run).after(7),
    // Ends with node2 booted again and the phones spread anew (9's checks).
    Entry::new(8, "both links cut", both_links_cut::run),
    // Last: it leaves node1 powered off.
    Entry::new(6, "the director dies", director_dies::run).after(2),
];

/// The lab profile's shared filesystem (storage.mount-point).
pub const SHARED: &str = "/srv/ha";

/// Phones of the balancing scenario (extensions 1001..=1000+PHONES).
pub const PHONES: u16 = 20;
/// An extension of the profile whose phone never registers.
pub const UNREGISTERED: u16 = 1000 + PHONES + 1;

/// Between looks at a state the scenario times (the IPVS pool, the director).
const TIMED_POLL: Duration = Duration::from_millis(200);
/// The called phone's UAS and the wait for its call.
const UAS_LIFE: Duration = Duration::from_secs(60);
const CALL_WAIT: Duration = Duration::from_secs(45);

/// Registers extension `ext` from the harness's port `port`; true on 200.
fn register(pair: &Pair, ext: u16, port: u16) -> Result<bool, Error> {
    sipp_register(
        pair,
        ext,
        port,
        &format!("{HARNESS_ADDR}:{port}"),
        &format!("lb-sipp-register-{ext}.log"),
    )
}

/// The extensions registered on node `i` (its own contacts list).
pub(crate) fn registered_on(pair: &Pair, i: usize) -> Vec<u16> {
    let out = pair
        .sh(i, "asterisk -rx 'pjsip show contacts'")
        .stdout_str();
    let mut exts: Vec<u16> = out
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("Contact:")?.trim();
            let ext = rest.split('/').next()?.trim();
            ext.parse().ok()
        })
        .filter(|e| (1001..=1000 + PHONES).contains(e))
        .collect();
    exts.sort_unstable();
    exts.dedup();
    exts
}

/// The harness port a phone's contact points at.
pub(crate) fn contact_port(ext: u16) -> u16 {
    5100 + (ext - 1000)
}

/// A call placed on node `from` (through its dialplan, as a phone registered there
/// would dial) to `ext`, answered by a sipp UAS at the phone's contact.
fn call(pair: &Pair, from: usize, ext: u16) -> Result<(bool, f64), Error> {
    let uas = sipp_uas(
        pair,
        contact_port(ext),
        UAS_LIFE,
        &format!("lb-sipp-uas-{ext}.log"),
    )?;
    let t = Instant::now();
    pair.sh(
        from,
        &format!("asterisk -rx 'channel originate Local/{ext}@internal application Wait 2'"),
    );
    let ok = sipp_outcome(uas, CALL_WAIT);
    Ok((ok, t.elapsed().as_secs_f64()))
}

/// Waits, named and bounded by `limit` after `since`, until `cond` holds; the
/// seconds from `since` when it did.
fn time_until(
    since: Instant,
    limit: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
) -> Option<f64> {
    let left = limit.saturating_sub(since.elapsed());
    crate::wait_until(left, TIMED_POLL, what, &String::new, || Ok(cond()))
        .ok()
        .map(|_| since.elapsed().as_secs_f64())
}

/// Whether the director's IPVS table lists `rip` as a real server of the SIP
/// service.
pub(crate) fn in_pool(pair: &Pair, director: usize, rip: &str) -> bool {
    pair.sh(director, "ipvsadm -Ln")
        .stdout_str()
        .contains(&format!("{rip}:5060"))
}

/// A write and fsync of `file` in the shared filesystem on node `i`, bounded by
/// `limit` (a write waits while the cluster filesystem recovers from a lost
/// node); whether it returned written, and the seconds from `since` when it did.
fn shared_write(pair: &Pair, i: usize, file: &str, since: Instant, limit: Duration) -> (bool, f64) {
    let path = format!("{SHARED}/{file}");
    let w = pair.ssh.run(
        &pair.addr(i),
        &format!("echo {file} > {path} && sync {path} && echo written"),
        limit,
    );
    (
        w.success() && w.stdout_str().contains("written"),
        since.elapsed().as_secs_f64(),
    )
}

fn secs(t: Option<f64>) -> String {
    t.map_or("never (bounded wait ran out)".into(), |t| {
        format!("{t:.1} s")
    })
}
