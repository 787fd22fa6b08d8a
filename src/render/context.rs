//! The typed context every template gets, built from the model for one node.
//! Values are pre-formatted for the files (ha.cf durations, ring addresses), so
//! the templates hold layout and no logic beyond loops and switches.

use serde::Serialize;

use super::cib::{self, Cib};
use super::keys;
use crate::mode::Moves;
use crate::model::validate::fmt_duration;
use crate::model::{Fencing, HealthCheck, IpProto, Link, Model, Node, Transport};

#[derive(Debug, Serialize)]
pub struct Context {
    pub cluster: String,
    pub node: NodeCtx,
    pub peer: NodeCtx,
    pub nodes: Vec<NodeCtx>,
    pub preferred: String,
    pub vip: String,
    pub membership: MembershipCtx,
    pub heartbeat: HeartbeatCtx,
    pub corosync: CorosyncCtx,
    pub auth: AuthCtx,
    pub drbd: DrbdCtx,
    pub fencing: FencingCtx,
    pub lb: Option<LbCtx>,
    pub ocfs2: Ocfs2Ctx,
    pub pbx: PbxCtx,
    pub cib: Option<Cib>,
}

#[derive(Debug, Serialize, Clone)]
pub struct NodeCtx {
    pub name: String,
    pub preferred: bool,
    pub frontend_address: String,
    pub frontend_interface: String,
    pub heartbeat_address: String,
    pub heartbeat_interface: String,
    /// DUNDi entity ID: a locally administered MAC-style ID derived from the name.
    pub dundi_eid: String,
}

#[derive(Debug, Serialize)]
pub struct MembershipCtx {
    pub keepalive: String,
    pub warntime: String,
    pub deadtime: String,
    pub initdead: String,
    pub token_ms: u128,
    /// corosync's consensus: half the token (two nodes).
    pub consensus_ms: u128,
    pub udp_port: u16,
    pub auto_failback: bool,
}

#[derive(Debug, Serialize)]
pub struct HeartbeatCtx {
    /// ha.cf lines that say where heartbeats travel (`bcast eth1 eth0`, `ucast ...`).
    pub links: Vec<String>,
    /// The haresources group, left to right.
    pub group: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CorosyncCtx {
    pub links: Vec<String>,
    pub nodes: Vec<CorosyncNode>,
}

#[derive(Debug, Serialize)]
pub struct CorosyncNode {
    pub name: String,
    pub nodeid: usize,
    pub addrs: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct AuthCtx {
    pub algorithm: &'static str,
    pub secret: String,
}

#[derive(Debug, Serialize)]
pub struct DrbdHost {
    pub name: String,
    pub node_id: usize,
    pub disk: String,
    pub address: String,
}

#[derive(Debug, Serialize)]
pub struct DrbdCtx {
    pub resource: String,
    pub device: String,
    pub port: u16,
    pub protocol: String,
    pub sync_rate: String,
    /// net ping-int, seconds.
    pub ping_int: u64,
    /// net ping-timeout, tenths of a second.
    pub ping_timeout: u128,
    /// net timeout, tenths of a second: DRBD wants it below ping-int.
    pub timeout: u128,
    pub filesystem: &'static str,
    pub mount_point: String,
    pub links: Vec<String>,
    pub shared_secret: String,
    pub dual_primary: bool,
    pub fencing: Option<crate::engine::DrbdFencing>,
    pub hosts: Vec<DrbdHost>,
}

#[derive(Debug, Serialize)]
pub struct FenceDeviceCtx {
    pub node: String,
    /// The node that fences `node` (its peer).
    pub from: String,
    pub heartbeat_args: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct FencingCtx {
    pub enabled: bool,
    pub heartbeat_plugin: String,
    pub devices: Vec<FenceDeviceCtx>,
}

#[derive(Debug, Serialize)]
pub struct LbServiceCtx {
    pub name: String,
    pub protocol: &'static str,
    pub port: u16,
    pub check: &'static str,
}

#[derive(Debug, Serialize)]
pub struct LbCtx {
    pub scheduler: String,
    pub check_interval: u64,
    pub check_timeout: u64,
    /// The SIP check's own wait: three quarters of ldirectord's checktimeout,
    /// which kills a check that outlives it.
    pub probe_timeout_ms: u64,
    pub services: Vec<LbServiceCtx>,
    /// Real servers of ldirectord: both nodes, whichever is the director.
    pub real_servers: Vec<String>,
    /// The group's services that start at boot on both nodes (not the database).
    pub boot_services: Vec<String>,
    /// o2cb's heartbeat threshold and what it means: a peer is dead after
    /// (threshold - 1) x 2 s.
    pub o2cb_threshold: u64,
    pub o2hb_dead_s: u64,
    /// DRBD's time to notice a dead peer (ping-int + ping-timeout), whole seconds.
    pub drbd_detect_s: u64,
    /// o2net's idle timeout, ms.
    pub o2net_idle_ms: u128,
    /// What the o2cb timing allows for the fence of a dead peer, seconds.
    pub fence_allowance_s: u64,
    pub ocfs2_cluster: String,
    pub ocfs2_port: u16,
    pub dundi_context: String,
    pub dundi_key: String,
}

#[derive(Debug, Serialize)]
pub struct Ocfs2Node {
    pub name: String,
    pub number: usize,
    pub address: String,
}

#[derive(Debug, Serialize)]
pub struct Ocfs2Ctx {
    pub nodes: Vec<Ocfs2Node>,
}

#[derive(Debug, Serialize)]
pub struct ExtensionCtx {
    pub number: String,
    pub name: String,
    pub secret: String,
}

#[derive(Debug, Serialize)]
pub struct PbxCtx {
    /// The SIP probe's user, which gets an OPTIONS-only endpoint.
    pub probe_user: &'static str,
    pub context: String,
    pub sip_port: u16,
    pub extensions: Vec<ExtensionCtx>,
    /// modules.conf autoloads every module instead of the list the files use.
    pub all_modules: bool,
}

/// ha.cf and haresources speak whole seconds or `Nms`.
fn hb_duration(d: std::time::Duration) -> String {
    let s = fmt_duration(d);
    s.strip_suffix('s')
        .filter(|n| !n.ends_with('m'))
        .map(str::to_string)
        .unwrap_or(s)
}

/// DRBD's answer wait for a replicated write: its default 6 s, kept below the
/// keep-alive interval as drbd.conf(5) requires.
fn drbd_timeout_tenths(ping_interval: std::time::Duration) -> u128 {
    (ping_interval.as_millis() / 100 - 1).min(60)
}

/// Whole seconds DRBD takes to drop a dead peer.
fn drbd_detect_s(s: &crate::model::Storage) -> u64 {
    s.peer_loss_detection().as_secs_f64().ceil() as u64
}

/// Seconds the membership takes, after noticing a dead peer, to have it fenced
/// (a transition, the fence agent, the device's power-off) while DRBD holds every
/// write (resource-and-stonith). A Pacemaker lab pair under emulation needed more
/// than 12 s in all; with both nodes serving calls the fence took about 20 s, and
/// with 20 s allowed the survivor rebooted itself after the director's death
/// (lb-both, full-3bf4a85): 40 s is the margin on top of the deadtime. The cost:
/// a survivor's writes wait that much longer after its peer dies.
pub const FENCE_ALLOWANCE_S: u64 = 40;

/// o2cb's heartbeat threshold: its dead time, (threshold - 1) x 2 s, must cover
/// DRBD dropping the dead peer, the membership noticing it (the deadtime) and the
/// fence, during all of which the survivor's own heartbeat writes are held; shorter,
/// the survivor fences itself (the lab notes, load-balanced.md; seen again in the
/// paired VMs with 12 s). 7 is o2cb's minimum.
fn o2cb_threshold(drbd_detect_s: u64, deadtime: std::time::Duration) -> u64 {
    let needed = drbd_detect_s + deadtime.as_secs_f64().ceil() as u64 + FENCE_ALLOWANCE_S;
    (needed.div_ceil(2) + 1).max(7)
}

fn dundi_eid(cluster: &str, node: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{cluster}/{node}").as_bytes());
    // 0x02 first: a locally administered unicast ID, never a real NIC's address.
    std::iter::once(0x02u8)
        .chain(digest.into_iter().take(5))
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn node_ctx(model: &Model, n: &Node) -> NodeCtx {
    NodeCtx {
        name: n.name.clone(),
        preferred: n.preferred,
        frontend_address: n.frontend.address.to_string(),
        frontend_interface: n.frontend.interface.clone(),
        heartbeat_address: n.heartbeat.address.to_string(),
        heartbeat_interface: n.heartbeat.interface.clone(),
        dundi_eid: dundi_eid(&model.name, &n.name),
    }
}

fn link_of(n: &Node, l: Link) -> (&str, String) {
    match l {
        Link::Frontend => (&n.frontend.interface, n.frontend.address.to_string()),
        Link::Heartbeat => (&n.heartbeat.interface, n.heartbeat.address.to_string()),
    }
}

pub fn build(model: &Model, node: &Node) -> Context {
    let peer = model.peer_of(&node.name);
    Context {
        cluster: model.name.clone(),
        node: node_ctx(model, node),
        peer: node_ctx(model, peer),
        nodes: model.nodes.iter().map(|n| node_ctx(model, n)).collect(),
        preferred: model.preferred().name.clone(),
        vip: model.network.virtual_ip.to_string(),
        membership: membership_ctx(model),
        heartbeat: heartbeat_ctx(model, node),
        corosync: corosync_ctx(model),
        auth: AuthCtx {
            algorithm: model.auth.algorithm.name(),
            secret: model.auth.secret.expose().to_string(),
        },
        drbd: drbd_ctx(model, node),
        fencing: fencing_ctx(model),
        lb: lb_ctx(model),
        ocfs2: ocfs2_ctx(model),
        pbx: pbx_ctx(model),
        cib: model
            .engine_home()
            .loads_cib()
            .then(|| cib::from_model(model)),
    }
}

fn membership_ctx(model: &Model) -> MembershipCtx {
    let m = &model.membership;
    MembershipCtx {
        keepalive: hb_duration(m.keepalive),
        warntime: hb_duration(m.warntime),
        deadtime: hb_duration(m.deadtime),
        initdead: hb_duration(m.initdead),
        token_ms: m.deadtime.as_millis(),
        consensus_ms: (m.deadtime.as_millis() / 2).max(100),
        udp_port: m.udp_port,
        auto_failback: m.auto_failback,
    }
}

/// ha.cf's links and haresources' group (the resource scripts left to right).
fn heartbeat_ctx(model: &Model, node: &Node) -> HeartbeatCtx {
    let m = &model.membership;
    let s = &model.storage;
    let prefix = model.frontend_prefix();
    let same_nic = model.nodes[0].frontend.interface == model.nodes[1].frontend.interface;
    let vip_res = if same_nic {
        format!(
            "IPaddr2::{}/{prefix}/{}",
            model.network.virtual_ip, node.frontend.interface
        )
    } else {
        format!("IPaddr2::{}/{prefix}", model.network.virtual_ip)
    };

    let hb_links = match m.transport {
        Transport::Broadcast => vec![format!(
            "bcast {}",
            m.links
                .iter()
                .map(|l| link_of(node, *l).0)
                .collect::<Vec<_>>()
                .join(" ")
        )],
        // Both nodes' addresses: heartbeat skips its own, and ha.cf stays identical.
        Transport::Unicast => m
            .links
            .iter()
            .flat_map(|l| {
                model
                    .nodes
                    .iter()
                    .map(move |n| format!("ucast {} {}", link_of(node, *l).0, link_of(n, *l).1))
            })
            .collect(),
    };
    let hb_group = match model.mode_home().moves() {
        Moves::Group => {
            let mut g = vec![
                format!("drbddisk::{}", s.resource),
                format!(
                    "Filesystem::{}::{}::{}",
                    s.device,
                    s.mount_point.display(),
                    s.filesystem.name()
                ),
            ];
            if !s.links.is_empty() {
                g.push("drbdlinks".into());
            }
            g.push(vip_res);
            g.extend(model.services.iter().cloned());
            g
        }
        // Only the director moves; DRBD, OCFS2 and the balanced services run on both.
        Moves::Director => {
            let mut g = vec![vip_res, "ldirectord::ldirectord.cf".to_string()];
            g.extend(
                model
                    .services
                    .iter()
                    .filter(|svc| crate::mode::load_balanced::is_database(svc))
                    .cloned(),
            );
            g
        }
    };

    HeartbeatCtx {
        links: hb_links,
        group: hb_group,
    }
}

fn corosync_ctx(model: &Model) -> CorosyncCtx {
    let m = &model.membership;
    CorosyncCtx {
        links: m
            .links
            .iter()
            .map(|l| format!("{l:?}").to_lowercase())
            .collect(),
        nodes: model
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| CorosyncNode {
                name: n.name.clone(),
                nodeid: i + 1,
                addrs: m.links.iter().map(|l| link_of(n, *l).1).collect(),
            })
            .collect(),
    }
}

fn drbd_ctx(model: &Model, node: &Node) -> DrbdCtx {
    let s = &model.storage;
    let dual_primary = model.mode_home().moves() == Moves::Director;
    let drbd_fencing = model.engine_home().drbd_fencing(model, node, dual_primary);
    DrbdCtx {
        resource: s.resource.clone(),
        device: s.device.clone(),
        port: s.port,
        protocol: format!("{:?}", s.protocol),
        sync_rate: s.sync_rate.clone(),
        ping_int: s.ping_interval.as_secs(),
        ping_timeout: s.ping_timeout.as_millis() / 100,
        timeout: drbd_timeout_tenths(s.ping_interval),
        filesystem: s.filesystem.name(),
        mount_point: s.mount_point.display().to_string(),
        links: s.links.iter().map(|p| p.display().to_string()).collect(),
        shared_secret: keys::drbd_shared_secret(&model.auth.secret),
        dual_primary: model.mode_home().moves() == Moves::Director,
        fencing: drbd_fencing,
        hosts: model
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| DrbdHost {
                name: n.name.clone(),
                node_id: i,
                disk: n.drbd_disk.clone(),
                address: n.heartbeat.address.to_string(),
            })
            .collect(),
    }
}

fn fencing_ctx(model: &Model) -> FencingCtx {
    match &model.fencing {
        Fencing::None => FencingCtx {
            enabled: false,
            heartbeat_plugin: String::new(),
            devices: Vec::new(),
        },
        Fencing::Agent {
            heartbeat_plugin,
            devices,
            ..
        } => FencingCtx {
            enabled: true,
            heartbeat_plugin: heartbeat_plugin.clone().unwrap_or_default(),
            devices: devices
                .iter()
                .map(|d| FenceDeviceCtx {
                    node: d.node.clone(),
                    from: model.peer_of(&d.node).name.clone(),
                    heartbeat_args: d.heartbeat_args.clone(),
                })
                .collect(),
        },
    }
}

/// The load-balanced mode's files (ldirectord, o2cb, DUNDi, the shared unit).
fn lb_ctx(model: &Model) -> Option<LbCtx> {
    let (m, s) = (&model.membership, &model.storage);
    let o2cb_threshold = o2cb_threshold(drbd_detect_s(s), m.deadtime);
    model.load_balancing.as_ref().map(|lb| LbCtx {
        scheduler: lb.scheduler.clone(),
        check_interval: lb.check_interval.as_secs().max(1),
        check_timeout: lb.check_timeout.as_secs().max(1),
        probe_timeout_ms: lb.check_timeout.as_secs().max(1) * 750,
        services: lb
            .services
            .iter()
            .map(|svc| LbServiceCtx {
                name: svc.name.clone(),
                protocol: match svc.protocol {
                    IpProto::Udp => "udp",
                    IpProto::Tcp => "tcp",
                },
                port: svc.port,
                check: match svc.check {
                    HealthCheck::Sip => "sip",
                    HealthCheck::Http => "http",
                    HealthCheck::Connect => "connect",
                    HealthCheck::None => "none",
                },
            })
            .collect(),
        // Streamline: the director balances over both nodes, whichever node it is
        // (after a failover without auto-failback the other node stays director);
        // the health check takes a dead node out.
        real_servers: model
            .nodes
            .iter()
            .map(|n| n.frontend.address.to_string())
            .collect(),
        boot_services: model
            .services
            .iter()
            .filter(|svc| model.mode_home().service_at_boot(model, svc))
            .cloned()
            .collect(),
        o2cb_threshold,
        o2hb_dead_s: (o2cb_threshold - 1) * 2,
        drbd_detect_s: drbd_detect_s(s),
        o2net_idle_ms: m.deadtime.as_millis().max(10_000),
        fence_allowance_s: FENCE_ALLOWANCE_S,
        ocfs2_cluster: lb.ocfs2_cluster.clone(),
        ocfs2_port: lb.ocfs2_port,
        dundi_context: lb.dundi_context.clone(),
        dundi_key: crate::mode::load_balanced::DUNDI_KEY.into(),
    })
}

fn ocfs2_ctx(model: &Model) -> Ocfs2Ctx {
    Ocfs2Ctx {
        nodes: model
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Ocfs2Node {
                name: n.name.clone(),
                number: i,
                address: n.heartbeat.address.to_string(),
            })
            .collect(),
    }
}

fn pbx_ctx(model: &Model) -> PbxCtx {
    PbxCtx {
        probe_user: crate::runtime::sip_probe::PROBE_USER,
        context: model.pbx.context.clone(),
        sip_port: model.pbx.sip_port,
        all_modules: model.pbx.all_modules,
        extensions: model
            .pbx
            .extensions
            .iter()
            .map(|e| ExtensionCtx {
                number: e.number.clone(),
                name: e.name.clone(),
                secret: e.secret.expose().to_string(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_durations_are_seconds_or_ms() {
        assert_eq!(hb_duration(std::time::Duration::from_secs(10)), "10");
        assert_eq!(hb_duration(std::time::Duration::from_millis(500)), "500ms");
        assert_eq!(
            hb_duration(std::time::Duration::from_millis(1500)),
            "1500ms"
        );
    }

    #[test]
    fn drbd_timeout_stays_below_the_ping_interval() {
        use std::time::Duration;
        assert_eq!(drbd_timeout_tenths(Duration::from_secs(1)), 9);
        assert_eq!(drbd_timeout_tenths(Duration::from_secs(2)), 19);
        assert_eq!(drbd_timeout_tenths(Duration::from_secs(10)), 60);
        assert_eq!(drbd_timeout_tenths(Duration::from_secs(120)), 60);
    }

    #[test]
    fn o2cb_outlasts_drbd_and_the_fence() {
        use std::time::Duration;
        for (detect, dead) in [(7, 10), (2, 1), (11, 30), (3, 4)] {
            let t = o2cb_threshold(detect, Duration::from_secs(dead));
            assert!(t >= 7, "{t}");
            let needed = detect + dead + FENCE_ALLOWANCE_S;
            assert!((t - 1) * 2 >= needed, "{detect} {dead} -> {t}");
            assert!((t - 1) * 2 <= needed.max(12) + 1, "no longer than needed");
        }
    }

    #[test]
    fn dundi_eids_are_locally_administered_and_distinct() {
        let a = dundi_eid("pbx", "cl01");
        let b = dundi_eid("pbx", "cl02");
        assert!(a.starts_with("02:"), "{a}");
        assert_eq!(a.len(), 17);
        assert_ne!(a, b);
    }
}
