//! Back to a healthy pair: the snapshot every scenario after the cold start
//! begins from, and the real rejoin of a killed node.

use std::time::{Duration, Instant};

use super::timing::{HEALTHY_WAIT, PROBE_EVERY};
use crate::Error;
use crate::cluster::{Pair, SIP_TARGET};
use crate::report::Scenario;

/// The snapshot every scenario after the cold start begins from.
pub const HEALTHY: &str = "healthy";

/// A node's boot to ssh: as generous as the first boot's bound (238 s seen on a
/// fresh machine under TCG).
pub const BOOT_LIMIT: Duration = Duration::from_secs(900);
/// Join, resync and failback after the killed node answers ssh (boot, join, resync
/// and failback together took 143-406 s in the lab; a CI machine ran at 1.7-2.5x
/// the lab's times).
pub const REJOIN_LIMIT: Duration = Duration::from_secs(900);

/// Both nodes back to a snapshot before a scenario; the scenario notes it.
pub fn from_snapshot(pair: &mut Pair, s: &mut Scenario, name: &str) -> Result<(), Error> {
    let took = pair.restore(name)?;
    s.notes.push(format!(
        "started from snapshot {name} (restored in {:.0} s)",
        took.as_secs_f64()
    ));
    Ok(())
}

/// Both nodes back to the healthy snapshot (noted in `s`), then healthy again
/// before `what` the scenario does; returns the active node.
pub fn healthy_pair(pair: &mut Pair, s: &mut Scenario, what: &str) -> Result<usize, Error> {
    from_snapshot(pair, s, HEALTHY)?;
    pair.wait_healthy(HEALTHY_WAIT, &format!("healthy cluster before {what}"))
}

/// How long a rejoin took: the killed node's boot (to ssh), then the cluster's part
/// (join, resync, failback), each with its own bound.
pub struct Rejoined {
    pub boot_s: f64,
    pub total_s: f64,
    /// The longest stretch the virtual IP did not answer SIP during the rejoin:
    /// auto-failback moves the group back, an outage of its own.
    pub failback_gap_s: f64,
}

/// Boots the killed node again (same disk) and waits until the cluster is whole
/// (with auto_failback the group returns to the preferred node). A slow boot is
/// bounded like a first boot and does not eat the cluster's budget.
pub fn rejoin(pair: &mut Pair) -> Result<Rejoined, Error> {
    let t = Instant::now();
    let watch = crate::sip::Watch::start(&pair.lab, SIP_TARGET, PROBE_EVERY)?;
    for i in 0..2 {
        if !pair.vms[i].running() {
            pair.boot(i)?;
        }
    }
    for i in 0..2 {
        pair.wait_ssh(i, BOOT_LIMIT)?;
    }
    let boot_s = t.elapsed().as_secs_f64();
    let what =
        "killed node back: DRBD UpToDate/UpToDate, VIP on node1 (auto_failback), SIP answers";
    let mut holder = None;
    let waited = pair.wait(REJOIN_LIMIT, what, || {
        holder = pair.healthy()?;
        Ok(holder == Some(0))
    });
    let silence = watch.finish();
    waited?;
    Ok(Rejoined {
        boot_s,
        total_s: t.elapsed().as_secs_f64(),
        failback_gap_s: silence.longest_s,
    })
}
