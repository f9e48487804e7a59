//! Where a failed `POST /api/v1/deployments` belongs in the wizard (contract §1.6): 409
//! `subdomain-conflict` and 503 `pdm-unavailable` on Domain, each 400 validation sentence on the
//! step that owns its field, anything else on Review.

use serde::Serialize;

use super::checks::error_parts;
use super::step::Step;

/// A create failure placed on the step and field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiProblem {
    pub status: u16,
    /// The JSON `error` slug or sentence, when the body was JSON.
    pub code: Option<String>,
    pub message: String,
    pub step: Step,
    pub field: Option<String>,
    /// Worth retrying unchanged later (PDM or catalyst-api temporarily unavailable).
    pub transient: bool,
}

/// Map a 400 validation sentence of `provisioner.Request.Validate` to its field.
fn field_for_sentence(sentence: &str) -> Option<(Step, String)> {
    let s = sentence.to_ascii_lowercase();
    // `region[0] provider is required` and friends.
    if let Some(rest) = s.strip_prefix("region[")
        && let Some((idx, tail)) = rest.split_once(']')
        && let Ok(i) = idx.parse::<usize>()
    {
        let key = if tail.contains("provider") {
            "provider"
        } else if tail.contains("control") {
            "controlPlaneSize"
        } else if tail.contains("worker size") || tail.contains("workersize") {
            "workerSize"
        } else if tail.contains("worker") {
            "workerCount"
        } else {
            "cloudRegion"
        };
        return Some((Step::Provider, format!("regions[{i}].{key}")));
    }
    let table: &[(&str, Step, &str)] = &[
        ("token", Step::Credentials, "hetznerToken"),
        ("project", Step::Credentials, "hetznerProjectID"),
        ("ssh", Step::Credentials, "sshPublicKey"),
        ("public key", Step::Credentials, "sshPublicKey"),
        ("fqdn", Step::Domain, "sovereignFQDN"),
        ("subdomain", Step::Domain, "sovereignSubdomain"),
        ("pool", Step::Domain, "sovereignPoolDomain"),
        ("email", Step::Domain, "orgEmail"),
        ("org name", Step::Org, "orgName"),
        ("orgname", Step::Org, "orgName"),
        ("organisation", Step::Org, "orgName"),
        ("organization", Step::Org, "orgName"),
        ("control plane", Step::Provider, "controlPlaneSize"),
        ("worker", Step::Provider, "workerSize"),
        ("region", Step::Provider, "regions[0].cloudRegion"),
    ];
    // GHCR is server configuration, not something the operator typed.
    if s.contains("ghcr") {
        return None;
    }
    table
        .iter()
        .find(|(needle, _, _)| s.contains(needle))
        .map(|(_, step, field)| (*step, field.to_string()))
}

/// Classify a non-2xx answer to the create POST.
pub fn classify_create_error(status: u16, content_type: Option<&str>, body: &str) -> ApiProblem {
    let (code, message) = error_parts(content_type, body);
    let slug = code.as_deref().unwrap_or("");
    let problem = |step: Step, field: Option<&str>, transient: bool, message: String| ApiProblem {
        status,
        code: code.clone(),
        message,
        step,
        field: field.map(str::to_string),
        transient,
    };
    match (status, slug) {
        (409, _) | (_, "subdomain-conflict") => problem(
            Step::Domain,
            Some("sovereignSubdomain"),
            false,
            if slug == "subdomain-conflict" {
                message
            } else {
                format!("conflict: {message}")
            },
        ),
        (503, _) | (_, "pdm-unavailable") => problem(
            Step::Domain,
            Some("sovereignSubdomain"),
            true,
            format!("{message} — nothing was created; try again shortly"),
        ),
        (400, _) => {
            // JSON sentences name the field; a text body is `invalid request body: …`.
            let sentence = code.clone().unwrap_or_else(|| message.clone());
            match field_for_sentence(&sentence) {
                Some((step, field)) if code.is_some() => {
                    problem(step, Some(&field), false, message)
                }
                _ => problem(Step::Review, None, false, message),
            }
        }
        (401, _) => problem(
            Step::Review,
            None,
            false,
            format!("catalyst-api wants a session ({message}); log in and provision again"),
        ),
        (s, _) => problem(Step::Review, None, s >= 500, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: Option<&str> = Some("application/json");

    #[test]
    fn conflict_lands_on_the_subdomain() {
        let p = classify_create_error(
            409,
            JSON,
            r#"{"error":"subdomain-conflict","detail":"this subdomain has been reserved or activated for the chosen pool — pick a different name"}"#,
        );
        assert_eq!(p.step, Step::Domain);
        assert_eq!(p.field.as_deref(), Some("sovereignSubdomain"));
        assert_eq!(p.code.as_deref(), Some("subdomain-conflict"));
        assert!(p.message.contains("pick a different name"));
        assert!(!p.transient);
    }

    #[test]
    fn pdm_unavailable_is_transient_on_domain() {
        let p = classify_create_error(
            503,
            JSON,
            r#"{"error":"pdm-unavailable","detail":"pool-domain-manager is temporarily unreachable: dial tcp"}"#,
        );
        assert_eq!((p.step, p.transient), (Step::Domain, true));
    }

    #[test]
    fn validation_sentences_land_on_their_field() {
        let cases = [
            (
                "region[0] provider is required",
                Step::Provider,
                "regions[0].provider",
            ),
            (
                "region[1] cloudRegion is required",
                Step::Provider,
                "regions[1].cloudRegion",
            ),
            (
                "region[0] controlPlaneSize is required",
                Step::Provider,
                "regions[0].controlPlaneSize",
            ),
            (
                "region[2] workerSize is required when workerCount > 0",
                Step::Provider,
                "regions[2].workerSize",
            ),
            (
                "region[0] worker count must be >= 0",
                Step::Provider,
                "regions[0].workerCount",
            ),
            (
                "hetzner token is required",
                Step::Credentials,
                "hetznerToken",
            ),
            (
                "hetzner project ID is required",
                Step::Credentials,
                "hetznerProjectID",
            ),
            (
                "region is required",
                Step::Provider,
                "regions[0].cloudRegion",
            ),
            ("sovereign FQDN is required", Step::Domain, "sovereignFQDN"),
            ("org name is required", Step::Org, "orgName"),
            ("org email is required", Step::Domain, "orgEmail"),
            (
                "ssh public key is required",
                Step::Credentials,
                "sshPublicKey",
            ),
        ];
        for (sentence, step, field) in cases {
            let p = classify_create_error(400, JSON, &format!(r#"{{"error":"{sentence}"}}"#));
            assert_eq!(
                (p.step, p.field.as_deref()),
                (step, Some(field)),
                "{sentence}"
            );
            assert_eq!(p.message, sentence);
        }
    }

    #[test]
    fn server_side_problems_land_on_review() {
        let p = classify_create_error(
            400,
            JSON,
            r#"{"error":"pool mode requires CATALYST_GHCR_PULL_TOKEN to be set"}"#,
        );
        assert_eq!((p.step, p.field), (Step::Review, None));
        let p = classify_create_error(
            400,
            Some("text/plain"),
            "invalid request body: unexpected EOF\n",
        );
        assert_eq!((p.step, p.field, p.code), (Step::Review, None, None));
        assert!(p.message.starts_with("invalid request body"));
        let p = classify_create_error(
            500,
            JSON,
            r#"{"error":"bearer-token-generation-failed","detail":"x"}"#,
        );
        assert_eq!((p.step, p.transient), (Step::Review, true));
        let p = classify_create_error(401, JSON, r#"{"error":"unauthenticated"}"#);
        assert_eq!(p.step, Step::Review);
        assert!(p.message.contains("session"));
    }
}
