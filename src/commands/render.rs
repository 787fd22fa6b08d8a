use std::process::ExitCode;

use crate::cli::RenderArgs;
use crate::error::{Error, Result};
use crate::{profile, render};

pub fn run(args: &RenderArgs, quiet: bool) -> Result<ExitCode> {
    let loaded = profile::load(&args.profile)?;
    if !quiet {
        eprint!("{}", loaded.warnings);
    }
    let model = &loaded.model;
    let targets: Vec<(String, std::path::PathBuf)> = match &args.node {
        Some(n) => vec![(n.clone(), args.out.clone())],
        None => model
            .nodes
            .iter()
            .map(|n| (n.name.clone(), args.out.join(&n.name)))
            .collect(),
    };
    // Render everything before writing anything: a failure leaves OUT untouched.
    let sets = targets
        .iter()
        .map(|(n, dir)| Ok((render::render_node(model, n)?, dir)))
        .collect::<Result<Vec<_>>>()?;
    for (set, dir) in sets {
        write_under(&set, dir)?;
        if !quiet {
            eprintln!(
                "{}: {} files for {}",
                dir.display(),
                set.files.len(),
                set.node
            );
        }
        println!("{}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes every file of the set under `root` as under the node's `/`, atomically
/// (the render stage itself stays pure: this command is what writes).
fn write_under(set: &render::FileSet, root: &std::path::Path) -> Result<()> {
    for (path, f) in &set.files {
        let dest = root.join(path.trim_start_matches('/'));
        crate::fsutil::write_atomic(&dest, &f.contents, f.mode)
            .map_err(|e| Error::io("cannot write", &dest, e))?;
    }
    Ok(())
}
