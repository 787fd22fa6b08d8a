//! Polling until a condition holds, bounded: the one wait of init, the boot-time
//! address wait and anything else that waits for the node or the cluster.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Polls `check` until it says yes or `timeout` passes; the error names what was
/// awaited and the last thing seen.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    poll: Duration,
    mut check: impl FnMut() -> Result<(bool, String)>,
) -> Result<()> {
    let start = Instant::now();
    loop {
        let (ok, seen) = check()?;
        if ok {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: what.to_string(),
                after_s: timeout.as_secs(),
                seen,
            });
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_names_what_it_waited_for() {
        let e = wait_until(
            "the moon",
            Duration::from_millis(5),
            Duration::from_millis(1),
            || Ok((false, "clouds".into())),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("the moon") && msg.contains("clouds"), "{msg}");
        assert_eq!(e.exit_code(), crate::error::EXIT_UNHEALTHY);
        let mut n = 0;
        wait_until(
            "three polls",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                n += 1;
                Ok((n == 3, String::new()))
            },
        )
        .unwrap();
        assert_eq!(n, 3);
    }
}
