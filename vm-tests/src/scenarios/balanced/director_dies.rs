//! Scenario 6: node1 (the director) is killed (its QEMU, SIGKILL): node2's shared
//! filesystem takes writes again once node1 is fenced, the virtual IP answers SIP,
//! the director moves; phones are called with and without registering again; the
//! database runs on node2 with what node1 acknowledged.

use std::time::{Duration, Instant};

use super::cold_start::COLD_ROW;
use super::{call, contact_port, database, register, secs, shared_write, time_until};
use crate::Error;
use crate::cluster::{Pair, SIP_TARGET};
use crate::report::{Scenario, Trial};
use crate::scenarios::timing::{FAILOVER_LIMIT, PROBE_EVERY};
use crate::scenarios::{Entry, Run};

/// The row written on node1 just before the kill.
const BEFORE_KILL_ROW: &str = "before-the-director-dies";
/// The database starts on node2 after the director's address and ldirectord and
/// recovers InnoDB's log.
const DATABASE_MOVE_WAIT: Duration = Duration::from_secs(300);

/// A write on node2's OCFS2 waits for node1's fence and the filesystem's recovery.
const WRITE_T: Duration = Duration::from_secs(240);
const DIRECTOR_MOVE_WAIT: Duration = Duration::from_secs(300);

/// From the kill: when the survivor's filesystem and the virtual IP were back.
struct Recovery {
    write_ok: bool,
    /// Seconds until the write returned.
    write_s: f64,
    /// Seconds until SIP answered on the virtual IP.
    answer: Option<f64>,
    /// Seconds until node2 held the virtual IP on eth0 (the director).
    moved: Option<f64>,
    /// Seconds until node2's database ran with node1's rows.
    database: Option<f64>,
}

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let on = run.carry.registered.clone();
    let pair = &mut run.pair;
    let row = database::write_row(pair, 0, BEFORE_KILL_ROW);
    let mut rows = vec![COLD_ROW];
    if row {
        rows.push(BEFORE_KILL_ROW);
    }
    let kill = Instant::now();
    pair.crash(0);
    let r = recovery(pair, kill, &rows)?;
    s.check(
        "node2's shared filesystem takes writes again once node1 is fenced",
        r.write_ok,
        format!("the write returned {:.1} s after the kill", r.write_s),
    );
    s.check(
        "the virtual IP answers SIP again",
        r.answer.is_some(),
        format!("{} after the kill", secs(r.answer)),
    );
    let moved = r.moved;
    s.check(
        "the director (virtual IP on eth0) moves to node2",
        moved.is_some(),
        format!("after {}", secs(moved)),
    );
    phone_checks(pair, &mut s, &on, kill)?;
    let db = r.database;
    database_checks(pair, &mut s, row, &rows, db);
    // The survivor's story of the takeover (fence, cluster filesystem recovery,
    // database start), kept for a failed check to be read afterwards.
    pair.save_journal(1, "director-died");
    if let Some(t) = r.answer {
        s.trials.push(Trial {
            failover_s: Some(crate::phases::round2(t)),
            from: pair.name(0).into(),
            to: pair.name(1).into(),
            phases: Vec::new(),
        });
    }
    s.notes.push(format!(
        "kill to: SIP on the virtual IP {}, director on node2 {}, node2's filesystem writable {:.1} s, the database on node2 with its rows {}",
        secs(r.answer),
        secs(moved),
        r.write_s,
        secs(db)
    ));
    s.finish();
    run.push(s);
    Ok(())
}

/// All measured from the kill at once: the survivor's shared filesystem (a write
/// waits for node1's fence and the cluster filesystem's recovery), SIP on the
/// virtual IP, the database with node1's `rows` on node2 and the director's move (measured after the write, the move took
/// the write's time: a Heartbeat run reported 64.2 s for a move that SIP showed
/// done at 16.1 s).
fn recovery(pair: &Pair, kill: Instant, rows: &[&str]) -> Result<Recovery, Error> {
    let (write_ok, write_s, answer, moved, database) = std::thread::scope(|sc| {
        let writer = sc.spawn(|| shared_write(pair, 1, "director-died", kill, WRITE_T));
        // node1 is dead: only node2 is asked (a look at node1 would wait out ssh).
        let director = sc.spawn(|| {
            time_until(kill, DIRECTOR_MOVE_WAIT, "the director on node2", || {
                pair.holds_vip(1)
            })
        });
        let database = sc.spawn(|| {
            time_until(kill, DATABASE_MOVE_WAIT, "the database on node2", || {
                database::state(pair, 1) == "active"
                    && database::missing_rows(pair, 1, rows).is_empty()
            })
        });
        let answer =
            crate::sip::first_answer(&pair.lab, SIP_TARGET, kill, PROBE_EVERY, FAILOVER_LIMIT);
        let (ok, secs) = writer.join().unwrap_or((false, f64::NAN));
        let moved = director.join().unwrap_or(None);
        let database = database.join().unwrap_or(None);
        (ok, secs, answer, moved, database)
    });
    Ok(Recovery {
        write_ok,
        write_s,
        answer: answer?,
        moved,
        database,
    })
}

/// The database moved with the director and holds what node1 acknowledged (the
/// cold start's row and, when node1 acknowledged it, the one written just before
/// the kill): `moved`, the seconds from the kill until it did.
fn database_checks(
    pair: &Pair,
    s: &mut Scenario,
    row_written: bool,
    rows: &[&str],
    moved: Option<f64>,
) {
    s.check(
        "a row written on node1 just before the kill is acknowledged",
        row_written,
        BEFORE_KILL_ROW,
    );
    s.check(
        "the database runs on node2 with the rows node1 acknowledged",
        moved.is_some(),
        match moved {
            Some(t) => format!("{t:.1} s after the kill"),
            None => format!(
                "{}; missing rows: {:?}",
                database::state(pair, 1),
                database::missing_rows(pair, 1, rows)
            ),
        },
    );
}

/// A phone of node2 is called without registering again; a phone of node1 after
/// registering again (on node2).
fn phone_checks(
    pair: &Pair,
    s: &mut Scenario,
    on: &[Vec<u16>; 2],
    kill: Instant,
) -> Result<(), Error> {
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
    Ok(())
}
