//! Heartbeat 3's view, from `cl_status` (hbstatus, listnodes -n, nodestatus NODE,
//! rscstatus) and /etc/ha.d/haresources (ha.cf(5), haresources(5)).
//!
//! cl_status prints bare words without `-m`: nodestatus says active, up, dead or ping;
//! rscstatus says all, local, foreign, none or transition (relative to this node).

/// `cl_status hbstatus`: exit 0 and "Heartbeat is running on this machine.".
pub fn hb_running(code: Option<i32>, stdout: &str) -> bool {
    code == Some(0) && stdout.contains("is running on this machine")
}

/// `cl_status listnodes -n`: one node name per line.
pub fn parse_listnodes(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// `cl_status nodestatus NODE`: a node counts as a member when active or up.
pub fn node_alive(stdout: &str) -> bool {
    matches!(stdout.trim(), "active" | "up")
}

/// One haresources line: the owning (preferred) node and its resources in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HaGroup {
    pub owner: String,
    pub resources: Vec<String>,
}

impl HaGroup {
    /// The virtual IP of the first `IPaddr2::`/`IPaddr::` resource, or a bare
    /// address (haresources(5) allows `192.168.1.5` alone for IPaddr).
    pub fn vip(&self) -> Option<String> {
        self.resources.iter().find_map(|r| {
            let spec = r
                .strip_prefix("IPaddr2::")
                .or_else(|| r.strip_prefix("IPaddr::"))
                .unwrap_or(r);
            let ip = spec.split('/').next().unwrap_or("");
            ip.parse::<std::net::IpAddr>().ok().map(|a| a.to_string())
        })
    }

    /// Resource names without `::` arguments, for display.
    pub fn names(&self) -> Vec<String> {
        self.resources
            .iter()
            .map(|r| r.split("::").next().unwrap_or(r).to_string())
            .collect()
    }
}

/// Parses haresources: `#` comments, `\` line continuation, one group per line.
pub fn parse_haresources(text: &str) -> Vec<HaGroup> {
    let joined = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let owner = words.next()?.to_string();
            Some(HaGroup {
                owner,
                resources: words.map(str::to_string).collect(),
            })
        })
        .collect()
}

/// Who holds the group, from this node's `rscstatus` answer. `None` when the answer
/// does not say (none/transition: the peer may hold it, or nobody).
pub fn holder(rscstatus: &str, local: &str, peer: Option<&str>, owner: &str) -> Option<String> {
    let local_is_owner = local == owner;
    match rscstatus.trim() {
        "all" => Some(local.to_string()),
        "local" if local_is_owner => Some(local.to_string()),
        "foreign" if !local_is_owner => Some(local.to_string()),
        // This node holds only the half that is not the group: the peer has it.
        "local" | "foreign" => peer.map(str::to_string),
        _ => None,
    }
}
