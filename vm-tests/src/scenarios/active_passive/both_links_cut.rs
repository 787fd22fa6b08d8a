//! Scenario 7: the passive node's both taps down for a while: exactly one primary,
//! the cut-off node fenced (powered off) by its peer through the lab's power
//! switch, the group stays and SIP answers.

use std::time::{Duration, Instant};

use crate::Error;
use crate::scenarios::fencing::{fenced_since, shown};
use crate::scenarios::restore::healthy_pair;
use crate::scenarios::timing::observe_for;
use crate::scenarios::{Entry, Run};

/// How long both links stay cut: the active node fences its peer within this.
const CUT_FOR: Duration = Duration::from_secs(60);
/// Between SIP probes of the virtual IP while the links are cut.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &mut run.pair;
    let active = healthy_pair(pair, &mut s, "cutting both links")?;
    pair.engine.settle(pair, active)?;
    // Cut the passive node off both networks: the active node must fence it
    // (through the harness's power switch) and keep the group; the cut-off node
    // cannot reach the switch, so it must not promote.
    let victim = 1 - active;
    let (fe, hb) = (
        pair.vms[victim].spec.tap_fe.clone(),
        pair.vms[victim].spec.tap_hb.clone(),
    );
    let t = Instant::now();
    pair.lab.set_link(&fe, false)?;
    pair.lab.set_link(&hb, false)?;
    s.notes.push(format!(
        "cut {fe} and {hb} ({}'s frontend and heartbeat NICs) for {} s; fence device: the harness (fence_pbxlab / external/pbxlab kill the node's QEMU)",
        pair.name(victim),
        CUT_FOR.as_secs()
    ));
    let mut sip_lost = 0u32;
    observe_for(t, CUT_FOR, SAMPLE_EVERY, || {
        if !pair.sip_ok() {
            sip_lost += 1;
        }
    });
    // Judge while the cut-off node is still cut off from its peer: its DRBD role
    // is read once the frontend (ssh) returns, before the heartbeat link does.
    pair.lab.set_link(&fe, true)?;
    let victim_running = pair.vms[victim].running();
    let roles: Vec<String> = (0..2).map(|i| pair.drbd(i)).collect();
    pair.lab.set_link(&hb, true)?;
    let primaries = roles.iter().filter(|r| r.contains("ro:Primary")).count();
    let fenced = fenced_since(pair, t);
    s.check("exactly one primary", primaries == 1, format!("{roles:?}"));
    s.check(
        &format!("{} fenced (powered off) by its peer", pair.name(victim)),
        !victim_running && fenced.iter().any(|f| f.contains(pair.name(victim))),
        shown(&fenced),
    );
    s.check(
        &format!("the group stayed on {}", pair.name(active)),
        pair.vip_holders() == vec![active] && pair.sip_ok(),
        format!("SIP probes failed during the cut: {sip_lost}"),
    );
    s.finish();
    run.push(s);
    Ok(())
}
