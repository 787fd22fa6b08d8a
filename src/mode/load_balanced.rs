//! Load-balanced: both nodes serve; the director (virtual IP + ldirectord) moves,
//! DUNDi finds phones on the peer, OCFS2 on dual-primary DRBD holds shared data.

use super::Home;
use std::path::Path;

use crate::diagnostics::{Diagnostic, Severity};
use crate::engine::{FileSpec, SYSTEMD_UNITS, Source};
use crate::model::{Filesystem, Model, Protocol, Storage};

/// Name of DUNDi's key pair in `DUNDI_KEY_DIR` (dundi.conf inkey/outkey).
pub const DUNDI_KEY: &str = "pbx-cluster-dundi";
/// Where Asterisk's res_crypto reads keys on Debian and Ubuntu: the compiled-in
/// data directory's keys/. The packaged asterisk.conf names /var/lib/asterisk, but
/// in a template section ("[directories](!)") that Asterisk does not apply; keys
/// written there were never loaded, and DUNDi could not talk to its peer (seen in
/// the paired VMs: "No such key 'pbx-cluster-dundi'").
pub const DUNDI_KEY_DIR: &str = "/usr/share/asterisk/keys";

pub struct LoadBalanced;

/// What two Asterisks must never share: a shared link that is one of these, or
/// holds one, is refused. OCFS2 loses lines when two nodes append to one file.
const PER_NODE: &[&str] = &[
    "/etc/asterisk",
    "/var/lib/asterisk",
    "/var/log/asterisk",
    "/var/spool/asterisk/outgoing",
    "/var/run/asterisk",
];

fn per_node_reason(path: &str) -> &'static str {
    match path {
        "/etc/asterisk" => "its DUNDi identity and transports name the node",
        "/var/lib/asterisk" => {
            "the astdb holds this node's registrations; the DUNDi keys live there"
        }
        "/var/log/asterisk" => {
            "both nodes would append to the same logs and call records, and OCFS2 loses lines then"
        }
        "/var/spool/asterisk/outgoing" => "both nodes would place the same call files",
        _ => "its control socket and pid belong to the local Asterisk",
    }
}

/// The unit that puts the virtual IP on lo (direct routing, on both nodes).
pub const VIP_ON_LO: &str = "pbx-cluster-vip-on-lo";
/// The unit that mounts the shared filesystem at boot where no resource manager
/// does (Heartbeat moves only the director).
pub const SHARED_MOUNT: &str = "pbx-cluster-shared";

/// The services that stay single-instance in load-balanced mode: the database
/// cannot run on both nodes over one data directory, so it moves with the director.
pub fn is_database(service: &str) -> bool {
    matches!(service, "mysql" | "mariadb" | "postgresql")
}

impl Home for LoadBalanced {
    fn name(&self) -> &'static str {
        "load-balanced"
    }

    fn packages(&self) -> &'static [&'static str] {
        &["ldirectord", "ipvsadm", "ocfs2-tools"]
    }

    fn boot_enable(&self, model: &Model) -> Vec<&'static str> {
        let mut u = vec!["o2cb", VIP_ON_LO];
        if model.engine_home().balanced_services_at_boot() {
            u.push(SHARED_MOUNT);
        }
        u
    }

    fn boot_disable(&self) -> &'static [&'static str] {
        // ldirectord moves with the virtual IP.
        &["ldirectord"]
    }

    fn service_at_boot(&self, model: &Model, service: &str) -> bool {
        !is_database(service) && model.engine_home().balanced_services_at_boot()
    }

    fn files(&self, model: &Model) -> Vec<FileSpec> {
        let key = format!("{DUNDI_KEY_DIR}/{DUNDI_KEY}");
        let mut files = vec![
            FileSpec::template("lb/ldirectord.cf.j2", "/etc/ha.d/ldirectord.cf", 0o644),
            FileSpec::template("lb/cluster.conf.j2", "/etc/ocfs2/cluster.conf", 0o644),
            FileSpec::template("lb/dundi.conf.j2", "/etc/asterisk/dundi.conf", 0o640)
                .group("asterisk"),
            // res_crypto refuses a private key that anyone but its owner may
            // read ("Private key file has bad permissions: ... 0640", seen in the
            // paired VMs): 0600, owned by the user Asterisk runs as.
            FileSpec {
                source: Source::DundiPrivateKey,
                path: format!("{key}.key"),
                mode: 0o600,
                owner: "asterisk",
                group: "asterisk",
                secret: true,
            },
            FileSpec {
                source: Source::DundiPublicKey,
                path: format!("{key}.pub"),
                mode: 0o644,
                owner: "root",
                group: "asterisk",
                secret: false,
            },
            FileSpec::template(
                "sysctl/lvs.conf.j2",
                "/etc/sysctl.d/60-pbx-cluster-lvs.conf",
                0o644,
            ),
            FileSpec::template(
                "lb/modules-load.conf.j2",
                "/etc/modules-load.d/pbx-cluster-lvs.conf",
                0o644,
            ),
            FileSpec::template(
                "lb/vip-lo.service.j2",
                &format!("{SYSTEMD_UNITS}/{VIP_ON_LO}.service"),
                0o644,
            ),
            FileSpec::template("lb/o2cb.default.j2", "/etc/default/o2cb", 0o644),
            FileSpec::template(
                "lb/check-sip.default.j2",
                "/etc/default/pbx-cluster-check-sip",
                0o644,
            ),
        ];
        if model.engine_home().balanced_services_at_boot() {
            // Services that start at boot need the shared folders at boot.
            files.push(FileSpec::template(
                "lb/shared.service.j2",
                &format!("{SYSTEMD_UNITS}/{SHARED_MOUNT}.service"),
                0o644,
            ));
            // ... and someone to restart them: no resource manager does.
            for svc in model
                .services
                .iter()
                .filter(|s| self.service_at_boot(model, s))
            {
                files.push(FileSpec::template(
                    "lb/restart.conf.j2",
                    &format!("{SYSTEMD_UNITS}/{svc}.service.d/50-pbx-cluster-restart.conf"),
                    0o644,
                ));
            }
        }
        files
    }

    fn balances(&self) -> bool {
        true
    }

    fn moves(&self) -> super::Moves {
        super::Moves::Director
    }

    fn primary_at_boot(&self, model: &Model) -> bool {
        // Where the services start at boot, so does the storage under them
        // (become-primary-on both, SHARED_MOUNT); otherwise the engine's clones.
        model.engine_home().balanced_services_at_boot()
    }

    fn cluster_filesystem(&self) -> bool {
        true
    }

    fn needs_fencing(&self) -> Option<&'static str> {
        Some(
            "load-balanced mode mounts a cluster filesystem on both nodes, and it freezes every write until a failed node is fenced; without a fence device the survivor never writes again (and a cut link lets both nodes write apart)",
        )
    }

    fn storage_rules(&self, s: &Storage) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let err = |field: &str, message: String, fix: &str| {
            Diagnostic::new(Severity::Error, field, message, fix)
        };
        if s.filesystem != Filesystem::Ocfs2 {
            out.push(err(
                "storage.filesystem",
                format!(
                    "load-balanced mode mounts the replicated disk on both nodes, which {} cannot do",
                    s.filesystem.name()
                ),
                "set storage.filesystem = \"ocfs2\" (a cluster filesystem)",
            ));
        }
        if s.protocol != Protocol::C {
            out.push(err(
                "storage.protocol",
                "dual-primary DRBD (load-balanced mode) needs protocol C".into(),
                "set storage.protocol = \"C\"",
            ));
        }
        for (i, link) in s.links.iter().enumerate() {
            if let Some(local) = PER_NODE.iter().find(|p| Path::new(p).starts_with(link)) {
                out.push(err(
                    &format!("storage.links[{i}]"),
                    format!(
                        "in load-balanced mode both nodes run Asterisk, and {local} must stay each node's own ({})",
                        per_node_reason(local)
                    ),
                    "share only data both nodes may read and write, such as /var/spool/asterisk/voicemail or /var/spool/asterisk/monitor",
                ));
            }
        }
        out
    }
}
