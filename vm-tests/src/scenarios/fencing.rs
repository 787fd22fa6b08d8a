//! What the lab's power switch did, for the scenarios' fencing checks.

use std::time::Instant;

use crate::cluster::Pair;
use crate::report::Scenario;

/// Fence requests the switch carried out since `t`, for "nobody was fenced" checks.
pub fn fenced_since(pair: &Pair, t: Instant) -> Vec<String> {
    pair.power
        .events_since(t)
        .iter()
        .filter(|e| e.reply.starts_with("OK"))
        .map(|e| {
            format!(
                "{} asked {:?} at +{:.1} s",
                e.from,
                e.request,
                e.at.duration_since(t).as_secs_f64()
            )
        })
        .collect()
}

/// The fence requests for a check's detail.
pub fn shown(fenced: &[String]) -> String {
    if fenced.is_empty() {
        "no fence request reached the switch".to_string()
    } else {
        fenced.join("; ")
    }
}

pub fn check_nobody_fenced(pair: &Pair, s: &mut Scenario, t: Instant) {
    let fenced = fenced_since(pair, t);
    s.check(
        "no node fenced",
        fenced.is_empty(),
        if fenced.is_empty() {
            "no fence request".to_string()
        } else {
            fenced.join("; ")
        },
    );
}
