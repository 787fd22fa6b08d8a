//! The whole run: every mode's table on every engine's lab, in the order the
//! arguments give; scenarios a run never reached are reported, never left out.

use std::path::Path;
use std::time::Instant;

use crate::Error;
use crate::args::Args;
use crate::engines::{self, EngineHome};
use crate::modes::{self, ModeHome};
use crate::report::{Report, Scenario, Status};
use crate::scenarios::{first_lines, run_table};
use crate::setup::{EngineLab, accel, create_dir, ensure_key, images};

/// The id of the pseudo-scenario that records an engine run stopped by an error.
const ENGINE_RUN: u8 = 0;

pub fn run_all(args: &Args) -> Result<Report, Error> {
    let started = Instant::now();
    let work = args.work.clone();
    let logs = args.report.join("logs");
    create_dir(&work)?;
    create_dir(&logs)?;
    let key = ensure_key(&work)?;
    let mut report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        accel: String::new(),
        formation: Vec::new(),
        duration_s: 0.0,
        scenarios: Vec::new(),
    };
    let mut accel = None;
    for mode in args.modes().into_iter().map(modes::home) {
        for engine in args.engines().into_iter().map(engines::home) {
            let images = images::ensure(args, &work, engine, mode, &key)?;
            let accel = *accel.get_or_insert_with(|| accel::detect(args.accel, &images));
            report.accel = format!("{accel:?}").to_lowercase();
            let lab = EngineLab {
                engine,
                mode,
                images: &images,
                work: &work,
                key: &key,
                accel,
                logs: &logs,
            };
            if let Err(e) = run_table(mode.table(), args, &lab, &mut report) {
                report_stop(&mut report, engine, mode, &e);
            }
            for s in report.scenarios.iter_mut().filter(|s| s.mode.is_empty()) {
                s.mode = mode.name().into();
            }
            report_unreached(&mut report, args, engine, mode);
            report.duration_s = started.elapsed().as_secs_f64();
            write(&args.report, &report)?;
        }
    }
    report
        .scenarios
        .sort_by_key(|s| (s.mode.clone(), s.engine.clone(), s.id));
    report.duration_s = started.elapsed().as_secs_f64();
    write(&args.report, &report)?;
    Ok(report)
}

/// An engine's run stopped by an error: a failed pseudo-scenario says why.
fn report_stop(report: &mut Report, engine: &dyn EngineHome, mode: &dyn ModeHome, e: &Error) {
    eprintln!(
        "vm-tests: {} {} run stopped: {e}",
        mode.name(),
        engine.name()
    );
    let mut s = Scenario::new(ENGINE_RUN, "engine run", engine.name());
    s.mode = mode.name().into();
    s.status = Status::Fail;
    s.notes
        .push(format!("stopped: {}", first_lines(&e.to_string(), 40)));
    s.finish();
    report.scenarios.push(s);
}

/// Scenarios asked for that the run never reached.
fn report_unreached(
    report: &mut Report,
    args: &Args,
    engine: &dyn EngineHome,
    mode: &dyn ModeHome,
) {
    let mut table = mode.table().to_vec();
    table.sort_by_key(|e| e.id);
    for entry in table {
        let reported = report
            .scenarios
            .iter()
            .any(|s| s.id == entry.id && s.engine == engine.name() && s.mode == mode.name());
        if entry.wanted(args) && entry.engines.include(engine) && !reported {
            let mut s = entry
                .scenario(engine)
                .not_run("not reached: an earlier step of this engine's run failed");
            s.mode = mode.name().into();
            report.scenarios.push(s);
        }
    }
}

fn write(dir: &Path, report: &Report) -> Result<(), Error> {
    crate::report::write(dir, report).map_err(|source| Error::WriteReport {
        dir: dir.to_path_buf(),
        source,
    })
}
