//! report.json and report.md from the scenario results (pure: data in, text out).

use serde::Serialize;

use crate::phases::Milestone;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    /// Ran, but the outcome is reported rather than judged (e.g. split brain
    /// behaviour without fencing): never counted as a pass.
    Reported,
    /// Not run in this invocation (with the reason in the notes).
    NotRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    /// Kill (or fault) to the first OK SIP OPTIONS answer on the virtual IP.
    pub failover_s: Option<f64>,
    pub from: String,
    pub to: String,
    pub phases: Vec<Milestone>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub id: u8,
    pub name: String,
    pub engine: String,
    /// The cluster mode the lab ran (cluster.mode of the lab profile).
    pub mode: String,
    pub status: Status,
    pub passed: bool,
    pub trials: Vec<Trial>,
    /// The trials' failover seconds (redundant with `trials`, for scripts).
    pub failover_seconds: Vec<f64>,
    /// Per rejoin: the longest SIP silence on the virtual IP while the group
    /// failed back (auto-failback).
    pub failback_gap_seconds: Vec<f64>,
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
    /// The load measurement's steps and result (scenario 11 only; absent elsewhere,
    /// so report.json stays what older readers know).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<Load>,
}

/// One step of a load ramp: the load it offered, what sipp counted, the CPU.
#[derive(Debug, Clone, Serialize)]
pub struct LoadStep {
    /// Concurrent calls offered (calls per second x the hold time).
    pub calls: u32,
    pub calls_per_s: f64,
    /// Calls the step should place.
    pub planned: u32,
    /// Calls sipp placed.
    pub placed: u32,
    /// Calls answered, held and hung up within sipp's bounds.
    pub successful: u32,
    /// Planned calls that did not succeed (sipp's failed calls, and calls never
    /// placed or still open when the step's bound ran out).
    pub failed: u32,
    pub failed_pct: f64,
    /// Under the ramp's limit of failed calls.
    pub passed: bool,
    /// Mean INVITE-to-200 time of the successful calls (digest round included).
    pub setup_ms: Option<f64>,
    pub seconds: f64,
    /// Each node's CPU busy % from the step's start to its end.
    pub cpu: Vec<NodeCpu>,
    /// The harness machine's CPU busy % (both guests and sipp share it).
    pub host_busy_pct: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeCpu {
    pub node: String,
    pub busy_pct: Option<f64>,
}

/// Why a load ramp stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadStop {
    /// A step failed too many calls: the one before it is the result.
    StepFailed,
    /// The scenario's time bound left no room for the next step: the result is
    /// a lower bound.
    TimeBound,
    /// Asterisk still held channels long after a step: the next one would not
    /// start from an idle PBX.
    NotIdle,
}

impl LoadStop {
    fn words(self) -> &'static str {
        match self {
            LoadStop::StepFailed => "a step failed",
            LoadStop::TimeBound => "the time bound (a lower bound)",
            LoadStop::NotIdle => "Asterisk not idle after a step",
        }
    }
}

/// A load measurement: how it was made, its steps and what they sustained.
#[derive(Debug, Clone, Serialize)]
pub struct Load {
    /// How the calls were made and judged (report.md's method line).
    pub method: String,
    pub steps: Vec<LoadStep>,
    /// Concurrent calls of the highest step that passed (0: none did).
    pub sustained_calls: u32,
    pub sustained_calls_per_s: f64,
    /// Concurrent calls of the first step that failed (None: none failed).
    pub failed_at: Option<u32>,
    pub stop: LoadStop,
}

impl Load {
    pub fn new(method: String, steps: Vec<LoadStep>, stop: LoadStop) -> Load {
        let best = steps.iter().filter(|s| s.passed).max_by_key(|s| s.calls);
        Load {
            method,
            sustained_calls: best.map_or(0, |s| s.calls),
            sustained_calls_per_s: best.map_or(0.0, |s| s.calls_per_s),
            failed_at: steps.iter().find(|s| !s.passed).map(|s| s.calls),
            steps,
            stop,
        }
    }
}

/// Load-balanced over active/passive sustained calls of one engine, and the range
/// the step sizes leave (each true limit lies between its last passed step and its
/// first failed one; None: that side has no failed step to bound it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gain {
    pub ratio: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// None when the active/passive cluster sustained no step.
pub fn gain(active_passive: &Load, load_balanced: &Load) -> Option<Gain> {
    let (ap, lb) = (active_passive, load_balanced);
    if ap.sustained_calls == 0 {
        return None;
    }
    let div = |a: u32, b: u32| crate::phases::round2(f64::from(a) / f64::from(b));
    Some(Gain {
        ratio: div(lb.sustained_calls, ap.sustained_calls),
        low: ap.failed_at.map(|f| div(lb.sustained_calls, f)),
        high: lb.failed_at.map(|f| div(f, ap.sustained_calls)),
    })
}

impl Scenario {
    pub fn new(id: u8, name: &str, engine: &str) -> Scenario {
        Scenario {
            id,
            name: name.into(),
            engine: engine.into(),
            mode: String::new(),
            status: Status::NotRun,
            passed: false,
            trials: Vec::new(),
            failover_seconds: Vec::new(),
            failback_gap_seconds: Vec::new(),
            checks: Vec::new(),
            notes: Vec::new(),
            load: None,
        }
    }

    pub fn check(&mut self, name: &str, ok: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            ok,
            detail: detail.into(),
        });
    }

    /// Pass when every check holds and at least one exists; sets `passed`.
    pub fn finish(&mut self) {
        self.failover_seconds = self.trials.iter().filter_map(|t| t.failover_s).collect();
        if self.status == Status::NotRun && !self.checks.is_empty() {
            self.status = if self.checks.iter().all(|c| c.ok) {
                Status::Pass
            } else {
                Status::Fail
            };
        }
        self.passed = self.status == Status::Pass;
    }

    pub fn not_run(mut self, why: &str) -> Scenario {
        self.status = Status::NotRun;
        self.notes.push(why.into());
        self.passed = false;
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub command: String,
    pub accel: String,
    /// How the clusters were formed (the first-boot `pbx-cluster init`) and how long
    /// it took.
    pub formation: Vec<String>,
    pub duration_s: f64,
    pub scenarios: Vec<Scenario>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub min: f64,
    pub median: f64,
    pub max: f64,
    pub n: usize,
}

pub fn stats(xs: &[f64]) -> Option<Stats> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stats {
        min: v[0],
        median: crate::phases::round2(median),
        max: v[n - 1],
        n,
    })
}

pub const HARD_KILL: u8 = 2;
pub const BASELINE: u8 = 8;

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Reported => "REPORTED (not a pass)",
        Status::NotRun => "NOT RUN",
    }
}

/// The baseline ratio: median hard-kill failover of Pacemaker at the product's
/// timing (scenario 2) over Heartbeat at the reference's timing (scenario 8), the
/// figure the failover goal (at most 0.3) is about.
pub fn baseline_ratio(r: &Report) -> Option<(f64, f64, f64)> {
    let med = |id: u8, engine: &str| {
        r.scenarios
            .iter()
            .find(|s| s.id == id && s.engine == engine && s.mode == "active-passive")
            .and_then(|s| stats(&s.failover_seconds))
            .map(|s| s.median)
    };
    let base = med(BASELINE, "heartbeat")?;
    let lab = med(HARD_KILL, "pacemaker")?;
    Some((base, lab, crate::phases::round2(lab / base)))
}

pub fn markdown(r: &Report) -> String {
    let mut md = String::new();
    md.push_str("# pbx-cluster paired-VM acceptance report\n\n");
    md.push_str(&format!(
        "`{}` - {:.0} s wall clock, accelerator: {}.\n\n",
        r.command, r.duration_s, r.accel
    ));
    for f in &r.formation {
        md.push_str(&format!("- cluster formation: {f}\n"));
    }
    md.push_str("\n## Scenarios\n\n| # | scenario | mode | engine | result | checks | notes |\n|---|---|---|---|---|---|---|\n");
    for s in &r.scenarios {
        let ok = s.checks.iter().filter(|c| c.ok).count();
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {}/{} | {} |\n",
            s.id,
            s.name,
            s.mode,
            s.engine,
            status_word(s.status),
            ok,
            s.checks.len(),
            s.notes.join("; ").replace('|', "/")
        ));
    }
    md.push_str("\n## Failover (kill to first OK SIP OPTIONS on the virtual IP, probe every 100 ms)\n\n| scenario | engine | trials | min s | median s | max s | per trial s |\n|---|---|---|---|---|---|---|\n");
    for s in r.scenarios.iter().filter(|s| !s.trials.is_empty()) {
        let per: Vec<String> = s
            .trials
            .iter()
            .map(|t| t.failover_s.map_or("none".into(), |x| format!("{x:.1}")))
            .collect();
        match stats(&s.failover_seconds) {
            Some(st) => md.push_str(&format!(
                "| {} {} | {} | {} | {:.1} | {:.1} | {:.1} | {} |\n",
                s.id,
                s.name,
                s.engine,
                s.trials.len(),
                st.min,
                st.median,
                st.max,
                per.join(", ")
            )),
            None => md.push_str(&format!(
                "| {} {} | {} | {} | - | - | - | {} |\n",
                s.id,
                s.name,
                s.engine,
                s.trials.len(),
                per.join(", ")
            )),
        }
    }
    match baseline_ratio(r) {
        Some((base, lab, ratio)) => md.push_str(&format!(
            "\nBaseline: Heartbeat at the reference's timing (keepalive 1 s / deadtime 10 s) median {base:.1} s; Pacemaker at the product's timing median {lab:.1} s: Pacemaker / baseline = {ratio:.2} (goal: at most 0.30).\n"
        )),
        None => md.push_str("\nBaseline ratio: not available (it needs failover times from scenario 8 (heartbeat) and scenario 2 (pacemaker) of the same run).\n"),
    }
    let gaps: Vec<String> = r
        .scenarios
        .iter()
        .filter(|s| !s.failback_gap_seconds.is_empty())
        .map(|s| {
            let per: Vec<String> = s
                .failback_gap_seconds
                .iter()
                .map(|g| format!("{g:.1}"))
                .collect();
            format!("{} {} ({}): {} s", s.id, s.name, s.engine, per.join(", "))
        })
        .collect();
    if !gaps.is_empty() {
        md.push_str(&format!(
            "\nFailback outage after a rejoin (longest SIP silence on the virtual IP while auto-failback moved the group back): {}.\n",
            gaps.join("; ")
        ));
    }
    md.push_str(&load_section(r));
    md.push_str(
        "\n## Where the time went (seconds from the kill; + seconds since the previous step)\n",
    );
    for s in r
        .scenarios
        .iter()
        .filter(|s| s.trials.iter().any(|t| !t.phases.is_empty()))
    {
        md.push_str(&format!("\n### {} {} ({})\n\n", s.id, s.name, s.engine));
        for (i, t) in s.trials.iter().enumerate() {
            let parts: Vec<String> = t
                .phases
                .iter()
                .map(|m| format!("{} {:.1} (+{:.1})", m.name, m.at_s, m.delta_s))
                .collect();
            let slow = crate::phases::slowest(&t.phases)
                .map(|m| format!(" - slowest: {} (+{:.1})", m.name, m.delta_s))
                .unwrap_or_default();
            md.push_str(&format!(
                "- trial {} ({} -> {}): {}{}\n",
                i + 1,
                t.from,
                t.to,
                parts.join(", "),
                slow
            ));
        }
    }
    md.push_str("\n## Checks\n\n");
    for s in &r.scenarios {
        for c in &s.checks {
            md.push_str(&format!(
                "- [{}] {} {} ({}): {} - {}\n",
                if c.ok { "x" } else { " " },
                s.id,
                s.name,
                s.engine,
                c.name,
                c.detail.replace('\n', " ")
            ));
        }
    }
    md
}

/// The modes whose load measurements the gain divides.
const GAIN_OVER: &str = "active-passive";
const GAIN_OF: &str = "load-balanced";

/// report.md's Load section (empty when no scenario measured load): the gain per
/// engine, the method, each measurement's steps.
fn load_section(r: &Report) -> String {
    let loads: Vec<(&Scenario, &Load)> = r
        .scenarios
        .iter()
        .filter_map(|s| s.load.as_ref().map(|l| (s, l)))
        .collect();
    if loads.is_empty() {
        return String::new();
    }
    let mut md = String::from("\n## Load\n\n");
    md.push_str(&if r.accel == "tcg" {
        "Measured under emulation (QEMU TCG, 10-20x slower than a native CPU, both guests and sipp on the harness machine's cores): the absolute numbers are the lab's, the ratio between the modes is the figure.\n".to_string()
    } else {
        format!("Measured in QEMU guests (accelerator: {}).\n", r.accel)
    });
    md.push_str(&format!("\nMethod: {}\n", loads[0].1.method));
    md.push_str(
        "\nGain (load-balanced / active-passive sustained concurrent calls, per engine):\n\n",
    );
    let mut engines: Vec<&str> = loads.iter().map(|(s, _)| s.engine.as_str()).collect();
    engines.sort_unstable();
    engines.dedup();
    for e in engines {
        let of = |mode: &str| {
            loads
                .iter()
                .find(|(s, _)| s.engine == e && s.mode == mode)
                .map(|(_, l)| *l)
        };
        md.push_str(&format!(
            "- {e}: {}\n",
            gain_words(of(GAIN_OVER), of(GAIN_OF))
        ));
    }
    md.push_str("\n| scenario | mode | engine | sustained concurrent calls (calls/s) | first failed step | stopped by |\n|---|---|---|---|---|---|\n");
    for (s, l) in &loads {
        md.push_str(&format!(
            "| {} {} | {} | {} | {} ({:.2}/s) | {} | {} |\n",
            s.id,
            s.name,
            s.mode,
            s.engine,
            l.sustained_calls,
            l.sustained_calls_per_s,
            failed_step(l),
            l.stop.words()
        ));
    }
    for (s, l) in &loads {
        md.push_str(&format!(
            "\n### {} {} ({}, {})\n\n| concurrent calls | calls/s | planned | placed | successful | failed | setup ms | CPU busy % (step start to end) | s | result |\n|---|---|---|---|---|---|---|---|---|---|\n",
            s.id, s.name, s.mode, s.engine
        ));
        for st in &l.steps {
            let mut cpu: Vec<String> = st
                .cpu
                .iter()
                .map(|c| format!("{} {}", c.node, pct(c.busy_pct)))
                .collect();
            cpu.push(format!("host {}", pct(st.host_busy_pct)));
            md.push_str(&format!(
                "| {} | {:.2} | {} | {} | {} | {} ({:.1} %) | {} | {} | {:.0} | {} |\n",
                st.calls,
                st.calls_per_s,
                st.planned,
                st.placed,
                st.successful,
                st.failed,
                st.failed_pct,
                st.setup_ms.map_or("-".into(), |m| format!("{m:.0}")),
                cpu.join(", "),
                st.seconds,
                if st.passed { "sustained" } else { "FAILED" }
            ));
        }
    }
    md
}

fn pct(p: Option<f64>) -> String {
    p.map_or("?".into(), |p| format!("{p:.0}"))
}

fn failed_step(l: &Load) -> String {
    match l
        .failed_at
        .and_then(|c| l.steps.iter().find(|s| s.calls == c))
    {
        Some(st) => format!("{} ({:.1} % failed)", st.calls, st.failed_pct),
        None => "none".into(),
    }
}

/// One engine's gain line: the ratio when this run measured both modes.
fn gain_words(ap: Option<&Load>, lb: Option<&Load>) -> String {
    let (ap, lb) = match (ap, lb) {
        (Some(ap), Some(lb)) => (ap, lb),
        (ap, _) => {
            let only = if ap.is_some() { GAIN_OVER } else { GAIN_OF };
            return format!(
                "the ratio needs both modes measured in one run (`--mode both --only 1,11`); this run measured {only} only"
            );
        }
    };
    let Some(g) = gain(ap, lb) else {
        return format!(
            "no ratio: the active/passive cluster sustained no step ({GAIN_OF} {})",
            lb.sustained_calls
        );
    };
    let range = match (g.low, g.high) {
        (Some(lo), Some(hi)) => format!("between {lo:.2} and {hi:.2}"),
        (Some(lo), None) => format!("at least {lo:.2}"),
        (None, Some(hi)) => format!("at most {hi:.2}"),
        (None, None) => "unbounded: neither ramp reached a failed step".into(),
    };
    format!(
        "{GAIN_OF} {} / {GAIN_OVER} {} = **{:.2}** (with the step sizes, the true ratio is {range}){}",
        lb.sustained_calls,
        ap.sustained_calls,
        g.ratio,
        if lb.stop == LoadStop::TimeBound {
            "; the load-balanced ramp ran into its time bound, so its figure is a lower bound"
        } else {
            ""
        }
    )
}

pub fn write(dir: &std::path::Path, r: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(r).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json + "\n")?;
    std::fs::write(dir.join("report.md"), markdown(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(s: f64) -> Trial {
        Trial {
            failover_s: Some(s),
            from: "node1".into(),
            to: "node2".into(),
            phases: vec![
                Milestone {
                    name: "DRBD promoted".into(),
                    at_s: 8.9,
                    delta_s: 8.9,
                },
                Milestone {
                    name: "asterisk started".into(),
                    at_s: 30.0,
                    delta_s: 21.1,
                },
            ],
        }
    }

    fn report() -> Report {
        let mut kill = Scenario::new(2, "hard kill", "pacemaker");
        kill.trials = vec![trial(36.0), trial(38.0), trial(37.0)];
        kill.failback_gap_seconds = vec![12.5];
        kill.check("data", true, "counter 41 == 41");
        kill.finish();
        let mut base = Scenario::new(8, "baseline", "heartbeat");
        base.trials = vec![trial(44.0), trial(46.0)];
        base.check("took over", true, "");
        base.finish();
        let mut split = Scenario::new(7, "both links cut", "heartbeat");
        split.status = Status::Reported;
        split.check("one primary", false, "two primaries without fencing");
        split.finish();
        let skipped = Scenario::new(5, "one link cut", "pacemaker").not_run("budget");
        let mut scenarios = vec![kill, base, split, skipped];
        for s in &mut scenarios {
            s.mode = "active-passive".into();
        }
        Report {
            command: "vm-tests/run".into(),
            accel: "tcg".into(),
            formation: vec!["heartbeat: first-boot pbx-cluster init".into()],
            duration_s: 100.0,
            scenarios,
        }
    }

    #[test]
    fn stats_min_median_max() {
        let s = stats(&[3.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.n), (1.0, 2.5, 10.0, 4));
        assert_eq!(stats(&[5.0]).unwrap().median, 5.0);
        assert!(stats(&[]).is_none());
    }

    #[test]
    fn finish_passes_only_when_every_check_holds() {
        let r = report();
        assert!(r.scenarios[0].passed);
        assert_eq!(r.scenarios[0].failover_seconds, vec![36.0, 38.0, 37.0]);
        let mut bad = Scenario::new(1, "cold", "pacemaker");
        bad.check("a", true, "");
        bad.check("b", false, "");
        bad.finish();
        assert_eq!(bad.status, Status::Fail);
        let mut none = Scenario::new(1, "cold", "pacemaker");
        none.finish();
        assert!(!none.passed, "no checks is not a pass");
    }

    #[test]
    fn reported_and_not_run_are_never_passes() {
        let r = report();
        assert!(!r.scenarios[2].passed && r.scenarios[2].status == Status::Reported);
        assert!(!r.scenarios[3].passed);
        let md = markdown(&r);
        assert!(md.contains(
            "| 7 | both links cut | active-passive | heartbeat | REPORTED (not a pass) |"
        ));
        assert!(md.contains(
            "| 5 | one link cut | active-passive | pacemaker | NOT RUN | 0/0 | budget |"
        ));
    }

    #[test]
    fn markdown_has_the_failover_table_the_ratio_and_the_slowest_phase() {
        let md = markdown(&report());
        assert!(
            md.contains("| 2 hard kill | pacemaker | 3 | 36.0 | 37.0 | 38.0 | 36.0, 38.0, 37.0 |"),
            "{md}"
        );
        assert!(
            md.contains("deadtime 10 s) median 45.0 s; Pacemaker at the product's timing median 37.0 s: Pacemaker / baseline = 0.82 (goal: at most 0.30)"),
            "{md}"
        );
        assert!(md.contains("slowest: asterisk started (+21.1)"));
        assert!(
            md.contains("auto-failback moved the group back): 2 hard kill (pacemaker): 12.5 s."),
            "{md}"
        );
        assert!(md.contains("- [x] 2 hard kill (pacemaker): data - counter 41 == 41"));
    }

    fn load_step(calls: u32, failed: u32) -> LoadStep {
        let planned = calls * 3 / 2;
        LoadStep {
            calls,
            calls_per_s: f64::from(calls) / 20.0,
            planned,
            placed: planned,
            successful: planned - failed,
            failed,
            failed_pct: crate::phases::round2(f64::from(failed) * 100.0 / f64::from(planned)),
            passed: failed == 0,
            setup_ms: Some(850.0),
            seconds: 55.0,
            cpu: vec![
                NodeCpu {
                    node: "node1".into(),
                    busy_pct: Some(71.5),
                },
                NodeCpu {
                    node: "node2".into(),
                    busy_pct: None,
                },
            ],
            host_busy_pct: Some(64.0),
        }
    }

    fn load_scenario(mode: &str, engine: &str, steps: Vec<LoadStep>, stop: LoadStop) -> Scenario {
        let mut s = Scenario::new(11, "load", engine);
        s.mode = mode.into();
        s.load = Some(Load::new("calls through the VIP".into(), steps, stop));
        s.check("first step", true, "");
        s.finish();
        s
    }

    #[test]
    fn a_load_sustains_its_highest_passed_step_and_names_the_first_failed() {
        let l = Load::new(
            "m".into(),
            vec![load_step(2, 0), load_step(3, 0), load_step(4, 1)],
            LoadStop::StepFailed,
        );
        assert_eq!((l.sustained_calls, l.failed_at), (3, Some(4)));
        assert_eq!(l.sustained_calls_per_s, 0.15);
        let none = Load::new("m".into(), vec![load_step(2, 1)], LoadStop::StepFailed);
        assert_eq!((none.sustained_calls, none.failed_at), (0, Some(2)));
    }

    #[test]
    fn the_gain_divides_load_balanced_by_active_passive_with_the_steps_range() {
        let ap = Load::new(
            "m".into(),
            vec![load_step(8, 0), load_step(11, 2)],
            LoadStop::StepFailed,
        );
        let lb = Load::new(
            "m".into(),
            vec![load_step(15, 0), load_step(20, 3)],
            LoadStop::StepFailed,
        );
        let g = gain(&ap, &lb).unwrap();
        assert_eq!((g.ratio, g.low, g.high), (1.88, Some(1.36), Some(2.5)));
        let cut = Load::new("m".into(), vec![load_step(15, 0)], LoadStop::TimeBound);
        assert_eq!(gain(&ap, &cut).unwrap().high, None);
        let zero = Load::new("m".into(), vec![load_step(2, 1)], LoadStop::StepFailed);
        assert!(gain(&zero, &lb).is_none());
    }

    #[test]
    fn markdown_has_a_load_section_with_the_gain_the_method_and_the_steps() {
        let mut r = report();
        for (mode, engine, steps, stop) in [
            ("active-passive", "pacemaker", [8, 11], LoadStop::StepFailed),
            ("load-balanced", "pacemaker", [15, 20], LoadStop::StepFailed),
            ("load-balanced", "heartbeat", [2, 0], LoadStop::TimeBound),
        ] {
            // The second step fails a quarter of its calls (none: no second step).
            let steps = [load_step(steps[0], 0)]
                .into_iter()
                .chain((steps[1] > 0).then(|| load_step(steps[1], steps[1] / 4)))
                .collect();
            r.scenarios.push(load_scenario(mode, engine, steps, stop));
        }
        let md = markdown(&r);
        for line in [
            "\n## Load\n",
            "Measured under emulation",
            "Method: calls through the VIP",
            "- pacemaker: load-balanced 15 / active-passive 8 = **1.88** (with the step sizes, the true ratio is between 1.36 and 2.50)",
            "- heartbeat: the ratio needs both modes measured in one run (`--mode both --only 1,11`); this run measured load-balanced only",
            "| 11 load | active-passive | pacemaker | 8 (0.40/s) | 11 (12.5 % failed) | a step failed |",
            "| 11 load | load-balanced | heartbeat | 2 (0.10/s) | none | the time bound (a lower bound) |",
            "| 11 | 0.55 | 16 | 16 | 14 | 2 (12.5 %) | 850 | node1 72, node2 ?, host 64 | 55 | FAILED |",
        ] {
            assert!(md.contains(line), "{line:?} not in\n{md}");
        }
        assert!(
            !markdown(&report()).contains("## Load"),
            "no load, no section"
        );
    }

    #[test]
    fn json_has_the_load_only_where_one_was_measured() {
        let mut r = report();
        r.scenarios.push(load_scenario(
            "load-balanced",
            "pacemaker",
            vec![load_step(2, 0)],
            LoadStop::TimeBound,
        ));
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert!(v["scenarios"][0].get("load").is_none());
        let l = &v["scenarios"][4]["load"];
        assert_eq!(l["sustained_calls"], 2);
        assert_eq!(l["stop"], "time-bound");
        assert_eq!(l["steps"][0]["cpu"][0]["node"], "node1");
        assert!(l["failed_at"].is_null());
    }

    #[test]
    fn json_has_the_fields_scripts_read() {
        let v: serde_json::Value = serde_json::to_value(report()).unwrap();
        let s = &v["scenarios"][0];
        for k in [
            "name",
            "engine",
            "passed",
            "trials",
            "failover_seconds",
            "notes",
            "status",
        ] {
            assert!(!s[k].is_null(), "{k} missing");
        }
        assert_eq!(s["status"], "pass");
        assert_eq!(v["scenarios"][3]["status"], "not-run");
    }
}
