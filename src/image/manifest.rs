//! The build's inputs and its manifest.
//!
//! [`Inputs`] is everything that decides an image's content; its sha256 decides
//! whether a build can be skipped. [`Manifest`] is written beside the image last,
//! so a manifest whose input hash matches proves a finished build.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    pub pbx_cluster_version: String,
    pub node: String,
    pub distro: String,
    pub profile_sha256: String,
    /// The profile's secret file as copied into the image (sha256 only).
    pub secret_sha256: Option<String>,
    pub mirror: String,
    pub suite: String,
    pub components: Vec<String>,
    pub extra_sources: Vec<String>,
    pub packages: Vec<String>,
    /// `binary:SHA256` or `repo:SHA256 of its index files`.
    pub pbx_cluster_source: String,
    pub lab: bool,
    pub ssh_key_sha256: Option<String>,
    pub disk_size_mib: u64,
    /// The files the image carries, path -> sha256, so a template change rebuilds.
    pub files: Vec<(String, String)>,
    /// The published image the root started from: URL and its listed digest.
    /// Absent for mmdebstrap builds (their input hash stays what it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_image: Option<BaseInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseInput {
    pub url: String,
    pub algo: String,
    pub digest: String,
}

impl Inputs {
    pub fn sha256(&self) -> String {
        let json = serde_json::to_vec(self).expect("inputs serialize");
        sha256_hex(&json)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub file: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub input_sha256: String,
    pub inputs: Inputs,
    /// RFC 3339, UTC.
    pub built_at: String,
    pub build_seconds: f64,
    pub kernel_cmdline: String,
    pub disk: Artifact,
    pub disk_virtual_bytes: u64,
    pub kernel: Artifact,
    pub initrd: Artifact,
    pub rootfs_bytes: u64,
    pub packages: Vec<Package>,
}

impl Manifest {
    /// True when this manifest records a build of exactly these inputs whose
    /// artifacts are still in `out` with their recorded sizes.
    pub fn is_current(&self, input_sha256: &str, out: &Path) -> bool {
        self.input_sha256 == input_sha256
            && [&self.disk, &self.kernel, &self.initrd]
                .iter()
                .all(|a| std::fs::metadata(out.join(&a.file)).is_ok_and(|m| m.len() == a.bytes))
    }

    pub fn read(path: &Path) -> Option<Manifest> {
        let text = std::fs::read(path).ok()?;
        serde_json::from_slice(&text).ok()
    }
}

/// Installed packages from a dpkg status file (`/var/lib/dpkg/status`), sorted.
pub fn installed_packages(status: &str) -> Vec<Package> {
    let mut out = Vec::new();
    for para in status.split("\n\n") {
        let mut name = None;
        let mut version = None;
        let mut installed = false;
        for line in para.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            }
        }
        if let (Some(n), Some(v), true) = (name, version, installed) {
            out.push(Package {
                name: n.to_string(),
                version: v.to_string(),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_yields_installed_packages_only_sorted() {
        let status = "Package: zsh\nStatus: install ok installed\nVersion: 5.9-1\n\n\
                      Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
                      Package: asterisk\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:22.5.2~dfsg+~cs6.13.40431414-3\n";
        let pkgs = installed_packages(status);
        assert_eq!(
            pkgs,
            vec![
                Package {
                    name: "asterisk".into(),
                    version: "1:22.5.2~dfsg+~cs6.13.40431414-3".into()
                },
                Package {
                    name: "zsh".into(),
                    version: "5.9-1".into()
                },
            ]
        );
    }
}
