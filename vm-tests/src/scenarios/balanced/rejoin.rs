//! Scenario 9: node2, killed in scenario 7, boots again: DRBD reconnects and
//! resyncs to UpToDate and Primary on both with no split brain, node2 mounts the
//! shared filesystem, its Asterisk serves, it rejoins the pool, and phones that
//! register anew are spread over both nodes again.

use std::time::{Duration, Instant};

use super::{PHONES, SHARED, contact_port, in_pool, registered_on, secs, time_until};
use crate::Error;
use crate::cluster::Pair;
use crate::lab::HARNESS_ADDR;
use crate::report::Scenario;
use crate::scenarios::sipp::sipp_register;
use crate::scenarios::{Entry, Run};

const BOOT_WAIT: Duration = Duration::from_secs(600);
/// From the boot: the peer's DRBD, its filesystem, its Asterisk and the pool.
const REJOIN_WAIT: Duration = Duration::from_secs(900);
/// Fresh source ports for the registrations after this scenario's rejoin: new
/// IPVS entries, scheduled over both nodes (the old ports' entries still point
/// at node1).
const FRESH_PORT_BASE: u16 = 5400;

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    rejoins(run, &mut s, FRESH_PORT_BASE)?;
    s.finish();
    run.push(s);
    Ok(())
}

/// Boots node2 (powered off by a kill or a fence) and judges its return, each
/// step timed from the boot; the phones are spread over both nodes again and
/// what each node holds goes on to the next scenario.
/// `ports`: the first of the fresh source ports the phones register from.
pub fn rejoins(run: &mut Run, s: &mut Scenario, ports: u16) -> Result<(), Error> {
    let boot = Instant::now();
    run.pair.boot(1)?;
    let pair = &run.pair;
    pair.wait_ssh(1, BOOT_WAIT)?;
    let drbd = time_until(
        boot,
        REJOIN_WAIT,
        "DRBD Connected, UpToDate and Primary on both",
        || {
            let d = pair.drbd(1);
            d.contains("cs:Connected")
                && d.contains("Primary/Primary")
                && d.contains("UpToDate/UpToDate")
        },
    );
    s.check(
        "DRBD reconnects: Connected, UpToDate/UpToDate, Primary/Primary",
        drbd.is_some(),
        format!("after {}; {}", secs(drbd), pair.drbd(1).trim()),
    );
    let split = pair
        .sh(
            1,
            "journalctl -k -b --no-pager | grep -c 'Split-Brain detected'",
        )
        .stdout_str();
    s.check(
        "no split brain on the reconnect",
        split.trim() == "0",
        format!(
            "'Split-Brain detected' lines in node2's kernel log: {}",
            split.trim()
        ),
    );
    let mounted = time_until(
        boot,
        REJOIN_WAIT,
        "node2 mounts the shared filesystem",
        || {
            pair.sh(1, &format!("findmnt -n -t ocfs2 {SHARED}"))
                .success()
        },
    );
    s.check(
        "node2 mounts the shared filesystem again",
        mounted.is_some(),
        format!("after {}", secs(mounted)),
    );
    let rip = pair.addr(1);
    let pooled = time_until(boot, REJOIN_WAIT, "node2 back in node1's IPVS pool", || {
        in_pool(pair, 0, &rip)
    });
    s.check(
        "node2's Asterisk serves and node2 is back in the pool",
        pooled.is_some(),
        format!("after {}", secs(pooled)),
    );
    spread_again(pair, s, &mut run.carry.registered, ports)?;
    s.notes.push(format!(
        "boot to: DRBD healthy {}, filesystem mounted {}, in the pool {}",
        secs(drbd),
        secs(mounted),
        secs(pooled)
    ));
    Ok(())
}

/// Every phone registers again from a fresh port (its contact unchanged): both
/// nodes take some. What each node holds goes on to the next scenario.
fn spread_again(
    pair: &Pair,
    s: &mut Scenario,
    carry: &mut [Vec<u16>; 2],
    ports: u16,
) -> Result<(), Error> {
    let before = registered_on(pair, 1);
    let mut failed = Vec::new();
    for ext in 1001..=1000 + PHONES {
        let port = ports + (ext - 1000);
        let contact = format!("{HARNESS_ADDR}:{}", contact_port(ext));
        if !sipp_register(
            pair,
            ext,
            port,
            &contact,
            &format!("lb-sipp-rejoin-{ext}.log"),
        )? {
            failed.push(ext);
        }
    }
    let on2: Vec<u16> = registered_on(pair, 1)
        .into_iter()
        .filter(|e| !before.contains(e))
        .collect();
    s.check(
        "phones that register anew land on node2 again",
        failed.is_empty() && !on2.is_empty(),
        format!("new on node2: {on2:?}; failed: {failed:?}"),
    );
    *carry = [
        registered_on(pair, 0)
            .into_iter()
            .filter(|e| !on2.contains(e))
            .collect(),
        on2,
    ];
    Ok(())
}
