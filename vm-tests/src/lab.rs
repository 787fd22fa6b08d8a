//! The isolated lab: a network namespace of the harness with two bridges (frontend,
//! heartbeat; STP off, forward delay 0), one tap per VM per bridge, the harness's own
//! address on the frontend bridge, and an observer host in a second namespace
//! attached to the frontend bridge by a veth pair. Nothing is routed anywhere else:
//! the namespaces have no default route and no link to the host's interfaces.

use std::time::Duration;

use pbx_cluster::exec::{Cmd, LocalRunner, Output, Runner};

use crate::Error;

pub const HARNESS_ADDR: &str = "172.30.0.1";
pub const OBSERVER_ADDR: &str = "172.30.0.50";
pub const PREFIX: u8 = 24;

pub struct Lab {
    /// The harness's namespace (bridges, taps, harness address, QEMU, ssh, probes).
    pub ns: String,
    /// The observer host's namespace.
    pub obs: String,
}

/// Runs a command and fails with its argv, exit status and stderr tail.
pub fn run(cmd: Cmd) -> Result<Output, Error> {
    let cmd = if cmd.timeout.is_none() {
        cmd.timeout(Duration::from_secs(60))
    } else {
        cmd
    };
    LocalRunner.run(&cmd).map_err(Error::Exec)
}

fn ip(args: &[&str]) -> Result<(), Error> {
    run(Cmd::new("ip").args(args.iter().copied())).map(|_| ())
}

impl Lab {
    /// Names unique to this process, so two harnesses never share a lab.
    pub fn names() -> (String, String) {
        let pid = std::process::id();
        (format!("pbxvm{pid}"), format!("pbxvm{pid}obs"))
    }

    pub fn create(taps: &[(&str, &str)]) -> Result<Lab, Error> {
        let (ns, obs) = Lab::names();
        ip(&["netns", "add", &ns])?;
        crate::procs::on_cleanup(&["ip", "netns", "del", &ns]);
        ip(&["netns", "add", &obs])?;
        crate::procs::on_cleanup(&["ip", "netns", "del", &obs]);
        let lab = Lab { ns, obs };
        lab.build(taps)?;
        Ok(lab)
    }

    fn build(&self, taps: &[(&str, &str)]) -> Result<(), Error> {
        let n = self.ns.as_str();
        ip(&["-n", n, "link", "set", "lo", "up"])?;
        for br in ["br-fe", "br-hb"] {
            ip(&[
                "-n",
                n,
                "link",
                "add",
                br,
                "type",
                "bridge",
                "stp_state",
                "0",
                "forward_delay",
                "0",
            ])?;
            ip(&["-n", n, "link", "set", br, "up"])?;
        }
        let addr = format!("{HARNESS_ADDR}/{PREFIX}");
        ip(&["-n", n, "addr", "add", &addr, "dev", "br-fe"])?;
        // (tap, bridge): taps are persistent so QEMU opens them by name.
        for (tap, br) in taps {
            ip(&["-n", n, "tuntap", "add", tap, "mode", "tap"])?;
            ip(&["-n", n, "link", "set", tap, "master", br, "up"])?;
        }
        // Observer: veth into the other namespace.
        ip(&[
            "-n", n, "link", "add", "obs-br", "type", "veth", "peer", "name", "obs0", "netns",
            &self.obs,
        ])?;
        ip(&["-n", n, "link", "set", "obs-br", "master", "br-fe", "up"])?;
        let o = self.obs.as_str();
        ip(&["-n", o, "link", "set", "lo", "up"])?;
        let oaddr = format!("{OBSERVER_ADDR}/{PREFIX}");
        ip(&["-n", o, "addr", "add", &oaddr, "dev", "obs0"])?;
        ip(&["-n", o, "link", "set", "obs0", "up"])?;
        Ok(())
    }

    /// A command to run inside the harness namespace.
    pub fn cmd(&self, program: &str) -> Cmd {
        Cmd::new("ip").args(["netns", "exec", &self.ns, program])
    }

    pub fn obs_cmd(&self, program: &str) -> Cmd {
        Cmd::new("ip").args(["netns", "exec", &self.obs, program])
    }

    /// Brings a tap up or down (a cut cable as far as the guest's peer can tell).
    pub fn set_link(&self, tap: &str, up: bool) -> Result<(), Error> {
        ip(&[
            "-n",
            &self.ns,
            "link",
            "set",
            tap,
            if up { "up" } else { "down" },
        ])
    }

    /// Runs `f` on a thread that has entered the harness namespace, so library code
    /// (the SIP probe) opens its sockets there.
    pub fn in_ns<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<std::thread::JoinHandle<T>, Error> {
        let path = format!("/run/netns/{}", self.ns);
        let file = std::fs::File::open(&path).map_err(|source| Error::Namespace {
            path: path.clone(),
            source,
        })?;
        Ok(std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            // SAFETY: setns on this thread only; the fd is valid for the call.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns into the lab namespace failed");
            f()
        }))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        crate::procs::cleanup();
    }
}
