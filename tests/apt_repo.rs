//! `pbx-cluster repo build` run as a process against .debs made by dpkg-deb,
//! judged by the real tools: sha256sum, dpkg-deb, gpgv and apt-get.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use pbx_cluster::exec::{Cmd, LocalRunner, Output, Runner};

const EPOCH: &str = "1700000000";

fn run_ok(cmd: Cmd) -> Output {
    LocalRunner.run_ok(&cmd).unwrap_or_else(|e| panic!("{e}"))
}

/// A minimal binary package built by dpkg-deb: one file, a two-line Description.
fn make_deb(dir: &Path, name: &str, version: &str, arch: &str) -> PathBuf {
    let tree = tempfile::tempdir().unwrap();
    let debian = tree.path().join("DEBIAN");
    std::fs::create_dir_all(&debian).unwrap();
    std::fs::write(
        debian.join("control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: {arch}\n\
Maintainer: Test <test@pbx-cluster.invalid>\nDepends: libc6\n\
Description: fixture package {name}\n Built by the apt_repo test.\n"
        ),
    )
    .unwrap();
    let doc = tree.path().join("usr/share/doc").join(name);
    std::fs::create_dir_all(&doc).unwrap();
    std::fs::write(doc.join("README"), format!("{name}\n")).unwrap();
    let out = dir.join(format!("{name}.deb"));
    run_ok(
        Cmd::new("dpkg-deb")
            .args(["--root-owner-group", "--build"])
            .arg(tree.path().display().to_string())
            .arg(out.display().to_string())
            .env("SOURCE_DATE_EPOCH", EPOCH),
    );
    out
}

fn fixture_debs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    make_deb(dir.path(), "pbx-fixture", "1:0.1.0-1", "amd64");
    make_deb(dir.path(), "pbx-fixture-meta", "0.1.0-1", "all");
    dir
}

fn repo_build(args: &[&str], extra_env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pbx-cluster"));
    cmd.arg("repo")
        .arg("build")
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn build(debs: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut args = vec![
        "--debs",
        debs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = repo_build(&args, env);
    assert!(
        o.status.success(),
        "repo build failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn sha256sum(path: &Path) -> String {
    let out = run_ok(Cmd::new("sha256sum").arg(path.display().to_string()));
    out.stdout_str()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Parses deb822 stanzas into maps of field -> value (continuations joined).
fn stanzas(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut all = Vec::new();
    for para in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let mut map = BTreeMap::new();
        let mut last = String::new();
        for line in para.lines() {
            if let Some(cont) = line.strip_prefix(' ') {
                let v: &mut String = map.get_mut(&last).unwrap();
                v.push('\n');
                v.push_str(cont);
            } else {
                let (k, v) = line.split_once(':').unwrap();
                last = k.to_string();
                map.insert(last.clone(), v.trim().to_string());
            }
        }
        all.push(map);
    }
    all
}

#[test]
fn release_sizes_and_hashes_match_sha256sum() {
    let debs = fixture_debs();
    let out = tempfile::tempdir().unwrap();
    let repo = out.path().join("repo");
    let stdout = build(debs.path(), &repo, &["--suite", "testing"], &[]);
    let release_path = repo.join("dists/testing/Release");
    assert_eq!(stdout, format!("{}\n", release_path.display()));

    let release = std::fs::read_to_string(&release_path).unwrap();
    let head = &stanzas(&release)[0];
    assert_eq!(head["Suite"], "testing");
    assert_eq!(head["Codename"], "testing");
    assert_eq!(head["Architectures"], "amd64");
    assert_eq!(head["Components"], "main");
    // `date -u -R -d @1700000000` with the zone spelled as apt writes it.
    assert_eq!(head["Date"], "Tue, 14 Nov 2023 22:13:20 UTC");

    let listed: Vec<(String, u64, String)> = release
        .lines()
        .skip_while(|l| *l != "SHA256:")
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[2].to_string(), w[1].parse().unwrap(), w[0].to_string())
        })
        .collect();
    let names: Vec<&str> = listed.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "main/binary-amd64/Packages",
            "main/binary-amd64/Packages.gz",
            "main/binary-amd64/Release"
        ]
    );
    for (rel, size, sha) in &listed {
        let path = repo.join("dists/testing").join(rel);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), *size, "{rel}");
        assert_eq!(&sha256sum(&path), sha, "{rel}");
    }
}

#[test]
fn packages_stanzas_carry_dpkg_deb_fields_and_pool_checksums() {
    let debs = fixture_debs();
    let out = tempfile::tempdir().unwrap();
    let repo = out.path().join("repo");
    build(debs.path(), &repo, &[], &[]);
    let packages =
        std::fs::read_to_string(repo.join("dists/stable/main/binary-amd64/Packages")).unwrap();
    let by_name: BTreeMap<String, BTreeMap<String, String>> = stanzas(&packages)
        .into_iter()
        .map(|s| (s["Package"].clone(), s))
        .collect();
    assert_eq!(
        by_name.keys().collect::<Vec<_>>(),
        ["pbx-fixture", "pbx-fixture-meta"],
        "the amd64 index holds the Architecture: all package too"
    );
    for deb in ["pbx-fixture", "pbx-fixture-meta"] {
        let src = debs.path().join(format!("{deb}.deb"));
        let control = run_ok(
            Cmd::new("dpkg-deb")
                .arg("-f")
                .arg(src.display().to_string()),
        );
        let stanza = &by_name[deb];
        for (k, v) in &stanzas(&control.stdout_str())[0] {
            assert_eq!(&stanza[k], v, "{deb}: field {k}");
        }
        let pooled = repo.join(&stanza["Filename"]);
        assert!(stanza["Filename"].starts_with("pool/main/p/"), "{stanza:?}");
        assert_eq!(sha256sum(&pooled), stanza["SHA256"]);
        assert_eq!(sha256sum(&pooled), sha256sum(&src));
        assert_eq!(
            std::fs::metadata(&pooled).unwrap().len().to_string(),
            stanza["Size"]
        );
    }
    // The epoch is not part of the pool file name.
    assert_eq!(
        by_name["pbx-fixture"]["Filename"],
        "pool/main/p/pbx-fixture/pbx-fixture_0.1.0-1_amd64.deb"
    );
    // Packages.gz is the same text, gzip-compressed.
    let gz = repo.join("dists/stable/main/binary-amd64/Packages.gz");
    let unzipped = run_ok(Cmd::new("gzip").args(["-dc"]).arg(gz.display().to_string()));
    assert_eq!(unzipped.stdout_str(), packages);
}

fn tree_bytes(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    files
}

#[test]
fn same_debs_and_epoch_give_the_same_repository_bytes() {
    let debs = fixture_debs();
    let out = tempfile::tempdir().unwrap();
    let (a, b) = (out.path().join("a"), out.path().join("b"));
    build(debs.path(), &a, &[], &[]);
    build(debs.path(), &b, &[], &[]);
    let (ta, tb) = (tree_bytes(&a), tree_bytes(&b));
    assert_eq!(ta.len(), 6, "{:?}", ta.keys().collect::<Vec<_>>());
    assert_eq!(ta, tb);
    // Rebuilding in place replaces the earlier repository.
    build(debs.path(), &a, &[], &[]);
    assert_eq!(tree_bytes(&a), tb);
}

#[test]
fn usage_errors_and_refusals_are_reported() {
    let debs = fixture_debs();
    let out = tempfile::tempdir().unwrap();

    let bad = repo_build(
        &[
            "--debs",
            debs.path().to_str().unwrap(),
            "--out",
            out.path().join("r").to_str().unwrap(),
            "--suite",
            "../up",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid suite name \"../up\""));

    let empty = tempfile::tempdir().unwrap();
    let none = repo_build(
        &[
            "--debs",
            empty.path().to_str().unwrap(),
            "--out",
            out.path().join("r").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("error: no .deb files in"));

    let precious = out.path().join("precious");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), "keep me").unwrap();
    let refused = repo_build(
        &[
            "--debs",
            debs.path().to_str().unwrap(),
            "--out",
            precious.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refusing to replace it"));
    assert!(precious.join("notes.txt").exists());
}

/// A throw-away GNUPGHOME with one passphrase-less signing key; the agent it
/// starts is stopped on drop.
struct TestKey {
    home: tempfile::TempDir,
    fingerprint: String,
}

impl TestKey {
    fn generate() -> TestKey {
        let home = tempfile::Builder::new().prefix("gpg").tempdir().unwrap();
        let gnupghome = home.path().display().to_string();
        run_ok(
            Cmd::new("gpg")
                .args(["--batch", "--gen-key"])
                .env("GNUPGHOME", &gnupghome)
                .stdin(
                    "%no-protection\nKey-Type: EDDSA\nKey-Curve: ed25519\nKey-Usage: sign\n\
Name-Real: pbx-cluster test repository\nName-Email: test@pbx-cluster.invalid\n\
Expire-Date: 0\n%commit\n",
                ),
        );
        let listing = run_ok(
            Cmd::new("gpg")
                .args(["--batch", "--with-colons", "--list-secret-keys"])
                .env("GNUPGHOME", &gnupghome),
        );
        let fingerprint = listing
            .stdout_str()
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .map(|l| l.trim_matches(':').to_string())
            .expect("a fingerprint");
        TestKey { home, fingerprint }
    }

    fn gnupghome(&self) -> String {
        self.home.path().display().to_string()
    }
}

impl Drop for TestKey {
    fn drop(&mut self) {
        let _ = LocalRunner.run(
            &Cmd::new("gpgconf")
                .args(["--kill", "gpg-agent"])
                .env("GNUPGHOME", self.gnupghome()),
        );
    }
}

#[test]
fn signed_repository_verifies_with_gpgv_and_apt_get_update_accepts_it() {
    let key = TestKey::generate();
    let debs = fixture_debs();
    let out = tempfile::tempdir().unwrap();
    let repo = out.path().join("repo");
    let stdout = build(
        debs.path(),
        &repo,
        &["--gpg-key", &key.fingerprint],
        &[("GNUPGHOME", &key.gnupghome())],
    );
    let dists = repo.join("dists/stable");
    let keyring = repo.join("pbx-cluster-archive-keyring.gpg");
    let expected: Vec<String> = [
        dists.join("Release"),
        dists.join("InRelease"),
        dists.join("Release.gpg"),
        keyring.clone(),
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);

    let keyring_arg = keyring.display().to_string();
    run_ok(
        Cmd::new("gpgv")
            .args(["--keyring", keyring_arg.as_str()])
            .arg(dists.join("InRelease").display().to_string()),
    );
    run_ok(
        Cmd::new("gpgv")
            .args(["--keyring", keyring_arg.as_str()])
            .arg(dists.join("Release.gpg").display().to_string())
            .arg(dists.join("Release").display().to_string()),
    );

    // apt-get with private state: the repository is its only source.
    let apt = tempfile::tempdir().unwrap();
    let a = apt.path();
    for d in [
        "etc/sources.list.d",
        "etc/preferences.d",
        "state/lists/partial",
        "cache/archives/partial",
    ] {
        std::fs::create_dir_all(a.join(d)).unwrap();
    }
    std::fs::write(a.join("state/status"), "").unwrap();
    std::fs::write(
        a.join("etc/sources.list.d/pbx.sources"),
        format!(
            "Types: deb\nURIs: file:{}\nSuites: stable\nComponents: main\nSigned-By: {}\n",
            repo.display(),
            keyring.display()
        ),
    )
    .unwrap();
    let opts: Vec<String> = [
        format!("Dir::Etc={}", a.join("etc").display()),
        "Dir::Etc::sourcelist=/dev/null".into(),
        format!(
            "Dir::Etc::sourceparts={}",
            a.join("etc/sources.list.d").display()
        ),
        format!("Dir::State={}", a.join("state").display()),
        format!("Dir::State::status={}", a.join("state/status").display()),
        format!("Dir::Cache={}", a.join("cache").display()),
        "APT::Sandbox::User=root".into(),
        "Debug::NoLocking=1".into(),
        "APT::Architecture=amd64".into(),
    ]
    .into_iter()
    .flat_map(|o| ["-o".to_string(), o])
    .collect();
    let update = run_ok(Cmd::new("apt-get").args(opts.clone()).arg("update"));
    let text = String::from_utf8_lossy(&update.stderr).to_string() + &update.stdout_str();
    assert!(
        !text.contains("NO_PUBKEY") && !text.contains("not signed"),
        "{text}"
    );
    let policy = run_ok(
        Cmd::new("apt-cache")
            .args(opts)
            .args(["policy", "pbx-fixture"]),
    );
    assert!(
        policy.stdout_str().contains("Candidate: 1:0.1.0-1"),
        "{}",
        policy.stdout_str()
    );
}
