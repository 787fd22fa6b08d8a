//! Pacemaker's view, from `crm_mon -1 --output-as=xml` (crm_mon(8), API 2.x) and
//! the resources section of the CIB (`cibadmin --query --scope resources`).
//!
//! Both role spellings are read: Pacemaker 2.1+ says Promoted/Unpromoted, older
//! releases Master/Slave.

use roxmltree::{Document, Node};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PcmkNode {
    pub name: String,
    pub online: bool,
    pub standby: bool,
    pub maintenance: bool,
    pub unclean: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PcmkResource {
    pub id: String,
    pub agent: String,
    pub role: String,
    pub active: bool,
    pub failed: bool,
    pub managed: bool,
    pub blocked: bool,
    pub nodes: Vec<String>,
    /// The group it belongs to (a group inside a clone keeps its group).
    pub group: Option<String>,
    /// The clone (or promotable clone) it is an instance of.
    pub clone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PcmkFailure {
    pub op: String,
    pub node: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PcmkState {
    pub dc: Option<String>,
    /// `None` when crm_mon does not say (no DC, e.g. an offline CIB).
    pub quorum: Option<bool>,
    pub maintenance_mode: bool,
    pub nodes: Vec<PcmkNode>,
    pub resources: Vec<PcmkResource>,
    pub failures: Vec<PcmkFailure>,
}

/// crm_mon could not reach the cluster: its own status code and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotConnected {
    pub code: i64,
    pub message: String,
}

fn attr_bool(node: Node<'_, '_>, name: &str) -> bool {
    node.attribute(name) == Some("true")
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name(name))
}

/// Parses crm_mon's XML. `Ok(Err(..))` is a well-formed "not connected" answer.
pub fn parse_crm_mon(xml: &str) -> Result<Result<PcmkState, NotConnected>, String> {
    let doc = Document::parse(xml).map_err(|e| format!("crm_mon XML: {e}"))?;
    let root = doc.root_element();
    if !root.has_tag_name("pacemaker-result") && !root.has_tag_name("crm_mon") {
        return Err(format!(
            "crm_mon XML: unexpected root element <{}>",
            root.tag_name().name()
        ));
    }
    let status = child(root, "status");
    let code = status
        .and_then(|s| s.attribute("code"))
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap_or(0);
    let summary = child(root, "summary");
    if code != 0 || summary.is_none() {
        let mut message = status
            .and_then(|s| s.attribute("message"))
            .unwrap_or("no summary")
            .to_string();
        if let Some(errors) = status.and_then(|s| child(s, "errors")) {
            for e in errors.children().filter(|c| c.has_tag_name("error")) {
                message.push_str("; ");
                message.push_str(e.text().unwrap_or("").trim());
            }
        }
        return Ok(Err(NotConnected { code, message }));
    }
    let summary = summary.expect("checked above");
    let dc_node = child(summary, "current_dc");
    let dc = dc_node
        .filter(|d| attr_bool(*d, "present"))
        .and_then(|d| d.attribute("name"))
        .map(str::to_string);
    let quorum = dc_node
        .and_then(|d| d.attribute("with_quorum"))
        .map(|q| q == "true");
    let maintenance_mode =
        child(summary, "cluster_options").is_some_and(|o| attr_bool(o, "maintenance-mode"));

    let nodes = child(root, "nodes")
        .map(|ns| {
            ns.children()
                .filter(|n| n.has_tag_name("node"))
                .map(|n| PcmkNode {
                    name: n.attribute("name").unwrap_or("?").to_string(),
                    online: attr_bool(n, "online"),
                    standby: attr_bool(n, "standby"),
                    maintenance: attr_bool(n, "maintenance"),
                    unclean: attr_bool(n, "unclean"),
                })
                .collect()
        })
        .unwrap_or_default();

    let mut resources = Vec::new();
    if let Some(rs) = child(root, "resources") {
        collect_resources(rs, None, None, &mut resources);
    }

    let failures = child(root, "failures")
        .map(|fs| {
            fs.children()
                .filter(|f| f.has_tag_name("failure"))
                .map(|f| PcmkFailure {
                    op: f.attribute("op_key").unwrap_or("?").to_string(),
                    node: f.attribute("node").unwrap_or("?").to_string(),
                    status: f.attribute("exitstatus").unwrap_or("?").to_string(),
                })
                .collect()
        })
        .unwrap_or_default();

    Ok(Ok(PcmkState {
        dc,
        quorum,
        maintenance_mode,
        nodes,
        resources,
        failures,
    }))
}

fn collect_resources(
    parent: Node<'_, '_>,
    group: Option<&str>,
    clone: Option<&str>,
    out: &mut Vec<PcmkResource>,
) {
    for n in parent.children().filter(|n| n.is_element()) {
        match n.tag_name().name() {
            "resource" => out.push(PcmkResource {
                id: n.attribute("id").unwrap_or("?").to_string(),
                agent: n.attribute("resource_agent").unwrap_or("?").to_string(),
                role: normalize_role(n.attribute("role").unwrap_or("?")),
                active: attr_bool(n, "active"),
                failed: attr_bool(n, "failed"),
                managed: n.attribute("managed") != Some("false"),
                blocked: attr_bool(n, "blocked"),
                nodes: n
                    .children()
                    .filter(|c| c.has_tag_name("node"))
                    .filter_map(|c| c.attribute("name").map(str::to_string))
                    .collect(),
                group: group.map(str::to_string),
                clone: clone.map(str::to_string),
            }),
            "group" => collect_resources(n, n.attribute("id"), clone, out),
            "clone" | "bundle" => collect_resources(n, group, n.attribute("id"), out),
            _ => {}
        }
    }
}

fn normalize_role(role: &str) -> String {
    match role {
        "Master" => "Promoted".into(),
        "Slave" => "Unpromoted".into(),
        other => other.into(),
    }
}

/// The virtual IP: the first IPaddr2/IPaddr primitive's `ip`, with its id and group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VipResource {
    pub id: String,
    pub ip: String,
    pub group: Option<String>,
}

pub fn parse_vip(resources_xml: &str) -> Result<Option<VipResource>, String> {
    let doc = Document::parse(resources_xml).map_err(|e| format!("CIB resources XML: {e}"))?;
    let found = doc.descendants().find(|n| {
        n.has_tag_name("primitive")
            && n.attribute("class") == Some("ocf")
            && matches!(n.attribute("type"), Some("IPaddr2" | "IPaddr"))
    });
    Ok(found.and_then(|p| {
        let ip = p
            .descendants()
            .filter(|n| n.has_tag_name("instance_attributes"))
            .flat_map(|ia| ia.children())
            .find(|nv| nv.has_tag_name("nvpair") && nv.attribute("name") == Some("ip"))?
            .attribute("value")?
            .to_string();
        let group = p
            .parent_element()
            .filter(|g| g.has_tag_name("group"))
            .and_then(|g| g.attribute("id"))
            .map(str::to_string);
        Some(VipResource {
            id: p.attribute("id").unwrap_or("?").to_string(),
            ip,
            group,
        })
    }))
}
