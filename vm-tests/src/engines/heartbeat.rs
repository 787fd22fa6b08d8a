//! Heartbeat in the lab: the reference's setup (the baseline), hb_standby and
//! hb_takeover for a switchover, initdead before a fault.

use std::time::Duration;

use super::EngineHome;
use crate::Error;
use crate::cluster::Pair;
use crate::error::MissingText;
use crate::report::Scenario;
use crate::setup::profile::apply_edits;

/// Heartbeat runs the reference's setup in the lab, the baseline: the seed's timing
/// (keepalive 1 s, warntime 5 s, deadtime 10 s), DRBD's own keep-alive (ping-int
/// 10 s, ping-timeout 500 ms) and an Asterisk that loads every module.
///
/// Heartbeat's deadtime counts wall-clock gaps between packets. Under TCG a busy
/// guest (first boot, Asterisk starting) saw its own and its peer's packets up to
/// 7.9 s apart, so 3 s and then 6 s declared live nodes dead and (with fencing)
/// shot them during the cold start. Corosync's 3 s token held in the same load.
/// Heartbeat gets the seed's timing, which makes its hard kills the baseline of
/// scenario 8.
const SEED_TIMING: &[(&str, &str)] = &[
    ("warntime = \"2s\"", "warntime = \"5s\""),
    ("deadtime = \"3s\"", "deadtime = \"10s\""),
    (
        "sync-rate = \"100M\"",
        "sync-rate = \"100M\"\nping-interval = \"10s\"\nping-timeout = \"500ms\"",
    ),
    (
        "[pbx]\ncontext = \"internal\"",
        "[pbx]\ncontext = \"internal\"\nall-modules = true",
    ),
];

pub struct Heartbeat;

impl EngineHome for Heartbeat {
    fn product(&self) -> &'static dyn pbx_cluster::engine::Home {
        &pbx_cluster::engine::heartbeat::Heartbeat
    }

    fn profile(&self, lab: String) -> Result<String, MissingText> {
        apply_edits(lab, SEED_TIMING, "the baseline")
    }

    fn is_baseline(&self) -> bool {
        true
    }

    fn settle(&self, pair: &Pair, node: usize) -> Result<(), Error> {
        wait_out_initdead(pair, node)
    }

    fn state_script(&self) -> &'static str {
        "cl_status hbstatus 2>&1; cl_status rscstatus 2>&1; echo '--- drbd'; cat /proc/drbd; \
         echo '--- addresses'; ip -br addr"
    }

    /// haresources keeps no constraints: nothing but DRBD itself decides.
    fn promotable_anywhere(&self, _pair: &Pair, _i: usize) -> bool {
        true
    }

    fn standby_command(&self, _node: &str) -> String {
        "/usr/share/heartbeat/hb_standby all".to_string()
    }

    fn online_command(&self, _node: &str) -> String {
        "/usr/share/heartbeat/hb_takeover all".to_string()
    }

    fn live_deadtime_script(&self) -> &'static str {
        "cl_status hbparameter -p deadtime"
    }

    fn link_restored_checks(&self, _pair: &Pair, _s: &mut Scenario, _active: usize) {}

    fn dead_service_note(&self) -> Option<&'static str> {
        Some(
            "Heartbeat in haresources mode does not monitor resources: a dead Asterisk stays dead unless its unit restarts it",
        )
    }
}

/// Heartbeat uses initdead, not deadtime, for a peer lost while its own heartbeat is
/// younger than initdead; a kill then measures initdead. Real clusters run for
/// longer than that before a node dies, so the kill waits until the survivor's
/// heartbeat is older than initdead: for exactly the time it lacks, which the
/// survivor computes from its own uptime.
fn wait_out_initdead(pair: &Pair, survivor: usize) -> Result<(), Error> {
    let script = "up=$(cut -d. -f1 /proc/uptime); \
        since=$(systemctl show -p ActiveEnterTimestampMonotonic --value heartbeat); \
        init=$(awk '$1 == \"initdead\" {print $2}' /etc/ha.d/ha.cf); \
        echo $(( ${init:-0} + 2 - (up - since / 1000000) ))";
    let output = pair.check(survivor, script)?;
    let left: i64 = output
        .trim()
        .parse()
        .map_err(|source| Error::HeartbeatAge {
            node: pair.name(survivor).to_string(),
            output: output.trim().to_string(),
            source,
        })?;
    if left > 0 {
        eprintln!(
            "vm-tests:   waiting {left} s until {}'s heartbeat is older than initdead",
            pair.name(survivor)
        );
        std::thread::sleep(Duration::from_secs(left as u64));
    }
    Ok(())
}
