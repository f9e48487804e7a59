//! Simulated Kubernetes apiservers (one plain-HTTP listener per cluster) and a Flux-like reconciler.
//!
//! [`KubeSim`] hosts many clusters in one process. Each [`SimCluster`] serves discovery, list/get/
//! create/replace/patch/delete and watch for the kinds of [`kinds::KINDS`] on its own
//! `http://127.0.0.1:PORT`, and offers a Rust control surface (down/up/restart, latency, 401,
//! compaction, request log, direct CRUD). Nothing runs while nothing happens: watches and the
//! reconciler sleep on change notifications and timers only.
//!
//! Control surface (all on [`SimCluster`]): [`SimCluster::down`], [`SimCluster::up`],
//! [`SimCluster::restart`] (same port; watch history kept or reset), [`SimCluster::set_latency`],
//! [`SimCluster::set_unauthorized`], [`SimCluster::compact_history`], [`SimCluster::request_log`] /
//! [`SimCluster::wait_for_request`], direct CRUD ([`SimCluster::apply`], [`SimCluster::get`],
//! [`SimCluster::list`], [`SimCluster::merge_patch`], [`SimCluster::delete`],
//! [`SimCluster::wait_for`]), faults at run time ([`SimCluster::set_release_override`]) and pod logs
//! ([`SimCluster::append_pod_log`]) and what `kubectl exec` runs in pods ([`SimCluster::exec`], see
//! [`exec`]). Clusters come and go with [`KubeSim::add_cluster`] /
//! [`KubeSim::remove_cluster`]; a cluster's behaviour is a [`ClusterScenario`] (kit + overrides +
//! extra objects), which world scenario files embed.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use sovtui_world::sim::{clock::SimClock, kube::{KubeSim, ClusterScenario}};
//! let sim = KubeSim::new(SimClock::new(60.0));
//! let cluster = sim.add_cluster("omantel.omani.works", ClusterScenario::bootstrap_kit()).await?;
//! println!("{}", cluster.url());
//! # Ok(()) }
//! ```

pub mod cluster;
mod defaults;
mod events_view;
pub mod exec;
pub mod kinds;
pub mod kit;
pub mod kubelet;
mod listener;
pub mod managed;
pub mod proto;
pub mod query;
mod reconciler;
pub mod scenario;
mod server;
pub mod status;
pub mod store;
pub mod table;
pub mod tls;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub use cluster::{ClusterOptions, RequestRecord, SimCluster, kubeconfig_yaml};
pub use kit::{Kit, KitError, KitRelease};
pub use scenario::{ClusterScenario, FluxFault, ReleaseFault, ReleaseOverride};
pub use status::ApiError;

use crate::sim::clock::SimClock;

/// Hosts any number of simulated clusters, added and removed at run time.
#[derive(Clone)]
pub struct KubeSim {
    clock: SimClock,
    clusters: Arc<Mutex<BTreeMap<String, SimCluster>>>,
}

impl std::fmt::Debug for KubeSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeSim")
            .field("clusters", &self.urls())
            .finish()
    }
}

impl KubeSim {
    /// A host whose clusters all run on `clock`.
    pub fn new(clock: SimClock) -> KubeSim {
        KubeSim {
            clock,
            clusters: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    pub fn clock(&self) -> &SimClock {
        &self.clock
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SimCluster>> {
        self.clusters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add a cluster running `scenario` (objects, Flux bootstrap, kit, faults) on a free port.
    /// The scenario's starting objects exist when this returns; the reconciler then runs on the
    /// host's clock until the cluster is removed.
    pub async fn add_cluster(
        &self,
        name: &str,
        scenario: ClusterScenario,
    ) -> anyhow::Result<SimCluster> {
        let kit = scenario.resolve_kit()?;
        let options = ClusterOptions {
            lenient_status: scenario.lenient_status,
            history_limit: scenario.watch_history,
            request_log_limit: scenario.request_log,
            ..ClusterOptions::default()
        };
        let cluster = self.add_empty_cluster(name, options).await?;
        let mut reconciler = reconciler::Reconciler::new(cluster.clone(), scenario, kit);
        reconciler.step();
        tokio::spawn(reconciler.run());
        Ok(cluster)
    }

    /// Add an empty cluster (no objects, no reconciler) listening on a free port.
    pub async fn add_empty_cluster(
        &self,
        name: &str,
        options: ClusterOptions,
    ) -> std::io::Result<SimCluster> {
        if let Some(old) = self.remove_cluster(name) {
            tracing::debug!(cluster = %old.name(), "replacing simulated cluster");
        }
        let cluster = SimCluster::start(name, self.clock.clone(), options, 0).await?;
        self.map().insert(name.to_string(), cluster.clone());
        Ok(cluster)
    }

    /// Remove a cluster: its port closes and its reconciler stops. Returns it if it existed.
    pub fn remove_cluster(&self, name: &str) -> Option<SimCluster> {
        let removed = self.map().remove(name);
        if let Some(c) = &removed {
            c.shutdown();
        }
        removed
    }

    /// Remove every cluster (world shutdown).
    pub fn remove_all(&self) {
        let all: Vec<SimCluster> = std::mem::take(&mut *self.map()).into_values().collect();
        for c in all {
            c.shutdown();
        }
    }

    pub fn cluster(&self, name: &str) -> Option<SimCluster> {
        self.map().get(name).cloned()
    }

    pub fn clusters(&self) -> Vec<SimCluster> {
        self.map().values().cloned().collect()
    }

    /// (name, url) of every cluster, sorted by name.
    pub fn urls(&self) -> Vec<(String, String)> {
        self.map()
            .iter()
            .map(|(n, c)| (n.clone(), c.url()))
            .collect()
    }

    /// One kubeconfig with a context per cluster (context name = cluster name).
    pub fn kubeconfig_yaml(&self) -> String {
        let map = self.map();
        let entries: Vec<(String, String, Option<&str>)> = map
            .iter()
            .map(|(n, c)| (n.clone(), c.url(), c.ca_pem()))
            .collect();
        cluster::kubeconfig_yaml_with_ca(&entries)
    }
}
