//! DRBD's view: `drbdsetup status --json` (DRBD 9 utilities with a DRBD 9 kernel)
//! or /proc/drbd (the DRBD 8.4 kernel module that Debian and Ubuntu ship in-tree;
//! drbdsetup-84 has no JSON).

use serde::Deserialize;

/// One volume of one resource, as far as health goes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DrbdVolume {
    /// The resource name (DRBD 9) or `drbdN` from the minor (8.4's /proc/drbd).
    pub resource: String,
    pub volume: u32,
    pub role: String,
    pub disk: String,
    /// Empty when there is no peer configured or known.
    pub peer_role: String,
    pub peer_disk: String,
    /// Connection state (8.4 cs: / 9 connection-state, e.g. Connected, StandAlone).
    pub connection: String,
    /// 9's replication state (Established, SyncSource, ...); 8.4 folds it into cs:.
    pub replication: String,
    /// Resync progress in percent while a resync runs.
    pub sync_percent: Option<f64>,
}

impl DrbdVolume {
    pub fn syncing(&self) -> bool {
        let r = if self.replication.is_empty() {
            &self.connection
        } else {
            &self.replication
        };
        r.starts_with("Sync") || r.starts_with("PausedSync")
    }

    pub fn connected(&self) -> bool {
        matches!(self.connection.as_str(), "Connected")
            || self.connection.starts_with("Sync")
            || self.connection.starts_with("PausedSync")
            || self.connection.starts_with("Verify")
    }

    /// The replication link is up: connected, or on the way into or out of a
    /// resync (8.4's StartingSync*, WFBitMap*, WFSyncUUID, Ahead/Behind).
    pub fn linked(&self) -> bool {
        self.connected()
            || self.connection.starts_with("StartingSync")
            || self.connection.starts_with("WFBitMap")
            || matches!(self.connection.as_str(), "WFSyncUUID" | "Ahead" | "Behind")
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
                .map(|p| p.replication_state.clone())
                .unwrap_or_default();
            let syncing = replication.starts_with("Sync") || replication.starts_with("PausedSync");
            out.push(DrbdVolume {
                resource: r.name.clone(),
                volume: dev.volume,
                role: r.role.clone(),
                disk: dev.disk_state.clone(),
                peer_role: conn.map(|c| c.peer_role.clone()).unwrap_or_default(),
                peer_disk: peer_dev
                    .map(|p| p.peer_disk_state.clone())
                    .unwrap_or_default(),
                connection: conn
                    .map(|c| c.connection_state.clone())
                    .unwrap_or_else(|| "StandAlone".into()),
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
            role,
            disk,
            peer_role,
            peer_disk,
            connection: cs,
            replication: String::new(),
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
