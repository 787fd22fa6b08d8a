//! Scenario 9: node2, killed in scenario 7, boots again: DRBD reconnects and
//! resyncs to UpToDate and Primary on both with no split brain, node2 mounts the
//! shared filesystem, its Asterisk serves, it rejoins the pool, and phones that
//! register anew are spread over both nodes again.

use std::time::{Duration, Instant};

use super::{PHONES, SHARED, contact_port, in_pool, secs, time_until};
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
    if split.trim() != "0" {
        // What DRBD said around it, on both nodes, for the report.
        for i in 0..2 {
            let said = pair
                .sh(i, "journalctl -k -b --no-pager | grep -E 'drbd.*(UUID|uuid|Split|role|conn\\(|sync_handshake|helper)' | tail -25")
                .stdout_str();
            s.notes.push(format!(
                "{} kernel log (DRBD): {}",
                pair.name(i),
                said.trim().replace('\n', " | ")
            ));
        }
    }
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
    // Where each REGISTER went, from the director's connection table: a node's
    // contact list may still hold registrations from before its reboot.
    let table = pair.sh(0, "ipvsadm -Lnc").stdout_str();
    let mut on: [Vec<u16>; 2] = [Vec::new(), Vec::new()];
    for ext in 1001..=1000 + PHONES {
        let source = format!("{HARNESS_ADDR}:{}", ports + (ext - 1000));
        if let Some(node) = scheduled_to(&table, &source, &[pair.addr(0), pair.addr(1)]) {
            on[node].push(ext);
        }
    }
    s.check(
        "phones that register anew from fresh ports land on node2 again (the director's connection table)",
        failed.is_empty() && !on[1].is_empty(),
        format!("to node1: {:?}; to node2: {:?}; failed: {failed:?}", on[0], on[1]),
    );
    *carry = on;
    Ok(())
}

/// Which of `reals` the director's connection table (`ipvsadm -Lnc`) sends
/// `source` to (index into `reals`).
fn scheduled_to(table: &str, source: &str, reals: &[String]) -> Option<usize> {
    table.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 6 || f[3] != source {
            return None;
        }
        let dest = f[5].rsplit_once(':')?.0;
        reals.iter().position(|r| r == dest)
    })
}

#[cfg(test)]
mod tests {
    use super::scheduled_to;

    #[test]
    fn the_connection_table_says_where_a_source_went() {
        let table = "IPVS connection entries\npro expire state       source             virtual            destination\nUDP 04:58  UDP         172.30.0.1:5401    172.30.0.100:5060  172.30.0.12:5060\nUDP 04:57  UDP         172.30.0.1:5402    172.30.0.100:5060  172.30.0.11:5060\n";
        let reals = ["172.30.0.11".to_string(), "172.30.0.12".to_string()];
        assert_eq!(scheduled_to(table, "172.30.0.1:5401", &reals), Some(1));
        assert_eq!(scheduled_to(table, "172.30.0.1:5402", &reals), Some(0));
        assert_eq!(scheduled_to(table, "172.30.0.1:5403", &reals), None);
    }
}
