//! Scenario 4: `systemctl kill -s KILL asterisk` on the active node; SIP must
//! answer again on the virtual IP within the bound.

use std::time::{Duration, Instant};

use crate::Error;
use crate::cluster::SIP_TARGET;
use crate::phases;
use crate::report::Trial;
use crate::scenarios::fencing::check_nobody_fenced;
use crate::scenarios::restore::healthy_pair;
use crate::scenarios::timing::PROBE_EVERY;
use crate::scenarios::{Entry, KILL_ASTERISK, Run, command_check};

/// SIP on the virtual IP again after the kill.
const RECOVERY_BOUND: Duration = Duration::from_secs(150);
/// The probe sees the killed Asterisk silent within this (one unanswered probe
/// takes a second); it may be back before, which the recovery then measures.
const SILENCE_WAIT: Duration = Duration::from_secs(5);
const SILENCE_POLL: Duration = Duration::from_millis(100);
/// Watched after the recovery before the fencing is judged: a late reaction (a
/// DRBD reconnect that fences) must show up; nothing marks that it will not.
const LATE_REACTION_HOLD: Duration = Duration::from_secs(20);

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &mut run.pair;
    let active = healthy_pair(pair, &mut s, "killing Asterisk")?;
    let t = Instant::now();
    command_check(
        pair,
        &mut s,
        active,
        KILL_ASTERISK,
        "Asterisk killed (SIGKILL)",
    );
    // The probe sees it down first, so the bound measures the recovery.
    let _ = crate::wait_until(
        SILENCE_WAIT,
        SILENCE_POLL,
        "the killed Asterisk silent on the virtual IP",
        &String::new,
        || Ok(!pair.sip_ok()),
    );
    let back = crate::sip::first_answer(&pair.lab, SIP_TARGET, t, PROBE_EVERY, RECOVERY_BOUND)?;
    let holders = pair.vip_holders();
    s.check(
        &format!("SIP answers again within {} s", RECOVERY_BOUND.as_secs()),
        back.is_some(),
        back.map_or("no answer".into(), |b| {
            format!("{b:.1} s after the kill; VIP on {:?}", pair.names(&holders))
        }),
    );
    std::thread::sleep(LATE_REACTION_HOLD);
    check_nobody_fenced(pair, &mut s, t);
    if let (None, Some(note)) = (back, pair.engine.dead_service_note()) {
        s.notes.push(note.into());
    }
    match back {
        Some(b) => s.trials.push(Trial {
            failover_s: Some(phases::round2(b)),
            from: pair.name(active).into(),
            to: holders
                .first()
                .map(|&i| pair.name(i).to_string())
                .unwrap_or_default(),
            phases: Vec::new(),
        }),
        // Put it back for the next scenarios.
        None => {
            let _ = pair.sh(active, "systemctl start asterisk");
        }
    }
    s.finish();
    run.push(s);
    Ok(())
}
