//! One home per cluster engine in the harness: what the lab profile, the pair and
//! the scenarios do differently under Pacemaker and Heartbeat. Scenario code asks
//! the pair's engine (`pair.engine`) and compares no engines, so a third engine is
//! a new module here and one match arm. What the product already knows (the
//! engine's name, the units it keeps out of the boot sequence) comes from its
//! `pbx_cluster::engine` home.

mod heartbeat;
mod pacemaker;

use crate::Error;
use crate::args::Engine;
use crate::cluster::Pair;
use crate::error::MissingText;
use crate::report::Scenario;

pub trait EngineHome: Sync {
    /// The product's home of this engine.
    fn product(&self) -> &'static dyn pbx_cluster::engine::Home;

    /// The name in profiles, reports and file names.
    fn name(&self) -> &'static str {
        self.product().name()
    }

    /// The engine's lab profile, from the lab profile with `engine = NAME` set.
    fn profile(&self, lab: String) -> Result<String, MissingText>;

    /// Whether the lab runs the reference's setup on this engine, so that its hard
    /// kills are the baseline scenario's measurements.
    fn is_baseline(&self) -> bool;

    /// Before a fault: waits until node `node` would judge the loss of its peer the
    /// way a cluster that has run for a while does.
    fn settle(&self, pair: &Pair, node: usize) -> Result<(), Error>;

    /// A shell script printing a node's cluster view for a failure's log: the
    /// engine's status and what keeps resources where they are.
    fn state_script(&self) -> &'static str;

    /// Whether nothing in the engine keeps the peer of node `i` from promotion
    /// (asked on `i`).
    fn promotable_anywhere(&self, pair: &Pair, i: usize) -> bool;

    /// The command, run on the active node `node`, that hands the group over to
    /// its peer.
    fn standby_command(&self, node: &str) -> String;

    /// The command, run on node `node` after its standby, that brings it back
    /// (the group fails back).
    fn online_command(&self, node: &str) -> String;

    /// The engine's checks once a cut heartbeat link is back and DRBD resynced
    /// (`active` kept the group).
    fn link_restored_checks(&self, pair: &Pair, s: &mut Scenario, active: usize);

    /// A shell script printing the running engine's deadtime (corosync's token
    /// in ms, Heartbeat's deadtime), to see that a changed profile reached it.
    fn live_deadtime_script(&self) -> &'static str;

    /// Why a killed Asterisk may stay dead under this engine, for the notes.
    fn dead_service_note(&self) -> Option<&'static str>;
}

pub fn home(engine: Engine) -> &'static dyn EngineHome {
    match engine {
        Engine::Pacemaker => &pacemaker::Pacemaker,
        Engine::Heartbeat => &heartbeat::Heartbeat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_engine_has_a_home_named_like_its_argument() {
        for e in Engine::value_variants() {
            assert_eq!(home(*e).name(), e.name());
        }
    }
}
