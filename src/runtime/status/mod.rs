//! `status`: is this cluster healthy, degraded or down?
//!
//! Input: the engines' own tools, run through a [`Runner`] (crm_mon and cibadmin, or
//! cl_status and haresources), DRBD's state (`drbdsetup status --json`, else
//! /proc/drbd) and a SIP probe of the virtual IP (injected, so tests never touch
//! the network). Output: a [`StatusReport`] with a list of problems, each degrading or
//! downing the cluster; the worst decides the exit code (0 healthy, 1 degraded,
//! 2 down). Parsing is pure and tested against recorded outputs in
//! tests/fixtures/status.

pub mod drbd;
pub mod heartbeat;
pub mod pacemaker;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::exec::{Cmd, ExecError, Runner};
use drbd::{DiskState, DrbdVolume, Role};

/// How long any one engine tool may take before it counts as not answering.
const TOOL_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Degraded,
    Down,
}

impl Health {
    /// 0 healthy, 1 degraded, 2 down (issue 4).
    pub fn exit_code(self) -> u8 {
        match self {
            Health::Healthy => 0,
            Health::Degraded => 1,
            Health::Down => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineChoice {
    /// Pacemaker if crm_mon reaches a cluster, else Heartbeat if it runs.
    Auto,
    Pacemaker,
    Heartbeat,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    pub severity: Health,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub online: bool,
    /// standby, maintenance, unclean: anything that keeps a node from taking over.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Service {
    pub id: String,
    pub agent: String,
    /// Started, Stopped, Promoted, Unpromoted, FAILED, unknown...
    pub state: String,
    pub nodes: Vec<String>,
}

/// The result of probing the virtual IP.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SipCheck {
    pub target: String,
    pub ok: bool,
    pub status_line: Option<String>,
    pub rtt_ms: Option<f64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusReport {
    pub health: Health,
    /// pacemaker, heartbeat, or none.
    pub engine: String,
    pub local_node: String,
    pub dc: Option<String>,
    pub quorum: Option<bool>,
    pub nodes: Vec<NodeStatus>,
    pub group: Option<String>,
    /// The node that holds the group, when one does.
    pub group_holder: Option<String>,
    pub vip: Option<String>,
    pub vip_holder: Option<String>,
    pub services: Vec<Service>,
    pub drbd: Vec<DrbdVolume>,
    pub sip: Option<SipCheck>,
    pub problems: Vec<Problem>,
}

/// Files status reads; overridable so tests use fixtures.
#[derive(Debug, Clone)]
pub struct Sources {
    pub proc_drbd: PathBuf,
    pub haresources: PathBuf,
    pub hostname: PathBuf,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            proc_drbd: "/proc/drbd".into(),
            haresources: "/etc/ha.d/haresources".into(),
            hostname: "/proc/sys/kernel/hostname".into(),
        }
    }
}

/// What a gather needs besides the runner.
pub struct Inputs<'a> {
    pub engine: EngineChoice,
    pub sources: Sources,
    /// Probes the virtual IP; `None` skips the SIP check.
    pub sip: Option<&'a dyn Fn(&str) -> SipCheck>,
}

impl StatusReport {
    fn new(engine: &str, local_node: String) -> StatusReport {
        StatusReport {
            health: Health::Healthy,
            engine: engine.into(),
            local_node,
            dc: None,
            quorum: None,
            nodes: Vec::new(),
            group: None,
            group_holder: None,
            vip: None,
            vip_holder: None,
            services: Vec::new(),
            drbd: Vec::new(),
            sip: None,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, severity: Health, message: impl Into<String>) {
        self.problems.push(Problem {
            severity,
            message: message.into(),
        });
        self.health = self.health.max(severity);
    }
}

fn run_tool(runner: &dyn Runner, cmd: Cmd) -> Result<crate::exec::Output, ExecError> {
    runner.run(&cmd.timeout(TOOL_TIMEOUT))
}

/// Gathers the whole report. Never fails: what cannot be read becomes a problem.
pub fn gather(runner: &dyn Runner, inputs: &Inputs<'_>) -> StatusReport {
    let local = std::fs::read_to_string(&inputs.sources.hostname)
        .map(|h| h.trim().split('.').next().unwrap_or("").to_string())
        .unwrap_or_default();

    let mut report = match inputs.engine {
        EngineChoice::Pacemaker => pacemaker_report(runner, local),
        EngineChoice::Heartbeat => heartbeat_report(runner, &inputs.sources, local),
        EngineChoice::Auto => {
            let pcmk = pacemaker_report(runner, local.clone());
            if pcmk.engine == "pacemaker" {
                pcmk
            } else {
                let hb = heartbeat_report(runner, &inputs.sources, local);
                if hb.engine == "heartbeat" {
                    hb
                } else {
                    merge_none(pcmk, hb)
                }
            }
        }
    };

    add_drbd(runner, &inputs.sources, &mut report);

    if let Some(probe) = inputs.sip {
        match report.vip.clone() {
            Some(vip) => {
                let check = probe(&vip);
                if !check.ok {
                    let why = check
                        .error
                        .clone()
                        .or_else(|| check.status_line.clone())
                        .unwrap_or_default();
                    report.problem(
                        Health::Down,
                        format!("the virtual IP does not answer SIP: {why}"),
                    );
                }
                report.sip = Some(check);
            }
            None if report.engine != "none" => {
                report.problem(Health::Degraded, "no virtual IP found to probe");
            }
            None => {}
        }
    }
    report
}

/// Neither engine runs here: keep both reasons.
fn merge_none(mut pcmk: StatusReport, hb: StatusReport) -> StatusReport {
    pcmk.problems.extend(hb.problems);
    pcmk
}

fn pacemaker_report(runner: &dyn Runner, local: String) -> StatusReport {
    let mut report = StatusReport::new("pacemaker", local);
    let none = |mut r: StatusReport, why: String| {
        r.engine = "none".into();
        r.problem(Health::Down, why);
        r
    };
    let out = match run_tool(runner, Cmd::new("crm_mon").args(["-1", "--output-as=xml"])) {
        Ok(out) => out,
        Err(e) => return none(report, format!("Pacemaker: {e}")),
    };
    let state = match pacemaker::parse_crm_mon(&out.stdout_str()) {
        Ok(Ok(state)) => state,
        Ok(Err(nc)) => {
            return none(
                report,
                format!("Pacemaker is not running here (crm_mon: {})", nc.message),
            );
        }
        Err(e) => return none(report, format!("Pacemaker: {e}")),
    };
    apply_pacemaker(&mut report, &state);

    // The VIP's address is configuration, not status: read it from the CIB.
    let vip = run_tool(
        runner,
        Cmd::new("cibadmin").args(["--query", "--scope", "resources"]),
    )
    .map_err(|e| e.to_string())
    .and_then(|o| {
        if o.success() {
            pacemaker::parse_vip(&o.stdout_str())
        } else {
            Err(format!("cibadmin {}", crate::exec::how_it_ended(o.code)))
        }
    });
    match vip {
        Ok(Some(v)) => {
            report.vip = Some(v.ip);
            report.vip_holder = report
                .services
                .iter()
                .find(|s| s.id == v.id)
                .and_then(|s| s.nodes.first().cloned());
            if let Some(g) = v.group {
                set_group(&mut report, &state, &g);
            }
        }
        Ok(None) => report.problem(Health::Degraded, "the CIB has no IPaddr2 resource"),
        Err(e) => report.problem(Health::Degraded, format!("could not read the CIB: {e}")),
    }
    if report.group.is_none() {
        if let Some(g) = state.resources.iter().find_map(|r| r.group.clone()) {
            set_group(&mut report, &state, &g);
        }
    }
    report
}

fn apply_pacemaker(report: &mut StatusReport, state: &pacemaker::PcmkState) {
    report.dc = state.dc.clone();
    report.quorum = state.quorum;
    if state.quorum == Some(false) {
        report.problem(Health::Degraded, "the partition has no quorum");
    }
    if state.maintenance_mode {
        report.problem(Health::Degraded, "the cluster is in maintenance mode");
    }
    for n in &state.nodes {
        let mut notes = Vec::new();
        for (flag, word) in [
            (n.standby, "standby"),
            (n.maintenance, "maintenance"),
            (n.unclean, "unclean"),
        ] {
            if flag {
                notes.push(word.to_string());
            }
        }
        if !n.online {
            report.problem(Health::Degraded, format!("node {} is offline", n.name));
        }
        for note in &notes {
            report.problem(Health::Degraded, format!("node {} is {note}", n.name));
        }
        report.nodes.push(NodeStatus {
            name: n.name.clone(),
            online: n.online,
            notes,
        });
    }
    // One row per resource id: clone instances fold into one row with their roles.
    for r in &state.resources {
        let state_word = if r.failed {
            "FAILED".to_string()
        } else {
            r.role.clone()
        };
        match report.services.iter_mut().find(|s| s.id == r.id) {
            Some(s) => {
                if !s.state.split('/').any(|w| w == state_word) {
                    s.state = format!("{}/{}", s.state, state_word);
                }
                s.nodes.extend(r.nodes.iter().cloned());
            }
            None => report.services.push(Service {
                id: r.id.clone(),
                agent: r.agent.clone(),
                state: state_word,
                nodes: r.nodes.clone(),
            }),
        }
        if r.failed {
            report.problem(Health::Degraded, format!("resource {} has failed", r.id));
        }
        if r.blocked || !r.managed {
            report.problem(
                Health::Degraded,
                format!("resource {} is blocked or unmanaged", r.id),
            );
        }
    }
    for f in &state.failures {
        report.problem(
            Health::Degraded,
            format!("{} failed on {} ({})", f.op, f.node, f.status),
        );
    }
}

fn set_group(report: &mut StatusReport, state: &pacemaker::PcmkState, group: &str) {
    report.group = Some(group.to_string());
    let members: Vec<_> = state
        .resources
        .iter()
        .filter(|r| r.group.as_deref() == Some(group))
        .collect();
    let active: Vec<_> = members.iter().filter(|r| r.active).collect();
    let mut holders: Vec<&String> = active.iter().flat_map(|r| r.nodes.iter()).collect();
    holders.sort();
    holders.dedup();
    if active.is_empty() {
        report.problem(
            Health::Down,
            format!("group {group} is not running on any node"),
        );
    } else if active.len() < members.len() {
        let stopped: Vec<&str> = members
            .iter()
            .filter(|r| !r.active)
            .map(|r| r.id.as_str())
            .collect();
        report.problem(
            Health::Down,
            format!(
                "group {group} runs only in part: {} stopped",
                stopped.join(", ")
            ),
        );
    }
    match holders.as_slice() {
        [one] => report.group_holder = Some((*one).clone()),
        [] => {}
        many => report.problem(
            Health::Down,
            format!(
                "group {group} is active on several nodes: {}",
                many.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}

fn heartbeat_report(runner: &dyn Runner, sources: &Sources, local: String) -> StatusReport {
    let mut report = StatusReport::new("heartbeat", local.clone());
    let hb = run_tool(runner, Cmd::new("cl_status").arg("hbstatus"));
    let running = hb
        .as_ref()
        .is_ok_and(|o| heartbeat::hb_running(o.code, &o.stdout_str()));
    if !running {
        report.engine = "none".into();
        let why = match hb {
            Ok(o) => o.stdout_str().trim().to_string(),
            Err(e) => e.to_string(),
        };
        report.problem(
            Health::Down,
            format!("Heartbeat is not running here ({why})"),
        );
        return report;
    }
    let nodes = run_tool(runner, Cmd::new("cl_status").args(["listnodes", "-n"]))
        .map(|o| heartbeat::parse_listnodes(&o.stdout_str()))
        .unwrap_or_default();
    for name in &nodes {
        let alive = run_tool(runner, Cmd::new("cl_status").args(["nodestatus", name]))
            .is_ok_and(|o| heartbeat::node_alive(&o.stdout_str()));
        if !alive {
            report.problem(Health::Degraded, format!("node {name} is dead"));
        }
        report.nodes.push(NodeStatus {
            name: name.clone(),
            online: alive,
            notes: Vec::new(),
        });
    }
    let groups = std::fs::read_to_string(&sources.haresources)
        .map(|t| heartbeat::parse_haresources(&t))
        .unwrap_or_default();
    let Some(group) = groups.first() else {
        report.problem(
            Health::Down,
            format!("no resource group in {}", sources.haresources.display()),
        );
        return report;
    };
    let rsc = run_tool(runner, Cmd::new("cl_status").arg("rscstatus"))
        .map(|o| o.stdout_str().trim().to_string())
        .unwrap_or_default();
    let peer = report
        .nodes
        .iter()
        .find(|n| n.name != local && n.online)
        .map(|n| n.name.clone());
    let holder = heartbeat::holder(&rsc, &local, peer.as_deref(), &group.owner);
    report.group = Some(group.owner.clone() + "'s group");
    report.group_holder = holder.clone();
    report.vip = group.vip();
    report.vip_holder = holder.clone();
    if holder.is_none() {
        report.problem(
            Health::Down,
            format!("no live node holds the resource group (rscstatus here: `{rsc}`)"),
        );
    }
    for name in group.names() {
        report.services.push(Service {
            id: name.clone(),
            agent: "heartbeat".into(),
            state: if holder.is_some() {
                "Started"
            } else {
                "unknown"
            }
            .into(),
            nodes: holder.iter().cloned().collect(),
        });
    }
    report
}

fn add_drbd(runner: &dyn Runner, sources: &Sources, report: &mut StatusReport) {
    let json = run_tool(runner, Cmd::new("drbdsetup").args(["status", "--json"]))
        .ok()
        .filter(|o| o.success())
        .and_then(|o| drbd::parse_drbdsetup_json(&o.stdout_str()).ok());
    let volumes = match json {
        Some(v) => Ok(v),
        None => std::fs::read_to_string(&sources.proc_drbd)
            .map_err(|e| format!("{}: {e}", sources.proc_drbd.display()))
            .and_then(|t| drbd::parse_proc_drbd(&t)),
    };
    let volumes = match volumes {
        Ok(v) => v,
        Err(e) => {
            report.problem(Health::Degraded, format!("DRBD state unknown: {e}"));
            return;
        }
    };
    if volumes.is_empty() {
        report.problem(Health::Degraded, "no DRBD resource is up on this node");
    }
    for v in &volumes {
        let name = format!("DRBD {}/{}", v.resource, v.volume);
        if v.syncing() {
            let pct = v
                .sync_percent
                .map(|p| format!(" ({p:.1}% in sync)"))
                .unwrap_or_default();
            report.problem(Health::Degraded, format!("{name} is resyncing{pct}"));
        } else if !v.connected() {
            report.problem(Health::Degraded, format!("{name} is {}", v.connection));
        } else {
            if v.disk != DiskState::UpToDate {
                report.problem(Health::Degraded, format!("{name}: local disk {}", v.disk));
            }
            if v.peer_disk != Some(DiskState::UpToDate) {
                let peer = v.peer_disk.as_ref().map_or("", DiskState::as_str);
                report.problem(Health::Degraded, format!("{name}: peer disk {peer}"));
            }
        }
        if v.role == Role::Primary && v.peer_role == Some(Role::Primary) {
            report.problem(Health::Degraded, format!("{name} is Primary on both nodes"));
        }
    }
    report.drbd = volumes;
}

/// The one-screen table for people.
pub fn render_table(r: &StatusReport) -> String {
    let mut s = String::new();
    let word = match r.health {
        Health::Healthy => "HEALTHY",
        Health::Degraded => "DEGRADED",
        Health::Down => "DOWN",
    };
    let _ = writeln!(s, "cluster     {word}");
    let mut engine = r.engine.clone();
    if let Some(dc) = &r.dc {
        let _ = write!(engine, ", DC {dc}");
    }
    if let Some(q) = r.quorum {
        let _ = write!(engine, ", quorum {}", if q { "yes" } else { "NO" });
    }
    let _ = writeln!(
        s,
        "engine      {engine} (this node: {})",
        or_dash(&r.local_node)
    );
    if !r.nodes.is_empty() {
        let nodes: Vec<String> = r
            .nodes
            .iter()
            .map(|n| {
                let mut w = format!("{} {}", n.name, if n.online { "online" } else { "OFFLINE" });
                for note in &n.notes {
                    let _ = write!(w, " {note}");
                }
                w
            })
            .collect();
        let _ = writeln!(s, "nodes       {}", nodes.join(", "));
    }
    if let Some(g) = &r.group {
        let _ = writeln!(
            s,
            "group       {g} on {}",
            r.group_holder.as_deref().unwrap_or("no node")
        );
    }
    if let Some(vip) = &r.vip {
        let _ = writeln!(
            s,
            "virtual IP  {vip} on {}",
            r.vip_holder.as_deref().unwrap_or("no node")
        );
    }
    for v in &r.drbd {
        let mut line = format!(
            "drbd        {}/{}  {}/{}  {}/{}  {}",
            v.resource,
            v.volume,
            v.role,
            v.peer_role.as_ref().map_or("-", Role::as_str),
            v.disk,
            v.peer_disk.as_ref().map_or("-", DiskState::as_str),
            v.link(),
        );
        if let Some(p) = v.sync_percent {
            let _ = write!(line, " {p:.1}%");
        }
        let _ = writeln!(s, "{line}");
    }
    for svc in &r.services {
        let _ = writeln!(
            s,
            "service     {:<14} {:<22} {:<12} {}",
            svc.id,
            svc.agent,
            svc.state,
            svc.nodes.join(",")
        );
    }
    if let Some(sip) = &r.sip {
        let what = match (&sip.status_line, sip.rtt_ms, &sip.error) {
            (Some(line), Some(ms), _) => format!("{line} in {ms:.1} ms"),
            (_, _, Some(e)) => format!("FAILED: {e}"),
            _ => "no answer".into(),
        };
        let _ = writeln!(s, "sip         {} {what}", sip.target);
    }
    for p in &r.problems {
        let tag = if p.severity == Health::Down {
            "DOWN"
        } else {
            "degraded"
        };
        let _ = writeln!(s, "problem     [{tag}] {}", p.message);
    }
    s
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}
