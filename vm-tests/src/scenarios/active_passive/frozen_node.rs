//! Scenarios 9 and 10: a node stops without dying (SIGSTOP of its QEMU for longer
//! than the deadtime, then SIGCONT), the case that shorter timing turns into a
//! false failover. Exactly one node may be Primary: the survivor promotes only
//! after the frozen node was fenced (compared on the survivor's kernel log against
//! the switch's log, not by sampling), and a frozen node that comes back unfenced
//! steps down; a fenced node boots again and DRBD must reconnect without a split
//! brain (which DRBD can only detect on that reconnect); SIP answers at the end.

use std::time::{Duration, Instant};

use crate::Error;
use crate::cluster::{Pair, now_epoch};
use crate::phases;
use crate::report::Scenario;
use crate::scenarios::fencing::{fenced_since, shown};
use crate::scenarios::restore::{BOOT_LIMIT, REJOIN_LIMIT, healthy_pair};
use crate::scenarios::timing::observe_for;
use crate::scenarios::{Entry, Run};

/// Longer than either engine's deadtime in the lab (Pacemaker 3 s, Heartbeat 10 s)
/// with room for the fence: the peer must act, not wait it out.
const FREEZE: Duration = Duration::from_secs(30);
/// Between SIP probes of the virtual IP during the freeze.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How long after the freeze a fence may still arrive before the node is let go.
const FENCE_GRACE: Duration = Duration::from_secs(60);
const SIP_WAIT: Duration = Duration::from_secs(240);
/// Guest and harness clocks agree to within this after the offset is taken out.
const CLOCK_SLACK_S: f64 = 0.5;

/// Scenario 9: the active node freezes.
pub fn run_active(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    frozen_node(run, entry, true)
}

/// Scenario 10: the standby freezes.
pub fn run_standby(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    frozen_node(run, entry, false)
}

/// The freeze as it happened.
struct Freeze {
    victim: usize,
    survivor: usize,
    /// Guest clock minus host clock on the survivor, before the freeze.
    offset: f64,
    /// The freeze's start, in host epoch seconds and as an instant.
    since: f64,
    t: Instant,
    sip_lost: u32,
}

impl Freeze {
    /// When the switch powered the frozen node off, from the freeze's start.
    fn fenced_at(&self, pair: &Pair) -> Option<Duration> {
        let victim = pair.name(self.victim);
        pair.power
            .events_since(self.t)
            .iter()
            .find(|e| e.reply.starts_with("OK") && e.request.contains(victim))
            .map(|e| e.at.duration_since(self.t))
    }
}

fn frozen_node(run: &mut Run, entry: &Entry, freeze_active: bool) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &mut run.pair;
    let active = healthy_pair(pair, &mut s, "freezing a node")?;
    for i in 0..2 {
        pair.engine.settle(pair, i)?;
    }
    let victim = if freeze_active { active } else { 1 - active };
    let freeze = freeze_and_watch(pair, &mut s, victim, freeze_active);
    let answered = thaw(pair, &freeze);
    judge(pair, &mut s, &freeze, freeze_active, answered);
    reconnect_check(pair, &mut s, &freeze)?;
    pair.save_journal(freeze.survivor, &format!("frozen-{}", entry.id));
    s.finish();
    run.push(s);
    Ok(())
}

/// SIGSTOP of the victim's QEMU for FREEZE, probing SIP on the virtual IP.
fn freeze_and_watch(pair: &Pair, s: &mut Scenario, victim: usize, active: bool) -> Freeze {
    let survivor = 1 - victim;
    let offset = pair.clock_offset(survivor).unwrap_or(0.0);
    let since = now_epoch();
    let t = Instant::now();
    pair.vms[victim].freeze(true);
    s.notes.push(format!(
        "SIGSTOP of {}'s QEMU ({}) for {} s, then SIGCONT unless its peer fenced it",
        pair.name(victim),
        if active {
            "the active node"
        } else {
            "the standby"
        },
        FREEZE.as_secs()
    ));
    let mut sip_lost = 0u32;
    observe_for(t, FREEZE, SAMPLE_EVERY, || {
        if !pair.sip_ok() {
            sip_lost += 1;
        }
    });
    Freeze {
        victim,
        survivor,
        offset,
        since,
        t,
        sip_lost,
    }
}

/// Lets the frozen node go unless it was fenced (a fence still on its way, slow
/// under emulation, is waited for, bounded); then waits for SIP on the virtual
/// IP.
fn thaw(pair: &mut Pair, freeze: &Freeze) -> Result<Duration, Error> {
    let _ = pair.wait(
        FENCE_GRACE,
        "the frozen node fenced, before it is let go",
        || Ok(freeze.fenced_at(pair).is_some()),
    );
    if pair.vms[freeze.victim].running() {
        pair.vms[freeze.victim].freeze(false);
    }
    pair.wait(
        SIP_WAIT,
        "the virtual IP answering SIP after the freeze",
        || Ok(pair.sip_ok()),
    )
}

/// The frozen node fenced or stepped down, the survivor's part, SIP, one Primary.
fn judge(
    pair: &mut Pair,
    s: &mut Scenario,
    freeze: &Freeze,
    freeze_active: bool,
    answered: Result<Duration, Error>,
) {
    let (victim, survivor) = (freeze.victim, freeze.survivor);
    let fenced_at = freeze.fenced_at(pair);
    let victim_running = pair.vms[victim].running();
    let roles: Vec<(usize, String)> = (0..2)
        .filter(|&i| i == survivor || (i == victim && victim_running))
        .map(|i| (i, pair.drbd(i)))
        .collect();
    let primaries = roles
        .iter()
        .filter(|(_, r)| r.contains("ro:Primary"))
        .count();
    let victim_stepped_down = roles
        .iter()
        .any(|(i, r)| *i == victim && r.contains("ro:Secondary"));
    let fenced = fenced_since(pair, freeze.t);
    s.check(
        &format!(
            "{} fenced (powered off) by its peer, or stepped down after the thaw",
            pair.name(victim)
        ),
        (!victim_running && fenced_at.is_some()) || (victim_running && victim_stepped_down),
        format!(
            "{}; {}",
            shown(&fenced),
            if victim_running {
                "it ran on after SIGCONT"
            } else {
                "its QEMU is gone"
            }
        ),
    );
    if freeze_active {
        takeover_check(pair, s, freeze, fenced_at);
    } else {
        s.check(
            &format!("{} kept the group", pair.name(survivor)),
            pair.vip_holders() == vec![survivor],
            format!("SIP probes failed during the freeze: {}", freeze.sip_lost),
        );
    }
    s.check(
        "the virtual IP answers SIP after the freeze",
        answered.is_ok(),
        answered.map_or(format!("no answer within {} s", SIP_WAIT.as_secs()), |d| {
            format!("{:.1} s after the freeze ended", d.as_secs_f64())
        }),
    );
    let shown: Vec<String> = roles
        .iter()
        .map(|(i, r)| format!("{}: {r}", pair.name(*i)))
        .collect();
    s.check("exactly one primary", primaries == 1, shown.join("; "));
}

/// The survivor's promotion, from its own kernel log (guest clock, turned into the
/// harness's by the measured offset), came only after the fence.
fn takeover_check(pair: &Pair, s: &mut Scenario, freeze: &Freeze, fenced_at: Option<Duration>) {
    let (offset, since) = (freeze.offset, freeze.since);
    let promoted = pair
        .journal(freeze.survivor, since + offset - 5.0)
        .lines()
        .find(|l| l.contains("role( Secondary -> Primary )"))
        .and_then(phases::timestamp)
        .map(|g| g - offset - since);
    let fence_s = fenced_at.map(|f| f.as_secs_f64());
    s.check(
        &format!(
            "{} took over, promoted only after the frozen node was fenced",
            pair.name(freeze.survivor)
        ),
        matches!((promoted, fence_s), (Some(p), Some(f)) if p >= f - CLOCK_SLACK_S),
        format!(
            "fenced at {}, promoted at {} (seconds after the freeze; survivor's kernel log, clock offset {offset:+.2} s); SIP probes failed during the freeze: {}",
            fence_s.map_or("never".into(), |f| format!("+{f:.1}")),
            promoted.map_or("never".into(), |p| format!("+{p:.1}")),
            freeze.sip_lost
        ),
    );
}

/// DRBD sees a split brain only when the two reconnect: a fenced node boots
/// again and must resync from the survivor.
fn reconnect_check(pair: &mut Pair, s: &mut Scenario, freeze: &Freeze) -> Result<(), Error> {
    let victim = freeze.victim;
    if !pair.vms[victim].running() {
        pair.boot(victim)?;
        pair.wait_ssh(victim, BOOT_LIMIT)?;
    }
    let reconnected = pair.wait(
        REJOIN_LIMIT,
        "DRBD Connected UpToDate/UpToDate on both nodes after the freeze",
        || Ok(pair.drbd_healthy(0) && pair.drbd_healthy(1)),
    );
    let sb: Vec<String> = (0..2)
        .map(|i| {
            let n = pair
                .sh(
                    i,
                    &format!(
                        "journalctl -k -q --since=@{:.0} | grep -c 'Split-Brain detected' || true",
                        freeze.since + freeze.offset - 5.0
                    ),
                )
                .stdout_str();
            format!("{}: {}", pair.name(i), n.trim())
        })
        .collect();
    s.check(
        "DRBD reconnected after the freeze without a split brain",
        reconnected.is_ok() && sb.iter().all(|l| l.ends_with(": 0")),
        format!(
            "{}; \"Split-Brain detected\" in the kernel logs: {}",
            match &reconnected {
                Ok(d) => format!("both UpToDate {:.0} s later", d.as_secs_f64()),
                Err(_) => format!("not Connected/UpToDate within {} s", REJOIN_LIMIT.as_secs()),
            },
            sb.join(", ")
        ),
    );
    Ok(())
}
