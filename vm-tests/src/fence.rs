//! The lab's power switch: a TCP service on the harness's frontend address that
//! powers a node off by killing its QEMU, as an IPMI board or a PDU would. The
//! nodes' fence agents (lab/fence_pbxlab for Pacemaker, lab/pbxlab for Heartbeat's
//! STONITH) talk to it; one request per connection, one line each way:
//! `off NODE` / `reboot NODE` -> `OK off`, `status NODE` -> `ON` / `OFF`,
//! `list` -> node names, `ping` -> `PONG`, `on NODE` -> `ERR` (the harness boots).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::lab::HARNESS_ADDR;

pub const FENCE_PORT: u16 = 7099;

/// Between polls of the nonblocking listener: a dropped switch ends its thread
/// within this.
const ACCEPT_POLL: Duration = Duration::from_millis(50);

/// One request the switch served.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: Instant,
    pub from: String,
    pub request: String,
    pub reply: String,
}

/// Which node's QEMU process group is powered on; shared with the switch thread.
#[derive(Clone, Default)]
pub struct Power {
    groups: Arc<Mutex<BTreeMap<String, Option<i32>>>>,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Power {
    pub fn set(&self, node: &str, pgid: Option<i32>) {
        self.groups
            .lock()
            .expect("power table")
            .insert(node.to_string(), pgid);
    }

    pub fn events_since(&self, t: Instant) -> Vec<Event> {
        self.events
            .lock()
            .expect("fence events")
            .iter()
            .filter(|e| e.at >= t)
            .cloned()
            .collect()
    }

    fn answer(&self, request: &str) -> String {
        let mut words = request.split_whitespace();
        let (verb, node) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let mut groups = self.groups.lock().expect("power table");
        match verb {
            "ping" => "PONG".into(),
            "list" => groups.keys().cloned().collect::<Vec<_>>().join(" "),
            "status" | "off" | "reboot" if !groups.contains_key(node) => {
                format!("ERR unknown node {node:?}")
            }
            "status" => match groups.get(node) {
                Some(Some(pgid)) if alive(*pgid) => "ON".into(),
                _ => "OFF".into(),
            },
            "off" | "reboot" => {
                if let Some(Some(pgid)) = groups.get(node) {
                    // SAFETY: plain syscall on a process group the harness started.
                    unsafe {
                        libc::kill(-pgid, libc::SIGKILL);
                    }
                }
                groups.insert(node.to_string(), None);
                "OK off".into()
            }
            _ => format!("ERR unsupported request {request:?}"),
        }
    }
}

fn alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks that the group exists.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// The switch, listening inside the lab's network namespace until dropped.
pub struct Switch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Switch {
    pub fn start(ns: &str, power: Power) -> Result<Switch, crate::Error> {
        let path = format!("/run/netns/{ns}");
        let ns_file = std::fs::File::open(&path)
            .map_err(|source| crate::Error::Namespace { path, source })?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            // setns moves only this thread into the lab's namespace.
            // SAFETY: a valid namespace fd; affects the calling thread only.
            if unsafe { libc::setns(ns_file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                let _ = tx.send(Err(std::io::Error::last_os_error()));
                return;
            }
            let listener = match TcpListener::bind((HARNESS_ADDR, FENCE_PORT))
                .and_then(|l| l.set_nonblocking(true).map(|_| l))
            {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(Ok(()));
            accept_loop(&listener, &flag, &power);
        });
        rx.recv()
            .map_err(crate::Error::FenceSwitchThread)?
            .map_err(|source| crate::Error::FenceSwitch {
                addr: format!("{HARNESS_ADDR}:{FENCE_PORT}"),
                source,
            })?;
        Ok(Switch {
            stop,
            thread: Some(thread),
        })
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, power: &Power) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => serve(stream, &peer.ip().to_string(), power),
            // Nonblocking: poll, so that dropping the switch ends the thread.
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, from: &str, power: &Power) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    if BufReader::new(stream).read_line(&mut line).is_err() {
        return;
    }
    let request = line.trim().to_string();
    let reply = power.answer(&request);
    eprintln!("vm-tests:   fence switch: {from} asked {request:?}: {reply}");
    power.events.lock().expect("fence events").push(Event {
        at: Instant::now(),
        from: from.to_string(),
        request,
        reply: reply.clone(),
    });
    let _ = writeln!(writer, "{reply}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The switch on a loopback port, for the agents' tests.
    fn local_switch(power: Power) -> (Switch, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || accept_loop(&listener, &flag, &power));
        (
            Switch {
                stop,
                thread: Some(thread),
            },
            port,
        )
    }

    fn agent(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("lab")
            .join(name)
    }

    fn sleeper() -> std::process::Child {
        use std::os::unix::process::CommandExt;
        std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap()
    }

    #[test]
    fn the_lab_agents_power_a_node_off_through_the_switch() {
        let power = Power::default();
        let mut n1 = sleeper();
        let mut n2 = sleeper();
        power.set("node1", Some(n1.id() as i32));
        power.set("node2", Some(n2.id() as i32));
        let (_switch, port) = local_switch(power.clone());

        // Pacemaker's way: name=value lines on stdin.
        let fence = |input: String| {
            let mut c = std::process::Command::new(agent("fence_pbxlab"))
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            c.wait_with_output().unwrap()
        };
        let base = format!("ipaddr=127.0.0.1\nipport={port}\n");
        let meta = fence(format!("action=metadata\n{base}"));
        assert!(
            String::from_utf8_lossy(&meta.stdout).contains("<resource-agent name=\"fence_pbxlab\"")
        );
        assert_eq!(
            fence(format!("action=monitor\n{base}")).status.code(),
            Some(0)
        );
        assert_eq!(
            fence(format!("action=status\nport=node1\n{base}"))
                .status
                .code(),
            Some(0)
        );
        assert_eq!(
            fence(format!("action=reboot\nport=node1\n{base}"))
                .status
                .code(),
            Some(0)
        );
        assert!(!n1.wait().unwrap().success());
        assert_eq!(
            fence(format!("action=status\nport=node1\n{base}"))
                .status
                .code(),
            Some(2)
        );
        assert_eq!(
            fence(format!("action=off\nport=node9\n{base}"))
                .status
                .code(),
            Some(1)
        );

        // Heartbeat's way: a cluster-glue external plugin, parameters in the environment.
        let plugin = |args: &[&str]| {
            std::process::Command::new(agent("pbxlab"))
                .args(args)
                .env("hostlist", "node2")
                .env("ipaddr", "127.0.0.1")
                .env("ipport", port.to_string())
                .output()
                .unwrap()
        };
        assert_eq!(
            String::from_utf8_lossy(&plugin(&["getconfignames"]).stdout).trim(),
            "hostlist ipaddr ipport"
        );
        assert_eq!(
            String::from_utf8_lossy(&plugin(&["gethosts"]).stdout).trim(),
            "node2"
        );
        assert!(plugin(&["status"]).status.success());
        assert!(plugin(&["reset", "node2"]).status.success());
        assert!(!n2.wait().unwrap().success());
        let asked: Vec<String> = power
            .events_since(Instant::now() - Duration::from_secs(60))
            .into_iter()
            .map(|e| e.request)
            .collect();
        assert!(
            asked.contains(&"reboot node1".to_string()) && asked.contains(&"off node2".to_string()),
            "{asked:?}"
        );
    }

    #[test]
    fn the_switch_powers_off_only_known_nodes_and_reports_state() {
        let p = Power::default();
        // A real process group to kill: `sleep` in its own group.
        let mut child = {
            use std::os::unix::process::CommandExt;
            std::process::Command::new("sleep")
                .arg("30")
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let pgid = child.id() as i32;
        p.set("node1", Some(pgid));
        p.set("node2", None);
        assert_eq!(p.answer("ping"), "PONG");
        assert_eq!(p.answer("list"), "node1 node2");
        assert_eq!(p.answer("status node1"), "ON");
        assert_eq!(p.answer("status node2"), "OFF");
        assert!(p.answer("off node3").starts_with("ERR"));
        assert!(p.answer("on node1").starts_with("ERR"));
        assert_eq!(p.answer("off node1"), "OK off");
        let status = child.wait().unwrap();
        assert!(!status.success(), "sleep was killed: {status:?}");
        assert_eq!(p.answer("status node1"), "OFF");
        // Powering off a node that is already off succeeds (a dead node is fenced).
        assert_eq!(p.answer("reboot node2"), "OK off");
    }
}
