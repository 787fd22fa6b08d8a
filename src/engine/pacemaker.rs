//! Corosync 3 + Pacemaker: the CIB holds the resource group, DRBD is a promotable
//! clone, fencing goes through Pacemaker's fencer.

use super::{DUAL_PRIMARY_SETTLE_MARGIN_S, DrbdFencing, FileSpec, Home, Source};
use crate::model::{DrbdModule, Fencing, Model, Node};

/// Where the rendered CIB lives on a node; init loads it from there.
pub const CIB_PATH: &str = "/etc/pbx-cluster/cib.xml";

/// The id of the promotable clone of DRBD resource `resource` (the CIB and DRBD's
/// handlers name it).
pub fn drbd_clone_id(resource: &str) -> String {
    format!("drbd-{resource}-clone")
}

pub struct Pacemaker;

impl Home for Pacemaker {
    fn name(&self) -> &'static str {
        "pacemaker"
    }

    fn packages(&self) -> &'static [&'static str] {
        // crm_mon/cibadmin/crm_attribute come from pacemaker-cli-utils; the OCF
        // agents (IPaddr2, Filesystem, drbd) from resource-agents.
        &[
            "corosync",
            "pacemaker",
            "pacemaker-cli-utils",
            "resource-agents",
        ]
    }

    fn boot_enable(&self) -> &'static [&'static str] {
        &["corosync", "pacemaker"]
    }

    fn boot_disable(&self) -> &'static [&'static str] {
        // The drbd clone attaches and promotes; the init script must not.
        &["drbd"]
    }

    fn balanced_services_at_boot(&self) -> bool {
        false
    }

    fn files(&self, model: &Model) -> Vec<FileSpec> {
        vec![
            FileSpec::template(
                "corosync/corosync.conf.j2",
                "/etc/corosync/corosync.conf",
                0o644,
            ),
            FileSpec {
                source: Source::CorosyncAuthkey,
                path: "/etc/corosync/authkey".into(),
                mode: 0o400,
                owner: "root",
                group: "root",
                secret: true,
            },
            // Fence devices' parameters may hold passwords.
            FileSpec::template("pacemaker/cib.xml.j2", CIB_PATH, 0o600)
                .secret(model.fencing.enabled()),
        ]
    }

    fn drbd_fencing(&self, model: &Model, node: &Node, dual_primary: bool) -> Option<DrbdFencing> {
        if let Fencing::None = model.fencing {
            return None;
        }
        Some(match node.drbd_module {
            // Our handler, not drbd-utils' crm-fence-peer.sh (it reads Pacemaker 3's
            // node_state wrongly and waits out its 90 s timeout on every failover)
            // nor stonith_admin-fence-peer.sh (it powers off a peer that is still a
            // cluster member whenever the replication link drops). See
            // runtime::fence_peer.
            DrbdModule::V84 => {
                let clone = drbd_clone_id(&model.storage.resource);
                let mut fence_peer = format!("{} drbd-fence-peer --clone {clone}", crate::SELF_BIN);
                if dual_primary {
                    // The membership settles within the token plus consensus (half
                    // of it); the preferred node is the one that fences when the
                    // peer stays a member (only the replication link is down).
                    let token = model.membership.deadtime.as_secs_f64();
                    let settle = (token * 1.5).ceil() as u64 + DUAL_PRIMARY_SETTLE_MARGIN_S;
                    fence_peer.push_str(&format!(
                        " --dual-primary --survivor {} --settle {settle}",
                        model.preferred().name
                    ));
                }
                DrbdFencing {
                    policy: "resource-and-stonith",
                    fence_peer,
                    unfence_peer: Some(format!(
                        "{} drbd-unfence-peer --clone {clone}",
                        crate::SELF_BIN
                    )),
                }
            }
            DrbdModule::V9 => DrbdFencing {
                policy: "resource-and-stonith",
                fence_peer: "/usr/lib/drbd/crm-fence-peer.9.sh".into(),
                unfence_peer: Some("/usr/lib/drbd/crm-unfence-peer.9.sh".into()),
            },
        })
    }

    fn dopd_helpers(&self, _model: &Model) -> Vec<&'static str> {
        Vec::new()
    }

    fn ignored_keys(&self) -> &'static [&'static str] {
        // Corosync derives its token from deadtime and encrypts with its own
        // authkey; the rest is ha.cf's.
        &[
            "membership.keepalive",
            "membership.warntime",
            "membership.initdead",
            "membership.udp-port",
            "membership.transport",
            "auth.algorithm",
            "fencing.heartbeat-plugin",
            "fencing.nodes.*.heartbeat-args",
        ]
    }

    fn fences_through(&self) -> crate::model::FenceInterface {
        crate::model::FenceInterface::FenceAgent
    }

    fn loads_cib(&self) -> bool {
        true
    }
}
