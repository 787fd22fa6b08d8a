//! Scenario 15: the rolling upgrade of pbx-cluster itself, as README's recipe
//! has it: a newer version in the nodes' apt repository; the standby upgraded
//! and re-applied first, the group switched over to it, the other node upgraded
//! and re-applied, then back online (the group fails back). SIP on the virtual
//! IP is watched through the whole upgrade: its longest silence is the cost.

use std::time::{Duration, Instant};

use crate::Error;
use crate::cluster::{Pair, SIP_TARGET};
use crate::report::Scenario;
use crate::scenarios::fencing::check_nobody_fenced;
use crate::scenarios::restore::{HEALTHY, from_snapshot};
use crate::scenarios::timing::{HEALTHY_WAIT, PROBE_EVERY};
use crate::scenarios::{Entry, Run, first_lines};

use super::switchover::{fail_back, switch_away};

/// apt and apply under emulation.
const UPGRADE_T: Duration = Duration::from_secs(900);
/// Where the image had our repository (it removes it when the image is built).
const REPO_ON_NODE: &str = "/opt/pbx-cluster-repo";
const REPO_LIST: &str = "/etc/apt/sources.list.d/pbx-cluster-local.list";
/// The installed pbx-cluster packages and their versions, one per line.
const VERSIONS: &str = "dpkg-query -W -f='${Status} ${Package} ${Version}\\n' 'pbx-cluster*' | awk '$3 == \"installed\" {print $4, $5}'";
/// README's step for one node: our source only (the lab has no other mirror),
/// the installed pbx-cluster packages upgraded, the profile applied again by the
/// new version (it may render other files).
const UPGRADE_NODE: &str = "set -e; export DEBIAN_FRONTEND=noninteractive; \
apt-get update -q -o Dir::Etc::sourcelist=sources.list.d/pbx-cluster-local.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0; \
apt-get install -y -q --only-upgrade -o Dpkg::Options::=--force-confold $(dpkg-query -W -f='${Status} ${Package}\\n' 'pbx-cluster*' | awk '$3 == \"installed\" {print $4}'); \
pbx-cluster apply --this-node /etc/pbx-cluster/cluster.toml 2>&1";

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.scenario(entry);
    let Some(next) = run.args.next_repo.clone() else {
        s.check(
            "a newer version's repository was given (--next-repo; vm-tests/run builds it)",
            false,
            "",
        );
        s.finish();
        run.push(s);
        return Ok(());
    };
    let pair = &mut run.pair;
    from_snapshot(pair, &mut s, HEALTHY)?;
    let active = pair.wait_healthy(HEALTHY_WAIT, "healthy cluster before the upgrade")?;
    let standby = 1 - active;
    offer(pair, &next)?;
    let before: Vec<String> = (0..2).map(|i| pair.sh(i, VERSIONS).stdout_str()).collect();
    let started = Instant::now();
    let watch = crate::sip::Watch::start(&pair.lab, SIP_TARGET, PROBE_EVERY)?;
    upgrade(pair, &mut s, standby, "the standby");
    let sw = switch_away(pair, &mut s, active, "the group moved to the upgraded node");
    upgrade(pair, &mut s, active, "the former active node");
    let fb = fail_back(pair, &mut s, active, "healthy again with the group home");
    let silence = watch.finish();
    let total = started.elapsed().as_secs_f64();
    let after: Vec<String> = (0..2).map(|i| pair.sh(i, VERSIONS).stdout_str()).collect();
    s.check(
        "both nodes run the newer version of every pbx-cluster package",
        after[0] == after[1] && after[0].contains("+next") && before[0] != after[0],
        format!("before: {}; after: {}", before[0].trim(), after[0].trim()),
    );
    for i in 0..2 {
        let out = pair.sh(i, "pbx-cluster status --no-peer >/dev/null; echo $?");
        s.check(
            &format!("{}: the new pbx-cluster status says healthy", pair.name(i)),
            out.stdout_str().trim() == "0",
            format!("exit {}", out.stdout_str().trim()),
        );
    }
    check_nobody_fenced(pair, &mut s, started);
    s.notes.push(format!(
        "whole upgrade {total:.0} s (switchover {sw:.1} s, failback {fb:.1} s); longest SIP silence on the virtual IP {:.1} s ({} of {} probes answered)",
        silence.longest_s, silence.answered, silence.probes
    ));
    s.finish();
    run.push(s);
    Ok(())
}

/// The newer version's repository on both nodes, as their apt source.
fn offer(pair: &Pair, repo: &std::path::Path) -> Result<(), Error> {
    let tar = std::process::Command::new("tar")
        .arg("-czf")
        .arg("-")
        .arg("-C")
        .arg(repo)
        .arg(".")
        .output()
        .map_err(|e| Error::CopyFile {
            from: repo.to_path_buf(),
            to: REPO_ON_NODE.into(),
            source: e,
        })?;
    for i in 0..2 {
        pair.ssh.put(
            &pair.addr(i),
            "/var/tmp/pbx-cluster-repo-next.tgz",
            &tar.stdout,
            0o600,
        )?;
        pair.check(
            i,
            &format!(
                "rm -rf {REPO_ON_NODE} && mkdir -p {REPO_ON_NODE} && tar -xzf /var/tmp/pbx-cluster-repo-next.tgz -C {REPO_ON_NODE} && echo 'deb [trusted=yes] file:{REPO_ON_NODE} stable main' > {REPO_LIST}"
            ),
        )?;
    }
    Ok(())
}

/// One node: README's upgrade step, checked.
fn upgrade(pair: &Pair, s: &mut Scenario, i: usize, role: &str) {
    let t = Instant::now();
    let out = pair.ssh.run(&pair.addr(i), UPGRADE_NODE, UPGRADE_T);
    let took = t.elapsed().as_secs_f64();
    s.check(
        &format!(
            "{role} ({}) upgraded and its profile applied again",
            pair.name(i)
        ),
        out.success(),
        format!(
            "{took:.1} s; {}{}",
            first_lines(&out.stdout_str(), 12),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ),
    );
}
