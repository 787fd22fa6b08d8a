//! `pbx-vm-tests`: the paired-VM acceptance harness (run it through `vm-tests/run`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = pbx_vm_tests::args::Args::parse();
    pbx_vm_tests::run(args)
}
