//! SIP from the harness's namespace: OPTIONS probes (pbx-cluster's library probe, on
//! a thread inside the namespace) and sipp phones.

use std::time::{Duration, Instant};

use pbx_cluster::runtime::sip_probe::{Probe, Transport};

use crate::Error;
use crate::lab::Lab;

/// Final responses that show Asterisk answering (it may want authentication or not
/// know the request URI; either way the PBX is up).
pub fn answered(status: u16) -> bool {
    (200..300).contains(&status) || matches!(status, 401 | 403 | 404 | 407)
}

fn probe(target: &str, timeout: Duration) -> Probe {
    Probe {
        target: target.parse().expect("a literal target"),
        transport: Transport::Udp,
        timeout,
    }
}

/// One OPTIONS; Some(status) when answered.
pub fn options_once(lab: &Lab, target: &str, timeout: Duration) -> Result<Option<u16>, Error> {
    let p = probe(target, timeout);
    let h = lab.in_ns(move || p.send(1).ok().map(|r| r.status))?;
    Ok(h.join().unwrap_or(None).filter(|s| answered(*s)))
}

/// Probes every `every` from `since` until the first answer or `limit`; returns the
/// seconds from `since` to that answer.
pub fn first_answer(
    lab: &Lab,
    target: &str,
    since: Instant,
    every: Duration,
    limit: Duration,
) -> Result<Option<f64>, Error> {
    let p = probe(target, every);
    let h = lab.in_ns(move || {
        let mut seq = 1;
        while since.elapsed() < limit {
            let sent = Instant::now();
            if let Ok(r) = p.send(seq)
                && answered(r.status)
            {
                return Some(since.elapsed().as_secs_f64());
            }
            seq += 1;
            if let Some(rest) = every.checked_sub(sent.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        None
    })?;
    Ok(h.join().unwrap_or(None))
}

/// The longest time the target stayed silent while a watcher ran.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Silence {
    /// From the first unanswered probe of the longest silent stretch to the next
    /// answer (or to the watcher's end when none came).
    pub longest_s: f64,
    pub probes: u64,
    pub answered: u64,
}

/// Probes the target every `every` on a thread in the lab namespace until
/// `finish` (or until dropped: a scenario that returns early stops its probe).
pub struct Watch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<Silence>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Watch {
    pub fn start(lab: &Lab, target: &str, every: Duration) -> Result<Watch, Error> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let p = probe(target, every);
        let handle = lab.in_ns(move || {
            let mut s = Silence::default();
            let mut silent_since: Option<Instant> = None;
            let mut seq = 1;
            while !flag.load(Ordering::SeqCst) {
                let sent = Instant::now();
                let ok = p.send(seq).is_ok_and(|r| answered(r.status));
                s.probes += 1;
                seq += 1;
                if ok {
                    s.answered += 1;
                    if let Some(t) = silent_since.take() {
                        s.longest_s = s.longest_s.max(t.elapsed().as_secs_f64());
                    }
                } else if silent_since.is_none() {
                    silent_since = Some(sent);
                }
                if let Some(rest) = every.checked_sub(sent.elapsed()) {
                    std::thread::sleep(rest);
                }
            }
            if let Some(t) = silent_since {
                s.longest_s = s.longest_s.max(t.elapsed().as_secs_f64());
            }
            s
        })?;
        Ok(Watch {
            stop,
            handle: Some(handle),
        })
    }

    pub fn finish(mut self) -> Silence {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

/// A sipp REGISTER scenario with digest authentication; the contact is where the
/// harness's sipp UAS waits for the call.
/// A slow PBX answers the first REGISTER and its retransmission with a 401 each:
/// the late duplicate is taken as optional (a 401 to the authenticated REGISTER
/// still fails the scenario: no 200 comes).
pub fn register_xml(user: &str, secret: &str, contact: &str) -> String {
    let req = |cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:[remote_ip] SIP/2.0\n\
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n\
From: <sip:{user}@[remote_ip]>;tag=[call_number]\n\
To: <sip:{user}@[remote_ip]>\n\
Call-ID: [call_id]\n\
CSeq: {cseq} REGISTER\n\
Contact: <sip:{user}@{contact}>\n\
{auth}Max-Forwards: 70\n\
Expires: 3600\n\
Content-Length: 0\n"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"register {user}\">\n\
<send retrans=\"500\"><![CDATA[\n{}\n]]></send>\n\
<recv response=\"401\" auth=\"true\"/>\n\
<send retrans=\"500\"><![CDATA[\n{}\n]]></send>\n\
<recv response=\"401\" optional=\"true\"/>\n\
<recv response=\"200\"/>\n</scenario>\n",
        req(1, ""),
        req(
            2,
            &format!("[authentication username={user} password={secret}]\n")
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_means_a_final_response_from_a_live_pbx() {
        assert!(answered(200) && answered(401) && answered(404));
        assert!(!answered(100) && !answered(503) && !answered(500));
    }

    #[test]
    fn register_scenario_authenticates_and_points_the_contact_at_the_harness() {
        let x = register_xml("1001", "lab-phone-1001", "172.30.0.1:5070");
        assert!(x.contains("Contact: <sip:1001@172.30.0.1:5070>"));
        assert!(x.contains("[authentication username=1001 password=lab-phone-1001]"));
        assert!(x.contains("<recv response=\"401\" auth=\"true\"/>"));
        assert_eq!(x.matches("CSeq:").count(), 2);
    }
}
