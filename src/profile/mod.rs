//! Profile loading: TOML text -> `RawProfile` -> validated `Model`.
//!
//! Syntax and type errors come from the TOML parser with their span; relation
//! errors come from `model::validate` with a field path, which is located in the
//! source here so that every problem carries file:line:column.

use std::path::Path;

pub use crate::diagnostics::{Diagnostic, Diagnostics, Severity, line_col, locate};
/// The profile as written; kept under this path for callers.
pub use crate::raw;

use crate::error::{Error, Result};
use crate::model::{Model, validate};

/// A valid model and the warnings met on the way.
#[derive(Debug)]
pub struct Loaded {
    pub model: Model,
    pub warnings: Diagnostics,
}

/// The largest profile read: a real one is a few KiB; anything near this is not a
/// profile, and reading it whole would only cost memory.
pub const MAX_PROFILE_BYTES: u64 = 1024 * 1024;

/// Reads and validates a profile file.
pub fn load(path: &Path) -> Result<Loaded> {
    let whole_file = |position, message: String, fix: &str| {
        let mut d = Diagnostics::new(path);
        d.items.push(Diagnostic {
            severity: Severity::Error,
            field: String::new(),
            position,
            message,
            fix: fix.into(),
        });
        Error::Invalid(d)
    };
    let bytes = read_bounded(path).map_err(|e| match e {
        Read::TooLarge(n) => whole_file(
            None,
            format!(
                "the file has {n} bytes; a profile is at most {MAX_PROFILE_BYTES} bytes (1 MiB)"
            ),
            "point to the cluster profile (TOML); examples are in profiles/",
        ),
        Read::Io(e) => whole_file(
            None,
            format!("cannot read the profile: {e}"),
            "check the path; examples are in profiles/",
        ),
    })?;
    let src = match String::from_utf8(bytes) {
        Ok(src) => src,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
            return Err(whole_file(
                Some(line_col(&prefix, valid)),
                format!("the file is not UTF-8: byte {valid} starts an invalid sequence"),
                "save the profile as UTF-8 text",
            ));
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&src, path, base)
}

enum Read {
    TooLarge(u64),
    Io(std::io::Error),
}

/// The file's bytes, refused when over the limit (checked on the bytes read too:
/// a FIFO or /proc file has no length up front).
fn read_bounded(path: &Path) -> std::result::Result<Vec<u8>, Read> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(Read::Io)?;
    if let Ok(meta) = file.metadata() {
        if meta.is_file() && meta.len() > MAX_PROFILE_BYTES {
            return Err(Read::TooLarge(meta.len()));
        }
    }
    let mut bytes = Vec::new();
    file.take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(Read::Io)?;
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(Read::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The engine and mode homes, as validation asks them.
const HOMES: validate::Homes = validate::Homes {
    fences_through: |e| crate::engine::home(e).fences_through(),
    balances: |m| crate::mode::home(m).balances(),
    needs_fencing: |m| crate::mode::home(m).needs_fencing(),
    storage_rules: |m, s| crate::mode::home(m).storage_rules(s),
};

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
    let (model, mut items) = validate::build(&raw, base_dir, &HOMES);
    let doc = toml_edit::Document::parse(src.to_string()).ok();
    if let (Some(model), Some(doc)) = (&model, &doc) {
        items.extend(ignored_keys(model, doc));
    }
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

/// A warning for each written key that the chosen engine does not read.
fn ignored_keys(model: &Model, doc: &toml_edit::Document<String>) -> Vec<Diagnostic> {
    let home = model.engine_home();
    let mut out = Vec::new();
    for pattern in home.ignored_keys() {
        for field in written(doc.as_item(), pattern, String::new()) {
            out.push(Diagnostic {
                severity: Severity::Warning,
                field,
                position: None,
                message: format!(
                    "engine \"{}\" does not read this key (only the other engine does)",
                    home.name()
                ),
                fix: "remove it, or set cluster.engine to the engine that reads it".into(),
            });
        }
    }
    out
}

/// The paths written in the document that match `pattern` (dotted, `*` for any
/// key of a table).
fn written(item: &toml_edit::Item, pattern: &str, prefix: String) -> Vec<String> {
    let (head, rest) = match pattern.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (pattern, None),
    };
    let join = |k: &str| join_path(&prefix, k);
    let keys: Vec<String> = match (head, item.as_table_like()) {
        ("*", Some(t)) => t.iter().map(|(k, _)| k.to_string()).collect(),
        (k, Some(t)) if t.contains_key(k) => vec![k.to_string()],
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for k in keys {
        let Some(next) = item.get(&k) else { continue };
        match rest {
            None => out.push(join(&k)),
            Some(rest) => out.extend(written(next, rest, join(&k))),
        }
    }
    out
}

fn syntax_diagnostic(src: &str, e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim().to_string();
    let offset = e.span().map(|s| s.start);
    let doc = toml_edit::Document::parse(src.to_string()).ok();
    let field = match (&doc, offset) {
        (Some(doc), Some(off)) => field_at(doc, off).unwrap_or_default(),
        // A document toml_edit refuses too (a duplicate key): the key written at
        // the error, under its table's header.
        (None, Some(off)) => key_in_table_at(src, off).unwrap_or_default(),
        _ => String::new(),
    };
    if let Some((found, expected)) = invalid_type(&message) {
        return Diagnostic {
            severity: Severity::Error,
            field,
            position: offset.map(|o| line_col(src, o)),
            message: format!("expected {expected}, found {found}"),
            fix: type_fix(&found, &expected),
        };
    }
    if message == "duplicate key" && !field.is_empty() {
        return Diagnostic {
            severity: Severity::Error,
            field,
            position: offset.map(|o| line_col(src, o)),
            message: "this key is written twice".into(),
            fix: "keep one of the two lines".into(),
        };
    }
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
        field,
        position: offset.map(|o| line_col(src, o)),
        message,
        fix,
    }
}

/// serde's "invalid type: string \"7801\", expected i64" as (what was found,
/// what is expected), both in words.
fn invalid_type(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("invalid type: ")?;
    let (found, expected) = rest.rsplit_once(", expected ")?;
    let expected = match expected.trim() {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => {
            "an integer (no quotes)"
        }
        "f32" | "f64" => "a number",
        "a boolean" | "bool" => "true or false",
        "a string" => "a string (in quotes)",
        "a sequence" => "an array [ ... ]",
        e if e.starts_with("struct ") || e == "a map" || e.starts_with("a map") => "a table",
        e => e,
    };
    let found = match found.split_once(' ') {
        Some((kind, value)) => format!("the {kind} {value}"),
        None => format!("a {found}"),
    };
    Some((found, expected.to_string()))
}

fn type_fix(found: &str, expected: &str) -> String {
    if expected.starts_with("an integer") && found.starts_with("the string") {
        "write the number without quotes".into()
    } else if expected.starts_with("a string") {
        "put the value in double quotes".into()
    } else {
        format!("write {expected} here; profiles/example.toml shows every key")
    }
}

/// The field path (`node[1].frontend.address`) of the deepest key or value whose
/// span holds `offset`.
fn field_at(doc: &toml_edit::Document<String>, offset: usize) -> Option<String> {
    let mut best = None;
    walk_table(doc.as_table(), "", offset, &mut best);
    best
}

fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn holds(span: Option<std::ops::Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
}

fn walk_table(
    t: &dyn toml_edit::TableLike,
    prefix: &str,
    offset: usize,
    best: &mut Option<String>,
) {
    for (k, item) in t.iter() {
        let path = join_path(prefix, k);
        if holds(t.key(k).and_then(|key| key.span()), offset) {
            *best = Some(path.clone());
        }
        walk_item(item, &path, offset, best);
    }
}

fn walk_item(item: &toml_edit::Item, path: &str, offset: usize, best: &mut Option<String>) {
    match item {
        toml_edit::Item::Value(v) => walk_value(v, path, offset, best),
        toml_edit::Item::Table(t) => {
            if holds(t.span(), offset) {
                *best = Some(path.to_string());
            }
            walk_table(t, path, offset, best);
        }
        toml_edit::Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                if holds(t.span(), offset) {
                    *best = Some(p.clone());
                }
                walk_table(t, &p, offset, best);
            }
        }
        toml_edit::Item::None => {}
    }
}

fn walk_value(v: &toml_edit::Value, path: &str, offset: usize, best: &mut Option<String>) {
    if holds(v.span(), offset) {
        *best = Some(path.to_string());
    }
    match v {
        toml_edit::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                walk_value(v, &format!("{path}[{i}]"), offset, best);
            }
        }
        toml_edit::Value::InlineTable(t) => walk_table(t, path, offset, best),
        _ => {}
    }
}

/// For a file no TOML parser takes: the bare key written at `offset`, prefixed
/// with the last `[table]` header above it.
fn key_in_table_at(src: &str, offset: usize) -> Option<String> {
    let offset = offset.min(src.len());
    let key: String = src[offset..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if key.is_empty() {
        return None;
    }
    let table = src[..offset]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key,
    })
}
