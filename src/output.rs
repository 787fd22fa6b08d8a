//! One reporter for progress: indicatif on a terminal, plain lines otherwise,
//! nothing with --quiet; every line also goes to the log file when there is one.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Reporter {
    quiet: bool,
    tty: bool,
    log: Mutex<Option<std::fs::File>>,
}

impl Reporter {
    pub fn new(quiet: bool) -> Self {
        Reporter {
            quiet,
            tty: std::io::stderr().is_terminal(),
            log: Mutex::new(None),
        }
    }

    /// Silent: for tests and library use.
    pub fn silent() -> Self {
        Reporter {
            quiet: true,
            tty: false,
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
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// A step in progress: a spinner on a terminal, a plain line otherwise.
    pub fn step(&self, what: &str) -> Step<'_> {
        self.log_line(&format!("start: {what}"));
        let bar = if self.quiet || !self.tty {
            if !self.quiet {
                eprintln!("- {what}");
            }
            ProgressBar::hidden()
        } else {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
            );
            b.set_message(what.to_string());
            b.enable_steady_tick(Duration::from_millis(120));
            b
        };
        Step {
            bar,
            what: what.to_string(),
            reporter: self,
        }
    }

    /// A percentage bar (e.g. DRBD's initial sync).
    pub fn percent(&self, what: &str) -> ProgressBar {
        self.log_line(&format!("start: {what}"));
        if self.quiet || !self.tty {
            return ProgressBar::hidden();
        }
        let b = ProgressBar::new(1000);
        b.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {percent}% {elapsed}")
                .expect("valid template"),
        );
        b.set_message(what.to_string());
        b
    }
}

pub struct Step<'a> {
    bar: ProgressBar,
    what: String,
    reporter: &'a Reporter,
}

impl Step<'_> {
    pub fn done(self) {
        self.bar.finish_and_clear();
        self.reporter.log_line(&format!("done: {}", self.what));
        if !self.reporter.quiet && self.reporter.tty {
            eprintln!("✓ {}", self.what);
        }
    }

    pub fn failed(self) {
        self.bar.finish_and_clear();
        self.reporter.log_line(&format!("failed: {}", self.what));
        if !self.reporter.quiet && self.reporter.tty {
            eprintln!("✗ {}", self.what);
        }
    }
}
