//! The mothership (Catalyst-Zero) as the runbook's §1.2 pre-flight and §2.2 recovery see it: its
//! own apiserver with the `catalyst` namespace (catalyst-api, `catalyst-ghcr-pull-token`) and
//! `openova-system` (pool-domain-manager, `dynadot-api-credentials`, PowerDNS), PowerDNS's public
//! face (a DNS server answering the pool zones and every Sovereign zone PDM wrote), the OCI
//! registry the bp-* charts are pulled from, and the CI-runs endpoint of the release workflow in
//! the shape of GitHub's Actions API. A [`MothershipScenario`] breaks any of them.

pub mod dns;
pub mod exec;
pub mod registry;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::sim::catalyst::pdm::PdmZones;
use crate::sim::clock::SimClock;
use crate::sim::kube::{ClusterScenario, KubeSim, SimCluster};

/// The mothership cluster's name and kubeconfig context.
pub const CONTEXT: &str = "catalyst-zero";
/// The runbook's pool zones (§1.2 C and F).
pub const POOL_ZONES: &[&str] = &[
    "omani.works",
    "omani.homes",
    "omani.rest",
    "omani.trade",
    "omantel.biz",
];
/// The GitHub repository and workflow of §1.2 H.
pub const CI_REPO: &str = "openova-io/openova";
pub const CI_WORKFLOW: &str = "blueprint-release.yaml";
/// The keys runbook §1.2 D requires in `dynadot-api-credentials`.
pub const DYNADOT_KEYS: &[&str] = &["api-key", "api-secret", "domain"];

/// How the mothership is broken at start (all healthy by default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MothershipScenario {
    /// Keys left out of `openova-system/dynadot-api-credentials`.
    #[serde(default)]
    pub missing_dynadot_keys: Vec<String>,
    /// No `dynadot-api-credentials` secret at all.
    #[serde(default)]
    pub dynadot_secret_missing: bool,
    /// `pool-domain-manager` ready replicas (of 1); default 1.
    #[serde(default)]
    pub pdm_ready_replicas: Option<i32>,
    /// PDM's `/healthz` answers 503 (its database is down).
    #[serde(default)]
    pub pdm_unhealthy: bool,
    /// No `catalyst/catalyst-ghcr-pull-token` secret.
    #[serde(default)]
    pub ghcr_secret_missing: bool,
    /// Pool zones PowerDNS was never bootstrapped with.
    #[serde(default)]
    pub missing_pool_zones: Vec<String>,
    /// bp-* artifacts (`bp-cilium`, or `bp-cilium:1.1.1` for one version) not in the registry.
    #[serde(default)]
    pub missing_artifacts: Vec<String>,
    /// Conclusions of the release workflow's last runs on main, newest first (default five
    /// `success`).
    #[serde(default)]
    pub ci_conclusions: Option<Vec<String>>,
    /// The registry answers manifest requests without a token (default: like ghcr.io, it demands
    /// the anonymous Bearer-token exchange).
    #[serde(default)]
    pub registry_without_token: bool,
}

/// Where the mothership's services listen (in `endpoints.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MothershipEndpoints {
    pub context: String,
    pub apiserver: String,
    /// PowerDNS' public DNS (UDP and TCP).
    pub dns: String,
    pub registry: String,
    pub ci: String,
    pub pool_zones: Vec<String>,
}

/// The running mothership; every server stops when it is dropped.
pub struct MothershipSim {
    pub cluster: SimCluster,
    _kube: KubeSim,
    dns: dns::DnsSim,
    http: registry::HttpSim,
    zones: dns::Zones,
    pdm: Option<PdmZones>,
    records: exec::RecordFiles,
}

impl MothershipSim {
    pub async fn start(
        clock: SimClock,
        scenario: &MothershipScenario,
        kit: &crate::sim::kube::Kit,
        pdm: Option<PdmZones>,
        records: exec::RecordFiles,
    ) -> Result<MothershipSim> {
        let pool: Vec<String> = POOL_ZONES
            .iter()
            .filter(|z| !scenario.missing_pool_zones.iter().any(|m| m == *z))
            .map(|z| z.to_string())
            .collect();
        let zones = dns::Zones {
            pool: Arc::new(Mutex::new(pool)),
            pdm: pdm.clone(),
        };
        if scenario.pdm_unhealthy
            && let Some(p) = &pdm
        {
            p.set_available(false);
        }
        let kube = KubeSim::new(clock);
        let cluster = kube
            .add_cluster(
                CONTEXT,
                ClusterScenario {
                    flux: false,
                    objects: objects(scenario),
                    nodes: Some(vec![format!("{CONTEXT}-cp1")]),
                    ..ClusterScenario::empty()
                },
            )
            .await
            .context("starting the mothership's apiserver")?;
        register_exec(
            &cluster,
            exec::Commands {
                zones: zones.clone(),
                pdm: pdm.clone(),
                records: records.clone(),
            },
        );
        let dns = dns::DnsSim::start(zones.clone())
            .await
            .context("starting the mothership's DNS server")?;
        let artifacts = kit
            .releases
            .iter()
            .filter(|r| {
                !scenario
                    .missing_artifacts
                    .iter()
                    .any(|m| *m == r.name || *m == format!("{}:{}", r.name, r.chart_version))
            })
            .map(|r| (r.name.clone(), r.chart_version.clone()))
            .collect();
        let conclusions = scenario
            .ci_conclusions
            .clone()
            .unwrap_or_else(|| vec!["success".into(); 5]);
        let http = registry::HttpSim::start(
            registry_prefix(kit),
            artifacts,
            conclusions,
            !scenario.registry_without_token,
        )
        .await
        .context("starting the mothership's registry and CI endpoint")?;
        Ok(MothershipSim {
            cluster,
            _kube: kube,
            dns,
            http,
            zones,
            pdm,
            records,
        })
    }

    pub fn endpoints(&self) -> MothershipEndpoints {
        MothershipEndpoints {
            context: CONTEXT.into(),
            apiserver: self.cluster.url(),
            dns: self.dns.addr().to_string(),
            registry: self.http.url(),
            ci: self.http.url(),
            pool_zones: POOL_ZONES.iter().map(|z| z.to_string()).collect(),
        }
    }

    /// The commands the runbook runs in the mothership's pods (see [`exec`]).
    pub fn exec(&self) -> exec::Commands {
        exec::Commands {
            zones: self.zones.clone(),
            pdm: self.pdm.clone(),
            records: self.records.clone(),
        }
    }
}

/// The runbook's commands in the mothership's pods, for `kubectl exec` (runbook §1.2 D and F,
/// §2.2 step 3): PDM's `wget` of its health, PowerDNS' `pdnsutil list-all-zones`, and catalyst-api's
/// record files, which the pod's file set mirrors from the deployment store before every command
/// (a file written there, `cat > FILE`, is read back into the store when that exec ends).
fn register_exec(cluster: &SimCluster, commands: exec::Commands) {
    use crate::sim::kube::exec::{ExecOutput, ExecTarget};
    let out = |o: exec::Output| ExecOutput {
        stdout: o.stdout.into_bytes(),
        stderr: o.stderr.into_bytes(),
        exit_code: o.code,
    };
    let registry = cluster.exec();
    let pdm = ExecTarget::labels(
        "openova-system",
        &[("app.kubernetes.io/name", "pool-domain-manager")],
    );
    let c = commands.clone();
    registry.register(pdm, move |call| {
        if call.program() != "wget" {
            return None;
        }
        let url = call.argv.iter().skip(1).find(|a| a.starts_with("http"))?;
        Some(out(c.pdm_wget(url)))
    });
    let pdns = ExecTarget::labels("openova-system", &[("app.kubernetes.io/name", "powerdns")]);
    let c = commands.clone();
    registry.register(pdns, move |call| {
        (call.program() == "pdnsutil"
            && call.argv.get(1).map(String::as_str) == Some("list-all-zones"))
        .then(|| out(c.pdnsutil_list_all_zones()))
    });
    let api = ExecTarget::labels("catalyst", &[("app.kubernetes.io/name", "catalyst-api")]);
    let mirror = RecordMirror {
        records: commands.records.clone(),
        shown: Arc::default(),
    };
    let ls = commands.clone();
    let m = mirror.clone();
    registry.register(api.clone(), move |call| {
        // Before every command the pod's files are the store's records (what another exec wrote
        // was applied when that exec ended).
        m.write_back(call.files);
        m.refresh(call.files);
        // The built-in `ls` does not expand globs; the runbook lists `DIR/*.json`.
        let lists_records = call.program() == "ls"
            && call
                .argv
                .iter()
                .skip(1)
                .any(|a| a.starts_with(exec::RECORDS_DIR));
        lists_records.then(|| out(ls.ls_records()))
    });
    // A record file written back (`kubectl exec -i … -- sh -c 'cat > FILE'`) is applied to the
    // record when the exec that wrote it ends: the next reader — kubectl, catalyst-api's GET —
    // sees it.
    registry.on_exit(api, move |files| mirror.write_back(files));
}

/// catalyst-api's records as the files of its pod: what was put there, to tell a file the
/// operator wrote back from one we wrote.
#[derive(Clone)]
struct RecordMirror {
    records: exec::RecordFiles,
    shown: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

impl RecordMirror {
    /// Apply every record file that differs from what we put there, once.
    fn write_back(&self, files: &crate::sim::kube::exec::PodFiles) {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        for (path, ours) in shown.iter_mut() {
            let Some(now) = files.get(path) else { continue };
            if now == *ours {
                continue;
            }
            if let Err(e) = self.records.write(path, &String::from_utf8_lossy(&now)) {
                tracing::debug!("mothership: record write-back of {path}: {e}");
            }
            // Applied (or refused) once; the next refresh shows the store's version.
            *ours = now;
        }
    }

    /// Put the store's records into the pod's files.
    fn refresh(&self, files: &crate::sim::kube::exec::PodFiles) {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        shown.clear();
        for (path, text) in self.records.files() {
            files.put(&path, text.clone().into_bytes());
            shown.insert(path, text.into_bytes());
        }
    }
}

/// `oci://ghcr.io/openova-io` → `openova-io`: the repository namespace of the kit's charts.
fn registry_prefix(kit: &crate::sim::kube::Kit) -> String {
    let url = kit.helm_repository_url.trim_start_matches("oci://");
    url.split_once('/')
        .map(|(_, p)| p.trim_matches('/').to_string())
        .unwrap_or_default()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn deployment(ns: &str, name: &str, ready: i32) -> Value {
    let labels = json!({"app.kubernetes.io/name": name});
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "generation": 1},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": format!("ghcr.io/openova-io/{name}:sim")}]}
            }
        },
        "status": {
            "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
            "readyReplicas": ready, "availableReplicas": ready,
            "unavailableReplicas": 1 - ready,
            "conditions": [{
                "type": "Available", "status": if ready >= 1 { "True" } else { "False" },
                "reason": if ready >= 1 { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" }
            }]
        }
    })
}

fn pod(ns: &str, deploy: &str, ready: bool) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("{deploy}-7c9d8f6b5-x2k4q"), "namespace": ns,
            "labels": {"app.kubernetes.io/name": deploy}
        },
        "spec": {"nodeName": format!("{CONTEXT}-cp1"), "containers": [{"name": deploy, "image": format!("ghcr.io/openova-io/{deploy}:sim")}]},
        "status": {
            "phase": if ready { "Running" } else { "Pending" },
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "containerStatuses": [{"name": deploy, "ready": ready, "restartCount": 0, "image": format!("ghcr.io/openova-io/{deploy}:sim"), "imageID": "", "state": if ready { json!({"running": {}}) } else { json!({"waiting": {"reason": "CrashLoopBackOff"}}) }}]
        }
    })
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "status": {"phase": "Active"}})
}

/// The mothership's starting objects, as `scenario` breaks them.
fn objects(scenario: &MothershipScenario) -> Vec<Value> {
    let pdm_ready = scenario.pdm_ready_replicas.unwrap_or(1).clamp(0, 1);
    let mut out = vec![
        namespace("catalyst"),
        namespace("openova-system"),
        deployment("catalyst", "catalyst-api", 1),
        pod("catalyst", "catalyst-api", true),
        deployment("openova-system", "pool-domain-manager", pdm_ready),
        pod("openova-system", "pool-domain-manager", pdm_ready == 1),
        deployment("openova-system", "powerdns", 1),
        pod("openova-system", "powerdns", true),
    ];
    if !scenario.ghcr_secret_missing {
        out.push(json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "catalyst-ghcr-pull-token", "namespace": "catalyst"},
            "data": {"token": b64("github_pat_simulated_packages_read")}
        }));
    }
    if !scenario.dynadot_secret_missing {
        let values: BTreeMap<&str, String> = BTreeMap::from([
            ("api-key", b64("sim-dynadot-key")),
            ("api-secret", b64("sim-dynadot-secret")),
            ("domain", b64(&POOL_ZONES.join(","))),
        ]);
        let data: serde_json::Map<String, Value> = values
            .into_iter()
            .filter(|(k, _)| !scenario.missing_dynadot_keys.iter().any(|m| m == k))
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect();
        out.push(json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "dynadot-api-credentials", "namespace": "openova-system"},
            "data": data
        }));
    }
    out
}
