//! Active/passive: the lab profile as it is; its names predate the modes.

use super::ModeHome;
use crate::error::MissingText;
use crate::scenarios::Entry;

pub struct ActivePassive;

impl ModeHome for ActivePassive {
    fn product(&self) -> &'static dyn pbx_cluster::mode::Home {
        &pbx_cluster::mode::active_passive::ActivePassive
    }

    fn table(&self) -> &'static [Entry] {
        crate::scenarios::active_passive::TABLE
    }

    fn label_prefix(&self) -> &'static str {
        ""
    }

    fn profile(&self, lab: String) -> Result<String, MissingText> {
        Ok(lab)
    }

    /// profiles/lab.toml's two phones.
    fn phones(&self) -> u16 {
        2
    }
}
