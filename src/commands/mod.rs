//! One module per subcommand; `run` dispatches.

mod apply;
mod cib_update;
mod drbdlinks;
mod fence_peer;
mod haresources2cib;
mod image;
mod peer;
mod probe;
mod render;
mod repo;
mod status;
mod validate;
mod wait_addresses;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::error::Result;

/// Runs a parsed command line; the exit code of success is the command's choice
/// (e.g. `plan` exits 3 when it found changes).
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate::run(&args, cli.quiet),
        Command::Render(args) => render::run(&args, cli.quiet),
        Command::Haresources2cib(args) => haresources2cib::run(&args),
        Command::Drbdlinks(args) => drbdlinks::run(&args, cli.quiet),
        Command::Probe(args) => probe::run(&args, cli.quiet),
        Command::Status(args) => status::run(&args),
        Command::Repo(args) => repo::run(&args, cli.quiet),
        Command::Plan(args) => apply::plan(&args, cli.quiet),
        Command::Apply(args) => apply::apply(&args, cli.quiet),
        Command::Init(args) => apply::init(&args, cli.quiet),
        Command::Peer => peer::run(cli.quiet),
        Command::Image(cmd) => image::run(&cmd, cli.quiet),
        Command::WaitAddresses(args) => wait_addresses::run(&args, cli.quiet),
        Command::DrbdFencePeer(args) => fence_peer::fence(&args),
        Command::DrbdUnfencePeer(args) => fence_peer::unfence(&args),
        Command::CibUpdate(args) => cib_update::run(&args, cli.quiet),
    }
}
