//! Scenario 6: a planned switchover (the engine's standby) and the failback;
//! times reported, DRBD in sync after.

use std::time::{Duration, Instant};

use crate::Error;
use crate::cluster::Pair;
use crate::report::Scenario;
use crate::scenarios::fencing::check_nobody_fenced;
use crate::scenarios::restore::{HEALTHY, from_snapshot};
use crate::scenarios::timing::HEALTHY_WAIT;
use crate::scenarios::{Entry, Run, command_check};

const SWITCHOVER_WAIT: Duration = Duration::from_secs(240);
const FAILBACK_WAIT: Duration = Duration::from_secs(300);

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &mut run.pair;
    from_snapshot(pair, &mut s, HEALTHY)?;
    let started = Instant::now();
    let active = pair.wait_healthy(HEALTHY_WAIT, "healthy cluster before the switchover")?;
    let other = 1 - active;
    let sw = switch_away(pair, &mut s, active, "switchover completed");
    let fb = fail_back(pair, &mut s, active, "failback completed with DRBD in sync");
    check_nobody_fenced(pair, &mut s, started);
    // Both journals: the next scenario restores the snapshot and drops them.
    pair.save_journal(active, "switchover");
    pair.save_journal(other, "switchover");
    s.notes
        .push(format!("switchover {sw:.1} s, failback {fb:.1} s"));
    s.finish();
    run.push(s);
    Ok(())
}

/// The engine's standby command on the active node: the group moves to the
/// other node, which then answers SIP (`what` is the check); its seconds.
pub(super) fn switch_away(pair: &Pair, s: &mut Scenario, active: usize, what: &str) -> f64 {
    let t = Instant::now();
    let standby = pair.engine.standby_command(pair.name(active));
    command_check(pair, s, active, &standby, "standby command accepted");
    let moved = pair.wait(
        SWITCHOVER_WAIT,
        "switchover: VIP on the other node answers SIP",
        || Ok(pair.vip_holders() == vec![1 - active] && pair.sip_ok()),
    );
    let sw = t.elapsed().as_secs_f64();
    s.check(what, moved.is_ok(), format!("{sw:.1} s"));
    sw
}

/// The former active node back online: the group fails back (auto-failback)
/// and DRBD is in sync (`what` is the check); its seconds.
pub(super) fn fail_back(pair: &Pair, s: &mut Scenario, active: usize, what: &str) -> f64 {
    let t = Instant::now();
    let online = pair.engine.online_command(pair.name(active));
    command_check(pair, s, active, &online, "node back online");
    let back = pair.wait(
        FAILBACK_WAIT,
        "failback: VIP home, DRBD UpToDate/UpToDate",
        || Ok(pair.healthy()? == Some(active)),
    );
    let fb = t.elapsed().as_secs_f64();
    s.check(what, back.is_ok(), format!("{fb:.1} s"));
    fb
}
