//! One QEMU guest: its disks (a copy-on-write overlay of the node's image and a
//! qcow2 DRBD backing disk), two virtio NICs on the lab's taps, a serial log, a
//! human monitor socket (stop, savevm, cont: see [`crate::cluster::Pair::snapshot`]).
//! QEMU runs in the lab namespace in a process group of its own (see
//! [`crate::procs`]); `kill` is kill -9 of that group, i.e. pulling the power cord.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Error;
use crate::error::MonitorError;
use crate::procs::Group;

/// Between attempts to connect to a starting QEMU's monitor socket.
const MONITOR_RETRY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

#[derive(Debug, Clone)]
pub struct VmSpec {
    pub name: String,
    /// Frontend and heartbeat addresses (from the profile).
    pub addr: String,
    pub hb_addr: String,
    pub image: PathBuf,
    pub overlay: PathBuf,
    pub drbd_disk: PathBuf,
    pub tap_fe: String,
    pub tap_hb: String,
    pub mac_fe: String,
    pub mac_hb: String,
    pub serial_log: PathBuf,
    /// QEMU's human monitor (a unix socket).
    pub monitor: PathBuf,
    pub memory_mib: u32,
}

impl VmSpec {
    /// QEMU's argv after the program name. One vCPU: the host has two cores and
    /// runs two guests. Disks first so the overlay is vda and DRBD's disk vdb; the
    /// frontend NIC first so it is eth0.
    /// With `loadvm`, QEMU starts paused in that snapshot (RAM, devices and both
    /// disks as they were); `cont` on the monitor resumes it.
    pub fn qemu_args(&self, accel: Accel, loadvm: Option<&str>) -> Vec<String> {
        let mut a: Vec<String> = vec!["-name".into(), self.name.clone()];
        match accel {
            Accel::Kvm => a.extend(["-accel", "kvm", "-cpu", "host"].map(String::from)),
            // QEMU's default code cache (1 GiB): the lab notes' 256 MiB saves host RAM
            // but is flushed and refilled under load, which stalled guests for
            // seconds (Heartbeat saw its own packets 5 s late and fenced a live
            // peer); 24 GiB of host RAM hold two guests with the default.
            Accel::Tcg => a.extend(["-accel", "tcg,thread=multi", "-cpu", "max"].map(String::from)),
        }
        a.extend([
            "-smp".into(),
            "1".into(),
            "-m".into(),
            self.memory_mib.to_string(),
            "-nodefaults".into(),
            "-display".into(),
            "none".into(),
            "-monitor".into(),
            format!("unix:{},server=on,wait=off", self.monitor.display()),
            "-drive".into(),
            format!(
                "file={},if=virtio,format=qcow2,cache=unsafe",
                self.overlay.display()
            ),
            // DRBD's disk honours flushes: protocol C's acknowledgement means on disk.
            // qcow2, so that savevm can snapshot it with the rest.
            "-drive".into(),
            format!(
                "file={},if=virtio,format=qcow2,cache=writeback",
                self.drbd_disk.display()
            ),
            "-netdev".into(),
            format!("tap,id=fe,ifname={},script=no,downscript=no", self.tap_fe),
            "-device".into(),
            format!("virtio-net-pci,netdev=fe,mac={}", self.mac_fe),
            "-netdev".into(),
            format!("tap,id=hb,ifname={},script=no,downscript=no", self.tap_hb),
            "-device".into(),
            format!("virtio-net-pci,netdev=hb,mac={}", self.mac_hb),
            "-chardev".into(),
            format!("file,id=ser0,path={},append=on", self.serial_log.display()),
            "-serial".into(),
            "chardev:ser0".into(),
            "-device".into(),
            "virtio-rng-pci".into(),
        ]);
        if let Some(name) = loadvm {
            a.extend(["-loadvm".into(), name.to_string(), "-S".into()]);
        }
        a
    }

    /// Fresh disks: a new overlay on the image and an empty (zero) DRBD disk.
    pub fn fresh_disks(&self, drbd_mib: u64) -> Result<(), Error> {
        for p in [&self.overlay, &self.drbd_disk, &self.serial_log] {
            let _ = std::fs::remove_file(p);
        }
        crate::lab::run(pbx_cluster::exec::Cmd::new("qemu-img").args([
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            &self.image.display().to_string(),
            "-F",
            "qcow2",
            &self.overlay.display().to_string(),
        ]))?;
        crate::lab::run(pbx_cluster::exec::Cmd::new("qemu-img").args([
            "create".to_string(),
            "-q".into(),
            "-f".into(),
            "qcow2".into(),
            self.drbd_disk.display().to_string(),
            format!("{drbd_mib}M"),
        ]))?;
        Ok(())
    }
}

pub struct Vm {
    pub spec: VmSpec,
    proc: Option<Group>,
    /// When the current QEMU started (for boot times).
    pub started: Option<std::time::Instant>,
}

impl Vm {
    pub fn new(spec: VmSpec) -> Vm {
        Vm {
            spec,
            proc: None,
            started: None,
        }
    }

    pub fn start(&mut self, ns: &str, accel: Accel, loadvm: Option<&str>) -> Result<(), Error> {
        if self.proc.as_mut().is_some_and(Group::running) {
            return Err(Error::AlreadyRunning {
                node: self.spec.name.clone(),
            });
        }
        // A QEMU the lab's power switch killed: reap it before the next boot.
        self.proc = None;
        let _ = std::fs::remove_file(&self.spec.monitor);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, "qemu-system-x86_64"])
            .args(self.spec.qemu_args(accel, loadvm))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.spec.serial_log.with_extension("qemu.err"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            );
        let g = Group::spawn(&format!("qemu {}", self.spec.name), cmd).map_err(|source| {
            Error::Spawn {
                what: format!("QEMU for {}", self.spec.name),
                source,
            }
        })?;
        self.proc = Some(g);
        self.started = Some(std::time::Instant::now());
        Ok(())
    }

    /// kill -9 of QEMU's process group: the guest gets no chance to say goodbye.
    pub fn kill(&mut self) {
        if let Some(mut g) = self.proc.take() {
            g.kill();
        }
    }

    /// SIGSTOP (`true`) or SIGCONT of QEMU's process group: a node that stops
    /// answering without dying (a hung host, a long pause), then goes on.
    pub fn freeze(&self, frozen: bool) {
        if let Some(pgid) = self.pgid().filter(|p| *p > 1) {
            let sig = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
            // SAFETY: plain syscall; a group that is gone at worst gets ESRCH.
            unsafe {
                libc::kill(-pgid, sig);
            }
        }
    }

    /// QEMU's process group while it runs (the lab's power switch kills it).
    pub fn pgid(&self) -> Option<i32> {
        self.proc.as_ref().map(|g| g.pgid)
    }

    pub fn running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(Group::running)
    }

    pub fn serial_tail(&self, n: usize) -> String {
        serial_tail(&self.spec.serial_log, n)
    }

    /// One human-monitor command; returns what QEMU printed before its next
    /// prompt. Waits (bounded) for the socket of a QEMU that is starting.
    pub fn hmp(&self, command: &str, timeout: Duration) -> Result<String, Error> {
        hmp_all(&[self], command, timeout).map(|mut a| a.remove(0))
    }
}

/// A connection to one QEMU's human monitor, past its banner.
struct Monitor {
    name: String,
    sock: UnixStream,
}

impl Monitor {
    /// Connects for `command` (named in an error).
    fn connect(vm: &Vm, command: &str, deadline: Instant) -> Result<Monitor, Error> {
        let sock = crate::retry_until(deadline, MONITOR_RETRY, || {
            UnixStream::connect(&vm.spec.monitor)
        })
        .map_err(|e| Error::Monitor {
            node: vm.spec.name.clone(),
            command: command.to_string(),
            problem: MonitorError::Connect(e),
        })?;
        let mut m = Monitor {
            name: vm.spec.name.clone(),
            sock,
        };
        m.sock
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| m.err(command, MonitorError::Io(e)))?;
        m.until_prompt(command, deadline)?;
        Ok(m)
    }

    fn err(&self, command: &str, problem: MonitorError) -> Error {
        Error::Monitor {
            node: self.name.clone(),
            command: command.to_string(),
            problem,
        }
    }

    fn until_prompt(&mut self, command: &str, deadline: Instant) -> Result<String, Error> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if String::from_utf8_lossy(&got).ends_with("(qemu) ") {
                return Ok(String::from_utf8_lossy(&got).into_owned());
            }
            if Instant::now() >= deadline {
                return Err(self.err(command, MonitorError::NoPrompt));
            }
            match self.sock.read(&mut buf) {
                Ok(0) => return Err(self.err(command, MonitorError::Closed)),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(self.err(command, MonitorError::Io(e))),
            }
        }
    }

    fn send(&mut self, command: &str) -> Result<(), Error> {
        self.sock
            .write_all(format!("{command}\n").as_bytes())
            .map_err(|e| self.err(command, MonitorError::Io(e)))
    }

    fn answer(&mut self, command: &str, deadline: Instant) -> Result<String, Error> {
        let out = self.until_prompt(command, deadline)?;
        // The monitor echoes the command line; what follows it is the answer.
        let answer = out
            .rsplit_once(command)
            .map(|(_, a)| a)
            .unwrap_or(&out)
            .trim_end_matches("(qemu) ")
            .trim()
            .to_string();
        if answer.to_lowercase().contains("error") {
            return Err(self.err(command, MonitorError::Refused(answer)));
        }
        Ok(answer)
    }
}

/// The same monitor command to several guests at (nearly) the same instant: all
/// monitors are connected first, then the command goes to each back to back. A
/// pair stopped this way has (almost) no packet in flight between its guests.
pub fn hmp_all(vms: &[&Vm], command: &str, timeout: Duration) -> Result<Vec<String>, Error> {
    let deadline = Instant::now() + timeout;
    let mut monitors = vms
        .iter()
        .map(|v| Monitor::connect(v, command, deadline))
        .collect::<Result<Vec<_>, _>>()?;
    for m in &mut monitors {
        m.send(command)?;
    }
    monitors
        .iter_mut()
        .map(|m| m.answer(command, deadline))
        .collect()
}

/// The last `n` non-empty lines of a serial log, control characters removed.
pub fn serial_tail(path: &Path, n: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text: String = String::from_utf8_lossy(&bytes)
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The serial log's lines that contain any of `needles` (the last `n` of them),
/// control characters removed: why a boot went the way it did.
pub fn serial_lines(path: &Path, needles: &[&str], n: usize) -> String {
    let text = serial_tail(path, usize::MAX);
    let hits: Vec<&str> = text
        .lines()
        .filter(|l| needles.iter().any(|k| l.contains(k)))
        .collect();
    hits[hits.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_lines_keeps_only_the_lines_that_name_the_thing() {
        let d = std::env::temp_dir().join(format!("serial-lines-{}", std::process::id()));
        std::fs::write(
            &d,
            "[  40.8] Expecting device /dev/disk/by-label/PBXBOOT...\r\n\x1b[0mlogin:\n[ 94.0] Mounted /boot/pbx-boot.\n",
        )
        .unwrap();
        let got = serial_lines(&d, &["PBXBOOT", "pbx-boot"], 10);
        std::fs::remove_file(&d).unwrap();
        assert_eq!(
            got,
            "[  40.8] Expecting device /dev/disk/by-label/PBXBOOT...\n[ 94.0] Mounted /boot/pbx-boot."
        );
    }

    fn spec() -> VmSpec {
        VmSpec {
            name: "node1".into(),
            addr: "172.30.0.11".into(),
            hb_addr: "172.31.0.11".into(),
            image: "/i/node1.qcow2".into(),
            overlay: "/w/node1.qcow2".into(),
            drbd_disk: "/w/node1-drbd.qcow2".into(),
            tap_fe: "tfe1".into(),
            tap_hb: "thb1".into(),
            mac_fe: "52:54:00:30:00:11".into(),
            mac_hb: "52:54:00:31:00:11".into(),
            serial_log: "/w/node1.serial.log".into(),
            monitor: "/w/node1.mon".into(),
            memory_mib: 1024,
        }
    }

    #[test]
    fn tcg_guest_has_one_vcpu_overlay_first_frontend_nic_first() {
        let a = spec().qemu_args(Accel::Tcg, None);
        let j = a.join(" ");
        assert!(j.contains("-accel tcg,thread=multi -cpu max"));
        assert!(j.contains("-smp 1 -m 1024"));
        let overlay = j.find("file=/w/node1.qcow2").expect("overlay");
        let drbd = j
            .find("file=/w/node1-drbd.qcow2,if=virtio,format=qcow2")
            .expect("drbd disk");
        assert!(overlay < drbd);
        let fe = j.find("ifname=tfe1").expect("fe");
        let hb = j.find("ifname=thb1").expect("hb");
        assert!(fe < hb);
        assert!(j.contains("path=/w/node1.serial.log,append=on"));
        assert!(j.contains("-monitor unix:/w/node1.mon,server=on,wait=off"));
        assert!(!j.contains("-loadvm"));
    }

    #[test]
    fn a_snapshot_start_loads_it_paused() {
        let j = spec().qemu_args(Accel::Tcg, Some("healthy")).join(" ");
        assert!(j.ends_with("-loadvm healthy -S"), "{j}");
    }

    #[test]
    fn kvm_guest_uses_the_host_cpu() {
        let j = spec().qemu_args(Accel::Kvm, None).join(" ");
        assert!(j.contains("-accel kvm -cpu host") && !j.contains("tcg"));
    }

    #[test]
    fn serial_tail_drops_control_characters_and_blank_lines() {
        let dir = std::env::temp_dir().join(format!("vmt-serial-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.log");
        std::fs::write(&p, b"one\r\n\x1b[0mtwo\n\n three\n").unwrap();
        assert_eq!(serial_tail(&p, 2), "[0mtwo\n three");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
