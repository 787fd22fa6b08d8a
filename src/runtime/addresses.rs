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
    Ok(crate::plan::state::parse_ip_json(out.stdout_str().trim()))
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
