//! The whole simulated world in one process: a Hetzner project, catalyst-api + PDM, and one
//! apiserver per Sovereign, all on loopback, all on one `SimClock`, built from a scenario. It is
//! what `sovtui sim` runs in the foreground and what `sovtui demo` and the integration tests embed.
//!
//! Its state-dir files (`endpoints.json`, `kubeconfig`, `fleet.toml`) are the only way front-ends
//! find it, so the demo cockpit reaches the world exactly like it reaches a real fleet: through a
//! fleet file and kubeconfigs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use futures::future::BoxFuture;
use serde::Serialize;

use super::catalyst::{CatalystSim, CatalystSimConfig, ClusterFactory, NamingVariant, Phase1Race};
use super::clock::SimClock;
use super::control;
use super::hetzner::sovereign::{self as hz_sovereign, SovereignSpec};
use super::hetzner::{self, HetznerSim, HetznerSimConfig, RateBudget};
use super::ingress::IngressSim;
use super::kube::{ClusterScenario, KubeSim};
use super::mothership::{MothershipEndpoints, MothershipSim};
use super::scenario::{Stage, TokenKind, WorldScenario};
use crate::provision::wire::{CreateResponse, DeploymentRequest, RegionRequest};

/// `endpoints.json` in the state dir: where each simulated service listens, for front-ends and
/// third-party clients (`jq -r .hetzner endpoints.json`). `Debug` masks the Hetzner token (the
/// demo logs the endpoints; a token never reaches a log, even the simulated world's).
#[derive(Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Endpoints {
    pub catalyst_api: String,
    pub pdm: String,
    pub hetzner: String,
    pub hetzner_token: String,
    pub control: String,
    pub clusters: BTreeMap<String, String>,
    /// Where each Sovereign's public hosts are served (plain HTTP), by FQDN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ingress: BTreeMap<String, String>,
    /// The mothership (Catalyst-Zero): its context in the kubeconfig and its services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mothership: Option<MothershipEndpoints>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("catalyst_api", &self.catalyst_api)
            .field("pdm", &self.pdm)
            .field("hetzner", &self.hetzner)
            .field("hetzner_token", &"***")
            .field("control", &self.control)
            .field("clusters", &self.clusters)
            .field("ingress", &self.ingress)
            .field("mothership", &self.mothership)
            .finish()
    }
}

/// What the state-dir files are derived from; shared with the cluster factory so a cluster the
/// Phase-0 timeline creates shows up in the files (and so in the cockpit's fleet) at once.
struct Registry {
    state_dir: Option<PathBuf>,
    kube: KubeSim,
    tags: BTreeMap<String, Vec<String>>,
    deployments: BTreeMap<String, String>,
    /// Sovereigns whose create catalyst-api refused (PDM conflict, PDM down): why, by FQDN.
    refused: BTreeMap<String, String>,
    ingress: BTreeMap<String, std::net::SocketAddr>,
    /// Whether catalyst-api can be the kubeconfig source of the Sovereigns it provisions: not
    /// when the scenario loses its records (C13) or cloud-init never posts back (C15). The
    /// operator then holds a kubeconfig file (runbook C15's interim fix), and fleet.toml says so.
    catalyst_serves_kubeconfigs: bool,
    base: Option<Endpoints>,
}

impl Registry {
    fn endpoints(&self) -> Option<Endpoints> {
        let mut e = self.base.clone()?;
        e.clusters = self.kube.urls().into_iter().collect();
        e.ingress = self
            .ingress
            .iter()
            .map(|(f, a)| (f.clone(), a.to_string()))
            .collect();
        Some(e)
    }

    fn write(&self) -> Result<()> {
        let (Some(dir), Some(endpoints)) = (&self.state_dir, self.endpoints()) else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut contexts = self.kube.urls();
        if let Some(m) = &endpoints.mothership {
            contexts.push((m.context.clone(), m.apiserver.clone()));
        }
        write_atomic(
            &dir.join("kubeconfig"),
            &super::kube::kubeconfig_yaml(&contexts),
        )?;
        write_atomic(&dir.join("fleet.toml"), &self.fleet_toml(&endpoints))?;
        write_atomic(
            &dir.join("endpoints.json"),
            &serde_json::to_string_pretty(&endpoints)?,
        )?;
        Ok(())
    }

    fn fleet_toml(&self, endpoints: &Endpoints) -> String {
        let mut out = String::from(
            "# Written by `sovtui sim`: the simulated fleet. The Hetzner token is read from\n\
             # HCLOUD_TOKEN (see endpoints.json), never stored here.\n",
        );
        // Sovereigns being provisioned are listed before their cluster exists, so `diagnose`
        // finds their deployment (or, for a refused create, their catalyst-api) from the start.
        // They come after the live ones, so a cockpit's rows do not move until a cluster appears.
        let pending: std::collections::BTreeSet<&String> = self
            .deployments
            .keys()
            .chain(self.refused.keys())
            .filter(|f| !endpoints.clusters.contains_key(*f))
            .collect();
        for fqdn in endpoints.clusters.keys().chain(pending) {
            let tags = self.tags.get(fqdn).cloned().unwrap_or_default();
            out += "\n[[sovereign]]\n";
            out += &format!("fqdn = {}\n", toml_str(fqdn));
            // A Sovereign provisioned through catalyst-api is reached the way an operator's
            // joined one is: its kubeconfig fetched from catalyst-api, not read from a file.
            let from_catalyst =
                self.catalyst_serves_kubeconfigs && self.deployments.contains_key(fqdn);
            if !from_catalyst {
                out += "kubeconfig = \"kubeconfig\"\n";
            }
            out += &format!("context = {}\n", toml_str(fqdn));
            out += &format!(
                "tags = [{}]\n",
                tags.iter()
                    .map(|t| toml_str(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            out += &format!("catalyst_api = {}\n", toml_str(&endpoints.catalyst_api));
            if let Some(id) = self.deployments.get(fqdn) {
                out += &format!("deployment_id = {}\n", toml_str(id));
                if from_catalyst {
                    out += "kubeconfig_from = \"catalyst\"\n";
                }
            }
            if let Some(addr) = self.ingress.get(fqdn) {
                out += &format!(
                    "probe = {{ resolve = {}, scheme = \"http\" }}\n",
                    toml_str(&addr.to_string())
                );
            }
            out += "hetzner = { token_env = \"HCLOUD_TOKEN\" }\n";
        }
        if let Some(m) = &endpoints.mothership {
            out += "\n[mothership]\n";
            out += "kubeconfig = \"kubeconfig\"\n";
            out += &format!("context = {}\n", toml_str(&m.context));
            out += "catalyst_namespace = \"catalyst\"\n";
            out += &format!("pdm = {}\n", toml_str(&endpoints.pdm));
            out += &format!(
                "pool_zones = [{}]\n",
                m.pool_zones
                    .iter()
                    .map(|z| toml_str(z))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            out += &format!("dns = {}\n", toml_str(&m.dns));
            out += &format!("registry = {}\n", toml_str(&m.registry));
            out += &format!("ci = {}\n", toml_str(&m.ci));
        }
        out
    }
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Readers (the cockpit's file watcher) must never see a half-written file.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Builds the clusters the catalyst timeline's cloud-init brings up.
struct KubeFactory {
    registry: Arc<Mutex<Registry>>,
    overrides: BTreeMap<String, ClusterScenario>,
}

impl ClusterFactory for KubeFactory {
    fn create_cluster(&self, fqdn: String, kit: String) -> BoxFuture<'static, Result<String>> {
        let registry = self.registry.clone();
        let scenario = self
            .overrides
            .get(&fqdn)
            .cloned()
            .unwrap_or(ClusterScenario {
                kit: Some(kit),
                ..ClusterScenario::bootstrap_kit()
            });
        Box::pin(async move {
            let kube = lock(&registry).kube.clone();
            let cluster = kube.add_cluster(&fqdn, scenario).await?;
            let reg = lock(&registry);
            if let Err(e) = reg.write() {
                tracing::warn!("updating the state dir after {fqdn} appeared: {e:#}");
            }
            Ok(cluster.kubeconfig_yaml())
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running world. Dropping it stops every server.
pub struct World {
    pub clock: SimClock,
    pub kube: KubeSim,
    pub hetzner: HetznerSim,
    pub catalyst: CatalystSim,
    pub scenario: WorldScenario,
    /// The control API (its URL is in `endpoints.json`), served for as long as the world lives.
    _control: control::ControlServer,
    registry: Arc<Mutex<Registry>>,
    /// The simulated Continuum/CNPG operators, by Sovereign.
    operators: Mutex<BTreeMap<String, super::operator::Operator>>,
    /// The Sovereigns' simulated public ingresses.
    _ingress: Vec<IngressSim>,
    /// The scenario's timed catalyst-api restart, cancelled with the world.
    _restart: Option<AbortOnDrop>,
    /// Catalyst-Zero: its apiserver, PowerDNS' DNS, the chart registry and the CI runs.
    pub mothership: MothershipSim,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl World {
    /// Start every service of `scenario` and, with a `state_dir`, write its files once everything
    /// accepts connections.
    pub async fn start(
        scenario: WorldScenario,
        speed: f64,
        state_dir: Option<PathBuf>,
    ) -> Result<World> {
        Self::start_with(scenario, speed, state_dir, "127.0.0.1:0").await
    }

    /// As `start`, with the control API on `control_listen`.
    pub async fn start_with(
        scenario: WorldScenario,
        speed: f64,
        state_dir: Option<PathBuf>,
        control_listen: &str,
    ) -> Result<World> {
        Self::start_full(scenario, speed, state_dir, control_listen, false).await
    }

    /// As `start`, but the Sovereigns at the `provisioning` stage are not created until
    /// [`begin_provisioning`](Self::begin_provisioning): the demo starts their timeline when the
    /// operator is looking (their first key), not while the screen is still being read.
    pub async fn start_deferred(
        scenario: WorldScenario,
        speed: f64,
        state_dir: Option<PathBuf>,
    ) -> Result<World> {
        Self::start_full(scenario, speed, state_dir, "127.0.0.1:0", true).await
    }

    /// The Sovereigns the scenario provisions (created at start, or by `begin_provisioning`).
    pub fn provisioning_sovereigns(&self) -> Vec<String> {
        self.scenario
            .sovereigns
            .iter()
            .filter(|s| s.stage == Stage::Provisioning)
            .map(|s| s.fqdn.clone())
            .collect()
    }

    /// Create the deferred Sovereigns now (see [`start_deferred`](Self::start_deferred)) and
    /// list them in the fleet file.
    pub async fn begin_provisioning(&self) -> Result<()> {
        self.start_provisioning().await?;
        lock(&self.registry).write()
    }

    async fn start_full(
        scenario: WorldScenario,
        speed: f64,
        state_dir: Option<PathBuf>,
        control_listen: &str,
        defer_provisioning: bool,
    ) -> Result<World> {
        let clock = SimClock::new(speed);
        let mut hz_config = HetznerSimConfig::default();
        if let Some(secs) = scenario.hetzner.linger_seconds {
            hz_config.linger = Duration::from_secs_f64(secs.max(0.0));
        }
        if let Some(per_hour) = scenario.hetzner.rate_limit {
            hz_config.rate_budget = RateBudget {
                limit: per_hour,
                refill_per_second: per_hour as f64 / 3600.0,
            };
        }
        let hetzner = HetznerSim::start(hz_config, clock.clone())
            .await
            .context("starting the simulated Hetzner API")?;
        hetzner
            .control()
            .apply_faults(&scenario.hetzner.faults)
            .map_err(|e| anyhow!("scenario {}: hetzner.faults: {e}", scenario.name))?;
        let kube = KubeSim::new(clock.clone());

        let naming = match scenario.catalyst.naming.as_deref() {
            None | Some("main_tf") | Some("main") => NamingVariant::MainTf,
            Some("runbook") => NamingVariant::Runbook,
            Some(other) => {
                return Err(anyhow!(
                    "scenario {}: catalyst.naming '{other}' is neither main_tf nor runbook",
                    scenario.name
                ));
            }
        };
        let registry = Arc::new(Mutex::new(Registry {
            state_dir,
            kube: kube.clone(),
            tags: scenario
                .sovereigns
                .iter()
                .map(|s| (s.fqdn.clone(), s.tags.clone()))
                .collect(),
            deployments: BTreeMap::new(),
            refused: BTreeMap::new(),
            ingress: BTreeMap::new(),
            catalyst_serves_kubeconfigs: !scenario.catalyst.faults.kubeconfig_postback_missing
                && scenario
                    .catalyst
                    .restart_without_pvc_after_seconds
                    .is_none(),
            base: None,
        }));
        let factory = KubeFactory {
            registry: registry.clone(),
            overrides: scenario
                .sovereigns
                .iter()
                .filter(|s| s.stage == Stage::Provisioning)
                .map(|s| (s.fqdn.clone(), s.cluster.clone()))
                .collect(),
        };
        let mut cfg = CatalystSimConfig::new(clock.clone(), hetzner.endpoint());
        cfg.naming = naming;
        if let Some(n) = scenario.catalyst.min_bootstrap_kit_hrs {
            cfg.min_bootstrap_kit_hrs = n;
        }
        if let Some(secs) = scenario.catalyst.first_seen_timeout_seconds {
            cfg.first_seen_timeout = Duration::from_secs_f64(secs.max(0.0));
        }
        if let Some(kit) = &scenario.catalyst.kit {
            cfg.kit = kit.clone();
        }
        if let Some(secs) = scenario.catalyst.pdm_reservation_ttl_seconds {
            cfg.pdm.reservation_ttl = Duration::from_secs_f64(secs.max(0.0));
        }
        cfg.faults = scenario.catalyst.faults.clone();
        cfg.pdm.seed = scenario
            .catalyst
            .pdm_allocations
            .iter()
            .map(|a| (a.pool.clone(), a.subdomain.clone(), a.state.clone()))
            .collect();
        cfg.phase1_race = match scenario.catalyst.phase1_race.as_deref() {
            None | Some("wait_for_kubeconfig") => Phase1Race::WaitForKubeconfig,
            Some("tofu_wins") => Phase1Race::TofuWins,
            Some("put_wins") => Phase1Race::PutWins,
            Some(other) => {
                return Err(anyhow!(
                    "scenario {}: catalyst.phase1_race '{other}' is none of wait_for_kubeconfig, tofu_wins, put_wins",
                    scenario.name
                ));
            }
        };
        cfg.cluster_factory = Some(Arc::new(factory));
        let catalyst = CatalystSim::start(cfg)
            .await
            .context("starting the simulated catalyst-api")?;
        if scenario.catalyst.pdm_unavailable
            && let Some(pdm) = catalyst.pdm()
        {
            pdm.set_available(false);
        }

        let hz_naming = match naming {
            NamingVariant::MainTf => hz_sovereign::NamingVariant::Main,
            NamingVariant::Runbook => hz_sovereign::NamingVariant::Runbook,
        };
        for s in scenario
            .sovereigns
            .iter()
            .filter(|s| s.stage == Stage::Running)
        {
            if s.hetzner {
                // Hetzner refuses the same public key twice in a project: one key per Sovereign.
                let key = demo_ssh_public_key()?;
                let mut spec = SovereignSpec::new(&s.fqdn, &s.region, &key);
                spec.naming = hz_naming;
                hz_sovereign::create_sovereign(&hetzner.control(), &spec)
                    .map_err(|e| anyhow!("creating {}'s Hetzner objects: {e:?}", s.fqdn))?;
            }
            let cluster = kube
                .add_cluster(&s.fqdn, s.cluster.clone())
                .await
                .with_context(|| format!("starting the apiserver of {}", s.fqdn))?;
            if s.apiserver_down {
                cluster.down();
            }
        }

        let mut ingress = Vec::new();
        for s in &scenario.sovereigns {
            if let Some(answer) = &s.ingress {
                let sim = IngressSim::start(&s.fqdn, answer.clone())
                    .await
                    .with_context(|| format!("starting the ingress of {}", s.fqdn))?;
                lock(&registry).ingress.insert(s.fqdn.clone(), sim.addr());
                ingress.push(sim);
            }
        }
        let restart = scenario
            .catalyst
            .restart_without_pvc_after_seconds
            .map(|secs| {
                AbortOnDrop(
                    catalyst.restart_api_after(Duration::from_secs_f64(secs.max(0.0)), false),
                )
            });

        let kit_name = scenario.catalyst.kit.as_deref().unwrap_or("bootstrap-kit");
        let kit = super::kube::Kit::builtin(kit_name)
            .map_err(|e| anyhow!("scenario {}: catalyst.kit: {e}", scenario.name))?;
        let mothership = MothershipSim::start(
            clock.clone(),
            &scenario.mothership,
            &kit,
            catalyst.pdm().map(|p| p.zones()),
            super::mothership::exec::RecordFiles(Some(catalyst.store())),
        )
        .await?;

        let control = control::ControlServer::start(
            control_listen,
            control::Targets {
                clock: clock.clone(),
                kube: kube.clone(),
                hetzner: hetzner.control(),
            },
        )
        .await
        .with_context(|| format!("starting the control API on {control_listen}"))?;

        lock(&registry).base = Some(Endpoints {
            catalyst_api: catalyst.url(),
            pdm: catalyst.pdm_url(),
            hetzner: hetzner.endpoint(),
            hetzner_token: hetzner::DEFAULT_TOKEN.to_string(),
            control: control.url(),
            clusters: BTreeMap::new(),
            ingress: BTreeMap::new(),
            mothership: Some(mothership.endpoints()),
        });

        let world = World {
            clock,
            kube,
            hetzner,
            catalyst,
            scenario,
            _control: control,
            registry,
            operators: Mutex::new(BTreeMap::new()),
            _ingress: ingress,
            _restart: restart,
            mothership,
        };
        for s in world
            .scenario
            .sovereigns
            .iter()
            .filter(|s| s.stage == Stage::Running && s.hetzner)
        {
            world.start_operator(&s.fqdn, None);
        }
        if !defer_provisioning {
            world.start_provisioning().await?;
        }
        lock(&world.registry).write()?;
        Ok(world)
    }

    /// Sovereigns at the `provisioning` stage are created the way an operator would: a POST to
    /// catalyst-api with the wizard's body. The world posts it itself rather than through the
    /// library's client, which is one of the two sides its tests compare (docs/WORLD.md).
    async fn start_provisioning(&self) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let create_url = format!("{}/api/v1/deployments", self.catalyst.url());
        for s in self
            .scenario
            .sovereigns
            .iter()
            .filter(|s| s.stage == Stage::Provisioning)
        {
            let (sub, pool) = s.fqdn.split_once('.').unwrap_or((s.fqdn.as_str(), ""));
            let wanted = s.request.clone().unwrap_or_default();
            let mut request = DeploymentRequest {
                org_name: "OpenOva Demo".into(),
                org_email: "operator@openova.io".into(),
                sovereign_fqdn: s.fqdn.clone(),
                sovereign_domain_mode: "pool".into(),
                sovereign_pool_domain: pool.into(),
                sovereign_subdomain: sub.into(),
                hetzner_token: match wanted.token {
                    TokenKind::ReadWrite => hetzner::DEFAULT_TOKEN.into(),
                    TokenKind::ReadOnly => hetzner::DEFAULT_READONLY_TOKEN.into(),
                },
                hetzner_project_id: hetzner::PROJECT_ID.into(),
                regions: std::iter::once(&s.region)
                    .chain(&s.extra_regions)
                    .map(|r| RegionRequest {
                        provider: "hetzner".into(),
                        cloud_region: r.clone(),
                        control_plane_size: "cx42".into(),
                        worker_size: "cx32".into(),
                        worker_count: 1,
                    })
                    .collect(),
                ssh_public_key: match wanted.ssh_public_key {
                    Some(key) => key,
                    None => demo_ssh_public_key()?,
                },
                ..Default::default()
            };
            for r in &mut request.regions {
                if let Some(size) = &wanted.control_plane_size {
                    r.control_plane_size = size.clone();
                }
                if let Some(size) = &wanted.worker_size {
                    r.worker_size = size.clone();
                }
                if let Some(n) = wanted.worker_count {
                    r.worker_count = n;
                }
            }
            let answer = http
                .post(&create_url)
                .json(&request)
                .send()
                .await
                .with_context(|| format!("creating the deployment of {}", s.fqdn))?;
            let status = answer.status();
            if status.is_success() {
                let created: CreateResponse = answer.json().await.with_context(|| {
                    format!("reading catalyst-api's answer to the create of {}", s.fqdn)
                })?;
                lock(&self.registry)
                    .deployments
                    .insert(s.fqdn.clone(), created.id);
            } else {
                // A refusal (PDM conflict, PDM down) is the scenario's point, not a broken world:
                // the Sovereign stays listed with its catalyst-api and no deployment.
                let body = answer.text().await.unwrap_or_default();
                let why = format!("HTTP {status}: {}", body.trim());
                tracing::warn!(fqdn = %s.fqdn, "catalyst-api refused the create: {why}");
                lock(&self.registry).refused.insert(s.fqdn.clone(), why);
            }
        }
        Ok(())
    }

    pub fn endpoints(&self) -> Endpoints {
        lock(&self.registry)
            .endpoints()
            .expect("endpoints are set before World::start returns")
    }

    /// Deployment ids of the Sovereigns the world provisions, by FQDN.
    pub fn deployments(&self) -> BTreeMap<String, String> {
        lock(&self.registry).deployments.clone()
    }

    /// Sovereigns whose create catalyst-api refused, with its status and body, by FQDN.
    pub fn refused_creates(&self) -> BTreeMap<String, String> {
        lock(&self.registry).refused.clone()
    }

    /// (Re)start the simulated Continuum/CNPG operator of `fqdn`, with a real Postgres pair as its
    /// data plane (nodes named after the pair's Clusters) or a simulated one (`None`).
    pub fn start_operator(&self, fqdn: &str, pg: Option<super::dataplane::SharedDataPlane>) {
        self.start_operator_with(fqdn, pg, super::operator::Faults::default());
    }

    /// Hold (or release) switchover requests in the operator of `fqdn`; false if it has none.
    pub fn hold_switchovers(&self, fqdn: &str, held: bool) -> bool {
        lock(&self.operators)
            .get(fqdn)
            .map(|op| op.hold_switchovers(held))
            .is_some()
    }

    /// [`start_operator`](Self::start_operator) playing `faults`.
    pub fn start_operator_with(
        &self,
        fqdn: &str,
        pg: Option<super::dataplane::SharedDataPlane>,
        faults: super::operator::Faults,
    ) {
        let Some(cluster) = self.kube.cluster(fqdn) else {
            return;
        };
        let op = super::operator::start(
            cluster,
            self.hetzner.control(),
            fqdn.to_string(),
            pg,
            faults,
        );
        lock(&self.operators).insert(fqdn.to_string(), op);
    }

    /// Put a data plane of `kind` behind `fqdn`'s CNPG pair, its files in `base` (which must not
    /// exist yet): the pair's nodes are named after the pair's two Clusters, the simulated
    /// operator is restarted with it, and this returns once the operator has published both
    /// DSNs (CNPG's `<cluster>-app` Secrets). The one way the demo, `sovtui sim` and the tests
    /// give a Sovereign a data plane.
    pub async fn attach_data_plane(
        &self,
        fqdn: &str,
        kind: super::dataplane::DataPlaneKind,
        base: &Path,
        replication: super::pgpair::Replication,
    ) -> Result<super::dataplane::SharedDataPlane> {
        let cluster = self
            .kube
            .cluster(fqdn)
            .with_context(|| format!("{fqdn} has no apiserver in this world"))?;
        let pairs = cluster
            .list("CNPGPair", None)
            .map_err(|e| anyhow!("listing {fqdn}'s CNPG pairs: {e:?}"))?;
        let pair = pairs
            .first()
            .with_context(|| format!("{fqdn} has no CNPG pair"))?;
        let name = |ptr: &str| {
            pair.pointer(ptr)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
                .with_context(|| format!("{fqdn}'s CNPG pair has no {ptr}"))
        };
        let (primary, replica) = (name("/spec/primaryCluster")?, name("/spec/replicaCluster")?);
        let ns = name("/metadata/namespace")?;
        let plane = super::dataplane::DataPlane::start(
            kind,
            base,
            [primary.as_str(), replica.as_str()],
            replication,
        )
        .await
        .with_context(|| format!("starting the {} data plane of {fqdn}", kind.as_str()))?;
        let shared = Arc::new(tokio::sync::Mutex::new(plane));
        self.start_operator(fqdn, Some(shared.clone()));
        let secret = format!("{replica}-app");
        tokio::time::timeout(
            Duration::from_secs(30),
            cluster.wait_for(|c| c.get("Secret", &ns, &secret).is_some()),
        )
        .await
        .map_err(|_| anyhow!("{fqdn}'s operator did not publish the data plane's DSNs"))?;
        Ok(shared)
    }

    /// The Sovereigns with a CNPG pair (those a drill can run on), by FQDN.
    pub fn cnpg_sovereigns(&self) -> Vec<String> {
        self.scenario
            .sovereigns
            .iter()
            .filter(|s| s.stage == Stage::Running)
            .filter(|s| {
                self.kube
                    .cluster(&s.fqdn)
                    .and_then(|c| c.list("CNPGPair", None).ok())
                    .is_some_and(|l| !l.is_empty())
            })
            .map(|s| s.fqdn.clone())
            .collect()
    }

    /// Stop the simulated operator of `fqdn` (a controller that is down: switchover requests
    /// wait until it is started again).
    pub fn stop_operator(&self, fqdn: &str) {
        lock(&self.operators).remove(fqdn);
    }
}

/// A fresh Ed25519 public key for the Phase-0 objects of the scenario's Sovereigns.
fn demo_ssh_public_key() -> Result<String> {
    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .map_err(|e| anyhow!("generating an SSH key: {e}"))?;
    key.public_key()
        .to_openssh()
        .map_err(|e| anyhow!("encoding an SSH key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_debug_never_shows_the_token() {
        let e = Endpoints {
            catalyst_api: "http://127.0.0.1:1".into(),
            pdm: "http://127.0.0.1:2".into(),
            hetzner: "http://127.0.0.1:3/v1".into(),
            hetzner_token: hetzner::DEFAULT_TOKEN.into(),
            control: "http://127.0.0.1:4".into(),
            clusters: BTreeMap::new(),
            ingress: BTreeMap::new(),
            mothership: None,
        };
        let shown = format!("{e:?}");
        assert!(!shown.contains(hetzner::DEFAULT_TOKEN), "{shown}");
        assert!(shown.contains("http://127.0.0.1:3/v1"), "{shown}");
    }
}
