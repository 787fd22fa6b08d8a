//! Apply: carries a plan out, step by step, in order.
//!
//! Files are written atomically with the old one kept under
//! /var/lib/pbx-cluster/backup/RUN/; commands go through the runner. A failure
//! stops the run with the step, the command's error, what was already done and
//! how to resume (run the same command again: every step re-checks).

pub mod init;
pub mod peer;

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::output::Reporter;
use crate::plan::{Action, Plan, Step};

pub const BACKUP_DIR: &str = "/var/lib/pbx-cluster/backup";
pub const LOG_FILE: &str = "/var/log/pbx-cluster.log";

pub struct Applier<'a> {
    pub root: PathBuf,
    /// `None`: write files only, and report the commands that would run.
    pub runner: Option<&'a dyn Runner>,
    pub reporter: &'a Reporter,
    /// Names this run's backup folder.
    pub run_id: String,
}

/// What a run did, for the summary and the tests.
#[derive(Debug, Default)]
pub struct Outcome {
    pub files_written: Vec<String>,
    pub commands_run: Vec<String>,
    pub commands_skipped: Vec<String>,
    pub backups: Vec<PathBuf>,
}

impl<'a> Applier<'a> {
    pub fn new(root: &Path, runner: Option<&'a dyn Runner>, reporter: &'a Reporter) -> Self {
        let run_id = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            .to_string()
            .replace(':', "");
        Applier {
            root: root.to_path_buf(),
            runner,
            reporter,
            run_id,
        }
    }

    fn under_root(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    pub fn apply(&self, plan: &Plan) -> Result<Outcome> {
        let mut out = Outcome::default();
        for step in &plan.steps {
            let progress = self.reporter.step(&step.summary);
            match self.apply_step(step, &mut out) {
                Ok(()) => {
                    progress.done();
                }
                Err(e) => {
                    progress.failed();
                    return Err(Error::Step {
                        step: step.summary.clone(),
                        note: resume_note(&out),
                        source: Box::new(e),
                    });
                }
            }
        }
        Ok(out)
    }

    fn apply_step(&self, step: &Step, out: &mut Outcome) -> Result<()> {
        match &step.action {
            Action::WriteFile {
                path,
                contents,
                mode,
                owner,
                group,
                ..
            } => {
                let dest = self.under_root(path);
                if dest.exists() {
                    let backup = self
                        .under_root(BACKUP_DIR)
                        .join(&self.run_id)
                        .join(path.trim_start_matches('/'));
                    let old =
                        std::fs::read(&dest).map_err(|e| Error::io("cannot read", &dest, e))?;
                    // The backup may hold a secret: owner-only, whatever the original mode.
                    crate::fsutil::write_atomic(&backup, &old, 0o600)
                        .map_err(|e| Error::io("cannot back up to", &backup, e))?;
                    out.backups.push(backup);
                }
                crate::fsutil::write_atomic(&dest, contents, mode.0)
                    .map_err(|e| Error::io("cannot write", &dest, e))?;
                self.set_owner(&dest, owner, group)?;
                out.files_written.push(path.clone());
            }
            Action::Run { commands } => {
                for cmd in commands {
                    match self.runner {
                        Some(r) => {
                            self.reporter.line(&format!("  $ {cmd}"));
                            r.run_ok(cmd)?;
                            out.commands_run.push(cmd.display());
                        }
                        None => {
                            self.reporter.line(&format!("  skipped: {cmd}"));
                            out.commands_skipped.push(cmd.display());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Owner and group by name from the node's own user database (under root).
    fn set_owner(&self, dest: &Path, owner: &str, group: &str) -> Result<()> {
        let uid = lookup_id(&self.under_root("/etc/passwd"), owner);
        let gid = lookup_id(&self.under_root("/etc/group"), group);
        if owner != "root" && uid.is_none() || group != "root" && gid.is_none() {
            self.reporter.line(&format!(
                "  note: {owner}:{group} unknown on this node; {} stays root-owned until it exists",
                dest.display()
            ));
        }
        let uid = uid.or((owner == "root").then_some(0));
        let gid = gid.or((group == "root").then_some(0));
        // Only root may give files away; an unprivileged --root run keeps its own.
        let is_root = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
        if is_root {
            chown(dest, uid, gid).map_err(|e| Error::io("cannot set the owner of", dest, e))?;
        }
        Ok(())
    }
}

/// The numeric id of `name` in a passwd or group file.
fn lookup_id(file: &Path, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
    })
}

fn resume_note(out: &Outcome) -> String {
    let mut note = String::new();
    if out.files_written.is_empty() && out.commands_run.is_empty() {
        note.push_str("nothing was changed before this step");
    } else {
        note.push_str(&format!(
            "already done: {} file(s) written{}, {} command(s) run",
            out.files_written.len(),
            if out.backups.is_empty() {
                String::new()
            } else {
                format!(" (old versions kept under {BACKUP_DIR})")
            },
            out.commands_run.len()
        ));
    }
    note.push_str(
        "; fix the cause and run the same command again: it resumes where this run stopped",
    );
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_ids_in_the_nodes_database() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("group");
        std::fs::write(&p, "root:x:0:\nasterisk:x:117:\n").unwrap();
        assert_eq!(lookup_id(&p, "asterisk"), Some(117));
        assert_eq!(lookup_id(&p, "nobody"), None);
    }
}
