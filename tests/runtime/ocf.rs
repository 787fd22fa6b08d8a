//! The OCF agent: resource-agents' ocf-tester as the judge, plus the exit-code map.

use std::fs;
use std::process::Command;

use crate::harness::{Node, repo, require_tool, run, text};

const OCF_SUCCESS: i32 = 0;
const OCF_ERR_GENERIC: i32 = 1;
const OCF_ERR_UNIMPLEMENTED: i32 = 3;
const OCF_ERR_INSTALLED: i32 = 5;
const OCF_ERR_CONFIGURED: i32 = 6;
const OCF_NOT_RUNNING: i32 = 7;

fn node() -> Node {
    let node = Node::new();
    node.write("/etc/asterisk/pjsip.conf", "local");
    node.write("/mnt/share/etc/asterisk/pjsip.conf", "shared");
    fs::write(
        node.config(),
        "mountpoint('/mnt/share')\nlink('/etc/asterisk')\n",
    )
    .unwrap();
    node.set_mounted(&["/mnt/share"]);
    node
}

fn agent(node: &Node, action: &str) -> std::process::Output {
    let mut cmd = Command::new("sh");
    node.env(&mut cmd);
    cmd.env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESKEY_config", node.config())
        .arg(repo("packaging/ocf/drbdlinks"))
        .arg(action);
    run(&mut cmd)
}

#[test]
fn ocf_tester_passes_the_agent() {
    let tester = require_tool("/usr/sbin/ocf-tester", "resource-agents");
    let node = node();
    let mut cmd = Command::new(tester);
    node.env(&mut cmd);
    cmd.args(["-n", "drbdlinks", "-o"])
        .arg(format!("config={}", node.config().display()))
        .arg(repo("packaging/ocf/drbdlinks"));
    let out = run(&mut cmd);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("passed all tests"), "{all}");
    // ocf-tester leaves the resource stopped: the original is back.
    assert_eq!(node.read("/etc/asterisk/pjsip.conf"), "local");
}

#[test]
fn meta_data_is_xml_that_names_the_parameter_and_actions() {
    let node = node();
    let out = agent(&node, "meta-data");
    assert_eq!(out.status.code(), Some(OCF_SUCCESS));
    let xml = text(&out.stdout);
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&xml, opts).expect("meta-data parses");
    let root = doc.root_element();
    assert_eq!(root.attribute("name"), Some("drbdlinks"));
    let param = doc
        .descendants()
        .find(|n| n.has_tag_name("parameter"))
        .expect("a parameter");
    assert_eq!(param.attribute("name"), Some("config"));
    let actions: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("action"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    for a in ["start", "stop", "monitor", "validate-all", "meta-data"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

#[test]
fn monitor_start_stop_map_to_ocf_codes() {
    let node = node();
    assert_eq!(agent(&node, "monitor").status.code(), Some(OCF_NOT_RUNNING));
    assert_eq!(agent(&node, "start").status.code(), Some(OCF_SUCCESS));
    assert_eq!(agent(&node, "monitor").status.code(), Some(OCF_SUCCESS));
    assert_eq!(node.read("/etc/asterisk/pjsip.conf"), "shared");
    // Half linked (the link removed behind the agent's back) is a failure, not "stopped".
    fs::remove_file(node.path("/etc/asterisk")).unwrap();
    assert_eq!(agent(&node, "monitor").status.code(), Some(OCF_ERR_GENERIC));
    assert_eq!(agent(&node, "stop").status.code(), Some(OCF_SUCCESS));
    assert_eq!(agent(&node, "monitor").status.code(), Some(OCF_NOT_RUNNING));
    assert_eq!(node.read("/etc/asterisk/pjsip.conf"), "local");
    assert_eq!(
        agent(&node, "promote").status.code(),
        Some(OCF_ERR_UNIMPLEMENTED)
    );
}

#[test]
fn start_without_the_mount_fails_and_leaves_the_node_alone() {
    let node = node();
    node.set_mounted(&[]);
    let before = node.snapshot();
    let out = agent(&node, "start");
    assert_eq!(out.status.code(), Some(OCF_ERR_GENERIC));
    assert!(
        text(&out.stderr).contains("not mounted"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(node.snapshot(), before);
}

#[test]
fn validate_all_tells_a_missing_file_from_a_broken_one() {
    let node = node();
    assert_eq!(
        agent(&node, "validate-all").status.code(),
        Some(OCF_SUCCESS)
    );
    fs::write(
        node.config(),
        "mountpoint('/mnt/share')\nlink(/etc/asterisk)\n",
    )
    .unwrap();
    assert_eq!(
        agent(&node, "validate-all").status.code(),
        Some(OCF_ERR_CONFIGURED)
    );
    fs::remove_file(node.config()).unwrap();
    assert_eq!(
        agent(&node, "validate-all").status.code(),
        Some(OCF_ERR_INSTALLED)
    );
    // A probe on a node without the file finds it not running; stop succeeds.
    assert_eq!(agent(&node, "monitor").status.code(), Some(OCF_NOT_RUNNING));
    assert_eq!(agent(&node, "stop").status.code(), Some(OCF_SUCCESS));
}
