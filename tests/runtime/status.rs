//! status against recorded (and, where noted in the fixture README, hand-written)
//! outputs of crm_mon, cibadmin, cl_status, drbdsetup and /proc/drbd.

use std::cell::RefCell;
use std::process::Command;

use pbx_cluster::exec::{Output, RecordingRunner};
use pbx_cluster::runtime::status::{
    EngineChoice, Health, Inputs, SipCheck, Sources, StatusReport, gather, render_table,
};

use crate::harness::{bin, repo, run, text};

fn fixture(name: &str) -> String {
    let path = repo(&format!("tests/fixtures/status/{name}"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture_path(name: &str) -> std::path::PathBuf {
    repo(&format!("tests/fixtures/status/{name}"))
}

/// A node whose tools answer from fixtures.
struct Scene {
    crm_mon: Option<(&'static str, i32)>,
    drbd_json: Option<&'static str>,
    proc_drbd: &'static str,
    hb: Option<(&'static str, i32)>,
    peer_status: &'static str,
    rscstatus: &'static str,
    hostname: &'static str,
}

impl Default for Scene {
    fn default() -> Self {
        Scene {
            crm_mon: Some(("crm_mon-healthy.xml", 0)),
            drbd_json: None,
            proc_drbd: "proc-drbd-84-connected.txt",
            hb: None,
            peer_status: "cl_status-nodestatus-active.txt",
            rscstatus: "cl_status-rscstatus-all.txt",
            hostname: "cl01",
        }
    }
}

fn sip_ok(target: &str) -> SipCheck {
    SipCheck {
        target: format!("{target}:5060"),
        ok: true,
        status_line: Some("SIP/2.0 200 OK".into()),
        rtt_ms: Some(0.8),
        error: None,
    }
}

fn sip_dead(target: &str) -> SipCheck {
    SipCheck {
        target: format!("{target}:5060"),
        ok: false,
        status_line: None,
        rtt_ms: None,
        error: Some("no answer within 2000 ms".into()),
    }
}

fn gather_scene(scene: &Scene, sip: &dyn Fn(&str) -> SipCheck) -> (StatusReport, Vec<String>) {
    let ok = |name: &str| Output::ok(fixture(name));
    let mut runner = RecordingRunner::new();
    runner = match scene.crm_mon {
        Some((file, code)) => runner.respond(
            "crm_mon -1 '--output-as=xml'",
            Output {
                code: Some(code),
                stdout: fixture(file).into_bytes(),
                stderr: Vec::new(),
            },
        ),
        None => runner.respond_with(|c| (c.program == "crm_mon").then(|| Output::failed(127, ""))),
    };
    runner = runner.respond(
        "cibadmin --query --scope resources",
        ok("cibadmin-resources.xml"),
    );
    runner = match scene.drbd_json {
        Some(file) => runner.respond("drbdsetup status --json", ok(file)),
        // What this host's drbdsetup does without a module: empty stdout, exit 0.
        None => runner.respond("drbdsetup status --json", Output::ok("")),
    };
    if let Some((file, code)) = scene.hb {
        runner = runner
            .respond(
                "cl_status hbstatus",
                Output {
                    code: Some(code),
                    stdout: fixture(file).into_bytes(),
                    stderr: Vec::new(),
                },
            )
            .respond("cl_status listnodes -n", ok("cl_status-listnodes-n.txt"))
            .respond(
                "cl_status nodestatus cl01",
                ok("cl_status-nodestatus-active.txt"),
            )
            .respond("cl_status nodestatus cl02", ok(scene.peer_status))
            .respond("cl_status rscstatus", ok(scene.rscstatus));
    }
    let dir = tempfile::tempdir().unwrap();
    let hostname = dir.path().join("hostname");
    std::fs::write(&hostname, format!("{}\n", scene.hostname)).unwrap();
    let inputs = Inputs {
        engine: EngineChoice::Auto,
        sources: Sources {
            proc_drbd: fixture_path(scene.proc_drbd),
            haresources: fixture_path("haresources"),
            hostname,
        },
        sip: Some(sip),
    };
    let report = gather(&runner, &inputs);
    (report, runner.lines())
}

fn messages(r: &StatusReport) -> Vec<String> {
    r.problems.iter().map(|p| p.message.clone()).collect()
}

#[test]
fn healthy_pacemaker_cluster_is_healthy() {
    let probed = RefCell::new(Vec::new());
    let sip = |t: &str| {
        probed.borrow_mut().push(t.to_string());
        sip_ok(t)
    };
    let (r, calls) = gather_scene(&Scene::default(), &sip);
    assert_eq!(r.health, Health::Healthy, "{:?}", messages(&r));
    assert_eq!(r.engine, "pacemaker");
    assert_eq!(r.group.as_deref(), Some("pbx"));
    assert_eq!(r.group_holder.as_deref(), Some("cl01"));
    assert_eq!(r.vip.as_deref(), Some("192.168.178.5"));
    assert_eq!(r.vip_holder.as_deref(), Some("cl01"));
    assert_eq!(*probed.borrow(), vec!["192.168.178.5".to_string()]);
    let svc: Vec<(String, String)> = r
        .services
        .iter()
        .map(|s| (s.id.clone(), s.state.clone()))
        .collect();
    assert_eq!(
        svc,
        [
            ("drbd_r0", "Promoted/Unpromoted"),
            ("fs", "Started"),
            ("drbdlinks", "Started"),
            ("vip", "Started"),
            ("asterisk", "Started"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(r.drbd.len(), 1);
    assert_eq!(
        (r.drbd[0].role.as_str(), r.drbd[0].connection.as_str()),
        ("Primary", "Connected")
    );
    assert!(
        calls.iter().all(|c| !c.starts_with("cl_status")),
        "{calls:?}"
    );
    let table = render_table(&r);
    assert!(table.starts_with("cluster     HEALTHY\n"), "{table}");
    assert!(
        table.contains("virtual IP  192.168.178.5 on cl01"),
        "{table}"
    );
    assert!(
        table.contains("sip         192.168.178.5:5060 SIP/2.0 200 OK in 0.8 ms"),
        "{table}"
    );
}

#[test]
fn an_offline_peer_with_drbd_waiting_is_degraded() {
    let scene = Scene {
        crm_mon: Some(("crm_mon-peer-offline.xml", 0)),
        proc_drbd: "proc-drbd-84-wfconnection.txt",
        ..Scene::default()
    };
    let (r, _) = gather_scene(&scene, &sip_ok);
    assert_eq!(r.health, Health::Degraded);
    assert_eq!(
        messages(&r),
        ["node cl02 is offline", "DRBD drbd0/0 is WFConnection"]
    );
    assert_eq!(r.group_holder.as_deref(), Some("cl01"));
}

#[test]
fn after_failover_the_group_is_on_the_peer() {
    let scene = Scene {
        crm_mon: Some(("crm_mon-failed-over.xml", 0)),
        drbd_json: Some("drbdsetup-status-9-connected.json"),
        hostname: "cl02",
        ..Scene::default()
    };
    let (r, _) = gather_scene(&scene, &sip_ok);
    assert_eq!(r.group_holder.as_deref(), Some("cl02"));
    assert_eq!(r.vip_holder.as_deref(), Some("cl02"));
    assert_eq!(r.health, Health::Degraded);
    assert_eq!(messages(&r), ["node cl01 is offline"]);
    assert_eq!(r.local_node, "cl02");
}

#[test]
fn a_recorded_resource_failure_degrades() {
    let scene = Scene {
        crm_mon: Some(("crm_mon-resource-failed.xml", 0)),
        ..Scene::default()
    };
    let (r, _) = gather_scene(&scene, &sip_ok);
    assert_eq!(r.health, Health::Degraded);
    assert_eq!(
        messages(&r),
        ["asterisk_monitor_10000 failed on cl01 (not running)"]
    );
}

#[test]
fn a_stopped_group_is_down() {
    let scene = Scene {
        crm_mon: Some(("crm_mon-group-stopped.xml", 0)),
        ..Scene::default()
    };
    let (r, _) = gather_scene(&scene, &sip_dead);
    assert_eq!(r.health, Health::Down);
    let m = messages(&r);
    assert!(
        m.contains(&"group pbx is not running on any node".to_string()),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|p| p.starts_with("the virtual IP does not answer SIP")),
        "{m:?}"
    );
    assert_eq!(r.group_holder, None);
}

#[test]
fn a_vip_that_does_not_answer_sip_is_down_even_when_pacemaker_is_happy() {
    let (r, _) = gather_scene(&Scene::default(), &sip_dead);
    assert_eq!(r.health, Health::Down);
    assert_eq!(
        messages(&r),
        ["the virtual IP does not answer SIP: no answer within 2000 ms"]
    );
}

#[test]
fn drbd_resync_progress_is_reported_from_both_formats() {
    for (json, proc_drbd, pct) in [
        (
            Some("drbdsetup-status-9-syncing.json"),
            "proc-drbd-84-connected.txt",
            58.16,
        ),
        (None, "proc-drbd-84-syncing.txt", 58.2),
    ] {
        let scene = Scene {
            drbd_json: json,
            proc_drbd,
            ..Scene::default()
        };
        let (r, _) = gather_scene(&scene, &sip_ok);
        assert_eq!(r.health, Health::Degraded);
        assert_eq!(r.drbd[0].sync_percent, Some(pct));
        assert_eq!(
            r.drbd[0].peer_disk,
            Some(pbx_cluster::runtime::status::drbd::DiskState::Inconsistent)
        );
        assert!(
            messages(&r)[0].contains(&format!("is resyncing ({pct:.1}% in sync)")),
            "{:?}",
            messages(&r)
        );
    }
}

#[test]
fn no_engine_running_is_down_with_both_reasons() {
    let scene = Scene {
        crm_mon: Some(("crm_mon-not-connected.xml", 102)),
        hb: Some(("cl_status-hbstatus-stopped.txt", 1)),
        ..Scene::default()
    };
    let probed = RefCell::new(0);
    let sip = |t: &str| {
        *probed.borrow_mut() += 1;
        sip_ok(t)
    };
    let (r, _) = gather_scene(&scene, &sip);
    assert_eq!(r.health, Health::Down);
    assert_eq!(r.engine, "none");
    let m = messages(&r);
    assert!(
        m[0].contains(
            "Pacemaker is not running here (crm_mon: Not connected; error: Could not connect"
        ),
        "{m:?}"
    );
    assert!(
        m[1].contains("Heartbeat is not running here (Heartbeat is stopped on this machine.)"),
        "{m:?}"
    );
    assert_eq!(*probed.borrow(), 0, "no VIP is known, nothing to probe");
}

#[test]
fn heartbeat_holding_all_resources_is_healthy() {
    let scene = Scene {
        crm_mon: None,
        hb: Some(("cl_status-hbstatus-running.txt", 0)),
        ..Scene::default()
    };
    let (r, _) = gather_scene(&scene, &sip_ok);
    assert_eq!(r.health, Health::Healthy, "{:?}", messages(&r));
    assert_eq!(r.engine, "heartbeat");
    assert_eq!(r.group_holder.as_deref(), Some("cl01"));
    assert_eq!(r.vip.as_deref(), Some("192.168.178.5"));
    let names: Vec<&str> = r.services.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        names,
        ["drbddisk", "Filesystem", "drbdlinks", "IPaddr2", "asterisk"]
    );
}

#[test]
fn heartbeat_with_a_dead_peer_and_nothing_held_here_is_down() {
    let scene = Scene {
        crm_mon: None,
        hb: Some(("cl_status-hbstatus-running.txt", 0)),
        peer_status: "cl_status-nodestatus-dead.txt",
        rscstatus: "cl_status-rscstatus-none.txt",
        ..Scene::default()
    };
    let (r, _) = gather_scene(&scene, &sip_dead);
    assert_eq!(r.health, Health::Down);
    let m = messages(&r);
    assert_eq!(m[0], "node cl02 is dead");
    assert!(
        m[1].starts_with("no live node holds the resource group (rscstatus here: `none`)"),
        "{m:?}"
    );
}

#[test]
fn json_and_exit_code_from_the_real_binary_with_fake_tools_on_path() {
    let dir = tempfile::tempdir().unwrap();
    for (tool, file, code) in [
        ("crm_mon", "crm_mon-peer-offline.xml", 0),
        ("cibadmin", "cibadmin-resources.xml", 0),
        ("drbdsetup", "drbdsetup-status-9-connected.json", 0),
    ] {
        let script = dir.path().join(tool);
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncat '{}'\nexit {code}\n",
                fixture_path(file).display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    let status = |extra: &[&str]| {
        run(Command::new(bin())
            .env("PATH", &path)
            .args(["status", "--no-sip", "--engine", "pacemaker"])
            .args(extra))
    };
    let out = status(&["--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "degraded: {}",
        text(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["health"], "degraded");
    assert_eq!(json["group_holder"], "cl01");
    assert_eq!(json["drbd"][0]["resource"], "r0");
    assert_eq!(json["problems"][0]["message"], "node cl02 is offline");
    let out = status(&[]);
    assert_eq!(out.status.code(), Some(1));
    let table = text(&out.stdout);
    assert!(table.contains("cluster     DEGRADED"), "{table}");
    assert!(
        table.contains("nodes       cl01 online, cl02 OFFLINE"),
        "{table}"
    );
    assert!(
        table.contains("drbd        r0/0  Primary/Secondary  UpToDate/UpToDate  Established"),
        "{table}"
    );
    assert!(table.lines().count() <= 24, "one screen: {table}");
}
