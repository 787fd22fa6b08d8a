//! Where a failover's seconds went, read from the survivor's journal (pure).
//!
//! Input: `journalctl -o short-unix` lines of the survivor (guest clock) and the
//! kill instant in guest time. Output: milestones in order, each the first matching
//! line after the kill, with its offset from the kill and from the previous
//! milestone. Both engines log through the same kernel and systemd, so the
//! kernel's DRBD/XFS lines and systemd's unit lines work for both; the engine's own
//! lines (corosync membership, pacemaker-controld results, heartbeat's dead-node
//! message and ResourceManager runs) fill in the rest.

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Milestone {
    pub name: String,
    /// Seconds from the kill.
    pub at_s: f64,
    /// Seconds from the previous milestone (or the kill).
    pub delta_s: f64,
}

/// (milestone, any of these substrings).
fn patterns(services: &[String]) -> Vec<(String, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut p = vec![
        (
            "peer declared dead / new membership".to_string(),
            s(&[
                "A new membership",
                ": is dead",
                "Dead node",
                "Node node1 state is now lost",
                "Node node2 state is now lost",
            ]),
        ),
        (
            "DRBD promoted".to_string(),
            s(&[
                "role( Secondary -> Primary )",
                "Result of promote operation for drbd",
            ]),
        ),
        (
            "filesystem mounted".to_string(),
            s(&[
                "XFS (drbd0): Ending",
                "EXT4-fs (drbd0): mounted",
                "Result of start operation for fs-",
            ]),
        ),
        (
            "drbdlinks".to_string(),
            s(&[
                "Result of start operation for drbdlinks",
                "Running /etc/ha.d/resource.d/IPaddr2",
            ]),
        ),
        (
            "virtual IP".to_string(),
            s(&["Result of start operation for vip", "Adding inet address"]),
        ),
    ];
    for svc in services {
        p.push((
            format!("{svc} started"),
            vec![
                format!("Result of start operation for svc-{svc}"),
                format!("Started {svc}.service"),
            ],
        ));
    }
    p
}

/// Parses one `short-unix` line: "EPOCH.FRACTION HOST IDENT[PID]: MESSAGE".
pub fn timestamp(line: &str) -> Option<f64> {
    line.split_whitespace().next()?.parse().ok()
}

/// The milestones of one failover. `kill_guest` is the kill in guest epoch seconds;
/// `sip_ok_s` (host-measured, seconds from the kill) closes the list.
pub fn milestones(
    journal: &str,
    kill_guest: f64,
    services: &[String],
    sip_ok_s: Option<f64>,
) -> Vec<Milestone> {
    let mut found: Vec<(String, f64)> = Vec::new();
    for (name, pats) in patterns(services) {
        let hit = journal.lines().find_map(|l| {
            let t = timestamp(l)?;
            (t >= kill_guest && pats.iter().any(|p| l.contains(p.as_str()))).then_some(t)
        });
        if let Some(t) = hit {
            found.push((name, t - kill_guest));
        }
    }
    if let Some(s) = sip_ok_s {
        found.push(("SIP answers on the virtual IP".into(), s));
    }
    // Keep the log's order; a milestone logged before its predecessor (clock noise)
    // must not produce negative deltas.
    found.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut prev = 0.0;
    found
        .into_iter()
        .map(|(name, at)| {
            let m = Milestone {
                name,
                at_s: round2(at),
                delta_s: round2(at - prev),
            };
            prev = at;
            m
        })
        .collect()
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The slowest step of a failover.
pub fn slowest(ms: &[Milestone]) -> Option<&Milestone> {
    ms.iter().max_by(|a, b| a.delta_s.total_cmp(&b.delta_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACEMAKER: &str = "\
1000.100000 node2 sshd[1]: Accepted publickey for root
1003.500000 node2 corosync[812]: [TOTEM ] A new membership (2.5) was formed. Members left: 1
1008.900000 node2 kernel: block drbd0: role( Secondary -> Primary )
1009.000000 node2 pacemaker-controld[900]: notice: Result of promote operation for drbd-r0 on node2: OK
1012.000000 node2 kernel: XFS (drbd0): Ending recovery (logdev: internal)
1012.400000 node2 pacemaker-controld[900]: notice: Result of start operation for fs-r0 on node2: OK
1014.000000 node2 pacemaker-controld[900]: notice: Result of start operation for drbdlinks on node2: OK
1016.000000 node2 IPaddr2(vip)[1200]: INFO: Adding inet address 172.30.0.100/24 with broadcast address 172.30.0.255 to device eth0
1016.500000 node2 pacemaker-controld[900]: notice: Result of start operation for vip on node2: OK
1030.000000 node2 systemd[1]: Started asterisk.service - Asterisk PBX.
";

    #[test]
    fn pacemaker_failover_splits_into_ordered_phases() {
        let ms = milestones(PACEMAKER, 1000.0, &["asterisk".into()], Some(37.2));
        let names: Vec<&str> = ms.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "peer declared dead / new membership",
                "DRBD promoted",
                "filesystem mounted",
                "drbdlinks",
                "virtual IP",
                "asterisk started",
                "SIP answers on the virtual IP"
            ]
        );
        assert_eq!(ms[0].at_s, 3.5);
        assert_eq!(ms[1].delta_s, 5.4);
        assert_eq!(ms[2].at_s, 12.0);
        assert_eq!(ms[4].at_s, 16.0);
        assert_eq!(ms[6].delta_s, 7.2);
        assert_eq!(
            slowest(&ms).map(|m| m.name.as_str()),
            Some("asterisk started")
        );
    }

    #[test]
    fn lines_before_the_kill_do_not_count() {
        let log = "990.0 node2 corosync[1]: [TOTEM ] A new membership (1.1) was formed.\n\
                   1004.0 node2 corosync[1]: [TOTEM ] A new membership (2.5) was formed.\n";
        let ms = milestones(log, 1000.0, &[], None);
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].at_s, 4.0);
    }

    #[test]
    fn heartbeat_lines_are_recognised() {
        let log = "\
2001.0 node2 heartbeat[700]: WARN: node node1: is dead
2004.0 node2 kernel: block drbd0: role( Secondary -> Primary )
2007.0 node2 kernel: XFS (drbd0): Ending recovery (logdev: internal)
2008.0 node2 ResourceManager(default)[900]: info: Running /etc/ha.d/resource.d/IPaddr2 172.30.0.100/24/eth0 start
2009.0 node2 IPaddr2(IPaddr2_172.30.0.100)[950]: INFO: Adding inet address 172.30.0.100/24
2025.0 node2 systemd[1]: Started asterisk.service - Asterisk PBX.
";
        let ms = milestones(log, 2000.0, &["asterisk".into()], Some(30.0));
        assert_eq!(ms.len(), 7);
        assert_eq!(ms[0].at_s, 1.0);
        assert_eq!(ms[3].name, "drbdlinks");
        assert_eq!(ms[3].at_s, 8.0);
        assert_eq!(ms[5].delta_s, 16.0);
    }

    #[test]
    fn garbage_and_missing_milestones_are_skipped() {
        let ms = milestones("not a journal line\n\n", 0.0, &["asterisk".into()], None);
        assert!(ms.is_empty());
    }
}
