//! KVM or TCG for the guests.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::args::Accel as AccelArg;
use crate::procs::Group;
use crate::vm::Accel;

/// A kernel under KVM reaches its root mount (or panics) within this.
const TEST_BOOT_WAIT: Duration = Duration::from_secs(30);
/// Between looks at the test boot's console log.
const TEST_BOOT_POLL: Duration = Duration::from_millis(200);

/// KVM when asked or when /dev/kvm exists and a kernel actually runs under it (nested
/// KVM on this machine kind fails with "KVM internal error"), else TCG.
pub fn detect(want: AccelArg, images: &Path) -> Accel {
    match want {
        AccelArg::Tcg => return Accel::Tcg,
        AccelArg::Kvm => return Accel::Kvm,
        AccelArg::Auto => {}
    }
    if !Path::new("/dev/kvm").exists() {
        eprintln!("vm-tests: no /dev/kvm: TCG");
        return Accel::Tcg;
    }
    let log = std::env::temp_dir().join(format!("pbx-vm-kvm-{}.log", std::process::id()));
    let ok = test_boot(images, &log);
    let _ = std::fs::remove_file(&log);
    eprintln!(
        "vm-tests: KVM test boot {}",
        if ok { "worked: KVM" } else { "failed: TCG" }
    );
    if ok { Accel::Kvm } else { Accel::Tcg }
}

/// Boots node1's kernel under KVM with its console in `log`: true when it got as
/// far as mounting root (a panic for want of one counts) without a KVM error.
fn test_boot(images: &Path, log: &Path) -> bool {
    let Ok(file) = std::fs::File::create(log) else {
        return false;
    };
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-accel", "kvm", "-cpu", "host", "-smp", "1", "-m", "256"])
        .args([
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            "stdio",
        ])
        .arg("-kernel")
        .arg(images.join("node1.vmlinuz"))
        .args(["-append", "console=ttyS0 panic=-1"])
        .stdin(Stdio::null())
        .stdout(file.try_clone().map(Stdio::from).unwrap_or(Stdio::null()))
        .stderr(file.try_clone().map(Stdio::from).unwrap_or(Stdio::null()));
    let Ok(mut g) = Group::spawn("kvm test", cmd) else {
        return false;
    };
    let read = || std::fs::read_to_string(log).unwrap_or_default();
    let _ = crate::wait_until(
        TEST_BOOT_WAIT,
        TEST_BOOT_POLL,
        "the KVM test boot to mount root, panic or fail",
        &String::new,
        || {
            let s = read();
            Ok(!g.running()
                || s.contains("VFS:")
                || s.contains("Kernel panic")
                || s.contains("internal error"))
        },
    );
    g.kill();
    let s = read();
    (s.contains("VFS:") || s.contains("Kernel panic")) && !s.contains("internal error")
}
