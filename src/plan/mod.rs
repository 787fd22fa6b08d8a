//! Plan: rendered files x probed node state -> the ordered steps that bring the
//! node to the profile (pure). Nothing here changes the node.
//!
//! Order is the safety argument: packages, host identity, files, then the group's
//! services leave the boot sequence and stop, then DRBD, and only then the engine
//! starts - so the engine is the only thing that ever starts the services.

pub mod packages;
pub mod reload;
pub mod state;

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::exec::Cmd;
use crate::model::{Model, Node};
use crate::render::FileSet;
pub use state::{NodeState, probe};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Packages,
    Host,
    Files,
    Services,
    Drbd,
    /// Engine units enabled for the next boot (drbd: already up, its init
    /// script would wait for the peer).
    Engine,
    /// Engine units started now: the engine takes over the node from here.
    EngineStart,
    /// Running services re-read their changed files (see `reload`).
    Reload,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Create,
    Update,
    Mode,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Action {
    WriteFile {
        path: String,
        change: Change,
        /// Digests only of files without a secret (None for secret-holding ones:
        /// a digest would let anyone test guesses of the secret offline).
        #[serde(skip_serializing_if = "Option::is_none")]
        old_sha256: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        new_sha256: Option<String>,
        mode: FileMode,
        owner: String,
        group: String,
        secret: bool,
        #[serde(skip)]
        contents: Vec<u8>,
    },
    Run {
        #[serde(serialize_with = "ser_cmds")]
        commands: Vec<Cmd>,
    },
}

/// A file's permission bits; shown and serialized in octal ("0640").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMode(pub u32);

impl std::fmt::Display for FileMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for FileMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn ser_cmds<S: serde::Serializer>(cmds: &[Cmd], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(cmds.iter().map(Cmd::display))
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub phase: Phase,
    pub summary: String,
    pub action: Action,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub node: String,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn file_changes(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.action, Action::WriteFile { .. }))
            .count()
    }

    /// For people: one line per step, commands indented, secrets masked.
    pub fn to_text(&self) -> String {
        let mut out = format!("plan for {}: {} step(s)\n", self.node, self.steps.len());
        for s in &self.steps {
            let phase = serde_json::to_value(s.phase)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            out.push_str(&format!("  {phase:<9} {}\n", s.summary));
            match &s.action {
                Action::Run { commands } => {
                    for c in commands {
                        out.push_str(&format!("            $ {c}\n"));
                    }
                }
                // Only files without a secret carry digests.
                Action::WriteFile {
                    old_sha256,
                    new_sha256,
                    ..
                } => match new_sha256 {
                    Some(new) => {
                        let old = old_sha256.as_deref().map(|h| &h[..12]).unwrap_or("absent");
                        out.push_str(&format!("            sha256 {old} -> {}\n", &new[..12]));
                    }
                    None => out
                        .push_str("            (holds a secret: contents and digests not shown)\n"),
                },
            }
        }
        out
    }
}

/// Options that change what the plan may do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Allow create-md on a disk that holds a filesystem or partition table.
    pub force_wipe_disk: bool,
    /// Go ahead with changes a running cluster cannot take live
    /// (`reload::DISRUPTIONS`), their cost accepted.
    pub allow_disruption: bool,
}

/// Which node this is: `--node`, else the hostname, else a local address.
pub fn identify(
    model: &Model,
    forced: Option<&str>,
    hostname: Option<&str>,
    addresses: &[Ipv4Addr],
) -> Result<String> {
    let names = model.node_names().join(", ");
    if let Some(n) = forced {
        return match model.node(n) {
            Some(_) => Ok(n.to_string()),
            None => Err(Error::usage(
                format!("node \"{n}\" is not in the profile"),
                format!("use one of: {names}"),
            )),
        };
    }
    if let Some(h) = hostname {
        // Hostnames may be fully qualified; the profile names the short form.
        let short = h.split('.').next().unwrap_or(h);
        if let Some(n) = model.node(short) {
            return Ok(n.name.clone());
        }
    }
    if let Some(n) = model.nodes.iter().find(|n| {
        addresses.contains(&n.frontend.address) || addresses.contains(&n.heartbeat.address)
    }) {
        return Ok(n.name.clone());
    }
    Err(Error::usage(
        format!(
            "cannot tell which node this is: hostname {:?} is not a node and no local address is a node's address",
            hostname.unwrap_or("?")
        ),
        format!("pass --node NAME (one of: {names}), or set the hostname"),
    ))
}

/// Units whose boot state the plan manages: the ones leaving the boot sequence
/// and the ones the engine needs.
pub fn all_units(model: &Model) -> Vec<String> {
    let b = crate::render::boot_changes(model);
    b.disable.into_iter().chain(b.enable).collect()
}

fn write_step(
    path: &str,
    f: &crate::render::RenderedFile,
    current: Option<&state::FileState>,
    phase: Phase,
    summary: String,
) -> Option<Step> {
    let change = match current {
        None => Change::Create,
        Some(c) if c.contents != f.contents => Change::Update,
        Some(c) if c.mode != f.mode => Change::Mode,
        Some(_) => return None,
    };
    let verb = match change {
        Change::Create => "create",
        Change::Update => "update",
        Change::Mode => "set mode of",
    };
    Some(Step {
        phase,
        summary: format!("{verb} {summary}"),
        action: Action::WriteFile {
            path: path.to_string(),
            change,
            old_sha256: current
                .filter(|_| !f.secret)
                .map(|c| crate::render::sha256_hex(&c.contents)),
            new_sha256: (!f.secret).then(|| f.sha256()),
            mode: FileMode(f.mode),
            owner: f.owner.clone(),
            group: f.group.clone(),
            secret: f.secret,
            contents: f.contents.clone(),
        },
    })
}

/// The DRBD programs dopd runs, by the paths drbdadm names when it asks for them
/// to be setuid (Heartbeat engine only: Pacemaker fences through our handler).
pub fn dopd_helpers(model: &Model) -> Vec<&'static str> {
    model.engine_home().dopd_helpers(model)
}

/// The files a plan writes, with how each changes.
fn written_files(steps: &[Step]) -> Vec<(String, Change)> {
    steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::WriteFile { path, change, .. } => Some((path.clone(), *change)),
            _ => None,
        })
        .collect()
}

/// The rows of the reload table of `phase` that the written files call for, in
/// the table's order (PJSIP before the dialplan that dials its endpoints): in
/// `Files` any new or changed contents, in `Reload` only changed contents (a
/// service reads a file it never had at its start anyway). Each distinct command
/// once (several DRBD files make one adjust).
fn reload_steps(
    model: &Model,
    st: &NodeState,
    written: &[(String, Change)],
    phase: Phase,
) -> Vec<Step> {
    let active = |unit: &str| unit_active(st, unit);
    let probed = |argv: &[&str]| st.probes_ok.contains(&argv.join(" "));
    let node = on_node(st, &active, &probed);
    let counts = |c: Change| match phase {
        Phase::Files => c != Change::Mode,
        _ => c == Change::Update,
    };
    let mut steps: Vec<Step> = Vec::new();
    let mut seen: Vec<Vec<String>> = Vec::new();
    for r in reload::RELOADS.iter().filter(|r| r.phase == phase) {
        let paths = written
            .iter()
            .filter(|(p, c)| counts(*c) && r.applies(p, &node));
        for (path, _) in paths {
            let commands = (r.commands)(path, &model.storage.resource);
            let shown: Vec<String> = commands.iter().map(Cmd::display).collect();
            if !seen.contains(&shown) {
                seen.push(shown);
                steps.push(run(phase, r.summary, commands));
            }
        }
    }
    steps
}

fn unit_active(st: &NodeState, unit: &str) -> bool {
    st.services
        .as_ref()
        .and_then(|m| m.get(unit))
        .is_some_and(|s| s.active)
}

fn on_node<'a>(
    st: &NodeState,
    active: &'a dyn Fn(&str) -> bool,
    probed: &'a dyn Fn(&[&str]) -> bool,
) -> reload::OnNode<'a> {
    reload::OnNode {
        unit_active: active,
        probe_ok: probed,
        drbd_up: st.drbd.as_ref().is_some_and(|d| d.up),
        systemd: st.systemd || st.services.is_none(),
    }
}

/// The changed files a running cluster cannot take live, each with its cost.
pub fn disruptions(files: &FileSet, st: &NodeState) -> Vec<(String, &'static str)> {
    // Before init has formed the cluster there is nothing to disrupt: a daemon
    // that runs now runs with its package's stock files (Debian starts corosync
    // at install), not with a cluster's.
    if !st.formed {
        return Vec::new();
    }
    let active = |unit: &str| unit_active(st, unit);
    let probed = |argv: &[&str]| st.probes_ok.contains(&argv.join(" "));
    let node = on_node(st, &active, &probed);
    let mut out = Vec::new();
    for (path, f) in &files.files {
        let Some(old) = st.files.get(path).and_then(|c| c.as_ref()) else {
            continue;
        };
        for d in reload::DISRUPTIONS {
            if d.applies(path, &old.contents, &f.contents, &node) {
                out.push((path.clone(), d.cost));
            }
        }
    }
    out
}

/// Where Pacemaker runs: a patch of the live CIB when it lacks what the rendered
/// one configures, whether or not cib.xml changed in this run (a patch that
/// failed before is planned again; a patched CIB plans nothing).
fn cib_step(files: &FileSet, st: &NodeState) -> Option<Step> {
    let live = st.live_cib.as_deref()?;
    let rendered = files.files.get(crate::engine::pacemaker::CIB_PATH)?;
    let rendered = std::str::from_utf8(&rendered.contents).ok()?;
    // A live CIB that cannot be read as one is left to the cluster's tools.
    crate::runtime::cib_update::target(live, rendered).ok()??;
    Some(run(
        Phase::Reload,
        "patch the live CIB with what changed (crm_diff + cibadmin --patch: only resources whose definition changed are touched)",
        vec![Cmd::new(crate::SELF_BIN).args([
            "cib-update",
            "--cib",
            crate::engine::pacemaker::CIB_PATH,
        ])],
    ))
}

fn run(phase: Phase, summary: impl Into<String>, commands: Vec<Cmd>) -> Step {
    Step {
        phase,
        summary: summary.into(),
        action: Action::Run { commands },
    }
}

/// Builds the plan. Refuses (and so changes nothing) when the DRBD backing disk
/// holds someone else's data and `force_wipe_disk` is off.
pub fn build(model: &Model, files: &FileSet, st: &NodeState, opts: Options) -> Result<Plan> {
    let node = model.node(&files.node).expect("file set of a profile node");
    refusals(model, node, st)?;
    let costs = disruptions(files, st);
    if !costs.is_empty() && !opts.allow_disruption {
        let said: Vec<String> = costs.iter().map(|(p, c)| format!("{p}: {c}")).collect();
        return Err(Error::usage(
            format!(
                "{} cannot take this change live: {}",
                node.name,
                said.join("; ")
            ),
            "plan the change for a maintenance window and run apply again with --allow-disruption on both nodes, one after the other; nothing was changed",
        ));
    }
    let mut steps = package_steps(model, st);
    steps.extend(host_steps(node, files, st));
    steps.extend(file_steps(files, st));
    // Accepted: the plan still says what each such write costs.
    for step in &mut steps {
        if let Action::WriteFile { path, .. } = &step.action {
            for (_, cost) in costs.iter().filter(|(p, _)| p == path) {
                step.summary.push_str(&format!(" (not live: {cost})"));
            }
        }
    }
    // The kernel and systemd take the written files now, before any service starts.
    let written = written_files(&steps);
    steps.extend(reload_steps(model, st, &written, Phase::Files));
    steps.extend(dopd_steps(model, st));
    steps.extend(boot_exit_steps(files, st));
    steps.extend(drbd_steps(model, node, st, opts)?);
    steps.extend(engine_steps(files, st));
    steps.extend(reload_steps(model, st, &written, Phase::Reload));
    steps.extend(cib_step(files, st));
    // Sorted by phase: drbd's enable before the starts, whatever the unit order.
    steps.sort_by_key(|s| s.phase);
    debug_assert!(steps.windows(2).all(|w| w[0].phase <= w[1].phase));
    Ok(Plan {
        node: node.name.clone(),
        steps,
    })
}

/// What the node's own tools say the profile cannot run here: refused before
/// any step, so nothing on the node changes.
fn refusals(model: &Model, node: &Node, st: &NodeState) -> Result<()> {
    if let Some(said) = &st.cib_rejected {
        return Err(Error::usage(
            format!(
                "crm_verify on {} rejects the CIB this profile renders ({}): {said}",
                node.name,
                crate::engine::pacemaker::CIB_PATH
            ),
            "fix the profile value it names (`pbx-cluster render` shows the CIB); nothing was changed",
        ));
    }
    // Only once every package is in: before that a unit may still be coming.
    let wanted = packages::required(model);
    let all_installed = st
        .installed
        .as_ref()
        .is_some_and(|have| wanted.iter().all(|p| have.contains(p)));
    let services = st.services.as_ref().filter(|_| all_installed);
    let missing: Vec<&str> = model
        .services
        .iter()
        .filter(|svc| {
            services
                .and_then(|m| m.get(*svc))
                .is_some_and(|s| s.missing)
        })
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Error::usage(
            format!(
                "resources.services: {} has no unit named {} (every package the profile needs is installed)",
                node.name,
                missing.join(", ")
            ),
            "write the systemd unit or init script name (`systemctl list-unit-files` on the node lists them); nothing was changed",
        ));
    }
    Ok(())
}

/// The packages the node lacks.
fn package_steps(model: &Model, st: &NodeState) -> Vec<Step> {
    let mut steps = Vec::new();
    let wanted = packages::required(model);
    let missing: Vec<String> = match &st.installed {
        Some(have) => wanted
            .iter()
            .filter(|p| !have.contains(*p))
            .cloned()
            .collect(),
        None => wanted.clone(),
    };
    if !missing.is_empty() {
        steps.push(run(
            Phase::Packages,
            format!("install {}", missing.join(" ")),
            // A fresh node's package lists may be missing or stale.
            vec![
                Cmd::new("apt-get")
                    .args(["update", "-q"])
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .timeout(std::time::Duration::from_secs(600)),
                Cmd::new("apt-get")
                    .args([
                        "install",
                        "-y",
                        "--no-install-recommends",
                        "-o",
                        "Dpkg::Options::=--force-confold",
                    ])
                    .args(missing)
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .timeout(std::time::Duration::from_secs(3600)),
            ],
        ));
    }
    steps
}

/// Host identity: the running name (the file is one of the rendered ones),
/// and our block in the files shared with the system.
fn host_steps(node: &Node, files: &FileSet, st: &NodeState) -> Vec<Step> {
    let mut steps = Vec::new();
    if st.hostname.as_deref() != Some(node.name.as_str()) {
        steps.push(run(
            Phase::Host,
            format!("set the running hostname to {}", node.name),
            vec![Cmd::new("hostnamectl").args(["set-hostname", &node.name])],
        ));
    }
    for (path, block) in &files.blocks {
        let now = st.shared.get(path).cloned().flatten();
        let merged = block.merge(now.as_deref().unwrap_or(block.absent));
        let f = crate::render::RenderedFile {
            contents: merged.into_bytes(),
            mode: block.mode,
            owner: "root".into(),
            group: "root".into(),
            // No digest of a block derived from the secret, in the plan either.
            secret: block.secret,
        };
        let current = now.map(|text| state::FileState {
            contents: text.into_bytes(),
            mode: block.mode,
        });
        steps.extend(write_step(
            path,
            &f,
            current.as_ref(),
            Phase::Host,
            format!("{path} (pbx-cluster's block: {})", block.about),
        ));
    }
    steps
}

/// The rendered files that differ from the node's.
fn file_steps(files: &FileSet, st: &NodeState) -> Vec<Step> {
    let mut steps = Vec::new();
    for (path, f) in &files.files {
        let current = st.files.get(path).and_then(|c| c.as_ref());
        let secret = if f.secret { ", holds a secret" } else { "" };
        steps.extend(write_step(
            path,
            f,
            current,
            Phase::Files,
            format!("{path} ({:04o} {}:{}{secret})", f.mode, f.owner, f.group),
        ));
    }
    steps
}

/// dopd (Heartbeat's DRBD fence-peer) runs as hacluster and calls these: without
/// root:haclient 4750, as drbdadm asks, it fails, the peer is never outdated and
/// a node that wrongly thinks its peer dead can promote (split brain).
fn dopd_steps(model: &Model, st: &NodeState) -> Vec<Step> {
    let mut steps = Vec::new();
    let helpers: Vec<Cmd> = dopd_helpers(model)
        .into_iter()
        .filter(|path| {
            let want = format!("root haclient 4750 {path}");
            st.statoverrides
                .as_ref()
                .and_then(|m| m.get(*path))
                .and_then(Option::as_deref)
                .is_none_or(|have| have != want)
        })
        .map(|path| {
            Cmd::new("dpkg-statoverride").args([
                "--force-statoverride-add",
                "--update",
                "--add",
                "root",
                "haclient",
                "4750",
                path,
            ])
        })
        .collect();
    if !helpers.is_empty() {
        steps.push(run(
            Phase::Files,
            "let dopd run the DRBD helpers as root (root:haclient 4750, dpkg-statoverride)",
            helpers,
        ));
    }
    steps
}

/// Services leave the boot sequence before the engine may start them. On a
/// running cluster a disabled service that runs is the engine's: left alone
/// (stopping it would be an outage the engine then recovers from).
fn boot_exit_steps(files: &FileSet, st: &NodeState) -> Vec<Step> {
    let mut steps = Vec::new();
    let engine_runs = files.boot.enable.iter().any(|u| {
        u != "drbd"
            && st
                .services
                .as_ref()
                .and_then(|m| m.get(u))
                .is_some_and(|s| s.active)
    });
    for svc in &files.boot.disable {
        let s = st.services.as_ref().and_then(|m| m.get(svc));
        if s.is_some_and(|s| !s.enabled && (!s.active || engine_runs)) {
            continue;
        }
        let cmds = if st.systemd || st.services.is_none() {
            vec![Cmd::new("systemctl").args(["disable", "--now", svc])]
        } else {
            vec![
                Cmd::new("update-rc.d").args(["-f", svc, "remove"]),
                Cmd::new(format!("/etc/init.d/{svc}")).arg("stop"),
            ]
        };
        steps.push(run(
            Phase::Services,
            format!("take {svc} out of the boot sequence and stop it (the engine starts it)"),
            cmds,
        ));
    }
    steps
}

/// DRBD: metadata only where there is none, never over someone's data.
fn drbd_steps(model: &Model, node: &Node, st: &NodeState, opts: Options) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let res = &model.storage.resource;
    let drbd = st.drbd.clone().unwrap_or_default();
    if !drbd.has_metadata {
        if let Some(sig) = &drbd.foreign_signature {
            if !opts.force_wipe_disk {
                return Err(Error::usage(
                    format!(
                        "the DRBD backing disk {} of node {} holds a {sig} signature; creating DRBD metadata would destroy it",
                        node.drbd_disk, node.name
                    ),
                    "check node.drbd-disk in the profile; if the data may go, rerun with --force-wipe-disk",
                ));
            }
        }
        steps.push(run(
            Phase::Drbd,
            format!("create DRBD metadata for {res} on {}", node.drbd_disk),
            vec![Cmd::new("drbdadm").args(["--", "--force", "create-md", res])],
        ));
    }
    if !drbd.up {
        steps.push(run(
            Phase::Drbd,
            format!("bring DRBD resource {res} up"),
            vec![
                Cmd::new("modprobe").arg("drbd"),
                Cmd::new("drbdadm").args(["up", res]),
            ],
        ));
    }
    Ok(steps)
}

/// The engine, last.
fn engine_steps(files: &FileSet, st: &NodeState) -> Vec<Step> {
    let mut steps = Vec::new();
    for unit in &files.boot.enable {
        let s = st.services.as_ref().and_then(|m| m.get(unit));
        if s.is_some_and(|s| s.enabled && s.active) {
            continue;
        }
        // drbd is already up; its init script would wait for the peer at start.
        let (phase, verb, args) = if unit == "drbd" {
            (Phase::Engine, "enable", vec!["enable", unit.as_str()])
        } else {
            (
                Phase::EngineStart,
                "enable and start",
                vec!["enable", "--now", unit.as_str()],
            )
        };
        steps.push(run(
            phase,
            format!("{verb} {unit}"),
            vec![Cmd::new("systemctl").args(args)],
        ));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::FileMode;

    #[test]
    fn a_file_mode_is_shown_and_serialized_in_octal() {
        assert_eq!(FileMode(0o640).to_string(), "0640");
        assert_eq!(FileMode(0o4750).to_string(), "4750");
        assert_eq!(serde_json::to_string(&FileMode(0o600)).unwrap(), "\"0600\"");
    }
}
