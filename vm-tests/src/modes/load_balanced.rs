//! Load-balanced: the lab profile with OCFS2, voicemail and the database's data
//! shared, the database (one instance, with the director) before Asterisk, a
//! SIP-only virtual service and the balancing scenario's phones; own images (the
//! generic kernel) and disks, named lb-ENGINE.

use super::ModeHome;
use crate::error::MissingText;
use crate::scenarios::Entry;
use crate::scenarios::balanced::PHONES;
use crate::setup::profile::apply_edits;

/// What the active/passive lab profile changes into (each `from` must be there).
const EDITS: &[(&str, &str)] = &[
    ("mode = \"active-passive\"", "mode = \"load-balanced\""),
    ("filesystem = \"xfs\"", "filesystem = \"ocfs2\""),
    (
        "links = [\"/etc/asterisk\", \"/var/lib/asterisk\", \"/var/spool/asterisk\"]",
        // Debian sid's MariaDB 11.8 keeps its data in /var/lib/mariadb (its
        // journal in the paired VMs: InnoDB's buffer pool file is there).
        "links = [\"/var/spool/asterisk/voicemail\", \"/var/lib/mariadb\"]",
    ),
    // The reference's database: one instance that moves with the director.
    (
        "services = [\"asterisk\"]",
        "services = [\"mariadb\", \"asterisk\"]",
    ),
];

/// The virtual service: SIP only, checked every 2 s with a 3 s timeout.
const LOAD_BALANCING: &str = "\n[load-balancing]\nscheduler = \"wlc\"\ncheck-interval = \"2s\"\ncheck-timeout = \"3s\"\n\n[[load-balancing.service]]\nname = \"sip\"\nprotocol = \"udp\"\nport = 5060\ncheck = \"sip\"\n";

pub struct LoadBalanced;

impl ModeHome for LoadBalanced {
    fn product(&self) -> &'static dyn pbx_cluster::mode::Home {
        &pbx_cluster::mode::load_balanced::LoadBalanced
    }

    fn table(&self) -> &'static [Entry] {
        crate::scenarios::balanced::TABLE
    }

    fn label_prefix(&self) -> &'static str {
        "lb-"
    }

    /// Each Asterisk keeps its config, astdb and logs; the phones are extensions
    /// 1001..=1000+PHONES and one more that never registers.
    fn profile(&self, lab: String) -> Result<String, MissingText> {
        let mut text = apply_edits(lab, EDITS, "the load-balanced lab")?;
        text.push_str(LOAD_BALANCING);
        for n in 1..=PHONES + 1 {
            let ext = 1000 + n;
            if !text.contains(&format!("number = \"{ext}\"")) {
                text.push_str(&format!(
                    "\n[[pbx.extension]]\nnumber = \"{ext}\"\nname = \"Lab Phone {n}\"\nsecret = \"lab-phone-{ext}\"\n"
                ));
            }
        }
        Ok(text)
    }

    fn phones(&self) -> u16 {
        PHONES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_that_is_already_load_balanced_is_refused() {
        let err = LoadBalanced
            .profile("mode = \"load-balanced\"".into())
            .unwrap_err();
        assert_eq!(err.expected, "mode = \"active-passive\"");
    }
}
