//! The crate's top-level error, its exit codes, and the one printer.
//!
//! Exit codes (documented in README.md):
//! 0 ok, 1 error, 2 usage error or invalid profile, 3 plan found changes,
//! 4 verification failed / cluster not healthy.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::diagnostics::Diagnostics;
use crate::exec::ExecError;
use crate::package::PackageError;

pub const EXIT_ERROR: u8 = 1;
pub const EXIT_INVALID: u8 = 2;
pub const EXIT_CHANGES: u8 = 3;
pub const EXIT_UNHEALTHY: u8 = 4;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The profile did not parse or did not validate; each problem is listed.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// Bad flags or arguments that clap could not catch.
    #[error("{message}")]
    Usage { message: String, fix: String },
    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("drbdlinks: {0}")]
    Drbdlinks(#[from] crate::runtime::drbdlinks::DrbdlinksError),
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    /// A template did not render: a bug in pbx-cluster, not in the profile.
    #[error("template {template} failed to render: {message}")]
    Template { template: String, message: String },
    #[error(transparent)]
    Fence(#[from] crate::runtime::fence_peer::FenceError),
    #[error(transparent)]
    Peer(#[from] crate::apply::peer::PeerError),
    #[error("updating the live CIB: {0}")]
    CibUpdate(#[from] crate::runtime::cib_update::CibUpdateError),
    /// A step failed; `note` says what was already changed and how to resume.
    #[error("{step}: {source}")]
    Step {
        step: String,
        note: String,
        #[source]
        source: Box<Error>,
    },
    #[error("{0}")]
    Unhealthy(String),
    /// A wait for the cluster or the node to reach a state ran out: the state was
    /// not reached (exit 4, like a failed verification). Waits on a local
    /// operation (an unmount) turn it into an error of their own.
    #[error("timed out after {after_s}s waiting for {what}; last seen: {seen}")]
    Timeout {
        what: String,
        after_s: u64,
        seen: String,
    },
    /// A mount point that stayed busy: a local problem (exit 1), not the cluster's.
    #[error("{mount_point} stayed busy for {after_s} s: umount said {seen}")]
    Busy {
        mount_point: String,
        after_s: u64,
        seen: String,
    },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid(_) | Error::Usage { .. } => EXIT_INVALID,
            Error::Package(PackageError::BadSuite(_)) => EXIT_INVALID,
            Error::Image(e) if e.is_usage() => EXIT_INVALID,
            Error::Unhealthy(_) | Error::Timeout { .. } => EXIT_UNHEALTHY,
            Error::Drbdlinks(e) if e.is_invalid_config() => EXIT_INVALID,
            Error::Peer(crate::apply::peer::PeerError::Refused(_)) => EXIT_INVALID,
            Error::Step { source, .. } => match source.exit_code() {
                code @ (EXIT_INVALID | EXIT_UNHEALTHY) => code,
                _ => EXIT_ERROR,
            },
            _ => EXIT_ERROR,
        }
    }

    pub fn usage(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }

    fn note(&self) -> Option<Cow<'_, str>> {
        use crate::runtime::drbdlinks::DrbdlinksError as D;
        let text: &str = match self {
            Error::Drbdlinks(D::Conflict { .. }) => {
                "something recreated the path after it was linked (a package upgrade?); \
                 merge it into the shared copy or the backup by hand, remove one, and retry"
            }
            Error::Drbdlinks(D::NotMounted { .. }) => {
                "start the filesystem resource first (the CIB orders it before drbdlinks)"
            }
            Error::Image(e) => return Some(Cow::Owned(e.fix())),
            Error::Template { .. } => {
                "this is a bug in pbx-cluster's templates; please report it with the profile (secrets removed)"
            }
            Error::Fence(_) => "DRBD keeps I/O frozen until a handler run succeeds",
            Error::Peer(e) => return Some(Cow::Owned(e.fix())),
            Error::Usage { fix, .. } => fix,
            Error::Step { note, .. } => note,
            Error::Busy { mount_point, .. } => {
                return Some(Cow::Owned(format!(
                    "find what holds it with `fuser -vm {mount_point}`, stop it, and run the command again"
                )));
            }
            _ => return None,
        };
        (!text.is_empty()).then_some(Cow::Borrowed(text))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Formats an error as `error:` / `cause:` / `note:` lines.
pub fn format(err: &Error) -> String {
    let mut out = String::new();
    if let Error::Invalid(diags) = err {
        out.push_str(&diags.to_string());
        return out;
    }
    let head = match err {
        // The step's own error is printed as a cause below.
        Error::Step { step, .. } => format!("{step} failed"),
        _ => err.to_string(),
    };
    out.push_str(&format!("error: {head}\n"));
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        out.push_str(&format!("cause: {c}\n"));
        cause = c.source();
    }
    // A step's own error may carry the fix; it comes before what the step says
    // about the state it left.
    let mut inner = err;
    while let Error::Step { source, .. } = inner {
        inner = source;
    }
    if !std::ptr::eq(inner, err)
        && let Some(fix) = inner.note()
    {
        out.push_str(&format!("note: {fix}\n"));
    }
    if let Some(note) = err.note() {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

pub fn print(err: &Error) {
    eprint!("{}", format(err));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{ImageError, spec::SpecError};

    #[test]
    fn typed_errors_keep_their_exit_code_and_fix() {
        let e: Error = ImageError::from(SpecError::NoInstallSource).into();
        assert_eq!(e.exit_code(), EXIT_INVALID);
        assert!(
            format(&e).contains("note: --repo takes a folder"),
            "{}",
            format(&e)
        );

        let e: Error = ImageError::NoKernel {
            boot: "/r/boot".into(),
        }
        .into();
        assert_eq!(e.exit_code(), EXIT_ERROR);
        assert_eq!(
            format(&e),
            "error: no kernel in /r/boot\nnote: the kernel package did not install; see mmdebstrap's output above\n"
        );

        let e = Error::Busy {
            mount_point: "/mnt/share".into(),
            after_s: 30,
            seen: "target is busy".into(),
        };
        assert_eq!(
            e.exit_code(),
            EXIT_ERROR,
            "a busy mount is not an unhealthy cluster"
        );
        assert!(format(&e).contains("note: find what holds it with `fuser -vm /mnt/share`"));

        let e = Error::Template {
            template: "x.j2".into(),
            message: "undefined value".into(),
        };
        assert!(format(&e).contains("this is a bug in pbx-cluster's templates"));
    }
}
