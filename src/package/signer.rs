//! Signs a Release file with gpg, the way apt-secure(8) checks it.

use std::path::Path;

use super::PackageError;
use crate::exec::{Cmd, Runner};

/// A GPG key in the caller's keyring (`GNUPGHOME` or ~/.gnupg); gpg runs in
/// batch mode, so the key must not need a passphrase prompt.
pub struct Signer<'a> {
    pub runner: &'a dyn Runner,
    pub key: String,
}

impl Signer<'_> {
    fn gpg(&self) -> Cmd {
        // SHA512: apt refuses SHA1-signed Release files since 2.1.
        Cmd::new("gpg").args([
            "--batch",
            "--yes",
            "--no-tty",
            "--digest-algo",
            "SHA512",
            "--local-user",
            self.key.as_str(),
        ])
    }

    fn run(&self, cmd: Cmd) -> Result<Vec<u8>, PackageError> {
        self.runner
            .run_ok(&cmd)
            .map(|o| o.stdout)
            .map_err(|source| PackageError::Sign {
                key: self.key.clone(),
                source,
            })
    }

    /// Writes `InRelease` (clear-signed) and `Release.gpg` (detached, armored)
    /// beside `release`.
    pub fn sign(&self, release: &Path) -> Result<(), PackageError> {
        let dir = release.parent().unwrap_or(Path::new("."));
        let release_arg = release.display().to_string();
        let inrelease = dir.join("InRelease").display().to_string();
        let detached = dir.join("Release.gpg").display().to_string();
        self.run(
            self.gpg()
                .args(["--clearsign", "--output", inrelease.as_str()])
                .arg(release_arg.as_str()),
        )?;
        self.run(
            self.gpg()
                .args(["--armor", "--detach-sign", "--output", detached.as_str()])
                .arg(release_arg.as_str()),
        )?;
        Ok(())
    }

    /// The public key in binary form, the format `signed-by=` reads from a
    /// `.gpg` file (sources.list(5)).
    pub fn public_key(&self) -> Result<Vec<u8>, PackageError> {
        // gpg exits 0 with no output for an unknown key, hence the check.
        let key = self.run(Cmd::new("gpg").args(["--batch", "--export", self.key.as_str()]))?;
        if key.is_empty() {
            return Err(PackageError::NoPublicKey(self.key.clone()));
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Output, RecordingRunner};

    #[test]
    fn signs_inrelease_and_detached_with_the_given_key() {
        let runner = RecordingRunner::new();
        let signer = Signer {
            runner: &runner,
            key: "ABCD".into(),
        };
        signer.sign(Path::new("/r/dists/s/Release")).unwrap();
        let common = "gpg --batch --yes --no-tty --digest-algo SHA512 --local-user ABCD";
        assert_eq!(
            runner.lines(),
            [
                format!("{common} --clearsign --output /r/dists/s/InRelease /r/dists/s/Release"),
                format!(
                    "{common} --armor --detach-sign --output /r/dists/s/Release.gpg /r/dists/s/Release"
                ),
            ]
        );
    }

    #[test]
    fn an_unknown_key_is_an_error_not_an_empty_keyring() {
        let runner = RecordingRunner::new().respond("gpg --batch --export", Output::ok(""));
        let signer = Signer {
            runner: &runner,
            key: "NOPE".into(),
        };
        let err = signer.public_key().unwrap_err();
        assert!(matches!(err, PackageError::NoPublicKey(_)), "{err}");
    }
}
