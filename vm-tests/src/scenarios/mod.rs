//! The scenarios: one table per mode (the mode's home names it), one file per
//! scenario, and the run of a table on one engine's lab.
//!
//! A table lists its scenarios in run order. Whether an entry runs follows from
//! the table alone: asked for (--quick, --only), always run, or run because an
//! asked-for scenario is measured by it; and only after the scenario whose
//! result it works on. An entry without a run function is reported as not built.

pub mod active_passive;
pub mod balanced;
mod counter;
mod fencing;
mod load;
mod observer;
mod restore;
mod sipp;
mod timing;

use crate::Error;
use crate::args::Args;
use crate::cluster::Pair;
use crate::engines::EngineHome;
use crate::report::{Check, Report, Scenario};
use crate::setup::EngineLab;

/// A scenario's run: it pushes its scenario into the report as soon as it is
/// judged, so that a later step's error cannot lose it.
pub type RunFn = fn(&mut Run, &Entry) -> Result<(), Error>;

/// Which engines a scenario applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engines {
    All,
    /// Only the engine whose hard kills are the baseline.
    Baseline,
}

impl Engines {
    pub fn include(self, engine: &dyn EngineHome) -> bool {
        match self {
            Engines::All => true,
            Engines::Baseline => engine.is_baseline(),
        }
    }
}

/// One scenario of a mode's table.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub id: u8,
    /// The name reports give it.
    pub name: &'static str,
    /// In the CI subset (--quick).
    pub quick: bool,
    /// Runs whatever --only says: the later scenarios start from what it leaves.
    pub always: bool,
    /// Also runs when one of these is asked for: its run measures them.
    pub runs_for: &'static [u8],
    /// Runs only after this scenario ran: it works on what that one left.
    pub after: Option<u8>,
    pub engines: Engines,
    /// None: not built yet (reported as such when asked for).
    pub run: Option<RunFn>,
}

impl Entry {
    pub const fn new(id: u8, name: &'static str, run: RunFn) -> Entry {
        Entry {
            run: Some(run),
            ..Entry::not_built(id, name)
        }
    }

    pub const fn not_built(id: u8, name: &'static str) -> Entry {
        Entry {
            id,
            name,
            quick: false,
            always: false,
            runs_for: &[],
            after: None,
            engines: Engines::All,
            run: None,
        }
    }

    pub const fn quick(self) -> Entry {
        Entry {
            quick: true,
            ..self
        }
    }

    pub const fn always(self) -> Entry {
        Entry {
            always: true,
            ..self
        }
    }

    pub const fn runs_for(self, ids: &'static [u8]) -> Entry {
        Entry {
            runs_for: ids,
            ..self
        }
    }

    pub const fn after(self, id: u8) -> Entry {
        Entry {
            after: Some(id),
            ..self
        }
    }

    pub const fn engines(self, engines: Engines) -> Entry {
        Entry { engines, ..self }
    }

    /// Whether --quick or --only ask for it.
    pub fn wanted(&self, args: &Args) -> bool {
        if args.quick {
            self.quick
        } else {
            args.only.is_empty() || args.only.contains(&self.id)
        }
    }

    /// A fresh scenario of this entry for `engine`'s run.
    pub fn scenario(&self, engine: &dyn EngineHome) -> Scenario {
        Scenario::new(self.id, self.name, engine.name())
    }
}

/// Whether `entry` of `table` runs, given the ids that already ran.
pub fn selected(table: &[Entry], entry: &Entry, args: &Args, ran: &[u8]) -> bool {
    let asked_for = |id: u8| table.iter().any(|e| e.id == id && e.wanted(args));
    let asked =
        entry.always || entry.wanted(args) || entry.runs_for.iter().any(|&id| asked_for(id));
    asked && entry.after.is_none_or(|id| ran.contains(&id))
}

/// One engine's run of a table: the lab, its pair and what scenarios hand on.
pub struct Run<'a> {
    pub args: &'a Args,
    pub lab: &'a EngineLab<'a>,
    pub pair: Pair,
    pub report: &'a mut Report,
    pub carry: Carry,
}

/// What one scenario's run leaves for a later one.
#[derive(Debug, Default)]
pub struct Carry {
    /// Active/passive scenario 3's checks, made during scenario 2's hard kills.
    pub arp: Vec<Check>,
    /// Load-balanced: the phones each node holds after the balancing scenario.
    pub registered: [Vec<u16>; 2],
}

impl Run<'_> {
    pub fn engine(&self) -> &'static dyn EngineHome {
        self.lab.engine
    }

    /// A fresh scenario of `entry` for this run's engine.
    /// `entry`'s scenario, tagged with this run's engine and mode from the start
    /// (the baseline looks up scenario 2 of the same mode while the run goes on).
    pub fn scenario(&self, entry: &Entry) -> Scenario {
        let mut s = entry.scenario(self.engine());
        s.mode = self.lab.mode.name().into();
        s
    }

    pub fn push(&mut self, s: Scenario) {
        self.report.scenarios.push(s);
    }

    /// Boots a fresh pair that forms its cluster through the product's first
    /// boot: `entry`'s scenario with the time noted, and the report's formation
    /// line `formed(engine, seconds)`.
    pub fn cold_start(
        &mut self,
        entry: &Entry,
        formed: fn(&str, f64) -> String,
    ) -> Result<Scenario, Error> {
        let mut s = self.scenario(entry);
        let secs = self.pair.cold_start()?;
        let line = formed(self.engine().name(), secs);
        self.report.formation.push(line);
        s.notes
            .push(format!("power-on to healthy cluster {secs:.0} s"));
        Ok(s)
    }
}

/// A dead Asterisk, as a crash leaves it (no shutdown, no goodbye to phones).
pub const KILL_ASTERISK: &str = "systemctl kill -s KILL asterisk.service";

/// Runs `script` on node `i` and checks `name`: that it succeeded (its stderr is
/// the detail).
pub fn command_check(pair: &Pair, s: &mut Scenario, i: usize, script: &str, name: &str) {
    let out = pair.sh(i, script);
    s.check(
        name,
        out.success(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    );
}

/// Runs `table` on one engine's lab: every selected entry in the table's order.
pub fn run_table(
    table: &[Entry],
    args: &Args,
    lab: &EngineLab,
    report: &mut Report,
) -> Result<(), Error> {
    let mut run = Run {
        args,
        lab,
        pair: lab.pair()?,
        report,
        carry: Carry::default(),
    };
    let mut ran = Vec::new();
    for entry in table {
        if !entry.engines.include(lab.engine) || !selected(table, entry, args, &ran) {
            continue;
        }
        match entry.run {
            Some(f) => {
                f(&mut run, entry)?;
                ran.push(entry.id);
            }
            None => {
                let why = format!(
                    "not built yet: the harness has no run for this {} scenario",
                    lab.mode.name()
                );
                let s = run.scenario(entry).not_run(&why);
                run.push(s);
            }
        }
    }
    Ok(())
}

/// The first `n` lines of `s` on one line, for a check's detail or a note.
pub fn first_lines(s: &str, n: usize) -> String {
    s.lines().take(n).collect::<Vec<_>>().join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Engine, Mode};
    use clap::Parser;

    fn args(argv: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("pbx-vm-tests").chain(argv.iter().copied()))
            .expect("valid arguments")
    }

    fn table(mode: Mode) -> &'static [Entry] {
        crate::modes::home(mode).table()
    }

    /// The ids a run of `mode`'s table on `engine` reaches when every scenario
    /// passes, in run order.
    fn plan(args: &Args, mode: Mode, engine: Engine) -> Vec<u8> {
        let (table, engine) = (table(mode), crate::engines::home(engine));
        let mut ran = Vec::new();
        for e in table {
            if e.engines.include(engine) && selected(table, e, args, &ran) {
                ran.push(e.id);
            }
        }
        ran
    }

    /// The names the reports have always given (report.json is read by id and
    /// name across runs).
    const LOAD: &str = "load: the highest call load sustained through the virtual IP";
    const ACTIVE_PASSIVE: &[(u8, &str)] = &[
        (1, "cold start"),
        (2, "hard kill of the active node"),
        (3, "observer reaches the survivor without an ARP flush"),
        (4, "Asterisk killed on the active node"),
        (5, "one heartbeat link cut"),
        (6, "planned switchover and failback"),
        (7, "both links cut"),
        (8, "baseline: seed timing (keepalive 1 s, deadtime 10 s)"),
        (9, "frozen active node"),
        (10, "frozen standby node"),
        (11, LOAD),
        (12, "day 2: add an extension, applied from the standby"),
        (
            13,
            "day 2: DRBD sync rate and deadtime changed live, applied from the active node",
        ),
        (
            14,
            "day 2: a change the node cannot take is refused before either node is touched",
        ),
        (15, "day 2: rolling upgrade of pbx-cluster, standby first"),
    ];
    const LOAD_BALANCED: &[(u8, &str)] = &[
        (1, "cold start: both nodes serve, the director on node1"),
        (
            2,
            "balancing: phones register through the virtual IP on both nodes",
        ),
        (3, "calls across nodes (DUNDi)"),
        (4, "shared data on OCFS2 from both nodes"),
        (5, "a real server fails and returns"),
        (6, "the director dies"),
        (7, "the other node dies"),
        (8, "both links cut"),
        (9, "rejoin"),
        (11, LOAD),
    ];

    #[test]
    fn each_table_has_one_entry_per_id_with_the_names_reports_use() {
        for (mode, names) in [
            (Mode::ActivePassive, ACTIVE_PASSIVE),
            (Mode::LoadBalanced, LOAD_BALANCED),
        ] {
            let mut got: Vec<(u8, &str)> = table(mode).iter().map(|e| (e.id, e.name)).collect();
            got.sort_unstable();
            assert_eq!(got, names, "{}", mode.name());
        }
    }

    #[test]
    fn every_id_only_accepts_maps_to_one_entry() {
        for id in 1..=15 {
            let count = |mode| table(mode).iter().filter(|e| e.id == id).count();
            assert_eq!(count(Mode::ActivePassive), 1, "active-passive {id}");
            let lb = if id == 10 || id >= 12 { 0 } else { 1 };
            assert_eq!(count(Mode::LoadBalanced), lb, "load-balanced {id}");
        }
    }

    #[test]
    fn the_ids_an_entry_names_are_in_its_table() {
        for mode in [Mode::ActivePassive, Mode::LoadBalanced] {
            let t = table(mode);
            for e in t {
                for id in e.runs_for.iter().chain(e.after.as_ref()) {
                    assert!(
                        t.iter().any(|o| o.id == *id),
                        "{} {}: {id}",
                        mode.name(),
                        e.id
                    );
                }
            }
        }
    }

    #[test]
    fn the_report_finds_the_hard_kill_and_the_baseline_by_id() {
        let name = |id| {
            table(Mode::ActivePassive)
                .iter()
                .find(|e| e.id == id)
                .map(|e| e.name)
        };
        assert_eq!(
            name(crate::report::HARD_KILL),
            Some("hard kill of the active node")
        );
        assert!(name(crate::report::BASELINE).is_some_and(|n| n.starts_with("baseline")));
    }

    #[test]
    fn quick_is_scenarios_one_and_two_of_active_passive_on_pacemaker() {
        let a = args(&["--quick"]);
        assert_eq!(a.modes(), [Mode::ActivePassive]);
        assert_eq!(a.engines(), [Engine::Pacemaker]);
        assert_eq!(plan(&a, Mode::ActivePassive, Engine::Pacemaker), [1, 2]);
    }

    #[test]
    fn the_full_suite_runs_in_table_order_with_the_baseline_on_its_engine_only() {
        let a = args(&[]);
        assert_eq!(
            plan(&a, Mode::ActivePassive, Engine::Pacemaker),
            [1, 2, 3, 4, 5, 6, 9, 10, 12, 13, 14, 15, 11, 7]
        );
        assert_eq!(
            plan(&a, Mode::ActivePassive, Engine::Heartbeat),
            [1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15, 11, 7]
        );
        let built: Vec<u8> = plan(&a, Mode::LoadBalanced, Engine::Pacemaker);
        assert_eq!(built, [1, 2, 4, 3, 5, 11, 7, 9, 8, 6]);
    }

    #[test]
    fn the_load_runs_in_both_modes_with_the_cold_start_alone_and_never_in_quick() {
        let a = args(&["--mode", "both", "--only", "1,11"]);
        for mode in a.modes() {
            for engine in [Engine::Pacemaker, Engine::Heartbeat] {
                assert_eq!(plan(&a, mode, engine), [1, 11], "{}", mode.name());
            }
        }
        let quick = args(&["--quick", "--mode", "both"]);
        for mode in quick.modes() {
            assert!(!plan(&quick, mode, Engine::Pacemaker).contains(&11));
        }
        // Before every scenario that leaves a node down or cut off (or boots it).
        for (mode, later) in [
            (Mode::ActivePassive, &[7][..]),
            (Mode::LoadBalanced, &[7, 9, 6][..]),
        ] {
            let t = table(mode);
            let at = |id: u8| t.iter().position(|e| e.id == id).unwrap();
            for &id in later {
                assert!(at(11) < at(id), "{} 11 before {id}", mode.name());
            }
        }
    }

    #[test]
    fn only_runs_the_cold_start_and_what_the_asked_ones_need() {
        let ap = |argv| plan(&args(argv), Mode::ActivePassive, Engine::Pacemaker);
        assert_eq!(ap(&["--only", "5"]), [1, 5]);
        assert_eq!(
            ap(&["--only", "3"]),
            [1, 2, 3],
            "3 is judged during 2's kills"
        );
        assert_eq!(ap(&["--only", "8"]), [1], "the baseline is Heartbeat's");
        let lb = |argv| plan(&args(argv), Mode::LoadBalanced, Engine::Pacemaker);
        assert_eq!(lb(&["--only", "3,6"]), [1, 2, 3, 6]);
        assert_eq!(lb(&["--only", "5"]), [1, 2, 5], "5 works on 2's phones");
        assert_eq!(
            lb(&["--only", "9"]),
            [1, 2, 7, 9],
            "9 boots the node 7 killed"
        );
        assert_eq!(lb(&["--only", "4"]), [1, 4], "4 needs no phones");
    }
}
