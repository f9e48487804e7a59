//! catalyst-api's response bodies and events (contract §1, §2). Unknown keys are tolerated.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// 201 answer of create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateResponse {
    pub id: String,
    pub status: String,
    #[serde(rename = "streamURL")]
    pub stream_url: String,
}

/// One event of the deployment stream (contract §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    pub time: String,
    pub phase: String,
    pub level: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// `result` of the deployment State.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentResult {
    #[serde(rename = "sovereignFQDN", default)]
    pub sovereign_fqdn: String,
    #[serde(rename = "controlPlaneIP", default)]
    pub control_plane_ip: String,
    #[serde(rename = "loadBalancerIP", default)]
    pub load_balancer_ip: String,
    #[serde(rename = "consoleURL", default)]
    pub console_url: String,
    #[serde(rename = "gitopsRepoURL", default)]
    pub gitops_repo_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_states: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase1_finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase1_outcome: Option<String>,
}

/// `Deployment.State()` — GET /deployments/{id}, the `done` frame, `/events` `state` (contract §1.7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentState {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(rename = "sovereignFQDN", default)]
    pub sovereign_fqdn: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub num_events: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<DeploymentResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_states: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase1_finished_at: Option<String>,
    /// [N]: the report of the last Cancel & Wipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_wipe_report: Option<serde_json::Value>,
}

/// `GET /deployments/{id}/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsResponse {
    pub state: DeploymentState,
    pub events: Vec<Event>,
    pub done: bool,
}

/// One row of `/components/state` and `/refresh-watch` (contract §1.13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentSnapshot {
    pub app_id: String,
    pub status: String,
    #[serde(default)]
    pub helm_release_name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub last_transition_at: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
}

/// `GET /components/state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentsState {
    pub watching: bool,
    pub components: Vec<ComponentSnapshot>,
}

/// Answer of `POST /credentials/validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsVerdict {
    pub valid: bool,
    #[serde(default)]
    pub message: String,
}

/// Answer of `POST /subdomains/check` (and PDM's check).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubdomainVerdict {
    pub available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
}

/// Answer of `POST /sshkey/generate`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedKey {
    pub public_key: String,
    pub private_key: String,
    pub fingerprint: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("public_key", &self.public_key)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Answer of `POST /phases/{phase}/retry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryResponse {
    pub id: String,
    pub status: String,
    pub phase: String,
    #[serde(rename = "streamURL", default)]
    pub stream_url: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
}

/// Library and world share these types, so a misspelt key would cancel out in their tests: the
/// spellings are pinned here against the contract's own field lists instead.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        k.sort_unstable();
        k
    }

    #[test]
    fn state_and_result_keys_are_the_contracts() {
        let state = DeploymentState {
            error: Some("e".into()),
            result: Some(DeploymentResult {
                kubeconfig_path: Some("k".into()),
                component_states: Some(BTreeMap::new()),
                phase1_finished_at: Some("t".into()),
                phase1_outcome: Some("ready".into()),
                ..Default::default()
            }),
            component_states: Some(BTreeMap::new()),
            phase1_finished_at: Some("t".into()),
            last_wipe_report: Some(json!({})),
            ..Default::default()
        };
        let v = serde_json::to_value(&state).expect("serializes");
        assert_eq!(
            keys(&v),
            [
                "componentStates",
                "error",
                "finishedAt",
                "id",
                "lastWipeReport",
                "numEvents",
                "phase1FinishedAt",
                "region",
                "result",
                "sovereignFQDN",
                "startedAt",
                "status"
            ]
        );
        assert_eq!(
            keys(&v["result"]),
            [
                "componentStates",
                "consoleURL",
                "controlPlaneIP",
                "gitopsRepoURL",
                "kubeconfigPath",
                "loadBalancerIP",
                "phase1FinishedAt",
                "phase1Outcome",
                "sovereignFQDN"
            ]
        );
    }

    #[test]
    fn events_snapshots_and_create_answers_read_the_contracts_examples() {
        let ev: Event = serde_json::from_value(json!({"time": "2026-04-30T12:00:00Z",
            "phase": "component", "level": "info", "message": "m",
            "component": "cilium", "state": "installed"}))
        .expect("event");
        assert_eq!(ev.component.as_deref(), Some("cilium"));
        let snap: ComponentSnapshot = serde_json::from_value(json!({"appId": "cilium",
            "status": "installed", "helmReleaseName": "bp-cilium", "namespace": "flux-system",
            "lastTransitionAt": "0001-01-01T00:00:00Z", "message": "", "dependsOn": ["x"]}))
        .expect("snapshot");
        assert_eq!(
            (
                snap.helm_release_name.as_str(),
                snap.last_transition_at.as_str()
            ),
            ("bp-cilium", "0001-01-01T00:00:00Z")
        );
        let created: CreateResponse = serde_json::from_value(json!({"id": "0123456789abcdef",
            "status": "provisioning", "streamURL": "/api/v1/deployments/0123456789abcdef/logs"}))
        .expect("create answer");
        assert!(created.stream_url.ends_with("/logs"));
        let retry: RetryResponse = serde_json::from_value(json!({"id": "i",
            "status": "manual-retry-required", "phase": "cilium", "streamURL": "/s",
            "runbook": "r", "message": "m"}))
        .expect("retry answer");
        assert_eq!(retry.stream_url, "/s");
    }
}
