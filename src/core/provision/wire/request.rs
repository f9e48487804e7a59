//! The `POST /api/v1/deployments` body (contract §1.6, §4.8: `provisioner.Request`'s JSON tags), in
//! the order `StepReview.tsx` builds it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::provision::wizard::rules;

/// One region row (`regions[i]`). Only `[0]` is applied by the OpenTofu module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegionRequest {
    pub provider: String,
    pub cloud_region: String,
    pub control_plane_size: String,
    pub worker_size: String,
    pub worker_count: i64,
}

/// The create body, field for field and in the order `StepReview.tsx` builds it. Deserialization
/// is lenient (missing keys default) so [`validate_request`] can name every missing field.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentRequest {
    pub org_name: String,
    pub org_email: String,
    #[serde(rename = "sovereignFQDN")]
    pub sovereign_fqdn: String,
    /// `pool` | `byo-manual` | `byo-api`.
    pub sovereign_domain_mode: String,
    /// The apex (`omani.works`), not the wizard's pool id.
    pub sovereign_pool_domain: String,
    pub sovereign_subdomain: String,
    /// Secret: never logged; `Debug` masks it.
    pub hetzner_token: String,
    #[serde(rename = "hetznerProjectID")]
    pub hetzner_project_id: String,
    pub region: String,
    pub control_plane_size: String,
    pub worker_size: String,
    pub worker_count: i64,
    pub ha_enabled: bool,
    /// Omitted when empty: the legacy singular body carries no `regions` key (contract §9 DoD).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionRequest>,
    pub ssh_public_key: String,
}

impl fmt::Debug for DeploymentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeploymentRequest")
            .field("org_name", &self.org_name)
            .field("org_email", &self.org_email)
            .field("sovereign_fqdn", &self.sovereign_fqdn)
            .field("sovereign_domain_mode", &self.sovereign_domain_mode)
            .field("sovereign_pool_domain", &self.sovereign_pool_domain)
            .field("sovereign_subdomain", &self.sovereign_subdomain)
            .field("hetzner_token", &rules::mask_secret(&self.hetzner_token))
            .field("hetzner_project_id", &self.hetzner_project_id)
            .field("region", &self.region)
            .field("control_plane_size", &self.control_plane_size)
            .field("worker_size", &self.worker_size)
            .field("worker_count", &self.worker_count)
            .field("ha_enabled", &self.ha_enabled)
            .field("regions", &self.regions)
            .field("ssh_public_key", &self.ssh_public_key)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let req = DeploymentRequest {
            hetzner_token: "supersecrettokenvalue1234".into(),
            ..Default::default()
        };
        assert!(!format!("{req:?}").contains("supersecret"));
    }
}
