//! Carries a changed /etc/pbx-cluster/cib.xml into the live CIB of a running
//! Pacemaker cluster as a patch, never as a replace: only what differs changes,
//! and only the resources whose definition changed are touched.
//!
//! The target is the live CIB with the sections pbx-cluster owns taken from the
//! rendered file: resources, rsc_defaults, the constraints it renders, and its own
//! cluster properties. Everything else stays as the cluster has it: node entries,
//! status, the properties Pacemaker keeps itself (dc-version, have-watchdog, ...),
//! and constraints placed at run time (DRBD's fence-peer constraint, `crm_resource
//! --move`/`--ban`). `crm_diff` computes the patch between the two and `cibadmin
//! --patch` applies it; the target's epoch is one above the live one, as a patch
//! must be newer than what it updates.

use std::ops::Range;

use roxmltree::{Document, Node};

use crate::exec::{Cmd, ExecError, Runner};

/// Constraints the cluster places itself, kept across an update: DRBD's
/// fence-peer handler, and `crm_resource --move` / `--ban`.
const RUNTIME_CONSTRAINTS: &[&str] = &["drbd-fence-by-handler-", "cli-prefer-", "cli-ban-"];
/// The property set the rendered CIB writes its properties into.
const BOOTSTRAP_SET: &str = "cib-bootstrap-options";

#[derive(Debug, thiserror::Error)]
pub enum CibUpdateError {
    #[error("{what} is not a CIB: {message}")]
    NotACib { what: &'static str, message: String },
    #[error("writing a temporary file: {0}")]
    Temp(#[from] std::io::Error),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("cibadmin --patch failed (exit {code:?}): {stderr}")]
    Patch { code: Option<i32>, stderr: String },
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated {
    /// The live CIB already had the rendered configuration.
    Unchanged,
    /// The patch was applied; its text is kept for the log.
    Patched { patch: String },
}

fn doc<'a>(what: &'static str, text: &'a str) -> Result<Document<'a>, CibUpdateError> {
    let d = Document::parse(text).map_err(|e| CibUpdateError::NotACib {
        what,
        message: e.to_string(),
    })?;
    if !d.root_element().has_tag_name("cib") {
        return Err(CibUpdateError::NotACib {
            what,
            message: format!("its root is <{}>", d.root_element().tag_name().name()),
        });
    }
    Ok(d)
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name(name))
}

fn configuration<'a, 'i>(
    d: &'a Document<'i>,
    what: &'static str,
) -> Result<Node<'a, 'i>, CibUpdateError> {
    child(d.root_element(), "configuration").ok_or(CibUpdateError::NotACib {
        what,
        message: "no <configuration>".into(),
    })
}

fn is_runtime_constraint(n: &Node) -> bool {
    n.attribute("id")
        .is_some_and(|id| RUNTIME_CONSTRAINTS.iter().any(|p| id.starts_with(p)))
}

/// The live CIB with pbx-cluster's sections taken from `rendered`, its epoch one
/// above the live one. `None` when the live CIB already has them.
pub fn target(live: &str, rendered: &str) -> Result<Option<String>, CibUpdateError> {
    let l = doc("the live CIB", live)?;
    let r = doc("the rendered CIB", rendered)?;
    let lc = configuration(&l, "the live CIB")?;
    let rc = configuration(&r, "the rendered CIB")?;
    let text = |n: Node| &rendered[n.range()];

    // Replacements in the live text: (range, new text).
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let section = |name: &str, new: String, edits: &mut Vec<(Range<usize>, String)>| {
        match child(lc, name) {
            Some(n) => edits.push((n.range(), new)),
            // A section the live CIB lacks goes at the end of <configuration>.
            None => {
                let end = lc.range().end;
                let close = live[..end].rfind("</configuration>").unwrap_or(end);
                edits.push((close..close, new));
            }
        }
    };

    // Properties: ours from the rendered file, the cluster's own kept.
    let ours: Vec<Node> = child(rc, "crm_config")
        .and_then(|c| {
            c.children()
                .find(|s| s.attribute("id") == Some(BOOTSTRAP_SET))
        })
        .map(|s| s.children().filter(|n| n.has_tag_name("nvpair")).collect())
        .unwrap_or_default();
    let our_names: Vec<&str> = ours.iter().filter_map(|n| n.attribute("name")).collect();
    let live_crm = child(lc, "crm_config");
    let mut sets = String::from("<crm_config>");
    sets.push_str(&format!("<cluster_property_set id=\"{BOOTSTRAP_SET}\">"));
    for n in &ours {
        sets.push_str(text(*n));
    }
    let live_sets: Vec<Node> = live_crm
        .map(|c| c.children().filter(|n| n.is_element()).collect())
        .unwrap_or_default();
    for s in &live_sets {
        if s.attribute("id") == Some(BOOTSTRAP_SET) {
            for n in s.children().filter(|n| n.has_tag_name("nvpair")) {
                if !n.attribute("name").is_some_and(|x| our_names.contains(&x)) {
                    sets.push_str(&live[n.range()]);
                }
            }
        }
    }
    sets.push_str("</cluster_property_set>");
    for s in live_sets
        .iter()
        .filter(|s| s.attribute("id") != Some(BOOTSTRAP_SET))
    {
        sets.push_str(&live[s.range()]);
    }
    sets.push_str("</crm_config>");
    section("crm_config", sets, &mut edits);

    let rendered_section = |name: &str| {
        child(rc, name)
            .map(|n| text(n).to_string())
            .unwrap_or_else(|| format!("<{name}/>"))
    };
    section("resources", rendered_section("resources"), &mut edits);

    let mut constraints = String::from("<constraints>");
    if let Some(c) = child(rc, "constraints") {
        for n in c.children().filter(|n| n.is_element()) {
            constraints.push_str(text(n));
        }
    }
    if let Some(c) = child(lc, "constraints") {
        for n in c
            .children()
            .filter(|n| n.is_element() && is_runtime_constraint(n))
        {
            constraints.push_str(&live[n.range()]);
        }
    }
    constraints.push_str("</constraints>");
    section("constraints", constraints, &mut edits);
    section("rsc_defaults", rendered_section("rsc_defaults"), &mut edits);

    let mut out = live.to_string();
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    for (range, new) in edits {
        out.replace_range(range, &new);
    }
    if same_configuration(live, &out)? {
        return Ok(None);
    }
    Ok(Some(bump_epoch(&out, &l)?))
}

/// Whether two CIBs configure the same thing (whitespace between elements and
/// attribute order aside).
fn same_configuration(a: &str, b: &str) -> Result<bool, CibUpdateError> {
    let (da, db) = (doc("the live CIB", a)?, doc("the target CIB", b)?);
    let canon = |d: &Document| {
        let mut s = String::new();
        if let Some(c) = child(d.root_element(), "configuration") {
            canonical(c, &mut s);
        }
        s
    };
    Ok(canon(&da) == canon(&db))
}

fn canonical(n: Node, out: &mut String) {
    if !n.is_element() {
        return;
    }
    let mut attrs: Vec<(&str, &str)> = n.attributes().map(|a| (a.name(), a.value())).collect();
    attrs.sort();
    out.push('<');
    out.push_str(n.tag_name().name());
    for (k, v) in attrs {
        out.push_str(&format!(" {k}={v:?}"));
    }
    out.push('>');
    for c in n.children() {
        canonical(c, out);
    }
    out.push_str("</>");
}

/// The target's epoch is one above the live one: Pacemaker takes only a newer
/// configuration.
fn bump_epoch(text: &str, live: &Document) -> Result<String, CibUpdateError> {
    let root = live.root_element();
    let epoch: u64 =
        root.attribute("epoch")
            .and_then(|e| e.parse().ok())
            .ok_or(CibUpdateError::NotACib {
                what: "the live CIB",
                message: "no epoch".into(),
            })?;
    let t = doc("the target CIB", text)?;
    let start = t.root_element().range().start;
    let tag_end = start + text[start..].find('>').unwrap_or(0);
    let tag = &text[start..tag_end];
    let old = format!("epoch=\"{epoch}\"");
    // The first ` epoch="N"` in the start tag (admin_epoch has no space before it).
    let at = tag
        .match_indices(&old)
        .find(|(i, _)| *i > 0 && tag.as_bytes()[i - 1] == b' ')
        .map(|(i, _)| start + i)
        .ok_or(CibUpdateError::NotACib {
            what: "the live CIB",
            message: "no epoch attribute in <cib>".into(),
        })?;
    let mut out = text.to_string();
    out.replace_range(at..at + old.len(), &format!("epoch=\"{}\"", epoch + 1));
    Ok(out)
}

/// Reads the live CIB, builds the target and applies the difference as a patch.
pub fn update(runner: &dyn Runner, rendered: &str) -> Result<Updated, CibUpdateError> {
    let live = runner
        .run_ok(&Cmd::new("cibadmin").arg("--query"))?
        .stdout_str();
    let Some(target) = target(&live, rendered)? else {
        return Ok(Updated::Unchanged);
    };
    let dir = tempfile::tempdir()?;
    let (lp, tp, pp) = (
        dir.path().join("live.xml"),
        dir.path().join("target.xml"),
        dir.path().join("patch.xml"),
    );
    std::fs::write(&lp, &live)?;
    std::fs::write(&tp, &target)?;
    // crm_diff exits 1 when it found differences: its output is the answer.
    let diff = runner.run(
        &Cmd::new("crm_diff")
            .arg("--original")
            .arg(lp.display().to_string())
            .arg("--new")
            .arg(tp.display().to_string()),
    )?;
    let patch = diff.stdout_str();
    if patch.trim().is_empty() {
        return Ok(Updated::Unchanged);
    }
    std::fs::write(&pp, &patch)?;
    let out = runner.run(
        &Cmd::new("cibadmin")
            .args(["--patch", "--xml-file"])
            .arg(pp.display().to_string()),
    )?;
    if !out.success() {
        return Err(CibUpdateError::Patch {
            code: out.code,
            stderr: crate::exec::stderr_tail(&out.stderr),
        });
    }
    Ok(Updated::Patched { patch })
}
