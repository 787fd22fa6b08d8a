//! DRBD's fence-peer handler for dual-primary DRBD under Heartbeat (the
//! load-balanced mode; active/passive Heartbeat clusters keep dopd).
//!
//! With one Primary, dopd's answer is enough: a peer it cannot reach is
//! "unreachable", and the Primary goes on. With both nodes Primary that answer
//! lets each node resume writing as soon as its link drops, before anybody is
//! fenced: a split brain for the seconds until Heartbeat resets one of them, and
//! for good when it does not (Heartbeat resets a dead peer only when its
//! resource bookkeeping says so, hb_resource.c). So the Primary whose
//! replication link drops keeps its I/O frozen until the peer is fenced:
//! - it waits until Heartbeat declares the peer dead (`cl_status nodestatus`),
//!   then resets it through the fence device ha.cf gives this node (its
//!   `stonith_host` line, run with cluster-glue's `stonith`), and lets I/O resume
//!   (exit 7);
//! - when the peer stays a member (only the replication link is down), the
//!   preferred node resets it and the other keeps its I/O frozen (exit 1);
//! - when the reset fails (the device is unreachable from a node that is itself
//!   cut off), I/O stays frozen (exit 1), the safe side of `resource-and-stonith`.
//!
//! Heartbeat may reset the same peer itself (seen in the paired VMs: both links of
//! node2 cut, Heartbeat on node1 reset it at +10.2 s, this handler at +19.5 s,
//! once DRBD had noticed); the device then powers off a node that is already down,
//! or resets it again while it boots.

use std::path::Path;
use std::time::Duration;

use crate::exec::{Cmd, Runner};
use crate::model::Secret;
use crate::runtime::fence_peer::{
    DualPrimary, FenceError, Request, Verdict, dual_primary_peers, link_back, require_up_to_date,
};

/// One reset through the device, the plugin's own waits included.
const FENCE_TIMEOUT: Duration = Duration::from_secs(150);
/// cl_status gives up on its own after 5 s.
const CL_STATUS_TIMEOUT: Duration = Duration::from_secs(10);

/// The fence device a `stonith_host` line of ha.cf gives a node: a cluster-glue
/// plugin and its parameters (positional, as the plugin's config names order
/// them; they may hold a password).
pub struct StonithDevice {
    pub plugin: String,
    params: Secret,
}

/// The device of `me` in ha.cf's text: the last `stonith_host` line for `me` or
/// `*` (Heartbeat keeps the last one too).
pub fn device_from_ha_cf(ha_cf: &str, me: &str) -> Result<StonithDevice, FenceError> {
    ha_cf
        .lines()
        .rev()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "stonith_host").then_some(())?;
            let from = w.next()?;
            let plugin = w.next()?;
            let params: Vec<&str> = w.collect();
            ((from == me || from == "*") && !params.is_empty()).then(|| StonithDevice {
                plugin: plugin.to_string(),
                params: Secret::new(params.join(" ")),
            })
        })
        .ok_or_else(|| FenceError::FenceFailed {
            peer: "the peer".into(),
            detail: format!(
                "/etc/ha.d/ha.cf has no stonith_host line for {me}: run pbx-cluster apply with a fence device in the profile"
            ),
        })
}

/// The peers Heartbeat has declared dead (`cl_status nodestatus`: active, up,
/// init, dead). A question it does not answer (it gives up after 5 s while
/// busy) counts as no news: the handler asks again until it settles.
fn departed(runner: &dyn Runner, req: &Request) -> Vec<String> {
    req.peers
        .iter()
        .filter(|peer| {
            runner
                .run(
                    &Cmd::new("cl_status")
                        .args(["nodestatus", peer])
                        .timeout(CL_STATUS_TIMEOUT),
                )
                .is_ok_and(|out| out.stdout_str().trim() == "dead")
        })
        .cloned()
        .collect()
}

/// Resets `peer` through `device`. The parameters go to `stonith` in a file of
/// mode 0600 at `params_file` (removed afterwards), not on its command line,
/// which every local user can read.
fn reset(
    runner: &dyn Runner,
    device: &StonithDevice,
    peer: &str,
    params_file: &Path,
) -> Result<(), FenceError> {
    let failed = |detail: String| FenceError::FenceFailed {
        peer: peer.to_string(),
        detail,
    };
    crate::fsutil::write_atomic(
        params_file,
        format!("{}\n", device.params.expose()).as_bytes(),
        0o600,
    )
    .map_err(|e| failed(format!("cannot write {}: {e}", params_file.display())))?;
    let out = runner.run(
        &Cmd::new("stonith")
            .args(["-t", &device.plugin, "-F"])
            .arg(params_file.display().to_string())
            .args(["-T", "reset", peer])
            .timeout(FENCE_TIMEOUT),
    );
    let _ = std::fs::remove_file(params_file);
    let out = out.map_err(|e| failed(e.to_string()))?;
    if !out.success() {
        return Err(failed(format!(
            "stonith -t {} {}: {}",
            device.plugin,
            crate::exec::how_it_ended(out.code),
            crate::exec::stderr_tail(&out.stderr)
        )));
    }
    Ok(())
}

/// The handler on node `me`. `proc_drbd` is /proc/drbd's path, `params_file`
/// where the device's parameters are put for `stonith` (tests give others).
#[allow(clippy::too_many_arguments)]
pub fn fence_peer(
    runner: &dyn Runner,
    req: &Request,
    dual: &DualPrimary,
    me: &str,
    device: &StonithDevice,
    proc_drbd: &Path,
    params_file: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Verdict, FenceError> {
    require_up_to_date(req, proc_drbd)?;
    let gone = dual_primary_peers(req, dual, me, proc_drbd, || Ok(departed(runner, req)), log)?;
    if gone.is_empty() {
        // DRBD ignores a verdict that comes after the link returned.
        let now = std::fs::read_to_string(proc_drbd).unwrap_or_default();
        if link_back(&now, &req.minors) {
            log(&format!(
                "{}: the replication link to {} came back while Heartbeat was asked",
                req.resource,
                req.peers.join(", ")
            ));
        }
        return Ok(Verdict::Outdated);
    }
    for peer in &gone {
        log(&format!(
            "{}: dual-primary: resetting peer {peer} through {} before this node writes again",
            req.resource, device.plugin
        ));
        reset(runner, device, peer, params_file)?;
        log(&format!("{}: peer {peer} reset", req.resource));
    }
    Ok(Verdict::Fenced(gone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Output, RecordingRunner};

    const PROC_UPTODATE: &str = "version: 8.4.11 (api:1/proto:86-101)\nsrcversion: X\n 0: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C r-----\n    ns:0 nr:0\n";
    const HA_CF: &str = "node cl01\nnode cl02\nstonith_host cl02 external/ipmi cl01 192.168.178.13 admin change-me lanplus\nstonith_host cl01 external/ipmi cl02 192.168.178.14 admin change-me lanplus\n";

    fn request(peer: &str) -> Request {
        Request {
            resource: "r0".into(),
            peers: vec![peer.into()],
            minors: vec!["0".into()],
            clone_id: String::new(),
            dual_primary: None,
        }
    }

    struct Ran {
        result: Result<Verdict, FenceError>,
        calls: Vec<String>,
        log: Vec<String>,
        params: Option<(String, u32)>,
    }

    /// The handler on `me` (survivor cl01, no settling time) with Heartbeat
    /// saying `status` of the peer; what `stonith` found in its parameter file.
    fn run(me: &str, peer: &str, status: &str, stonith_ok: bool) -> Ran {
        let dir = tempfile::tempdir().unwrap();
        let proc_drbd = dir.path().join("drbd");
        std::fs::write(&proc_drbd, PROC_UPTODATE).unwrap();
        let params_file = dir.path().join("params");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let seen_by_stonith = seen.clone();
        let file = params_file.clone();
        let runner = RecordingRunner::new()
            .respond("cl_status", Output::ok(format!("{status}\n")))
            .respond_with(move |cmd| {
                use std::os::unix::fs::PermissionsExt;
                if !cmd.display().starts_with("stonith ") {
                    return None;
                }
                let text = std::fs::read_to_string(&file).unwrap();
                let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
                *seen_by_stonith.lock().unwrap() = Some((text, mode));
                Some(if stonith_ok {
                    Output::ok("")
                } else {
                    Output::failed(5, "external/ipmi device not accessible")
                })
            });
        let device = device_from_ha_cf(HA_CF, me).unwrap();
        let dual = DualPrimary {
            survivor: "cl01".into(),
            settle: Duration::ZERO,
        };
        let mut log = Vec::new();
        let result = fence_peer(
            &runner,
            &request(peer),
            &dual,
            me,
            &device,
            &proc_drbd,
            &params_file,
            &mut |l| log.push(l.to_string()),
        );
        assert!(!params_file.exists(), "the parameter file is removed");
        let params = seen.lock().unwrap().clone();
        Ran {
            result,
            calls: runner.lines(),
            log,
            params,
        }
    }

    #[test]
    fn a_peer_heartbeat_declared_dead_is_reset_through_this_nodes_device() {
        let r = run("cl02", "cl01", "dead", true);
        assert_eq!(r.result.unwrap(), Verdict::Fenced(vec!["cl01".into()]));
        let stonith = r.calls.iter().find(|c| c.starts_with("stonith")).unwrap();
        assert!(
            stonith.starts_with("stonith -t external/ipmi -F "),
            "{stonith}"
        );
        assert!(stonith.ends_with(" -T reset cl01"), "{stonith}");
        // The password reaches stonith in a 0600 file, never on its command line
        // or in the log.
        assert!(
            !r.calls.iter().any(|c| c.contains("change-me")),
            "{:?}",
            r.calls
        );
        assert!(
            !r.log.iter().any(|l| l.contains("change-me")),
            "{:?}",
            r.log
        );
        assert_eq!(
            r.params,
            Some((
                "cl01 192.168.178.13 admin change-me lanplus\n".to_string(),
                0o600
            ))
        );
    }

    #[test]
    fn a_failed_reset_keeps_io_frozen() {
        let r = run("cl02", "cl01", "dead", false);
        let e = r.result.unwrap_err();
        assert!(matches!(e, FenceError::FenceFailed { .. }), "{e:?}");
        assert!(e.to_string().contains("not accessible"), "{e}");
        assert!(!e.to_string().contains("change-me"), "{e}");
    }

    #[test]
    fn a_member_peer_is_reset_by_the_survivor_only() {
        let r = run("cl01", "cl02", "active", true);
        assert_eq!(r.result.unwrap(), Verdict::Fenced(vec!["cl02".into()]));
        let r = run("cl02", "cl01", "active", true);
        assert!(
            matches!(r.result, Err(FenceError::PeerStillPrimary { .. })),
            "{:?}",
            r.result.err()
        );
        assert!(
            !r.calls.iter().any(|c| c.starts_with("stonith")),
            "{:?}",
            r.calls
        );
    }

    #[test]
    fn a_heartbeat_that_does_not_answer_is_waited_out_like_a_member_peer() {
        let r = run("cl02", "cl01", "", true);
        assert!(
            matches!(r.result, Err(FenceError::PeerStillPrimary { .. })),
            "{:?}",
            r.result.err()
        );
        let r = run("cl01", "cl02", "", true);
        assert_eq!(r.result.unwrap(), Verdict::Fenced(vec!["cl02".into()]));
    }

    #[test]
    fn the_device_is_this_nodes_line_or_a_wildcard_one() {
        assert_eq!(
            device_from_ha_cf(HA_CF, "cl01").unwrap().plugin,
            "external/ipmi"
        );
        let any = "stonith_host * external/pbxlab node2 172.30.0.1 7099\n";
        let d = device_from_ha_cf(any, "node1").unwrap();
        assert_eq!(d.params.expose(), "node2 172.30.0.1 7099");
        let e = device_from_ha_cf("node cl01\n", "cl01").err().unwrap();
        assert!(
            e.to_string().contains("no stonith_host line for cl01"),
            "{e}"
        );
    }
}
