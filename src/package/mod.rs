//! Packaging: the apt repository that serves pbx-cluster's .deb packages.
//!
//! Input: a folder of .deb files (built by `packaging/build-debs`) and a suite name.
//! Output: an apt repository laid out as Debian's archive is (`pool/`, `dists/`),
//! described by a Release file and, given a GPG key, signed (InRelease,
//! Release.gpg) with the public key exported for `signed-by=`.
//!
//! Invariants: the same .debs and the same `SOURCE_DATE_EPOCH` give the same
//! unsigned repository bytes (stanzas sorted, gzip without a timestamp); every
//! external command (dpkg-deb, gpg) goes through [`crate::exec::Runner`].
//! Formats follow the Debian Repository Format
//! (https://wiki.debian.org/DebianRepository/Format).

mod control;
mod deb;
mod packages_index;
mod release;
mod repository;
mod signer;

pub use control::Control;
pub use deb::Deb;
pub use packages_index::PackagesIndex;
pub use release::{Release, iso_date, rfc2822_date};
pub use repository::{Repository, RepositorySpec};
pub use signer::Signer;

use std::path::PathBuf;

use crate::exec::ExecError;

/// The component every package lands in; pbx-cluster has no non-free parts.
pub const COMPONENT: &str = "main";

/// The file name of the exported public key, beside `dists/` in the repository.
pub const KEYRING_FILE: &str = "pbx-cluster-archive-keyring.gpg";

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not read the control fields of {}", .path.display())]
    Control {
        path: PathBuf,
        #[source]
        source: ExecError,
    },
    #[error("{}: {problem}", .path.display())]
    BadDeb { path: PathBuf, problem: String },
    #[error("no .deb files in {}", .0.display())]
    NoDebs(PathBuf),
    #[error("{package} {version} ({arch}) is in both {} and {}", .first.display(), .second.display())]
    Duplicate {
        package: String,
        version: String,
        arch: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("invalid suite name {0:?}: use letters, digits, '.', '-' or '_' (e.g. \"stable\")")]
    BadSuite(String),
    #[error("{} exists and is not an apt repository built by pbx-cluster; refusing to replace it", .0.display())]
    NotARepository(PathBuf),
    #[error("signing with GPG key {key} failed")]
    Sign {
        key: String,
        #[source]
        source: ExecError,
    },
    #[error("GPG key {0} has no public key in the keyring (is GNUPGHOME right?)")]
    NoPublicKey(String),
}

impl PackageError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PackageError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
