//! Validate + render of both nodes, per shipped profile: how long a user waits.
//! Run with `cargo bench --bench render`. Prints min / median / p95 over many runs.

use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: usize = 300;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("validate + render both nodes, {RUNS} runs each (in-process, no disk writes)");
    for name in ["seed-heartbeat", "seed-pacemaker", "loadbalanced", "lab"] {
        let path = root.join(format!("profiles/{name}.toml"));
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                let loaded = pbx_cluster::profile::load(&path).expect("valid profile");
                let mut files = 0;
                for n in &loaded.model.nodes {
                    files += pbx_cluster::render::render_node(&loaded.model, &n.name)
                        .expect("renders")
                        .files
                        .len();
                }
                std::hint::black_box(files);
                t.elapsed()
            })
            .collect();
        times.sort();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{name:<16} min {:>8.1} us  median {:>8.1} us  p95 {:>8.1} us",
            us(times[0]),
            us(times[RUNS / 2]),
            us(times[RUNS * 95 / 100])
        );
    }
}
