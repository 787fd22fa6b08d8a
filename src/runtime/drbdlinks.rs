//! drbdlinks: put local paths onto the replicated disk by symlink, and take them back.
//!
//! Input: a classic /etc/drbdlinks.conf (`mountpoint('/mnt/share')`, one
//! `link('/etc/asterisk')` or `link('/src', '/dest')` per line, `#` comments) and the
//! node's filesystem. Output: on start, each local path is renamed to `PATH.drbdlinks`
//! (kept, never deleted) and replaced by a symlink to the same path under the mount
//! point; stop undoes that. Invariants:
//! - nothing is deleted but our own symlinks;
//! - every step is idempotent and a half-done run (a crash between two paths, or
//!   between the rename and the symlink of one path) is finished by the next run;
//! - nothing is touched unless the mount point is mounted (per /proc/self/mountinfo):
//!   links into an unmounted directory would put the PBX's data on the root disk.
//!
//! Tests point [`Drbdlinks::root`] at a temp tree and `mountinfo` at a fake file.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::exec::{Cmd, ExecError, Runner};
use crate::runtime::mountinfo;

/// The suffix of a moved-aside original, as the classic tool used.
pub const BACKUP_SUFFIX: &str = ".drbdlinks";
pub const DEFAULT_CONFIG: &str = "/etc/drbdlinks.conf";
pub const DEFAULT_MOUNTINFO: &str = "/proc/self/mountinfo";

#[derive(Debug, thiserror::Error)]
pub enum DrbdlinksError {
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{}: no mountpoint('...') line", .0)]
    NoMountpoint(String),
    #[error("{}: no link('...') lines", .0)]
    NoLinks(String),
    #[error("{} is not mounted (not in {}); refusing to touch any link", .mountpoint.display(), .mountinfo.display())]
    NotMounted {
        mountpoint: PathBuf,
        mountinfo: PathBuf,
    },
    #[error(
        "{} exists and is not our link, and {} also exists: refusing to choose between them",
        .path.display(), .backup.display()
    )]
    Conflict { path: PathBuf, backup: PathBuf },
    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Exec(#[from] ExecError),
}

impl DrbdlinksError {
    /// The configuration itself is wrong (not the node's state).
    pub fn is_invalid_config(&self) -> bool {
        matches!(
            self,
            DrbdlinksError::Syntax { .. }
                | DrbdlinksError::NoMountpoint(_)
                | DrbdlinksError::NoLinks(_)
        )
    }
}

type Result<T> = std::result::Result<T, DrbdlinksError>;

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DrbdlinksError {
    let path = path.to_path_buf();
    move |source| DrbdlinksError::Io { what, path, source }
}

/// One `link(...)` line: `local` is the path the services use, `shared` where the
/// data lives on the replicated disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub local: PathBuf,
    pub shared: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub mountpoint: PathBuf,
    pub links: Vec<Link>,
}

impl Config {
    /// Parses the classic syntax. Unknown directives are errors with their line: a
    /// typo must not silently leave a path on the local disk.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let mut mountpoint = None;
        let mut raw_links: Vec<(usize, Vec<String>)> = Vec::new();
        for (idx, line) in text.lines().enumerate() {
            let lineno = idx + 1;
            let syntax = |message: String| DrbdlinksError::Syntax {
                path: origin.to_string(),
                line: lineno,
                message,
            };
            let (name, args) = match parse_call(line).map_err(&syntax)? {
                None => continue,
                Some(call) => call,
            };
            match name.as_str() {
                "mountpoint" => {
                    if args.len() != 1 {
                        return Err(syntax(format!(
                            "mountpoint takes one path, got {}",
                            args.len()
                        )));
                    }
                    if mountpoint.is_some() {
                        return Err(syntax("a second mountpoint(...) line".into()));
                    }
                    mountpoint = Some(absolute(&args[0]).map_err(&syntax)?);
                }
                "link" => {
                    if args.is_empty() || args.len() > 2 {
                        return Err(syntax(format!(
                            "link takes one or two paths, got {}",
                            args.len()
                        )));
                    }
                    for a in &args {
                        absolute(a).map_err(&syntax)?;
                    }
                    raw_links.push((lineno, args));
                }
                other => {
                    return Err(syntax(format!(
                        "unknown directive `{other}` (expected mountpoint or link)"
                    )));
                }
            }
        }
        let mountpoint =
            mountpoint.ok_or_else(|| DrbdlinksError::NoMountpoint(origin.to_string()))?;
        if raw_links.is_empty() {
            return Err(DrbdlinksError::NoLinks(origin.to_string()));
        }
        let links = raw_links
            .into_iter()
            .map(|(_, args)| {
                let local = PathBuf::from(&args[0]);
                // drbdlinks(8): with one argument the data lives at the same path
                // under the mount point.
                let shared = match args.get(1) {
                    Some(dest) => PathBuf::from(dest),
                    None => under(&mountpoint, &local),
                };
                Link { local, shared }
            })
            .collect();
        Ok(Config { mountpoint, links })
    }

    pub fn load(path: &Path) -> Result<Config> {
        let text = fs::read_to_string(path).map_err(io_err("could not read", path))?;
        Config::parse(&text, &path.display().to_string())
    }

    /// The file the renderer writes (see the lead's decision in issue 4).
    pub fn render(&self) -> String {
        let mut out = String::from("# generated by pbx-cluster - do not edit\n");
        out.push_str(&format!("mountpoint('{}')\n", self.mountpoint.display()));
        for link in &self.links {
            if link.shared == under(&self.mountpoint, &link.local) {
                out.push_str(&format!("link('{}')\n", link.local.display()));
            } else {
                out.push_str(&format!(
                    "link('{}', '{}')\n",
                    link.local.display(),
                    link.shared.display()
                ));
            }
        }
        out
    }
}

fn absolute(arg: &str) -> std::result::Result<PathBuf, String> {
    let p = PathBuf::from(arg);
    if p.is_absolute() && !p.components().any(|c| c == std::path::Component::ParentDir) {
        Ok(p)
    } else {
        Err(format!("`{arg}` must be an absolute path without `..`"))
    }
}

/// `/mnt/share` + `/etc/asterisk` = `/mnt/share/etc/asterisk`.
fn under(base: &Path, abs: &Path) -> PathBuf {
    base.join(abs.strip_prefix("/").unwrap_or(abs))
}

/// One line: blank/comment -> None, `name('a', "b")` -> (name, [a, b]).
fn parse_call(line: &str) -> std::result::Result<Option<(String, Vec<String>)>, String> {
    let mut chars = line.trim_start().chars().peekable();
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    };
    skip_ws(&mut chars);
    if name.is_empty() {
        return match chars.peek() {
            None | Some('#') => Ok(None),
            Some(c) => Err(format!("unexpected `{c}`; expected name('path')")),
        };
    }
    if chars.next() != Some('(') {
        return Err(format!("expected `(` after `{name}`"));
    }
    let mut args = Vec::new();
    loop {
        skip_ws(&mut chars);
        match chars.next() {
            Some(')') if args.is_empty() => break,
            Some(q @ ('\'' | '"')) => {
                let mut arg = String::new();
                loop {
                    match chars.next() {
                        Some(c) if c == q => break,
                        Some(c) => arg.push(c),
                        None => return Err("unterminated string".into()),
                    }
                }
                args.push(arg);
                skip_ws(&mut chars);
                match chars.next() {
                    Some(',') => continue,
                    Some(')') => break,
                    _ => return Err("expected `,` or `)` after a quoted path".into()),
                }
            }
            _ => return Err(format!("{name}(...) takes quoted paths")),
        }
    }
    skip_ws(&mut chars);
    match chars.next() {
        None | Some('#') => Ok(Some((name, args))),
        Some(c) => Err(format!("unexpected `{c}` after `)`")),
    }
}

/// What one link looks like on disk right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// The local path is our symlink; the original is kept aside (or there was none).
    Linked,
    /// The local path is the original (or absent) and no backup is lying around.
    Unlinked,
    /// Renamed aside but the symlink is missing: a start that stopped half way.
    MovedAside,
    /// The local path exists and is not our link, and a backup exists too.
    Conflict,
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkState::Linked => "linked",
            LinkState::Unlinked => "not linked",
            LinkState::MovedAside => "moved aside, link missing",
            LinkState::Conflict => "conflict",
        })
    }
}

/// Overall state, as `status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overall {
    Running,
    Stopped,
    /// Some links in place, some not, or a conflict.
    Partial,
}

/// drbdlinks acting on a filesystem tree rooted at `root` ("/" on a node).
#[derive(Debug, Clone)]
pub struct Drbdlinks {
    pub config: Config,
    pub root: PathBuf,
    pub mountinfo: PathBuf,
}

impl Drbdlinks {
    pub fn new(config: Config) -> Self {
        Drbdlinks {
            config,
            root: PathBuf::from("/"),
            mountinfo: PathBuf::from(DEFAULT_MOUNTINFO),
        }
    }

    /// A node path as seen under `root`.
    fn host(&self, node_path: &Path) -> PathBuf {
        under(&self.root, node_path)
    }

    fn backup(path: &Path) -> PathBuf {
        let mut s = path.as_os_str().to_os_string();
        s.push(BACKUP_SUFFIX);
        PathBuf::from(s)
    }

    pub fn is_mounted(&self) -> Result<bool> {
        let text = fs::read_to_string(&self.mountinfo)
            .map_err(io_err("could not read", &self.mountinfo))?;
        Ok(mountinfo::is_mounted(&text, &self.config.mountpoint))
    }

    fn require_mounted(&self) -> Result<()> {
        if self.is_mounted()? {
            Ok(())
        } else {
            Err(DrbdlinksError::NotMounted {
                mountpoint: self.config.mountpoint.clone(),
                mountinfo: self.mountinfo.clone(),
            })
        }
    }

    /// Checked before any change, so a conflict on one path leaves all paths alone.
    fn refuse_conflicts(&self) -> Result<()> {
        for link in &self.config.links {
            if self.link_state(link) == LinkState::Conflict {
                let path = self.host(&link.local);
                return Err(DrbdlinksError::Conflict {
                    backup: Self::backup(&path),
                    path,
                });
            }
        }
        Ok(())
    }

    pub fn link_state(&self, link: &Link) -> LinkState {
        let local = self.host(&link.local);
        let backup = Self::backup(&local);
        let ours = fs::read_link(&local).is_ok_and(|t| t == self.host(&link.shared));
        let local_exists = fs::symlink_metadata(&local).is_ok();
        let backup_exists = fs::symlink_metadata(&backup).is_ok();
        match (ours, local_exists, backup_exists) {
            (true, _, _) => LinkState::Linked,
            (false, false, true) => LinkState::MovedAside,
            (false, true, true) => LinkState::Conflict,
            (false, _, false) => LinkState::Unlinked,
        }
    }

    pub fn states(&self) -> Vec<(Link, LinkState)> {
        self.config
            .links
            .iter()
            .map(|l| (l.clone(), self.link_state(l)))
            .collect()
    }

    pub fn overall(&self) -> Overall {
        let states = self.states();
        if states.iter().all(|(_, s)| *s == LinkState::Linked) {
            Overall::Running
        } else if states.iter().all(|(_, s)| *s == LinkState::Unlinked) {
            Overall::Stopped
        } else {
            Overall::Partial
        }
    }

    /// Links every path; returns one line per change made. `runner` copies an
    /// original onto the shared disk when the shared copy does not exist yet (the
    /// first start seeds the replicated disk).
    pub fn start(&self, runner: &dyn Runner) -> Result<Vec<String>> {
        self.require_mounted()?;
        self.refuse_conflicts()?;
        let mut done = Vec::new();
        for link in &self.config.links {
            let local = self.host(&link.local);
            let shared = self.host(&link.shared);
            let backup = Self::backup(&local);
            let state = self.link_state(link);
            if state == LinkState::Linked {
                continue;
            }
            if state == LinkState::Conflict {
                return Err(DrbdlinksError::Conflict {
                    path: local,
                    backup,
                });
            }
            if state == LinkState::Unlinked && fs::symlink_metadata(&local).is_ok() {
                if fs::symlink_metadata(&shared).is_err() {
                    // Seed: the data must exist on the shared disk before the link.
                    if let Some(parent) = shared.parent() {
                        fs::create_dir_all(parent).map_err(io_err("could not create", parent))?;
                    }
                    runner.run_ok(&Cmd::new("cp").args([
                        "-a".to_string(),
                        "--no-target-directory".to_string(),
                        local.display().to_string(),
                        shared.display().to_string(),
                    ]))?;
                    done.push(format!(
                        "copied {} to {}",
                        link.local.display(),
                        link.shared.display()
                    ));
                }
                fs::rename(&local, &backup).map_err(io_err("could not move aside", &local))?;
                done.push(format!(
                    "moved {} to {}",
                    link.local.display(),
                    Self::backup(&link.local).display()
                ));
            }
            if let Some(parent) = local.parent() {
                fs::create_dir_all(parent).map_err(io_err("could not create", parent))?;
            }
            // Build the link under a temp name and rename it into place, so the path
            // is never a half-written link.
            let tmp = {
                let mut s = local.as_os_str().to_os_string();
                s.push(".drbdlinks-new");
                PathBuf::from(s)
            };
            let _ = fs::remove_file(&tmp);
            symlink(&shared, &tmp).map_err(io_err("could not create link", &tmp))?;
            fs::rename(&tmp, &local).map_err(io_err("could not place link", &local))?;
            done.push(format!(
                "linked {} -> {}",
                link.local.display(),
                link.shared.display()
            ));
        }
        Ok(done)
    }

    /// Restores every original. Nothing to do is success even when not mounted (a
    /// stopped resource must stop cleanly); any change needs the mount.
    pub fn stop(&self) -> Result<Vec<String>> {
        if self.overall() == Overall::Stopped {
            return Ok(Vec::new());
        }
        // No mount needed: removing our links and renaming the originals back is
        // safe without it. A node that rebooted after a hard kill has links into
        // an unmounted mount point; refusing here would make the resource
        // unstoppable (blocked, or the node fenced) instead of cleaned up.
        self.refuse_conflicts()?;
        let mut done = Vec::new();
        // Reverse order, as a stack: the last linked is the first restored.
        for link in self.config.links.iter().rev() {
            let local = self.host(&link.local);
            let backup = Self::backup(&local);
            match self.link_state(link) {
                LinkState::Unlinked => continue,
                LinkState::Conflict => {
                    return Err(DrbdlinksError::Conflict {
                        path: local,
                        backup,
                    });
                }
                LinkState::Linked => {
                    fs::remove_file(&local).map_err(io_err("could not remove link", &local))?;
                    done.push(format!("removed link {}", link.local.display()));
                }
                LinkState::MovedAside => {}
            }
            if fs::symlink_metadata(&backup).is_ok() {
                fs::rename(&backup, &local).map_err(io_err("could not restore", &backup))?;
                done.push(format!("restored {}", link.local.display()));
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_classic_syntax() {
        let text = "\
# a comment
mountpoint('/mnt/share')
link('/etc/asterisk')
  link(\"/var/spool/asterisk\")   # trailing comment
link('/var/lib/asterisk', '/mnt/share/lib-asterisk')
";
        let cfg = Config::parse(text, "drbdlinks.conf").unwrap();
        assert_eq!(cfg.mountpoint, PathBuf::from("/mnt/share"));
        assert_eq!(
            cfg.links,
            vec![
                Link {
                    local: "/etc/asterisk".into(),
                    shared: "/mnt/share/etc/asterisk".into()
                },
                Link {
                    local: "/var/spool/asterisk".into(),
                    shared: "/mnt/share/var/spool/asterisk".into()
                },
                Link {
                    local: "/var/lib/asterisk".into(),
                    shared: "/mnt/share/lib-asterisk".into()
                },
            ]
        );
    }

    #[test]
    fn render_round_trips_and_has_the_header() {
        let cfg = Config {
            mountpoint: "/mnt/share".into(),
            links: vec![
                Link {
                    local: "/etc/asterisk".into(),
                    shared: "/mnt/share/etc/asterisk".into(),
                },
                Link {
                    local: "/var/lib/asterisk".into(),
                    shared: "/mnt/share/lib".into(),
                },
            ],
        };
        let text = cfg.render();
        assert_eq!(
            text,
            "# generated by pbx-cluster - do not edit\nmountpoint('/mnt/share')\n\
             link('/etc/asterisk')\nlink('/var/lib/asterisk', '/mnt/share/lib')\n"
        );
        assert_eq!(Config::parse(&text, "x").unwrap(), cfg);
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let cases = [
            (
                "mountpoint('/mnt/share')\nlnik('/etc/asterisk')\n",
                ":2: unknown directive `lnik`",
            ),
            (
                "mountpoint('/mnt/share')\nlink('etc/asterisk')\n",
                ":2: `etc/asterisk` must be an absolute",
            ),
            (
                "mountpoint('/mnt/share')\nlink('/etc/asterisk'\n",
                ":2: expected `,` or `)`",
            ),
            (
                "mountpoint('/mnt/share')\nlink('/etc/a', '/b', '/c')\n",
                ":2: link takes one or two",
            ),
            ("link('/etc/asterisk')\n", "no mountpoint"),
            ("mountpoint('/mnt/share')\n", "no link"),
            (
                "mountpoint('/mnt/share')\nlink('/x/../etc')\n",
                "without `..`",
            ),
        ];
        for (text, want) in cases {
            let err = Config::parse(text, "f.conf").unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
