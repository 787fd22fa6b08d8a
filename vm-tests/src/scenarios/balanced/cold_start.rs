//! Scenario 1: both nodes boot and serve; the director (the virtual IP on eth0,
//! ldirectord) runs on node1 and balances over both.

use std::time::Duration;

use crate::Error;
use crate::cluster::{Pair, SIP_TARGET, VIP};
use crate::report::Scenario;
use crate::scenarios::observer::{observer_mac, observer_ping};
use crate::scenarios::{Entry, Run};

/// ldirectord's start and first checks after the cluster is healthy.
const IPVS_WAIT: Duration = Duration::from_secs(300);
/// Asterisk's answer on a node's own address.
const OWN_SIP_T: Duration = Duration::from_millis(2000);
/// The row the database takes at the cold start (scenario 6 looks for it after
/// the database moved).
pub const COLD_ROW: &str = "cold-start";
/// The real servers: both nodes' SIP.
const REALS: [&str; 2] = ["172.30.0.11:5060", "172.30.0.12:5060"];

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.cold_start(entry, |e, secs| {
        format!(
            "{e} load-balanced: first-boot `pbx-cluster init` (cold start {secs:.0} s from power-on to the virtual IP answering SIP with DRBD UpToDate on both)"
        )
    })?;
    for i in 0..2 {
        node_checks(&run.pair, &mut s, i);
    }
    director_checks(&run.pair, &mut s);
    super::database::cold_start_checks(&run.pair, &mut s, COLD_ROW);
    s.finish();
    run.push(s);
    run.pair.save_journal(0, "lb-cold");
    run.pair.save_journal(1, "lb-cold");
    Ok(())
}

/// Node `i` serves: its storage, its Asterisk with DUNDi's keys, the virtual IP
/// on lo, SIP on its own address.
fn node_checks(pair: &Pair, s: &mut Scenario, i: usize) {
    let n = pair.name(i).to_string();
    let d = pair.drbd(i);
    s.check(
        &format!("DRBD Primary/Primary, UpToDate/UpToDate on {n}"),
        d.contains("ro:Primary/Primary") && d.contains("ds:UpToDate/UpToDate"),
        d,
    );
    let fs = pair.sh(i, "findmnt -n -o FSTYPE /srv/ha").stdout_str();
    s.check(
        &format!("OCFS2 mounted at /srv/ha on {n}"),
        fs.trim() == "ocfs2",
        fs.trim(),
    );
    let ast = pair.sh(i, "systemctl is-active asterisk").stdout_str();
    s.check(
        &format!("Asterisk runs on {n}"),
        ast.trim() == "active",
        ast.trim(),
    );
    let missing = pair.modules_not_running(i);
    s.check(
        &format!("every module modules.conf loads runs in Asterisk on {n}"),
        missing.as_ref().is_ok_and(|m| m.is_empty()),
        format!("not running: {missing:?}"),
    );
    let keys = pair.sh(i, "asterisk -rx 'keys show'").stdout_str();
    s.check(
        &format!("Asterisk on {n} holds DUNDi's key pair (res_crypto loaded both halves)"),
        keys.lines()
            .filter(|l| l.contains("pbx-cluster-dundi"))
            .count()
            == 2,
        keys.trim().replace('\n', " | "),
    );
    // The director may hold it on its frontend NIC only: IPaddr2 with LVS support
    // (Heartbeat's haresources wrapper turns it on) moves the lo copy there at
    // start and back at stop.
    let lo = pair.sh(i, &format!("ip -o -4 addr show dev lo | grep -w {VIP}"));
    let director = pair.vip_holders().contains(&i);
    s.check(
        &format!(
            "{n} accepts the virtual IP: on lo (never answering ARP), or on eth0 as the director"
        ),
        lo.success() || director,
        if lo.success() {
            lo.stdout_str().trim().to_string()
        } else {
            format!("not on lo; director: {director}")
        },
    );
    let own = format!("{}:5060", pair.addr(i));
    let answered = crate::sip::options_once(&pair.lab, &own, OWN_SIP_T)
        .ok()
        .flatten();
    s.check(
        &format!("Asterisk on {n} answers SIP on its own address (the director's health check)"),
        answered.is_some(),
        format!("{own}: {answered:?}"),
    );
}

/// node1 alone directs: the virtual IP on its eth0, IPVS over both nodes there
/// and nowhere else, the observer's neighbour entry on its MAC, SIP answered.
fn director_checks(pair: &Pair, s: &mut Scenario) {
    let holders = pair.vip_holders();
    s.check(
        "the director (virtual IP on eth0) is node1 alone",
        holders == vec![0],
        format!("eth0 holders: {:?}", pair.names(&holders)),
    );
    // The virtual IP answers (the director's own Asterisk) before ldirectord, a
    // Perl daemon that starts slowly under emulation, has checked both nodes.
    let ipvs = |i: usize| pair.sh(i, "ipvsadm -Ln").stdout_str();
    let waited = pair.wait(IPVS_WAIT, "IPVS on node1 balances over both nodes", || {
        let t = ipvs(0);
        Ok(REALS.iter().all(|r| t.contains(r)))
    });
    let table = ipvs(0);
    s.check(
        "ipvsadm on node1 lists both real servers",
        REALS.iter().all(|r| table.contains(r)),
        format!(
            "{}; {}",
            match waited {
                Ok(t) => format!("{:.1} s after the cluster was healthy", t.as_secs_f64()),
                Err(_) => format!("not within {} s", IPVS_WAIT.as_secs()),
            },
            table.trim().replace('\n', " | ")
        ),
    );
    let other = ipvs(1);
    s.check(
        "node2 holds no IPVS service (only the director balances: no two-box loop)",
        !other.contains(&format!("{VIP}:5060")),
        other.trim().replace('\n', " | "),
    );
    let ping = observer_ping(pair);
    let mac = observer_mac(pair);
    let node1_mac = pair.vms[0].spec.mac_fe.clone();
    s.check(
        "the observer's neighbour entry for the virtual IP is node1's MAC",
        ping && mac.eq_ignore_ascii_case(&node1_mac),
        format!("ping {ping}, lladdr {mac:?}, node1 {node1_mac}"),
    );
    s.check(
        "SIP OPTIONS on the virtual IP answered",
        pair.sip_ok(),
        SIP_TARGET,
    );
}
