//! The SIP probe against sipp (Debian package sip-tester) as UAS, and against
//! silent and garbage peers made here. Everything listens on loopback.

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use pbx_cluster::runtime::sip_probe::{Probe, ProbeError, Transport};

use crate::harness::{bin, free_port, repo, require_tool, run, text, wait_until};

/// A sipp UAS answering OPTIONS from a scenario; killed when dropped.
struct Sipp {
    child: Child,
    port: u16,
}

impl Sipp {
    fn start(scenario: &str, transport: Transport) -> Sipp {
        let sipp = require_tool("sipp", "sip-tester");
        let port = free_port();
        let child = Command::new(sipp)
            .arg("-sf")
            .arg(repo(&format!("tests/fixtures/sipp/{scenario}")))
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args([
                "-t",
                if transport == Transport::Tcp {
                    "t1"
                } else {
                    "u1"
                },
            ])
            .args(["-nostdin", "-timeout", "60s"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp starts");
        let mut sipp = Sipp { child, port };
        let probe = sipp.probe(transport, 200);
        wait_until(Duration::from_secs(10), "sipp to answer OPTIONS", || {
            if let Ok(Some(status)) = sipp.child.try_wait() {
                panic!("sipp exited early: {status}");
            }
            probe.send(1).is_ok()
        });
        sipp
    }

    fn probe(&self, transport: Transport, timeout_ms: u64) -> Probe {
        Probe {
            target: format!("127.0.0.1:{}", self.port).parse().unwrap(),
            transport,
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn probe_cli(args: &[&str]) -> std::process::Output {
    run(Command::new(bin()).args(["probe", "sip"]).args(args))
}

#[test]
fn probe_gets_200_from_sipp_over_udp() {
    let sipp = Sipp::start("options-200.xml", Transport::Udp);
    let reply = sipp.probe(Transport::Udp, 2000).send(1).unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.status_line, "SIP/2.0 200 OK");
    let out = probe_cli(&[&sipp.target(), "--count", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.matches("SIP/2.0 200 OK from 127.0.0.1:").count(),
        5,
        "{stdout}"
    );
    assert!(
        stdout.contains("5 sent, 5 accepted, rtt min/median/max = "),
        "{stdout}"
    );
}

#[test]
fn probe_gets_200_from_sipp_over_tcp() {
    let sipp = Sipp::start("options-200.xml", Transport::Tcp);
    let out = probe_cli(&[&sipp.target(), "--transport", "tcp", "--count", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("SIP/2.0 200 OK from 127.0.0.1"));
    assert!(text(&out.stdout).contains("over TCP"));
}

#[test]
fn a_404_fails_by_default_and_passes_when_accepted() {
    let sipp = Sipp::start("options-404.xml", Transport::Udp);
    let out = probe_cli(&[&sipp.target()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("SIP/2.0 404 Not Found from"));
    assert!(text(&out.stdout).contains("(not accepted)"));
    let out = probe_cli(&[&sipp.target(), "--accept", "2xx,401,404"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn the_ldirectord_check_takes_vip_vport_rip_rport() {
    let sipp = Sipp::start("options-404.xml", Transport::Udp);
    let port = sipp.port.to_string();
    let check = repo("packaging/lib/check-sip");
    let out = run(Command::new("sh")
        .arg(&check)
        .args(["192.0.2.80", "5060", "127.0.0.1", &port])
        .env("PBX_CLUSTER_BIN", bin()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "",
        "quiet: ldirectord wants only the exit code"
    );
    let out = run(Command::new("sh")
        .arg(&check)
        .args(["192.0.2.80", "5060", "127.0.0.1", &port])
        .env("PBX_CLUSTER_BIN", bin())
        .env("PBX_CLUSTER_SIP_ACCEPT", "2xx"));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn the_ldirectord_check_waits_what_the_rendered_defaults_say() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let defaults = dir.path().join("pbx-cluster-check-sip");
    std::fs::write(&defaults, "PBX_CLUSTER_SIP_TIMEOUT=300\n").unwrap();
    let check = repo("packaging/lib/check-sip");
    let run_check = |env: &[(&str, &str)]| {
        let mut c = Command::new("sh");
        c.arg(&check)
            .args(["192.0.2.80", "5060", "127.0.0.1", &port])
            .env("PBX_CLUSTER_BIN", bin())
            .env("PBX_CLUSTER_CHECK_DEFAULTS", &defaults)
            .env_remove("PBX_CLUSTER_SIP_TIMEOUT");
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c)
    };
    let out = run_check(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("within 300 ms"),
        "{}",
        text(&out.stderr)
    );
    // The environment wins over the file.
    let out = run_check(&[("PBX_CLUSTER_SIP_TIMEOUT", "200")]);
    assert!(
        text(&out.stderr).contains("within 200 ms"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_silent_udp_peer_is_a_timeout() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = silent.local_addr().unwrap().to_string();
    let out = probe_cli(&[&target, "--timeout", "300"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("no answer from {target} over UDP within 300 ms")),
        "{err}"
    );
    // The request did reach the silent peer.
    silent
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let n = silent.recv(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"OPTIONS sip:127.0.0.1:"));
}

#[test]
fn a_silent_tcp_peer_is_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let holder = thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        thread::sleep(Duration::from_millis(600));
        drop(conn);
    });
    let out = probe_cli(&[&target, "--transport", "tcp", "--timeout", "300"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("over TCP within 300 ms"),
        "{}",
        text(&out.stderr)
    );
    holder.join().unwrap();
}

#[test]
fn a_garbage_udp_answer_fails_at_once() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = peer.local_addr().unwrap().to_string();
    let answer = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let (_, from) = peer.recv_from(&mut buf).unwrap();
        peer.send_to(b"HELLO WORLD\r\n\r\n", from).unwrap();
    });
    let probe = Probe {
        target: target.parse().unwrap(),
        transport: Transport::Udp,
        timeout: Duration::from_millis(5000),
    };
    let err = probe.send(1).unwrap_err();
    assert!(matches!(err, ProbeError::Garbage { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("`HELLO WORLD` is not `SIP/2.0 NNN reason`"),
        "{err}"
    );
    answer.join().unwrap();
}

#[test]
fn a_garbage_tcp_answer_fails_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let answer = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf).unwrap();
        conn.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
        thread::sleep(Duration::from_millis(200));
    });
    let out = probe_cli(&[&target, "--transport", "tcp", "--timeout", "5000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a SIP response"),
        "{}",
        text(&out.stderr)
    );
    answer.join().unwrap();
}

#[test]
fn a_response_to_another_request_is_ignored() {
    // A peer that answers with a well-formed 200 whose branch and Call-ID are not ours.
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = peer.local_addr().unwrap().to_string();
    let answer = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let (_, from) = peer.recv_from(&mut buf).unwrap();
        let stray = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKother\r\n\
                     Call-ID: other\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        peer.send_to(stray.as_bytes(), from).unwrap();
    });
    let out = probe_cli(&[&target, "--timeout", "300"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no answer from"),
        "{}",
        text(&out.stderr)
    );
    answer.join().unwrap();
}

#[test]
fn a_closed_port_fails_and_bad_targets_are_usage_errors() {
    let port = free_port();
    let out = probe_cli(&[&format!("127.0.0.1:{port}"), "--timeout", "2000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Connection refused"),
        "{}",
        text(&out.stderr)
    );
    let out = probe_cli(&["127.0.0.1:99999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a port number"));
    let out = probe_cli(&["127.0.0.1", "--accept", "9xx"]);
    assert_eq!(out.status.code(), Some(2));
}
