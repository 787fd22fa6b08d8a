//! Command-line arguments of the harness (`vm-tests/run` passes its own through).

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Pacemaker,
    Heartbeat,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Pacemaker => "pacemaker",
            Engine::Heartbeat => "heartbeat",
        }
    }
}

/// The cluster mode a lab runs (cluster.mode of its profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    ActivePassive,
    LoadBalanced,
    /// Both, one after the other.
    Both,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::ActivePassive => "active-passive",
            Mode::LoadBalanced => "load-balanced",
            Mode::Both => "both",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    /// KVM when /dev/kvm exists and a test boot under it works, else TCG.
    Auto,
    Kvm,
    Tcg,
}

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "pbx-vm-tests",
    about = "Boots two pbx-cluster appliance VMs, injects failures, measures failover at the SIP level"
)]
pub struct Args {
    /// Cold start + one hard kill for one engine (pacemaker unless --engine): the CI subset.
    #[arg(long)]
    pub quick: bool,
    /// Only this engine [default: both, or pacemaker with --quick].
    #[arg(long, value_enum)]
    pub engine: Option<Engine>,
    /// The cluster mode [default: both, or active-passive with --quick].
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Hard-kill trials per engine.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub trials: u32,
    /// Where report.json, report.md and the logs go.
    #[arg(long, default_value = "vm-tests/report")]
    pub report: PathBuf,
    /// Scratch: images, overlays, serial logs, keys.
    #[arg(long, default_value = "/var/tmp/pbx-vm-work")]
    pub work: PathBuf,
    /// The pbx-cluster binary that builds the images (and goes into them when no
    /// repository is given).
    #[arg(long, default_value = "target/release/pbx-cluster")]
    pub binary: PathBuf,
    /// Our apt repository (`pbx-cluster repo build`): the images install
    /// pbx-cluster from it with its agents and first-boot unit, as a node would.
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// The same product as a newer version's repository (vm-tests/run builds it):
    /// what the rolling upgrade (scenario 15) installs.
    #[arg(long)]
    pub next_repo: Option<PathBuf>,
    /// The lab profile (pacemaker); the heartbeat profile is derived from it.
    #[arg(long, default_value = "profiles/lab.toml")]
    pub profile: PathBuf,
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: Accel,
    /// Run only these scenarios (numbers 1-15, see vm-tests/README.md), comma separated.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=15))]
    pub only: Vec<u8>,
}

impl Args {
    pub fn engines(&self) -> Vec<Engine> {
        match (self.engine, self.quick) {
            (Some(e), _) => vec![e],
            (None, true) => vec![Engine::Pacemaker],
            (None, false) => vec![Engine::Pacemaker, Engine::Heartbeat],
        }
    }

    /// The modes to run, in order (never `Both`).
    pub fn modes(&self) -> Vec<Mode> {
        match (self.mode, self.quick) {
            (Some(Mode::Both), _) | (None, false) => vec![Mode::ActivePassive, Mode::LoadBalanced],
            (Some(m), _) => vec![m],
            (None, true) => vec![Mode::ActivePassive],
        }
    }

    /// Hard-kill trials: one in the quick subset.
    pub fn kill_trials(&self) -> u32 {
        if self.quick { 1 } else { self.trials }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(argv: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("pbx-vm-tests").chain(argv.iter().copied()))
            .expect("valid arguments")
    }

    /// The active/passive scenarios the arguments ask for, by id.
    fn wanted(a: &Args) -> Vec<u8> {
        let mut ids: Vec<u8> = crate::scenarios::active_passive::TABLE
            .iter()
            .filter(|e| e.wanted(a))
            .map(|e| e.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn quick_is_one_engine_one_kill_scenarios_one_and_two() {
        let a = parse(&["--quick"]);
        assert_eq!(a.engines(), vec![Engine::Pacemaker]);
        assert_eq!(a.kill_trials(), 1);
        assert_eq!(a.modes(), vec![Mode::ActivePassive]);
        assert_eq!(wanted(&a), [1, 2]);
    }

    #[test]
    fn quick_with_engine_keeps_the_engine() {
        let a = parse(&["--quick", "--engine", "heartbeat"]);
        assert_eq!(a.engines(), vec![Engine::Heartbeat]);
    }

    #[test]
    fn full_suite_runs_both_engines_and_all_scenarios() {
        let a = parse(&["--trials", "7", "--report", "/tmp/r"]);
        assert_eq!(a.engines(), vec![Engine::Pacemaker, Engine::Heartbeat]);
        assert_eq!(a.modes(), vec![Mode::ActivePassive, Mode::LoadBalanced]);
        assert_eq!(a.kill_trials(), 7);
        assert_eq!(wanted(&a), (1..=15).collect::<Vec<_>>());
        assert_eq!(a.report, PathBuf::from("/tmp/r"));
    }

    #[test]
    fn mode_selects_one_or_both() {
        assert_eq!(
            parse(&["--mode", "load-balanced"]).modes(),
            vec![Mode::LoadBalanced]
        );
        assert_eq!(
            parse(&["--quick", "--mode", "both"]).modes(),
            vec![Mode::ActivePassive, Mode::LoadBalanced]
        );
    }

    #[test]
    fn only_refuses_a_scenario_number_no_table_has() {
        for bad in ["0", "16", "1,99"] {
            assert!(
                Args::try_parse_from(["pbx-vm-tests", "--only", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_selects_scenarios() {
        let a = parse(&["--only", "1,2,5"]);
        assert_eq!(wanted(&a), [1, 2, 5]);
    }

    #[test]
    fn zero_trials_and_unknown_engines_are_usage_errors() {
        let bad = |argv: &[&str]| {
            Args::try_parse_from(std::iter::once("x").chain(argv.iter().copied())).is_err()
        };
        assert!(bad(&["--trials", "0"]));
        assert!(bad(&["--engine", "keepalived"]));
    }
}
