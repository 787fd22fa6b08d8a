//! No profile value may add a line to a rendered file: every string value of the
//! shipped profiles, in turn, gets a newline, a quote, a space, comment characters
//! and the target syntaxes' separators appended. validate either refuses the
//! profile, or every rendered file keeps its line count (and the set of files
//! stays the same). A refusal names the field that was changed.

mod common;

use std::path::Path;

use common::*;
use pbx_cluster::error::Error;

const SPECIALS: &[&str] = &[
    "\n", "\r", "\t", "\"", "'", " ", "#", ";", "\\", "{", "}", "[", "]", "<", ">", "&", ":", ",",
    "=", "$(id)", "`id`", "\\n",
];

/// Every string value in the document: its path for toml_edit and for messages.
fn string_leaves(item: &toml_edit::Item, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match item {
        toml_edit::Item::Value(v) => value_leaves(v, path, out),
        toml_edit::Item::Table(t) => {
            for (k, it) in t.iter() {
                path.push(Seg::Key(k.to_string()));
                string_leaves(it, path, out);
                path.pop();
            }
        }
        toml_edit::Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                for (k, it) in t.iter() {
                    path.push(Seg::Key(k.to_string()));
                    string_leaves(it, path, out);
                    path.pop();
                }
                path.pop();
            }
        }
        toml_edit::Item::None => {}
    }
}

fn value_leaves(v: &toml_edit::Value, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        toml_edit::Value::String(_) => out.push(path.clone()),
        toml_edit::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                value_leaves(v, path, out);
                path.pop();
            }
        }
        toml_edit::Value::InlineTable(t) => {
            for (k, v) in t.iter() {
                path.push(Seg::Key(k.to_string()));
                value_leaves(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

fn show(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Appends `extra` to the string at `path`.
fn append(doc: &mut toml_edit::DocumentMut, path: &[Seg], extra: &str) {
    fn in_value(v: &mut toml_edit::Value, path: &[Seg], extra: &str) {
        match (path.first(), v) {
            (None, toml_edit::Value::String(s)) => {
                let new = format!("{}{extra}", s.value());
                *s = toml_edit::Formatted::new(new);
            }
            (Some(Seg::Index(i)), toml_edit::Value::Array(a)) => {
                in_value(a.get_mut(*i).unwrap(), &path[1..], extra)
            }
            (Some(Seg::Key(k)), toml_edit::Value::InlineTable(t)) => {
                in_value(t.get_mut(k).unwrap(), &path[1..], extra)
            }
            _ => panic!("path does not lead to a string"),
        }
    }
    fn in_item(item: &mut toml_edit::Item, path: &[Seg], extra: &str) {
        match (path.first(), item) {
            (_, toml_edit::Item::Value(v)) => in_value(v, path, extra),
            (Some(Seg::Key(k)), toml_edit::Item::Table(t)) => {
                in_item(t.get_mut(k).unwrap(), &path[1..], extra)
            }
            (Some(Seg::Index(i)), toml_edit::Item::ArrayOfTables(a)) => {
                let t = a.get_mut(*i).unwrap();
                let Some(Seg::Key(k)) = path.get(1) else {
                    panic!("a table of an array holds keys")
                };
                in_item(t.get_mut(k).unwrap(), &path[2..], extra)
            }
            _ => panic!("path does not lead to a string"),
        }
    }
    in_item(doc.as_item_mut(), path, extra);
}

/// Line counts of every text file of both nodes (binary keys left out).
fn line_counts(src: &str, dir: &Path) -> Result<Vec<(String, usize)>, String> {
    let loaded = match pbx_cluster::profile::parse(src, Path::new("p.toml"), dir) {
        Ok(l) => l,
        Err(Error::Invalid(d)) => return Err(d.to_string()),
        Err(e) => panic!("not a validation error: {e}"),
    };
    let mut out = Vec::new();
    for n in &loaded.model.nodes {
        let set = pbx_cluster::render::render_node(&loaded.model, &n.name)
            .unwrap_or_else(|e| panic!("a valid profile must render: {e}"));
        for (path, f) in &set.files {
            if let Ok(text) = std::str::from_utf8(&f.contents) {
                out.push((format!("{}:{path}", n.name), text.lines().count()));
            }
        }
    }
    Ok(out)
}

#[test]
fn no_profile_value_adds_a_line_to_any_rendered_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("profiles/seed.secret"),
        dir.path().join("seed.secret"),
    )
    .unwrap();
    let sources = [
        profile("seed-heartbeat"),
        profile("seed-pacemaker"),
        profile("loadbalanced"),
        profile("example"),
        fixture("heartbeat-unicast-stonith"),
        fixture("drbd9-fenced-pacemaker"),
    ];
    let (mut refused, mut rendered) = (0, 0);
    for src_path in sources {
        let src = std::fs::read_to_string(&src_path).unwrap();
        let base = line_counts(&src, dir.path())
            .unwrap_or_else(|e| panic!("{} is valid: {e}", src_path.display()));
        let doc: toml_edit::DocumentMut = src.parse().unwrap();
        let mut leaves = Vec::new();
        string_leaves(doc.as_item(), &mut Vec::new(), &mut leaves);
        assert!(
            leaves.len() > 20,
            "{}: {} leaves",
            src_path.display(),
            leaves.len()
        );
        for leaf in &leaves {
            for special in SPECIALS {
                let mut changed = doc.clone();
                append(&mut changed, leaf, &format!("{special}x"));
                let text = changed.to_string();
                let field = show(leaf);
                match line_counts(&text, dir.path()) {
                    Err(why) => {
                        refused += 1;
                        // The refusal names what was changed (or the file a
                        // secret-file path no longer finds).
                        assert!(
                            why.contains(&field) || why.contains(field.split('[').next().unwrap()),
                            "{} {field} + {special:?}: refused without naming the field:\n{why}",
                            src_path.display()
                        );
                    }
                    Ok(counts) => {
                        rendered += 1;
                        assert_eq!(
                            counts.iter().map(|(p, _)| p).collect::<Vec<_>>(),
                            base.iter().map(|(p, _)| p).collect::<Vec<_>>(),
                            "{} {field} + {special:?}: the set of files changed",
                            src_path.display()
                        );
                        for ((path, n), (_, b)) in counts.iter().zip(&base) {
                            assert_eq!(
                                n,
                                b,
                                "{} {field} + {special:?}: {path} has {n} lines instead of {b}",
                                src_path.display()
                            );
                        }
                    }
                }
            }
        }
    }
    eprintln!("{refused} changed profiles refused, {rendered} rendered with no line added");
    assert!(refused > 0 && rendered > 0);
}
