//! Which Debian/Ubuntu packages a node needs, by engine, mode and distro.

use crate::model::{Distro, Filesystem, Model};

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

/// Every package the node needs, sorted and without duplicates: the one list
/// plan installs and an image without a meta-package carries.
pub fn required(model: &Model) -> Vec<String> {
    let mut p: Vec<&str> = vec!["drbd-utils"];
    p.push(match model.storage.filesystem {
        Filesystem::Xfs => "xfsprogs",
        Filesystem::Ext4 => "e2fsprogs",
        Filesystem::Ocfs2 => "ocfs2-tools",
    });
    p.extend(model.engine_home().packages());
    p.extend(model.mode_home().packages());
    p.extend(model.fencing.packages().iter().map(String::as_str));
    p.extend(
        model
            .services
            .iter()
            .filter_map(|s| package_for_service(s, model.distro)),
    );
    // The PBX itself, even when the profile leaves it out of the group.
    p.push("asterisk");
    // plan and apply reach the other node over ssh (render::peer).
    p.extend(["openssh-client", "openssh-server"]);
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

    /// The node metapackages install what plan would: every package of the
    /// engine's and the mode's home is among their Depends.
    #[test]
    fn metapackages_depend_on_what_the_homes_name() {
        use crate::model::{Engine, Mode};
        let meta = |name: &str| {
            let path = format!(
                "{}/packaging/meta/{name}.control",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(&path).unwrap();
            let deps = text
                .lines()
                .find_map(|l| l.strip_prefix("Depends:"))
                .unwrap_or_else(|| panic!("{path}: no Depends"))
                .to_string();
            deps.split([',', '|'])
                .map(|d| d.split_whitespace().next().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        };
        for (engine_name, engine) in Engine::ALL {
            let name = format!("pbx-cluster-node-{engine_name}");
            let deps = meta(&name);
            for p in crate::engine::home(engine).packages() {
                assert!(deps.iter().any(|d| d == p), "{name} lacks {p}: {deps:?}");
            }
        }
        let deps = meta("pbx-cluster-node-loadbalanced");
        for p in crate::mode::home(Mode::LoadBalanced).packages() {
            assert!(
                deps.iter().any(|d| d == p),
                "loadbalanced lacks {p}: {deps:?}"
            );
        }
    }
}
