//! Changing a running cluster (issue 16), from one node: the profile is edited
//! on one node only and `pbx-cluster apply` carries it to both (over ssh, as
//! `pbx-cluster peer`). Each scenario starts from the healthy snapshot, so its
//! change is gone for the next one.
//!
//! - 12: a new extension, applied from the standby: the new phone registers and
//!   is called, phones registered before stay, no failover, Asterisk not restarted.
//! - 13: the DRBD sync rate and the deadtime (one second longer), applied from
//!   the active node: both
//!   reach the running DRBD and the engine, with no restart and no move.
//! - 14: a change the standby's node cannot take (a service with no unit):
//!   refused before either node is touched.

use std::time::{Duration, Instant};

use crate::Error;
use crate::cluster::Pair;
use crate::lab::HARNESS_ADDR;
use crate::report::Scenario;
use crate::scenarios::fencing::check_nobody_fenced;
use crate::scenarios::restore::{HEALTHY, from_snapshot};
use crate::scenarios::sipp::{sipp_outcome, sipp_register, sipp_uas};
use crate::scenarios::timing::HEALTHY_WAIT;
use crate::scenarios::{Entry, Run, first_lines};

/// Where the image put the profile, and what apply keeps there.
const PROFILE: &str = "/etc/pbx-cluster/cluster.toml";
/// The new phone (its secret follows the lab's lab-phone-EXT rule).
const NEW_PHONE: u16 = 1009;
const UAS_LIFE: Duration = Duration::from_secs(300);
/// apply for both nodes, or apt's upgrade, under emulation.
const LONG: Duration = Duration::from_secs(900);
const CALL_WAIT: Duration = Duration::from_secs(30);
/// The sync rate the change sets (the lab has 100M).
const NEW_SYNC_RATE_KIB: u64 = 60 * 1024;

pub fn add_extension(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &mut run.pair;
    from_snapshot(pair, &mut s, HEALTHY)?;
    let started = Instant::now();
    let active = pair.wait_healthy(HEALTHY_WAIT, "healthy cluster before the change")?;
    let standby = 1 - active;
    // A phone registered before the change.
    let old_uas = sipp_uas(pair, 5070, UAS_LIFE, "day2-uas-1001.log")?;
    let registered = sipp_register(
        pair,
        1001,
        5071,
        &format!("{HARNESS_ADDR}:5070"),
        "day2-register-1001.log",
    )?;
    s.check("1001 registers before the change", registered, "");
    let pid = asterisk_pid(pair, active);
    let edit = format!(
        "printf '\\n[[pbx.extension]]\\nnumber = \"{NEW_PHONE}\"\\nname = \"Day Two Phone\"\\nsecret = \"lab-phone-{NEW_PHONE}\"\\n' >> {PROFILE}"
    );
    let applied = apply_from(pair, &mut s, standby, &edit, "the standby")?;
    same_profile_checks(pair, &mut s, &format!("number = \"{NEW_PHONE}\""));
    for i in 0..2 {
        let line = pair
            .sh(i, "pbx-cluster status | grep '^profiles:'")
            .stdout_str();
        s.check(
            &format!(
                "{}'s status: both nodes applied the same profile",
                pair.name(i)
            ),
            line.contains("applied the same profile last"),
            line.trim(),
        );
    }
    no_move_checks(pair, &mut s, active, pid, started);
    let contacts = pair
        .sh(
            active,
            "asterisk -rx 'pjsip show contacts' | grep -c '1001/'",
        )
        .stdout_str();
    s.check(
        "1001, registered before, is still registered",
        contacts.trim().parse::<u32>().is_ok_and(|n| n > 0),
        format!("contacts of 1001: {}", contacts.trim()),
    );
    drop(old_uas);
    let uas = sipp_uas(pair, 5072, UAS_LIFE, "day2-uas-1009.log")?;
    let registered = sipp_register(
        pair,
        NEW_PHONE,
        5073,
        &format!("{HARNESS_ADDR}:5072"),
        "day2-register-1009.log",
    )?;
    pair.sh(
        active,
        &format!("asterisk -rx 'channel originate PJSIP/{NEW_PHONE} application Wait 2'"),
    );
    let called = sipp_outcome(uas, CALL_WAIT);
    s.check(
        &format!("the new phone {NEW_PHONE} registers through the virtual IP and is called"),
        registered && called,
        format!("REGISTER {registered}, call {called}"),
    );
    s.notes.push(format!(
        "apply from the standby ({}) for both nodes: {applied:.1} s",
        pair.name(standby)
    ));
    s.finish();
    run.push(s);
    Ok(())
}

pub fn live_timing(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &mut run.pair;
    from_snapshot(pair, &mut s, HEALTHY)?;
    let started = Instant::now();
    let active = pair.wait_healthy(HEALTHY_WAIT, "healthy cluster before the change")?;
    let pid = asterisk_pid(pair, active);
    // One second longer than the engine's lab timing (Pacemaker 3 s, Heartbeat's
    // baseline 10 s): longer keeps warntime and DRBD's keep-alive valid.
    let now = pair.check(
        active,
        &format!("sed -n 's/^deadtime = \"\\([0-9]*\\)s\"$/\\1/p' {PROFILE}"),
    )?;
    let Ok(current) = now.trim().parse::<u64>() else {
        s.check(
            "the lab profile's deadtime is read in whole seconds",
            false,
            now.trim(),
        );
        s.finish();
        run.push(s);
        return Ok(());
    };
    let deadtime = current + 1;
    let edit = format!(
        "sed -i -e 's/^sync-rate = .*/sync-rate = \"60M\"/' -e 's/^deadtime = .*/deadtime = \"{deadtime}s\"/' {PROFILE} && grep -q '^sync-rate = \"60M\"' {PROFILE} && grep -q '^deadtime = \"{deadtime}s\"' {PROFILE}"
    );
    let applied = apply_from(pair, &mut s, active, &edit, "the active node")?;
    same_profile_checks(pair, &mut s, "sync-rate = \"60M\"");
    for i in 0..2 {
        let shown = pair
            .sh(i, "drbdsetup show r0 | grep -i resync-rate")
            .stdout_str();
        s.check(
            &format!("{}'s running DRBD has the new sync rate", pair.name(i)),
            kib(&shown) == Some(NEW_SYNC_RATE_KIB),
            shown.trim(),
        );
        let live = pair.sh(i, pair.engine.live_deadtime_script()).stdout_str();
        s.check(
            &format!("{}'s running engine has the new deadtime", pair.name(i)),
            seconds(&live) == Some(deadtime),
            live.trim(),
        );
    }
    no_move_checks(pair, &mut s, active, pid, started);
    s.notes.push(format!(
        "apply from the active node ({}) for both nodes: {applied:.1} s",
        pair.name(active)
    ));
    s.finish();
    run.push(s);
    Ok(())
}

pub fn refused_change(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &mut run.pair;
    from_snapshot(pair, &mut s, HEALTHY)?;
    let active = pair.wait_healthy(HEALTHY_WAIT, "healthy cluster before the change")?;
    let standby = 1 - active;
    // Far from every known service name (a near miss is a validation error).
    let state = "sha256sum /etc/pbx-cluster/manifest.json /var/lib/pbx-cluster/applied-profile.json /etc/asterisk/pjsip.conf";
    let before: Vec<String> = (0..2).map(|i| pair.sh(i, state).stdout_str()).collect();
    let edit = format!(
        "sed -i 's/^services = \\[\"asterisk\"\\]/services = [\"asterisk\", \"pbx-lab-no-such-unit\"]/' {PROFILE} && grep -q pbx-lab-no-such-unit {PROFILE}"
    );
    pair.check(standby, &edit)?;
    let out = long(pair, standby, &format!("pbx-cluster apply {PROFILE} 2>&1"));
    s.check(
        "apply refuses the change",
        !out.success(),
        first_lines(&out.stdout_str(), 6),
    );
    let after: Vec<String> = (0..2).map(|i| pair.sh(i, state).stdout_str()).collect();
    for i in 0..2 {
        s.check(
            &format!(
                "{}'s files and its record of the applied profile are unchanged",
                pair.name(i)
            ),
            !before[i].is_empty() && before[i] == after[i],
            "",
        );
    }
    s.check(
        "the cluster stays healthy on the same node",
        pair.healthy()? == Some(active),
        "",
    );
    s.finish();
    run.push(s);
    Ok(())
}

/// Edits the profile on node `i` alone (`edit`), then runs apply there for
/// both nodes: its seconds.
fn apply_from(
    pair: &Pair,
    s: &mut Scenario,
    i: usize,
    edit: &str,
    role: &str,
) -> Result<f64, Error> {
    pair.check(i, edit)?;
    let t = Instant::now();
    let out = long(pair, i, &format!("pbx-cluster apply {PROFILE} 2>&1"));
    let took = t.elapsed().as_secs_f64();
    s.check(
        &format!("apply on {role} changes both nodes"),
        out.success(),
        format!("{took:.1} s; {}", first_lines(&out.stdout_str(), 40)),
    );
    Ok(took)
}

/// Both nodes hold the same profile, with `line` in it.
fn same_profile_checks(pair: &Pair, s: &mut Scenario, line: &str) {
    let sums: Vec<String> = (0..2)
        .map(|i| pair.sh(i, &format!("sha256sum < {PROFILE}")).stdout_str())
        .collect();
    let has: Vec<bool> = (0..2)
        .map(|i| {
            pair.sh(i, &format!("grep -qF '{line}' {PROFILE}"))
                .success()
        })
        .collect();
    s.check(
        "both nodes hold the changed profile",
        sums[0] == sums[1] && has.iter().all(|&h| h),
        format!("same bytes {}, {line}: {has:?}", sums[0] == sums[1]),
    );
}

/// No failover, no restart of the group, nobody fenced.
fn no_move_checks(pair: &Pair, s: &mut Scenario, active: usize, pid: String, since: Instant) {
    let holders = pair.vip_holders();
    s.check(
        "no failover: the active node kept the virtual IP",
        holders == vec![active],
        format!("holders {holders:?}"),
    );
    let now = asterisk_pid(pair, active);
    s.check(
        "no resource restarted: the active node's Asterisk is the same process",
        !pid.is_empty() && pid == now,
        format!("MainPID {pid} before, {now} after"),
    );
    check_nobody_fenced(pair, s, since);
}

/// A script that may run for minutes (apply on both nodes, apt under TCG).
fn long(pair: &Pair, i: usize, script: &str) -> pbx_cluster::exec::Output {
    pair.ssh.run(&pair.addr(i), script, LONG)
}

fn asterisk_pid(pair: &Pair, i: usize) -> String {
    pair.sh(i, "systemctl show -p MainPID --value asterisk")
        .stdout_str()
        .trim()
        .to_string()
}

/// drbdsetup's `resync-rate 61440k;` (or a bare number, in KiB/s) in KiB/s.
fn kib(shown: &str) -> Option<u64> {
    let word = shown
        .split_whitespace()
        .nth(1)?
        .trim_end_matches(';')
        .to_ascii_lowercase();
    let (digits, unit) = word.split_at(
        word.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(word.len()),
    );
    let n: u64 = digits.parse().ok()?;
    match unit {
        "" | "k" => Some(n),
        "m" => Some(n * 1024),
        _ => None,
    }
}

/// A deadtime as the engine prints it: "4000" (ms), "4s", "4".
fn seconds(shown: &str) -> Option<u64> {
    let word = shown.split_whitespace().last()?.to_ascii_lowercase();
    if let Some(ms) = word.strip_suffix("ms") {
        return ms.parse::<u64>().ok().map(|m| m / 1000);
    }
    let n: u64 = word.trim_end_matches('s').parse().ok()?;
    Some(if n >= 100 { n / 1000 } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_values_are_read_as_drbd_and_the_engines_print_them() {
        assert_eq!(
            kib("\t\tresync-rate\t\t61440k; # bytes/second\n"),
            Some(61440)
        );
        assert_eq!(kib("resync-rate 60M;"), Some(61440));
        assert_eq!(kib("resync-rate 102400;"), Some(102400));
        assert_eq!(kib(""), None);
        assert_eq!(
            seconds("runtime.config.totem.token (u32) = 4000\n"),
            Some(4)
        );
        assert_eq!(seconds("4s"), Some(4));
        assert_eq!(seconds("4"), Some(4));
        assert_eq!(seconds("4000ms"), Some(4));
        assert_eq!(seconds(""), None);
    }
}
