//! The one reporter for progress: indicatif spinners and bars on a terminal, plain
//! lines otherwise, nothing with --quiet or in tests; once started, every line also
//! goes to the log file.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bars,
    Lines,
    Silent,
}

pub struct Reporter {
    mode: Mode,
    log: Mutex<Option<std::fs::File>>,
}

impl Reporter {
    /// Bars when stderr is a terminal, lines otherwise, nothing when quiet.
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Silent
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        };
        Reporter {
            mode,
            log: Mutex::new(None),
        }
    }

    /// Silent: for tests and library use.
    pub fn silent() -> Self {
        Reporter {
            mode: Mode::Silent,
            log: Mutex::new(None),
        }
    }

    /// From now on, also append every line to `path` (created with its folder).
    /// Started only once a run is about to change the node, so a refused run
    /// leaves no trace on it.
    pub fn start_log(&self, path: &Path) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok();
        if let Ok(mut log) = self.log.lock() {
            *log = file;
        }
    }

    fn log_line(&self, line: &str) {
        if let Ok(mut log) = self.log.lock() {
            if let Some(f) = log.as_mut() {
                let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
                let _ = writeln!(f, "{stamp} {line}");
            }
        }
    }

    pub fn line(&self, line: &str) {
        self.log_line(line);
        if self.mode != Mode::Silent {
            eprintln!("{line}");
        }
    }

    fn start(&self, label: &str, bar: impl FnOnce() -> ProgressBar) -> Step<'_> {
        self.log_line(&format!("start: {label}"));
        let bar = match self.mode {
            Mode::Bars => Some(bar()),
            Mode::Lines => {
                eprintln!("- {label}");
                None
            }
            Mode::Silent => None,
        };
        Step {
            bar,
            label: label.to_string(),
            started: Instant::now(),
            reporter: self,
        }
    }

    /// A step of unknown length: a spinner.
    pub fn step(&self, label: &str) -> Step<'_> {
        self.start(label, || {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
            );
            b.set_message(label.to_string());
            b.enable_steady_tick(Duration::from_millis(120));
            b
        })
    }

    /// A step measured in per mille (e.g. DRBD's initial sync): `advance_to`.
    pub fn permille(&self, label: &str) -> Step<'_> {
        self.start(label, || {
            let b = ProgressBar::new(1000);
            b.set_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {percent}% {elapsed}")
                    .expect("valid template"),
            );
            b.set_message(label.to_string());
            b
        })
    }

    /// A download of `total` bytes: `advance` by what arrived.
    pub fn bytes(&self, label: &str, total: u64) -> Step<'_> {
        self.start(label, || {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .expect("valid template"),
            );
            b.set_message(label.to_string());
            b
        })
    }
}

/// One running step; finishing it says how long it took.
pub struct Step<'a> {
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
    reporter: &'a Reporter,
}

impl Step<'_> {
    pub fn advance(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    pub fn advance_to(&self, pos: u64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }

    pub fn done(self) -> Duration {
        self.finish("done")
    }

    pub fn failed(self) -> Duration {
        self.finish("failed")
    }

    fn finish(self, how: &str) -> Duration {
        let took = self.started.elapsed();
        let line = format!("{how}: {} ({:.1}s)", self.label, took.as_secs_f64());
        self.reporter.log_line(&line);
        match (self.reporter.mode, &self.bar) {
            (Mode::Bars, Some(b)) => b.finish_with_message(line),
            (Mode::Lines, _) => eprintln!("  {line}"),
            _ => {}
        }
        took
    }
}

impl Drop for Step<'_> {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            if !b.is_finished() {
                b.abandon();
            }
        }
    }
}
