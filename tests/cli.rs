//! The real binary: exit codes, output streams, files written, secrets kept.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

#[test]
fn shipped_profiles_validate() {
    for name in SHIPPED_PROFILES {
        let o = run(&["validate", profile(name).to_str().unwrap()]);
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains("valid ("), "{name}");
    }
}

#[test]
fn invalid_profile_exits_2_with_one_line_per_problem_and_positions() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(profile("seed-heartbeat"))
        .unwrap()
        .replace("deadtime = \"10s\"", "deadtime = \"1500ms\"")
        .replace("address = \"10.0.0.4\"", "address = \"10.1.0.4\"");
    std::fs::write(
        dir.path().join("seed.secret"),
        "a-secret-of-sufficient-length",
    )
    .unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, src).unwrap();
    let o = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains(": error: ")).collect();
    // Two causes, two lines: the warntime derived from the bad deadtime is not a
    // third problem of its own.
    assert_eq!(errors.len(), 2, "{err}");
    assert!(
        errors
            .iter()
            .all(|l| l.starts_with(&format!("{}:", p.display()))),
        "{err}"
    );
    assert!(
        err.contains(
            ":24:25: error: node[1].heartbeat.address: 10.1.0.4 is outside the network 10.0.0.0/24"
        ),
        "{err}"
    );
    assert!(err.contains("membership.deadtime: deadtime 1500ms is less than twice keepalive 1s (fix: raise deadtime to at least 2s)"), "{err}");
}

#[test]
fn unknown_key_names_its_position_and_suggests_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(profile("seed-heartbeat"))
        .unwrap()
        .replace("udp-port = 694", "udp-prot = 694");
    let p = dir.path().join("typo.toml");
    std::fs::write(&p, src).unwrap();
    let o = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("typo.toml:31:1: error: membership.udp-prot: unknown field `udp-prot`"),
        "{err}"
    );
    assert!(err.contains("did you mean `udp-port`?"), "{err}");
}

#[test]
fn missing_profile_file_is_exit_2() {
    let o = run(&["validate", "/nonexistent/cluster.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("/nonexistent/cluster.toml: error: cannot read the profile"));
}

#[test]
fn render_writes_files_where_they_belong_with_modes() {
    let out = render_all(&profile("seed-heartbeat"));
    let mode = |p: &str| {
        std::fs::metadata(out.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("cl01/etc/ha.d/authkeys"), 0o600);
    assert_eq!(mode("cl01/etc/drbd.d/r0.res"), 0o600);
    assert_eq!(mode("cl01/etc/ha.d/ha.cf"), 0o644);
    assert_eq!(mode("cl02/etc/asterisk/pjsip.conf"), 0o640);
    let pm = render_all(&profile("seed-pacemaker"));
    let mode = |p: &str| {
        std::fs::metadata(pm.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("cl01/etc/corosync/authkey"), 0o400);
    assert_eq!(mode("cl01/etc/pbx-cluster/cib.xml"), 0o600);
    let hb = render_all(&fixture("heartbeat-unicast-stonith"));
    let mode = |p: &str| {
        std::fs::metadata(hb.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(
        mode("cl01/etc/ha.d/ha.cf"),
        0o600,
        "stonith_host lines hold credentials"
    );
}

#[test]
fn render_is_byte_identical_across_runs() {
    for name in SHIPPED_PROFILES {
        let a = render_all(&profile(name));
        let b = render_all(&profile(name));
        let fa = files_under(a.path());
        assert_eq!(fa, files_under(b.path()), "{name}");
        assert!(fa.len() >= 20, "{name}: only {} files", fa.len());
        for f in fa {
            assert_eq!(
                std::fs::read(a.path().join(&f)).unwrap(),
                std::fs::read(b.path().join(&f)).unwrap(),
                "{name}: {}",
                f.display()
            );
        }
    }
}

#[test]
fn single_node_render_and_unknown_node() {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["render", "--node", "cl02", "--out"])
        .arg(out.path())
        .arg(profile("seed-pacemaker"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), out.path().display().to_string());
    assert!(out.path().join("etc/corosync/corosync.conf").exists());

    let empty = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["render", "--node", "cl03", "--out"])
        .arg(empty.path())
        .arg(profile("seed-pacemaker"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("node \"cl03\" is not in the profile")
            && err.contains("use one of: cl01, cl02"),
        "{err}"
    );
    assert!(
        files_under(empty.path()).is_empty(),
        "nothing may be written"
    );
}

#[test]
fn secrets_never_reach_stdout_or_stderr() {
    let secret = std::fs::read_to_string(root().join("profiles/seed.secret")).unwrap();
    let secret = secret.trim();
    let needles = [secret, "change-me-1001", "change-me-1002", "ipmi-secret"];
    let out = tempfile::tempdir().unwrap();
    // A profile with fencing passwords too, and a warning-producing setting.
    let src = std::fs::read_to_string(profile("seed-pacemaker")).unwrap().replace(
        "agent = \"none\"",
        "agent = \"fence_ipmilan\"\n[fencing.nodes.cl01]\nparams = { password = \"ipmi-secret\" }\n[fencing.nodes.cl02]\nparams = { password = \"ipmi-secret\" }",
    );
    let p = out.path().join("p.toml");
    std::fs::write(
        &p,
        src.replace(
            "secret-file = \"seed.secret\"",
            &format!("secret = \"{secret}\""),
        ),
    )
    .unwrap();
    let mut outputs = Vec::new();
    for args in [
        vec!["validate", p.to_str().unwrap()],
        vec![
            "render",
            "--all",
            "--out",
            out.path().join("o").to_str().unwrap(),
            p.to_str().unwrap(),
        ],
    ] {
        let o = run(&args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        outputs.push(o);
    }
    // A failing profile prints its problems; the secret is still not among them.
    let short = src.replace("secret-file = \"seed.secret\"", "secret = \"short-secret\"");
    std::fs::write(&p, short).unwrap();
    let o = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !text(&o.stderr).contains("short-secret"),
        "{}",
        text(&o.stderr)
    );
    outputs.push(o);
    for o in outputs {
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        for n in needles {
            assert!(!all.contains(n), "a secret was printed: {all}");
        }
    }
    // ...but the files that need them have them.
    let authkey_dir = out.path().join("o/cl01/etc/pbx-cluster/cib.xml");
    assert!(
        std::fs::read_to_string(authkey_dir)
            .unwrap()
            .contains("ipmi-secret")
    );
}

#[test]
fn manifest_lists_every_file_with_sha256_and_boot_changes() {
    let out = render_all(&profile("seed-heartbeat"));
    let node = out.path().join("cl01");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(node.join("etc/pbx-cluster/manifest.json")).unwrap())
            .unwrap();
    let files = m["files"].as_array().unwrap();
    let on_disk: Vec<String> = files_under(&node)
        .into_iter()
        .map(|p| format!("/{}", p.display()))
        .filter(|p| p != "/etc/pbx-cluster/manifest.json")
        .collect();
    let listed: Vec<String> = files
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, on_disk);
    for f in files {
        let bytes =
            std::fs::read(node.join(f["path"].as_str().unwrap().trim_start_matches('/'))).unwrap();
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(&bytes));
        if f["secret"].as_bool().unwrap() {
            // The manifest is world-readable: a digest of a deterministic render
            // would let anyone test guesses of the secret offline.
            assert!(f.get("sha256").is_none(), "{f}");
            assert!(
                !String::from_utf8_lossy(
                    &std::fs::read(node.join("etc/pbx-cluster/manifest.json")).unwrap()
                )
                .contains(&digest)
            );
        } else {
            assert_eq!(f["sha256"].as_str().unwrap(), digest);
        }
    }
    assert!(files.iter().any(|f| f["secret"].as_bool().unwrap()));
    assert_eq!(
        m["boot"]["disable"],
        serde_json::json!(["mysql", "postfix", "asterisk", "apache2"])
    );
    assert_eq!(
        m["boot"]["enable"],
        serde_json::json!(["drbd", "heartbeat"])
    );
}

#[test]
fn haresources2cib_converts_the_reference_group() {
    let dir = tempfile::tempdir().unwrap();
    let hr = dir.path().join("haresources");
    std::fs::write(&hr, "cl01 drbddisk::r0 \\\n  Filesystem::/dev/drbd0::/mnt/share::xfs drbdlinks \\\n  IPAddr::192.168.178.5/24/eth0 mysql postfix asterisk apache2\n").unwrap();
    let o = run(&["haresources2cib", hr.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let xml = text(&o.stdout);
    let order: Vec<usize> = [
        "id=\"fs-mnt-share\"",
        "id=\"drbdlinks\"",
        "id=\"ip-192-168-178-5\"",
        "id=\"svc-mysql\"",
        "id=\"svc-apache2\"",
    ]
    .iter()
    .map(|id| xml.find(id).unwrap_or_else(|| panic!("{id} missing")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "group order kept");
    std::fs::write(&hr, "cl01 Bogus::x\n").unwrap();
    let o = run(&["haresources2cib", hr.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("haresources:1: no Pacemaker equivalent known for `Bogus::x`"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn every_generated_text_file_carries_the_header() {
    for name in SHIPPED_PROFILES {
        let out = render_all(&profile(name));
        for f in files_under(out.path()) {
            let bytes = std::fs::read(out.path().join(&f)).unwrap();
            let s = f.to_string_lossy();
            if s.ends_with("authkey")
                || s.ends_with("manifest.json")
                || s.ends_with(".key")
                || s.ends_with(".pub")
                || s.ends_with("etc/hostname")
            {
                // binary key, PEM keys and JSON have no comments (the manifest names
                // its generator); some tools read /etc/hostname's first line verbatim
                continue;
            }
            let head: String = text(&bytes).lines().take(2).collect::<Vec<_>>().join("\n");
            assert!(
                head.contains("generated by pbx-cluster - do not edit"),
                "{name}: {s}"
            );
        }
    }
}

#[test]
fn rendered_drbdlinks_conf_is_what_the_drbdlinks_agent_reads() {
    let out = render_all(&profile("seed-heartbeat"));
    let conf = out.path().join("cl01/etc/drbdlinks.conf");
    let parsed = pbx_cluster::runtime::drbdlinks::Config::load(&conf)
        .expect("the agent parses the rendered file");
    let model = pbx_cluster::profile::load(&profile("seed-heartbeat"))
        .unwrap()
        .model;
    assert_eq!(parsed.mountpoint, model.storage.mount_point);
    let links: Vec<_> = parsed.links.iter().map(|l| l.local.clone()).collect();
    assert_eq!(links, model.storage.links);
}

#[test]
fn load_balanced_phones_get_rtp_on_the_address_their_sdp_names() {
    // The phones' transport is bound to the virtual IP; Asterisk binds a call's
    // RTP to its endpoint's transport address unless told to bind it to the
    // media address, and then drops what the phone sends to the SDP's address.
    let out = render_all(&profile("loadbalanced"));
    for (node, addr) in [("cl01", "192.168.178.3"), ("cl02", "192.168.178.4")] {
        let pjsip =
            std::fs::read_to_string(out.path().join(format!("{node}/etc/asterisk/pjsip.conf")))
                .unwrap();
        let phones: Vec<&str> = pjsip
            .split("\n\n")
            .filter(|s| s.contains("type = endpoint") && s.contains("auth = "))
            .collect();
        assert!(!phones.is_empty(), "{pjsip}");
        for phone in phones {
            assert!(
                phone.contains(&format!("media_address = {addr}\n")),
                "{phone}"
            );
            assert!(phone.contains("bind_rtp_to_media_address = yes"), "{phone}");
        }
    }
}

#[test]
fn asterisk_answers_on_the_virtual_ip_and_identifies_the_probe() {
    let out = render_all(&profile("seed-pacemaker"));
    let pjsip = std::fs::read_to_string(out.path().join("cl02/etc/asterisk/pjsip.conf")).unwrap();
    // Bound to the address phones use, so answers come from it.
    assert!(pjsip.contains("bind = 192.168.178.5:5060"), "{pjsip}");
    assert!(!pjsip.contains("bind = 0.0.0.0"));
    let sysctl =
        std::fs::read_to_string(out.path().join("cl02/etc/sysctl.d/60-pbx-cluster.conf")).unwrap();
    assert!(sysctl.contains("net.ipv4.ip_nonlocal_bind = 1"));
    // The health probe's From user has an endpoint without credentials or codecs.
    let user = pbx_cluster::runtime::sip_probe::PROBE_USER;
    let section = pjsip
        .split(&format!("[{user}]\n"))
        .nth(1)
        .expect("an endpoint for the probe");
    let section: Vec<&str> = section.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(
        section,
        [
            "type = endpoint",
            "context = pbx-cluster-health-only",
            "disallow = all"
        ]
    );
    let dialplan =
        std::fs::read_to_string(out.path().join("cl02/etc/asterisk/extensions.conf")).unwrap();
    assert!(
        !dialplan.contains("[pbx-cluster-health-only]"),
        "its context has no extensions"
    );
}

#[test]
fn wait_addresses_returns_once_present_and_names_what_is_missing() {
    // Loopback is configured on every host; 192.0.2.1 (TEST-NET-1) is not. Nothing
    // is sent anywhere: the command only reads `ip -j -4 addr show`.
    let o = run(&["wait-addresses", "127.0.0.1"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("127.0.0.1"));

    let o = run(&["wait-addresses", "127.0.0.1", "192.0.2.1", "--timeout", "1"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("missing 192.0.2.1") && !err.contains("missing 127.0.0.1"),
        "{err}"
    );

    let o = run(&["wait-addresses", "not-an-address"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}

#[test]
fn readme_lists_every_file_render_writes() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("### What `render` writes").expect("the table");
    let table = &readme[start..];
    let table = &table[..table[4..].find("\n## ").map_or(table.len(), |e| e + 4)];
    let mut missing = Vec::new();
    for name in SHIPPED_PROFILES {
        let out = render_all(&profile(name));
        for node in std::fs::read_dir(out.path()).unwrap() {
            let node = node.unwrap().path();
            for rel in files_under(&node) {
                let path = format!("/{}", rel.display());
                let base = rel.file_name().unwrap().to_str().unwrap().to_string();
                let placeholder = if path.starts_with("/etc/drbd.d/") && path.ends_with(".res") {
                    Some("/etc/drbd.d/RES.res")
                } else if path.starts_with("/etc/systemd/system/") {
                    Some("/etc/systemd/system/UNIT.service.d/50-pbx-cluster-addresses.conf")
                } else {
                    None
                };
                let listed = table.contains(&path)
                    || placeholder.is_some_and(|p| table.contains(p))
                    || table.contains(&format!(", {base}"))
                    || table.contains(&format!(" {base} ("));
                if !listed && !missing.contains(&path) {
                    missing.push(path);
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README's table of rendered files lacks: {missing:?}"
    );
}

#[test]
fn the_address_wait_at_boot_is_generous_and_inside_its_units_start_timeout() {
    // A slow boot had the static addresses 80 s after network-online: the engine
    // then failed for good after a 60 s wait. The wait must be long, and systemd's
    // start timeout longer than it, or systemd kills the wait first.
    for name in ["seed-pacemaker", "seed-heartbeat", "loadbalanced"] {
        let out = render_all(&profile(name));
        let mut seen = 0;
        for rel in files_under(out.path()) {
            if !rel
                .to_string_lossy()
                .ends_with("50-pbx-cluster-addresses.conf")
            {
                continue;
            }
            seen += 1;
            let text = std::fs::read_to_string(out.path().join(&rel)).unwrap();
            let num_after = |key: &str| -> u64 {
                let at = text
                    .find(key)
                    .unwrap_or_else(|| panic!("{rel:?} lacks {key}"));
                text[at + key.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap()
            };
            let wait = num_after("--timeout ");
            let start = num_after("TimeoutStartSec=");
            assert!(wait >= 300, "{rel:?}: wait {wait} s");
            assert!(
                start > wait,
                "{rel:?}: TimeoutStartSec {start} <= wait {wait}"
            );
        }
        assert!(seen >= 2, "{name}: {seen} drop-ins");
    }
}

#[test]
fn the_pacemaker_fence_handlers_need_the_drbd_clone() {
    // Without it the handler would place, or look for, a constraint on no resource.
    let o = run(&["drbd-unfence-peer"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("--clone"), "{}", text(&o.stderr));
    let o = run(&["drbd-fence-peer"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o.stderr).contains("--clone"), "{}", text(&o.stderr));
}
