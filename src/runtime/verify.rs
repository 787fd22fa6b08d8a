//! Is the cluster healthy, and if not, why: the checks that `status` and init's
//! final wait share, so that both answer the same question the same way. The SIP
//! check runs the probe in-process; DRBD's state comes through the one parser of
//! each format (`runtime::status::drbd`).

use std::sync::Arc;
use std::time::Duration;

use crate::runtime::sip_probe::{Accept, Probe, Target, Transport};
use crate::runtime::status::SipCheck;
use crate::runtime::status::drbd::{DiskState, Link};

/// Probes one address; tests give a fake (a real probe would send to the profile's
/// virtual IP, which is no address of the test machine).
pub type SipProbe = Arc<dyn Fn(&str) -> SipCheck + Send + Sync>;

/// How the virtual IP is asked: port, transport, how long to wait, which answers
/// count as alive.
#[derive(Debug, Clone)]
pub struct SipSettings {
    pub port: u16,
    pub transport: Transport,
    pub timeout: Duration,
    pub accept: Accept,
}

/// One SIP OPTIONS to `ip`, judged by `settings.accept`.
pub fn sip(settings: &SipSettings, ip: &str) -> SipCheck {
    let target = Target {
        host: ip.to_string(),
        port: settings.port,
    };
    let shown = target.to_string();
    let probe = Probe {
        target,
        transport: settings.transport,
        timeout: settings.timeout,
    };
    match probe.send(1) {
        Ok(r) => SipCheck {
            target: shown,
            ok: settings.accept.accepts(r.status),
            status_line: Some(r.status_line),
            rtt_ms: Some(r.rtt.as_secs_f64() * 1000.0),
            error: None,
        },
        Err(e) => SipCheck {
            target: shown,
            ok: false,
            status_line: None,
            rtt_ms: None,
            error: Some(e.to_string()),
        },
    }
}

/// The real probe with `settings`, as a [`SipProbe`].
pub fn sip_probe(settings: SipSettings) -> SipProbe {
    Arc::new(move |ip| sip(&settings, ip))
}

/// A newly formed cluster is healthy when DRBD is Connected with both disks
/// UpToDate and the virtual IP answers SIP. `cstate` and `dstate` are drbdadm's
/// words (`Connected`, `UpToDate/UpToDate`); the second value says what was seen.
pub fn formed(cstate: &str, dstate: &str, sip: &SipCheck) -> (bool, String) {
    let connected = Link::parse(cstate.trim()) == Link::Connected;
    let (local, peer) = dstate.trim().split_once('/').unwrap_or((dstate.trim(), ""));
    let in_sync = DiskState::parse(local) == DiskState::UpToDate
        && DiskState::parse(peer) == DiskState::UpToDate;
    let seen = format!(
        "cstate {}, dstate {}, SIP on {} {}",
        cstate.trim(),
        dstate.trim(),
        sip.target,
        if sip.ok {
            "answers".to_string()
        } else {
            format!(
                "silent ({})",
                sip.error
                    .as_deref()
                    .or(sip.status_line.as_deref())
                    .unwrap_or("no answer")
            )
        }
    );
    (connected && in_sync && sip.ok, seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ok: bool) -> SipCheck {
        SipCheck {
            target: "10.9.9.9:5060".into(),
            ok,
            status_line: ok.then(|| "SIP/2.0 200 OK".into()),
            rtt_ms: None,
            error: (!ok).then(|| "timed out".into()),
        }
    }

    #[test]
    fn formed_needs_the_link_both_disks_and_sip() {
        assert!(formed("Connected", "UpToDate/UpToDate", &check(true)).0);
        assert!(!formed("WFConnection", "UpToDate/DUnknown", &check(true)).0);
        assert!(!formed("SyncSource", "UpToDate/Inconsistent", &check(true)).0);
        assert!(!formed("Connected", "UpToDate/Outdated", &check(true)).0);
        let (ok, seen) = formed("Connected\n", "UpToDate/UpToDate\n", &check(false));
        assert!(!ok);
        assert_eq!(
            seen,
            "cstate Connected, dstate UpToDate/UpToDate, SIP on 10.9.9.9:5060 silent (timed out)"
        );
    }

    #[test]
    fn the_real_probe_reports_a_silent_loopback_port() {
        // Nothing listens on this loopback port: a refused or silent probe.
        let settings = SipSettings {
            port: 9,
            transport: Transport::Udp,
            timeout: Duration::from_millis(200),
            accept: "2xx".parse().unwrap(),
        };
        let c = sip(&settings, "127.0.0.1");
        assert!(!c.ok && c.error.is_some(), "{c:?}");
        assert_eq!(c.target, "127.0.0.1:9");
    }
}
