//! The TLS sessions a transport remembers for resuming its connections to apiservers.
//!
//! rustls's own in-memory store keeps up to eight TLS 1.3 tickets for every server, and each
//! ticket holds a copy of the server's certificate chain. A rustls server sends two tickets per
//! handshake (servers choose their own number) and a reconnect uses one, so each reconnect
//! leaves one more behind until the eight are full: at 2,000 Sovereigns up to 16,000 chains,
//! and the soak's heap grew towards that at every restart and flap. One connection per apiserver (HTTP/2) needs one
//! ticket to resume; more than [`TICKETS_PER_SERVER`] is waste.

use std::collections::VecDeque;
use std::sync::Mutex;

use rustls::NamedGroup;
use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::pki_types::ServerName;

/// Tickets kept per server, newest: one for the next connection, one for a second opened at the
/// same moment (an HTTP/1.1-only apiserver gets one connection per watch).
pub const TICKETS_PER_SERVER: usize = 2;

#[derive(Default)]
struct ServerData {
    kx_hint: Option<NamedGroup>,
    tls12: Option<Tls12ClientSessionValue>,
    tls13: VecDeque<Tls13ClientSessionValue>,
}

/// Sessions of at most `max_servers` servers (the one added first is forgotten first), each with
/// at most [`TICKETS_PER_SERVER`] TLS 1.3 tickets.
pub struct SessionStore {
    max_servers: usize,
    servers: Mutex<VecDeque<(ServerName<'static>, ServerData)>>,
}

impl SessionStore {
    pub fn new(max_servers: usize) -> SessionStore {
        SessionStore {
            max_servers: max_servers.max(1),
            servers: Mutex::new(VecDeque::new()),
        }
    }

    /// TLS 1.3 tickets held for `server` (for tests and diagnostics).
    pub fn tickets(&self, server: &ServerName<'_>) -> usize {
        self.with(|s| {
            s.iter()
                .find(|(n, _)| n == server)
                .map_or(0, |(_, d)| d.tls13.len())
        })
    }

    /// Servers remembered.
    pub fn servers(&self) -> usize {
        self.with(|s| s.len())
    }

    // The data is only ever replaced whole, so a panic elsewhere while holding the lock cannot
    // leave it half-written: go on with it.
    fn with<T>(&self, f: impl FnOnce(&mut VecDeque<(ServerName<'static>, ServerData)>) -> T) -> T {
        f(&mut self.servers.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn edit(&self, server: ServerName<'static>, f: impl FnOnce(&mut ServerData)) {
        self.with(|s| {
            let i = match s.iter().position(|(n, _)| *n == server) {
                Some(i) => i,
                None => {
                    if s.len() >= self.max_servers {
                        s.pop_front();
                    }
                    s.push_back((server, ServerData::default()));
                    s.len() - 1
                }
            };
            f(&mut s[i].1)
        })
    }

    fn read<T>(&self, server: &ServerName<'_>, f: impl FnOnce(&mut ServerData) -> T) -> Option<T> {
        self.with(|s| s.iter_mut().find(|(n, _)| n == server).map(|(_, d)| f(d)))
    }
}

// Session data is secret: the store says only how much it holds.
impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("max_servers", &self.max_servers)
            .field("servers", &self.servers())
            .finish_non_exhaustive()
    }
}

impl ClientSessionStore for SessionStore {
    fn set_kx_hint(&self, server: ServerName<'static>, group: NamedGroup) {
        self.edit(server, |d| d.kx_hint = Some(group));
    }

    fn kx_hint(&self, server: &ServerName<'_>) -> Option<NamedGroup> {
        self.read(server, |d| d.kx_hint).flatten()
    }

    fn set_tls12_session(&self, server: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.edit(server, |d| d.tls12 = Some(value));
    }

    fn tls12_session(&self, server: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.read(server, |d| d.tls12.clone()).flatten()
    }

    fn remove_tls12_session(&self, server: &ServerName<'static>) {
        self.read(server, |d| d.tls12 = None);
    }

    fn insert_tls13_ticket(&self, server: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.edit(server, |d| {
            if d.tls13.len() >= TICKETS_PER_SERVER {
                d.tls13.pop_front();
            }
            d.tls13.push_back(value);
        });
    }

    fn take_tls13_ticket(&self, server: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.read(server, |d| d.tls13.pop_back()).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::Resumption;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::{ClientConfig, ClientConnection, HandshakeKind, ServerConfig, ServerConnection};
    use std::sync::Arc;

    struct Server {
        config: Arc<ServerConfig>,
        ca: CertificateDer<'static>,
    }

    /// A server for `localhost` and `kubernetes` that sends four tickets per handshake.
    fn server() -> Server {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".into(), "kubernetes".into()])
            .expect("params");
        let cert = params.self_signed(&key).expect("cert");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("server config");
        config.send_tls13_tickets = 4;
        Server {
            config: Arc::new(config),
            ca: cert.der().clone(),
        }
    }

    fn client(server: &Server, store: Arc<SessionStore>) -> Arc<ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(server.ca.clone()).expect("root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = Resumption::store(store);
        Arc::new(config)
    }

    /// One connection, in memory, until both sides have nothing more to say (so the tickets
    /// the server sends after the handshake reach the client's store).
    fn connect(server: &Server, client: &Arc<ClientConfig>, name: &str) -> HandshakeKind {
        let name = ServerName::try_from(name.to_string()).expect("name");
        let mut c = ClientConnection::new(client.clone(), name).expect("client");
        let mut s = ServerConnection::new(server.config.clone()).expect("server");
        let mut wire = Vec::new();
        while c.wants_write() || s.wants_write() || c.is_handshaking() {
            wire.clear();
            c.write_tls(&mut wire).expect("client writes");
            s.read_tls(&mut wire.as_slice()).expect("server reads");
            s.process_new_packets().expect("server handshake");
            wire.clear();
            s.write_tls(&mut wire).expect("server writes");
            c.read_tls(&mut wire.as_slice()).expect("client reads");
            c.process_new_packets().expect("client handshake");
        }
        c.handshake_kind().expect("handshake done")
    }

    #[test]
    fn reconnects_resume_and_the_store_keeps_two_tickets_however_many_the_server_sends() {
        let srv = server();
        let store = Arc::new(SessionStore::new(1));
        let cfg = client(&srv, store.clone());
        let name = ServerName::try_from("localhost").expect("name");
        assert_eq!(connect(&srv, &cfg, "localhost"), HandshakeKind::Full);
        for _ in 0..5 {
            assert_eq!(store.tickets(&name), TICKETS_PER_SERVER);
            assert_eq!(connect(&srv, &cfg, "localhost"), HandshakeKind::Resumed);
        }
        assert_eq!(store.tickets(&name), TICKETS_PER_SERVER);
        // A second server name in a store for one: the first is forgotten, not kept beside it.
        assert_eq!(connect(&srv, &cfg, "kubernetes"), HandshakeKind::Full);
        assert_eq!(store.servers(), 1);
        assert_eq!(store.tickets(&name), 0);
        assert_eq!(connect(&srv, &cfg, "localhost"), HandshakeKind::Full);
    }

    #[test]
    fn the_store_does_not_show_its_sessions() {
        let srv = server();
        let store = Arc::new(SessionStore::new(4));
        connect(&srv, &client(&srv, store.clone()), "localhost");
        assert_eq!(
            format!("{store:?}"),
            "SessionStore { max_servers: 4, servers: 1, .. }"
        );
    }
}
