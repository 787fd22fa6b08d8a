//! `pbx-cluster cib-update` against Pacemaker's own tools: cibadmin and crm_diff
//! work on a CIB file (CIB_file) exactly as on a running cluster's CIB manager, so
//! the patch is computed and applied by the real programs, and crm_verify judges
//! the result.

mod common;

use std::path::Path;

use common::*;

/// A live CIB as a formed cluster has it: the rendered configuration plus node
/// entries, status, Pacemaker's own properties and DRBD's fence-peer constraint.
fn live_cib(rendered: &str) -> String {
    let s = &rendered[rendered.find("<cib").unwrap()..];
    s.replace(
        "admin_epoch=\"1\" epoch=\"1\" num_updates=\"0\"",
        "admin_epoch=\"1\" epoch=\"7\" num_updates=\"42\" have-quorum=\"1\" dc-uuid=\"1\"",
    )
    .replace(
        "<nodes/>",
        "<nodes><node id=\"1\" uname=\"cl01\"/><node id=\"2\" uname=\"cl02\"/></nodes>",
    )
    .replacen(
        "</cluster_property_set>",
        "<nvpair id=\"cib-bootstrap-options-dc-version\" name=\"dc-version\" value=\"2.1.5-x\"/></cluster_property_set>",
        1,
    )
    .replace(
        "</constraints>",
        "<rsc_location rsc=\"drbd-r0-clone\" id=\"drbd-fence-by-handler-r0-drbd-r0-clone\"><rule role=\"Promoted\" score=\"-INFINITY\" id=\"drbd-fence-by-handler-r0-rule-drbd-r0-clone\"><expression attribute=\"#uname\" operation=\"ne\" value=\"cl01\" id=\"drbd-fence-by-handler-r0-expr-drbd-r0-clone\"/></rule></rsc_location></constraints>",
    )
    .replace(
        "<status/>",
        "<status><node_state id=\"1\" uname=\"cl01\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/></status>",
    )
}

fn cib_update(live: &Path, rendered: &Path) -> std::process::Output {
    require_tool("cibadmin", "pacemaker-cli-utils");
    require_tool("crm_diff", "pacemaker-cli-utils");
    bin()
        .env("CIB_file", live)
        .args(["cib-update", "--cib"])
        .arg(rendered)
        .output()
        .unwrap()
}

#[test]
fn a_changed_cib_reaches_the_live_one_as_a_patch_and_keeps_what_the_cluster_owns() {
    let out = render_all(&profile("seed-pacemaker"));
    let rendered =
        std::fs::read_to_string(out.path().join("cl01/etc/pbx-cluster/cib.xml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.xml");
    std::fs::write(&live, live_cib(&rendered)).unwrap();
    assert!(crm_verify(&live).0, "the fixture is a valid CIB");

    // Unchanged profile: nothing to patch.
    let same = dir.path().join("same.xml");
    std::fs::write(&same, &rendered).unwrap();
    let o = cib_update(&live, &same);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("already has this configuration"));

    // A monitor interval and the failback preference changed.
    let changed = dir.path().join("changed.xml");
    std::fs::write(
        &changed,
        rendered
            .replace("interval=\"5s\"", "interval=\"7s\"")
            .replace("node=\"cl01\" score=\"100\"", "node=\"cl01\" score=\"150\""),
    )
    .unwrap();
    let o = cib_update(&live, &changed);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("patched the live CIB"),
        "{}",
        text(&o.stdout)
    );
    let after = std::fs::read_to_string(&live).unwrap();
    let doc = roxmltree::Document::parse(&after).unwrap();
    let by_id = |id: &str| doc.descendants().find(|n| n.attribute("id") == Some(id));
    assert_eq!(
        by_id("svc-asterisk-monitor-5s").and_then(|n| n.attribute("interval")),
        Some("7s")
    );
    assert_eq!(
        by_id("pbx-group-prefers-cl01").and_then(|n| n.attribute("score")),
        Some("150")
    );
    // What the cluster owns is still there.
    for kept in [
        "drbd-fence-by-handler-r0-drbd-r0-clone",
        "cib-bootstrap-options-dc-version",
        "2",
    ] {
        assert!(by_id(kept).is_some(), "{kept} was lost:\n{after}");
    }
    assert!(doc.descendants().any(|n| n.has_tag_name("node_state")));
    assert!(crm_verify(&live).0, "the patched CIB is valid");

    // Applying the same change again finds nothing left to do.
    let o = cib_update(&live, &changed);
    assert!(text(&o.stdout).contains("already has this configuration"));
    assert!(!text(&o.stdout).contains("password") && !text(&o.stderr).contains("password"));
}

#[test]
fn a_file_that_is_not_a_cib_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.xml");
    let out = render_all(&profile("seed-pacemaker"));
    let rendered =
        std::fs::read_to_string(out.path().join("cl01/etc/pbx-cluster/cib.xml")).unwrap();
    std::fs::write(&live, live_cib(&rendered)).unwrap();
    let before = std::fs::read(&live).unwrap();
    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<resources/>").unwrap();
    let o = cib_update(&live, &bad);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("the rendered CIB is not a CIB"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(&live).unwrap(), before);
}
