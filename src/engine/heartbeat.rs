//! Heartbeat 3 in haresources mode (no CRM): ha.cf, authkeys, haresources; dopd
//! outdates the peer's disk over the heartbeat links.

use super::{DrbdFencing, FileSpec, Home};
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

    fn drbd_fencing(
        &self,
        _model: &Model,
        _node: &Node,
        _dual_primary: bool,
    ) -> Option<DrbdFencing> {
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
