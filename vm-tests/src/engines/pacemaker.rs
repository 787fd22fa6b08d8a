//! Pacemaker in the lab: corosync's timing as the lab profile has it, the CIB's
//! standby attribute for a switchover, DRBD fence-peer constraints in the CIB.

use std::time::{Duration, Instant};

use super::EngineHome;
use crate::Error;
use crate::cluster::Pair;
use crate::error::MissingText;
use crate::report::Scenario;

/// How long DRBD's monitor may take to lift a fence-peer constraint.
const CONSTRAINT_LIFT_WAIT: Duration = Duration::from_secs(90);

pub struct Pacemaker;

impl EngineHome for Pacemaker {
    fn product(&self) -> &'static dyn pbx_cluster::engine::Home {
        &pbx_cluster::engine::pacemaker::Pacemaker
    }

    /// The lab profile's own timing (token 3 s), the product's.
    fn profile(&self, lab: String) -> Result<String, MissingText> {
        Ok(lab)
    }

    fn is_baseline(&self) -> bool {
        false
    }

    fn settle(&self, _pair: &Pair, _node: usize) -> Result<(), Error> {
        Ok(())
    }

    fn state_script(&self) -> &'static str {
        "crm_mon -1 -A -f -r -t 2>&1; echo '--- constraints'; cibadmin -Q -o constraints 2>&1; \
         echo '--- drbd'; cat /proc/drbd; echo '--- scheduler'; crm_simulate -L -s 2>&1 | tail -40"
    }

    /// No DRBD fence-peer constraint is left in the CIB: it keeps every node but
    /// its placer from promotion.
    fn promotable_anywhere(&self, pair: &Pair, i: usize) -> bool {
        pair.sh(
            i,
            "c=$(cibadmin -Q -o constraints) && ! echo \"$c\" | grep -q drbd-fence-by-handler",
        )
        .success()
    }

    fn standby_command(&self, node: &str) -> String {
        format!("crm_attribute --node {node} --name standby --update on")
    }

    fn online_command(&self, node: &str) -> String {
        format!("crm_attribute --node {node} --name standby --update off")
    }

    fn live_deadtime_script(&self) -> &'static str {
        "corosync-cmapctl -g runtime.config.totem.token"
    }

    fn link_restored_checks(&self, pair: &Pair, s: &mut Scenario, active: usize) {
        stale_fence_constraint(pair, s, active);
    }

    fn dead_service_note(&self) -> Option<&'static str> {
        None
    }
}

/// The fence-peer constraint of the cut is gone once DRBD resynced, and one left
/// behind (a handler that returns after the link came back: DRBD ignores its
/// verdict, the constraint would stay) is lifted by the Primary's monitor.
fn stale_fence_constraint(pair: &Pair, s: &mut Scenario, active: usize) {
    let r = pair.wait(
        CONSTRAINT_LIFT_WAIT,
        "the cut's fence-peer constraint lifted",
        || Ok(pair.promotable_anywhere(active)),
    );
    s.check(
        "after the resync nothing keeps the standby from promotion",
        r.is_ok(),
        format!("{:?}", r.as_ref().map(|d| d.as_secs())),
    );
    let place = format!(
        "cibadmin --modify --allow-create --scope constraints --xml-text '{}'",
        pbx_cluster::runtime::fence_peer::constraint_xml(
            "r0",
            &pbx_cluster::engine::pacemaker::drbd_clone_id("r0"),
            pair.name(active),
        )
    );
    let placed = pair.sh(active, &place);
    let t = Instant::now();
    let lifted = placed.success()
        && pair
            .wait(
                CONSTRAINT_LIFT_WAIT,
                "stale fence-peer constraint lifted by the Primary's monitor",
                || Ok(pair.promotable_anywhere(active)),
            )
            .is_ok();
    s.check(
        "a stale fence-peer constraint is lifted by the Primary's DRBD monitor",
        lifted,
        if placed.success() {
            format!("{:.0} s after placing it", t.elapsed().as_secs_f64())
        } else {
            String::from_utf8_lossy(&placed.stderr).trim().to_string()
        },
    );
}
