//! Raw profile -> model. Collects every problem before failing; each names the
//! field, the offending value and the fix. Positions are filled in by `profile`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use ipnet::Ipv4Net;

use super::*;
use crate::diagnostics::{Diagnostic, Severity};
use crate::raw::*;

/// A secret shorter than this is refused: Heartbeat and corosync keys derive from it.
pub const MIN_SECRET_LEN: usize = 16;
/// SIP passwords are guessed online; refuse the very short ones.
pub const MIN_SIP_SECRET_LEN: usize = 8;
/// Services this tool knows how to hand to the engines; others are allowed, but a
/// name close to one of these is almost surely a typo.
pub const KNOWN_SERVICES: &[&str] = &[
    "mysql",
    "mariadb",
    "postfix",
    "asterisk",
    "apache2",
    "nginx",
    "ldirectord",
    "exim4",
];

struct Checker<'a> {
    out: Vec<Diagnostic>,
    base_dir: &'a Path,
}

impl Checker<'_> {
    fn push(&mut self, severity: Severity, field: &str, message: String, fix: impl Into<String>) {
        self.out.push(Diagnostic {
            severity,
            field: field.to_string(),
            position: None,
            message,
            fix: fix.into(),
        });
    }

    fn err(&mut self, field: &str, message: impl Into<String>, fix: impl Into<String>) {
        self.push(Severity::Error, field, message.into(), fix);
    }

    fn warn(&mut self, field: &str, message: impl Into<String>, fix: impl Into<String>) {
        self.push(Severity::Warning, field, message.into(), fix);
    }

    /// Parses one of a closed set of words, with a "did you mean" for near misses.
    fn choice<T: Copy>(&mut self, field: &str, value: &str, options: &[(&str, T)]) -> Option<T> {
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == value) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let fix = match did_you_mean(value, &names) {
            Some(s) => format!("did you mean \"{s}\"? Allowed: {}", names.join(", ")),
            None => format!("use one of: {}", names.join(", ")),
        };
        self.err(field, format!("unknown value \"{value}\""), fix);
        None
    }

    fn ipv4(&mut self, field: &str, value: &str) -> Option<Ipv4Addr> {
        match value.parse::<Ipv4Addr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err(
                    field,
                    format!("\"{value}\" is not an IPv4 address"),
                    "write a dotted quad such as 192.168.178.3",
                );
                None
            }
        }
    }

    fn cidr(&mut self, field: &str, value: &str) -> Option<Ipv4Net> {
        match value.parse::<Ipv4Net>() {
            Ok(n) if n.network() == n.addr() => Some(n),
            Ok(n) => {
                self.err(
                    field,
                    format!("\"{value}\" has host bits set"),
                    format!("write the network address: {}", n.trunc()),
                );
                Some(n.trunc())
            }
            Err(_) => {
                self.err(
                    field,
                    format!("\"{value}\" is not an IPv4 network in CIDR form"),
                    "write it as ADDRESS/PREFIX, e.g. 192.168.178.0/24",
                );
                None
            }
        }
    }

    fn duration(&mut self, field: &str, value: &str) -> Option<Duration> {
        match humantime::parse_duration(value) {
            Ok(d) if d.is_zero() => {
                self.err(
                    field,
                    "must be longer than zero",
                    "write a duration such as \"1s\" or \"500ms\"",
                );
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                self.err(
                    field,
                    format!("\"{value}\" is not a duration"),
                    "write a number with a unit, e.g. \"1s\", \"500ms\", \"80s\"",
                );
                None
            }
        }
    }

    fn port(&mut self, field: &str, value: i64) -> Option<u16> {
        match u16::try_from(value) {
            Ok(p) if p > 0 => Some(p),
            _ => {
                self.err(
                    field,
                    format!("{value} is not a port number"),
                    "use a number from 1 to 65535",
                );
                None
            }
        }
    }

    fn name(&mut self, field: &str, value: &str, what: &str) -> bool {
        let ok = !value.is_empty()
            && value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !value.starts_with('-');
        if !ok {
            self.err(
                field,
                format!("\"{value}\" is not a valid {what}"),
                "use 1-63 letters, digits, '-' or '_', not starting with '-'",
            );
        }
        ok
    }
}

pub fn did_you_mean<'a>(value: &str, options: &[&'a str]) -> Option<&'a str> {
    options
        .iter()
        .map(|o| (strsim::damerau_levenshtein(value, o), *o))
        .filter(|(d, o)| *d > 0 && *d <= 2.max(o.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

/// What validation asks of the engine and mode homes. The homes work on the
/// model, so the model cannot call them itself: the profile stage passes them in.
pub struct Homes {
    /// How the engine drives a fence device.
    pub fences_through: fn(Engine) -> FenceInterface,
    /// Whether the mode balances load (and so needs [load-balancing]).
    pub balances: fn(Mode) -> bool,
    /// Why the mode needs a fence device (None: it runs without one).
    pub needs_fencing: fn(Mode) -> Option<&'static str>,
    /// What the mode asks of the replicated storage.
    pub storage_rules: fn(Mode, &Storage) -> Vec<Diagnostic>,
}

/// Builds the model, or returns every problem found. Warnings come back with the
/// model so callers can print them.
pub fn build(raw: &RawProfile, base_dir: &Path, homes: &Homes) -> (Option<Model>, Vec<Diagnostic>) {
    let mut c = Checker {
        out: Vec::new(),
        base_dir,
    };
    let model = build_inner(raw, homes, &mut c);
    let has_errors = c.out.iter().any(|d| d.severity == Severity::Error);
    (if has_errors { None } else { model }, c.out)
}

fn build_inner(raw: &RawProfile, homes: &Homes, c: &mut Checker) -> Option<Model> {
    // Cluster.
    c.name("cluster.name", &raw.cluster.name, "cluster name");
    let engine = c.choice("cluster.engine", &raw.cluster.engine, &Engine::ALL);
    let mode = c.choice("cluster.mode", &raw.cluster.mode, &Mode::ALL);
    let distro = c.choice("cluster.distro", &raw.cluster.distro, &Distro::ALL);

    // Networks.
    let fe_net = c.cidr("network.frontend.cidr", &raw.network.frontend.cidr);
    let hb_net = c.cidr("network.heartbeat.cidr", &raw.network.heartbeat.cidr);
    let vip = c.ipv4(
        "network.frontend.virtual-ip",
        &raw.network.frontend.virtual_ip,
    );
    if let (Some(fe), Some(hb)) = (fe_net, hb_net) {
        if fe.contains(&hb.network()) || hb.contains(&fe.network()) {
            c.err(
                "network.heartbeat.cidr",
                format!("{hb} overlaps the frontend network {fe}"),
                "give the heartbeat link its own network, e.g. 10.0.0.0/24",
            );
        }
    }
    if let (Some(fe), Some(vip)) = (fe_net, vip) {
        check_host_in(
            "network.frontend.virtual-ip",
            vip,
            fe,
            "network.frontend.cidr",
            c,
        );
    }

    let nodes = build_nodes(raw, fe_net, hb_net, vip, c);
    let membership = build_membership(&raw.membership, c);
    let auth = build_auth(&raw.auth, c);
    let storage = build_storage(&raw.storage, membership.as_ref().map(|m| m.deadtime), c);
    let services = build_services(&raw.resources.services, c);
    let fence = engine.map(homes.fences_through);
    let fencing = build_fencing(&raw.fencing, fence, distro, &raw.node, c);
    if let (Some(Fencing::None), Some(why)) = (&fencing, mode.and_then(homes.needs_fencing)) {
        // The mode's error replaces build_fencing's warning about the same key.
        c.out
            .retain(|d| !(d.field == "fencing.agent" && d.severity == Severity::Warning));
        c.err(
            "fencing.agent",
            why,
            "configure the fence device of each node: agent = \"fence_ipmilan\" with [fencing.nodes.NAME] (Pacemaker), or heartbeat-plugin and heartbeat-args (Heartbeat)",
        );
    }
    let load_balancing = build_load_balancing(
        raw,
        mode.map(homes.balances),
        membership.as_ref().map(|m| m.deadtime),
        c,
    );
    let pbx = build_pbx(&raw.pbx, c);

    if let (Some(mode), Some(s)) = (mode, &storage) {
        c.out.extend((homes.storage_rules)(mode, s));
    }
    if let (Some(d), Some(s), Some(svcs)) = (distro, &storage, &services) {
        database_data_rule(d, s, svcs, c);
    }

    Some(Model {
        name: raw.cluster.name.clone(),
        engine: engine?,
        mode: mode?,
        distro: distro?,
        nodes: nodes?,
        network: Network {
            frontend: fe_net?,
            virtual_ip: vip?,
            heartbeat: hb_net?,
        },
        membership: membership?,
        auth: auth?,
        storage: storage?,
        // Units as the distro names them: Debian's MySQL is MariaDB, whose unit and
        // init script are `mariadb` (`mysql` is only an alias, gone once disabled).
        services: {
            let debian = !distro?.is_ubuntu();
            services?
                .into_iter()
                .map(|svc| {
                    if debian && svc == "mysql" {
                        "mariadb".to_string()
                    } else {
                        svc
                    }
                })
                .collect()
        },
        fencing: fencing?,
        load_balancing: load_balancing?,
        pbx: pbx?,
    })
}

fn check_host_in(field: &str, addr: Ipv4Addr, net: Ipv4Net, net_field: &str, c: &mut Checker) {
    if !net.contains(&addr) {
        c.err(
            field,
            format!("{addr} is outside the network {net}"),
            format!("use an address inside {net}, or change {net_field}"),
        );
    } else if net.prefix_len() < 31 && (addr == net.network() || addr == net.broadcast()) {
        c.err(
            field,
            format!("{addr} is the network or broadcast address of {net}"),
            "use a host address",
        );
    }
}

fn build_nodes(
    raw: &RawProfile,
    fe: Option<Ipv4Net>,
    hb: Option<Ipv4Net>,
    vip: Option<Ipv4Addr>,
    c: &mut Checker,
) -> Option<[Node; 2]> {
    if raw.node.len() != 2 {
        c.err(
            "node",
            format!(
                "the profile has {} [[node]] tables; a cluster has exactly two",
                raw.node.len()
            ),
            "write one [[node]] table for each of the two servers",
        );
    }
    let mut nodes = Vec::new();
    for (i, n) in raw.node.iter().enumerate() {
        let f = |k: &str| format!("node[{i}].{k}");
        c.name(
            &f("name"),
            &n.name,
            "node name (it must match the server's hostname)",
        );
        let fe_addr = c.ipv4(&f("frontend.address"), &n.frontend.address);
        let hb_addr = c.ipv4(&f("heartbeat.address"), &n.heartbeat.address);
        if let (Some(a), Some(net)) = (fe_addr, fe) {
            check_host_in(&f("frontend.address"), a, net, "network.frontend.cidr", c);
        }
        if let (Some(a), Some(net)) = (hb_addr, hb) {
            check_host_in(&f("heartbeat.address"), a, net, "network.heartbeat.cidr", c);
        }
        if let (Some(a), Some(v)) = (fe_addr, vip) {
            if a == v {
                c.err(
                    "network.frontend.virtual-ip",
                    format!("{v} is also node {}'s own address", n.name),
                    "pick a free address for the virtual IP",
                );
            }
        }
        for (k, iface) in [
            ("frontend.interface", &n.frontend.interface),
            ("heartbeat.interface", &n.heartbeat.interface),
        ] {
            let ok = !iface.is_empty()
                && iface.len() <= 15
                && iface
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.@".contains(ch));
            if !ok {
                c.err(
                    &f(k),
                    format!("\"{iface}\" is not a network interface name"),
                    "use the kernel's name, e.g. eth0 or enp1s0 (15 characters at most)",
                );
            }
        }
        if n.frontend.interface == n.heartbeat.interface {
            c.err(&f("heartbeat.interface"), format!("the heartbeat link uses the same interface ({}) as the frontend", n.heartbeat.interface), "use the second NIC: two links keep a single cable fault from splitting the cluster");
        }
        if !n.drbd_disk.starts_with("/dev/") || !is_plain_path(&n.drbd_disk) {
            c.err(
                &f("drbd-disk"),
                format!("\"{}\" is not a block device path", n.drbd_disk),
                "name the backing partition or disk, e.g. /dev/sdb1 or /dev/vdb",
            );
        }
        let module = c.choice(
            &f("drbd-module"),
            &n.drbd_module,
            &[("8.4", DrbdModule::V84), ("9", DrbdModule::V9)],
        );
        if let (Some(fe_addr), Some(hb_addr), Some(module)) = (fe_addr, hb_addr, module) {
            nodes.push(Node {
                name: n.name.clone(),
                preferred: n.preferred,
                frontend: Nic {
                    address: fe_addr,
                    interface: n.frontend.interface.clone(),
                },
                heartbeat: Nic {
                    address: hb_addr,
                    interface: n.heartbeat.interface.clone(),
                },
                drbd_disk: n.drbd_disk.clone(),
                drbd_module: module,
            });
        }
    }
    if raw.node.len() == 2 {
        let (a, b) = (&raw.node[0], &raw.node[1]);
        if a.name == b.name {
            c.err(
                "node[1].name",
                format!("both nodes are named \"{}\"", a.name),
                "give each node its own hostname",
            );
        }
        if a.frontend.address == b.frontend.address {
            c.err(
                "node[1].frontend.address",
                format!("both nodes use {}", a.frontend.address),
                "give each node its own frontend address",
            );
        }
        if a.heartbeat.address == b.heartbeat.address {
            c.err(
                "node[1].heartbeat.address",
                format!("both nodes use {}", a.heartbeat.address),
                "give each node its own heartbeat address",
            );
        }
        match (a.preferred, b.preferred) {
            (true, true) => c.err(
                "node[1].preferred",
                "both nodes are preferred",
                "set preferred = true on exactly one node",
            ),
            (false, false) => c.err(
                "node[0].preferred",
                "no node is preferred",
                "set preferred = true on the node that should hold the services",
            ),
            _ => {}
        }
        if a.drbd_module != b.drbd_module {
            c.warn(
                "node[1].drbd-module",
                format!(
                    "the nodes run different DRBD modules ({} and {})",
                    a.drbd_module, b.drbd_module
                ),
                "run the same DRBD version on both nodes, except while upgrading",
            );
        }
    }
    let nodes: [Node; 2] = nodes.try_into().ok()?;
    Some(nodes)
}

fn build_membership(m: &RawMembership, c: &mut Checker) -> Option<Membership> {
    let keepalive = c.duration("membership.keepalive", &m.keepalive);
    let deadtime = c.duration("membership.deadtime", &m.deadtime);
    let initdead = c.duration("membership.initdead", &m.initdead);
    let warntime = match &m.warntime {
        Some(w) => c.duration("membership.warntime", w),
        // Half the deadtime: a warning well before the node is declared dead; when
        // that is not above keepalive (deadtime = 2 x keepalive), halfway between.
        None => match (keepalive, deadtime) {
            (Some(k), Some(d)) if d / 2 <= k => Some((k + d) / 2),
            (_, d) => d.map(|d| d / 2),
        },
    };
    let udp_port = c.port("membership.udp-port", m.udp_port);
    let transport = c.choice(
        "membership.transport",
        &m.transport,
        &[
            ("broadcast", Transport::Broadcast),
            ("unicast", Transport::Unicast),
        ],
    );
    let mut links = Vec::new();
    for (i, l) in m.links.iter().enumerate() {
        if let Some(link) = c.choice(
            &format!("membership.links[{i}]"),
            l,
            &[("frontend", Link::Frontend), ("heartbeat", Link::Heartbeat)],
        ) {
            if links.contains(&link) {
                c.err(
                    &format!("membership.links[{i}]"),
                    format!("\"{l}\" is listed twice"),
                    "list each network once",
                );
            } else {
                links.push(link);
            }
        }
    }
    if m.links.is_empty() {
        c.err(
            "membership.links",
            "no link for heartbeats",
            "list the networks heartbeats travel on: [\"heartbeat\", \"frontend\"]",
        );
    } else if links.len() == 1 {
        c.warn(
            "membership.links",
            "heartbeats travel on one link only: one cable fault splits the cluster",
            "add the second network: links = [\"heartbeat\", \"frontend\"]",
        );
    }
    if let (Some(k), Some(d)) = (keepalive, deadtime) {
        if d < k * 2 {
            c.err(
                "membership.deadtime",
                format!(
                    "deadtime {} is less than twice keepalive {}",
                    fmt_duration(d),
                    fmt_duration(k)
                ),
                format!("raise deadtime to at least {}", fmt_duration(k * 2)),
            );
        }
        // Judged only against a valid deadtime: the root cause is reported alone.
        else if let Some(w) = warntime {
            if w <= k || w >= d {
                c.err("membership.warntime", format!("warntime {} is not between keepalive {} and deadtime {}", fmt_duration(w), fmt_duration(k), fmt_duration(d)), "choose a warntime above keepalive and below deadtime, or leave it out (deadtime / 2)");
            }
        }
        if let Some(i) = initdead {
            if i < d * 2 {
                c.warn("membership.initdead", format!("initdead {} is less than twice deadtime {}: a slow boot may be taken for a dead peer", fmt_duration(i), fmt_duration(d)), format!("raise initdead to at least {}", fmt_duration(d * 2)));
            }
        }
    }
    Some(Membership {
        keepalive: keepalive?,
        warntime: warntime?,
        deadtime: deadtime?,
        initdead: initdead?,
        udp_port: udp_port?,
        auto_failback: m.auto_failback,
        transport: transport?,
        links,
    })
}

/// "10s", "500ms": the form the profile and ha.cf both read.
pub fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn build_auth(a: &RawAuth, c: &mut Checker) -> Option<Auth> {
    let algorithm = c.choice(
        "auth.algorithm",
        &a.algorithm,
        &[
            ("sha1", AuthAlgorithm::Sha1),
            ("md5", AuthAlgorithm::Md5),
            ("crc", AuthAlgorithm::Crc),
        ],
    );
    if algorithm == Some(AuthAlgorithm::Crc) {
        c.warn(
            "auth.algorithm",
            "crc only detects corruption: anyone on the network can forge heartbeats",
            "use sha1",
        );
    }
    let secret = match (&a.secret, &a.secret_file) {
        (Some(_), Some(_)) => {
            c.err(
                "auth.secret-file",
                "both secret and secret-file are set",
                "keep one of them",
            );
            None
        }
        (None, None) => {
            c.err(
                "auth",
                "no secret",
                "set auth.secret-file = \"PATH\" (a file readable only by root) or auth.secret",
            );
            None
        }
        (Some(s), None) => Some(Secret::new(s.clone())),
        (None, Some(file)) => {
            let path = c.base_dir.join(file);
            match read_secret_file(&path) {
                Ok(text) => Some(Secret::new(text.trim_end_matches(['\n', '\r']).to_string())),
                Err(e) => {
                    c.err("auth.secret-file", format!("cannot read {}: {e}", path.display()), "create the file (e.g. `openssl rand -base64 32 > FILE; chmod 600 FILE`) or fix the path; relative paths start at the profile's folder");
                    None
                }
            }
        }
    };
    if let Some(s) = &secret {
        let field = if a.secret.is_some() {
            "auth.secret"
        } else {
            "auth.secret-file"
        };
        if s.len() < MIN_SECRET_LEN {
            c.err(
                field,
                format!(
                    "the secret has {} characters; at least {MIN_SECRET_LEN} are needed",
                    s.len()
                ),
                "use a longer random secret, e.g. `openssl rand -base64 32`",
            );
        } else if s.expose().chars().any(|ch| ch.is_whitespace()) {
            c.err(
                field,
                "the secret contains white space, which authkeys cannot hold",
                "use a secret without spaces, e.g. `openssl rand -base64 32`",
            );
        }
    }
    let secret_file = a.secret_file.as_ref().map(|file| SecretFile {
        written: file.clone(),
        path: c.base_dir.join(file),
    });
    Some(Auth {
        algorithm: algorithm?,
        secret: secret?,
        secret_file,
    })
}

fn build_storage(s: &RawStorage, deadtime: Option<Duration>, c: &mut Checker) -> Option<Storage> {
    c.name("storage.resource", &s.resource, "DRBD resource name");
    let minor = s
        .device
        .strip_prefix("/dev/drbd")
        .and_then(|n| n.parse::<u32>().ok());
    if minor.is_none() {
        c.err(
            "storage.device",
            format!("\"{}\" is not a DRBD device", s.device),
            "use /dev/drbdN, e.g. /dev/drbd0",
        );
    }
    let port = c.port("storage.port", s.port);
    let protocol = c.choice(
        "storage.protocol",
        &s.protocol,
        &[("A", Protocol::A), ("B", Protocol::B), ("C", Protocol::C)],
    );
    if matches!(protocol, Some(Protocol::A | Protocol::B)) {
        c.warn("storage.protocol", format!("protocol {} acknowledges writes before they reach the peer's disk: a failover can lose them", s.protocol), "use protocol C for a PBX whose data must survive a node loss");
    }
    let rate_ok = {
        let digits = s.sync_rate.trim_end_matches(['K', 'M', 'G', 'k']);
        !digits.is_empty()
            && digits.chars().all(|ch| ch.is_ascii_digit())
            && s.sync_rate.len() - digits.len() <= 1
    };
    if !rate_ok {
        c.err(
            "storage.sync-rate",
            format!("\"{}\" is not a rate", s.sync_rate),
            "write bytes per second with an optional unit: \"10M\", \"100M\", \"512K\"",
        );
    }
    let filesystem = c.choice(
        "storage.filesystem",
        &s.filesystem,
        &[
            ("xfs", Filesystem::Xfs),
            ("ext4", Filesystem::Ext4),
            ("ocfs2", Filesystem::Ocfs2),
        ],
    );
    let mount_point = clean_abs_path("storage.mount-point", &s.mount_point, c);
    let mut links: Vec<PathBuf> = Vec::new();
    for (i, l) in s.links.iter().enumerate() {
        let field = format!("storage.links[{i}]");
        let Some(p) = clean_abs_path(&field, l, c) else {
            continue;
        };
        if p == Path::new("/") {
            c.err(
                &field,
                "\"/\" cannot be moved onto the replicated disk",
                "list the directories to move, e.g. /etc/asterisk",
            );
            continue;
        }
        if let Some(mp) = &mount_point {
            if p.starts_with(mp) || mp.starts_with(&p) {
                c.err(
                    &field,
                    format!(
                        "{} and the mount point {} contain one another",
                        p.display(),
                        mp.display()
                    ),
                    "list paths outside the mount point",
                );
                continue;
            }
        }
        if let Some(other) = links.iter().find(|o| p.starts_with(o) || o.starts_with(&p)) {
            let msg = if *other == p {
                format!("{} is listed twice", p.display())
            } else {
                format!("{} and {} are nested", p.display(), other.display())
            };
            c.err(&field, msg, "list each directory once and none inside another: moving the outer one moves the inner one too");
            continue;
        }
        links.push(p);
    }
    let (ping_interval, ping_timeout) = drbd_timing(s, deadtime, c);
    Some(Storage {
        ping_interval: ping_interval?,
        ping_timeout: ping_timeout?,
        resource: s.resource.clone(),
        device: s.device.clone(),
        minor: minor?,
        port: port?,
        protocol: protocol?,
        sync_rate: s.sync_rate.clone(),
        filesystem: filesystem?,
        mount_point: mount_point?,
        links,
    })
}

/// DRBD's default ping answer wait is 500 ms; a loaded guest missed it and dropped
/// a healthy link, so the default is twice that.
pub const DRBD_PING_TIMEOUT: Duration = Duration::from_secs(1);

/// The default keep-alive: two thirds of the deadtime in whole seconds (1 to 10),
/// so that with the default answer wait DRBD has seen a dead peer by the time the
/// membership declares it dead and the engine promotes the survivor. DRBD's own
/// default (10 s) made every promotion after a hard kill fail once, and the drbd
/// agent then waits 15 s before it tries again.
pub fn default_ping_interval(deadtime: Duration) -> Duration {
    Duration::from_secs((deadtime.as_secs() * 2 / 3).clamp(1, 10))
}

/// storage.ping-interval and ping-timeout in DRBD's units and ranges, and the
/// warning when DRBD would notice a dead peer after the membership does.
fn drbd_timing(
    s: &RawStorage,
    deadtime: Option<Duration>,
    c: &mut Checker,
) -> (Option<Duration>, Option<Duration>) {
    let interval = match &s.ping_interval {
        Some(v) => c.duration("storage.ping-interval", v).and_then(|d| {
            let ok = d.subsec_nanos() == 0 && (1..=120).contains(&d.as_secs());
            if !ok {
                c.err(
                    "storage.ping-interval",
                    format!("{} is not a whole number of seconds from 1s to 120s", fmt_duration(d)),
                    "write whole seconds, e.g. \"2s\", or leave it out (two thirds of membership.deadtime)",
                );
            }
            ok.then_some(d)
        }),
        None => deadtime.map(default_ping_interval),
    };
    let timeout = match &s.ping_timeout {
        Some(v) => c.duration("storage.ping-timeout", v).and_then(|d| {
            let tenths = d.as_millis() / 100;
            let ok = d.as_millis() % 100 == 0 && (1..=300).contains(&tenths);
            if !ok {
                c.err(
                    "storage.ping-timeout",
                    format!(
                        "{} is not a multiple of 100ms from 100ms to 30s",
                        fmt_duration(d)
                    ),
                    "write e.g. \"1s\" or \"500ms\", or leave it out (1s)",
                );
            }
            ok.then_some(d)
        }),
        None => Some(DRBD_PING_TIMEOUT),
    };
    if let (Some(i), Some(t), Some(d)) = (interval, timeout, deadtime) {
        if i + t > d {
            // The keep-alive is whole seconds from 1 s: when even that does not fit
            // with this answer wait, the wait or the deadtime has to change.
            let room = d.saturating_sub(t);
            let fix = if room >= Duration::from_secs(1) {
                format!(
                    "lower storage.ping-interval to {} or less, or leave it out",
                    fmt_duration(Duration::from_secs(room.as_secs()))
                )
            } else {
                format!(
                    "lower storage.ping-timeout to {} or less, or raise membership.deadtime to at least {}",
                    fmt_duration(
                        d.saturating_sub(Duration::from_secs(1))
                            .max(Duration::from_millis(100))
                    ),
                    fmt_duration(Duration::from_secs(1) + t)
                )
            };
            c.warn(
                "storage.ping-interval",
                format!(
                    "DRBD notices a dead peer only after up to {} (ping-interval {} + ping-timeout {}), later than the membership's deadtime {}: the survivor's first promotion fails and waits for DRBD (under Pacemaker the drbd agent then waits 15 s before it tries again)",
                    fmt_duration(i + t),
                    fmt_duration(i),
                    fmt_duration(t),
                    fmt_duration(d)
                ),
                fix,
            );
        }
    }
    (interval, timeout)
}

fn clean_abs_path(field: &str, value: &str, c: &mut Checker) -> Option<PathBuf> {
    let p = Path::new(value);
    if !p.is_absolute() {
        c.err(
            field,
            format!("\"{value}\" is not an absolute path"),
            format!(
                "write it from the root, e.g. /{}",
                value.trim_start_matches("./")
            ),
        );
        return None;
    }
    if !is_plain_path(value) {
        c.err(
            field,
            format!("\"{value}\" holds characters that the rendered files cannot carry"),
            "use letters, digits and / . _ + - only (no spaces, quotes, ':' or newlines)",
        );
        return None;
    }
    if p.components()
        .any(|comp| matches!(comp, Component::ParentDir | Component::CurDir))
    {
        c.err(
            field,
            format!("\"{value}\" contains . or .."),
            "write the plain absolute path",
        );
        return None;
    }
    // Path::components drops trailing slashes and doubled separators.
    Some(p.components().collect())
}

/// A database in the group whose data directory is not on the replicated disk
/// starts without its data after a failover (and in load-balanced mode on the
/// other node's own disk).
fn database_data_rule(distro: Distro, s: &Storage, services: &[String], c: &mut Checker) {
    for svc in services {
        let Some(dir) = distro.database_data_dir(svc) else {
            continue;
        };
        if !s.links.iter().any(|l| Path::new(dir).starts_with(l)) {
            c.warn(
                "storage.links",
                format!(
                    "the database ({svc}) keeps its data in {dir} on {}, which no shared link holds: after a failover it starts without its data",
                    distro.name()
                ),
                format!("add \"{dir}\" to storage.links"),
            );
        }
    }
}

fn build_services(services: &[String], c: &mut Checker) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut ok = true;
    for (i, s) in services.iter().enumerate() {
        let field = format!("resources.services[{i}]");
        let valid = !s.is_empty()
            && s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.@".contains(ch));
        if !valid {
            c.err(
                &field,
                format!("\"{s}\" is not a service name"),
                "use the init script / systemd unit name, e.g. asterisk",
            );
            ok = false;
            continue;
        }
        if !seen.insert(s.as_str()) {
            c.err(
                &field,
                format!("\"{s}\" is listed twice"),
                "list each service once, in start order",
            );
            ok = false;
        }
        if !KNOWN_SERVICES.contains(&s.as_str()) {
            if let Some(guess) = did_you_mean(s, KNOWN_SERVICES) {
                c.err(
                    &field,
                    format!("unknown service \"{s}\""),
                    format!("did you mean \"{guess}\"?"),
                );
                ok = false;
            }
        }
    }
    if services.is_empty() {
        c.warn("resources.services", "the resource group has no services: only disk, filesystem and IP fail over", "list the services in start order, e.g. [\"mysql\", \"postfix\", \"asterisk\", \"apache2\"]");
    }
    if !services.iter().any(|s| s == "asterisk") {
        c.warn(
            "resources.services",
            "asterisk is not in the resource group",
            "add \"asterisk\" unless another service answers SIP",
        );
    }
    ok.then(|| services.to_vec())
}

fn build_fencing(
    f: &RawFencing,
    fence: Option<FenceInterface>,
    distro: Option<Distro>,
    nodes: &[RawNode],
    c: &mut Checker,
) -> Option<Fencing> {
    if f.agent == "none" {
        if !f.nodes.is_empty() || f.heartbeat_plugin.is_some() || f.packages.is_some() {
            c.err(
                "fencing.agent",
                "fencing.nodes, heartbeat-plugin or packages are set but the agent is \"none\"",
                "name the fence agent, e.g. agent = \"fence_ipmilan\", or remove those settings",
            );
            return None;
        }
        c.warn("fencing.agent", "NO FENCING: if both heartbeat links fail, both nodes can become primary (split brain) and the replicated data diverges", "configure a fence agent, e.g. agent = \"fence_ipmilan\" with [fencing.nodes.NAME] params");
        return Some(Fencing::None);
    }
    let agent_ok = f.agent.starts_with("fence_")
        && f.agent
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
    if !agent_ok {
        c.err(
            "fencing.agent",
            format!("\"{}\" is not a fence agent name", f.agent),
            "use \"none\" or a fence-agents name such as fence_ipmilan, fence_virsh, fence_redfish",
        );
    }
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let mut devices = Vec::new();
    for (name, dev) in &f.nodes {
        let field = format!("fencing.nodes.{name}");
        if !names.contains(&name.as_str()) {
            let fix = match did_you_mean(name, &names) {
                Some(g) => format!("did you mean \"{g}\"?"),
                None => format!("use one of the node names: {}", names.join(", ")),
            };
            c.err(
                &field,
                format!("\"{name}\" is not a node of this cluster"),
                fix,
            );
            continue;
        }
        for (k, v) in &dev.params {
            // The name becomes an nvpair name and part of its XML id in the CIB.
            if !is_param_name(k) {
                c.err(
                    &format!("{field}.params"),
                    format!("\"{k}\" is not a fence parameter name"),
                    "use the agent's own parameter names (letters, digits, _ and -, starting with a letter), e.g. ip, username, password, lanplus",
                );
            }
            if v.chars().any(char::is_control) {
                c.err(
                    // Not shown: the value may be the device's password.
                    &format!("{field}.params.{k}"),
                    "the value holds a control character (newline, tab, ...)",
                    "write the value on one line without control characters",
                );
            }
        }
        for (j, a) in dev.heartbeat_args.iter().enumerate() {
            // ha.cf splits stonith_host on whitespace and ends a line at a newline;
            // '#' starts a comment: each would change the line, or add one.
            if a.is_empty()
                || a.chars()
                    .any(|ch| ch.is_whitespace() || ch.is_control() || ch == '#')
            {
                // Not shown: plugin arguments carry the device's password.
                c.err(
                    &format!("{field}.heartbeat-args[{j}]"),
                    "this argument is empty or holds a space, a newline or '#', which ha.cf's stonith_host line cannot carry as one argument",
                    "give each plugin argument as its own non-empty list item without spaces, newlines or '#'",
                );
            }
        }
        if dev.params.is_empty() && fence == Some(FenceInterface::FenceAgent) {
            c.err(&format!("{field}.params"), "no parameters for the fence device", "give the agent's parameters, e.g. params = { ip = \"...\", username = \"...\", password = \"...\" }");
        }
        devices.push(FenceDevice {
            node: name.clone(),
            params: dev
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            heartbeat_args: dev.heartbeat_args.clone(),
        });
    }
    for n in &names {
        if !f.nodes.contains_key(*n) {
            c.err(
                "fencing.nodes",
                format!("no fence device for node {n}"),
                format!(
                    "add [fencing.nodes.{n}] with the parameters of the device that powers {n} off"
                ),
            );
        }
    }
    if fence == Some(FenceInterface::StonithPlugin) {
        match &f.heartbeat_plugin {
            None => c.err("fencing.heartbeat-plugin", "the heartbeat engine fences through cluster-glue STONITH plugins, not fence agents", "set heartbeat-plugin (e.g. \"external/ipmi\") and heartbeat-args for each node"),
            Some(p) => {
                if p.is_empty() || !is_plain_path(p) {
                    c.err("fencing.heartbeat-plugin", format!("\"{p}\" is not a STONITH plugin name"), "use a name that `stonith -L` lists, e.g. external/ipmi");
                }
                for d in &devices {
                    if d.heartbeat_args.is_empty() {
                        c.err(&format!("fencing.nodes.{}.heartbeat-args", d.node), "no arguments for the STONITH plugin", "list the plugin's parameters in its order, e.g. [\"cl01\", \"10.0.1.3\", \"admin\", \"PASSWORD\", \"lanplus\"]");
                    }
                }
            }
        }
    }
    let packages = match &f.packages {
        Some(list) => {
            for p in list {
                if !is_package_name(p) {
                    c.err(
                        "fencing.packages",
                        format!("\"{p}\" is not a Debian package name"),
                        "use names as apt knows them, e.g. [\"fence-agents-ipmilan\"], or [] when the agent is installed another way",
                    );
                }
            }
            list.clone()
        }
        None => default_fence_packages(&f.agent, fence, distro),
    };
    agent_ok.then(|| Fencing::Agent {
        agent: f.agent.clone(),
        heartbeat_plugin: f.heartbeat_plugin.clone(),
        packages,
        devices,
    })
}

/// What ships a fence agent. Debian 12 has one fence-agents package; Debian 13, sid
/// and Ubuntu 24.04 split it per agent, and there "fence-agents" is a metapackage
/// that pulls in every agent with its cloud SDKs. Heartbeat fences through
/// cluster-glue plugins, which come with the engine.
fn default_fence_packages(
    agent: &str,
    fence: Option<FenceInterface>,
    distro: Option<Distro>,
) -> Vec<String> {
    if fence != Some(FenceInterface::FenceAgent) {
        return Vec::new();
    }
    let name = agent.strip_prefix("fence_").unwrap_or(agent);
    match distro {
        Some(Distro::Debian12) | None => vec!["fence-agents".into()],
        Some(_) => {
            // Agents that are links to another agent's script ship in its package.
            let package = match name {
                "ilo3" | "ilo4" | "ilo5" | "ipmilanplus" | "imm" | "idrac" => "ipmilan",
                "ilo" => "ilo2",
                other => other,
            };
            vec![format!("fence-agents-{}", package.replace('_', "-"))]
        }
    }
}

fn is_package_name(p: &str) -> bool {
    p.len() >= 2
        && p.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        && p.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "+.-".contains(ch))
}

fn build_load_balancing(
    raw: &RawProfile,
    balances: Option<bool>,
    deadtime: Option<Duration>,
    c: &mut Checker,
) -> Option<Option<LoadBalancing>> {
    let lb = match (&raw.load_balancing, balances) {
        (None, Some(true)) => {
            c.err(
                "load-balancing",
                "load-balanced mode needs a [load-balancing] table",
                "add [load-balancing] (its defaults balance SIP 5060/udp and HTTP 80/tcp)",
            );
            return None;
        }
        (Some(_), Some(false)) => {
            c.err(
                "load-balancing",
                format!(
                    "[load-balancing] is set but the cluster is {}",
                    raw.cluster.mode
                ),
                "remove [load-balancing], or set cluster.mode = \"load-balanced\"",
            );
            return None;
        }
        (Some(lb), Some(true)) => lb,
        _ => return Some(None),
    };
    let scheduler_ok = [
        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq",
    ]
    .contains(&lb.scheduler.as_str());
    if !scheduler_ok {
        c.err(
            "load-balancing.scheduler",
            format!("\"{}\" is not an ipvs scheduler", lb.scheduler),
            "use one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq",
        );
    }
    let interval = c.duration("load-balancing.check-interval", &lb.check_interval);
    let timeout = c.duration("load-balancing.check-timeout", &lb.check_timeout);
    let ocfs2_port = c.port("load-balancing.ocfs2-port", lb.ocfs2_port);
    c.name(
        "load-balancing.ocfs2-cluster",
        &lb.ocfs2_cluster,
        "OCFS2 cluster name",
    );
    if lb.ocfs2_cluster.len() > 16 {
        c.err(
            "load-balancing.ocfs2-cluster",
            "OCFS2 cluster names have 16 characters at most",
            "use a shorter name",
        );
    }
    c.name(
        "load-balancing.dundi-context",
        &lb.dundi_context,
        "DUNDi context",
    );
    let mut services = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, s) in lb.service.iter().enumerate() {
        let f = |k: &str| format!("load-balancing.service[{i}].{k}");
        c.name(&f("name"), &s.name, "service name");
        let proto = c.choice(
            &f("protocol"),
            &s.protocol,
            &[("udp", IpProto::Udp), ("tcp", IpProto::Tcp)],
        );
        let port = c.port(&f("port"), s.port);
        let check = c.choice(
            &f("check"),
            &s.check,
            &[
                ("sip", HealthCheck::Sip),
                ("http", HealthCheck::Http),
                ("connect", HealthCheck::Connect),
                ("none", HealthCheck::None),
            ],
        );
        if check == Some(HealthCheck::Connect) && proto == Some(IpProto::Udp) {
            c.err(
                &f("check"),
                "a connect check cannot test a UDP service",
                "use check = \"sip\" for SIP over UDP, or \"none\"",
            );
        }
        if !seen.insert((s.protocol.clone(), s.port)) {
            c.err(
                &f("port"),
                format!("{}/{} is balanced twice", s.port, s.protocol),
                "list each port and protocol once",
            );
        }
        if let (Some(protocol), Some(port), Some(check)) = (proto, port, check) {
            services.push(LbService {
                name: s.name.clone(),
                protocol,
                port,
                check,
            });
        }
    }
    // A real server that stops answering leaves the pool only after a failed
    // check: one interval plus the check's own timeout. Slower than the deadtime,
    // phones keep landing on a dead Asterisk after the cluster would have moved
    // the whole group for the same fault.
    if let (Some(i), Some(t), Some(d)) = (interval, timeout, deadtime) {
        if i + t > d {
            c.warn(
                "load-balancing.check-interval",
                format!(
                    "a dead real server leaves the pool only after up to {} (check-interval {} + check-timeout {}), longer than membership.deadtime {}",
                    fmt_duration(i + t),
                    fmt_duration(i),
                    fmt_duration(t),
                    fmt_duration(d)
                ),
                "shorten check-interval and check-timeout so that together they fit in the deadtime",
            );
        }
    }
    if lb.service.is_empty() {
        c.err(
            "load-balancing.service",
            "no balanced services",
            "add [[load-balancing.service]] tables, e.g. SIP 5060/udp with check = \"sip\"",
        );
    }
    Some(Some(LoadBalancing {
        scheduler: lb.scheduler.clone(),
        check_interval: interval?,
        check_timeout: timeout?,
        services,
        ocfs2_cluster: lb.ocfs2_cluster.clone(),
        ocfs2_port: ocfs2_port?,
        dundi_context: lb.dundi_context.clone(),
    }))
}

fn build_pbx(p: &RawPbx, c: &mut Checker) -> Option<Pbx> {
    c.name("pbx.context", &p.context, "dialplan context");
    let sip_port = c.port("pbx.sip-port", p.sip_port);
    let mut seen = BTreeSet::new();
    let mut extensions = Vec::new();
    for (i, e) in p.extension.iter().enumerate() {
        let f = |k: &str| format!("pbx.extension[{i}].{k}");
        if e.number.is_empty() || !e.number.chars().all(|ch| ch.is_ascii_digit()) {
            c.err(
                &f("number"),
                format!("\"{}\" is not an extension number", e.number),
                "use digits only, e.g. \"1001\"",
            );
        } else if !seen.insert(e.number.clone()) {
            c.err(
                &f("number"),
                format!("extension {} is defined twice", e.number),
                "give each extension its own number",
            );
        }
        if e.name.is_empty()
            || e.name.contains(['"', '<', '>', ';', '\\'])
            || e.name.contains(char::is_control)
        {
            c.err(
                &f("name"),
                format!("\"{}\" cannot be a caller ID name", e.name),
                "use a plain display name on one line without quotes, <, >, ; or \\",
            );
        }
        if e.secret.chars().count() < MIN_SIP_SECRET_LEN {
            c.err(
                &f("secret"),
                format!(
                    "the SIP secret has {} characters; at least {MIN_SIP_SECRET_LEN} are needed",
                    e.secret.chars().count()
                ),
                "use a longer password: SIP passwords are guessed online",
            );
        } else if e.secret.contains(char::is_whitespace) || e.secret.contains(';') {
            c.err(
                &f("secret"),
                "the SIP secret contains white space or ';', which pjsip.conf cannot hold",
                "use letters, digits and punctuation other than ';'",
            );
        }
        extensions.push(Extension {
            number: e.number.clone(),
            name: e.name.clone(),
            secret: Secret::new(e.secret.clone()),
        });
    }
    if p.extension.is_empty() {
        c.warn(
            "pbx.extension",
            "no SIP extensions: a fresh cluster cannot place a call",
            "add [[pbx.extension]] tables with number, name and secret",
        );
    }
    Some(Pbx {
        context: p.context.clone(),
        sip_port: sip_port?,
        extensions,
        all_modules: p.all_modules,
    })
}

/// An OCF / fence-agents parameter name that is also safe inside an XML id.
/// The largest secret file read: a secret is a line; /dev/zero or a log file
/// named by mistake must not be read whole.
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// A secret file's text: a regular file of at most 64 KiB (a FIFO or a device
/// would block or never end), UTF-8.
fn read_secret_file(path: &Path) -> std::result::Result<String, String> {
    use std::io::Read as _;
    // Asked before opening: opening a FIFO waits for a writer.
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "it has {} bytes; a secret file is at most {MAX_SECRET_FILE_BYTES}",
            meta.len()
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".into())
}

fn is_param_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|ch| ch.is_ascii_alphabetic())
        && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
}

/// A path that every target syntax holds as one word: drbd.conf, haresources'
/// `::` fields, drbdlinks' quoted strings, the CIB, fstab-like lines.
fn is_plain_path(s: &str) -> bool {
    s.chars()
        .all(|ch| ch.is_ascii_alphanumeric() || "/._+-".contains(ch))
}
