//! Profile loading: TOML text -> `RawProfile` -> validated `Model`.
//!
//! Syntax and type errors come from the TOML parser with their span; relation
//! errors come from `model::validate` with a field path, which is located in the
//! source here so that every problem carries file:line:column.

mod diagnostics;
pub mod raw;

use std::path::Path;

pub use diagnostics::{Diagnostic, Diagnostics, Severity, line_col, locate};

use crate::error::{Error, Result};
use crate::model::{Model, validate};

/// A valid model and the warnings met on the way.
#[derive(Debug)]
pub struct Loaded {
    pub model: Model,
    pub warnings: Diagnostics,
}

/// Reads and validates a profile file.
pub fn load(path: &Path) -> Result<Loaded> {
    let src = std::fs::read_to_string(path).map_err(|e| {
        let mut d = Diagnostics::new(path);
        d.items.push(Diagnostic {
            severity: Severity::Error,
            field: String::new(),
            position: None,
            message: format!("cannot read the profile: {e}"),
            fix: "check the path; examples are in profiles/".into(),
        });
        Error::Invalid(d)
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&src, path, base)
}

/// Validates profile text; `file` names it in messages, `base_dir` resolves
/// relative paths such as `auth.secret-file`.
pub fn parse(src: &str, file: &Path, base_dir: &Path) -> Result<Loaded> {
    let mut diags = Diagnostics::new(file);
    let raw: raw::RawProfile = match toml::from_str(src) {
        Ok(raw) => raw,
        Err(e) => {
            diags.items.push(syntax_diagnostic(src, &e));
            return Err(Error::Invalid(diags));
        }
    };
    let (model, items) = validate::build(&raw, base_dir);
    let doc = toml_edit::Document::parse(src.to_string()).ok();
    diags.items = items
        .into_iter()
        .map(|mut d| {
            if let Some(doc) = &doc {
                d.position = locate(src, doc, &d.field);
            }
            d
        })
        .collect();
    match model {
        Some(model) if !diags.has_errors() => Ok(Loaded {
            model,
            warnings: diags,
        }),
        _ => Err(Error::Invalid(diags)),
    }
}

fn syntax_diagnostic(src: &str, e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim().to_string();
    let fix = if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let options: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        match validate::did_you_mean(name, &options) {
            Some(g) => format!("did you mean `{g}`?"),
            None if !options.is_empty() => {
                format!("remove it; this table takes {}", options.join(", "))
            }
            None => "remove it".into(),
        }
    } else if message.starts_with("missing field") {
        "add the field; the example profile profiles/example.toml shows every key".into()
    } else {
        "see the profile reference in README.md".into()
    };
    Diagnostic {
        severity: Severity::Error,
        field: String::new(),
        position: e.span().map(|s| line_col(src, s.start)),
        message,
        fix,
    }
}
