//! The external commands of a build: spec x work paths -> commands (pure).
//!
//! Two phases: `rootfs` (mmdebstrap with hooks that keep the .deb cache, add our
//! repository and stage our files) and `disk` (an ext4 root made with
//! `mkfs.ext4 -d`, a FAT boot partition with syslinux written by mtools, an MBR):
//! nothing is mounted and no loop device is needed, so the build also runs where
//! loop devices are missing.

use std::path::{Path, PathBuf};

use super::files::{BOOT_MOUNT_SERVICE, FIRSTBOOT_UNIT, LAB_REPORT_UNIT};
use super::spec::{BOOT_LABEL, BOOT_MIB, ImageSpec, Install, ROOT_LABEL};
use crate::exec::Cmd;

/// Where the build keeps its intermediate files; all under one temporary folder
/// beside the output, so the final renames stay on one filesystem.
#[derive(Debug, Clone)]
pub struct WorkPaths {
    pub root: PathBuf,
    /// A base image's root (and /boot) is mounted here, inside a private namespace.
    pub mnt: PathBuf,
    /// A base image converted to raw, for its partitions.
    pub base_raw: PathBuf,
    /// Files synced into the root before apt runs (sources, pins, the repo dir).
    pub setup: PathBuf,
    /// Files synced into the root after the packages are installed.
    pub files: PathBuf,
    pub cache: PathBuf,
    pub boot_img: PathBuf,
    pub root_img: PathBuf,
    pub disk_raw: PathBuf,
    pub qcow2: PathBuf,
    pub syslinux_cfg: PathBuf,
}

impl WorkPaths {
    pub fn new(work: &Path, cache: &Path, node: &str) -> Self {
        WorkPaths {
            root: work.join("root"),
            mnt: work.join("mnt"),
            base_raw: work.join("base.raw"),
            setup: work.join("setup"),
            files: work.join("files"),
            cache: cache.to_path_buf(),
            boot_img: work.join("boot.img"),
            root_img: work.join("root.img"),
            disk_raw: work.join("disk.raw"),
            qcow2: work.join(format!("{node}.qcow2")),
            syslinux_cfg: work.join("syslinux.cfg"),
        }
    }
}

/// Inside the build only; removed before the image is finished.
pub const REPO_IN_ROOT: &str = "/opt/pbx-cluster-repo";
pub const REPO_LIST: &str = "etc/apt/sources.list.d/pbx-cluster-local.list";
pub const MBR_BIN: &str = "/usr/lib/syslinux/mbr/mbr.bin";

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Quotes a path for a hook, which mmdebstrap runs through `sh -c`.
fn q(path: &Path) -> String {
    shlex::try_quote(&p(path))
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| p(path))
}

/// The apt line for our local repository, as apt inside the root sees it: flat
/// (`Packages` at the top) or with `dists/SUITE` (suite and components read by
/// the caller from its Release).
pub fn repo_source_line(suite_and_components: Option<(&str, &[String])>) -> String {
    match suite_and_components {
        None => format!("deb [trusted=yes] file:{REPO_IN_ROOT} ./\n"),
        Some((suite, comps)) => {
            format!(
                "deb [trusted=yes] file:{REPO_IN_ROOT} {suite} {}\n",
                comps.join(" ")
            )
        }
    }
}

/// Units enabled, disabled (left to `pbx-cluster init`) and masked in the image.
pub fn unit_changes(spec: &ImageSpec) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut enable = vec![
        "systemd-networkd.service".to_string(),
        FIRSTBOOT_UNIT.to_string(),
        BOOT_MOUNT_SERVICE.to_string(),
    ];
    let mut mask = Vec::new();
    if spec.lab {
        enable.push(LAB_REPORT_UNIT.to_string());
        // They steal time from a software-emulated CPU; wait-online would hold
        // network-online.target for two minutes on a VM without links.
        mask.extend(
            [
                "systemd-networkd-wait-online.service",
                "apt-daily.timer",
                "apt-daily-upgrade.timer",
                "e2scrub_all.timer",
                "fstrim.timer",
                "man-db.timer",
            ]
            .map(String::from),
        );
    }
    (enable, spec.cluster_units.clone(), mask)
}

/// One step that prepares or finishes the root. mmdebstrap runs them as its hooks;
/// a base image's root runs the same steps as one script ([`super::base`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    /// Copies a host folder's contents into the root (mmdebstrap's `sync-in`).
    SyncIn(PathBuf, String),
    /// Copies a root folder's contents out to the host (`sync-out`).
    SyncOut(String, PathBuf),
    /// A shell command; `$1` is the root.
    Shell(String),
}

impl Hook {
    pub fn mmdebstrap(&self) -> String {
        match self {
            Hook::SyncIn(src, dest) => format!("sync-in {} {dest}", q(src)),
            Hook::SyncOut(src, dest) => format!("sync-out {src} {}", q(dest)),
            Hook::Shell(s) => s.clone(),
        }
    }

    pub fn script(&self) -> String {
        match self {
            Hook::SyncIn(src, dest) => {
                format!("mkdir -p \"$1\"{dest} && cp -a {}/. \"$1\"{dest}", q(src))
            }
            Hook::SyncOut(src, dest) => {
                format!("mkdir -p {d} && cp -a \"$1\"{src}/. {d}", d = q(dest))
            }
            Hook::Shell(s) => s.clone(),
        }
    }
}

/// Before apt runs: our .deb cache and the extra sources with their pins.
pub fn setup_hooks(w: &WorkPaths) -> Vec<Hook> {
    vec![
        Hook::Shell("mkdir -p \"$1\"/var/cache/apt/archives/".into()),
        Hook::SyncIn(w.cache.clone(), "/var/cache/apt/archives/".into()),
        Hook::SyncIn(w.setup.clone(), "/".into()),
    ]
}

/// After the stack is installed: the cache back out, pbx-cluster from our
/// repository, our files, the units, and the build-only bits removed.
pub fn customize_hooks(spec: &ImageSpec, w: &WorkPaths, repo_line: Option<&str>) -> Vec<Hook> {
    let mut h = vec![Hook::SyncOut(
        "/var/cache/apt/archives".into(),
        w.cache.clone(),
    )];
    if let (Install::Repo(repo), Some(line)) = (&spec.install, repo_line) {
        h.push(Hook::Shell(format!("mkdir -p \"$1\"{REPO_IN_ROOT}")));
        h.push(Hook::SyncIn(repo.clone(), REPO_IN_ROOT.into()));
        h.push(Hook::Shell(format!(
            "printf '%s\\n' {} > \"$1\"/{REPO_LIST}",
            q(Path::new(line.trim()))
        )));
        h.push(Hook::Shell("chroot \"$1\" apt-get update -q".into()));
        h.push(Hook::Shell(format!(
            "chroot \"$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {}",
            spec.from_repo.join(" ")
        )));
    }
    h.push(Hook::SyncIn(w.files.clone(), "/".into()));
    let (enable, disable, mask) = unit_changes(spec);
    h.push(Hook::Shell(format!(
        "chroot \"$1\" systemctl enable {}",
        enable.join(" ")
    )));
    // Installed, but started by `pbx-cluster init` only once the node is configured.
    h.push(Hook::Shell(format!(
        "for u in {}; do chroot \"$1\" systemctl disable \"$u\" 2>/dev/null || true; done",
        disable.join(" ")
    )));
    if !mask.is_empty() {
        h.push(Hook::Shell(format!(
            "chroot \"$1\" systemctl mask {}",
            mask.join(" ")
        )));
    }
    h.push(Hook::Shell(format!(
        "rm -rf \"$1\"{REPO_IN_ROOT} \"$1\"/{REPO_LIST} \"$1\"/var/cache/apt/archives/*.deb"
    )));
    h
}

/// What apt installs before our repository is reachable: the stack without what
/// comes from our repository (mmdebstrap runs apt outside the root, where a
/// `file:` source inside the root does not exist).
pub fn include_packages(spec: &ImageSpec) -> Vec<&str> {
    spec.packages
        .iter()
        .map(String::as_str)
        .filter(|p| !spec.from_repo.iter().any(|r| r == p))
        .collect()
}

/// The root's main apt source: the profile distro's mirror, suite and components.
pub fn main_source_line(spec: &ImageSpec) -> String {
    format!(
        "deb {} {} {}",
        spec.mirror,
        spec.suite,
        spec.components.join(" ")
    )
}

pub fn mmdebstrap(spec: &ImageSpec, w: &WorkPaths, repo_line: Option<&str>) -> Cmd {
    let mut c = Cmd::new("mmdebstrap").args([
        "--mode=root",
        "--variant=apt",
        // The mirror's sid may be a snapshot whose Release has expired.
        "--aptopt=Acquire::Check-Valid-Until \"false\"",
        "--verbose",
    ]);
    c = c.arg(format!("--components={}", spec.components.join(",")));
    if let Some(k) = &spec.keyring {
        c = c.arg(format!("--keyring={k}"));
    }
    c = c.arg(format!("--include={}", include_packages(spec).join(",")));
    // mmdebstrap(1), "keep downloaded packages": skip emptying the archive cache,
    // seed it from our cache before apt runs and copy it back afterwards.
    c = c.args(["--skip=download/empty", "--skip=essential/unlink"]);
    for h in setup_hooks(w) {
        c = c.arg(format!("--setup-hook={}", h.mmdebstrap()));
    }
    for h in customize_hooks(spec, w, repo_line) {
        c = c.arg(format!("--customize-hook={}", h.mmdebstrap()));
    }
    c = c
        .arg(spec.suite.clone())
        .arg(p(&w.root))
        .arg(main_source_line(spec));
    c.timeout(std::time::Duration::from_secs(3600))
}

/// The sfdisk script: partition 1 FAT (active, holds syslinux), partition 2 root.
pub fn sfdisk_script() -> String {
    let sectors_per_mib = 2048;
    format!(
        "label: dos\nstart={}, size={}, type=c, bootable\nstart={}, type=83\n",
        sectors_per_mib,
        BOOT_MIB * sectors_per_mib,
        (1 + BOOT_MIB) * sectors_per_mib
    )
}

/// Commands that turn the finished root folder into a bootable qcow2.
pub fn disk(spec: &ImageSpec, w: &WorkPaths, kernel: &Path, initrd: &Path) -> Vec<Cmd> {
    let root_mib = spec.root_mib();
    vec![
        Cmd::new("mkfs.ext4").args([
            "-q".to_string(),
            "-F".into(),
            "-L".into(),
            ROOT_LABEL.into(),
            "-d".into(),
            p(&w.root),
            p(&w.root_img),
            format!("{root_mib}M"),
        ]),
        Cmd::new("mkfs.vfat").args([
            "-n".to_string(),
            BOOT_LABEL.into(),
            "-C".into(),
            p(&w.boot_img),
            (BOOT_MIB * 1024).to_string(),
        ]),
        Cmd::new("mcopy").args([
            "-i".to_string(),
            p(&w.boot_img),
            p(kernel),
            "::/vmlinuz".into(),
        ]),
        Cmd::new("mcopy").args([
            "-i".to_string(),
            p(&w.boot_img),
            p(initrd),
            "::/initrd.img".into(),
        ]),
        Cmd::new("mcopy").args([
            "-i".to_string(),
            p(&w.boot_img),
            p(&w.syslinux_cfg),
            "::/syslinux.cfg".into(),
        ]),
        // The mtools flavour of syslinux installs into an unmounted FAT image.
        Cmd::new("syslinux").args(["--install".to_string(), p(&w.boot_img)]),
        Cmd::new("sfdisk")
            .args(["--quiet".to_string(), p(&w.disk_raw)])
            .stdin(sfdisk_script()),
        Cmd::new("dd").args([
            format!("if={MBR_BIN}"),
            format!("of={}", p(&w.disk_raw)),
            "bs=440".into(),
            "count=1".into(),
            "conv=notrunc".into(),
            "status=none".into(),
        ]),
        Cmd::new("dd").args([
            format!("if={}", p(&w.boot_img)),
            format!("of={}", p(&w.disk_raw)),
            "bs=1M".into(),
            "seek=1".into(),
            "conv=notrunc,sparse".into(),
            "status=none".into(),
        ]),
        Cmd::new("dd").args([
            format!("if={}", p(&w.root_img)),
            format!("of={}", p(&w.disk_raw)),
            "bs=1M".into(),
            format!("seek={}", 1 + BOOT_MIB),
            "conv=notrunc,sparse".into(),
            "status=none".into(),
        ]),
        Cmd::new("qemu-img").args([
            "convert".to_string(),
            "-O".into(),
            "qcow2".into(),
            p(&w.disk_raw),
            p(&w.qcow2),
        ]),
    ]
}

/// More programs when the root comes from a published image.
pub const BASE_TOOLS: &[(&str, &str)] = &[
    ("unshare", "util-linux"),
    ("mount", "mount"),
    ("chroot", "coreutils"),
    ("cp", "coreutils"),
];

/// Programs the build runs, and the Debian packages that provide them.
pub const TOOLS: &[(&str, &str)] = &[
    ("mmdebstrap", "mmdebstrap"),
    ("mkfs.ext4", "e2fsprogs"),
    ("mkfs.vfat", "dosfstools"),
    ("mcopy", "mtools"),
    ("syslinux", "syslinux"),
    ("sfdisk", "fdisk"),
    ("dd", "coreutils"),
    ("qemu-img", "qemu-utils"),
];
