//! The scenarios of issue 7, per engine, and the run that ties them together.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pbx_cluster::exec::Cmd;

use crate::Error;
use crate::args::{Accel as AccelArg, Args, Engine, Mode};
use crate::cluster::{Pair, SIP_TARGET, VIP, now_epoch, specs};
use crate::lab::{HARNESS_ADDR, run};
use crate::phases;
use crate::procs::Group;
use crate::report::{Report, Scenario, Status, Trial};
use crate::vm::Accel;

const PROBE_EVERY: Duration = Duration::from_millis(100);
const FAILOVER_LIMIT: Duration = Duration::from_secs(240);
/// A node's boot to ssh: as generous as the first boot's bound (238 s seen on a
/// fresh machine under TCG).
const BOOT_LIMIT: Duration = Duration::from_secs(900);
/// Join, resync and failback after the killed node answers ssh (boot, join, resync
/// and failback together took 143-406 s in the lab; a CI machine ran at 1.7-2.5x
/// the lab's times).
const REJOIN_LIMIT: Duration = Duration::from_secs(900);
/// The boot partition's mount after the cluster is healthy: the device showed up 70 s
/// after coldplug on a slow first boot; a partition that never comes still fails.
const BOOT_MOUNT_WAIT: Duration = Duration::from_secs(300);
/// The kernel hook on a loaded guest: it copies a kernel and an initrd onto FAT and
/// syncs (the 30 s of one ssh command ran out on a throttled quick run).
const BOOT_HOOK_T: Duration = Duration::from_secs(180);

pub fn run_all(args: &Args) -> Result<Report, Error> {
    let started = Instant::now();
    let work = args.work.clone();
    let logs = args.report.join("logs");
    std::fs::create_dir_all(&work).map_err(|e| Error::Lab(format!("{}: {e}", work.display())))?;
    std::fs::create_dir_all(&logs).map_err(|e| Error::Lab(format!("{}: {e}", logs.display())))?;
    let key = ensure_key(&work)?;
    let mut report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        accel: String::new(),
        formation: Vec::new(),
        duration_s: 0.0,
        scenarios: Vec::new(),
    };
    let mut accel = None;
    for mode in args.modes() {
        for engine in args.engines() {
            let images = ensure_images(args, &work, engine, mode, &key)?;
            let accel = *accel.get_or_insert_with(|| detect_accel(args.accel, &images));
            report.accel = format!("{accel:?}").to_lowercase();
            let lab = EngineLab {
                engine,
                mode,
                images: &images,
                work: &work,
                key: &key,
                accel,
                logs: &logs,
            };
            let result = match mode {
                Mode::LoadBalanced => crate::balanced::run_engine(args, &lab, &mut report),
                _ => run_engine(args, &lab, &mut report),
            };
            let table = match mode {
                Mode::LoadBalanced => crate::balanced::SCENARIOS,
                _ => SCENARIOS,
            };
            if let Err(e) = result {
                eprintln!(
                    "vm-tests: {} {} run stopped: {e}",
                    mode.name(),
                    engine.name()
                );
                let mut s = Scenario::new(0, "engine run", engine.name());
                s.mode = mode.name().into();
                s.status = Status::Fail;
                s.notes
                    .push(format!("stopped: {}", first_lines(&e.to_string(), 40)));
                s.finish();
                report.scenarios.push(s);
            }
            for s in report.scenarios.iter_mut().filter(|s| s.mode.is_empty()) {
                s.mode = mode.name().into();
            }
            // Scenarios the run never reached are reported, never silently skipped.
            for (id, name) in table {
                if args.wants(*id)
                    && (mode != Mode::ActivePassive || *id != 8 || engine == Engine::Heartbeat)
                    && !report
                        .scenarios
                        .iter()
                        .any(|s| s.id == *id && s.engine == engine.name() && s.mode == mode.name())
                {
                    let mut s = Scenario::new(*id, name, engine.name())
                        .not_run("not reached: an earlier step of this engine's run failed");
                    s.mode = mode.name().into();
                    report.scenarios.push(s);
                }
            }
            report.duration_s = started.elapsed().as_secs_f64();
            crate::report::write(&args.report, &report)
                .map_err(|e| Error::Lab(format!("writing the report: {e}")))?;
        }
    }
    report
        .scenarios
        .sort_by_key(|s| (s.mode.clone(), s.engine.clone(), s.id));
    report.duration_s = started.elapsed().as_secs_f64();
    crate::report::write(&args.report, &report)
        .map_err(|e| Error::Lab(format!("writing the report: {e}")))?;
    Ok(report)
}

/// One engine's lab in one mode: what its run needs besides the arguments.
pub struct EngineLab<'a> {
    pub engine: Engine,
    pub mode: Mode,
    pub images: &'a Path,
    pub work: &'a Path,
    pub key: &'a Path,
    pub accel: Accel,
    pub logs: &'a Path,
}

impl EngineLab<'_> {
    /// Names the pair's disks and logs: the engine, prefixed by a mode other than
    /// active/passive (whose names predate the modes).
    pub fn label(&self) -> String {
        match self.mode {
            Mode::LoadBalanced => format!("lb-{}", self.engine.name()),
            _ => self.engine.name().to_string(),
        }
    }

    pub fn pair(&self) -> Result<Pair, Error> {
        Pair::new(
            specs(self.images, self.work, &self.label()),
            self.key.to_path_buf(),
            self.accel,
            self.engine,
            self.logs.to_path_buf(),
        )
    }
}

pub const SCENARIOS: &[(u8, &str)] = &[
    (1, "cold start"),
    (2, "hard kill of the active node"),
    (3, "observer reaches the survivor without an ARP flush"),
    (4, "Asterisk killed on the active node"),
    (5, "one heartbeat link cut"),
    (6, "planned switchover and failback"),
    (7, "both links cut"),
    (8, "baseline: seed timing (keepalive 1 s, deadtime 10 s)"),
    (9, "frozen active node"),
    (10, "frozen standby node"),
];

/// Scenario `id`'s name in a mode's table.
pub(crate) fn name_in(table: &[(u8, &'static str)], id: u8) -> &'static str {
    table
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, n)| *n)
        .unwrap_or("?")
}

fn name_of(id: u8) -> &'static str {
    name_in(SCENARIOS, id)
}

pub(crate) fn first_lines(s: &str, n: usize) -> String {
    s.lines().take(n).collect::<Vec<_>>().join(" / ")
}

fn ensure_key(work: &Path) -> Result<PathBuf, Error> {
    let dir = work.join("ssh");
    let key = dir.join("id_ed25519");
    if !key.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| Error::Lab(e.to_string()))?;
        run(Cmd::new("ssh-keygen").args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "pbx-cluster vm-tests lab key",
            "-f",
            &key.display().to_string(),
        ]))?;
    }
    Ok(key)
}

/// Heartbeat runs the reference's setup in the lab, the baseline: the seed's timing
/// (keepalive 1 s, warntime 5 s, deadtime 10 s), DRBD's own keep-alive (ping-int
/// 10 s, ping-timeout 500 ms) and an Asterisk that loads every module; see
/// `profile_for`.
const HEARTBEAT_TIMING: &[(&str, &str)] = &[
    ("warntime = \"2s\"", "warntime = \"5s\""),
    ("deadtime = \"3s\"", "deadtime = \"10s\""),
    (
        "sync-rate = \"100M\"",
        "sync-rate = \"100M\"\nping-interval = \"10s\"\nping-timeout = \"500ms\"",
    ),
    (
        "[pbx]\ncontext = \"internal\"",
        "[pbx]\ncontext = \"internal\"\nall-modules = true",
    ),
];

/// The lab's fence device for both engines: the harness's power switch.
pub(crate) fn lab_fencing() -> String {
    let ip = HARNESS_ADDR;
    let port = crate::fence::FENCE_PORT;
    let mut t = String::from(
        "[fencing]\n# The paired-VM harness is the power switch (vm-tests/lab/).\nagent = \"fence_pbxlab\"\nheartbeat-plugin = \"external/pbxlab\"\n# The images get the lab's agents as files (lab_agents), no package.\npackages = []\n",
    );
    for n in ["node1", "node2"] {
        t.push_str(&format!(
            "\n[fencing.nodes.{n}]\nparams = {{ ipaddr = \"{ip}\", ipport = \"{port}\" }}\nheartbeat-args = [\"{n}\", \"{ip}\", \"{port}\"]\n"
        ));
    }
    t
}

/// Files the images get on top of the stack: the lab's fence agents.
fn lab_agents() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lab");
    [
        ("fence_pbxlab", "/usr/sbin/fence_pbxlab"),
        ("pbxlab", "/usr/lib/stonith/plugins/external/pbxlab"),
    ]
    .iter()
    .map(|(src, dest)| format!("{}:{dest}", dir.join(src).display()))
    .collect()
}

/// The engine's profile: a copy of the lab profile with the engine set and the
/// lab's fence device configured (same addresses), next to a copy of its secret.
fn profile_for(args: &Args, work: &Path, engine: Engine, mode: Mode) -> Result<PathBuf, Error> {
    let text = std::fs::read_to_string(&args.profile)
        .map_err(|e| Error::Lab(format!("{}: {e}", args.profile.display())))?;
    let dir = work.join("profiles");
    std::fs::create_dir_all(&dir).map_err(|e| Error::Lab(e.to_string()))?;
    let unfenced = "[fencing]\nagent = \"none\"\n";
    if !text.contains(unfenced) {
        return Err(Error::Lab(format!(
            "{}: expected an unfenced lab profile ({unfenced:?}) to add the lab's fence device to",
            args.profile.display()
        )));
    }
    let derived = text
        .replace(
            "engine = \"pacemaker\"",
            &format!("engine = \"{}\"", engine.name()),
        )
        .replace(unfenced, &lab_fencing());
    let derived = if mode == Mode::LoadBalanced {
        crate::balanced::profile(&derived)
            .map_err(|e| Error::Lab(format!("{}: {e}", args.profile.display())))?
    } else {
        derived
    };
    // Heartbeat's deadtime counts wall-clock gaps between packets. Under TCG a busy
    // guest (first boot, Asterisk starting) saw its own and its peer's packets up
    // to 7.9 s apart, so 3 s and then 6 s declared live nodes dead and (with
    // fencing) shot them during the cold start. Corosync's 3 s token held in the
    // same load. Heartbeat gets the seed's timing, which makes its hard kills the
    // baseline of scenario 8.
    let derived = if engine == Engine::Heartbeat {
        for (from, _) in HEARTBEAT_TIMING {
            if !derived.contains(from) {
                return Err(Error::Lab(format!(
                    "{}: expected {from} (the baseline replaces it)",
                    args.profile.display()
                )));
            }
        }
        HEARTBEAT_TIMING
            .iter()
            .fold(derived, |t, (from, to)| t.replace(from, to))
    } else {
        derived
    };
    let secret = args.profile.with_file_name("lab.secret");
    if secret.exists() {
        std::fs::copy(&secret, dir.join("lab.secret")).map_err(|e| Error::Lab(e.to_string()))?;
    }
    let path = dir.join(match mode {
        Mode::LoadBalanced => format!("lab-lb-{}.toml", engine.name()),
        _ => format!("lab-{}.toml", engine.name()),
    });
    std::fs::write(&path, derived).map_err(|e| Error::Lab(e.to_string()))?;
    Ok(path)
}

/// `pbx-cluster image build` for both nodes; it skips itself when its inputs (binary,
/// profile, packages, key) did not change.
fn ensure_images(
    args: &Args,
    work: &Path,
    engine: Engine,
    mode: Mode,
    key: &Path,
) -> Result<PathBuf, Error> {
    let profile = profile_for(args, work, engine, mode)?;
    let out = work.join("images").join(match mode {
        Mode::LoadBalanced => format!("lb-{}", engine.name()),
        _ => engine.name().to_string(),
    });
    for node in ["node1", "node2"] {
        let t = Instant::now();
        eprintln!(
            "vm-tests: image {} {node} (built only if its inputs changed)",
            engine.name()
        );
        let source = match &args.repo {
            Some(repo) => ["--repo".to_string(), repo.display().to_string()],
            None => ["--binary".to_string(), args.binary.display().to_string()],
        };
        run(Cmd::new(args.binary.display().to_string())
            .args(["--quiet", "image", "build"])
            .arg(profile.display().to_string())
            .args(["--node", node, "--out"])
            .arg(out.display().to_string())
            .args(source)
            .args(
                lab_agents()
                    .iter()
                    .flat_map(|a| ["--add-file".to_string(), a.clone()]),
            )
            .args(["--lab", "--ssh-key"])
            .arg(key.with_extension("pub").display().to_string())
            .arg("--cache-dir")
            .arg(work.join("cache").display().to_string())
            .timeout(Duration::from_secs(1200)))?;
        eprintln!("vm-tests:   {node}: {:.0}s", t.elapsed().as_secs_f64());
    }
    Ok(out)
}

/// KVM when asked or when /dev/kvm exists and a kernel actually runs under it (nested
/// KVM on this machine kind fails with "KVM internal error"), else TCG.
fn detect_accel(want: AccelArg, images: &Path) -> Accel {
    match want {
        AccelArg::Tcg => return Accel::Tcg,
        AccelArg::Kvm => return Accel::Kvm,
        AccelArg::Auto => {}
    }
    if !Path::new("/dev/kvm").exists() {
        eprintln!("vm-tests: no /dev/kvm: TCG");
        return Accel::Tcg;
    }
    let log = std::env::temp_dir().join(format!("pbx-vm-kvm-{}.log", std::process::id()));
    let Ok(file) = std::fs::File::create(&log) else {
        return Accel::Tcg;
    };
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-accel", "kvm", "-cpu", "host", "-smp", "1", "-m", "256"])
        .args([
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            "stdio",
        ])
        .arg("-kernel")
        .arg(images.join("node1.vmlinuz"))
        .args(["-append", "console=ttyS0 panic=-1"])
        .stdin(Stdio::null())
        .stdout(file.try_clone().map(Stdio::from).unwrap_or(Stdio::null()))
        .stderr(file.try_clone().map(Stdio::from).unwrap_or(Stdio::null()));
    let ok = match Group::spawn("kvm test", cmd) {
        Ok(mut g) => {
            let t = Instant::now();
            while g.running() && t.elapsed() < Duration::from_secs(30) {
                let s = std::fs::read_to_string(&log).unwrap_or_default();
                if s.contains("VFS:") || s.contains("Kernel panic") || s.contains("internal error")
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            g.kill();
            let s = std::fs::read_to_string(&log).unwrap_or_default();
            (s.contains("VFS:") || s.contains("Kernel panic")) && !s.contains("internal error")
        }
        Err(_) => false,
    };
    let _ = std::fs::remove_file(&log);
    eprintln!(
        "vm-tests: KVM test boot {}",
        if ok { "worked: KVM" } else { "failed: TCG" }
    );
    if ok { Accel::Kvm } else { Accel::Tcg }
}

fn run_engine(args: &Args, lab: &EngineLab, report: &mut Report) -> Result<(), Error> {
    let engine = lab.engine;
    let e = engine.name();
    let mut pair = lab.pair()?;

    // 1. Cold start.
    let mut s1 = Scenario::new(1, name_of(1), e);
    let secs = pair.cold_start()?;
    report.formation.push(format!(
        "{e}: first-boot `pbx-cluster init` (cold start {secs:.0} s from power-on to a healthy cluster)"
    ));
    cold_start_checks(&pair, &mut s1, secs);
    s1.finish();
    report.scenarios.push(s1);
    pair.save_journal(0, "cold");
    pair.save_journal(1, "cold");

    // Every later scenario and trial starts from this state: both nodes as the
    // cold start left them (RAM, devices, disks), Heartbeat past initdead.
    if engine == Engine::Heartbeat {
        for i in 0..2 {
            wait_out_initdead(&pair, i)?;
        }
    }
    let saved = pair.snapshot(HEALTHY)?;
    report.formation.push(format!(
        "{e}: later scenarios and hard-kill trials start from a snapshot of this healthy pair (saved in {:.0} s), not from a reboot",
        saved.as_secs_f64()
    ));

    // 2 + 3. Hard kills.
    if args.wants(2) || args.wants(3) {
        let mut s2 = Scenario::new(2, name_of(2), e);
        let mut s3 = Scenario::new(3, name_of(3), e);
        let trials = args.kill_trials();
        for trial in 1..=trials {
            if trial > 1 {
                let r = pair.restore(HEALTHY)?;
                s2.notes.retain(|n| !n.starts_with("trials 2"));
                s2.notes.push(format!(
                    "trials 2-{trial} started from the healthy snapshot (last restore {:.0} s)",
                    r.as_secs_f64()
                ));
            }
            let t = hard_kill(&mut pair, trial, &mut s2, Some(&mut s3))?;
            s2.trials.push(t);
        }
        // The killed node of the last trial boots from its own disk and rejoins.
        match rejoin(&mut pair) {
            Ok(r) => {
                pair.save_journal(0, "rejoin");
                pair.save_journal(1, "rejoin");
                let took = format!(
                    "boot + resync + failback {:.0} s (boot to ssh {:.0} s); failback outage {:.1} s (longest SIP silence on the virtual IP)",
                    r.total_s, r.boot_s, r.failback_gap_s
                );
                s2.failback_gap_seconds.push(r.failback_gap_s);
                s2.check(
                    &format!("trial {trials}: killed node rejoins, group fails back"),
                    true,
                    took.clone(),
                );
                s2.notes.push(format!("rejoin ({took})"));
            }
            Err(err) => {
                s2.check(
                    &format!("trial {trials}: killed node rejoins, group fails back"),
                    false,
                    first_lines(&err.to_string(), 30),
                );
                pair.save_journal(0, "rejoin-failed");
                pair.save_journal(1, "rejoin-failed");
            }
        }
        s2.finish();
        s3.finish();
        report.scenarios.push(s2);
        if args.wants(3) {
            report.scenarios.push(s3);
        }
    }
    if args.wants(4) {
        report.scenarios.push(asterisk_killed(&mut pair)?);
    }
    if args.wants(5) {
        report.scenarios.push(one_link_cut(&mut pair)?);
    }
    if args.wants(6) {
        report.scenarios.push(switchover(&mut pair)?);
    }
    if engine == Engine::Heartbeat && args.wants(8) {
        report.scenarios.push(baseline(report));
    }
    if args.wants(9) {
        report.scenarios.push(frozen_node(&mut pair, 9, true)?);
    }
    if args.wants(10) {
        report.scenarios.push(frozen_node(&mut pair, 10, false)?);
    }
    // Last: it may leave the pair split.
    if args.wants(7) {
        report.scenarios.push(both_links_cut(&mut pair)?);
    }
    Ok(())
}

fn cold_start_checks(pair: &Pair, s: &mut Scenario, secs: f64) {
    s.notes
        .push(format!("power-on to healthy cluster {secs:.0} s"));
    let holders = pair.vip_holders();
    s.check(
        "virtual IP on the preferred node (node1)",
        holders == vec![0],
        format!("holders: {:?}", pair.names(&holders)),
    );
    for i in 0..2 {
        let d = pair.drbd(i);
        s.check(
            &format!("DRBD Connected UpToDate/UpToDate on {}", pair.name(i)),
            d.contains("cs:Connected") && d.contains("ds:UpToDate/UpToDate"),
            d,
        );
    }
    s.check(
        "Asterisk answers SIP OPTIONS on the virtual IP",
        pair.sip_ok(),
        SIP_TARGET,
    );
    if let Some(&active) = holders.first() {
        let missing = pair.modules_not_running(active);
        s.check(
            &format!(
                "every module modules.conf loads runs in Asterisk on {}",
                pair.name(active)
            ),
            missing.as_ref().is_ok_and(|m| m.is_empty()),
            format!("not running: {missing:?}"),
        );
    }
    // Heartbeat's drbddisk only promotes: drbd's own unit attaches the disk at boot
    // there. Under Pacemaker the DRBD clone does it all, so drbd stays disabled.
    let mut units = pair.services.join(" ");
    if pair.engine == Engine::Pacemaker {
        units.push_str(" drbd");
    }
    for i in 0..2 {
        let out = pair
            .sh(
                i,
                &format!("for u in {units}; do echo \"$u=$(systemctl is-enabled $u 2>&1)\"; done"),
            )
            .stdout_str();
        let ok = !out.lines().any(|l| l.ends_with("=enabled"));
        s.check(
            &format!("group services not enabled at boot on {}", pair.name(i)),
            ok,
            out.trim().replace('\n', ", "),
        );
    }
    // Kernel upgrades reach the bootloader: the FAT partition syslinux boots from
    // is mounted and carries the running kernel; the hook runs cleanly on it. Both
    // nodes: a late device on either one left its partition unmounted.
    // A slow first boot may mount it late (the product's unit waits for the device
    // however long it takes): the check waits for the mount, bounded, and then gives
    // the hook (a kernel and an initrd copied onto FAT and synced on a loaded
    // guest) more than one ssh command's time.
    for i in 0..2 {
        let mounted = pair.wait(
            BOOT_MOUNT_WAIT,
            &format!("{}: boot partition mounted", pair.name(i)),
            || Ok(pair.sh(i, "findmnt -n -o FSTYPE /boot/pbx-boot").success()),
        );
        let boot = pair.ssh.run(
            &pair.addr(i),
            "findmnt -n -o FSTYPE /boot/pbx-boot && cmp /boot/pbx-boot/vmlinuz /boot/vmlinuz-$(uname -r) && /etc/kernel/postinst.d/zz-pbx-cluster-boot $(uname -r) && echo current",
            BOOT_HOOK_T,
        );
        let ok = mounted.is_ok() && boot.success() && boot.stdout_str().contains("current");
        let mut detail = format!(
            "{}{} {}",
            match &mounted {
                Ok(t) => format!("mounted after {:.1}s of waiting; ", t.as_secs_f64()),
                Err(_) => format!("not mounted within {}s; ", BOOT_MOUNT_WAIT.as_secs()),
            },
            boot.stdout_str().trim().replace('\n', " "),
            String::from_utf8_lossy(&boot.stderr).trim()
        );
        if !ok {
            // Why: what the boot said about the partition's device and mount.
            let lines = crate::vm::serial_lines(
                &pair.vms[i].spec.serial_log,
                &["PBXBOOT", "pbx-boot", "pbx\\x2dboot"],
                12,
            );
            detail.push_str(&format!("; serial log: {}", lines.replace('\n', " | ")));
        }
        s.check(
            &format!(
                "boot partition mounted on {}, holding the running kernel; the kernel hook runs on it",
                pair.name(i)
            ),
            ok,
            detail,
        );
    }
}

/// Writes an increasing counter to the replicated filesystem of node `i`, each value
/// renamed into place and fsynced (file and directory) before the node acknowledges.
struct Counter {
    group: Group,
    last_ack: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Counter {
    fn start(pair: &Pair, i: usize) -> Result<Counter, Error> {
        let script = "cd /srv/ha && while read n; do echo $n > counter.new && sync counter.new && mv counter.new counter && sync . && echo $n; done";
        let mut cmd = Command::new("ip");
        cmd.args(pair.ssh.argv(&pair.addr(i)))
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut group = Group::spawn("counter writer", cmd)
            .map_err(|e| Error::Lab(format!("counter writer: {e}")))?;
        let mut stdin = group.child.stdin.take().expect("piped stdin");
        let stdout = group.child.stdout.take().expect("piped stdout");
        let last_ack = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (ack, st) = (last_ack.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut n = 1u64;
            while !st.load(Ordering::SeqCst) {
                if writeln!(stdin, "{n}").is_err() || stdin.flush().is_err() {
                    break;
                }
                match lines.next() {
                    Some(Ok(l)) if l.trim() == n.to_string() => ack.store(n, Ordering::SeqCst),
                    _ => break,
                }
                n += 1;
            }
        });
        Ok(Counter {
            group,
            last_ack,
            stop,
        })
    }
}

fn sipp(pair: &Pair, args: &[&str], log: &str) -> Result<Group, Error> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &pair.lab.ns, "sipp"])
        .args(args)
        .current_dir(&pair.logs)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(pair.logs.join(log))
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
        );
    Group::spawn("sipp", cmd).map_err(|e| Error::Lab(format!("sipp: {e}")))
}

/// Registers phone 1001 with its contact on the harness (sipp UAS at :5070 waiting
/// for the call). Returns the UAS.
fn register_phone(pair: &Pair) -> Result<(Group, bool), Error> {
    let contact = format!("{HARNESS_ADDR}:5070");
    let uas = sipp_uas(pair, 5070, Duration::from_secs(600), "sipp-uas.log")?;
    let ok = sipp_register(pair, 1001, 5071, &contact, "sipp-register.log")?;
    Ok((uas, ok))
}

/// A sipp UAS on the harness's `port` that answers one call (and its BYE) within
/// `timeout`.
pub(crate) fn sipp_uas(
    pair: &Pair,
    port: u16,
    timeout: Duration,
    log: &str,
) -> Result<Group, Error> {
    let port = port.to_string();
    let timeout = format!("{}s", timeout.as_secs());
    sipp(
        pair,
        &[
            "-sn",
            "uas",
            "-i",
            HARNESS_ADDR,
            "-p",
            &port,
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            &timeout,
        ],
        log,
    )
}

/// Waits up to `limit` for a sipp run to end and kills it; true when it ended
/// successfully.
pub(crate) fn sipp_outcome(mut g: Group, limit: Duration) -> bool {
    let t = Instant::now();
    let ok = loop {
        match g.child.try_wait() {
            Ok(Some(st)) => break st.success(),
            Ok(None) if t.elapsed() < limit => std::thread::sleep(Duration::from_millis(100)),
            _ => break false,
        }
    };
    g.kill();
    ok
}

/// One REGISTER of extension `ext` (secret lab-phone-EXT) through the virtual IP
/// from the harness's `port`, its contact at `contact`; true on 200.
pub(crate) fn sipp_register(
    pair: &Pair,
    ext: u16,
    port: u16,
    contact: &str,
    log: &str,
) -> Result<bool, Error> {
    let xml = pair.logs.join(format!("register-{ext}.xml"));
    std::fs::write(
        &xml,
        crate::sip::register_xml(&ext.to_string(), &format!("lab-phone-{ext}"), contact),
    )
    .map_err(|e| Error::Lab(e.to_string()))?;
    let port = port.to_string();
    let reg = sipp(
        pair,
        &[
            SIP_TARGET,
            "-sf",
            &xml.display().to_string(),
            "-i",
            HARNESS_ADDR,
            "-p",
            &port,
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "20s",
            "-timeout_error",
        ],
        log,
    )?;
    Ok(sipp_outcome(reg, Duration::from_secs(30)))
}

pub(crate) fn observer_mac(pair: &Pair) -> String {
    run(pair.lab.obs_cmd("ip").args(["neigh", "show", VIP]))
        .map(|o| o.stdout_str())
        .unwrap_or_default()
        .split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)
        .unwrap_or("")
        .to_string()
}

pub(crate) fn observer_ping(pair: &Pair) -> bool {
    run(pair.lab.obs_cmd("ping").args(["-c", "1", "-W", "2", VIP])).is_ok()
}

/// One hard kill of the active node; checks data, the registered phone and (s3) the
/// observer's ARP cache.
fn hard_kill(
    pair: &mut Pair,
    trial: u32,
    s2: &mut Scenario,
    s3: Option<&mut Scenario>,
) -> Result<Trial, Error> {
    let active = pair.wait_healthy(Duration::from_secs(300), "healthy cluster before the kill")?;
    let survivor = 1 - active;
    let (from, to) = (
        pair.name(active).to_string(),
        pair.name(survivor).to_string(),
    );
    eprintln!("vm-tests: hard kill trial {trial}: kill -9 {from}'s QEMU, {to} should take over");
    // The observer learns the active node's MAC for the VIP.
    observer_ping(pair);
    let mac_before = observer_mac(pair);
    let (mut uas, registered) = register_phone(pair)?;
    s2.check(
        &format!("trial {trial}: phone 1001 registered before the kill"),
        registered,
        "sipp REGISTER with digest auth",
    );
    // Asterisk syncs its astdb (the contacts) in the background: let it.
    std::thread::sleep(Duration::from_secs(3));
    let counter = Counter::start(pair, active)?;
    pair.wait(
        Duration::from_secs(60),
        "counter writer acknowledged 5 fsynced values",
        || Ok(counter.last_ack.load(Ordering::SeqCst) >= 5),
    )?;
    if pair.engine == Engine::Heartbeat {
        wait_out_initdead(pair, survivor)?;
    }
    let offset = pair.clock_offset(survivor).unwrap_or(0.0);
    // The kill: writes are still going on.
    let kill_at = Instant::now();
    let kill_epoch = now_epoch();
    pair.crash(active);
    let acked = counter.last_ack.load(Ordering::SeqCst);
    counter.stop.store(true, Ordering::SeqCst);
    drop(counter.group);
    let failover =
        crate::sip::first_answer(&pair.lab, SIP_TARGET, kill_at, PROBE_EVERY, FAILOVER_LIMIT)?;
    eprintln!("vm-tests:   failover: {failover:?} s");
    if failover.is_none() {
        let dump = pair.state_dump(survivor);
        let file = pair
            .logs
            .join(format!("{}-kill{trial}-{to}.state", pair.engine.name()));
        let _ = std::fs::write(&file, &dump);
        // What led there: the survivor's journal from before the restore on.
        let since = now_epoch() + pair.clock_offset(survivor).unwrap_or(0.0) - 600.0;
        let _ = std::fs::write(
            file.with_extension("state.journal"),
            pair.journal(survivor, since),
        );
        eprintln!(
            "vm-tests:   no answer: {to}'s cluster state in {}",
            file.display()
        );
        pair.explain(&format!(
            "no SIP answer on the VIP after the kill of {from}"
        ));
    }
    let mac_after = observer_mac(pair);
    let survivor_mac = pair.vms[survivor].spec.mac_fe.clone();
    let reached = observer_ping(pair);
    if let Some(s3) = s3 {
        let ok = failover.is_some() && mac_after.eq_ignore_ascii_case(&survivor_mac) && reached;
        s3.check(
            &format!("trial {trial}: observer's ARP entry moved to the survivor without a flush"),
            ok,
            format!(
                "before {mac_before}, after {mac_after} (survivor {survivor_mac}), ping {reached}"
            ),
        );
    }
    s2.check(
        &format!("trial {trial}: SIP answers on the VIP after the kill"),
        failover.is_some(),
        failover.map_or(
            format!("no answer within {}s", FAILOVER_LIMIT.as_secs()),
            |f| format!("{f:.1} s"),
        ),
    );
    let holders = pair.vip_holders();
    s2.check(
        &format!("trial {trial}: survivor holds the VIP"),
        holders == vec![survivor],
        format!("holders {holders:?}"),
    );
    let value: Option<u64> = pair
        .sh(survivor, "cat /srv/ha/counter")
        .stdout_str()
        .trim()
        .parse()
        .ok();
    s2.check(
        &format!("trial {trial}: fsynced counter survived"),
        value.is_some_and(|v| v == acked || v == acked + 1),
        format!("last acknowledged {acked}, found {value:?}"),
    );
    // Call the phone from the survivor without it registering again.
    let call = pair.sh(
        survivor,
        "asterisk -rx 'pjsip show contacts' | grep -c 1001/; asterisk -rx 'channel originate PJSIP/1001 application Wait 2'",
    );
    let t = Instant::now();
    let called = loop {
        match uas.child.try_wait() {
            Ok(Some(st)) => break st.success(),
            Ok(None) if t.elapsed() < Duration::from_secs(45) => {
                std::thread::sleep(Duration::from_millis(300))
            }
            _ => break false,
        }
    };
    uas.kill();
    s2.check(
        &format!("trial {trial}: registered phone called after takeover without re-registering"),
        called,
        format!(
            "contacts of 1001 on {to}: {}; sipp UAS {}",
            call.stdout_str().lines().next().unwrap_or("?"),
            if called {
                "answered and completed one call"
            } else {
                "got no complete call"
            }
        ),
    );
    let guest_kill = kill_epoch + offset;
    let journal = pair.journal(survivor, guest_kill - 5.0);
    let _ = std::fs::write(
        pair.logs
            .join(format!("{}-kill{trial}-{to}.journal", pair.engine.name())),
        &journal,
    );
    let phases = phases::milestones(&journal, guest_kill, &pair.services, failover);
    Ok(Trial {
        failover_s: failover.map(phases::round2),
        from,
        to,
        phases,
    })
}

/// Heartbeat uses initdead, not deadtime, for a peer lost while its own heartbeat is
/// younger than initdead; a kill then measures initdead. Real clusters run for
/// longer than that before a node dies, so the kill waits until the survivor's
/// heartbeat is older than initdead.
fn wait_out_initdead(pair: &Pair, survivor: usize) -> Result<(), Error> {
    let script = "up=$(cut -d. -f1 /proc/uptime); \
        since=$(systemctl show -p ActiveEnterTimestampMonotonic --value heartbeat); \
        init=$(awk '$1 == \"initdead\" {print $2}' /etc/ha.d/ha.cf); \
        echo $(( ${init:-0} + 2 - (up - since / 1000000) ))";
    let left: i64 = pair
        .check(survivor, script)?
        .trim()
        .parse()
        .map_err(|e| Error::Lab(format!("heartbeat age on {}: {e}", pair.name(survivor))))?;
    if left > 0 {
        eprintln!(
            "vm-tests:   waiting {left} s until {}'s heartbeat is older than initdead",
            pair.name(survivor)
        );
        std::thread::sleep(Duration::from_secs(left as u64));
    }
    Ok(())
}

/// How long a rejoin took: the killed node's boot (to ssh), then the cluster's part
/// (join, resync, failback), each with its own bound.
struct Rejoined {
    boot_s: f64,
    total_s: f64,
    /// The longest stretch the virtual IP did not answer SIP during the rejoin:
    /// auto-failback moves the group back, an outage of its own.
    failback_gap_s: f64,
}

/// Boots the killed node again (same disk) and waits until the cluster is whole
/// (with auto_failback the group returns to the preferred node). A slow boot is
/// bounded like a first boot and does not eat the cluster's budget.
fn rejoin(pair: &mut Pair) -> Result<Rejoined, Error> {
    let t = Instant::now();
    let watch = crate::sip::Watch::start(&pair.lab, SIP_TARGET, PROBE_EVERY)?;
    for i in 0..2 {
        if !pair.vms[i].running() {
            pair.boot(i)?;
        }
    }
    for i in 0..2 {
        pair.wait_ssh(i, BOOT_LIMIT)?;
    }
    let boot_s = t.elapsed().as_secs_f64();
    let what =
        "killed node back: DRBD UpToDate/UpToDate, VIP on node1 (auto_failback), SIP answers";
    let mut holder = None;
    let waited = pair.wait(REJOIN_LIMIT, what, || {
        holder = pair.healthy()?;
        Ok(holder == Some(0))
    });
    let silence = watch.finish();
    waited?;
    Ok(Rejoined {
        boot_s,
        total_s: t.elapsed().as_secs_f64(),
        failback_gap_s: silence.longest_s,
    })
}

/// The snapshot every scenario after the cold start begins from.
const HEALTHY: &str = "healthy";

/// Both nodes back to a snapshot before a scenario; the scenario notes it.
fn from_snapshot(pair: &mut Pair, s: &mut Scenario, name: &str) -> Result<(), Error> {
    let took = pair.restore(name)?;
    s.notes.push(format!(
        "started from snapshot {name} (restored in {:.0} s)",
        took.as_secs_f64()
    ));
    Ok(())
}

/// Fence requests the switch carried out since `t`, for "nobody was fenced" checks.
fn fenced_since(pair: &Pair, t: Instant) -> Vec<String> {
    pair.power
        .events_since(t)
        .iter()
        .filter(|e| e.reply.starts_with("OK"))
        .map(|e| {
            format!(
                "{} asked {:?} at +{:.1} s",
                e.from,
                e.request,
                e.at.duration_since(t).as_secs_f64()
            )
        })
        .collect()
}

fn check_nobody_fenced(pair: &Pair, s: &mut Scenario, t: Instant) {
    let fenced = fenced_since(pair, t);
    s.check(
        "no node fenced",
        fenced.is_empty(),
        if fenced.is_empty() {
            "no fence request".to_string()
        } else {
            fenced.join("; ")
        },
    );
}

fn asterisk_killed(pair: &mut Pair) -> Result<Scenario, Error> {
    let mut s = Scenario::new(4, name_of(4), pair.engine.name());
    from_snapshot(pair, &mut s, HEALTHY)?;
    let active = pair.wait_healthy(
        Duration::from_secs(300),
        "healthy cluster before killing Asterisk",
    )?;
    let t = Instant::now();
    let out = pair.sh(active, "systemctl kill -s KILL asterisk.service");
    s.check(
        "Asterisk killed (SIGKILL)",
        out.success(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    );
    // Let the probe see it down first, so the bound measures the recovery.
    std::thread::sleep(Duration::from_secs(2));
    let bound = Duration::from_secs(150);
    let back = crate::sip::first_answer(&pair.lab, SIP_TARGET, t, PROBE_EVERY, bound)?;
    let holders = pair.vip_holders();
    s.check(
        &format!("SIP answers again within {} s", bound.as_secs()),
        back.is_some(),
        back.map_or("no answer".into(), |b| {
            format!("{b:.1} s after the kill; VIP on {:?}", pair.names(&holders))
        }),
    );
    // Wait for a late reaction (e.g. a DRBD reconnect that fences) before judging.
    std::thread::sleep(Duration::from_secs(20));
    check_nobody_fenced(pair, &mut s, t);
    if pair.engine == Engine::Heartbeat && back.is_none() {
        s.notes.push("Heartbeat in haresources mode does not monitor resources: a dead Asterisk stays dead unless its unit restarts it".into());
    }
    if let Some(b) = back {
        s.trials.push(Trial {
            failover_s: Some(phases::round2(b)),
            from: pair.name(active).into(),
            to: holders
                .first()
                .map(|&i| pair.name(i).to_string())
                .unwrap_or_default(),
            phases: Vec::new(),
        });
    } else {
        // Put it back for the next scenarios.
        let _ = pair.sh(active, "systemctl start asterisk");
    }
    s.finish();
    Ok(s)
}

fn one_link_cut(pair: &mut Pair) -> Result<Scenario, Error> {
    let mut s = Scenario::new(5, name_of(5), pair.engine.name());
    from_snapshot(pair, &mut s, HEALTHY)?;
    let active = pair.wait_healthy(
        Duration::from_secs(300),
        "healthy cluster before the link cut",
    )?;
    let tap = pair.vms[1].spec.tap_hb.clone();
    let cut_at = Instant::now();
    pair.lab.set_link(&tap, false)?;
    s.notes.push(format!(
        "cut {tap} (node2's heartbeat NIC; DRBD replicates on that network too) for 30 s"
    ));
    let mut moved = false;
    let mut two_primaries = false;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        let h = pair.vip_holders();
        moved |= h != vec![active];
        two_primaries |= (0..2).all(|i| pair.drbd(i).contains("ro:Primary"));
        std::thread::sleep(Duration::from_secs(2));
    }
    let sip_during = pair.sip_ok();
    pair.lab.set_link(&tap, true)?;
    s.check(
        "no failover while one link is cut",
        !moved,
        format!("VIP stayed on {}", pair.name(active)),
    );
    s.check("no second primary", !two_primaries, "");
    s.check("SIP answers during the cut", sip_during, "");
    let r = pair.wait(
        Duration::from_secs(180),
        "link restored: DRBD resynced, nothing moved",
        || Ok(pair.drbd_healthy(0) && pair.drbd_healthy(1)),
    );
    s.check(
        "link restored: DRBD Connected UpToDate/UpToDate",
        r.is_ok(),
        format!("{:?}", r.as_ref().map(|d| d.as_secs())),
    );
    let h = pair.vip_holders();
    s.check(
        "after the restore the VIP is still where it was",
        h == vec![active],
        format!("{h:?}"),
    );
    check_nobody_fenced(pair, &mut s, cut_at);
    if pair.engine == Engine::Pacemaker {
        stale_fence_constraint(pair, &mut s, active);
    }
    s.finish();
    Ok(s)
}

/// The fence-peer constraint of the cut is gone once DRBD resynced, and one left
/// behind (a handler that returns after the link came back: DRBD ignores its
/// verdict, the constraint would stay) is lifted by the Primary's monitor.
fn stale_fence_constraint(pair: &Pair, s: &mut Scenario, active: usize) {
    let r = pair.wait(
        Duration::from_secs(90),
        "the cut's fence-peer constraint lifted",
        || Ok(pair.promotable_anywhere(active)),
    );
    s.check(
        "after the resync nothing keeps the standby from promotion",
        r.is_ok(),
        format!("{:?}", r.as_ref().map(|d| d.as_secs())),
    );
    let place = format!(
        "cibadmin --modify --allow-create --scope constraints --xml-text '{}'",
        pbx_cluster::runtime::fence_peer::constraint_xml(
            "r0",
            &pbx_cluster::engine::pacemaker::drbd_clone_id("r0"),
            pair.name(active),
        )
    );
    let placed = pair.sh(active, &place);
    let t = Instant::now();
    let lifted = placed.success()
        && pair
            .wait(
                Duration::from_secs(90),
                "stale fence-peer constraint lifted by the Primary's monitor",
                || Ok(pair.promotable_anywhere(active)),
            )
            .is_ok();
    s.check(
        "a stale fence-peer constraint is lifted by the Primary's DRBD monitor",
        lifted,
        if placed.success() {
            format!("{:.0} s after placing it", t.elapsed().as_secs_f64())
        } else {
            String::from_utf8_lossy(&placed.stderr).trim().to_string()
        },
    );
}

fn switchover(pair: &mut Pair) -> Result<Scenario, Error> {
    let mut s = Scenario::new(6, name_of(6), pair.engine.name());
    from_snapshot(pair, &mut s, HEALTHY)?;
    let started = Instant::now();
    let active = pair.wait_healthy(
        Duration::from_secs(300),
        "healthy cluster before the switchover",
    )?;
    let other = 1 - active;
    let (standby, online) = match pair.engine {
        Engine::Pacemaker => (
            format!(
                "crm_attribute --node {} --name standby --update on",
                pair.name(active)
            ),
            format!(
                "crm_attribute --node {} --name standby --update off",
                pair.name(active)
            ),
        ),
        Engine::Heartbeat => (
            "/usr/share/heartbeat/hb_standby all".to_string(),
            "/usr/share/heartbeat/hb_takeover all".to_string(),
        ),
    };
    let t = Instant::now();
    let out = pair.sh(active, &standby);
    s.check(
        "standby command accepted",
        out.success(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    );
    let moved = pair.wait(
        Duration::from_secs(240),
        "switchover: VIP on the other node answers SIP",
        || Ok(pair.vip_holders() == vec![other] && pair.sip_ok()),
    );
    let sw = t.elapsed().as_secs_f64();
    s.check("switchover completed", moved.is_ok(), format!("{sw:.1} s"));
    let t = Instant::now();
    let out = pair.sh(active, &online);
    s.check(
        "node back online",
        out.success(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    );
    let back = pair.wait(
        Duration::from_secs(300),
        "failback: VIP home, DRBD UpToDate/UpToDate",
        || Ok(pair.healthy()? == Some(active)),
    );
    let fb = t.elapsed().as_secs_f64();
    s.check(
        "failback completed with DRBD in sync",
        back.is_ok(),
        format!("{fb:.1} s"),
    );
    check_nobody_fenced(pair, &mut s, started);
    // Both journals: the next scenario restores the snapshot and drops them.
    pair.save_journal(active, "switchover");
    pair.save_journal(other, "switchover");
    s.notes
        .push(format!("switchover {sw:.1} s, failback {fb:.1} s"));
    s.finish();
    Ok(s)
}

fn both_links_cut(pair: &mut Pair) -> Result<Scenario, Error> {
    let mut s = Scenario::new(7, name_of(7), pair.engine.name());
    from_snapshot(pair, &mut s, HEALTHY)?;
    let active = pair.wait_healthy(
        Duration::from_secs(300),
        "healthy cluster before cutting both links",
    )?;
    if pair.engine == Engine::Heartbeat {
        wait_out_initdead(pair, active)?;
    }
    // Cut the passive node off both networks: the active node must fence it
    // (through the harness's power switch) and keep the group; the cut-off node
    // cannot reach the switch, so it must not promote.
    let victim = 1 - active;
    let (fe, hb) = (
        pair.vms[victim].spec.tap_fe.clone(),
        pair.vms[victim].spec.tap_hb.clone(),
    );
    let t = Instant::now();
    pair.lab.set_link(&fe, false)?;
    pair.lab.set_link(&hb, false)?;
    s.notes.push(format!(
        "cut {fe} and {hb} ({}'s frontend and heartbeat NICs) for 60 s; fence device: the harness (fence_pbxlab / external/pbxlab kill the node's QEMU)",
        pair.name(victim)
    ));
    let mut sip_lost = 0u32;
    while t.elapsed() < Duration::from_secs(60) {
        if !pair.sip_ok() {
            sip_lost += 1;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    // Judge while the cut-off node is still cut off from its peer: its DRBD role
    // is read once the frontend (ssh) returns, before the heartbeat link does.
    pair.lab.set_link(&fe, true)?;
    let victim_running = pair.vms[victim].running();
    let roles: Vec<String> = (0..2).map(|i| pair.drbd(i)).collect();
    pair.lab.set_link(&hb, true)?;
    let primaries = roles.iter().filter(|r| r.contains("ro:Primary")).count();
    let fenced = fenced_since(pair, t);
    s.check("exactly one primary", primaries == 1, format!("{roles:?}"));
    s.check(
        &format!("{} fenced (powered off) by its peer", pair.name(victim)),
        !victim_running && fenced.iter().any(|f| f.contains(pair.name(victim))),
        if fenced.is_empty() {
            "no fence request reached the switch".to_string()
        } else {
            fenced.join("; ")
        },
    );
    s.check(
        &format!("the group stayed on {}", pair.name(active)),
        pair.vip_holders() == vec![active] && pair.sip_ok(),
        format!("SIP probes failed during the cut: {sip_lost}"),
    );
    s.finish();
    Ok(s)
}

/// Longer than either engine's deadtime in the lab (Pacemaker 3 s, Heartbeat 10 s)
/// with room for the fence: the peer must act, not wait it out.
const FREEZE: Duration = Duration::from_secs(30);
/// How long after the freeze a fence may still arrive before the node is let go.
const FENCE_GRACE: Duration = Duration::from_secs(60);
/// Guest and harness clocks agree to within this after the offset is taken out.
const CLOCK_SLACK_S: f64 = 0.5;

/// Scenarios 9 and 10: a node stops without dying (SIGSTOP of its QEMU for longer
/// than the deadtime, then SIGCONT), the case that shorter timing turns into a
/// false failover. Exactly one node may be Primary: the survivor promotes only
/// after the frozen node was fenced (compared on the survivor's kernel log against
/// the switch's log, not by sampling), and a frozen node that comes back unfenced
/// steps down; a fenced node boots again and DRBD must reconnect without a split
/// brain (which DRBD can only detect on that reconnect); SIP answers at the end.
fn frozen_node(pair: &mut Pair, id: u8, freeze_active: bool) -> Result<Scenario, Error> {
    let mut s = Scenario::new(id, name_of(id), pair.engine.name());
    from_snapshot(pair, &mut s, HEALTHY)?;
    let active = pair.wait_healthy(
        Duration::from_secs(300),
        "healthy cluster before freezing a node",
    )?;
    if pair.engine == Engine::Heartbeat {
        for i in 0..2 {
            wait_out_initdead(pair, i)?;
        }
    }
    let victim = if freeze_active { active } else { 1 - active };
    let survivor = 1 - victim;
    let offset = pair.clock_offset(survivor).unwrap_or(0.0);
    let since = now_epoch();
    let t = Instant::now();
    pair.vms[victim].freeze(true);
    s.notes.push(format!(
        "SIGSTOP of {}'s QEMU ({}) for {} s, then SIGCONT unless its peer fenced it",
        pair.name(victim),
        if freeze_active {
            "the active node"
        } else {
            "the standby"
        },
        FREEZE.as_secs()
    ));
    let mut sip_lost = 0u32;
    while t.elapsed() < FREEZE {
        if !pair.sip_ok() {
            sip_lost += 1;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let victim_name = pair.name(victim).to_string();
    let fence_event = |pair: &Pair| {
        pair.power
            .events_since(t)
            .iter()
            .find(|e| e.reply.starts_with("OK") && e.request.contains(&victim_name))
            .map(|e| e.at.duration_since(t))
    };
    // A fence still on its way (slow under emulation) is waited for, bounded,
    // before the frozen node is let go.
    let _ = pair.wait(
        FENCE_GRACE,
        "the frozen node fenced, before it is let go",
        || Ok(fence_event(pair).is_some()),
    );
    if pair.vms[victim].running() {
        pair.vms[victim].freeze(false);
    }
    let answered = pair.wait(
        Duration::from_secs(240),
        "the virtual IP answering SIP after the freeze",
        || Ok(pair.sip_ok()),
    );
    let fenced_at = fence_event(pair);
    let victim_running = pair.vms[victim].running();
    let roles: Vec<(usize, String)> = (0..2)
        .filter(|&i| i == survivor || (i == victim && victim_running))
        .map(|i| (i, pair.drbd(i)))
        .collect();
    let primaries = roles
        .iter()
        .filter(|(_, r)| r.contains("ro:Primary"))
        .count();
    let victim_stepped_down = roles
        .iter()
        .any(|(i, r)| *i == victim && r.contains("ro:Secondary"));
    let fenced = fenced_since(pair, t);
    s.check(
        &format!("{victim_name} fenced (powered off) by its peer, or stepped down after the thaw"),
        (!victim_running && fenced_at.is_some()) || (victim_running && victim_stepped_down),
        format!(
            "{}; {}",
            if fenced.is_empty() {
                "no fence request reached the switch".to_string()
            } else {
                fenced.join("; ")
            },
            if victim_running {
                "it ran on after SIGCONT"
            } else {
                "its QEMU is gone"
            }
        ),
    );
    if freeze_active {
        // The survivor's promotion, from its own kernel log (guest clock, turned
        // into the harness's by the measured offset).
        let promoted = pair
            .journal(survivor, since + offset - 5.0)
            .lines()
            .find(|l| l.contains("role( Secondary -> Primary )"))
            .and_then(phases::timestamp)
            .map(|g| g - offset - since);
        let fence_s = fenced_at.map(|f| f.as_secs_f64());
        s.check(
            &format!(
                "{} took over, promoted only after the frozen node was fenced",
                pair.name(survivor)
            ),
            matches!((promoted, fence_s), (Some(p), Some(f)) if p >= f - CLOCK_SLACK_S),
            format!(
                "fenced at {}, promoted at {} (seconds after the freeze; survivor's kernel log, clock offset {offset:+.2} s); SIP probes failed during the freeze: {sip_lost}",
                fence_s.map_or("never".into(), |f| format!("+{f:.1}")),
                promoted.map_or("never".into(), |p| format!("+{p:.1}"))
            ),
        );
    } else {
        s.check(
            &format!("{} kept the group", pair.name(survivor)),
            pair.vip_holders() == vec![survivor],
            format!("SIP probes failed during the freeze: {sip_lost}"),
        );
    }
    s.check(
        "the virtual IP answers SIP after the freeze",
        answered.is_ok(),
        answered.map_or("no answer within 240 s".into(), |d| {
            format!("{:.1} s after the freeze ended", d.as_secs_f64())
        }),
    );
    let shown: Vec<String> = roles
        .iter()
        .map(|(i, r)| format!("{}: {r}", pair.name(*i)))
        .collect();
    s.check("exactly one primary", primaries == 1, shown.join("; "));
    // DRBD sees a split brain only when the two reconnect: a fenced node boots
    // again and must resync from the survivor.
    if !pair.vms[victim].running() {
        pair.boot(victim)?;
        pair.wait_ssh(victim, BOOT_LIMIT)?;
    }
    let reconnected = pair.wait(
        REJOIN_LIMIT,
        "DRBD Connected UpToDate/UpToDate on both nodes after the freeze",
        || Ok(pair.drbd_healthy(0) && pair.drbd_healthy(1)),
    );
    let sb: Vec<String> = (0..2)
        .map(|i| {
            let n = pair
                .sh(
                    i,
                    &format!(
                        "journalctl -k -q --since=@{:.0} | grep -c 'Split-Brain detected' || true",
                        since + offset - 5.0
                    ),
                )
                .stdout_str();
            format!("{}: {}", pair.name(i), n.trim())
        })
        .collect();
    s.check(
        "DRBD reconnected after the freeze without a split brain",
        reconnected.is_ok() && sb.iter().all(|l| l.ends_with(": 0")),
        format!(
            "{}; \"Split-Brain detected\" in the kernel logs: {}",
            match &reconnected {
                Ok(d) => format!("both UpToDate {:.0} s later", d.as_secs_f64()),
                Err(_) => format!("not Connected/UpToDate within {} s", REJOIN_LIMIT.as_secs()),
            },
            sb.join(", ")
        ),
    );
    pair.save_journal(survivor, &format!("frozen-{id}"));
    s.finish();
    Ok(s)
}

/// Scenario 8: the hard kill with the seed's timing (Heartbeat, keepalive 1 s,
/// deadtime 10 s). The lab's Heartbeat runs exactly that timing (see
/// `profile_for`), so its hard-kill trials are the baseline; the report compares
/// them with Pacemaker's trials at the lab's tuned timing (token 3 s).
fn baseline(report: &Report) -> Scenario {
    let mut s = Scenario::new(8, name_of(8), Engine::Heartbeat.name());
    let kills = report.scenarios.iter().find(|k| {
        k.id == 2 && k.engine == Engine::Heartbeat.name() && k.mode == Mode::ActivePassive.name()
    });
    match kills {
        Some(k) if !k.failover_seconds.is_empty() => {
            s.trials = k.trials.clone();
            s.check(
                "hard kills measured with the seed's timing",
                true,
                format!("{} trials of scenario 2 (heartbeat)", k.trials.len()),
            );
            s.notes.push("the lab's Heartbeat runs the seed's timing (shorter deadtimes declared live nodes dead under software emulation), so scenario 2's heartbeat trials are the baseline; report.md compares them with Pacemaker's trials at the tuned lab timing".into());
        }
        _ => {
            s.check(
                "hard kills measured with the seed's timing",
                false,
                "scenario 2 (heartbeat) produced no failover time",
            );
        }
    }
    s.finish();
    s
}
