//! Scenario 2: kill -9 of the active node's QEMU while a counter is written and
//! fsynced on the replicated filesystem; failover is measured from the kill to the
//! first SIP answer on the virtual IP. Trials 2-N start from the healthy snapshot;
//! after the last one the killed node boots from its own disk and rejoins.

use std::time::{Duration, Instant};

use super::arp;
use crate::Error;
use crate::cluster::{Pair, SIP_TARGET, now_epoch};
use crate::lab::HARNESS_ADDR;
use crate::phases;
use crate::procs::Group;
use crate::report::{Scenario, Trial};
use crate::scenarios::counter::Counter;
use crate::scenarios::restore::{HEALTHY, rejoin};
use crate::scenarios::sipp::{sipp_outcome, sipp_register, sipp_uas};
use crate::scenarios::timing::{FAILOVER_LIMIT, HEALTHY_WAIT, PROBE_EVERY};
use crate::scenarios::{Entry, Run, first_lines};

/// Asterisk commits its astdb (the phone's contact) from a background thread about
/// once a second and no CLI command shows the commit: held before the kill, so
/// that the contact is on the replicated disk.
const ASTDB_COMMIT_HOLD: Duration = Duration::from_secs(3);
/// The counter writer's first acknowledged values.
const COUNTER_WAIT: Duration = Duration::from_secs(60);
/// The called phone's UAS: it lives through the failover and answers the call.
const UAS_LIFE: Duration = Duration::from_secs(600);
const CALL_WAIT: Duration = Duration::from_secs(45);

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let trials = run.args.kill_trials();
    for trial in 1..=trials {
        if trial > 1 {
            let r = run.pair.restore(HEALTHY)?;
            s.notes.retain(|n| !n.starts_with("trials 2"));
            s.notes.push(format!(
                "trials 2-{trial} started from the healthy snapshot (last restore {:.0} s)",
                r.as_secs_f64()
            ));
        }
        let t = hard_kill(run, trial, &mut s)?;
        s.trials.push(t);
    }
    rejoin_check(&mut run.pair, trials, &mut s);
    s.finish();
    run.push(s);
    Ok(())
}

/// The killed node of the last trial boots from its own disk and rejoins.
fn rejoin_check(pair: &mut Pair, trials: u32, s: &mut Scenario) {
    let name = format!("trial {trials}: killed node rejoins, group fails back");
    match rejoin(pair) {
        Ok(r) => {
            pair.save_journal(0, "rejoin");
            pair.save_journal(1, "rejoin");
            let took = format!(
                "boot + resync + failback {:.0} s (boot to ssh {:.0} s); failback outage {:.1} s (longest SIP silence on the virtual IP)",
                r.total_s, r.boot_s, r.failback_gap_s
            );
            s.failback_gap_seconds.push(r.failback_gap_s);
            s.check(&name, true, took.clone());
            s.notes.push(format!("rejoin ({took})"));
        }
        Err(err) => {
            s.check(&name, false, first_lines(&err.to_string(), 30));
            pair.save_journal(0, "rejoin-failed");
            pair.save_journal(1, "rejoin-failed");
        }
    }
}

/// A healthy pair ready for the kill: the phone registered (its UAS waiting for
/// the call), writes going on (the counter, beside it).
struct Armed {
    active: usize,
    survivor: usize,
    from: String,
    to: String,
    /// The observer's MAC for the virtual IP before the kill (scenario 3).
    mac_before: String,
    uas: Group,
}

/// The kill and what it measured.
struct Killed {
    /// Guest clock minus host clock on the survivor, taken just before the kill.
    offset: f64,
    kill_epoch: f64,
    acked: u64,
    failover: Option<f64>,
}

/// One hard kill of the active node; checks data, the registered phone and the
/// observer's ARP cache (scenario 3's checks, carried).
fn hard_kill(run: &mut Run, trial: u32, s: &mut Scenario) -> Result<Trial, Error> {
    let (armed, counter) = arm(&run.pair, trial, s)?;
    let killed = kill(&mut run.pair, &armed, counter)?;
    if killed.failover.is_none() {
        keep_no_answer_evidence(&run.pair, trial, &armed);
    }
    let check = arp::judge(
        &run.pair,
        trial,
        armed.survivor,
        killed.failover.is_some(),
        &armed.mac_before,
    );
    run.carry.arp.push(check);
    let pair = &run.pair;
    takeover_checks(pair, trial, s, &armed, &killed);
    call_check(pair, trial, s, armed.uas, armed.survivor, &armed.to);
    let guest_kill = killed.kill_epoch + killed.offset;
    let journal = pair.journal(armed.survivor, guest_kill - 5.0);
    let _ = std::fs::write(
        pair.logs.join(format!(
            "{}-kill{trial}-{}.journal",
            pair.engine.name(),
            armed.to
        )),
        &journal,
    );
    let phases = phases::milestones(&journal, guest_kill, &pair.services, killed.failover);
    Ok(Trial {
        failover_s: killed.failover.map(phases::round2),
        from: armed.from,
        to: armed.to,
        phases,
    })
}

/// Waits for a healthy pair, registers the phone and starts the writes.
fn arm(pair: &Pair, trial: u32, s: &mut Scenario) -> Result<(Armed, Counter), Error> {
    let active = pair.wait_healthy(HEALTHY_WAIT, "healthy cluster before the kill")?;
    let survivor = 1 - active;
    let (from, to) = (
        pair.name(active).to_string(),
        pair.name(survivor).to_string(),
    );
    eprintln!("vm-tests: hard kill trial {trial}: kill -9 {from}'s QEMU, {to} should take over");
    let mac_before = arp::learn(pair);
    let (uas, registered) = register_phone(pair)?;
    s.check(
        &format!("trial {trial}: phone 1001 registered before the kill"),
        registered,
        "sipp REGISTER with digest auth",
    );
    std::thread::sleep(ASTDB_COMMIT_HOLD);
    let counter = Counter::start(pair, active)?;
    pair.wait(
        COUNTER_WAIT,
        "counter writer acknowledged 5 fsynced values",
        || Ok(counter.acked() >= 5),
    )?;
    pair.engine.settle(pair, survivor)?;
    let armed = Armed {
        active,
        survivor,
        from,
        to,
        mac_before,
        uas,
    };
    Ok((armed, counter))
}

/// Registers phone 1001 with its contact on the harness (sipp UAS at :5070 waiting
/// for the call). Returns the UAS.
fn register_phone(pair: &Pair) -> Result<(Group, bool), Error> {
    let contact = format!("{HARNESS_ADDR}:5070");
    let uas = sipp_uas(pair, 5070, UAS_LIFE, "sipp-uas.log")?;
    let ok = sipp_register(pair, 1001, 5071, &contact, "sipp-register.log")?;
    Ok((uas, ok))
}

/// The kill, while writes are still going on, and the failover it starts.
fn kill(pair: &mut Pair, armed: &Armed, counter: Counter) -> Result<Killed, Error> {
    let offset = pair.clock_offset(armed.survivor).unwrap_or(0.0);
    let kill_at = Instant::now();
    let kill_epoch = now_epoch();
    pair.crash(armed.active);
    let acked = counter.stop();
    let failover =
        crate::sip::first_answer(&pair.lab, SIP_TARGET, kill_at, PROBE_EVERY, FAILOVER_LIMIT)?;
    eprintln!("vm-tests:   failover: {failover:?} s");
    Ok(Killed {
        offset,
        kill_epoch,
        acked,
        failover,
    })
}

/// No SIP answer after the kill: the survivor's cluster state and journal go to
/// the logs, the evidence to stderr.
fn keep_no_answer_evidence(pair: &Pair, trial: u32, armed: &Armed) {
    let dump = pair.state_dump(armed.survivor);
    let file = pair.logs.join(format!(
        "{}-kill{trial}-{}.state",
        pair.engine.name(),
        armed.to
    ));
    let _ = std::fs::write(&file, &dump);
    // What led there: the survivor's journal from before the restore on.
    let since = now_epoch() + pair.clock_offset(armed.survivor).unwrap_or(0.0) - 600.0;
    let _ = std::fs::write(
        file.with_extension("state.journal"),
        pair.journal(armed.survivor, since),
    );
    eprintln!(
        "vm-tests:   no answer: {}'s cluster state in {}",
        armed.to,
        file.display()
    );
    pair.explain(&format!(
        "no SIP answer on the VIP after the kill of {}",
        armed.from
    ));
}

/// SIP answers, the survivor holds the VIP, the fsynced counter survived.
fn takeover_checks(pair: &Pair, trial: u32, s: &mut Scenario, armed: &Armed, killed: &Killed) {
    s.check(
        &format!("trial {trial}: SIP answers on the VIP after the kill"),
        killed.failover.is_some(),
        killed.failover.map_or(
            format!("no answer within {}s", FAILOVER_LIMIT.as_secs()),
            |f| format!("{f:.1} s"),
        ),
    );
    let holders = pair.vip_holders();
    s.check(
        &format!("trial {trial}: survivor holds the VIP"),
        holders == vec![armed.survivor],
        format!("holders {holders:?}"),
    );
    let value: Option<u64> = pair
        .sh(armed.survivor, "cat /srv/ha/counter")
        .stdout_str()
        .trim()
        .parse()
        .ok();
    let acked = killed.acked;
    s.check(
        &format!("trial {trial}: fsynced counter survived"),
        value.is_some_and(|v| v == acked || v == acked + 1),
        format!("last acknowledged {acked}, found {value:?}"),
    );
}

/// Calls the phone from the survivor without it registering again.
fn call_check(pair: &Pair, trial: u32, s: &mut Scenario, uas: Group, survivor: usize, to: &str) {
    let call = pair.sh(
        survivor,
        "asterisk -rx 'pjsip show contacts' | grep -c 1001/; asterisk -rx 'channel originate PJSIP/1001 application Wait 2'",
    );
    let called = sipp_outcome(uas, CALL_WAIT);
    s.check(
        &format!("trial {trial}: registered phone called after takeover without re-registering"),
        called,
        format!(
            "contacts of 1001 on {to}: {}; sipp UAS {}",
            call.stdout_str().lines().next().unwrap_or("?"),
            if called {
                "answered and completed one call"
            } else {
                "got no complete call"
            }
        ),
    );
}
