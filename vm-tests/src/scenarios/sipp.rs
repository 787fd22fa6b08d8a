//! sipp phones on the harness: a UAS that answers one call, a REGISTER through
//! the virtual IP.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Error;
use crate::cluster::{Pair, SIP_TARGET};
use crate::lab::HARNESS_ADDR;
use crate::procs::Group;

/// Between looks at a sipp run (its socket, its exit).
const SIPP_POLL: Duration = Duration::from_millis(100);
/// sipp binds its port a moment after it starts.
const BIND_WAIT: Duration = Duration::from_secs(10);
/// A REGISTER's own bound (sipp's -timeout) and the harness's, a little longer.
const REGISTER_TIMEOUT: &str = "20s";
const REGISTER_WAIT: Duration = Duration::from_secs(30);

/// sipp in the lab namespace, run in the log folder (file arguments are names
/// there), its stderr into `log` there.
pub fn sipp(pair: &Pair, args: &[&str], log: &str) -> Result<Group, Error> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &pair.lab.ns, "sipp"])
        .args(args)
        .current_dir(&pair.logs)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(pair.logs.join(log))
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
        );
    Group::spawn("sipp", cmd).map_err(|source| Error::Spawn {
        what: "sipp".into(),
        source,
    })
}

/// A sipp UAS on the harness's `port` that answers one call (and its BYE) within
/// `timeout`; returned once it listens (an INVITE sent earlier would be lost),
/// or after BIND_WAIT when it never does (the call then fails its check).
pub fn sipp_uas(pair: &Pair, port: u16, timeout: Duration, log: &str) -> Result<Group, Error> {
    let timeout = format!("{}s", timeout.as_secs());
    sipp_listening(
        pair,
        &["-sn", "uas", "-m", "1", "-nostdin", "-timeout", &timeout],
        port,
        log,
    )
}

/// A sipp server with `args` on the harness's `port`; returned once it listens
/// (a request sent earlier would be lost), or after BIND_WAIT when it never does
/// (what it should answer then fails its check).
pub fn sipp_listening(pair: &Pair, args: &[&str], port: u16, log: &str) -> Result<Group, Error> {
    let port_arg = port.to_string();
    let mut all = vec!["-i", HARNESS_ADDR, "-p", &port_arg];
    all.extend_from_slice(args);
    let server = sipp(pair, &all, log)?;
    let listening = crate::retry_until(Instant::now() + BIND_WAIT, SIPP_POLL, || {
        listens(pair, port).then_some(()).ok_or(())
    });
    if listening.is_err() {
        eprintln!(
            "vm-tests:   sipp not listening on {HARNESS_ADDR}:{port} within {} s",
            BIND_WAIT.as_secs()
        );
    }
    Ok(server)
}

/// Whether a UDP socket in the lab namespace is bound to `port`.
fn listens(pair: &Pair, port: u16) -> bool {
    pair.lab
        .in_ns(|| std::fs::read_to_string("/proc/thread-self/net/udp"))
        .ok()
        .and_then(|h| h.join().ok())
        .and_then(Result::ok)
        .is_some_and(|table| udp_bound(&table, port))
}

/// Whether /proc/net/udp's `table` (local address `HEXIP:HEXPORT` in its second
/// column) has a socket bound to `port`.
fn udp_bound(table: &str, port: u16) -> bool {
    table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1)?.rsplit_once(':'))
        .any(|(_, p)| u16::from_str_radix(p, 16) == Ok(port))
}

/// Waits up to `limit` for a sipp run to end and kills it; true when it ended
/// successfully.
pub fn sipp_outcome(mut g: Group, limit: Duration) -> bool {
    let status = crate::retry_until(Instant::now() + limit, SIPP_POLL, || {
        match g.child.try_wait() {
            Ok(Some(st)) => Ok(st),
            _ => Err(()),
        }
    });
    g.kill();
    status.is_ok_and(|st| st.success())
}

/// One REGISTER of extension `ext` (secret lab-phone-EXT) through the virtual IP
/// from the harness's `port`, its contact at `contact`; true on 200.
pub fn sipp_register(
    pair: &Pair,
    ext: u16,
    port: u16,
    contact: &str,
    log: &str,
) -> Result<bool, Error> {
    let xml = format!("register-{ext}.xml");
    write_log_file(
        pair,
        &xml,
        crate::sip::register_xml(&ext.to_string(), &format!("lab-phone-{ext}"), contact),
    )?;
    let port = port.to_string();
    let reg = sipp(
        pair,
        &[
            SIP_TARGET,
            "-sf",
            &xml,
            "-i",
            HARNESS_ADDR,
            "-p",
            &port,
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            REGISTER_TIMEOUT,
            "-timeout_error",
        ],
        log,
    )?;
    Ok(sipp_outcome(reg, REGISTER_WAIT))
}

/// Writes `name` into the log folder, where sipp runs and finds it by name.
pub fn write_log_file(pair: &Pair, name: &str, bytes: impl AsRef<[u8]>) -> Result<(), Error> {
    let path = pair.logs.join(name);
    std::fs::write(&path, bytes).map_err(|source| Error::WriteFile { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_udp_port_shows_in_the_kernels_table() {
        let table = [
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt",
            "  812: 0100007F:13BE 00000000:0000 07 00000000:00000000 00:00000000 00000000",
        ]
        .join("\n");
        assert!(udp_bound(&table, 5054));
        assert!(!udp_bound(&table, 5070));
        assert!(!udp_bound("  sl  local_address\n", 5054));
    }

    #[test]
    fn this_threads_table_lists_a_socket_it_bound() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        let table = std::fs::read_to_string("/proc/thread-self/net/udp").unwrap();
        assert!(udp_bound(&table, port), "{port} not in\n{table}");
    }
}
