//! The lab profile of one engine in one mode: a copy of the lab profile with the
//! engine set, the lab's fence device configured (same addresses), then the mode's
//! and the engine's edits (their homes'), next to a copy of its secret.

use std::path::{Path, PathBuf};

use super::create_dir;
use crate::Error;
use crate::args::Args;
use crate::engines::EngineHome;
use crate::error::MissingText;
use crate::fence::FENCE_PORT;
use crate::lab::HARNESS_ADDR;
use crate::modes::ModeHome;

/// The lab profile's fencing, which the lab's fence device replaces.
const UNFENCED: &str = "[fencing]\nagent = \"none\"\n";

/// The lab's fence device for both engines: the harness's power switch.
pub fn lab_fencing() -> String {
    let ip = HARNESS_ADDR;
    let port = FENCE_PORT;
    let mut t = String::from(
        "[fencing]\n# The paired-VM harness is the power switch (vm-tests/lab/).\nagent = \"fence_pbxlab\"\nheartbeat-plugin = \"external/pbxlab\"\n# The images get the lab's agents as files (lab_agents), no package.\npackages = []\n",
    );
    for n in ["node1", "node2"] {
        t.push_str(&format!(
            "\n[fencing.nodes.{n}]\nparams = {{ ipaddr = \"{ip}\", ipport = \"{port}\" }}\nheartbeat-args = [\"{n}\", \"{ip}\", \"{port}\"]\n"
        ));
    }
    t
}

/// Replaces each `from` by its `to`, in order; every `from` must be there (`by`
/// names the edit in the error).
pub fn apply_edits(
    mut text: String,
    edits: &[(&str, &str)],
    by: &'static str,
) -> Result<String, MissingText> {
    for (from, to) in edits {
        if !text.contains(from) {
            return Err(MissingText {
                expected: from.to_string(),
                by,
            });
        }
        text = text.replace(from, to);
    }
    Ok(text)
}

/// The lab profile `text` for `engine` in `mode`.
pub fn derive(
    text: &str,
    engine: &dyn EngineHome,
    mode: &dyn ModeHome,
) -> Result<String, MissingText> {
    if !text.contains(UNFENCED) {
        return Err(MissingText {
            expected: format!("an unfenced lab profile ({UNFENCED:?})"),
            by: "the lab's fence device",
        });
    }
    let fenced = text
        .replace(
            "engine = \"pacemaker\"",
            &format!("engine = \"{}\"", engine.name()),
        )
        .replace(UNFENCED, &lab_fencing());
    engine.profile(mode.profile(fenced)?)
}

/// Writes WORK/profiles/lab-LABEL.toml (and a copy of lab.secret beside it).
pub fn write(
    args: &Args,
    work: &Path,
    engine: &dyn EngineHome,
    mode: &dyn ModeHome,
) -> Result<PathBuf, Error> {
    let text = std::fs::read_to_string(&args.profile).map_err(|source| Error::ReadProfile {
        path: args.profile.clone(),
        source,
    })?;
    let dir = work.join("profiles");
    create_dir(&dir)?;
    let derived = derive(&text, engine, mode).map_err(|missing| Error::LabProfile {
        path: args.profile.clone(),
        missing,
    })?;
    let secret = args.profile.with_file_name("lab.secret");
    if secret.exists() {
        let to = dir.join("lab.secret");
        std::fs::copy(&secret, &to).map_err(|source| Error::CopyFile {
            from: secret.clone(),
            to,
            source,
        })?;
    }
    let path = dir.join(format!("lab-{}.toml", mode.label(engine)));
    std::fs::write(&path, derived).map_err(|source| Error::WriteFile {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Engine, Mode};

    fn lab() -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/lab.toml"))
            .unwrap()
    }

    fn model(text: &str) -> pbx_cluster::model::Model {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
        pbx_cluster::profile::parse(text, Path::new("lab-derived.toml"), &dir)
            .unwrap_or_else(|e| panic!("{}", pbx_cluster::error::format(&e)))
            .model
    }

    #[test]
    fn the_lab_profile_becomes_a_valid_load_balanced_one() {
        let pacemaker = crate::engines::home(Engine::Pacemaker);
        let lb = derive(&lab(), pacemaker, crate::modes::home(Mode::LoadBalanced)).unwrap();
        let model = model(&lb);
        assert_eq!(model.mode_home().name(), "load-balanced");
        let phones = crate::scenarios::balanced::PHONES;
        assert!(lb.contains(&format!("number = \"{}\"", 1000 + phones)));
    }

    #[test]
    fn every_engine_and_mode_gets_a_valid_lab_profile() {
        for e in [Engine::Pacemaker, Engine::Heartbeat] {
            for m in [Mode::ActivePassive, Mode::LoadBalanced] {
                let (engine, mode) = (crate::engines::home(e), crate::modes::home(m));
                let model = model(&derive(&lab(), engine, mode).unwrap());
                assert_eq!(model.engine_home().name(), engine.name());
                assert_eq!(model.mode_home().name(), mode.name());
            }
        }
    }

    #[test]
    fn every_mode_has_the_phones_its_home_names() {
        let pacemaker = crate::engines::home(Engine::Pacemaker);
        for m in [Mode::ActivePassive, Mode::LoadBalanced] {
            let mode = crate::modes::home(m);
            let text = derive(&lab(), pacemaker, mode).unwrap();
            for ext in 1001..=1000 + mode.phones() {
                assert!(
                    text.contains(&format!("number = \"{ext}\""))
                        && text.contains(&format!("secret = \"lab-phone-{ext}\"")),
                    "{}: {ext}",
                    mode.name()
                );
            }
        }
    }

    #[test]
    fn the_baseline_engine_runs_the_seed_timing() {
        let heartbeat = crate::engines::home(Engine::Heartbeat);
        let ap = crate::modes::home(Mode::ActivePassive);
        let text = derive(&lab(), heartbeat, ap).unwrap();
        assert!(heartbeat.is_baseline());
        assert!(text.contains("deadtime = \"10s\"") && text.contains("all-modules = true"));
    }

    #[test]
    fn a_profile_without_the_lines_the_edits_replace_is_refused() {
        let heartbeat = crate::engines::home(Engine::Heartbeat);
        let ap = crate::modes::home(Mode::ActivePassive);
        let err = derive("engine = \"pacemaker\"\n", heartbeat, ap).unwrap_err();
        assert_eq!(err.by, "the lab's fence device");
        let err = derive(UNFENCED, heartbeat, ap).unwrap_err();
        assert_eq!(err.expected, "warntime = \"2s\"");
    }
}
