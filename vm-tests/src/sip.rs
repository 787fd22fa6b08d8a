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

/// A sipp REGISTER scenario with digest authentication; the contact is where the
/// harness's sipp UAS waits for the call.
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
