//! Phase 0's side of the deployment request (contract §4.8 / §1.6): reading one from JSON or TOML
//! and validating it against catalyst-api's order and the OpenTofu variable rules. The rules
//! themselves (FQDN, server type, key type, worker bound) live in `provision::wizard::rules` and the
//! regions in `provision::wizard::catalog`; this file applies them in Phase 0's order.

use std::path::Path;

use serde::Serialize;

use crate::provision::wizard::catalog::Provider;
use crate::provision::wizard::rules::{
    MAX_WORKERS, TOFU_KEY_TYPES, check_fqdn_tofu, is_hetzner_server_type,
};

/// The one request type; Phase 0 adds file reading and the OpenTofu variable rules below.
pub use crate::provision::wizard::request::DeploymentRequest;

/// A request problem, naming the field (and, for files, where it is).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    pub field: String,
    pub message: String,
}

impl RequestError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        RequestError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The Phase-0 inputs after `regions[0]` has been mirrored onto the top-level fields (§1.6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveShape {
    pub region: String,
    pub control_plane_size: String,
    pub worker_size: String,
    pub worker_count: u32,
    pub ha_enabled: bool,
}

impl DeploymentRequest {
    /// Read a request file; `.toml` is TOML, anything else JSON. Errors name the file and line.
    pub fn from_file(path: &Path) -> Result<Self, RequestError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| RequestError::new(&file, format!("cannot read: {e}")))?;
        let is_toml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        if is_toml {
            Self::from_toml(&text).map_err(|e| RequestError::new(file, e.message))
        } else {
            Self::from_json(&text).map_err(|e| RequestError::new(file, e.message))
        }
    }

    pub fn from_json(text: &str) -> Result<Self, RequestError> {
        serde_json::from_str(text).map_err(|e| {
            RequestError::new(
                "request",
                format!("line {} column {}: {e}", e.line(), e.column()),
            )
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, RequestError> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            let msg = e.message().to_string();
            match line {
                Some(l) => RequestError::new("request", format!("line {l}: {msg}")),
                None => RequestError::new("request", msg),
            }
        })
    }

    /// `regions[0]` is authoritative when present, exactly like catalyst-api.
    pub fn effective(&self) -> EffectiveShape {
        match self.regions.first() {
            Some(r) => EffectiveShape {
                region: r.cloud_region.clone(),
                control_plane_size: r.control_plane_size.clone(),
                worker_size: r.worker_size.clone(),
                worker_count: r.worker_count.clamp(0, MAX_WORKERS) as u32,
                ha_enabled: self.ha_enabled,
            },
            None => EffectiveShape {
                region: self.region.clone(),
                control_plane_size: self.control_plane_size.clone(),
                worker_size: self.worker_size.clone(),
                worker_count: self.worker_count.clamp(0, MAX_WORKERS) as u32,
                ha_enabled: self.ha_enabled,
            },
        }
    }

    /// Validation for a direct Phase-0 run: catalyst-api's order (§1.6), then the OpenTofu
    /// variable rules (§5.2) so a bad request fails here rather than half-way through an apply.
    /// The Hetzner token is not required here: it may come from the environment instead.
    pub fn validate_for_phase0(&self) -> Result<(), RequestError> {
        for (i, r) in self.regions.iter().enumerate() {
            let f = |k: &str| format!("regions[{i}].{k}");
            if r.provider.trim().is_empty() {
                return Err(RequestError::new(f("provider"), "is required"));
            }
            if r.cloud_region.trim().is_empty() {
                return Err(RequestError::new(f("cloudRegion"), "is required"));
            }
            if r.control_plane_size.trim().is_empty() {
                return Err(RequestError::new(f("controlPlaneSize"), "is required"));
            }
            if r.worker_count < 0 {
                return Err(RequestError::new(f("workerCount"), "must be >= 0"));
            }
            if r.worker_count > 0 && r.worker_size.trim().is_empty() {
                return Err(RequestError::new(
                    f("workerSize"),
                    "is required when workerCount > 0",
                ));
            }
        }
        crate::provision::wizard::rules::check_single_region(
            self.regions.iter().map(|r| r.cloud_region.as_str()),
        )
        .map_err(|m| RequestError::new("regions", m))?;
        if let Some(r) = self.regions.first()
            && r.provider != "hetzner"
        {
            return Err(RequestError::new(
                "regions[0].provider",
                format!(
                    "{:?} is not supported by Phase 0 (only hetzner)",
                    r.provider
                ),
            ));
        }
        if self.hetzner_project_id.trim().is_empty() {
            return Err(RequestError::new("hetznerProjectID", "is required"));
        }
        let shape = self.effective();
        let region_field = if self.regions.is_empty() {
            "region"
        } else {
            "regions[0].cloudRegion"
        };
        if !Provider::Hetzner.has_region(&shape.region) {
            return Err(RequestError::new(
                region_field,
                format!(
                    "{:?} is not one of {}",
                    shape.region,
                    Provider::Hetzner.regions().join(", ")
                ),
            ));
        }
        if check_fqdn_tofu(&self.sovereign_fqdn).is_err() {
            return Err(RequestError::new(
                "sovereignFQDN",
                format!(
                    "{:?} must be lowercase labels starting with a letter, at least two",
                    self.sovereign_fqdn
                ),
            ));
        }
        if self.org_name.trim().is_empty() {
            return Err(RequestError::new("orgName", "is required"));
        }
        if !valid_email(&self.org_email) {
            return Err(RequestError::new(
                "orgEmail",
                format!("{:?} is not an email address", self.org_email),
            ));
        }
        if !valid_ssh_key(&self.ssh_public_key) {
            return Err(RequestError::new(
                "sshPublicKey",
                "must start with ssh-rsa, ssh-ed25519 or ecdsa-sha2-nistp256 followed by a space",
            ));
        }
        let (cp_field, w_field, n_field) = if self.regions.is_empty() {
            ("controlPlaneSize", "workerSize", "workerCount")
        } else {
            (
                "regions[0].controlPlaneSize",
                "regions[0].workerSize",
                "regions[0].workerCount",
            )
        };
        if !is_hetzner_server_type(&shape.control_plane_size) {
            return Err(RequestError::new(
                cp_field,
                format!(
                    "{:?} is not a Hetzner server type (cx|cpx|ccx|cax + digits)",
                    shape.control_plane_size
                ),
            ));
        }
        let raw_count = self
            .regions
            .first()
            .map_or(self.worker_count, |r| r.worker_count);
        if !(0..=MAX_WORKERS).contains(&raw_count) {
            return Err(RequestError::new(
                n_field,
                format!("must be between 0 and {MAX_WORKERS}"),
            ));
        }
        if shape.worker_count > 0 && !is_hetzner_server_type(&shape.worker_size) {
            return Err(RequestError::new(
                w_field,
                format!(
                    "{:?} is not a Hetzner server type (cx|cpx|ccx|cax + digits)",
                    shape.worker_size
                ),
            ));
        }
        Ok(())
    }
}

/// The tfvar `org_email` rule, `^[^@]+@[^@]+\.[^@]+$`: looser than the wizard's, which also
/// refuses whitespace.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain
            .split_once('.')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
}

/// The tfvar `ssh_public_key` rule: one of the module's key types followed by a space.
fn valid_ssh_key(key: &str) -> bool {
    TOFU_KEY_TYPES.iter().any(|t| {
        key.strip_prefix(t)
            .is_some_and(|rest| rest.starts_with(' '))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_json() -> &'static str {
        r#"{
          "orgName": "Acme Financial", "orgEmail": "platform@acme.io",
          "sovereignFQDN": "t42.omani.works", "sovereignDomainMode": "pool",
          "sovereignPoolDomain": "omani.works", "sovereignSubdomain": "t42",
          "hetznerToken": "secret-token", "hetznerProjectID": "proj_abc123",
          "region": "fsn1", "controlPlaneSize": "cpx32", "workerSize": "cpx32", "workerCount": 2,
          "haEnabled": true,
          "regions": [{"provider": "hetzner", "cloudRegion": "nbg1", "controlPlaneSize": "cpx42",
                       "workerSize": "cpx32", "workerCount": 2}],
          "sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq catalyst@t42.omani.works"
        }"#
    }

    #[test]
    fn json_round_trips_with_wire_names() {
        let req = DeploymentRequest::from_json(sample_json()).expect("parse");
        assert_eq!(req.sovereign_fqdn, "t42.omani.works");
        assert_eq!(req.hetzner_project_id, "proj_abc123");
        let back = serde_json::to_value(&req).expect("serialize");
        assert_eq!(back["sovereignFQDN"], "t42.omani.works");
        assert_eq!(back["hetznerProjectID"], "proj_abc123");
        assert_eq!(back["regions"][0]["cloudRegion"], "nbg1");
        req.validate_for_phase0().expect("valid");
    }

    /// Issue 15: a second region was dropped without a word (only `regions[0]` was planned).
    #[test]
    fn a_multi_region_request_is_refused_not_cut_to_its_first_region() {
        let mut req = DeploymentRequest::from_json(sample_json()).expect("parse");
        let mut second = req.regions[0].clone();
        second.cloud_region = "hel1".into();
        req.regions.push(second);
        let err = req.validate_for_phase0().expect_err("two regions");
        assert_eq!(err.field, "regions");
        assert!(
            err.message.contains("2 regions (nbg1, hel1)")
                && err.message.contains("only regions[0] (nbg1)")
                && err.message.contains("hel1 would silently be left out"),
            "{err}"
        );
    }

    #[test]
    fn regions_zero_is_authoritative() {
        let req = DeploymentRequest::from_json(sample_json()).expect("parse");
        let shape = req.effective();
        assert_eq!(shape.region, "nbg1");
        assert_eq!(shape.control_plane_size, "cpx42");
    }

    #[test]
    fn toml_is_read_and_errors_carry_a_line() {
        let req = DeploymentRequest::from_toml(
            "orgName = \"A\"\nsovereignFQDN = \"a.b.c\"\nworkerCount = 1\n",
        )
        .expect("toml");
        assert_eq!(req.sovereign_fqdn, "a.b.c");
        let err = DeploymentRequest::from_toml("orgName = \"A\"\nworkerCount = \"x\"\n")
            .expect_err("bad type");
        assert!(err.message.contains("line 2"), "{err}");
        let err = DeploymentRequest::from_json("{\n \"orgName\": 3\n}").expect_err("bad json");
        assert!(err.message.contains("line 2"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let mut req = DeploymentRequest::from_json(sample_json()).expect("parse");
        req.regions[0].control_plane_size = "m5.large".into();
        let err = req.validate_for_phase0().expect_err("bad size");
        assert_eq!(err.field, "regions[0].controlPlaneSize");
        req.regions.clear();
        req.region = "eu-west-1".into();
        assert_eq!(
            req.validate_for_phase0().expect_err("region").field,
            "region"
        );
        req.region = "fsn1".into();
        req.ssh_public_key = "ecdsa-sha2-nistp384 AAAA".into();
        assert_eq!(
            req.validate_for_phase0().expect_err("key").field,
            "sshPublicKey"
        );
    }

    #[test]
    fn debug_masks_the_token() {
        let req = DeploymentRequest::from_json(sample_json()).expect("parse");
        let dbg = format!("{req:?}");
        assert!(!dbg.contains("secret-token"));
    }

    #[test]
    fn size_and_fqdn_rules() {
        let mut req = DeploymentRequest::from_json(sample_json()).expect("parse");
        for (size, ok) in [
            ("cpx32", true),
            ("cx42", true),
            ("cpx", false),
            ("s7.large.2", false),
        ] {
            req.regions[0].control_plane_size = size.into();
            assert_eq!(req.validate_for_phase0().is_ok(), ok, "{size}");
        }
        req.regions[0].control_plane_size = "cpx32".into();
        for (fqdn, ok) in [
            ("t42.omani.works", true),
            ("omani", false),
            ("4t.omani.works", false),
        ] {
            req.sovereign_fqdn = fqdn.into();
            let verdict = req.validate_for_phase0();
            assert_eq!(verdict.is_ok(), ok, "{fqdn}");
            if let Err(e) = verdict {
                assert_eq!(e.field, "sovereignFQDN");
            }
        }
        assert!(valid_ssh_key("ssh-ed25519 AAAA"));
        assert!(!valid_ssh_key("ssh-ed25519AAAA"));
        assert!(!valid_ssh_key("ecdsa-sha2-nistp384 AAAA"));
    }
}
