//! `packaging/build-debs` run for real: cargo-deb and dpkg-deb, twice.
//!
//! It runs in a scratch copy of the source tree, where package assets that other
//! branches provide are filled in from tests/fixtures/placeholder-assets when
//! (and only when) the real file is missing; the release binary comes from this
//! tree's own target directory. Needs cargo-deb (the version build-debs pins).

use std::path::{Path, PathBuf};

use pbx_cluster::exec::{Cmd, LocalRunner, Output, Runner};

const EPOCH: &str = "1700000000";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/ of this build: the test binary's executable sits in target/debug/.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_pbx-cluster"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&src, &dst, &[]);
        } else if kind.is_file() {
            // std::fs::copy keeps the permission bits, so scripts stay executable.
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A scratch source tree with placeholders only where the real asset is missing.
fn scratch_tree() -> tempfile::TempDir {
    let tree = tempfile::tempdir().unwrap();
    copy_tree(
        &manifest_dir(),
        tree.path(),
        &["target", ".git", "out", "vm-tests"],
    );
    let fixtures = manifest_dir().join("tests/fixtures/placeholder-assets");
    for rel in [
        "packaging/ocf/drbdlinks",
        "packaging/heartbeat/drbdlinks",
        "packaging/lib/check-sip",
        "profiles/example.toml",
    ] {
        let dst = tree.path().join(rel);
        if !dst.exists() {
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(fixtures.join(rel), &dst).unwrap();
        }
    }
    tree
}

fn build_release_binary() {
    let target = target_dir().display().to_string();
    let manifest = manifest_dir().join("Cargo.toml").display().to_string();
    LocalRunner
        .run_ok(
            &Cmd::new(env!("CARGO"))
                .args(["build", "--release", "--locked", "--manifest-path"])
                .arg(manifest)
                .args(["--bin", "pbx-cluster", "--example", "gen-docs"])
                .env("CARGO_TARGET_DIR", target),
        )
        .unwrap_or_else(|e| panic!("{e}"));
}

fn build_debs(tree: &Path, out: &Path) -> Output {
    LocalRunner
        .run(
            &Cmd::new(tree.join("packaging/build-debs").display().to_string())
                .arg("--no-build")
                .arg(out.display().to_string())
                .env("CARGO_TARGET_DIR", target_dir().display().to_string())
                .env("SOURCE_DATE_EPOCH", EPOCH),
        )
        .unwrap()
}

#[test]
fn same_source_and_epoch_give_the_same_deb_bytes() {
    build_release_binary();
    let tree = scratch_tree();
    let out = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for name in ["a", "b"] {
        let dir = out.path().join(name);
        let o = build_debs(tree.path(), &dir);
        assert!(
            o.success(),
            "build-debs failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let printed: Vec<PathBuf> = o.stdout_str().lines().map(PathBuf::from).collect();
        runs.push(printed);
    }
    let names = |paths: &[PathBuf]| -> Vec<String> {
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    let version = format!("{}-1", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        names(&runs[0]),
        [
            format!("pbx-cluster_{version}_amd64.deb"),
            format!("pbx-cluster-node-heartbeat_{version}_all.deb"),
            format!("pbx-cluster-node-loadbalanced_{version}_all.deb"),
            format!("pbx-cluster-node-pacemaker_{version}_all.deb"),
        ]
    );
    assert_eq!(names(&runs[0]), names(&runs[1]));
    for (a, b) in runs[0].iter().zip(&runs[1]) {
        assert!(a.starts_with(out.path().join("a")), "{}", a.display());
        assert_eq!(
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            "{} differs between two builds",
            a.display()
        );
    }

    // The main package holds what Cargo.toml lists, at the paths operators expect.
    let listing = LocalRunner
        .run_ok(
            &Cmd::new("dpkg-deb")
                .arg("--contents")
                .arg(runs[0][0].display().to_string()),
        )
        .unwrap()
        .stdout_str();
    for path in [
        "./usr/sbin/pbx-cluster",
        "./usr/share/man/man8/pbx-cluster.8.gz",
        "./usr/share/man/man8/pbx-cluster-repo-build.8.gz",
        "./usr/share/bash-completion/completions/pbx-cluster",
        "./usr/share/zsh/vendor-completions/_pbx-cluster",
        "./usr/share/fish/vendor_completions.d/pbx-cluster.fish",
        "./usr/lib/systemd/system/pbx-cluster-firstboot.service",
        "./usr/lib/ocf/resource.d/pbx-cluster/drbdlinks",
        "./etc/ha.d/resource.d/drbdlinks",
        "./usr/lib/pbx-cluster/check-sip",
        "./usr/share/doc/pbx-cluster/examples/cluster.toml",
        "./usr/share/doc/pbx-cluster/copyright",
        "./usr/share/doc/pbx-cluster/changelog.Debian.gz",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(path)),
            "{path} missing from:\n{listing}"
        );
    }
    // Metapackages depend on the tool of the same version.
    let depends = LocalRunner
        .run_ok(
            &Cmd::new("dpkg-deb")
                .args(["--field"])
                .arg(runs[0][3].display().to_string())
                .arg("Depends"),
        )
        .unwrap()
        .stdout_str();
    assert!(
        depends.starts_with(&format!("pbx-cluster (>= {version}), corosync, pacemaker")),
        "{depends}"
    );
}

#[test]
fn a_missing_asset_is_named_and_nothing_is_built() {
    let tree = scratch_tree();
    std::fs::remove_file(tree.path().join("packaging/lib/check-sip")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = build_debs(tree.path(), &out.path().join("debs"));
    assert_eq!(o.code, Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        stderr.trim(),
        "build-debs: error: missing package asset packaging/lib/check-sip \
(listed in Cargo.toml [package.metadata.deb])"
    );
    assert!(o.stdout.is_empty());
    assert_eq!(
        std::fs::read_dir(out.path().join("debs")).unwrap().count(),
        0,
        "no .deb may be written when an asset is missing"
    );
}
