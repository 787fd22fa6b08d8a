//! Scenario 3: DUNDi finds a phone on the other node (and only there); a phone
//! on each node calls a phone registered on the other through the virtual IP,
//! with RTP both ways through both nodes; a call to a phone registered nowhere
//! fails with 480 at once, never looping between the nodes.

use std::time::Duration;

use super::{UNREGISTERED, phone_call};
use crate::Error;
use crate::cluster::Pair;
use crate::report::Scenario;
use crate::scenarios::{Entry, Run, first_lines};

/// A DUNDi peer marked UNREACHABLE (qualified while its Asterisk was still
/// starting) is skipped by lookups until DUNDi qualifies it again, up to a minute
/// later (seen: 55 s).
const PEERING_WAIT: Duration = Duration::from_secs(120);

/// A call to a phone registered nowhere ends within this (issue 13).
const UNREGISTERED_LIMIT: Duration = Duration::from_secs(3);

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let on = &run.carry.registered;
    let (Some(&a), Some(&b)) = (on[0].first(), on[1].first()) else {
        s.check(
            "a phone registered on each node",
            false,
            format!("node1 {:?}, node2 {:?}", on[0], on[1]),
        );
        s.finish();
        run.push(s);
        return Ok(());
    };
    let pair = &run.pair;
    peering_checks(pair, &mut s);
    lookup_checks(pair, &mut s, a, b);
    // Phone to phone: node1's to node2's, and back.
    for (caller, on, callee) in [(a, 0, b), (b, 1, a)] {
        let c = phone_call::call(pair, caller, on, callee)?;
        let (from, to) = (pair.name(on), pair.name(1 - on));
        s.check(
            &format!(
                "{caller} (on {from}) calls {callee} (on {to}) through the virtual IP: answered, held, hung up"
            ),
            c.completed,
            format!("{:.1} s", c.seconds),
        );
        s.check(
            "RTP flows both ways on that call, through both nodes",
            c.rtp_both_ways(),
            format!(
                "Asterisk's RTP packets received/sent: {from} with {caller} {}/{}, {to} with {callee} {}/{}",
                c.caller_rtp.received, c.caller_rtp.sent, c.callee_rtp.received, c.callee_rtp.sent
            ),
        );
        if !c.rtp_both_ways() {
            for (i, out) in c.channelstats.iter().enumerate() {
                s.notes.push(format!(
                    "{}'s pjsip show channelstats during {caller} -> {callee}: {}",
                    pair.name(i),
                    first_lines(out.trim(), 8)
                ));
            }
        }
    }
    let (rejected, took) = phone_call::call_unregistered(pair, a, UNREGISTERED)?;
    s.check(
        &format!(
            "{a} calls {UNREGISTERED} (registered nowhere): 480 Temporarily Unavailable within {} s",
            UNREGISTERED_LIMIT.as_secs()
        ),
        rejected && took <= UNREGISTERED_LIMIT.as_secs_f64(),
        format!("480 {rejected}, after {took:.1} s"),
    );
    s.finish();
    run.push(s);
    Ok(())
}

/// Waits, bounded, for each node's DUNDi to see the other.
fn peering_checks(pair: &Pair, s: &mut Scenario) {
    for i in 0..2 {
        let waited = pair.wait(
            PEERING_WAIT,
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
                Err(_) => format!("not within {} s", PEERING_WAIT.as_secs()),
            },
        );
    }
}

/// `dundi lookup` on node `i` (bypassing the cache): the CLI's answer.
fn dundi_lookup(pair: &Pair, i: usize, ext: u16) -> String {
    pair.sh(i, &format!("asterisk -rx 'dundi lookup {ext}@priv bypass'"))
        .stdout_str()
}

/// DUNDi: each node answers only for phones registered on it (`a` on node1, `b`
/// on node2).
fn lookup_checks(pair: &Pair, s: &mut Scenario, a: u16, b: u16) {
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
}
