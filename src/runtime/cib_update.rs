//! Carries a changed /etc/pbx-cluster/cib.xml into the live CIB of a running
//! Pacemaker cluster as a patch, never as a replace: only what differs changes,
//! and only the resources whose definition changed are touched.
//!
//! The target is the live CIB with the sections pbx-cluster owns taken from the
//! rendered file: resources, rsc_defaults, the constraints it renders, and its own
//! cluster properties. Everything else stays as the cluster has it: node entries,
//! status, the properties Pacemaker keeps itself (dc-version, have-watchdog, ...),
//! other property and resource-default sets, constraints placed at run time
//! (DRBD's fence-peer constraint, `crm_resource --move`/`--ban`), and what an admin
//! set on a resource (target-role, is-managed, maintenance). `crm_diff` computes
//! the patch between the two and `cibadmin --patch` applies it; the target's
//! epoch is one above the live one, as a patch must be newer than what it updates.
//! Another write to the CIB in between makes the patch fail: it is computed again.

use std::io::Write;
use std::ops::Range;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use roxmltree::{Document, Node};

use crate::exec::{Cmd, ExecError, Runner};

/// Constraints the cluster places itself, kept across an update: DRBD's
/// fence-peer handler, and `crm_resource --move` / `--ban`.
const RUNTIME_CONSTRAINTS: &[&str] = &["drbd-fence-by-handler-", "cli-prefer-", "cli-ban-"];
/// The property set the rendered CIB writes its properties into.
const BOOTSTRAP_SET: &str = "cib-bootstrap-options";
/// The resource-defaults set the rendered CIB writes.
const DEFAULTS_SET: &str = "rsc-defaults-options";
/// Resource meta attributes an admin sets on a running cluster (`crm_resource
/// --meta`, disable, unmanage, maintenance); an update keeps them.
const ADMIN_META: &[&str] = &["target-role", "is-managed", "maintenance"];
/// Query, diff and patch, again when another write came in between.
const ATTEMPTS: u32 = 3;

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
    #[error("crm_diff failed (exit {code:?}): {stderr}")]
    Diff { code: Option<i32>, stderr: String },
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

    section(
        "resources",
        match child(rc, "resources") {
            Some(r) => with_admin_meta(rendered, r, live, child(lc, "resources")),
            None => "<resources/>".into(),
        },
        &mut edits,
    );

    // The rendered children, then the live ones the cluster or an admin owns.
    let merged = |name: &str, keep: &dyn Fn(&Node) -> bool| {
        let mut out = format!("<{name}>");
        if let Some(r) = child(rc, name) {
            for n in r.children().filter(|n| n.is_element()) {
                out.push_str(text(n));
            }
        }
        if let Some(l) = child(lc, name) {
            for n in l.children().filter(|n| n.is_element() && keep(n)) {
                out.push_str(&live[n.range()]);
            }
        }
        out.push_str(&format!("</{name}>"));
        out
    };
    section(
        "constraints",
        merged("constraints", &is_runtime_constraint),
        &mut edits,
    );
    section(
        "rsc_defaults",
        merged("rsc_defaults", &|n: &Node| {
            n.attribute("id") != Some(DEFAULTS_SET)
        }),
        &mut edits,
    );

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

/// The target's epoch is one above the live one (Pacemaker takes only a newer
/// configuration), and num_updates starts again at 0, as Pacemaker does itself.
fn bump_epoch(text: &str, live: &Document) -> Result<String, CibUpdateError> {
    let no_epoch = || CibUpdateError::NotACib {
        what: "the live CIB",
        message: "no epoch in <cib>".into(),
    };
    let epoch: u64 = live
        .root_element()
        .attribute("epoch")
        .and_then(|e| e.parse().ok())
        .ok_or_else(no_epoch)?;
    let t = doc("the target CIB", text)?;
    let root = t.root_element();
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for attr in root.attributes() {
        let value = match attr.name() {
            "epoch" => (epoch + 1).to_string(),
            "num_updates" => "0".to_string(),
            _ => continue,
        };
        edits.push((attr.range_value(), value));
    }
    if !edits.iter().any(|(_, v)| *v == (epoch + 1).to_string()) {
        return Err(no_epoch());
    }
    let mut out = text.to_string();
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    for (range, value) in edits {
        out.replace_range(range, &value);
    }
    Ok(out)
}

/// The rendered `<resources>` with the admin's meta attributes of each live
/// resource that is still there carried over (in its live set, whose id it keeps).
fn with_admin_meta(rendered: &str, r_res: Node, live: &str, l_res: Option<Node>) -> String {
    let base = r_res.range().start;
    let mut out = rendered[r_res.range()].to_string();
    let Some(l_res) = l_res else { return out };
    let mut inserts: Vec<(usize, String)> = Vec::new();
    for res in l_res.descendants().filter(|n| {
        n.is_element() && ["primitive", "group", "clone", "bundle"].contains(&n.tag_name().name())
    }) {
        let Some(id) = res.attribute("id") else {
            continue;
        };
        let Some(target) = r_res
            .descendants()
            .find(|n| n.has_tag_name(res.tag_name().name()) && n.attribute("id") == Some(id))
        else {
            continue;
        };
        for set in res.children().filter(|c| c.has_tag_name("meta_attributes")) {
            let admin: Vec<Node> = set
                .children()
                .filter(|n| {
                    n.has_tag_name("nvpair")
                        && n.attribute("name").is_some_and(|x| ADMIN_META.contains(&x))
                })
                .collect();
            if admin.is_empty() {
                continue;
            }
            let same = target.children().find(|c| {
                c.has_tag_name("meta_attributes") && c.attribute("id") == set.attribute("id")
            });
            match same {
                Some(tm) => {
                    // Into the rendered set of that id, unless it names the key.
                    let close = tm.range().end - "</meta_attributes>".len();
                    for n in admin {
                        let named = tm.children().any(|c| {
                            c.has_tag_name("nvpair") && c.attribute("name") == n.attribute("name")
                        });
                        if !named && rendered[tm.range()].ends_with("</meta_attributes>") {
                            inserts.push((close - base, live[n.range()].to_string()));
                        }
                    }
                }
                None => {
                    let start = target.range().start;
                    let after_tag = start + rendered[start..].find('>').map_or(0, |i| i + 1);
                    let pairs: String = admin.iter().map(|n| &live[n.range()]).collect();
                    inserts.push((
                        after_tag - base,
                        format!(
                            "<meta_attributes id=\"{}\">{pairs}</meta_attributes>",
                            set.attribute("id").unwrap_or("admin-meta")
                        ),
                    ));
                }
            }
        }
    }
    inserts.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    for (at, text) in inserts {
        out.insert_str(at, &text);
    }
    out
}

/// A private file in a private folder: the CIB holds the fence devices' passwords.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(bytes)
}

/// Reads the live CIB, builds the target and applies the difference as a patch;
/// computed again when another write to the CIB came in between.
pub fn update(runner: &dyn Runner, rendered: &str) -> Result<Updated, CibUpdateError> {
    let mut attempt = 1;
    loop {
        match update_once(runner, rendered) {
            Err(CibUpdateError::Patch { .. }) if attempt < ATTEMPTS => attempt += 1,
            other => return other,
        }
    }
}

fn update_once(runner: &dyn Runner, rendered: &str) -> Result<Updated, CibUpdateError> {
    let live = runner
        .run_ok(&Cmd::new("cibadmin").arg("--query"))?
        .stdout_str();
    let Some(target) = target(&live, rendered)? else {
        return Ok(Updated::Unchanged);
    };
    let dir = tempfile::Builder::new()
        .prefix("pbx-cluster-cib-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()?;
    let (lp, tp, pp) = (
        dir.path().join("live.xml"),
        dir.path().join("target.xml"),
        dir.path().join("patch.xml"),
    );
    write_private(&lp, live.as_bytes())?;
    write_private(&tp, target.as_bytes())?;
    // crm_diff exits 0 when the two are the same, 1 with a patch on stdout.
    let diff = runner.run(
        &Cmd::new("crm_diff")
            .arg("--original")
            .arg(lp.display().to_string())
            .arg("--new")
            .arg(tp.display().to_string()),
    )?;
    match diff.code {
        Some(0) => return Ok(Updated::Unchanged),
        Some(1) => {}
        code => {
            return Err(CibUpdateError::Diff {
                code,
                stderr: crate::exec::stderr_tail(&diff.stderr),
            });
        }
    }
    let patch = diff.stdout_str();
    write_private(&pp, patch.as_bytes())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    const RENDERED: &str = r#"<cib admin_epoch="1" epoch="1" num_updates="0"><configuration><crm_config><cluster_property_set id="cib-bootstrap-options"><nvpair id="o-a" name="a" value="1"/></cluster_property_set></crm_config><nodes/><resources><clone id="c"><meta_attributes id="c-meta"><nvpair id="c-meta-notify" name="notify" value="true"/></meta_attributes><primitive id="p" class="ocf" provider="x" type="y"/></clone></resources><constraints/><rsc_defaults><meta_attributes id="rsc-defaults-options"/></rsc_defaults></configuration><status/></cib>"#;

    #[test]
    fn a_fresh_cluster_gets_everything_with_a_newer_epoch() {
        // A new cluster's CIB: empty sections, no rsc_defaults at all.
        let live = r#"<cib admin_epoch="0" epoch="5" num_updates="17" have-quorum="1"><configuration><crm_config/><nodes><node id="1" uname="a"/></nodes><resources/><constraints/></configuration><status/></cib>"#;
        let t = target(live, RENDERED).unwrap().expect("a difference");
        let d = Document::parse(&t).unwrap();
        let root = d.root_element();
        assert_eq!(root.attribute("epoch"), Some("6"));
        assert_eq!(root.attribute("num_updates"), Some("0"));
        assert_eq!(
            root.attribute("admin_epoch"),
            Some("0"),
            "admin_epoch stays"
        );
        assert!(d.descendants().any(|n| n.attribute("id") == Some("p")));
        assert!(
            d.descendants()
                .any(|n| n.attribute("id") == Some("rsc-defaults-options"))
        );
        assert!(d.descendants().any(|n| n.attribute("uname") == Some("a")));
        // Applied, nothing is left to do.
        assert_eq!(target(&t, RENDERED).unwrap(), None);
    }

    #[test]
    fn an_admins_meta_attribute_joins_the_rendered_set_of_the_same_id() {
        let live = RENDERED.replace(
            r#"<nvpair id="c-meta-notify" name="notify" value="true"/>"#,
            r#"<nvpair id="c-meta-notify" name="notify" value="true"/><nvpair id="c-meta-is-managed" name="is-managed" value="false"/>"#,
        );
        // Only the admin's key differs from the rendered CIB: nothing to do.
        assert_eq!(target(&live, RENDERED).unwrap(), None);
        let changed = RENDERED.replace(r#"name="a" value="1""#, r#"name="a" value="2""#);
        let t = target(&live, &changed).unwrap().expect("a difference");
        let d = Document::parse(&t).unwrap();
        let set = d
            .descendants()
            .find(|n| n.attribute("id") == Some("c-meta"))
            .unwrap();
        let names: Vec<&str> = set.children().filter_map(|n| n.attribute("name")).collect();
        assert_eq!(names, ["notify", "is-managed"], "one set, no duplicate id");
    }
}
