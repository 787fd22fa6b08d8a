//! Command-line interface: one subcommand per module under `commands`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "pbx-cluster", version, about = "Turns two Ubuntu/Debian servers into a highly available Asterisk PBX", long_about = None)]
pub struct Cli {
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a cluster profile; exit 2 with one line per problem.
    Validate(ValidateArgs),
    /// Render every file a node needs, under OUT as under the node's root.
    Render(RenderArgs),
    /// Convert a classic Heartbeat haresources file into a Pacemaker CIB.
    Haresources2cib(Haresources2cibArgs),
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The cluster profile (TOML).
    pub profile: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The cluster profile (TOML).
    pub profile: PathBuf,
    /// Render for this node.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub node: Option<String>,
    /// Render for both nodes, one subfolder per node.
    #[arg(long)]
    pub all: bool,
    /// Output folder; files land at OUT/etc/... as on the node.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct Haresources2cibArgs {
    /// A haresources file (one resource group per line).
    pub haresources: PathBuf,
    /// Write the CIB here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The cluster had `auto_failback off` in ha.cf: keep the group where it runs.
    #[arg(long)]
    pub no_auto_failback: bool,
}
