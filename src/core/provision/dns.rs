//! A minimal DNS client (RFC 1035 over UDP; TCP is not needed for the questions we ask): is a
//! zone served (SOA at its apex), and which A records a name has with their TTL. Shared by the
//! pre-flight (PowerDNS serves the pool zones, §1.2 F) and decommission (does `console.<fqdn>`
//! still resolve, and for how long may a cached answer linger, §2.1).

use std::net::SocketAddr;
use std::time::Duration;

/// A DNS answer, as far as the pre-flight and decommission read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// 0 NOERROR, 3 NXDOMAIN, 5 REFUSED, …
    pub rcode: u8,
    /// `(type, ttl, rdata)` of each answer record.
    pub records: Vec<(u16, u32, Vec<u8>)>,
}

pub const TYPE_A: u16 = 1;
pub const TYPE_SOA: u16 = 6;

impl Answer {
    /// The IPv4 addresses of the A records, with their TTLs.
    pub fn a_records(&self) -> Vec<(std::net::Ipv4Addr, u32)> {
        self.records
            .iter()
            .filter(|(t, _, d)| *t == TYPE_A && d.len() == 4)
            .map(|(_, ttl, d)| (std::net::Ipv4Addr::new(d[0], d[1], d[2], d[3]), *ttl))
            .collect()
    }

    pub fn rcode_name(&self) -> &'static str {
        match self.rcode {
            0 => "NOERROR",
            1 => "FORMERR",
            2 => "SERVFAIL",
            3 => "NXDOMAIN",
            5 => "REFUSED",
            _ => "error",
        }
    }
}

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len().min(63) as u8);
        q.extend(label.bytes().take(63));
    }
    q.push(0);
    q.extend(qtype.to_be_bytes());
    q.extend(1u16.to_be_bytes());
    q
}

/// Skip a (possibly compressed) name; the offset after it.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)? as usize;
        if len == 0 {
            return Some(at + 1);
        }
        if len & 0xC0 == 0xC0 {
            return Some(at + 2);
        }
        at += 1 + len;
    }
}

/// Parse an answer to query `id`; `None` for anything malformed (never panics on its input).
pub fn parse(msg: &[u8], id: u16) -> Option<Answer> {
    if msg.len() < 12 || u16::from_be_bytes([msg[0], msg[1]]) != id || msg[2] & 0x80 == 0 {
        return None;
    }
    let rcode = msg[3] & 0x0F;
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let an = u16::from_be_bytes([msg[6], msg[7]]);
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(msg, at)? + 4;
    }
    let mut records = Vec::new();
    for _ in 0..an.min(64) {
        at = skip_name(msg, at)?;
        let fixed = msg.get(at..at + 10)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let len = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        let data = msg.get(at + 10..at + 10 + len)?.to_vec();
        records.push((rtype, ttl, data));
        at += 10 + len;
    }
    Some(Answer { rcode, records })
}

/// Ask `server` one question over UDP within `deadline` (two tries).
pub async fn ask(
    server: SocketAddr,
    name: &str,
    qtype: u16,
    deadline: Duration,
) -> Result<Answer, String> {
    let bind = if server.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("DNS: {e}"))?;
    sock.connect(server)
        .await
        .map_err(|e| format!("DNS {server}: {e}"))?;
    let id: u16 = rand_id(name);
    let q = query(id, name, qtype);
    let per_try = deadline / 2;
    let mut buf = vec![0u8; 4096];
    for _ in 0..2 {
        sock.send(&q)
            .await
            .map_err(|e| format!("DNS {server}: {e}"))?;
        match tokio::time::timeout(per_try, sock.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                if let Some(a) = parse(&buf[..n], id) {
                    return Ok(a);
                }
            }
            Ok(Err(e)) => return Err(format!("DNS {server}: {e}")),
            Err(_) => continue,
        }
    }
    Err(format!(
        "DNS {server}: no answer for {name} within {}",
        crate::provision::limits::show_duration(deadline)
    ))
}

/// A query id that differs between questions and runs (not security-relevant: loopback/bastion).
fn rand_id(name: &str) -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let h = name.bytes().fold(nanos, |h, b| h.rotate_left(5) ^ b as u32);
    (h ^ (h >> 16)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_a_answer_and_refuses_garbage() {
        let mut msg = query(7, "console.t1.omani.works", TYPE_A);
        msg[2] = 0x85;
        msg[7] = 1;
        msg.extend([0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 10, 0, 0, 9]);
        let a = parse(&msg, 7).expect("answer");
        assert_eq!(a.rcode, 0);
        assert_eq!(a.a_records(), vec![("10.0.0.9".parse().expect("ip"), 300)]);
        assert!(parse(&msg, 8).is_none());
        assert!(parse(&msg[..msg.len() - 3], 7).is_none());
        assert!(parse(&[0; 5], 7).is_none());
    }
}
