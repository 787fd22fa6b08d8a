//! Child processes and cleanup: every long-lived child (QEMU, sipp, an ssh writer)
//! starts in a process group of its own that is registered here; [`cleanup`] kills
//! every registered group with SIGKILL and runs the registered teardown commands
//! (network namespaces, taps). It runs on normal exit, on panic (hook) and on
//! SIGINT/SIGTERM/SIGHUP (signal thread), and it is idempotent.
//! Children also get PR_SET_PDEATHSIG, so a SIGKILL of the harness itself (which no
//! handler can catch) still takes QEMU down with it.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long cleanup waits for the killed children to exit before it removes the
/// namespaces: QEMU's taps close with it.
const EXIT_WAIT: Duration = Duration::from_secs(5);
const EXIT_POLL: Duration = Duration::from_millis(20);

struct Registry {
    groups: Vec<i32>,
    /// Teardown commands (argv), run last-registered first.
    teardown: Vec<Vec<String>>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    groups: Vec::new(),
    teardown: Vec::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// A child in its own process group; dropping it kills the group.
pub struct Group {
    pub child: Child,
    pub pgid: i32,
    pub what: String,
}

impl Group {
    /// Spawns `cmd` as the leader of a new process group and registers the group.
    pub fn spawn(what: &str, mut cmd: Command) -> io::Result<Group> {
        cmd.process_group(0);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        let pgid = child.id() as i32;
        registry().groups.push(pgid);
        Ok(Group {
            child,
            pgid,
            what: what.to_string(),
        })
    }

    /// SIGKILL to the whole group (a hard power-off for QEMU), then reap.
    pub fn kill(&mut self) {
        kill_group(self.pgid);
        let _ = self.child.wait();
        registry().groups.retain(|g| *g != self.pgid);
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: plain syscall; a stale group id at worst gets ESRCH.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Registers a command that undoes something the harness created.
pub fn on_cleanup(argv: &[&str]) {
    registry()
        .teardown
        .push(argv.iter().map(|s| s.to_string()).collect());
}

/// Kills every registered group, then runs the teardown commands in reverse order.
pub fn cleanup() {
    let (groups, teardown) = {
        let mut r = registry();
        (
            std::mem::take(&mut r.groups),
            std::mem::take(&mut r.teardown),
        )
    };
    for g in &groups {
        kill_group(*g);
    }
    let _ = crate::retry_until(Instant::now() + EXIT_WAIT, EXIT_POLL, || {
        groups.iter().all(|&g| exited(g)).then_some(()).ok_or(())
    });
    for argv in teardown.iter().rev() {
        let _ = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Whether process `pid` has exited: gone, or a zombie (an exited process has
/// closed its files, QEMU's taps among them, before it becomes one).
fn exited(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Installs the panic hook and the signal thread that run [`cleanup`].
pub fn install_handlers() -> io::Result<()> {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        cleanup();
    }));
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            eprintln!("vm-tests: signal {sig}: killing VMs and removing the lab");
            cleanup();
            std::process::exit(128 + sig);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_a_group_kills_its_grandchildren_too() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 300 & echo $!; wait"])
            .stdout(std::process::Stdio::piped());
        let mut g = Group::spawn("sleeper", cmd).expect("spawn sh");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(g.child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read pid");
        let grandchild: i32 = line.trim().parse().expect("pid");
        drop(g);
        // SIGKILL is delivered at once but the exit is asynchronous.
        let gone = crate::wait_until(
            Duration::from_secs(5),
            Duration::from_millis(50),
            "the grandchild gone with its group",
            &String::new,
            || Ok(exited(grandchild)),
        );
        assert!(gone.is_ok(), "grandchild {grandchild} survived its group");
    }
}
