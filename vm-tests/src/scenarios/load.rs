//! Scenario 11 of both tables: the load measurement (issue 13). The same sipp call
//! load goes through the virtual IP of either cluster, stepped up until a step
//! fails 1 % of its calls or more; the highest step below that is the load the
//! cluster sustains. Each node's CPU is read at each step's start and end, and
//! report.md divides the load-balanced cluster's result by the active/passive
//! one's, per engine, when one run measured both (`--mode both --only 1,11`).
//!
//! The calls, and why so:
//! - Asterisk must transcode, the CPU-heavy part of a PBX (the reference names
//!   it so): the caller offers PCMA only and sends a-law RTP (sipp's
//!   play_pcap_audio of a pcap this scenario writes, so neither its length nor its
//!   path depends on the host's sipp package); the callee answers PCMU only and
//!   echoes the RTP it gets (sipp -rtp_echo). The endpoints allow ulaw and alaw,
//!   so Asterisk translates a-law to mu-law one way and back the other; the first
//!   step looks for it on the channels (`Transcode: Yes`).
//! - The caller is extension 1001, a sipp UAC on the harness. pjsip.conf has no
//!   identify by address for phones, so Asterisk challenges each INVITE (401) and
//!   the UAC sends it again with digest credentials, as sip.rs's REGISTER does.
//! - The callees are up to MAX_CALLEES phones (1002..), each a sipp UAS of its
//!   own on the harness that registers through the virtual IP from the port it is
//!   called at, as a phone does (and as the other scenarios register them); the
//!   calls dial them in turn (the dialplan's context). One port per phone matters
//!   in load-balanced mode: Asterisk calls a phone from the virtual IP, so the
//!   phone's answers go back through the director, which sends them to the node
//!   its IPVS entry for that address and port names: the node the phone
//!   registered with. The callees spread over both nodes as the director
//!   schedules their REGISTERs, and a call whose callee is on the other node
//!   crosses over DUNDi: realistic, and part of what the mode costs (the callee's
//!   node transcodes, the caller's node relays the RTP).
//! - Each call comes from a UDP port of its own (sipp -t un): IPVS keys a UDP
//!   client on its address and port, so the director schedules calls, not one
//!   caller, over the nodes. Active/passive sends them all to its one active node.
//!
//! The ramp: a step of N concurrent calls places calls of HOLD at N / HOLD per
//! second for WINDOW. A call fails when an answer it waits for (the 401, the 200,
//! the BYE's 200) takes longer than ANSWER_LIMIT, when anything unexpected comes,
//! or when it is never placed or still open at the step's bound: a PBX that falls
//! behind fails calls, it does not just stretch the step. Steps grow by a third
//! from FIRST_CALLS (small: a TCG guest is 10-20x slower than a native CPU); the
//! ramp stops at the first step with 1 % failed calls or more, or when BOUND
//! leaves no room for another step (the result is then a lower bound, and says
//! so). Between steps Asterisk must be idle again (no channels), waited for,
//! and the callees register again before their registration runs out (their UAS
//! stopped meanwhile: a phone registers from the port it is called at).
//!
//! Where it runs: in each table the last of the scenarios that leave both nodes
//! serving, before those that kill nodes. A load that saturates both guests
//! measures nothing of a failover and must not sit inside one; it still checks
//! that the cluster serves afterwards. In load-balanced mode it comes before 7
//! and 9 (not after 9: scenario 6 calls phones registered in 9 without
//! registering them again, and a registration lasts 240 s there). The callees
//! keep the contact the other scenarios give them, so nothing needs undoing.

use std::time::{Duration, Instant};

use super::balanced::{contact_port, in_pool, registered_on};
use super::restore::healthy_pair;
use super::sipp::{sipp, sipp_listening, sipp_register, write_log_file};
use crate::Error;
use crate::cluster::{Pair, SIP_TARGET};
use crate::lab::HARNESS_ADDR;
use crate::procs::Group;
use crate::report::{Load, LoadStep, LoadStop, NodeCpu, Scenario};
use crate::scenarios::{Entry, Run, first_lines};

/// The name reports give scenario 11 in both tables.
pub const NAME: &str = "load: the highest call load sustained through the virtual IP";

/// Every call authenticates as this phone.
const CALLER: u16 = 1001;
/// The callees: the phones after the caller, at most this many (each is a sipp
/// process on the harness).
const MAX_CALLEES: u16 = 6;
/// The callees' UAS echo RTP on their media port and the one two above it, from
/// this one on.
const UAS_MEDIA_BASE: u16 = 6100;
const UAS_MEDIA_SPACING: u16 = 4;
/// The UAC's main socket (each call has its own) and where it sends RTP from.
const UAC_PORT: u16 = 5091;
const UAC_MEDIA_PORT: u16 = 6000;

/// RTP per call after the answer, then the caller hangs up.
const HOLD: Duration = Duration::from_secs(20);
/// How long a step places calls.
const WINDOW: Duration = Duration::from_secs(30);
/// A caller gives up on an answer (the 401, the 200, the BYE's 200) after this.
const ANSWER_LIMIT: Duration = Duration::from_secs(15);
/// A step's own bound: its last call placed, answered, held and hung up, each
/// answer at its limit. sipp stops itself there.
const STEP_LIMIT: Duration =
    Duration::from_secs(WINDOW.as_secs() + HOLD.as_secs() + 2 * ANSWER_LIMIT.as_secs());
/// What the harness gives sipp beyond its own stop before it kills it.
const SIPP_EXIT_MARGIN: Duration = Duration::from_secs(15);
/// The first step's concurrent calls.
const FIRST_CALLS: u32 = 2;
/// A step with this share of failed calls or more is not sustained.
const FAILED_LIMIT_PCT: f64 = 1.0;
/// The ramp's bound, from the scenario's start (registrations included); the
/// waits for a serving cluster before and after have their own.
const BOUND: Duration = Duration::from_secs(15 * 60);
/// The cluster serves (again) within this, before and after the load.
const SERVE_WAIT: Duration = Duration::from_secs(300);
/// Asterisk idle (no channels) again after a step.
const IDLE_WAIT: Duration = Duration::from_secs(120);
/// The callees register again when their registration is this old before a
/// step: the load-balanced lab grants GRANTED (pjsip.conf's maximum_expiration,
/// inside IPVS's 300 s UDP entry), and a step started before this ends well
/// inside it. The same source ports keep each callee on its node.
const REFRESH_AFTER: Duration = Duration::from_secs(100);
/// The shortest registration a lab grants (the load-balanced pjsip.conf's).
const GRANTED: Duration = Duration::from_secs(240);
// Refreshed (its start noted) before a step once this old, a registration
// outlives the step, sipp's kill included.
const _: () = assert!(
    REFRESH_AFTER.as_secs()
        + STEP_LIMIT.as_secs()
        + SIPP_EXIT_MARGIN.as_secs()
        + STEP_POLL.as_secs()
        < GRANTED.as_secs()
);
/// Between looks at a running step's sipp.
const STEP_POLL: Duration = Duration::from_secs(1);
/// Between looks at the channels during the first step.
const TRANSCODE_EVERY: Duration = Duration::from_secs(5);
/// sipp's statistics file: a line every this many seconds, and one at its end.
const STAT_EVERY_S: &str = "5";
/// Each sipp error log's cap (it may fill fast while a step fails).
const ERROR_LOG_BYTES: &str = "1048576";
/// The sipp UAC's open calls at most this many times the step's concurrency (a
/// PBX that falls behind gets no flood beyond it).
const OPEN_CALLS_FACTOR: u32 = 3;
/// How much of sipp's error log a note quotes.
const TAIL_CHARS: usize = 400;
/// The a-law tone the callers send: 400 Hz at about -12 dBFS.
const TONE_HZ: u32 = 400;
const TONE_AMPLITUDE: f64 = 8000.0;

/// Active/passive: like every scenario of its table, from the healthy snapshot.
pub fn run_from_snapshot(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    healthy_pair(&mut run.pair, &mut s, "the load")?;
    measure(run, s, |pair| Ok(pair.healthy()?.is_some()))
}

/// Load-balanced: the live pair, once the director's pool holds both nodes and
/// their DUNDi peering is up (right after a cold start a peer may stay marked
/// unreachable for a minute, and calls to the other node's phones would fail).
pub fn run_on_both_nodes(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let s = run.scenario(entry);
    measure(run, s, |pair| {
        Ok(both_in_pool(pair) && pair.sip_ok() && (0..2).all(|i| dundi_peered(pair, i)))
    })
}

/// Whether node `i`'s DUNDi sees its peer reachable.
fn dundi_peered(pair: &Pair, i: usize) -> bool {
    pair.sh(i, "asterisk -rx 'dundi show peers'")
        .stdout_str()
        .contains("OK (")
}

/// The director (the one node with the virtual IP on eth0) balances over both.
fn both_in_pool(pair: &Pair) -> bool {
    match pair.vip_holders()[..] {
        [director] => (0..2).all(|i| in_pool(pair, director, &pair.addr(i))),
        _ => false,
    }
}

/// What a step's run needs: the pair, the callees, the names of the files in the
/// log folder.
struct Ctx<'a> {
    pair: &'a Pair,
    callees: Vec<u16>,
    /// The lab's label (mode and engine), prefixed to every file of this run.
    label: String,
}

impl Ctx<'_> {
    fn file(&self, what: &str) -> String {
        format!("load-{}-{what}", self.label)
    }

    /// A file of step `k` (from 1).
    fn step_file(&self, k: usize, what: &str) -> String {
        self.file(&format!("step{k}-{what}"))
    }
}

fn measure(
    run: &mut Run,
    mut s: Scenario,
    serves: fn(&Pair) -> Result<bool, Error>,
) -> Result<(), Error> {
    let phones = run.lab.mode.phones();
    let balances = run.lab.mode.product().balances();
    let ctx = Ctx {
        pair: &run.pair,
        callees: (CALLER + 1..=(1000 + phones).min(CALLER + MAX_CALLEES)).collect(),
        label: run.lab.label(),
    };
    let pair = ctx.pair;
    if !serving_check(pair, &mut s, serves, "before the load") {
        s.finish();
        run.push(s);
        return Ok(());
    }
    let started = Instant::now();
    write_files(&ctx)?;
    let registered = Instant::now();
    let failed = register_callees(&ctx)?;
    let ramp = if registration_checks(&ctx, &mut s, &failed, balances) {
        Some(run_ramp(&ctx, started, registered)?)
    } else {
        None
    };
    match ramp {
        Some(ramp) => {
            let load = Load::new(method(ctx.callees.len()), ramp.steps, ramp.stop);
            ramp_checks(&mut s, &load, ramp.transcoding);
            s.notes.push(summary(&load, started.elapsed()));
            s.notes.extend(ramp.notes);
            if let Some(k) = load.steps.iter().position(|st| !st.passed) {
                let errors = tail(&pair.logs.join(ctx.step_file(k + 1, "errors.log")));
                s.notes.push(format!(
                    "step {}'s last sipp errors: ...{}",
                    k + 1,
                    first_lines(&errors, 5)
                ));
            }
            s.load = Some(load);
        }
        None => s.check("the load ran", false, "no callee registered"),
    }
    serving_check(pair, &mut s, serves, "after the load");
    s.finish();
    run.push(s);
    Ok(())
}

/// What a valid measurement shows: Asterisk transcoded, the smallest load held.
fn ramp_checks(s: &mut Scenario, load: &Load, transcoding: bool) {
    s.check(
        "Asterisk transcoded the load's calls (a channel showed `Transcode: Yes`)",
        transcoding,
        "looked for on both nodes during the first step",
    );
    let first = load.steps.first();
    s.check(
        &format!(
            "the first step ({FIRST_CALLS} concurrent calls) is sustained (under {FAILED_LIMIT_PCT} % failed)"
        ),
        first.is_some_and(|f| f.passed),
        first.map_or("not run".into(), |f| {
            format!("{} of {} calls failed", f.failed, f.planned)
        }),
    );
}

/// Waits, bounded, until the cluster serves; checks it.
fn serving_check(
    pair: &Pair,
    s: &mut Scenario,
    serves: fn(&Pair) -> Result<bool, Error>,
    when: &str,
) -> bool {
    let what = format!("the cluster serves through the virtual IP {when}");
    let waited = pair.wait(SERVE_WAIT, &what, || serves(pair));
    s.check(
        &what,
        waited.is_ok(),
        match &waited {
            Ok(t) => format!("after {:.1} s of waiting", t.as_secs_f64()),
            Err(_) => format!("not within {} s", SERVE_WAIT.as_secs()),
        },
    );
    waited.is_ok()
}

/// The pcap, both sipp scenarios and the callee list, into the log folder.
fn write_files(ctx: &Ctx) -> Result<(), Error> {
    let pcap = ctx.file("alaw.pcap");
    write_log_file(ctx.pair, &pcap, alaw_pcap(HOLD.as_secs() as u32))?;
    write_log_file(
        ctx.pair,
        &ctx.file("uac.xml"),
        uac_xml(
            &CALLER.to_string(),
            &format!("lab-phone-{CALLER}"),
            &pcap,
            HOLD,
        ),
    )?;
    write_log_file(ctx.pair, &ctx.file("uas.xml"), uas_xml())?;
    write_log_file(
        ctx.pair,
        &ctx.file("callees.csv"),
        callees_csv(&ctx.callees),
    )
}

/// The callees' phones: a UAS per callee at its contact port, answering PCMU
/// only and echoing RTP, until dropped.
fn start_phones(ctx: &Ctx) -> Result<Vec<Group>, Error> {
    let sockets = max_sockets(open_files_limit()).to_string();
    let mut phones = Vec::new();
    for (i, &ext) in (0u16..).zip(&ctx.callees) {
        let (xml, errors, media) = (
            ctx.file("uas.xml"),
            ctx.file(&format!("uas-{ext}-errors.log")),
            (UAS_MEDIA_BASE + i * UAS_MEDIA_SPACING).to_string(),
        );
        phones.push(sipp_listening(
            ctx.pair,
            &[
                "-sf",
                &xml,
                "-mp",
                &media,
                "-rtp_echo",
                "-aa",
                "-max_socket",
                &sockets,
                "-nostdin",
                "-trace_err",
                "-error_file",
                &errors,
                "-max_log_size",
                ERROR_LOG_BYTES,
            ],
            contact_port(ext),
            &ctx.file(&format!("uas-{ext}.log")),
        )?);
    }
    Ok(phones)
}

/// REGISTERs every callee through the virtual IP from its contact port, the one
/// the other scenarios use (an IPVS entry still alive for that port sends it to
/// the node that holds it); the extensions that failed. Their phones must not
/// run: the REGISTER's sipp binds the port.
fn register_callees(ctx: &Ctx) -> Result<Vec<u16>, Error> {
    let mut failed = Vec::new();
    for &ext in &ctx.callees {
        let port = contact_port(ext);
        let (contact, log) = (
            format!("{HARNESS_ADDR}:{port}"),
            ctx.file(&format!("register-{ext}.log")),
        );
        if !sipp_register(ctx.pair, ext, port, &contact, &log)? {
            failed.push(ext);
        }
    }
    Ok(failed)
}

/// Checks that every callee registered and, where the mode balances, that both
/// nodes hold some; true when any registered.
fn registration_checks(ctx: &Ctx, s: &mut Scenario, failed: &[u16], balances: bool) -> bool {
    let callees = &ctx.callees;
    s.check(
        &format!(
            "{} callee phone(s) registered through the virtual IP",
            callees.len()
        ),
        failed.is_empty(),
        format!("failed: {failed:?}"),
    );
    let on: Vec<Vec<u16>> = (0..2)
        .map(|i| {
            registered_on(ctx.pair, i)
                .into_iter()
                .filter(|e| callees.contains(e))
                .collect()
        })
        .collect();
    s.notes
        .push(format!("callees: node1 {:?}, node2 {:?}", on[0], on[1]));
    if balances {
        s.check(
            "the callees are registered on both nodes (calls spread, some cross over DUNDi)",
            !on[0].is_empty() && !on[1].is_empty(),
            format!("node1 {}, node2 {}", on[0].len(), on[1].len()),
        );
    }
    failed.len() < callees.len()
}

/// What the ramp measured.
struct Ramp {
    steps: Vec<LoadStep>,
    stop: LoadStop,
    /// A channel showed Asterisk translating during the first step.
    transcoding: bool,
    /// What the ramp met besides its steps (a failed refresh of a registration).
    notes: Vec<String>,
}

/// Steps until one fails or the bound leaves no room, with the callees' phones
/// up; the callees' registration began at `registered`.
fn run_ramp(ctx: &Ctx, started: Instant, mut registered: Instant) -> Result<Ramp, Error> {
    let mut phones = start_phones(ctx)?;
    let mut ramp = Ramp {
        steps: Vec::new(),
        stop: LoadStop::StepFailed,
        transcoding: false,
        notes: Vec::new(),
    };
    // After a failed step, neither the wait nor the refresh is needed.
    while ramp.steps.last().is_none_or(|l| l.passed) {
        let what = "Asterisk idle (no channels) on both nodes before the step";
        if ctx
            .pair
            .wait(IDLE_WAIT, what, || Ok(idle(ctx.pair)))
            .is_err()
        {
            ramp.stop = LoadStop::NotIdle;
            return Ok(ramp);
        }
        if registered.elapsed() >= REFRESH_AFTER {
            // Each phone registers again from the port it is called at.
            phones.clear();
            registered = Instant::now();
            let failed = register_callees(ctx)?;
            if !failed.is_empty() {
                ramp.notes.push(format!(
                    "before step {}: registrations of {failed:?} not refreshed",
                    ramp.steps.len() + 1
                ));
            }
            phones = start_phones(ctx)?;
        }
        // The bound, after the wait and the refresh: what the step itself may take.
        let calls = match next_step(ramp.steps.last(), started.elapsed()) {
            Ok(calls) => calls,
            Err(stop) => {
                ramp.stop = stop;
                return Ok(ramp);
            }
        };
        let first = ramp.steps.is_empty();
        let (step, seen) = run_step(ctx, ramp.steps.len() + 1, calls, first)?;
        ramp.transcoding |= seen;
        eprintln!(
            "vm-tests:   load step {} ({calls} concurrent calls): {} of {} calls failed",
            ramp.steps.len() + 1,
            step.failed,
            step.planned
        );
        ramp.steps.push(step);
    }
    Ok(ramp)
}

/// One step of `calls` concurrent calls; with `look`, also whether a channel
/// showed Asterisk transcoding while it ran (looked for every TRANSCODE_EVERY
/// until seen: each look runs the CLI on the guests, CPU the step measures).
fn run_step(ctx: &Ctx, k: usize, calls: u32, look: bool) -> Result<(LoadStep, bool), Error> {
    let pair = ctx.pair;
    let stat = ctx.step_file(k, "stat.csv");
    let _ = std::fs::remove_file(pair.logs.join(&stat));
    let planned = planned(calls);
    let cpu_start = cpu_now(pair);
    let t = Instant::now();
    let mut uac = start_uac(ctx, k, calls, planned)?;
    let mut seen = false;
    let mut next_look = t;
    let _ = crate::retry_until(t + STEP_LIMIT + SIPP_EXIT_MARGIN, STEP_POLL, || {
        if look && !seen && Instant::now() >= next_look {
            seen = transcoding_seen(pair);
            next_look = Instant::now() + TRANSCODE_EVERY;
        }
        match uac.child.try_wait() {
            Ok(Some(_)) => Ok(()),
            _ => Err(()),
        }
    });
    uac.kill();
    let seconds = t.elapsed().as_secs_f64();
    let cpu_end = cpu_now(pair);
    let counts = std::fs::read_to_string(pair.logs.join(&stat))
        .ok()
        .and_then(|text| sipp_counts(&text));
    let successful = counts.as_ref().map_or(0, |c| c.successful.min(planned));
    let (failed, failed_pct, passed) = judge(planned, successful);
    let cpu = (0..2)
        .map(|i| NodeCpu {
            node: pair.name(i).to_string(),
            busy_pct: busy_pct(cpu_start.0[i], cpu_end.0[i]),
        })
        .collect();
    Ok((
        LoadStep {
            calls,
            calls_per_s: crate::phases::round2(calls_per_s(calls)),
            planned,
            placed: counts.as_ref().map_or(0, |c| c.created),
            successful,
            failed,
            failed_pct,
            passed,
            setup_ms: counts.and_then(|c| c.setup_ms).filter(|_| successful > 0),
            seconds: crate::phases::round2(seconds),
            cpu,
            host_busy_pct: busy_pct(cpu_start.1, cpu_end.1),
        },
        seen,
    ))
}

/// Step `k`'s caller: `planned` calls at calls / HOLD per second through the
/// virtual IP, each from its own port; sipp stops itself at STEP_LIMIT.
fn start_uac(ctx: &Ctx, k: usize, calls: u32, planned: u32) -> Result<Group, Error> {
    let args: Vec<String> = [
        SIP_TARGET,
        "-sf",
        &ctx.file("uac.xml"),
        "-inf",
        &ctx.file("callees.csv"),
        "-i",
        HARNESS_ADDR,
        "-p",
        &UAC_PORT.to_string(),
        "-t",
        "un",
        "-max_socket",
        &max_sockets(open_files_limit()).to_string(),
        "-mp",
        &UAC_MEDIA_PORT.to_string(),
        "-r",
        &calls.to_string(),
        "-rp",
        &HOLD.as_millis().to_string(),
        "-m",
        &planned.to_string(),
        "-l",
        &(calls * OPEN_CALLS_FACTOR).to_string(),
        "-recv_timeout",
        &ANSWER_LIMIT.as_millis().to_string(),
        "-timeout",
        &format!("{}s", STEP_LIMIT.as_secs()),
        "-aa",
        "-nostdin",
        "-trace_stat",
        "-stf",
        &ctx.step_file(k, "stat.csv"),
        "-fd",
        STAT_EVERY_S,
        "-trace_err",
        "-error_file",
        &ctx.step_file(k, "errors.log"),
        "-max_log_size",
        ERROR_LOG_BYTES,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sipp(ctx.pair, &args, &ctx.step_file(k, "uac.log"))
}

/// Both nodes' /proc/stat and the harness machine's, now.
fn cpu_now(pair: &Pair) -> ([Option<Ticks>; 2], Option<Ticks>) {
    let node = |i| ticks(&pair.sh(i, "head -n 1 /proc/stat").stdout_str());
    let host = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| ticks(&t));
    ([node(0), node(1)], host)
}

/// No channels on either node (a node whose Asterisk does not run has none).
fn idle(pair: &Pair) -> bool {
    (0..2).all(|i| {
        let out = pair.sh(
            i,
            "systemctl is-active -q asterisk || { echo 'not running'; exit 0; }; \
             asterisk -rx 'core show channels count'",
        );
        let text = out.stdout_str();
        text.trim() == "not running" || active_channels(&text) == Some(0)
    })
}

/// Whether a channel up on either node shows Asterisk translating its audio.
fn transcoding_seen(pair: &Pair) -> bool {
    (0..2).any(|i| {
        let out = pair.sh(
            i,
            "for c in $(asterisk -rx 'core show channels concise' 2>/dev/null | cut -d'!' -f1 | head -n 2); \
             do asterisk -rx \"core show channel $c\"; done",
        );
        transcodes(&out.stdout_str())
    })
}

/// The method line of the report, from this scenario's constants.
fn method(callees: usize) -> String {
    format!(
        "sipp on the harness calls through the virtual IP ({SIP_TARGET}), each call from a UDP port of its own; \
         the caller (phone {CALLER}, digest-authenticated INVITE) offers PCMA only and sends a-law RTP, \
         the callee ({callees} registered phone(s) in turn, a sipp UAS each) answers PCMU only and echoes the RTP, \
         so Asterisk transcodes both ways; a step of N concurrent calls places calls of {} s at N/{} per second for {} s; \
         a call fails when an answer takes over {} s, anything unexpected comes, or it is not placed or over within the step's {} s; \
         a step is sustained with under {FAILED_LIMIT_PCT} % failed calls; steps grow by a third from {FIRST_CALLS}, \
         and the ramp stops at the first step that is not sustained or when its {} min bound leaves no room for another; \
         CPU busy % from /proc/stat at each step's start and end",
        HOLD.as_secs(),
        HOLD.as_secs(),
        WINDOW.as_secs(),
        ANSWER_LIMIT.as_secs(),
        STEP_LIMIT.as_secs(),
        BOUND.as_secs() / 60
    )
}

/// The scenario's note on its result.
fn summary(load: &Load, took: Duration) -> String {
    let stop = match load.stop {
        LoadStop::StepFailed => "stopped at the first failed step",
        LoadStop::TimeBound => {
            "cut by the time bound before a step failed: the result is a lower bound"
        }
        LoadStop::NotIdle => "stopped: Asterisk kept channels after a step",
    };
    format!(
        "sustained {} concurrent calls ({:.2} calls/s) over {} step(s); {stop}; {:.0} s",
        load.sustained_calls,
        load.sustained_calls_per_s,
        load.steps.len(),
        took.as_secs_f64()
    )
}

/// The end of a log file, at most TAIL_CHARS (sipp writes its errors without
/// line breaks between them); empty when there is none.
fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    last_chars(&text, TAIL_CHARS).to_string()
}

fn last_chars(text: &str, n: usize) -> &str {
    let start = text
        .char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    &text[start..]
}

// ---- The pure parts: the ramp, the judgement, the CPU, sipp's files, the pcap.

/// The calls a step of `calls` concurrent calls places: its rate for WINDOW.
fn planned(calls: u32) -> u32 {
    let (w, h) = (WINDOW.as_secs() as u32, HOLD.as_secs() as u32);
    ((calls * w + h / 2) / h).max(1)
}

fn calls_per_s(calls: u32) -> f64 {
    f64::from(calls) / HOLD.as_secs_f64()
}

/// The step after one of `calls`: a third more, at least one more.
fn next_calls(calls: u32) -> u32 {
    calls + calls.div_ceil(3).max(1)
}

/// The next step's concurrent calls after `last` (None: the first), or why the
/// ramp stops: `last` failed, or BOUND leaves no room for a step at `elapsed`.
fn next_step(last: Option<&LoadStep>, elapsed: Duration) -> Result<u32, LoadStop> {
    if last.is_some_and(|l| !l.passed) {
        return Err(LoadStop::StepFailed);
    }
    if elapsed + STEP_LIMIT > BOUND {
        return Err(LoadStop::TimeBound);
    }
    Ok(last.map_or(FIRST_CALLS, |l| next_calls(l.calls)))
}

/// Of `planned` calls `successful` succeeded: failed calls, their %, sustained.
fn judge(planned: u32, successful: u32) -> (u32, f64, bool) {
    let failed = planned.saturating_sub(successful);
    let pct = if planned == 0 {
        100.0
    } else {
        f64::from(failed) * 100.0 / f64::from(planned)
    };
    (
        failed,
        crate::phases::round2(pct),
        planned > 0 && pct < FAILED_LIMIT_PCT,
    )
}

/// CPU time from /proc/stat's `cpu` line, in ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ticks {
    busy: u64,
    total: u64,
}

/// The first `cpu ` line of /proc/stat: user nice system idle iowait irq softirq
/// steal (guest time is inside user and nice already); idle and iowait are not
/// busy.
fn ticks(proc_stat: &str) -> Option<Ticks> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 4 {
        return None;
    }
    let total: u64 = v.iter().sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Some(Ticks {
        busy: total - idle,
        total,
    })
}

/// Busy % between two samples (None when one is missing or no time passed).
fn busy_pct(start: Option<Ticks>, end: Option<Ticks>) -> Option<f64> {
    let (a, b) = (start?, end?);
    let total = b.total.checked_sub(a.total).filter(|t| *t > 0)?;
    let busy = b.busy.saturating_sub(a.busy).min(total);
    Some(crate::phases::round2(busy as f64 * 100.0 / total as f64))
}

/// `core show channels count`'s "N active channel(s)".
fn active_channels(out: &str) -> Option<u32> {
    out.lines()
        .find(|l| l.contains("active channel"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Whether `core show channel` output shows a translation path in use.
fn transcodes(out: &str) -> bool {
    out.lines().any(|l| {
        l.trim_start().starts_with("WriteTranscode: Yes")
            || l.trim_start().starts_with("ReadTranscode: Yes")
    })
}

/// What sipp counted in a step, from its statistics file.
#[derive(Debug, Clone, PartialEq)]
struct Counts {
    created: u32,
    successful: u32,
    /// Mean INVITE-to-200 time (the `setup` response time), ms.
    setup_ms: Option<f64>,
}

/// The last line of sipp's -trace_stat file (';'-separated, a header first):
/// the cumulative counters at its end.
fn sipp_counts(stat: &str) -> Option<Counts> {
    let mut lines = stat.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next()?.split(';').collect();
    let last: Vec<&str> = lines.next_back()?.split(';').collect();
    let field = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .and_then(|i| last.get(i))
            .map(|v| v.trim())
    };
    let num = |name: &str| field(name)?.parse::<u32>().ok();
    Some(Counts {
        created: num("TotalCallCreated")?,
        successful: num("SuccessfulCall(C)")?,
        setup_ms: field("ResponseTimesetup(C)").and_then(clock_ms),
    })
}

/// sipp's "HH:MM:SS:uuuuuu" in ms.
fn clock_ms(t: &str) -> Option<f64> {
    let p: Vec<f64> = t
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    match p[..] {
        [h, m, s, us] => Some(crate::phases::round2(
            (h * 3600.0 + m * 60.0 + s) * 1000.0 + us / 1000.0,
        )),
        _ => None,
    }
}

/// The most sockets sipp may open, below the open-files limit it runs under
/// (sipp refuses a -max_socket at or above it).
fn max_sockets(open_files: u64) -> u64 {
    open_files.saturating_sub(64).clamp(64, 10_000)
}

/// This process's (and so sipp's) soft limit of open files.
fn open_files_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur
    } else {
        1024
    }
}

/// The injection file: each call dials the next callee (field0).
fn callees_csv(callees: &[u16]) -> String {
    let mut csv = String::from("SEQUENTIAL\n");
    for c in callees {
        csv.push_str(&format!("{c};\n"));
    }
    csv
}

/// The SDP of an audio stream of one G.711 codec: payload type 8 (PCMA) or 0
/// (PCMU), 20 ms packets.
fn sdp(payload_type: u8, codec: &str) -> String {
    format!(
        "v=0\n\
o=- [call_number] 1 IN IP[local_ip_type] [local_ip]\n\
s=-\n\
c=IN IP[media_ip_type] [media_ip]\n\
t=0 0\n\
m=audio [media_port] RTP/AVP {payload_type}\n\
a=rtpmap:{payload_type} {codec}/8000\n\
a=ptime:20\n"
    )
}

/// A caller's INVITE from phone `user` to callee [field0], offering PCMA only;
/// `auth` is sipp's digest line for the answer to a challenge, or empty.
pub(crate) fn invite(user: &str, cseq: u32, auth: &str) -> String {
    format!(
        "INVITE sip:[field0]@[remote_ip] SIP/2.0\n\
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n\
From: <sip:{user}@[remote_ip]>;tag=[call_number]\n\
To: <sip:[field0]@[remote_ip]>\n\
Call-ID: [call_id]\n\
CSeq: {cseq} INVITE\n\
Contact: <sip:{user}@[local_ip]:[local_port]>\n\
{auth}Max-Forwards: 70\n\
Content-Type: application/sdp\n\
Content-Length: [len]\n\n{}",
        sdp(8, "PCMA")
    )
}

/// The start of a caller's sipp scenario: the INVITE (`first`, its send tag
/// with `attrs`), the challenge (401) and its ACK, the INVITE again with
/// credentials (`second`), and the provisional answers that may come before the
/// final one (a slow PBX may send its 401 twice: the late duplicate is optional).
pub(crate) fn challenged_invite(attrs: &str, first: &str, ack: &str, second: &str) -> String {
    format!(
        "<send retrans=\"500\"{attrs}><![CDATA[\n{first}\n]]></send>\n\
<recv response=\"100\" optional=\"true\"/>\n\
<recv response=\"401\" auth=\"true\"/>\n\
<send><![CDATA[\n{ack}\n]]></send>\n\
<send retrans=\"500\"><![CDATA[\n{second}\n]]></send>\n\
<recv response=\"401\" optional=\"true\"/>\n\
<recv response=\"100\" optional=\"true\"/>\n\
<recv response=\"180\" optional=\"true\"/>\n\
<recv response=\"183\" optional=\"true\"/>\n"
    )
}

/// The caller's sipp scenario: an INVITE to callee [field0] offering PCMA only,
/// answered with digest authentication when challenged (a slow PBX may send its
/// 401 twice: the late duplicate is optional, as in sip.rs's REGISTER); once
/// answered, `pcap`'s RTP for `hold`, then BYE.
pub(crate) fn uac_xml(user: &str, secret: &str, pcap: &str, hold: Duration) -> String {
    let invite = |cseq: u32, auth: &str| invite(user, cseq, auth);
    let in_dialog = |method: &str, cseq: u32, via: &str| {
        format!(
            "{method} sip:[field0]@[remote_ip] SIP/2.0\n\
{via}\n\
From: <sip:{user}@[remote_ip]>;tag=[call_number]\n\
[last_To:]\n\
Call-ID: [call_id]\n\
CSeq: {cseq} {method}\n\
Max-Forwards: 70\n\
Content-Length: 0\n"
        )
    };
    let new_via = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]";
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"load call from {user}\">\n\
{}\
<recv response=\"200\" rtd=\"setup\"/>\n\
<send><![CDATA[\n{}\n]]></send>\n\
<nop><action><exec play_pcap_audio=\"{pcap}\"/></action></nop>\n\
<pause milliseconds=\"{}\"/>\n\
<send retrans=\"500\"><![CDATA[\n{}\n]]></send>\n\
<recv response=\"200\"/>\n</scenario>\n",
        challenged_invite(
            " start_rtd=\"setup\"",
            &invite(1, ""),
            // The ACK of the 401 belongs to the first INVITE's transaction: its Via.
            &in_dialog("ACK", 1, "[last_Via:]"),
            &invite(
                2,
                &format!("[authentication username={user} password={secret}]\n")
            ),
        ),
        in_dialog("ACK", 2, new_via),
        hold.as_millis(),
        in_dialog("BYE", 3, new_via),
    )
}

/// The callees' sipp scenario: rings, answers PCMU only (its media port echoes
/// RTP with -rtp_echo), and takes the caller's BYE.
pub(crate) fn uas_xml() -> String {
    let response = |status: &str, tag: &str, body: &str| {
        format!(
            "SIP/2.0 {status}\n\
[last_Via:]\n\
[last_From:]\n\
[last_To:]{tag}\n\
[last_Call-ID:]\n\
[last_CSeq:]\n\
Contact: <sip:[local_ip]:[local_port]>\n{body}"
        )
    };
    let tag = ";tag=[call_number]";
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"load callee\">\n\
<recv request=\"INVITE\"/>\n\
<send><![CDATA[\n{}\n]]></send>\n\
<send retrans=\"500\"><![CDATA[\n{}\n]]></send>\n\
<recv request=\"ACK\"/>\n\
<recv request=\"BYE\"/>\n\
<send><![CDATA[\n{}\n]]></send>\n</scenario>\n",
        response("180 Ringing", tag, "Content-Length: 0\n"),
        response(
            "200 OK",
            tag,
            &format!(
                "Content-Type: application/sdp\nContent-Length: [len]\n\n{}",
                sdp(0, "PCMU")
            )
        ),
        response("200 OK", "", "Content-Length: 0\n"),
    )
}

/// G.711 a-law of a 16-bit linear sample (ITU-T G.711, as the reference g711.c).
fn alaw(sample: i16) -> u8 {
    const SEG_END: [i16; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let v = sample >> 3;
    let (v, mask) = if v >= 0 { (v, 0xD5) } else { (-v - 1, 0x55) };
    match SEG_END.iter().position(|&end| v <= end) {
        None => 0x7F ^ mask,
        Some(seg) => {
            let shift = if seg < 2 { 1 } else { seg };
            (((seg as u8) << 4) | ((v >> shift) as u8 & 0x0F)) ^ mask
        }
    }
}

/// RTP packets per second (20 ms of 8 kHz audio each).
const PACKETS_PER_S: u32 = 50;
const SAMPLES_PER_PACKET: usize = 160;

/// A pcap (Ethernet, IPv4, UDP) of `seconds` of RTP, payload type 8 (a-law), a
/// 400 Hz tone in 20 ms packets: what play_pcap_audio sends on each call (it
/// keeps the UDP payload and the timing; addresses and ports are its own).
pub(crate) fn alaw_pcap(seconds: u32) -> Vec<u8> {
    let period = 8000 / TONE_HZ as usize;
    let tone: Vec<u8> = (0..period)
        .map(|i| {
            let x = (i as f64 * std::f64::consts::TAU / period as f64).sin();
            alaw((x * TONE_AMPLITUDE) as i16)
        })
        .collect();
    let payload: Vec<u8> = tone
        .iter()
        .cycle()
        .take(SAMPLES_PER_PACKET)
        .copied()
        .collect();
    let mut out = Vec::new();
    // Global header: magic, version 2.4, UTC, accuracy, snap length, Ethernet.
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for n in 0..seconds * PACKETS_PER_S {
        let frame = rtp_frame(n, &payload);
        let usec = (n % PACKETS_PER_S) * (1_000_000 / PACKETS_PER_S);
        for word in [
            n / PACKETS_PER_S,
            usec,
            frame.len() as u32,
            frame.len() as u32,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    out
}

/// Packet `n` of the stream: Ethernet, IPv4 (documentation addresses), UDP
/// 6000 to 6000 without a checksum (sipp sets its own), RTP.
fn rtp_frame(n: u32, payload: &[u8]) -> Vec<u8> {
    let mut rtp = vec![0x80, if n == 0 { 0x88 } else { 0x08 }];
    rtp.extend_from_slice(&(n as u16).to_be_bytes());
    rtp.extend_from_slice(&(n * SAMPLES_PER_PACKET as u32).to_be_bytes());
    rtp.extend_from_slice(&0x1313_0001u32.to_be_bytes());
    rtp.extend_from_slice(payload);
    let udp_len = (8 + rtp.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&(20 + udp_len).to_be_bytes());
    ip.extend_from_slice(&(n as u16).to_be_bytes());
    ip.extend_from_slice(&[0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    let sum = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut frame = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    frame.extend_from_slice(&ip);
    for word in [6000u16, 6000, udp_len, 0] {
        frame.extend_from_slice(&word.to_be_bytes());
    }
    frame.extend_from_slice(&rtp);
    frame
}

/// The IPv4 header checksum (its own field zero while summed).
fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(calls: u32, passed: bool) -> LoadStep {
        LoadStep {
            calls,
            calls_per_s: calls_per_s(calls),
            planned: planned(calls),
            placed: 0,
            successful: 0,
            failed: 0,
            failed_pct: 0.0,
            passed,
            setup_ms: None,
            seconds: 60.0,
            cpu: Vec::new(),
            host_busy_pct: None,
        }
    }

    #[test]
    fn the_ramp_starts_small_grows_by_a_third_and_stops_at_a_failed_step() {
        let at = Duration::from_secs(60);
        assert_eq!(next_step(None, at), Ok(FIRST_CALLS));
        let mut calls = vec![FIRST_CALLS];
        while calls.len() < 12 {
            let last = step(*calls.last().unwrap(), true);
            calls.push(next_step(Some(&last), at).unwrap());
        }
        assert_eq!(calls, [2, 3, 4, 6, 8, 11, 15, 20, 27, 36, 48, 64]);
        assert_eq!(
            next_step(Some(&step(8, false)), at),
            Err(LoadStop::StepFailed)
        );
    }

    #[test]
    fn the_bound_stops_the_ramp_when_no_step_fits_any_more() {
        let fits = BOUND - STEP_LIMIT;
        assert_eq!(next_step(Some(&step(4, true)), fits), Ok(6));
        assert_eq!(
            next_step(Some(&step(4, true)), fits + Duration::from_secs(1)),
            Err(LoadStop::TimeBound)
        );
        assert_eq!(next_step(None, BOUND), Err(LoadStop::TimeBound));
        assert!(
            STEP_LIMIT * 8 < BOUND,
            "the bound leaves room for a useful ramp"
        );
    }

    #[test]
    fn a_step_places_its_rate_for_the_window_and_needs_under_one_percent_failed() {
        assert_eq!(planned(2), 3);
        assert_eq!(planned(20), 30);
        assert_eq!(judge(30, 30), (0, 0.0, true));
        assert_eq!(judge(30, 29), (1, 3.33, false), "1 of 30 is over 1 %");
        assert_eq!(judge(150, 149), (1, 0.67, true));
        assert_eq!(judge(3, 5), (0, 0.0, true), "never below zero");
        assert!(!judge(0, 0).2);
    }

    const STAT_A: &str =
        "cpu  1000 0 500 8000 100 0 0 0 0 0\ncpu0 1000 0 500 8000 100 0 0 0 0 0\nintr 1\n";
    const STAT_B: &str =
        "cpu  1600 0 800 8500 100 0 100 0 0 0\ncpu0 1600 0 800 8500 100 0 100 0 0 0\n";

    #[test]
    fn cpu_busy_is_the_share_of_non_idle_ticks_between_two_samples() {
        let (a, b) = (ticks(STAT_A), ticks(STAT_B));
        assert_eq!(
            a,
            Some(Ticks {
                busy: 1500,
                total: 9600
            })
        );
        // 1000 busy ticks of 1500.
        assert_eq!(busy_pct(a, b), Some(66.67));
        assert_eq!(busy_pct(a, a), None, "no time passed");
        assert_eq!(busy_pct(None, b), None);
        assert_eq!(ticks("intr 1\n"), None);
        assert_eq!(ticks("cpu  1 2\n"), None);
    }

    #[test]
    fn channels_and_transcoding_are_read_from_the_cli() {
        let count = "0 active channels\n0 active calls\n12 calls processed\n";
        assert_eq!(active_channels(count), Some(0));
        assert_eq!(
            active_channels("1 active channel\n1 active call\n"),
            Some(1)
        );
        assert_eq!(
            active_channels("Unable to connect to remote asterisk\n"),
            None
        );
        let chan = " -- General --\n           Name: PJSIP/1001-00000001\n WriteTranscode: Yes (slin@8000)->(alaw@8000)\n  ReadTranscode: No \n";
        assert!(transcodes(chan));
        assert!(!transcodes(" WriteTranscode: No \n  ReadTranscode: No \n"));
    }

    #[test]
    fn sipps_statistics_give_the_last_lines_counters_by_name() {
        let stat = "StartTime;TotalCallCreated;SuccessfulCall(C);FailedCall(C);ResponseTimesetup(C);\n\
            2026-12-07\t17:15:06.807213\t1796663706.807213;1;0;0;00:00:00:000000;\n\
            2026-12-07\t17:15:12.821966\t1796663712.821966;30;28;2;00:00:01:250000;\n";
        assert_eq!(
            sipp_counts(stat),
            Some(Counts {
                created: 30,
                successful: 28,
                setup_ms: Some(1250.0)
            })
        );
        assert_eq!(sipp_counts("StartTime;TotalCallCreated;\n"), None);
        assert_eq!(sipp_counts(""), None);
        assert_eq!(clock_ms("00:01:02:500000"), Some(62500.0));
        assert_eq!(clock_ms("garbage"), None);
    }

    #[test]
    fn a_note_quotes_the_end_of_a_log() {
        assert_eq!(last_chars("abcdef", 3), "def");
        assert_eq!(last_chars("ab", 3), "ab");
        assert_eq!(last_chars("añb", 2), "ñb");
        assert_eq!(last_chars("", 3), "");
    }

    #[test]
    fn sipp_gets_a_socket_limit_under_the_open_files_limit() {
        assert_eq!(max_sockets(1024), 960);
        assert_eq!(max_sockets(20000), 10_000);
        assert_eq!(max_sockets(10), 64);
        assert!(open_files_limit() > 0);
    }

    #[test]
    fn the_caller_offers_pcma_authenticates_and_plays_the_pcap_for_the_hold() {
        let x = uac_xml("1001", "lab-phone-1001", "load-x-alaw.pcap", HOLD);
        assert!(x.contains("m=audio [media_port] RTP/AVP 8\na=rtpmap:8 PCMA/8000"));
        assert!(!x.contains("PCMU"));
        assert!(x.contains("[authentication username=1001 password=lab-phone-1001]"));
        assert!(x.contains("<recv response=\"401\" auth=\"true\"/>"));
        assert!(x.contains("play_pcap_audio=\"load-x-alaw.pcap\""));
        assert!(x.contains("<pause milliseconds=\"20000\"/>"));
        assert!(x.contains("INVITE sip:[field0]@[remote_ip]"));
        assert_eq!(x.matches("CSeq: 2 INVITE").count(), 1);
        assert!(
            x.contains("[last_Via:]\nFrom"),
            "the 401's ACK reuses the INVITE's Via"
        );
        assert!(x.contains("CSeq: 3 BYE"));
    }

    #[test]
    fn the_callee_answers_pcmu_only() {
        let x = uas_xml();
        assert!(x.contains("m=audio [media_port] RTP/AVP 0\na=rtpmap:0 PCMU/8000"));
        assert!(!x.contains("PCMA"));
        assert!(x.contains("SIP/2.0 180 Ringing") && x.contains("<recv request=\"BYE\"/>"));
        assert_eq!(callees_csv(&[1002, 1003]), "SEQUENTIAL\n1002;\n1003;\n");
    }

    #[test]
    fn alaw_follows_g711() {
        assert_eq!(alaw(0), 0xD5);
        assert_eq!(alaw(-1), 0x55);
        assert_eq!(alaw(i16::MAX), 0xAA);
        assert_eq!(alaw(i16::MIN), 0x2A);
        assert_eq!(alaw(1000), 0xFA);
    }

    #[test]
    fn the_pcap_is_rtp_over_udp_over_ipv4_over_ethernet_at_50_packets_a_second() {
        let p = alaw_pcap(2);
        assert_eq!(&p[..4], &0xa1b2_c3d4u32.to_le_bytes());
        assert_eq!(u32::from_le_bytes(p[20..24].try_into().unwrap()), 1);
        let mut off = 24;
        let mut n = 0u32;
        let mut last_ts = 0.0;
        while off < p.len() {
            let word = |i: usize| u32::from_le_bytes(p[off + i..off + i + 4].try_into().unwrap());
            let (sec, usec, len) = (word(0), word(4), word(8) as usize);
            assert_eq!(len, word(12) as usize);
            let f = &p[off + 16..off + 16 + len];
            assert_eq!(&f[12..14], &[0x08, 0x00], "IPv4");
            assert_eq!(ipv4_checksum(&f[14..34]), 0, "a valid header checksum");
            assert_eq!(f[23], 17, "UDP");
            let udp_len = u16::from_be_bytes([f[38], f[39]]) as usize;
            assert_eq!(udp_len, len - 34);
            let rtp = &f[42..];
            assert_eq!(rtp[0], 0x80);
            assert_eq!(rtp[1] & 0x7f, 8, "payload type 8: PCMA");
            assert_eq!(u16::from_be_bytes([rtp[2], rtp[3]]), n as u16);
            assert_eq!(rtp.len(), 12 + SAMPLES_PER_PACKET);
            let ts = f64::from(sec) + f64::from(usec) / 1e6;
            assert!(n == 0 || (ts - last_ts - 0.02).abs() < 1e-9);
            last_ts = ts;
            off += 16 + len;
            n += 1;
        }
        assert_eq!(n, 2 * PACKETS_PER_S);
    }

    #[test]
    fn the_method_names_the_codecs_the_limit_and_the_bound() {
        let m = method(10);
        assert!(m.contains("PCMA only") && m.contains("PCMU only"));
        assert!(m.contains("under 1 % failed"));
        assert!(m.contains("15 min bound"));
    }
}
