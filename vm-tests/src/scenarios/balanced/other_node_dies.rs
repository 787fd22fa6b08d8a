//! Scenario 7: node2 (a real server, not the director) is killed (its QEMU,
//! SIGKILL): the virtual IP keeps answering SIP, node2 leaves node1's pool, node2
//! is fenced and node1's shared filesystem takes writes again, and a phone that
//! was on node2 registers again on node1 and is called there.

use std::time::{Duration, Instant};

use super::{call, contact_port, in_pool, register, registered_on, secs, shared_write, time_until};
use crate::Error;
use crate::cluster::{Pair, SIP_TARGET};
use crate::report::Scenario;
use crate::scenarios::timing::PROBE_EVERY;
use crate::scenarios::{Entry, Run};

/// The lab's pool timing (check-interval + check-timeout) and what the pool's
/// reaction may take beyond it.
const CHECK_WINDOW_S: f64 = (2 + 3) as f64;
const LEAVE_MARGIN_S: f64 = 10.0;
const LEAVE_WAIT: Duration = Duration::from_secs(60);
/// A write on node1's OCFS2 waits for node2's fence and the filesystem's recovery.
const WRITE_T: Duration = Duration::from_secs(240);

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let on = run.carry.registered.clone();
    let pair = &mut run.pair;
    let rip = pair.addr(1);
    let watch = crate::sip::Watch::start(&pair.lab, SIP_TARGET, PROBE_EVERY)?;
    let kill = Instant::now();
    pair.crash(1);
    let pair = &*pair;
    let (write_ok, write_s) = std::thread::scope(|sc| {
        let writer = sc.spawn(|| shared_write(pair, 0, "peer-died", kill, WRITE_T));
        let left = time_until(kill, LEAVE_WAIT, "node2 out of node1's IPVS pool", || {
            !in_pool(pair, 0, &rip)
        });
        s.check(
            &format!(
                "node2 leaves the pool within the check window ({CHECK_WINDOW_S} s) plus a margin"
            ),
            left.is_some_and(|l| l <= CHECK_WINDOW_S + LEAVE_MARGIN_S),
            format!("after {}", secs(left)),
        );
        writer.join().unwrap_or((false, f64::NAN))
    });
    s.check(
        "node1's shared filesystem takes writes again once node2 is fenced",
        write_ok,
        format!("the write returned {write_s:.1} s after the kill"),
    );
    pair.save_journal(0, "peer-died");
    let fenced: Vec<String> = pair
        .power
        .events_since(kill)
        .into_iter()
        .filter(|e| e.request.ends_with(pair.name(1)) && !e.request.starts_with("status"))
        .map(|e| e.request)
        .collect();
    s.check(
        "node2 was fenced (the power switch was asked)",
        !fenced.is_empty(),
        format!("requests: {fenced:?}"),
    );
    moved_phone(pair, &mut s, &on)?;
    let silence = watch.finish();
    s.check(
        "the virtual IP keeps answering SIP (no silence longer than the check window)",
        silence.longest_s <= CHECK_WINDOW_S,
        format!(
            "longest silence {:.1} s ({} of {} probes answered)",
            silence.longest_s, silence.answered, silence.probes
        ),
    );
    s.notes.push(format!(
        "kill to: node1's filesystem writable {write_s:.1} s; longest SIP silence on the virtual IP {:.1} s",
        silence.longest_s
    ));
    s.finish();
    run.push(s);
    Ok(())
}

/// A phone that was on node2 registers again (same port): node1 takes it and
/// it can be called there. The last of node2's phones: scenario 5 moved the first.
fn moved_phone(pair: &Pair, s: &mut Scenario, on: &[Vec<u16>; 2]) -> Result<(), Error> {
    let Some(&moved) = on[1].last() else {
        return Ok(());
    };
    let ok = register(pair, moved, contact_port(moved))?;
    let now_on_1 = registered_on(pair, 0).contains(&moved);
    let (called, call_s) = call(pair, 0, moved)?;
    s.check(
        &format!("{moved}, registered on node2, registers again on node1 and is called there"),
        ok && now_on_1 && called,
        format!("REGISTER {ok}, on node1 {now_on_1}, call {called} ({call_s:.1} s)"),
    );
    Ok(())
}
