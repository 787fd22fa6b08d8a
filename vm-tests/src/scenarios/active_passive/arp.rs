//! Scenario 3: after a hard kill the observer's neighbour entry for the virtual IP
//! (never flushed) carries the survivor's MAC and a ping gets through. It is
//! judged during scenario 2's trials; this run reports it.

use crate::Error;
use crate::cluster::Pair;
use crate::report::Check;
use crate::scenarios::observer::{observer_mac, observer_ping};
use crate::scenarios::{Entry, Run};

/// Before the kill: the observer pings the virtual IP, so that its neighbour
/// entry holds the active node's MAC; returns that MAC.
pub fn learn(pair: &Pair) -> String {
    observer_ping(pair);
    observer_mac(pair)
}

/// After the kill: the observer's entry moved to the survivor without a flush.
pub fn judge(pair: &Pair, trial: u32, survivor: usize, answered: bool, before: &str) -> Check {
    let after = observer_mac(pair);
    let survivor_mac = pair.vms[survivor].spec.mac_fe.clone();
    let reached = observer_ping(pair);
    Check {
        name: format!("trial {trial}: observer's ARP entry moved to the survivor without a flush"),
        ok: answered && after.eq_ignore_ascii_case(&survivor_mac) && reached,
        detail: format!("before {before}, after {after} (survivor {survivor_mac}), ping {reached}"),
    }
}

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    s.checks = std::mem::take(&mut run.carry.arp);
    s.finish();
    run.push(s);
    Ok(())
}
