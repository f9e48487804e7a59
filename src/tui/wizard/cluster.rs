//! Phase 1 seen straight from the new Sovereign's apiserver: once Phase 0 has bootstrapped Flux,
//! the kubeconfig is fetched from catalyst-api and the HelmReleases are listed with kube-rs, so
//! the progress screen can show where the stream and the cluster disagree.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;

use crate::provision::catalyst::CatalystClient;
use crate::provision::flux::{ConditionView, component_id, derive_catalyst_state};

/// Interval between kubeconfig attempts and HelmRelease lists.
pub const POLL: Duration = Duration::from_secs(2);

/// What the cluster says: component id (without `bp-`) → state as catalyst-api would derive it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    pub states: BTreeMap<String, String>,
    /// `spec.dependsOn` of each HelmRelease (ids without `bp-`): the Phase-1 DAG.
    pub depends_on: BTreeMap<String, Vec<String>>,
}

impl ClusterView {
    /// `ids` (stream names, `bp-` or not) in dependency order: every component after what it
    /// depends on, ties kept in the given order; cycles and unknown ids keep their place at the end.
    pub fn dag_order(&self, ids: &[String]) -> Vec<String> {
        let mut left: Vec<&String> = ids.iter().collect();
        let mut placed: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        let mut out = Vec::with_capacity(ids.len());
        loop {
            let ready = left.iter().position(|id| {
                self.depends_on.get(component_id(id)).is_none_or(|deps| {
                    deps.iter().all(|d| {
                        placed.contains(d.as_str()) || !ids.iter().any(|i| component_id(i) == d)
                    })
                })
            });
            match ready {
                Some(i) => {
                    let id = left.remove(i);
                    placed.insert(component_id(id));
                    out.push(id.clone());
                }
                None => break,
            }
        }
        out.extend(left.into_iter().cloned());
        out
    }

    /// Components whose state differs between the stream's fold and the cluster, and those only
    /// one side knows: `(id, stream state, cluster state)`.
    pub fn disagreements(
        &self,
        stream: &BTreeMap<String, crate::provision::catalyst::fold::ComponentProgress>,
    ) -> Vec<(String, String, String)> {
        let stream: BTreeMap<String, String> = stream
            .values()
            .map(|c| (component_id(&c.id).to_string(), c.state.clone()))
            .collect();
        let mut out = Vec::new();
        for (id, cluster) in &self.states {
            match stream.get(id) {
                Some(s) if s == cluster => {}
                Some(s) => out.push((id.clone(), s.clone(), cluster.clone())),
                None => out.push((id.clone(), "(not streamed)".into(), cluster.clone())),
            }
        }
        for (id, s) in &stream {
            if !self.states.contains_key(id) {
                out.push((id.clone(), s.clone(), "(no HelmRelease)".into()));
            }
        }
        out
    }
}

fn helmrelease() -> ApiResource {
    ApiResource {
        group: "helm.toolkit.fluxcd.io".into(),
        version: "v2".into(),
        api_version: "helm.toolkit.fluxcd.io/v2".into(),
        kind: "HelmRelease".into(),
        plural: "helmreleases".into(),
    }
}

/// The state of every HelmRelease, derived like catalyst-api's `DeriveState`.
pub async fn list_states(client: kube::Client) -> Result<ClusterView, String> {
    let api: Api<DynamicObject> = Api::all_with(client, &helmrelease());
    let deadline = crate::provision::limits::Limits::current().request;
    let list = tokio::time::timeout(deadline, api.list(&ListParams::default()))
        .await
        .map_err(|_| {
            format!(
                "listing HelmReleases: no answer within {} (deadline SOVTUI_REQUEST_TIMEOUT)",
                crate::provision::limits::show_duration(deadline)
            )
        })?
        .map_err(|e| format!("listing HelmReleases: {e}"))?;
    let mut states = BTreeMap::new();
    let mut depends_on = BTreeMap::new();
    for obj in list.items {
        let Some(name) = obj.metadata.name.clone() else {
            continue;
        };
        let conditions: Vec<ConditionView> = obj
            .data
            .get("status")
            .and_then(|s| s.get("conditions"))
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default();
        let deps: Vec<String> = obj
            .data
            .get("spec")
            .and_then(|s| s.get("dependsOn"))
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.get("name").and_then(serde_json::Value::as_str))
                    .map(|n| component_id(n).to_string())
                    .collect()
            })
            .unwrap_or_default();
        let id = component_id(&name).to_string();
        depends_on.insert(id.clone(), deps);
        states.insert(id, derive_catalyst_state(&conditions).as_str().to_string());
    }
    Ok(ClusterView { states, depends_on })
}

/// A kube client from the kubeconfig catalyst-api hands out (its current context).
pub async fn client_from_yaml(yaml: &str) -> Result<kube::Client, String> {
    let kc = Kubeconfig::from_yaml(yaml).map_err(|e| format!("kubeconfig: {e}"))?;
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("kubeconfig: {e}"))?;
    let limits = crate::provision::limits::Limits::current();
    crate::provision::limits::check_transport(
        "the new apiserver",
        &cfg.cluster_url.to_string(),
        &limits,
    )?;
    cfg.connect_timeout = Some(limits.connect);
    cfg.read_timeout = Some(limits.request);
    cfg.write_timeout = Some(limits.request);
    crate::provision::kube_transport::client(cfg, "the new cluster", limits.max_body)
        .map_err(|e| format!("kube client: {e}"))
}

/// Fetch the kubeconfig (waiting while catalyst-api has none yet), call `fetched` once it is
/// served, and report the cluster's view every [`POLL`] through `report` until `stop` is set or
/// `report` returns false.
pub async fn watch(
    api: String,
    id: String,
    stop: Arc<AtomicBool>,
    fetched: impl FnOnce(),
    mut report: impl FnMut(Result<ClusterView, String>) -> bool,
) {
    let catalyst = match CatalystClient::new(&api) {
        Ok(c) => c,
        Err(e) => {
            report(Err(e.to_string()));
            return;
        }
    };
    let client = loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match catalyst.kubeconfig(&id).await {
            Ok(k) => match client_from_yaml(&k.yaml).await {
                Ok(c) => break c,
                Err(e) => {
                    report(Err(e));
                    return;
                }
            },
            // 409: cloud-init has not posted it back yet.
            Err(e) if e.status() == Some(409) => {}
            Err(e) => {
                if !report(Err(format!("fetching the kubeconfig: {e}"))) {
                    return;
                }
            }
        }
        tokio::time::sleep(POLL).await;
    };
    fetched();
    while !stop.load(Ordering::Relaxed) {
        if !report(list_states(client.clone()).await) {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dag_order_puts_dependencies_first_and_keeps_ties_and_cycles() {
        let mut v = ClusterView::default();
        v.depends_on.insert(
            "keycloak".into(),
            vec!["cnpg".into(), "cert-manager".into()],
        );
        v.depends_on.insert("cnpg".into(), vec!["cilium".into()]);
        v.depends_on.insert("a".into(), vec!["b".into()]);
        v.depends_on.insert("b".into(), vec!["a".into()]);
        let ids: Vec<String> = [
            "bp-keycloak",
            "bp-cnpg",
            "bp-cilium",
            "bp-cert-manager",
            "a",
            "b",
            "x",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            v.dag_order(&ids),
            [
                "bp-cilium",
                "bp-cnpg",
                "bp-cert-manager",
                "bp-keycloak",
                "x",
                "a",
                "b"
            ]
        );
    }
}
