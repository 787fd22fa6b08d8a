//! One home per cluster mode in the harness: which scenario table the mode runs,
//! how its lab profile, images, disks and logs are named, and what it changes in
//! the lab profile. The suite asks the mode's home and compares no modes. The
//! product's `pbx_cluster::mode` home gives the name.

mod active_passive;
mod load_balanced;

use crate::args::Mode;
use crate::engines::EngineHome;
use crate::error::MissingText;
use crate::scenarios::Entry;

pub trait ModeHome: Sync {
    /// The product's home of this mode.
    fn product(&self) -> &'static dyn pbx_cluster::mode::Home;

    /// The name in profiles and reports.
    fn name(&self) -> &'static str {
        self.product().name()
    }

    /// The scenarios the mode runs, in run order.
    fn table(&self) -> &'static [Entry];

    /// What an engine's lab in this mode is called, prefixed to its engine's
    /// name: it names the pair's disks and logs, its images and its profile.
    fn label_prefix(&self) -> &'static str;

    /// The mode's lab profile, from the (active/passive) lab profile.
    fn profile(&self, lab: String) -> Result<String, MissingText>;

    /// The phones of the mode's lab profile: extensions 1001..=1000+phones (secret
    /// lab-phone-EXT), which the harness registers and calls.
    fn phones(&self) -> u16;

    /// The label of `engine`'s lab in this mode.
    fn label(&self, engine: &dyn EngineHome) -> String {
        format!("{}{}", self.label_prefix(), engine.name())
    }
}

/// The home of a mode `Args::modes` yields (never `Both`).
pub fn home(mode: Mode) -> &'static dyn ModeHome {
    match mode {
        Mode::ActivePassive => &active_passive::ActivePassive,
        Mode::LoadBalanced => &load_balanced::LoadBalanced,
        Mode::Both => unreachable!("Args::modes splits both into the two modes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_has_a_home_named_like_its_argument() {
        for m in [Mode::ActivePassive, Mode::LoadBalanced] {
            assert_eq!(home(m).name(), m.name());
        }
    }

    #[test]
    fn labels_keep_the_names_that_predate_the_modes() {
        let pacemaker = crate::engines::home(crate::args::Engine::Pacemaker);
        assert_eq!(home(Mode::ActivePassive).label(pacemaker), "pacemaker");
        assert_eq!(home(Mode::LoadBalanced).label(pacemaker), "lb-pacemaker");
    }
}
