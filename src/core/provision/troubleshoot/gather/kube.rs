//! Evidence from a Sovereign cluster: Flux objects, pods, cert-manager Certificates and Warning
//! events. Conversion from object JSON to evidence lines is pure (fixtures and the simulated
//! world feed it directly); `gather` lists the objects with kube-rs.

use std::collections::BTreeMap;

use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::provision::troubleshoot::evidence::Evidence;

/// The objects of one cluster, as JSON. `None` = that kind was not gathered.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helmreleases: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomizations: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitrepositories: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<Vec<Value>>,
    /// core/v1 Events (only `type: Warning` ones become evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Value>>,
    /// Cilium ClusterMesh peer configuration (runbook §2.10); empty = the cluster has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustermesh: Option<Vec<ClusterMeshConfig>>,
}

/// What the `cilium-clustermesh` Secret says about the peers, without its contents: for each
/// peer entry (a key naming a remote cluster; TLS keys such as `x.etcd-client.crt` are not
/// entries) the size of its configuration. An empty one is the empty kubeconfig that
/// `regionKeyFromSpec`'s off-by-one produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterMeshConfig {
    pub namespace: String,
    pub name: String,
    pub peers: BTreeMap<String, usize>,
}

impl ClusterMeshConfig {
    /// From a Secret object (`data` base64 values are only measured, never kept).
    pub fn from_secret(secret: &k8s_openapi::api::core::v1::Secret) -> ClusterMeshConfig {
        let mut peers: BTreeMap<String, usize> = BTreeMap::new();
        for (k, v) in secret.data.iter().flatten() {
            if !k.contains('.') {
                peers.insert(
                    k.clone(),
                    v.0.iter().filter(|b| !b.is_ascii_whitespace()).count(),
                );
            }
        }
        for (k, v) in secret.string_data.iter().flatten() {
            if !k.contains('.') {
                peers.insert(k.clone(), v.trim().len());
            }
        }
        ClusterMeshConfig {
            namespace: secret.metadata.namespace.clone().unwrap_or_default(),
            name: secret.metadata.name.clone().unwrap_or_default(),
            peers,
        }
    }

    /// `<ns>/<name> peers=<usable>/<entries> fullyMeshed=<0|1>[: zero peer entries][; empty: a, b]`.
    pub fn line(&self) -> String {
        let usable = self.peers.values().filter(|n| **n > 0).count();
        let total = self.peers.len();
        let full = total > 0 && usable == total;
        let mut line = format!(
            "{}/{} peers={usable}/{total} fullyMeshed={}",
            self.namespace,
            self.name,
            u8::from(full)
        );
        if usable == 0 {
            line.push_str(": zero peer entries");
        }
        let empty: Vec<&str> = self
            .peers
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| k.as_str())
            .collect();
        if !empty.is_empty() {
            line.push_str(&format!("; empty configuration for {}", empty.join(", ")));
        }
        line
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

fn ns_name(obj: &Value) -> String {
    let ns = str_at(obj, &["metadata", "namespace"]).unwrap_or("");
    let name = str_at(obj, &["metadata", "name"]).unwrap_or("?");
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    }
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// `<id> Ready=<status>[ <reason>][: <message>]` — the one format every Flux-ish line uses.
pub fn ready_text(id: &str, status: &str, reason: &str, message: &str) -> String {
    let mut line = format!("{id} Ready={status}");
    if !reason.is_empty() {
        line.push(' ');
        line.push_str(reason);
    }
    if !message.trim().is_empty() {
        line.push_str(": ");
        line.push_str(message.trim());
    }
    line
}

/// `<ns>/<name> Ready=<status> <reason>: <message>`, or `Ready=absent`.
pub fn ready_line(obj: &Value) -> String {
    let id = ns_name(obj);
    match condition(obj, "Ready") {
        Some(c) => ready_text(
            &id,
            c.get("status").and_then(Value::as_str).unwrap_or("Unknown"),
            c.get("reason").and_then(Value::as_str).unwrap_or(""),
            c.get("message").and_then(Value::as_str).unwrap_or(""),
        ),
        None => format!("{id} Ready=absent"),
    }
}

/// `<ns>/<name> <phase>[ <reason>][: <message>]` — the scheduling or container problem, if any.
pub fn pod_line(pod: &Value) -> String {
    let id = ns_name(pod);
    let phase = str_at(pod, &["status", "phase"]).unwrap_or("Unknown");
    let mut reason = String::new();
    let mut message = String::new();
    if let Some(c) = condition(pod, "PodScheduled")
        && c.get("status").and_then(Value::as_str) == Some("False")
    {
        reason = c.get("reason").and_then(Value::as_str).unwrap_or("").into();
        message = c
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .into();
    }
    if reason.is_empty()
        && let Some(statuses) = pod
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
    {
        for cs in statuses {
            if let Some(w) = cs.pointer("/state/waiting") {
                reason = w.get("reason").and_then(Value::as_str).unwrap_or("").into();
                message = cs
                    .pointer("/lastState/terminated/message")
                    .or_else(|| w.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into();
                break;
            }
        }
    }
    let mut line = format!("{id} {phase}");
    if !reason.is_empty() {
        line.push(' ');
        line.push_str(&reason);
    }
    if !message.is_empty() {
        line.push_str(": ");
        line.push_str(message.trim());
    }
    line
}

/// A Certificate's Ready line, with a failing `Issuing` condition's message appended.
pub fn certificate_line(cert: &Value) -> String {
    let mut line = ready_line(cert);
    if let Some(c) = condition(cert, "Issuing")
        && c.get("status").and_then(Value::as_str) == Some("False")
        && let Some(m) = c.get("message").and_then(Value::as_str)
        && !m.is_empty()
    {
        line.push_str(" | Issuing: ");
        line.push_str(m.trim());
    }
    line
}

fn event_line(e: &Value) -> Option<String> {
    if e.get("type").and_then(Value::as_str) != Some("Warning") {
        return None;
    }
    let ns = str_at(e, &["involvedObject", "namespace"])
        .or_else(|| str_at(e, &["metadata", "namespace"]))
        .unwrap_or("");
    let kind = str_at(e, &["involvedObject", "kind"]).unwrap_or("?");
    let name = str_at(e, &["involvedObject", "name"]).unwrap_or("?");
    let reason = e.get("reason").and_then(Value::as_str).unwrap_or("");
    let message = e.get("message").and_then(Value::as_str).unwrap_or("");
    Some(format!("{ns}/{kind}/{name} {reason}: {}", message.trim()))
}

impl ClusterSnapshot {
    /// Turn the objects into evidence lines under the `flux.*`, `kube.*` and `cert.*` sources.
    pub fn add_to(&self, ev: &mut Evidence, cluster: &str) {
        let origin = |kind: &str, obj: &Value| Some(format!("{cluster}: {kind} {}", ns_name(obj)));
        if let Some(hrs) = &self.helmreleases {
            ev.mark("flux.helmrelease");
            for hr in hrs
                .iter()
                .filter(|h| str_at(h, &["metadata", "name"]).is_some_and(|n| n.starts_with("bp-")))
            {
                ev.push(
                    "flux.helmrelease",
                    ready_line(hr),
                    origin("HelmRelease", hr),
                );
            }
        }
        if let (Some(hrs), Some(pods)) = (&self.helmreleases, &self.pods) {
            ev.mark("flux.workload");
            let mut per_ns: BTreeMap<&str, usize> = BTreeMap::new();
            for p in pods {
                if let Some(ns) = str_at(p, &["metadata", "namespace"]) {
                    *per_ns.entry(ns).or_default() += 1;
                }
            }
            for hr in hrs {
                let name = str_at(hr, &["metadata", "name"]).unwrap_or("");
                let ready = condition(hr, "Ready")
                    .and_then(|c| c.get("status"))
                    .and_then(Value::as_str)
                    == Some("True");
                if !name.starts_with("bp-") || !ready {
                    continue;
                }
                let target = str_at(hr, &["spec", "targetNamespace"])
                    .or_else(|| str_at(hr, &["metadata", "namespace"]))
                    .unwrap_or("default");
                let n = per_ns.get(target).copied().unwrap_or(0);
                ev.push(
                    "flux.workload",
                    format!("{} Ready=True target={target} pods={n}", ns_name(hr)),
                    origin("HelmRelease", hr),
                );
            }
        }
        for (src, kind, objs) in [
            ("flux.kustomization", "Kustomization", &self.kustomizations),
            ("flux.gitrepository", "GitRepository", &self.gitrepositories),
        ] {
            if let Some(objs) = objs {
                ev.mark(src);
                for o in objs {
                    ev.push(src, ready_line(o), origin(kind, o));
                }
            }
        }
        if let Some(pods) = &self.pods {
            ev.mark("kube.pod");
            for p in pods {
                ev.push("kube.pod", pod_line(p), origin("Pod", p));
            }
        }
        if let Some(certs) = &self.certificates {
            ev.mark("cert.certificate");
            for c in certs {
                ev.push(
                    "cert.certificate",
                    certificate_line(c),
                    origin("Certificate", c),
                );
            }
        }
        if let Some(meshes) = &self.clustermesh {
            ev.mark("cilium.clustermesh");
            for m in meshes {
                ev.push(
                    "cilium.clustermesh",
                    m.line(),
                    Some(format!("{cluster}: Secret {}/{}", m.namespace, m.name)),
                );
            }
        }
        if let Some(events) = &self.events {
            ev.mark("kube.event");
            for e in events {
                if let Some(line) = event_line(e) {
                    ev.push("kube.event", line, Some(format!("{cluster}: Event")));
                }
            }
        }
    }
}

/// A custom resource kind the gatherer lists.
struct Kind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
}

const HELMRELEASE: Kind = Kind {
    group: "helm.toolkit.fluxcd.io",
    version: "v2",
    kind: "HelmRelease",
    plural: "helmreleases",
};
const KUSTOMIZATION: Kind = Kind {
    group: "kustomize.toolkit.fluxcd.io",
    version: "v1",
    kind: "Kustomization",
    plural: "kustomizations",
};
const GITREPOSITORY: Kind = Kind {
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    kind: "GitRepository",
    plural: "gitrepositories",
};
const CERTIFICATE: Kind = Kind {
    group: "cert-manager.io",
    version: "v1",
    kind: "Certificate",
    plural: "certificates",
};

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

async fn list_dynamic(client: &kube::Client, k: &Kind, ev: &mut Evidence) -> Option<Vec<Value>> {
    let gvk = GroupVersionKind::gvk(k.group, k.version, k.kind);
    let ar = ApiResource::from_gvk_with_plural(&gvk, k.plural);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    match api.list(&ListParams::default()).await {
        Ok(list) => Some(
            list.items
                .iter()
                .filter_map(|o| serde_json::to_value(o).ok())
                .collect(),
        ),
        // The kind is not installed: truthfully, there are none.
        Err(e) if is_not_found(&e) => Some(Vec::new()),
        Err(e) => {
            ev.error(format!("listing {}: {e}", k.plural));
            None
        }
    }
}

async fn list_typed<K>(
    api: Api<K>,
    lp: &ListParams,
    what: &str,
    ev: &mut Evidence,
) -> Option<Vec<Value>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + Serialize + std::fmt::Debug,
{
    match api.list(lp).await {
        Ok(list) => Some(
            list.items
                .iter()
                .filter_map(|o| serde_json::to_value(o).ok())
                .collect(),
        ),
        Err(e) => {
            ev.error(format!("listing {what}: {e}"));
            None
        }
    }
}

/// List every kind the tree's rules look at. Kinds that fail stay `None` (the walk will ask),
/// and the failure is recorded in `ev.errors`.
pub async fn gather(client: &kube::Client, ev: &mut Evidence) -> ClusterSnapshot {
    use k8s_openapi::api::core::v1::{Event, Pod};
    let pods = list_typed(
        Api::<Pod>::all(client.clone()),
        &ListParams::default(),
        "pods",
        ev,
    )
    .await;
    // An unreachable apiserver fails every list the same way; stop after the first.
    if pods.is_none()
        && ev
            .errors
            .iter()
            .any(|e| e.contains("error trying to connect"))
    {
        return ClusterSnapshot::default();
    }
    ClusterSnapshot {
        helmreleases: list_dynamic(client, &HELMRELEASE, ev).await,
        kustomizations: list_dynamic(client, &KUSTOMIZATION, ev).await,
        gitrepositories: list_dynamic(client, &GITREPOSITORY, ev).await,
        certificates: list_dynamic(client, &CERTIFICATE, ev).await,
        events: list_typed(
            Api::<Event>::all(client.clone()),
            &ListParams::default().fields("type=Warning"),
            "events",
            ev,
        )
        .await,
        clustermesh: clustermesh(client, ev).await,
        pods,
    }
}

/// Cilium keeps the peers of a ClusterMesh in the Secret `kube-system/cilium-clustermesh`
/// (the agents mount it); no Secret = no mesh configured, which is evidence too.
async fn clustermesh(client: &kube::Client, ev: &mut Evidence) -> Option<Vec<ClusterMeshConfig>> {
    use k8s_openapi::api::core::v1::Secret;
    let api: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    match api.get("cilium-clustermesh").await {
        Ok(secret) => Some(vec![ClusterMeshConfig::from_secret(&secret)]),
        Err(e) if is_not_found(&e) => Some(Vec::new()),
        Err(e) => {
            ev.error(format!("reading kube-system/cilium-clustermesh: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;

    fn secret(data: &[(&str, &str)]) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some("cilium-clustermesh".into());
        s.metadata.namespace = Some("kube-system".into());
        s.data = Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        );
        s
    }

    #[test]
    fn clustermesh_lines_count_usable_peers_and_ignore_tls_keys() {
        let empty = ClusterMeshConfig::from_secret(&secret(&[
            ("sov-nbg1", ""),
            ("sov-nbg1.etcd-client-ca.crt", "-----BEGIN CERTIFICATE-----"),
        ]));
        assert_eq!(
            empty.line(),
            "kube-system/cilium-clustermesh peers=0/1 fullyMeshed=0: zero peer entries; empty configuration for sov-nbg1"
        );
        let half = ClusterMeshConfig::from_secret(&secret(&[
            ("sov-nbg1", "endpoints:\n- https://10.0.0.2:2379\n"),
            ("sov-hel1", " \n"),
        ]));
        assert_eq!(
            half.line(),
            "kube-system/cilium-clustermesh peers=1/2 fullyMeshed=0; empty configuration for sov-hel1"
        );
        let full = ClusterMeshConfig::from_secret(&secret(&[(
            "sov-nbg1",
            "endpoints:\n- https://10.0.0.2:2379\n",
        )]));
        assert_eq!(
            full.line(),
            "kube-system/cilium-clustermesh peers=1/1 fullyMeshed=1"
        );

        let mut ev = Evidence::new();
        ClusterSnapshot {
            clustermesh: Some(vec![empty]),
            ..Default::default()
        }
        .add_to(&mut ev, "c");
        assert_eq!(ev.lines_of("cilium.clustermesh").count(), 1);
        // No Secret: gathered, and nothing to say.
        let mut ev = Evidence::new();
        ClusterSnapshot {
            clustermesh: Some(Vec::new()),
            ..Default::default()
        }
        .add_to(&mut ev, "c");
        assert!(ev.has("cilium.clustermesh"));
        assert_eq!(ev.lines_of("cilium.clustermesh").count(), 0);
    }
}
