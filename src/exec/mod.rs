//! The one place that runs external commands.
//!
//! Input: a [`Cmd`] (program, args, env, stdin, timeout) - plain data that a plan can
//! print. Output: the captured [`Output`], or an [`ExecError`] that names the command,
//! its exit code or signal and the tail of its stderr. Everything else in the crate
//! goes through the [`Runner`] trait, so tests swap in a [`RecordingRunner`].

mod recording;

use std::fmt;
use std::time::Duration;

pub use recording::RecordingRunner;

/// How much of stderr an error shows: enough for the cause, not a flood.
const STDERR_TAIL_LINES: usize = 12;

/// A command as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Bytes for stdin; `None` means stdin is /dev/null.
    pub stdin: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            timeout: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Stdin carries data that must not appear in argv (secrets, large inputs).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The argv as a shell would need it quoted; stdin is never shown.
    pub fn display(&self) -> String {
        let words =
            std::iter::once(self.program.as_str()).chain(self.args.iter().map(String::as_str));
        shlex::try_join(words).unwrap_or_else(|_| {
            std::iter::once(self.program.clone())
                .chain(self.args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" ")
        })
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

/// What a finished command left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Self {
        Output {
            code: Some(0),
            stdout: stdout.into(),
            stderr: Vec::new(),
        }
    }

    pub fn failed(code: i32, stderr: impl Into<Vec<u8>>) -> Self {
        Output {
            code: Some(code),
            stdout: Vec::new(),
            stderr: stderr.into(),
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("could not start `{cmd}`: {source}")]
    Spawn {
        cmd: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{cmd}` {how}{}", tail_suffix(.stderr_tail))]
    Failed {
        cmd: String,
        /// "exited with code 3" or "was killed by a signal".
        how: String,
        code: Option<i32>,
        stderr_tail: String,
    },
    #[error("`{cmd}` did not finish within {}s and was killed", .after.as_secs_f32())]
    Timeout { cmd: String, after: Duration },
}

fn tail_suffix(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; stderr ends with:\n{tail}")
    }
}

/// The last lines of a command's stderr, for error messages.
pub fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(STDERR_TAIL_LINES);
    lines[start..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub trait Runner: Send + Sync {
    /// Runs the command to completion; a non-zero exit is an `Output`, not an error.
    fn run(&self, cmd: &Cmd) -> Result<Output, ExecError>;

    /// Runs the command and turns a non-zero exit into an error.
    fn run_ok(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        let out = self.run(cmd)?;
        if out.success() {
            return Ok(out);
        }
        let how = how_it_ended(out.code);
        Err(ExecError::Failed {
            cmd: cmd.display(),
            how,
            code: out.code,
            stderr_tail: stderr_tail(&out.stderr),
        })
    }
}

/// Runs commands on this machine through duct.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalRunner;

impl Runner for LocalRunner {
    fn run(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        let mut expr = duct::cmd(&cmd.program, &cmd.args)
            .stdout_capture()
            .stderr_capture()
            .unchecked();
        expr = match &cmd.stdin {
            Some(bytes) => expr.stdin_bytes(bytes.clone()),
            None => expr.stdin_null(),
        };
        for (k, v) in &cmd.env {
            expr = expr.env(k, v);
        }
        let spawn_err = |source| ExecError::Spawn {
            cmd: cmd.display(),
            source,
        };
        let handle = expr.start().map_err(spawn_err)?;
        let output = match cmd.timeout {
            None => handle.into_output().map_err(spawn_err)?,
            Some(limit) => match handle.wait_timeout(limit).map_err(spawn_err)? {
                Some(_) => handle.into_output().map_err(spawn_err)?,
                None => {
                    let _ = handle.kill();
                    return Err(ExecError::Timeout {
                        cmd: cmd.display(),
                        after: limit,
                    });
                }
            },
        };
        Ok(Output {
            code: output.status.code(),
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }
}

/// "exited with code 3" or "was killed by a signal", for messages.
pub fn how_it_ended(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exited with code {code}"),
        None => "was killed by a signal".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_words_with_spaces() {
        let cmd = Cmd::new("echo").arg("two words").arg("plain");
        assert_eq!(cmd.display(), "echo 'two words' plain");
    }

    #[test]
    fn local_runner_captures_output_and_exit_code() {
        let out = LocalRunner
            .run(&Cmd::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]))
            .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout_str(), "out\n");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    }

    #[test]
    fn run_ok_reports_command_code_and_stderr_tail() {
        let err = LocalRunner
            .run_ok(&Cmd::new("sh").args(["-c", "echo boom >&2; exit 7"]))
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`sh -c 'echo boom >&2; exit 7'`"), "{msg}");
        assert!(msg.contains("exited with code 7"), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
    }

    #[test]
    fn missing_program_is_a_spawn_error_not_a_failure() {
        let err = LocalRunner
            .run(&Cmd::new("/nonexistent/program"))
            .unwrap_err();
        assert!(matches!(err, ExecError::Spawn { .. }), "{err:?}");
    }

    #[test]
    fn stdin_bytes_reach_the_command() {
        let out = LocalRunner
            .run(&Cmd::new("cat").stdin("secret-free input"))
            .unwrap();
        assert_eq!(out.stdout_str(), "secret-free input");
    }

    #[test]
    fn timeout_kills_the_command() {
        let err = LocalRunner
            .run(
                &Cmd::new("sleep")
                    .arg("5")
                    .timeout(Duration::from_millis(100)),
            )
            .unwrap_err();
        assert!(matches!(err, ExecError::Timeout { .. }), "{err:?}");
    }
}
