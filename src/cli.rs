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
    /// Appliance disk images of cluster nodes.
    #[command(subcommand)]
    Image(Box<ImageCommand>),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build a bootable qcow2 of one node, with kernel, initrd and a JSON manifest.
    Build(ImageBuildArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImageBuildArgs {
    /// The cluster profile (TOML); copied into the image as /etc/pbx-cluster/cluster.toml.
    pub profile: PathBuf,
    /// Build the image of this node.
    #[arg(long)]
    pub node: String,
    /// Output folder: NODE.qcow2, NODE.vmlinuz, NODE.initrd.img, NODE.json.
    #[arg(long)]
    pub out: PathBuf,
    /// A local apt repository holding pbx-cluster (from `pbx-cluster repo build`).
    #[arg(long, conflicts_with = "binary")]
    pub repo: Option<PathBuf>,
    /// Without a repository: copy this pbx-cluster binary to /usr/sbin.
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// The node meta-package from --repo, instead of the built-in stack list.
    #[arg(long)]
    pub meta_package: Option<String>,
    /// apt mirror [default: Ubuntu's archive or deb.debian.org, by distro].
    #[arg(long)]
    pub mirror: Option<String>,
    /// apt suite [default: the profile distro's codename].
    #[arg(long)]
    pub suite: Option<String>,
    /// apt components, comma-separated [default: main,universe on Ubuntu, main on Debian].
    #[arg(long, value_delimiter = ',')]
    pub components: Vec<String>,
    /// An extra one-line apt source, e.g. "deb http://deb.debian.org/debian sid main";
    /// repeatable. Replaces the default (a low-pinned sid source on Debian 12/13).
    #[arg(long = "extra-source")]
    pub extra_sources: Vec<String>,
    /// No extra apt sources at all.
    #[arg(long, conflicts_with = "extra_sources")]
    pub no_extra_sources: bool,
    /// Another package to install; repeatable.
    #[arg(long = "package")]
    pub packages: Vec<String>,
    /// Keeps downloaded .deb files between builds.
    #[arg(
        long,
        default_value = "/var/cache/pbx-cluster/image",
        env = "PBX_CLUSTER_IMAGE_CACHE"
    )]
    pub cache_dir: PathBuf,
    /// Disk size in MiB (qcow2 stores only what is used).
    #[arg(long, default_value_t = crate::image::spec::DEFAULT_DISK_MIB)]
    pub disk_size: u64,
    /// Test-harness image: a unit that reports boot state and version on the
    /// serial console, timers masked, and --ssh-key for root.
    #[arg(long)]
    pub lab: bool,
    /// A public key file for root's authorized_keys (with --lab).
    #[arg(long, requires = "lab")]
    pub ssh_key: Option<PathBuf>,
    /// Build even if the manifest says nothing changed.
    #[arg(long)]
    pub force: bool,
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
