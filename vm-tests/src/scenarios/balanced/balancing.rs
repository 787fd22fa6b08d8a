//! Scenario 2: PHONES phones REGISTER through the virtual IP, each from its own
//! port: both nodes hold registrations, none both; a re-REGISTER from the same
//! port stays where it was. Leaves which phones each node holds for the later
//! scenarios.

use super::{PHONES, contact_port, register, registered_on};
use crate::Error;
use crate::cluster::Pair;
use crate::report::Scenario;
use crate::scenarios::{Entry, Run, first_lines};

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let pair = &run.pair;
    let failed = register_all(pair, &[])?;
    s.check(
        &format!("{PHONES} phones registered through the virtual IP"),
        failed.is_empty(),
        format!("failed: {failed:?}"),
    );
    let on = [registered_on(pair, 0), registered_on(pair, 1)];
    split_checks(&mut s, &on, failed.len());
    // Re-REGISTER from the same port: the IPVS entry sends it where the first went.
    let again_failed = register_all(pair, &failed)?;
    let after = [registered_on(pair, 0), registered_on(pair, 1)];
    let mut moved = Vec::new();
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
    run.carry.registered = after;
    run.push(s);
    Ok(())
}

/// One REGISTER of every phone but those in `skip`, each from its own port; the
/// extensions that failed.
fn register_all(pair: &Pair, skip: &[u16]) -> Result<Vec<u16>, Error> {
    let mut failed = Vec::new();
    for ext in (1001..=1000 + PHONES).filter(|e| !skip.contains(e)) {
        if !register(pair, ext, contact_port(ext))? {
            failed.push(ext);
        }
    }
    Ok(failed)
}

/// Both nodes hold registrations, every phone on exactly one.
fn split_checks(s: &mut Scenario, on: &[Vec<u16>; 2], failed: usize) {
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
        both.is_empty() && on[0].len() + on[1].len() == (PHONES as usize - failed),
        format!("on both: {both:?}"),
    );
}
