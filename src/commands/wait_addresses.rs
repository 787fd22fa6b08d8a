use std::process::ExitCode;
use std::time::Duration;

use crate::cli::WaitAddressesArgs;
use crate::error::Result;
use crate::exec::LocalRunner;

pub fn run(args: &WaitAddressesArgs, quiet: bool) -> Result<ExitCode> {
    let what = args
        .addresses
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    crate::runtime::addresses::wait_for(
        &LocalRunner,
        &args.addresses,
        &what,
        Duration::from_secs(args.timeout),
        // Each poll runs `ip`: at 250 ms that cost a slow boot 15 s of CPU in 80 s.
        Duration::from_secs(1),
    )?;
    if !quiet {
        println!("present: {what}");
    }
    Ok(ExitCode::SUCCESS)
}
