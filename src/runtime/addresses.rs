//! Waiting for this node's own IPv4 addresses. At boot, network-online.target may
//! be reached before every interface has its static address; an engine started
//! then fails for good (Heartbeat: "IP interface [eth1] does not exist"; DRBD
//! cannot bind its replication address). The rendered systemd drop-ins run
//! `pbx-cluster wait-addresses` before those units, and `init` uses it too.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::error::Result;
use crate::exec::{Cmd, Runner};
use crate::runtime::wait::wait_until;

/// The IPv4 addresses configured on this host now (`ip -j -4 addr show`).
pub fn local(runner: &dyn Runner) -> Result<Vec<Ipv4Addr>> {
    let out = runner.run(&Cmd::new("ip").args(["-j", "-4", "addr", "show"]))?;
    Ok(parse_ip_json(out.stdout_str().trim()))
}

/// IPv4 addresses from `ip -j -4 addr show`.
pub fn parse_ip_json(text: &str) -> Vec<Ipv4Addr> {
    addresses_where(text, |_| true)
}

/// The addresses that answer ARP: those on any interface but the loopback (a
/// load-balanced node that is not the director holds the virtual IP on lo).
pub fn parse_ip_json_off_loopback(text: &str) -> Vec<Ipv4Addr> {
    addresses_where(text, |ifname| ifname != "lo")
}

fn addresses_where(text: &str, keep: impl Fn(&str) -> bool) -> Vec<Ipv4Addr> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    v.as_array()
        .into_iter()
        .flatten()
        .filter(|iface| keep(iface["ifname"].as_str().unwrap_or_default()))
        .flat_map(|iface| iface["addr_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["local"].as_str().and_then(|s| s.parse().ok()))
        .collect()
}

/// Waits until every address in `wanted` is configured on this host. `what`
/// names them for the timeout error (e.g. "172.30.0.11 on eth0").
pub fn wait_for(
    runner: &dyn Runner,
    wanted: &[Ipv4Addr],
    what: &str,
    timeout: Duration,
    poll: Duration,
) -> Result<()> {
    wait_until(
        &format!("this node's addresses ({what})"),
        timeout,
        poll,
        || {
            let have = local(runner)?;
            let missing: Vec<String> = wanted
                .iter()
                .filter(|a| !have.contains(a))
                .map(|a| a.to_string())
                .collect();
            Ok(if missing.is_empty() {
                (true, "missing nothing".into())
            } else {
                (false, format!("missing {}", missing.join(", ")))
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_json() {
        let text = r#"[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
            {"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet","local":"192.168.178.4","prefixlen":24}]}]"#;
        assert_eq!(
            parse_ip_json(text),
            vec![Ipv4Addr::LOCALHOST, Ipv4Addr::new(192, 168, 178, 4)]
        );
        assert!(parse_ip_json("not json").is_empty());
    }
}
