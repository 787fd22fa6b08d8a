//! Published base images: download with reqwest into the cache and verify against
//! the publisher's checksum list before anything uses them.
//!
//! Ubuntu publishes SHA256SUMS beside its cloud images, Debian SHA512SUMS; the
//! algorithm follows the listed digest's length. A file already in the cache with
//! the listed digest is not downloaded again; a download lands under a `.part`
//! name and is renamed only once verified, so the cache never holds an unverified
//! file under its real name.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256, Sha512};

use crate::output::Reporter;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("GET {url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    #[error("{sums_url} does not list {file} (with a sha256 or sha512 digest)")]
    NotListed { sums_url: String, file: String },
    #[error("{file}: {algo} is {actual}, but the checksum list says {expected}")]
    Mismatch {
        file: String,
        algo: &'static str,
        expected: String,
        actual: String,
    },
    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A digest as a checksum list gives it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Listed {
    /// `sha256` or `sha512`.
    pub algo: String,
    pub hex: String,
}

/// The digest that a SHA256SUMS or SHA512SUMS text (`HEX  NAME` or `HEX *NAME`)
/// lists for `file`.
pub fn listed_digest(sums: &str, file: &str) -> Option<Listed> {
    sums.lines().find_map(|line| {
        let (hash, name) = line.trim().split_once(char::is_whitespace)?;
        let name = name
            .trim_start()
            .trim_start_matches('*')
            .trim_start_matches("./");
        let algo = match hash.len() {
            64 => "sha256",
            128 => "sha512",
            _ => return None,
        };
        (name == file && hash.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Listed {
            algo: algo.into(),
            hex: hash.to_ascii_lowercase(),
        })
    })
}

fn file_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// The checksum list `sums_name` (SHA256SUMS, SHA512SUMS) beside the image.
pub fn sums_url_beside(url: &str, sums_name: &str) -> String {
    match url.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{sums_name}"),
        None => sums_name.into(),
    }
}

/// One hasher for either algorithm.
enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algo: &str) -> Hasher {
        if algo == "sha512" {
            Hasher::Sha512(Sha512::new())
        } else {
            Hasher::Sha256(Sha256::new())
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    fn hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

fn file_digest(path: &Path, algo: &str) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Hasher::new(algo);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.hex());
        }
        h.update(&buf[..n]);
    }
}

fn client(url: &str) -> Result<reqwest::blocking::Client, DownloadError> {
    reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .map_err(|source| DownloadError::Http {
            url: url.into(),
            source,
        })
}

fn get(
    client: &reqwest::blocking::Client,
    url: &str,
) -> Result<reqwest::blocking::Response, DownloadError> {
    let resp = client
        .get(url)
        .send()
        .map_err(|source| DownloadError::Http {
            url: url.into(),
            source,
        })?;
    if !resp.status().is_success() {
        return Err(DownloadError::Status {
            url: url.into(),
            status: resp.status().as_u16(),
        });
    }
    Ok(resp)
}

/// What the publisher's checksum list says `url` must hash to; fetches only the
/// list (an unchanged image is recognised without downloading it).
pub fn expected_digest(url: &str, sums_url: &str) -> Result<Listed, DownloadError> {
    let sums = get(&client(sums_url)?, sums_url)?
        .text()
        .map_err(|source| DownloadError::Http {
            url: sums_url.into(),
            source,
        })?;
    listed_digest(&sums, file_name(url)).ok_or_else(|| DownloadError::NotListed {
        sums_url: sums_url.into(),
        file: file_name(url).into(),
    })
}

/// Downloads `url` into `cache` unless a copy with the `expected` digest is there;
/// returns its path.
pub fn fetch_verified(
    url: &str,
    expected: &Listed,
    cache: &Path,
    progress: &Reporter,
) -> Result<PathBuf, DownloadError> {
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| DownloadError::Io { what, path, source }
    };
    let name = file_name(url);
    std::fs::create_dir_all(cache).map_err(io("cannot create the cache", cache))?;
    let dest = cache.join(name);
    if dest.exists()
        && file_digest(&dest, &expected.algo).map_err(io("cannot read", &dest))? == expected.hex
    {
        progress.line(&format!("{name}: cached copy verified ({})", expected.algo));
        return Ok(dest);
    }
    let part = cache.join(format!(".{name}.part"));
    let mut resp = get(&client(url)?, url)?;
    let step = progress.bytes(
        &format!("download {name}"),
        resp.content_length().unwrap_or(0),
    );
    let mut out = std::fs::File::create(&part).map_err(io("cannot create", &part))?;
    let mut hasher = Hasher::new(&expected.algo);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = resp
            .read(&mut buf)
            .map_err(io("cannot download into", &part))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(io("cannot write", &part))?;
        step.advance(n as u64);
    }
    out.sync_all().map_err(io("cannot write", &part))?;
    let actual = hasher.hex();
    if actual != expected.hex {
        let _ = std::fs::remove_file(&part);
        return Err(DownloadError::Mismatch {
            file: name.into(),
            algo: if expected.algo == "sha512" {
                "sha512"
            } else {
                "sha256"
            },
            expected: expected.hex.clone(),
            actual,
        });
    }
    std::fs::rename(&part, &dest).map_err(io("cannot rename into", &dest))?;
    step.done();
    Ok(dest)
}

#[cfg(test)]
pub(crate) mod test_server {
    //! A static HTTP server on 127.0.0.1 (kernel-chosen port) for download tests;
    //! it counts the requests per path and stops when dropped.

    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    pub struct Served {
        server: Arc<tiny_http::Server>,
        pub base: String,
        hits: Arc<Mutex<BTreeMap<String, usize>>>,
    }

    impl Served {
        pub fn hits(&self, path: &str) -> usize {
            self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
        }
    }

    impl Drop for Served {
        fn drop(&mut self) {
            self.server.unblock();
        }
    }

    pub fn serve(files: Vec<(String, Vec<u8>)>) -> Served {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("ip listener").port();
        let hits = Arc::new(Mutex::new(BTreeMap::new()));
        let (s, h) = (server.clone(), hits.clone());
        std::thread::spawn(move || {
            for req in s.incoming_requests() {
                let path = req.url().to_string();
                *h.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                let resp = match files.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => tiny_http::Response::from_data(body.clone()),
                    None => tiny_http::Response::from_data(Vec::new()).with_status_code(404),
                };
                let _ = req.respond(resp);
            }
        });
        Served {
            server,
            base: format!("http://127.0.0.1:{port}"),
            hits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_server::serve;
    use super::*;

    fn sha256_hex(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    fn sha512_hex(b: &[u8]) -> String {
        hex::encode(Sha512::digest(b))
    }

    fn sums(lines: &[(&str, String)]) -> Vec<u8> {
        lines
            .iter()
            .map(|(name, hex)| format!("{hex}  {name}\n"))
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn sums_lines_in_both_formats_and_both_algorithms_are_found() {
        let h = "a".repeat(64);
        let l = listed_digest(&format!("{h}  x.qcow2\n"), "x.qcow2").unwrap();
        assert_eq!((l.algo.as_str(), l.hex.as_str()), ("sha256", h.as_str()));
        assert_eq!(
            listed_digest(&format!("{h} *x.qcow2\n"), "x.qcow2").map(|l| l.hex),
            Some(h.clone())
        );
        let h512 = "B".repeat(128);
        let l = listed_digest(&format!("{h512}  ./x.qcow2\n"), "x.qcow2").unwrap();
        assert_eq!((l.algo.as_str(), l.hex), ("sha512", h512.to_lowercase()));
        assert_eq!(listed_digest(&format!("{h}  y.qcow2\n"), "x.qcow2"), None);
        assert_eq!(listed_digest("short  x.qcow2\n", "x.qcow2"), None);
        assert_eq!(
            listed_digest(&format!("{}  x.qcow2\n", "g".repeat(64)), "x.qcow2"),
            None
        );
    }

    #[test]
    fn a_verified_download_lands_in_the_cache_and_is_reused() {
        let body = b"pretend this is a cloud image".to_vec();
        let server = serve(vec![
            ("/img/base.qcow2".into(), body.clone()),
            (
                "/img/SHA512SUMS".into(),
                sums(&[
                    ("other.img", "0".repeat(128)),
                    ("base.qcow2", sha512_hex(&body)),
                ]),
            ),
        ]);
        let cache = tempfile::tempdir().unwrap();
        let url = format!("{}/img/base.qcow2", server.base);
        let want = expected_digest(&url, &sums_url_beside(&url, "SHA512SUMS")).unwrap();
        assert_eq!(want.algo, "sha512");
        let got = fetch_verified(&url, &want, cache.path(), &Reporter::silent()).unwrap();
        assert_eq!(std::fs::read(&got).unwrap(), body);
        // Second call: the cached copy is verified and reused, not downloaded again.
        let again = fetch_verified(&url, &want, cache.path(), &Reporter::silent()).unwrap();
        assert_eq!(again, got);
        assert_eq!(server.hits("/img/base.qcow2"), 1);
    }

    #[test]
    fn a_corrupt_download_is_refused_and_not_cached() {
        let server = serve(vec![
            ("/base.qcow2".into(), b"tampered".to_vec()),
            (
                "/SHA256SUMS".into(),
                sums(&[("base.qcow2", sha256_hex(b"original"))]),
            ),
        ]);
        let cache = tempfile::tempdir().unwrap();
        let url = format!("{}/base.qcow2", server.base);
        let want = expected_digest(&url, &sums_url_beside(&url, "SHA256SUMS")).unwrap();
        let err = fetch_verified(&url, &want, cache.path(), &Reporter::silent()).unwrap_err();
        assert!(matches!(err, DownloadError::Mismatch { .. }), "{err}");
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_tampered_cached_copy_is_downloaded_again() {
        let body = b"the real image".to_vec();
        let server = serve(vec![("/base.qcow2".into(), body.clone())]);
        let cache = tempfile::tempdir().unwrap();
        std::fs::write(cache.path().join("base.qcow2"), b"bit rot").unwrap();
        let want = Listed {
            algo: "sha256".into(),
            hex: sha256_hex(&body),
        };
        let url = format!("{}/base.qcow2", server.base);
        let got = fetch_verified(&url, &want, cache.path(), &Reporter::silent()).unwrap();
        assert_eq!(std::fs::read(got).unwrap(), body);
        assert_eq!(server.hits("/base.qcow2"), 1);
    }

    #[test]
    fn a_file_missing_from_the_sums_is_refused_before_download() {
        let server = serve(vec![(
            "/SHA256SUMS".into(),
            sums(&[("other.img", sha256_hex(b"x"))]),
        )]);
        let url = format!("{}/base.qcow2", server.base);
        let err = expected_digest(&url, &sums_url_beside(&url, "SHA256SUMS")).unwrap_err();
        assert!(matches!(err, DownloadError::NotListed { .. }), "{err}");
        assert!(err.to_string().contains("base.qcow2"), "{err}");
        assert_eq!(server.hits("/base.qcow2"), 0);
    }

    #[test]
    fn a_missing_sums_file_names_the_url_and_status() {
        let server = serve(Vec::new());
        let url = format!("{}/base.qcow2", server.base);
        let sums_url = sums_url_beside(&url, "SHA512SUMS");
        let err = expected_digest(&url, &sums_url).unwrap_err().to_string();
        assert!(err.contains(&sums_url) && err.contains("404"), "{err}");
    }
}
