//! What a running node does with a changed file: each service re-reads its own
//! files its own documented way, and only when one of them changed and the
//! service runs here. One table, read top to bottom; a file no row names needs
//! nothing beyond being written (modules.conf, for one, is read at Asterisk's next
//! start). The CIB is not in this table: plan compares the rendered one with the
//! live one (`cib_step`), so a patch that failed is planned again.

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
}

/// One way a changed file reaches its service.
pub struct Reload {
    /// Whether a changed path belongs to this row.
    pub matches: fn(&str) -> bool,
    pub running: Running,
    pub summary: &'static str,
    /// The commands, given the changed path and the DRBD resource name.
    pub commands: fn(path: &str, resource: &str) -> Vec<Cmd>,
}

fn asterisk(cli: &str) -> Vec<Cmd> {
    vec![Cmd::new("asterisk").args(["-rx", cli])]
}

pub const RELOADS: &[Reload] = &[
    Reload {
        matches: |p| p == "/etc/asterisk/pjsip.conf",
        running: Running::Unit("asterisk"),
        summary: "reload PJSIP in the running Asterisk (registrations and calls stay)",
        commands: |_, _| asterisk("module reload res_pjsip.so"),
    },
    Reload {
        matches: |p| p == "/etc/asterisk/extensions.conf",
        running: Running::Unit("asterisk"),
        summary: "reload the dialplan in the running Asterisk",
        commands: |_, _| asterisk("dialplan reload"),
    },
    Reload {
        matches: |p| p == "/etc/asterisk/dundi.conf",
        running: Running::Unit("asterisk"),
        summary: "reload DUNDi in the running Asterisk",
        commands: |_, _| asterisk("module reload pbx_dundi.so"),
    },
    Reload {
        matches: |p| p == "/etc/drbd.conf" || p.starts_with("/etc/drbd.d/"),
        running: Running::Drbd,
        summary: "apply the DRBD options to the running resource (drbdadm adjust: sync rate and net options live; a changed address reconnects)",
        commands: |_, res| vec![Cmd::new("drbdadm").args(["adjust", res])],
    },
    Reload {
        matches: |p| p.starts_with("/etc/sysctl.d/"),
        running: Running::Always,
        summary: "load the kernel settings",
        commands: |p, _| vec![Cmd::new("sysctl").args(["-q", "-p", p])],
    },
    Reload {
        matches: |p| p == "/etc/corosync/corosync.conf",
        running: Running::Unit("corosync"),
        summary: "have corosync re-read corosync.conf (token and logging change live; node addresses only with a restart)",
        commands: |_, _| vec![Cmd::new("corosync-cfgtool").arg("-R")],
    },
    Reload {
        matches: |p| matches!(p, "/etc/ha.d/ha.cf" | "/etc/ha.d/authkeys"),
        running: Running::Unit("heartbeat"),
        summary: "have Heartbeat re-read ha.cf and authkeys (haresources takes effect at the group's next start)",
        commands: |_, _| vec![Cmd::new("systemctl").args(["reload", "heartbeat"])],
    },
    Reload {
        matches: |p| p == "/etc/ha.d/ldirectord.cf",
        running: Running::Unit("ldirectord"),
        summary: "have ldirectord re-read its virtual services",
        commands: |_, _| vec![Cmd::new("systemctl").args(["reload", "ldirectord"])],
    },
];

impl Reload {
    /// Whether this row applies to a changed path, given what runs on the node.
    pub fn applies(&self, path: &str, unit_active: &dyn Fn(&str) -> bool, drbd_up: bool) -> bool {
        (self.matches)(path)
            && match self.running {
                Running::Unit(u) => unit_active(u),
                Running::Drbd => drbd_up,
                Running::Always => true,
            }
    }
}
