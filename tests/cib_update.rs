//! `pbx-cluster cib-update` against Pacemaker's own tools: cibadmin and crm_diff
//! work on a CIB file (CIB_file) exactly as on a running cluster's CIB manager, so
//! the patch is computed and applied by the real programs, and crm_verify judges
//! the result.

mod common;

use std::path::Path;

use common::*;

/// A live CIB as a formed cluster has it: the rendered configuration plus node
/// entries, status, Pacemaker's own properties, DRBD's fence-peer constraint, a
/// `crm_resource --move`, a resource an admin stopped, and sets of properties and
/// resource defaults an admin added.
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
        "<nvpair id=\"cib-bootstrap-options-dc-version\" name=\"dc-version\" value=\"2.1.5-x\"/></cluster_property_set><cluster_property_set id=\"admin-options\"><nvpair id=\"admin-options-batch-limit\" name=\"batch-limit\" value=\"10\"/></cluster_property_set>",
        1,
    )
    .replace(
        "<primitive id=\"svc-asterisk\" class=\"systemd\" type=\"asterisk\">",
        "<primitive id=\"svc-asterisk\" class=\"systemd\" type=\"asterisk\"><meta_attributes id=\"svc-asterisk-meta_attributes\"><nvpair id=\"svc-asterisk-meta_attributes-target-role\" name=\"target-role\" value=\"Stopped\"/></meta_attributes>",
    )
    .replace(
        "</constraints>",
        "<rsc_location rsc=\"drbd-r0-clone\" id=\"drbd-fence-by-handler-r0-drbd-r0-clone\"><rule role=\"Promoted\" score=\"-INFINITY\" id=\"drbd-fence-by-handler-r0-rule-drbd-r0-clone\"><expression attribute=\"#uname\" operation=\"ne\" value=\"cl01\" id=\"drbd-fence-by-handler-r0-expr-drbd-r0-clone\"/></rule></rsc_location><rsc_location id=\"cli-prefer-pbx-group\" rsc=\"pbx-group\" role=\"Started\" node=\"cl02\" score=\"INFINITY\"/></constraints>",
    )
    .replace(
        "</rsc_defaults>",
        "<meta_attributes id=\"admin-defaults\"><nvpair id=\"admin-defaults-migration-threshold\" name=\"migration-threshold\" value=\"3\"/></meta_attributes></rsc_defaults>",
    )
    .replace(
        "<status/>",
        "<status><node_state id=\"1\" uname=\"cl01\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/><node_state id=\"2\" uname=\"cl02\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/></status>",
    )
}

/// The fixture with a fence device: its password must never be shown.
const FENCED: &str = "tests/fixtures/profiles/drbd9-fenced-pacemaker.toml";
const FENCE_PASSWORD: &str = "ipmi-secret";

fn rendered_cib() -> String {
    let out = render_all(&root_dir().join(FENCED));
    let cib = std::fs::read_to_string(out.path().join("cl01/etc/pbx-cluster/cib.xml")).unwrap();
    assert!(
        cib.contains(FENCE_PASSWORD),
        "the fixture's CIB holds the fence password"
    );
    cib
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
    let rendered = rendered_cib();
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

    // A monitor interval and the placement preference changed.
    let changed = dir.path().join("changed.xml");
    std::fs::write(
        &changed,
        rendered
            .replace("interval=\"5s\"", "interval=\"7s\"")
            .replace("node=\"cl01\" score=\"50\"", "node=\"cl01\" score=\"60\""),
    )
    .unwrap();
    let o = cib_update(&live, &changed);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("patched the live CIB"),
        "{}",
        text(&o.stdout)
    );
    for out in [&o.stdout, &o.stderr] {
        assert!(
            !text(out).contains(FENCE_PASSWORD),
            "the fence password was shown"
        );
    }
    let after = std::fs::read_to_string(&live).unwrap();
    let doc = roxmltree::Document::parse(&after).unwrap();
    let by_id = |id: &str| doc.descendants().find(|n| n.attribute("id") == Some(id));
    assert_eq!(
        by_id("svc-asterisk-monitor-5s").and_then(|n| n.attribute("interval")),
        Some("7s")
    );
    assert_eq!(
        by_id("pbx-group-prefers-cl01").and_then(|n| n.attribute("score")),
        Some("60")
    );
    // What the cluster and the admin own is still there.
    for kept in [
        "drbd-fence-by-handler-r0-drbd-r0-clone",
        "cli-prefer-pbx-group",
        "cib-bootstrap-options-dc-version",
        "admin-options-batch-limit",
        "admin-defaults-migration-threshold",
        "2",
    ] {
        assert!(by_id(kept).is_some(), "{kept} was lost:\n{after}");
    }
    assert_eq!(
        by_id("svc-asterisk-meta_attributes-target-role").and_then(|n| n.attribute("value")),
        Some("Stopped"),
        "the admin's stopped resource stays stopped"
    );
    assert!(doc.descendants().any(|n| n.has_tag_name("node_state")));
    assert!(crm_verify(&live).0, "the patched CIB is valid");

    // Applying the same change again finds nothing left to do.
    let o = cib_update(&live, &changed);
    assert!(text(&o.stdout).contains("already has this configuration"));
}

#[test]
fn a_file_that_is_not_a_cib_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.xml");
    std::fs::write(&live, live_cib(&rendered_cib())).unwrap();
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
