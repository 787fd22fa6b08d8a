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
    /// Move configured paths onto the replicated disk by symlink, and back.
    ///
    /// Exit codes of status: 0 running, 3 stopped, 1 partly done or unusable.
    Drbdlinks(DrbdlinksArgs),
    /// Health checks for monitoring and ldirectord.
    Probe(ProbeArgs),
    /// Is the cluster healthy? Exit 0 healthy, 1 degraded, 2 down.
    Status(StatusArgs),
    /// Build the apt repository that serves the pbx-cluster packages.
    Repo(RepoArgs),
    /// Show what apply would change on this node; exit 3 when there are changes.
    Plan(PlanArgs),
    /// Bring this node to the profile: packages, files, services, DRBD, engine.
    Apply(ApplyArgs),
    /// Apply, plus the one-time steps of a new cluster; wait until it is healthy.
    Init(InitArgs),
    /// What the other node's key may run here (sshd's forced command): the
    /// profile applied last, or plan/apply of the profile on stdin.
    #[command(hide = true)]
    Peer,
    /// Appliance disk images of cluster nodes.
    #[command(subcommand)]
    Image(Box<ImageCommand>),
    /// Wait until these IPv4 addresses are configured on this host.
    ///
    /// Runs before the engine's units at boot (rendered systemd drop-ins). Exit 0
    /// once all are present, 4 when the timeout passes first.
    WaitAddresses(WaitAddressesArgs),
    /// DRBD's fence-peer handler (drbd.conf `handlers`): Pacemaker, and Heartbeat
    /// with dual-primary DRBD.
    ///
    /// A peer that is still a cluster member is only kept from promotion (a
    /// constraint, exit 4); a peer that left the cluster is fenced through
    /// Pacemaker's fencer first (exit 7). With --dual-primary a peer is always
    /// fenced, never "outdated" (under Heartbeat through this node's
    /// `stonith_host` device in ha.cf). Exit 1 keeps DRBD's I/O frozen: this disk
    /// not UpToDate, no cluster answer, fencing failed. Reads DRBD_RESOURCE,
    /// DRBD_PEERS and DRBD_MINOR from the environment drbdadm gives it.
    DrbdFencePeer(FencePeerArgs),
    /// DRBD's after-resync-target handler: lifts the fence-peer constraint.
    DrbdUnfencePeer(UnfencePeerArgs),
    /// Patch the live CIB of a running Pacemaker cluster with a changed rendered
    /// CIB (what `apply` runs when /etc/pbx-cluster/cib.xml changed).
    ///
    /// Only pbx-cluster's sections change (resources, its constraints, its
    /// properties, rsc_defaults); node entries, status, Pacemaker's own properties
    /// and constraints placed at run time stay. Computed with crm_diff, applied
    /// with cibadmin --patch: a resource whose definition did not change is not
    /// touched. Exit 0 patched or already current, 1 on failure.
    CibUpdate(CibUpdateArgs),
}

#[derive(Debug, clap::Args)]
pub struct CibUpdateArgs {
    /// The rendered CIB.
    #[arg(long, default_value = "/etc/pbx-cluster/cib.xml")]
    pub cib: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct FencePeerArgs {
    /// The cluster engine the handler asks and fences through.
    #[arg(long, value_enum, default_value_t = HandlerEngine::Pacemaker)]
    pub engine: HandlerEngine,
    /// Pacemaker (required there): the promotable clone of the DRBD resource in
    /// the CIB, e.g. drbd-r0-clone.
    #[arg(long)]
    pub clone: Option<String>,
    /// DRBD is Primary on both nodes: never answer "outdated" (a constraint does
    /// not stop a Primary peer from writing); wait for the membership, fence.
    #[arg(long, requires_all = ["survivor", "settle"])]
    pub dual_primary: bool,
    /// With --dual-primary: the node that fences a peer which stays a member.
    #[arg(long)]
    pub survivor: Option<String>,
    /// With --dual-primary: seconds the membership may take to drop a lost peer.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub settle: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct UnfencePeerArgs {
    /// The promotable clone of the DRBD resource in the CIB, e.g. drbd-r0-clone.
    #[arg(long)]
    pub clone: String,
}

#[derive(Debug, clap::Args)]
pub struct WaitAddressesArgs {
    /// The addresses, e.g. 172.30.0.11 10.10.0.11.
    #[arg(required = true)]
    pub addresses: Vec<std::net::Ipv4Addr>,
    /// Seconds to wait before giving up.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub timeout: u64,
}

#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// The cluster profile (TOML).
    pub profile: PathBuf,
    /// This node's name (default: found by hostname or a local address).
    #[arg(long)]
    pub node: Option<String>,
    /// Treat DIR as the node's root: files are read and written under it.
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// Allow DRBD metadata on a backing disk that holds a filesystem or
    /// partition table: its data is destroyed.
    #[arg(long)]
    pub force_wipe_disk: bool,
    /// Go ahead with a change the running cluster cannot take live (a new
    /// corosync or Heartbeat key, DRBD's secret or addresses, corosync's node
    /// addresses): plan names each and what it costs.
    #[arg(long)]
    pub allow_disruption: bool,
    /// Only this node. On a formed cluster plan and apply reach the other node
    /// too (over ssh, as `pbx-cluster peer`); --node limits them to this one as well.
    #[arg(long)]
    pub this_node: bool,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Print the plan as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Only compare files: run no command to probe the node.
    #[arg(long)]
    pub skip_commands: bool,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Write files only; print the commands that would run.
    #[arg(long)]
    pub skip_commands: bool,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// How long to wait for the peer's DRBD connection and cluster membership.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub peer_timeout: std::time::Duration,
    /// How long to wait for the cluster to become healthy at the end.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub healthy_timeout: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HandlerEngine {
    Pacemaker,
    /// Only with --dual-primary: Heartbeat clusters with one Primary use dopd.
    Heartbeat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DrbdlinksAction {
    Start,
    Stop,
    Status,
}

#[derive(Debug, clap::Args)]
pub struct DrbdlinksArgs {
    pub action: DrbdlinksAction,
    /// The drbdlinks configuration (classic syntax).
    #[arg(long, default_value = crate::runtime::drbdlinks::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Act on a tree rooted here instead of / (for tests).
    #[arg(long, env = "PBX_CLUSTER_ROOT", default_value = "/", hide = true)]
    pub root: PathBuf,
    /// Read mounts from this file instead of /proc/self/mountinfo (for tests).
    #[arg(long, env = "PBX_CLUSTER_MOUNTINFO", default_value = crate::runtime::drbdlinks::DEFAULT_MOUNTINFO, hide = true)]
    pub mountinfo: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    #[command(subcommand)]
    pub kind: ProbeKind,
}

#[derive(Debug, Subcommand)]
pub enum ProbeKind {
    /// Send SIP OPTIONS and wait for the matching final response.
    ///
    /// Prints the status line and round-trip time on stdout. Exit 0 when every
    /// request got an accepted final response, 1 otherwise (timeout, garbage, a
    /// response not in --accept).
    Sip(SipProbeArgs),
}

#[derive(Debug, clap::Args)]
pub struct SipProbeArgs {
    /// HOST, HOST:PORT or [IPv6]:PORT; the port defaults to 5060.
    pub target: crate::runtime::sip_probe::Target,
    #[arg(long, value_enum, default_value = "udp")]
    pub transport: crate::runtime::sip_probe::Transport,
    /// Milliseconds to wait for each final response.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub timeout: u64,
    /// Requests to send, one after the other.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub count: u32,
    /// Final responses that count as alive: `any`, classes like `2xx`, codes like
    /// `404`, comma separated. A live server that requires authentication answers
    /// 401 or 407; one that does not know the URI answers 404.
    #[arg(long, default_value = "2xx")]
    pub accept: crate::runtime::sip_probe::Accept,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print JSON for scripts instead of the table.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum, default_value = "auto")]
    pub engine: crate::runtime::status::EngineChoice,
    /// Do not probe the virtual IP with SIP OPTIONS.
    #[arg(long)]
    pub no_sip: bool,
    #[arg(long, default_value_t = 5060)]
    pub sip_port: u16,
    #[arg(long, value_enum, default_value = "udp")]
    pub sip_transport: crate::runtime::sip_probe::Transport,
    /// Milliseconds the SIP probe waits.
    #[arg(long, default_value_t = 2000)]
    pub sip_timeout: u64,
    /// Final responses that mean "Asterisk is alive" (see `probe sip --accept`).
    #[arg(long, default_value = "2xx,401,403,404,407")]
    pub sip_accept: crate::runtime::sip_probe::Accept,
    /// Do not ask the other node (over ssh) which profile it applied last.
    #[arg(long)]
    pub no_peer: bool,
    /// Read DRBD 8.4 state from here (for tests).
    #[arg(long, default_value = "/proc/drbd", hide = true)]
    pub proc_drbd: PathBuf,
    /// Heartbeat's resource groups (for tests).
    #[arg(long, default_value = "/etc/ha.d/haresources", hide = true)]
    pub haresources: PathBuf,
    /// This node's name is read from here (for tests).
    #[arg(long, default_value = "/proc/sys/kernel/hostname", hide = true)]
    pub hostname_file: PathBuf,
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
    /// Copy a local file into the image: SRC:DEST with DEST absolute, e.g. a
    /// site fence agent to /usr/sbin/fence_site; mode 0755 when SRC is
    /// executable, else 0644. Repeatable.
    #[arg(long = "add-file", value_name = "SRC:DEST")]
    pub add_files: Vec<String>,
    /// Start from a published cloud image (http/https URL, qcow2 or raw) instead
    /// of mmdebstrap: downloaded into the cache, verified against its checksum
    /// list, its root unpacked and the stack installed into it. Needs loop devices.
    #[arg(long, value_name = "URL")]
    pub base_image: Option<String>,
    /// The checksum list that vouches for --base-image [default: SHA512SUMS
    /// (Debian) or SHA256SUMS (Ubuntu) beside the image].
    #[arg(long, value_name = "URL", requires = "base_image")]
    pub base_sums: Option<String>,
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
    /// The cluster had `auto_failback off` in ha.cf: keep the group where it runs.
    #[arg(long)]
    pub no_auto_failback: bool,
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
