use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = pbx_cluster::cli::Cli::parse();
    match pbx_cluster::run(cli) {
        Ok(code) => code,
        Err(err) => {
            pbx_cluster::error::print(&err);
            err.exit_code().into()
        }
    }
}
