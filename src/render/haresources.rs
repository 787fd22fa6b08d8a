//! `haresources2cib`: a classic Heartbeat haresources file -> a Pacemaker CIB, for
//! moving an old Heartbeat cluster to Pacemaker (the successor of Heartbeat 2's
//! haresources2cib.py). Each line is one group: preferred node, then resources
//! started left to right. `drbddisk::R` becomes a promotable DRBD clone that the
//! group is colocated with and ordered after.

use super::cib::{Cib, Group, Primitive};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message} (fix: {fix})")]
pub struct HaresourcesError {
    pub file: String,
    pub line: usize,
    pub message: String,
    pub fix: String,
}

/// Options that live in ha.cf rather than haresources.
#[derive(Debug, Clone, Copy)]
pub struct HaCfOptions {
    pub auto_failback: bool,
}

/// Lines joined on trailing backslashes, comments dropped, with 1-based line numbers.
fn logical_lines(src: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, raw) in src.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        if cur.is_empty() {
            start = i + 1;
        }
        match line.trim_end().strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(line);
                if !cur.trim().is_empty() {
                    out.push((start, std::mem::take(&mut cur)));
                }
                cur.clear();
            }
        }
    }
    if !cur.trim().is_empty() {
        out.push((start, cur));
    }
    out
}

/// A node or DRBD resource name that can be part of an XML id.
fn is_id_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A path as part of an XML id: '/' and every other non-id character become '-'.
fn id_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

pub fn convert(src: &str, file: &str, opts: HaCfOptions) -> Result<Cib, HaresourcesError> {
    let mut cib = Cib {
        // haresources knows no fencing; say so rather than pretend.
        properties: vec![("stonith-enabled".into(), "false".into())],
        ..Cib::default()
    };
    let lines = logical_lines(src);
    if lines.is_empty() {
        return Err(HaresourcesError {
            file: file.into(),
            line: 1,
            message: "no resource group in the file".into(),
            fix: "each line is NODE RESOURCE...; e.g. cl01 IPaddr2::192.168.178.5/24/eth0 asterisk"
                .into(),
        });
    }
    let mut used_ids = std::collections::BTreeSet::new();
    for (gi, (line_no, line)) in lines.iter().enumerate() {
        let err = |message: String, fix: &str| HaresourcesError {
            file: file.into(),
            line: *line_no,
            message,
            fix: fix.into(),
        };
        // Every word becomes XML text or part of an id: printable ASCII only, so a
        // control character cannot reach the CIB (XML 1.0 cannot hold it).
        if let Some(word) = line
            .split_whitespace()
            .find(|w| !w.chars().all(|c| c.is_ascii_graphic()))
        {
            return Err(err(
                format!(
                    "`{}` holds a control or non-ASCII character",
                    word.escape_debug()
                ),
                "write node names, resources and their arguments in printable ASCII",
            ));
        }
        let mut words = line.split_whitespace();
        let node = words.next().expect("non-empty line");
        if !is_id_word(node) {
            return Err(err(
                format!("`{node}` is not a node name"),
                "write the node's hostname first: letters, digits, '-', '_' and '.'",
            ));
        }
        let group_id = if lines.len() == 1 {
            "group".to_string()
        } else {
            format!("group-{}", gi + 1)
        };
        let mut members = Vec::new();
        let mut drbd = Vec::new();
        for word in words {
            let mut parts = word.split("::");
            let kind = parts.next().unwrap_or_default();
            let args: Vec<&str> = parts.collect();
            let mut unique = |base: String| {
                let mut id = base.clone();
                let mut n = 2;
                while !used_ids.insert(id.clone()) {
                    id = format!("{base}-{n}");
                    n += 1;
                }
                id
            };
            match (kind, args.as_slice()) {
                ("drbddisk", [res]) if is_id_word(res) => drbd.push(res.to_string()),
                ("drbddisk", _) => {
                    return Err(err(
                        format!("`{word}` does not name one DRBD resource"),
                        "write drbddisk::RESOURCE, e.g. drbddisk::r0",
                    ));
                }
                ("Filesystem", [dev, dir, fstype, ..]) => {
                    members.push(Primitive::filesystem(
                        &unique(format!("fs{}", id_part(dir))),
                        dev,
                        dir,
                        fstype,
                    ));
                }
                ("Filesystem", _) => {
                    return Err(err(
                        format!("`{word}` needs device, mount point and type"),
                        "write Filesystem::DEVICE::DIR::FSTYPE",
                    ));
                }
                ("IPaddr" | "IPaddr2" | "IPAddr" | "IPAddr2", [spec]) => {
                    let mut f = spec.split('/');
                    let ip = f.next().unwrap_or_default();
                    if ip.parse::<std::net::Ipv4Addr>().is_err() {
                        return Err(err(
                            format!("`{ip}` in `{word}` is not an IPv4 address"),
                            "write IPaddr::ADDRESS[/PREFIX[/NIC]]",
                        ));
                    }
                    let prefix = f.next();
                    let nic = f.next();
                    members.push(Primitive::ipaddr2(
                        &unique(format!("ip-{}", ip.replace('.', "-"))),
                        ip,
                        prefix,
                        nic,
                    ));
                }
                ("drbdlinks", []) => {
                    members.push(Primitive::drbdlinks(&unique("drbdlinks".into())))
                }
                ("ldirectord", [cfg]) => {
                    let path = if cfg.starts_with('/') {
                        cfg.to_string()
                    } else {
                        format!("/etc/ha.d/{cfg}")
                    };
                    members.push(Primitive::ldirectord(&unique("ldirectord".into()), &path));
                }
                ("ldirectord", []) => members.push(Primitive::ldirectord(
                    &unique("ldirectord".into()),
                    "/etc/ha.d/ldirectord.cf",
                )),
                (name, [])
                    if name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
                        && !name.is_empty() =>
                {
                    let mut p = Primitive::service(name);
                    p.id = unique(p.id);
                    members.push(p);
                }
                _ => {
                    return Err(err(
                        format!("no Pacemaker equivalent known for `{word}`"),
                        "convert this resource by hand; known: drbddisk, Filesystem, IPaddr, IPaddr2, drbdlinks, ldirectord and init scripts",
                    ));
                }
            }
        }
        if members.is_empty() && drbd.is_empty() {
            return Err(err(
                format!("node {node} has no resources"),
                "list the resources after the node name",
            ));
        }
        let group_has_members = !members.is_empty();
        if group_has_members {
            cib.groups.push(Group {
                id: group_id.clone(),
                members,
            });
        }
        for res in drbd {
            let clone = cib.add_drbd(&res, 1);
            if group_has_members {
                cib.tie_to_drbd(&group_id, &clone);
            }
        }
        if group_has_members {
            cib.prefer(&group_id, node, opts.auto_failback);
        }
    }
    Ok(cib)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = "cl01 drbddisk::r0 \\\n    Filesystem::/dev/drbd0::/mnt/share::xfs drbdlinks \\\n    IPAddr::192.168.178.5/24/eth0 mysql postfix \\\n    asterisk apache2\n";

    #[test]
    fn reference_group_converts_in_order() {
        let cib = convert(
            REFERENCE,
            "haresources",
            HaCfOptions {
                auto_failback: true,
            },
        )
        .unwrap();
        assert_eq!(cib.groups.len(), 1);
        let ids: Vec<&str> = cib.groups[0]
            .members
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "fs-mnt-share",
                "drbdlinks",
                "ip-192-168-178-5",
                "svc-mysql",
                "svc-postfix",
                "svc-asterisk",
                "svc-apache2"
            ]
        );
        assert_eq!(cib.clones[0].id, "drbd-r0-clone");
        assert_eq!(cib.locations[0].node, "cl01");
        assert_eq!(cib.orders[0].first_action, "promote");
    }

    #[test]
    fn unknown_resource_is_an_error_with_line() {
        let e = convert(
            "# comment\ncl01 Foo::bar\n",
            "hr",
            HaCfOptions {
                auto_failback: true,
            },
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("Foo::bar"), "{e}");
    }

    // Found by the fuzzer (examples/fuzz.rs): a control character in a word went
    // into the CIB, which XML cannot hold; ids took '/' and '@' verbatim.
    #[test]
    fn a_control_character_is_refused_with_its_line() {
        let opts = HaCfOptions {
            auto_failback: true,
        };
        for src in [
            "cl01 drbddisk::r0 Filesystem::/dev/drbd0::/mnt/\u{8}share::xfs asterisk\n",
            "c\u{2}l01 asterisk\n",
            "cl01 aster\u{7f}isk\n",
        ] {
            let e = convert(src, "hr", opts).unwrap_err();
            assert_eq!(e.line, 1);
            assert!(e.message.contains("control or non-ASCII"), "{e}");
        }
        let e = convert("<cl01> asterisk\n", "hr", opts).unwrap_err();
        assert!(e.message.contains("is not a node name"), "{e}");
    }

    #[test]
    fn every_id_is_an_xml_name() {
        let cib = convert(
            "cl01 Filesystem::/dev/drbd0::/mnt/a+b::xfs openvpn@site asterisk\n",
            "hr",
            HaCfOptions {
                auto_failback: true,
            },
        )
        .unwrap();
        let ids: Vec<&str> = cib.groups[0]
            .members
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(ids, ["fs-mnt-a-b", "svc-openvpn-site", "svc-asterisk"]);
    }

    #[test]
    fn empty_file_is_an_error() {
        assert!(
            convert(
                "# nothing\n\n",
                "hr",
                HaCfOptions {
                    auto_failback: true
                }
            )
            .is_err()
        );
    }
}
