//! Wire shapes of catalyst-api (contract §1, §2): the create request, the deployment State, events,
//! component snapshots. Field names match the JSON byte for byte; unknown keys are tolerated.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::provision::wizard::request::DeploymentRequest;

/// Statuses after which nothing changes any more (contract §2.6, §12 fact 2).
pub const TERMINAL_STATUSES: &[&str] = &["ready", "failed", "wiped", "adopted", "cancelled"];

/// Phase-0 markers in the order catalyst-api emits them.
pub const PHASE0_MARKERS: &[&str] = &[
    "tofu-init",
    "tofu-plan",
    "tofu-apply",
    "tofu-output",
    "flux-bootstrap",
];

/// Phase-1 ids the retry route accepts (contract §1.11).
pub const PHASE1_RETRY_IDS: &[&str] = &[
    "cilium",
    "cert-manager",
    "flux",
    "crossplane",
    "sealed-secrets",
    "spire",
    "jetstream",
    "openbao",
    "keycloak",
    "gitea",
    "bp-catalyst-platform",
];

impl DeploymentRequest {
    /// `regions[0]` is authoritative (contract §1.6): mirror it into the singular fields.
    pub fn normalise(&mut self) {
        if let Some(r) = self.regions.first() {
            self.region = r.cloud_region.clone();
            self.control_plane_size = r.control_plane_size.clone();
            self.worker_size = r.worker_size.clone();
            self.worker_count = r.worker_count;
        }
    }

    /// catalyst-api's validation order (contract §1.6): the first failing rule's sentence, if any.
    pub fn first_validation_error(&self) -> Option<String> {
        for (i, r) in self.regions.iter().enumerate() {
            if r.provider.trim().is_empty() {
                return Some(format!("region[{i}] provider is required"));
            }
            if r.cloud_region.trim().is_empty() {
                return Some(format!("region[{i}] cloudRegion is required"));
            }
            if r.control_plane_size.trim().is_empty() {
                return Some(format!("region[{i}] controlPlaneSize is required"));
            }
            if r.worker_count < 0 {
                return Some(format!("region[{i}] workerCount must be >= 0"));
            }
            if r.worker_count > 0 && r.worker_size.trim().is_empty() {
                return Some(format!(
                    "region[{i}] workerSize is required when workerCount > 0"
                ));
            }
        }
        let checks: [(&str, &str); 7] = [
            (&self.hetzner_token, "hetzner token is required"),
            (&self.hetzner_project_id, "hetzner project ID is required"),
            (&self.region, "region is required"),
            (&self.sovereign_fqdn, "sovereign FQDN is required"),
            (&self.org_name, "org name is required"),
            (&self.org_email, "org email is required"),
            (&self.ssh_public_key, "SSH public key is required"),
        ];
        checks
            .iter()
            .find(|(v, _)| v.trim().is_empty())
            .map(|(_, m)| m.to_string())
    }
}

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

impl Event {
    /// A Phase-1 state transition of one component.
    pub fn is_component_transition(&self) -> bool {
        self.phase == "component"
            && self.component.as_deref().is_some_and(|c| !c.is_empty())
            && self.state.as_deref().is_some_and(|s| !s.is_empty())
    }

    /// A component-less `component` warn/error: a watch-level diagnostic the UI shows as a banner.
    pub fn is_watch_diagnostic(&self) -> bool {
        self.phase == "component"
            && self.component.as_deref().unwrap_or("").is_empty()
            && (self.level == "warn" || self.level == "error")
    }
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

impl DeploymentState {
    pub fn is_terminal(&self) -> bool {
        TERMINAL_STATUSES.contains(&self.status.as_str())
    }

    /// Component states from the lifted copy, else from `result`.
    pub fn component_states(&self) -> Option<&BTreeMap<String, String>> {
        self.component_states
            .as_ref()
            .or_else(|| self.result.as_ref()?.component_states.as_ref())
    }

    /// Contract §2.6 workaround: `ready` with no components while a kubeconfig exists means the
    /// Phase-1 watch never ran; `refresh-watch` can start it.
    pub fn needs_refresh_watch(&self) -> bool {
        let has_kubeconfig = self
            .result
            .as_ref()
            .and_then(|r| r.kubeconfig_path.as_deref())
            .is_some_and(|p| !p.is_empty());
        self.status == "ready"
            && has_kubeconfig
            && self.component_states().is_none_or(|c| c.is_empty())
    }
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

/// Whether a label is a valid DNS label per the subdomain rules (contract §1.3).
pub fn is_valid_label(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::wizard::request::RegionRequest;

    #[test]
    fn validation_order_follows_the_contract() {
        let mut req = DeploymentRequest {
            regions: vec![RegionRequest {
                provider: "hetzner".into(),
                cloud_region: "fsn1".into(),
                control_plane_size: "cpx32".into(),
                worker_count: 2,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            req.first_validation_error().as_deref(),
            Some("region[0] workerSize is required when workerCount > 0")
        );
        req.regions[0].worker_size = "cpx32".into();
        assert_eq!(
            req.first_validation_error().as_deref(),
            Some("hetzner token is required")
        );
        req.hetzner_token = "t".into();
        assert_eq!(
            req.first_validation_error().as_deref(),
            Some("hetzner project ID is required")
        );
    }

    #[test]
    fn labels_and_masks() {
        assert!(is_valid_label("t42"));
        assert!(!is_valid_label("42t"));
        assert!(!is_valid_label("t-"));
        assert!(!is_valid_label("T1"));
        assert!(
            !format!(
                "{:?}",
                DeploymentRequest {
                    hetzner_token: "supersecrettokenvalue1234".into(),
                    ..Default::default()
                }
            )
            .contains("supersecret")
        );
    }
}
