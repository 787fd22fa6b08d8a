//! Atomic file writes: a temp file in the same folder, fsync, chmod, rename.
//! A crash leaves either the old file or the new one, never half of one.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writes `bytes` to `path` atomically with `mode`; creates parent folders.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".pbx-cluster-")
        .tempfile_in(dir)?;
    // Mode first, so a secret is never readable by others, not even briefly.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// An exclusive lock on `path` (created 0600 if missing) for as long as the
/// file lives; refused at once, naming the file, when another process holds it.
pub fn lock_exclusive(path: &Path) -> crate::error::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e| crate::error::Error::io("cannot lock", path, e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    // SAFETY: flock on a descriptor this function owns; no memory is shared.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::WouldBlock {
            return Err(crate::error::Error::usage(
                format!(
                    "another pbx-cluster apply or init runs on this node (it holds {})",
                    path.display()
                ),
                "wait for it to finish, then run this command again",
            ));
        }
        return Err(io(e));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_and_free_again_once_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run/pbx-cluster.lock");
        let held = lock_exclusive(&p).unwrap();
        let e = lock_exclusive(&p).unwrap_err();
        assert!(e.to_string().contains("another pbx-cluster apply"), "{e}");
        drop(held);
        assert!(lock_exclusive(&p).is_ok());
    }

    #[test]
    fn writes_with_mode_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/secret");
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o400).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o400);
        let leftovers: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
    }
}
