//! Image build tests: plans and files for Debian and Ubuntu, and the whole build
//! sequence against a recording runner (skip, rebuild, failure cleanup).

use std::path::{Path, PathBuf};

use super::*;
use crate::exec::{Cmd, Output, RecordingRunner};
use crate::image::spec::AddedFile;
use crate::model::Distro;
use crate::profile;

fn profiles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles")
}

fn lab_text() -> String {
    std::fs::read_to_string(profiles_dir().join("lab.toml")).unwrap()
}

/// The lab profile with another distro, parsed as if it sat in profiles/.
fn model_for(distro: &str) -> Model {
    let src = lab_text().replace("distro = \"debian-sid\"", &format!("distro = \"{distro}\""));
    profile::parse(&src, Path::new("lab.toml"), &profiles_dir())
        .unwrap()
        .model
}

fn opts(node: &str) -> ImageOptions {
    ImageOptions {
        node: node.into(),
        binary: Some("/bin/true".into()),
        disk_size_mib: spec::DEFAULT_DISK_MIB,
        ..Default::default()
    }
}

fn profile_files_of_lab() -> ProfileFiles {
    profile_files(&profiles_dir().join("lab.toml")).unwrap()
}

/// The argv joined by spaces, unquoted: easier to search than the shell form.
fn plain(cmd: &Cmd) -> String {
    std::iter::once(cmd.program.clone())
        .chain(cmd.args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn text(set: &FileSet, path: &str) -> String {
    String::from_utf8(
        set.get(path)
            .unwrap_or_else(|| panic!("no {path}"))
            .bytes
            .clone(),
    )
    .unwrap()
}

#[test]
fn debian_sid_plan_uses_debian_mirror_cloud_kernel_and_networkd() {
    let model = model_for("debian-sid");
    let spec = ImageSpec::resolve(&model, &opts("node1")).unwrap();
    assert_eq!(spec.mirror, "http://deb.debian.org/debian");
    assert_eq!(spec.suite, "sid");
    assert_eq!(spec.components, ["main"]);
    assert_eq!(spec.keyring, None);
    assert!(spec.extra_sources.is_empty());
    for p in [
        "linux-image-cloud-amd64",
        "corosync",
        "pacemaker",
        "crmsh",
        "drbd-utils",
        "asterisk",
        "xfsprogs",
    ] {
        assert!(
            spec.packages.contains(&p.to_string()),
            "{p} missing: {:?}",
            spec.packages
        );
    }
    assert!(!spec.packages.contains(&"netplan.io".to_string()));
    assert!(!spec.packages.contains(&"heartbeat".to_string()));
    let w = WorkPaths::new(Path::new("/w"), Path::new("/cache"), "node1");
    let cmd = plain(&plan::mmdebstrap(&spec, &w, None));
    for part in [
        "mmdebstrap --mode=root --variant=apt",
        "--components=main",
        "--skip=download/empty",
        "--setup-hook=sync-in /cache /var/cache/apt/archives/ ",
        "--customize-hook=sync-out /var/cache/apt/archives /cache ",
        "--customize-hook=sync-in /w/files / ",
        "systemctl enable systemd-networkd.service pbx-cluster-firstboot.service ",
        "for u in drbd.service asterisk.service corosync.service pacemaker.service;",
        " sid /w/root deb http://deb.debian.org/debian sid main",
    ] {
        assert!(cmd.contains(part), "`{part}` not in {cmd}");
    }
    assert!(!cmd.contains("--keyring"), "{cmd}");
    assert!(
        !cmd.contains("systemctl mask"),
        "only lab images mask units: {cmd}"
    );
}

#[test]
fn ubuntu_plan_is_the_same_code_with_ubuntu_values() {
    let model = model_for("ubuntu-24.04");
    let spec = ImageSpec::resolve(&model, &opts("node2")).unwrap();
    assert_eq!(spec.mirror, "http://archive.ubuntu.com/ubuntu");
    assert_eq!(spec.suite, "noble");
    assert_eq!(spec.components, ["main", "universe"]);
    assert_eq!(spec.kernel_package, "linux-image-virtual");
    assert!(spec.packages.contains(&"netplan.io".to_string()));
    assert!(
        !spec
            .packages
            .contains(&"linux-image-cloud-amd64".to_string())
    );
    let w = WorkPaths::new(Path::new("/w"), Path::new("/cache"), "node2");
    let cmd = plain(&plan::mmdebstrap(&spec, &w, None));
    assert!(
        cmd.contains("--keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg"),
        "{cmd}"
    );
    assert!(cmd.contains("--components=main,universe"), "{cmd}");
    assert!(
        cmd.ends_with(" noble /w/root deb http://archive.ubuntu.com/ubuntu noble main universe"),
        "{cmd}"
    );

    let files = files::render(&spec, &profile_files_of_lab());
    assert!(!files.keys().any(|k| k.starts_with("etc/systemd/network/")));
    let netplan = files.get("etc/netplan/60-pbx-cluster.yaml").unwrap();
    assert_eq!(netplan.mode, 0o600);
    let yaml = String::from_utf8(netplan.bytes.clone()).unwrap();
    assert!(
        yaml.contains("    eth0:\n      addresses: [172.30.0.12/24]"),
        "{yaml}"
    );
    assert!(
        yaml.contains("    eth1:\n      addresses: [172.31.0.12/24]"),
        "{yaml}"
    );
    assert_eq!(text(&files, "etc/hostname"), "node2\n");
}

#[test]
fn debian_releases_get_a_low_pinned_sid_source_for_asterisk() {
    for distro in ["debian-12", "debian-13"] {
        let spec = ImageSpec::resolve(&model_for(distro), &opts("node1")).unwrap();
        assert_eq!(
            spec.extra_sources,
            ["deb http://deb.debian.org/debian sid main"]
        );
        let setup = files::setup(&spec);
        assert!(
            text(&setup, plan::EXTRA_LIST).contains("deb http://deb.debian.org/debian sid main\n")
        );
        let pin = text(&setup, "etc/apt/preferences.d/pbx-cluster-extra.pref");
        assert!(
            pin.contains("Pin: release n=sid\nPin-Priority: 100"),
            "{pin}"
        );
    }
    let spec = ImageSpec::resolve(&model_for("debian-12"), &opts("node1")).unwrap();
    assert_eq!(spec.suite, "bookworm");
    let mut no_extra = opts("node1");
    no_extra.extra_sources = Some(Vec::new());
    let spec = ImageSpec::resolve(&model_for("debian-12"), &no_extra).unwrap();
    assert!(files::setup(&spec).is_empty());
}

#[test]
fn node_files_carry_identity_network_profile_and_units() {
    let mut o = opts("node1");
    o.lab = true;
    o.ssh_key = Some("ssh-ed25519 AAAAC3Nza lab@host\n".into());
    let spec = ImageSpec::resolve(&model_for("debian-sid"), &o).unwrap();
    let files = files::render(&spec, &profile_files_of_lab());
    let mut all = String::new();
    for (path, f) in &files {
        all.push_str(&format!(
            "==> {path} ({:o})\n{}\n",
            f.mode,
            String::from_utf8_lossy(&f.bytes)
        ));
    }
    // The profile and secret are copied verbatim; the snapshot covers what we generate.
    let generated: String = all
        .split("==> ")
        .filter(|s| !s.starts_with("etc/pbx-cluster/"))
        .collect::<Vec<_>>()
        .join("==> ");
    insta::assert_snapshot!("lab_node1_files", generated);
    assert_eq!(files["etc/pbx-cluster/cluster.toml"].mode, 0o600);
    assert_eq!(files["etc/pbx-cluster/lab.secret"].mode, 0o600);
    let hosts = text(&files, "etc/hosts");
    assert!(
        hosts.contains("172.30.0.11\tnode1\n") && hosts.contains("172.30.0.12\tnode2\n"),
        "{hosts}"
    );
    assert!(!hosts.contains("127.0.1.1"), "{hosts}");
}

#[test]
fn the_profile_copied_into_the_image_validates_there() {
    let spec = ImageSpec::resolve(&model_for("debian-sid"), &opts("node1")).unwrap();
    let files = files::render(&spec, &profile_files_of_lab());
    let root = tempfile::tempdir().unwrap();
    stage(root.path(), &files).unwrap();
    let loaded = profile::load(&root.path().join(files::PROFILE_PATH)).unwrap();
    assert_eq!(loaded.model.nodes[0].name, "node1");
}

#[test]
fn lab_units_only_in_lab_images_and_firstboot_only_without_repo() {
    let spec = ImageSpec::resolve(&model_for("debian-sid"), &opts("node1")).unwrap();
    let files = files::render(&spec, &profile_files_of_lab());
    let unit = text(&files, "etc/systemd/system/pbx-cluster-firstboot.service");
    assert!(unit.contains("ExecStart=/usr/sbin/pbx-cluster init /etc/pbx-cluster/cluster.toml"));
    assert!(unit.contains("ConditionPathExists=/etc/pbx-cluster/cluster.toml"));
    assert!(unit.contains("/var/lib/pbx-cluster/firstboot.done"));
    assert!(!files.contains_key("etc/systemd/system/pbx-cluster-lab-report.service"));
    assert!(!files.contains_key("root/.ssh/authorized_keys"));

    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("Packages"), "Package: pbx-cluster\n").unwrap();
    let mut o = opts("node1");
    o.binary = None;
    o.repo = Some(repo.path().to_path_buf());
    o.meta_package = Some("pbx-cluster-node".into());
    let spec = ImageSpec::resolve(&model_for("debian-sid"), &o).unwrap();
    assert!(spec.packages.contains(&"pbx-cluster".to_string()));
    assert!(spec.packages.contains(&"pbx-cluster-node".to_string()));
    assert!(
        !spec.packages.contains(&"corosync".to_string()),
        "the meta-package replaces the stack list"
    );
    let files = files::render(&spec, &profile_files_of_lab());
    assert!(
        !files.contains_key("etc/systemd/system/pbx-cluster-firstboot.service"),
        "the .deb ships it"
    );
}

#[test]
fn repository_layouts_become_file_sources() {
    let flat = tempfile::tempdir().unwrap();
    std::fs::write(flat.path().join("Packages.gz"), "").unwrap();
    assert_eq!(repo_layout(flat.path()).unwrap(), None);
    assert_eq!(
        plan::repo_source_line(None),
        "deb [trusted=yes] file:/opt/pbx-cluster-repo ./\n"
    );

    let dists = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dists.path().join("dists/stable")).unwrap();
    std::fs::write(
        dists.path().join("dists/stable/Release"),
        "Suite: stable\nComponents: main extra\n",
    )
    .unwrap();
    let (suite, comps) = repo_layout(dists.path()).unwrap().unwrap();
    assert_eq!(
        (suite.as_str(), comps.clone()),
        ("stable", vec!["main".to_string(), "extra".to_string()])
    );
    assert_eq!(
        plan::repo_source_line(Some((&suite, &comps))),
        "deb [trusted=yes] file:/opt/pbx-cluster-repo stable main extra\n"
    );

    let empty = tempfile::tempdir().unwrap();
    let err = repo_layout(empty.path()).unwrap_err();
    assert!(
        err.to_string().contains("is not an apt repository"),
        "{err}"
    );
}

#[test]
fn bad_requests_are_usage_errors_with_a_fix() {
    let model = model_for("debian-sid");
    let err = ImageSpec::resolve(&model, &opts("node3")).unwrap_err();
    assert_eq!(err.fix(), "use one of: node1, node2");
    let mut o = opts("node1");
    o.binary = None;
    assert!(matches!(
        ImageSpec::resolve(&model, &o),
        Err(spec::SpecError::NoInstallSource)
    ));
    let mut o = opts("node1");
    o.meta_package = Some("x".into());
    assert!(matches!(
        ImageSpec::resolve(&model, &o),
        Err(spec::SpecError::MetaWithoutRepo)
    ));
}

/// A runner that stands in for mmdebstrap (a fake root with a kernel, modules and
/// a dpkg status) and qemu-img (the qcow2 file); everything else just succeeds.
fn fake_tools() -> RecordingRunner {
    RecordingRunner::new().respond_with(|cmd: &Cmd| match cmd.program.as_str() {
        "mmdebstrap" => {
            let root = PathBuf::from(&cmd.args[cmd.args.len() - 2]);
            let v = "7.2.13+deb14-cloud-amd64";
            let mods = root.join(format!("usr/lib/modules/{v}/kernel"));
            std::fs::create_dir_all(mods.join("drivers/block/drbd")).unwrap();
            std::fs::create_dir_all(mods.join("net/netfilter/ipvs")).unwrap();
            std::fs::write(mods.join("drivers/block/drbd/drbd.ko.xz"), "m").unwrap();
            std::fs::write(mods.join("net/netfilter/ipvs/ip_vs.ko.xz"), "m").unwrap();
            for tool in ["usr/sbin/init", "usr/bin/mount", "usr/bin/umount"] {
                std::fs::create_dir_all(root.join(tool).parent().unwrap()).unwrap();
                std::fs::write(root.join(tool), "").unwrap();
            }
            std::fs::create_dir_all(root.join("boot")).unwrap();
            std::fs::write(root.join(format!("boot/vmlinuz-{v}")), "kernel").unwrap();
            std::fs::write(root.join(format!("boot/initrd.img-{v}")), "initrd").unwrap();
            std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
            std::fs::write(
                root.join("var/lib/dpkg/status"),
                "Package: asterisk\nStatus: install ok installed\nVersion: 1:22.5.2-3\n",
            )
            .unwrap();
            Some(Output::ok(Vec::new()))
        }
        "qemu-img" => {
            std::fs::write(cmd.args.last().unwrap(), "qcow2").unwrap();
            Some(Output::ok(Vec::new()))
        }
        _ => None,
    })
}

struct Fixture {
    dir: tempfile::TempDir,
    model: Model,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(profiles_dir().join("lab.toml"), dir.path().join("lab.toml")).unwrap();
        std::fs::copy(
            profiles_dir().join("lab.secret"),
            dir.path().join("lab.secret"),
        )
        .unwrap();
        std::fs::write(dir.path().join("pbx-cluster"), "#!/bin/sh\n").unwrap();
        let model = profile::load(&dir.path().join("lab.toml")).unwrap().model;
        Fixture { dir, model }
    }

    fn request(&self) -> BuildRequest<'_> {
        let mut o = opts("node1");
        o.binary = Some(self.dir.path().join("pbx-cluster"));
        o.lab = true;
        BuildRequest {
            profile_path: Box::leak(self.dir.path().join("lab.toml").into_boxed_path()),
            model: &self.model,
            options: o,
            out: self.out(),
            cache: self.dir.path().join("cache"),
            force: false,
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn out_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.out())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

#[test]
fn a_build_runs_mmdebstrap_then_assembles_the_disk_and_writes_the_manifest() {
    let fx = Fixture::new();
    let runner = fake_tools();
    let outcome = build(&fx.request(), &runner, &Reporter::silent()).unwrap();
    let programs: Vec<String> = runner.calls().iter().map(|c| c.program.clone()).collect();
    assert_eq!(
        programs,
        [
            "mmdebstrap",
            "mkfs.ext4",
            "mkfs.vfat",
            "mcopy",
            "mcopy",
            "mcopy",
            "syslinux",
            "sfdisk",
            "dd",
            "dd",
            "dd",
            "qemu-img"
        ]
    );
    let lines: Vec<String> = runner.calls().iter().map(plain).collect();
    assert!(
        lines[1].starts_with("mkfs.ext4 -q -F -L pbxroot -d "),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with(&format!(
            " {}M",
            spec::DEFAULT_DISK_MIB - spec::BOOT_MIB - 1
        )),
        "{}",
        lines[1]
    );
    assert!(
        lines[8].starts_with("dd if=/usr/lib/syslinux/mbr/mbr.bin "),
        "{}",
        lines[8]
    );
    assert!(
        lines[10].contains(&format!("seek={}", spec::BOOT_MIB + 1)),
        "{}",
        lines[10]
    );
    let sfdisk = &runner.calls()[7];
    assert_eq!(
        String::from_utf8(sfdisk.stdin.clone().unwrap()).unwrap(),
        "label: dos\nstart=2048, size=524288, type=c, bootable\nstart=526336, type=83\n"
    );
    let Outcome::Built(m) = outcome else {
        panic!("expected a build")
    };
    assert_eq!(
        fx.out_names(),
        [
            "node1.initrd.img",
            "node1.json",
            "node1.qcow2",
            "node1.vmlinuz"
        ]
    );
    let on_disk = Manifest::read(&fx.out().join("node1.json")).unwrap();
    assert_eq!(on_disk, *m);
    assert_eq!(
        m.packages,
        [manifest::Package {
            name: "asterisk".into(),
            version: "1:22.5.2-3".into()
        }]
    );
    assert_eq!(m.disk.bytes, 5);
    assert_eq!(m.kernel.file, "node1.vmlinuz");
    assert!(
        m.kernel_cmdline.contains("console=ttyS0") && m.kernel_cmdline.contains("net.ifnames=0")
    );
    assert_eq!(m.inputs.node, "node1");
    assert_eq!(m.input_sha256, m.inputs.sha256());
}

#[test]
fn unchanged_inputs_skip_the_build_and_a_changed_profile_rebuilds() {
    let fx = Fixture::new();
    let first = fake_tools();
    build(&fx.request(), &first, &Reporter::silent()).unwrap();

    let second = fake_tools();
    let outcome = build(&fx.request(), &second, &Reporter::silent()).unwrap();
    assert!(matches!(outcome, Outcome::UpToDate(_)), "{outcome:?}");
    assert!(
        second.calls().is_empty(),
        "a skipped build runs nothing: {:?}",
        second.lines()
    );

    let mut forced = fx.request();
    forced.force = true;
    let third = fake_tools();
    assert!(matches!(
        build(&forced, &third, &Reporter::silent()).unwrap(),
        Outcome::Built(_)
    ));

    let profile = fx.dir.path().join("lab.toml");
    let text = std::fs::read_to_string(&profile)
        .unwrap()
        .replace("sync-rate = \"100M\"", "sync-rate = \"90M\"");
    std::fs::write(&profile, text).unwrap();
    let fourth = fake_tools();
    assert!(matches!(
        build(&fx.request(), &fourth, &Reporter::silent()).unwrap(),
        Outcome::Built(_)
    ));
    assert_eq!(fourth.calls()[0].program, "mmdebstrap");

    // A missing artifact is not up to date either.
    std::fs::remove_file(fx.out().join("node1.qcow2")).unwrap();
    let fifth = fake_tools();
    assert!(matches!(
        build(&fx.request(), &fifth, &Reporter::silent()).unwrap(),
        Outcome::Built(_)
    ));
}

#[test]
fn a_failed_step_is_named_and_leaves_nothing_under_the_output_names() {
    let fx = Fixture::new();
    let runner = RecordingRunner::new().respond(
        "mkfs.ext4",
        Output::failed(1, "mkfs.ext4: Could not allocate block"),
    );
    let runner = {
        // mmdebstrap and qemu-img as in fake_tools, mkfs.ext4 failing.
        let fake = fake_tools();
        runner.respond_with(move |cmd| fake.run(cmd).ok())
    };
    let err = build(&fx.request(), &runner, &Reporter::silent()).unwrap_err();
    let text = crate::error::format(&err);
    assert!(
        text.starts_with("error: disk (mkfs.ext4) failed\n"),
        "{text}"
    );
    assert!(text.contains("Could not allocate block"), "{text}");
    assert!(
        text.contains("note: nothing was written under the output names"),
        "{text}"
    );
    assert_eq!(
        fx.out_names(),
        Vec::<String>::new(),
        "the work folder is removed too"
    );
}

#[test]
fn a_kernel_without_drbd_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let d = root
        .path()
        .join("lib/modules/6.8.0-1-generic/kernel/net/netfilter/ipvs");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("ip_vs.ko.zst"), "").unwrap();
    let err = check_modules(root.path(), "6.8.0-1-generic").unwrap_err();
    assert!(err.to_string().contains("lacks drbd.ko"), "{err}");
    let d = root
        .path()
        .join("lib/modules/6.8.0-1-generic/kernel/drivers/block/drbd");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("drbd.ko.zst"), "").unwrap();
    check_modules(root.path(), "6.8.0-1-generic").unwrap();
}

#[test]
fn distro_defaults_cover_every_distro() {
    for (_, d) in Distro::ALL {
        assert!(!spec::default_mirror(d).is_empty());
        assert!(!spec::default_components(d).is_empty());
        assert!(spec::kernel_package(d).starts_with("linux-image-"));
    }
}

#[test]
fn our_packages_are_installed_inside_the_root_from_a_copy_of_the_repository() {
    let model = model_for("debian-sid");
    let o = ImageOptions {
        binary: None,
        repo: Some("/srv/repo".into()),
        meta_package: Some("pbx-cluster-node-pacemaker".into()),
        ..opts("node1")
    };
    let spec = ImageSpec::resolve(&model, &o).unwrap();
    assert_eq!(
        spec.from_repo,
        ["pbx-cluster", "pbx-cluster-node-pacemaker"]
    );
    let w = WorkPaths::new(Path::new("/w"), Path::new("/cache"), "node1");
    let line = plan::repo_source_line(Some(("stable", &["main".to_string()])));
    let cmd = plain(&plan::mmdebstrap(&spec, &w, Some(&line)));
    // mmdebstrap's own apt runs outside the root: our packages are not in --include.
    let include = cmd
        .split(' ')
        .find(|a| a.starts_with("--include="))
        .unwrap();
    assert!(!include.contains("pbx-cluster"), "{include}");
    let at = |part: &str| {
        cmd.find(part)
            .unwrap_or_else(|| panic!("`{part}` not in {cmd}"))
    };
    let copy = at("--customize-hook=sync-in /srv/repo /opt/pbx-cluster-repo");
    let list = at("file:/opt/pbx-cluster-repo stable main");
    let install =
        at("apt-get install -y -q --no-install-recommends pbx-cluster pbx-cluster-node-pacemaker");
    let enable = at("systemctl enable systemd-networkd.service pbx-cluster-firstboot.service");
    let cleanup = at("--customize-hook=rm -rf \"$1\"/opt/pbx-cluster-repo");
    assert!(at("--customize-hook=mkdir -p \"$1\"/opt/pbx-cluster-repo") < copy);
    assert!(
        copy < list && list < install,
        "the copy and its source before the install"
    );
    assert!(
        install < enable,
        "the package brings the first-boot unit that is enabled"
    );
    assert!(enable < cleanup);
}

#[test]
fn added_files_are_build_inputs_and_cannot_replace_generated_files() {
    let fx = Fixture::new();
    let agent = AddedFile {
        dest: "/usr/sbin/fence_site".into(),
        bytes: b"#!/bin/sh\nexit 0\n".to_vec(),
        mode: 0o755,
    };
    let mut with = fx.request();
    with.options.add_files = vec![agent.clone()];
    build(&with, &fake_tools(), &Reporter::silent()).unwrap();
    // Same inputs: skipped. A changed file: rebuilt.
    let mut same = fx.request();
    same.options.add_files = vec![agent.clone()];
    assert!(matches!(
        build(&same, &fake_tools(), &Reporter::silent()).unwrap(),
        Outcome::UpToDate(_)
    ));
    let mut changed = fx.request();
    changed.options.add_files = vec![AddedFile {
        bytes: b"#!/bin/sh\nexit 1\n".to_vec(),
        ..agent
    }];
    assert!(matches!(
        build(&changed, &fake_tools(), &Reporter::silent()).unwrap(),
        Outcome::Built(_)
    ));

    let mut clash = fx.request();
    clash.options.add_files = vec![AddedFile {
        dest: "/etc/hostname".into(),
        bytes: b"evil\n".to_vec(),
        mode: 0o644,
    }];
    let tools = fake_tools();
    let err = build(&clash, &tools, &Reporter::silent()).unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("/etc/hostname"), "{err}");
    assert!(tools.calls().is_empty(), "{:?}", tools.lines());
}

#[test]
fn a_root_without_mount_is_refused() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("usr/sbin")).unwrap();
    std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
    std::fs::write(root.path().join("usr/sbin/init"), "").unwrap();
    std::fs::write(root.path().join("usr/bin/umount"), "").unwrap();
    let err = check_boot_tools(root.path()).unwrap_err();
    assert!(err.to_string().contains("/usr/bin/mount"), "{err}");
    assert!(!err.to_string().contains("umount"), "{err}");
    std::fs::write(root.path().join("usr/bin/mount"), "").unwrap();
    check_boot_tools(root.path()).unwrap();
}
