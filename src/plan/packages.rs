//! Which Debian/Ubuntu packages a node needs, by engine, mode and distro.

use crate::model::{Distro, Engine, Filesystem, Model};

/// The package that provides a service of the resource group on this distro.
pub fn package_for_service(service: &str, distro: Distro) -> Option<&'static str> {
    Some(match service {
        // Ubuntu ships Oracle's MySQL; Debian's "mysql" is MariaDB.
        "mysql" if distro.is_ubuntu() => "mysql-server",
        "mysql" | "mariadb" => "mariadb-server",
        "postfix" => "postfix",
        "asterisk" => "asterisk",
        "apache2" => "apache2",
        "nginx" => "nginx",
        "exim4" => "exim4-daemon-light",
        "ldirectord" => "ldirectord",
        _ => return None,
    })
}

/// Every package the node needs, sorted and without duplicates.
pub fn required(model: &Model) -> Vec<String> {
    let mut p: Vec<&str> = vec!["drbd-utils"];
    p.push(match model.storage.filesystem {
        Filesystem::Xfs => "xfsprogs",
        Filesystem::Ext4 => "e2fsprogs",
        Filesystem::Ocfs2 => "ocfs2-tools",
    });
    match model.engine {
        Engine::Pacemaker => p.extend([
            "corosync",
            "pacemaker",
            "pacemaker-cli-utils",
            "resource-agents",
        ]),
        // drbd-utils ships /etc/ha.d/resource.d/drbddisk; resource-agents has IPaddr2.
        Engine::Heartbeat => p.extend(["heartbeat", "resource-agents"]),
    }
    if model.load_balancing.is_some() {
        p.extend(["ldirectord", "ipvsadm", "ocfs2-tools"]);
    }
    p.extend(model.fencing.packages().iter().map(String::as_str));
    p.extend(
        model
            .services
            .iter()
            .filter_map(|s| package_for_service(s, model.distro)),
    );
    // The PBX itself, even when the profile leaves it out of the group.
    p.push("asterisk");
    let mut p: Vec<String> = p.into_iter().map(String::from).collect();
    p.sort();
    p.dedup();
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_package_follows_the_distro() {
        assert_eq!(
            package_for_service("mysql", Distro::Ubuntu2404),
            Some("mysql-server")
        );
        assert_eq!(
            package_for_service("mysql", Distro::Debian12),
            Some("mariadb-server")
        );
        assert_eq!(
            package_for_service("mariadb", Distro::Ubuntu2404),
            Some("mariadb-server")
        );
        assert_eq!(package_for_service("freeswitch", Distro::Debian12), None);
    }
}
