//! One Sovereign's apiserver: credentials from its kubeconfig, and one list+watch loop per Flux
//! kind. The loops never give up (capped, jittered backoff), bound every LIST and watch opening by
//! the request deadline and every open watch by the idle deadline (a silent apiserver becomes
//! "unreachable", a silent watch "stalled since T"), relist after an in-stream 410, and re-read
//! credentials on 401 in the background — no lock is ever held across a network call, so one hung
//! catalyst-api cannot freeze the other loops of its Sovereign.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::future::{BoxFuture, FutureExt, Shared};
use kube::api::{DynamicObject, ListParams, WatchEvent, WatchParams};
use kube::config::{ExecInteractiveMode, KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::provision::kube_transport::ClusterClient;
use tokio::sync::mpsc;

use super::objects::{FluxKind, FluxObject, Reduced, reduce};
use crate::config::fleet_file::{KubeconfigFrom, SovereignEntry};
use crate::provision::limits::{Limits, show_duration};

/// Tunables of the per-cluster loops.
#[derive(Debug, Clone)]
pub struct WatchTuning {
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// `timeoutSeconds` sent with each watch; the server ends the watch after it and we re-watch.
    /// Never more than 90 % of the idle deadline (`Limits::watch_idle`), so a healthy quiet
    /// watch ends before it would count as stalled.
    pub watch_timeout_secs: u32,
    /// How often to look again for a kind whose API the cluster does not serve (404).
    pub absent_recheck: Duration,
    pub page_size: u32,
}

impl Default for WatchTuning {
    fn default() -> Self {
        WatchTuning {
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(5),
            watch_timeout_secs: 290,
            absent_recheck: Duration::from_secs(60),
            page_size: 500,
        }
    }
}

/// `timeoutSeconds` for one watch: drawn between half and all of the tuned timeout (itself
/// kept under 90 % of the idle deadline), as client-go's reflector draws its own. Watches opened
/// together — all of them, after the initial sync — would otherwise end together and re-open
/// in one burst every few minutes: 6,000 requests at once at 2,000 Sovereigns.
fn watch_timeout(tuned: u32, idle: Duration) -> u32 {
    use rand::Rng;
    let most = tuned.min((idle.as_secs_f64() * 0.9) as u32).max(1);
    rand::thread_rng().gen_range(most.div_ceil(2)..=most)
}

/// Why one kind's loop is not live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkError {
    AuthExpired(String),
    Forbidden(String),
    Unreachable(String),
    Degraded(String),
    /// The kubeconfig cannot give us a client (file, context or user broken): waiting will not
    /// help until the file changes, which the hub notices by itself.
    Config(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Link {
    Live,
    /// The cluster does not serve this kind (no CRD): nothing to show, nothing wrong.
    Absent,
    Failed(LinkError),
}

#[derive(Debug)]
pub(crate) enum Body {
    Listed(Vec<Reduced>),
    Applied(Reduced),
    Deleted { namespace: String, name: String },
    Link(Link),
}

#[derive(Debug)]
pub(crate) struct ClusterMsg {
    pub fqdn: String,
    pub epoch: u64,
    pub kind: FluxKind,
    pub body: Body,
}

/// A cluster's client, rebuilt from the kubeconfig when the apiserver says 401.
///
/// The state sits behind a plain mutex that is only held to read or swap it, never across an
/// await: a build (which may fetch the kubeconfig from catalyst-api) runs outside it, shared by
/// every caller that needs the first client, and a refresh after 401 runs in a task of its own
/// while the other loops go on with the client they have.
pub struct Credentials {
    entry: SovereignEntry,
    limits: Limits,
    state: std::sync::Mutex<CredState>,
}

type Build = Shared<BoxFuture<'static, Result<ClusterClient, String>>>;

struct CredState {
    current: Option<(u64, ClusterClient)>,
    /// Number given to the next client built.
    next_no: u64,
    /// The first build in flight (callers without a client wait for it, together).
    building: Option<Build>,
    /// A 401 refresh is running in the background.
    refreshing: bool,
    /// The kubeconfig as the hub read it, used once for the first client (saves a re-parse).
    preloaded: Option<Kubeconfig>,
}

impl Credentials {
    pub(crate) fn new(
        entry: SovereignEntry,
        preloaded: Option<Kubeconfig>,
        limits: Limits,
    ) -> Self {
        Credentials {
            entry,
            limits,
            state: std::sync::Mutex::new(CredState {
                current: None,
                next_no: 1,
                building: None,
                refreshing: false,
                preloaded,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CredState> {
        // A panic while holding it cannot leave the state half-written (plain swaps only).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current client; built on first use (bounded by the request deadlines), never waiting
    /// for a refresh in progress.
    pub async fn client(&self) -> Result<(u64, ClusterClient), LinkErrorText> {
        let build = {
            let mut st = self.state();
            if let Some((n, c)) = st.current.as_ref() {
                return Ok((*n, c.clone()));
            }
            match &st.building {
                Some(b) => b.clone(),
                None => {
                    let entry = self.entry.clone();
                    let limits = self.limits.clone();
                    let preloaded = st.preloaded.take();
                    let b = async move { build_client_with(&entry, preloaded, &limits).await }
                        .boxed()
                        .shared();
                    st.building = Some(b.clone());
                    b
                }
            }
        };
        let built = build.await;
        let mut st = self.state();
        st.building = None;
        if let Some((n, c)) = st.current.as_ref() {
            return Ok((*n, c.clone()));
        }
        let c = built?;
        let n = st.next_no;
        st.next_no += 1;
        st.current = Some((n, c.clone()));
        Ok((n, c))
    }

    /// Client number `seen` was refused (401): rebuild from the kubeconfig (re-running its exec
    /// plugin, or fetching it again from catalyst-api) in the background. Loops that saw the same
    /// client ask once; until the new client is in, `client()` keeps answering with the old one.
    pub(crate) fn invalidate(self: &Arc<Self>, seen: u64) {
        {
            let mut st = self.state();
            if st.refreshing || st.current.as_ref().map(|(n, _)| *n) != Some(seen) {
                return;
            }
            st.refreshing = true;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let built = build_client_with(&me.entry, None, &me.limits).await;
            let mut st = me.state();
            st.refreshing = false;
            match built {
                Ok(c) => {
                    let n = st.next_no;
                    st.next_no += 1;
                    st.current = Some((n, c));
                }
                Err(e) => {
                    tracing::debug!(fqdn = %me.entry.fqdn, error = %e, "credential refresh failed");
                    // Forget the refused client so the next caller builds afresh (and sees why).
                    if st.current.as_ref().map(|(n, _)| *n) == Some(seen) {
                        st.current = None;
                    }
                }
            }
        });
    }

    /// Whether a 401 refresh is running (for tests and diagnostics).
    pub fn refreshing(&self) -> bool {
        self.state().refreshing
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("fqdn", &self.entry.fqdn)
            .field("context", &self.entry.context)
            .finish()
    }
}

/// A message about credentials that is safe to show (never plugin output or tokens).
pub type LinkErrorText = String;

/// The kubeconfig of a file-sourced Sovereign (catalyst-sourced ones are fetched by
/// [`fetch_kubeconfig`], never read from disk).
pub(crate) fn read_kubeconfig(entry: &SovereignEntry) -> Result<Kubeconfig, String> {
    if entry.kubeconfig_from == KubeconfigFrom::Catalyst {
        return Err("the kubeconfig comes from catalyst-api".into());
    }
    match &entry.kubeconfig {
        Some(p) => Kubeconfig::read_from(p).map_err(|e| format!("kubeconfig {}: {e}", p.display())),
        None => Kubeconfig::read().map_err(|e| format!("kubeconfig: {e}")),
    }
}

/// Build a client for the Sovereign's context under the process-wide limits.
pub async fn build_client(
    entry: &SovereignEntry,
    preloaded: Option<Kubeconfig>,
) -> Result<Client, String> {
    build_client_with(entry, preloaded, &Limits::current())
        .await
        .map(|c| c.kube())
}

/// Build a client for the Sovereign's context. Exec plugins run non-interactively, so their
/// stderr is captured by kube instead of landing on the cockpit's screen.
pub(crate) async fn build_client_with(
    entry: &SovereignEntry,
    preloaded: Option<Kubeconfig>,
    limits: &Limits,
) -> Result<ClusterClient, String> {
    // File reads and the TLS set-up (platform root certificates) are blocking work: keep them off
    // the async workers the cockpit shares.
    let mut kc = match preloaded {
        Some(kc) => kc,
        None if entry.kubeconfig_from == KubeconfigFrom::Catalyst => {
            fetch_kubeconfig_with(entry, limits).await?
        }
        None => {
            let for_read = entry.clone();
            tokio::task::spawn_blocking(move || read_kubeconfig(&for_read))
                .await
                .map_err(|e| format!("kubeconfig: {e}"))??
        }
    };
    for named in &mut kc.auth_infos {
        if let Some(exec) = named.auth_info.as_mut().and_then(|a| a.exec.as_mut()) {
            exec.interactive_mode = Some(ExecInteractiveMode::Never);
        }
    }
    // catalyst-api hands out the cluster's own kubeconfig (k3s names its context `default`):
    // use the FQDN's context when it has one, else its current context.
    let context = match entry.kubeconfig_from {
        KubeconfigFrom::Catalyst if !kc.contexts.iter().any(|c| c.name == entry.context) => None,
        _ => Some(entry.context.clone()),
    };
    let opts = KubeConfigOptions {
        context,
        ..Default::default()
    };
    let mut config = Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| format!("context {:?}: {e}", entry.context))?;
    // A token must not travel in clear to a host that is not loopback.
    crate::provision::limits::check_transport(
        &format!("the apiserver of {}", entry.fqdn),
        &config.cluster_url.to_string(),
        limits,
    )?;
    // Per-call deadlines are the loops' (LIST, watch opening, watch idle); kube's socket
    // timeouts are only backstops. A watch is a long body, so the read timeout is the idle one.
    config.connect_timeout = Some(limits.connect);
    config.read_timeout = Some(limits.watch_idle.max(limits.request) * 2);
    config.write_timeout = Some(limits.request);
    tls_roots_for(&mut config);
    // At most a few builds at once: one that has to read the platform's root certificates reads
    // every file of the trust store (about 1 MiB), and 2,000 of them at once on the blocking
    // pool made the cockpit's peak memory scale with the fleet.
    static BUILDS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let _permit = BUILDS.acquire().await.map_err(|e| format!("client: {e}"))?;
    let (fqdn, cap) = (entry.fqdn.clone(), limits.max_body);
    tokio::task::spawn_blocking(move || ClusterClient::new(config, &fqdn, cap))
        .await
        .map_err(|e| format!("client: {e}"))?
        .map_err(|e| format!("client: {e}"))
}

/// Which roots the client's TLS set-up loads. kube builds a rustls configuration even for a
/// plain-HTTP apiserver, and without a CA in the kubeconfig it loads the platform's whole root
/// store for it — per client, so per Sovereign: about 1 MiB read and parsed and some 100 KiB
/// kept, for a connection that never speaks TLS. An `http://` cluster (the simulated world, a
/// local tunnel) gets an empty root store instead; `https://` is left as the kubeconfig says (a
/// Sovereign's kubeconfig names its own CA, so the platform store is not loaded for it either).
fn tls_roots_for(config: &mut Config) {
    if config.cluster_url.scheme_str() == Some("http")
        && config.root_cert.is_none()
        && config.root_cert_file.is_none()
    {
        config.root_cert = Some(Vec::new());
    }
}

/// `GET /api/v1/deployments/{id}/kubeconfig` (contract §1.10) into memory, under the
/// process-wide limits.
pub(crate) async fn fetch_kubeconfig(entry: &SovereignEntry) -> Result<Kubeconfig, String> {
    fetch_kubeconfig_with(entry, &Limits::current()).await
}

/// The kubeconfig fetch (https unless catalyst-api is on loopback, bounded in time and size).
/// Errors say what catalyst-api answered, never the YAML.
pub(crate) async fn fetch_kubeconfig_with(
    entry: &SovereignEntry,
    limits: &Limits,
) -> Result<Kubeconfig, String> {
    let (Some(api), Some(id)) = (&entry.catalyst_api, &entry.deployment_id) else {
        return Err("kubeconfig_from = \"catalyst\" needs catalyst_api and deployment_id".into());
    };
    let client = crate::provision::catalyst::CatalystClient::with_limits(api, limits.clone())
        .map_err(|e| e.to_string())?;
    let fetched = client.kubeconfig(id).await.map_err(|e| match e.status() {
        Some(409) => format!("catalyst-api has no kubeconfig for deployment {id} yet (409)"),
        Some(404) => format!("catalyst-api does not know deployment {id} (404)"),
        _ => format!("fetching the kubeconfig from catalyst-api: {e}"),
    })?;
    Kubeconfig::from_yaml(&fetched.yaml)
        .map_err(|e| format!("the kubeconfig catalyst-api served for {id} does not parse: {e}"))
}

/// A kube client for a Sovereign whose kubeconfig catalyst-api serves (held in memory only).
pub async fn catalyst_client(fqdn: &str, api: &str, deployment: &str) -> Result<Client, String> {
    let entry = SovereignEntry {
        catalyst_api: Some(api.to_string()),
        deployment_id: Some(deployment.to_string()),
        kubeconfig_from: KubeconfigFrom::Catalyst,
        ..SovereignEntry::adopted(fqdn)
    };
    build_client(&entry, None).await
}

/// The part of a kubeconfig one Sovereign needs: its context, that context's cluster and user,
/// and the file-wide settings. One file often serves the whole fleet (`adopt_kubeconfig`, or a
/// generated file with a context per Sovereign); handing every Sovereign a clone of the whole
/// file made memory grow with the square of the fleet (500 Sovereigns: 146 MiB of kubeconfig
/// copies, docs/PERFORMANCE.md). A context the file does not have gives an empty kubeconfig,
/// which fails the client build with the same "context not found" as the whole file would.
pub(crate) fn kubeconfig_for(entry: &SovereignEntry, kc: &Kubeconfig) -> Kubeconfig {
    let ctx = kc.contexts.iter().find(|c| c.name == entry.context);
    let inner = ctx.and_then(|c| c.context.as_ref());
    let cluster = inner.and_then(|i| kc.clusters.iter().find(|c| c.name == i.cluster));
    let user = inner
        .and_then(|i| i.user.as_ref())
        .and_then(|u| kc.auth_infos.iter().find(|a| &a.name == u));
    Kubeconfig {
        preferences: kc.preferences.clone(),
        clusters: cluster.into_iter().cloned().collect(),
        auth_infos: user.into_iter().cloned().collect(),
        contexts: ctx.into_iter().cloned().collect(),
        current_context: ctx.map(|c| c.name.clone()),
        extensions: kc.extensions.clone(),
        kind: kc.kind.clone(),
        api_version: kc.api_version.clone(),
        other: kc.other.clone(),
    }
}

/// A fingerprint of what the Sovereign's context resolves to (server, user, namespace), so a
/// kubeconfig edit restarts exactly the clusters it affects. Secrets are hashed, never stored.
pub(crate) fn kube_fingerprint(entry: &SovereignEntry, kc: &Kubeconfig) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let ctx = kc.contexts.iter().find(|c| c.name == entry.context)?;
    let inner = ctx.context.as_ref()?;
    let cluster = kc.clusters.iter().find(|c| c.name == inner.cluster);
    let user = inner
        .user
        .as_ref()
        .and_then(|u| kc.auth_infos.iter().find(|a| &a.name == u));
    let text = format!(
        "{}|{}|{}",
        serde_json::to_string(ctx).unwrap_or_default(),
        serde_json::to_string(&cluster).unwrap_or_default(),
        serde_json::to_string(&user).unwrap_or_default()
    );
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    Some(h.finish())
}

/// Context names of the default kubeconfig chain (for `adopt_kubeconfig`).
pub(crate) fn default_contexts() -> Vec<String> {
    Kubeconfig::read()
        .map(|kc| kc.contexts.into_iter().map(|c| c.name).collect())
        .unwrap_or_default()
}

fn classify(e: &kube::Error) -> Option<LinkError> {
    Some(match e {
        kube::Error::Api(s) if s.code == 401 => {
            LinkError::AuthExpired(format!("401 {}: {}", s.reason, s.message))
        }
        kube::Error::Api(s) if s.code == 403 => {
            LinkError::Forbidden(format!("403 {}: {}", s.reason, s.message))
        }
        kube::Error::Api(s) if s.code == 404 => return None,
        kube::Error::Api(s) => {
            LinkError::Degraded(format!("{} {}: {}", s.code, s.reason, s.message))
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            LinkError::Unreachable(crate::provision::net_error::describe(e))
        }
        // Plugin output may hold secrets or noise: say what to do, not what it printed.
        kube::Error::Auth(_) => LinkError::AuthExpired(
            "credentials could not be obtained (exec plugin or token); re-authenticate".into(),
        ),
        other => LinkError::Degraded(other.to_string()),
    })
}

/// Capped exponential backoff with jitter; it never gives up.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(t: &WatchTuning) -> Self {
        Backoff {
            min: t.backoff_min,
            max: t.backoff_max.max(t.backoff_min),
            next: t.backoff_min,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        use rand::Rng;
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

struct KindLoop {
    fqdn: String,
    epoch: u64,
    kind: FluxKind,
    namespace: Option<String>,
    creds: Arc<Credentials>,
    tx: mpsc::Sender<ClusterMsg>,
    tuning: WatchTuning,
    limits: Limits,
    last_link: Option<Link>,
    /// Set while the current watch has been silent past the idle deadline.
    stalled_since: Option<DateTime<Utc>>,
}

enum Next {
    Relist,
    Rewatch,
}

// Every loop's future is as large as its largest state, and a Sovereign has three loops that live
// for as long as the cockpit runs: at 2,000 Sovereigns each KiB of it is 6 MiB. So everything
// but the wait for the next event (a failure, a link change, a message to the hub, the LIST)
// runs in a boxed future of its own, and the state a watch waits in holds little more than the
// stream.
impl KindLoop {
    fn send(&self, body: Body) -> BoxFuture<'_, bool> {
        let msg = ClusterMsg {
            fqdn: self.fqdn.clone(),
            epoch: self.epoch,
            kind: self.kind,
            body,
        };
        Box::pin(async move { self.tx.send(msg).await.is_ok() })
    }

    fn link(&mut self, link: Link) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.last_link.as_ref() != Some(&link) {
                self.last_link = Some(link.clone());
                self.send(Body::Link(link)).await;
            }
        })
    }

    /// The collection URL this loop lists and watches.
    fn url(&self) -> String {
        use kube::Resource;
        DynamicObject::url_path(&self.kind.api_resource(), self.namespace.as_deref())
    }

    /// React to a failed request: report it, refresh credentials on 401, and say how long to wait.
    fn failed<'a>(
        &'a mut self,
        e: &'a kube::Error,
        client_no: u64,
        backoff: &'a mut Backoff,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.failed_inner(e, client_no, backoff).await })
    }

    async fn failed_inner(&mut self, e: &kube::Error, client_no: u64, backoff: &mut Backoff) {
        match classify(e) {
            Some(err) => {
                tracing::debug!(fqdn = %self.fqdn, kind = %self.kind, error = %e, "fleet watch error");
                if matches!(err, LinkError::AuthExpired(_)) {
                    self.creds.invalidate(client_no);
                }
                self.link(Link::Failed(err)).await;
                backoff.wait().await;
            }
            None => {
                self.link(Link::Absent).await;
                if !self.send(Body::Listed(Vec::new())).await {
                    return;
                }
                tokio::time::sleep(self.tuning.absent_recheck).await;
            }
        }
    }

    /// The apiserver did not answer within the request deadline.
    fn silent<'a>(&'a mut self, what: &str, backoff: &'a mut Backoff) -> BoxFuture<'a, ()> {
        let msg = format!(
            "{what}: no answer within {} (deadline SOVTUI_REQUEST_TIMEOUT)",
            show_duration(self.limits.request)
        );
        Box::pin(async move {
            tracing::debug!(fqdn = %self.fqdn, kind = %self.kind, "{msg}");
            self.link(Link::Failed(LinkError::Unreachable(msg))).await;
            backoff.wait().await;
        })
    }

    /// The paginated initial LIST, handed to the hub; its resource version, or `None` after a
    /// failure (reported, and waited for). Boxed: its state (pages, continue tokens, the LIST
    /// futures) lives only while listing, and inline it would size every loop's idle watch
    /// state to match.
    fn list_all<'a>(
        &'a mut self,
        client: &'a ClusterClient,
        url: &'a str,
        client_no: u64,
        backoff: &'a mut Backoff,
    ) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            let mut items = Vec::new();
            let mut cont: Option<String> = None;
            let rv = loop {
                let mut lp = ListParams::default().limit(self.tuning.page_size);
                if let Some(c) = &cont {
                    lp = lp.continue_token(c);
                }
                let listed = tokio::time::timeout(
                    self.limits.request,
                    Box::pin(super::watch_lines::list(client, url, &lp)),
                )
                .await;
                let Ok(listed) = listed else {
                    self.silent(&format!("{} LIST", self.kind), backoff).await;
                    return None;
                };
                match listed {
                    Ok(mut list) => {
                        items.extend(list.items().into_iter().map(|o| reduce(self.kind, o)));
                        match list.metadata.continue_.filter(|c| !c.is_empty()) {
                            Some(c) => cont = Some(c),
                            None => break list.metadata.resource_version.unwrap_or_default(),
                        }
                    }
                    Err(e) => {
                        self.failed(&e, client_no, backoff).await;
                        return None;
                    }
                }
            };
            if rv.is_empty() || !self.send(Body::Listed(items)).await {
                return None;
            }
            Some(rv)
        })
    }

    async fn run(mut self) {
        let mut backoff = Backoff::new(&self.tuning);
        loop {
            if self.tx.is_closed() {
                return;
            }
            let (client_no, client) = match self.creds.client().await {
                Ok(c) => c,
                Err(msg) => {
                    self.link(Link::Failed(LinkError::Config(msg))).await;
                    backoff.wait().await;
                    continue;
                }
            };
            let url = self.url();
            let Some(mut rv) = self.list_all(&client, &url, client_no, &mut backoff).await else {
                continue;
            };
            self.link(Link::Live).await;
            backoff.reset();
            loop {
                match self
                    .watch_once(&client, &url, &mut rv, client_no, &mut backoff)
                    .await
                {
                    Next::Relist => break,
                    Next::Rewatch => {
                        if self.tx.is_closed() {
                            return;
                        }
                    }
                }
            }
        }
    }

    async fn watch_once(
        &mut self,
        client: &ClusterClient,
        url: &str,
        rv: &mut String,
        client_no: u64,
        backoff: &mut Backoff,
    ) -> Next {
        let idle = self.limits.watch_idle;
        let wp =
            WatchParams::default().timeout(watch_timeout(self.tuning.watch_timeout_secs, idle));
        let started = tokio::time::Instant::now();
        // No named locals for what is moved on at once: each would keep a slot in this
        // future's state for the whole life of the watch. The stream is boxed as it opens.
        let mut stream = match tokio::time::timeout(
            self.limits.request,
            Box::pin(super::watch_lines::watch(client, url, &wp, rv)),
        )
        .await
        {
            Ok(Ok(s)) => Box::pin(s),
            Ok(Err(kube::Error::Api(s))) if s.code == 410 => return Next::Relist,
            Ok(Err(e)) => {
                self.failed(&e, client_no, backoff).await;
                return if matches!(self.last_link, Some(Link::Absent)) {
                    Next::Relist
                } else {
                    Next::Rewatch
                };
            }
            Err(_) => {
                self.silent(&format!("{} watch", self.kind), backoff).await;
                return Next::Rewatch;
            }
        };
        // A watch that opens is not proof of life after a stall: the first event is.
        if self.stalled_since.is_none() {
            self.link(Link::Live).await;
        }
        let mut got_any = false;
        let mut last = Utc::now();
        loop {
            // The event is decided on inside `next_step`, so the whole object it carries is
            // never held across an await of this (long-lived) future.
            let step = match next_step(self, stream.as_mut(), idle, rv).await {
                None => {
                    let since = *self.stalled_since.get_or_insert(last);
                    let msg = format!(
                        "{} watch stalled: nothing since {} (idle deadline {}, SOVTUI_WATCH_IDLE)",
                        self.kind,
                        since.format("%H:%M:%SZ"),
                        show_duration(idle)
                    );
                    tracing::debug!(fqdn = %self.fqdn, kind = %self.kind, "{msg}; re-watching");
                    self.link(Link::Failed(LinkError::Unreachable(msg))).await;
                    return Next::Rewatch;
                }
                Some(Step::Ended) => {
                    // A server that closes watches at once must not make us spin.
                    if !got_any && started.elapsed() < Duration::from_secs(1) {
                        backoff.wait().await;
                    } else {
                        backoff.reset();
                    }
                    return Next::Rewatch;
                }
                Some(step) => step,
            };
            got_any = true;
            last = Utc::now();
            if self.stalled_since.take().is_some() {
                self.link(Link::Live).await;
            }
            match step {
                Step::Send(body) => {
                    if !self.send(body).await {
                        return Next::Rewatch;
                    }
                }
                Step::Nothing => {}
                Step::Ended => return Next::Rewatch,
                Step::Relist => return Next::Relist,
                Step::Failed(e) => {
                    self.failed(&e, client_no, backoff).await;
                    return Next::Rewatch;
                }
            }
        }
    }

    /// What one watch event means for the loop (`rv` follows it).
    fn step(&self, item: kube::Result<WatchEvent<FluxObject>>, rv: &mut String) -> Step {
        match item {
            Ok(WatchEvent::Added(mut o)) | Ok(WatchEvent::Modified(mut o)) => {
                if let Some(v) = o.resource_version.take() {
                    *rv = v;
                }
                Step::Send(Body::Applied(reduce(self.kind, o)))
            }
            Ok(WatchEvent::Deleted(o)) => {
                if let Some(v) = o.resource_version {
                    *rv = v;
                }
                Step::Send(Body::Deleted {
                    namespace: o.namespace,
                    name: o.name,
                })
            }
            Ok(WatchEvent::Bookmark(b)) => {
                if !b.metadata.resource_version.is_empty() {
                    *rv = b.metadata.resource_version;
                }
                Step::Nothing
            }
            Ok(WatchEvent::Error(s)) if s.code == 410 => {
                tracing::debug!(fqdn = %self.fqdn, kind = %self.kind, "410 in stream; relisting");
                Step::Relist
            }
            Ok(WatchEvent::Error(s)) => Step::Failed(kube::Error::Api(s)),
            Err(e) => Step::Failed(e),
        }
    }
}

enum Step {
    Send(Body),
    Nothing,
    /// The watch's body ended (the server's timeout, a restart): watch again.
    Ended,
    Relist,
    Failed(kube::Error),
}

/// The next event of a watch, decided on; `None` when nothing came within `idle`.
async fn next_step<S>(
    l: &KindLoop,
    mut stream: std::pin::Pin<&mut S>,
    idle: Duration,
    rv: &mut String,
) -> Option<Step>
where
    S: futures::Stream<Item = kube::Result<WatchEvent<FluxObject>>>,
{
    Some(
        match tokio::time::timeout(idle, stream.next()).await.ok()? {
            Some(item) => l.step(item, rv),
            None => Step::Ended,
        },
    )
}

/// Start the watch loops of one Sovereign. Dropping (aborting) the returned task ends them all.
pub(crate) fn spawn_cluster(
    entry: &SovereignEntry,
    epoch: u64,
    creds: Arc<Credentials>,
    tx: mpsc::Sender<ClusterMsg>,
    tuning: WatchTuning,
    limits: Limits,
) -> tokio::task::JoinHandle<()> {
    let loops: Vec<KindLoop> = FluxKind::ALL
        .iter()
        .map(|&kind| KindLoop {
            fqdn: entry.fqdn.clone(),
            epoch,
            kind,
            namespace: entry.namespace.clone(),
            creds: creds.clone(),
            tx: tx.clone(),
            tuning: tuning.clone(),
            limits: limits.clone(),
            last_link: None,
            stalled_since: None,
        })
        .collect();
    tokio::spawn(async move {
        futures::future::join_all(loops.into_iter().map(KindLoop::run)).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            reason: "R".into(),
            message: "m".into(),
            ..Default::default()
        }))
    }

    fn shared_kubeconfig(n: usize) -> Kubeconfig {
        let mut yaml = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
        for i in 0..n {
            yaml += &format!(
                "- name: c{i}\n  cluster:\n    server: http://127.0.0.1:{}\n",
                1000 + i
            );
        }
        yaml += "users:\n";
        for i in 0..n {
            yaml += &format!("- name: u{i}\n  user:\n    token: t{i}\n");
        }
        yaml += "contexts:\n";
        for i in 0..n {
            yaml +=
                &format!("- name: sov{i}.test\n  context:\n    cluster: c{i}\n    user: u{i}\n");
        }
        Kubeconfig::from_yaml(&yaml).expect("kubeconfig")
    }

    #[test]
    fn watches_end_spread_over_half_the_timeout_and_under_the_idle_deadline() {
        let idle = Duration::from_secs(330);
        let drawn: std::collections::BTreeSet<u32> =
            (0..2000).map(|_| watch_timeout(290, idle)).collect();
        assert!(drawn.iter().all(|t| (145..=290).contains(t)), "{drawn:?}");
        assert!(drawn.len() > 50, "spread over the range: {drawn:?}");
        // The idle deadline caps the draw: a quiet watch ends before it counts as stalled.
        assert!(
            (0..200).all(|_| (50..=99).contains(&watch_timeout(290, Duration::from_secs(110))))
        );
        assert_eq!(watch_timeout(0, idle), 1);
    }

    #[test]
    fn each_sovereign_keeps_only_its_slice_of_a_shared_kubeconfig() {
        let kc = shared_kubeconfig(3);
        let slice = kubeconfig_for(&SovereignEntry::adopted("sov1.test"), &kc);
        assert_eq!(slice.contexts.len(), 1);
        assert_eq!(slice.contexts[0].name, "sov1.test");
        assert_eq!(slice.clusters.len(), 1);
        assert_eq!(slice.clusters[0].name, "c1");
        assert_eq!(slice.auth_infos.len(), 1);
        assert_eq!(slice.auth_infos[0].name, "u1");
        assert_eq!(slice.current_context.as_deref(), Some("sov1.test"));
        // The slice resolves to the same server, user and namespace as the whole file.
        let entry = SovereignEntry::adopted("sov1.test");
        assert_eq!(
            kube_fingerprint(&entry, &slice),
            kube_fingerprint(&entry, &kc)
        );
        let missing = kubeconfig_for(&SovereignEntry::adopted("nope.test"), &kc);
        assert!(missing.contexts.is_empty() && missing.clusters.is_empty());
    }

    #[tokio::test]
    async fn a_client_builds_from_the_slice_without_the_platform_roots() {
        let kc = shared_kubeconfig(2);
        let entry = SovereignEntry::adopted("sov0.test");
        let slice = kubeconfig_for(&entry, &kc);
        let client = build_client_with(&entry, Some(slice), &Limits::default()).await;
        assert!(client.is_ok(), "{:?}", client.err());
        let missing = SovereignEntry::adopted("nope.test");
        let err = build_client_with(
            &missing,
            Some(kubeconfig_for(&missing, &kc)),
            &Limits::default(),
        )
        .await
        .err()
        .unwrap_or_default();
        assert!(err.contains("nope.test"), "{err}");
    }

    #[test]
    fn an_http_cluster_gets_an_empty_root_store_and_https_keeps_its_own() {
        let mut http = Config::new("http://127.0.0.1:6443".parse().expect("uri"));
        tls_roots_for(&mut http);
        assert_eq!(http.root_cert, Some(Vec::new()));
        let mut https = Config::new("https://127.0.0.1:6443".parse().expect("uri"));
        tls_roots_for(&mut https);
        assert_eq!(https.root_cert, None, "https without a CA is left to kube");
    }

    #[test]
    fn errors_map_onto_connection_states() {
        assert!(matches!(
            classify(&api_error(401)),
            Some(LinkError::AuthExpired(_))
        ));
        assert!(matches!(
            classify(&api_error(403)),
            Some(LinkError::Forbidden(_))
        ));
        assert_eq!(classify(&api_error(404)), None, "kind not served");
        assert!(matches!(
            classify(&api_error(500)),
            Some(LinkError::Degraded(_))
        ));
        let io = kube::Error::ReadEvents(std::io::Error::other("reset"));
        assert!(matches!(classify(&io), Some(LinkError::Unreachable(_))));
    }

    #[test]
    fn backoff_grows_to_its_cap_and_resets() {
        let t = WatchTuning {
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(800),
            ..Default::default()
        };
        let mut b = Backoff::new(&t);
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(80) && delays[0] <= Duration::from_millis(120));
        // Never gives up, never exceeds the cap (plus jitter).
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(960)));
        assert!(delays[7] >= Duration::from_millis(640));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(120));
    }

    /// catalyst-api serves the kubeconfig once, then accepts and never answers: a 401 refresh
    /// hangs in the network call. Everyone else must still get the client they had, at once.
    #[tokio::test]
    async fn a_hung_refresh_blocks_no_other_caller() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let yaml = "apiVersion: v1\nkind: Config\ncurrent-context: default\n\
                    clusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\n\
                    users:\n- name: u\n  user:\n    token: t\n\
                    contexts:\n- name: default\n  context:\n    cluster: c\n    user: u\n";
        let (hung_tx, hung_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut hung_tx = Some(hung_tx);
            let mut held = Vec::new();
            let mut served = false;
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let mut got = 0;
                while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got += n,
                    }
                }
                if served {
                    held.push(sock);
                    if let Some(tx) = hung_tx.take() {
                        let _ = tx.send(());
                    }
                } else {
                    served = true;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/yaml\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{yaml}",
                        yaml.len()
                    );
                    let _ = sock.write_all(answer.as_bytes()).await;
                }
            }
        });
        let entry = SovereignEntry {
            catalyst_api: Some(format!("http://{addr}")),
            deployment_id: Some("0123456789abcdef".into()),
            kubeconfig_from: KubeconfigFrom::Catalyst,
            ..SovereignEntry::adopted("hung.fleet.test")
        };
        // Deadlines far beyond the test: the refresh stays hung while we ask.
        let creds = Arc::new(Credentials::new(
            entry,
            None,
            Limits::strict(Duration::from_secs(600)),
        ));
        let (n, _) = creds.client().await.expect("first client");
        creds.invalidate(n);
        hung_rx
            .await
            .expect("the refresh reached the hung catalyst-api");
        assert!(creds.refreshing());
        let (again, _) = creds
            .client()
            .now_or_never()
            .expect("answers at once while the refresh hangs")
            .expect("the client it had");
        assert_eq!(again, n);
        // A second 401 on the same client starts no second refresh.
        creds.invalidate(n);
        assert!(creds.refreshing());
    }
}

#[cfg(test)]
mod state_size {
    use super::*;

    /// Three of these futures live per Sovereign for as long as the cockpit runs (6,000 at
    /// 2,000 Sovereigns). They were 4.2 KiB each before the rare paths were boxed; a LIST or an
    /// event held inline again would take them back past this bound.
    #[tokio::test]
    async fn a_kind_loop_waits_in_a_small_state() {
        let (tx, _rx) = mpsc::channel(1);
        let entry = SovereignEntry::adopted("x.test");
        let l = KindLoop {
            fqdn: "x.test".into(),
            epoch: 0,
            kind: FluxKind::HelmRelease,
            namespace: None,
            creds: Arc::new(Credentials::new(entry, None, Limits::current())),
            tx,
            tuning: WatchTuning::default(),
            limits: Limits::current(),
            last_link: None,
            stalled_since: None,
        };
        let run = l.run();
        let size = std::mem::size_of_val(&run);
        assert!(size <= 2560, "a kind loop's future is {size} bytes");
    }
}
