//! The Pacemaker CIB as data. Built from the model (`from_model`) or from a classic
//! haresources file (`haresources`), and written by one template.
//!
//! Shape (active-passive): a promotable DRBD clone; one group (Filesystem,
//! drbdlinks, IPaddr2, the services) colocated with the promoted DRBD instance and
//! ordered after its promotion. auto_failback becomes a location preference for the
//! preferred node that outweighs stickiness; without it, stickiness keeps the group
//! where it is.
//!
//! Shape (load-balanced): DRBD promoted on both; a storage clone (OCFS2, drbdlinks)
//! after the promotion; the director group (IPaddr2, ldirectord, the database) on
//! one node and a services clone (Asterisk and the rest) on both, each after the
//! storage; the database before the services only at a cold start (Optional).

use crate::engine::pacemaker::drbd_clone_id;
use crate::mode::Moves;
use crate::mode::load_balanced::is_database;
use serde::Serialize;

use crate::model::{Fencing, Model};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Op {
    pub name: String,
    pub interval: String,
    pub timeout: Option<String>,
    pub role: Option<String>,
}

impl Op {
    pub fn new(name: &str, interval: &str, timeout: Option<&str>) -> Self {
        Op {
            name: name.into(),
            interval: interval.into(),
            timeout: timeout.map(Into::into),
            role: None,
        }
    }

    fn role(mut self, role: &str) -> Self {
        self.role = Some(role.into());
        self
    }
}

/// Every monitor's timeout. A monitor that times out is a failure the engine
/// recovers from by restarting the group (an outage); a shell agent on a guest at
/// load 5.7 under emulation took longer than 30 s (IPaddr2) and 40 s (Filesystem).
/// A real hang is caught a little later instead.
pub const MONITOR_TIMEOUT: &str = "60s";

/// A monitor plus start and stop with their own timeouts. Pacemaker gives an op
/// without a timeout 20 s, not the agent's advice, and a stop that times out
/// fences the node: on a loaded or slow host that turns a failback into a reboot.
fn lifecycle(monitor_interval: &str, start: &str, stop: &str) -> Vec<Op> {
    vec![
        Op::new("monitor", monitor_interval, Some(MONITOR_TIMEOUT)),
        Op::new("start", "0s", Some(start)),
        Op::new("stop", "0s", Some(stop)),
    ]
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Primitive {
    pub id: String,
    pub class: String,
    pub provider: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub params: Vec<(String, String)>,
    pub ops: Vec<Op>,
}

impl Primitive {
    pub fn ocf(id: &str, provider: &str, kind: &str, params: &[(&str, &str)]) -> Self {
        Primitive {
            id: id.into(),
            class: "ocf".into(),
            provider: Some(provider.into()),
            kind: kind.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ops: Vec::new(),
        }
    }

    pub fn ops(mut self, ops: Vec<Op>) -> Self {
        self.ops = ops;
        self
    }

    /// A service the engine starts through systemd (all target distros use it).
    pub fn service(name: &str) -> Self {
        Primitive {
            // An id is an XML NCName: '@' (a template unit) becomes '-'.
            id: format!(
                "svc-{}",
                name.replace(
                    |c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)),
                    "-"
                )
            ),
            class: "systemd".into(),
            provider: None,
            kind: name.into(),
            params: Vec::new(),
            // Generous: Asterisk loads its modules and a database replays its log
            // after a crash before systemd reports them started. The monitor asks
            // systemd (no shell agent), so a short interval is cheap: a crashed
            // service is restarted within seconds, not half a minute.
            ops: lifecycle("5s", "180s", "180s"),
        }
    }

    pub fn filesystem(id: &str, device: &str, directory: &str, fstype: &str) -> Self {
        Primitive::ocf(
            id,
            "heartbeat",
            "Filesystem",
            &[
                ("device", device),
                ("directory", directory),
                ("fstype", fstype),
            ],
        )
        // Start may replay the journal; stop may wait for holders it kills.
        .ops(lifecycle("20s", "120s", "120s"))
    }

    pub fn drbdlinks(id: &str) -> Self {
        Primitive::ocf(
            id,
            "pbx-cluster",
            "drbdlinks",
            &[("config", "/etc/drbdlinks.conf")],
        )
        .ops(lifecycle("30s", "60s", "60s"))
    }

    pub fn ipaddr2(id: &str, ip: &str, prefix: Option<&str>, nic: Option<&str>) -> Self {
        let mut params = vec![("ip", ip)];
        if let Some(p) = prefix {
            params.push(("cidr_netmask", p));
        }
        if let Some(n) = nic {
            params.push(("nic", n));
        }
        Primitive::ocf(id, "heartbeat", "IPaddr2", &params).ops(lifecycle("10s", "60s", "60s"))
    }

    pub fn ldirectord(id: &str, config: &str) -> Self {
        // ldirectord is Perl: every status call starts an interpreter, and start
        // calls status twice around the daemon's own start (over 60 s on a loaded
        // guest, seen in the lab).
        Primitive::ocf(id, "heartbeat", "ldirectord", &[("configfile", config)])
            .ops(lifecycle("20s", "120s", "120s"))
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    pub id: String,
    pub members: Vec<Primitive>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CloneRes {
    pub id: String,
    pub meta: Vec<(String, String)>,
    pub primitive: Option<Primitive>,
    pub group: Option<Group>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Location {
    pub id: String,
    pub rsc: String,
    pub node: String,
    pub score: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Colocation {
    pub id: String,
    pub rsc: String,
    pub with: String,
    pub with_role: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Order {
    pub id: String,
    pub first: String,
    pub first_action: String,
    pub then: String,
    /// "Mandatory", or "Optional": applies only when both start in one transition.
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Cib {
    pub properties: Vec<(String, String)>,
    pub primitives: Vec<Primitive>,
    pub clones: Vec<CloneRes>,
    pub groups: Vec<Group>,
    pub locations: Vec<Location>,
    pub colocations: Vec<Colocation>,
    pub orders: Vec<Order>,
    pub stickiness: String,
}

/// Pacemaker's CPU-load limit for the recovery's pace (a percentage of the
/// node's cores; the nodes run a PBX, not the cluster's bookkeeping).
const LOAD_THRESHOLD: &str = "1000%";

/// Score of the preferred node with auto_failback; stickiness stays below it.
const FAILBACK_SCORE: &str = "100";
/// Without auto_failback: a preference for the first start, outweighed by stickiness.
const INITIAL_SCORE: &str = "50";

impl Cib {
    /// The DRBD resource as a promotable clone (Promoted/Unpromoted roles).
    pub fn add_drbd(&mut self, resource: &str, promoted_max: u8) -> String {
        let id = format!("drbd-{resource}");
        let clone_id = drbd_clone_id(resource);
        let meta = [
            ("promotable", "true".to_string()),
            ("promoted-max", promoted_max.to_string()),
            ("promoted-node-max", "1".into()),
            ("clone-max", "2".into()),
            ("clone-node-max", "1".into()),
            ("notify", "true".into()),
        ];
        // The Primary's monitor lifts a fence-peer constraint left behind once both
        // disks are UpToDate: DRBD ignores a fence-peer handler that returns after
        // the link came back, but its constraint would stay and block every failover.
        //
        // adjust_master_score: the agent ranks a Secondary whose peer is unknown
        // (1000) below one whose peer is known (10000). In a pair that ranks
        // nothing, but the drop when the peer dies and the rise after the promotion
        // each made Pacemaker abandon its transition and plan again, twice per
        // failover. Both nodes keep 10000 while their data is UpToDate; Consistent
        // data still gets 0 (never promoted on a guess).
        let params = [
            ("drbd_resource", resource),
            ("unfence_if_all_uptodate", "true"),
            ("adjust_master_score", "0 10 10000 10000"),
        ];
        let prim = Primitive::ocf(&id, "linbit", "drbd", &params).ops(vec![
            Op::new("monitor", "29s", Some(MONITOR_TIMEOUT)).role("Promoted"),
            Op::new("monitor", "31s", Some(MONITOR_TIMEOUT)).role("Unpromoted"),
            // The agent's own advice (its metadata); the defaults would be 20 s.
            Op::new("start", "0s", Some("240s")),
            Op::new("stop", "0s", Some("100s")),
            Op::new("promote", "0s", Some("90s")),
            Op::new("demote", "0s", Some("90s")),
            Op::new("notify", "0s", Some("90s")),
        ]);
        self.clones.push(CloneRes {
            id: clone_id.clone(),
            meta: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            primitive: Some(prim),
            group: None,
        });
        clone_id
    }

    /// `rsc` runs where DRBD is promoted, and starts after the promotion.
    pub fn tie_to_drbd(&mut self, rsc: &str, drbd_clone: &str) {
        self.colocations.push(Colocation {
            id: format!("{rsc}-with-{drbd_clone}"),
            rsc: rsc.into(),
            with: drbd_clone.into(),
            with_role: Some("Promoted".into()),
        });
        self.orders.push(Order {
            id: format!("{drbd_clone}-before-{rsc}"),
            first: drbd_clone.into(),
            first_action: "promote".into(),
            then: rsc.into(),
            kind: "Mandatory",
        });
    }

    /// `rsc` runs only where the shared storage is mounted, and starts after it.
    pub fn after_storage(&mut self, rsc: &str, storage: &str) {
        self.colocations.push(Colocation {
            id: format!("{rsc}-with-{storage}"),
            rsc: rsc.into(),
            with: storage.into(),
            with_role: None,
        });
        self.orders.push(Order {
            id: format!("{storage}-before-{rsc}"),
            first: storage.into(),
            first_action: "start".into(),
            then: rsc.into(),
            kind: "Mandatory",
        });
    }

    pub fn prefer(&mut self, rsc: &str, node: &str, auto_failback: bool) {
        self.locations.push(Location {
            id: format!("{rsc}-prefers-{node}"),
            rsc: rsc.into(),
            node: node.into(),
            score: if auto_failback {
                FAILBACK_SCORE
            } else {
                INITIAL_SCORE
            }
            .into(),
        });
        self.stickiness = if auto_failback { "0" } else { "100" }.into();
    }
}

fn vip_nic(model: &Model) -> Option<&str> {
    let [a, b] = &model.nodes;
    // One CIB serves both nodes: name the NIC only when both call it the same.
    (a.frontend.interface == b.frontend.interface).then_some(a.frontend.interface.as_str())
}

pub fn from_model(model: &Model) -> Cib {
    let mut cib = Cib {
        properties: vec![
            ("cluster-name".into(), model.name.clone()),
            (
                "stonith-enabled".into(),
                model.fencing.enabled().to_string(),
            ),
            // Pacemaker slows recovery on a node whose CPU load passes this
            // (default 80 %: one job at a time): the survivor of a takeover is
            // busy with the takeover itself, and each member's first monitor
            // then holds back the next member's start (seen in the paired VMs:
            // 4-5 s of a 31 s hard-kill failover).
            ("load-threshold".into(), LOAD_THRESHOLD.into()),
        ],
        ..Cib::default()
    };
    if let Fencing::Agent { agent, devices, .. } = &model.fencing {
        for d in devices {
            let id = format!("fence-{}", d.node);
            let mut params = vec![("pcmk_host_list".to_string(), d.node.clone())];
            params.extend(d.params.iter().cloned());
            cib.primitives.push(Primitive {
                id: id.clone(),
                class: "stonith".into(),
                provider: None,
                kind: agent.clone(),
                params,
                ops: vec![
                    Op::new("monitor", "60s", Some(MONITOR_TIMEOUT)),
                    Op::new("start", "0s", Some("60s")),
                ],
            });
            // A node never runs the device that powers itself off.
            cib.locations.push(Location {
                id: format!("{id}-not-on-{}", d.node),
                rsc: id,
                node: d.node.clone(),
                score: "-INFINITY".into(),
            });
        }
    }
    let s = &model.storage;
    let vip = model.network.virtual_ip.to_string();
    let prefix = model.frontend_prefix().to_string();
    let fs = Primitive::filesystem(
        &format!("fs-{}", s.resource),
        &s.device,
        &s.mount_point.to_string_lossy(),
        s.filesystem.name(),
    );
    let ip = Primitive::ipaddr2("vip", &vip, Some(&prefix), vip_nic(model));
    // The filesystem, then the links into it.
    let mut storage = vec![fs];
    if !s.links.is_empty() {
        storage.push(Primitive::drbdlinks("drbdlinks"));
    }
    let (preferred, failback) = (&model.preferred().name, model.membership.auto_failback);
    match model.mode_home().moves() {
        Moves::Group => {
            let drbd = cib.add_drbd(&s.resource, 1);
            let members = storage.into_iter().chain([ip]).collect();
            one_group(&mut cib, model, &drbd, members);
            cib.prefer("pbx-group", preferred, failback);
        }
        Moves::Director => {
            let drbd = cib.add_drbd(&s.resource, 2);
            director_and_clones(&mut cib, model, &drbd, storage, ip);
            cib.prefer("director-group", preferred, failback);
        }
    }
    cib
}

/// Active/passive: the whole group, left to right (storage and address first,
/// then the services), after the promoted DRBD.
fn one_group(cib: &mut Cib, model: &Model, drbd: &str, mut members: Vec<Primitive>) {
    members.extend(model.services.iter().map(|svc| Primitive::service(svc)));
    cib.groups.push(Group {
        id: "pbx-group".into(),
        members,
    });
    cib.tie_to_drbd("pbx-group", drbd);
}

/// Load-balanced: both nodes Primary. Three parts: the shared storage (OCFS2 and
/// the links) as a clone on both; the director (virtual IP, ldirectord and the
/// one database) on one node, after the storage its data lives on; the other
/// services as a clone on both, after the storage.
fn director_and_clones(
    cib: &mut Cib,
    model: &Model,
    drbd: &str,
    storage: Vec<Primitive>,
    ip: Primitive,
) {
    let interleaved = || {
        vec![
            ("clone-max".into(), "2".into()),
            ("clone-node-max".into(), "1".into()),
            ("interleave".into(), "true".into()),
        ]
    };
    cib.clones.push(CloneRes {
        id: "storage-clone".into(),
        meta: interleaved(),
        primitive: None,
        group: Some(Group {
            id: "storage-group".into(),
            members: storage,
        }),
    });
    cib.tie_to_drbd("storage-clone", drbd);
    let mut director = vec![
        ip,
        Primitive::ldirectord("ldirectord", "/etc/ha.d/ldirectord.cf"),
    ];
    director.extend(
        model
            .services
            .iter()
            .filter(|svc| is_database(svc))
            .map(|svc| Primitive::service(svc)),
    );
    cib.groups.push(Group {
        id: "director-group".into(),
        members: director,
    });
    cib.after_storage("director-group", "storage-clone");
    let served: Vec<Primitive> = model
        .services
        .iter()
        .filter(|svc| !is_database(svc))
        .map(|svc| Primitive::service(svc))
        .collect();
    if !served.is_empty() {
        cib.clones.push(CloneRes {
            id: "services-clone".into(),
            meta: interleaved(),
            primitive: None,
            group: Some(Group {
                id: "services-group".into(),
                members: served,
            }),
        });
        cib.after_storage("services-clone", "storage-clone");
        // A cold start brings the database up before Asterisk writes to it.
        // Optional: a database that moves later restarts no service, and a
        // director that cannot start (ldirectord) holds nothing back.
        for db in model.services.iter().filter(|svc| is_database(svc)) {
            let db = Primitive::service(db).id;
            cib.orders.push(Order {
                id: format!("{db}-before-services-clone"),
                first: db,
                first_action: "start".into(),
                then: "services-clone".into(),
                kind: "Optional",
            });
        }
    }
}
