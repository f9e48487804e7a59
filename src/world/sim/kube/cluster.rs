//! One simulated cluster: its store, its listener and the control surface tests and the world's
//! control API use (down / up / restart / latency / 401 / compaction / request log / direct CRUD).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::kinds::{self, KindId};
use super::listener::{self, KillableListener};
use super::scenario::ReleaseOverride;
use super::server;
use super::status::ApiError;
use super::store::{Filter, PatchBody, Store, WriteMode};
use crate::sim::clock::SimClock;

/// One request the apiserver answered, for tests that check what a client asked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestRecord {
    /// Simulated time of arrival (RFC 3339).
    pub at: String,
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub status: u16,
    pub user_agent: Option<String>,
    /// Whether the request was a watch (its status is that of the stream's start).
    pub watch: bool,
    /// The HTTP version it came over (`HTTP/1.1`, `HTTP/2.0`).
    pub version: String,
}

const REQUEST_LOG_LIMIT: usize = 10_000;

#[derive(Debug)]
struct Listening {
    kill: watch::Sender<bool>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
pub(crate) struct Control {
    pub(crate) latency: Duration,
    pub(crate) unauthorized: bool,
    port: u16,
    listening: Option<Listening>,
}

impl Control {
    /// A kill switch future for the current listener, or None while down.
    pub(crate) fn listening_kill(&self) -> Option<listener::KillFuture> {
        self.listening
            .as_ref()
            .map(|l| listener::kill_future(&l.kill))
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

/// Options of one cluster that are not part of its objects.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Let writes to the main resource change `status` (and creates keep it) even for kinds with a
    /// status subresource. Real apiservers do not; kubectl 1.20 has no `--subresource`, so a
    /// scenario that wants status edits from old kubectl can turn this on.
    pub lenient_status: bool,
    /// Watch events kept for resumption (default [`super::store::DEFAULT_HISTORY_LIMIT`]).
    pub history_limit: Option<usize>,
    /// How often an otherwise idle watch that allows bookmarks gets one (default 60 s, real time).
    pub bookmark_interval: Option<Duration>,
    /// Requests kept in the request log (default 10 000).
    pub request_log_limit: Option<usize>,
    /// Serve `https://` with this CA's certificate and ALPN `h2`, `http/1.1` (as k3s does);
    /// plain `http://` (HTTP/1.1 and prior-knowledge HTTP/2) when `None`.
    pub tls: Option<super::tls::SimTls>,
}

pub(crate) struct ClusterInner {
    pub(crate) name: String,
    pub(crate) clock: SimClock,
    pub(crate) options: ClusterOptions,
    store: Mutex<Store>,
    /// Bumped on every change to the store (and on compaction): watches and the reconciler wait on it.
    pub(crate) changes: watch::Sender<u64>,
    pub(crate) control: Mutex<Control>,
    log: Mutex<VecDeque<RequestRecord>>,
    /// Bumped on every logged request, for [`SimCluster::wait_for_request`].
    log_tick: watch::Sender<u64>,
    /// Connections accepted (after the TLS handshake, when there is one), over every restart.
    accepted: Arc<std::sync::atomic::AtomicU64>,
    /// Container logs per (namespace, pod), served at `.../pods/{name}/log`.
    pub(crate) pod_logs: Mutex<BTreeMap<(String, String), Vec<String>>>,
    /// Bumped on every appended log line, for `follow=true`.
    pub(crate) pod_log_tick: watch::Sender<u64>,
    /// Live per-HelmRelease overrides; they win over the scenario's.
    pub(crate) overrides: Mutex<BTreeMap<String, ReleaseOverride>>,
    /// What `pods/exec` runs in this cluster's pods.
    pub(crate) exec: super::exec::ExecRegistry,
    /// Tells the reconciler (and anything else bound to this cluster) to stop.
    pub(crate) removed: watch::Sender<bool>,
    /// The apiserver's up/down state, for in-cluster controllers that talk to it.
    pub(crate) up: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Poisoning only follows a panic elsewhere; the data stays usable for a simulator.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClusterInner {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub(crate) fn control(&self) -> MutexGuard<'_, Control> {
        lock(&self.control)
    }

    /// Run a write against the store and wake watchers if it changed anything.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let (out, changed) = {
            let mut store = self.store();
            let (rv, epoch) = (store.resource_version(), store.epoch());
            let out = f(&mut store);
            (
                out,
                rv != store.resource_version() || epoch != store.epoch(),
            )
        };
        if changed {
            self.changes.send_modify(|t| *t += 1);
        }
        out
    }

    pub(crate) fn append_pod_log(&self, namespace: &str, pod: &str, line: &str) {
        const POD_LOG_LIMIT: usize = 5_000;
        {
            let mut logs = lock(&self.pod_logs);
            let lines = logs
                .entry((namespace.to_string(), pod.to_string()))
                .or_default();
            lines.push(line.to_string());
            if lines.len() > POD_LOG_LIMIT {
                let excess = lines.len() - POD_LOG_LIMIT;
                lines.drain(..excess);
            }
        }
        self.pod_log_tick.send_modify(|t| *t += 1);
    }

    /// Lines of a pod's log from index `from`, and the index after the last one.
    pub(crate) fn pod_log_since(
        &self,
        namespace: &str,
        pod: &str,
        from: usize,
    ) -> (Vec<String>, usize) {
        let logs = lock(&self.pod_logs);
        let lines = logs
            .get(&(namespace.to_string(), pod.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let from = from.min(lines.len());
        (lines[from..].to_vec(), lines.len())
    }

    pub(crate) fn log_request(&self, record: RequestRecord) {
        let mut log = lock(&self.log);
        log.push_back(record);
        let limit = self.options.request_log_limit.unwrap_or(REQUEST_LOG_LIMIT);
        while log.len() > limit {
            log.pop_front();
        }
        drop(log);
        self.log_tick.send_modify(|t| *t += 1);
    }
}

/// A cheap-to-clone handle on one simulated cluster.
#[derive(Clone)]
pub struct SimCluster {
    pub(crate) inner: Arc<ClusterInner>,
}

impl std::fmt::Debug for SimCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCluster")
            .field("name", &self.inner.name)
            .field("url", &self.url())
            .finish()
    }
}

fn kind_id(kind: &str) -> Result<KindId, ApiError> {
    kinds::by_any_name(kind).ok_or_else(|| {
        ApiError::new(
            404,
            "NotFound",
            format!("the server doesn't have a resource type \"{kind}\""),
        )
    })
}

fn object_kind(obj: &Value) -> Result<KindId, ApiError> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = obj.get("apiVersion").and_then(Value::as_str);
    kinds::by_kind(kind, api_version).ok_or_else(|| {
        ApiError::new(
            404,
            "NotFound",
            format!(
                "no matches for kind \"{kind}\" in version \"{}\"",
                api_version.unwrap_or("")
            ),
        )
    })
}

fn object_namespace(obj: &Value) -> String {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

impl SimCluster {
    /// Create a cluster and start its listener on 127.0.0.1:`port` (0 = pick a free one).
    pub(crate) async fn start(
        name: &str,
        clock: SimClock,
        options: ClusterOptions,
        port: u16,
    ) -> std::io::Result<SimCluster> {
        let store = Store::new(
            options
                .history_limit
                .unwrap_or(super::store::DEFAULT_HISTORY_LIMIT),
        );
        let cluster = SimCluster {
            inner: Arc::new(ClusterInner {
                name: name.to_string(),
                clock,
                options,
                store: Mutex::new(store),
                changes: watch::Sender::new(0),
                control: Mutex::new(Control {
                    latency: Duration::ZERO,
                    unauthorized: false,
                    port,
                    listening: None,
                }),
                log: Mutex::new(VecDeque::new()),
                log_tick: watch::Sender::new(0),
                accepted: Arc::default(),
                overrides: Mutex::new(BTreeMap::new()),
                pod_logs: Mutex::new(BTreeMap::new()),
                pod_log_tick: watch::Sender::new(0),
                exec: super::exec::ExecRegistry::default(),
                removed: watch::Sender::new(false),
                up: watch::Sender::new(false),
            }),
        };
        cluster.up().await?;
        Ok(cluster)
    }

    /// The cluster's name (the Sovereign FQDN in the world).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// `http://127.0.0.1:PORT` — stable across `down`/`up`/`restart`.
    pub fn url(&self) -> String {
        let scheme = if self.inner.options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port())
    }

    /// The CA a client must trust for this apiserver (`None`: plain HTTP).
    pub fn ca_pem(&self) -> Option<&str> {
        self.inner.options.tls.as_ref().map(|t| t.ca_pem())
    }

    pub fn port(&self) -> u16 {
        self.inner.control().port
    }

    /// The clock the cluster's timestamps and reconciler run on.
    pub fn clock(&self) -> &SimClock {
        &self.inner.clock
    }

    /// A kubeconfig with one context named after the cluster, plain HTTP, no credentials.
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig_yaml_with_ca(&[(self.name().to_string(), self.url(), self.ca_pem())])
    }

    /// Whether the listener is accepting connections.
    pub fn is_up(&self) -> bool {
        self.inner.control().listening.is_some()
    }

    /// Start listening again on the same port (no-op if already up). Right after `down` the old
    /// socket may not be released yet, so a busy port is retried for a few seconds.
    pub async fn up(&self) -> std::io::Result<()> {
        let mut last = None;
        for _ in 0..250 {
            match self.try_up().await {
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("bind failed")))
    }

    async fn try_up(&self) -> std::io::Result<()> {
        let port = {
            let control = self.inner.control();
            if control.listening.is_some() {
                return Ok(());
            }
            control.port
        };
        let tcp = listener::bind(port)?;
        let bound = tcp.local_addr()?.port();
        let kill = watch::Sender::new(false);
        let router = server::router(self.inner.clone());
        let killable = KillableListener {
            inner: tcp,
            kill: kill.clone(),
            tls: self
                .inner
                .options
                .tls
                .as_ref()
                .map(|t| t.acceptor().clone()),
            accepted: self.inner.accepted.clone(),
        };
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(killable, router).await {
                tracing::warn!(error = %e, "sim apiserver stopped");
            }
        });
        {
            let mut control = self.inner.control();
            control.port = bound;
            control.listening = Some(Listening { kill, task });
        }
        self.inner.up.send_replace(true);
        tracing::debug!(cluster = %self.name(), port = bound, "sim apiserver up");
        Ok(())
    }

    /// Take the apiserver down: the port refuses connections and every open connection
    /// (including watch streams) is cut. Objects are kept.
    pub fn down(&self) {
        let listening = self.inner.control().listening.take();
        if let Some(l) = listening {
            l.kill.send_replace(true);
            l.task.abort();
        }
        self.inner.up.send_replace(false);
        tracing::debug!(cluster = %self.name(), "sim apiserver down");
    }

    /// Restart the apiserver on the same port. With `keep_history = false` the new apiserver's
    /// watch cache starts empty, so clients resuming from an older resourceVersion get 410 and re-list.
    pub async fn restart(&self, keep_history: bool) -> std::io::Result<()> {
        self.down();
        if !keep_history {
            self.inner.write(|s| s.compact());
        }
        self.up().await
    }

    /// Add latency (real time) before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.inner.control().latency = latency;
    }

    /// Answer every request with 401 Unauthorized (expired token) while `on`.
    pub fn set_unauthorized(&self, on: bool) {
        self.inner.control().unauthorized = on;
    }

    /// Drop the watch history: open watches receive an in-stream 410 Expired, and resuming
    /// from any older resourceVersion is refused until the client re-lists.
    pub fn compact_history(&self) {
        self.inner.write(|s| s.compact());
    }

    /// The requests answered so far (bounded to the most recent 10 000, or
    /// [`ClusterOptions::request_log_limit`]).
    pub fn request_log(&self) -> Vec<RequestRecord> {
        lock(&self.inner.log).iter().cloned().collect()
    }

    /// How many connections clients have opened to this apiserver (TLS ones once their
    /// handshake succeeded), over every restart.
    pub fn connections_accepted(&self) -> u64 {
        self.inner
            .accepted
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn clear_request_log(&self) {
        lock(&self.inner.log).clear();
    }

    /// Number of objects of all kinds.
    pub fn object_count(&self) -> usize {
        self.inner.store().object_count()
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.inner.store().resource_version()
    }

    /// Get one object. `kind` may be a kind, plural, singular or short name (`hr`).
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let k = kind_id(kind).ok()?;
        self.inner
            .store()
            .get(k, namespace, name)
            .map(|o| (*o).clone())
    }

    /// All objects of a kind, in one namespace or (`None`) all of them.
    pub fn list(&self, kind: &str, namespace: Option<&str>) -> Result<Vec<Value>, ApiError> {
        let k = kind_id(kind)?;
        let filter = Filter {
            namespace: namespace.map(str::to_string),
            ..Filter::default()
        };
        Ok(self
            .inner
            .store()
            .list_all(k, &filter)
            .into_iter()
            .map(|o| (*o).clone())
            .collect())
    }

    /// Create the object, or replace it (status included) if it exists. The kind comes from the
    /// object's `apiVersion`/`kind`; a missing namespace is created first.
    pub fn apply(&self, obj: Value) -> Result<Value, ApiError> {
        let k = object_kind(&obj)?;
        let info = kinds::info(k);
        let ns = object_namespace(&obj);
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let now = self.inner.clock.now();
        let out = self.inner.write(|s| {
            if info.namespaced {
                ensure_namespace(s, &ns, now);
            }
            if !name.is_empty() && s.get(k, &ns, &name).is_some() {
                let mut obj = obj;
                if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("resourceVersion");
                }
                s.replace(k, &ns, &name, obj, WriteMode::All)
            } else {
                s.create(k, &ns, obj, WriteMode::All, true, now)
            }
        })?;
        Ok((*out).clone())
    }

    /// Merge-patch an object (status included).
    pub fn merge_patch(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        patch: Value,
    ) -> Result<Value, ApiError> {
        let k = kind_id(kind)?;
        let out = self
            .inner
            .write(|s| s.patch(k, namespace, name, &PatchBody::Merge(patch), WriteMode::All))?;
        Ok((*out).clone())
    }

    /// Delete an object.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let k = kind_id(kind)?;
        let out = self.inner.write(|s| s.delete(k, namespace, name))?;
        Ok((*out).clone())
    }

    /// Wait until `pred` holds for the store's objects, re-checking on every change (no polling).
    pub async fn wait_for(&self, mut pred: impl FnMut(&SimCluster) -> bool) {
        let mut rx = self.inner.changes.subscribe();
        loop {
            if pred(self) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Change how a HelmRelease behaves from now on (a fault injected mid-run, or cleared with
    /// `ReleaseOverride::default()`). Takes effect at the release's next reconcile: request one by
    /// setting the `reconcile.fluxcd.io/requestedAt` annotation, or it applies to pending work.
    pub fn set_release_override(&self, name: &str, ov: ReleaseOverride) {
        lock(&self.inner.overrides).insert(name.to_string(), ov);
        self.inner.changes.send_modify(|t| *t += 1);
    }

    /// The live override of a release, if one was set with [`SimCluster::set_release_override`].
    pub fn release_override(&self, name: &str) -> Option<ReleaseOverride> {
        lock(&self.inner.overrides).get(name).cloned()
    }

    /// Wait until a logged request satisfies `pred` (checked on every new request; no polling).
    pub async fn wait_for_request(
        &self,
        mut pred: impl FnMut(&RequestRecord) -> bool,
    ) -> RequestRecord {
        let mut rx = self.inner.log_tick.subscribe();
        loop {
            if let Some(r) = lock(&self.inner.log).iter().find(|r| pred(r)) {
                return r.clone();
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as the cluster; unreachable in practice.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Append a line to a pod's log (served by `GET .../pods/{name}/log`, followers get it live).
    /// The reconciler writes helm-controller's lines here; scenarios may add their own.
    pub fn append_pod_log(&self, namespace: &str, pod: &str, line: &str) {
        self.inner.append_pod_log(namespace, pod, line);
    }

    /// A pod's log lines so far.
    pub fn pod_log(&self, namespace: &str, pod: &str) -> Vec<String> {
        lock(&self.inner.pod_logs)
            .get(&(namespace.to_string(), pod.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// The commands and files of this cluster's pods, as `kubectl exec` reaches them: register
    /// handlers and file sets here (see [`super::exec`]).
    pub fn exec(&self) -> &super::exec::ExecRegistry {
        &self.inner.exec
    }

    /// Stop the listener and everything bound to the cluster.
    pub(crate) fn shutdown(&self) {
        self.down();
        self.inner.removed.send_replace(true);
    }
}

pub(crate) fn ensure_namespace(s: &mut Store, ns: &str, now: chrono::DateTime<chrono::Utc>) {
    let Some(nk) = kinds::by_kind("Namespace", Some("v1")) else {
        return;
    };
    if ns.is_empty() || s.get(nk, "", ns).is_some() {
        return;
    }
    let obj = serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    });
    let _ = s.create(nk, "", obj, WriteMode::All, false, now);
}

/// A kubeconfig with one plain-HTTP context per (name, url), current context = the first.
pub fn kubeconfig_yaml(clusters: &[(String, String)]) -> String {
    let with: Vec<(String, String, Option<&str>)> = clusters
        .iter()
        .map(|(n, u)| (n.clone(), u.clone(), None))
        .collect();
    kubeconfig_yaml_with_ca(&with)
}

/// A kubeconfig with one context per (name, url, CA), current context = the first; a cluster
/// with a CA names it as `certificate-authority-data`, as a k3s kubeconfig does.
pub fn kubeconfig_yaml_with_ca(clusters: &[(String, String, Option<&str>)]) -> String {
    use base64::Engine;
    let entries: Vec<Value> = clusters
        .iter()
        .map(|(n, u, ca)| {
            let mut cluster = serde_json::json!({"server": u});
            if let Some(ca) = ca {
                cluster["certificate-authority-data"] =
                    base64::engine::general_purpose::STANDARD.encode(ca).into();
            }
            serde_json::json!({"name": n, "cluster": cluster})
        })
        .collect();
    let users: Vec<Value> = clusters
        .iter()
        .map(|(n, _, _)| serde_json::json!({"name": n, "user": {}}))
        .collect();
    let contexts: Vec<Value> = clusters
        .iter()
        .map(|(n, _, _)| serde_json::json!({"name": n, "context": {"cluster": n, "user": n}}))
        .collect();
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": entries,
        "users": users,
        "contexts": contexts,
        "current-context": clusters.first().map(|(n, _, _)| n.clone()).unwrap_or_default(),
        "preferences": {},
    });
    serde_yaml::to_string(&doc).unwrap_or_default()
}
