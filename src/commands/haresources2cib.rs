use std::process::ExitCode;

use crate::cli::Haresources2cibArgs;
use crate::error::{Error, Result};
use crate::render::{haresources, templates};

pub fn run(args: &Haresources2cibArgs) -> Result<ExitCode> {
    let src = std::fs::read_to_string(&args.haresources)
        .map_err(|e| Error::io("cannot read", &args.haresources, e))?;
    let name = args.haresources.display().to_string();
    let cib = haresources::convert(
        &src,
        &name,
        haresources::HaCfOptions {
            auto_failback: !args.no_auto_failback,
        },
    )
    .map_err(|e| Error::usage(format!("{}:{}: {}", e.file, e.line, e.message), e.fix))?;
    let xml = templates::environment()
        .get_template("pacemaker/cib.xml.j2")
        .and_then(|t| t.render(minijinja::context! { cib => minijinja::value::Serde(&cib) }))
        .map_err(|e| Error::Template {
            template: "pacemaker/cib.xml.j2".into(),
            message: format!("{e:#}"),
        })?;
    match &args.out {
        Some(path) => crate::fsutil::write_atomic(path, xml.as_bytes(), 0o644)
            .map_err(|e| Error::io("cannot write", path, e))?,
        None => print!("{xml}"),
    }
    Ok(ExitCode::SUCCESS)
}
