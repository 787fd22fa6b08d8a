//! One test per validation rule: each breaks a valid profile in one way and checks
//! that the message names the field, the position and the fix.

use std::path::Path;

use pbx_cluster::error::Error;
use pbx_cluster::profile;

const SECRET_LINE: &str = "secret-file = \"seed.secret\"";

fn base() -> String {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/profiles/seed-heartbeat.toml"
    ))
    .unwrap();
    src.replace(
        SECRET_LINE,
        "secret = \"a-test-secret-that-is-long-enough\"",
    )
}

/// All diagnostic lines (errors and warnings) for a profile text.
fn lines(src: &str) -> (bool, String) {
    match profile::parse(src, Path::new("p.toml"), Path::new("/nonexistent-dir")) {
        Ok(loaded) => (true, loaded.warnings.to_string()),
        Err(Error::Invalid(d)) => (false, d.to_string()),
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

fn expect_error(src: String, needle: &str) {
    let (ok, out) = lines(&src);
    assert!(!ok, "profile should be invalid; got:\n{out}");
    let line = out
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}:\n{out}"));
    assert!(line.starts_with("p.toml:"), "{line}");
    assert!(line.contains(": error: "), "{line}");
    assert!(
        line.contains("(fix: "),
        "every problem says how to fix it: {line}"
    );
}

fn expect_warning(src: String, needle: &str) {
    let (ok, out) = lines(&src);
    assert!(ok, "profile should stay valid:\n{out}");
    let line = out
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}:\n{out}"));
    assert!(
        line.contains(": warning: ") && line.contains("(fix: "),
        "{line}"
    );
}

/// The base profile with one more [storage] key.
fn with_storage(key: &str, value: &str) -> String {
    base().replace(
        "sync-rate = ",
        &format!("{key} = \"{value}\"\nsync-rate = "),
    )
}

/// The load-balanced profile with an inline secret.
fn lb_base() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/profiles/loadbalanced.toml"
    ))
    .unwrap()
    .replace(
        SECRET_LINE,
        "secret = \"a-test-secret-that-is-long-enough\"",
    )
}

fn second_node_start(src: &str) -> usize {
    src.match_indices("[[node]]").nth(1).unwrap().0
}

#[test]
fn base_profile_is_valid() {
    let (ok, out) = lines(&base());
    assert!(ok, "{out}");
}

#[test]
fn unknown_field_is_reported_with_its_position() {
    expect_error(
        base().replace("initdead = \"80s\"", "initdead = \"80s\"\nnitdead = 3"),
        "p.toml:31:1: error: membership.nitdead: unknown field `nitdead`",
    );
}

#[test]
fn exactly_two_nodes() {
    let src = base();
    let start = second_node_start(&src);
    let end = src.find("[membership]").unwrap();
    let one = format!("{}{}", &src[..start], &src[end..]);
    expect_error(
        one,
        "node: the profile has 1 [[node]] tables; a cluster has exactly two",
    );
}

#[test]
fn node_names_distinct() {
    let src = base();
    let i = second_node_start(&src);
    let fixed = format!(
        "{}{}",
        &src[..i],
        src[i..].replacen("name = \"cl02\"", "name = \"cl01\"", 1)
    );
    expect_error(fixed, "node[1].name: both nodes are named \"cl01\"");
}

#[test]
fn node_frontend_addresses_distinct() {
    expect_error(
        base().replace("address = \"192.168.178.4\"", "address = \"192.168.178.3\""),
        "node[1].frontend.address: both nodes use 192.168.178.3",
    );
}

#[test]
fn node_heartbeat_addresses_distinct() {
    expect_error(
        base().replace("address = \"10.0.0.4\"", "address = \"10.0.0.3\""),
        "node[1].heartbeat.address: both nodes use 10.0.0.3",
    );
}

#[test]
fn frontend_address_inside_its_network() {
    expect_error(
        base().replace("address = \"192.168.178.4\"", "address = \"192.168.1.4\""),
        "p.toml:23:24: error: node[1].frontend.address: 192.168.1.4 is outside the network 192.168.178.0/24",
    );
}

#[test]
fn heartbeat_address_inside_its_network() {
    expect_error(
        base().replace("address = \"10.0.0.4\"", "address = \"10.9.0.4\""),
        "node[1].heartbeat.address: 10.9.0.4 is outside the network 10.0.0.0/24",
    );
}

#[test]
fn address_is_not_the_broadcast_address() {
    expect_error(
        base().replace("address = \"10.0.0.4\"", "address = \"10.0.0.255\""),
        "10.0.0.255 is the network or broadcast address",
    );
}

#[test]
fn virtual_ip_inside_frontend_network() {
    expect_error(
        base().replace(
            "virtual-ip = \"192.168.178.5\"",
            "virtual-ip = \"192.168.9.5\"",
        ),
        "network.frontend.virtual-ip: 192.168.9.5 is outside the network 192.168.178.0/24",
    );
}

#[test]
fn virtual_ip_is_not_a_node_address() {
    expect_error(
        base().replace(
            "virtual-ip = \"192.168.178.5\"",
            "virtual-ip = \"192.168.178.4\"",
        ),
        "network.frontend.virtual-ip: 192.168.178.4 is also node cl02's own address",
    );
}

#[test]
fn heartbeat_network_is_separate_from_frontend() {
    expect_error(
        base()
            .replace("cidr = \"10.0.0.0/24\"", "cidr = \"192.168.178.0/25\"")
            .replace("\"10.0.0.3\"", "\"192.168.178.13\"")
            .replace("\"10.0.0.4\"", "\"192.168.178.14\""),
        "network.heartbeat.cidr: 192.168.178.0/25 overlaps the frontend network",
    );
}

#[test]
fn cidr_without_host_bits() {
    expect_error(
        base().replace("cidr = \"10.0.0.0/24\"", "cidr = \"10.0.0.1/24\""),
        "network.heartbeat.cidr: \"10.0.0.1/24\" has host bits set (fix: write the network address: 10.0.0.0/24)",
    );
}

#[test]
fn exactly_one_preferred_node() {
    expect_error(
        base().replace("preferred = true\n", ""),
        "node[0].preferred: no node is preferred",
    );
    let src = base();
    let i = second_node_start(&src);
    let both = format!(
        "{}{}",
        &src[..i],
        src[i..].replacen("name = \"cl02\"", "name = \"cl02\"\npreferred = true", 1)
    );
    expect_error(both, "node[1].preferred: both nodes are preferred");
}

#[test]
fn heartbeat_link_uses_its_own_interface() {
    expect_error(
        base().replacen("interface = \"eth1\"", "interface = \"eth0\"", 1),
        "node[0].heartbeat.interface: the heartbeat link uses the same interface (eth0) as the frontend",
    );
}

#[test]
fn deadtime_at_least_twice_keepalive() {
    expect_error(
        base().replace("keepalive = \"1s\"", "keepalive = \"6s\""),
        "membership.deadtime: deadtime 10s is less than twice keepalive 6s (fix: raise deadtime to at least 12s)",
    );
}

#[test]
fn initdead_at_least_twice_deadtime_is_a_warning() {
    expect_warning(
        base().replace("initdead = \"80s\"", "initdead = \"15s\""),
        "membership.initdead: initdead 15s is less than twice deadtime 10s",
    );
}

#[test]
fn warntime_between_keepalive_and_deadtime() {
    expect_error(
        base().replace(
            "deadtime = \"10s\"",
            "deadtime = \"10s\"\nwarntime = \"12s\"",
        ),
        "membership.warntime: warntime 12s is not between keepalive 1s and deadtime 10s",
    );
}

#[test]
fn durations_need_units() {
    expect_error(
        base().replace("keepalive = \"1s\"", "keepalive = \"one\""),
        "membership.keepalive: \"one\" is not a duration",
    );
}

#[test]
fn single_heartbeat_link_is_a_warning() {
    expect_warning(
        base().replace(
            "links = [\"frontend\", \"heartbeat\"]",
            "links = [\"heartbeat\"]",
        ),
        "membership.links: heartbeats travel on one link only",
    );
}

#[test]
fn drbdlinks_paths_are_absolute() {
    expect_error(
        base().replace("\"/etc/asterisk\", ", "\"etc/asterisk\", "),
        "storage.links[0]: \"etc/asterisk\" is not an absolute path (fix: write it from the root, e.g. /etc/asterisk)",
    );
}

#[test]
fn drbdlinks_paths_not_nested() {
    expect_error(
        base().replace("\"/var/lib/mysql\"]", "\"/var/lib/asterisk/keys\"]"),
        "storage.links[3]: /var/lib/asterisk/keys and /var/lib/asterisk are nested",
    );
}

#[test]
fn drbdlinks_paths_outside_the_mount_point() {
    expect_error(
        base().replace("\"/var/lib/mysql\"]", "\"/mnt/share/db\"]"),
        "storage.links[3]: /mnt/share/db and the mount point /mnt/share contain one another",
    );
}

#[test]
fn secret_file_must_exist() {
    let src = base().replace(
        "secret = \"a-test-secret-that-is-long-enough\"",
        SECRET_LINE,
    );
    expect_error(
        src,
        "auth.secret-file: cannot read /nonexistent-dir/seed.secret",
    );
}

#[test]
fn secret_long_enough() {
    expect_error(
        base().replace("a-test-secret-that-is-long-enough", "short"),
        "auth.secret: the secret has 5 characters; at least 16 are needed",
    );
}

#[test]
fn secret_given_once() {
    expect_error(
        base().replace(
            "algorithm = \"sha1\"",
            &format!("algorithm = \"sha1\"\n{SECRET_LINE}"),
        ),
        "auth.secret-file: both secret and secret-file are set",
    );
}

#[test]
fn crc_auth_is_a_warning() {
    expect_warning(
        base().replace("algorithm = \"sha1\"", "algorithm = \"crc\""),
        "auth.algorithm: crc only detects corruption",
    );
}

#[test]
fn unknown_engine_gets_a_suggestion() {
    expect_error(
        base().replace("engine = \"heartbeat\"", "engine = \"pacemakr\""),
        "cluster.engine: unknown value \"pacemakr\" (fix: did you mean \"pacemaker\"?",
    );
}

#[test]
fn service_typo_gets_a_suggestion() {
    expect_error(
        base().replace("\"apache2\"]", "\"apache\"]"),
        "resources.services[3]: unknown service \"apache\" (fix: did you mean \"apache2\"?)",
    );
}

#[test]
fn services_listed_once() {
    expect_error(
        base().replace("\"apache2\"]", "\"postfix\"]"),
        "resources.services[3]: \"postfix\" is listed twice",
    );
}

#[test]
fn drbd_device_name() {
    expect_error(
        base().replace("device = \"/dev/drbd0\"", "device = \"/dev/sdb\""),
        "storage.device: \"/dev/sdb\" is not a DRBD device",
    );
}

#[test]
fn drbd_sync_rate_format() {
    expect_error(
        base().replace("sync-rate = \"10M\"", "sync-rate = \"fast\""),
        "storage.sync-rate: \"fast\" is not a rate",
    );
}

#[test]
fn asynchronous_protocol_is_a_warning() {
    expect_warning(
        base().replace("protocol = \"C\"", "protocol = \"A\""),
        "storage.protocol: protocol A acknowledges writes before they reach the peer's disk",
    );
}

#[test]
fn no_fencing_is_a_loud_warning() {
    expect_warning(base(), "fencing.agent: NO FENCING");
}

#[test]
fn fencing_devices_name_real_nodes() {
    let f = "agent = \"fence_ipmilan\"\nheartbeat-plugin = \"external/ipmi\"\n[fencing.nodes.cl01]\nheartbeat-args = [\"a\"]\n[fencing.nodes.cl2]\nheartbeat-args = [\"b\"]";
    expect_error(
        base().replace("agent = \"none\"", f),
        "fencing.nodes.cl2: \"cl2\" is not a node of this cluster (fix: did you mean \"cl02\"?)",
    );
}

#[test]
fn fencing_covers_both_nodes() {
    let f = "agent = \"fence_ipmilan\"\nheartbeat-plugin = \"external/ipmi\"\n[fencing.nodes.cl01]\nheartbeat-args = [\"a\"]";
    expect_error(
        base().replace("agent = \"none\"", f),
        "fencing.nodes: no fence device for node cl02",
    );
}

/// Fencing for both nodes with the given TOML value for cl01's `key`.
fn fencing_with(key: &str, value: &str) -> String {
    let f = format!(
        "agent = \"fence_ipmilan\"\nheartbeat-plugin = \"external/ipmi\"\n[fencing.nodes.cl01]\nparams = {{ ip = \"x\" }}\n{key} = {value}\n[fencing.nodes.cl02]\nparams = {{ ip = \"y\" }}\nheartbeat-args = [\"b\"]"
    );
    base().replace("agent = \"none\"", &f)
}

#[test]
fn stonith_arguments_cannot_add_a_line_or_split() {
    for arg in [
        r#""x\nrespawn root /bin/sh""#,
        r#""two words""#,
        r#""a#comment""#,
        r#""""#,
        r#""tab\there""#,
    ] {
        let src = fencing_with("heartbeat-args", &format!("[\"cl01\", {arg}]"));
        expect_error(
            src.clone(),
            "fencing.nodes.cl01.heartbeat-args[1]: this argument is empty or holds a space, a newline or '#'",
        );
        // One problem, one line; the argument (often the password) is not shown.
        let (_, out) = lines(&src);
        assert!(!out.lines().any(|l| l.starts_with("respawn")), "{out}");
        for word in ["respawn", "words", "comment", "there"] {
            assert!(!out.contains(word), "{out}");
        }
    }
    // Quotes, slashes, '=' and ':' are ordinary argument characters.
    let (ok, out) = lines(&fencing_with(
        "heartbeat-args",
        r#"["cl01", "10.0.1.3", "p\"w=:/"]"#,
    ));
    assert!(ok, "{out}");
}

#[test]
fn balanced_service_names_cannot_add_a_directive() {
    let src = lb_base();
    assert!(src.contains("name = \"http\""));
    expect_error(
        src.replace("name = \"http\"", "name = \"http\\nquiescent = yes\""),
        "load-balancing.service[1].name: \"http\\nquiescent = yes\" is not a valid service name",
    );
}

#[test]
fn profile_paths_and_names_cannot_carry_separators() {
    for (from, to, needle) in [
        (
            "mount-point = \"/mnt/share\"",
            "mount-point = \"/mnt/share::ext4\"",
            "storage.mount-point: \"/mnt/share::ext4\" holds characters",
        ),
        (
            "mount-point = \"/mnt/share\"",
            "mount-point = \"/mnt/my share\"",
            "storage.mount-point: \"/mnt/my share\" holds characters",
        ),
        (
            "\"/etc/asterisk\"",
            "\"/etc/aster'isk\\nlink('/root')\"",
            "storage.links[0]: \"/etc/aster'isk\\nlink('/root')\" holds characters",
        ),
        (
            "name = \"Phone One\"",
            "name = \"Phone\\rOne\"",
            "pbx.extension[0].name: \"Phone\\rOne\" cannot be a caller ID name",
        ),
        (
            "drbd-disk = \"/dev/hda3\"",
            "drbd-disk = \"/dev/hda3;\\n}\"",
            "drbd-disk: \"/dev/hda3;\\n}\" is not a block device path",
        ),
    ] {
        let src = base();
        assert!(src.contains(from), "{from}");
        let bad = src.replacen(from, to, 1);
        expect_error(bad.clone(), needle);
        let (_, out) = lines(&bad);
        assert_eq!(
            out.lines().count(),
            out.matches(": error: ").count() + out.matches(": warning: ").count(),
            "one line per problem: {out}"
        );
    }
}

#[test]
fn fence_parameters_have_names_that_fit_the_cib() {
    let src = base().replace(
        "agent = \"none\"",
        "agent = \"fence_ipmilan\"\nheartbeat-plugin = \"external/ipmi\"\n[fencing.nodes.cl01]\nparams = { \"ip addr\" = \"x\", \"1st\" = \"y\", \"a<b\" = \"z\" }\nheartbeat-args = [\"a\"]\n[fencing.nodes.cl02]\nparams = { ip = \"line\\nbreak\" }\nheartbeat-args = [\"b\"]",
    );
    for bad in ["\"ip addr\"", "\"1st\"", "\"a<b\""] {
        expect_error(
            src.clone(),
            &format!("fencing.nodes.cl01.params: {bad} is not a fence parameter name"),
        );
    }
    expect_error(
        src,
        "fencing.nodes.cl02.params.ip: the value holds a control character",
    );
}

#[test]
fn heartbeat_engine_fences_through_a_stonith_plugin() {
    let f = "agent = \"fence_ipmilan\"\n[fencing.nodes.cl01]\nparams = { ip = \"x\" }\n[fencing.nodes.cl02]\nparams = { ip = \"y\" }";
    expect_error(
        base().replace("agent = \"none\"", f),
        "fencing.heartbeat-plugin: the heartbeat engine fences through cluster-glue STONITH plugins",
    );
}

/// The packages a fenced node installs, for a profile with `agent` on `engine`/`distro`.
fn fence_packages(engine: &str, distro: &str, agent: &str, extra: &str) -> Vec<String> {
    let f = format!(
        "agent = \"{agent}\"\nheartbeat-plugin = \"external/ipmi\"\n{extra}[fencing.nodes.cl01]\nparams = {{ ip = \"x\" }}\nheartbeat-args = [\"a\"]\n[fencing.nodes.cl02]\nparams = {{ ip = \"y\" }}\nheartbeat-args = [\"b\"]"
    );
    let src = base()
        .replace("engine = \"heartbeat\"", &format!("engine = \"{engine}\""))
        .replace(
            "distro = \"ubuntu-24.04\"",
            &format!("distro = \"{distro}\""),
        )
        .replace("agent = \"none\"", &f);
    let loaded = profile::parse(&src, Path::new("p.toml"), Path::new("/nonexistent-dir"))
        .unwrap_or_else(|e| panic!("{e}"));
    loaded.model.fencing.packages().to_vec()
}

#[test]
fn fence_agent_packages_follow_the_distro() {
    let cases: [(&str, &str, &str, &str, &[&str]); 7] = [
        // Debian 12 has one package; the others split it, and there
        // "fence-agents" would pull in every agent.
        (
            "pacemaker",
            "debian-12",
            "fence_ipmilan",
            "",
            &["fence-agents"],
        ),
        (
            "pacemaker",
            "ubuntu-24.04",
            "fence_ipmilan",
            "",
            &["fence-agents-ipmilan"],
        ),
        // fence_idrac is a link to fence_ipmilan and ships in its package.
        (
            "pacemaker",
            "debian-13",
            "fence_idrac",
            "",
            &["fence-agents-ipmilan"],
        ),
        (
            "pacemaker",
            "debian-sid",
            "fence_vmware_soap",
            "",
            &["fence-agents-vmware-soap"],
        ),
        // Heartbeat fences through cluster-glue plugins.
        ("heartbeat", "debian-sid", "fence_ipmilan", "", &[]),
        (
            "pacemaker",
            "debian-sid",
            "fence_lab",
            "packages = []\n",
            &[],
        ),
        (
            "pacemaker",
            "debian-12",
            "fence_x",
            "packages = [\"fence-x\"]\n",
            &["fence-x"],
        ),
    ];
    for (engine, distro, agent, extra, want) in cases {
        assert_eq!(
            fence_packages(engine, distro, agent, extra),
            want,
            "{engine} {distro} {agent} {extra}"
        );
    }
}

#[test]
fn fence_packages_need_an_agent() {
    expect_error(
        base().replace(
            "agent = \"none\"",
            "agent = \"none\"\npackages = [\"fence-agents\"]",
        ),
        "fencing.agent: fencing.nodes, heartbeat-plugin or packages are set but the agent is \"none\"",
    );
}

#[test]
fn fence_packages_are_package_names() {
    let f = "agent = \"fence_ipmilan\"\nheartbeat-plugin = \"external/ipmi\"\npackages = [\"Fence Agents\"]\n[fencing.nodes.cl01]\nheartbeat-args = [\"a\"]\n[fencing.nodes.cl02]\nheartbeat-args = [\"b\"]";
    expect_error(
        base().replace("agent = \"none\"", f),
        "fencing.packages: \"Fence Agents\" is not a Debian package name",
    );
}

#[test]
fn load_balanced_mode_needs_its_table() {
    expect_error(
        base().replace("mode = \"active-passive\"", "mode = \"load-balanced\""),
        "load-balancing: load-balanced mode needs a [load-balancing] table",
    );
}

#[test]
fn load_balancing_table_only_in_load_balanced_mode() {
    expect_error(
        format!("{}\n[load-balancing]\n", base()),
        "load-balancing: [load-balancing] is set but the cluster is active-passive",
    );
}

#[test]
fn load_balanced_mode_needs_a_cluster_filesystem_and_local_asterisk_config() {
    let src = format!(
        "{}\n[load-balancing]\n",
        base().replace("mode = \"active-passive\"", "mode = \"load-balanced\"")
    );
    expect_error(
        src.clone(),
        "storage.filesystem: load-balanced mode mounts the replicated disk on both nodes, which xfs cannot do",
    );
    expect_error(
        src,
        "storage.links[0]: in load-balanced mode both nodes run Asterisk",
    );
}

#[test]
fn udp_services_cannot_use_connect_checks() {
    let src = format!(
        "{}\n[load-balancing]\n[[load-balancing.service]]\nname = \"sip\"\nprotocol = \"udp\"\nport = 5060\ncheck = \"connect\"\n",
        base()
            .replace("mode = \"active-passive\"", "mode = \"load-balanced\"")
            .replace("filesystem = \"xfs\"", "filesystem = \"ocfs2\"")
            .replace("\"/etc/asterisk\", ", "")
    );
    expect_error(
        src,
        "load-balancing.service[0].check: a connect check cannot test a UDP service",
    );
}

#[test]
fn extensions_unique_with_long_secrets() {
    expect_error(
        base().replace("number = \"1002\"", "number = \"1001\""),
        "pbx.extension[1].number: extension 1001 is defined twice",
    );
    expect_error(
        base().replace("change-me-1002", "abc"),
        "pbx.extension[1].secret: the SIP secret has 3 characters; at least 8 are needed",
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let src = base()
        .replace("engine = \"heartbeat\"", "engine = \"x\"")
        .replace("address = \"10.0.0.4\"", "address = \"10.9.0.4\"")
        .replace("sync-rate = \"10M\"", "sync-rate = \"?\"");
    let (ok, out) = lines(&src);
    assert!(!ok);
    assert_eq!(
        out.lines().filter(|l| l.contains(": error: ")).count(),
        3,
        "{out}"
    );
}

#[test]
fn mysql_is_mariadb_on_debian() {
    let ubuntu = profile::parse(&base(), Path::new("p.toml"), Path::new("/"))
        .unwrap()
        .model;
    assert_eq!(ubuntu.services, ["mysql", "postfix", "asterisk", "apache2"]);
    let debian = profile::parse(
        &base().replace("distro = \"ubuntu-24.04\"", "distro = \"debian-12\""),
        Path::new("p.toml"),
        Path::new("/"),
    )
    .unwrap()
    .model;
    assert_eq!(
        debian.services,
        ["mariadb", "postfix", "asterisk", "apache2"]
    );
}

// --- Messages a user can act on: the field, the expected type in words, the root
// cause first.

#[test]
fn a_type_error_names_the_field_and_the_expected_type_in_words() {
    let (ok, out) = lines(&base().replace("port = 7788", "port = \"7788\""));
    assert!(!ok);
    assert!(
        out.contains(
            "error: storage.port: expected an integer (no quotes), found the string \"7788\" (fix: write the number without quotes)"
        ),
        "{out}"
    );
    let (_, out) = lines(&base().replace("keepalive = \"1s\"", "keepalive = 1"));
    assert!(
        out.contains("error: membership.keepalive: expected a string (in quotes)"),
        "{out}"
    );
    assert!(!out.contains("i64"), "no Rust type names: {out}");
}

#[test]
fn a_type_error_inside_an_array_of_tables_names_the_element() {
    let src = base();
    let at = second_node_start(&src);
    let broken = format!(
        "{}{}",
        &src[..at],
        src[at..].replacen("[[node]]\n", "[[node]]\npreferred = \"no\"\n", 1)
    );
    let (ok, out) = lines(&broken);
    assert!(!ok);
    assert!(
        out.contains("node[1].preferred: expected true or false"),
        "{out}"
    );
}

#[test]
fn a_duplicate_key_is_named() {
    expect_error(
        base().replace("port = 7788", "port = 7788\nport = 7789"),
        "error: storage.port: this key is written twice",
    );
}

#[test]
fn deadtime_below_twice_keepalive_is_reported_alone() {
    let (ok, out) = lines(&base().replace("deadtime = \"10s\"", "deadtime = \"1s\""));
    assert!(!ok);
    let errors: Vec<&str> = out.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), 1, "the root cause only: {out}");
    assert!(errors[0].contains("membership.deadtime"), "{out}");
}

#[test]
fn a_derived_warntime_fits_a_deadtime_of_twice_keepalive() {
    let (ok, out) = lines(&base().replace("deadtime = \"10s\"", "deadtime = \"2s\""));
    assert!(ok, "warntime was not written, so it cannot be wrong: {out}");
}

#[test]
fn keys_the_engine_does_not_read_are_warned_about_by_name() {
    let pacemaker = base().replace("engine = \"heartbeat\"", "engine = \"pacemaker\"");
    let (ok, out) = lines(&pacemaker);
    assert!(ok, "{out}");
    for key in [
        "membership.keepalive",
        "membership.udp-port",
        "auth.algorithm",
    ] {
        let line = out
            .lines()
            .find(|l| {
                l.contains(&format!(
                    "warning: {key}: engine \"pacemaker\" does not read"
                ))
            })
            .unwrap_or_else(|| panic!("no warning for {key}:\n{out}"));
        assert!(line.starts_with("p.toml:"), "with its position: {line}");
    }
    // The same keys under Heartbeat are read: no such warning.
    let (_, out) = lines(&base());
    assert!(!out.contains("does not read this key"), "{out}");
}

#[test]
fn fence_params_under_heartbeat_are_warned_about() {
    let src = base().replace(
        "[fencing]\nagent = \"none\"",
        "[fencing]\nagent = \"fence_ipmilan\"\nheartbeat-plugin = \"external/ipmi\"\n\n\
         [fencing.nodes.cl01]\nheartbeat-args = [\"cl01\", \"192.0.2.13\"]\nparams = { ip = \"192.0.2.13\" }\n\n\
         [fencing.nodes.cl02]\nheartbeat-args = [\"cl02\", \"192.0.2.14\"]",
    );
    let (_, out) = lines(&src);
    assert!(
        out.contains("fencing.nodes.cl01.params: engine \"heartbeat\" does not read"),
        "{out}"
    );
}

fn load_bytes(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, bytes).unwrap();
    match profile::load(&path) {
        Ok(_) => panic!("should be refused"),
        Err(Error::Invalid(d)) => d.to_string(),
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

#[test]
fn a_file_that_is_not_utf8_is_refused_with_the_position() {
    let mut bytes = b"[cluster]\nname = \"p\"\nengine = \"".to_vec();
    bytes.extend([0xff, 0xfe]);
    bytes.extend(b"\"\n");
    let out = load_bytes(&bytes);
    assert!(
        out.contains("p.toml:3:11: error: the file is not UTF-8: byte 31"),
        "{out}"
    );
}

#[test]
fn a_profile_over_the_size_limit_is_refused_with_the_limit_named() {
    let big = vec![b'#'; (profile::MAX_PROFILE_BYTES + 1) as usize];
    let out = load_bytes(&big);
    assert!(out.contains("a profile is at most 1048576 bytes"), "{out}");
}

#[test]
fn a_secret_file_that_is_a_device_or_huge_is_refused_without_reading_it() {
    for (file, needle) in [
        ("/dev/zero", "it is not a regular file"),
        ("/dev/stdin", "it is not a regular file"),
    ] {
        let src = base().replace(
            "secret = \"a-test-secret-that-is-long-enough\"",
            &format!("secret-file = \"{file}\""),
        );
        let (ok, out) = lines(&src);
        assert!(!ok);
        assert!(
            out.contains("auth.secret-file: cannot read") && out.contains(needle),
            "{out}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.secret"), vec![b'x'; 70_000]).unwrap();
    let src = base().replace(
        "secret = \"a-test-secret-that-is-long-enough\"",
        "secret-file = \"big.secret\"",
    );
    let r = profile::parse(&src, Path::new("p.toml"), dir.path());
    let Err(Error::Invalid(d)) = r else {
        panic!("should be refused")
    };
    assert!(
        d.to_string().contains("a secret file is at most 65536"),
        "{d}"
    );
}

#[test]
fn drbd_ping_interval_whole_seconds_in_range() {
    expect_error(
        with_storage("ping-interval", "1500ms"),
        "storage.ping-interval: 1500ms is not a whole number of seconds from 1s to 120s",
    );
    expect_error(
        with_storage("ping-interval", "121s"),
        "storage.ping-interval: 121s is not a whole number",
    );
}

#[test]
fn drbd_ping_timeout_in_tenths_in_range() {
    expect_error(
        with_storage("ping-timeout", "150ms"),
        "storage.ping-timeout: 150ms is not a multiple of 100ms",
    );
    expect_error(
        with_storage("ping-timeout", "31s"),
        "storage.ping-timeout: 31s is not a multiple of 100ms from 100ms to 30s",
    );
}

#[test]
fn drbd_noticing_a_dead_peer_after_the_membership_is_a_warning() {
    // deadtime 10 s: DRBD's own default keep-alive (10 s) plus 1 s is later.
    expect_warning(
        with_storage("ping-interval", "10s"),
        "storage.ping-interval: DRBD notices a dead peer only after up to 11s",
    );
    // The derived default never warns.
    let (ok, out) = lines(&base());
    assert!(ok && !out.contains("ping-interval"), "{out}");
}

#[test]
fn a_real_server_check_slower_than_the_deadtime_is_a_warning() {
    let src = lb_base();
    let (ok, out) = lines(&src);
    assert!(ok && !out.contains("check-interval"), "{out}");
    expect_warning(
        src.replace("check-interval = \"5s\"", "check-interval = \"9s\""),
        "load-balancing.check-interval: a dead real server leaves the pool only after up to 12s (check-interval 9s + check-timeout 3s), longer than membership.deadtime 10s",
    );
}

#[test]
fn a_drbd_answer_wait_that_leaves_no_room_for_a_keep_alive_names_the_wait() {
    // deadtime 10 s, answer wait 9.5 s: not even a 1 s keep-alive fits.
    let (ok, out) = lines(&with_storage("ping-timeout", "9500ms"));
    assert!(ok, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("storage.ping-interval: DRBD notices a dead peer"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("(fix: lower storage.ping-timeout to 9s or less, or raise membership.deadtime to at least 10500ms)"),
        "{line}"
    );
}

#[test]
fn load_balanced_mode_needs_a_fence_device() {
    let src = lb_base();
    let start = src.find("[fencing]").unwrap();
    let end = src.find("[load-balancing]").unwrap();
    let unfenced = format!(
        "{}[fencing]\nagent = \"none\"\n\n{}",
        &src[..start],
        &src[end..]
    );
    expect_error(
        unfenced.clone(),
        "fencing.agent: load-balanced mode mounts a cluster filesystem on both nodes",
    );
    // The error replaces the NO FENCING warning instead of repeating it.
    let (_, out) = lines(&unfenced);
    assert!(!out.contains("NO FENCING"), "{out}");
}

#[test]
fn load_balanced_mode_keeps_each_asterisks_own_state_local() {
    let links = "links = [\"/var/spool/asterisk/voicemail\", \"/var/lib/mysql\"]";
    assert!(lb_base().contains(links));
    for (shared, local) in [
        ("/var/lib/asterisk", "/var/lib/asterisk"),
        ("/var", "/var/lib/asterisk"),
        ("/var/log/asterisk", "/var/log/asterisk"),
        ("/var/spool/asterisk", "/var/spool/asterisk/outgoing"),
    ] {
        expect_error(
            lb_base().replace(links, &format!("links = [\"{shared}\"]")),
            &format!(
                "storage.links[0]: in load-balanced mode both nodes run Asterisk, and {local} must stay each node's own"
            ),
        );
    }
    // Shared data is fine: the shipped profile validates.
    let (ok, out) = lines(&lb_base());
    assert!(ok, "{out}");
}

#[test]
fn a_database_whose_data_directory_is_not_shared_is_warned_about() {
    // The seed (Ubuntu) shares /var/lib/mysql: no warning.
    let (ok, out) = lines(&base());
    assert!(ok && !out.contains("keeps its data"), "{out}");
    // Debian sid's MariaDB keeps its data elsewhere.
    expect_warning(
        base().replace("distro = \"ubuntu-24.04\"", "distro = \"debian-sid\""),
        "keeps its data in /var/lib/mariadb on debian-sid",
    );
    // Not shared at all.
    expect_warning(
        base().replace(", \"/var/lib/mysql\"]", "]"),
        "add \"/var/lib/mysql\" to storage.links",
    );
    // The distro's own data directory shared: no warning.
    let (ok, out) = lines(
        &base()
            .replace("\"/var/lib/mysql\"]", "\"/var/lib/mariadb\"]")
            .replace("distro = \"ubuntu-24.04\"", "distro = \"debian-sid\""),
    );
    assert!(ok && !out.contains("keeps its data"), "{out}");
}
