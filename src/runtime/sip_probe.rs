//! A SIP OPTIONS probe (RFC 3261 section 11): is a SIP server alive and answering?
//!
//! Input: a target, a transport, a time limit. Output: the matched final response's
//! status line and the round-trip time, or why there was none. Invariants:
//! - every request is well formed: a fresh `z9hG4bK` branch, Call-ID and From tag,
//!   CSeq, Max-Forwards 70, Content-Length 0;
//! - a response counts only when it matches the request (RFC 3261 17.1.3: the Via
//!   branch and the CSeq method; we also check Call-ID and the CSeq number);
//!   stray responses are skipped, provisional (1xx) ones waited past;
//! - anything that is not a SIP response is garbage and fails the probe at once;
//! - over UDP the request is retransmitted on timer A (T1 = 500 ms, doubling) until
//!   the time limit.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::str::FromStr;
use std::time::{Duration, Instant};

pub const DEFAULT_PORT: u16 = 5060;
/// RFC 3261 17.1.1.1: the round-trip estimate that timer A starts from.
const T1: Duration = Duration::from_millis(500);
/// A SIP message over UDP fits one datagram; more than this is not a probe answer.
const MAX_MESSAGE: usize = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        })
    }
}

/// `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT`.
/// The user part of the probe's From and Contact. The rendered pjsip.conf has an
/// endpoint of this name, because Asterisk ignores OPTIONS it cannot identify.
pub const PROBE_USER: &str = "pbx-cluster";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad_port = |p: &str| format!("`{p}` is not a port number (1-65535)");
        let port_of = |p: &str| match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad_port(p)),
            Ok(n) => Ok(n),
        };
        if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{s}`: missing `]`"))?;
            let port = match after {
                "" => DEFAULT_PORT,
                p => port_of(p.strip_prefix(':').ok_or_else(|| bad_port(p))?)?,
            };
            return Ok(Target {
                host: host.to_string(),
                port,
            });
        }
        if s.parse::<std::net::Ipv6Addr>().is_ok() {
            return Ok(Target {
                host: s.to_string(),
                port: DEFAULT_PORT,
            });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (h, port_of(p)?),
            None => (s, DEFAULT_PORT),
        };
        if host.is_empty() {
            return Err(format!("`{s}`: empty host"));
        }
        Ok(Target {
            host: host.to_string(),
            port,
        })
    }
}

impl Target {
    fn uri_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uri_host(), self.port)
    }
}

/// Which final responses count as "alive".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept(Vec<AcceptItem>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcceptItem {
    Any,
    Class(u16),
    Code(u16),
}

impl Accept {
    pub fn accepts(&self, code: u16) -> bool {
        code >= 200
            && self.0.iter().any(|item| match *item {
                AcceptItem::Any => true,
                AcceptItem::Class(c) => code / 100 == c,
                AcceptItem::Code(c) => code == c,
            })
    }
}

impl Default for Accept {
    /// A 2xx only: a server that answers 401 or 404 is alive but may be misrouted,
    /// so accepting those is the caller's choice (`--accept 2xx,401,404`).
    fn default() -> Self {
        Accept(vec![AcceptItem::Class(2)])
    }
}

impl FromStr for Accept {
    type Err = String;

    /// `any`, `2xx`, `401`, comma separated.
    fn from_str(s: &str) -> Result<Self, String> {
        let items = s
            .split(',')
            .map(|w| {
                let w = w.trim();
                let bad =
                    || format!("`{w}`: expected `any`, a class like `2xx`, or a code like `404`");
                if w.eq_ignore_ascii_case("any") {
                    return Ok(AcceptItem::Any);
                }
                if let Some(class) = w.strip_suffix("xx") {
                    return match class.parse::<u16>() {
                        Ok(c @ 2..=6) => Ok(AcceptItem::Class(c)),
                        _ => Err(bad()),
                    };
                }
                match w.parse::<u16>() {
                    Ok(c @ 200..=699) => Ok(AcceptItem::Code(c)),
                    _ => Err(bad()),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Accept(items))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reply {
    pub status: u16,
    /// The response's first line, e.g. `SIP/2.0 200 OK`.
    pub status_line: String,
    /// Who answered (the address the probe was sent to).
    pub peer: SocketAddr,
    #[serde(serialize_with = "ser_ms")]
    pub rtt: Duration,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("could not resolve {target}: {source}")]
    Resolve {
        target: String,
        #[source]
        source: io::Error,
    },
    #[error("no answer from {target} over {transport} within {} ms", .after.as_millis())]
    Timeout {
        target: String,
        transport: Transport,
        after: Duration,
    },
    #[error("{target} answered something that is not a SIP response: {what}")]
    Garbage { target: String, what: String },
    #[error("{target} closed the connection without a final response")]
    Closed { target: String },
    #[error("{what} {target}: {source}")]
    Io {
        what: &'static str,
        target: String,
        #[source]
        source: io::Error,
    },
}

/// One request's identity, kept to match its response.
#[derive(Debug, Clone)]
struct Ids {
    branch: String,
    call_id: String,
    tag: String,
    cseq: u32,
}

impl Ids {
    fn fresh(cseq: u32) -> Ids {
        let hex = || uuid::Uuid::new_v4().simple().to_string();
        Ids {
            // RFC 3261 8.1.1.7: the magic cookie marks an RFC 3261 branch.
            branch: format!("z9hG4bK{}", hex()),
            call_id: hex(),
            tag: hex()[..16].to_string(),
            cseq,
        }
    }
}

fn build_request(target: &Target, local: SocketAddr, transport: Transport, ids: &Ids) -> String {
    let local_host = match local.ip() {
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    let uri = format!("sip:{target}");
    let lport = local.port();
    format!(
        "OPTIONS {uri} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local_host}:{lport};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{PROBE_USER}@{local_host}>;tag={tag}\r\n\
         To: <{uri}>\r\n\
         Call-ID: {call_id}@{local_host}\r\n\
         CSeq: {cseq} OPTIONS\r\n\
         Contact: <sip:{PROBE_USER}@{local_host}:{lport};transport={lt}>\r\n\
         Accept: application/sdp\r\n\
         User-Agent: pbx-cluster/{version}\r\n\
         Content-Length: 0\r\n\r\n",
        branch = ids.branch,
        tag = ids.tag,
        call_id = ids.call_id,
        cseq = ids.cseq,
        lt = transport.to_string().to_lowercase(),
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// A parsed response: status code, first line, and the headers we match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// The first value of a header, by full or compact name (RFC 3261 7.3.3).
    pub fn header(&self, name: &str) -> Option<&str> {
        let compact = match name.to_ascii_lowercase().as_str() {
            "via" => Some("v"),
            "call-id" => Some("i"),
            "content-length" => Some("l"),
            _ => None,
        };
        self.headers
            .iter()
            .find(|(n, _)| {
                n.eq_ignore_ascii_case(name) || compact.is_some_and(|c| n.eq_ignore_ascii_case(c))
            })
            .map(|(_, v)| v.as_str())
    }

    fn matches(&self, ids: &Ids) -> bool {
        let branch_ok = self.header("via").is_some_and(|via| {
            // The top Via only: a header may hold several comma-separated values.
            let top = via.split(',').next().unwrap_or("");
            top.split(';')
                .any(|p| p.trim().strip_prefix("branch=") == Some(ids.branch.as_str()))
        });
        let call_ok = self
            .header("call-id")
            .is_some_and(|c| c.split('@').next() == Some(ids.call_id.as_str()));
        let cseq_ok = self.header("cseq").is_some_and(|c| {
            let mut words = c.split_whitespace();
            words.next() == Some(&ids.cseq.to_string()) && words.next() == Some("OPTIONS")
        });
        branch_ok && call_ok && cseq_ok
    }
}

/// Parses the head of a SIP response (everything up to the blank line). Any
/// deviation from `SIP/2.0 NNN reason` plus `name: value` lines is an error.
pub fn parse_response(head: &[u8]) -> Result<Response, String> {
    let text = std::str::from_utf8(head).map_err(|_| "not UTF-8".to_string())?;
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let first = lines.next().ok_or("empty message")?;
    let shown = || first.chars().take(60).collect::<String>();
    let rest = first
        .strip_prefix("SIP/2.0 ")
        .ok_or_else(|| format!("first line `{}` is not `SIP/2.0 NNN reason`", shown()))?;
    let code = rest.get(..3).and_then(|c| c.parse::<u16>().ok());
    let status = match code {
        Some(c @ 100..=699) if rest.len() == 3 || rest.as_bytes()[3] == b' ' => c,
        _ => return Err(format!("first line `{}` has no status code", shown())),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // RFC 3261 7.3.1: a continuation line folds into the previous header.
            let last = headers
                .last_mut()
                .ok_or("continuation line before any header")?;
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| {
            format!(
                "header line `{}` has no `:`",
                line.chars().take(60).collect::<String>()
            )
        })?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Response {
        status,
        status_line: first.to_string(),
        headers,
    })
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub target: Target,
    pub transport: Transport,
    pub timeout: Duration,
}

impl Probe {
    fn resolve(&self) -> Result<SocketAddr, ProbeError> {
        let err = |source| ProbeError::Resolve {
            target: self.target.to_string(),
            source,
        };
        (self.target.host.as_str(), self.target.port)
            .to_socket_addrs()
            .map_err(err)?
            .next()
            .ok_or_else(|| err(io::Error::new(io::ErrorKind::NotFound, "no address")))
    }

    /// Sends one OPTIONS with CSeq `seq` and waits for its final response.
    pub fn send(&self, seq: u32) -> Result<Reply, ProbeError> {
        let addr = self.resolve()?;
        let ids = Ids::fresh(seq);
        match self.transport {
            Transport::Udp => self.send_udp(addr, &ids),
            Transport::Tcp => self.send_tcp(addr, &ids),
        }
    }

    fn io(&self, what: &'static str) -> impl Fn(io::Error) -> ProbeError + '_ {
        move |source| ProbeError::Io {
            what,
            target: self.target.to_string(),
            source,
        }
    }

    fn timeout_err(&self) -> ProbeError {
        ProbeError::Timeout {
            target: self.target.to_string(),
            transport: self.transport,
            after: self.timeout,
        }
    }

    fn garbage(&self, what: String) -> ProbeError {
        ProbeError::Garbage {
            target: self.target.to_string(),
            what,
        }
    }

    fn send_udp(&self, addr: SocketAddr, ids: &Ids) -> Result<Reply, ProbeError> {
        let bind: SocketAddr = if addr.is_ipv6() {
            "[::]:0".parse().expect("literal")
        } else {
            "0.0.0.0:0".parse().expect("literal")
        };
        let sock = UdpSocket::bind(bind).map_err(self.io("could not open a UDP socket for"))?;
        // Connected: only the target's datagrams reach us, and an ICMP port
        // unreachable comes back as an error instead of a silent wait.
        sock.connect(addr).map_err(self.io("could not reach"))?;
        let local = sock.local_addr().map_err(self.io("no local address for"))?;
        let request = build_request(&self.target, local, Transport::Udp, ids);
        let start = Instant::now();
        let deadline = start + self.timeout;
        let mut interval = T1;
        let mut next_send = start;
        let mut buf = vec![0u8; MAX_MESSAGE];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(self.timeout_err());
            }
            if now >= next_send {
                sock.send(request.as_bytes())
                    .map_err(self.io("could not send to"))?;
                next_send = now + interval;
                interval *= 2;
            }
            let wait = deadline
                .min(next_send)
                .saturating_duration_since(Instant::now());
            sock.set_read_timeout(Some(wait.max(Duration::from_millis(1))))
                .map_err(self.io("socket option for"))?;
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(self.io("no answer from")(e)),
            };
            let rtt = start.elapsed();
            let msg = &buf[..n];
            let head = match find_head_end(msg) {
                Some(end) => &msg[..end],
                None => return Err(self.garbage(describe(msg))),
            };
            let resp = parse_response(head).map_err(|w| self.garbage(w))?;
            if resp.status < 200 || !resp.matches(ids) {
                continue;
            }
            return Ok(Reply {
                status: resp.status,
                status_line: resp.status_line,
                peer: addr,
                rtt,
            });
        }
    }

    fn send_tcp(&self, addr: SocketAddr, ids: &Ids) -> Result<Reply, ProbeError> {
        let start = Instant::now();
        let mut stream = TcpStream::connect_timeout(&addr, self.timeout).map_err(|e| {
            if e.kind() == io::ErrorKind::TimedOut {
                self.timeout_err()
            } else {
                self.io("could not connect to")(e)
            }
        })?;
        let _ = stream.set_nodelay(true);
        let local = stream
            .local_addr()
            .map_err(self.io("no local address for"))?;
        let request = build_request(&self.target, local, Transport::Tcp, ids);
        let deadline = start + self.timeout;
        stream
            .write_all(request.as_bytes())
            .map_err(self.io("could not send to"))?;
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            // Take every complete message already buffered.
            while let Some(end) = find_head_end(&pending) {
                let resp = parse_response(&pending[..end]).map_err(|w| self.garbage(w))?;
                let body = resp
                    .header("content-length")
                    .map(|v| v.parse::<usize>())
                    .transpose()
                    .map_err(|_| self.garbage("a Content-Length that is not a number".into()))?
                    .unwrap_or(0);
                if pending.len() < end + 4 + body {
                    break;
                }
                pending.drain(..end + 4 + body);
                if resp.status >= 200 && resp.matches(ids) {
                    return Ok(Reply {
                        status: resp.status,
                        status_line: resp.status_line,
                        peer: addr,
                        rtt: start.elapsed(),
                    });
                }
            }
            if pending.len() > MAX_MESSAGE {
                return Err(self.garbage(describe(&pending)));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.timeout_err());
            }
            stream
                .set_read_timeout(Some(left))
                .map_err(self.io("socket option for"))?;
            match stream.read(&mut buf) {
                Ok(0) if pending.is_empty() => {
                    return Err(ProbeError::Closed {
                        target: self.target.to_string(),
                    });
                }
                Ok(0) => return Err(self.garbage(describe(&pending))),
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    // A message that cannot be SIP need not wait for its blank line.
                    if !b"SIP/2.0 ".starts_with(&pending[..pending.len().min(8)]) {
                        return Err(self.garbage(describe(&pending)));
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(self.timeout_err());
                }
                Err(e) => return Err(self.io("no answer from")(e)),
            }
        }
    }
}

/// Where the head of a message ends (the index of the blank line's `\r\n\r\n`).
fn find_head_end(msg: &[u8]) -> Option<usize> {
    msg.windows(4).position(|w| w == b"\r\n\r\n")
}

/// A short, printable description of bytes that are not SIP.
fn describe(msg: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(&msg[..msg.len().min(60)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    format!("{} bytes starting `{text}`", msg.len())
}

/// The median of round-trip times (upper median for an even count).
pub fn median(rtts: &[Duration]) -> Option<Duration> {
    let mut sorted = rtts.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_and_without_port() {
        let t = |s: &str| s.parse::<Target>();
        assert_eq!(
            t("127.0.0.1").unwrap(),
            Target {
                host: "127.0.0.1".into(),
                port: 5060
            }
        );
        assert_eq!(
            t("pbx.example:5080").unwrap(),
            Target {
                host: "pbx.example".into(),
                port: 5080
            }
        );
        assert_eq!(
            t("[::1]:5070").unwrap(),
            Target {
                host: "::1".into(),
                port: 5070
            }
        );
        assert_eq!(
            t("::1").unwrap(),
            Target {
                host: "::1".into(),
                port: 5060
            }
        );
        assert_eq!(t("[::1]:5070").unwrap().to_string(), "[::1]:5070");
        assert!(t("host:0").unwrap_err().contains("port"));
        assert!(t("host:x").unwrap_err().contains("port"));
        assert!(t(":5060").unwrap_err().contains("empty host"));
    }

    #[test]
    fn accept_lists_choose_the_codes() {
        let default = Accept::default();
        assert!(default.accepts(200) && default.accepts(202));
        assert!(!default.accepts(404) && !default.accepts(180));
        let live: Accept = "2xx,401,404".parse().unwrap();
        assert!(live.accepts(401) && live.accepts(404) && !live.accepts(503));
        let any: Accept = "any".parse().unwrap();
        assert!(any.accepts(503) && !any.accepts(100));
        assert!("7xx".parse::<Accept>().is_err());
        assert!("99".parse::<Accept>().is_err());
    }

    #[test]
    fn request_is_well_formed_and_ids_are_unique() {
        let target: Target = "127.0.0.1:5060".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let (a, b) = (Ids::fresh(1), Ids::fresh(1));
        assert_ne!(a.branch, b.branch);
        assert_ne!(a.call_id, b.call_id);
        let req = build_request(&target, local, Transport::Udp, &a);
        assert!(
            req.starts_with("OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n"),
            "{req}"
        );
        assert!(req.contains(&format!(
            "Via: SIP/2.0/UDP 127.0.0.1:40000;branch={};rport\r\n",
            a.branch
        )));
        assert!(a.branch.starts_with("z9hG4bK"));
        for h in [
            "Max-Forwards: 70\r\n",
            "CSeq: 1 OPTIONS\r\n",
            "Content-Length: 0\r\n\r\n",
        ] {
            assert!(req.contains(h), "{h:?} missing from {req}");
        }
        assert!(req.ends_with("\r\n\r\n") && !req[..req.len() - 4].contains("\r\n\r\n"));
    }

    fn response_for(ids: &Ids, status: &str) -> String {
        format!(
            "SIP/2.0 {status}\r\nv: SIP/2.0/UDP 127.0.0.1:40000;branch={};rport=40000\r\n\
             From: <sip:x@y>;tag={}\r\nTo: <sip:z>;tag=1\r\ni: {}@127.0.0.1\r\n\
             CSeq: {} OPTIONS\r\nContent-Length: 0\r\n\r\n",
            ids.branch, ids.tag, ids.call_id, ids.cseq
        )
    }

    #[test]
    fn responses_match_only_their_request() {
        let ids = Ids::fresh(7);
        let text = response_for(&ids, "200 OK");
        let head = &text.as_bytes()[..find_head_end(text.as_bytes()).unwrap()];
        let resp = parse_response(head).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.status_line, "SIP/2.0 200 OK");
        assert!(resp.matches(&ids));
        assert!(!resp.matches(&Ids::fresh(7)));
        let other_cseq = Ids {
            cseq: 8,
            ..ids.clone()
        };
        assert!(!resp.matches(&other_cseq));
    }

    #[test]
    fn garbage_is_rejected_with_a_reason() {
        assert!(
            parse_response(b"HTTP/1.1 200 OK")
                .unwrap_err()
                .contains("not `SIP/2.0")
        );
        assert!(
            parse_response(b"SIP/2.0 abc Bad")
                .unwrap_err()
                .contains("no status code")
        );
        assert!(
            parse_response(b"SIP/2.0 2000 OK")
                .unwrap_err()
                .contains("no status code")
        );
        assert!(
            parse_response(b"SIP/2.0 200 OK\r\nbroken header")
                .unwrap_err()
                .contains("no `:`")
        );
        assert!(parse_response(&[0xff, 0xfe]).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn median_of_round_trips() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), Some(ms(2)));
        assert_eq!(median(&[]), None);
    }
}
