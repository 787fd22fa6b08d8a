//! Writes the man pages and shell completions that the .deb ships, generated
//! from the clap definition so they cannot drift from the real CLI.
//!
//! Usage: `cargo run --release --example gen-docs -- OUT`
//! Output: OUT/man/pbx-cluster*.8.gz (one page per command and subcommand;
//! section 8, as the binary lives in /usr/sbin) and OUT/completions/
//! {pbx-cluster, _pbx-cluster, pbx-cluster.fish} for bash, zsh and fish.
//! The bytes depend only on the CLI and SOURCE_DATE_EPOCH (the pages' date):
//! gzip carries no name or time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;
use flate2::{Compression, GzBuilder};

const BIN: &str = "pbx-cluster";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: gen-docs OUT_DIR");
        return ExitCode::from(2);
    };
    match write_all(Path::new(&out)) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes every page and completion file under `out`, returning their paths.
fn write_all(out: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let man_dir = out.join("man");
    let comp_dir = out.join("completions");
    for dir in [&man_dir, &comp_dir] {
        if dir.exists() {
            // Stale pages of renamed subcommands must not be packaged.
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
    }
    for (name, page) in man_pages()? {
        let path = man_dir.join(format!("{name}.8.gz"));
        std::fs::write(&path, gzip(&page)?)?;
        written.push(path);
    }
    for (file, text) in completions() {
        let path = comp_dir.join(file);
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

/// (page name, roff) for the command and, recursively, each subcommand:
/// `pbx-cluster`, `pbx-cluster-validate`, `pbx-cluster-repo-build`, ...
fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut pages = Vec::new();
    collect(pbx_cluster::cli::Cli::command(), BIN, &mut pages)?;
    Ok(pages)
}

fn collect(
    cmd: clap::Command,
    path: &str,
    pages: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    let name = path.replace(' ', "-");
    // clap names are &'static str without its "string" feature; this short-lived
    // tool leaks a few bytes per page rather than change the shipped binary's clap.
    let static_name: &'static str = name.clone().leak();
    let mut cmd = cmd.name(static_name).bin_name(path.to_string());
    cmd.build();
    let mut roff = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .section("8")
        .manual("pbx-cluster")
        .source(format!("pbx-cluster {}", env!("CARGO_PKG_VERSION")))
        .date(page_date())
        .render(&mut roff)?;
    pages.push((name, roff));
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        collect(sub.clone(), &format!("{path} {}", sub.get_name()), pages)?;
    }
    Ok(())
}

/// SOURCE_DATE_EPOCH as a date, so the page is reproducible (build-debs sets it
/// from the changelog); the Unix epoch when unset.
fn page_date() -> String {
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    pbx_cluster::package::iso_date(epoch)
}

/// (file name, script) as Debian's bash-completion, zsh and fish packages
/// look them up in /usr/share.
fn completions() -> Vec<(&'static str, Vec<u8>)> {
    [
        (Shell::Bash, "pbx-cluster"),
        (Shell::Zsh, "_pbx-cluster"),
        (Shell::Fish, "pbx-cluster.fish"),
    ]
    .into_iter()
    .map(|(shell, file)| {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut pbx_cluster::cli::Cli::command(), BIN, &mut buf);
        (file, buf)
    })
    .collect()
}

/// gzip -9n: no file name, mtime 0 (Debian policy 12.1 wants man pages so).
fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    enc.write_all(bytes)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_gets_a_page_naming_itself() {
        let pages = man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        let cli = pbx_cluster::cli::Cli::command();
        for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = format!("pbx-cluster-{}", sub.get_name());
            assert!(
                names.contains(&name.as_str()),
                "{name} missing in {names:?}"
            );
        }
        assert!(names.contains(&"pbx-cluster-repo-build"), "{names:?}");
        let (_, page) = pages
            .iter()
            .find(|(n, _)| n == "pbx-cluster-repo-build")
            .unwrap();
        let page = String::from_utf8_lossy(page);
        assert!(page.contains(".TH pbx-cluster-repo-build 8 "), "{page}");
        // Title, section, date, source, manual: the date must not be empty,
        // or the source would slide into its place.
        let th = page.lines().find(|l| l.starts_with(".TH")).unwrap();
        assert!(!th.contains("  "), "{th}");
        let date = th
            .trim_start_matches(".TH pbx-cluster-repo-build 8 ")
            .split(' ')
            .next()
            .unwrap();
        assert_eq!(date, page_date(), "{th}");
        assert!(page.contains("gpg\\-key"), "{page}");
    }

    #[test]
    fn completions_know_the_subcommands() {
        for (file, text) in completions() {
            let text = String::from_utf8(text).unwrap();
            assert!(text.contains("validate"), "{file}");
            assert!(text.contains("repo"), "{file}");
        }
    }

    #[test]
    fn output_is_byte_for_byte_repeatable() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let fa = write_all(a.path()).unwrap();
        let fb = write_all(b.path()).unwrap();
        assert_eq!(fa.len(), fb.len());
        for (x, y) in fa.iter().zip(&fb) {
            assert_eq!(
                std::fs::read(x).unwrap(),
                std::fs::read(y).unwrap(),
                "{}",
                x.display()
            );
        }
        // The gzip header carries no time: bytes 4..8 are the mtime (RFC 1952).
        let gz = std::fs::read(&fa[0]).unwrap();
        assert_eq!(&gz[4..8], &[0, 0, 0, 0]);
    }
}
