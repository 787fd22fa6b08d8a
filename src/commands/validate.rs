use std::process::ExitCode;

use crate::cli::ValidateArgs;
use crate::error::Result;
use crate::profile;

pub fn run(args: &ValidateArgs, quiet: bool) -> Result<ExitCode> {
    let loaded = profile::load(&args.profile)?;
    if !quiet {
        eprint!("{}", loaded.warnings);
        let m = &loaded.model;
        eprintln!(
            "{}: valid ({} engine, {} mode, nodes {} and {})",
            args.profile.display(),
            serde_json::to_value(m.engine)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("?"),
            serde_json::to_value(m.mode)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("?"),
            m.nodes[0].name,
            m.nodes[1].name,
        );
    }
    Ok(ExitCode::SUCCESS)
}
