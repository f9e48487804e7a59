//! Misbehaving servers on loopback (port 0), shared by the CLI, library and cockpit tests: one
//! that accepts and never answers, one that drips its answer a byte at a time, an event stream
//! that never ends an event, an endless body, a 1 GB body, answers carrying terminal escape
//! sequences, 500/503 flapping, a TLS server with a certificate no client may accept, and one
//! that closes in the middle of the TLS handshake.
//!
//! Each server runs on a thread of its own with its own tokio runtime, so synchronous tests (the
//! pseudo-terminal ones) can use them as well as `#[tokio::test]`s; dropping the [`Hostile`]
//! stops it. Every request head it reads is counted ([`Hostile::requests`]), which is how tests
//! check that a client backs off instead of retrying in a tight loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// A self-signed certificate for `hostile.invalid` (fixtures/tls, test-only key): wrong issuer
/// and wrong name for a client that dials 127.0.0.1.
const CERT_PEM: &[u8] = include_bytes!("../../fixtures/tls/hostile-cert.pem");
const KEY_PEM: &[u8] = include_bytes!("../../fixtures/tls/hostile-key.pem");

/// The escape-laden text servers put in messages: a title change (OSC 0), a screen wipe
/// (CSI 2J), colour, a carriage return and an 8-bit CSI.
pub const NASTY: &str = "boom\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mred\u{1b}[0m\rover\u{9b}2Jend";

/// How a hostile server treats each request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Accept, read the request, never answer.
    Silent,
    /// 200 with a body (`body`) sent one byte every `every`.
    Drip { body: String, every: Duration },
    /// Headers of an event stream, then `data:` lines forever without the blank line that would
    /// end an event.
    EndlessEvent,
    /// Headers of an event stream, one event, then silence with the connection open.
    StallingStream,
    /// 200 with a chunked body that never ends.
    EndlessBody,
    /// 200 with `Content-Length: len` (e.g. 1 GB), streamed in 64 KiB blocks of spaces.
    HugeBody { len: u64 },
    /// A complete SSE answer (`text`), any path.
    Sse(String),
    /// The same complete JSON answer to every request (e.g. escape-laden messages).
    Json(String),
    /// Answers alternating 500 and 503 (a Kubernetes `Status` body), closing each connection.
    Flapping,
    /// A Kubernetes apiserver whose watches send one line that never ends (chunked). Its LIST
    /// answers are an empty list when `list_ok`, else `{"kind":…List,…` and `x`s for ever.
    EndlessKube { list_ok: bool },
}

/// What the socket speaks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    Plain,
    /// TLS with the self-signed `hostile.invalid` certificate.
    SelfSigned,
    /// Reads the ClientHello, then closes.
    CloseMidHandshake,
}

/// A running hostile server; dropping it stops it.
pub struct Hostile {
    url: String,
    requests: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hostile {
    /// `b` over plain HTTP; the root URL is `http://127.0.0.1:PORT`.
    pub fn start(b: Behaviour) -> Hostile {
        Hostile::spawn(b, Transport::Plain)
    }

    /// `b` behind TLS with a self-signed certificate for another name: `https://127.0.0.1:PORT`.
    pub fn self_signed_tls(b: Behaviour) -> Hostile {
        Hostile::spawn(b, Transport::SelfSigned)
    }

    /// A server that reads the TLS ClientHello and closes the connection.
    pub fn closes_mid_handshake() -> Hostile {
        Hostile::spawn(Behaviour::Silent, Transport::CloseMidHandshake)
    }

    fn spawn(b: Behaviour, transport: Transport) -> Hostile {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("hostile-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).expect("listener");
                    let acceptor = tls_acceptor();
                    let accept = async {
                        while let Ok((sock, _)) = listener.accept().await {
                            let (b, counted, acceptor) =
                                (b.clone(), counted.clone(), acceptor.clone());
                            tokio::spawn(async move {
                                match transport {
                                    Transport::Plain => serve(sock, b, counted).await,
                                    Transport::SelfSigned => {
                                        if let Ok(tls) = acceptor.accept(sock).await {
                                            serve(tls, b, counted).await;
                                        }
                                    }
                                    Transport::CloseMidHandshake => {
                                        let mut sock = sock;
                                        let mut hello = [0u8; 512];
                                        let _ = sock.read(&mut hello).await;
                                        // Half a ServerHello record header, then gone.
                                        let _ = sock.write_all(&[0x16, 0x03, 0x03]).await;
                                    }
                                }
                            });
                        }
                    };
                    tokio::select! {
                        _ = stopped => {}
                        _ = accept => {}
                    }
                });
                // Dropping the runtime drops every connection task with it.
            })
            .expect("thread");
        let scheme = if transport == Transport::Plain {
            "http"
        } else {
            "https"
        };
        Hostile {
            url: format!("{scheme}://{addr}"),
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The root URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Request heads read so far (over all connections).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(CERT_PEM)
        .collect::<Result<Vec<_>, _>>()
        .expect("fixture certificate");
    let key = PrivateKeyDer::from_pem_slice(KEY_PEM).expect("fixture key");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Read one request head; its path, or None when the peer went away first.
async fn read_request<S: AsyncRead + Unpin>(sock: &mut S) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    Some(head.split_whitespace().nth(1).unwrap_or("/").to_string())
}

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                        Cache-Control: no-cache\r\n\r\n";

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut sock: S,
    b: Behaviour,
    counted: Arc<AtomicUsize>,
) {
    let Some(path) = read_request(&mut sock).await else {
        return;
    };
    let n = counted.fetch_add(1, Ordering::SeqCst);
    match b {
        Behaviour::Silent => {
            // Hold the connection open, answering nothing.
            let mut sink = [0u8; 1024];
            while let Ok(n) = sock.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        }
        Behaviour::EndlessEvent => {
            if sock.write_all(SSE_HEAD.as_bytes()).await.is_err() {
                return;
            }
            let line = format!("data: {}\n", "x".repeat(1000));
            while sock.write_all(line.as_bytes()).await.is_ok() {}
        }
        Behaviour::StallingStream => {
            let ev = serde_json::json!({"time": "2026-12-06T10:00:00Z", "phase": "tofu-init",
                                        "level": "info", "message": "starting"});
            let text = format!("{SSE_HEAD}data: {ev}\n\n");
            if sock.write_all(text.as_bytes()).await.is_ok() {
                let mut sink = [0u8; 64];
                let _ = sock.read(&mut sink).await;
            }
        }
        Behaviour::EndlessBody => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            endless_chunks(&mut sock, b' ').await;
        }
        Behaviour::HugeBody { len } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
            );
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let block = vec![b' '; 64 * 1024];
            let mut left = len;
            while left > 0 {
                let n = left.min(block.len() as u64) as usize;
                if sock.write_all(&block[..n]).await.is_err() {
                    return;
                }
                left -= n as u64;
            }
        }
        Behaviour::Drip { body, every } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for b in body.bytes() {
                if sock.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        }
        Behaviour::Sse(text) => {
            let _ = sock.write_all(format!("{SSE_HEAD}{text}").as_bytes()).await;
            let _ = sock.shutdown().await;
        }
        Behaviour::Json(body) => {
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(answer.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
        Behaviour::Flapping => {
            let (code, reason, text) = if n.is_multiple_of(2) {
                (500, "InternalError", "Internal Server Error")
            } else {
                (503, "ServiceUnavailable", "Service Unavailable")
            };
            let body = serde_json::json!({"kind": "Status", "apiVersion": "v1",
                "status": "Failure", "code": code, "reason": reason,
                "message": format!("flapping: answer {n}")})
            .to_string();
            let answer = format!(
                "HTTP/1.1 {code} {text}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(answer.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
        Behaviour::EndlessKube { list_ok } => {
            let watch = path.contains("watch=");
            if list_ok && !watch {
                let body = r#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(answer.as_bytes()).await;
                let _ = sock.shutdown().await;
                return;
            }
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let opening = if watch {
                "{\"type\":\"ADDED\",\"object\":{\"kind\":\"HelmRelease\",\"metadata\":{\"name\":\""
            } else {
                "{\"kind\":\"HelmReleaseList\",\"apiVersion\":\"v1\",\"items\":["
            };
            let first = format!("{:x}\r\n{opening}\r\n", opening.len());
            if sock.write_all(first.as_bytes()).await.is_err() {
                return;
            }
            endless_chunks(&mut sock, b'x').await;
        }
    }
}

/// 64 KiB chunks of `fill` until the peer goes away.
async fn endless_chunks<S: AsyncWrite + Unpin>(sock: &mut S, fill: u8) {
    let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
    chunk.extend(std::iter::repeat_n(fill, 64 * 1024));
    chunk.extend_from_slice(b"\r\n");
    while sock.write_all(&chunk).await.is_ok() {}
}
