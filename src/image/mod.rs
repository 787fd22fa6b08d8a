//! Appliance images: profile x node -> a bootable qcow2, its kernel and initrd, and
//! a JSON manifest, in one output folder.
//!
//! Input: a validated [`Model`], the profile file (copied into the image as
//! /etc/pbx-cluster/cluster.toml) and image-only [`ImageOptions`].
//! Output: OUT/NODE.qcow2, OUT/NODE.vmlinuz, OUT/NODE.initrd.img, OUT/NODE.json.
//! Invariants: nothing is written under those names until the build has
//! succeeded (the work happens in a hidden folder inside OUT, then each artifact
//! is renamed, the manifest last); a build whose input sha256 matches the
//! manifest's, with its artifacts present, is skipped.

pub mod base;
pub mod download;
pub mod files;
pub mod manifest;
pub mod plan;
pub mod spec;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::model::Model;
use crate::output::Reporter;
use files::{ImageFiles, ProfileFiles};
use manifest::{Artifact, Inputs, Manifest, sha256_file, sha256_hex};
use plan::WorkPaths;
pub use spec::{ImageOptions, ImageSpec};

pub struct BuildRequest<'a> {
    pub profile_path: &'a Path,
    pub model: &'a Model,
    pub options: ImageOptions,
    pub out: PathBuf,
    pub cache: PathBuf,
    /// Build even when the manifest says the inputs have not changed.
    pub force: bool,
}

#[derive(Debug)]
pub enum Outcome {
    Built(Box<Manifest>),
    UpToDate(Box<Manifest>),
}

/// What can go wrong while building an image, each with its fix.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{} is not an apt repository: {source}", .path.display())]
    NotARepository {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} holds {count} suites", .dists.display())]
    Suites { dists: PathBuf, count: usize },
    #[error("no kernel in {}", .boot.display())]
    NoKernel { boot: PathBuf },
    #[error("kernel {version} has no initrd at {}", .path.display())]
    NoInitrd { version: String, path: PathBuf },
    #[error("kernel {version} lacks {}", .missing.join(", "))]
    KernelLacksModules {
        version: String,
        missing: Vec<String>,
    },
    #[error("the root has no /usr/{}", .missing.join(", /usr/"))]
    NoBootTools { missing: Vec<&'static str> },
    #[error(transparent)]
    Download(#[from] download::DownloadError),
    #[error(transparent)]
    Base(#[from] base::BaseError),
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
}

impl ImageError {
    pub fn fix(&self) -> String {
        use download::DownloadError as D;
        match self {
            ImageError::NotARepository { .. } => {
                "give the folder made by `pbx-cluster repo build` (a Packages file or dists/)".into()
            }
            ImageError::Suites { .. } => {
                "the image build takes a repository with exactly one suite".into()
            }
            ImageError::NoKernel { .. } => {
                "the kernel package did not install; see mmdebstrap's output above".into()
            }
            ImageError::NoInitrd { .. } => "install initramfs-tools or dracut with the kernel".into(),
            ImageError::KernelLacksModules { .. } => "add a kernel flavour that carries them with --package (e.g. linux-image-extra-virtual on Ubuntu)".into(),
            ImageError::NoBootTools { .. } => {
                "add the package that ships it with --package (e.g. mount, systemd-sysv)".into()
            }
            ImageError::Download(D::Mismatch { .. }) => {
                "a corrupt download is never used: build again, or check that --base-sums belongs to --base-image".into()
            }
            ImageError::Download(D::Io { .. }) => "check the cache folder's space and permissions".into(),
            ImageError::Download(_) => {
                "check --base-image and --base-sums (Debian publishes SHA512SUMS, Ubuntu SHA256SUMS)".into()
            }
            ImageError::Base(e) => e.fix(),
            ImageError::Spec(e) => e.fix(),
        }
    }

    /// A request the user can correct (exit 2), not a failed build.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ImageError::Spec(_) | ImageError::Base(base::BaseError::WrongDistro { .. })
        )
    }
}

pub fn manifest_path(out: &Path, node: &str) -> PathBuf {
    out.join(format!("{node}.json"))
}

fn step_err(step: &str, note: &str, source: Error) -> Error {
    Error::Step {
        step: step.to_string(),
        note: note.to_string(),
        source: Box::new(source),
    }
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error + use<> {
    let path = path.to_path_buf();
    move |e| Error::io(what, path, e)
}

/// The profile and, when it names one, its secret file, as the node will read them.
fn profile_files(profile_path: &Path, model: &Model) -> Result<ProfileFiles> {
    let text = std::fs::read(profile_path).map_err(io("cannot read the profile", profile_path))?;
    let secret = match &model.auth.secret_file {
        None => None,
        Some(file) => {
            let bytes =
                std::fs::read(&file.path).map_err(io("cannot read the secret file", &file.path))?;
            // An absolute path lands at the same place inside the image; a relative
            // one beside the profile (it resolves from the profile's folder).
            let inside = if Path::new(&file.written).is_absolute() {
                format!("../..{}", file.written)
            } else {
                file.written.clone()
            };
            Some((inside, bytes))
        }
    };
    Ok(ProfileFiles {
        profile: text,
        secret,
    })
}

/// How a local repository is laid out: flat, or `dists/SUITE` with components.
pub fn repo_layout(repo: &Path) -> Result<Option<(String, Vec<String>)>> {
    if ["Packages", "Packages.gz", "Packages.xz"]
        .iter()
        .any(|f| repo.join(f).exists())
    {
        return Ok(None);
    }
    let dists = repo.join("dists");
    let suites: Vec<_> = std::fs::read_dir(&dists)
        .map_err(|source| ImageError::NotARepository {
            path: repo.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    let [suite] = suites.as_slice() else {
        return Err(ImageError::Suites {
            dists,
            count: suites.len(),
        }
        .into());
    };
    let release = std::fs::read_to_string(suite.path().join("Release")).unwrap_or_default();
    let comps = release
        .lines()
        .find_map(|l| l.strip_prefix("Components:"))
        .map(|c| c.split_whitespace().map(String::from).collect())
        .unwrap_or_else(|| vec!["main".to_string()]);
    Ok(Some((
        suite.file_name().to_string_lossy().into_owned(),
        comps,
    )))
}

/// sha256 over a repository's index files: a new .deb means a new index.
fn repo_index_sha256(repo: &Path) -> Result<String> {
    let mut entries = Vec::new();
    let mut stack = vec![repo.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(io("cannot read the repository", &dir))? {
            let e = e.map_err(io("cannot read the repository", &dir))?;
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if name.starts_with("Packages") || name.ends_with(".deb") || name == "Release" {
                let rel = path
                    .strip_prefix(repo)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                entries.push(format!(
                    "{rel} {}",
                    sha256_file(&path).map_err(io("cannot read", &path))?
                ));
            }
        }
    }
    entries.sort();
    Ok(sha256_hex(entries.join("\n").as_bytes()))
}

fn inputs(
    spec: &ImageSpec,
    profile: &ProfileFiles,
    files: &ImageFiles,
    setup: &ImageFiles,
    base: Option<&(String, download::Listed)>,
) -> Result<Inputs> {
    let source = match &spec.install {
        spec::Install::Binary(b) => {
            format!(
                "binary:{}",
                sha256_file(b).map_err(io("cannot read the binary", b))?
            )
        }
        spec::Install::Repo(r) => format!("repo:{}", repo_index_sha256(r)?),
    };
    let mut all: Vec<(String, String)> = setup
        .iter()
        .chain(files.iter())
        .map(|(p, f)| (format!("{p} {:o}", f.mode), sha256_hex(&f.bytes)))
        .collect();
    all.sort();
    Ok(Inputs {
        pbx_cluster_version: env!("CARGO_PKG_VERSION").to_string(),
        node: spec.node.name.clone(),
        distro: spec.distro.name().to_string(),
        profile_sha256: sha256_hex(&profile.profile),
        secret_sha256: profile.secret.as_ref().map(|(_, b)| sha256_hex(b)),
        mirror: spec.mirror.clone(),
        suite: spec.suite.clone(),
        components: spec.components.clone(),
        extra_sources: spec.extra_sources.clone(),
        packages: spec.packages.clone(),
        pbx_cluster_source: source,
        lab: spec.lab,
        ssh_key_sha256: spec.ssh_key.as_ref().map(|k| sha256_hex(k.as_bytes())),
        disk_size_mib: spec.disk_size_mib,
        files: all,
        base_image: base.map(|(url, l)| manifest::BaseInput {
            url: url.clone(),
            algo: l.algo.clone(),
            digest: l.hex.clone(),
        }),
    })
}

/// Writes a file set under `dir` with its modes; folders are 0755 (they become
/// folders of the image's root: a 0700 staging root would lock out services).
fn stage(dir: &Path, set: &ImageFiles) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(io("cannot chmod", dir))?;
    for (rel, entry) in set {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
            if rel.starts_with("root/.ssh/") {
                std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700))
                    .map_err(io("cannot chmod", parent))?;
            }
        }
        std::fs::write(&path, &entry.bytes).map_err(io("cannot write", &path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(entry.mode))
            .map_err(io("cannot chmod", &path))?;
    }
    Ok(())
}

/// The newest kernel and its initrd in the root's /boot.
fn find_kernel(root: &Path) -> Result<(PathBuf, PathBuf, String)> {
    let boot = root.join("boot");
    let mut versions: Vec<String> = std::fs::read_dir(&boot)
        .map_err(io("cannot read", &boot))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix("vmlinuz-")
                .map(String::from)
        })
        .collect();
    versions.sort();
    let Some(v) = versions.pop() else {
        return Err(ImageError::NoKernel { boot }.into());
    };
    let initrd = boot.join(format!("initrd.img-{v}"));
    if !initrd.exists() {
        return Err(ImageError::NoInitrd {
            version: v,
            path: initrd,
        }
        .into());
    }
    Ok((boot.join(format!("vmlinuz-{v}")), initrd, v))
}

/// The cluster needs drbd.ko and ip_vs.ko; a kernel flavour without them is useless.
pub fn check_modules(root: &Path, version: &str) -> Result<()> {
    let dirs = [
        root.join("usr/lib/modules").join(version),
        root.join("lib/modules").join(version),
    ];
    let mut missing = Vec::new();
    for module in ["drbd", "ip_vs"] {
        let found = dirs.iter().any(|d| tree_has_module(d, module));
        if !found {
            missing.push(format!("{module}.ko"));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ImageError::KernelLacksModules {
            version: version.to_string(),
            missing,
        }
        .into())
    }
}

/// Programs systemd needs to boot the node; a package set that changed upstream
/// (sid's util-linux stopped pulling in `mount`) must fail the build, not the boot.
pub fn check_boot_tools(root: &Path) -> Result<()> {
    let missing: Vec<&str> = ["sbin/init", "bin/mount", "bin/umount"]
        .into_iter()
        .filter(|p| !root.join("usr").join(p).exists() && !root.join(p).exists())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ImageError::NoBootTools { missing }.into())
    }
}

fn tree_has_module(dir: &Path, module: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(|e| e.ok()).any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() {
            tree_has_module(&e.path(), module)
        } else {
            name == format!("{module}.ko") || name.starts_with(&format!("{module}.ko."))
        }
    })
}

fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// The root from a published image: download and verify it, unpack its root
/// partition, check that it is the profile's distro, install the stack into it.
/// A failure names its step; `note` says what the failed build left.
#[allow(clippy::too_many_arguments)]
fn base_root(
    spec: &ImageSpec,
    b: &spec::BaseImage,
    listed: &download::Listed,
    w: &WorkPaths,
    cache: &Path,
    repo_line: Option<&str>,
    runner: &dyn Runner,
    progress: &Reporter,
    note: &str,
) -> Result<()> {
    let fail = |step: &'static str| move |e: Error| step_err(step, note, e);
    let image = download::fetch_verified(&b.url, listed, &cache.join("base-images"), progress)
        .map_err(|e| fail("base image (download)")(ImageError::from(e).into()))?;
    let s = progress.step(&format!(
        "[1/3] root filesystem: {} from {} ({} packages requested)",
        spec.distro.name(),
        image.file_name().unwrap_or_default().to_string_lossy(),
        spec.packages.len()
    ));
    let step = "base image (unpack)";
    runner
        .run_ok(&base::to_raw(&image, &w.base_raw))
        .map_err(|e| fail(step)(e.into()))?;
    let table = runner
        .run_ok(&base::partitions(&w.base_raw))
        .map_err(|e| fail(step)(e.into()))?;
    let layout =
        base::layout(&table.stdout_str()).map_err(|e| fail(step)(ImageError::from(e).into()))?;
    for dir in [&w.root, &w.mnt] {
        std::fs::create_dir_all(dir).map_err(|e| fail(step)(Error::io("cannot create", dir, e)))?;
    }
    runner
        .run_ok(&base::unpack(&w.base_raw, &layout, w))
        .map_err(|e| fail(step)(e.into()))?;
    // The raw copy is as large as the image's disk; the root is all we need now.
    let _ = std::fs::remove_file(&w.base_raw);
    let distro_step = "base image (distro)";
    let (id, version) =
        base::os_release(&w.root).map_err(|e| fail(distro_step)(ImageError::from(e).into()))?;
    base::check_distro(spec.distro, &id, version.as_deref())
        .map_err(|e| fail(distro_step)(ImageError::from(e).into()))?;
    runner
        .run_ok(&base::customize(spec, w, repo_line))
        .map_err(|e| fail("root filesystem (install into the base image)")(e.into()))?;
    s.done();
    Ok(())
}

/// Everything an image is built from, gathered before anything is written.
struct Prepared {
    spec: ImageSpec,
    node: String,
    files: ImageFiles,
    setup: ImageFiles,
    repo_line: Option<String>,
    /// The base image's address and its published digest.
    base: Option<(String, download::Listed)>,
    inputs: Inputs,
    input_sha256: String,
}

/// What the finished root holds.
struct RootFacts {
    kernel: PathBuf,
    initrd: PathBuf,
    version: String,
    packages: Vec<manifest::Package>,
    rootfs_bytes: u64,
}

/// Builds the image, or finds it up to date.
pub fn build(req: &BuildRequest, runner: &dyn Runner, progress: &Reporter) -> Result<Outcome> {
    let started = Instant::now();
    let p = prepare(req)?;
    let node = p.node.clone();
    let manifest_file = manifest_path(&req.out, &node);
    if !req.force
        && let Some(m) = Manifest::read(&manifest_file)
        && m.is_current(&p.input_sha256, &req.out)
    {
        progress.line(&format!(
            "{node}: inputs unchanged (sha256 {}), image is up to date",
            &p.input_sha256[..12]
        ));
        return Ok(Outcome::UpToDate(Box::new(m)));
    }

    std::fs::create_dir_all(&req.out).map_err(io("cannot create the output folder", &req.out))?;
    std::fs::create_dir_all(&req.cache).map_err(io("cannot create the cache", &req.cache))?;
    let work = tempfile::Builder::new()
        .prefix(&format!(".{node}.build-"))
        .tempdir_in(&req.out)
        .map_err(io("cannot create a work folder in", &req.out))?;
    let w = WorkPaths::new(work.path(), &req.cache, &node);
    let note = "nothing was written under the output names; the partial work folder is removed";
    stage_inputs(&p, &w, note)?;
    root_filesystem(&p, &w, req, runner, progress, note)?;
    let root = check_root(&w, note)?;
    let disk_bytes = make_disk(&p.spec, &w, &root, runner, progress, note)?;
    let s = progress.step("[3/3] artifacts and manifest");
    let manifest = publish(p, req, work.path(), &w, root, disk_bytes, started, note)?;
    s.done();
    Ok(Outcome::Built(Box::new(manifest)))
}

fn prepare(req: &BuildRequest) -> Result<Prepared> {
    let spec = ImageSpec::resolve(req.model, &req.options).map_err(ImageError::from)?;
    let node = spec.node.name.clone();
    let profile = profile_files(req.profile_path, req.model)?;
    let mut files = files::render(&spec, &profile);
    for f in &spec.add_files {
        let rel = f.dest.trim_start_matches('/').to_string();
        if files.contains_key(&rel) {
            return Err(Error::usage(
                format!(
                    "--add-file {}: the image build writes this file itself",
                    f.dest
                ),
                "choose another destination; change this file through the profile or flags",
            ));
        }
        files.insert(
            rel,
            files::FileEntry {
                bytes: f.bytes.clone(),
                mode: f.mode,
            },
        );
    }
    let repo_line = match &spec.install {
        spec::Install::Repo(r) => Some(match repo_layout(r)? {
            None => plan::repo_source_line(None),
            Some((suite, comps)) => plan::repo_source_line(Some((&suite, &comps))),
        }),
        spec::Install::Binary(_) => None,
    };
    let setup = files::setup(&spec);
    // A base image is known by the digest its publisher lists: an unchanged image
    // is recognised without downloading it.
    let base = match &spec.base {
        Some(b) => Some((
            b.url.clone(),
            download::expected_digest(&b.url, &b.sums_url).map_err(|e| {
                step_err(
                    "base image (checksum list)",
                    "nothing was built",
                    ImageError::from(e).into(),
                )
            })?,
        )),
        None => None,
    };
    let inputs = inputs(&spec, &profile, &files, &setup, base.as_ref())?;
    let input_sha256 = inputs.sha256();
    Ok(Prepared {
        spec,
        node,
        files,
        setup,
        repo_line,
        base,
        inputs,
        input_sha256,
    })
}

fn stage_inputs(p: &Prepared, w: &WorkPaths, note: &str) -> Result<()> {
    let (spec, setup, files) = (&p.spec, &p.setup, &p.files);
    stage(&w.setup, setup).map_err(|e| step_err("stage files", note, e))?;
    stage(&w.files, files).map_err(|e| step_err("stage files", note, e))?;
    if let spec::Install::Binary(b) = &spec.install {
        let dest = w.files.join("usr/sbin/pbx-cluster");
        std::fs::create_dir_all(dest.parent().expect("has parent"))
            .and_then(|_| std::fs::copy(b, &dest))
            .and_then(|_| std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)))
            .map_err(|e| {
                step_err(
                    "stage files",
                    note,
                    Error::io("cannot copy the binary", b, e),
                )
            })?;
    }

    Ok(())
}

/// [1/3]: the root from a base image or from mmdebstrap.
fn root_filesystem(
    p: &Prepared,
    w: &WorkPaths,
    req: &BuildRequest,
    runner: &dyn Runner,
    progress: &Reporter,
    note: &str,
) -> Result<()> {
    let (spec, repo_line) = (&p.spec, &p.repo_line);
    match (&spec.base, &p.base) {
        (Some(b), Some((_, listed))) => base_root(
            spec,
            b,
            listed,
            w,
            &req.cache,
            repo_line.as_deref(),
            runner,
            progress,
            note,
        )?,
        _ => {
            let s = progress.step(&format!(
                "[1/3] root filesystem: {} {} with {} packages (mmdebstrap)",
                spec.distro.name(),
                spec.suite,
                spec.packages.len()
            ));
            runner
                .run_ok(&plan::mmdebstrap(spec, w, repo_line.as_deref()))
                .map_err(|e| step_err("root filesystem (mmdebstrap)", note, e.into()))?;
            s.done();
        }
    }
    Ok(())
}

fn check_root(w: &WorkPaths, note: &str) -> Result<RootFacts> {
    let (kernel, initrd, version) =
        find_kernel(&w.root).map_err(|e| step_err("kernel check", note, e))?;
    check_modules(&w.root, &version).map_err(|e| step_err("kernel check", note, e))?;
    check_boot_tools(&w.root).map_err(|e| step_err("root check", note, e))?;
    let status_path = w.root.join("var/lib/dpkg/status");
    let status = std::fs::read_to_string(&status_path).map_err(|e| {
        step_err(
            "package list",
            note,
            Error::io("cannot read", &status_path, e),
        )
    })?;
    let packages = manifest::installed_packages(&status);
    let rootfs_bytes = tree_bytes(&w.root);

    Ok(RootFacts {
        kernel,
        initrd,
        version,
        packages,
        rootfs_bytes,
    })
}

/// [2/3]: the disk with its boot partition; returns its size.
fn make_disk(
    spec: &ImageSpec,
    w: &WorkPaths,
    root: &RootFacts,
    runner: &dyn Runner,
    progress: &Reporter,
    note: &str,
) -> Result<u64> {
    let (kernel, initrd, version) = (&root.kernel, &root.initrd, &root.version);
    let s = progress.step(&format!(
        "[2/3] disk: ext4 root, FAT boot with syslinux, kernel {version}"
    ));
    std::fs::write(&w.syslinux_cfg, files::syslinux_cfg(&spec.kernel_cmdline()))
        .map_err(|e| step_err("disk", note, Error::io("cannot write", &w.syslinux_cfg, e)))?;
    let disk_bytes = spec.disk_size_mib * 1024 * 1024;
    std::fs::File::create(&w.disk_raw)
        .and_then(|f| f.set_len(disk_bytes))
        .map_err(|e| step_err("disk", note, Error::io("cannot create", &w.disk_raw, e)))?;
    for cmd in plan::disk(spec, w, kernel, initrd) {
        let step = format!("disk ({})", cmd.program);
        runner
            .run_ok(&cmd)
            .map_err(|e| step_err(&step, note, e.into()))?;
    }
    s.done();

    Ok(disk_bytes)
}

/// [3/3]: artifacts and manifest renamed into place, the manifest last.
#[allow(clippy::too_many_arguments)]
fn publish(
    p: Prepared,
    req: &BuildRequest,
    work: &Path,
    w: &WorkPaths,
    root: RootFacts,
    disk_bytes: u64,
    started: Instant,
    note: &str,
) -> Result<Manifest> {
    let (node, spec) = (&p.node, &p.spec);
    let RootFacts {
        kernel,
        initrd,
        packages,
        rootfs_bytes,
        ..
    } = root;
    let manifest_file = manifest_path(&req.out, node);
    let names = [
        (w.qcow2.clone(), format!("{node}.qcow2")),
        (kernel.clone(), format!("{node}.vmlinuz")),
        (initrd.clone(), format!("{node}.initrd.img")),
    ];
    let mut artifacts = Vec::new();
    for (src, name) in &names {
        // Kernel and initrd are copied next to the qcow2 first: rename needs one filesystem.
        let staged = work.join(format!("out-{name}"));
        std::fs::copy(src, &staged)
            .map_err(|e| step_err("artifacts", note, Error::io("cannot copy", src, e)))?;
        let bytes = std::fs::metadata(&staged).map(|m| m.len()).unwrap_or(0);
        artifacts.push((staged, name.clone(), bytes));
    }
    let art = |i: usize| Artifact {
        file: artifacts[i].1.clone(),
        bytes: artifacts[i].2,
    };
    let manifest = Manifest {
        input_sha256: p.input_sha256.clone(),
        inputs: p.inputs,
        built_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        build_seconds: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        kernel_cmdline: spec.kernel_cmdline(),
        disk: art(0),
        disk_virtual_bytes: disk_bytes,
        kernel: art(1),
        initrd: art(2),
        rootfs_bytes,
        packages,
    };
    let staged_manifest = work.join("out-manifest.json");
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    std::fs::write(&staged_manifest, json).map_err(|e| {
        step_err(
            "artifacts",
            note,
            Error::io("cannot write", &staged_manifest, e),
        )
    })?;
    // The old manifest goes first: from here until the new one lands, no manifest
    // claims the artifacts, so an interrupted swap is rebuilt, never trusted.
    let _ = std::fs::remove_file(&manifest_file);
    for (staged, name, _) in &artifacts {
        let dest = req.out.join(name);
        std::fs::rename(staged, &dest)
            .map_err(|e| step_err("artifacts", "", Error::io("cannot rename into", &dest, e)))?;
    }
    std::fs::rename(&staged_manifest, &manifest_file).map_err(|e| {
        step_err(
            "artifacts",
            "",
            Error::io("cannot rename into", &manifest_file, e),
        )
    })?;
    Ok(manifest)
}

#[cfg(test)]
mod tests;
