//! The active/passive scenarios (issue 7), per engine.

mod arp;
mod asterisk_killed;
mod baseline;
mod both_links_cut;
mod cold_start;
mod day_two;
mod frozen_node;
mod hard_kill;
mod one_link_cut;
mod switchover;
mod upgrade;

use super::{Engines, Entry, load};

/// In run order. Every scenario after the cold start begins from its snapshot.
pub const TABLE: &[Entry] = &[
    Entry::new(1, "cold start", cold_start::run)
        .quick()
        .always(),
    Entry::new(2, "hard kill of the active node", hard_kill::run)
        .quick()
        .runs_for(&[3]),
    Entry::new(
        3,
        "observer reaches the survivor without an ARP flush",
        arp::run,
    )
    .after(2),
    Entry::new(
        4,
        "Asterisk killed on the active node",
        asterisk_killed::run,
    ),
    Entry::new(5, "one heartbeat link cut", one_link_cut::run),
    Entry::new(6, "planned switchover and failback", switchover::run),
    Entry::new(
        8,
        "baseline: seed timing (keepalive 1 s, deadtime 10 s)",
        baseline::run,
    )
    .engines(Engines::Baseline),
    Entry::new(9, "frozen active node", frozen_node::run_active),
    Entry::new(10, "frozen standby node", frozen_node::run_standby),
    // Changing the running cluster from one node (issue 16).
    Entry::new(
        12,
        "day 2: add an extension, applied from the standby",
        day_two::add_extension,
    ),
    Entry::new(
        13,
        "day 2: DRBD sync rate and deadtime changed live, applied from the active node",
        day_two::live_timing,
    ),
    Entry::new(
        14,
        "day 2: a change the node cannot take is refused before either node is touched",
        day_two::refused_change,
    ),
    Entry::new(
        15,
        "day 2: rolling upgrade of pbx-cluster, standby first",
        upgrade::run,
    ),
    // The load measurement (not in --quick): the last scenario that leaves the
    // pair healthy, so that its saturated guests are in no failover measurement.
    Entry::new(11, load::NAME, load::run_from_snapshot),
    // Last: it may leave the pair split.
    Entry::new(7, "both links cut", both_links_cut::run),
];
