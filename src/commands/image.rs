use std::process::ExitCode;

use crate::cli::{ImageBuildArgs, ImageCommand};
use crate::error::{Error, Result};
use crate::exec::LocalRunner;
use crate::image::{self, BuildRequest, ImageOptions, Outcome, plan};
use crate::output::Reporter;
use crate::profile;

pub fn run(cmd: &ImageCommand, quiet: bool) -> Result<ExitCode> {
    match cmd {
        ImageCommand::Build(args) => build(args, quiet),
    }
}

/// The build runs mmdebstrap in root mode and keeps file owners through
/// `mkfs.ext4 -d`; both need root. Missing tools are named with their package.
fn preflight(from_base: bool) -> Result<()> {
    // /proc/self/status tells the effective uid without unsafe libc calls.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap_or("0");
    if euid != "0" {
        return Err(Error::usage(
            "image build needs root (mmdebstrap --mode=root, file owners kept by mkfs.ext4 -d)",
            "run it with sudo",
        ));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let mut missing: Vec<&str> = plan::TOOLS
        .iter()
        .chain(if from_base { plan::BASE_TOOLS } else { &[] })
        // A base image replaces mmdebstrap.
        .filter(|(prog, _)| !(from_base && *prog == "mmdebstrap"))
        .filter(|(prog, _)| {
            !std::env::split_paths(&path)
                .chain(["/usr/sbin".into(), "/sbin".into()])
                .any(|d| d.join(prog).exists())
        })
        .map(|(_, pkg)| *pkg)
        .collect();
    if !std::path::Path::new(plan::MBR_BIN).exists() {
        missing.push("syslinux-common");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        missing.dedup();
        Err(Error::usage(
            "tools for the image build are missing",
            format!("apt-get install {}", missing.join(" ")),
        ))
    }
}

fn build(args: &ImageBuildArgs, quiet: bool) -> Result<ExitCode> {
    let loaded = profile::load(&args.profile)?;
    preflight(args.base_image.is_some())?;
    let ssh_key = match &args.ssh_key {
        Some(p) => Some(
            std::fs::read_to_string(p).map_err(|e| Error::io("cannot read the ssh key", p, e))?,
        ),
        None => None,
    };
    let options = ImageOptions {
        node: args.node.clone(),
        mirror: args.mirror.clone(),
        suite: args.suite.clone(),
        components: args.components.clone(),
        extra_sources: if args.no_extra_sources {
            Some(Vec::new())
        } else if args.extra_sources.is_empty() {
            None
        } else {
            Some(args.extra_sources.clone())
        },
        packages: args.packages.clone(),
        meta_package: args.meta_package.clone(),
        repo: args.repo.clone(),
        binary: args.binary.clone(),
        lab: args.lab,
        ssh_key,
        disk_size_mib: args.disk_size,
        base_image: args.base_image.clone(),
        base_sums: args.base_sums.clone(),
        add_files: args
            .add_files
            .iter()
            .map(|a| added_file(a))
            .collect::<Result<_>>()?,
    };
    let req = BuildRequest {
        profile_path: &args.profile,
        model: &loaded.model,
        options,
        out: args.out.clone(),
        cache: args.cache_dir.clone(),
        force: args.force,
    };
    let progress = Reporter::new(quiet);
    let outcome = image::build(&req, &LocalRunner, &progress)?;
    let m = match &outcome {
        Outcome::Built(m) | Outcome::UpToDate(m) => m,
    };
    if let Outcome::Built(m) = &outcome {
        progress.line(&format!(
            "built in {:.1}s: disk {} MiB on disk ({} MiB virtual), {} packages",
            m.build_seconds,
            m.disk.bytes / (1024 * 1024),
            m.disk_virtual_bytes / (1024 * 1024),
            m.packages.len()
        ));
    }
    // Artifacts on stdout, everything else on stderr.
    for a in [&m.disk, &m.kernel, &m.initrd] {
        println!("{}", args.out.join(&a.file).display());
    }
    println!("{}", image::manifest_path(&args.out, &args.node).display());
    Ok(ExitCode::SUCCESS)
}

/// `SRC:DEST` -> the file's bytes for DEST, mode by SRC's executable bit.
fn added_file(arg: &str) -> Result<image::spec::AddedFile> {
    let usage = |what: &str| {
        Error::usage(
            format!("--add-file {arg}: {what}"),
            "write it as SRC:DEST, e.g. --add-file ./fence_site:/usr/sbin/fence_site",
        )
    };
    let (src, dest) = arg.rsplit_once(':').ok_or_else(|| usage("no DEST"))?;
    let dest_path = std::path::Path::new(dest);
    if !dest_path.is_absolute()
        || dest.ends_with('/')
        || dest_path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(usage("DEST must be an absolute file path without .."));
    }
    let src = std::path::Path::new(src);
    let bytes = std::fs::read(src).map_err(|e| Error::io("cannot read", src, e))?;
    let exec = std::fs::metadata(src)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
        .unwrap_or(false);
    Ok(image::spec::AddedFile {
        dest: dest.to_string(),
        bytes,
        mode: if exec { 0o755 } else { 0o644 },
    })
}
