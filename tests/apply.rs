//! plan / apply / init against a simulated node: the recording runner answers the
//! probes from a small state machine and records every command, so the order of
//! steps and the refusals can be checked without a machine.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use pbx_cluster::apply::{Applier, init};
use pbx_cluster::exec::{Cmd, Output, RecordingRunner, Runner};
use pbx_cluster::model::Model;
use pbx_cluster::output::Reporter;
use pbx_cluster::runtime::status::SipCheck;
use pbx_cluster::{plan, profile, render};

#[derive(Debug, Clone)]
struct Sim {
    installed: bool,
    primary: bool,
    umount_busy: bool,
    /// umount never succeeds (something holds the mount point).
    umount_held: bool,
    /// Both nodes' addresses answer `ip addr` (the simulation serves both nodes).
    addresses_up: bool,
    /// Units enabled and running; apt starts the services it installs.
    enabled: std::collections::BTreeSet<String>,
    metadata: bool,
    disk_signature: Option<&'static str>,
    up: bool,
    peer_connects: bool,
    dstate: String,
    cib_loaded: bool,
    /// The virtual IP answers SIP (the simulated Asterisk runs).
    sip_answers: bool,
    /// dpkg-statoverride's table: path -> its `--list` line.
    statoverrides: std::collections::BTreeMap<String, String>,
}

impl Default for Sim {
    fn default() -> Self {
        Sim {
            installed: false,
            addresses_up: true,
            primary: false,
            umount_busy: true,
            umount_held: false,
            enabled: ["mysql", "postfix", "asterisk", "apache2"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            metadata: false,
            disk_signature: None,
            up: false,
            peer_connects: true,
            dstate: "Inconsistent/Inconsistent".into(),
            cib_loaded: false,
            sip_answers: true,
            statoverrides: Default::default(),
        }
    }
}

fn runner_for(sim: Arc<Mutex<Sim>>, hostname: &'static str) -> RecordingRunner {
    RecordingRunner::new().respond_with(move |cmd: &Cmd| {
        let line = cmd.display();
        let mut s = sim.lock().unwrap();
        let ok = |out: &str| Some(Output::ok(out.as_bytes().to_vec()));
        let fail = |code: i32| Some(Output::failed(code, b"".to_vec()));
        match line.as_str() {
            "hostname" => ok(hostname),
            "ip -j -4 addr show" => {
                if s.addresses_up {
                    ok(r#"[{"ifname":"eth0","addr_info":[{"local":"192.168.178.3"},{"local":"192.168.178.4"}]},{"ifname":"eth1","addr_info":[{"local":"10.0.0.3"},{"local":"10.0.0.4"}]}]"#)
                } else {
                    ok(r#"[{"ifname":"eth0","addr_info":[{"local":"192.168.178.3"}]}]"#)
                }
            }
            l if l.starts_with("dpkg-query") => {
                if s.installed {
                    let pkgs: Vec<String> = cmd.args[3..].iter().map(|p| format!("{p}\tinstalled")).collect();
                    ok(&pkgs.join("\n"))
                } else {
                    fail(1)
                }
            }
            l if l.starts_with("dpkg-statoverride --list ") => match s.statoverrides.get(&cmd.args[1]) {
                Some(line) => ok(line),
                None => fail(1),
            },
            l if l.starts_with("dpkg-statoverride --force-statoverride-add --update --add ") => {
                let a = &cmd.args[3..];
                s.statoverrides.insert(a[3].clone(), a.join(" "));
                ok("")
            }
            l if l.starts_with("apt-get install") => {
                s.installed = true;
                ok("")
            }
            l if l.starts_with("systemctl is-enabled") || l.starts_with("systemctl is-active") => {
                if s.enabled.contains(&cmd.args[1]) { ok("enabled") } else { fail(1) }
            }
            l if l.starts_with("systemctl disable --now ") => {
                s.enabled.remove(&cmd.args[2]);
                ok("")
            }
            l if l.starts_with("systemctl enable --now ") => {
                s.enabled.insert(cmd.args[2].clone());
                ok("")
            }
            l if l.starts_with("blkid") => match s.disk_signature {
                Some(t) => ok(&format!("TYPE={t}\n")),
                None => fail(2),
            },
            "drbdadm dump-md r0" => {
                if s.metadata { ok("") } else { fail(255) }
            }
            "drbdadm -- --force create-md r0" => {
                s.metadata = true;
                ok("")
            }
            "drbdadm up r0" => {
                s.up = true;
                ok("")
            }
            "drbdadm cstate r0" => {
                if !s.up {
                    fail(10)
                } else if s.peer_connects {
                    ok("Connected")
                } else {
                    ok("WFConnection")
                }
            }
            "drbdadm dstate r0" => ok(&s.dstate.clone()),
            "drbdadm role r0" => ok(if s.primary { "Primary/Secondary" } else { "Secondary/Secondary" }),
            "drbdadm secondary r0" => {
                s.primary = false;
                ok("")
            }
            "drbdadm primary r0" => {
                s.primary = true;
                ok("")
            }
            "umount /mnt/share" => {
                // Busy once, as a fresh mount can be.
                if s.umount_held || s.umount_busy {
                    s.umount_busy = false;
                    Some(Output::failed(32, b"umount: /mnt/share: target is busy.".to_vec()))
                } else {
                    ok("")
                }
            }
            "drbdadm primary --force r0" => {
                // The initial sync completes at once in the simulation.
                s.dstate = "UpToDate/UpToDate".into();
                s.primary = true;
                ok("")
            }
            "crm_mon -1 --output-as xml" => ok(r#"<pacemaker-result><summary/><nodes><node name="cl01" online="true"/><node name="cl02" online="true"/></nodes><status code="0" message="OK"/></pacemaker-result>"#),
            "cibadmin --query --scope resources" => {
                if s.cib_loaded { ok(r#"<resources><clone id="drbd-r0-clone"/></resources>"#) } else { ok("<resources/>") }
            }
            l if l.starts_with("cibadmin --replace") => {
                s.cib_loaded = true;
                ok("")
            }
            _ => ok(""),
        }
    })
}

struct Run {
    lines: Vec<String>,
    result: Result<(), pbx_cluster::error::Error>,
    report: Option<init::InitReport>,
}

fn model(name: &str) -> Model {
    profile::load(&profile(name)).unwrap().model
}

fn do_plan(
    m: &Model,
    node: &str,
    runner: &dyn Runner,
    root: &std::path::Path,
    force: bool,
) -> Result<plan::Plan, pbx_cluster::error::Error> {
    let files = render::render_node(m, node)?;
    let st = plan::probe(m, node, &files, root, Some(runner));
    plan::build(
        m,
        &files,
        &st,
        plan::Options {
            force_wipe_disk: force,
            ..plan::Options::default()
        },
    )
}

/// The node under `root` runs systemd (the plan then uses systemctl).
fn systemd_root(root: &std::path::Path) {
    std::fs::create_dir_all(root.join("run/systemd/system")).unwrap();
}

fn apply_on(m: &Model, node: &str, sim: &Arc<Mutex<Sim>>, root: &std::path::Path) -> Run {
    systemd_root(root);
    let runner = runner_for(sim.clone(), "ignored");
    let reporter = Reporter::silent();
    let result = do_plan(m, node, &runner, root, false).and_then(|p| {
        Applier::new(root, Some(&runner), &reporter)
            .apply(&p)
            .map(|_| ())
    });
    Run {
        lines: runner.lines(),
        result,
        report: None,
    }
}

fn init_on(m: &Model, node: &str, sim: &Arc<Mutex<Sim>>, root: &std::path::Path) -> Run {
    systemd_root(root);
    let runner = runner_for(sim.clone(), "ignored");
    let reporter = Reporter::silent();
    let applier = Applier::new(root, Some(&runner), &reporter);
    let opts = init::InitOptions {
        peer_timeout: Duration::from_millis(30),
        sync_timeout: Duration::from_millis(30),
        healthy_timeout: Duration::from_millis(30),
        umount_timeout: Duration::from_millis(30),
        poll: Duration::from_millis(1),
        // The profile's virtual IP is no address here: the probe is the
        // simulation's, and it answers while the simulated Asterisk does.
        sip_probe: {
            let sim = sim.clone();
            Arc::new(move |ip: &str| SipCheck {
                target: format!("{ip}:5060"),
                ok: sim.lock().unwrap().sip_answers,
                status_line: None,
                rtt_ms: None,
                error: None,
            })
        },
    };
    let mut report = None;
    let result = do_plan(m, node, &runner, root, false).and_then(|p| {
        report = Some(
            init::Init {
                model: m,
                node,
                applier: &applier,
                runner: &runner,
                opts,
            }
            .run(&p)?,
        );
        Ok(())
    });
    Run {
        lines: runner.lines(),
        result,
        report,
    }
}

fn index(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|l| l.starts_with(needle))
        .unwrap_or_else(|| panic!("`{needle}` was not run:\n{}", lines.join("\n")))
}

#[test]
fn services_leave_the_boot_sequence_before_the_engine_starts() {
    for (profile_name, address_unit, engine_units) in [
        (
            "seed-pacemaker",
            "corosync",
            vec![
                "systemctl enable --now corosync",
                "systemctl enable --now pacemaker",
            ],
        ),
        (
            "seed-heartbeat",
            "heartbeat",
            vec!["systemctl enable --now heartbeat"],
        ),
    ] {
        let root = tempfile::tempdir().unwrap();
        let sim = Arc::new(Mutex::new(Sim::default()));
        let run = apply_on(&model(profile_name), "cl01", &sim, root.path());
        run.result.unwrap();
        let install = index(&run.lines, "apt-get install");
        let last_disable = ["mysql", "postfix", "asterisk", "apache2"]
            .iter()
            .map(|s| index(&run.lines, &format!("systemctl disable --now {s}")))
            .max()
            .unwrap();
        let md = index(&run.lines, "drbdadm -- --force create-md");
        // Kernel settings written are applied at once (ip_nonlocal_bind for Asterisk).
        assert!(index(&run.lines, "sysctl -q -p /etc/sysctl.d/60-pbx-cluster.conf") < last_disable);
        assert!(
            install < last_disable && last_disable < md,
            "{profile_name}: {:?}",
            run.lines
        );
        let reload = index(&run.lines, "systemctl daemon-reload");
        for unit in &engine_units {
            assert!(
                last_disable < index(&run.lines, unit),
                "{profile_name}: {unit} before the services were disabled"
            );
            // The unit's address-wait drop-in is in force when it starts.
            assert!(reload < index(&run.lines, unit), "{profile_name}: {unit}");
        }
        let dropin = root.path().join(format!(
            "etc/systemd/system/{address_unit}.service.d/50-pbx-cluster-addresses.conf"
        ));
        let text = std::fs::read_to_string(&dropin).unwrap();
        assert!(
            text.contains(
                "ExecStartPre=/usr/sbin/pbx-cluster --quiet wait-addresses 192.168.178.3 10.0.0.3 "
            ),
            "{profile_name}: {text}"
        );
        // Unchanged drop-ins: no reload on the next run.
        let again = apply_on(&model(profile_name), "cl01", &sim, root.path());
        again.result.unwrap();
        assert!(
            !again.lines.iter().any(|l| l == "systemctl daemon-reload"),
            "{profile_name}: {:?}",
            again.lines
        );
    }
}

#[test]
fn metadata_is_created_only_where_there_is_none() {
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim {
        metadata: true,
        ..Sim::default()
    }));
    let run = apply_on(&model("seed-heartbeat"), "cl01", &sim, root.path());
    run.result.unwrap();
    assert!(
        !run.lines.iter().any(|l| l.contains("create-md")),
        "{:?}",
        run.lines
    );
    assert!(run.lines.iter().any(|l| l == "drbdadm up r0"));

    let sim = Arc::new(Mutex::new(Sim::default()));
    let run = apply_on(&model("seed-heartbeat"), "cl01", &sim, root.path());
    run.result.unwrap();
    assert_eq!(
        run.lines.iter().filter(|l| l.contains("create-md")).count(),
        1
    );
}

#[test]
fn a_disk_holding_a_filesystem_is_refused_and_nothing_changes() {
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim {
        disk_signature: Some("ext4"),
        ..Sim::default()
    }));
    let run = apply_on(&model("seed-heartbeat"), "cl01", &sim, root.path());
    let err = run.result.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let msg = pbx_cluster::error::format(&err);
    assert!(
        msg.contains("/dev/hda3 of node cl01 holds a ext4 signature")
            && msg.contains("--force-wipe-disk"),
        "{msg}"
    );
    assert!(
        files_under(root.path()).is_empty(),
        "nothing may be written"
    );
    let root = tempfile::tempdir().unwrap();
    assert!(
        !run.lines
            .iter()
            .any(|l| l.starts_with("apt-get") || l.contains("create-md") || l.contains("disable")),
        "only probes ran: {:?}",
        run.lines
    );

    // With --force-wipe-disk the metadata is created.
    let runner = runner_for(sim, "x");
    let p = do_plan(&model("seed-heartbeat"), "cl01", &runner, root.path(), true).unwrap();
    assert!(
        p.steps
            .iter()
            .any(|s| s.summary.starts_with("create DRBD metadata"))
    );
}

#[test]
fn init_forces_primary_only_on_the_preferred_node_of_a_new_cluster() {
    let m = model("seed-pacemaker");
    // New cluster, preferred node: forced once, filesystem made, links seeded.
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim::default()));
    let run = init_on(&m, "cl01", &sim, root.path());
    run.result.unwrap();
    assert_eq!(
        run.lines
            .iter()
            .filter(|l| *l == "drbdadm primary --force r0")
            .count(),
        1
    );
    let primary = index(&run.lines, "drbdadm primary --force r0");
    assert!(primary < index(&run.lines, "mkfs.xfs -f -q /dev/drbd0"));
    assert!(index(&run.lines, "mkfs.xfs") < index(&run.lines, "mount /dev/drbd0 /mnt/share"));
    assert!(
        run.lines
            .iter()
            .any(|l| l.contains("cp -a") && l.contains("/etc/asterisk")),
        "seeded"
    );
    assert!(index(&run.lines, "umount /mnt/share") < index(&run.lines, "drbdadm secondary r0"));
    assert!(
        index(&run.lines, "drbdadm secondary r0")
            < index(&run.lines, "systemctl enable --now pacemaker")
    );
    assert!(run.report.as_ref().unwrap().forced_primary);
    assert!(root.path().join("var/lib/pbx-cluster/initialized").exists());

    // New cluster, the other node: never forced.
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim {
        dstate: "Inconsistent/Inconsistent".into(),
        ..Sim::default()
    }));
    let run = init_on(&m, "cl02", &sim, root.path());
    assert!(
        !run.lines
            .iter()
            .any(|l| l.contains("primary --force") || l.starts_with("mkfs")),
        "{:?}",
        run.lines
    );
    // (its sync never finishes in this simulation, so init reports the wait)
    let err = run.result.unwrap_err();
    assert!(pbx_cluster::error::format(&err).contains("to be UpToDate on both nodes"));

    // Existing cluster (data UpToDate): the preferred node does not force either.
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim {
        dstate: "UpToDate/UpToDate".into(),
        metadata: true,
        ..Sim::default()
    }));
    let run = init_on(&m, "cl01", &sim, root.path());
    run.result.unwrap();
    assert!(
        !run.lines
            .iter()
            .any(|l| l.contains("primary") || l.starts_with("mkfs")),
        "{:?}",
        run.lines
    );
}

#[test]
fn the_cib_is_loaded_once_from_the_preferred_node() {
    let m = model("seed-pacemaker");
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim::default()));
    let first = init_on(&m, "cl01", &sim, root.path());
    first.result.unwrap();
    let replaces = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.starts_with("cibadmin --replace"))
            .count()
    };
    assert_eq!(replaces(&first.lines), 1);
    assert!(
        !first
            .lines
            .iter()
            .any(|l| l.starts_with("dpkg-statoverride")),
        "no dopd under Pacemaker: DRBD's helpers keep their modes"
    );
    assert!(
        index(&first.lines, "crm_mon -1") < index(&first.lines, "cibadmin --replace"),
        "members first"
    );
    let second = init_on(&m, "cl01", &sim, root.path());
    second.result.unwrap();
    assert_eq!(replaces(&second.lines), 0, "already loaded: left alone");
    assert!(!second.report.unwrap().cib_loaded);

    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim {
        dstate: "UpToDate/UpToDate".into(),
        ..Sim::default()
    }));
    let other = init_on(&m, "cl02", &sim, root.path());
    other.result.unwrap();
    assert_eq!(
        replaces(&other.lines),
        0,
        "only the preferred node loads it"
    );
}

#[test]
fn init_stops_with_a_named_wait_when_the_peer_never_connects() {
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim {
        peer_connects: false,
        ..Sim::default()
    }));
    let run = init_on(&model("seed-heartbeat"), "cl01", &sim, root.path());
    let err = run.result.unwrap_err();
    assert_eq!(err.exit_code(), 4);
    let msg = pbx_cluster::error::format(&err);
    assert!(
        msg.contains("connect to the peer") && msg.contains("last seen: WFConnection"),
        "{msg}"
    );
    assert!(msg.contains("run `pbx-cluster init` again"), "{msg}");
    assert!(
        !run.lines.iter().any(|l| l.contains("primary")),
        "no force without the peer"
    );
}

#[test]
fn init_is_not_done_while_the_virtual_ip_is_silent() {
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim {
        sip_answers: false,
        ..Sim::default()
    }));
    let run = init_on(&model("seed-heartbeat"), "cl01", &sim, root.path());
    let err = run.result.unwrap_err();
    assert_eq!(err.exit_code(), 4, "the cluster is not healthy");
    let msg = pbx_cluster::error::format(&err);
    assert!(
        msg.contains("the virtual IP answering SIP")
            && msg.contains("dstate UpToDate/UpToDate")
            && msg.contains("SIP on 192.168.178.5:5060 silent"),
        "{msg}"
    );
}

#[test]
fn after_init_the_plan_holds_only_what_the_probe_cannot_confirm() {
    let m = model("seed-heartbeat");
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim::default()));
    let first = init_on(&m, "cl01", &sim, root.path());
    first.result.unwrap();
    // dopd's helpers became setuid root for group haclient, as drbdadm asks.
    for helper in ["/lib/drbd/drbdsetup-84", "/sbin/drbdmeta"] {
        assert_eq!(
            sim.lock()
                .unwrap()
                .statoverrides
                .get(helper)
                .map(String::as_str),
            Some(format!("root haclient 4750 {helper}").as_str())
        );
    }
    let runner = runner_for(sim.clone(), "cl01");
    let p = do_plan(&m, "cl01", &runner, root.path(), false).unwrap();
    // `systemctl enable drbd` (no --now) is re-checked by state only: is-active
    // answers for enabled-and-running units, which drbd is not in the simulation.
    let left: Vec<&str> = p.steps.iter().map(|s| s.summary.as_str()).collect();
    assert_eq!(left, ["enable drbd"], "{}", p.to_text());
}

// ---- the CLI with --root and --skip-commands ----

fn apply_cli(root: &std::path::Path, profile: &std::path::Path) -> std::process::Output {
    bin()
        .args([
            "apply",
            "--quiet",
            "--skip-commands",
            "--node",
            "cl01",
            "--root",
        ])
        .arg(root)
        .arg(profile)
        .output()
        .unwrap()
}

fn plan_cli(root: &std::path::Path, profile: &std::path::Path) -> std::process::Output {
    bin()
        .args(["plan", "--skip-commands", "--node", "cl01", "--root"])
        .arg(root)
        .arg(profile)
        .output()
        .unwrap()
}

#[test]
fn apply_with_root_writes_modes_and_a_second_run_changes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let o = apply_cli(root.path(), &profile("seed-pacemaker"));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mode = |p: &str| {
        std::fs::metadata(root.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("etc/corosync/authkey"), 0o400);
    assert_eq!(mode("etc/pbx-cluster/cib.xml"), 0o600);
    assert_eq!(mode("etc/drbd.d/r0.res"), 0o600);
    assert_eq!(mode("etc/corosync/corosync.conf"), 0o644);
    assert!(
        text(&std::fs::read(root.path().join("etc/hosts")).unwrap())
            .contains("192.168.178.4\tcl02\n")
    );
    assert!(root.path().join("var/log/pbx-cluster.log").exists());
    let o = plan_cli(root.path(), &profile("seed-pacemaker"));
    assert_eq!(
        o.status.code(),
        Some(0),
        "second run: no changes\n{}",
        text(&o.stderr)
    );
    let out = text(&o.stdout);
    assert!(
        out.starts_with("plan for cl01: "),
        "the plan is on stdout: {out}"
    );
    assert!(
        !out.lines()
            .any(|l| l.trim_start().starts_with("files ") || l.trim_start().starts_with("host ")),
        "{out}"
    );
    assert!(
        out.contains("only files were compared (--skip-commands)"),
        "{out}"
    );
    assert!(!text(&o.stderr).contains("plan for"));
    // A second apply says so.
    let o = bin()
        .args(["apply", "--skip-commands", "--node", "cl01", "--root"])
        .arg(root.path())
        .arg(profile("seed-pacemaker"))
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        text(&o.stderr).contains("cl01: nothing to do"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_changed_profile_changes_exactly_its_files_and_keeps_the_old_ones() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root_dir().join("profiles/seed.secret"),
        dir.path().join("seed.secret"),
    )
    .unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        std::fs::read_to_string(profile("seed-heartbeat")).unwrap(),
    )
    .unwrap();
    assert!(apply_cli(root.path(), &p).status.success());
    let old_hacf = std::fs::read(root.path().join("etc/ha.d/ha.cf")).unwrap();
    std::fs::write(
        &p,
        std::fs::read_to_string(profile("seed-heartbeat"))
            .unwrap()
            .replace("deadtime = \"10s\"", "deadtime = \"20s\""),
    )
    .unwrap();
    let o = plan_cli(root.path(), &p);
    assert_eq!(o.status.code(), Some(3));
    let changed: Vec<String> = text(&o.stdout)
        .lines()
        .filter(|l| l.trim_start().starts_with("files") && l.contains(" update "))
        .map(|l| l.trim().to_string())
        .collect();
    // DRBD's keep-alive follows the deadtime (two thirds of it), so the resource
    // file changes with ha.cf.
    assert_eq!(
        changed.len(),
        3,
        "the DRBD resource, ha.cf and the manifest: {changed:?}"
    );
    assert!(
        changed[0].contains("/etc/drbd.d/r0.res")
            && changed[1].contains("/etc/ha.d/ha.cf")
            && changed[2].contains("/etc/pbx-cluster/manifest.json"),
        "{changed:?}"
    );
    assert!(apply_cli(root.path(), &p).status.success());
    let backups = files_under(&root.path().join("var/lib/pbx-cluster/backup"));
    let hacf_backup = backups
        .iter()
        .find(|b| b.ends_with("etc/ha.d/ha.cf"))
        .expect("ha.cf was backed up");
    assert_eq!(
        std::fs::read(
            root.path()
                .join("var/lib/pbx-cluster/backup")
                .join(hacf_backup)
        )
        .unwrap(),
        old_hacf
    );
    assert!(
        text(&std::fs::read(root.path().join("etc/ha.d/ha.cf")).unwrap()).contains("deadtime 20")
    );
}

#[test]
fn unknown_node_and_invalid_profile_exit_2_and_write_nothing() {
    let root = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["apply", "--skip-commands", "--node", "cl09", "--root"])
        .arg(root.path())
        .arg(profile("seed-heartbeat"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("node \"cl09\" is not in the profile"));
    // No node given and none recognisable under this root.
    let o = bin()
        .args(["apply", "--skip-commands", "--root"])
        .arg(root.path())
        .arg(profile("seed-heartbeat"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("cannot tell which node this is")
            && text(&o.stderr).contains("--node NAME"),
        "{}",
        text(&o.stderr)
    );
    let bad = root.path().join("bad.toml");
    std::fs::write(&bad, "[cluster]\nname = \"x\"\n").unwrap();
    let o = bin()
        .args(["apply", "--skip-commands", "--node", "cl01", "--root"])
        .arg(root.path())
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let left: Vec<_> = files_under(root.path())
        .into_iter()
        .filter(|f| !f.ends_with("bad.toml"))
        .collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
}

/// `plan --json --skip-commands` of the Pacemaker seed's cl01 under `root`.
fn plan_json(root: &std::path::Path) -> String {
    let o = bin()
        .args([
            "plan",
            "--json",
            "--skip-commands",
            "--node",
            "cl01",
            "--root",
        ])
        .arg(root)
        .arg(profile("seed-pacemaker"))
        .output()
        .unwrap();
    text(&o.stdout)
}

#[test]
fn plan_output_masks_secrets() {
    let root = tempfile::tempdir().unwrap();
    let o = plan_cli(root.path(), &profile("seed-pacemaker"));
    let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(all.contains("holds a secret: contents and digests not shown"));
    for s in ["seed-cluster-secret", "change-me-1001"] {
        assert!(!all.contains(s), "{s} printed");
    }
    let v: serde_json::Value = serde_json::from_str(&plan_json(root.path())).unwrap();
    let secret_step = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"]["path"] == "/etc/corosync/authkey")
        .unwrap();
    assert_eq!(secret_step["action"]["secret"], true);
    // The authorized_keys block carries a key derived from the secret: no digest.
    let keys_step = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"]["path"] == "/root/.ssh/authorized_keys")
        .unwrap();
    assert_eq!(keys_step["action"]["secret"], true);
    assert!(
        keys_step["action"].get("new_sha256").is_none(),
        "{keys_step}"
    );

    // No digest of a secret-holding file, old or new: rendering is deterministic,
    // so a digest would let anyone test guesses of the secret offline.
    std::fs::create_dir_all(root.path().join("etc/corosync")).unwrap();
    std::fs::write(root.path().join("etc/corosync/authkey"), "an older key").unwrap();
    let rendered = tempfile::tempdir().unwrap();
    let r = bin()
        .args(["render", "--node", "cl01", "--out"])
        .arg(rendered.path())
        .arg(profile("seed-pacemaker"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", text(&r.stderr));
    let json = plan_json(root.path());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    use sha2::Digest;
    let digest = |b: &[u8]| hex::encode(sha2::Sha256::digest(b));
    assert!(
        !json.contains(&digest(b"an older key")),
        "old digest printed"
    );
    let mut secrets = 0;
    for step in v["steps"].as_array().unwrap() {
        let a = &step["action"];
        if a["type"] != "write-file" {
            continue;
        }
        if a["secret"] == true {
            secrets += 1;
            assert!(
                a.get("old_sha256").is_none() && a.get("new_sha256").is_none(),
                "{a}"
            );
            let path = a["path"].as_str().unwrap().trim_start_matches('/');
            if let Ok(bytes) = std::fs::read(rendered.path().join(path)) {
                assert!(!json.contains(&digest(&bytes)), "digest of {path} printed");
            }
        } else {
            assert!(a["new_sha256"].is_string(), "{a}");
        }
    }
    assert!(
        secrets >= 3,
        "pjsip.conf, the authkey, the CIB, the DRBD resource"
    );
}

#[test]
fn init_waits_for_the_nodes_addresses_before_touching_drbd() {
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim {
        addresses_up: false,
        ..Sim::default()
    }));
    let run = init_on(&model("seed-heartbeat"), "cl01", &sim, root.path());
    let err = run.result.unwrap_err();
    assert_eq!(err.exit_code(), 4);
    let msg = pbx_cluster::error::format(&err);
    assert!(
        msg.contains("this node's addresses (192.168.178.3 on eth0 and 10.0.0.3 on eth1)")
            && msg.contains("missing 10.0.0.3"),
        "{msg}"
    );
    assert!(
        !run.lines
            .iter()
            .any(|l| l.starts_with("drbdadm") && !l.contains("cstate") && !l.contains("dump-md")),
        "no DRBD change: {:?}",
        run.lines
    );
    assert!(
        !root.path().join("etc").exists(),
        "nothing written before the network is there"
    );
}

#[test]
fn a_rerun_after_an_interrupted_seed_hands_drbd_over_before_the_engine() {
    // The first run stopped after forcing primary: the node is Primary, the engine down.
    let m = model("seed-pacemaker");
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim {
        metadata: true,
        dstate: "UpToDate/UpToDate".into(),
        primary: true,
        ..Sim::default()
    }));
    let run = init_on(&m, "cl01", &sim, root.path());
    run.result.unwrap();
    assert!(
        !run.lines.iter().any(|l| l.contains("primary --force")),
        "not forced again"
    );
    let secondary = index(&run.lines, "drbdadm secondary r0");
    assert!(
        secondary < index(&run.lines, "systemctl enable --now pacemaker"),
        "{:?}",
        run.lines
    );
    assert!(!sim.lock().unwrap().primary);
}

#[test]
fn a_mount_point_that_stays_busy_is_an_error_with_the_fix_not_an_unhealthy_cluster() {
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim {
        umount_held: true,
        ..Sim::default()
    }));
    let run = init_on(&model("seed-heartbeat"), "cl01", &sim, root.path());
    let err = run.result.unwrap_err();
    assert_eq!(err.exit_code(), 1, "a local error, not exit 4");
    let msg = pbx_cluster::error::format(&err);
    assert!(
        msg.contains("/mnt/share stayed busy") && msg.contains("fuser -vm /mnt/share"),
        "{msg}"
    );
}

// --- A changed profile on a running node: each running service re-reads what
// changed, and only that.

/// The node as if it ran `files` already, with the given units active and DRBD up.
fn running_node(files: &render::FileSet, active: &[&str]) -> plan::NodeState {
    let mut st = plan::NodeState {
        hostname: Some(files.node.clone()),
        installed: Some(
            plan::packages::required(&model("seed-pacemaker"))
                .into_iter()
                .collect(),
        ),
        drbd: Some(plan::state::DrbdState {
            has_metadata: true,
            foreign_signature: None,
            up: true,
        }),
        systemd: true,
        ..plan::NodeState::default()
    };
    for (path, f) in &files.files {
        st.files.insert(
            path.clone(),
            Some(plan::state::FileState {
                contents: f.contents.clone(),
                mode: f.mode,
            }),
        );
    }
    // As a formed cluster has them: the group's services out of the boot sequence,
    // the engine's in it; `active` as given.
    let mut services = std::collections::BTreeMap::new();
    for u in &files.boot.disable {
        services.insert(
            u.clone(),
            plan::state::ServiceState {
                enabled: false,
                active: active.contains(&u.as_str()),
                missing: false,
            },
        );
    }
    for u in &files.boot.enable {
        services.insert(
            u.clone(),
            plan::state::ServiceState {
                enabled: true,
                active: u != "drbd" && active.contains(&u.as_str()),
                missing: false,
            },
        );
    }
    st.services = Some(services);
    // The engines run ldirectord outside systemd: its own status says it runs.
    if active.contains(&"ldirectord") {
        st.probes_ok
            .insert(plan::reload::LDIRECTORD_STATUS.join(" "));
    }
    // Where Pacemaker runs, its live CIB is what the node's files configured.
    if active.contains(&"pacemaker") {
        st.live_cib = files
            .files
            .get("/etc/pbx-cluster/cib.xml")
            .map(|f| String::from_utf8(f.contents.clone()).unwrap());
    }
    st
}

fn reloads(p: &plan::Plan) -> Vec<String> {
    p.steps
        .iter()
        .filter(|s| s.phase == plan::Phase::Reload)
        .flat_map(|s| match &s.action {
            plan::Action::Run { commands } => commands.iter().map(Cmd::display).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The shipped profile `name` after `edit`.
fn edited_model(name: &str, edit: impl Fn(&str) -> String) -> Model {
    let src = edit(&std::fs::read_to_string(profile(name)).unwrap());
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("profiles/seed.secret"),
        dir.path().join("seed.secret"),
    )
    .unwrap();
    profile::parse(&src, std::path::Path::new("p.toml"), dir.path())
        .unwrap()
        .model
}

fn changed_plan(name: &str, edit: impl Fn(&str) -> String, active: &[&str]) -> plan::Plan {
    let before = model(name);
    let node = before.nodes[0].name.clone();
    let old = render::render_node(&before, &node).unwrap();
    let st = running_node(&old, active);
    let after = edited_model(name, edit);
    let new = render::render_node(&after, &node).unwrap();
    plan::build(&after, &new, &st, plan::Options::default()).unwrap()
}

#[test]
fn a_new_extension_reloads_pjsip_and_the_dialplan_where_asterisk_runs_and_nothing_else() {
    let add = |s: &str| {
        format!(
            "{s}\n[[pbx.extension]]\nnumber = \"1003\"\nname = \"Phone Three\"\nsecret = \"change-me-1003\"\n"
        )
    };
    let p = changed_plan(
        "seed-pacemaker",
        add,
        &["asterisk", "corosync", "pacemaker"],
    );
    assert_eq!(
        reloads(&p),
        [
            "asterisk -rx 'module reload res_pjsip.so'",
            "asterisk -rx 'dialplan reload'"
        ],
        "{:#?}",
        p.steps
    );
    // On the node where Asterisk does not run, the files are written and read at
    // its next start.
    let p = changed_plan("seed-pacemaker", add, &["corosync", "pacemaker"]);
    assert!(reloads(&p).is_empty(), "{:?}", reloads(&p));
    assert!(p.steps.iter().any(|s| s.summary.contains("pjsip.conf")));
}

#[test]
fn a_changed_sync_rate_adjusts_the_running_drbd_resource_once() {
    let p = changed_plan(
        "seed-pacemaker",
        |s| s.replace("sync-rate = \"10M\"", "sync-rate = \"40M\""),
        &["asterisk", "corosync", "pacemaker"],
    );
    assert_eq!(reloads(&p), ["drbdadm adjust r0"]);
}

#[test]
fn a_changed_deadtime_reloads_corosync_or_heartbeat() {
    let p = changed_plan(
        "seed-pacemaker",
        |s| s.replace("deadtime = \"10s\"", "deadtime = \"12s\""),
        &["corosync", "pacemaker"],
    );
    // DRBD's keep-alive follows the deadtime: the running resource takes it too.
    assert_eq!(reloads(&p), ["drbdadm adjust r0", "corosync-cfgtool -R"]);
    let p = changed_plan(
        "seed-heartbeat",
        |s| s.replace("deadtime = \"10s\"", "deadtime = \"12s\""),
        &["heartbeat"],
    );
    assert_eq!(
        reloads(&p),
        ["drbdadm adjust r0", "systemctl reload heartbeat"]
    );
}

#[test]
fn a_changed_cib_is_patched_into_the_live_one_where_pacemaker_runs() {
    let edit = |s: &str| s.replace("auto-failback = true", "auto-failback = false");
    let p = changed_plan("seed-pacemaker", edit, &["corosync", "pacemaker"]);
    assert_eq!(
        reloads(&p),
        ["/usr/sbin/pbx-cluster cib-update --cib /etc/pbx-cluster/cib.xml"]
    );
    // Pacemaker not running here: nothing to patch (the next apply where it runs
    // compares the live CIB with the file, changed or not).
    let p = changed_plan("seed-pacemaker", edit, &[]);
    assert!(reloads(&p).is_empty(), "{:?}", reloads(&p));
    // The live CIB already has it (a second node, or a second run): no patch.
    let p = changed_plan("seed-pacemaker", str::to_string, &["corosync", "pacemaker"]);
    assert!(reloads(&p).is_empty(), "{:?}", reloads(&p));
}

/// The profile with another cluster secret (inline instead of the seed's file).
fn new_secret(s: &str) -> String {
    s.replace(
        "secret-file = \"seed.secret\"",
        "secret = \"a-new-cluster-secret-for-the-test\"",
    )
}

/// `changed_plan` with options: the plan, or the refusal's text.
fn try_changed_plan(
    name: &str,
    edit: impl Fn(&str) -> String,
    active: &[&str],
    opts: plan::Options,
) -> Result<plan::Plan, String> {
    let before = model(name);
    let node = before.nodes[0].name.clone();
    let mut st = running_node(&render::render_node(&before, &node).unwrap(), active);
    st.formed = true;
    let text = std::fs::read_to_string(profile(name)).unwrap();
    assert_ne!(edit(&text), text, "the edit changes the profile");
    let after = edited_model(name, edit);
    let new = render::render_node(&after, &node).unwrap();
    plan::build(&after, &new, &st, opts).map_err(|e| pbx_cluster::error::format(&e))
}

#[test]
fn a_new_cluster_key_is_refused_while_the_engine_runs_and_says_what_it_costs() {
    let pacemaker = ["corosync", "pacemaker"];
    let err = try_changed_plan(
        "seed-pacemaker",
        new_secret,
        &pacemaker,
        plan::Options::default(),
    )
    .unwrap_err();
    assert!(err.contains("/etc/corosync/authkey"), "{err}");
    assert!(err.contains("restart on both together"), "{err}");
    assert!(err.contains("--allow-disruption"), "{err}");
    // DRBD's shared secret is derived from the cluster secret as well.
    assert!(err.contains("/etc/drbd.d/r0.res"), "{err}");
    assert!(!err.contains("a-new-cluster-secret"), "{err}");
    // Accepted: the files are written.
    let accepted = plan::Options {
        allow_disruption: true,
        ..plan::Options::default()
    };
    let p = try_changed_plan("seed-pacemaker", new_secret, &pacemaker, accepted).unwrap();
    // ... and the plan still says what the write costs.
    let authkey = p
        .steps
        .iter()
        .find(|s| s.summary.contains("/etc/corosync/authkey"))
        .unwrap_or_else(|| panic!("{:#?}", p.steps));
    assert!(
        authkey
            .summary
            .contains("not live: corosync reads its key only when it starts"),
        "{}",
        authkey.summary
    );
    // Heartbeat: its authkeys.
    let err = try_changed_plan(
        "seed-heartbeat",
        new_secret,
        &["heartbeat"],
        plan::Options::default(),
    )
    .unwrap_err();
    assert!(err.contains("/etc/ha.d/authkeys"), "{err}");
    assert!(err.contains("declares it dead"), "{err}");
}

#[test]
fn before_init_formed_the_cluster_nothing_is_a_disruption() {
    // Debian starts corosync at install with its stock files: a node that has
    // never been in a cluster is set up, not disrupted.
    let before = model("seed-pacemaker");
    let st = running_node(
        &render::render_node(&before, "cl01").unwrap(),
        &["corosync"],
    );
    assert!(!st.formed);
    let after = edited_model("seed-pacemaker", new_secret);
    let new = render::render_node(&after, "cl01").unwrap();
    plan::build(&after, &new, &st, plan::Options::default()).unwrap();
}

#[test]
fn a_change_the_cluster_takes_live_is_no_disruption() {
    // The engine not running (a node being set up): its key is read at its start;
    // only the running DRBD resource is disrupted.
    let err =
        try_changed_plan("seed-pacemaker", new_secret, &[], plan::Options::default()).unwrap_err();
    assert!(!err.contains("authkey"), "{err}");
    assert!(err.contains("/etc/drbd.d/r0.res"), "{err}");
    // A sync rate or the deadtime change the resource file and corosync.conf live.
    for edit in [
        (|s: &str| s.replace("sync-rate = \"10M\"", "sync-rate = \"40M\"")) as fn(&str) -> String,
        |s: &str| s.replace("deadtime = \"10s\"", "deadtime = \"12s\""),
    ] {
        try_changed_plan(
            "seed-pacemaker",
            edit,
            &["corosync", "pacemaker"],
            plan::Options::default(),
        )
        .unwrap();
    }
}

#[test]
fn a_patch_that_did_not_happen_is_planned_again_though_the_file_is_current() {
    // cib.xml was written by an earlier apply whose patch failed: the file is
    // current, the live CIB is not.
    let old = render::render_node(&model("seed-pacemaker"), "cl01").unwrap();
    let after = edited_model("seed-pacemaker", |s| {
        s.replace("auto-failback = true", "auto-failback = false")
    });
    let new = render::render_node(&after, "cl01").unwrap();
    let mut st = running_node(&new, &["corosync", "pacemaker"]);
    st.live_cib = old
        .files
        .get("/etc/pbx-cluster/cib.xml")
        .map(|f| String::from_utf8(f.contents.clone()).unwrap());
    let p = plan::build(&after, &new, &st, plan::Options::default()).unwrap();
    assert_eq!(
        reloads(&p),
        ["/usr/sbin/pbx-cluster cib-update --cib /etc/pbx-cluster/cib.xml"]
    );
}

/// Every command of a plan, in order.
fn commands(p: &plan::Plan) -> Vec<String> {
    p.steps
        .iter()
        .flat_map(|s| match &s.action {
            plan::Action::Run { commands } => commands.iter().map(Cmd::display).collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn a_changed_kernel_setting_is_loaded_once_before_the_services() {
    let m = model("seed-pacemaker");
    let files = render::render_node(&m, "cl01").unwrap();
    let mut st = running_node(&files, &["corosync", "pacemaker"]);
    let path = "/etc/sysctl.d/60-pbx-cluster.conf";
    st.files.insert(
        path.into(),
        Some(plan::state::FileState {
            contents: b"net.ipv4.ip_nonlocal_bind = 0\n".to_vec(),
            mode: 0o644,
        }),
    );
    let p = plan::build(&m, &files, &st, plan::Options::default()).unwrap();
    let sysctl = format!("sysctl -q -p {path}");
    let all = commands(&p);
    assert_eq!(all.iter().filter(|c| **c == sysctl).count(), 1, "{all:#?}");
    let step = p
        .steps
        .iter()
        .find(|s| s.summary.contains("kernel settings"))
        .unwrap();
    assert_eq!(step.phase, plan::Phase::Files);
}

#[test]
fn a_changed_pool_timing_reloads_ldirectord_where_it_runs_and_nowhere_else() {
    let edit = |s: &str| s.replace("check-interval = \"5s\"", "check-interval = \"4s\"");
    // The director: ldirectord runs (started by Heartbeat, its unit inactive).
    let p = changed_plan(
        "loadbalanced",
        edit,
        &["heartbeat", "asterisk", "ldirectord"],
    );
    assert!(
        reloads(&p).contains(&"ldirectord /etc/ha.d/ldirectord.cf reload".to_string()),
        "{:?}",
        reloads(&p)
    );
    // The other node: no ldirectord to tell.
    let p = changed_plan("loadbalanced", edit, &["heartbeat", "asterisk"]);
    assert!(
        !reloads(&p).iter().any(|c| c.starts_with("ldirectord")),
        "{:?}",
        reloads(&p)
    );
}

#[test]
fn a_service_name_the_node_has_no_unit_for_is_refused_before_any_step() {
    let m = edited_model("seed-pacemaker", |s| s.replace("\"apache2\"", "\"pbxd\""));
    let files = render::render_node(&m, "cl01").unwrap();
    let mut st = running_node(&files, &["corosync", "pacemaker"]);
    st.installed = Some(plan::packages::required(&m).into_iter().collect());
    st.services
        .as_mut()
        .unwrap()
        .get_mut("pbxd")
        .unwrap()
        .missing = true;
    let err = plan::build(&m, &files, &st, plan::Options::default()).unwrap_err();
    let said = err.to_string();
    assert!(
        said.contains("resources.services") && said.contains("pbxd"),
        "{said}"
    );
    // While packages are still to come, the unit may arrive with them: no refusal.
    st.installed = Some(Default::default());
    plan::build(&m, &files, &st, plan::Options::default()).unwrap();
}

#[test]
fn a_cib_crm_verify_rejects_is_refused_before_any_step_and_its_message_is_masked() {
    let fixtures = root().join("tests/fixtures/profiles");
    let m = profile::load(&fixtures.join("drbd9-fenced-pacemaker.toml"))
        .unwrap()
        .model;
    let node = m.nodes[0].name.clone();
    let files = render::render_node(&m, &node).unwrap();
    let runner = RecordingRunner::new().respond(
        "crm_verify --xml-pipe",
        Output::failed(
            78,
            "error: unpack_resources: password=ipmi-secret is not allowed here",
        ),
    );
    let root = tempfile::tempdir().unwrap();
    let st = plan::probe(&m, &node, &files, root.path(), Some(&runner));
    let err = plan::build(&m, &files, &st, plan::Options::default()).unwrap_err();
    let said = err.to_string();
    assert!(
        said.contains("crm_verify") && said.contains("password=***"),
        "{said}"
    );
    assert!(!said.contains("ipmi-secret"), "{said}");
    // The rendered CIB went to crm_verify on its stdin, not through a file.
    let call = runner
        .calls()
        .into_iter()
        .find(|c| c.program == "crm_verify")
        .unwrap();
    assert!(call.stdin.is_some_and(|b| !b.is_empty()));
}

#[test]
fn the_dual_primary_fence_handler_is_told_so_and_who_survives() {
    let pm = edited_model("loadbalanced", |s| {
        s.replace("engine = \"heartbeat\"", "engine = \"pacemaker\"")
            .replace("heartbeat-plugin = \"external/ipmi\"\n", "")
            .replace("heartbeat-args = [\"cl01\", \"192.168.178.13\", \"admin\", \"change-me\", \"lanplus\"]", "params = { ip = \"192.168.178.13\" }")
            .replace("heartbeat-args = [\"cl02\", \"192.168.178.14\", \"admin\", \"change-me\", \"lanplus\"]", "params = { ip = \"192.168.178.14\" }")
    });
    let res = |m: &Model| {
        let files = render::render_node(m, &m.nodes[0].name).unwrap();
        let path = format!("/etc/drbd.d/{}.res", m.storage.resource);
        String::from_utf8(files.files[&path].contents.clone()).unwrap()
    };
    // deadtime 10 s: token 10 s + consensus 5 s, and the margin.
    let lb = res(&pm);
    assert!(
        lb.contains(
            "drbd-fence-peer --clone drbd-r0-clone --dual-primary --survivor cl01 --settle 17"
        ),
        "{lb}"
    );
    // Active/passive, fenced: the peer is a Secondary, the constraint answer holds.
    let ap = res(&edited_model("seed-pacemaker", |s| {
        s.replace(
            "agent = \"none\"",
            "agent = \"fence_ipmilan\"\n\n[fencing.nodes.cl01]\nparams = { ip = \"192.168.178.13\" }\n\n[fencing.nodes.cl02]\nparams = { ip = \"192.168.178.14\" }",
        )
    }));
    assert!(
        ap.contains("drbd-fence-peer --clone") && !ap.contains("--dual-primary"),
        "{ap}"
    );
}

#[test]
fn an_unchanged_profile_reloads_nothing() {
    let p = changed_plan("seed-heartbeat", str::to_string, &["heartbeat", "asterisk"]);
    assert!(reloads(&p).is_empty(), "{:?}", reloads(&p));
}

#[test]
fn apply_on_a_running_cluster_leaves_the_engines_services_running() {
    // Asterisk and the database run (started by the engine) but are out of the
    // boot sequence: a plan that "disables and stops" them would cause an outage.
    let p = changed_plan(
        "seed-pacemaker",
        str::to_string,
        &[
            "mysql",
            "postfix",
            "asterisk",
            "apache2",
            "corosync",
            "pacemaker",
        ],
    );
    assert!(
        p.steps.iter().all(|s| !s.summary.contains("stop it")),
        "{:#?}",
        p.steps.iter().map(|s| &s.summary).collect::<Vec<_>>()
    );
}

#[test]
fn load_balanced_nodes_load_ipvs_before_its_settings_and_put_the_virtual_ip_on_lo() {
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim::default()));
    let run = apply_on(&model("loadbalanced"), "cl01", &sim, root.path());
    run.result.unwrap();
    // net.ipv4.vs.* exist only once ip_vs is loaded.
    let modules = index(&run.lines, "systemctl restart systemd-modules-load.service");
    let lvs = index(
        &run.lines,
        "sysctl -q -p /etc/sysctl.d/60-pbx-cluster-lvs.conf",
    );
    assert!(modules < lvs, "{:#?}", run.lines);
    assert!(
        run.lines
            .iter()
            .any(|l| l == "systemctl enable --now pbx-cluster-vip-on-lo"),
        "{:#?}",
        run.lines
    );
    let unit = std::fs::read_to_string(
        root.path()
            .join("etc/systemd/system/pbx-cluster-vip-on-lo.service"),
    )
    .unwrap();
    assert!(
        unit.contains("address replace 192.168.178.5/32 dev lo"),
        "{unit}"
    );
}

#[test]
fn load_balanced_init_under_heartbeat_leaves_both_nodes_primary_and_mounts_at_boot() {
    let m = model("loadbalanced");
    // The preferred node of a new cluster: o2cb online before mkfs.ocfs2, and DRBD
    // stays Primary (no engine promotes it; the shared unit mounts).
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim::default()));
    let run = init_on(&m, "cl01", &sim, root.path());
    run.result.unwrap();
    let o2cb = index(&run.lines, "systemctl start o2cb");
    assert!(o2cb < index(&run.lines, "mkfs.ocfs2"), "{:#?}", run.lines);
    assert!(
        !run.lines.iter().any(|l| l == "drbdadm secondary r0"),
        "{:#?}",
        run.lines
    );
    assert!(sim.lock().unwrap().primary);
    let shared = index(&run.lines, "systemctl enable --now pbx-cluster-shared");
    assert!(index(&run.lines, "systemctl enable --now o2cb") < shared);

    // The other node: promoted once its data is UpToDate, never forced.
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim {
        dstate: "UpToDate/UpToDate".into(),
        metadata: true,
        ..Sim::default()
    }));
    let run = init_on(&m, "cl02", &sim, root.path());
    run.result.unwrap();
    assert!(
        index(&run.lines, "drbdadm primary r0")
            < index(&run.lines, "systemctl enable --now pbx-cluster-shared")
    );
    assert!(
        !run.lines
            .iter()
            .any(|l| l.contains("--force") && l.contains("primary"))
    );
    // The joining node never made the filesystem: the unit makes its mount point
    // (Pacemaker's Filesystem agent does the same) before it mounts.
    let unit = std::fs::read_to_string(
        root.path()
            .join("etc/systemd/system/pbx-cluster-shared.service"),
    )
    .unwrap();
    let mkdir = unit.find("ExecStartPre=/usr/bin/mkdir -p /mnt/share\n");
    let mount = unit.find("ExecStart=/usr/bin/mount");
    assert!(mkdir.is_some() && mkdir < mount, "{unit}");

    // Under Pacemaker the clones promote and mount: DRBD is handed over as ever.
    let pm = edited_model("loadbalanced", |s| {
        s.replace("engine = \"heartbeat\"", "engine = \"pacemaker\"")
            .replace("heartbeat-plugin = \"external/ipmi\"\n", "")
            .replace("heartbeat-args = [\"cl01\", \"192.168.178.13\", \"admin\", \"change-me\", \"lanplus\"]", "params = { ip = \"192.168.178.13\" }")
            .replace("heartbeat-args = [\"cl02\", \"192.168.178.14\", \"admin\", \"change-me\", \"lanplus\"]", "params = { ip = \"192.168.178.14\" }")
    });
    let root = tempfile::tempdir().unwrap();
    let sim = Arc::new(Mutex::new(Sim::default()));
    let run = init_on(&pm, "cl01", &sim, root.path());
    run.result.unwrap();
    assert!(
        index(&run.lines, "drbdadm secondary r0")
            < index(&run.lines, "systemctl enable --now pacemaker")
    );
    assert!(
        !run.lines.iter().any(|l| l.contains("pbx-cluster-shared")),
        "{:#?}",
        run.lines
    );
}
