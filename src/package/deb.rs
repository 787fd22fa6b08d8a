//! One .deb file as the repository sees it: its control fields, size and SHA256.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Control, PackageError};
use crate::exec::{Cmd, Runner};

#[derive(Debug, Clone)]
pub struct Deb {
    pub path: PathBuf,
    pub control: Control,
    pub size: u64,
    /// Lower-case hex, as apt writes it.
    pub sha256: String,
}

impl Deb {
    /// Reads a .deb: the control fields come from `dpkg-deb --field` (dpkg-deb(1)),
    /// so whatever compression the archive uses is dpkg's concern, not ours.
    pub fn read(runner: &dyn Runner, path: &Path) -> Result<Deb, PackageError> {
        let bytes = std::fs::read(path).map_err(|e| PackageError::io("cannot read", path, e))?;
        let out = runner
            .run_ok(&Cmd::new("dpkg-deb").arg("--field").arg(path_arg(path)))
            .map_err(|source| PackageError::Control {
                path: path.to_path_buf(),
                source,
            })?;
        let control = Control::parse(&out.stdout_str()).ok_or_else(|| PackageError::BadDeb {
            path: path.to_path_buf(),
            problem: "dpkg-deb printed a control file that does not parse".into(),
        })?;
        for field in ["Package", "Version", "Architecture"] {
            if control.get(field).is_none_or(str::is_empty) {
                return Err(PackageError::BadDeb {
                    path: path.to_path_buf(),
                    problem: format!("the control file has no {field} field"),
                });
            }
        }
        Ok(Deb {
            path: path.to_path_buf(),
            control,
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        })
    }

    pub fn package(&self) -> &str {
        self.control.get("Package").unwrap_or_default()
    }

    pub fn version(&self) -> &str {
        self.control.get("Version").unwrap_or_default()
    }

    pub fn architecture(&self) -> &str {
        self.control.get("Architecture").unwrap_or_default()
    }

    /// The source package name: the Source field without its "(version)", else
    /// the binary package's own name (deb-control(5)).
    pub fn source(&self) -> &str {
        self.control
            .get("Source")
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| self.package())
    }

    /// Where the file lives in the archive: `pool/main/<prefix>/<source>/<name>`,
    /// with the prefix rule of Debian's archive ("libfoo" -> "libf", else the
    /// first letter) and the canonical file name `name_version_arch.deb`
    /// (the epoch is not part of a file name).
    pub fn pool_path(&self) -> String {
        let source = self.source();
        let prefix = if source.starts_with("lib") && source.len() > 3 {
            &source[..4]
        } else {
            &source[..source.chars().next().map_or(0, char::len_utf8)]
        };
        let version = self
            .version()
            .split_once(':')
            .map_or(self.version(), |(_, v)| v);
        format!(
            "pool/{}/{prefix}/{source}/{}_{version}_{}.deb",
            super::COMPONENT,
            self.package(),
            self.architecture()
        )
    }
}

/// dpkg-deb would take a leading '-' for an option.
fn path_arg(path: &Path) -> String {
    let s = path.display().to_string();
    if s.starts_with('-') {
        format!("./{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deb(fields: &str) -> Deb {
        Deb {
            path: PathBuf::from("x.deb"),
            control: Control::parse(fields).unwrap(),
            size: 0,
            sha256: String::new(),
        }
    }

    #[test]
    fn pool_path_follows_the_archive_layout() {
        let d = deb(
            "Package: pbx-cluster-node-heartbeat\nVersion: 1:0.1.0-1\nArchitecture: all\nSource: pbx-cluster (0.1.0)\n",
        );
        assert_eq!(
            d.pool_path(),
            "pool/main/p/pbx-cluster/pbx-cluster-node-heartbeat_0.1.0-1_all.deb"
        );
        let d = deb("Package: libfoo1\nVersion: 2\nArchitecture: amd64\n");
        assert_eq!(d.pool_path(), "pool/main/libf/libfoo1/libfoo1_2_amd64.deb");
    }

    #[test]
    fn control_fields_come_from_dpkg_deb() {
        use crate::exec::{Output, RecordingRunner};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.deb");
        std::fs::write(&path, b"abc").unwrap();
        let runner = RecordingRunner::new().respond(
            "dpkg-deb --field",
            Output::ok("Package: a\nVersion: 1\nArchitecture: amd64\n"),
        );
        let d = Deb::read(&runner, &path).unwrap();
        assert_eq!(
            runner.lines(),
            [format!("dpkg-deb --field {}", path.display())]
        );
        assert_eq!(d.size, 3);
        // sha256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_control_file_without_version_is_rejected() {
        use crate::exec::{Output, RecordingRunner};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.deb");
        std::fs::write(&path, b"abc").unwrap();
        let runner = RecordingRunner::new()
            .respond("dpkg-deb", Output::ok("Package: a\nArchitecture: amd64\n"));
        let err = Deb::read(&runner, &path).unwrap_err();
        assert!(err.to_string().contains("no Version field"), "{err}");
    }
}
