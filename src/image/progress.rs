//! The build's reporter: indicatif bars on a terminal, plain lines otherwise,
//! nothing in tests.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bars,
    Lines,
    Silent,
}

#[derive(Debug)]
pub struct Progress {
    mode: Mode,
}

/// One running step; finishing it prints how long it took.
pub struct Step {
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
    mode: Mode,
}

impl Progress {
    /// Bars when stderr is a terminal, lines otherwise, nothing when quiet.
    pub fn for_terminal(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Silent
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        };
        Progress { mode }
    }

    pub fn silent() -> Self {
        Progress { mode: Mode::Silent }
    }

    pub fn note(&self, msg: &str) {
        if self.mode != Mode::Silent {
            eprintln!("{msg}");
        }
    }

    /// A step of unknown length: a spinner.
    pub fn step(&self, label: impl Into<String>) -> Step {
        let label = label.into();
        let bar = match self.mode {
            Mode::Bars => {
                let b = ProgressBar::new_spinner();
                b.set_style(
                    ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                        .expect("spinner template"),
                );
                b.set_message(label.clone());
                b.enable_steady_tick(Duration::from_millis(200));
                Some(b)
            }
            Mode::Lines => {
                eprintln!("{label} ...");
                None
            }
            Mode::Silent => None,
        };
        Step {
            bar,
            label,
            started: Instant::now(),
            mode: self.mode,
        }
    }

    /// A download of `total` bytes (0 when unknown).
    pub fn bytes(&self, label: impl Into<String>, total: u64) -> Step {
        let label = label.into();
        let bar = match self.mode {
            Mode::Bars => {
                let b = ProgressBar::new(total);
                b.set_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .expect("bytes template"),
                );
                b.set_message(label.clone());
                Some(b)
            }
            Mode::Lines => {
                eprintln!("{label} ...");
                None
            }
            Mode::Silent => None,
        };
        Step {
            bar,
            label,
            started: Instant::now(),
            mode: self.mode,
        }
    }
}

impl Step {
    pub fn advance(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.inc(bytes);
        }
    }

    pub fn finish(self) -> Duration {
        let took = self.started.elapsed();
        let line = format!("{} done in {:.1}s", self.label, took.as_secs_f64());
        match (self.mode, &self.bar) {
            (Mode::Bars, Some(b)) => b.finish_with_message(line),
            (Mode::Lines, _) => eprintln!("{line}"),
            _ => {}
        }
        took
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(b) = &self.bar
            && !b.is_finished()
        {
            b.abandon();
        }
    }
}
