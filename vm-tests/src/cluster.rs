//! A pair of node VMs in a lab: boot, form the cluster, ask who holds what.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Error;
use crate::engines::EngineHome;
use crate::lab::Lab;
use crate::ssh::Ssh;
use crate::vm::{Accel, Vm, VmSpec};

pub const VIP: &str = "172.30.0.100";
pub const SIP_TARGET: &str = "172.30.0.100:5060";
pub const DRBD_DISK_MIB: u64 = 512;
const SSH_T: Duration = Duration::from_secs(30);

/// This boot's log lines that explain a cluster's decisions: failed or timed-out
/// operations, fencing, membership changes, DRBD state changes.
const EVIDENCE_LOG: &str = "journalctl -b -q --no-pager -o short-precise -p notice \
    | grep -E 'pacemaker|corosync|stonith|fence|drbd|Filesystem|IPaddr2|heartbeat|ResourceManager|asterisk|mariadb' \
    | grep -vE 'pbx-vm-probe|sshd' | tail -n 70";

pub struct Pair {
    /// Dropped before the lab: it listens inside the lab's namespace.
    _switch: crate::fence::Switch,
    pub power: crate::fence::Power,
    pub lab: Lab,
    pub vms: Vec<Vm>,
    pub ssh: Ssh,
    pub accel: Accel,
    pub engine: &'static dyn EngineHome,
    pub services: Vec<String>,
    pub logs: PathBuf,
}

/// The two nodes' VMs; `label` names their disks and logs in `work` (the engine,
/// prefixed by the mode when it is not active/passive).
pub fn specs(images: &Path, work: &Path, label: &str) -> Vec<VmSpec> {
    (1..=2)
        .map(|i| VmSpec {
            name: format!("node{i}"),
            addr: format!("172.30.0.1{i}"),
            hb_addr: format!("172.31.0.1{i}"),
            image: images.join(format!("node{i}.qcow2")),
            overlay: work.join(format!("{label}-node{i}.qcow2")),
            drbd_disk: work.join(format!("{label}-node{i}-drbd.qcow2")),
            tap_fe: format!("tfe{i}"),
            tap_hb: format!("thb{i}"),
            mac_fe: format!("52:54:00:30:00:1{i}"),
            mac_hb: format!("52:54:00:31:00:1{i}"),
            serial_log: work.join(format!("{label}-node{i}.serial.log")),
            monitor: work.join(format!("{label}-node{i}.mon")),
            memory_mib: 1024,
        })
        .collect()
}

impl Pair {
    pub fn new(
        specs: Vec<VmSpec>,
        key: PathBuf,
        accel: Accel,
        engine: &'static dyn EngineHome,
        logs: PathBuf,
    ) -> Result<Pair, Error> {
        let taps: Vec<(String, &str)> = specs
            .iter()
            .flat_map(|s| [(s.tap_fe.clone(), "br-fe"), (s.tap_hb.clone(), "br-hb")])
            .collect();
        let tap_refs: Vec<(&str, &str)> = taps.iter().map(|(t, b)| (t.as_str(), *b)).collect();
        let lab = Lab::create(&tap_refs)?;
        let power = crate::fence::Power::default();
        for s in &specs {
            power.set(&s.name, None);
        }
        let switch = crate::fence::Switch::start(&lab.ns, power.clone())?;
        let control_dir = key.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let ssh = Ssh::new(lab.ns.clone(), key, control_dir);
        Ok(Pair {
            _switch: switch,
            power,
            lab,
            vms: specs.into_iter().map(Vm::new).collect(),
            ssh,
            accel,
            engine,
            services: vec!["asterisk".into()],
            logs,
        })
    }

    pub fn name(&self, i: usize) -> &str {
        &self.vms[i].spec.name
    }

    /// The names of nodes `idx`, for a check's detail.
    pub fn names(&self, idx: &[usize]) -> Vec<&str> {
        idx.iter().map(|&i| self.name(i)).collect()
    }

    pub fn addr(&self, i: usize) -> String {
        self.vms[i].spec.addr.clone()
    }

    /// Both serial logs' last lines, for timeouts.
    pub fn diag(&self) -> String {
        self.vms
            .iter()
            .map(|v| {
                format!(
                    "--- {} serial log ({}), last lines:\n{}",
                    v.spec.name,
                    v.spec.serial_log.display(),
                    v.serial_tail(15)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn wait(
        &self,
        timeout: Duration,
        what: &str,
        cond: impl FnMut() -> Result<bool, Error>,
    ) -> Result<Duration, Error> {
        let r = crate::wait_until(
            timeout,
            Duration::from_millis(1000),
            what,
            &|| self.diag(),
            cond,
        );
        if r.is_err() {
            self.explain(what);
        }
        r
    }

    /// A failure's evidence on stderr, where a CI log keeps it (the report folder
    /// goes with the machine): each node's cluster state and its last cluster log
    /// lines (failed operations, fencing, membership, DRBD).
    pub fn explain(&self, why: &str) {
        eprintln!("vm-tests: --- evidence for: {why}");
        for i in 0..2 {
            let name = self.name(i);
            let state = self.state_dump(i);
            let log = self.sh(i, EVIDENCE_LOG).stdout_str();
            if state.trim().is_empty() && log.trim().is_empty() {
                eprintln!("vm-tests: --- {name}: no answer over ssh (off or still booting)");
                continue;
            }
            eprintln!("vm-tests: --- {name}: cluster state\n{}", state.trim_end());
            eprintln!(
                "vm-tests: --- {name}: cluster log, last lines\n{}",
                log.trim_end()
            );
        }
        eprintln!("vm-tests: --- end of evidence");
    }

    pub fn sh(&self, i: usize, script: &str) -> pbx_cluster::exec::Output {
        self.ssh.run(&self.addr(i), script, SSH_T)
    }

    /// The node's cluster view for a failure's log: engine status, constraints
    /// (a left-over DRBD fencing constraint blocks every promotion), DRBD, group.
    pub fn state_dump(&self, i: usize) -> String {
        let script = format!(
            "{}; echo '--- services'; systemctl --no-pager is-active {} 2>&1",
            self.engine.state_script(),
            self.services.join(" ")
        );
        let out = self.sh(i, &script);
        format!(
            "{}{}",
            out.stdout_str(),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    pub fn check(&self, i: usize, script: &str) -> Result<String, Error> {
        self.ssh.check(&self.addr(i), script, SSH_T)
    }

    pub fn boot(&mut self, i: usize) -> Result<(), Error> {
        self.start(i, None)
    }

    fn start(&mut self, i: usize, loadvm: Option<&str>) -> Result<(), Error> {
        let ns = self.lab.ns.clone();
        let accel = self.accel;
        self.vms[i].start(&ns, accel, loadvm)?;
        self.power.set(&self.vms[i].spec.name, self.vms[i].pgid());
        Ok(())
    }

    /// Saves both running guests as snapshot `name` (RAM, devices, both disks).
    /// Both are stopped first and resumed together: the guests' clocks stand still
    /// while stopped, so neither sees its peer fall silent.
    pub fn snapshot(&mut self, name: &str) -> Result<Duration, Error> {
        let t = Instant::now();
        let quick = Duration::from_secs(30);
        let all: Vec<&Vm> = self.vms.iter().collect();
        crate::vm::hmp_all(&all, "stop", quick)?;
        for v in &self.vms {
            v.hmp(&format!("savevm {name}"), Duration::from_secs(300))?;
        }
        crate::vm::hmp_all(&all, "cont", quick)?;
        let took = t.elapsed();
        eprintln!(
            "vm-tests: snapshot {name} of both nodes saved in {:.1}s",
            took.as_secs_f64()
        );
        Ok(took)
    }

    /// Both guests back to snapshot `name`, whatever happened since (a node killed,
    /// fenced or cut off): both QEMUs restart paused in it, then resume together.
    pub fn restore(&mut self, name: &str) -> Result<Duration, Error> {
        let t = Instant::now();
        for v in &mut self.vms {
            v.kill();
            self.power.set(&v.spec.name, None);
            self.ssh.forget(&v.spec.addr);
        }
        for tap in self
            .vms
            .iter()
            .flat_map(|v| [v.spec.tap_fe.clone(), v.spec.tap_hb.clone()])
            .collect::<Vec<_>>()
        {
            self.lab.set_link(&tap, true)?;
        }
        for i in 0..self.vms.len() {
            self.start(i, Some(name))?;
        }
        let all: Vec<&Vm> = self.vms.iter().collect();
        // The monitors answer once the snapshot is loaded.
        crate::vm::hmp_all(&all, "info status", Duration::from_secs(300))?;
        crate::vm::hmp_all(&all, "cont", Duration::from_secs(30))?;
        let took = t.elapsed();
        eprintln!(
            "vm-tests: both nodes restored to snapshot {name} in {:.1}s",
            took.as_secs_f64()
        );
        Ok(took)
    }

    /// kill -9 of node `i`'s QEMU: a hard crash, no goodbye to the peer.
    pub fn crash(&mut self, i: usize) {
        self.vms[i].kill();
        self.power.set(&self.vms[i].spec.name, None);
        self.ssh.forget(&self.vms[i].spec.addr);
    }

    pub fn fresh(&mut self) -> Result<(), Error> {
        for v in &mut self.vms {
            v.kill();
            self.ssh.forget(&v.spec.addr);
            self.power.set(&v.spec.name, None);
            v.spec.fresh_disks(DRBD_DISK_MIB)?;
        }
        Ok(())
    }

    pub fn wait_ssh(&self, i: usize, timeout: Duration) -> Result<Duration, Error> {
        let what = format!("{} answers ssh", self.name(i));
        self.wait(timeout, &what, || Ok(self.sh(i, "true").success()))
    }

    /// Which node has the virtual IP on its frontend NIC (None: nobody; both: error).
    /// Only eth0 counts: in load-balanced mode both nodes hold it on lo as well.
    pub fn vip_holders(&self) -> Vec<usize> {
        (0..self.vms.len()).filter(|&i| self.holds_vip(i)).collect()
    }

    /// Whether node `i` holds the virtual IP on eth0 (one ssh call: a look at a
    /// dead peer would wait out ssh's connect timeout).
    pub fn holds_vip(&self, i: usize) -> bool {
        self.sh(i, &format!("ip -o -4 addr show dev eth0 | grep -qw {VIP}"))
            .success()
    }

    /// The DRBD 8.4 state line of r0 ("cs:Connected ro:Primary/Secondary ds:...").
    pub fn drbd(&self, i: usize) -> String {
        self.sh(i, "sed -n 's/^ *0: //p' /proc/drbd")
            .stdout_str()
            .trim()
            .to_string()
    }

    pub fn drbd_healthy(&self, i: usize) -> bool {
        let s = self.drbd(i);
        s.contains("cs:Connected") && s.contains("ds:UpToDate/UpToDate")
    }

    /// The modules modules.conf tells Asterisk on node `i` to load that are not
    /// running there (a wrong name is loaded by nobody and says so only in the log).
    pub fn modules_not_running(&self, i: usize) -> Result<Vec<String>, Error> {
        let out = self.check(
            i,
            "all=$(asterisk -rx 'module show') && \
             for m in $(sed -n 's/^load = //p' /etc/asterisk/modules.conf); do \
               echo \"$all\" | grep -q \"^$m .*Running\" || echo \"$m\"; done",
        )?;
        Ok(out.split_whitespace().map(str::to_string).collect())
    }

    pub fn sip_ok(&self) -> bool {
        crate::sip::options_once(&self.lab, SIP_TARGET, Duration::from_millis(1000))
            .ok()
            .flatten()
            .is_some()
    }

    /// Whether the peer of node `i` may be promoted (the engine's view, asked on `i`).
    pub fn promotable_anywhere(&self, i: usize) -> bool {
        self.engine.promotable_anywhere(self, i)
    }

    /// Healthy: one VIP holder, it answers SIP, DRBD Connected and UpToDate on both,
    /// and nothing keeps the standby from taking over.
    pub fn healthy(&self) -> Result<Option<usize>, Error> {
        let h = self.vip_holders();
        if h.len() == 1
            && self.sip_ok()
            && self.drbd_healthy(0)
            && self.drbd_healthy(1)
            && self.promotable_anywhere(h[0])
        {
            Ok(Some(h[0]))
        } else {
            Ok(None)
        }
    }

    pub fn wait_healthy(&self, timeout: Duration, what: &str) -> Result<usize, Error> {
        let mut holder = None;
        self.wait(timeout, what, || {
            holder = self.healthy()?;
            Ok(holder.is_some())
        })?;
        Ok(holder.unwrap_or(0))
    }

    /// Boots both nodes of a fresh pair and lets them form the cluster through the
    /// first-boot `pbx-cluster init`; returns seconds from power-on to healthy.
    pub fn cold_start(&mut self) -> Result<f64, Error> {
        self.fresh()?;
        let t0 = Instant::now();
        self.boot(0)?;
        self.boot(1)?;
        // A first boot may be slow without anything being wrong (238 s to ssh
        // seen on a fresh machine under TCG): bounds far above what was measured.
        self.wait_ssh(0, Duration::from_secs(900))?;
        self.wait_ssh(1, Duration::from_secs(600))?;
        // The cluster forms through the product's own first boot, nothing else.
        if !self
            .sh(0, "pbx-cluster init --help >/dev/null 2>&1")
            .success()
        {
            return Err(Error::NoInit {
                node: self.name(0).to_string(),
            });
        }
        // init itself waits up to 15 min for its peer.
        self.wait(
            Duration::from_secs(1200),
            "first-boot init done on both nodes",
            || {
                Ok((0..2).all(|i| {
                    self.sh(i, "test -e /var/lib/pbx-cluster/firstboot.done")
                        .success()
                }))
            },
        )?;
        self.wait_healthy(
            Duration::from_secs(420),
            "cluster formed: VIP up, SIP answers, DRBD UpToDate/UpToDate",
        )?;
        Ok(t0.elapsed().as_secs_f64())
    }

    /// Guest clock minus host clock (seconds), from the midpoint of an ssh `date`.
    pub fn clock_offset(&self, i: usize) -> Option<f64> {
        let before = now_epoch();
        let out = self.sh(i, "date +%s.%N").stdout_str();
        let after = now_epoch();
        let guest: f64 = out.trim().parse().ok()?;
        Some(guest - (before + after) / 2.0)
    }

    /// The guest's journal since `since` (guest epoch seconds), short-unix format.
    pub fn journal(&self, i: usize, since: f64) -> String {
        self.ssh
            .run(
                &self.addr(i),
                &format!(
                    "journalctl -q -o short-unix --no-pager --since=@{}",
                    since as i64
                ),
                Duration::from_secs(60),
            )
            .stdout_str()
    }

    /// Saves a node's journal into the report's log folder, and its previous
    /// boot's when the journal keeps one: a node that rebooted by itself (a
    /// self-fence) tells why only there.
    pub fn save_journal(&self, i: usize, label: &str) {
        let _ = std::fs::create_dir_all(&self.logs);
        for (boot, suffix) in [("-b", "journal"), ("-b -1", "previous-boot.journal")] {
            let out = self
                .ssh
                .run(
                    &self.addr(i),
                    &format!("journalctl -q -o short-unix --no-pager {boot} 2>/dev/null"),
                    Duration::from_secs(60),
                )
                .stdout_str();
            if out.is_empty() && suffix != "journal" {
                continue;
            }
            let _ = std::fs::write(
                self.logs.join(format!(
                    "{}-{label}-{}.{suffix}",
                    self.engine.name(),
                    self.name(i)
                )),
                out,
            );
        }
    }
}

pub fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_follow_the_lab_profile() {
        let s = specs(Path::new("/img"), Path::new("/w"), "heartbeat");
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].addr, "172.30.0.12");
        assert_eq!(s[1].hb_addr, "172.31.0.12");
        assert_eq!(s[0].image, PathBuf::from("/img/node1.qcow2"));
        assert_eq!(s[0].overlay, PathBuf::from("/w/heartbeat-node1.qcow2"));
        assert_ne!(s[0].mac_fe, s[1].mac_fe);
    }
}
