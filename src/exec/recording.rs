//! A runner for tests and dry runs: records every command and answers from a script.

use std::sync::Mutex;

use super::{Cmd, ExecError, Output, Runner};

type Responder = Box<dyn Fn(&Cmd) -> Option<Output> + Send + Sync>;

/// Records commands instead of running them. Responses come from rules tried in
/// order (first match wins); a command no rule answers succeeds with empty output.
#[derive(Default)]
pub struct RecordingRunner {
    calls: Mutex<Vec<Cmd>>,
    rules: Vec<Responder>,
}

impl RecordingRunner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers commands whose display form starts with `prefix`.
    pub fn respond(mut self, prefix: &str, output: Output) -> Self {
        let prefix = prefix.to_string();
        self.rules.push(Box::new(move |cmd: &Cmd| {
            cmd.display().starts_with(&prefix).then(|| output.clone())
        }));
        self
    }

    /// Answers with a closure, for state that changes as commands run.
    pub fn respond_with(
        mut self,
        f: impl Fn(&Cmd) -> Option<Output> + Send + Sync + 'static,
    ) -> Self {
        self.rules.push(Box::new(f));
        self
    }

    pub fn calls(&self) -> Vec<Cmd> {
        self.calls.lock().expect("recording lock").clone()
    }

    /// The recorded commands in their display form, in order.
    pub fn lines(&self) -> Vec<String> {
        self.calls().iter().map(Cmd::display).collect()
    }
}

impl Runner for RecordingRunner {
    fn run(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        self.calls.lock().expect("recording lock").push(cmd.clone());
        Ok(self
            .rules
            .iter()
            .find_map(|rule| rule(cmd))
            .unwrap_or_else(|| Output::ok(Vec::new())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_order_and_answers_by_prefix() {
        let runner =
            RecordingRunner::new().respond("drbdadm dump-md", Output::failed(255, "no metadata"));
        runner
            .run(&Cmd::new("drbdadm").args(["dump-md", "r0"]))
            .unwrap();
        let ok = runner.run(&Cmd::new("true")).unwrap();
        assert!(ok.success());
        assert_eq!(runner.lines(), vec!["drbdadm dump-md r0", "true"]);
        let err = runner
            .run_ok(&Cmd::new("drbdadm").args(["dump-md", "r0"]))
            .unwrap_err();
        assert!(err.to_string().contains("no metadata"));
    }
}
