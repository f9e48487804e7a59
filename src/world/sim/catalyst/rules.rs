//! The rules the simulated catalyst-api and PDM apply to what clients send them, written from the
//! contract for the world alone (docs/WORLD.md): the library has its own reading of the same
//! rules, and a test of one against the other is only worth something while they stay two.

use crate::provision::wire::DeploymentRequest;

/// Phase ids `POST /phases/{phase}/retry` re-runs as Phase 0 (contract §1.11).
pub const PHASE0_RETRY_IDS: [&str; 5] = [
    "tofu-init",
    "tofu-plan",
    "tofu-apply",
    "tofu-output",
    "flux-bootstrap",
];

/// Phase ids the retry route answers with "manual-retry-required" (contract §1.11). They are the
/// retry handler's own list and, as the contract notes, not helmwatch's component ids.
pub const PHASE1_RETRY_IDS: [&str; 11] = [
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

/// The subdomain label rule of the check routes (contract §1.3, §12 fact 7): 1–63 characters of
/// `a-z`, `0-9` and `-`, a letter first and no hyphen last. Callers lower-case and trim first.
pub fn is_dns_label(label: &str) -> bool {
    let Some(first) = label.chars().next() else {
        return false;
    };
    label.len() <= 63
        && first.is_ascii_lowercase()
        && !label.ends_with('-')
        && label
            .chars()
            .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
}

/// `regions[0]` is what catalyst-api applies (contract §1.6): its values replace the singular
/// `region`, `controlPlaneSize`, `workerSize` and `workerCount` before validation.
pub fn mirror_first_region(req: &mut DeploymentRequest) {
    let Some(first) = req.regions.first().cloned() else {
        return;
    };
    req.region = first.cloud_region;
    req.control_plane_size = first.control_plane_size;
    req.worker_size = first.worker_size;
    req.worker_count = first.worker_count;
}

/// catalyst-api's create validation (contract §1.6): the sentence of the first rule that fails,
/// checked in the handler's order — every `regions[i]` row, then the singular required fields.
pub fn create_rejection(req: &DeploymentRequest) -> Option<String> {
    let blank = |s: &str| s.trim().is_empty();
    for (i, row) in req.regions.iter().enumerate() {
        let problem = if blank(&row.provider) {
            Some("provider is required")
        } else if blank(&row.cloud_region) {
            Some("cloudRegion is required")
        } else if blank(&row.control_plane_size) {
            Some("controlPlaneSize is required")
        } else if row.worker_count < 0 {
            Some("workerCount must be >= 0")
        } else if row.worker_count > 0 && blank(&row.worker_size) {
            Some("workerSize is required when workerCount > 0")
        } else {
            None
        };
        if let Some(p) = problem {
            return Some(format!("region[{i}] {p}"));
        }
    }
    let required = [
        (req.hetzner_token.as_str(), "hetzner token"),
        (&req.hetzner_project_id, "hetzner project ID"),
        (&req.region, "region"),
        (&req.sovereign_fqdn, "sovereign FQDN"),
        (&req.org_name, "org name"),
        (&req.org_email, "org email"),
        (&req.ssh_public_key, "SSH public key"),
    ];
    required
        .into_iter()
        .find(|(value, _)| blank(value))
        .map(|(_, what)| format!("{what} is required"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::wire::RegionRequest;

    #[test]
    fn labels_follow_the_check_rule() {
        for ok in ["t42", "a", "omantel-test-1", &"a".repeat(63)] {
            assert!(is_dns_label(ok), "{ok}");
        }
        for bad in ["", "42t", "t-", "-t", "T1", "t_1", "t.1", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }

    #[test]
    fn create_rejections_come_in_the_handler_order() {
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
            create_rejection(&req).as_deref(),
            Some("region[0] workerSize is required when workerCount > 0")
        );
        req.regions[0].worker_size = "cpx32".into();
        assert_eq!(
            create_rejection(&req).as_deref(),
            Some("hetzner token is required")
        );
        req.hetzner_token = "t".into();
        assert_eq!(
            create_rejection(&req).as_deref(),
            Some("hetzner project ID is required")
        );
        req.hetzner_project_id = "p".into();
        // The region comes from regions[0] once mirrored.
        assert_eq!(
            create_rejection(&req).as_deref(),
            Some("region is required")
        );
        mirror_first_region(&mut req);
        assert_eq!((req.region.as_str(), req.worker_count), ("fsn1", 2));
        assert_eq!(
            create_rejection(&req).as_deref(),
            Some("sovereign FQDN is required")
        );
    }
}
