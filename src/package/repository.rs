//! Builds an apt repository from a folder of .debs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::release::component_release;
use super::{Deb, KEYRING_FILE, PackageError, PackagesIndex, Release, Signer};
use crate::exec::Runner;

/// What to build.
#[derive(Debug, Clone)]
pub struct RepositorySpec {
    pub debs: PathBuf,
    pub out: PathBuf,
    pub suite: String,
    pub gpg_key: Option<String>,
    /// The Release file's Date, seconds since the epoch.
    pub date: u64,
}

/// What was built.
#[derive(Debug, Clone)]
pub struct Repository {
    pub root: PathBuf,
    pub packages: Vec<String>,
    /// Release, InRelease, Release.gpg and the exported key, in that order.
    pub artifacts: Vec<PathBuf>,
}

impl Repository {
    /// Builds the repository in a staging folder beside `spec.out`, then puts it
    /// in place, so a failure (a bad .deb, a gpg error) leaves the old one whole.
    pub fn build(runner: &dyn Runner, spec: &RepositorySpec) -> Result<Repository, PackageError> {
        check_suite(&spec.suite)?;
        let debs = read_debs(runner, &spec.debs)?;
        check_replaceable(&spec.out)?;

        let parent = match spec.out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .map_err(|e| PackageError::io("cannot create", &parent, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".pbx-cluster-repo-")
            .tempdir_in(&parent)
            .map_err(|e| PackageError::io("cannot create a staging folder in", &parent, e))?;
        let root = staging.path();

        for deb in &debs {
            let dest = root.join(deb.pool_path());
            create_parent(&dest)?;
            std::fs::copy(&deb.path, &dest)
                .map_err(|e| PackageError::io("cannot copy into the pool", &dest, e))?;
        }

        let archs = architectures(&debs);
        let mut release = Release::new(&spec.suite, archs.clone(), spec.date);
        let dists = root.join("dists").join(&spec.suite);
        for arch in &archs {
            let index = PackagesIndex::new(arch, &debs);
            let rel = format!("{}/binary-{arch}", super::COMPONENT);
            let files: [(&str, Vec<u8>); 3] = [
                ("Packages", index.text().as_bytes().to_vec()),
                ("Packages.gz", index.gzip()),
                ("Release", component_release(&spec.suite, arch).into_bytes()),
            ];
            for (name, bytes) in files {
                write(&dists.join(&rel).join(name), &bytes)?;
                release.add_file(&format!("{rel}/{name}"), &bytes);
            }
        }
        let release_path = dists.join("Release");
        write(&release_path, release.render().as_bytes())?;

        let mut artifacts = vec![PathBuf::from("Release")];
        if let Some(key) = &spec.gpg_key {
            let signer = Signer {
                runner,
                key: key.clone(),
            };
            signer.sign(&release_path)?;
            write(&root.join(KEYRING_FILE), &signer.public_key()?)?;
            artifacts.extend(["InRelease", "Release.gpg"].map(PathBuf::from));
        }

        if spec.out.exists() {
            std::fs::remove_dir_all(&spec.out)
                .map_err(|e| PackageError::io("cannot remove the old repository", &spec.out, e))?;
        }
        let kept = staging.keep();
        std::fs::rename(&kept, &spec.out)
            .map_err(|e| PackageError::io("cannot move the repository to", &spec.out, e))?;

        let out_dists = spec.out.join("dists").join(&spec.suite);
        let mut artifacts: Vec<PathBuf> = artifacts.iter().map(|a| out_dists.join(a)).collect();
        if spec.gpg_key.is_some() {
            artifacts.push(spec.out.join(KEYRING_FILE));
        }
        let mut packages: Vec<String> = debs
            .iter()
            .map(|d| format!("{} {} {}", d.package(), d.version(), d.architecture()))
            .collect();
        packages.sort();
        Ok(Repository {
            root: spec.out.clone(),
            packages,
            artifacts,
        })
    }
}

/// A suite name becomes a folder and a sources.list word: keep it plain.
fn check_suite(suite: &str) -> Result<(), PackageError> {
    let ok = !suite.is_empty()
        && !suite.starts_with('.')
        && suite
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(PackageError::BadSuite(suite.to_string()))
    }
}

/// The .debs directly in `dir`, read and checked for duplicates.
fn read_debs(runner: &dyn Runner, dir: &Path) -> Result<Vec<Deb>, PackageError> {
    let entries = std::fs::read_dir(dir).map_err(|e| PackageError::io("cannot list", dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| PackageError::io("cannot list", dir, e))?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "deb") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(PackageError::NoDebs(dir.to_path_buf()));
    }
    let mut seen: BTreeMap<(String, String, String), PathBuf> = BTreeMap::new();
    let mut debs = Vec::new();
    for path in paths {
        let deb = Deb::read(runner, &path)?;
        let key = (
            deb.package().to_string(),
            deb.version().to_string(),
            deb.architecture().to_string(),
        );
        if let Some(first) = seen.get(&key) {
            return Err(PackageError::Duplicate {
                package: key.0,
                version: key.1,
                arch: key.2,
                first: first.clone(),
                second: path,
            });
        }
        seen.insert(key, path);
        debs.push(deb);
    }
    Ok(debs)
}

/// The architectures to index: every one a .deb names, `all` excepted (those
/// go into each index); amd64 when there is nothing else.
fn architectures(debs: &[Deb]) -> Vec<String> {
    let set: BTreeSet<String> = debs
        .iter()
        .map(|d| d.architecture().to_string())
        .filter(|a| a != "all")
        .collect();
    if set.is_empty() {
        vec!["amd64".to_string()]
    } else {
        set.into_iter().collect()
    }
}

/// `out` may be missing, empty, or an earlier repository (it has `dists/`);
/// anything else is someone's folder and is not ours to delete.
fn check_replaceable(out: &Path) -> Result<(), PackageError> {
    if !out.exists() {
        return Ok(());
    }
    let mut entries =
        std::fs::read_dir(out).map_err(|e| PackageError::io("cannot list", out, e))?;
    if entries.next().is_none() || out.join("dists").is_dir() {
        Ok(())
    } else {
        Err(PackageError::NotARepository(out.to_path_buf()))
    }
}

fn create_parent(path: &Path) -> Result<(), PackageError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| PackageError::io("cannot create", parent, e))?;
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    create_parent(path)?;
    std::fs::write(path, bytes).map_err(|e| PackageError::io("cannot write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_names_are_plain_words() {
        for good in ["stable", "bookworm", "pbx-1.0", "a_b"] {
            assert!(check_suite(good).is_ok(), "{good}");
        }
        for bad in ["", "../x", ".hidden", "a b", "a/b"] {
            assert!(check_suite(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_to_replace_a_folder_that_is_not_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_replaceable(&dir.path().join("missing")).is_ok());
        assert!(check_replaceable(dir.path()).is_ok());
        std::fs::write(dir.path().join("thesis.tex"), "x").unwrap();
        let err = check_replaceable(dir.path()).unwrap_err();
        assert!(err.to_string().contains("refusing to replace"), "{err}");
        std::fs::create_dir(dir.path().join("dists")).unwrap();
        assert!(check_replaceable(dir.path()).is_ok());
    }
}
