//! The node images of one engine in one mode: `pbx-cluster image build` per node.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pbx_cluster::exec::Cmd;

use crate::Error;
use crate::args::Args;
use crate::engines::EngineHome;
use crate::lab::run;
use crate::modes::ModeHome;

/// One image build (mmdebstrap and a cold package cache take most of it).
const BUILD_T: Duration = Duration::from_secs(1200);

/// Files the images get on top of the stack: the lab's fence agents.
fn lab_agents() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lab");
    [
        ("fence_pbxlab", "/usr/sbin/fence_pbxlab"),
        ("pbxlab", "/usr/lib/stonith/plugins/external/pbxlab"),
    ]
    .iter()
    .map(|(src, dest)| format!("{}:{dest}", dir.join(src).display()))
    .collect()
}

/// `pbx-cluster image build` for both nodes into WORK/images/LABEL; it skips
/// itself when its inputs (binary, profile, packages, key) did not change.
pub fn ensure(
    args: &Args,
    work: &Path,
    engine: &dyn EngineHome,
    mode: &dyn ModeHome,
    key: &Path,
) -> Result<PathBuf, Error> {
    let profile = super::profile::write(args, work, engine, mode)?;
    let out = work.join("images").join(mode.label(engine));
    for node in ["node1", "node2"] {
        let t = Instant::now();
        eprintln!(
            "vm-tests: image {} {node} (built only if its inputs changed)",
            engine.name()
        );
        let source = match &args.repo {
            Some(repo) => ["--repo".to_string(), repo.display().to_string()],
            None => ["--binary".to_string(), args.binary.display().to_string()],
        };
        run(Cmd::new(args.binary.display().to_string())
            .args(["--quiet", "image", "build"])
            .arg(profile.display().to_string())
            .args(["--node", node, "--out"])
            .arg(out.display().to_string())
            .args(source)
            .args(
                lab_agents()
                    .iter()
                    .flat_map(|a| ["--add-file".to_string(), a.clone()]),
            )
            .args(["--lab", "--ssh-key"])
            .arg(key.with_extension("pub").display().to_string())
            .arg("--cache-dir")
            .arg(work.join("cache").display().to_string())
            .timeout(BUILD_T))?;
        eprintln!("vm-tests:   {node}: {:.0}s", t.elapsed().as_secs_f64());
    }
    Ok(out)
}
