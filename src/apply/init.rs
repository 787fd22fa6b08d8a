//! `init`: apply, plus the one-time steps of a new cluster, then a bounded wait
//! until the cluster is healthy.
//!
//! Order: everything up to DRBD (packages, files, services out of the boot
//! sequence, metadata, resource up) -> wait for the peer's DRBD connection ->
//! on a NEW cluster (both disks Inconsistent) the preferred node forces itself
//! primary, makes the filesystem and seeds the drbdlinks paths onto it, and both
//! wait for the initial sync -> the engine starts -> (Pacemaker) the preferred
//! node loads the CIB once both nodes are members, unless it is already loaded ->
//! wait until DRBD is Connected and UpToDate on both sides and the virtual IP
//! answers SIP. Every step checks before it acts, so a second run completes an
//! interrupted one and changes nothing on a healthy cluster.

use std::path::Path;
use std::time::Duration;

use super::Applier;
use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::model::{Filesystem, Model};
use crate::plan::{Phase, Plan};
use crate::runtime::sip_probe::Transport;
use crate::runtime::status::{drbd, pacemaker};
use crate::runtime::verify::{self, SipProbe, SipSettings};
use crate::runtime::wait::wait_until;

pub use crate::plan::state::INITIALIZED_MARKER;

#[derive(Clone)]
pub struct InitOptions {
    pub peer_timeout: Duration,
    pub sync_timeout: Duration,
    pub healthy_timeout: Duration,
    /// How long a busy mount point is retried before init gives up.
    pub umount_timeout: Duration,
    pub poll: Duration,
    /// Asks the virtual IP (the real SIP probe; tests give a fake).
    pub sip_probe: SipProbe,
}

impl std::fmt::Debug for InitOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitOptions")
            .field("peer_timeout", &self.peer_timeout)
            .field("sync_timeout", &self.sync_timeout)
            .field("healthy_timeout", &self.healthy_timeout)
            .field("umount_timeout", &self.umount_timeout)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl InitOptions {
    /// The real probe for `model`'s SIP port: 2 s, and any answer counts, since
    /// a live Asterisk may turn an unidentified OPTIONS away.
    pub fn for_model(model: &Model) -> InitOptions {
        InitOptions {
            peer_timeout: Duration::from_secs(900),
            sync_timeout: Duration::from_secs(6 * 3600),
            healthy_timeout: Duration::from_secs(600),
            umount_timeout: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            sip_probe: verify::sip_probe(SipSettings {
                port: model.pbx.sip_port,
                transport: Transport::Udp,
                timeout: Duration::from_secs(2),
                accept: "2xx,401,403,404,407".parse().expect("a valid accept list"),
            }),
        }
    }
}

/// What init found and did, for the summary.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InitReport {
    pub new_cluster: bool,
    pub forced_primary: bool,
    pub cib_loaded: bool,
}

fn out(r: &dyn Runner, cmd: Cmd) -> Result<(bool, String)> {
    let o = r.run(&cmd)?;
    Ok((o.success(), o.stdout_str().trim().to_string()))
}

pub struct Init<'a> {
    pub model: &'a Model,
    pub node: &'a str,
    pub applier: &'a Applier<'a>,
    pub runner: &'a dyn Runner,
    pub opts: InitOptions,
}

impl Init<'_> {
    fn run_ok(&self, cmd: Cmd) -> Result<()> {
        self.applier.reporter.line(&format!("  $ {cmd}"));
        self.runner.run_ok(&cmd)?;
        Ok(())
    }

    fn step<T>(&self, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let s = self.applier.reporter.step(what);
        match f() {
            Ok(v) => {
                s.done();
                Ok(v)
            }
            Err(e) => {
                s.failed();
                Err(Error::Step {
                    step: what.to_string(),
                    note: "the steps before this one are done; fix the cause and run `pbx-cluster init` again: it resumes here".into(),
                    source: Box::new(e),
                })
            }
        }
    }

    pub fn run(&self, plan: &Plan) -> Result<InitReport> {
        // At first boot network-online.target may be reached before the
        // addresses are configured; DRBD and corosync bind to them.
        self.step("wait for this node's addresses", || self.wait_addresses())?;
        let (before, engine): (Vec<_>, Vec<_>) = plan
            .steps
            .iter()
            .cloned()
            .partition(|s| s.phase < Phase::Engine);
        self.applier.apply(&Plan {
            node: plan.node.clone(),
            steps: before,
        })?;

        let m = self.model;
        let res = m.storage.resource.as_str();
        let preferred = m.preferred().name == self.node;
        let mut report = InitReport::default();

        self.step("wait for the peer's DRBD connection", || {
            wait_until(
                &format!(
                    "DRBD resource {res} to connect to the peer (start init on the other node too)"
                ),
                self.opts.peer_timeout,
                self.opts.poll,
                || {
                    out(self.runner, Cmd::new("drbdadm").args(["cstate", res]))
                        .map(|(ok, s)| (ok && s == "Connected", s))
                },
            )
        })?;
        let (_, dstate) = out(self.runner, Cmd::new("drbdadm").args(["dstate", res]))?;
        report.new_cluster = dstate == "Inconsistent/Inconsistent";
        if report.new_cluster && preferred {
            self.step(
                "make this node the first primary of the new cluster",
                || self.first_primary(),
            )?;
            report.forced_primary = true;
        }
        if report.new_cluster || dstate.contains("Inconsistent") {
            self.step("wait for DRBD's initial sync", || self.wait_sync())?;
        }
        // The engine decides who is primary from here on. Also after an interrupted
        // run: while the engine is not up, nothing but init made this node primary.
        let engine_down = engine.iter().any(|s| s.phase == Phase::EngineStart);
        let (_, role) = out(self.runner, Cmd::new("drbdadm").args(["role", res]))?;
        if m.mode_home().primary_at_boot(m) {
            // Dual-primary with no engine promoting: both nodes stay Primary, as
            // every boot makes them (become-primary-on both).
            if !role.starts_with("Primary") {
                self.step("make this node Primary too (dual-primary)", || {
                    self.run_ok(Cmd::new("drbdadm").args(["primary", res]))
                })?;
            }
        } else if engine_down && role.starts_with("Primary") {
            self.step("hand DRBD over to the cluster engine", || {
                let mp = self.model.storage.mount_point.display().to_string();
                if self
                    .runner
                    .run(&Cmd::new("mountpoint").args(["-q", &mp]))?
                    .success()
                {
                    self.unmount(&mp)?;
                }
                self.run_ok(Cmd::new("drbdadm").args(["secondary", res]))
            })?;
        }

        self.applier.apply(&Plan {
            node: plan.node.clone(),
            steps: engine,
        })?;
        if m.engine_home().loads_cib() && preferred {
            report.cib_loaded = self.step("load the CIB once both nodes are members", || {
                self.load_cib()
            })?;
        }
        self.step("wait until the cluster is healthy", || self.wait_healthy())?;
        let marker = self
            .applier
            .root
            .join(INITIALIZED_MARKER.trim_start_matches('/'));
        crate::fsutil::write_atomic(
            &marker,
            format!(
                "{}\n",
                humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            )
            .as_bytes(),
            0o644,
        )
        .map_err(|e| Error::io("cannot write", &marker, e))?;
        Ok(report)
    }

    fn wait_addresses(&self) -> Result<()> {
        let node = self
            .model
            .node(self.node)
            .expect("init runs for a profile node");
        let wanted = [
            (node.frontend.address, node.frontend.interface.as_str()),
            (node.heartbeat.address, node.heartbeat.interface.as_str()),
        ];
        let what = wanted
            .iter()
            .map(|(a, i)| format!("{a} on {i}"))
            .collect::<Vec<_>>()
            .join(" and ");
        crate::runtime::addresses::wait_for(
            self.runner,
            &wanted.map(|(a, _)| a),
            &what,
            self.opts.peer_timeout,
            self.opts.poll,
        )
    }

    fn first_primary(&self) -> Result<()> {
        let m = self.model;
        let s = &m.storage;
        let dev = s.device.as_str();
        let mp = s.mount_point.display().to_string();
        self.run_ok(Cmd::new("drbdadm").args(["primary", "--force", &s.resource]))?;
        if s.filesystem == Filesystem::Ocfs2 {
            // mkfs.ocfs2 and the seeding mount need the o2cb cluster online (its
            // files are written by now; the engine steps enable it for boot).
            self.run_ok(Cmd::new("systemctl").args(["start", "o2cb"]))?;
        }
        let mkfs = match s.filesystem {
            Filesystem::Xfs => Cmd::new("mkfs.xfs").args(["-f", "-q", dev]),
            Filesystem::Ext4 => Cmd::new("mkfs.ext4").args(["-F", "-q", dev]),
            Filesystem::Ocfs2 => {
                let lb = m
                    .load_balancing
                    .as_ref()
                    .map(|l| l.ocfs2_cluster.as_str())
                    .unwrap_or("ocfs2");
                Cmd::new("mkfs.ocfs2").args([
                    "-N",
                    "2",
                    "-L",
                    &m.name,
                    "--cluster-stack=o2cb",
                    &format!("--cluster-name={lb}"),
                    dev,
                ])
            }
        };
        self.run_ok(mkfs.timeout(Duration::from_secs(1800)))?;
        // Seed: the local originals become the first shared copies.
        self.run_ok(Cmd::new("mkdir").args(["-p", &mp]))?;
        self.run_ok(Cmd::new("mount").args([dev, &mp]))?;
        let seeded = s.links.iter().try_for_each(|link| {
            let local = link.display().to_string();
            let parent = format!("{mp}{}", link.parent().unwrap_or(Path::new("/")).display());
            self.run_ok(Cmd::new("mkdir").args(["-p", &parent]))?;
            self.run_ok(Cmd::new("sh").args([
                "-c",
                "[ ! -e \"$1\" ] || cp -a \"$1\" \"$2/\"",
                "seed",
                &local,
                &parent,
            ]))
        });
        // Unmount even when seeding failed, so a rerun finds the disk free.
        let unmounted = self.unmount(&mp);
        seeded.and(unmounted)
    }

    /// umount, retried for a few seconds: right after a copy the mount can be
    /// busy for a moment (seen at first boot).
    fn unmount(&self, mp: &str) -> Result<()> {
        self.run_ok(Cmd::new("sync"))?;
        let mut last = String::new();
        wait_until(
            &format!("{mp} to unmount"),
            self.opts.umount_timeout,
            self.opts.poll,
            || {
                let o = self.runner.run(&Cmd::new("umount").arg(mp))?;
                last = crate::exec::stderr_tail(&o.stderr);
                Ok((o.success(), last.trim().to_string()))
            },
        )
        // A mount that stays busy is a local error (exit 1), not an unhealthy cluster.
        .map_err(|e| match e {
            Error::Timeout { after_s, seen, .. } => Error::Busy {
                mount_point: mp.to_string(),
                after_s,
                seen,
            },
            e => e,
        })
    }

    fn wait_sync(&self) -> Result<()> {
        let res = &self.model.storage.resource;
        let bar = self.applier.reporter.permille("initial DRBD sync");
        let proc_drbd = self.applier.root.join("proc/drbd");
        let r = wait_until(
            &format!("DRBD resource {res} to be UpToDate on both nodes"),
            self.opts.sync_timeout,
            self.opts.poll,
            || {
                if let Some(p) = std::fs::read_to_string(&proc_drbd)
                    .ok()
                    .and_then(|t| sync_percent(&t, self.model.storage.minor))
                {
                    bar.advance_to((p * 10.0) as u64);
                }
                out(self.runner, Cmd::new("drbdadm").args(["dstate", res]))
                    .map(|(ok, s)| (ok && s == "UpToDate/UpToDate", s))
            },
        );
        bar.done();
        r
    }

    fn load_cib(&self) -> Result<bool> {
        wait_until(
            "both nodes online in Pacemaker",
            self.opts.peer_timeout,
            self.opts.poll,
            || {
                let (ok, xml) = out(
                    self.runner,
                    Cmd::new("crm_mon").args(["-1", "--output-as", "xml"]),
                )?;
                let online = if ok { online_nodes(&xml) } else { 0 };
                Ok((online == 2, format!("{online} node(s) online")))
            },
        )?;
        let clone_id = format!(
            "id=\"{}\"",
            crate::engine::pacemaker::drbd_clone_id(&self.model.storage.resource)
        );
        let (_, current) = out(
            self.runner,
            Cmd::new("cibadmin").args(["--query", "--scope", "resources"]),
        )?;
        if current.contains(&clone_id) {
            self.applier
                .reporter
                .line("  the CIB is already loaded; left as it is");
            return Ok(false);
        }
        let cib = self
            .applier
            .root
            .join(crate::engine::pacemaker::CIB_PATH.trim_start_matches('/'));
        self.run_ok(
            Cmd::new("cibadmin")
                .args(["--replace", "--xml-file"])
                .arg(cib.display().to_string()),
        )?;
        Ok(true)
    }

    fn wait_healthy(&self) -> Result<()> {
        let res = &self.model.storage.resource;
        let vip = self.model.network.virtual_ip.to_string();
        wait_until(
            "DRBD Connected and UpToDate on both nodes, and the virtual IP answering SIP",
            self.opts.healthy_timeout,
            self.opts.poll,
            || {
                let (_, cstate) = out(self.runner, Cmd::new("drbdadm").args(["cstate", res]))?;
                let (_, dstate) = out(self.runner, Cmd::new("drbdadm").args(["dstate", res]))?;
                Ok(verify::formed(
                    &cstate,
                    &dstate,
                    &(self.opts.sip_probe)(&vip),
                ))
            },
        )
    }
}

/// The resync percentage of DRBD minor `minor` in /proc/drbd (DRBD 8.4).
pub fn sync_percent(proc_drbd: &str, minor: u32) -> Option<f64> {
    let name = format!("drbd{minor}");
    drbd::parse_proc_drbd(proc_drbd)
        .ok()?
        .into_iter()
        .find(|v| v.resource == name)?
        .sync_percent
}

/// Nodes crm_mon reports online; none when Pacemaker does not answer.
pub fn online_nodes(xml: &str) -> usize {
    match pacemaker::parse_crm_mon(xml) {
        Ok(Ok(state)) => state.nodes.iter().filter(|n| n.online).count(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sync_percent() {
        let p = " 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----\n\t[==>.................] sync'ed: 14.3% (439320/511996)K\n 1: cs:Connected ro:Secondary/Secondary ds:UpToDate/UpToDate C r-----\n";
        assert_eq!(sync_percent(p, 0), Some(14.3));
        // Another minor's progress is not ours.
        assert_eq!(sync_percent(p, 1), None);
        assert_eq!(sync_percent(p, 2), None);
    }

    #[test]
    fn counts_online_nodes() {
        let xml = r#"<pacemaker-result><summary/><nodes><node name="a" online="true"/><node name="b" online="false"/></nodes><status code="0" message="OK"/></pacemaker-result>"#;
        assert_eq!(online_nodes(xml), 1);
        assert_eq!(online_nodes("garbage"), 0);
        // Pacemaker not running: a well-formed answer, nobody online.
        let down =
            r#"<pacemaker-result><status code="102" message="Not connected"/></pacemaker-result>"#;
        assert_eq!(online_nodes(down), 0);
    }
}
