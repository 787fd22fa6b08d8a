//! What a node does with a written file: the kernel and systemd take theirs
//! right after the files are written (before any service starts), and each
//! running service re-reads its own files its own documented way, only when one
//! of them changed and the service runs here. One table, read top to bottom; a
//! file no row names needs nothing beyond being written (modules.conf, for one,
//! is read at Asterisk's next start). The CIB is not in this table: plan
//! compares the rendered one with the live one (`cib_step`), so a patch that
//! failed is planned again.

use super::Phase;
use crate::exec::Cmd;

/// When a row applies: the service that must be running on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Running {
    /// A systemd unit, active on this node.
    Unit(&'static str),
    /// The DRBD resource is configured in the kernel.
    Drbd,
    /// Always (no daemon holds the setting).
    Always,
    /// The node runs systemd (or the probe could not tell).
    Systemd,
    /// This command succeeds on the node: for a daemon the engine runs outside
    /// systemd (its unit stays inactive), asked the daemon's own way.
    Probe(&'static [&'static str]),
}

/// ldirectord's own status (LSB: 0 while it runs): the engines start it through
/// their agents, never through its systemd unit.
pub const LDIRECTORD_STATUS: &[&str] = &["ldirectord", "/etc/ha.d/ldirectord.cf", "status"];

/// One way a changed file reaches its service.
pub struct Reload {
    /// Whether a changed path belongs to this row.
    pub matches: fn(&str) -> bool,
    /// `Files`: right after the files, for a new file too (the kernel and
    /// systemd read theirs before any service starts). `Reload`: after the
    /// engine, only for a file whose contents changed under a running service.
    pub phase: Phase,
    pub running: Running,
    pub summary: &'static str,
    /// The commands, given the changed path and the DRBD resource name.
    pub commands: fn(path: &str, resource: &str) -> Vec<Cmd>,
}

fn asterisk(cli: &str) -> Vec<Cmd> {
    vec![Cmd::new("asterisk").args(["-rx", cli])]
}

pub const RELOADS: &[Reload] = &[
    // Modules first: some settings (net.ipv4.vs.*) exist only once ip_vs is loaded.
    Reload {
        matches: |p| p.starts_with("/etc/modules-load.d/"),
        phase: Phase::Files,
        running: Running::Always,
        summary: "load the listed kernel modules",
        commands: |_, _| {
            vec![Cmd::new("systemctl").args(["restart", "systemd-modules-load.service"])]
        },
    },
    Reload {
        matches: |p| p.starts_with("/etc/sysctl.d/"),
        phase: Phase::Files,
        running: Running::Always,
        summary: "apply the changed kernel settings",
        commands: |p, _| vec![Cmd::new("sysctl").args(["-q", "-p", p])],
    },
    // systemd reads changed drop-ins only on a reload; before any unit starts.
    Reload {
        matches: |p| {
            p.strip_prefix(crate::engine::SYSTEMD_UNITS)
                .is_some_and(|rest| rest.starts_with('/'))
        },
        phase: Phase::Files,
        running: Running::Systemd,
        summary: "make systemd read the changed unit drop-ins",
        commands: |_, _| vec![Cmd::new("systemctl").arg("daemon-reload")],
    },
    Reload {
        matches: |p| p == "/etc/asterisk/pjsip.conf",
        phase: Phase::Reload,
        running: Running::Unit("asterisk"),
        summary: "reload PJSIP in the running Asterisk (registrations and calls stay)",
        commands: |_, _| asterisk("module reload res_pjsip.so"),
    },
    Reload {
        matches: |p| p == "/etc/asterisk/extensions.conf",
        phase: Phase::Reload,
        running: Running::Unit("asterisk"),
        summary: "reload the dialplan in the running Asterisk",
        commands: |_, _| asterisk("dialplan reload"),
    },
    Reload {
        matches: |p| p == "/etc/asterisk/dundi.conf",
        phase: Phase::Reload,
        running: Running::Unit("asterisk"),
        summary: "reload DUNDi in the running Asterisk",
        commands: |_, _| asterisk("module reload pbx_dundi.so"),
    },
    Reload {
        matches: |p| p == "/etc/drbd.conf" || p.starts_with("/etc/drbd.d/"),
        phase: Phase::Reload,
        running: Running::Drbd,
        summary: "apply the DRBD options to the running resource (drbdadm adjust: sync rate and net options live; a changed address reconnects)",
        commands: |_, res| vec![Cmd::new("drbdadm").args(["adjust", res])],
    },
    Reload {
        matches: |p| p == "/etc/corosync/corosync.conf",
        phase: Phase::Reload,
        running: Running::Unit("corosync"),
        summary: "have corosync re-read corosync.conf (token and logging change live; node addresses only with a restart)",
        commands: |_, _| vec![Cmd::new("corosync-cfgtool").arg("-R")],
    },
    Reload {
        matches: |p| matches!(p, "/etc/ha.d/ha.cf" | "/etc/ha.d/authkeys"),
        phase: Phase::Reload,
        running: Running::Unit("heartbeat"),
        summary: "have Heartbeat re-read ha.cf and authkeys (haresources takes effect at the group's next start)",
        commands: |_, _| vec![Cmd::new("systemctl").args(["reload", "heartbeat"])],
    },
    Reload {
        matches: |p| p == "/etc/ha.d/ldirectord.cf",
        phase: Phase::Reload,
        running: Running::Probe(LDIRECTORD_STATUS),
        summary: "have the running ldirectord re-read its virtual services (on the director)",
        commands: |p, _| vec![Cmd::new("ldirectord").args([p, "reload"])],
    },
];

/// A change that a running cluster cannot take live: the file is written, but
/// what it changes reaches the service only by a restart, or only once the
/// other node has it too, and the cluster pays for the time between. Plan
/// refuses it unless the operator accepts the cost (`--allow-disruption`).
pub struct Disruption {
    pub matches: fn(&str) -> bool,
    pub running: Running,
    /// Whether the change from the node's file (`old`) to the new one is of
    /// this kind (bytes: a key is binary).
    pub changed: fn(old: &[u8], new: &[u8]) -> bool,
    pub cost: &'static str,
}

/// The lines of `text` that start with one of `keys` (after indentation).
fn lines_of(text: &[u8], keys: &[&str]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .map(str::trim)
        .filter(|l| keys.iter().any(|k| l.starts_with(k)))
        .map(String::from)
        .collect()
}

pub const DISRUPTIONS: &[Disruption] = &[
    Disruption {
        matches: |p| p == "/etc/corosync/authkey",
        running: Running::Unit("corosync"),
        changed: |old, new| old != new,
        cost: "corosync reads its key only when it starts, and nodes with different keys cannot talk: once both nodes have the new key, corosync and Pacemaker must restart on both together, and every resource stops meanwhile",
    },
    Disruption {
        matches: |p| p == "/etc/corosync/corosync.conf",
        running: Running::Unit("corosync"),
        changed: |old, new| {
            let keys = [
                "ring0_addr",
                "ring1_addr",
                "name:",
                "nodeid",
                "cluster_name",
            ];
            lines_of(old, &keys) != lines_of(new, &keys)
        },
        cost: "corosync changes node addresses, names and the cluster name only at a start: corosync must restart on both nodes, and the cluster loses its membership meanwhile",
    },
    Disruption {
        matches: |p| p == "/etc/ha.d/authkeys",
        running: Running::Unit("heartbeat"),
        changed: |old, new| old != new,
        cost: "Heartbeat drops packets signed with another key: until the other node has the new key too, each node hears nothing from the other and after the deadtime declares it dead (a takeover, a fence)",
    },
    Disruption {
        matches: |p| p.starts_with("/etc/drbd.d/") && p.ends_with(".res"),
        running: Running::Drbd,
        changed: |old, new| {
            lines_of(old, &["shared-secret", "address"])
                != lines_of(new, &["shared-secret", "address"])
        },
        cost: "DRBD refuses a peer with another secret or address: replication stops until the other node has the change too, no failover is possible meanwhile, and with both nodes Primary (load-balanced) the lost link makes one node fence the other",
    },
];

impl Disruption {
    /// Whether a file changed from `old` to `new` costs this, given what runs.
    pub fn applies(&self, path: &str, old: &[u8], new: &[u8], node: &OnNode<'_>) -> bool {
        (self.matches)(path) && self.running.on(node) && (self.changed)(old, new)
    }
}

impl Running {
    fn on(self, node: &OnNode<'_>) -> bool {
        match self {
            Running::Unit(u) => (node.unit_active)(u),
            Running::Drbd => node.drbd_up,
            Running::Always => true,
            Running::Systemd => node.systemd,
            Running::Probe(cmd) => (node.probe_ok)(cmd),
        }
    }
}

/// What runs on the node, as far as the rows ask.
pub struct OnNode<'a> {
    pub unit_active: &'a dyn Fn(&str) -> bool,
    /// Whether a `Running::Probe` command succeeded (the probe ran it).
    pub probe_ok: &'a dyn Fn(&[&str]) -> bool,
    pub drbd_up: bool,
    pub systemd: bool,
}

impl Reload {
    /// Whether this row applies to a changed path, given what runs on the node.
    pub fn applies(&self, path: &str, node: &OnNode<'_>) -> bool {
        (self.matches)(path) && self.running.on(node)
    }
}

/// The probe commands the rows ask the node to run, each once.
pub fn probes() -> Vec<&'static [&'static str]> {
    let mut out: Vec<&'static [&'static str]> = Vec::new();
    for r in RELOADS {
        if let Running::Probe(cmd) = r.running {
            if !out.contains(&cmd) {
                out.push(cmd);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drbd_row() -> &'static Disruption {
        DISRUPTIONS
            .iter()
            .find(|d| (d.matches)("/etc/drbd.d/r0.res"))
            .unwrap()
    }

    const RES: &str = "resource r0 {\n    net {\n        shared-secret \"a\";\n    }\n    handlers {\n        fence-peer \"/usr/sbin/pbx-cluster drbd-fence-peer --settle 12\";\n    }\n    on \"cl01\" {\n        address   10.0.0.3:7788;\n    }\n}\n";

    #[test]
    fn a_drbd_file_disrupts_only_through_its_secret_or_addresses() {
        let changed = drbd_row().changed;
        let handler = RES.replace("--settle 12", "--settle 14");
        assert!(
            !changed(RES.as_bytes(), handler.as_bytes()),
            "the handler is adjusted live"
        );
        let secret = RES.replace("shared-secret \"a\"", "shared-secret \"b\"");
        assert!(changed(RES.as_bytes(), secret.as_bytes()));
        let address = RES.replace("10.0.0.3", "10.0.0.5");
        assert!(changed(RES.as_bytes(), address.as_bytes()));
    }

    #[test]
    fn keys_compare_as_bytes() {
        let authkey = DISRUPTIONS
            .iter()
            .find(|d| (d.matches)("/etc/corosync/authkey"))
            .unwrap();
        // Two keys that differ only in bytes that are not UTF-8.
        assert!((authkey.changed)(&[0xff, 0x01], &[0xfe, 0x01]));
        assert!(!(authkey.changed)(&[0xff, 0x01], &[0xff, 0x01]));
    }
}
