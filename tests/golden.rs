//! Golden files: every rendered file of every shipped profile, for both nodes.
//! Reviewing a template change means reviewing the snapshot diff
//! (`cargo insta review`, or INSTA_UPDATE=always then `git diff tests/snapshots`).

mod common;

use common::*;
use sha2::Digest;

#[test]
fn every_rendered_file_matches_its_snapshot() {
    let all = SHIPPED_PROFILES
        .iter()
        .map(|n| (n, profile(n)))
        .chain(FIXTURE_PROFILES.iter().map(|n| (n, fixture(n))));
    for (name, path) in all {
        let out = render_all(&path);
        for f in files_under(out.path()) {
            let bytes = std::fs::read(out.path().join(&f)).unwrap();
            let body = match String::from_utf8(bytes.clone()) {
                Ok(s) => s,
                // Binary keys: their length and digest stand for the bytes.
                Err(_) => format!(
                    "binary, {} bytes, sha256 {}\n",
                    bytes.len(),
                    hex::encode(sha2::Sha256::digest(&bytes))
                ),
            };
            let snap = format!("{name}__{}", f.display()).replace('/', "__");
            insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_snapshot!(snap, body);
            });
        }
    }
}
