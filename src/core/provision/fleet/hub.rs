//! The fleet hub: one task that owns every Sovereign's state, folds the cluster loops' messages
//! into it, reloads the fleet file when it (or a kubeconfig) changes, and emits `FleetEvent`s.
//! Events queue in an outbox so a slow consumer never blocks requests made through the handle.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::config::Kubeconfig;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::actions::{self, AuditRecord, FluxAction, ObjectRef};
use super::cluster::{
    self, ClusterMsg, Credentials, Link, LinkError, WatchTuning, kube_fingerprint, spawn_cluster,
};
use super::dag::sort_components;
use super::events::{FleetEvent, objects_mut};
use super::model::{ComponentStatus, ConnectionState, SovereignStatus};
use super::objects::{FluxKind, Reduced};
use crate::config::fleet_file::{self, FleetFile, FleetFileError, SovereignEntry};

/// How the fleet runs. `Default` is what the cockpit uses.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Capacity of the event channel handed to the front-end.
    pub event_buffer: usize,
    pub tuning: WatchTuning,
    /// Where armed actions are recorded (JSON lines).
    pub audit_log: PathBuf,
    /// Quiet time after a file change before the fleet file is re-read.
    pub reload_debounce: Duration,
    /// Deadlines and caps of every apiserver and catalyst-api call of the fleet.
    pub limits: crate::provision::limits::Limits,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            event_buffer: 1024,
            tuning: WatchTuning::default(),
            audit_log: crate::config::paths::state_dir().join("audit.jsonl"),
            reload_debounce: Duration::from_millis(200),
            limits: crate::provision::limits::Limits::current(),
        }
    }
}

/// Everything the fleet knows right now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetSnapshot {
    pub path: Option<PathBuf>,
    /// Set while the fleet file is broken (the Sovereigns shown are the last good fleet).
    pub file_error: Option<FleetFileError>,
    /// In fleet-file order.
    pub sovereigns: Vec<SovereignStatus>,
    /// FQDNs whose every watched kind has been listed at least once.
    pub synced: Vec<String>,
    /// FQDNs whose kubeconfig (file, context, user) cannot give a client right now.
    #[serde(default)]
    pub misconfigured: Vec<String>,
}

impl FleetSnapshot {
    /// Every Sovereign is synced, or in a state waiting will not cure (forbidden, auth expired).
    pub fn settled(&self) -> bool {
        self.sovereigns.iter().all(|s| {
            self.synced.contains(&s.fqdn)
                || self.misconfigured.contains(&s.fqdn)
                || matches!(
                    s.connection,
                    ConnectionState::Forbidden { .. } | ConnectionState::AuthExpired { .. }
                )
        })
    }
}

enum Cmd {
    Snapshot(oneshot::Sender<FleetSnapshot>),
    Credentials(String, oneshot::Sender<Option<Arc<Credentials>>>),
    Reload,
}

/// Cheap to clone; the fleet stops when the last handle is dropped.
#[derive(Clone)]
pub struct FleetHandle {
    cmd: mpsc::Sender<Cmd>,
    audit_log: PathBuf,
    limits: crate::provision::limits::Limits,
}

impl std::fmt::Debug for FleetHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetHandle")
            .field("audit_log", &self.audit_log)
            .finish()
    }
}

impl FleetHandle {
    pub async fn snapshot(&self) -> anyhow::Result<FleetSnapshot> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Snapshot(tx))
            .await
            .map_err(|_| anyhow::anyhow!("fleet stopped"))?;
        rx.await.map_err(|_| anyhow::anyhow!("fleet stopped"))
    }

    /// Re-read the fleet file now (file changes are picked up on their own; this is for callers
    /// that know better, e.g. after writing the file themselves).
    pub async fn reload(&self) {
        let _ = self.cmd.send(Cmd::Reload).await;
    }

    /// A kube client for one Sovereign (for on-demand reads such as Events and Pods).
    pub async fn client(&self, fqdn: &str) -> anyhow::Result<kube::Client> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Credentials(fqdn.to_string(), tx))
            .await
            .map_err(|_| anyhow::anyhow!("fleet stopped"))?;
        let creds = rx
            .await
            .map_err(|_| anyhow::anyhow!("fleet stopped"))?
            .ok_or_else(|| anyhow::anyhow!("{fqdn} is not in the fleet"))?;
        creds
            .client()
            .await
            .map(|(_, c)| c.kube())
            .map_err(|e| anyhow::anyhow!("{fqdn}: {e}"))
    }

    /// Run an armed action (the caller has confirmed it) and record it in the audit log.
    pub async fn act(
        &self,
        fqdn: &str,
        target: &ObjectRef,
        action: FluxAction,
    ) -> anyhow::Result<AuditRecord> {
        let client = self.client(fqdn).await?;
        self.bounded(
            fqdn,
            actions::perform(client, &self.audit_log, fqdn, target, action),
        )
        .await?
    }

    /// An on-demand call under the request deadline: a silent apiserver gives an error naming it.
    async fn bounded<T>(
        &self,
        fqdn: &str,
        call: impl std::future::Future<Output = T>,
    ) -> anyhow::Result<T> {
        tokio::time::timeout(self.limits.request, call)
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "{fqdn}: the apiserver did not answer within {} (deadline SOVTUI_REQUEST_TIMEOUT)",
                    crate::provision::limits::show_duration(self.limits.request)
                )
            })
    }

    /// Events about one object (HelmRelease detail view), newest first; read on demand.
    pub async fn object_events(
        &self,
        fqdn: &str,
        target: &ObjectRef,
    ) -> anyhow::Result<Vec<super::ondemand::EventView>> {
        let client = self.client(fqdn).await?;
        self.bounded(fqdn, super::ondemand::object_events(client, target))
            .await?
            .map_err(|e| {
                anyhow::anyhow!(
                    "{fqdn}: events of {}/{}: {e}",
                    target.namespace,
                    target.name
                )
            })
    }

    /// Pods of one namespace of one Sovereign; read on demand.
    pub async fn pods(
        &self,
        fqdn: &str,
        namespace: &str,
        label_selector: Option<&str>,
    ) -> anyhow::Result<Vec<super::ondemand::PodView>> {
        let client = self.client(fqdn).await?;
        self.bounded(
            fqdn,
            super::ondemand::pods(client, namespace, label_selector),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{fqdn}: pods in {namespace}: {e}"))
    }

    pub fn audit_log(&self) -> &Path {
        &self.audit_log
    }
}

pub struct Fleet;

impl Fleet {
    /// Read the fleet file, start watching every Sovereign in it and the file itself. Must be
    /// called inside a tokio runtime. A broken file at start is an error; later breakage keeps
    /// the last good fleet and is reported as `FleetEvent::FleetFileError`.
    pub fn start(
        fleet_file: &Path,
        options: FleetOptions,
    ) -> Result<(FleetHandle, mpsc::Receiver<FleetEvent>), FleetFileError> {
        let path = std::path::absolute(fleet_file).unwrap_or_else(|_| fleet_file.to_path_buf());
        let file = fleet_file::load(&path)?;
        Ok(Self::spawn(Some(path), file, options))
    }

    /// Watch a fleet given in memory (no file to follow): examples, benchmarks, embedding.
    pub fn start_with(
        file: FleetFile,
        options: FleetOptions,
    ) -> (FleetHandle, mpsc::Receiver<FleetEvent>) {
        Self::spawn(None, file, options)
    }

    fn spawn(
        path: Option<PathBuf>,
        file: FleetFile,
        options: FleetOptions,
    ) -> (FleetHandle, mpsc::Receiver<FleetEvent>) {
        let (out_tx, out_rx) = mpsc::channel(options.event_buffer.max(1));
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let handle = FleetHandle {
            cmd: cmd_tx,
            audit_log: options.audit_log.clone(),
            limits: options.limits.clone(),
        };
        let (cluster_tx, cluster_rx) = mpsc::channel(4096);
        let (file_tx, file_rx) = mpsc::channel(16);
        let watcher = path.as_ref().and_then(|_| file_watcher(file_tx));
        let mut hub = Hub {
            path,
            options,
            sovs: BTreeMap::new(),
            order: Vec::new(),
            next_epoch: 0,
            cluster_tx,
            outbox: VecDeque::new(),
            out: out_tx,
            out_closed: false,
            file_error: None,
            watcher,
            watched_dirs: BTreeSet::new(),
            interesting: BTreeSet::new(),
        };
        tokio::spawn(async move {
            hub.apply(file);
            hub.run(cmd_rx, cluster_rx, file_rx).await;
        });
        (handle, out_rx)
    }
}

fn file_watcher(tx: mpsc::Sender<Vec<PathBuf>>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && !matches!(ev.kind, notify::EventKind::Access(_))
        {
            // A full queue already holds a pending reload; dropping this one loses nothing.
            let _ = tx.try_send(ev.paths);
        }
    });
    match w {
        Ok(mut w) => {
            // Nothing watched yet; `watch` calls come with each reload.
            let _ = w.configure(notify::Config::default());
            Some(w)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the fleet file; changes need a restart");
            None
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct LinkSlot {
    link: Link,
    /// When this kind's link last changed between good and bad.
    since: DateTime<Utc>,
}

struct Sov {
    entry: SovereignEntry,
    fingerprint: Option<u64>,
    epoch: u64,
    _task: AbortOnDrop,
    creds: Arc<Credentials>,
    status: SovereignStatus,
    links: [Option<LinkSlot>; 3],
    listed: [bool; 3],
    synced: bool,
}

/// The component already shown when a relist brings it back unchanged, else the new one.
/// A relist (after every 410, restart or flap) would otherwise swap all of a Sovereign's
/// long-lived components for copies allocated among the reconnect's short-lived buffers.
fn keep_if_same(shown: &[Arc<ComponentStatus>], listed: ComponentStatus) -> Arc<ComponentStatus> {
    match shown
        .iter()
        .find(|c| c.name == listed.name && c.namespace == listed.namespace)
    {
        Some(c) if **c == listed => c.clone(),
        _ => Arc::new(listed),
    }
}

/// Most urgent first: what to show when kinds disagree.
fn aggregate(links: &[Option<LinkSlot>; 3]) -> ConnectionState {
    let mut worst: Option<(u8, ConnectionState)> = None;
    let mut all_up = true;
    for (i, slot) in links.iter().enumerate() {
        let Some(slot) = slot else {
            all_up = false;
            continue;
        };
        let kind = FluxKind::ALL[i];
        let (rank, state) = match &slot.link {
            Link::Live | Link::Absent => continue,
            Link::Failed(LinkError::AuthExpired(e)) => (
                4,
                ConnectionState::AuthExpired {
                    error: format!("{kind}: {e}"),
                },
            ),
            Link::Failed(LinkError::Forbidden(e)) => (
                3,
                ConnectionState::Forbidden {
                    error: format!("{kind}: {e}"),
                },
            ),
            Link::Failed(LinkError::Unreachable(e)) => (
                2,
                ConnectionState::Unreachable {
                    since: slot.since,
                    error: e.clone(),
                },
            ),
            Link::Failed(LinkError::Degraded(e)) => (
                1,
                ConnectionState::Degraded {
                    since: slot.since,
                    error: format!("{kind}: {e}"),
                },
            ),
            Link::Failed(LinkError::Config(e)) => (
                1,
                ConnectionState::Degraded {
                    since: slot.since,
                    error: e.clone(),
                },
            ),
        };
        all_up = false;
        if worst.as_ref().is_none_or(|(r, _)| rank > *r) {
            worst = Some((rank, state));
        }
    }
    match worst {
        Some((_, s)) => s,
        None if all_up => ConnectionState::Live,
        None => ConnectionState::Connecting,
    }
}

struct Hub {
    path: Option<PathBuf>,
    options: FleetOptions,
    sovs: BTreeMap<String, Sov>,
    order: Vec<String>,
    next_epoch: u64,
    cluster_tx: mpsc::Sender<ClusterMsg>,
    outbox: VecDeque<FleetEvent>,
    out: mpsc::Sender<FleetEvent>,
    out_closed: bool,
    file_error: Option<FleetFileError>,
    watcher: Option<notify::RecommendedWatcher>,
    watched_dirs: BTreeSet<PathBuf>,
    interesting: BTreeSet<PathBuf>,
}

/// Stop taking cluster messages while this many events wait for the consumer.
const OUTBOX_HIGH_WATER: usize = 4096;

impl Hub {
    async fn run(
        &mut self,
        mut cmd_rx: mpsc::Receiver<Cmd>,
        mut cluster_rx: mpsc::Receiver<ClusterMsg>,
        mut file_rx: mpsc::Receiver<Vec<PathBuf>>,
    ) {
        let mut reload_at: Option<Instant> = None;
        loop {
            let sending = !self.outbox.is_empty() && !self.out_closed;
            let taking = self.outbox.len() < OUTBOX_HIGH_WATER;
            let out = self.out.clone();
            tokio::select! {
                permit = out.reserve(), if sending => match permit {
                    Ok(p) => {
                        if let Some(ev) = self.outbox.pop_front() {
                            p.send(ev);
                        }
                    }
                    Err(_) => {
                        self.out_closed = true;
                        self.outbox.clear();
                    }
                },
                cmd = cmd_rx.recv() => match cmd {
                    None => return,
                    Some(Cmd::Snapshot(tx)) => {
                        let _ = tx.send(self.snapshot());
                    }
                    Some(Cmd::Credentials(fqdn, tx)) => {
                        let _ = tx.send(self.sovs.get(&fqdn).map(|s| s.creds.clone()));
                    }
                    Some(Cmd::Reload) => self.reload(),
                },
                Some(msg) = cluster_rx.recv(), if taking => self.on_cluster(msg),
                Some(paths) = file_rx.recv() => {
                    if paths.iter().any(|p| self.interesting.contains(p)) {
                        reload_at = Some(Instant::now() + self.options.reload_debounce);
                    }
                }
                _ = tokio::time::sleep_until(reload_at.unwrap_or_else(Instant::now)), if reload_at.is_some() => {
                    reload_at = None;
                    self.reload();
                }
            }
        }
    }

    fn emit(&mut self, ev: FleetEvent) {
        if !self.out_closed {
            self.outbox.push_back(ev);
        }
    }

    fn snapshot(&self) -> FleetSnapshot {
        FleetSnapshot {
            path: self.path.clone(),
            file_error: self.file_error.clone(),
            sovereigns: self
                .order
                .iter()
                .filter_map(|f| self.sovs.get(f))
                .map(|s| s.status.clone())
                .collect(),
            synced: self
                .order
                .iter()
                .filter(|f| self.sovs.get(*f).is_some_and(|s| s.synced))
                .cloned()
                .collect(),
            misconfigured: self
                .order
                .iter()
                .filter(|f| {
                    self.sovs.get(*f).is_some_and(|s| {
                        s.links.iter().any(|l| {
                            matches!(
                                l,
                                Some(LinkSlot {
                                    link: Link::Failed(LinkError::Config(_)),
                                    ..
                                })
                            )
                        })
                    })
                })
                .cloned()
                .collect(),
        }
    }

    fn reload(&mut self) {
        let Some(path) = self.path.clone() else {
            return;
        };
        match fleet_file::load(&path) {
            Ok(file) => {
                self.file_error = None;
                self.apply(file);
            }
            Err(e) => {
                tracing::warn!(error = %e, "fleet file broken; keeping the last good fleet");
                self.file_error = Some(e.clone());
                self.emit(FleetEvent::FleetFileError { error: e });
                // Keep watching so the fix is picked up.
                self.rewatch(self.path.iter().cloned().collect());
            }
        }
    }

    /// Make the fleet match `file`: stop removed Sovereigns, start new ones, restart those whose
    /// connection settings or kubeconfig context changed, relabel the rest.
    fn apply(&mut self, file: FleetFile) {
        let adopted = if file.adopt_kubeconfig {
            cluster::default_contexts()
        } else {
            Vec::new()
        };
        let entries = file.with_adopted(&adopted);
        let wanted: BTreeSet<&str> = entries.iter().map(|e| e.fqdn.as_str()).collect();
        let gone: Vec<String> = self
            .sovs
            .keys()
            .filter(|f| !wanted.contains(f.as_str()))
            .cloned()
            .collect();
        for fqdn in gone {
            self.sovs.remove(&fqdn);
            self.emit(FleetEvent::SovereignRemoved { fqdn });
        }
        let mut files: BTreeSet<PathBuf> = self.path.iter().cloned().collect();
        if file.adopt_kubeconfig
            || entries.iter().any(|e| {
                e.kubeconfig.is_none() && e.kubeconfig_from == fleet_file::KubeconfigFrom::File
            })
        {
            files.extend(fleet_file::default_kubeconfig_paths());
        }
        // Each kubeconfig file is parsed once per reload, however many Sovereigns use it.
        let mut kubeconfigs: std::collections::HashMap<Option<PathBuf>, Option<Kubeconfig>> =
            std::collections::HashMap::new();
        for entry in &entries {
            if let Some(k) = &entry.kubeconfig {
                files.insert(k.clone());
            }
            let file_kc = kubeconfigs
                .entry(entry.kubeconfig.clone())
                .or_insert_with(|| cluster::read_kubeconfig(entry).ok());
            let fp = file_kc.as_ref().and_then(|kc| kube_fingerprint(entry, kc));
            let same_link = |s: &Sov| {
                s.fingerprint == fp
                    && s.entry.kubeconfig == entry.kubeconfig
                    && s.entry.context == entry.context
                    && s.entry.namespace == entry.namespace
                    && s.entry.kubeconfig_from == entry.kubeconfig_from
                    && (entry.kubeconfig_from == fleet_file::KubeconfigFrom::File
                        || (s.entry.catalyst_api == entry.catalyst_api
                            && s.entry.deployment_id == entry.deployment_id))
            };
            match self.sovs.get_mut(&entry.fqdn) {
                Some(s) if same_link(s) => {
                    if s.entry != *entry {
                        s.entry = entry.clone();
                        s.status.tags = entry.tags.clone();
                        let status = s.status.clone();
                        self.emit(FleetEvent::Snapshot { status });
                    }
                }
                existing => {
                    let is_new = existing.is_none();
                    // Only this Sovereign's slice of the file (not a copy of the whole file).
                    let kc = file_kc
                        .as_ref()
                        .map(|kc| cluster::kubeconfig_for(entry, kc));
                    let sov = self.start_sov(entry.clone(), fp, kc);
                    let status = sov.status.clone();
                    self.sovs.insert(entry.fqdn.clone(), sov);
                    self.emit(if is_new {
                        FleetEvent::SovereignAdded { status }
                    } else {
                        FleetEvent::Snapshot { status }
                    });
                }
            }
        }
        self.order = entries.iter().map(|e| e.fqdn.clone()).collect();
        self.emit(FleetEvent::FleetLoaded {
            path: self.path.clone(),
            sovereigns: self.order.clone(),
        });
        if self.path.is_some() {
            self.rewatch(files);
        }
    }

    fn start_sov(
        &mut self,
        entry: SovereignEntry,
        fingerprint: Option<u64>,
        kubeconfig: Option<Kubeconfig>,
    ) -> Sov {
        self.next_epoch += 1;
        let epoch = self.next_epoch;
        let creds = Arc::new(Credentials::new(
            entry.clone(),
            kubeconfig,
            self.options.limits.clone(),
        ));
        let task = spawn_cluster(
            &entry,
            epoch,
            creds.clone(),
            self.cluster_tx.clone(),
            self.options.tuning.clone(),
            self.options.limits.clone(),
        );
        Sov {
            status: SovereignStatus::new(entry.fqdn.clone(), entry.tags.clone()),
            entry,
            fingerprint,
            epoch,
            _task: AbortOnDrop(task),
            creds,
            links: [None, None, None],
            listed: [false; 3],
            synced: false,
        }
    }

    /// Watch the directories holding the files we follow (editors replace files by rename).
    fn rewatch(&mut self, files: BTreeSet<PathBuf>) {
        use notify::Watcher;
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        let dirs: BTreeSet<PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .filter(|d| d.is_dir())
            .collect();
        for d in dirs.difference(&self.watched_dirs) {
            if let Err(e) = w.watch(d, notify::RecursiveMode::NonRecursive) {
                tracing::warn!(dir = %d.display(), error = %e, "cannot watch directory");
            }
        }
        for d in self.watched_dirs.difference(&dirs) {
            let _ = w.unwatch(d);
        }
        self.watched_dirs = dirs;
        self.interesting = files;
    }

    fn refresh_connection(sov: &mut Sov, fqdn: &str, events: &mut Vec<FleetEvent>) {
        let next = aggregate(&sov.links);
        if next != sov.status.connection {
            let now = Utc::now();
            if sov.status.connection.is_live() || next.is_live() {
                sov.status.last_live = Some(now);
            }
            sov.status.connection = next.clone();
            events.push(FleetEvent::Connection {
                fqdn: fqdn.to_string(),
                connection: next,
                last_live: sov.status.last_live,
            });
        }
    }

    fn on_cluster(&mut self, msg: ClusterMsg) {
        let Some(sov) = self.sovs.get_mut(&msg.fqdn) else {
            return;
        };
        if sov.epoch != msg.epoch {
            return;
        }
        let k = msg.kind.index();
        let fqdn = msg.fqdn;
        let mut events = Vec::new();
        match msg.body {
            cluster::Body::Listed(items) => {
                match msg.kind {
                    FluxKind::HelmRelease => {
                        let old = &sov.status.components;
                        let mut comps: Vec<_> = items
                            .into_iter()
                            .filter_map(|r| match r {
                                Reduced::Component(c) => Some(keep_if_same(old, c)),
                                Reduced::Object(_) => None,
                            })
                            .collect();
                        sort_components(&mut comps);
                        sov.status.components = comps;
                    }
                    kind => {
                        let mut objs: Vec<_> = items
                            .into_iter()
                            .filter_map(|r| match r {
                                Reduced::Object(o) => Some(o),
                                Reduced::Component(_) => None,
                            })
                            .collect();
                        objs.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
                        let shown = objects_mut(&mut sov.status, kind);
                        if *shown != objs {
                            *shown = objs;
                        }
                    }
                }
                sov.listed[k] = true;
                // A successful list is proof of life: fold it in now, so a Sovereign is never
                // "synced" while still showing the connection state from before.
                if !matches!(
                    sov.links[k],
                    Some(LinkSlot {
                        link: Link::Live | Link::Absent,
                        ..
                    })
                ) {
                    sov.links[k] = Some(LinkSlot {
                        link: Link::Live,
                        since: Utc::now(),
                    });
                    Self::refresh_connection(sov, &fqdn, &mut events);
                }
                events.push(FleetEvent::Snapshot {
                    status: sov.status.clone(),
                });
                if !sov.synced && sov.listed.iter().all(|l| *l) {
                    sov.synced = true;
                    events.push(FleetEvent::Synced { fqdn: fqdn.clone() });
                }
            }
            cluster::Body::Applied(Reduced::Component(c)) => {
                let c = Arc::new(c);
                let comps = &mut sov.status.components;
                let pos = comps
                    .iter()
                    .position(|x| x.namespace == c.namespace && x.name == c.name);
                let previous = match pos {
                    Some(p) if comps[p] == c => None::<Option<_>>,
                    Some(p) => {
                        let prev = comps[p].state;
                        let reorder = comps[p].depends_on != c.depends_on;
                        comps[p] = c.clone();
                        if reorder {
                            sort_components(comps);
                        }
                        Some(Some(prev))
                    }
                    None => {
                        comps.push(c.clone());
                        sort_components(comps);
                        Some(None)
                    }
                };
                if let Some(previous) = previous {
                    events.push(FleetEvent::ComponentChanged {
                        fqdn: fqdn.clone(),
                        component: c,
                        previous,
                    });
                }
            }
            cluster::Body::Applied(Reduced::Object(o)) => {
                let list = objects_mut(&mut sov.status, msg.kind);
                let changed = match list
                    .iter()
                    .position(|x| x.namespace == o.namespace && x.name == o.name)
                {
                    Some(p) if list[p] == o => false,
                    Some(p) => {
                        list[p] = o.clone();
                        true
                    }
                    None => {
                        list.push(o.clone());
                        list.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
                        true
                    }
                };
                if changed {
                    events.push(FleetEvent::ObjectChanged {
                        fqdn: fqdn.clone(),
                        kind: msg.kind,
                        object: o,
                    });
                }
            }
            cluster::Body::Deleted { namespace, name } => {
                let removed = if msg.kind == FluxKind::HelmRelease {
                    let before = sov.status.components.len();
                    sov.status
                        .components
                        .retain(|c| !(c.namespace == namespace && c.name == name));
                    before != sov.status.components.len()
                } else {
                    let list = objects_mut(&mut sov.status, msg.kind);
                    let before = list.len();
                    list.retain(|o| !(o.namespace == namespace && o.name == name));
                    before != list.len()
                };
                if removed {
                    events.push(if msg.kind == FluxKind::HelmRelease {
                        FleetEvent::ComponentRemoved {
                            fqdn: fqdn.clone(),
                            namespace,
                            name,
                        }
                    } else {
                        FleetEvent::ObjectRemoved {
                            fqdn: fqdn.clone(),
                            kind: msg.kind,
                            namespace,
                            name,
                        }
                    });
                }
            }
            cluster::Body::Link(link) => {
                let now = Utc::now();
                let was_bad = matches!(
                    sov.links[k],
                    Some(LinkSlot {
                        link: Link::Failed(_),
                        ..
                    })
                );
                let since = match &sov.links[k] {
                    Some(slot) if was_bad == matches!(link, Link::Failed(_)) => slot.since,
                    _ => now,
                };
                sov.links[k] = Some(LinkSlot { link, since });
                Self::refresh_connection(sov, &fqdn, &mut events);
            }
        }
        for ev in events {
            self.emit(ev);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(link: Link) -> Option<LinkSlot> {
        Some(LinkSlot {
            link,
            since: Utc::now(),
        })
    }

    #[test]
    fn connection_is_live_only_when_every_kind_is() {
        assert_eq!(aggregate(&[None, None, None]), ConnectionState::Connecting);
        assert_eq!(
            aggregate(&[slot(Link::Live), None, slot(Link::Live)]),
            ConnectionState::Connecting
        );
        assert_eq!(
            aggregate(&[slot(Link::Live), slot(Link::Absent), slot(Link::Live)]),
            ConnectionState::Live
        );
    }

    #[test]
    fn the_most_urgent_failure_wins() {
        let down = slot(Link::Failed(LinkError::Unreachable("refused".into())));
        let deg = slot(Link::Failed(LinkError::Degraded("500".into())));
        let auth = slot(Link::Failed(LinkError::AuthExpired("401".into())));
        assert!(matches!(
            aggregate(&[slot(Link::Live), deg, down]),
            ConnectionState::Unreachable { .. }
        ));
        let deg = slot(Link::Failed(LinkError::Degraded("500".into())));
        match aggregate(&[deg, auth, slot(Link::Live)]) {
            ConnectionState::AuthExpired { error } => assert!(error.starts_with("Kustomization")),
            other => panic!("{other:?}"),
        }
        let forbidden = slot(Link::Failed(LinkError::Forbidden("403".into())));
        assert!(matches!(
            aggregate(&[slot(Link::Live), slot(Link::Live), forbidden]),
            ConnectionState::Forbidden { .. }
        ));
    }

    fn component(name: &str, message: &str) -> ComponentStatus {
        ComponentStatus {
            name: name.into(),
            namespace: "flux-system".into(),
            state: crate::provision::flux::ComponentState::Installed,
            message: message.into(),
            last_transition: None,
            depends_on: vec![],
            conditions: vec![],
        }
    }

    #[test]
    fn a_relist_keeps_the_shown_component_unless_it_changed() {
        let shown = vec![
            Arc::new(component("bp-cilium", "ok")),
            Arc::new(component("bp-flux", "ok")),
        ];
        let same = keep_if_same(&shown, component("bp-cilium", "ok"));
        assert!(Arc::ptr_eq(&same, &shown[0]));
        let changed = keep_if_same(&shown, component("bp-flux", "upgrade failed"));
        assert!(!Arc::ptr_eq(&changed, &shown[1]));
        assert_eq!(changed.message, "upgrade failed");
        let new = keep_if_same(&shown, component("bp-harbor", "ok"));
        assert_eq!(new.name, "bp-harbor");
    }
}
