//! `plan`, `apply` and `init`: the same front half (profile, node, render, probe,
//! plan), then print, carry out, or carry out and form the cluster.

use std::process::ExitCode;

use crate::apply::{Applier, LOG_FILE, init};
use crate::cli::{ApplyArgs, InitArgs, NodeArgs, PlanArgs};
use crate::error::{EXIT_CHANGES, Result};
use crate::exec::{LocalRunner, Runner};
use crate::output::Reporter;
use crate::plan::{self, Plan};
use crate::{profile, render};

struct Prepared {
    model: crate::model::Model,
    node: String,
    plan: Plan,
}

/// Profile -> node -> files -> node state -> plan. Changes nothing.
fn prepare(args: &NodeArgs, runner: Option<&dyn Runner>, reporter: &Reporter) -> Result<Prepared> {
    let loaded = profile::load(&args.profile)?;
    for w in loaded.warnings.warnings() {
        reporter.line(&loaded.warnings.line(w));
    }
    let model = loaded.model;
    let (hostname, addresses) = match runner {
        Some(r) => {
            let h = r
                .run(&crate::exec::Cmd::new("hostname"))
                .ok()
                .filter(|o| o.success())
                .map(|o| o.stdout_str().trim().to_string());
            let a = r
                .run(&crate::exec::Cmd::new("ip").args(["-j", "-4", "addr", "show"]))
                .map(|o| crate::runtime::addresses::parse_ip_json(&o.stdout_str()))
                .unwrap_or_default();
            (h, a)
        }
        None => (
            std::fs::read_to_string(args.root.join("etc/hostname"))
                .ok()
                .map(|s| s.trim().to_string()),
            Vec::new(),
        ),
    };
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
    Ok(Prepared { model, node, plan })
}

pub fn plan(args: &PlanArgs, quiet: bool) -> Result<ExitCode> {
    let reporter = Reporter::new(quiet);
    let runner = LocalRunner;
    let p = prepare(
        &args.node,
        (!args.skip_commands).then_some(&runner as &dyn Runner),
        &reporter,
    )?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&p.plan).expect("plan serializes")
        );
    } else {
        // The plan is this command's output: stdout, --quiet or not.
        print!("{}", p.plan.to_text());
        if args.skip_commands {
            println!(
                "only files were compared (--skip-commands): packages, services, DRBD and the engine were not probed; their steps are listed as to do and do not count as changes"
            );
        }
    }
    // Without probing commands their need is unknown: only file changes count.
    let changes = if args.skip_commands {
        p.plan.file_changes()
    } else {
        p.plan.steps.len()
    };
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
    if p.plan.is_empty() {
        reporter.line(&format!("{}: nothing to do", p.node));
        return Ok(ExitCode::SUCCESS);
    }
    // Without probing, command steps are only "unknown": no file to write is
    // nothing to do, as plan --skip-commands counts it.
    if args.skip_commands && p.plan.file_changes() == 0 {
        reporter.line(&format!(
            "{}: nothing to do (only files were compared: --skip-commands)",
            p.node
        ));
        return Ok(ExitCode::SUCCESS);
    }
    reporter.start_log(&args.node.root.join(LOG_FILE.trim_start_matches('/')));
    let applier = Applier::new(&args.node.root, runner, &reporter);
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
    Ok(ExitCode::SUCCESS)
}

pub fn init(args: &InitArgs, quiet: bool) -> Result<ExitCode> {
    let reporter = Reporter::new(quiet);
    let runner = LocalRunner;
    let p = prepare(&args.node, Some(&runner), &reporter)?;
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
