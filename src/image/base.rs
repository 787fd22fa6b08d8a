//! A published cloud image as the starting root, instead of mmdebstrap.
//!
//! Input: the verified image file (qcow2 or raw) from [`super::download`].
//! Output: the image's root tree in the build's root folder, with the stack and
//! our files installed by the same hooks the mmdebstrap path runs.
//! Invariants: the host mounts nothing it keeps: the image's partitions are mounted
//! read-only (loop) and the root's /dev, /proc, /sys bound only inside a private
//! mount namespace (`unshare --mount`) that ends with the command, also when it is
//! killed. The image's own bootloader is not used: the disk is made like every
//! other image (syslinux on a FAT partition), from the kernel in its /boot.

use std::path::Path;

use serde::Deserialize;

use super::plan::{self, Hook, WorkPaths};
use super::spec::ImageSpec;
use crate::exec::Cmd;
use crate::model::Distro;

/// GPT partition types (UAPI discoverable partitions spec) and MBR's Linux type.
const GPT_ROOT_X86_64: &str = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
const GPT_LINUX_FS: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
const GPT_XBOOTLDR: &str = "BC13C2FF-59E6-4262-A352-B275FD6F7172";
const MBR_LINUX: &str = "83";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BaseError {
    #[error("cannot read the partition table that sfdisk printed: {0}")]
    Table(String),
    #[error("the base image has no Linux root partition (partitions: {0})")]
    NoRoot(String),
    #[error("the base image's root has no os-release (looked in /etc and /usr/lib)")]
    NoOsRelease,
    #[error("the base image is {found}, but the profile's cluster.distro is {wanted}")]
    WrongDistro { found: String, wanted: String },
}

impl BaseError {
    pub fn fix(&self) -> String {
        match self {
            BaseError::Table(_) | BaseError::NoRoot(_) => {
                "give a published cloud image (GPT or MBR disk with an ext4/xfs/btrfs root), e.g. Debian's genericcloud qcow2".into()
            }
            BaseError::NoOsRelease => "this does not look like a Debian or Ubuntu root".into(),
            BaseError::WrongDistro { wanted, .. } => format!(
                "use a {wanted} base image, or set cluster.distro to the image's release"
            ),
        }
    }
}

#[derive(Debug, Deserialize)]
struct SfdiskJson {
    partitiontable: Table,
}

#[derive(Debug, Deserialize)]
struct Table {
    #[serde(default)]
    sectorsize: Option<u64>,
    #[serde(default)]
    partitions: Vec<Partition>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Partition {
    pub node: String,
    pub start: u64,
    pub size: u64,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A byte range of the raw disk that holds one filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub offset: u64,
    pub bytes: u64,
}

/// The partitions to unpack: the root, and a separate /boot when the image has one
/// (Ubuntu's cloud images keep kernels on an XBOOTLDR partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub root: Extent,
    pub boot: Option<Extent>,
}

/// Picks root (and /boot) from `sfdisk -J` output: the GPT x86-64 root type if
/// present, else the largest Linux filesystem partition.
pub fn layout(sfdisk_json: &str) -> Result<Layout, BaseError> {
    let t: SfdiskJson =
        serde_json::from_str(sfdisk_json).map_err(|e| BaseError::Table(e.to_string()))?;
    let sector = t.partitiontable.sectorsize.unwrap_or(512);
    let parts = t.partitiontable.partitions;
    let is = |p: &Partition, ty: &str| p.kind.eq_ignore_ascii_case(ty);
    let extent = |p: &Partition| Extent {
        offset: p.start * sector,
        bytes: p.size * sector,
    };
    let root = parts
        .iter()
        .find(|p| is(p, GPT_ROOT_X86_64))
        .or_else(|| {
            parts
                .iter()
                .filter(|p| is(p, GPT_LINUX_FS) || is(p, MBR_LINUX))
                .max_by_key(|p| p.size)
        })
        .ok_or_else(|| {
            BaseError::NoRoot(
                parts
                    .iter()
                    .map(|p| format!("{} type {}", p.node, p.kind))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
    let boot = parts.iter().find(|p| is(p, GPT_XBOOTLDR)).map(extent);
    Ok(Layout {
        root: extent(root),
        boot,
    })
}

/// os-release(5) of the unpacked root, as `(ID, VERSION_ID)`.
pub fn os_release(root: &Path) -> Result<(String, Option<String>), BaseError> {
    let text = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read_to_string(root.join(p)).ok())
        .ok_or(BaseError::NoOsRelease)?;
    let field = |key: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|v| v.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_string())
        })
    };
    Ok((field("ID").unwrap_or_default(), field("VERSION_ID")))
}

/// The image must be the profile's distro: its packages, kernel and network
/// renderer were chosen for it. Debian's testing/sid roots carry no VERSION_ID.
pub fn check_distro(distro: Distro, id: &str, version: Option<&str>) -> Result<(), BaseError> {
    let (want_id, want_version) = match distro {
        Distro::Ubuntu2404 => ("ubuntu", Some("24.04")),
        Distro::Debian12 => ("debian", Some("12")),
        Distro::Debian13 => ("debian", Some("13")),
        Distro::DebianSid => ("debian", None),
    };
    if id == want_id && version == want_version {
        return Ok(());
    }
    let found = match version {
        Some(v) => format!("{id} {v}"),
        None => format!("{id} (testing/unstable: no VERSION_ID)"),
    };
    Err(BaseError::WrongDistro {
        found,
        wanted: distro.name().to_string(),
    })
}

pub fn to_raw(image: &Path, raw: &Path) -> Cmd {
    Cmd::new("qemu-img").args([
        "convert".to_string(),
        "-O".into(),
        "raw".into(),
        image.display().to_string(),
        raw.display().to_string(),
    ])
}

pub fn partitions(raw: &Path) -> Cmd {
    Cmd::new("sfdisk").args(["-J".to_string(), raw.display().to_string()])
}

fn loop_opts(e: Extent) -> String {
    format!("ro,loop,offset={},sizelimit={}", e.offset, e.bytes)
}

/// Copies the image's root (and /boot) into the build's root folder, every owner,
/// mode, link and extended attribute kept (`cp -a` from a read-only mount).
pub fn unpack(raw: &Path, layout: &Layout, w: &WorkPaths) -> Cmd {
    let mut script = String::from("set -eu\nmount -o \"$4\" -- \"$1\" \"$3\"\n");
    if layout.boot.is_some() {
        script.push_str("mount -o \"$5\" -- \"$1\" \"$3\"/boot\n");
    }
    script.push_str("cp -a \"$3\"/. \"$2\"/\n");
    let mut c = Cmd::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(script)
        .arg("sh")
        .arg(raw.display().to_string())
        .arg(w.root.display().to_string())
        .arg(w.mnt.display().to_string())
        .arg(loop_opts(layout.root));
    if let Some(b) = layout.boot {
        c = c.arg(loop_opts(b));
    }
    c.timeout(std::time::Duration::from_secs(1800))
}

/// Named so that it can be found and removed again; the node keeps the mirror
/// option (as mmdebstrap's `--aptopt` does), nothing else.
const APT_CONF: &str = "/etc/apt/apt.conf.d/99pbx-cluster-image";
const RESOLV_SAVED: &str = "/etc/resolv.conf.pbx-cluster-image";

/// Installs the stack into the unpacked root and runs the same customize hooks as
/// the mmdebstrap path, in one shell inside a private mount namespace where the
/// root has /dev, /proc, /sys and /run. `$1` is the root, as in mmdebstrap's hooks.
pub fn customize(spec: &ImageSpec, w: &WorkPaths, repo_line: Option<&str>) -> Cmd {
    let mut s = vec![
        "set -eu".to_string(),
        "mount --rbind /dev \"$1\"/dev".into(),
        "mount -t proc proc \"$1\"/proc".into(),
        "mount -t sysfs sysfs \"$1\"/sys".into(),
        "mount -t tmpfs tmpfs \"$1\"/run".into(),
        // /var/lock links to /run/lock; dangling, dpkg takes it for a file that a
        // package's /var/lock directory would overwrite (drbd-utils).
        "mkdir -m 1777 \"$1\"/run/lock".into(),
        // apt inside the root needs the host's resolver; the root's own file (often
        // a link into /run) comes back at the end.
        format!(
            "if [ -e \"$1\"/etc/resolv.conf ] || [ -L \"$1\"/etc/resolv.conf ]; then mv \"$1\"/etc/resolv.conf \"$1\"{RESOLV_SAVED}; fi"
        ),
        "cp /etc/resolv.conf \"$1\"/etc/resolv.conf".into(),
        // Nothing starts inside the build (invoke-rc.d asks policy-rc.d).
        "printf '#!/bin/sh\\nexit 101\\n' > \"$1\"/usr/sbin/policy-rc.d".into(),
        "chmod 0755 \"$1\"/usr/sbin/policy-rc.d".into(),
        format!("printf '%s\\n' 'Acquire::Check-Valid-Until \"false\";' > \"$1\"{APT_CONF}"),
        // The profile's mirror and suite replace the image's own sources.
        "rm -f \"$1\"/etc/apt/sources.list.d/*.list \"$1\"/etc/apt/sources.list.d/*.sources".into(),
        format!(
            "printf '%s\\n' {} > \"$1\"/etc/apt/sources.list",
            shell_quote(&plan::main_source_line(spec))
        ),
    ];
    s.extend(plan::setup_hooks(w).iter().map(Hook::script));
    s.push("chroot \"$1\" apt-get update -q".into());
    s.push(format!(
        "chroot \"$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold {}",
        plan::include_packages(spec).join(" ")
    ));
    s.extend(
        plan::customize_hooks(spec, w, repo_line)
            .iter()
            .map(Hook::script),
    );
    s.extend([
        // Cloud images drop their ssh host keys for cloud-init to make; this node
        // has no cloud-init datasource, so it gets keys of its own now.
        "if [ -x \"$1\"/usr/bin/ssh-keygen ] && ! ls \"$1\"/etc/ssh/ssh_host_*_key >/dev/null 2>&1; then chroot \"$1\" ssh-keygen -A; fi".to_string(),
        // cloud-init would wait for a metadata service and rewrite the network.
        "if [ -d \"$1\"/etc/cloud ]; then touch \"$1\"/etc/cloud/cloud-init.disabled; fi".into(),
        "rm -f \"$1\"/usr/sbin/policy-rc.d \"$1\"/etc/resolv.conf".into(),
        format!(
            "if [ -e \"$1\"{RESOLV_SAVED} ] || [ -L \"$1\"{RESOLV_SAVED} ]; then mv \"$1\"{RESOLV_SAVED} \"$1\"/etc/resolv.conf; fi"
        ),
    ]);
    Cmd::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(s.join("\n"))
        .arg("sh")
        .arg(w.root.display().to_string())
        .timeout(std::time::Duration::from_secs(3600))
}

fn shell_quote(s: &str) -> String {
    shlex::try_quote(s)
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_GENERICCLOUD: &str = r#"{
   "partitiontable": {
      "label": "gpt", "id": "X", "device": "/w/base.raw", "unit": "sectors",
      "firstlba": 2048, "lastlba": 6291422, "sectorsize": 512,
      "partitions": [
         {"node": "/w/base.raw1", "start": 262144, "size": 6027231, "type": "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "uuid": "A"},
         {"node": "/w/base.raw14", "start": 2048, "size": 6144, "type": "21686148-6449-6E6F-744E-656564454649", "uuid": "B"},
         {"node": "/w/base.raw15", "start": 8192, "size": 253952, "type": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "uuid": "C"}
      ]
   }
}"#;

    #[test]
    fn the_gpt_root_type_wins_and_offsets_are_in_bytes() {
        let l = layout(DEBIAN_GENERICCLOUD).unwrap();
        assert_eq!(
            l.root,
            Extent {
                offset: 262144 * 512,
                bytes: 6027231 * 512
            }
        );
        assert_eq!(l.boot, None);
    }

    #[test]
    fn an_xbootldr_partition_is_unpacked_as_boot() {
        let json = r#"{"partitiontable": {"label": "gpt", "sectorsize": 512, "partitions": [
            {"node": "d1", "start": 2099200, "size": 7000000, "type": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"},
            {"node": "d15", "start": 10240, "size": 217088, "type": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"},
            {"node": "d16", "start": 227328, "size": 1869825, "type": "bc13c2ff-59e6-4262-a352-b275fd6f7172"}]}}"#;
        let l = layout(json).unwrap();
        assert_eq!(l.root.offset, 2099200 * 512);
        assert_eq!(
            l.boot,
            Some(Extent {
                offset: 227328 * 512,
                bytes: 1869825 * 512
            })
        );
    }

    #[test]
    fn without_a_root_type_the_largest_linux_partition_is_the_root() {
        let json = r#"{"partitiontable": {"label": "dos", "partitions": [
            {"node": "d1", "start": 2048, "size": 1000, "type": "83"},
            {"node": "d2", "start": 4096, "size": 9000, "type": "83"},
            {"node": "d3", "start": 20000, "size": 90000, "type": "82"}]}}"#;
        assert_eq!(layout(json).unwrap().root.offset, 4096 * 512);
    }

    #[test]
    fn a_disk_without_a_linux_partition_is_refused_with_what_it_has() {
        let json = r#"{"partitiontable": {"label": "dos", "partitions": [
            {"node": "d1", "start": 2048, "size": 1000, "type": "7"}]}}"#;
        let err = layout(json).unwrap_err();
        assert!(err.to_string().contains("d1 type 7"), "{err}");
        assert!(matches!(layout("not json"), Err(BaseError::Table(_))));
    }

    #[test]
    fn the_base_must_be_the_profiles_distro() {
        assert!(check_distro(Distro::Debian13, "debian", Some("13")).is_ok());
        assert!(check_distro(Distro::Ubuntu2404, "ubuntu", Some("24.04")).is_ok());
        assert!(check_distro(Distro::DebianSid, "debian", None).is_ok());
        let err = check_distro(Distro::DebianSid, "debian", Some("13")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the base image is debian 13, but the profile's cluster.distro is debian-sid"
        );
        assert!(err.fix().contains("debian-sid base image"));
        assert!(check_distro(Distro::Debian12, "ubuntu", Some("12")).is_err());
    }

    #[test]
    fn os_release_is_read_from_etc_or_usr_lib() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(os_release(d.path()), Err(BaseError::NoOsRelease));
        std::fs::create_dir_all(d.path().join("usr/lib")).unwrap();
        std::fs::write(
            d.path().join("usr/lib/os-release"),
            "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\nVERSION_ID=\"13\"\n",
        )
        .unwrap();
        assert_eq!(
            os_release(d.path()).unwrap(),
            ("debian".into(), Some("13".into()))
        );
    }

    /// Runs a command of the test's own, failing the test with its stderr.
    fn sh(program: &str, args: &[&str]) {
        let out = std::process::Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e} (is it installed?)"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A published image in miniature, made with the real tools: GPT with a BIOS
    /// boot partition, an XBOOTLDR /boot and an x86-64 root (ext4), as qcow2.
    /// Served on 127.0.0.1, verified, converted, partitioned and unpacked by the
    /// same commands a build runs; owners, modes, setuid bits and links must survive.
    #[test]
    fn a_real_gpt_image_is_unpacked_with_owners_modes_and_links() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let d = tempfile::tempdir().unwrap();
        let (tree, boot_tree) = (d.path().join("tree"), d.path().join("boot-tree"));
        for dir in ["etc", "usr/bin", "home/user", "boot"] {
            std::fs::create_dir_all(tree.join(dir)).unwrap();
        }
        std::fs::create_dir_all(&boot_tree).unwrap();
        std::fs::write(tree.join("etc/os-release"), "ID=debian\n").unwrap();
        std::fs::write(tree.join("etc/shadow"), "root:*:1::::::\n").unwrap();
        std::fs::set_permissions(tree.join("etc/shadow"), PermissionsExt::from_mode(0o640))
            .unwrap();
        std::os::unix::fs::chown(tree.join("etc/shadow"), Some(0), Some(42)).unwrap();
        std::fs::write(tree.join("usr/bin/su"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(tree.join("usr/bin/su"), PermissionsExt::from_mode(0o4755))
            .unwrap();
        std::os::unix::fs::chown(tree.join("home/user"), Some(1000), Some(1000)).unwrap();
        std::os::unix::fs::symlink("../etc/os-release", tree.join("usr/os-release")).unwrap();
        std::fs::write(boot_tree.join("vmlinuz-7.2.0-1-cloud-amd64"), "kernel").unwrap();

        let raw = d.path().join("disk.raw");
        std::fs::File::create(&raw)
            .unwrap()
            .set_len(80 << 20)
            .unwrap();
        let mut sfdisk = std::process::Command::new("sfdisk")
            .args(["--quiet", raw.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("sfdisk (fdisk) installed");
        std::io::Write::write_all(
            sfdisk.stdin.as_mut().unwrap(),
            format!(
                "label: gpt\nstart=2048, size=2048, type={BIOS}\nstart=4096, size=20480, type={GPT_XBOOTLDR}\nstart=24576, size=131072, type={GPT_ROOT_X86_64}\n",
                BIOS = "21686148-6449-6E6F-744E-656564454649"
            )
            .as_bytes(),
        )
        .unwrap();
        assert!(sfdisk.wait().unwrap().success());
        let raw_s = raw.to_str().unwrap();
        for (dir, start, kib) in [(&boot_tree, 4096u64, "10240"), (&tree, 24576, "65536")] {
            let offset = format!("offset={}", start * 512);
            sh(
                "mkfs.ext4",
                &[
                    "-q",
                    "-F",
                    "-E",
                    &offset,
                    "-d",
                    dir.to_str().unwrap(),
                    raw_s,
                    kib,
                ],
            );
        }
        let qcow2 = d.path().join("mini-genericcloud.qcow2");
        sh(
            "qemu-img",
            &["convert", "-O", "qcow2", raw_s, qcow2.to_str().unwrap()],
        );

        let bytes = std::fs::read(&qcow2).unwrap();
        let listed = format!(
            "{}  mini-genericcloud.qcow2\n",
            hex::encode(<sha2::Sha512 as sha2::Digest>::digest(&bytes))
        );
        let server = crate::image::download::test_server::serve(vec![
            ("/mini-genericcloud.qcow2".into(), bytes),
            ("/SHA512SUMS".into(), listed.into_bytes()),
        ]);
        let url = format!("{}/mini-genericcloud.qcow2", server.base);
        let reporter = crate::output::Reporter::silent();
        let want =
            crate::image::download::expected_digest(&url, &format!("{}/SHA512SUMS", server.base))
                .unwrap();
        let cache = d.path().join("cache");
        let image = crate::image::download::fetch_verified(&url, &want, &cache, &reporter).unwrap();

        let w = WorkPaths::new(&d.path().join("work"), &cache, "node1");
        std::fs::create_dir_all(&w.root).unwrap();
        std::fs::create_dir_all(&w.mnt).unwrap();
        let runner = crate::exec::LocalRunner;
        use crate::exec::Runner;
        runner.run_ok(&to_raw(&image, &w.base_raw)).unwrap();
        let table = runner.run_ok(&partitions(&w.base_raw)).unwrap();
        let l = layout(&table.stdout_str()).unwrap();
        assert_eq!(l.root.offset, 24576 * 512);
        assert!(l.boot.is_some());
        let out = runner.run_ok(&unpack(&w.base_raw, &l, &w));
        assert!(out.is_ok(), "unpack (needs root and loop devices): {out:?}");

        let meta = |p: &str| std::fs::symlink_metadata(w.root.join(p)).unwrap();
        assert_eq!(os_release(&w.root).unwrap(), ("debian".into(), None));
        assert_eq!(
            (meta("etc/shadow").mode() & 0o7777, meta("etc/shadow").gid()),
            (0o640, 42)
        );
        assert_eq!(meta("usr/bin/su").mode() & 0o7777, 0o4755, "setuid kept");
        assert_eq!(
            (meta("home/user").uid(), meta("home/user").gid()),
            (1000, 1000)
        );
        assert_eq!(
            std::fs::read_link(w.root.join("usr/os-release")).unwrap(),
            Path::new("../etc/os-release")
        );
        assert_eq!(
            std::fs::read_to_string(w.root.join("boot/vmlinuz-7.2.0-1-cloud-amd64")).unwrap(),
            "kernel",
            "the XBOOTLDR partition lands in /boot"
        );
        // Nothing stays mounted on the host.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(w.mnt.to_str().unwrap()), "{mounts}");
    }
}
