//! A call as phones make it: a sipp UAC on the harness, from the port its phone
//! registered from (so the director's IPVS entry sends it to that phone's node),
//! through the virtual IP to another phone, a sipp UAS at its contact that
//! echoes the RTP it gets. The media is read off Asterisk's own channel
//! statistics on both nodes while the call is up: the caller's node must receive
//! the caller's RTP and send RTP back to it (the callee's echo, through both
//! nodes), the callee's node the same with the callee.

use std::time::{Duration, Instant};

use super::contact_port;
use crate::Error;
use crate::cluster::{Pair, SIP_TARGET};
use crate::lab::HARNESS_ADDR;
use crate::scenarios::load::{alaw_pcap, challenged_invite, invite, uac_xml, uas_xml};
use crate::scenarios::sipp::{sipp, sipp_listening, sipp_outcome, write_log_file};

/// RTP sent after the answer, then the caller hangs up.
const HOLD: Duration = Duration::from_secs(8);
/// The callee's media port (it echoes there); the caller's.
const UAS_MEDIA_PORT: u16 = 6200;
const UAC_MEDIA_PORT: u16 = 6300;
/// An answer's bound (sipp's -recv_timeout); the whole call's.
const ANSWER_LIMIT: Duration = Duration::from_secs(15);
const CALL_LIMIT: Duration = Duration::from_secs(60);
/// Between looks at the channels' statistics while the call is up.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// RTP packets one channel received from and sent to its phone, as Asterisk
/// counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rtp {
    pub received: u64,
    pub sent: u64,
}

impl Rtp {
    fn both_ways(self) -> bool {
        self.received > 0 && self.sent > 0
    }
}

/// How a call went.
pub struct Outcome {
    /// The caller's INVITE answered, the call held and hung up, the callee's side
    /// ended well too.
    pub completed: bool,
    /// The caller's channel on node `caller_on`, the callee's on the other node
    /// (the most either showed while the call was up).
    pub caller_rtp: Rtp,
    pub callee_rtp: Rtp,
    pub seconds: f64,
    /// What each node's `pjsip show channelstats` last listed while the call ran.
    pub channelstats: [String; 2],
}

impl Outcome {
    pub fn rtp_both_ways(&self) -> bool {
        self.caller_rtp.both_ways() && self.callee_rtp.both_ways()
    }
}

/// `caller` (registered on node `caller_on`) calls `callee` (registered on the
/// other node) through the virtual IP.
pub fn call(pair: &Pair, caller_ext: u16, caller_on: usize, callee: u16) -> Result<Outcome, Error> {
    let caller = caller_ext;
    let tag = format!("lb-call-{caller}-{callee}");
    let pcap = format!("{tag}.pcap");
    write_log_file(pair, &pcap, alaw_pcap(HOLD.as_secs() as u32))?;
    let uac = format!("{tag}-uac.xml");
    write_log_file(
        pair,
        &uac,
        uac_xml(
            &caller.to_string(),
            &format!("lab-phone-{caller}"),
            &pcap,
            HOLD,
        ),
    )?;
    let uas = format!("{tag}-uas.xml");
    write_log_file(pair, &uas, uas_xml())?;
    let csv = format!("{tag}.csv");
    write_log_file(pair, &csv, format!("SEQUENTIAL\n{callee};\n"))?;
    let limit = format!("{}s", CALL_LIMIT.as_secs());
    let phone = sipp_listening(
        pair,
        &[
            "-sf",
            &uas,
            "-mp",
            &UAS_MEDIA_PORT.to_string(),
            "-rtp_echo",
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            &limit,
        ],
        contact_port(callee),
        &format!("{tag}-uas.log"),
    )?;
    let t = Instant::now();
    let mut caller_sipp = start_caller(
        pair,
        caller_ext,
        &uac,
        &csv,
        &[
            "-mp",
            &UAC_MEDIA_PORT.to_string(),
            "-aa",
            "-trace_err",
            "-error_file",
            &format!("{tag}-errors.log"),
        ],
        &format!("{tag}-uac.log"),
    )?;
    let (mut caller_rtp, mut callee_rtp) = (Rtp::default(), Rtp::default());
    let mut seen = [String::new(), String::new()];
    // While the caller's sipp runs: the channels' counters (kept at their most),
    // and what each node last listed (for the report when no counter showed).
    let _ = crate::retry_until(t + CALL_LIMIT, STATS_EVERY, || {
        let mut stats = |i: usize, ext: u16| {
            let out = pair.sh(i, CHANNELSTATS).stdout_str();
            let r = rtp_of(&out, ext);
            // Kept: the last listing that showed a channel (a row), else the first.
            if out.lines().count() > 3 || seen[i].is_empty() {
                seen[i] = out;
            }
            r
        };
        if let Some(r) = stats(caller_on, caller) {
            caller_rtp = r.max_with(caller_rtp);
        }
        if let Some(r) = stats(1 - caller_on, callee) {
            callee_rtp = r.max_with(callee_rtp);
        }
        match caller_sipp.child.try_wait() {
            Ok(Some(_)) => Ok(()),
            _ => Err(()),
        }
    });
    let placed = sipp_outcome(caller_sipp, Duration::ZERO);
    let answered = sipp_outcome(phone, ANSWER_LIMIT);
    Ok(Outcome {
        completed: placed && answered,
        caller_rtp,
        callee_rtp,
        seconds: t.elapsed().as_secs_f64(),
        channelstats: seen,
    })
}

/// `caller` calls `callee`, whose phone is registered nowhere, through the
/// virtual IP: whether the answer was 480 Temporarily Unavailable, and the
/// seconds until it came (the challenge's round trip included).
pub fn call_unregistered(pair: &Pair, caller_ext: u16, callee: u16) -> Result<(bool, f64), Error> {
    let caller = caller_ext;
    let tag = format!("lb-call-{caller}-{callee}");
    let xml = format!("{tag}.xml");
    write_log_file(
        pair,
        &xml,
        rejected_xml(&caller.to_string(), &format!("lab-phone-{caller}")),
    )?;
    let csv = format!("{tag}.csv");
    write_log_file(pair, &csv, format!("SEQUENTIAL\n{callee};\n"))?;
    let t = Instant::now();
    let uac = start_caller(pair, caller_ext, &xml, &csv, &[], &format!("{tag}.log"))?;
    let ok = sipp_outcome(uac, CALL_LIMIT);
    Ok((ok, t.elapsed().as_secs_f64()))
}

/// Phone `ext`'s sipp UAC running `xml` once (the callee from `csv`) from the
/// port the phone registered from, through the virtual IP, with `extra` args.
fn start_caller(
    pair: &Pair,
    ext: u16,
    xml: &str,
    csv: &str,
    extra: &[&str],
    log: &str,
) -> Result<crate::procs::Group, Error> {
    let (port, answer, limit) = (
        contact_port(ext).to_string(),
        ANSWER_LIMIT.as_millis().to_string(),
        format!("{}s", CALL_LIMIT.as_secs()),
    );
    let mut args = vec![
        SIP_TARGET,
        "-sf",
        xml,
        "-inf",
        csv,
        "-i",
        HARNESS_ADDR,
        "-p",
        &port,
        "-m",
        "1",
        "-recv_timeout",
        &answer,
        "-timeout",
        &limit,
        "-nostdin",
    ];
    args.extend_from_slice(extra);
    sipp(pair, &args, log)
}

const CHANNELSTATS: &str = "asterisk -rx 'pjsip show channelstats'";

impl Rtp {
    fn max_with(self, other: Rtp) -> Rtp {
        Rtp {
            received: self.received.max(other.received),
            sent: self.sent.max(other.sent),
        }
    }
}

/// The RTP counters of extension `ext`'s channel (PJSIP/EXT-..., printed without
/// "PJSIP/") in `pjsip show channelstats`. A row ends in nine numbers: received
/// count, lost, lost %, jitter, sent count, lost, lost %, jitter, RTT; they are
/// read from the end, since the columns before them (bridge, codec) may be
/// blank. A channel shown as "direct media" has none.
fn rtp_of(channelstats: &str, ext: u16) -> Option<Rtp> {
    let prefix = format!("{ext}-");
    channelstats.lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words
            .iter()
            .position(|w| w.trim_start_matches("PJSIP/").starts_with(&prefix))?;
        let tail = words.get(at + 1..)?;
        let from_end = |k: usize| {
            let w = tail.get(tail.len().checked_sub(k)?)?;
            // Counts above 100000 are printed in thousands with a K.
            match w.strip_suffix('K') {
                Some(n) => n.parse::<u64>().ok().map(|n| n * 1000),
                None => w.parse::<u64>().ok(),
            }
        };
        (tail.len() >= 9).then_some(())?;
        Some(Rtp {
            received: from_end(9)?,
            sent: from_end(5)?,
        })
    })
}

/// The caller's scenario for a callee registered nowhere: the INVITE (offering
/// PCMA), its digest answer to the challenge, then 480 and its ACK; anything
/// else fails the call.
fn rejected_xml(user: &str, secret: &str) -> String {
    let invite = |cseq: u32, auth: &str| invite(user, cseq, auth);
    // A non-2xx final answer is ACKed in its own transaction: the INVITE's Via.
    let ack = |cseq: u32| {
        format!(
            "ACK sip:[field0]@[remote_ip] SIP/2.0\n\
[last_Via:]\n\
From: <sip:{user}@[remote_ip]>;tag=[call_number]\n\
[last_To:]\n\
Call-ID: [call_id]\n\
CSeq: {cseq} ACK\n\
Max-Forwards: 70\n\
Content-Length: 0\n"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"call to a phone registered nowhere\">\n\
{}<recv response=\"480\"/>\n\
<send><![CDATA[\n{}\n]]></send>\n</scenario>\n",
        challenged_invite(
            "",
            &invite(1, ""),
            &ack(1),
            &invite(
                2,
                &format!("[authentication username={user} password={secret}]\n")
            ),
        ),
        ack(2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_of_an_extensions_channel_are_read_from_channelstats() {
        let out = "\
                                             ...........Receive......... .........Transmit..........
 BridgeId ChannelId ........ UpTime.. Codec.   Count    Lost Pct  Jitter   Count    Lost Pct  Jitter RTT....
 ===========================================================================================================
 3ea7cb66 1002-00000004      00:00:05 ulaw       257       0    0  0.001    254       0    0  0.000   0.000
 3ea7cb66 cluster-peer-0000 00:00:05 alaw       250       1    0  0.002      0       0    0  0.000   0.000

Objects found: 2
";
        assert_eq!(
            rtp_of(out, 1002),
            Some(Rtp {
                received: 257,
                sent: 254
            })
        );
        assert_eq!(rtp_of(out, 1001), None);
        // A blank codec column (no format read yet) shifts nothing.
        let blank = " 3ea7cb66 1001-00000005      00:00:02           12       0    0  0.001     10       0    0  0.000   0.000";
        assert_eq!(
            rtp_of(blank, 1001),
            Some(Rtp {
                received: 12,
                sent: 10
            })
        );
        assert_eq!(rtp_of("PJSIP/1001-00000006 direct media", 1001), None);
        assert!(
            !Rtp {
                received: 250,
                sent: 0
            }
            .both_ways()
        );
    }

    #[test]
    fn the_rejected_call_wants_480_and_nothing_else() {
        let x = rejected_xml("1001", "s");
        assert!(x.contains("<recv response=\"480\"/>"));
        assert!(!x.contains("response=\"200\""));
        assert_eq!(x.matches("CSeq: 2 INVITE").count(), 1);
    }
}
