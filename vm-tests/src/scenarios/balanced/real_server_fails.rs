//! Scenario 5: Asterisk killed on node2 (SIGKILL): node2 leaves the pool, the VIP
//! keeps answering, a phone that was on node2 moves to node1 at its next
//! REGISTER; Asterisk back (the engine or systemd restarts it), node2 returns.

use std::time::{Duration, Instant};

use super::{call, contact_port, in_pool, register, registered_on, secs, time_until};
use crate::Error;
use crate::cluster::{Pair, SIP_TARGET};
use crate::report::Scenario;
use crate::scenarios::timing::PROBE_EVERY;
use crate::scenarios::{Entry, KILL_ASTERISK, Run, command_check};

/// The lab profile's pool timing: a dead real server leaves within
/// check-interval + check-timeout.
const CHECK_WINDOW: Duration = Duration::from_secs(2 + 3);
/// What the pool's reaction may take beyond the check window.
const LEAVE_MARGIN_S: f64 = 10.0;
const LEAVE_WAIT: Duration = Duration::from_secs(60);
const RETURN_WAIT: Duration = Duration::from_secs(240);

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &run.pair;
    let on = &run.carry.registered;
    let rip = pair.addr(1);
    let watch = crate::sip::Watch::start(&pair.lab, SIP_TARGET, PROBE_EVERY)?;
    let t = Instant::now();
    command_check(
        pair,
        &mut s,
        1,
        KILL_ASTERISK,
        "Asterisk on node2 killed (SIGKILL)",
    );
    let left = time_until(t, LEAVE_WAIT, "node2 out of node1's IPVS pool", || {
        !in_pool(pair, 0, &rip)
    });
    s.check(
        &format!(
            "node2 leaves the pool within the check window ({} s) plus a margin",
            CHECK_WINDOW.as_secs()
        ),
        left.is_some_and(|l| l <= CHECK_WINDOW.as_secs_f64() + LEAVE_MARGIN_S),
        format!("after {}", secs(left)),
    );
    if let Some(&moved) = on[1].first() {
        moved_phone_checks(pair, &mut s, moved, t)?;
    }
    let back = time_until(t, RETURN_WAIT, "node2 back in node1's IPVS pool", || {
        in_pool(pair, 0, &rip)
    });
    s.check(
        "Asterisk back on node2 and node2 back in the pool",
        back.is_some(),
        format!("after {}", secs(back)),
    );
    let silence = watch.finish();
    s.notes.push(format!(
        "left the pool {}, back {}; SIP on the virtual IP: longest silence {:.1} s ({} of {} probes answered)",
        secs(left),
        secs(back),
        silence.longest_s,
        silence.answered,
        silence.probes
    ));
    s.check(
        "the virtual IP keeps answering SIP (no silence longer than the check window)",
        silence.longest_s <= CHECK_WINDOW.as_secs_f64(),
        format!("longest silence {:.1} s", silence.longest_s),
    );
    s.finish();
    run.push(s);
    Ok(())
}

/// A phone that was on node2 re-registers (same source port): node1 takes it and
/// it can be called there.
fn moved_phone_checks(
    pair: &Pair,
    s: &mut Scenario,
    moved: u16,
    kill: Instant,
) -> Result<(), Error> {
    let ok = register(pair, moved, contact_port(moved))?;
    let took = kill.elapsed().as_secs_f64();
    let now_on_1 = registered_on(pair, 0).contains(&moved);
    s.check(
        &format!("{moved}, registered on node2, re-registers on node1 once node2 left the pool"),
        ok && now_on_1,
        format!("REGISTER {ok}, on node1 {now_on_1}, {took:.1} s after the kill"),
    );
    let (called, call_s) = call(pair, 0, moved)?;
    s.check(
        &format!("{moved} can be called again (on node1)"),
        called,
        format!("{call_s:.1} s"),
    );
    Ok(())
}
