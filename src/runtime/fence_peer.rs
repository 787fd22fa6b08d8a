//! DRBD's fence-peer and after-resync-target handlers for Pacemaker clusters.
//!
//! DRBD calls fence-peer on a Primary that lost its replication link (and on a
//! promotion without a peer) and keeps I/O frozen until it returns. What the
//! handler must decide is whether the peer is still a cluster member:
//! - it is (only the replication link broke, e.g. one network of two cut): a
//!   constraint keeps the peer from being promoted until it has resynced; nobody is
//!   powered off. Exit 4: the peer counts as outdated.
//! - it is not (crashed, cut off): it is fenced through Pacemaker's fencer with
//!   Pacemaker's own default action (reboot), so that Pacemaker's fencing of the
//!   same node in the last minute (after a crash it fences first) counts instead
//!   of being done twice, and the constraint is placed. Exit 7.
//! - anything else (this disk not UpToDate, no cluster, fencing failed): exit 1,
//!   and I/O stays frozen, which is the safe side of `resource-and-stonith`.
//!
//! The after-resync-target handler removes the constraint once the peer is in sync.
//! Membership is read from `crm_mon --output-as=xml` (the node's `online` and
//! `unclean`), not from the CIB's node_state, whose in_ccm/crmd attributes changed
//! meaning in Pacemaker 3 (timestamps instead of true/online): drbd-utils'
//! crm-fence-peer.sh reads the old form and waits out its timeout on every failover.
//! The constraint has the id crm-fence-peer.sh uses, so either handler can lift it.

use std::path::Path;
use std::time::Duration;

use crate::exec::{Cmd, Runner};
use crate::runtime::status::drbd::{self, DiskState, DrbdVolume};
use crate::runtime::status::pacemaker::{self, PcmkState};

/// DRBD fence-peer exit codes (drbd.conf(5), "fence-peer").
pub const EXIT_PEER_OUTDATED: u8 = 4;
pub const EXIT_PEER_FENCED: u8 = 7;

/// A fencing of the peer this recent counts as done (`stonith_admin --tolerance`).
const FENCE_TOLERANCE: &str = "60s";
const FENCE_TIMEOUT: Duration = Duration::from_secs(150);

#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    #[error("{0} is not set: run this as DRBD's fence-peer handler (drbd.conf handlers)")]
    Env(&'static str),
    #[error(
        "will not outdate or fence the peer: this node's disk of minor {minor} is {state}, not UpToDate"
    )]
    NotUpToDate { minor: String, state: String },
    #[error("the cluster did not answer within {0} s: {1}")]
    NoCluster(u64, String),
    #[error("fencing {peer} failed: {detail}")]
    FenceFailed { peer: String, detail: String },
    #[error("placing the constraint {id} failed: {detail}")]
    Constraint { id: String, detail: String },
    #[error("removing the constraint {id} failed: {detail}")]
    Unconstraint { id: String, detail: String },
    #[error(
        "dual-primary: peer {peer} is still a cluster member and a Primary after {settle_s} s; {survivor} fences it, this node keeps its I/O frozen until then"
    )]
    PeerStillPrimary {
        peer: String,
        survivor: String,
        settle_s: u64,
    },
}

/// Both nodes Primary (load-balanced mode): the peer of a lost link writes on
/// unless it is fenced, so "outdated" is never an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DualPrimary {
    /// The node that fences a peer which stays a cluster member.
    pub survivor: String,
    /// How long the membership may take to drop a peer that is gone.
    pub settle: Duration,
}

/// What DRBD tells the handler, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub resource: String,
    pub peers: Vec<String>,
    pub minors: Vec<String>,
    /// The promotable clone of the DRBD resource in the CIB.
    pub clone_id: String,
    pub dual_primary: Option<DualPrimary>,
}

impl Request {
    /// DRBD_RESOURCE, DRBD_PEERS (or DRBD_PEER), DRBD_MINOR (drbdadm sets them).
    pub fn from_env(
        get: impl Fn(&str) -> Option<String>,
        clone_id: &str,
    ) -> Result<Request, FenceError> {
        let resource = get("DRBD_RESOURCE")
            .filter(|v| !v.is_empty())
            .ok_or(FenceError::Env("DRBD_RESOURCE"))?;
        let peers: Vec<String> = get("DRBD_PEERS")
            .or_else(|| get("DRBD_PEER"))
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect();
        if peers.is_empty() {
            return Err(FenceError::Env("DRBD_PEERS"));
        }
        let minors = get("DRBD_MINOR")
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect();
        Ok(Request {
            resource,
            peers,
            minors,
            clone_id: clone_id.to_string(),
            dual_primary: None,
        })
    }
}

/// The id crm-fence-peer.sh gives its constraint, so that both handlers agree.
pub fn constraint_id(resource: &str, clone_id: &str) -> String {
    format!("drbd-fence-by-handler-{resource}-{clone_id}")
}

/// Only `keep` may be promoted.
pub fn constraint_xml(resource: &str, clone_id: &str, keep: &str) -> String {
    let id = constraint_id(resource, clone_id);
    let prefix = format!("drbd-fence-by-handler-{resource}");
    format!(
        "<rsc_location rsc=\"{clone_id}\" id=\"{id}\"><rule role=\"Promoted\" score=\"-INFINITY\" id=\"{prefix}-rule-{clone_id}\"><expression attribute=\"#uname\" operation=\"ne\" value=\"{keep}\" id=\"{prefix}-expr-{clone_id}\"/></rule></rsc_location>"
    )
}

/// Each minor's volume in /proc/drbd; None when it is not listed (or unconfigured).
fn minor_volumes(proc_drbd: &str, minors: &[String]) -> Vec<(String, Option<DrbdVolume>)> {
    let volumes = drbd::parse_proc_drbd(proc_drbd).unwrap_or_default();
    minors
        .iter()
        .map(|m| {
            let name = format!("drbd{m}");
            (
                m.clone(),
                volumes.iter().find(|v| v.resource == name).cloned(),
            )
        })
        .collect()
}

/// Every minor is linked to its peer again.
pub(crate) fn link_back(proc_drbd: &str, minors: &[String]) -> bool {
    !minors.is_empty()
        && minor_volumes(proc_drbd, minors)
            .iter()
            .all(|(_, v)| v.as_ref().is_some_and(DrbdVolume::linked))
}

/// What became of the peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every peer is a cluster member: constraint only.
    Outdated,
    /// These peers were fenced (or found fenced).
    Fenced(Vec<String>),
}

impl Verdict {
    pub fn exit_code(&self) -> u8 {
        match self {
            Verdict::Outdated => EXIT_PEER_OUTDATED,
            Verdict::Fenced(_) => EXIT_PEER_FENCED,
        }
    }
}

/// The peers the cluster no longer counts as members.
fn departed(req: &Request, state: &PcmkState) -> Vec<String> {
    req.peers
        .iter()
        .filter(|p| !is_member(state, p))
        .cloned()
        .collect()
}

/// Dual-primary, every peer still a member: the membership is asked again until
/// it drops a peer that is gone (a lost node shows here within the token plus
/// consensus), at most `dual.settle`. A peer that stays a member is fenced by the
/// survivor; any other node keeps its I/O frozen (the error) until the survivor
/// fences it or the link returns. Empty: the link came back meanwhile.
pub(crate) fn dual_primary_peers(
    req: &Request,
    dual: &DualPrimary,
    me: &str,
    proc_drbd: &Path,
    mut departed: impl FnMut() -> Result<Vec<String>, FenceError>,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<String>, FenceError> {
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(proc_drbd).unwrap_or_default();
        if link_back(&text, &req.minors) {
            return Ok(Vec::new());
        }
        let gone = departed()?;
        if !gone.is_empty() {
            return Ok(gone);
        }
        if started.elapsed() >= dual.settle {
            break;
        }
        std::thread::sleep(DUAL_PRIMARY_POLL);
    }
    if me == dual.survivor {
        log(&format!(
            "{}: dual-primary: peer {} is still a cluster member after {} s: only the replication link is down and both nodes write; fencing it from the survivor",
            req.resource,
            req.peers.join(", "),
            dual.settle.as_secs()
        ));
        return Ok(req.peers.clone());
    }
    Err(FenceError::PeerStillPrimary {
        peer: req.peers.join(", "),
        survivor: dual.survivor.clone(),
        settle_s: dual.settle.as_secs(),
    })
}

/// Between looks at the membership while a dual-primary handler waits for it.
const DUAL_PRIMARY_POLL: Duration = Duration::from_secs(1);

/// A member the cluster still counts: online and not waiting to be fenced.
fn is_member(state: &PcmkState, peer: &str) -> bool {
    state
        .nodes
        .iter()
        .any(|n| n.name == peer && n.online && !n.unclean)
}

/// crm_mon until it answers with a cluster view (no DC right after a membership
/// change is normal), at most `wait`.
fn cluster_state(
    runner: &dyn Runner,
    wait: Duration,
    every: Duration,
) -> Result<PcmkState, FenceError> {
    let started = std::time::Instant::now();
    let mut last;
    loop {
        let cmd = Cmd::new("crm_mon")
            .args(["-1", "--output-as=xml"])
            .timeout(Duration::from_secs(30));
        last = match runner.run(&cmd) {
            Ok(out) => match pacemaker::parse_crm_mon(&out.stdout_str()) {
                Ok(Ok(state)) if state.dc.is_some() => return Ok(state),
                Ok(Ok(_)) => "no designated controller yet".to_string(),
                Ok(Err(nc)) => nc.message,
                Err(e) => e,
            },
            Err(e) => e.to_string(),
        };
        if started.elapsed() >= wait {
            return Err(FenceError::NoCluster(wait.as_secs(), last));
        }
        std::thread::sleep(every);
    }
}

/// Only a node whose own disk is UpToDate may outdate or fence its peer.
pub(crate) fn require_up_to_date(req: &Request, proc_drbd: &Path) -> Result<(), FenceError> {
    let text = std::fs::read_to_string(proc_drbd).unwrap_or_default();
    for (minor, volume) in minor_volumes(&text, &req.minors) {
        match volume.map(|v| v.disk) {
            Some(DiskState::UpToDate) => {}
            other => {
                let state = other.map_or_else(|| "absent".to_string(), |d| d.to_string());
                return Err(FenceError::NotUpToDate { minor, state });
            }
        }
    }
    Ok(())
}

/// The fence-peer handler. `me` is this node's cluster name, `proc_drbd` the path
/// of /proc/drbd (tests give another), `log` gets one line per decision.
pub fn fence_peer(
    runner: &dyn Runner,
    req: &Request,
    me: &str,
    proc_drbd: &Path,
    cluster_wait: Duration,
    log: &mut dyn FnMut(&str),
) -> Result<Verdict, FenceError> {
    require_up_to_date(req, proc_drbd)?;
    let state = cluster_state(runner, cluster_wait, Duration::from_secs(1))?;
    let mut gone = departed(req, &state);
    for peer in &gone {
        log(&format!(
            "{}: peer {peer} is not a cluster member",
            req.resource
        ));
    }
    if gone.is_empty()
        && let Some(dual) = &req.dual_primary
    {
        let text = std::fs::read_to_string(proc_drbd).unwrap_or_default();
        if !link_back(&text, &req.minors) {
            let members = || {
                let state = cluster_state(runner, cluster_wait, Duration::from_secs(1))?;
                Ok(departed(req, &state))
            };
            gone = dual_primary_peers(req, dual, me, proc_drbd, members, log)?;
        }
    }
    for peer in &gone {
        log(&format!(
            "{}: fencing peer {peer} (a fencing in the last {FENCE_TOLERANCE} counts)",
            req.resource
        ));
        let out = runner
            .run(
                &Cmd::new("stonith_admin")
                    .args([
                        // Pacemaker's default stonith-action: only the same action
                        // counts within the tolerance.
                        "--reboot",
                        peer,
                        "--tolerance",
                        FENCE_TOLERANCE,
                        "--tag",
                        "drbd",
                    ])
                    .timeout(FENCE_TIMEOUT),
            )
            .map_err(|e| FenceError::FenceFailed {
                peer: peer.clone(),
                detail: e.to_string(),
            })?;
        if !out.success() {
            return Err(FenceError::FenceFailed {
                peer: peer.clone(),
                detail: format!(
                    "stonith_admin {}: {}",
                    crate::exec::how_it_ended(out.code),
                    crate::exec::stderr_tail(&out.stderr)
                ),
            });
        }
    }
    if gone.is_empty() {
        // Asking the cluster can take longer than a short link drop. DRBD ignores a
        // verdict that comes after the link returned, but a constraint placed then
        // would stay (no resync follows to lift it) and block every failover.
        let now = std::fs::read_to_string(proc_drbd).unwrap_or_default();
        if link_back(&now, &req.minors) {
            log(&format!(
                "{}: the replication link to {} came back while the cluster was asked: no constraint",
                req.resource,
                req.peers.join(", ")
            ));
            return Ok(Verdict::Outdated);
        }
        log(&format!(
            "{}: peer {} is a cluster member: only the replication link is down; it may not be promoted until it has resynced",
            req.resource,
            req.peers.join(", ")
        ));
    }
    let id = constraint_id(&req.resource, &req.clone_id);
    let placed = runner.run_ok(&Cmd::new("cibadmin").args([
        "--modify",
        "--allow-create",
        "--scope",
        "constraints",
        "--xml-text",
        &constraint_xml(&req.resource, &req.clone_id, me),
    ]));
    match placed {
        Ok(_) => log(&format!("{}: placed constraint {id}", req.resource)),
        // A fenced peer is outdated for good; the constraint is only belt and braces.
        Err(e) if !gone.is_empty() => log(&format!(
            "{}: peer fenced, but the constraint {id} could not be placed: {e}",
            req.resource
        )),
        Err(e) => {
            return Err(FenceError::Constraint {
                id,
                detail: e.to_string(),
            });
        }
    }
    Ok(if gone.is_empty() {
        Verdict::Outdated
    } else {
        Verdict::Fenced(gone)
    })
}

/// What [`unfence_peer`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfenced {
    /// The constraint was there and is gone.
    Removed,
    /// There was none (the Primary's DRBD monitor asks every interval).
    Absent,
    /// Pacemaker does not run here (the first sync of a new cluster runs before
    /// the engine starts): no CIB to change.
    NoCluster,
}

/// cibadmin(8) exit codes: no such object; not connected to the CIB.
const CIB_NO_SUCH_OBJECT: i32 = 105;
const CIB_NOT_CONNECTED: i32 = 102;

/// The after-resync-target handler: the peer is in sync again, lift the constraint.
/// Removing a constraint that is not there is fine.
pub fn unfence_peer(
    runner: &dyn Runner,
    resource: &str,
    clone_id: &str,
) -> Result<Unfenced, FenceError> {
    let id = constraint_id(resource, clone_id);
    let out = runner
        .run(&Cmd::new("cibadmin").args([
            "--delete",
            "--scope",
            "constraints",
            "--xml-text",
            &format!("<rsc_location id=\"{id}\"/>"),
        ]))
        .map_err(|e| FenceError::Unconstraint {
            id: id.clone(),
            detail: e.to_string(),
        })?;
    if out.success() {
        Ok(Unfenced::Removed)
    } else if out.code == Some(CIB_NO_SUCH_OBJECT) {
        Ok(Unfenced::Absent)
    } else if out.code == Some(CIB_NOT_CONNECTED) {
        Ok(Unfenced::NoCluster)
    } else {
        Err(FenceError::Unconstraint {
            id,
            detail: format!(
                "cibadmin {}: {}",
                crate::exec::how_it_ended(out.code),
                crate::exec::stderr_tail(&out.stderr)
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Output, RecordingRunner};

    /// A status fixture (made offline with crm_simulate, so without a DC) with the
    /// DC a live cluster reports.
    fn fixture(name: &str) -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/status")
                .join(name),
        )
        .unwrap()
        .replace(
            "<current_dc present=\"false\"/>",
            "<current_dc present=\"true\" version=\"3.0.3\" name=\"cl01\" id=\"1\" with_quorum=\"true\" mixed_version=\"false\"/>",
        )
    }

    const PROC_UPTODATE: &str = "version: 8.4.11 (api:1/proto:86-101)\nsrcversion: X\n 0: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C r-----\n    ns:0 nr:0\n";

    fn request() -> Request {
        Request {
            resource: "r0".into(),
            peers: vec!["cl02".into()],
            minors: vec!["0".into()],
            clone_id: "drbd-r0-clone".into(),
            dual_primary: None,
        }
    }

    fn proc_file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    fn run(
        runner: &RecordingRunner,
        proc_text: &str,
    ) -> (Result<Verdict, FenceError>, Vec<String>) {
        let p = proc_file(proc_text);
        let mut log = Vec::new();
        let r = fence_peer(
            runner,
            &request(),
            "cl01",
            p.path(),
            Duration::ZERO,
            &mut |l| log.push(l.to_string()),
        );
        (r, log)
    }

    #[test]
    fn a_link_back_by_the_verdict_places_no_constraint() {
        let runner =
            RecordingRunner::new().respond("crm_mon", Output::ok(fixture("crm_mon-healthy.xml")));
        let back = PROC_UPTODATE.replace(
            "cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown",
            "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate",
        );
        let (r, log) = run(&runner, &back);
        assert_eq!(r.unwrap(), Verdict::Outdated);
        let calls = runner.lines();
        assert!(
            !calls
                .iter()
                .any(|c| c.starts_with("cibadmin") || c.starts_with("stonith_admin")),
            "{calls:?}"
        );
        assert!(log.iter().any(|l| l.contains("came back")), "{log:?}");
        // Still down, or a minor that /proc/drbd does not list: not back.
        assert!(!link_back(PROC_UPTODATE, &["0".into()]));
        assert!(!link_back(&back, &["0".into(), "1".into()]));
        for up in ["SyncSource", "WFBitMapS", "Ahead"] {
            assert!(
                link_back(&back.replace("Connected", up), &["0".into()]),
                "{up}"
            );
        }
    }

    /// The handler on `me` of a dual-primary resource whose survivor is cl01.
    fn run_dual(runner: &RecordingRunner, me: &str) -> (Result<Verdict, FenceError>, Vec<String>) {
        let p = proc_file(PROC_UPTODATE);
        let mut req = request();
        req.dual_primary = Some(DualPrimary {
            survivor: "cl01".into(),
            settle: Duration::ZERO,
        });
        let mut log = Vec::new();
        let r = fence_peer(runner, &req, me, p.path(), Duration::ZERO, &mut |l| {
            log.push(l.to_string())
        });
        (r, log)
    }

    #[test]
    fn dual_primary_never_answers_outdated_for_a_member_peer() {
        // The survivor fences a peer that stays a member: both are Primary, and a
        // constraint would not stop the peer's writes (a split brain at reconnect).
        let runner =
            RecordingRunner::new().respond("crm_mon", Output::ok(fixture("crm_mon-healthy.xml")));
        let (r, log) = run_dual(&runner, "cl01");
        assert_eq!(r.unwrap(), Verdict::Fenced(vec!["cl02".into()]));
        assert!(
            runner
                .lines()
                .iter()
                .any(|c| c.starts_with("stonith_admin --reboot cl02")),
            "{:?}",
            runner.lines()
        );
        assert!(log.iter().any(|l| l.contains("dual-primary")), "{log:?}");
        // The other node keeps its I/O frozen (exit 1) and waits to be fenced.
        let runner =
            RecordingRunner::new().respond("crm_mon", Output::ok(fixture("crm_mon-healthy.xml")));
        let p = proc_file(PROC_UPTODATE);
        let mut req = request();
        req.peers = vec!["cl01".into()];
        req.dual_primary = Some(DualPrimary {
            survivor: "cl01".into(),
            settle: Duration::ZERO,
        });
        let r = fence_peer(&runner, &req, "cl02", p.path(), Duration::ZERO, &mut |_| {});
        assert!(
            matches!(r, Err(FenceError::PeerStillPrimary { .. })),
            "{r:?}"
        );
        assert!(
            !runner
                .lines()
                .iter()
                .any(|c| c.starts_with("stonith_admin") || c.starts_with("cibadmin")),
            "{:?}",
            runner.lines()
        );
    }

    #[test]
    fn dual_primary_fences_a_peer_that_left_whichever_node_it_runs_on() {
        let runner = RecordingRunner::new()
            .respond("crm_mon", Output::ok(fixture("crm_mon-peer-offline.xml")));
        let (r, _) = run_dual(&runner, "cl02-is-not-the-survivor");
        assert_eq!(r.unwrap(), Verdict::Fenced(vec!["cl02".into()]));
    }

    #[test]
    fn a_member_peer_is_only_kept_from_promotion() {
        let runner =
            RecordingRunner::new().respond("crm_mon", Output::ok(fixture("crm_mon-healthy.xml")));
        let (r, log) = run(&runner, PROC_UPTODATE);
        assert_eq!(r.unwrap(), Verdict::Outdated);
        assert_eq!(Verdict::Outdated.exit_code(), 4);
        let calls = runner.lines();
        assert!(
            !calls.iter().any(|c| c.starts_with("stonith_admin")),
            "{calls:?}"
        );
        let cib = calls.iter().find(|c| c.starts_with("cibadmin")).unwrap();
        assert!(
            cib.contains("--modify --allow-create --scope constraints"),
            "{cib}"
        );
        assert!(
            cib.contains("id=\"drbd-fence-by-handler-r0-drbd-r0-clone\""),
            "{cib}"
        );
        assert!(
            cib.contains("role=\"Promoted\" score=\"-INFINITY\""),
            "{cib}"
        );
        assert!(cib.contains("operation=\"ne\" value=\"cl01\""), "{cib}");
        assert!(log.iter().any(|l| l.contains("cluster member")), "{log:?}");
    }

    #[test]
    fn a_peer_that_left_the_cluster_is_fenced_then_constrained() {
        let runner = RecordingRunner::new()
            .respond("crm_mon", Output::ok(fixture("crm_mon-peer-offline.xml")));
        let (r, _) = run(&runner, PROC_UPTODATE);
        let v = r.unwrap();
        assert_eq!(v, Verdict::Fenced(vec!["cl02".into()]));
        assert_eq!(v.exit_code(), 7);
        let calls = runner.lines();
        let fence = calls
            .iter()
            .position(|c| c.starts_with("stonith_admin"))
            .unwrap();
        let cib = calls
            .iter()
            .position(|c| c.starts_with("cibadmin"))
            .unwrap();
        assert!(fence < cib, "{calls:?}");
        assert!(
            calls[fence].contains("--reboot cl02 --tolerance 60s"),
            "{calls:?}"
        );
    }

    #[test]
    fn a_failed_fencing_keeps_io_frozen() {
        let runner = RecordingRunner::new()
            .respond("crm_mon", Output::ok(fixture("crm_mon-peer-offline.xml")))
            .respond(
                "stonith_admin",
                Output::failed(1, "No route to fence device"),
            );
        let (r, _) = run(&runner, PROC_UPTODATE);
        let err = r.unwrap_err().to_string();
        assert!(
            err.contains("fencing cl02 failed") && err.contains("No route"),
            "{err}"
        );
        assert!(!runner.lines().iter().any(|c| c.starts_with("cibadmin")));
    }

    #[test]
    fn an_outdated_local_disk_never_outdates_the_peer() {
        let runner = RecordingRunner::new();
        let (r, _) = run(
            &runner,
            " 0: cs:WFConnection ro:Primary/Unknown ds:Outdated/DUnknown C r-----\n",
        );
        let err = r.unwrap_err().to_string();
        assert!(err.contains("minor 0 is Outdated"), "{err}");
        assert!(runner.calls().is_empty(), "nothing asked, nothing fenced");
        let (r, _) = run(&runner, "");
        assert!(r.unwrap_err().to_string().contains("is absent"));
    }

    #[test]
    fn no_cluster_answer_is_an_error_not_a_guess() {
        let runner = RecordingRunner::new()
            .respond("crm_mon", Output::ok(fixture("crm_mon-not-connected.xml")));
        let (r, _) = run(&runner, PROC_UPTODATE);
        assert!(matches!(r, Err(FenceError::NoCluster(..))), "{r:?}");
        // A view without a designated controller (an election) is not decided on.
        let no_dc = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/status/crm_mon-peer-offline.xml"),
        )
        .unwrap();
        let runner = RecordingRunner::new().respond("crm_mon", Output::ok(no_dc));
        let (r, _) = run(&runner, PROC_UPTODATE);
        assert!(
            r.unwrap_err()
                .to_string()
                .contains("no designated controller")
        );
        assert!(
            !runner
                .lines()
                .iter()
                .any(|c| c.starts_with("stonith_admin") || c.starts_with("cibadmin"))
        );
    }

    #[test]
    fn the_environment_names_what_is_missing() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let r = Request::from_env(
            env(&[
                ("DRBD_RESOURCE", "r0"),
                ("DRBD_PEERS", "cl02"),
                ("DRBD_MINOR", "0"),
            ]),
            "drbd-r0-clone",
        )
        .unwrap();
        assert_eq!(r, request());
        let r =
            Request::from_env(env(&[("DRBD_RESOURCE", "r0"), ("DRBD_PEER", "cl02")]), "c").unwrap();
        assert_eq!(r.peers, ["cl02"]);
        let err = Request::from_env(env(&[("DRBD_RESOURCE", "r0")]), "c").unwrap_err();
        assert!(
            err.to_string().starts_with("DRBD_PEERS is not set"),
            "{err}"
        );
        assert!(Request::from_env(env(&[]), "c").is_err());
    }

    #[test]
    fn unfencing_removes_the_constraint_and_tolerates_its_absence() {
        let runner = RecordingRunner::new();
        assert_eq!(
            unfence_peer(&runner, "r0", "drbd-r0-clone").unwrap(),
            Unfenced::Removed
        );
        assert_eq!(
            runner.lines(),
            [
                "cibadmin --delete --scope constraints --xml-text '<rsc_location id=\"drbd-fence-by-handler-r0-drbd-r0-clone\"/>'"
            ]
        );
        let gone =
            RecordingRunner::new().respond("cibadmin", Output::failed(105, "No such device"));
        assert_eq!(
            unfence_peer(&gone, "r0", "drbd-r0-clone").unwrap(),
            Unfenced::Absent
        );
        // The first sync of a new cluster ends before Pacemaker runs.
        let down = RecordingRunner::new().respond(
            "cibadmin",
            Output::failed(
                102,
                "Could not connect to the CIB: Transport endpoint is not connected",
            ),
        );
        assert_eq!(
            unfence_peer(&down, "r0", "drbd-r0-clone").unwrap(),
            Unfenced::NoCluster
        );
        let broken =
            RecordingRunner::new().respond("cibadmin", Output::failed(1, "connection refused"));
        assert!(unfence_peer(&broken, "r0", "drbd-r0-clone").is_err());
    }
}
