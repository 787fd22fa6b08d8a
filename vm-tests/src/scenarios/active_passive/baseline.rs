//! Scenario 8: the hard kill with the seed's timing (Heartbeat, keepalive 1 s,
//! deadtime 10 s). The lab's Heartbeat runs exactly that timing (its home's
//! profile edits), so its hard-kill trials are the baseline; the report compares
//! them with Pacemaker's trials at the lab's tuned timing (token 3 s).

use crate::Error;
use crate::report::HARD_KILL;
use crate::scenarios::{Entry, Run};

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let (engine, mode) = (run.engine().name(), run.lab.mode.name());
    let kills = run
        .report
        .scenarios
        .iter()
        .find(|k| k.id == HARD_KILL && k.engine == engine && k.mode == mode);
    match kills {
        Some(k) if !k.failover_seconds.is_empty() => {
            s.trials = k.trials.clone();
            s.check(
                "hard kills measured with the seed's timing",
                true,
                format!("{} trials of scenario 2 ({engine})", k.trials.len()),
            );
            s.notes.push("the lab's Heartbeat runs the seed's timing (shorter deadtimes declared live nodes dead under software emulation), so scenario 2's heartbeat trials are the baseline; report.md compares them with Pacemaker's trials at the tuned lab timing".into());
        }
        _ => {
            s.check(
                "hard kills measured with the seed's timing",
                false,
                format!("scenario 2 ({engine}) produced no failover time"),
            );
        }
    }
    s.finish();
    run.push(s);
    Ok(())
}
