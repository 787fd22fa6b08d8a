//! Scenario 5: node2's heartbeat tap down for a while: no move, no second primary,
//! SIP answers; after the restore DRBD resyncs and nothing moved.

use std::time::{Duration, Instant};

use crate::Error;
use crate::scenarios::fencing::check_nobody_fenced;
use crate::scenarios::restore::healthy_pair;
use crate::scenarios::timing::observe_for;
use crate::scenarios::{Entry, Run};

/// How long the link stays cut: longer than either engine's deadtime.
const CUT_FOR: Duration = Duration::from_secs(30);
/// Between looks at the VIP and DRBD's roles while the link is cut.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
const RESYNC_WAIT: Duration = Duration::from_secs(180);

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &mut run.pair;
    let active = healthy_pair(pair, &mut s, "the link cut")?;
    let tap = pair.vms[1].spec.tap_hb.clone();
    let cut_at = Instant::now();
    pair.lab.set_link(&tap, false)?;
    s.notes.push(format!(
        "cut {tap} (node2's heartbeat NIC; DRBD replicates on that network too) for {} s",
        CUT_FOR.as_secs()
    ));
    let mut moved = false;
    let mut two_primaries = false;
    observe_for(Instant::now(), CUT_FOR, SAMPLE_EVERY, || {
        let h = pair.vip_holders();
        moved |= h != vec![active];
        two_primaries |= (0..2).all(|i| pair.drbd(i).contains("ro:Primary"));
    });
    let sip_during = pair.sip_ok();
    pair.lab.set_link(&tap, true)?;
    s.check(
        "no failover while one link is cut",
        !moved,
        format!("VIP stayed on {}", pair.name(active)),
    );
    s.check("no second primary", !two_primaries, "");
    s.check("SIP answers during the cut", sip_during, "");
    let r = pair.wait(
        RESYNC_WAIT,
        "link restored: DRBD resynced, nothing moved",
        || Ok(pair.drbd_healthy(0) && pair.drbd_healthy(1)),
    );
    s.check(
        "link restored: DRBD Connected UpToDate/UpToDate",
        r.is_ok(),
        format!("{:?}", r.as_ref().map(|d| d.as_secs())),
    );
    let h = pair.vip_holders();
    s.check(
        "after the restore the VIP is still where it was",
        h == vec![active],
        format!("{h:?}"),
    );
    check_nobody_fenced(pair, &mut s, cut_at);
    pair.engine.link_restored_checks(pair, &mut s, active);
    s.finish();
    run.push(s);
    Ok(())
}
