//! One module per subcommand; `run` dispatches.

mod image;
mod validate;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::error::Result;

/// Runs a parsed command line; the exit code of success is the command's choice
/// (e.g. `plan` exits 3 when it found changes).
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate::run(&args, cli.quiet),
        Command::Image(cmd) => image::run(&cmd, cli.quiet),
        Command::Render(_) | Command::Haresources2cib(_) => Err(crate::error::Error::other(
            "not available in this build",
            "",
        )),
    }
}
