//! Scenario 1: both nodes boot and form the cluster through the product's own
//! first boot; the healthy pair is saved as the snapshot the later scenarios
//! start from.

use std::time::Duration;

use crate::Error;
use crate::cluster::{Pair, SIP_TARGET};
use crate::report::Scenario;
use crate::scenarios::restore::HEALTHY;
use crate::scenarios::{Entry, Run};

/// The boot partition's mount after the cluster is healthy: the device showed up 70 s
/// after coldplug on a slow first boot; a partition that never comes still fails.
const BOOT_MOUNT_WAIT: Duration = Duration::from_secs(300);
/// The kernel hook on a loaded guest: it copies a kernel and an initrd onto FAT and
/// syncs (the 30 s of one ssh command ran out on a throttled quick run).
const BOOT_HOOK_T: Duration = Duration::from_secs(180);

pub fn run(run: &mut Run, entry: &Entry) -> Result<(), Error> {
    let mut s = run.cold_start(entry, |e, secs| {
        format!(
            "{e}: first-boot `pbx-cluster init` (cold start {secs:.0} s from power-on to a healthy cluster)"
        )
    })?;
    group_checks(&run.pair, &mut s);
    boot_unit_checks(&run.pair, &mut s);
    boot_partition_checks(&run.pair, &mut s);
    s.finish();
    run.push(s);
    run.pair.save_journal(0, "cold");
    run.pair.save_journal(1, "cold");

    // Every later scenario and trial starts from this state: both nodes as the
    // cold start left them (RAM, devices, disks), settled as the engine needs.
    for i in 0..2 {
        run.engine().settle(&run.pair, i)?;
    }
    let saved = run.pair.snapshot(HEALTHY)?;
    let e = run.engine().name();
    run.report.formation.push(format!(
        "{e}: later scenarios and hard-kill trials start from a snapshot of this healthy pair (saved in {:.0} s), not from a reboot",
        saved.as_secs_f64()
    ));
    Ok(())
}

/// The group where it belongs: VIP on node1, DRBD in sync, SIP and every module.
fn group_checks(pair: &Pair, s: &mut Scenario) {
    let holders = pair.vip_holders();
    s.check(
        "virtual IP on the preferred node (node1)",
        holders == vec![0],
        format!("holders: {:?}", pair.names(&holders)),
    );
    for i in 0..2 {
        let d = pair.drbd(i);
        s.check(
            &format!("DRBD Connected UpToDate/UpToDate on {}", pair.name(i)),
            d.contains("cs:Connected") && d.contains("ds:UpToDate/UpToDate"),
            d,
        );
    }
    s.check(
        "Asterisk answers SIP OPTIONS on the virtual IP",
        pair.sip_ok(),
        SIP_TARGET,
    );
    if let Some(&active) = holders.first() {
        let missing = pair.modules_not_running(active);
        s.check(
            &format!(
                "every module modules.conf loads runs in Asterisk on {}",
                pair.name(active)
            ),
            missing.as_ref().is_ok_and(|m| m.is_empty()),
            format!("not running: {missing:?}"),
        );
    }
}

/// The group's services stay out of the boot sequence, and so does what the
/// engine starts itself (Pacemaker's DRBD clone attaches and promotes; under
/// Heartbeat, whose drbddisk only promotes, drbd's own unit attaches at boot).
fn boot_unit_checks(pair: &Pair, s: &mut Scenario) {
    let units: Vec<&str> = pair
        .services
        .iter()
        .map(String::as_str)
        .chain(pair.engine.product().boot_disable().iter().copied())
        .collect();
    let units = units.join(" ");
    for i in 0..2 {
        let out = pair
            .sh(
                i,
                &format!("for u in {units}; do echo \"$u=$(systemctl is-enabled $u 2>&1)\"; done"),
            )
            .stdout_str();
        let ok = !out.lines().any(|l| l.ends_with("=enabled"));
        s.check(
            &format!("group services not enabled at boot on {}", pair.name(i)),
            ok,
            out.trim().replace('\n', ", "),
        );
    }
}

/// Kernel upgrades reach the bootloader: the FAT partition syslinux boots from
/// is mounted and carries the running kernel; the hook runs cleanly on it. Both
/// nodes: a late device on either one left its partition unmounted.
/// A slow first boot may mount it late (the product's unit waits for the device
/// however long it takes): the check waits for the mount, bounded, and then gives
/// the hook (a kernel and an initrd copied onto FAT and synced on a loaded
/// guest) more than one ssh command's time.
fn boot_partition_checks(pair: &Pair, s: &mut Scenario) {
    for i in 0..2 {
        let mounted = pair.wait(
            BOOT_MOUNT_WAIT,
            &format!("{}: boot partition mounted", pair.name(i)),
            || Ok(pair.sh(i, "findmnt -n -o FSTYPE /boot/pbx-boot").success()),
        );
        let boot = pair.ssh.run(
            &pair.addr(i),
            "findmnt -n -o FSTYPE /boot/pbx-boot && cmp /boot/pbx-boot/vmlinuz /boot/vmlinuz-$(uname -r) && /etc/kernel/postinst.d/zz-pbx-cluster-boot $(uname -r) && echo current",
            BOOT_HOOK_T,
        );
        let ok = mounted.is_ok() && boot.success() && boot.stdout_str().contains("current");
        let mut detail = format!(
            "{}{} {}",
            match &mounted {
                Ok(t) => format!("mounted after {:.1}s of waiting; ", t.as_secs_f64()),
                Err(_) => format!("not mounted within {}s; ", BOOT_MOUNT_WAIT.as_secs()),
            },
            boot.stdout_str().trim().replace('\n', " "),
            String::from_utf8_lossy(&boot.stderr).trim()
        );
        if !ok {
            // Why: what the boot said about the partition's device and mount.
            let lines = crate::vm::serial_lines(
                &pair.vms[i].spec.serial_log,
                &["PBXBOOT", "pbx-boot", "pbx\\x2dboot"],
                12,
            );
            detail.push_str(&format!("; serial log: {}", lines.replace('\n', " | ")));
        }
        s.check(
            &format!(
                "boot partition mounted on {}, holding the running kernel; the kernel hook runs on it",
                pair.name(i)
            ),
            ok,
            detail,
        );
    }
}
