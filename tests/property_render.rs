//! The promise "validate accepts => the real tools accept the render", as a
//! property: profiles generated from a fixed seed (names, addresses, interfaces,
//! timings, links, fence parameters with XML's and the shell's special characters,
//! extensions) are validated; every one validate accepts is rendered and judged
//! by drbdadm-84, and under Pacemaker by crm_verify and corosync -t.
//!
//! PBX_PROPERTY_CASES raises the number of cases (default 24); PBX_PROPERTY_SEED
//! picks another sequence. A failing case prints its profile.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::*;
use pbx_cluster::model::{Engine, FenceInterface, Link, Model};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

struct Gen(ChaCha8Rng);

impl Gen {
    fn below(&mut self, n: u32) -> u32 {
        self.0.next_u32() % n
    }

    fn coin(&mut self) -> bool {
        self.below(2) == 0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u32) as usize]
    }

    fn word(&mut self, first: &str, rest: &str, min: u32, max: u32) -> String {
        let first: Vec<char> = first.chars().collect();
        let rest: Vec<char> = rest.chars().collect();
        let len = min + self.below(max - min + 1);
        let mut s = String::new();
        s.push(first[self.below(first.len() as u32) as usize]);
        for _ in 1..len {
            s.push(rest[self.below(rest.len() as u32) as usize]);
        }
        s
    }

    /// A name validate's rule allows: letters, digits, '-' and '_', up to 63,
    /// not starting with '-' (digits and '_' first included).
    fn name(&mut self, max: u32) -> String {
        const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let first = format!("{ALNUM}_");
        let rest = format!("{ALNUM}-_");
        self.word(&first, &rest, 1, max)
    }

    /// A value for a TOML basic string: printable, with XML's, the shell's and
    /// the config files' own special characters.
    fn value(&mut self) -> String {
        let chars = "abcXYZ019 <>&'\"`$;#{}[]=:,/\\|!*%~";
        let mut s = self.word(chars, chars, 1, 16);
        if s.chars().all(|c| c == ' ') {
            s.push('x');
        }
        s
    }
}

/// TOML basic string with escapes.
fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One generated profile; the secret inline so that no file is needed.
fn profile(g: &mut Gen, engine: Engine) -> String {
    let nets = [(192, 168), (10, 20), (172, 16)];
    let (fa, fb) = nets[g.below(3) as usize];
    let fc = g.below(250) + 1;
    let hb_c = (fc + 1 + g.below(3)) % 250 + 1;
    let (ha, hb) = if g.coin() { (10, 99) } else { (172, 31) };
    let host = |g: &mut Gen, used: &mut Vec<u32>| loop {
        let h = g.below(250) + 2;
        if !used.contains(&h) {
            used.push(h);
            return h;
        }
    };
    let mut used = Vec::new();
    let (a1, a2, vip) = (host(g, &mut used), host(g, &mut used), host(g, &mut used));
    let n1 = g.name(20);
    let mut n2 = g.name(20);
    while n2 == n1 {
        n2 = g.name(20);
    }
    let iface_first = "abcdefghijklmnopqrstuvwxyz";
    let iface_rest = "abcdefghijklmnopqrstuvwxyz0123456789-_.@";
    let i1 = g.word(iface_first, iface_rest, 1, 15);
    let mut i2 = g.word(iface_first, iface_rest, 1, 15);
    while i2 == i1 {
        i2 = g.word(iface_first, iface_rest, 1, 15);
    }
    let keepalive_ms = 200 + g.below(1800);
    let deadtime_ms = keepalive_ms * 2 + g.below(20_000);
    let links = match g.below(3) {
        0 => "[\"heartbeat\", \"frontend\"]",
        1 => "[\"frontend\", \"heartbeat\"]",
        _ => "[\"heartbeat\"]",
    };
    let home = pbx_cluster::engine::home(engine);
    let engine_name = home.name();
    // Keys the engine reads; one it ignores only gets a warning, so they are left out.
    let reads = |key: &str| !home.ignored_keys().contains(&key);
    let mut s = String::new();
    let _ = write!(
        s,
        "[cluster]\nname = {}\nengine = \"{engine_name}\"\ndistro = \"{}\"\n\n",
        q(&g.name(40)),
        g.pick(&["ubuntu-24.04", "debian-12", "debian-13", "debian-sid"])
    );
    let _ = write!(
        s,
        "[network]\nfrontend = {{ cidr = \"{fa}.{fb}.{fc}.0/24\", virtual-ip = \"{fa}.{fb}.{fc}.{vip}\" }}\n\
         heartbeat = {{ cidr = \"{ha}.{hb}.{hb_c}.0/24\" }}\n\n"
    );
    for (i, (name, addr)) in [(&n1, a1), (&n2, a2)].into_iter().enumerate() {
        let _ = write!(
            s,
            "[[node]]\nname = {}\npreferred = {}\nfrontend = {{ address = \"{fa}.{fb}.{fc}.{addr}\", interface = {} }}\n\
             heartbeat = {{ address = \"{ha}.{hb}.{hb_c}.{addr}\", interface = {} }}\ndrbd-disk = {}\n\n",
            q(name),
            i == 0,
            q(&i1),
            q(&i2),
            q(g.pick(&[
                "/dev/sdb1",
                "/dev/vdb",
                "/dev/disk/by-id/wwn-0x5000c5_00-part1",
                "/dev/mapper/vg0-drbd+r0"
            ])),
        );
    }
    let _ = write!(
        s,
        "[membership]\ndeadtime = \"{deadtime_ms}ms\"\nlinks = {links}\n"
    );
    if reads("membership.keepalive") {
        let _ = write!(
            s,
            "keepalive = \"{keepalive_ms}ms\"\ninitdead = \"{}s\"\nudp-port = {}\ntransport = \"{}\"\n",
            deadtime_ms * 2 / 1000 + 1 + g.below(100),
            1024 + g.below(60_000),
            g.pick(&["broadcast", "unicast"])
        );
    }
    let _ = write!(
        s,
        "auto-failback = {}\n\n[auth]\nsecret = {}\n\n",
        g.coin(),
        q(&g.word(
            "abcdefXYZ0123456789",
            "abcdefXYZ0123456789+/=!$%&()*,.:<>?@[]^_`{|}~-",
            16,
            48
        ))
    );
    let _ = write!(
        s,
        "[storage]\nresource = {}\nport = {}\nsync-rate = \"{}M\"\nfilesystem = \"{}\"\nmount-point = {}\n\n",
        q(&g.name(20)),
        1024 + g.below(60_000),
        1 + g.below(500),
        g.pick(&["xfs", "ext4"]),
        q(g.pick(&["/mnt/share", "/srv/pbx_data", "/mnt/drbd-r0.d"])),
    );
    let agent = g.pick(&["none", "fence_ipmilan", "fence_virsh", "fence_redfish"]);
    let _ = write!(s, "[fencing]\nagent = \"{agent}\"\n");
    if agent != "none" {
        if reads("fencing.heartbeat-plugin") {
            s.push_str("heartbeat-plugin = \"external/ipmi\"\n");
        }
        for n in [&n1, &n2] {
            let _ = write!(s, "\n[fencing.nodes.{}]\n", q(n));
            match home.fences_through() {
                FenceInterface::FenceAgent => {
                    let mut params = Vec::new();
                    for _ in 0..1 + g.below(4) {
                        let key = g.word(
                            "abcdefghijklmnopqrstuvwxyz",
                            "abcdefghijklmnopqrstuvwxyz0123456789_-",
                            1,
                            12,
                        );
                        if !params.iter().any(|(k, _): &(String, String)| *k == key) {
                            params.push((key, g.value()));
                        }
                    }
                    let body: Vec<String> = params
                        .iter()
                        .map(|(k, v)| format!("{k} = {}", q(v)))
                        .collect();
                    let _ = writeln!(s, "params = {{ {} }}", body.join(", "));
                }
                FenceInterface::StonithPlugin => {
                    let args: Vec<String> = (0..1 + g.below(5))
                        .map(|_| {
                            q(&g.word(
                                "abcXYZ019<>&'\"`$;{}=:,/\\|!*%~",
                                "abcXYZ019<>&'\"`$;{}=:,/\\|!*%~",
                                1,
                                12,
                            ))
                        })
                        .collect();
                    let _ = writeln!(s, "heartbeat-args = [{}]", args.join(", "));
                }
            }
        }
    }
    let _ = write!(s, "\n[pbx]\ncontext = {}\n", q(&g.name(30)));
    for i in 0..g.below(4) {
        let name = g.word("abcXYZ", "abcXYZ019 &'!#$%()*+,-./:=?@[]^_`{|}~", 1, 24);
        let _ = write!(
            s,
            "\n[[pbx.extension]]\nnumber = \"{}{i}\"\nname = {}\nsecret = {}\n",
            100 + g.below(9000),
            q(&name),
            q(&g.word(
                "abcXYZ019",
                "abcXYZ019!#$%&'()*+,-./:<=>?@[]^_`{|}~\"\\",
                12,
                30
            )),
        );
    }
    s
}

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn judge_case(model: &Model, out: &Path) -> Result<usize, String> {
    let mut judged = 0;
    for n in &model.nodes {
        let root = out.join(&n.name);
        let (ok, log) = drbdadm84(&root.join("etc/drbd.conf"));
        if !ok {
            return Err(format!("drbdadm-84 on {}: {log}", n.name));
        }
        judged += 1;
        if model.engine_home().loads_cib() {
            let (ok, log) = crm_verify(&root.join("etc/pbx-cluster/cib.xml"));
            if !ok {
                return Err(format!("crm_verify on {}: {log}", n.name));
            }
            let ring0 = match model.membership.links[0] {
                Link::Frontend => n.frontend.address,
                Link::Heartbeat => n.heartbeat.address,
            };
            let etc = root.join("etc/corosync");
            let (ok, log) = corosync_t(&etc, &etc.join("corosync.conf"), &ring0.to_string());
            if !ok {
                return Err(format!("corosync -t on {}: {log}", n.name));
            }
            judged += 2;
        }
    }
    Ok(judged)
}

#[test]
fn every_generated_profile_that_validates_renders_into_files_the_real_tools_accept() {
    let cases = env_u64("PBX_PROPERTY_CASES", 24);
    let seed = env_u64("PBX_PROPERTY_SEED", 0x5eed);
    let mut g = Gen(ChaCha8Rng::seed_from_u64(seed));
    let (mut accepted, mut judged) = (0, 0);
    for case in 0..cases {
        let (_, engine) = Engine::ALL[case as usize % Engine::ALL.len()];
        let src = profile(&mut g, engine);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gen.toml");
        std::fs::write(&path, &src).unwrap();
        let model = match pbx_cluster::profile::load(&path) {
            Ok(loaded) => loaded.model,
            // The property is about what validate accepts; a refusal is allowed,
            // but the generator must mostly make valid profiles (counted below).
            Err(_) => continue,
        };
        accepted += 1;
        let out = render_all(&path);
        match judge_case(&model, out.path()) {
            Ok(n) => judged += n,
            Err(why) => panic!("case {case} (seed {seed:#x}): {why}\n--- profile:\n{src}"),
        }
    }
    eprintln!(
        "{cases} profiles generated (seed {seed:#x}), {accepted} valid, {judged} judge runs passed"
    );
    assert!(
        accepted * 10 >= cases * 9,
        "the generator made too few valid profiles: {accepted} of {cases}"
    );
    assert!(judged > 0);
}
