use std::process::ExitCode;

use crate::cli::CibUpdateArgs;
use crate::error::{Error, Result};
use crate::exec::LocalRunner;
use crate::runtime::cib_update::{self, Updated};

pub fn run(args: &CibUpdateArgs, quiet: bool) -> Result<ExitCode> {
    let rendered =
        std::fs::read_to_string(&args.cib).map_err(|e| Error::io("cannot read", &args.cib, e))?;
    // The patch is not printed: the CIB holds the fence devices' passwords.
    let said = match cib_update::update(&LocalRunner, &rendered)? {
        Updated::Unchanged => "the live CIB already has this configuration".to_string(),
        Updated::Patched { patch } => format!(
            "patched the live CIB from {} ({} lines of patch)",
            args.cib.display(),
            patch.lines().count()
        ),
    };
    if !quiet {
        println!("{said}");
    }
    Ok(ExitCode::SUCCESS)
}
