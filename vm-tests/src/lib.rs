//! Paired-VM acceptance tests of pbx-cluster.
//!
//! Input: the lab profile, the pbx-cluster binary, QEMU. Output: report.json and
//! report.md. Invariants: no traffic leaves the harness's network namespaces; every
//! child (QEMU, sipp, ssh writers) is in a registered process group killed on exit,
//! panic or signal, and the namespaces and taps are deleted; every wait is named and
//! bounded, and a timeout prints what was awaited and both serial logs' last lines.

pub mod args;
pub mod cluster;
pub mod engines;
pub mod error;
pub mod fence;
pub mod lab;
pub mod modes;
pub mod phases;
pub mod procs;
pub mod report;
pub mod scenarios;
pub mod setup;
pub mod sip;
pub mod ssh;
pub mod suite;
pub mod vm;

use std::process::ExitCode;
use std::time::{Duration, Instant};

pub use error::Error;

/// Polls `cond` every `every` until it returns true or `timeout` passes. A timeout
/// names `what` and appends `diag()` (the serial logs' tails). Errors from `cond`
/// count as "not yet" (a guest that is booting refuses ssh) but the last one is
/// shown on timeout.
pub fn wait_until(
    timeout: Duration,
    every: Duration,
    what: &str,
    diag: &dyn Fn() -> String,
    mut cond: impl FnMut() -> Result<bool, Error>,
) -> Result<Duration, Error> {
    let start = Instant::now();
    eprintln!(
        "vm-tests: waiting (up to {}s) for: {what}",
        timeout.as_secs()
    );
    let mut last = None;
    loop {
        match cond() {
            Ok(true) => {
                let took = start.elapsed();
                eprintln!("vm-tests:   {what}: after {:.1}s", took.as_secs_f64());
                return Ok(took);
            }
            Ok(false) => {}
            Err(e) => last = Some(Box::new(e)),
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: what.to_string(),
                after: timeout,
                last,
                diag: diag(),
            });
        }
        std::thread::sleep(every);
    }
}

/// Calls `attempt` every `every` until it succeeds or `deadline` passes, then
/// returns its last error: a quiet wait for what appears within moments (a QEMU
/// monitor's socket), too frequent to log like [`wait_until`].
pub fn retry_until<T, E>(
    deadline: Instant,
    every: Duration,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(every),
        }
    }
}

pub fn run(args: args::Args) -> ExitCode {
    if let Err(e) = procs::install_handlers() {
        eprintln!("vm-tests: error: could not install signal handlers: {e}");
        return ExitCode::from(1);
    }
    let code = match suite::run_all(&args) {
        Ok(report) => {
            let all = report.scenarios.iter().all(|s| s.passed);
            eprintln!(
                "vm-tests: report in {} ({})",
                args.report.display(),
                if all { "all passed" } else { "NOT all passed" }
            );
            if all { 0 } else { 4 }
        }
        Err(e) => {
            eprintln!("vm-tests: error: {e}");
            1
        }
    };
    procs::cleanup();
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_names_what_it_waited_for_and_shows_the_diagnostics() {
        let err = wait_until(
            Duration::ZERO,
            Duration::ZERO,
            "cluster formed",
            &|| "node1.serial: login:".to_string(),
            || {
                Err(Error::Remote {
                    addr: "172.30.0.11".into(),
                    script: "true".into(),
                    code: Some(255),
                    stderr: "ssh refused".into(),
                })
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("waiting for: cluster formed"), "{err}");
        assert!(err.contains("ssh refused") && err.contains("node1.serial: login:"));
    }

    #[test]
    fn retry_until_returns_the_first_success_or_the_last_error() {
        let mut n = 0;
        let r: Result<u32, u32> = retry_until(Instant::now(), Duration::ZERO, || {
            n += 1;
            Err(n)
        });
        assert_eq!(r, Err(1), "a passed deadline allows one attempt");
        let mut n = 0;
        let r: Result<u32, u32> = retry_until(
            Instant::now() + Duration::from_secs(3600),
            Duration::ZERO,
            || {
                n += 1;
                if n == 3 { Ok(n) } else { Err(n) }
            },
        );
        assert_eq!(r, Ok(3));
    }

    #[test]
    fn wait_until_returns_once_the_condition_holds() {
        let mut n = 0;
        let r = wait_until(
            Duration::from_secs(3600),
            Duration::ZERO,
            "third poll",
            &String::new,
            || {
                n += 1;
                Ok(n == 3)
            },
        );
        assert!(r.is_ok());
        assert_eq!(n, 3);
    }
}
