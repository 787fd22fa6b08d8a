//! Problems found in a profile, each with where it is and how to fix it.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Field path such as `node[1].frontend.address`; empty for whole-file problems.
    pub field: String,
    /// 1-based line and column, when the field is written in the file.
    pub position: Option<(usize, usize)>,
    pub message: String,
    pub fix: String,
}

impl Diagnostic {
    /// A problem with `field`, placed in the file later (by the field's path).
    pub fn new(
        severity: Severity,
        field: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            field: field.to_string(),
            position: None,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// All problems of one profile, errors and warnings alike.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    pub file: PathBuf,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: &Path) -> Self {
        Diagnostics {
            file: file.to_path_buf(),
            items: Vec::new(),
        }
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    pub fn line(&self, d: &Diagnostic) -> String {
        let mut out = self.file.display().to_string();
        if let Some((line, col)) = d.position {
            out.push_str(&format!(":{line}:{col}"));
        }
        let sev = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!(": {sev}: "));
        if !d.field.is_empty() {
            out.push_str(&format!("{}: ", d.field));
        }
        out.push_str(&d.message);
        if !d.fix.is_empty() {
            out.push_str(&format!(" (fix: {})", d.fix));
        }
        one_line(&out)
    }
}

impl fmt::Display for Diagnostics {
    /// One line per problem, errors first, in file order within each severity.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<&Diagnostic> = self.items.iter().collect();
        items.sort_by_key(|d| (d.severity, d.position));
        for d in items {
            writeln!(f, "{}", self.line(d))?;
        }
        Ok(())
    }
}

/// Control characters (a newline in a profile value, ...) shown as escapes, so
/// that every problem stays one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|ch| {
            if ch.is_control() {
                ch.escape_debug().to_string()
            } else {
                ch.to_string()
            }
        })
        .collect()
}

/// Byte offset to 1-based line and column (in characters).
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Finds where a field path (`node[1].frontend.address`) is written in the source.
/// Falls back to the nearest written parent, so a missing key points at its table.
pub fn locate(src: &str, doc: &toml_edit::Document<String>, field: &str) -> Option<(usize, usize)> {
    let mut item: &toml_edit::Item = doc.as_item();
    let mut best = None;
    for seg in field.split('.') {
        let (key, index) = match seg.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        let next = match item.get(key) {
            Some(next) => next,
            None => break,
        };
        item = next;
        if let Some(span) = item.span() {
            best = Some(span.start);
        }
        if let Some(i) = index {
            let next = match item {
                toml_edit::Item::ArrayOfTables(a) => {
                    a.get(i).and_then(|t| t.span()).map(|s| (s, a.get(i)))
                }
                _ => None,
            };
            match (item.get(i), next) {
                (Some(elem), _) => {
                    item = elem;
                    if let Some(span) = item.span() {
                        best = Some(span.start);
                    }
                }
                (None, Some((span, _))) => best = Some(span.start),
                _ => break,
            }
        }
    }
    best.map(|off| line_col(src, off))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 11), (2, 6));
    }

    #[test]
    fn locate_finds_keys_in_tables_and_arrays_of_tables() {
        let src = "[cluster]\nname = \"x\"\n\n[[node]]\nname = \"a\"\n\n[[node]]\nname = \"b\"\nfrontend = { address = \"1.2.3.4\" }\n";
        let doc = toml_edit::Document::parse(src.to_string()).unwrap();
        assert_eq!(locate(src, &doc, "cluster.name"), Some((2, 8)));
        assert_eq!(locate(src, &doc, "node[1].name"), Some((8, 8)));
        assert_eq!(locate(src, &doc, "node[1].frontend.address"), Some((9, 24)));
        // Missing key: falls back to the element that should hold it.
        let (line, _) = locate(src, &doc, "node[0].drbd-disk").unwrap();
        assert!(line == 4 || line == 5, "line {line}");
    }
}
