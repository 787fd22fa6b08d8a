//! Lab setup before any scenario: the lab key, each engine's and mode's profile
//! and images, the accelerator; and one engine's lab in one mode.

pub mod accel;
pub mod images;
pub mod profile;

use std::path::{Path, PathBuf};

use pbx_cluster::exec::Cmd;

use crate::Error;
use crate::cluster::{Pair, specs};
use crate::engines::EngineHome;
use crate::lab::run;
use crate::modes::ModeHome;
use crate::vm::Accel;

/// One engine's lab in one mode: what its run needs besides the arguments.
pub struct EngineLab<'a> {
    pub engine: &'static dyn EngineHome,
    pub mode: &'static dyn ModeHome,
    pub images: &'a Path,
    pub work: &'a Path,
    pub key: &'a Path,
    pub accel: Accel,
    pub logs: &'a Path,
}

impl EngineLab<'_> {
    /// Names the pair's disks and logs.
    pub fn label(&self) -> String {
        self.mode.label(self.engine)
    }

    pub fn pair(&self) -> Result<Pair, Error> {
        Pair::new(
            specs(self.images, self.work, &self.label()),
            self.key.to_path_buf(),
            self.accel,
            self.engine,
            self.logs.to_path_buf(),
        )
    }
}

/// `dir` and its parents, created.
pub fn create_dir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// The lab's ssh key (WORK/ssh/id_ed25519), made once.
pub fn ensure_key(work: &Path) -> Result<PathBuf, Error> {
    let dir = work.join("ssh");
    let key = dir.join("id_ed25519");
    if !key.exists() {
        create_dir(&dir)?;
        run(Cmd::new("ssh-keygen").args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "pbx-cluster vm-tests lab key",
            "-f",
            &key.display().to_string(),
        ]))?;
    }
    Ok(key)
}
