//! A Flux-like reconciler for one simulated cluster, on the world's [`SimClock`]: the Flux
//! bootstrap (controllers, GitRepository, the bootstrap-kit Kustomization applying the kit), then
//! every HelmRelease in `dependsOn` order with the conditions and messages helm-controller writes.
//! It sleeps until the store changes or its next simulated deadline; idle clusters cost nothing.
//!
//! [`SimClock`]: crate::sim::clock::SimClock

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::cluster::{SimCluster, ensure_namespace};
use super::kinds;
use super::kit::Kit;
use super::kubelet;
use super::scenario::{ClusterScenario, FluxFault, ReleaseFault, ReleaseOverride};
use super::store::{PatchBody, Store, WriteMode};

/// Timeout helm-controller reports in its Progressing message.
const ACTION_TIMEOUT: &str = "5m0s";

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Waiting for dependencies (or for the first look).
    Waiting,
    Installing {
        done_at: Duration,
    },
    Done,
}

#[derive(Debug, Clone)]
struct Track {
    generation: i64,
    requested_at: Option<String>,
    phase: Phase,
    /// Helm release revision: 1 after install, +1 per upgrade.
    revision: u32,
    /// The dependency last reported as not ready, to skip rewriting the same status.
    waiting_on: Option<String>,
}

pub(crate) struct Reconciler {
    cluster: SimCluster,
    scenario: ClusterScenario,
    kit: Option<Kit>,
    start: Duration,
    /// Bootstrap steps done: 0 none, 1 objects created, 2 source ready/failed, 3 kit applied/failed.
    stage: u8,
    revision: String,
    tracks: BTreeMap<(String, String), Track>,
    /// Name of the helm-controller pod whose log gets helm-controller's lines.
    helm_pod: String,
}

fn kind(name: &str) -> kinds::KindId {
    // The reconciler only names kinds of the built-in table.
    kinds::by_any_name(name).unwrap_or(0)
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
) -> (String, String, String, String) {
    (type_.into(), status.into(), reason.into(), message.into())
}

type Cond = (String, String, String, String);

/// Conditions as Flux writes them, keeping `lastTransitionTime` where the status did not change.
fn conditions_value(
    existing: Option<&Value>,
    wanted: &[Cond],
    generation: i64,
    now: &str,
) -> Value {
    let old = existing
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let list: Vec<Value> = wanted
        .iter()
        .map(|(t, s, r, m)| {
            let since = old
                .iter()
                .find(|c| c["type"] == t.as_str() && c["status"] == s.as_str())
                .and_then(|c| c.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| json!(now));
            json!({"type": t, "status": s, "reason": r, "message": m,
                   "observedGeneration": generation, "lastTransitionTime": since})
        })
        .collect();
    Value::Array(list)
}

/// Merge `fields` into the object's status through the status subresource; no write if nothing changes.
fn write_status(s: &mut Store, kind_name: &str, ns: &str, name: &str, fields: Value) {
    let k = kind(kind_name);
    let Some(obj) = s.get(k, ns, name) else {
        return;
    };
    let mut status = obj.get("status").cloned().unwrap_or_else(|| json!({}));
    json_patch::merge(&mut status, &fields);
    if obj.get("status") == Some(&status) {
        return;
    }
    let _ = s.patch(
        k,
        ns,
        name,
        &PatchBody::Merge(json!({"status": status})),
        WriteMode::Status,
    );
}

fn create_missing(s: &mut Store, obj: Value, now: chrono::DateTime<chrono::Utc>) {
    let Some(k) = kinds::by_kind(
        obj.get("kind").and_then(Value::as_str).unwrap_or(""),
        obj.get("apiVersion").and_then(Value::as_str),
    ) else {
        return;
    };
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if kinds::info(k).namespaced {
        ensure_namespace(s, &ns, now);
    }
    if s.get(k, &ns, &name).is_none() {
        let _ = s.create(k, &ns, obj, WriteMode::All, false, now);
    }
}

/// A core Event about a Flux object, as its controller records it.
#[allow(clippy::too_many_arguments)] // every field is a distinct Event field
fn flux_event(
    api_version: &str,
    kind_name: &str,
    ns: &str,
    name: &str,
    event_type: &str,
    reason: &str,
    message: &str,
    component: &str,
    ts: &str,
) -> Value {
    let event_time = chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| {
            t.to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        })
        .unwrap_or_else(|_| ts.to_string());
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{}", &uuid::Uuid::new_v4().simple().to_string()[..16]), "namespace": ns},
        "involvedObject": {"apiVersion": api_version, "kind": kind_name, "name": name, "namespace": ns},
        "reason": reason, "message": message, "type": event_type,
        "source": {"component": component}, "reportingComponent": component,
        "firstTimestamp": ts, "lastTimestamp": ts, "count": 1,
        // What an events.k8s.io recorder sets too, so the Event is complete in both shapes.
        "eventTime": event_time, "reportingInstance": component, "action": "Reconcile",
    })
}

/// What cert-manager holds once bp-cert-manager is installed: the wildcard issuer and certificate
/// the runbook's §2.5 / C17 talk about. A scenario overrides them by creating them first.
fn cert_manager_objects(fqdn: &str, ts: &str) -> Vec<Value> {
    vec![
        json!({
            "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
            "metadata": {"name": "wildcard-issuer"},
            "spec": {"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory",
                              "privateKeySecretRef": {"name": "wildcard-issuer-account-key"},
                              "solvers": [{"dns01": {"webhook": {"groupName": "acme.openova.io", "solverName": "powerdns"}}}]}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "ACMEAccountRegistered",
                                       "message": "The ACME account was registered with the ACME server", "lastTransitionTime": ts}]},
        }),
        json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "wildcard", "namespace": "cert-manager"},
            "spec": {"secretName": "wildcard-tls", "dnsNames": [fqdn, format!("*.{fqdn}")],
                     "issuerRef": {"kind": "ClusterIssuer", "name": "wildcard-issuer"}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
                                       "message": "Certificate is up to date and has not expired", "lastTransitionTime": ts}]},
        }),
    ]
}

#[allow(clippy::too_many_arguments)] // every field is a distinct Pod field
fn running_pod(
    name: &str,
    ns: &str,
    node: &str,
    labels: Value,
    container: &str,
    image: &str,
    now: &str,
) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": container, "image": image}], "nodeName": node},
        "status": {
            "phase": "Running",
            "startTime": now,
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
            "containerStatuses": [{"name": container, "image": image, "ready": true, "started": true,
                                   "restartCount": 0, "state": {"running": {"startedAt": now}}}],
        },
    });
    kubelet::complete(&mut pod);
    pod
}

/// What every namespace of a k3s cluster holds: its `default` ServiceAccount and the
/// `kube-root-ca.crt` ConfigMap.
fn namespace_objects(ns: &str, ts: &str) -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "default", "namespace": ns, "creationTimestamp": ts}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "kube-root-ca.crt", "namespace": ns,
                            "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
               "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nsimulated\n-----END CERTIFICATE-----\n"}}),
    ]
}

/// The cluster-wide objects k3s starts with: the `kubernetes` Service (with its Endpoints and
/// EndpointSlice) and the local-path StorageClass.
fn k3s_objects(ts: &str) -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kubernetes", "namespace": "default",
                            "labels": {"component": "apiserver", "provider": "kubernetes"}},
               "spec": {"clusterIP": "10.43.0.1", "clusterIPs": ["10.43.0.1"],
                        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}),
        json!({"apiVersion": "v1", "kind": "Endpoints",
               "metadata": {"name": "kubernetes", "namespace": "default",
                            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
               "subsets": [{"addresses": [{"ip": "10.0.1.2"}],
                            "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "kubernetes", "namespace": "default",
                            "labels": {"kubernetes.io/service-name": "kubernetes"}},
               "addressType": "IPv4",
               "endpoints": [{"addresses": ["10.0.1.2"], "conditions": {"ready": true}}],
               "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}),
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": "local-path", "creationTimestamp": ts,
                            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
               "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
               "volumeBindingMode": "WaitForFirstConsumer"}),
    ]
}

/// The Deployment that runs a controller's pod (selected by `app=<name>`, so
/// `kubectl logs deploy/<name>` finds it).
fn controller_deployment(name: &str, ns: &str, image: &str, ts: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "manager", "image": image}]}}},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                   "availableReplicas": 1,
                   "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                   "message": "Deployment has minimum availability.",
                                   "lastUpdateTime": ts, "lastTransitionTime": ts}]},
    })
}

/// Seconds from scenario data as a duration: negative or NaN is zero, anything beyond a century is
/// a century (data must not be able to overflow the clock).
fn sim_duration(secs: f64) -> Duration {
    const CENTURY: f64 = 100.0 * 365.0 * 86400.0;
    let secs = if secs.is_nan() {
        0.0
    } else {
        secs.clamp(0.0, CENTURY)
    };
    Duration::from_secs_f64(secs)
}

/// A stable ReplicaSet-style pod name suffix (`5d8f7b9c4-x2k9p`) derived from `seed`.
fn pod_suffix(seed: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    let hex = format!("{:016x}", h.finish());
    format!("{}-{}", &hex[..9], &hex[11..16])
}

impl Reconciler {
    pub(crate) fn new(
        cluster: SimCluster,
        scenario: ClusterScenario,
        kit: Option<Kit>,
    ) -> Reconciler {
        let start = cluster.clock().elapsed();
        let revision = format!(
            "main@sha1:{}{}",
            uuid::Uuid::new_v4().simple(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let helm_pod = format!(
            "helm-controller-{}",
            pod_suffix(&format!("{}/helm-controller", cluster.name()))
        );
        Reconciler {
            helm_pod,
            cluster,
            scenario,
            kit,
            start,
            stage: 0,
            revision,
            tracks: BTreeMap::new(),
        }
    }

    /// A helm-controller log line (Flux's JSON logger shape) about one HelmRelease.
    fn helm_log(
        &self,
        level: &str,
        msg: &str,
        ns: &str,
        name: &str,
        error: Option<&str>,
        ts: &str,
    ) {
        let mut line = json!({
            "level": level, "ts": ts, "msg": msg,
            "controller": "helmrelease", "controllerGroup": "helm.toolkit.fluxcd.io", "controllerKind": "HelmRelease",
            "HelmRelease": {"name": name, "namespace": ns}, "namespace": ns, "name": name,
            "reconcileID": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(e) = error {
            line["error"] = json!(e);
        }
        self.cluster
            .append_pod_log("flux-system", &self.helm_pod, &line.to_string());
    }

    fn slug(&self) -> String {
        self.cluster.name().replace('.', "-")
    }

    /// Run until the cluster is removed.
    pub(crate) async fn run(mut self) {
        let inner = self.cluster.inner.clone();
        let mut changes = inner.changes.subscribe();
        let mut removed = inner.removed.subscribe();
        let mut up = inner.up.subscribe();
        loop {
            if *removed.borrow() {
                return;
            }
            // Controllers cannot write while the apiserver is down.
            if !*up.borrow_and_update() {
                tokio::select! {
                    _ = up.changed() => continue,
                    _ = removed.changed() => return,
                }
            }
            changes.borrow_and_update();
            let next = self.step();
            let clock = self.cluster.clock().clone();
            let sleep = async {
                match next {
                    Some(at) => {
                        let now = clock.elapsed();
                        if at > now {
                            clock.sleep(at - now).await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = changes.changed() => if r.is_err() { return },
                _ = sleep => {}
                _ = removed.changed() => return,
                _ = up.changed() => {}
            }
        }
    }

    /// One pass over everything; returns the next simulated instant something is due.
    pub(crate) fn step(&mut self) -> Option<Duration> {
        let now = self.cluster.clock().elapsed();
        let mut next: Option<Duration> = None;
        let mut due = |t: Duration| {
            next = Some(next.map_or(t, |n: Duration| n.min(t)));
        };
        if let Some(t) = self.bootstrap(now) {
            due(t);
        }
        if self.scenario.flux
            && let Some(t) = self.helm_releases(now)
        {
            due(t);
        }
        next
    }

    fn bootstrap(&mut self, now: Duration) -> Option<Duration> {
        let wall = self.cluster.clock().now();
        let ts = wall.to_rfc3339_opts(SecondsFormat::Secs, true);
        if self.stage == 0 {
            let objects = self.initial_objects(&ts);
            self.cluster.inner.write(|s| {
                for o in objects {
                    create_missing(s, o, wall);
                }
            });
            self.stage = 1;
        }
        if !self.scenario.flux {
            return None;
        }
        let half = self.start + sim_duration(self.scenario.bootstrap_seconds / 2.0);
        let full = self.start + sim_duration(self.scenario.bootstrap_seconds);
        let git = self.scenario.git_repository_name();
        let ks = self.scenario.kustomization_name();
        if self.stage == 1 {
            if now < half {
                return Some(half);
            }
            let (conds, artifact) = match &self.scenario.git_repository_fault {
                Some(FluxFault { reason, message }) => (
                    vec![
                        condition("Ready", "False", reason, message),
                        condition("Stalled", "False", "", ""),
                    ],
                    Value::Null,
                ),
                None => (
                    vec![condition(
                        "Ready",
                        "True",
                        "Succeeded",
                        &format!("stored artifact for revision '{}'", self.revision),
                    )],
                    json!({"revision": self.revision, "path": format!("gitrepository/flux-system/{git}/latest.tar.gz"),
                           "url": format!("http://source-controller.flux-system.svc.cluster.local./gitrepository/flux-system/{git}/latest.tar.gz"),
                           "lastUpdateTime": ts}),
                ),
            };
            let conds: Vec<Cond> = conds.into_iter().filter(|c| !c.2.is_empty()).collect();
            let git_fault = &self.scenario.git_repository_fault;
            self.cluster.inner.write(|s| {
                let existing = s.get(kind("GitRepository"), "flux-system", &git).and_then(|o| o.get("status").cloned());
                let mut fields = json!({"observedGeneration": 1, "conditions": conditions_value(existing.as_ref(), &conds, 1, &ts)});
                if !artifact.is_null() {
                    fields["artifact"] = artifact;
                }
                write_status(s, "GitRepository", "flux-system", &git, fields);
                if let Some(FluxFault { reason, message }) = git_fault {
                    let ev = flux_event("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", &git,
                                        "Warning", reason, message, "source-controller", &ts);
                    create_missing(s, ev, wall);
                }
            });
            self.stage = 2;
        }
        if self.stage == 2 {
            if now < full {
                return Some(full);
            }
            let failure = match (
                &self.scenario.git_repository_fault,
                &self.scenario.kustomization_fault,
            ) {
                (_, Some(f)) => Some((f.reason.clone(), f.message.clone())),
                (Some(_), None) => Some((
                    "ArtifactFailed".to_string(),
                    format!(
                        "Source artifact not found, retrying in 30s (GitRepository/flux-system/{git})"
                    ),
                )),
                (None, None) => None,
            };
            let kit_objects = self
                .kit
                .as_ref()
                .map(|k| self.decorate_kit(k))
                .unwrap_or_default();
            let revision = self.revision.clone();
            self.cluster.inner.write(|s| {
                let existing = s.get(kind("Kustomization"), "flux-system", &ks).and_then(|o| o.get("status").cloned());
                let fields = match &failure {
                    Some((reason, message)) => {
                        let ev = flux_event("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", &ks,
                                            "Warning", reason, message, "kustomize-controller", &ts);
                        create_missing(s, ev, wall);
                        json!({
                            "observedGeneration": 1,
                            "conditions": conditions_value(existing.as_ref(), &[condition("Ready", "False", reason, message)], 1, &ts),
                        })
                    }
                    None => {
                        for o in kit_objects {
                            create_missing(s, o, wall);
                        }
                        json!({
                            "observedGeneration": 1,
                            "lastAppliedRevision": revision,
                            "lastAttemptedRevision": revision,
                            "conditions": conditions_value(existing.as_ref(), &[
                                condition("Ready", "True", "ReconciliationSucceeded", &format!("Applied revision: {revision}")),
                            ], 1, &ts),
                        })
                    }
                };
                write_status(s, "Kustomization", "flux-system", &ks, fields);
            });
            self.stage = 3;
        }
        None
    }

    /// Kit objects with the scenario's per-release `suspend` applied.
    fn decorate_kit(&self, kit: &Kit) -> Vec<Value> {
        let mut objs = kit.objects();
        for o in &mut objs {
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if o["kind"] == "HelmRelease" && self.override_for(&name).suspend {
                o["spec"]["suspend"] = json!(true);
            }
        }
        objs
    }

    fn override_for(&self, name: &str) -> ReleaseOverride {
        let live = self.cluster.release_override(name);
        live.or_else(|| self.scenario.releases.get(name).cloned())
            .unwrap_or_default()
    }

    fn nodes(&self) -> Vec<String> {
        self.scenario
            .nodes
            .clone()
            .unwrap_or_else(|| vec![format!("catalyst-{}-cp1", self.slug())])
    }

    /// Where the world's pods run: the first node.
    fn pod_node(&self) -> String {
        self.nodes().into_iter().next().unwrap_or_default()
    }

    fn initial_objects(&self, ts: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            out.push(json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}, "status": {"phase": "Active"}}));
            out.extend(namespace_objects(ns, ts));
        }
        out.extend(k3s_objects(ts));
        for n in self.nodes() {
            out.push(json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n, "node-role.kubernetes.io/control-plane": "true",
                                                   "kubernetes.io/os": "linux", "catalyst.openova.io/sovereign": self.cluster.name()}},
                "spec": {},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "message": "kubelet is posting ready status", "lastTransitionTime": ts}],
                           "nodeInfo": {"kubeletVersion": kubelet::K3S_VERSION, "osImage": "Ubuntu 24.04 LTS"}},
            }));
        }
        if self.scenario.flux {
            out.push(json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "flux-system", "labels": {"kubernetes.io/metadata.name": "flux-system"}}, "status": {"phase": "Active"}}));
            out.extend(namespace_objects("flux-system", ts));
            for ctl in [
                "source-controller",
                "kustomize-controller",
                "helm-controller",
                "notification-controller",
            ] {
                out.push(running_pod(
                    &format!(
                        "{ctl}-{}",
                        pod_suffix(&format!("{}/{ctl}", self.cluster.name()))
                    ),
                    "flux-system",
                    &self.pod_node(),
                    json!({"app": ctl, "app.kubernetes.io/part-of": "flux"}),
                    "manager",
                    &format!("ghcr.io/fluxcd/{ctl}:v1"),
                    ts,
                ));
                out.push(controller_deployment(
                    ctl,
                    "flux-system",
                    &format!("ghcr.io/fluxcd/{ctl}:v1"),
                    ts,
                ));
            }
            let git = self.scenario.git_repository_name();
            out.push(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                "metadata": {"name": git, "namespace": "flux-system"},
                "spec": {"interval": "1m", "url": "https://github.com/openova-io/openova", "ref": {"branch": "main"}},
                "status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "Progressing",
                                           "message": "building artifact", "lastTransitionTime": ts}]},
            }));
            out.push(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": self.scenario.kustomization_name(), "namespace": "flux-system"},
                "spec": {"interval": "10m", "path": "./clusters/_template/bootstrap-kit", "prune": true,
                         "sourceRef": {"kind": "GitRepository", "name": git},
                         "postBuild": {"substitute": {"SOVEREIGN_FQDN": self.cluster.name()}}},
                "status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "Progressing",
                                           "message": "Reconciliation in progress", "lastTransitionTime": ts}]},
            }));
        }
        out.extend(self.scenario.objects.iter().cloned());
        out.iter_mut().for_each(kubelet::complete);
        out
    }

    fn helm_releases(&mut self, now: Duration) -> Option<Duration> {
        let hr_kind = kind("HelmRelease");
        let wall = self.cluster.clock().now();
        let ts = wall.to_rfc3339_opts(SecondsFormat::Secs, true);
        let all = self
            .cluster
            .inner
            .store()
            .list_all(hr_kind, &Default::default());
        let present: BTreeSet<(String, String)> = all
            .iter()
            .map(|o| {
                (
                    o.pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    o.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect();
        self.tracks.retain(|k, _| present.contains(k));
        let mut next: Option<Duration> = None;
        for key in present {
            if let Some(t) = self.reconcile_release(&key.0, &key.1, now, wall, &ts) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }

    fn reconcile_release(
        &mut self,
        ns: &str,
        name: &str,
        now: Duration,
        wall: chrono::DateTime<chrono::Utc>,
        ts: &str,
    ) -> Option<Duration> {
        let hr_kind = kind("HelmRelease");
        let obj = self.cluster.inner.store().get(hr_kind, ns, name)?;
        if obj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
            return None;
        }
        let ov = self.override_for(name);
        if ov.fault == Some(ReleaseFault::Pending) {
            return None;
        }
        let generation = obj
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let requested = obj
            .pointer("/metadata/annotations/reconcile.fluxcd.io~1requestedAt")
            .and_then(Value::as_str)
            .map(str::to_string);
        let key = (ns.to_string(), name.to_string());
        // A release already reconciled for this generation (scenario objects with a status, or a
        // reconciler restart) is left as it is.
        let settled = obj
            .pointer("/status/observedGeneration")
            .and_then(Value::as_i64)
            == Some(generation);
        let prior_revision = obj
            .pointer("/status/history/0/version")
            .and_then(Value::as_u64)
            .unwrap_or(u64::from(settled)) as u32;
        let track = self.tracks.entry(key).or_insert_with(|| Track {
            generation,
            requested_at: requested.clone(),
            phase: if settled { Phase::Done } else { Phase::Waiting },
            revision: prior_revision,
            waiting_on: None,
        });
        if track.generation != generation || track.requested_at != requested {
            track.generation = generation;
            track.requested_at = requested.clone();
            track.phase = Phase::Waiting;
            track.waiting_on = None;
        }
        let release_name = obj
            .pointer("/spec/releaseName")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_string();
        let target_ns = obj
            .pointer("/spec/targetNamespace")
            .and_then(Value::as_str)
            .unwrap_or(ns)
            .to_string();
        let chart = obj
            .pointer("/spec/chart/spec/chart")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_string();
        let version = obj
            .pointer("/spec/chart/spec/version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let existing_status = obj.get("status").cloned();
        // helm-controller's digest of the values it installed with (canonical JSON, sha256).
        let config_digest = {
            use sha2::Digest;
            let values = obj.pointer("/spec/values").cloned().unwrap_or(json!({}));
            let sum = sha2::Sha256::digest(values.to_string().as_bytes());
            let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        };
        let mut extra = json!({});
        if let Some(r) = &requested {
            extra["lastHandledReconcileAt"] = json!(r);
        }
        match track.phase.clone() {
            Phase::Waiting => {
                let deps: Vec<String> = obj
                    .pointer("/spec/dependsOn")
                    .and_then(Value::as_array)
                    .map(|ds| {
                        ds.iter()
                            .filter_map(|d| {
                                let n = d.get("name").and_then(Value::as_str)?;
                                let dns = d.get("namespace").and_then(Value::as_str).unwrap_or(ns);
                                Some(format!("{dns}/{n}"))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let not_ready = {
                    let store = self.cluster.inner.store();
                    deps.into_iter().find(|d| {
                        let (dns, dn) = d.split_once('/').unwrap_or(("", d));
                        !store.get(hr_kind, dns, dn).is_some_and(|o| {
                            o.pointer("/status/conditions")
                                .and_then(Value::as_array)
                                .is_some_and(|cs| {
                                    cs.iter()
                                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                                })
                        })
                    })
                };
                if not_ready.is_some() && not_ready == track.waiting_on {
                    return None;
                }
                track.waiting_on = not_ready.clone();
                let (conds, phase) = match not_ready {
                    Some(dep) => (
                        vec![condition(
                            "Ready",
                            "False",
                            "DependencyNotReady",
                            &format!("dependency '{dep}' is not ready"),
                        )],
                        Phase::Waiting,
                    ),
                    None => {
                        let upgrade = track.revision > 0;
                        let secs = ov.install_seconds.unwrap_or_else(|| {
                            self.kit
                                .as_ref()
                                .and_then(|k| k.release(name))
                                .map_or(30.0, |r| r.install_seconds)
                        });
                        let secs = if upgrade { secs / 2.0 } else { secs };
                        let action = if upgrade { "upgrade" } else { "install" };
                        let msg =
                            format!("Running '{action}' action with timeout of {ACTION_TIMEOUT}");
                        (
                            vec![
                                condition("Reconciling", "True", "Progressing", &msg),
                                condition("Ready", "Unknown", "Progressing", &msg),
                            ],
                            Phase::Installing {
                                done_at: now + sim_duration(secs),
                            },
                        )
                    }
                };
                let mut fields = extra;
                fields["conditions"] =
                    conditions_value(existing_status.as_ref(), &conds, generation, ts);
                fields["lastAttemptedGeneration"] = json!(generation);
                track.phase = phase.clone();
                self.cluster
                    .inner
                    .write(|s| write_status(s, "HelmRelease", ns, name, fields));
                match phase {
                    // Re-evaluated when a dependency changes (store change wakes the loop).
                    Phase::Waiting => None,
                    Phase::Installing { done_at } if ov.fault != Some(ReleaseFault::Stuck) => {
                        Some(done_at)
                    }
                    _ => None,
                }
            }
            Phase::Installing { done_at } => {
                if ov.fault == Some(ReleaseFault::Stuck) {
                    return None;
                }
                if now < done_at {
                    return Some(done_at);
                }
                track.phase = Phase::Done;
                let upgrade = track.revision > 0;
                let mut fields = extra;
                fields["observedGeneration"] = json!(generation);
                fields["lastAttemptedGeneration"] = json!(generation);
                fields["lastAttemptedRevision"] = json!(version);
                fields["lastAttemptedReleaseAction"] =
                    json!(if upgrade { "upgrade" } else { "install" });
                fields["helmChart"] = json!(format!("{ns}/{ns}-{name}"));
                fields["storageNamespace"] = json!(target_ns);
                let (event_type, reason, message, pods) = match &ov.fault {
                    Some(ReleaseFault::Fail {
                        reason,
                        message,
                        stalled,
                    }) => {
                        let mut conds = vec![
                            condition("Ready", "False", reason, message),
                            condition("Released", "False", reason, message),
                        ];
                        if *stalled {
                            conds.push(condition(
                                "Stalled",
                                "True",
                                "RetriesExceeded",
                                "Failed to install after 1 attempt(s)",
                            ));
                        }
                        fields["conditions"] =
                            conditions_value(existing_status.as_ref(), &conds, generation, ts);
                        fields["installFailures"] = json!(1);
                        ("Warning", reason.clone(), message.clone(), false)
                    }
                    _ => {
                        track.revision += 1;
                        let verb = if upgrade { "upgrade" } else { "install" };
                        let msg = format!(
                            "Helm {verb} succeeded for release {target_ns}/{release_name}.v{} with chart {chart}@{version}",
                            track.revision
                        );
                        let reason = if upgrade {
                            "UpgradeSucceeded"
                        } else {
                            "InstallSucceeded"
                        };
                        let conds = vec![
                            condition("Ready", "True", reason, &msg),
                            condition("Released", "True", reason, &msg),
                        ];
                        fields["conditions"] =
                            conditions_value(existing_status.as_ref(), &conds, generation, ts);
                        fields["history"] = json!([{
                            "name": release_name, "namespace": target_ns, "version": track.revision,
                            "status": "deployed", "chartName": chart, "chartVersion": version, "appVersion": version,
                            "firstDeployed": ts, "lastDeployed": ts,
                            "digest": format!("sha256:{}", uuid::Uuid::new_v4().simple()),
                            "configDigest": config_digest,
                        }]);
                        ("Normal", reason.to_string(), msg, !ov.hollow)
                    }
                };
                let pod = running_pod(
                    &format!("{release_name}-0"),
                    &target_ns,
                    &self.pod_node(),
                    json!({"app.kubernetes.io/instance": release_name, "app.kubernetes.io/name": release_name,
                           "app.kubernetes.io/managed-by": "Helm"}),
                    &release_name,
                    &format!("ghcr.io/openova-io/{chart}:{version}"),
                    ts,
                );
                let event = flux_event(
                    "helm.toolkit.fluxcd.io/v2",
                    "HelmRelease",
                    ns,
                    name,
                    event_type,
                    &reason,
                    &message,
                    "helm-controller",
                    ts,
                );
                let extras = if pods && chart == "bp-cert-manager" {
                    cert_manager_objects(self.cluster.name(), ts)
                } else {
                    Vec::new()
                };
                if event_type == "Warning" {
                    self.helm_log("error", "Reconciler error", ns, name, Some(&message), ts);
                } else {
                    self.helm_log("info", &message, ns, name, None, ts);
                }
                self.cluster.inner.write(|s| {
                    write_status(s, "HelmRelease", ns, name, fields);
                    if pods {
                        create_missing(s, pod, wall);
                    }
                    create_missing(s, event, wall);
                    for o in extras {
                        create_missing(s, o, wall);
                    }
                });
                None
            }
            Phase::Done => {
                if !extra.as_object().is_some_and(|m| m.is_empty()) {
                    self.cluster
                        .inner
                        .write(|s| write_status(s, "HelmRelease", ns, name, extra));
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_from_data_never_panic() {
        assert_eq!(sim_duration(f64::NAN), Duration::ZERO);
        assert_eq!(sim_duration(-5.0), Duration::ZERO);
        assert!(sim_duration(f64::INFINITY) > Duration::from_secs(86400 * 365));
        assert_eq!(sim_duration(1.5), Duration::from_millis(1500));
    }
}
