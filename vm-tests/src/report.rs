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
