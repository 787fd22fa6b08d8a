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
    /// Build the apt repository that serves the pbx-cluster packages.
    Repo(RepoArgs),
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
}

#[derive(Debug, clap::Args)]
pub struct RepoArgs {
    #[command(subcommand)]
    pub command: RepoCommand,
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Build an apt repository (pool/, dists/, Release) from a folder of .debs.
    ///
    /// The Release file's Date is SOURCE_DATE_EPOCH when set, so the same .debs
    /// give the same unsigned repository. Prints the Release files and the
    /// exported key on stdout.
    Build(RepoBuildArgs),
}

#[derive(Debug, clap::Args)]
pub struct RepoBuildArgs {
    /// Folder holding the .deb files (not searched recursively).
    #[arg(long, value_name = "DIR")]
    pub debs: PathBuf,
    /// The repository folder; an earlier repository there is replaced.
    #[arg(long, value_name = "REPO")]
    pub out: PathBuf,
    /// Suite (and codename) name, the word after the URI in sources.list.
    #[arg(long, value_name = "NAME", default_value = "stable")]
    pub suite: String,
    /// Sign with this GPG key (from GNUPGHOME) and export its public key as
    /// REPO/pbx-cluster-archive-keyring.gpg for signed-by=.
    #[arg(long, value_name = "KEYID")]
    pub gpg_key: Option<String>,
}
