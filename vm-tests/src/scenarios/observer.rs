//! The observer host: what a phone on the frontend network sees of the virtual IP.

use crate::cluster::{Pair, VIP};
use crate::lab::run;

/// The MAC address the observer's neighbour entry for the virtual IP holds.
pub fn observer_mac(pair: &Pair) -> String {
    run(pair.lab.obs_cmd("ip").args(["neigh", "show", VIP]))
        .map(|o| o.stdout_str())
        .unwrap_or_default()
        .split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)
        .unwrap_or("")
        .to_string()
}

pub fn observer_ping(pair: &Pair) -> bool {
    run(pair.lab.obs_cmd("ping").args(["-c", "1", "-W", "2", VIP])).is_ok()
}
