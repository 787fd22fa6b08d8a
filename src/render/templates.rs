//! The embedded template table. Every file under templates/ is listed here; a
//! test checks the table against the folder, so none is forgotten.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "drbd/drbd.conf.j2",
        include_str!("../../templates/drbd/drbd.conf.j2"),
    ),
    (
        "drbd/global_common.conf.j2",
        include_str!("../../templates/drbd/global_common.conf.j2"),
    ),
    (
        "drbd/resource-84.res.j2",
        include_str!("../../templates/drbd/resource-84.res.j2"),
    ),
    (
        "drbd/resource-9.res.j2",
        include_str!("../../templates/drbd/resource-9.res.j2"),
    ),
    (
        "drbd/drbdlinks.conf.j2",
        include_str!("../../templates/drbd/drbdlinks.conf.j2"),
    ),
    (
        "heartbeat/ha.cf.j2",
        include_str!("../../templates/heartbeat/ha.cf.j2"),
    ),
    (
        "heartbeat/authkeys.j2",
        include_str!("../../templates/heartbeat/authkeys.j2"),
    ),
    (
        "heartbeat/haresources.j2",
        include_str!("../../templates/heartbeat/haresources.j2"),
    ),
    (
        "corosync/corosync.conf.j2",
        include_str!("../../templates/corosync/corosync.conf.j2"),
    ),
    (
        "pacemaker/cib.xml.j2",
        include_str!("../../templates/pacemaker/cib.xml.j2"),
    ),
    (
        "asterisk/pjsip.conf.j2",
        include_str!("../../templates/asterisk/pjsip.conf.j2"),
    ),
    (
        "asterisk/extensions.conf.j2",
        include_str!("../../templates/asterisk/extensions.conf.j2"),
    ),
    (
        "asterisk/modules.conf.j2",
        include_str!("../../templates/asterisk/modules.conf.j2"),
    ),
    (
        "lb/ldirectord.cf.j2",
        include_str!("../../templates/lb/ldirectord.cf.j2"),
    ),
    (
        "lb/cluster.conf.j2",
        include_str!("../../templates/lb/cluster.conf.j2"),
    ),
    (
        "lb/dundi.conf.j2",
        include_str!("../../templates/lb/dundi.conf.j2"),
    ),
    (
        "lb/vip-lo.service.j2",
        include_str!("../../templates/lb/vip-lo.service.j2"),
    ),
    (
        "lb/modules-load.conf.j2",
        include_str!("../../templates/lb/modules-load.conf.j2"),
    ),
    (
        "lb/check-sip.default.j2",
        include_str!("../../templates/lb/check-sip.default.j2"),
    ),
    (
        "lb/o2cb.default.j2",
        include_str!("../../templates/lb/o2cb.default.j2"),
    ),
    (
        "lb/restart.conf.j2",
        include_str!("../../templates/lb/restart.conf.j2"),
    ),
    (
        "lb/shared.service.j2",
        include_str!("../../templates/lb/shared.service.j2"),
    ),
    (
        "sysctl/lvs.conf.j2",
        include_str!("../../templates/sysctl/lvs.conf.j2"),
    ),
    (
        "sysctl/pbx-cluster.conf.j2",
        include_str!("../../templates/sysctl/pbx-cluster.conf.j2"),
    ),
    (
        "systemd/wait-addresses.conf.j2",
        include_str!("../../templates/systemd/wait-addresses.conf.j2"),
    ),
];

/// The template environment: strict about undefined variables, so a context
/// that lacks a value fails the render instead of writing an empty string.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("default delimiters are valid"),
    );
    // XML gets XML escaping: the HTML escaper's `&#x2f;` for `/` is valid but
    // makes the CIB unreadable.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".xml.j2") {
            AutoEscape::Custom("xml".into())
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), AutoEscape::Custom(n) if n == "xml") && !value.is_safe() {
            let text = value.to_string();
            let mut escaped = String::with_capacity(text.len());
            for c in text.chars() {
                match c {
                    '&' => escaped.push_str("&amp;"),
                    '<' => escaped.push_str("&lt;"),
                    '>' => escaped.push_str("&gt;"),
                    '"' => escaped.push_str("&quot;"),
                    '\'' => escaped.push_str("&apos;"),
                    c => escaped.push(c),
                }
            }
            out.write_str(&escaped).map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
            })
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    for (name, src) in TEMPLATES {
        env.add_template(name, src)
            .unwrap_or_else(|e| panic!("embedded template {name} does not compile: {e}"));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_template_file_is_listed_and_compiles() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut on_disk = Vec::new();
        for dir in std::fs::read_dir(&root).unwrap() {
            let dir = dir.unwrap().path();
            for f in std::fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                on_disk.push(
                    f.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
        on_disk.sort();
        let mut listed: Vec<String> = TEMPLATES.iter().map(|(n, _)| n.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "templates/ and the TEMPLATES table differ");
        let env = environment();
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }
}
