//! `plan`, `apply` and `init`: the same front half (profile, node, render, probe,
//! plan), then print, carry out, or carry out and form the cluster.

use std::process::ExitCode;

use std::path::Path;

use crate::apply::peer::{Bundle, Peer, Record, Request};
use crate::apply::{Applier, LOG_FILE, init};
use crate::cli::{ApplyArgs, InitArgs, NodeArgs, PlanArgs};
use crate::error::{EXIT_CHANGES, Result};
use crate::exec::{LocalRunner, Runner};
use crate::output::Reporter;
use crate::plan::{self, Plan};
use crate::{profile, render};

/// Held by apply and init for their whole run (the other node's apply comes
/// in as `pbx-cluster peer`, which is an apply too).
const LOCK_FILE: &str = "run/pbx-cluster.lock";

struct Prepared {
    model: crate::model::Model,
    node: String,
    plan: Plan,
    /// init finished here once: plan and apply reach the other node too.
    formed: bool,
    /// The virtual IP answers ARP here (the active node, or the director).
    serves: bool,
}

/// Profile -> node -> files -> node state -> plan. Changes nothing.
fn prepare(args: &NodeArgs, runner: Option<&dyn Runner>, reporter: &Reporter) -> Result<Prepared> {
    let loaded = profile::load(&args.profile)?;
    for w in loaded.warnings.warnings() {
        reporter.line(&loaded.warnings.line(w));
    }
    let model = loaded.model;
    let (hostname, ip_json) = match runner {
        Some(r) => {
            let h = r
                .run(&crate::exec::Cmd::new("hostname"))
                .ok()
                .filter(|o| o.success())
                .map(|o| o.stdout_str().trim().to_string());
            let a = r
                .run(&crate::exec::Cmd::new("ip").args(["-j", "-4", "addr", "show"]))
                .map(|o| o.stdout_str())
                .unwrap_or_default();
            (h, a)
        }
        None => (
            std::fs::read_to_string(args.root.join("etc/hostname"))
                .ok()
                .map(|s| s.trim().to_string()),
            String::new(),
        ),
    };
    let addresses = crate::runtime::addresses::parse_ip_json(&ip_json);
    let serves = crate::runtime::addresses::parse_ip_json_off_loopback(&ip_json)
        .contains(&model.network.virtual_ip);
    let node = plan::identify(
        &model,
        args.node.as_deref(),
        hostname.as_deref(),
        &addresses,
    )?;
    let files = render::render_node(&model, &node)?;
    let state = plan::probe(&model, &node, &files, &args.root, runner);
    let plan = plan::build(
        &model,
        &files,
        &state,
        plan::Options {
            force_wipe_disk: args.force_wipe_disk,
            allow_disruption: args.allow_disruption,
        },
    )?;
    Ok(Prepared {
        formed: state.formed,
        model,
        node,
        plan,
        serves,
    })
}

/// The other node, when this command reaches it too: a formed cluster, the
/// node's real root, commands allowed, neither --node nor --this-node.
fn peer_of<'a>(args: &NodeArgs, p: &Prepared, runner: &'a dyn Runner) -> Option<Peer<'a>> {
    if !p.formed || args.this_node || args.node.is_some() || args.root != Path::new("/") {
        return None;
    }
    let other = p.model.nodes.iter().find(|n| n.name != p.node)?;
    Some(Peer::new(
        other.name.clone(),
        other.heartbeat.address.to_string(),
        runner,
    ))
}

/// After a run on this node: the profile becomes the node's own and its record
/// of the last applied profile (what the other node compares with).
fn record(args: &NodeArgs, reporter: &Reporter) -> Result<()> {
    Bundle::read(&args.profile)?.install(&args.root)?;
    reporter.line(&format!(
        "profile recorded as applied; {} holds it",
        crate::apply::peer::PROFILE_PATH
    ));
    Ok(())
}

pub fn plan(args: &PlanArgs, quiet: bool) -> Result<ExitCode> {
    let reporter = Reporter::new(quiet);
    let runner = LocalRunner;
    let p = prepare(
        &args.node,
        (!args.skip_commands).then_some(&runner as &dyn Runner),
        &reporter,
    )?;
    // JSON stays one node's plan, for scripts.
    let peer = (!args.skip_commands && !args.json)
        .then(|| peer_of(&args.node, &p, &runner))
        .flatten();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&p.plan).expect("plan serializes")
        );
    } else {
        // The plan is this command's output: stdout, --quiet or not.
        if peer.is_some() {
            println!("{} (this node):", p.node);
        }
        print!("{}", p.plan.to_text());
        if args.skip_commands {
            println!(
                "only files were compared (--skip-commands): packages, services, DRBD and the engine were not probed; their steps are listed as to do and do not count as changes"
            );
        }
    }
    // Without probing commands their need is unknown: only file changes count.
    let mut changes = if args.skip_commands {
        p.plan.file_changes()
    } else {
        p.plan.steps.len()
    };
    if let Some(peer) = peer {
        let bundle = Bundle::read(&args.node.profile)?;
        let out = peer.ask(
            Request::Plan {
                allow_disruption: args.node.allow_disruption,
            },
            Some(&bundle),
        )?;
        println!("\n{} (the other node, over ssh):", peer.name);
        print!("{}", out.stdout_str());
        if out.code == Some(EXIT_CHANGES as i32) {
            changes += 1;
        }
        // What apply would refuse first: the nodes applied different profiles.
        let theirs = peer.applied()?;
        let mine = Record::read(&args.node.root)?;
        if let Err(e) = crate::apply::peer::check_same_applied(
            (&p.node, mine.as_ref()),
            (&peer.name, theirs.as_ref()),
            Some(&bundle),
        ) {
            println!("\n{e}");
            changes += 1;
        }
    }
    Ok(if changes == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHANGES)
    })
}

pub fn apply(args: &ApplyArgs, quiet: bool) -> Result<ExitCode> {
    let reporter = Reporter::new(quiet);
    let local = LocalRunner;
    let runner = (!args.skip_commands).then_some(&local as &dyn Runner);
    let p = prepare(&args.node, runner, &reporter)?;
    // After the checks: bad input leaves no trace, not even the lock file.
    let _lock = crate::fsutil::lock_exclusive(&args.node.root.join(LOCK_FILE))?;
    if let Some(mut peer) = runner.and_then(|r| peer_of(&args.node, &p, r)) {
        peer.hold_key(&args.node.root)?;
        return apply_both(args, &p, &peer, &reporter);
    }
    apply_here(args, &p, runner, &reporter)?;
    Ok(ExitCode::SUCCESS)
}

/// This node's plan carried out, then the profile recorded.
fn apply_here(
    args: &ApplyArgs,
    p: &Prepared,
    runner: Option<&dyn Runner>,
    reporter: &Reporter,
) -> Result<()> {
    if p.plan.is_empty() {
        reporter.line(&format!("{}: nothing to do", p.node));
        if runner.is_some() {
            record(&args.node, reporter)?;
        }
        return Ok(());
    }
    // Without probing, command steps are only "unknown": no file to write is
    // nothing to do, as plan --skip-commands counts it.
    if args.skip_commands && p.plan.file_changes() == 0 {
        reporter.line(&format!(
            "{}: nothing to do (only files were compared: --skip-commands)",
            p.node
        ));
        return Ok(());
    }
    reporter.start_log(&args.node.root.join(LOG_FILE.trim_start_matches('/')));
    let applier = Applier::new(&args.node.root, runner, reporter);
    let out = applier.apply(&p.plan)?;
    reporter.line(&format!(
        "{}: {} file(s) written, {} command(s) run{}",
        p.node,
        out.files_written.len(),
        out.commands_run.len(),
        if out.commands_skipped.is_empty() {
            String::new()
        } else {
            format!(", {} command(s) skipped", out.commands_skipped.len())
        }
    ));
    // Commands skipped: the profile is not applied yet.
    if runner.is_some() {
        record(&args.node, reporter)?;
    }
    Ok(())
}

/// A formed cluster: both nodes, one after the other (`apply::peer::both`).
fn apply_both(
    args: &ApplyArgs,
    p: &Prepared,
    peer: &Peer<'_>,
    reporter: &Reporter,
) -> Result<ExitCode> {
    let local = LocalRunner;
    crate::apply::peer::Both {
        this: &p.node,
        serves: p.serves,
        plan: &p.plan,
        peer,
        bundle: &Bundle::read(&args.node.profile)?,
        applied: Record::read(&args.node.root)?,
        allow_disruption: args.node.allow_disruption,
    }
    .run(reporter, || apply_here(args, p, Some(&local), reporter))?;
    Ok(ExitCode::SUCCESS)
}

pub fn init(args: &InitArgs, quiet: bool) -> Result<ExitCode> {
    let reporter = Reporter::new(quiet);
    let runner = LocalRunner;
    let p = prepare(&args.node, Some(&runner), &reporter)?;
    let _lock = crate::fsutil::lock_exclusive(&args.node.root.join(LOCK_FILE))?;
    reporter.start_log(&args.node.root.join(LOG_FILE.trim_start_matches('/')));
    let applier = Applier::new(&args.node.root, Some(&runner), &reporter);
    let opts = init::InitOptions {
        peer_timeout: args.peer_timeout,
        healthy_timeout: args.healthy_timeout,
        ..init::InitOptions::for_model(&p.model)
    };
    let report = init::Init {
        model: &p.model,
        node: &p.node,
        applier: &applier,
        runner: &runner,
        opts,
    }
    .run(&p.plan)?;
    // The cluster is formed and healthy: a record that cannot be written is
    // the next apply's problem (it compares nothing then), not first boot's.
    if let Err(e) = record(&args.node, &reporter) {
        reporter.line(&format!(
            "warning: the applied profile was not recorded: {e}"
        ));
    }
    reporter.line(&format!(
        "{}: healthy - DRBD Connected and UpToDate on both nodes, {} answers SIP{}{}",
        p.node,
        p.model.network.virtual_ip,
        if report.forced_primary {
            "; this node seeded the new cluster"
        } else {
            ""
        },
        if report.cib_loaded {
            "; CIB loaded"
        } else {
            ""
        },
    ));
    Ok(ExitCode::SUCCESS)
}
