//! The load-balanced lab's database (MariaDB, one instance that moves with the
//! director, its data in /var/lib/mysql on the shared filesystem): which node runs
//! it, and rows written through it that must survive a move.

use std::time::Duration;

use super::SHARED;
use crate::cluster::Pair;
use crate::report::Scenario;

/// The unit as Debian names it.
const UNIT: &str = "mariadb";
/// The director's database at a cold start, from the first SIP answer.
const START_WAIT: Duration = Duration::from_secs(300);
/// A row's write and read: a starting or recovering InnoDB answers slowly under
/// emulation.
const QUERY_T: Duration = Duration::from_secs(60);

/// Whether the database runs on node `i` (systemd's word for it).
pub fn state(pair: &Pair, i: usize) -> String {
    pair.sh(i, &format!("systemctl is-active {UNIT}"))
        .stdout_str()
        .trim()
        .to_string()
}

/// Writes the row `tag` through the database on node `i` (InnoDB commits with a
/// flush: an acknowledged row is on the disk; a row already there counts);
/// whether it was acknowledged.
pub fn write_row(pair: &Pair, i: usize, tag: &str) -> bool {
    let sql = format!(
        "CREATE DATABASE IF NOT EXISTS lab; \
         CREATE TABLE IF NOT EXISTS lab.marks (tag VARCHAR(64) PRIMARY KEY) ENGINE=InnoDB; \
         INSERT IGNORE INTO lab.marks VALUES ('{tag}'); SELECT 'acknowledged';"
    );
    let out = pair
        .ssh
        .run(&pair.addr(i), &format!("mariadb -N -e \"{sql}\""), QUERY_T);
    out.success() && out.stdout_str().contains("acknowledged")
}

/// The rows of `tags` that the database on node `i` does not hold (all of them
/// when it does not answer).
pub fn missing_rows(pair: &Pair, i: usize, tags: &[&str]) -> Vec<String> {
    let out = pair.ssh.run(
        &pair.addr(i),
        "mariadb -N -e 'SELECT tag FROM lab.marks'",
        QUERY_T,
    );
    let text = if out.success() {
        out.stdout_str()
    } else {
        String::new()
    };
    let held: Vec<&str> = text.lines().map(str::trim).collect();
    tags.iter()
        .filter(|t| !held.contains(t))
        .map(|t| t.to_string())
        .collect()
}

/// At a cold start: the database runs on the director (node1) alone, over a data
/// directory on the shared filesystem, and takes a row (`tag`). It starts after
/// the director's address and ldirectord, while SIP already answers (Asterisk
/// starts at boot on both nodes): waited for, bounded.
pub fn cold_start_checks(pair: &Pair, s: &mut Scenario, tag: &str) {
    let waited = pair.wait(START_WAIT, "the database runs on node1", || {
        Ok(state(pair, 0) == "active")
    });
    let states = [state(pair, 0), state(pair, 1)];
    s.check(
        "the database runs on the director (node1) and not on node2",
        states[0] == "active" && states[1] != "active",
        format!(
            "node1 {}, node2 {} ({})",
            states[0],
            states[1],
            match waited {
                Ok(t) => format!("{:.1} s after the cluster was healthy", t.as_secs_f64()),
                Err(_) => format!("node1's not active within {} s", START_WAIT.as_secs()),
            }
        ),
    );
    // Where the server itself says its data is (Debian sid's MariaDB 11.8 keeps
    // it in /var/lib/mariadb, not /var/lib/mysql), resolved through the links.
    let data = pair
        .sh(0, "readlink -f \"$(mariadb -N -e 'SELECT @@datadir')\"")
        .stdout_str()
        .trim()
        .to_string();
    s.check(
        "the database's data directory (@@datadir) is on the shared filesystem (drbdlinks)",
        data.starts_with(&format!("{SHARED}/")),
        &data,
    );
    s.check(
        "a row written through the database on node1 is acknowledged",
        write_row(pair, 0, tag),
        tag,
    );
}
