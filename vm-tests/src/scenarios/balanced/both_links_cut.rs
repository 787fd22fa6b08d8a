//! Scenario 8: node2's both links cut (its frontend and heartbeat taps down):
//! node1 keeps the director and a writable shared filesystem and fences node2
//! through the power switch; node2, cut off from the switch too, takes nothing.
//! Then node2 boots again and must rejoin with no split brain (scenario 9's
//! checks).

use std::time::{Duration, Instant};

use super::rejoin::rejoins;
use super::shared_write;
use crate::Error;
use crate::scenarios::fencing::{fenced_since, shown};
use crate::scenarios::timing::observe_for;
use crate::scenarios::{Entry, Run};

/// How long both links stay cut: node1 fences node2 within this.
const CUT_FOR: Duration = Duration::from_secs(90);
/// Between SIP probes of the virtual IP while the links are cut.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// A write on node1's OCFS2 during the cut waits for node2's fence.
const WRITE_T: Duration = Duration::from_secs(240);
/// The phones register from these after node2's return (scenario 9 used others).
const FRESH_PORT_BASE: u16 = 5500;

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &mut run.pair;
    let (fe, hb) = (
        pair.vms[1].spec.tap_fe.clone(),
        pair.vms[1].spec.tap_hb.clone(),
    );
    let t = Instant::now();
    pair.lab.set_link(&fe, false)?;
    pair.lab.set_link(&hb, false)?;
    s.notes.push(format!(
        "cut {fe} and {hb} (node2's frontend and heartbeat NICs) for {} s",
        CUT_FOR.as_secs()
    ));
    let pair = &*pair;
    let (write_ok, write_s, sip_lost) = std::thread::scope(|sc| {
        let writer = sc.spawn(|| shared_write(pair, 0, "links-cut", t, WRITE_T));
        let mut sip_lost = 0u32;
        observe_for(t, CUT_FOR, SAMPLE_EVERY, || {
            if !pair.sip_ok() {
                sip_lost += 1;
            }
        });
        let (ok, secs) = writer.join().unwrap_or((false, f64::NAN));
        (ok, secs, sip_lost)
    });
    let pair = &mut run.pair;
    let node2_running = pair.vms[1].running();
    pair.lab.set_link(&fe, true)?;
    pair.lab.set_link(&hb, true)?;
    let fenced = fenced_since(pair, t);
    s.check(
        "node2 fenced (powered off) by node1",
        !node2_running && fenced.iter().any(|f| f.contains(pair.name(1))),
        shown(&fenced),
    );
    s.check(
        "node1 was not fenced",
        !fenced.iter().any(|f| f.contains(pair.name(0))),
        shown(&fenced),
    );
    s.check(
        "node1's shared filesystem takes writes during the cut (after the fence)",
        write_ok,
        format!("the write returned {write_s:.1} s after the cut"),
    );
    s.check(
        "node1 keeps the director and SIP on the virtual IP",
        pair.holds_vip(0) && pair.sip_ok(),
        format!("SIP probes failed during the cut: {sip_lost}"),
    );
    if node2_running {
        // Not fenced: it must not come back holding its own view of the data.
        pair.crash(1);
    }
    rejoins(run, &mut s, FRESH_PORT_BASE)?;
    s.finish();
    run.push(s);
    Ok(())
}
