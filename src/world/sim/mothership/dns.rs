//! The mothership's PowerDNS as seen from outside: an authoritative DNS server on loopback (UDP and
//! TCP) for the pool zones and every Sovereign zone PDM wrote. Hand-written (RFC 1035 wire format,
//! A and SOA only): no DNS crate is in the dependency set, and the world needs only answers, not
//! recursion. Names outside every zone get REFUSED, as PowerDNS answers for zones it does not serve.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use crate::sim::catalyst::pdm::PdmZones;

/// TTL of every answer: PDM's commit writes its six A records with TTL 300 (contract §6.3).
pub const RECORD_TTL: u32 = 300;

const TYPE_A: u16 = 1;
const TYPE_SOA: u16 = 6;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_REFUSED: u8 = 5;
const RCODE_FORMERR: u8 = 1;

/// What the server answers from: the pool zones PowerDNS was bootstrapped with (scenario data, so
/// a missing one can be played) and PDM's rows.
#[derive(Clone)]
pub struct Zones {
    pub pool: Arc<Mutex<Vec<String>>>,
    pub pdm: Option<PdmZones>,
}

impl Zones {
    fn pool(&self) -> Vec<String> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every zone served: pool zones (no records of their own here) and PDM's child zones.
    pub fn all(&self) -> Vec<(String, Vec<(String, String)>)> {
        let mut out: Vec<(String, Vec<(String, String)>)> =
            self.pool().into_iter().map(|z| (z, Vec::new())).collect();
        if let Some(pdm) = &self.pdm {
            out.extend(pdm.zones());
        }
        out
    }
}

/// A running DNS server; both sockets close when it is dropped.
pub struct DnsSim {
    addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DnsSim {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl DnsSim {
    /// Bind UDP and TCP on the same free loopback port.
    pub async fn start(zones: Zones) -> std::io::Result<DnsSim> {
        // The UDP port is chosen first; TCP takes the same number (retry if it is taken).
        let mut last = None;
        for _ in 0..16 {
            let udp = UdpSocket::bind("127.0.0.1:0").await?;
            let addr = udp.local_addr()?;
            match TcpListener::bind(addr).await {
                Ok(tcp) => {
                    let z = zones.clone();
                    let udp_task = tokio::spawn(async move {
                        let mut buf = vec![0u8; 1500];
                        loop {
                            let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
                                continue;
                            };
                            if let Some(answer) = answer(&z, &buf[..n]) {
                                let _ = udp.send_to(&answer, peer).await;
                            }
                        }
                    });
                    let tcp_task = tokio::spawn(async move {
                        loop {
                            let Ok((mut stream, _)) = tcp.accept().await else {
                                continue;
                            };
                            let z = zones.clone();
                            tokio::spawn(async move {
                                loop {
                                    let mut len = [0u8; 2];
                                    if stream.read_exact(&mut len).await.is_err() {
                                        return;
                                    }
                                    let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                                    if stream.read_exact(&mut q).await.is_err() {
                                        return;
                                    }
                                    let Some(a) = answer(&z, &q) else { return };
                                    let mut out = (a.len() as u16).to_be_bytes().to_vec();
                                    out.extend(a);
                                    if stream.write_all(&out).await.is_err() {
                                        return;
                                    }
                                }
                            });
                        }
                    });
                    return Ok(DnsSim {
                        addr,
                        tasks: vec![udp_task, tcp_task],
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free port for UDP and TCP")))
    }

    /// `127.0.0.1:PORT`, UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Read a (possibly compressed) name at `at`; returns the lower-cased dotted name and the offset
/// after it in the original position.
fn read_name(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    let mut end = None;
    for _ in 0..64 {
        let len = *msg.get(at)? as usize;
        if len == 0 {
            return Some((labels.join("."), end.unwrap_or(at + 1)));
        }
        if len & 0xC0 == 0xC0 {
            let ptr = ((len & 0x3F) << 8) | *msg.get(at + 1)? as usize;
            end.get_or_insert(at + 2);
            at = ptr;
            continue;
        }
        let label = msg.get(at + 1..at + 1 + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += 1 + len;
    }
    None
}

fn write_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len().min(63) as u8);
        out.extend(label.bytes().take(63));
    }
    out.push(0);
}

/// The answer to one query message, or `None` when it is not even a header.
pub fn answer(zones: &Zones, query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let id = [query[0], query[1]];
    let rd = query[2] & 0x01;
    let qdcount = u16::from_be_bytes([query[4], query[5]]);
    let header = |rcode: u8, qd: u16, an: u16| {
        let mut h = Vec::with_capacity(512);
        h.extend(id);
        h.push(0x84 | rd); // QR, AA
        h.push(rcode);
        h.extend(qd.to_be_bytes());
        h.extend(an.to_be_bytes());
        h.extend([0, 0, 0, 0]);
        h
    };
    if qdcount != 1 || query[2] & 0x80 != 0 {
        return Some(header(RCODE_FORMERR, 0, 0));
    }
    let Some((qname, after)) = read_name(query, 12) else {
        return Some(header(RCODE_FORMERR, 0, 0));
    };
    let Some(fixed) = query.get(after..after + 4) else {
        return Some(header(RCODE_FORMERR, 0, 0));
    };
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let question = &query[12..after + 4];
    let qname = qname.trim_end_matches('.').to_string();

    // The most specific zone holding the name.
    let all = zones.all();
    let zone = all
        .iter()
        .filter(|(z, _)| qname == *z || qname.ends_with(&format!(".{z}")))
        .max_by_key(|(z, _)| z.len());
    let Some((zone, records)) = zone else {
        let mut out = header(RCODE_REFUSED, 1, 0);
        out.extend(question);
        return Some(out);
    };
    let relative = if qname == *zone {
        "@".to_string()
    } else {
        qname[..qname.len() - zone.len() - 1].to_string()
    };
    let mut answers: Vec<Vec<u8>> = Vec::new();
    let rr = |rtype: u16, rdata: &[u8]| {
        let mut r = vec![0xC0, 0x0C];
        r.extend(rtype.to_be_bytes());
        r.extend(1u16.to_be_bytes());
        r.extend(RECORD_TTL.to_be_bytes());
        r.extend((rdata.len() as u16).to_be_bytes());
        r.extend(rdata);
        r
    };
    let exact: Vec<&String> = records
        .iter()
        .filter(|(n, _)| *n == relative)
        .map(|(_, ip)| ip)
        .collect();
    // A wildcard covers names one or more labels below the apex that have no record of their own.
    let wild: Vec<&String> = if relative != "@" && exact.is_empty() {
        records
            .iter()
            .filter(|(n, _)| n == "*")
            .map(|(_, ip)| ip)
            .collect()
    } else {
        Vec::new()
    };
    let ips: Vec<&String> = if exact.is_empty() { wild } else { exact };
    let exists = relative == "@" || !ips.is_empty();
    if qtype == TYPE_A {
        for ip in &ips {
            if let Ok(v4) = ip.parse::<std::net::Ipv4Addr>() {
                answers.push(rr(TYPE_A, &v4.octets()));
            }
        }
    } else if qtype == TYPE_SOA && relative == "@" {
        let mut rdata = Vec::new();
        write_name(&mut rdata, "ns1.openova.io");
        write_name(&mut rdata, "hostmaster.openova.io");
        for v in [1u32, 10800, 3600, 604800, RECORD_TTL] {
            rdata.extend(v.to_be_bytes());
        }
        answers.push(rr(TYPE_SOA, &rdata));
    }
    let rcode = if exists { 0 } else { RCODE_NXDOMAIN };
    let mut out = header(rcode, 1, answers.len() as u16);
    out.extend(question);
    for a in answers {
        out.extend(a);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        write_name(&mut q, name);
        q.extend(qtype.to_be_bytes());
        q.extend(1u16.to_be_bytes());
        q
    }

    fn zones(pool: &[&str]) -> Zones {
        Zones {
            pool: Arc::new(Mutex::new(pool.iter().map(|s| s.to_string()).collect())),
            pdm: None,
        }
    }

    #[test]
    fn pool_zone_soa_and_refused_outside() {
        let z = zones(&["omani.works"]);
        let a = answer(&z, &query("omani.works", TYPE_SOA)).expect("answer");
        assert_eq!(a[3] & 0x0F, 0);
        assert_eq!(u16::from_be_bytes([a[6], a[7]]), 1);
        let a = answer(&z, &query("example.org", TYPE_SOA)).expect("answer");
        assert_eq!(a[3] & 0x0F, RCODE_REFUSED);
        let a = answer(&z, &query("nope.omani.works", TYPE_A)).expect("answer");
        assert_eq!(a[3] & 0x0F, RCODE_NXDOMAIN);
        assert!(answer(&z, &[1, 2, 3]).is_none());
    }
}
