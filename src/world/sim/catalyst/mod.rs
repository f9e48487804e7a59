//! Simulated catalyst-api (routes, SSE, deployment timeline) and pool-domain-manager.
//!
//! `CatalystSim::start(config)` binds 127.0.0.1:0 and serves the routes of contract §1 a wizard,
//! progress or recovery client needs. Creating a deployment runs a timeline on the world's
//! `SimClock`: Phase-0 markers and tofu lines while the Hetzner resources are really created
//! through the (simulated) Hetzner API over HTTP, PDM reserve/commit over HTTP, a cloud-init that
//! asks a `ClusterFactory` for a new cluster and posts its kubeconfig back through the real PUT
//! route, then a Phase-1 watch of that cluster's HelmReleases with kube-rs, derived exactly like
//! catalyst's helmwatch — the stream is a derivation, not a script.

mod api;
mod helmwatch;
mod hetzner;
pub mod pdm;
mod phase0;
mod phase1;
mod rules;
pub mod store;
mod wipe;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::provision::wire::Event;
use crate::sim::clock::SimClock;

pub use pdm::{PdmConfig, PdmSim, RegistrarAccount};
use store::Store;

/// Builds the simulated cluster cloud-init would bring up. The world assembly implements it with
/// the Kubernetes simulator; the returned kubeconfig YAML must reach a cluster whose Flux kit
/// (HelmReleases `bp-*` in `flux-system`) reconciles on its own.
pub trait ClusterFactory: Send + Sync {
    fn create_cluster(
        &self,
        fqdn: String,
        kit: String,
    ) -> BoxFuture<'static, anyhow::Result<String>>;
}

/// Resource naming of contract §5.3: `main.tf` ([M]) or the runbook's §1.5 ([R]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NamingVariant {
    #[default]
    MainTf,
    Runbook,
}

impl NamingVariant {
    /// The names themselves come from the world's one §5.3 implementation, the one its Hetzner
    /// side uses for Sovereigns that are already running.
    pub fn names(self, fqdn: &str) -> crate::sim::hetzner::sovereign::NameScheme {
        use crate::sim::hetzner::sovereign::{NameScheme, NamingVariant as V};
        let variant = match self {
            NamingVariant::MainTf => V::Main,
            NamingVariant::Runbook => V::Runbook,
        };
        NameScheme::new(fqdn, variant)
    }
}

/// Who wins the Phase-1 start race of contract §2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase1Race {
    /// Phase 0 waits for cloud-init's kubeconfig, then watches; `done` comes after Phase 1.
    #[default]
    WaitForKubeconfig,
    /// [M] with tofu first: "Phase-1 watch skipped", `ready` with zero components (runbook C14);
    /// the late PUT cannot start the watch, `refresh-watch` can.
    TofuWins,
    /// The PUT arrives before `flux-bootstrap`: `done` carries `phase1-watching` while component
    /// events keep landing in the buffer only.
    PutWins,
}

/// Simulated durations of the Phase-0 timeline (runbook §1: plan 30–60 s, apply 60–120 s,
/// cloud-init 3–5 min).
#[derive(Debug, Clone)]
pub struct Timings {
    pub init: Duration,
    pub plan: Duration,
    pub small_resource: Duration,
    pub server: Duration,
    pub load_balancer: Duration,
    pub output: Duration,
    pub cloud_init: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            init: Duration::from_secs(12),
            plan: Duration::from_secs(40),
            small_resource: Duration::from_secs(2),
            server: Duration::from_secs(45),
            load_balancer: Duration::from_secs(20),
            output: Duration::from_secs(2),
            cloud_init: Duration::from_secs(240),
        }
    }
}

#[derive(Clone)]
pub struct CatalystSimConfig {
    pub clock: SimClock,
    /// Hetzner API root, e.g. `http://127.0.0.1:P/v1`.
    pub hetzner_url: String,
    /// `POOL_DOMAIN_MANAGER_URL`; None starts an embedded `PdmSim` with `pdm`.
    pub pdm_url: Option<String>,
    pub pdm: PdmConfig,
    /// Pools catalyst-api treats as managed (`DYNADOT_MANAGED_DOMAINS`).
    pub managed_pools: Vec<String>,
    /// `CATALYST_GHCR_PULL_TOKEN`; pool-mode creates need it.
    pub ghcr_pull_token: Option<String>,
    pub naming: NamingVariant,
    pub phase1_race: Phase1Race,
    /// `CATALYST_PHASE1_FIRST_SEEN_TIMEOUT` (15m).
    pub first_seen_timeout: Duration,
    /// `CATALYST_PHASE1_WATCH_TIMEOUT` (60m [M]).
    pub watch_timeout: Duration,
    /// `CATALYST_PHASE1_MIN_BOOTSTRAP_KIT_HRS` (11 [M], 1 [N]).
    pub min_bootstrap_kit_hrs: usize,
    /// Durable event buffer cap (10 000).
    pub event_buffer_cap: usize,
    pub timings: Timings,
    /// Kit name handed to the cluster factory.
    pub kit: String,
    pub cluster_factory: Option<Arc<dyn ClusterFactory>>,
    /// BYO domains that "resolve" in DNS (subdomain check answers `exists`).
    pub existing_byo_domains: Vec<String>,
    /// `CATALYST_KUBECONFIGS_DIR` as reported in `result.kubeconfigPath`.
    pub kubeconfigs_dir: String,
    /// `CATALYST_WIPE_MIN_LIFE_PROTECTION` (30m).
    pub wipe_min_life: Duration,
    /// Catalyst-side faults of the troubleshooting matrix (scenario data).
    pub faults: CatalystFaults,
}

/// Faults that live in catalyst-api itself rather than in Hetzner or the cluster (contract §9).
/// Scenario files carry them as `catalyst.faults`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalystFaults {
    /// C1: a stale image whose size regex lacks `cpx*`, so `cpx32` fails `tofu plan`.
    pub stale_size_regex: bool,
    /// C4: a stale image still carrying `null_resource.dns_pool`; apply fails with this Dynadot answer.
    pub dns_null_resource_error: Option<String>,
    /// C15: cloud-init never posts the kubeconfig back (issue #183).
    pub kubeconfig_postback_missing: bool,
    /// C16: every component the watch sees is reported `installed` (what the pre-`64d7de97` admin
    /// UI showed from `deployment.status`), so the deployment goes `ready` while HelmReleases
    /// still reconcile.
    pub components_installed_from_status: bool,
    /// Runbook §2.3: "canonical `hetzner.Purge` also misses them". The wipe leaves what is named
    /// here behind — Hetzner kinds as the wipe report names them (`servers`, `volumes`,
    /// `primary_ips`, …: neither destroyed nor swept) and `pdm` (the name is not released, so its
    /// zone stays served) — and its report still claims `verifiedZeroOrphans`, as a purge that
    /// never looked would.
    pub wipe_leaves_behind: Vec<String>,
}

impl CatalystSimConfig {
    pub fn new(clock: SimClock, hetzner_url: impl Into<String>) -> Self {
        CatalystSimConfig {
            clock,
            hetzner_url: hetzner_url.into(),
            pdm_url: None,
            pdm: PdmConfig::default(),
            managed_pools: vec!["openova.io".into(), "omani.works".into()],
            ghcr_pull_token: Some("sim-ghcr-pull-token".into()),
            naming: NamingVariant::MainTf,
            phase1_race: Phase1Race::WaitForKubeconfig,
            first_seen_timeout: Duration::from_secs(15 * 60),
            watch_timeout: Duration::from_secs(60 * 60),
            min_bootstrap_kit_hrs: 11,
            event_buffer_cap: 10_000,
            timings: Timings::default(),
            kit: "bootstrap-kit".into(),
            cluster_factory: None,
            existing_byo_domains: Vec::new(),
            kubeconfigs_dir: "/var/lib/catalyst/kubeconfigs".into(),
            wipe_min_life: Duration::from_secs(30 * 60),
            faults: CatalystFaults::default(),
        }
    }
}

/// Shared state of the running simulator.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub cfg: Arc<CatalystSimConfig>,
    pub store: Store,
    pub pdm_url: String,
    pub self_url: String,
    pub http: reqwest::Client,
}

impl Ctx {
    pub fn now(&self) -> String {
        self.cfg
            .clock
            .now()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    pub fn emit(&self, id: &str, phase: &str, level: &str, message: impl Into<String>) {
        self.emit_event(
            id,
            Event {
                time: self.now(),
                phase: phase.into(),
                level: level.into(),
                message: message.into(),
                component: None,
                state: None,
            },
        );
    }

    pub fn emit_event(&self, id: &str, ev: Event) {
        self.store.push_event(id, ev);
    }

    pub async fn sleep(&self, d: Duration) {
        self.cfg.clock.sleep(d).await;
    }

    /// Spawn work that belongs to one deployment, so a simulated API restart can stop it.
    pub fn spawn_for<F>(&self, id: &str, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(fut);
        let abort = handle.abort_handle();
        let kept = self.store.with(id, |d| {
            d.tasks.retain(|t| !t.is_finished());
            d.tasks.push(abort.clone());
        });
        if kept.is_none() {
            abort.abort();
        }
    }
}

/// A running simulated catalyst-api (and, unless configured otherwise, its PDM).
pub struct CatalystSim {
    addr: SocketAddr,
    ctx: Ctx,
    pdm: Option<PdmSim>,
    task: tokio::task::JoinHandle<()>,
}

impl CatalystSim {
    pub async fn start(config: CatalystSimConfig) -> anyhow::Result<CatalystSim> {
        let pdm = match &config.pdm_url {
            Some(_) => None,
            None => Some(PdmSim::start(config.clock.clone(), config.pdm.clone()).await?),
        };
        let pdm_url = match (&config.pdm_url, &pdm) {
            (Some(u), _) => u.trim_end_matches('/').to_string(),
            (None, Some(p)) => p.url(),
            (None, None) => unreachable!("an embedded PDM is started when no URL is configured"),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let ctx = Ctx {
            store: Store::new(config.event_buffer_cap),
            cfg: Arc::new(config),
            pdm_url,
            self_url: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
        };
        let app = api::router(ctx.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "simulated catalyst-api stopped");
            }
        });
        Ok(CatalystSim {
            addr,
            ctx,
            pdm,
            task,
        })
    }

    /// The API root (routes live under `/api/v1/...`).
    pub fn url(&self) -> String {
        self.ctx.self_url.clone()
    }

    pub fn pdm_url(&self) -> String {
        self.ctx.pdm_url.clone()
    }

    /// The deployment records (the mothership's catalyst-api pod shows them as files).
    pub fn store(&self) -> Store {
        self.ctx.store.clone()
    }

    /// The embedded PDM, when this simulator started one.
    pub fn pdm(&self) -> Option<&PdmSim> {
        self.pdm.as_ref()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Simulate a catalyst-api Pod restart (contract §1.7 restart rules). With the PVC mounted the
    /// records survive and every in-flight one becomes `failed` with the orphaned-resources error;
    /// without it (pre-`418cead0`, runbook C13) every record is gone and clients get 404s.
    pub fn restart_api(&self, with_pvc: bool) {
        restart(&self.ctx, with_pvc);
    }

    /// `restart_api` after `after` of simulated time (a scenario's timed Pod restart). Aborting
    /// the returned handle cancels it.
    pub fn restart_api_after(
        &self,
        after: Duration,
        with_pvc: bool,
    ) -> tokio::task::JoinHandle<()> {
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            ctx.sleep(after).await;
            tracing::info!(with_pvc, "simulated catalyst-api Pod restart");
            restart(&ctx, with_pvc);
        })
    }
}

fn restart(ctx: &Ctx, with_pvc: bool) {
    {
        let now = ctx.now();
        let mut map = ctx.store.lock();
        for d in map.values_mut() {
            for t in d.tasks.drain(..) {
                t.abort();
            }
            d.watcher_live = false;
            d.watcher_generation += 1;
            if with_pvc && d.in_flight() {
                d.status = "failed".into();
                d.error = Some(format!(
                    "catalyst-api restarted while this deployment was in flight; its Hetzner resources may be orphaned (look for catalyst-deployment-id={}) — run scripts/operator-recover-sovereign.sh {} --apply before re-provisioning",
                    d.id, d.request.sovereign_fqdn
                ));
                d.finished_at = Some(now.clone());
            }
            d.done = true;
            d.notify();
        }
        if !with_pvc {
            map.clear();
        }
    }
}

impl Drop for CatalystSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}
