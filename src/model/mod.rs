//! The validated cluster model: what every later stage works on.
//!
//! Input: a `RawProfile` (see `profile`). Output: a `Model` whose invariants hold:
//! exactly two nodes with distinct names and addresses inside their networks, one
//! preferred node, a virtual IP inside the frontend network, a resolved secret, and
//! engine/mode choices that work together. Built only by `validate::build`.

mod secret;
pub mod validate;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::Ipv4Net;
use serde::Serialize;

pub use secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// Corosync 3 + Pacemaker.
    Pacemaker,
    /// Heartbeat 3 in haresources mode (no CRM).
    Heartbeat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    ActivePassive,
    LoadBalanced,
}

impl Engine {
    /// Every engine by its profile name (cluster.engine).
    pub const ALL: [(&'static str, Engine); 2] = [
        ("pacemaker", Engine::Pacemaker),
        ("heartbeat", Engine::Heartbeat),
    ];
}

impl Mode {
    /// Every mode by its profile name (cluster.mode).
    pub const ALL: [(&'static str, Mode); 2] = [
        ("active-passive", Mode::ActivePassive),
        ("load-balanced", Mode::LoadBalanced),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Distro {
    #[serde(rename = "ubuntu-24.04")]
    Ubuntu2404,
    #[serde(rename = "debian-12")]
    Debian12,
    #[serde(rename = "debian-13")]
    Debian13,
    #[serde(rename = "debian-sid")]
    DebianSid,
}

impl Distro {
    pub const ALL: [(&'static str, Distro); 4] = [
        ("ubuntu-24.04", Distro::Ubuntu2404),
        ("debian-12", Distro::Debian12),
        ("debian-13", Distro::Debian13),
        ("debian-sid", Distro::DebianSid),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, d)| *d == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// Where this distro's server for a database `service` keeps its data (the
    /// package's default), None for a service that is no database.
    pub fn database_data_dir(self, service: &str) -> Option<&'static str> {
        match (service, self) {
            // Seen in the paired VMs: Debian sid's MariaDB 11.8 keeps its data in
            // /var/lib/mariadb (InnoDB's buffer pool file is there).
            ("mysql" | "mariadb", Distro::DebianSid) => Some("/var/lib/mariadb"),
            ("mysql" | "mariadb", _) => Some("/var/lib/mysql"),
            ("postgresql", _) => Some("/var/lib/postgresql"),
            _ => None,
        }
    }

    pub fn is_ubuntu(self) -> bool {
        matches!(self, Distro::Ubuntu2404)
    }

    /// The apt suite (codename) of the distribution.
    pub fn suite(self) -> &'static str {
        match self {
            Distro::Ubuntu2404 => "noble",
            Distro::Debian12 => "bookworm",
            Distro::Debian13 => "trixie",
            Distro::DebianSid => "sid",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DrbdModule {
    /// The in-tree 8.4 module of Ubuntu and Debian kernels (driven by drbdadm-84).
    #[serde(rename = "8.4")]
    V84,
    /// LINBIT's out-of-tree DRBD 9 module.
    #[serde(rename = "9")]
    V9,
}

#[derive(Debug, Clone, Serialize)]
pub struct Nic {
    pub address: Ipv4Addr,
    pub interface: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub name: String,
    pub preferred: bool,
    pub frontend: Nic,
    pub heartbeat: Nic,
    pub drbd_disk: String,
    pub drbd_module: DrbdModule,
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub frontend: Ipv4Net,
    pub virtual_ip: Ipv4Addr,
    pub heartbeat: Ipv4Net,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// ha.cf `bcast IFACE`: the reference setup.
    Broadcast,
    /// ha.cf `ucast IFACE PEER`: for networks that drop broadcasts.
    Unicast,
}

/// A network that membership heartbeats travel on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Link {
    Frontend,
    Heartbeat,
}

#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    pub keepalive: Duration,
    pub warntime: Duration,
    pub deadtime: Duration,
    pub initdead: Duration,
    pub udp_port: u16,
    pub auto_failback: bool,
    pub transport: Transport,
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthAlgorithm {
    Sha1,
    Md5,
    Crc,
}

impl AuthAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            AuthAlgorithm::Sha1 => "sha1",
            AuthAlgorithm::Md5 => "md5",
            AuthAlgorithm::Crc => "crc",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Auth {
    pub algorithm: AuthAlgorithm,
    #[serde(skip)]
    pub secret: Secret,
    /// Where the secret came from when the profile names a file.
    #[serde(skip)]
    pub secret_file: Option<SecretFile>,
}

/// auth.secret-file: as the profile writes it (relative paths start at the
/// profile's folder) and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFile {
    pub written: String,
    pub path: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Protocol {
    A,
    B,
    C,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filesystem {
    Xfs,
    Ext4,
    Ocfs2,
}

impl Filesystem {
    pub fn name(self) -> &'static str {
        match self {
            Filesystem::Xfs => "xfs",
            Filesystem::Ext4 => "ext4",
            Filesystem::Ocfs2 => "ocfs2",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Storage {
    pub resource: String,
    pub device: String,
    /// Minor number of the device (/dev/drbdN).
    pub minor: u32,
    pub port: u16,
    pub protocol: Protocol,
    /// As drbd.conf writes it, e.g. `10M`.
    pub sync_rate: String,
    pub filesystem: Filesystem,
    pub mount_point: PathBuf,
    pub links: Vec<PathBuf>,
    /// DRBD's keep-alive on an idle link: after a hard kill the survivor's DRBD
    /// notices only at its next ping, and cannot be promoted before that.
    pub ping_interval: Duration,
    /// How long DRBD waits for the keep-alive's answer.
    pub ping_timeout: Duration,
}

impl Storage {
    /// The longest a Secondary can take to notice a peer that died: one idle
    /// interval plus the wait for the answer.
    pub fn peer_loss_detection(&self) -> Duration {
        self.ping_interval + self.ping_timeout
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FenceDevice {
    /// The node this device powers off.
    pub node: String,
    pub params: Vec<(String, String)>,
    pub heartbeat_args: Vec<String>,
}

/// The interface an engine drives a fence device through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceInterface {
    /// A fence-agents program (fence_ipmilan, ...) with named parameters per node,
    /// from a package of the distro.
    FenceAgent,
    /// A cluster-glue STONITH plugin (external/ipmi, ...) with positional
    /// arguments per node; the plugins come with the engine.
    StonithPlugin,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fencing {
    None,
    Agent {
        agent: String,
        heartbeat_plugin: Option<String>,
        /// What the node installs for the agent (empty: it comes from elsewhere).
        packages: Vec<String>,
        devices: Vec<FenceDevice>,
    },
}

impl Fencing {
    pub fn enabled(&self) -> bool {
        !matches!(self, Fencing::None)
    }

    pub fn packages(&self) -> &[String] {
        match self {
            Fencing::None => &[],
            Fencing::Agent { packages, .. } => packages,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpProto {
    Udp,
    Tcp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthCheck {
    /// SIP OPTIONS through `pbx-cluster probe sip`.
    Sip,
    /// HTTP GET of `/`.
    Http,
    /// A TCP connect.
    Connect,
    /// No check: the real server is always in the pool.
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct LbService {
    pub name: String,
    pub protocol: IpProto,
    pub port: u16,
    pub check: HealthCheck,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadBalancing {
    pub scheduler: String,
    pub check_interval: Duration,
    pub check_timeout: Duration,
    pub services: Vec<LbService>,
    pub ocfs2_cluster: String,
    pub ocfs2_port: u16,
    pub dundi_context: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Extension {
    pub number: String,
    pub name: String,
    #[serde(skip)]
    pub secret: Secret,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pbx {
    pub context: String,
    pub sip_port: u16,
    pub extensions: Vec<Extension>,
    /// Load every Asterisk module (for hand-written additions to /etc/asterisk),
    /// not only those the rendered files use.
    pub all_modules: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub name: String,
    pub engine: Engine,
    pub mode: Mode,
    pub distro: Distro,
    /// Exactly two, in profile order.
    pub nodes: [Node; 2],
    pub network: Network,
    pub membership: Membership,
    pub auth: Auth,
    pub storage: Storage,
    /// The resource group's services in start order, as the distro's unit names.
    pub services: Vec<String>,
    pub fencing: Fencing,
    pub load_balancing: Option<LoadBalancing>,
    pub pbx: Pbx,
}

impl Model {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn preferred(&self) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.preferred)
            .unwrap_or(&self.nodes[0])
    }

    /// The other node of the pair.
    pub fn peer_of(&self, name: &str) -> &Node {
        if self.nodes[0].name == name {
            &self.nodes[1]
        } else {
            &self.nodes[0]
        }
    }

    pub fn node_names(&self) -> Vec<&str> {
        self.nodes.iter().map(|n| n.name.as_str()).collect()
    }

    pub fn frontend_prefix(&self) -> u8 {
        self.network.frontend.prefix_len()
    }
}
