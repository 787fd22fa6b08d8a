//! Heartbeat 3 in haresources mode (no CRM): ha.cf, authkeys, haresources; dopd
//! outdates the peer's disk over the heartbeat links (one Primary); with both
//! nodes Primary (load-balanced) pbx-cluster's handler fences the peer instead.

use super::{DUAL_PRIMARY_SETTLE_MARGIN_S, DrbdFencing, FileSpec, Home};
use crate::model::{DrbdModule, Model, Node};

pub struct Heartbeat;

impl Home for Heartbeat {
    fn name(&self) -> &'static str {
        "heartbeat"
    }

    fn packages(&self) -> &'static [&'static str] {
        // drbd-utils ships /etc/ha.d/resource.d/drbddisk; resource-agents has IPaddr2.
        &["heartbeat", "resource-agents"]
    }

    fn boot_enable(&self) -> &'static [&'static str] {
        // drbd's init script attaches the disk as Secondary; drbddisk promotes.
        &["drbd", "heartbeat"]
    }

    fn boot_disable(&self) -> &'static [&'static str] {
        &[]
    }

    fn balanced_services_at_boot(&self) -> bool {
        // haresources holds only the director; the rest starts at boot, after the
        // shared filesystem (mode::load_balanced::SHARED_MOUNT).
        true
    }

    fn files(&self, model: &Model) -> Vec<FileSpec> {
        // stonith_host lines carry the fence devices' credentials.
        let fenced = model.fencing.enabled();
        vec![
            FileSpec::template(
                "heartbeat/ha.cf.j2",
                "/etc/ha.d/ha.cf",
                if fenced { 0o600 } else { 0o644 },
            )
            .secret(fenced),
            FileSpec::template("heartbeat/authkeys.j2", "/etc/ha.d/authkeys", 0o600).secret(true),
            FileSpec::template("heartbeat/haresources.j2", "/etc/ha.d/haresources", 0o644),
        ]
    }

    fn drbd_fencing(&self, model: &Model, _node: &Node, dual_primary: bool) -> Option<DrbdFencing> {
        if dual_primary && model.fencing.enabled() {
            // Both nodes Primary: dopd's "unreachable" lets both write on before
            // anybody is fenced, so our handler keeps I/O frozen until it has
            // reset the peer through this node's stonith_host device
            // (runtime::fence_peer_heartbeat). Heartbeat declares a peer dead
            // after the deadtime.
            let settle = model.membership.deadtime.as_secs_f64().ceil() as u64
                + DUAL_PRIMARY_SETTLE_MARGIN_S;
            return Some(DrbdFencing {
                policy: "resource-and-stonith",
                fence_peer: format!(
                    "{} drbd-fence-peer --engine heartbeat --dual-primary --survivor {} --settle {settle}",
                    crate::SELF_BIN,
                    model.preferred().name
                ),
                unfence_peer: None,
            });
        }
        // dopd marks the peer's disk Outdated over the heartbeat links.
        Some(DrbdFencing {
            policy: "resource-only",
            fence_peer: "/usr/libexec/heartbeat/drbd-peer-outdater -t 5".into(),
            unfence_peer: None,
        })
    }

    fn dopd_helpers(&self, model: &Model) -> Vec<&'static str> {
        let v9 = model.nodes.iter().any(|n| n.drbd_module == DrbdModule::V9);
        if v9 {
            vec!["/sbin/drbdsetup", "/sbin/drbdmeta"]
        } else {
            vec!["/lib/drbd/drbdsetup-84", "/sbin/drbdmeta"]
        }
    }

    fn fences_through(&self) -> crate::model::FenceInterface {
        crate::model::FenceInterface::StonithPlugin
    }

    fn loads_cib(&self) -> bool {
        false
    }

    fn ignored_keys(&self) -> &'static [&'static str] {
        // The fence agent's parameters go into the CIB's stonith resources;
        // Heartbeat's stonith_host line takes heartbeat-args.
        &["fencing.nodes.*.params"]
    }
}
