//! The real tools judge the rendered files: drbdadm (8.4 and 9), crm_verify,
//! corosync -t, o2cb. Each judge is also shown a broken file, to prove it can fail.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn o2cb(conf: &Path, cluster: &str) -> (bool, String) {
    let tool = require_tool("o2cb", "ocfs2-tools");
    judge(
        Command::new(tool)
            .arg("--config-file")
            .arg(conf)
            .args(["list-cluster", cluster]),
    )
}

#[test]
fn drbdadm_84_accepts_every_shipped_profile() {
    let all = SHIPPED_PROFILES
        .iter()
        .map(|n| profile(n))
        .chain([fixture("heartbeat-unicast-stonith")]);
    for path in all {
        let name = path.display();
        let out = render_all(&path);
        for node in std::fs::read_dir(out.path()).unwrap() {
            let node = node.unwrap().path();
            let (ok, log) = drbdadm84(&node.join("etc/drbd.conf"));
            assert!(ok, "{name} {}: {log}", node.display());
            // Includes resolved inside the rendered tree: the resource was read.
            assert!(log.contains("resource r0 {"), "{name}: {log}");
            assert!(log.contains("protocol           C;"), "{name}: {log}");
        }
    }
}

#[test]
fn drbdadm_84_rejects_drbd9_dialect_and_drbd9_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(profile("seed-pacemaker"))
        .unwrap()
        .replace(
            "drbd-disk = \"/dev/hda3\"",
            "drbd-disk = \"/dev/hda3\"\ndrbd-module = \"9\"",
        );
    std::fs::copy(
        root().join("profiles/seed.secret"),
        dir.path().join("seed.secret"),
    )
    .unwrap();
    let p = dir.path().join("d9.toml");
    std::fs::write(&p, src).unwrap();
    let out = render_all(&p);
    let conf = out.path().join("cl01/etc/drbd.conf");
    let res = std::fs::read_to_string(out.path().join("cl01/etc/drbd.d/r0.res")).unwrap();
    assert!(
        res.contains("node-id   0;") && res.contains("connection-mesh"),
        "{res}"
    );
    let (ok, log) = drbdadm84(&conf);
    assert!(!ok, "drbdadm-84 must refuse DRBD 9 syntax: {log}");
    let tool = require_tool("drbdadm", "drbd-utils");
    let (ok, log) = judge(
        Command::new(tool)
            .arg("-c")
            .arg(&conf)
            .args(["dump", "all"]),
    );
    assert!(ok, "{log}");
    assert!(log.contains("node-id 0;"), "{log}");
}

#[test]
fn crm_verify_accepts_every_pacemaker_cib() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("profiles/seed.secret"),
        dir.path().join("seed.secret"),
    )
    .unwrap();
    lb_pacemaker(dir.path());
    let mut checked = 0;
    for p in [
        profile("seed-pacemaker"),
        profile("lab"),
        profile("example"),
        dir.path().join("lb-pacemaker.toml"),
        fixture("drbd9-fenced-pacemaker"),
    ] {
        let out = render_all(&p);
        for node in std::fs::read_dir(out.path()).unwrap() {
            let cib = node.unwrap().path().join("etc/pbx-cluster/cib.xml");
            let (ok, log) = crm_verify(&cib);
            assert!(ok, "{}: {log}", cib.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
}

/// The shipped load-balanced profile runs Heartbeat; its Pacemaker form (fence
/// parameters instead of STONITH plugin arguments), written to dir/lb-pacemaker.toml
/// beside a copy of the secret.
fn lb_pacemaker(dir: &Path) -> std::path::PathBuf {
    if !dir.join("seed.secret").exists() {
        std::fs::copy(root().join("profiles/seed.secret"), dir.join("seed.secret")).unwrap();
    }
    let lb = std::fs::read_to_string(profile("loadbalanced"))
        .unwrap()
        .replace("engine = \"heartbeat\"", "engine = \"pacemaker\"")
        .replace("heartbeat-plugin = \"external/ipmi\"\n", "")
        .replace(
            "heartbeat-args = [\"cl01\", \"192.168.178.13\", \"admin\", \"change-me\", \"lanplus\"]",
            "params = { ip = \"192.168.178.13\", username = \"admin\", password = \"change-me\" }",
        )
        .replace(
            "heartbeat-args = [\"cl02\", \"192.168.178.14\", \"admin\", \"change-me\", \"lanplus\"]",
            "params = { ip = \"192.168.178.14\", username = \"admin\", password = \"change-me\" }",
        );
    let path = dir.join("lb-pacemaker.toml");
    std::fs::write(&path, lb).unwrap();
    path
}

/// What Pacemaker's scheduler does with `cib` when `online` nodes are members and
/// DRBD may be promoted on them (crm_simulate, no cluster needed).
fn simulate(cib: &Path, online: &[&str]) -> String {
    let tool = require_tool("crm_simulate", "pacemaker-cli-utils");
    let xml = std::fs::read_to_string(cib).unwrap();
    let drbd_score = "master-drbd-r0";
    let ids = [("1", "cl01"), ("2", "cl02")];
    let nodes: String = ids
        .iter()
        .map(|(i, u)| format!("<node id=\"{i}\" uname=\"{u}\"/>"))
        .collect();
    let states: String = ids
        .iter()
        .map(|(i, u)| {
            let up = online.contains(u);
            format!(
                "<node_state id=\"{i}\" uname=\"{u}\" in_ccm=\"{up}\" crmd=\"{}\" join=\"{}\" expected=\"{}\"><transient_attributes id=\"{i}\"><instance_attributes id=\"status-{i}\"><nvpair id=\"status-{i}-m\" name=\"{drbd_score}\" value=\"10000\"/></instance_attributes></transient_attributes></node_state>",
                if up { "online" } else { "offline" },
                if up { "member" } else { "down" },
                if up { "member" } else { "down" },
            )
        })
        .collect();
    assert!(
        xml.contains("<nodes/>") && xml.contains("<status/>"),
        "{xml}"
    );
    let xml = xml
        .replacen("<cib ", "<cib have-quorum=\"1\" ", 1)
        .replace("<nodes/>", &format!("<nodes>{nodes}</nodes>"))
        .replace("<status/>", &format!("<status>{states}</status>"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cib.xml");
    std::fs::write(&path, xml).unwrap();
    let o = Command::new(tool)
        .arg("--xml-file")
        .arg(&path)
        .arg("--simulate")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout)
}

#[test]
fn load_balanced_cib_places_storage_and_services_on_both_and_the_director_on_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = render_all(&lb_pacemaker(dir.path()));
    let cib = out.path().join("cl01/etc/pbx-cluster/cib.xml");
    let both = simulate(&cib, &["cl01", "cl02"]);
    let revised = &both[both.find("Revised Cluster Status").unwrap()..];
    for want in [
        "Promoted: [ cl01 cl02 ]",
        "storage-clone [storage-group]:\n      * Started: [ cl01 cl02 ]",
        "services-clone [services-group]:\n      * Started: [ cl01 cl02 ]",
        "vip\t(ocf:heartbeat:IPaddr2):\t Started cl01",
        "ldirectord\t(ocf:heartbeat:ldirectord):\t Started cl01",
        "svc-mysql\t(systemd:mysql):\t Started cl01",
    ] {
        assert!(revised.contains(want), "no `{want}` in:\n{both}");
    }
    // At a cold start the database comes up before the Asterisks that write to it,
    // and the filesystem before both.
    let at = |needle: &str| {
        both.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{both}"))
    };
    assert!(at("fs-r0:1         start on cl02") < at("svc-mysql       start on cl01"));
    assert!(at("svc-mysql       start on cl01") < at("svc-asterisk:1  start on cl02"));
    // The preferred node dead: the director moves, the survivor keeps serving.
    let one = simulate(&cib, &["cl02"]);
    let revised = &one[one.find("Revised Cluster Status").unwrap()..];
    for want in [
        "services-clone [services-group]:\n      * Started: [ cl02 ]",
        "vip\t(ocf:heartbeat:IPaddr2):\t Started cl02",
        "svc-mysql\t(systemd:mysql):\t Started cl02",
    ] {
        assert!(revised.contains(want), "no `{want}` in:\n{one}");
    }
}

#[test]
fn crm_verify_rejects_a_broken_cib() {
    let out = render_all(&profile("seed-pacemaker"));
    let cib = out.path().join("cl01/etc/pbx-cluster/cib.xml");
    let broken = std::fs::read_to_string(&cib).unwrap().replace(
        "with-rsc=\"drbd-r0-clone\"",
        "with-rsc=\"no-such-resource\"",
    );
    std::fs::write(&cib, broken).unwrap();
    let (ok, log) = crm_verify(&cib);
    assert!(!ok, "{log}");
}

/// What the DRBD fence-peer handler adds to the live CIB must be a constraint
/// Pacemaker accepts, on the clone the rendered CIB really has.
#[test]
fn crm_verify_accepts_the_fence_peer_constraint_in_the_rendered_cib() {
    let out = render_all(&profile("seed-pacemaker"));
    let cib = out.path().join("cl01/etc/pbx-cluster/cib.xml");
    let xml = std::fs::read_to_string(&cib).unwrap();
    let clone = pbx_cluster::engine::pacemaker::drbd_clone_id("r0");
    assert!(xml.contains(&format!("<clone id=\"{clone}\">")), "{xml}");
    let constraint = pbx_cluster::runtime::fence_peer::constraint_xml("r0", &clone, "cl01");
    std::fs::write(
        &cib,
        xml.replace("</constraints>", &format!("{constraint}\n</constraints>")),
    )
    .unwrap();
    let (ok, log) = crm_verify(&cib);
    assert!(ok, "{log}");
    // On a clone that does not exist it is refused: the judge can fail.
    let bad = pbx_cluster::runtime::fence_peer::constraint_xml("r0", "drbd-r9-clone", "cl01");
    std::fs::write(
        &cib,
        xml.replace("</constraints>", &format!("{bad}\n</constraints>")),
    )
    .unwrap();
    let (ok, log) = crm_verify(&cib);
    assert!(!ok, "{log}");
}

#[test]
fn haresources2cib_output_passes_crm_verify() {
    let out = render_all(&profile("seed-heartbeat"));
    let hr = out.path().join("cl01/etc/ha.d/haresources");
    let cib = out.path().join("converted.xml");
    let o = run(&[
        "haresources2cib",
        hr.to_str().unwrap(),
        "--out",
        cib.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (ok, log) = crm_verify(&cib);
    assert!(ok, "{log}");
}

#[test]
fn corosync_accepts_its_config_on_each_node_and_rejects_a_bad_one() {
    for name in ["seed-pacemaker", "lab", "example"] {
        let out = render_all(&profile(name));
        let model = pbx_cluster::profile::load(&profile(name)).unwrap().model;
        for n in &model.nodes {
            let etc = out.path().join(&n.name).join("etc/corosync");
            let ring0 = match model.membership.links[0] {
                pbx_cluster::model::Link::Frontend => n.frontend.address,
                pbx_cluster::model::Link::Heartbeat => n.heartbeat.address,
            };
            let (ok, log) = corosync_t(&etc, &etc.join("corosync.conf"), &ring0.to_string());
            assert!(ok, "{name} {}: {log}", n.name);
        }
    }
    let out = render_all(&profile("seed-pacemaker"));
    let etc = out.path().join("cl01/etc/corosync");
    let bad = etc.join("bad.conf");
    std::fs::write(
        &bad,
        std::fs::read_to_string(etc.join("corosync.conf"))
            .unwrap()
            .replace("two_node: 1", "two_node: yes"),
    )
    .unwrap();
    let (ok, log) = corosync_t(&etc, &bad, "192.168.178.3");
    assert!(!ok, "{log}");
    assert!(log.contains("two_node"), "{log}");
}

#[test]
fn o2cb_reads_the_ocfs2_cluster_config() {
    let out = render_all(&profile("loadbalanced"));
    let conf = out.path().join("cl02/etc/ocfs2/cluster.conf");
    let (ok, log) = o2cb(&conf, "ocfs2");
    assert!(ok, "{log}");
    assert!(
        log.contains("name = cl01")
            && log.contains("ip_address = 10.0.0.4")
            && log.contains("node_count = 2"),
        "{log}"
    );
    let bad = out.path().join("bad.conf");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&conf)
            .unwrap()
            .replace("ip_port = 7777", "ip_port = seven"),
    )
    .unwrap();
    let (ok, log) = o2cb(&bad, "ocfs2");
    assert!(!ok, "{log}");
}

#[test]
fn openssl_accepts_the_derived_dundi_keys_and_both_nodes_share_them() {
    let tool = require_tool("openssl", "openssl");
    let out = render_all(&profile("loadbalanced"));
    let dir = |n: &str| out.path().join(n).join("usr/share/asterisk/keys");
    let key = dir("cl01").join("pbx-cluster-dundi.key");
    let (ok, log) = judge(
        Command::new(&tool)
            .args(["rsa", "-check", "-noout", "-in"])
            .arg(&key),
    );
    assert!(ok && log.contains("RSA key ok"), "{log}");
    let o = Command::new(&tool)
        .args(["rsa", "-pubout", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(
        text(&o.stdout),
        std::fs::read_to_string(dir("cl01").join("pbx-cluster-dundi.pub")).unwrap(),
        "the .pub is the key's public half"
    );
    assert_eq!(
        std::fs::read(&key).unwrap(),
        std::fs::read(dir("cl02").join("pbx-cluster-dundi.key")).unwrap(),
        "one pair for both peers"
    );
    // A broken key is refused, so the judge can fail.
    let bad = out.path().join("bad.key");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&key).unwrap().replacen('A', "B", 3),
    )
    .unwrap();
    let (ok, _) = judge(
        Command::new(&tool)
            .args(["rsa", "-check", "-noout", "-in"])
            .arg(&bad),
    );
    assert!(!ok);
}
