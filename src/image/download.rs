//! Published base images: download with reqwest into the cache and verify against
//! the publisher's SHA256SUMS before anything uses them.
//!
//! A file already in the cache with the listed sha256 is not downloaded again; a
//! download lands under a `.part` name and is renamed only once verified, so the
//! cache never holds an unverified file under its real name.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::manifest::sha256_file;
use super::progress::Progress;

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
    #[error("{sums_url} does not list {file}")]
    NotListed { sums_url: String, file: String },
    #[error("{file}: sha256 is {actual}, but SHA256SUMS says {expected}")]
    Mismatch {
        file: String,
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

/// The sha256 that a SHA256SUMS text (`HEX  NAME` or `HEX *NAME`) lists for `file`.
pub fn listed_sha256(sums: &str, file: &str) -> Option<String> {
    sums.lines().find_map(|line| {
        let (hash, name) = line.trim().split_once(char::is_whitespace)?;
        let name = name
            .trim_start()
            .trim_start_matches('*')
            .trim_start_matches("./");
        (name == file && hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| hash.to_ascii_lowercase())
    })
}

fn file_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// SHA256SUMS beside the image, as Debian and Ubuntu publish it.
pub fn default_sums_url(url: &str) -> String {
    match url.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/SHA256SUMS"),
        None => "SHA256SUMS".into(),
    }
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

/// Downloads `url` into `cache` unless a verified copy is there; returns its path.
pub fn fetch_verified(
    url: &str,
    sums_url: &str,
    cache: &Path,
    progress: &Progress,
) -> Result<PathBuf, DownloadError> {
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| DownloadError::Io { what, path, source }
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .map_err(|source| DownloadError::Http {
            url: url.into(),
            source,
        })?;
    let sums = get(&client, sums_url)?
        .text()
        .map_err(|source| DownloadError::Http {
            url: sums_url.into(),
            source,
        })?;
    let name = file_name(url);
    let expected = listed_sha256(&sums, name).ok_or_else(|| DownloadError::NotListed {
        sums_url: sums_url.into(),
        file: name.into(),
    })?;
    std::fs::create_dir_all(cache).map_err(io("cannot create the cache", cache))?;
    let dest = cache.join(name);
    if dest.exists() && sha256_file(&dest).map_err(io("cannot read", &dest))? == expected {
        progress.note(&format!("{name}: cached copy verified"));
        return Ok(dest);
    }
    let part = cache.join(format!(".{name}.part"));
    let mut resp = get(&client, url)?;
    let step = progress.bytes(
        format!("download {name}"),
        resp.content_length().unwrap_or(0),
    );
    let mut out = std::fs::File::create(&part).map_err(io("cannot create", &part))?;
    let mut hasher = Sha256::new();
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
    let actual = hex::encode(hasher.finalize());
    if actual != expected {
        let _ = std::fs::remove_file(&part);
        return Err(DownloadError::Mismatch {
            file: name.into(),
            expected,
            actual,
        });
    }
    std::fs::rename(&part, &dest).map_err(io("cannot rename into", &dest))?;
    step.finish();
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;

    /// A tiny HTTP/1.0 server on 127.0.0.1 answering from a fixed table; it
    /// serves `requests` requests and stops.
    fn serve(files: Vec<(&'static str, Vec<u8>)>, requests: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let mut stream = stream.unwrap();
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                        break;
                    }
                }
                match files.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => {
                        write!(
                            stream,
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        )
                        .unwrap();
                        stream.write_all(body).unwrap();
                    }
                    None => {
                        stream
                            .write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                            .unwrap();
                    }
                }
            }
        });
        format!("http://{addr}")
    }

    fn sums_for(name: &str, body: &[u8]) -> Vec<u8> {
        format!(
            "{}  other.img\n{} *{name}\n",
            "0".repeat(64),
            super::super::manifest::sha256_hex(body)
        )
        .into_bytes()
    }

    #[test]
    fn sums_lines_in_both_formats_are_found() {
        let h = "a".repeat(64);
        assert_eq!(
            listed_sha256(&format!("{h}  x.qcow2\n"), "x.qcow2"),
            Some(h.clone())
        );
        assert_eq!(
            listed_sha256(&format!("{h} *x.qcow2\n"), "x.qcow2"),
            Some(h.clone())
        );
        assert_eq!(listed_sha256(&format!("{h}  y.qcow2\n"), "x.qcow2"), None);
        assert_eq!(listed_sha256("short  x.qcow2\n", "x.qcow2"), None);
    }

    #[test]
    fn verified_download_lands_in_the_cache_and_is_reused() {
        let body = b"pretend this is a cloud image".to_vec();
        let base = serve(
            vec![
                ("/img/base.tar.xz", body.clone()),
                ("/img/SHA256SUMS", sums_for("base.tar.xz", &body)),
            ],
            3,
        );
        let cache = tempfile::tempdir().unwrap();
        let url = format!("{base}/img/base.tar.xz");
        let got = fetch_verified(
            &url,
            &default_sums_url(&url),
            cache.path(),
            &Progress::silent(),
        )
        .unwrap();
        assert_eq!(std::fs::read(&got).unwrap(), body);
        // Second call: only SHA256SUMS is fetched (the server answers 3 requests
        // in all); the cached copy is verified and reused.
        let again = fetch_verified(
            &url,
            &default_sums_url(&url),
            cache.path(),
            &Progress::silent(),
        )
        .unwrap();
        assert_eq!(again, got);
    }

    #[test]
    fn a_corrupt_download_is_refused_and_not_cached() {
        let body = b"tampered".to_vec();
        let base = serve(
            vec![
                ("/base.tar.xz", body),
                ("/SHA256SUMS", sums_for("base.tar.xz", b"original")),
            ],
            2,
        );
        let cache = tempfile::tempdir().unwrap();
        let url = format!("{base}/base.tar.xz");
        let err = fetch_verified(
            &url,
            &default_sums_url(&url),
            cache.path(),
            &Progress::silent(),
        )
        .unwrap_err();
        assert!(matches!(err, DownloadError::Mismatch { .. }), "{err}");
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_file_missing_from_the_sums_is_refused_before_download() {
        let base = serve(vec![("/SHA256SUMS", sums_for("other.img", b"x"))], 1);
        let cache = tempfile::tempdir().unwrap();
        let url = format!("{base}/base.tar.xz");
        let err = fetch_verified(
            &url,
            &default_sums_url(&url),
            cache.path(),
            &Progress::silent(),
        )
        .unwrap_err();
        assert!(matches!(err, DownloadError::NotListed { .. }), "{err}");
    }
}
