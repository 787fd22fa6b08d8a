//! The profile exactly as written: serde structs, one per TOML table.
//!
//! Every table denies unknown keys so that a typo is an error. Defaults live in
//! named functions and match the example profile's comments. Nothing here checks
//! relations between fields: that is `model::validate`'s job.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawProfile {
    pub cluster: RawCluster,
    pub network: RawNetwork,
    #[serde(default)]
    pub node: Vec<RawNode>,
    #[serde(default)]
    pub membership: RawMembership,
    pub auth: RawAuth,
    pub storage: RawStorage,
    #[serde(default)]
    pub resources: RawResources,
    #[serde(default)]
    pub fencing: RawFencing,
    pub load_balancing: Option<RawLoadBalancing>,
    #[serde(default)]
    pub pbx: RawPbx,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawCluster {
    pub name: String,
    pub engine: String,
    #[serde(default = "default_mode")]
    pub mode: String,
    #[serde(default = "default_distro")]
    pub distro: String,
}

fn default_mode() -> String {
    "active-passive".into()
}
fn default_distro() -> String {
    "ubuntu-24.04".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawNetwork {
    pub frontend: RawFrontendNet,
    pub heartbeat: RawHeartbeatNet,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawFrontendNet {
    pub cidr: String,
    pub virtual_ip: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawHeartbeatNet {
    pub cidr: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawNode {
    pub name: String,
    #[serde(default)]
    pub preferred: bool,
    pub frontend: RawNic,
    pub heartbeat: RawNic,
    pub drbd_disk: String,
    #[serde(default = "default_drbd_module")]
    pub drbd_module: String,
}

fn default_drbd_module() -> String {
    "8.4".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawNic {
    pub address: String,
    pub interface: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawMembership {
    #[serde(default = "default_keepalive")]
    pub keepalive: String,
    pub warntime: Option<String>,
    #[serde(default = "default_deadtime")]
    pub deadtime: String,
    #[serde(default = "default_initdead")]
    pub initdead: String,
    #[serde(default = "default_udp_port")]
    pub udp_port: i64,
    #[serde(default = "default_true")]
    pub auto_failback: bool,
    #[serde(default = "default_transport")]
    pub transport: String,
    #[serde(default = "default_links")]
    pub links: Vec<String>,
}

impl Default for RawMembership {
    fn default() -> Self {
        RawMembership {
            keepalive: default_keepalive(),
            warntime: None,
            deadtime: default_deadtime(),
            initdead: default_initdead(),
            udp_port: default_udp_port(),
            auto_failback: true,
            transport: default_transport(),
            links: default_links(),
        }
    }
}

fn default_keepalive() -> String {
    "1s".into()
}
fn default_deadtime() -> String {
    "10s".into()
}
fn default_initdead() -> String {
    "80s".into()
}
fn default_udp_port() -> i64 {
    694
}
fn default_true() -> bool {
    true
}
fn default_transport() -> String {
    "broadcast".into()
}
fn default_links() -> Vec<String> {
    vec!["heartbeat".into(), "frontend".into()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawAuth {
    #[serde(default = "default_auth_algorithm")]
    pub algorithm: String,
    pub secret: Option<String>,
    pub secret_file: Option<String>,
}

fn default_auth_algorithm() -> String {
    "sha1".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawStorage {
    #[serde(default = "default_resource")]
    pub resource: String,
    #[serde(default = "default_device")]
    pub device: String,
    #[serde(default = "default_drbd_port")]
    pub port: i64,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    #[serde(default = "default_sync_rate")]
    pub sync_rate: String,
    #[serde(default = "default_filesystem")]
    pub filesystem: String,
    #[serde(default = "default_mount_point")]
    pub mount_point: String,
    #[serde(default = "default_storage_links")]
    pub links: Vec<String>,
    /// DRBD's keep-alive on an idle link (net ping-int); default from the deadtime.
    pub ping_interval: Option<String>,
    /// How long DRBD waits for a keep-alive's answer (net ping-timeout).
    pub ping_timeout: Option<String>,
}

fn default_resource() -> String {
    "r0".into()
}
fn default_device() -> String {
    "/dev/drbd0".into()
}
fn default_drbd_port() -> i64 {
    7788
}
fn default_protocol() -> String {
    "C".into()
}
fn default_sync_rate() -> String {
    "10M".into()
}
fn default_filesystem() -> String {
    "xfs".into()
}
fn default_mount_point() -> String {
    "/mnt/share".into()
}
fn default_storage_links() -> Vec<String> {
    [
        "/etc/asterisk",
        "/var/lib/asterisk",
        "/var/spool/asterisk",
        "/var/lib/mysql",
    ]
    .map(String::from)
    .to_vec()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawResources {
    #[serde(default = "default_services")]
    pub services: Vec<String>,
}

impl Default for RawResources {
    fn default() -> Self {
        RawResources {
            services: default_services(),
        }
    }
}

fn default_services() -> Vec<String> {
    ["mysql", "postfix", "asterisk", "apache2"]
        .map(String::from)
        .to_vec()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawFencing {
    #[serde(default = "default_fence_agent")]
    pub agent: String,
    /// cluster-glue STONITH plugin for the heartbeat engine (ha.cf stonith_host).
    pub heartbeat_plugin: Option<String>,
    /// Packages that provide the agent; unset: derived from agent and distro.
    pub packages: Option<Vec<String>>,
    #[serde(default)]
    pub nodes: BTreeMap<String, RawFenceDevice>,
}

impl Default for RawFencing {
    fn default() -> Self {
        RawFencing {
            agent: default_fence_agent(),
            heartbeat_plugin: None,
            packages: None,
            nodes: BTreeMap::new(),
        }
    }
}

fn default_fence_agent() -> String {
    "none".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawFenceDevice {
    /// Parameters of the fence agent for the device that powers this node off.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The plugin's parameters in its own order, for ha.cf's stonith_host line.
    #[serde(default)]
    pub heartbeat_args: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawLoadBalancing {
    #[serde(default = "default_scheduler")]
    pub scheduler: String,
    #[serde(default = "default_check_interval")]
    pub check_interval: String,
    #[serde(default = "default_check_timeout")]
    pub check_timeout: String,
    #[serde(default = "default_lb_services")]
    pub service: Vec<RawLbService>,
    #[serde(default = "default_ocfs2_cluster")]
    pub ocfs2_cluster: String,
    #[serde(default = "default_ocfs2_port")]
    pub ocfs2_port: i64,
    #[serde(default = "default_dundi_context")]
    pub dundi_context: String,
}

fn default_scheduler() -> String {
    "wlc".into()
}
fn default_check_interval() -> String {
    "5s".into()
}
fn default_check_timeout() -> String {
    "3s".into()
}
fn default_ocfs2_cluster() -> String {
    "ocfs2".into()
}
fn default_ocfs2_port() -> i64 {
    7777
}
fn default_dundi_context() -> String {
    "priv".into()
}
fn default_lb_services() -> Vec<RawLbService> {
    vec![
        RawLbService {
            name: "sip".into(),
            protocol: "udp".into(),
            port: 5060,
            check: "sip".into(),
        },
        RawLbService {
            name: "http".into(),
            protocol: "tcp".into(),
            port: 80,
            check: "http".into(),
        },
    ]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawLbService {
    pub name: String,
    pub protocol: String,
    pub port: i64,
    #[serde(default = "default_check")]
    pub check: String,
}

fn default_check() -> String {
    "connect".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawPbx {
    #[serde(default = "default_context")]
    pub context: String,
    #[serde(default = "default_sip_port")]
    pub sip_port: i64,
    #[serde(default)]
    pub extension: Vec<RawExtension>,
    #[serde(default)]
    pub all_modules: bool,
}

impl Default for RawPbx {
    fn default() -> Self {
        RawPbx {
            context: default_context(),
            sip_port: default_sip_port(),
            extension: Vec::new(),
            all_modules: false,
        }
    }
}

fn default_context() -> String {
    "internal".into()
}
fn default_sip_port() -> i64 {
    5060
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawExtension {
    pub number: String,
    pub name: String,
    pub secret: String,
}
