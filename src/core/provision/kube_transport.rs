//! The HTTP transport under every kube client we build, and the client stack on top of it.
//!
//! kube's default stack (`Client::try_from` / `ClientBuilder::try_from`) gives each client its own
//! everything: a rustls configuration (its own verifier, root store and a session cache
//! preallocated for 256 servers), its own hyper connection pool and connector, a tracing layer,
//! and hyper's adaptive HTTP/1 read buffers that grow from 8 KiB towards 400 KiB under a burst
//! and shrink back slowly. One client per Sovereign made that the cockpit's cost per cluster
//! (docs/PERFORMANCE.md, "Fleet at 2,000"). Here:
//!
//! * **One transport per TLS setting.** Clients whose kubeconfigs ask for the same roots, the
//!   same verification and the same socket timeouts, and present no client identity, share one
//!   rustls configuration and one hyper client (pool + connector). Connections are still per
//!   apiserver (the pool keys them by scheme and authority); only the machinery is shared. The
//!   registry holds transports weakly: one nobody uses any more is freed.
//! * **A client identity gets a transport of its own** (client certificate or key in the
//!   kubeconfig, or an exec plugin, which may hand out one): TLS connections carry the identity,
//!   so pooling them across users would send one user's requests as another. Its session cache
//!   is sized for the one apiserver it talks to.
//! * **Two resumption tickets per apiserver** ([`SessionStore`]), not rustls's eight: each holds
//!   a copy of the server's certificate chain, and reconnects filled all eight.
//! * **Fixed read buffers** ([`READ_BUF`]) instead of hyper's adaptive ones: a watch is a long
//!   trickle of small events, and a buffer that grew during the initial LIST stayed large.
//! * **No retry, no tracing layer**: every caller has its own bounded backoff that reports each
//!   failure (a hidden retry beneath it doubled the requests a flapping apiserver received), and
//!   our loops log what matters.
//! * The body cap ([`BodyCapLayer`]) stays the outermost layer.
//!
//! kube's `Client` itself still puts a `tower::buffer::Buffer` (a channel and a worker task) in
//! front of the stack; that is inside kube and cannot be avoided without forking it.
//!
//! A proxy in the kubeconfig (`proxy-url`) takes kube's own stack (with retry still off), which
//! knows how to tunnel.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_rustls::{FixedServerNameResolver, HttpsConnector, HttpsConnectorBuilder};
use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::{Body, ClientBuilder, ConfigExt};
use kube::{Client, Config};
use tower::ServiceBuilder;

use crate::provision::kube_cap::{BodyCapLayer, Capped};
use crate::provision::tls_sessions::SessionStore;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Size of each HTTP/1 connection's read buffer. It also bounds a response's head (status line
/// and headers: an apiserver sends well under 1 KiB of them; a larger head is refused as "message
/// head is too large"); bodies of any size stream through it, an event larger than the buffer
/// in several pieces. hyper's default starts at 8 KiB and grows to 400 KiB under a burst.
pub const READ_BUF: usize = 4 * 1024;

/// Servers whose TLS sessions a transport remembers when it talks to one apiserver (a client
/// identity or a cluster CA of its own), and when it is shared by every cluster its CA or the
/// platform's roots vouch for.
const OWN_SERVERS: usize = 1;
const SHARED_SERVERS: usize = 32;

type Connector = TimeoutConnector<HttpsConnector<HttpConnector>>;
type Http = hyper_util::client::legacy::Client<Connector, Body>;

/// A kube client for `config`: our transport, kube's base-URI, auth and header layers, and the
/// body cap as the outermost layer, so it sees bodies as they arrive. `cluster` names the source
/// in errors.
pub fn client(config: Config, cluster: &str, cap: usize) -> kube::Result<Client> {
    ClusterClient::new(config, cluster, cap).map(|c| c.kube())
}

type Stack = tower::util::BoxCloneSyncService<
    http::Request<Body>,
    http::Response<Capped<hyper::body::Incoming>>,
    BoxError,
>;

/// A response body as [`ClusterClient::send`] hands it out, with `kube::Client`'s error type.
pub type ResponseBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, kube::Error>;

/// A client for one apiserver that sends through our stack directly. `kube::Client` puts a
/// request queue in front of its stack (a `tower::buffer::Buffer`: a channel block and a worker
/// task, ≈ 10 KiB); the fleet's watch loops, always running for every Sovereign, need none, so
/// they send through this, and a `kube::Client` on the same stack is made the first time one is
/// asked for (on-demand reads, actions) and kept.
#[derive(Clone)]
pub struct ClusterClient {
    route: Route,
    default_ns: String,
    kube: Arc<std::sync::OnceLock<Client>>,
    opening: Arc<Opening>,
}

/// Until a request has gone through, requests go one at a time: a Sovereign's watch loops start
/// together, and each would open a connection of its own before TLS could tell that the
/// apiserver speaks HTTP/2 (hyper then drops the extras, but only after their handshakes). The
/// first opens the connection; over HTTP/2 the others then share it. A failed request closes
/// the gate again (the apiserver may be coming back).
#[derive(Default)]
struct Opening {
    open: std::sync::atomic::AtomicBool,
    gate: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
enum Route {
    Stack(Stack),
    /// A proxy in the kubeconfig: kube's own client (it knows how to tunnel).
    Kube(Client),
}

impl ClusterClient {
    pub fn new(mut config: Config, cluster: &str, cap: usize) -> kube::Result<ClusterClient> {
        config.default_retry = false;
        let cap_layer = BodyCapLayer::new(cluster, cap);
        let default_ns = config.default_namespace.clone();
        if config.proxy_url.is_some() {
            let kube = ClientBuilder::try_from(config)?
                .with_layer(&cap_layer)
                .build();
            return Ok(ClusterClient {
                route: Route::Kube(kube),
                default_ns,
                kube: Arc::default(),
                opening: Arc::default(),
            });
        }
        let http = transport(&config)?;
        let stack = ServiceBuilder::new()
            .layer(cap_layer)
            .layer(config.base_uri_layer())
            .option_layer(config.auth_layer()?)
            .layer(config.extra_headers_layer()?)
            .service(Shared(http));
        Ok(ClusterClient {
            route: Route::Stack(Stack::new(stack)),
            default_ns,
            kube: Arc::default(),
            opening: Arc::default(),
        })
    }

    /// A `kube::Client` on this client's stack (made once, then shared by its clones).
    pub fn kube(&self) -> Client {
        self.kube
            .get_or_init(|| match &self.route {
                Route::Stack(stack) => Client::new(stack.clone(), self.default_ns.clone()),
                Route::Kube(kube) => kube.clone(),
            })
            .clone()
    }

    /// Send a request, with `kube::Client::send`'s errors: what a layer refused as itself,
    /// a connection failure as `HyperError`, anything else as `Service`.
    pub async fn send(
        &self,
        request: http::Request<Body>,
    ) -> kube::Result<http::Response<ResponseBody>> {
        use std::sync::atomic::Ordering;
        let open = &self.opening.open;
        let gate = match open.load(Ordering::Acquire) {
            true => None,
            false => Some(self.opening.gate.lock().await).filter(|_| !open.load(Ordering::Acquire)),
        };
        let res = self.send_now(request).await;
        if gate.is_some() || res.is_err() {
            open.store(res.is_ok(), Ordering::Release);
        }
        res
    }

    async fn send_now(
        &self,
        request: http::Request<Body>,
    ) -> kube::Result<http::Response<ResponseBody>> {
        use http_body_util::BodyExt;
        use tower::{Service, ServiceExt};
        let mut stack = match &self.route {
            Route::Stack(stack) => stack.clone(),
            Route::Kube(kube) => {
                return Ok(kube.send(request).await?.map(BodyExt::boxed_unsync));
            }
        };
        let ready = stack.ready().await.map_err(kube::Error::Service)?;
        let res = ready.call(request).await.map_err(|err| {
            err.downcast::<kube::Error>()
                .map(|e| *e)
                .or_else(|err| {
                    err.downcast::<hyper::Error>()
                        .map(|e| kube::Error::HyperError(*e))
                })
                .unwrap_or_else(kube::Error::Service)
        })?;
        // As kube's own body does: a body error is `Service`.
        Ok(res.map(|b| BodyExt::map_err(b, kube::Error::Service).boxed_unsync()))
    }
}

/// What makes two clients' transports interchangeable. Only built for configs without a client
/// identity: TLS roots and how they are checked, the name TLS asks for, and the socket timeouts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TransportKey {
    roots: Option<Vec<Vec<u8>>>,
    roots_file: Option<PathBuf>,
    accept_invalid: bool,
    server_name: Option<String>,
    connect: Option<Duration>,
    read: Option<Duration>,
    write: Option<Duration>,
    reset_reader_on_write: bool,
}

impl TransportKey {
    /// `None` when the config carries a client identity (or may: an exec plugin can answer
    /// with a certificate), so its transport must be its own.
    fn of(config: &Config) -> Option<TransportKey> {
        let a = &config.auth_info;
        let identity = a.client_certificate.is_some()
            || a.client_certificate_data.is_some()
            || a.client_key.is_some()
            || a.client_key_data.is_some()
            || a.exec.is_some();
        if identity {
            return None;
        }
        Some(TransportKey {
            roots: config.root_cert.clone(),
            roots_file: config.root_cert_file.clone(),
            accept_invalid: config.accept_invalid_certs,
            server_name: config.tls_server_name.clone(),
            connect: config.connect_timeout,
            read: config.read_timeout,
            write: config.write_timeout,
            reset_reader_on_write: config.reset_reader_on_write,
        })
    }
}

/// The shared transports, held weakly: the clients own them.
static SHARED: Mutex<Option<HashMap<TransportKey, Weak<Http>>>> = Mutex::new(None);

/// The transport for `config`: the shared one for its key when one is alive, else a new one
/// (registered for the next client when it has a key).
fn transport(config: &Config) -> kube::Result<Arc<Http>> {
    let Some(key) = TransportKey::of(config) else {
        return Ok(Arc::new(build_http(config, OWN_SERVERS)?));
    };
    // A CA of the kubeconfig's own (k3s gives every cluster one) usually vouches for one
    // apiserver, so its transport is one Sovereign's: a session cache sized for many servers
    // would be 2,000 of them at 2,000 Sovereigns.
    let servers = if config.root_cert.as_ref().is_some_and(|r| !r.is_empty())
        || config.root_cert_file.is_some()
    {
        OWN_SERVERS
    } else {
        SHARED_SERVERS
    };
    // A panic while holding the lock cannot leave the map half-written (insert/retain only).
    let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    let map = shared.get_or_insert_with(HashMap::new);
    if let Some(http) = map.get(&key).and_then(Weak::upgrade) {
        return Ok(http);
    }
    // Built under the lock: the clients of one fleet share one key, and building it once is the
    // point. (Without a CA it reads the platform's roots; that is done once per key now.)
    let http = Arc::new(build_http(config, servers)?);
    map.retain(|_, w| w.strong_count() > 0);
    map.insert(key, Arc::downgrade(&http));
    Ok(http)
}

/// How many shared transports are alive (for tests and diagnostics).
pub fn shared_transports() -> usize {
    SHARED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map_or(0, |m| m.values().filter(|w| w.strong_count() > 0).count())
}

/// A hyper client with kube's TLS configuration for `config` (roots, identity, verification,
/// server name) and socket timeouts; HTTP/2 where TLS negotiates it, else HTTP/1 with
/// [`READ_BUF`]-sized read buffers.
fn build_http(config: &Config, servers: usize) -> kube::Result<Http> {
    let mut tls = config.rustls_client_config()?;
    tls.resumption = rustls::client::Resumption::store(Arc::new(SessionStore::new(servers)));
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    let builder = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    let builder = match &config.tls_server_name {
        Some(name) => {
            let name = name.clone().try_into().map_err(|e| {
                kube::Error::RustlsTls(kube::client::RustlsTlsError::InvalidServerName(e))
            })?;
            builder.with_server_name_resolver(FixedServerNameResolver::new(name))
        }
        None => builder,
    };
    // Over TLS, ALPN offers HTTP/2 first, as client-go does: an apiserver that takes it carries
    // all of a Sovereign's watches on one connection instead of one connection each (hyper's
    // fixed cost per HTTP/1 connection, ≈ 26 KiB, was half the cockpit's memory at 2,000).
    // Plain `http://` stays HTTP/1.1, which is all some proxies and tunnels speak.
    let mut connector = TimeoutConnector::new(builder.enable_all_versions().wrap_connector(tcp));
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    Ok(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .http1_read_buf_exact_size(READ_BUF)
            .pool_idle_timeout(pool_idle(config))
            .build(connector),
    )
}

/// How long the pool keeps a connection after the last request *started* on it.
///
/// hyper counts an HTTP/2 connection idle from its last new request, even while watches still
/// stream on it; once that passed, the next request opens a second connection (a TLS handshake
/// and ≈ 40 KiB of h2 state) and the first lives on until its last watch ends. A Sovereign's
/// watches start requests only every few minutes, so hyper's 90 s kept hundreds of extra
/// connections open and handshaking at 2,000 Sovereigns (docs/PERFORMANCE.md, "Soak"). A
/// connection is kept at least as long as a socket of this transport may stay silent.
fn pool_idle(config: &Config) -> Duration {
    const HYPER_DEFAULT: Duration = Duration::from_secs(90);
    config
        .read_timeout
        .map_or(HYPER_DEFAULT, |r| r.max(HYPER_DEFAULT))
}

/// A shared hyper client as the innermost service of a client's stack.
#[derive(Clone)]
struct Shared(Arc<Http>);

impl tower::Service<http::Request<Body>> for Shared {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = BoxError;
    type Future = futures::future::MapErr<
        hyper_util::client::legacy::ResponseFuture,
        fn(hyper_util::client::legacy::Error) -> BoxError,
    >;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // hyper's legacy client is always ready; connections are checked out per request.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        use futures::TryFutureExt;
        self.0.request(req).map_err(|e| Box::new(e) as BoxError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> Config {
        let mut c = Config::new(url.parse().expect("uri"));
        // As the fleet sets it for a plain-HTTP cluster: no platform roots.
        c.root_cert = Some(Vec::new());
        c.connect_timeout = Some(Duration::from_secs(7));
        c
    }

    #[test]
    fn the_same_tls_settings_give_the_same_key_and_a_different_ca_another() {
        let a = config("http://127.0.0.1:1001");
        let b = config("http://127.0.0.1:1002");
        assert_eq!(
            TransportKey::of(&a),
            TransportKey::of(&b),
            "server differs only"
        );
        let mut other_ca = config("https://127.0.0.1:1001");
        other_ca.root_cert = Some(vec![b"another CA".to_vec()]);
        assert_ne!(TransportKey::of(&a), TransportKey::of(&other_ca));
        let mut insecure = config("https://127.0.0.1:1001");
        insecure.accept_invalid_certs = true;
        assert_ne!(TransportKey::of(&a), TransportKey::of(&insecure));
        let mut slower = config("http://127.0.0.1:1001");
        slower.connect_timeout = Some(Duration::from_secs(8));
        assert_ne!(TransportKey::of(&a), TransportKey::of(&slower));
        let mut named = config("https://127.0.0.1:1001");
        named.tls_server_name = Some("kubernetes".into());
        assert_ne!(TransportKey::of(&a), TransportKey::of(&named));
    }

    #[test]
    fn a_connection_stays_pooled_while_its_socket_may_be_silent() {
        let mut fleet = config("https://127.0.0.1:1001");
        // The fleet's socket timeout: twice the watch idle deadline.
        fleet.read_timeout = Some(Duration::from_secs(660));
        assert_eq!(pool_idle(&fleet), Duration::from_secs(660));
        let mut short = config("https://127.0.0.1:1001");
        short.read_timeout = Some(Duration::from_secs(10));
        assert_eq!(pool_idle(&short), Duration::from_secs(90));
        assert_eq!(
            pool_idle(&config("https://127.0.0.1:1001")),
            Duration::from_secs(90)
        );
    }

    #[test]
    fn a_client_identity_is_never_shared() {
        let mut cert = config("https://127.0.0.1:1001");
        cert.auth_info.client_certificate_data = Some("PEM".into());
        assert_eq!(TransportKey::of(&cert), None);
        let mut key_file = config("https://127.0.0.1:1001");
        key_file.auth_info.client_key = Some("/k.pem".into());
        assert_eq!(TransportKey::of(&key_file), None);
        let mut token = config("https://127.0.0.1:1001");
        token.auth_info.token = Some("t".to_string().into());
        assert!(
            TransportKey::of(&token).is_some(),
            "a token travels per request"
        );
    }

    /// Other tests in this binary build clients too; a key of our own (a timeout nobody else
    /// uses) keeps the counts ours.
    #[tokio::test]
    async fn clients_with_one_key_share_one_transport_until_the_last_is_gone() {
        let mk = |port: u16| {
            let mut c = config(&format!("http://127.0.0.1:{port}"));
            c.connect_timeout = Some(Duration::from_millis(4321));
            c
        };
        let one = transport(&mk(1001)).expect("transport");
        let two = transport(&mk(1002)).expect("transport");
        assert!(Arc::ptr_eq(&one, &two), "one transport for the key");
        let mut other = mk(1003);
        other.root_cert = Some(vec![b"x".to_vec()]);
        // A CA that does not parse is refused the way kube refuses it.
        assert!(transport(&other).is_err());
        let weak = Arc::downgrade(&one);
        drop((one, two));
        assert!(
            weak.upgrade().is_none(),
            "the registry does not keep it alive"
        );
        // Clients built for the key hold its (new) transport between them.
        let c1 = client(mk(1005), "a", 1 << 20).expect("client");
        let c2 = client(mk(1006), "b", 1 << 20).expect("client");
        let live = transport(&mk(1007)).expect("transport");
        assert_eq!(Arc::strong_count(&live), 3, "two clients and this test");
        drop((c1, c2));
    }
}
