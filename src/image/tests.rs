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

/// The lab profile under another engine (the paired-VM suite does the same).
fn model_for_engine(distro: &str, engine: &str) -> Model {
    let src = lab_text()
        .replace("distro = \"debian-sid\"", &format!("distro = \"{distro}\""))
        .replace("engine = \"pacemaker\"", &format!("engine = \"{engine}\""));
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
    profile_files(&profiles_dir().join("lab.toml"), &model_for("debian-sid")).unwrap()
}

/// The argv joined by spaces, unquoted: easier to search than the shell form.
fn plain(cmd: &Cmd) -> String {
    std::iter::once(cmd.program.clone())
        .chain(cmd.args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn text(set: &ImageFiles, path: &str) -> String {
    String::from_utf8(
        set.get(path)
            .unwrap_or_else(|| panic!("no {path}"))
            .bytes
            .clone(),
    )
    .unwrap()
}

#[test]
fn an_image_carries_every_package_plan_would_install() {
    for engine in ["pacemaker", "heartbeat"] {
        let model = model_for_engine("debian-sid", engine);
        let spec = ImageSpec::resolve(&model, &opts("node1")).unwrap();
        for p in crate::plan::packages::required(&model) {
            assert!(
                spec.packages.contains(&p),
                "{engine}: {p} missing: {:?}",
                spec.packages
            );
        }
    }
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
        "pacemaker-cli-utils",
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
        "for u in asterisk.service corosync.service drbd.service pacemaker.service;",
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
fn load_balanced_images_boot_a_kernel_with_ocfs2_and_dlm() {
    let lb = std::fs::read_to_string(profiles_dir().join("loadbalanced.toml")).unwrap();
    for (distro, kernel, small) in [
        ("ubuntu-24.04", "linux-image-generic", "linux-image-virtual"),
        ("debian-sid", "linux-image-amd64", "linux-image-cloud-amd64"),
    ] {
        let src = lb.replace(
            "distro = \"ubuntu-24.04\"",
            &format!("distro = \"{distro}\""),
        );
        let model = profile::parse(&src, Path::new("lb.toml"), &profiles_dir())
            .unwrap()
            .model;
        let spec = ImageSpec::resolve(&model, &opts("cl01")).unwrap();
        assert_eq!(spec.kernel_package, kernel);
        assert!(spec.packages.contains(&kernel.to_string()));
        assert!(!spec.packages.contains(&small.to_string()), "{distro}");
        // Active/passive images keep the small kernel.
        assert_eq!(
            ImageSpec::resolve(&model_for(distro), &opts("node1"))
                .unwrap()
                .kernel_package,
            small
        );
    }
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
            text(&setup, files::EXTRA_LIST).contains("deb http://deb.debian.org/debian sid main\n")
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
    assert!(unit.contains(
        "ExecStart=/bin/sh -c '/usr/sbin/pbx-cluster init /etc/pbx-cluster/cluster.toml && "
    ));
    assert!(unit.contains("ConditionPathExists=/etc/pbx-cluster/cluster.toml"));
    assert!(unit.contains("/var/lib/pbx-cluster/firstboot.done"));
    // The boot reaches its target while init waits for the peer and the sync.
    assert!(unit.contains("Type=exec") && !unit.contains("Type=oneshot"));
    // The .deb's unit behaves the same.
    let deb_unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("packaging/debian/pbx-cluster.pbx-cluster-firstboot.service"),
    )
    .unwrap();
    assert!(deb_unit.contains("Type=exec") && !deb_unit.contains("Type=oneshot"));
    assert!(deb_unit.contains(
        "init /etc/pbx-cluster/cluster.toml && touch /var/lib/pbx-cluster/firstboot.done"
    ));
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
            fake_root(Path::new(&cmd.args[cmd.args.len() - 2]));
            Some(Output::ok(Vec::new()))
        }
        "qemu-img" => {
            std::fs::write(cmd.args.last().unwrap(), "qcow2").unwrap();
            Some(Output::ok(Vec::new()))
        }
        _ => None,
    })
}

/// What mmdebstrap (or an unpacked cloud image) leaves: a kernel with drbd and
/// ip_vs, the boot tools, a dpkg status.
fn fake_root(root: &Path) {
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
        assert!(spec::kernel_package(d, false).starts_with("linux-image-"));
        assert!(spec::kernel_package(d, true).starts_with("linux-image-"));
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

/// Runs the generated boot hook with its folders pointed at temporary ones; it
/// gives up at once on a partition that is not there.
fn run_boot_hook(boot: &Path, kernels: &Path) -> std::process::Output {
    run_boot_hook_with(boot, kernels, &[("PBX_BOOT_WAIT", "0".into())])
}

fn run_boot_hook_with(
    boot: &Path,
    kernels: &Path,
    env: &[(&str, std::ffi::OsString)],
) -> std::process::Output {
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), files::boot_hook()).unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(script.path())
        .arg("ignored-version")
        .env("PBX_BOOT_DIR", boot)
        .env("PBX_KERNEL_DIR", kernels);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Two kernels in a fake /boot; returns (boot partition dir, kernel dir).
fn kernels_in(d: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (boot, kernels) = (d.join("fat"), d.join("boot"));
    std::fs::create_dir_all(&boot).unwrap();
    std::fs::create_dir_all(&kernels).unwrap();
    for (v, body) in [
        ("6.1.0-9-cloud-amd64", "nine"),
        ("6.1.0-10-cloud-amd64", "ten"),
    ] {
        std::fs::write(
            kernels.join(format!("vmlinuz-{v}")),
            format!("kernel {body}"),
        )
        .unwrap();
        std::fs::write(
            kernels.join(format!("initrd.img-{v}")),
            format!("initrd {body}"),
        )
        .unwrap();
    }
    (boot, kernels)
}

#[test]
fn the_boot_hook_mounts_a_late_boot_partition_itself() {
    let d = tempfile::tempdir().unwrap();
    let (boot, kernels) = kernels_in(d.path());
    // A `mount` whose device shows up at the third try (a slow disk or
    // controller): that call "mounts" the partition by making its files appear.
    let bin = d.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = d.path().join("calls");
    std::fs::write(
        bin.join("mount"),
        format!(
            "#!/bin/sh\necho \"$1\" >> {calls}\n[ $(wc -l < {calls}) -ge 3 ] || exit 32\nprintf 'cfg' > \"$1/syslinux.cfg\"\n",
            calls = calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("mount"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = run_boot_hook_with(
        &boot,
        &kernels,
        &[
            ("PATH", path.clone().into()),
            ("PBX_BOOT_WAIT", "10".into()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tries = std::fs::read_to_string(&calls).unwrap();
    assert_eq!(tries.lines().count(), 3, "{tries}");
    assert!(tries.lines().all(|l| l == boot.display().to_string()));
    assert_eq!(
        std::fs::read_to_string(boot.join("vmlinuz")).unwrap(),
        "kernel ten"
    );

    // A device that never comes: the hook gives up after its bound, names the
    // label and the fix, and writes nothing.
    let (boot2, kernels2) = kernels_in(&d.path().join("never"));
    std::fs::write(bin.join("mount"), "#!/bin/sh\nexit 32\n").unwrap();
    let out = run_boot_hook_with(
        &boot2,
        &kernels2,
        &[("PATH", path.into()), ("PBX_BOOT_WAIT", "2".into())],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("did not appear within 2 s") && err.contains("LABEL=PBXBOOT"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&boot2).unwrap().count(), 0);
}

#[test]
fn the_boot_hook_puts_the_newest_kernel_on_the_boot_partition_and_keeps_the_last() {
    let d = tempfile::tempdir().unwrap();
    let (boot, kernels) = kernels_in(d.path());
    // Not mounted (no syslinux.cfg): refused loudly, nothing written.
    let out = run_boot_hook(&boot, &kernels);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("6.1.0-10-cloud-amd64") && err.contains("LABEL=PBXBOOT"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&boot).unwrap().count(), 0);

    std::fs::write(boot.join("syslinux.cfg"), files::syslinux_cfg("root=x")).unwrap();
    std::fs::write(boot.join("vmlinuz"), "kernel nine").unwrap();
    std::fs::write(boot.join("initrd.img"), "initrd nine").unwrap();
    let out = run_boot_hook(&boot, &kernels);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // sort -V: 10 is newer than 9.
    let read = |f: &str| std::fs::read_to_string(boot.join(f)).unwrap();
    assert_eq!(
        (read("vmlinuz"), read("initrd.img")),
        ("kernel ten".into(), "initrd ten".into())
    );
    assert_eq!(
        (read("vmlinuz.old"), read("initrd.old")),
        ("kernel nine".into(), "initrd nine".into())
    );
    assert!(!boot.join("vmlinuz.new").exists() && !boot.join("initrd.new").exists());
    let cfg = read("syslinux.cfg");
    assert!(
        cfg.contains("LINUX /vmlinuz.old") && cfg.contains("INITRD /initrd.old"),
        "{cfg}"
    );

    // Current already: nothing to do, the kept pair stays the previous kernel.
    let out = run_boot_hook(&boot, &kernels);
    assert!(out.status.success() && out.stdout.is_empty());
    assert_eq!(read("vmlinuz.old"), "kernel nine");

    // A kernel whose initrd is not made yet waits for the initramfs hook's call.
    std::fs::write(
        kernels.join("vmlinuz-6.1.0-11-cloud-amd64"),
        "kernel eleven",
    )
    .unwrap();
    assert!(run_boot_hook(&boot, &kernels).status.success());
    assert_eq!(read("vmlinuz"), "kernel ten");
}

#[test]
fn the_node_mounts_the_boot_partition_where_the_hooks_look() {
    let spec = ImageSpec::resolve(&model_for("debian-sid"), &opts("node1")).unwrap();
    let set = files::render(&spec, &profile_files_of_lab());
    let fstab = text(&set, "etc/fstab");
    assert!(
        fstab.contains(&format!(
            "LABEL={} {} vfat",
            spec::BOOT_LABEL,
            files::BOOT_MOUNT
        )),
        "{fstab}"
    );
    // However late the device appears, a unit of ours mounts it: enabled, not
    // waited for by the boot, and through fstab's own mount unit.
    let unit = text(
        &set,
        &format!("etc/systemd/system/{}", files::BOOT_MOUNT_SERVICE),
    );
    assert!(
        unit.contains("Type=exec")
            && unit.contains("until systemctl is-active -q /dev/disk/by-label/PBXBOOT;")
            && unit.contains("systemctl start /boot/pbx-boot")
            && unit.contains("WantedBy=multi-user.target"),
        "{unit}"
    );
    let (enable, _, _) = plan::unit_changes(&spec);
    assert!(enable.iter().any(|u| u == files::BOOT_MOUNT_SERVICE));
    assert!(fstab.contains(&format!("{} vfat defaults,nofail", files::BOOT_MOUNT)));
    for hook in [files::KERNEL_HOOK, files::INITRAMFS_HOOK] {
        assert_eq!(set[hook].mode, 0o755);
        assert_eq!(text(&set, hook), files::boot_hook());
    }
    let w = WorkPaths::new(Path::new("/w"), Path::new("/c"), "node1");
    let mkfs_vfat = plan::disk(&spec, &w, Path::new("/k"), Path::new("/i"))
        .into_iter()
        .find(|c| c.program == "mkfs.vfat")
        .unwrap();
    assert!(plain(&mkfs_vfat).contains(&format!("-n {}", spec::BOOT_LABEL)));
}

const BASE_SFDISK: &str = r#"{"partitiontable": {"label": "gpt", "sectorsize": 512, "partitions": [
    {"node": "b1", "start": 262144, "size": 6027231, "type": "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"},
    {"node": "b14", "start": 2048, "size": 6144, "type": "21686148-6449-6E6F-744E-656564454649"}]}}"#;

/// qemu-img, sfdisk and unshare as a published Debian sid image would answer:
/// the unpack leaves a root with `os_release` in /etc/os-release.
fn fake_base_tools(os_release: &'static str) -> RecordingRunner {
    RecordingRunner::new().respond_with(move |cmd: &Cmd| match cmd.program.as_str() {
        "qemu-img" => {
            std::fs::write(cmd.args.last().unwrap(), "disk").unwrap();
            Some(Output::ok(Vec::new()))
        }
        "sfdisk" if cmd.args.first().map(String::as_str) == Some("-J") => {
            Some(Output::ok(BASE_SFDISK))
        }
        "unshare" if cmd.args[5].contains("cp -a \"$3\"/. \"$2\"/") => {
            let root = Path::new(&cmd.args[8]);
            fake_root(root);
            std::fs::create_dir_all(root.join("etc")).unwrap();
            std::fs::write(root.join("etc/os-release"), os_release).unwrap();
            Some(Output::ok(Vec::new()))
        }
        _ => None,
    })
}

const SID_OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux forky/sid\"\nID=debian\n";

fn base_request<'a>(fx: &'a Fixture, url: &str) -> BuildRequest<'a> {
    let mut req = fx.request();
    req.options.base_image = Some(url.to_string());
    req
}

#[test]
fn a_base_image_build_unpacks_the_verified_image_and_installs_into_it() {
    use sha2::{Digest, Sha512};
    let image = b"a published qcow2".to_vec();
    let sums = format!(
        "{}  debian-sid-genericcloud-amd64.qcow2\n",
        hex::encode(Sha512::digest(&image))
    );
    let server = download::test_server::serve(vec![
        (
            "/cloud/debian-sid-genericcloud-amd64.qcow2".into(),
            image.clone(),
        ),
        ("/cloud/SHA512SUMS".into(), sums.into_bytes()),
    ]);
    let url = format!("{}/cloud/debian-sid-genericcloud-amd64.qcow2", server.base);
    let fx = Fixture::new();
    let runner = fake_base_tools(SID_OS_RELEASE);
    let outcome = build(&base_request(&fx, &url), &runner, &Reporter::silent()).unwrap();
    let Outcome::Built(m) = outcome else {
        panic!("{outcome:?}")
    };
    let calls = runner.calls();
    let programs: Vec<&str> = calls.iter().take(4).map(|c| c.program.as_str()).collect();
    assert_eq!(
        programs,
        ["qemu-img", "sfdisk", "unshare", "unshare"],
        "{:?}",
        runner.lines()
    );
    assert!(!calls.iter().any(|c| c.program == "mmdebstrap"));
    // The verified download is what gets converted; the root partition's byte range is mounted.
    assert!(plain(&calls[0]).contains("base-images/debian-sid-genericcloud-amd64.qcow2"));
    assert!(calls[2].args.contains(&format!(
        "ro,loop,offset={},sizelimit={}",
        262144u64 * 512,
        6027231u64 * 512
    )));
    // The stack goes in with the profile's sources, then the same hooks as mmdebstrap's.
    let script = &calls[3].args[5];
    let at = |needle: &str| {
        script
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not in {script}"))
    };
    assert!(at("mount -t proc") < at("apt-get update"));
    assert!(at("deb http://deb.debian.org/debian sid main") < at("apt-get update"));
    assert!(at("apt-get install") < at("systemctl enable"));
    assert!(at("systemctl enable") < at("rm -f \"$1\"/usr/sbin/policy-rc.d"));
    assert!(script.contains("cloud-init.disabled") && script.contains("ssh-keygen -A"));
    // The rest is the ordinary disk.
    assert!(calls.iter().any(|c| c.program == "syslinux"));
    let b = m.inputs.base_image.as_ref().unwrap();
    assert_eq!((b.url.as_str(), b.algo.as_str()), (url.as_str(), "sha512"));
    assert_eq!(server.hits("/cloud/debian-sid-genericcloud-amd64.qcow2"), 1);

    // Same image listed, same inputs: skipped after fetching only the checksum list.
    let again = fake_base_tools(SID_OS_RELEASE);
    let outcome = build(&base_request(&fx, &url), &again, &Reporter::silent()).unwrap();
    assert!(matches!(outcome, Outcome::UpToDate(_)), "{outcome:?}");
    assert!(again.calls().is_empty());
    assert_eq!(server.hits("/cloud/debian-sid-genericcloud-amd64.qcow2"), 1);
    assert_eq!(server.hits("/cloud/SHA512SUMS"), 2);
}

#[test]
fn a_base_image_of_another_release_is_refused_and_nothing_is_written() {
    use sha2::{Digest, Sha512};
    let image = b"a trixie image".to_vec();
    let server = download::test_server::serve(vec![
        ("/debian-13-genericcloud-amd64.qcow2".into(), image.clone()),
        (
            "/SHA512SUMS".into(),
            format!(
                "{}  debian-13-genericcloud-amd64.qcow2\n",
                hex::encode(Sha512::digest(&image))
            )
            .into_bytes(),
        ),
    ]);
    let url = format!("{}/debian-13-genericcloud-amd64.qcow2", server.base);
    let fx = Fixture::new();
    let runner = fake_base_tools("ID=debian\nVERSION_ID=\"13\"\n");
    let err = build(&base_request(&fx, &url), &runner, &Reporter::silent()).unwrap_err();
    assert_eq!(err.exit_code(), crate::error::EXIT_INVALID);
    let text = crate::error::format(&err);
    assert!(text.starts_with("error: base image (distro) failed\ncause: the base image is debian 13, but the profile's cluster.distro is debian-sid\nnote: use a debian-sid base image"), "{text}");
    assert!(
        !runner
            .calls()
            .iter()
            .any(|c| c.args.iter().any(|a| a.contains("apt-get install")))
    );
    assert_eq!(fx.out_names(), Vec::<String>::new());
}

#[test]
fn a_base_image_missing_from_its_checksum_list_is_never_downloaded() {
    let server = download::test_server::serve(vec![
        ("/img.qcow2".into(), b"x".to_vec()),
        (
            "/SHA512SUMS".into(),
            format!("{}  other.qcow2\n", "0".repeat(128)).into_bytes(),
        ),
    ]);
    let fx = Fixture::new();
    let runner = fake_base_tools(SID_OS_RELEASE);
    let err = build(
        &base_request(&fx, &format!("{}/img.qcow2", server.base)),
        &runner,
        &Reporter::silent(),
    )
    .unwrap_err();
    let text = crate::error::format(&err);
    assert!(
        text.starts_with("error: base image (checksum list) failed\n"),
        "{text}"
    );
    assert!(text.contains("does not list img.qcow2"), "{text}");
    assert_eq!(server.hits("/img.qcow2"), 0);
    assert!(runner.calls().is_empty());
}

#[test]
fn base_image_flags_are_checked_before_anything_runs() {
    let model = model_for("debian-sid");
    let mut o = opts("node1");
    o.base_image = Some("/tmp/local.qcow2".into());
    let err = ImageSpec::resolve(&model, &o).unwrap_err();
    assert!(
        err.to_string().contains("not an http:// or https:// URL"),
        "{err}"
    );
    let mut o = opts("node1");
    o.base_sums = Some("https://example.invalid/SHA512SUMS".into());
    assert!(matches!(
        ImageSpec::resolve(&model, &o),
        Err(spec::SpecError::SumsWithoutBase)
    ));
    // The default checksum list is the one each distro publishes.
    let mut o = opts("node1");
    o.base_image =
        Some("https://cloud-images.example/noble/noble-server-cloudimg-amd64.img".into());
    let ubuntu = ImageSpec::resolve(&model_for("ubuntu-24.04"), &o).unwrap();
    assert_eq!(
        ubuntu.base.unwrap().sums_url,
        "https://cloud-images.example/noble/SHA256SUMS"
    );
    let debian = ImageSpec::resolve(&model_for("debian-13"), &o).unwrap();
    assert_eq!(
        debian.base.unwrap().sums_url,
        "https://cloud-images.example/noble/SHA512SUMS"
    );
}
