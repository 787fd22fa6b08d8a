//! Bounds and periods every scenario shares, and the watch over a held fault.

use std::time::{Duration, Instant};

/// The SIP probe's period on the virtual IP (failover times are this exact).
pub const PROBE_EVERY: Duration = Duration::from_millis(100);
/// A hard kill's bound for the first SIP answer on the virtual IP.
pub const FAILOVER_LIMIT: Duration = Duration::from_secs(240);
/// A pair restored from the snapshot, or left by the previous scenario, is
/// healthy again within this.
pub const HEALTHY_WAIT: Duration = Duration::from_secs(300);

/// Calls `sample` every `every` until `hold` has passed since `since`: the watch
/// over a fault the scenario holds for a fixed time (a cut link, a frozen node).
pub fn observe_for(since: Instant, hold: Duration, every: Duration, mut sample: impl FnMut()) {
    while since.elapsed() < hold {
        sample();
        std::thread::sleep(every);
    }
}
