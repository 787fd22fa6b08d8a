//! DRBD's view: `drbdsetup status --json` (DRBD 9 utilities with a DRBD 9 kernel)
//! or /proc/drbd (the DRBD 8.4 kernel module that Debian and Ubuntu ship in-tree;
//! drbdsetup-84 has no JSON). One parser per format; the states are typed, so
//! callers match on variants instead of comparing text.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// A DRBD state word as an enum, with `Other` for a word this version does not
/// know (a newer DRBD may add one): shown as DRBD wrote it, never matched.
macro_rules! drbd_state {
    ($(#[$doc:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $($variant,)+
            Other(String),
        }

        impl $name {
            pub fn parse(word: &str) -> Self {
                match word {
                    $(stringify!($variant) => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => stringify!($variant),)+
                    $name::Other(s) => s,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

drbd_state!(
    /// ro: (8.4) and role (9).
    Role { Primary, Secondary, Unknown }
);

drbd_state!(
    /// ds: (8.4) and disk-state (9).
    DiskState {
        Diskless, Attaching, Detaching, Failed, Negotiating, Inconsistent, Outdated,
        DUnknown, Consistent, UpToDate,
    }
);

drbd_state!(
    /// cs: (8.4, which folds the replication state into it), connection-state and
    /// replication-state (9).
    Link {
        StandAlone, Disconnecting, Unconnected, Timeout, BrokenPipe, NetworkFailure,
        ProtocolError, TearDown, WFConnection, WFReportParams, Connecting, Connected,
        Off, Established, StartingSyncS, StartingSyncT, WFBitMapS, WFBitMapT, WFSyncUUID,
        SyncSource, SyncTarget, PausedSyncS, PausedSyncT, VerifyS, VerifyT, Ahead, Behind,
    }
);

impl Link {
    /// A resync runs (or is paused).
    pub fn syncing(&self) -> bool {
        matches!(
            self,
            Link::SyncSource | Link::SyncTarget | Link::PausedSyncS | Link::PausedSyncT
        )
    }
}

/// An optional state shown as DRBD's tools show a missing one: empty.
fn or_empty<T: Serialize, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => v.serialize(s),
        None => s.serialize_str(""),
    }
}

/// One volume of one resource, as far as health goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrbdVolume {
    /// The resource name (DRBD 9) or `drbdN` from the minor (8.4's /proc/drbd).
    pub resource: String,
    pub volume: u32,
    pub role: Role,
    pub disk: DiskState,
    /// None when there is no peer configured or known.
    #[serde(serialize_with = "or_empty")]
    pub peer_role: Option<Role>,
    #[serde(serialize_with = "or_empty")]
    pub peer_disk: Option<DiskState>,
    /// Connection state (8.4 cs: / 9 connection-state, e.g. Connected, StandAlone).
    pub connection: Link,
    /// 9's replication state (Established, SyncSource, ...); 8.4 folds it into cs:.
    #[serde(serialize_with = "or_empty")]
    pub replication: Option<Link>,
    /// Resync progress in percent while a resync runs.
    pub sync_percent: Option<f64>,
}

impl DrbdVolume {
    /// The state that says what the replication does: 9's replication state, else
    /// 8.4's cs:.
    pub fn link(&self) -> &Link {
        self.replication.as_ref().unwrap_or(&self.connection)
    }

    pub fn syncing(&self) -> bool {
        self.link().syncing()
    }

    pub fn connected(&self) -> bool {
        self.connection == Link::Connected
            || self.connection.syncing()
            || matches!(self.connection, Link::VerifyS | Link::VerifyT)
    }

    /// The replication link is up: connected, or on the way into or out of a
    /// resync (8.4's StartingSync*, WFBitMap*, WFSyncUUID, Ahead/Behind).
    pub fn linked(&self) -> bool {
        self.connected()
            || matches!(
                self.connection,
                Link::StartingSyncS
                    | Link::StartingSyncT
                    | Link::WFBitMapS
                    | Link::WFBitMapT
                    | Link::WFSyncUUID
                    | Link::Ahead
                    | Link::Behind
            )
    }

    /// Both disks UpToDate over a live link: nothing to resync, nothing lost.
    pub fn in_sync(&self) -> bool {
        self.connected()
            && !self.syncing()
            && self.disk == DiskState::UpToDate
            && self.peer_disk == Some(DiskState::UpToDate)
    }
}

#[derive(Deserialize)]
struct JsonResource {
    name: String,
    role: String,
    #[serde(default)]
    devices: Vec<JsonDevice>,
    #[serde(default)]
    connections: Vec<JsonConnection>,
}

#[derive(Deserialize)]
struct JsonDevice {
    volume: u32,
    #[serde(rename = "disk-state")]
    disk_state: String,
}

#[derive(Deserialize)]
struct JsonConnection {
    #[serde(rename = "connection-state")]
    connection_state: String,
    #[serde(rename = "peer-role", default)]
    peer_role: String,
    #[serde(default)]
    peer_devices: Vec<JsonPeerDevice>,
}

#[derive(Deserialize)]
struct JsonPeerDevice {
    volume: u32,
    #[serde(rename = "replication-state", default)]
    replication_state: String,
    #[serde(rename = "peer-disk-state", default)]
    peer_disk_state: String,
    #[serde(rename = "percent-in-sync")]
    percent_in_sync: Option<f64>,
}

/// Parses `drbdsetup status --json`. Two-node clusters have at most one connection
/// per resource; a resource with none shows as StandAlone.
pub fn parse_drbdsetup_json(text: &str) -> Result<Vec<DrbdVolume>, String> {
    let resources: Vec<JsonResource> =
        serde_json::from_str(text).map_err(|e| format!("drbdsetup status --json: {e}"))?;
    let mut out = Vec::new();
    for r in resources {
        for dev in &r.devices {
            let conn = r.connections.first();
            let peer_dev =
                conn.and_then(|c| c.peer_devices.iter().find(|p| p.volume == dev.volume));
            let replication = peer_dev
                .map(|p| p.replication_state.as_str())
                .filter(|s| !s.is_empty())
                .map(Link::parse);
            let syncing = replication.as_ref().is_some_and(Link::syncing);
            out.push(DrbdVolume {
                resource: r.name.clone(),
                volume: dev.volume,
                role: Role::parse(&r.role),
                disk: DiskState::parse(&dev.disk_state),
                peer_role: conn
                    .map(|c| c.peer_role.as_str())
                    .filter(|s| !s.is_empty())
                    .map(Role::parse),
                peer_disk: peer_dev
                    .map(|p| p.peer_disk_state.as_str())
                    .filter(|s| !s.is_empty())
                    .map(DiskState::parse),
                connection: conn.map_or(Link::StandAlone, |c| Link::parse(&c.connection_state)),
                replication,
                sync_percent: if syncing {
                    peer_dev.and_then(|p| p.percent_in_sync)
                } else {
                    None
                },
            });
        }
    }
    Ok(out)
}

/// Parses /proc/drbd of DRBD 8.4 (`N: cs:X ro:A/B ds:C/D ...`, and a
/// `sync'ed: P%` line under a volume that is resyncing). Unconfigured minors
/// (`cs:Unconfigured`) are left out.
pub fn parse_proc_drbd(text: &str) -> Result<Vec<DrbdVolume>, String> {
    let mut out: Vec<DrbdVolume> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.split_once("sync'ed:").map(|(_, r)| r) {
            let pct = rest
                .split_whitespace()
                .next()
                .and_then(|p| p.trim_end_matches('%').parse::<f64>().ok());
            if let Some(last) = out.last_mut() {
                last.sync_percent = pct;
            }
            continue;
        }
        let Some((minor, rest)) = trimmed.split_once(": cs:") else {
            continue;
        };
        let Ok(minor) = minor.parse::<u32>() else {
            continue;
        };
        let rest = format!("cs:{rest}");
        let field = |key: &str| {
            rest.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .unwrap_or("")
                .to_string()
        };
        let cs = field("cs:");
        if cs == "Unconfigured" {
            continue;
        }
        let (role, peer_role) = split_pair(&field("ro:"));
        let (disk, peer_disk) = split_pair(&field("ds:"));
        if role.is_empty() {
            return Err(format!("/proc/drbd: minor {minor} has no ro: field"));
        }
        out.push(DrbdVolume {
            resource: format!("drbd{minor}"),
            volume: 0,
            role: Role::parse(&role),
            disk: DiskState::parse(&disk),
            peer_role: (!peer_role.is_empty()).then(|| Role::parse(&peer_role)),
            peer_disk: (!peer_disk.is_empty()).then(|| DiskState::parse(&peer_disk)),
            connection: Link::parse(&cs),
            replication: None,
            sync_percent: None,
        });
    }
    Ok(out)
}

fn split_pair(s: &str) -> (String, String) {
    match s.split_once('/') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (s.to_string(), String::new()),
    }
}
