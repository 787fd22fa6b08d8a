//! Mutation fuzzer for every parser of outside input, on stable Rust.
//!
//!     scripts/fuzz [SECONDS]      (default 60; the targets share the time)
//!
//! Each target starts from the shipped fixtures (profiles, status outputs,
//! haresources, SIP responses) and runs mutated inputs: bit flips, byte edits,
//! deleted or repeated ranges, splices of two inputs, and tokens of the target's
//! syntax. An input that gives a result not seen before joins the target's corpus.
//! Beside "no panic", targets check what their output promises: an accepted
//! profile renders, a converted haresources gives well-formed XML.
//!
//! A panic is written to target/fuzz/crashes/TARGET-N.bin and counted; an input
//! that runs longer than 10 s is a hang: written the same way, and the run exits 1.
//! The summary gives executions and wall time per target; exit 1 on any finding.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pbx_cluster::render::haresources;
use pbx_cluster::runtime::status::{drbd, heartbeat, pacemaker};
use pbx_cluster::runtime::{drbdlinks, mountinfo, sip_probe};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

const HANG: Duration = Duration::from_secs(10);
const MAX_INPUT: usize = 64 * 1024;
const MAX_CORPUS: usize = 2000;

/// What a target's run of one input ended in, for the corpus' novelty check.
type Outcome = String;

struct Target {
    name: &'static str,
    seeds: Vec<Vec<u8>>,
    tokens: &'static [&'static str],
    run: fn(&[u8], &Path) -> Outcome,
}

fn text(input: &[u8]) -> String {
    String::from_utf8_lossy(input).into_owned()
}

/// The class of a result: Ok, or the error's first words (numbers dropped), so that
/// a new kind of error is new and a new line number is not.
fn class<T, E: std::fmt::Display>(r: &Result<T, E>) -> Outcome {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => {
            let s: String = e
                .to_string()
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .take(60)
                .collect();
            format!("err:{s}")
        }
    }
}

fn run_profile(input: &[u8], dir: &Path) -> Outcome {
    let src = text(input);
    match pbx_cluster::profile::parse(&src, Path::new("fuzz.toml"), dir) {
        Ok(loaded) => {
            // What validate accepts renders, on both nodes.
            for n in &loaded.model.nodes {
                if let Err(e) = pbx_cluster::render::render_node(&loaded.model, &n.name) {
                    panic!("a valid profile did not render for {}: {e}", n.name);
                }
            }
            format!("ok:{}", loaded.warnings.items.len())
        }
        Err(pbx_cluster::error::Error::Invalid(d)) => {
            let first = d.items.first().map(|i| i.field.clone()).unwrap_or_default();
            // Every problem is one line.
            for item in &d.items {
                let line = d.line(item);
                assert!(!line.contains('\n'), "a problem spans lines: {line:?}");
            }
            format!("invalid:{first}")
        }
        Err(e) => panic!("profile::parse returned a non-validation error: {e}"),
    }
}

fn run_haresources(input: &[u8], _: &Path) -> Outcome {
    let src = text(input);
    let r = haresources::convert(
        &src,
        "haresources",
        haresources::HaCfOptions {
            auto_failback: input.len() % 2 == 0,
        },
    );
    if let Ok(cib) = &r {
        let xml = pbx_cluster::render::templates::environment()
            .get_template("pacemaker/cib.xml.j2")
            .and_then(|t| t.render(minijinja::context! { cib => minijinja::value::Serde(cib) }))
            .expect("the CIB template renders a converted group");
        let doc = match roxmltree::Document::parse(&xml) {
            Ok(doc) => doc,
            Err(e) => panic!("haresources2cib wrote XML that does not parse: {e}\n{xml}"),
        };
        // Pacemaker's schema types every id as an NCName.
        for id in doc.descendants().filter_map(|n| n.attribute("id")) {
            let mut chars = id.chars();
            let ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            assert!(
                ok,
                "haresources2cib wrote the id {id:?}, which is not an NCName"
            );
        }
    }
    let groups = heartbeat::parse_haresources(&src);
    format!("{}:{}", class(&r.map_err(|e| e.message)), groups.len())
}

fn run_drbdlinks(input: &[u8], _: &Path) -> Outcome {
    class(&drbdlinks::Config::parse(&text(input), "drbdlinks.conf"))
}

fn run_sip(input: &[u8], _: &Path) -> Outcome {
    class(&sip_probe::parse_response(input))
}

fn run_proc_drbd(input: &[u8], _: &Path) -> Outcome {
    class(&drbd::parse_proc_drbd(&text(input)))
}

fn run_drbdsetup_json(input: &[u8], _: &Path) -> Outcome {
    class(&drbd::parse_drbdsetup_json(&text(input)))
}

fn run_crm_mon(input: &[u8], _: &Path) -> Outcome {
    let s = text(input);
    let a = match pacemaker::parse_crm_mon(&s) {
        Ok(Ok(_)) => "ok".to_string(),
        Ok(Err(_)) => "not-connected".to_string(),
        Err(e) => class::<(), _>(&Err(e)),
    };
    let b = class(&pacemaker::parse_vip(&s));
    format!("{a}|{b}")
}

fn run_cl_status(input: &[u8], _: &Path) -> Outcome {
    let s = text(input);
    let nodes = heartbeat::parse_listnodes(&s);
    let alive = heartbeat::node_alive(&s);
    let running = heartbeat::hb_running(Some(0), &s);
    let holder = heartbeat::holder(&s, "node1", nodes.first().map(String::as_str), "node1");
    format!(
        "{}:{alive}:{running}:{}",
        nodes.len().min(4),
        holder.is_some()
    )
}

fn run_mountinfo(input: &[u8], _: &Path) -> Outcome {
    let s = text(input);
    let points = mountinfo::mount_points(&s);
    let _ = mountinfo::is_mounted(&s, Path::new("/mnt/share"));
    format!("{}", points.len().min(8))
}

fn run_sums(input: &[u8], _: &Path) -> Outcome {
    let s = text(input);
    let hit = pbx_cluster::image::download::listed_digest(&s, "debian-13-genericcloud-amd64.qcow2");
    format!("{}", hit.is_some())
}

fn run_ip_json(input: &[u8], _: &Path) -> Outcome {
    format!(
        "{}",
        pbx_cluster::runtime::addresses::parse_ip_json(&text(input))
            .len()
            .min(4)
    )
}

fn run_deb_control(input: &[u8], _: &Path) -> Outcome {
    format!(
        "{}",
        pbx_cluster::package::Control::parse(&text(input)).is_some()
    )
}

fn read_dir_files(dir: &Path, filter: impl Fn(&Path) -> bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_file() && filter(&p) {
                if let Ok(b) = std::fs::read(&p) {
                    out.push(b);
                }
            }
        }
    }
    out
}

fn name_has(p: &Path, part: &str) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains(part))
}

/// JSON's syntax and the keys the JSON readers look for.
const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "null",
    "-1",
    "1e400",
    "\"role\"",
    "\"disk-state\"",
    "\"local\"",
    "\"inet\"",
];

fn targets(root: &Path) -> Vec<Target> {
    let status = root.join("tests/fixtures/status");
    let mut profiles = read_dir_files(&root.join("profiles"), |p| name_has(p, ".toml"));
    profiles.extend(read_dir_files(&root.join("tests/fixtures/profiles"), |p| {
        name_has(p, ".toml")
    }));
    let mut haresources = read_dir_files(&status, |p| name_has(p, "haresources"));
    haresources.push(b"cl01 drbddisk::r0 Filesystem::/dev/drbd0::/mnt/share::xfs drbdlinks IPaddr2::192.168.178.5/24/eth0 mysql postfix asterisk apache2\n".to_vec());
    let sip = vec![
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport=5070\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:probe@127.0.0.1>;tag=2\r\nCall-ID: abc\r\nCSeq: 1 OPTIONS\r\nServer: Asterisk PBX 22.0.0\r\nContent-Length: 0\r\n\r\n".to_vec(),
        b"SIP/2.0 404 Not Found\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n".to_vec(),
    ];
    let drbdlinks = vec![
        b"mountpoint('/mnt/share')\nlink('/etc/asterisk')\nlink('/var/lib/mysql')\n".to_vec(),
        b"# comment\nmountpoint(\"/mnt/share\")\nlink(\"/var/spool/asterisk\", \"/mnt/share/spool\")\nrestartSyslog(1)\n".to_vec(),
    ];
    let mountinfo = vec![
        b"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n98 22 147:0 / /mnt/share rw,relatime shared:50 - xfs /dev/drbd0 rw,attr2\n120 22 0:45 / /mnt/with\\040space rw - tmpfs tmpfs rw\n".to_vec(),
    ];
    let sums = vec![
        b"3f786850e387550fdab836ed7e6dc881de23001b  debian-13-genericcloud-amd64.qcow2\n0123  other.raw\n".to_vec(),
        b"ab12 *debian-13-genericcloud-amd64.qcow2\n".to_vec(),
    ];
    let ip_json = vec![
        br#"[{"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet","local":"192.168.178.3","prefixlen":24},{"family":"inet6","local":"fe80::1","prefixlen":64}]}]"#.to_vec(),
    ];
    let control = vec![
        b"Package: pbx-cluster\nVersion: 0.1.0\nArchitecture: amd64\nDepends: libc6 (>= 2.34), drbd-utils\nDescription: x\n more\n".to_vec(),
    ];
    vec![
        Target {
            name: "profile",
            seeds: profiles,
            tokens: &[
                "\n",
                "\"",
                "'",
                "[",
                "]",
                "[[node]]",
                "=",
                "{",
                "}",
                ",",
                "#",
                "\\n",
                "\\u0000",
                "0",
                "-1",
                "4294967296",
                "99999999999999999999",
                "1e9",
                "true",
                "\"\"",
                "\"/dev/zero\"",
                "\"/dev/stdin\"",
                "\"..\"",
                "é",
                "🙂",
                "\"10s\"",
                "\"0ms\"",
                "\"99999999999s\"",
                "load-balanced",
                "heartbeat",
                "pacemaker",
                "ocfs2",
                "\"0.0.0.0/0\"",
                "\"255.255.255.255\"",
                "\"fence_ipmilan\"",
                "<",
                "&",
            ],
            run: run_profile,
        },
        Target {
            name: "haresources",
            seeds: haresources,
            tokens: &[
                "::",
                "\\\n",
                "#",
                " ",
                "\n",
                "/",
                "IPaddr2::",
                "drbddisk::",
                "Filesystem::",
                "<",
                "&",
                "\"",
                "0",
                "/33",
                "::::",
            ],
            run: run_haresources,
        },
        Target {
            name: "drbdlinks.conf",
            seeds: drbdlinks,
            tokens: &[
                "(",
                ")",
                "'",
                "\"",
                ",",
                "\\",
                "\n",
                "#",
                "link(",
                "mountpoint(",
                "/",
                "..",
                "\u{0}",
            ],
            run: run_drbdlinks,
        },
        Target {
            name: "sip-response",
            seeds: sip,
            tokens: &[
                "\r\n",
                "\n",
                ":",
                " ",
                "SIP/2.0 ",
                "999",
                "-1",
                "Content-Length: ",
                "\u{0}",
                "\r\n\r\n",
            ],
            run: run_sip,
        },
        Target {
            name: "proc-drbd",
            seeds: read_dir_files(&status, |p| name_has(p, "proc-drbd")),
            tokens: &[
                "cs:",
                "ro:",
                "ds:",
                "/",
                " ",
                "\n",
                "0:",
                "ns:",
                "sync'ed:",
                "%",
                "finish:",
                "99999999999999999999",
            ],
            run: run_proc_drbd,
        },
        Target {
            name: "drbdsetup-json",
            seeds: read_dir_files(&status, |p| name_has(p, "drbdsetup")),
            tokens: JSON_TOKENS,
            run: run_drbdsetup_json,
        },
        Target {
            name: "crm_mon-xml",
            seeds: {
                let mut v = read_dir_files(&status, |p| {
                    name_has(p, "crm_mon") || name_has(p, "cibadmin")
                });
                v.extend(read_dir_files(&status.join("make"), |p| {
                    name_has(p, ".xml")
                }));
                v
            },
            tokens: &[
                "<",
                ">",
                "/>",
                "</",
                "=\"",
                "\"",
                "&amp;",
                "&#0;",
                "<!DOCTYPE x [<!ENTITY a \"b\">]>",
                "<![CDATA[",
                "]]>",
                "id=",
                "\n",
            ],
            run: run_crm_mon,
        },
        Target {
            name: "cl_status",
            seeds: read_dir_files(&status, |p| name_has(p, "cl_status")),
            tokens: &[
                "\n",
                " ",
                "active",
                "dead",
                "up",
                "all",
                "local",
                "foreign",
                "none",
                "transition",
                "Heartbeat is running on this machine.",
            ],
            run: run_cl_status,
        },
        Target {
            name: "mountinfo",
            seeds: mountinfo,
            tokens: &[" ", "\n", "\\040", "\\", "-", " - ", "/"],
            run: run_mountinfo,
        },
        Target {
            name: "sha-sums",
            seeds: sums,
            tokens: &[" ", "  ", "*", "\n", "\r", "0"],
            run: run_sums,
        },
        Target {
            name: "ip-json",
            seeds: ip_json,
            tokens: JSON_TOKENS,
            run: run_ip_json,
        },
        Target {
            name: "deb-control",
            seeds: control,
            tokens: &["\n", ": ", " ", "\n ", ":", "Package", "Version"],
            run: run_deb_control,
        },
    ]
}

fn mutate(rng: &mut ChaCha8Rng, corpus: &[Vec<u8>], tokens: &[&str]) -> Vec<u8> {
    let below = |rng: &mut ChaCha8Rng, n: usize| (rng.next_u32() as usize) % n.max(1);
    let mut input = corpus[below(rng, corpus.len())].clone();
    let rounds = 1 + below(rng, 8);
    for _ in 0..rounds {
        let len = input.len();
        match below(rng, 9) {
            0 if len > 0 => {
                let i = below(rng, len);
                input[i] ^= 1 << below(rng, 8);
            }
            1 if len > 0 => {
                let i = below(rng, len);
                input[i] = rng.next_u32() as u8;
            }
            2 => {
                let i = below(rng, len + 1);
                input.insert(i, rng.next_u32() as u8);
            }
            3 if len > 0 => {
                let a = below(rng, len);
                let b = (a + 1 + below(rng, 32)).min(len);
                input.drain(a..b);
            }
            4 if len > 0 => {
                // A range repeated: long lines, deep nesting.
                let a = below(rng, len);
                let b = (a + 1 + below(rng, 64)).min(len);
                let piece = input[a..b].to_vec();
                let times = 1 + below(rng, 16);
                for _ in 0..times {
                    input.splice(a..a, piece.iter().copied());
                }
            }
            5 | 6 => {
                let t = tokens[below(rng, tokens.len())].as_bytes();
                let i = below(rng, len + 1);
                input.splice(i..i, t.iter().copied());
            }
            7 => {
                // Splice: the head of this input and the tail of another.
                let other = &corpus[below(rng, corpus.len())];
                let a = below(rng, len + 1);
                let b = below(rng, other.len() + 1);
                input.truncate(a);
                input.extend_from_slice(&other[b..]);
            }
            _ if len > 0 => {
                input.truncate(below(rng, len));
            }
            _ => {}
        }
    }
    input.truncate(MAX_INPUT);
    input
}

#[derive(Default)]
struct Stats {
    execs: u64,
    panics: u64,
    corpus: usize,
    spent: Duration,
}

fn save(dir: &Path, target: &str, n: u64, input: &[u8]) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let path = dir.join(format!("{target}-{n}.bin"));
    let _ = std::fs::write(&path, input);
    path
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = std::env::var("PBX_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let crashes = root.join("target/fuzz/crashes");
    let scratch = tempfile::tempdir().expect("a scratch folder");
    std::fs::write(
        scratch.path().join("seed.secret"),
        "fuzz-secret-long-enough-1234",
    )
    .expect("the scratch secret");
    let mut targets = targets(&root);
    for t in &targets {
        assert!(!t.seeds.is_empty(), "target {} has no seeds", t.name);
    }

    // The watchdog: the input being run and since when; over HANG it is saved
    // and the run ends.
    let current: Arc<Mutex<(String, Vec<u8>)>> = Arc::default();
    let started_ms = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    {
        let current = Arc::clone(&current);
        let started_ms = Arc::clone(&started_ms);
        let crashes = crashes.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let s = started_ms.load(Ordering::SeqCst);
                let now = epoch.elapsed().as_millis() as u64;
                if s != 0 && now.saturating_sub(s) > HANG.as_millis() as u64 {
                    let (name, input) = current.lock().map(|g| g.clone()).unwrap_or_default();
                    let path = save(&crashes, &format!("{name}-hang"), now, &input);
                    eprintln!(
                        "fuzz: HANG in {name}: one input ran over {} s; saved to {}",
                        HANG.as_secs(),
                        path.display()
                    );
                    std::process::exit(1);
                }
            }
        });
    }
    // Panics are expected findings: counted and saved, not printed by the hook.
    let last_panic: Arc<Mutex<String>> = Arc::default();
    {
        let last_panic = Arc::clone(&last_panic);
        std::panic::set_hook(Box::new(move |info| {
            if let Ok(mut g) = last_panic.lock() {
                *g = info.to_string();
            }
        }));
    }

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let budget = Duration::from_secs(seconds);
    let wall = Instant::now();
    let mut stats: Vec<Stats> = targets.iter().map(|_| Stats::default()).collect();
    let mut seen: Vec<HashSet<Outcome>> = targets.iter().map(|_| HashSet::new()).collect();
    let mut corpora: Vec<Vec<Vec<u8>>> = targets
        .iter_mut()
        .map(|t| std::mem::take(&mut t.seeds))
        .collect();
    eprintln!(
        "fuzz: {} targets, {} s, seed {seed} (PBX_FUZZ_SEED={seed} repeats it)",
        targets.len(),
        seconds
    );
    let mut last_report = Instant::now();
    'outer: loop {
        for (i, t) in targets.iter().enumerate() {
            if wall.elapsed() >= budget {
                break 'outer;
            }
            let batch = Instant::now();
            for _ in 0..50 {
                let input = mutate(&mut rng, &corpora[i], t.tokens);
                if let Ok(mut g) = current.lock() {
                    g.0 = t.name.to_string();
                    g.1.clone_from(&input);
                }
                started_ms.store(epoch.elapsed().as_millis().max(1) as u64, Ordering::SeqCst);
                let r = std::panic::catch_unwind(|| (t.run)(&input, scratch.path()));
                started_ms.store(0, Ordering::SeqCst);
                let st = &mut stats[i];
                st.execs += 1;
                match r {
                    Ok(outcome) => {
                        if seen[i].insert(outcome) && corpora[i].len() < MAX_CORPUS {
                            corpora[i].push(input);
                        }
                    }
                    Err(_) => {
                        st.panics += 1;
                        let path = save(&crashes, t.name, st.panics, &input);
                        let msg = last_panic.lock().map(|g| g.clone()).unwrap_or_default();
                        eprintln!(
                            "fuzz: PANIC in {}: {msg}; input saved to {}",
                            t.name,
                            path.display()
                        );
                    }
                }
            }
            stats[i].spent += batch.elapsed();
            stats[i].corpus = corpora[i].len();
        }
        if last_report.elapsed() >= Duration::from_secs(300) {
            last_report = Instant::now();
            let execs: u64 = stats.iter().map(|s| s.execs).sum();
            eprintln!(
                "fuzz: {:.0} s, {execs} executions",
                wall.elapsed().as_secs_f64()
            );
        }
    }
    let total: u64 = stats.iter().map(|s| s.execs).sum();
    let panics: u64 = stats.iter().map(|s| s.panics).sum();
    println!("| target | executions | corpus | panics | seconds |");
    println!("|---|---|---|---|---|");
    for (t, s) in targets.iter().zip(&stats) {
        println!(
            "| {} | {} | {} | {} | {:.0} |",
            t.name,
            s.execs,
            s.corpus,
            s.panics,
            s.spent.as_secs_f64()
        );
    }
    println!(
        "fuzz: {total} executions in {:.0} s wall time, {panics} panics, 0 hangs (seed {seed})",
        wall.elapsed().as_secs_f64()
    );
    if panics > 0 {
        std::process::exit(1);
    }
}
