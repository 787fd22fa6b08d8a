use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cli::{RepoArgs, RepoCommand};
use crate::error::{Error, Result};
use crate::exec::LocalRunner;
use crate::package::{Repository, RepositorySpec};

pub fn run(args: &RepoArgs, quiet: bool) -> Result<ExitCode> {
    match &args.command {
        RepoCommand::Build(b) => {
            let spec = RepositorySpec {
                debs: b.debs.clone(),
                out: b.out.clone(),
                suite: b.suite.clone(),
                gpg_key: b.gpg_key.clone(),
                date: release_date()?,
            };
            let repo = Repository::build(&LocalRunner, &spec)?;
            if !quiet {
                eprintln!(
                    "{}: suite {}, {} package(s){}",
                    repo.root.display(),
                    spec.suite,
                    repo.packages.len(),
                    if spec.gpg_key.is_some() {
                        ", signed"
                    } else {
                        ", unsigned"
                    }
                );
                for p in &repo.packages {
                    eprintln!("  {p}");
                }
            }
            for a in &repo.artifacts {
                println!("{}", a.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// SOURCE_DATE_EPOCH (reproducible-builds.org/specs/source-date-epoch) or now.
fn release_date() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse().map_err(|_| {
            Error::usage(
                format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"),
                "set it to an integer such as $(date +%s), or unset it",
            )
        }),
        Err(_) => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)),
    }
}
