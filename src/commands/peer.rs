//! `pbx-cluster peer`: sshd runs it for the other node's key (the forced
//! command in root's authorized_keys), whatever that node asked; the request is
//! in SSH_ORIGINAL_COMMAND, the profile on stdin.

use std::io::Read;
use std::process::ExitCode;

use crate::apply::peer::{Bundle, Record, Request};
use crate::cli::{ApplyArgs, NodeArgs, PlanArgs};
use crate::error::{Error, Result};

/// Where a received profile is unpacked (root-only, gone afterwards).
const WORK_DIR: &str = "/run";

pub fn run(quiet: bool) -> Result<ExitCode> {
    let asked = std::env::var("SSH_ORIGINAL_COMMAND").map_err(|_| {
        Error::usage(
            "pbx-cluster peer is run by sshd for the other node's key; SSH_ORIGINAL_COMMAND is not set",
            "run plan or apply on either node: they reach the other node themselves",
        )
    })?;
    let request = Request::parse(&asked)?;
    let allow_disruption = match request {
        Request::Profile => {
            let record = Record::read(std::path::Path::new("/"))?;
            println!(
                "{}",
                serde_json::to_string(&record).expect("a record serializes")
            );
            return Ok(ExitCode::SUCCESS);
        }
        Request::Plan { allow_disruption } | Request::Apply { allow_disruption } => {
            allow_disruption
        }
    };
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| Error::io("cannot read", "stdin", e))?;
    let bundle = Bundle::from_json(&input)?;
    let dir = tempfile::Builder::new()
        .prefix("pbx-cluster-peer-")
        .tempdir_in(WORK_DIR)
        .map_err(|e| Error::io("cannot make a folder in", WORK_DIR, e))?;
    let node = NodeArgs {
        profile: bundle.unpack(dir.path())?,
        node: None,
        root: "/".into(),
        force_wipe_disk: false,
        allow_disruption,
        // The other node asked: it reaches this one, not the reverse.
        this_node: true,
    };
    match request {
        Request::Plan { .. } => super::apply::plan(
            &PlanArgs {
                node,
                json: false,
                skip_commands: false,
            },
            quiet,
        ),
        _ => super::apply::apply(
            &ApplyArgs {
                node,
                skip_commands: false,
            },
            quiet,
        ),
    }
}
