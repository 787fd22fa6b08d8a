//! The load-balanced mode in the lab (issue 13): both nodes serve, the director
//! (virtual IP + ldirectord) runs on one, OCFS2 on dual-primary DRBD is mounted on
//! both. The lab profile is the active/passive one turned load-balanced by
//! `profile`; the pair boots images with the generic kernel (OCFS2, DLM).

use std::time::{Duration, Instant};

use crate::Error;
use crate::args::Args;
use crate::cluster::{Pair, SIP_TARGET, VIP};
use crate::lab::HARNESS_ADDR;
use crate::report::{Report, Scenario};
use crate::scenarios::{
    EngineLab, first_lines, observer_mac, observer_ping, sipp_outcome, sipp_register, sipp_uas,
};

/// The load-balanced scenarios (issue 13's list). Those without a run function
/// are reported as not built, never left out.
pub const SCENARIOS: &[(u8, &str)] = &[
    (1, "cold start: both nodes serve, the director on node1"),
    (
        2,
        "balancing: phones register through the virtual IP on both nodes",
    ),
    (3, "calls across nodes (DUNDi)"),
    (4, "shared data on OCFS2 from both nodes"),
    (5, "a real server fails and returns"),
    (6, "the director dies"),
    (7, "the other node dies"),
    (8, "both links cut"),
    (9, "rejoin"),
];

/// The lab profile's pool timing: a dead real server leaves within
/// check-interval + check-timeout.
const CHECK_WINDOW: Duration = Duration::from_secs(2 + 3);
const PROBE_EVERY: Duration = Duration::from_millis(100);

/// ldirectord's start and first checks after the cluster is healthy.
const IPVS_WAIT: Duration = Duration::from_secs(300);

/// Phones of the balancing scenario (extensions 1001..=1000+PHONES).
pub const PHONES: u16 = 20;
/// An extension of the profile whose phone never registers.
pub const UNREGISTERED: u16 = 1000 + PHONES + 1;

fn name_of(id: u8) -> &'static str {
    crate::scenarios::name_in(SCENARIOS, id)
}

/// The active/passive lab profile made load-balanced: OCFS2, only voicemail shared
/// (each Asterisk keeps its config, astdb and logs), a SIP-only virtual service,
/// and PHONES extensions.
pub fn profile(ap: &str) -> Result<String, String> {
    let edits = [
        ("mode = \"active-passive\"", "mode = \"load-balanced\""),
        ("filesystem = \"xfs\"", "filesystem = \"ocfs2\""),
        (
            "links = [\"/etc/asterisk\", \"/var/lib/asterisk\", \"/var/spool/asterisk\"]",
            "links = [\"/var/spool/asterisk/voicemail\"]",
        ),
    ];
    let mut text = ap.to_string();
    for (from, to) in edits {
        if !text.contains(from) {
            return Err(format!(
                "expected {from} (the load-balanced lab replaces it)"
            ));
        }
        text = text.replace(from, to);
    }
    text.push_str(
        "\n[load-balancing]\nscheduler = \"wlc\"\ncheck-interval = \"2s\"\ncheck-timeout = \"3s\"\n\n[[load-balancing.service]]\nname = \"sip\"\nprotocol = \"udp\"\nport = 5060\ncheck = \"sip\"\n",
    );
    for n in 1..=PHONES + 1 {
        let ext = 1000 + n;
        if !text.contains(&format!("number = \"{ext}\"")) {
            text.push_str(&format!(
                "\n[[pbx.extension]]\nnumber = \"{ext}\"\nname = \"Lab Phone {n}\"\nsecret = \"lab-phone-{ext}\"\n"
            ));
        }
    }
    Ok(text)
}

pub fn run_engine(args: &Args, lab: &EngineLab, report: &mut Report) -> Result<(), Error> {
    let e = lab.engine.name();
    let mut pair = lab.pair()?;
    let mut s1 = Scenario::new(1, name_of(1), e);
    let secs = pair.cold_start()?;
    report.formation.push(format!(
        "{e} load-balanced: first-boot `pbx-cluster init` (cold start {secs:.0} s from power-on to the virtual IP answering SIP with DRBD UpToDate on both)"
    ));
    s1.notes
        .push(format!("power-on to healthy cluster {secs:.0} s"));
    cold_start_checks(&pair, &mut s1);
    s1.finish();
    report.scenarios.push(s1);
    pair.save_journal(0, "lb-cold");
    pair.save_journal(1, "lb-cold");

    if args.wants(2) || args.wants(3) {
        let (s2, on) = balancing(&pair)?;
        report.scenarios.push(s2);
        if args.wants(3) {
            report.scenarios.push(calls_across_nodes(&pair, &on)?);
        }
        if args.wants(5) {
            report.scenarios.push(real_server_fails(&pair, &on)?);
        }
        // Last: it leaves node1 powered off.
        if args.wants(6) {
            report.scenarios.push(director_dies(&mut pair, &on)?);
        }
    }
    for (id, name) in SCENARIOS
        .iter()
        .filter(|(id, _)| ![1, 2, 3, 5, 6].contains(id))
    {
        if args.wants(*id) {
            report.scenarios.push(
                Scenario::new(*id, name, e).not_run(
                    "not built yet: the harness has no run for this load-balanced scenario",
                ),
            );
        }
    }
    Ok(())
}

fn cold_start_checks(pair: &Pair, s: &mut Scenario) {
    for i in 0..2 {
        let n = pair.name(i).to_string();
        let d = pair.drbd(i);
        s.check(
            &format!("DRBD Primary/Primary, UpToDate/UpToDate on {n}"),
            d.contains("ro:Primary/Primary") && d.contains("ds:UpToDate/UpToDate"),
            d,
        );
        let fs = pair.sh(i, "findmnt -n -o FSTYPE /srv/ha").stdout_str();
        s.check(
            &format!("OCFS2 mounted at /srv/ha on {n}"),
            fs.trim() == "ocfs2",
            fs.trim(),
        );
        let ast = pair.sh(i, "systemctl is-active asterisk").stdout_str();
        s.check(
            &format!("Asterisk runs on {n}"),
            ast.trim() == "active",
            ast.trim(),
        );
        let missing = pair.modules_not_running(i);
        s.check(
            &format!("every module modules.conf loads runs in Asterisk on {n}"),
            missing.as_ref().is_ok_and(|m| m.is_empty()),
            format!("not running: {missing:?}"),
        );
        let keys = pair.sh(i, "asterisk -rx 'keys show'").stdout_str();
        s.check(
            &format!("Asterisk on {n} holds DUNDi's key pair (res_crypto loaded both halves)"),
            keys.lines()
                .filter(|l| l.contains("pbx-cluster-dundi"))
                .count()
                == 2,
            keys.trim().replace('\n', " | "),
        );
        let lo = pair.sh(i, &format!("ip -o -4 addr show dev lo | grep -w {VIP}"));
        s.check(
            &format!("{n} holds the virtual IP on lo (accepts, never answers ARP)"),
            lo.success(),
            lo.stdout_str().trim(),
        );
        let own = format!("{}:5060", pair.addr(i));
        let answered = crate::sip::options_once(&pair.lab, &own, Duration::from_millis(2000))
            .ok()
            .flatten();
        s.check(
            &format!(
                "Asterisk on {n} answers SIP on its own address (the director's health check)"
            ),
            answered.is_some(),
            format!("{own}: {answered:?}"),
        );
    }
    let holders = pair.vip_holders();
    s.check(
        "the director (virtual IP on eth0) is node1 alone",
        holders == vec![0],
        format!("eth0 holders: {:?}", pair.names(&holders)),
    );
    // The virtual IP answers (the director's own Asterisk) before ldirectord, a
    // Perl daemon that starts slowly under emulation, has checked both nodes.
    let ipvs = |i: usize| pair.sh(i, "ipvsadm -Ln").stdout_str();
    let reals = ["172.30.0.11:5060", "172.30.0.12:5060"];
    let waited = pair.wait(IPVS_WAIT, "IPVS on node1 balances over both nodes", || {
        let t = ipvs(0);
        Ok(reals.iter().all(|r| t.contains(r)))
    });
    let table = ipvs(0);
    s.check(
        "ipvsadm on node1 lists both real servers",
        reals.iter().all(|r| table.contains(r)),
        format!(
            "{}; {}",
            match waited {
                Ok(t) => format!("{:.1} s after the cluster was healthy", t.as_secs_f64()),
                Err(_) => format!("not within {} s", IPVS_WAIT.as_secs()),
            },
            table.trim().replace('\n', " | ")
        ),
    );
    let other = ipvs(1);
    s.check(
        "node2 holds no IPVS service (only the director balances: no two-box loop)",
        !other.contains(&format!("{VIP}:5060")),
        other.trim().replace('\n', " | "),
    );
    let ping = observer_ping(pair);
    let mac = observer_mac(pair);
    let node1_mac = pair.vms[0].spec.mac_fe.clone();
    s.check(
        "the observer's neighbour entry for the virtual IP is node1's MAC",
        ping && mac.eq_ignore_ascii_case(&node1_mac),
        format!("ping {ping}, lladdr {mac:?}, node1 {node1_mac}"),
    );
    s.check(
        "SIP OPTIONS on the virtual IP answered",
        pair.sip_ok(),
        SIP_TARGET,
    );
}

/// Registers extension `ext` from the harness's port `port`; true on 200.
fn register(pair: &Pair, ext: u16, port: u16) -> Result<bool, Error> {
    sipp_register(
        pair,
        ext,
        port,
        &format!("{HARNESS_ADDR}:{port}"),
        &format!("lb-sipp-register-{ext}.log"),
    )
}

/// The extensions registered on node `i` (its own contacts list).
fn registered_on(pair: &Pair, i: usize) -> Vec<u16> {
    let out = pair
        .sh(i, "asterisk -rx 'pjsip show contacts'")
        .stdout_str();
    let mut exts: Vec<u16> = out
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("Contact:")?.trim();
            let ext = rest.split('/').next()?.trim();
            ext.parse().ok()
        })
        .filter(|e| (1001..=1000 + PHONES).contains(e))
        .collect();
    exts.sort_unstable();
    exts.dedup();
    exts
}

/// Scenario 2; also returns which extensions each node holds.
fn balancing(pair: &Pair) -> Result<(Scenario, [Vec<u16>; 2]), Error> {
    let mut s = Scenario::new(2, name_of(2), pair.engine.name());
    let port = contact_port;
    let mut failed = Vec::new();
    for ext in 1001..=1000 + PHONES {
        if !register(pair, ext, port(ext))? {
            failed.push(ext);
        }
    }
    s.check(
        &format!("{PHONES} phones registered through the virtual IP"),
        failed.is_empty(),
        format!("failed: {failed:?}"),
    );
    let on = [registered_on(pair, 0), registered_on(pair, 1)];
    let both: Vec<u16> = on[0]
        .iter()
        .filter(|e| on[1].contains(e))
        .copied()
        .collect();
    s.notes.push(format!(
        "split: node1 {} ({:?}), node2 {} ({:?})",
        on[0].len(),
        on[0],
        on[1].len(),
        on[1]
    ));
    s.check(
        "both nodes hold registrations",
        !on[0].is_empty() && !on[1].is_empty(),
        format!("node1 {}, node2 {}", on[0].len(), on[1].len()),
    );
    s.check(
        "every phone is registered on exactly one node",
        both.is_empty() && on[0].len() + on[1].len() == (PHONES as usize - failed.len()),
        format!("on both: {both:?}"),
    );
    // Re-REGISTER from the same port: the IPVS entry sends it where the first went.
    let mut moved = Vec::new();
    let mut again_failed = Vec::new();
    for ext in 1001..=1000 + PHONES {
        if failed.contains(&ext) {
            continue;
        }
        if !register(pair, ext, port(ext))? {
            again_failed.push(ext);
        }
    }
    let after = [registered_on(pair, 0), registered_on(pair, 1)];
    for (i, before) in on.iter().enumerate() {
        moved.extend(before.iter().filter(|e| !after[i].contains(e)).copied());
    }
    s.check(
        "re-REGISTERs land where the first REGISTER did",
        moved.is_empty() && again_failed.is_empty(),
        format!("moved: {moved:?}, failed again: {again_failed:?}"),
    );
    s.finish();
    if !s.passed {
        s.notes.push(first_lines(
            &pair.sh(0, "ipvsadm -Lnc | head -30").stdout_str(),
            30,
        ));
    }
    Ok((s, after))
}

/// The harness port a phone's contact points at.
fn contact_port(ext: u16) -> u16 {
    5100 + (ext - 1000)
}

/// `dundi lookup` on node `i` (bypassing the cache): the CLI's answer.
fn dundi_lookup(pair: &Pair, i: usize, ext: u16) -> String {
    pair.sh(i, &format!("asterisk -rx 'dundi lookup {ext}@priv bypass'"))
        .stdout_str()
}

/// A call placed on node `from` (through its dialplan, as a phone registered there
/// would dial) to `ext`, answered by a sipp UAS at the phone's contact.
fn call(pair: &Pair, from: usize, ext: u16) -> Result<(bool, f64), Error> {
    let uas = sipp_uas(
        pair,
        contact_port(ext),
        Duration::from_secs(60),
        &format!("lb-sipp-uas-{ext}.log"),
    )?;
    // sipp needs a moment to bind before the INVITE arrives.
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    pair.sh(
        from,
        &format!("asterisk -rx 'channel originate Local/{ext}@internal application Wait 2'"),
    );
    let ok = sipp_outcome(uas, Duration::from_secs(45));
    Ok((ok, t.elapsed().as_secs_f64()))
}

fn calls_across_nodes(pair: &Pair, on: &[Vec<u16>; 2]) -> Result<Scenario, Error> {
    let mut s = Scenario::new(3, name_of(3), pair.engine.name());
    let (Some(&a), Some(&b)) = (on[0].first(), on[1].first()) else {
        s.check(
            "a phone registered on each node",
            false,
            format!("node1 {:?}, node2 {:?}", on[0], on[1]),
        );
        s.finish();
        return Ok(s);
    };
    // A DUNDi peer marked UNREACHABLE (qualified while its Asterisk was still
    // starting) is skipped by lookups until DUNDi qualifies it again, up to a
    // minute later (seen: 55 s): wait, bounded, for each node to see the other.
    for i in 0..2 {
        let waited = pair.wait(
            Duration::from_secs(120),
            &format!("{}'s DUNDi sees its peer reachable", pair.name(i)),
            || {
                Ok(pair
                    .sh(i, "asterisk -rx 'dundi show peers'")
                    .stdout_str()
                    .contains("OK ("))
            },
        );
        s.check(
            &format!("{}'s DUNDi peering is up", pair.name(i)),
            waited.is_ok(),
            match waited {
                Ok(t) => format!("after {:.1} s of waiting", t.as_secs_f64()),
                Err(_) => "not within 120 s".into(),
            },
        );
    }
    // DUNDi: each node answers only for phones registered on it.
    let found = dundi_lookup(pair, 0, b);
    s.check(
        &format!("node1's DUNDi lookup of {b} (registered on node2) finds node2"),
        found.contains(&format!("cluster-peer/sip:{b}@")),
        first_lines(found.trim(), 6),
    );
    let local = dundi_lookup(pair, 0, a);
    s.check(
        &format!("node2 does not answer for {a} (registered on node1)"),
        !local.contains("cluster-peer/sip:"),
        first_lines(local.trim(), 6),
    );
    let nowhere = dundi_lookup(pair, 0, UNREGISTERED);
    s.check(
        &format!("nobody answers for {UNREGISTERED} (registered nowhere)"),
        !nowhere.contains("cluster-peer/sip:"),
        first_lines(nowhere.trim(), 6),
    );
    if !found.contains("cluster-peer/sip:") {
        // Why: the peering, the answering context, the modules and Asterisk's log.
        for i in 0..2 {
            let d = pair.sh(
                i,
                "asterisk -rx 'dundi show peers'; asterisk -rx 'dundi show mappings'; \
                 asterisk -rx 'module show like loopback'; asterisk -rx 'module show like dundi'; \
                 asterisk -rx 'dialplan show dundi-priv-local'; \
                 grep -aiE 'dundi|loopback|switch|key' /var/log/asterisk/messages.log 2>/dev/null | tail -15",
            );
            s.notes.push(format!(
                "{}: {}",
                pair.name(i),
                first_lines(
                    &format!("{}{}", d.stdout_str(), String::from_utf8_lossy(&d.stderr)),
                    60
                )
            ));
        }
    }
    // Calls: node1 to a phone on node2, and back.
    for (from, ext) in [(0, b), (1, a)] {
        let (ok, took) = call(pair, from, ext)?;
        s.check(
            &format!(
                "a call placed on {} reaches {ext}, registered on {} (answered and hung up)",
                pair.name(from),
                pair.name(1 - from)
            ),
            ok,
            format!("{took:.1} s"),
        );
    }
    s.finish();
    Ok(s)
}

/// Whether node1's IPVS table lists `rip` as a real server of the SIP service.
fn in_pool(pair: &Pair, director: usize, rip: &str) -> bool {
    pair.sh(director, "ipvsadm -Ln")
        .stdout_str()
        .contains(&format!("{rip}:5060"))
}

/// Polls `cond` every 200 ms up to `limit`; the seconds since `since` when it held.
fn time_until(since: Instant, limit: Duration, mut cond: impl FnMut() -> bool) -> Option<f64> {
    while since.elapsed() < limit {
        if cond() {
            return Some(since.elapsed().as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

fn secs(t: Option<f64>) -> String {
    t.map_or("never (bounded wait ran out)".into(), |t| {
        format!("{t:.1} s")
    })
}

/// Scenario 5: Asterisk killed on node2 (SIGKILL): node2 leaves the pool, the VIP
/// keeps answering, a phone that was on node2 moves to node1 at its next
/// REGISTER; Asterisk back (the engine or systemd restarts it), node2 returns.
fn real_server_fails(pair: &Pair, on: &[Vec<u16>; 2]) -> Result<Scenario, Error> {
    let mut s = Scenario::new(5, name_of(5), pair.engine.name());
    let rip = pair.addr(1);
    let watch = crate::sip::Watch::start(&pair.lab, SIP_TARGET, PROBE_EVERY)?;
    let t = Instant::now();
    let out = pair.sh(1, "systemctl kill -s KILL asterisk.service");
    s.check(
        "Asterisk on node2 killed (SIGKILL)",
        out.success(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    );
    let left = time_until(t, Duration::from_secs(60), || !in_pool(pair, 0, &rip));
    s.check(
        &format!(
            "node2 leaves the pool within the check window ({} s) plus a margin",
            CHECK_WINDOW.as_secs()
        ),
        left.is_some_and(|l| l <= CHECK_WINDOW.as_secs_f64() + 10.0),
        format!("after {}", secs(left)),
    );
    // A phone that was on node2 re-registers (same source port): node1 takes it.
    if let Some(&moved) = on[1].first() {
        let ok = register(pair, moved, contact_port(moved))?;
        let took = t.elapsed().as_secs_f64();
        let now_on_1 = registered_on(pair, 0).contains(&moved);
        s.check(
            &format!(
                "{moved}, registered on node2, re-registers on node1 once node2 left the pool"
            ),
            ok && now_on_1,
            format!("REGISTER {ok}, on node1 {now_on_1}, {took:.1} s after the kill"),
        );
        let (called, call_s) = call(pair, 0, moved)?;
        s.check(
            &format!("{moved} can be called again (on node1)"),
            called,
            format!("{call_s:.1} s"),
        );
    }
    let back = time_until(t, Duration::from_secs(240), || in_pool(pair, 0, &rip));
    s.check(
        "Asterisk back on node2 and node2 back in the pool",
        back.is_some(),
        format!("after {}", secs(back)),
    );
    let silence = watch.finish();
    s.notes.push(format!(
        "left the pool {}, back {}; SIP on the virtual IP: longest silence {:.1} s ({} of {} probes answered)",
        secs(left),
        secs(back),
        silence.longest_s,
        silence.answered,
        silence.probes
    ));
    s.check(
        "the virtual IP keeps answering SIP (no silence longer than the check window)",
        silence.longest_s <= CHECK_WINDOW.as_secs_f64(),
        format!("longest silence {:.1} s", silence.longest_s),
    );
    s.finish();
    Ok(s)
}

/// Scenario 6: node1 (the director) is killed (its QEMU, SIGKILL).
fn director_dies(pair: &mut Pair, on: &[Vec<u16>; 2]) -> Result<Scenario, Error> {
    let mut s = Scenario::new(6, name_of(6), pair.engine.name());
    let kill = Instant::now();
    pair.crash(0);
    // Both measured from the kill at once: the survivor's shared filesystem (a
    // write waits for node1's fence and the cluster filesystem's recovery) and SIP
    // on the virtual IP.
    let pair_ref: &Pair = pair;
    let (write, freeze, answer) = std::thread::scope(|sc| {
        let writer = sc.spawn(|| {
            let w = pair_ref.ssh.run(
                &pair_ref.addr(1),
                "echo after-kill > /srv/ha/director-died && sync /srv/ha/director-died && echo written",
                Duration::from_secs(240),
            );
            (w, kill.elapsed().as_secs_f64())
        });
        let answer = crate::sip::first_answer(
            &pair_ref.lab,
            SIP_TARGET,
            kill,
            PROBE_EVERY,
            Duration::from_secs(240),
        );
        let (w, f) = writer.join().expect("the writer thread");
        (w, f, answer)
    });
    let answer = answer?;
    s.check(
        "node2's shared filesystem takes writes again once node1 is fenced",
        write.success() && write.stdout_str().contains("written"),
        format!("the write returned {freeze:.1} s after the kill"),
    );
    s.check(
        "the virtual IP answers SIP again",
        answer.is_some(),
        format!("{} after the kill", secs(answer)),
    );
    let moved = time_until(kill, Duration::from_secs(300), || {
        pair.vip_holders() == vec![1]
    });
    s.check(
        "the director (virtual IP on eth0) moves to node2",
        moved.is_some(),
        format!("after {}", secs(moved)),
    );
    if let Some(&b) = on[1].first() {
        let (ok, took) = call(pair, 1, b)?;
        s.check(
            &format!("{b}, registered on node2, is called without registering again"),
            ok,
            format!("{took:.1} s"),
        );
    }
    if let Some(&a) = on[0].iter().find(|e| !on[1].contains(e)) {
        let ok = register(pair, a, contact_port(a))?;
        let re = kill.elapsed().as_secs_f64();
        let (called, _) = call(pair, 1, a)?;
        s.check(
            &format!("{a}, registered on node1, is called after registering again (on node2)"),
            ok && called,
            format!("REGISTER {ok} {re:.1} s after the kill, call {called}"),
        );
    }
    if let Some(t) = answer {
        s.trials.push(crate::report::Trial {
            failover_s: Some(crate::phases::round2(t)),
            from: pair.name(0).into(),
            to: pair.name(1).into(),
            phases: Vec::new(),
        });
    }
    s.notes.push(format!(
        "kill to: SIP on the virtual IP {}, director on node2 {}, node2's filesystem writable {freeze:.1} s",
        secs(answer),
        secs(moved)
    ));
    s.finish();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_profile_becomes_a_valid_load_balanced_one() {
        let lab = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/lab.toml"),
        )
        .unwrap();
        let lb = profile(&lab.replace(
            "[fencing]\nagent = \"none\"\n",
            &crate::scenarios::lab_fencing(),
        ))
        .unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
        let model = pbx_cluster::profile::parse(&lb, std::path::Path::new("lab-lb.toml"), &dir)
            .unwrap_or_else(|e| panic!("{}", pbx_cluster::error::format(&e)))
            .model;
        assert_eq!(model.mode_home().name(), "load-balanced");
        assert!(lb.contains(&format!("number = \"{}\"", 1000 + PHONES)));
        assert!(profile("mode = \"load-balanced\"").is_err());
    }
}
