//! Live checks the wizard asks its caller to make, and how their HTTP answers are read (contract
//! §1.2–1.5 and the UI's handling of each). The caller debounces edits (the UI uses 400 ms for the
//! subdomain), performs [`LiveCheck::path`] + [`LiveCheck::body`] as a POST against the configured
//! API root, and hands back a [`CheckReply`] with the [`Ticket`] it got. Answers to tickets that
//! were superseded by an edit are ignored, so a slow answer never overwrites a newer input.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::catalog::{Provider, Registrar};
use super::rules::mask_secret;

/// The web wizard's debounce for live checks (`useSubdomainAvailability.ts`: 400 ms). Callers
/// wait this long after the last edit before calling `Wizard::due_checks`.
pub const DEBOUNCE: Duration = Duration::from_millis(400);

/// Which check a ticket belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckKind {
    Credentials(Provider),
    Subdomain,
    Registrar,
    SshKeyGenerate,
}

/// Identifies one issued check; answers are matched against the latest ticket of their kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket {
    pub kind: CheckKind,
    pub seq: u64,
}

/// A request the caller must perform.
#[derive(Clone, PartialEq, Eq)]
pub enum LiveCheck {
    /// `POST /api/v1/credentials/validate {token, provider}`.
    ValidateCredentials { provider: Provider, token: String },
    /// `POST /api/v1/subdomains/check {subdomain, poolDomain}` (the apex, not the pool id).
    CheckSubdomain {
        subdomain: String,
        pool_domain: String,
    },
    /// `POST /api/v1/registrar/{registrar}/validate {domain, token}`.
    ValidateRegistrar {
        registrar: Registrar,
        domain: String,
        token: String,
    },
    /// `POST /api/v1/sshkey/generate {fqdn}`.
    GenerateSshKey { fqdn: String },
}

impl fmt::Debug for LiveCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveCheck::ValidateCredentials { provider, token } => f
                .debug_struct("ValidateCredentials")
                .field("provider", provider)
                .field("token", &mask_secret(token))
                .finish(),
            LiveCheck::CheckSubdomain {
                subdomain,
                pool_domain,
            } => f
                .debug_struct("CheckSubdomain")
                .field("subdomain", subdomain)
                .field("pool_domain", pool_domain)
                .finish(),
            LiveCheck::ValidateRegistrar {
                registrar,
                domain,
                token,
            } => f
                .debug_struct("ValidateRegistrar")
                .field("registrar", registrar)
                .field("domain", domain)
                .field("token", &mask_secret(token))
                .finish(),
            LiveCheck::GenerateSshKey { fqdn } => f
                .debug_struct("GenerateSshKey")
                .field("fqdn", fqdn)
                .finish(),
        }
    }
}

impl LiveCheck {
    /// Path below the API root (which may itself end in `/sovereign`); every check is a POST.
    pub fn path(&self) -> String {
        match self {
            LiveCheck::ValidateCredentials { .. } => "/api/v1/credentials/validate".into(),
            LiveCheck::CheckSubdomain { .. } => "/api/v1/subdomains/check".into(),
            LiveCheck::ValidateRegistrar { registrar, .. } => {
                format!("/api/v1/registrar/{registrar}/validate")
            }
            LiveCheck::GenerateSshKey { .. } => "/api/v1/sshkey/generate".into(),
        }
    }

    /// The JSON body. Contains secrets for the credential and registrar checks: never log it.
    pub fn body(&self) -> Value {
        match self {
            LiveCheck::ValidateCredentials { provider, token } => {
                json!({"token": token, "provider": provider.as_str()})
            }
            LiveCheck::CheckSubdomain {
                subdomain,
                pool_domain,
            } => json!({"subdomain": subdomain, "poolDomain": pool_domain}),
            LiveCheck::ValidateRegistrar { domain, token, .. } => {
                json!({"domain": domain, "token": token})
            }
            LiveCheck::GenerateSshKey { fqdn } => json!({"fqdn": fqdn}),
        }
    }
}

/// A check issued by the wizard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRequest {
    pub ticket: Ticket,
    pub check: LiveCheck,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckReply {
    Http {
        status: u16,
        content_type: Option<String>,
        body: String,
    },
    /// No HTTP answer at all (connect error, timeout): the message says why.
    Transport(String),
}

impl CheckReply {
    pub fn json(status: u16, body: &Value) -> Self {
        CheckReply::Http {
            status,
            content_type: Some("application/json".into()),
            body: body.to_string(),
        }
    }
}

/// The two error dialects of catalyst-api (§1.0): `{"error","detail"}` JSON or plain text. Decode
/// by Content-Type, falling back to sniffing when the header is missing.
pub fn error_parts(content_type: Option<&str>, body: &str) -> (Option<String>, String) {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: Option<String>,
        detail: Option<String>,
        message: Option<String>,
    }
    let looks_json = content_type.map_or_else(
        || body.trim_start().starts_with('{'),
        |ct| ct.to_ascii_lowercase().contains("json"),
    );
    if looks_json && let Ok(e) = serde_json::from_str::<ErrorBody>(body) {
        let message = match (&e.error, e.detail.or(e.message)) {
            (_, Some(d)) if !d.is_empty() => d,
            (Some(err), _) => err.clone(),
            _ => body.trim().to_string(),
        };
        return (e.error, message);
    }
    let text = body.trim();
    let text = if text.is_empty() {
        "empty answer".to_string()
    } else {
        text.chars().take(300).collect()
    };
    (None, text)
}

/// Status of a provider token card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStatus {
    Empty,
    /// Fewer than 64 characters: no API call is made.
    TooShort {
        len: usize,
    },
    /// Long enough; the caller should validate it (after its debounce).
    Unchecked,
    Checking,
    Valid {
        message: String,
    },
    /// The demo-mode bypass token; validated without calling the API.
    Demo,
    /// 200 with `valid:false`: Hetzner answered 401/403.
    Rejected {
        message: String,
    },
    /// 503 (or no answer): Hetzner (or catalyst-api) unreachable.
    Unreachable {
        message: String,
    },
    /// 400 from the server's own length check.
    TooShortServer {
        message: String,
    },
    /// Any other non-2xx, or an answer that could not be read.
    Http {
        status: u16,
        message: String,
    },
}

impl TokenStatus {
    pub fn is_valid(&self) -> bool {
        matches!(self, TokenStatus::Valid { .. } | TokenStatus::Demo)
    }

    /// Read a `credentials/validate` answer like `StepCredentials.tsx` does.
    pub fn from_reply(reply: &CheckReply) -> TokenStatus {
        #[derive(Deserialize)]
        struct Answer {
            valid: bool,
            #[serde(default)]
            message: String,
        }
        match reply {
            CheckReply::Transport(e) => TokenStatus::Unreachable { message: e.clone() },
            CheckReply::Http {
                status,
                content_type,
                body,
            } => {
                let answer = serde_json::from_str::<Answer>(body).ok();
                match (*status, answer) {
                    (200..=299, Some(a)) if a.valid => TokenStatus::Valid { message: a.message },
                    (200..=299, Some(a)) => TokenStatus::Rejected { message: a.message },
                    (503, a) => TokenStatus::Unreachable {
                        message: a
                            .map(|a| a.message)
                            .unwrap_or_else(|| error_parts(content_type.as_deref(), body).1),
                    },
                    (400, Some(a)) => TokenStatus::TooShortServer { message: a.message },
                    (status, _) => TokenStatus::Http {
                        status,
                        message: if (200..=299).contains(&status) {
                            "unreadable answer from credentials/validate".into()
                        } else {
                            error_parts(content_type.as_deref(), body).1
                        },
                    },
                }
            }
        }
    }

    /// One line for the token card.
    pub fn describe(&self) -> String {
        match self {
            TokenStatus::Empty => "enter the API token".into(),
            TokenStatus::TooShort { len } => {
                format!("token too short — {len} characters, at least 64")
            }
            TokenStatus::Unchecked => "not validated yet".into(),
            TokenStatus::Checking => "validating…".into(),
            TokenStatus::Valid { message } => format!("valid — {message}"),
            TokenStatus::Demo => "demo mode — not validated against the provider".into(),
            TokenStatus::Rejected { message } => format!("rejected — {message}"),
            TokenStatus::Unreachable { message } => format!("could not validate — {message}"),
            TokenStatus::TooShortServer { message } => format!("too short — {message}"),
            TokenStatus::Http { status, message } => format!("HTTP {status} — {message}"),
        }
    }
}

/// Subdomain availability (`useSubdomainAvailability.ts`: idle|invalid|checking|available|taken|error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Idle,
    Invalid {
        message: String,
    },
    /// Well-formed; the caller should check it (after its debounce).
    Unchecked,
    Checking,
    Available {
        fqdn: String,
    },
    Taken {
        reason: String,
        detail: String,
    },
    Error {
        message: String,
    },
}

impl Availability {
    pub fn from_reply(reply: &CheckReply) -> Availability {
        #[derive(Deserialize)]
        struct Answer {
            available: bool,
            reason: Option<String>,
            detail: Option<String>,
            fqdn: Option<String>,
        }
        match reply {
            CheckReply::Transport(e) => Availability::Error { message: e.clone() },
            CheckReply::Http {
                status,
                content_type,
                body,
            } => {
                if !(200..=299).contains(status) {
                    return Availability::Error {
                        message: format!(
                            "HTTP {status}: {}",
                            error_parts(content_type.as_deref(), body).1
                        ),
                    };
                }
                match serde_json::from_str::<Answer>(body) {
                    Err(e) => Availability::Error {
                        message: format!("unreadable answer from subdomains/check: {e}"),
                    },
                    Ok(a) if a.available => Availability::Available {
                        fqdn: a.fqdn.unwrap_or_default(),
                    },
                    Ok(a) if a.reason.as_deref() == Some("invalid-format") => {
                        Availability::Invalid {
                            message: a.detail.unwrap_or_else(|| "invalid subdomain".into()),
                        }
                    }
                    Ok(a) => {
                        let reason = a.reason.unwrap_or_else(|| "taken".into());
                        let detail = a.detail.unwrap_or_else(|| describe_reason(&reason).into());
                        Availability::Taken { reason, detail }
                    }
                }
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Availability::Idle => "enter a subdomain".into(),
            Availability::Invalid { message } => format!("invalid — {message}"),
            Availability::Unchecked => "not checked yet".into(),
            Availability::Checking => "checking…".into(),
            Availability::Available { fqdn } => format!("{fqdn} is available"),
            Availability::Taken { reason, detail } => {
                format!("not available ({reason}) — {detail}")
            }
            Availability::Error { message } => format!("could not check — {message}"),
        }
    }
}

/// Words for the `subdomains/check` reason enum.
pub fn describe_reason(reason: &str) -> &'static str {
    match reason {
        "invalid-format" => "not a valid DNS label",
        "unsupported-pool" => "this pool domain is not managed",
        "reserved" => "reserved for the control plane",
        "reserved-state" => "already reserved by another deployment",
        "active-state" => "already in use by a Sovereign",
        "unknown-state" => "in an unknown state at the pool-domain-manager",
        "exists" => "the domain already resolves",
        "lookup-error" => "the DNS lookup failed",
        "pdm-unavailable" => "the pool-domain-manager is unreachable",
        "subdomain-conflict" => "reserved or activated for the chosen pool meanwhile",
        _ => "not available",
    }
}

/// Registrar token validation state (`byo-api`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarStatus {
    Incomplete,
    Unchecked,
    Checking,
    Valid,
    Failed { code: String, message: String },
}

impl RegistrarStatus {
    pub fn from_reply(reply: &CheckReply) -> RegistrarStatus {
        match reply {
            CheckReply::Transport(e) => RegistrarStatus::Failed {
                code: "unreachable".into(),
                message: e.clone(),
            },
            CheckReply::Http {
                status,
                content_type,
                body,
            } => {
                if (200..=299).contains(status) {
                    let valid = serde_json::from_str::<Value>(body)
                        .ok()
                        .and_then(|v| v.get("valid").and_then(Value::as_bool));
                    return match valid {
                        Some(true) => RegistrarStatus::Valid,
                        _ => RegistrarStatus::Failed {
                            code: "registrar-error".into(),
                            message: "the registrar did not confirm the token".into(),
                        },
                    };
                }
                let (code, detail) = error_parts(content_type.as_deref(), body);
                let code = code.unwrap_or_else(|| format!("http-{status}"));
                let message = match code.as_str() {
                    "invalid-token" => "the registrar rejected the token".to_string(),
                    "rate-limited" => "the registrar is rate-limiting; try again shortly".into(),
                    "domain-not-in-account" => "the domain is not in this registrar account".into(),
                    "api-unavailable" | "pdm-unreachable" => {
                        format!("registrar API unavailable — {detail}")
                    }
                    "unsupported-registrar" => "this registrar is not supported".into(),
                    _ => detail,
                };
                RegistrarStatus::Failed { code, message }
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            RegistrarStatus::Incomplete => "choose a registrar and enter its token".into(),
            RegistrarStatus::Unchecked => "not validated yet".into(),
            RegistrarStatus::Checking => "validating…".into(),
            RegistrarStatus::Valid => "token valid for this domain".into(),
            RegistrarStatus::Failed { code, message } => format!("{code} — {message}"),
        }
    }
}

/// A keypair from `sshkey/generate`. The private half is a secret: `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedKey {
    pub public_key: String,
    pub private_key: String,
    pub fingerprint: String,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl GeneratedKey {
    pub fn from_reply(reply: &CheckReply) -> Result<GeneratedKey, String> {
        match reply {
            CheckReply::Transport(e) => Err(format!("could not reach catalyst-api: {e}")),
            CheckReply::Http {
                status,
                content_type,
                body,
            } => {
                if !(200..=299).contains(status) {
                    return Err(format!(
                        "HTTP {status}: {}",
                        error_parts(content_type.as_deref(), body).1
                    ));
                }
                let key: GeneratedKey = serde_json::from_str(body)
                    .map_err(|e| format!("unreadable answer from sshkey/generate: {e}"))?;
                if !key.private_key.contains("PRIVATE KEY") {
                    return Err("sshkey/generate returned no private key".into());
                }
                Ok(key)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str) -> CheckReply {
        CheckReply::Http {
            status,
            content_type: Some("application/json".into()),
            body: body.into(),
        }
    }

    fn text(status: u16, body: &str) -> CheckReply {
        CheckReply::Http {
            status,
            content_type: Some("text/plain; charset=utf-8".into()),
            body: body.into(),
        }
    }

    #[test]
    fn requests_have_the_contract_paths_and_bodies() {
        let c = LiveCheck::ValidateCredentials {
            provider: Provider::Hetzner,
            token: "t".repeat(64),
        };
        assert_eq!(c.path(), "/api/v1/credentials/validate");
        assert_eq!(c.body()["provider"], "hetzner");
        assert!(!format!("{c:?}").contains(&"t".repeat(64)));
        let c = LiveCheck::CheckSubdomain {
            subdomain: "t42".into(),
            pool_domain: "omani.works".into(),
        };
        assert_eq!(
            c.body(),
            json!({"subdomain": "t42", "poolDomain": "omani.works"})
        );
        let c = LiveCheck::ValidateRegistrar {
            registrar: Registrar::Ovh,
            domain: "acme.com".into(),
            token: "a:b:c".into(),
        };
        assert_eq!(c.path(), "/api/v1/registrar/ovh/validate");
        assert_eq!(c.body(), json!({"domain": "acme.com", "token": "a:b:c"}));
        let c = LiveCheck::GenerateSshKey {
            fqdn: "t42.omani.works".into(),
        };
        assert_eq!(c.path(), "/api/v1/sshkey/generate");
        assert_eq!(c.body(), json!({"fqdn": "t42.omani.works"}));
    }

    #[test]
    fn credentials_answers() {
        use TokenStatus as T;
        assert!(matches!(
            T::from_reply(&http(
                200,
                r#"{"valid":true,"message":"read/write access confirmed"}"#
            )),
            T::Valid { .. }
        ));
        assert_eq!(
            T::from_reply(&http(
                200,
                r#"{"valid":false,"message":"token rejected — ensure it has Read & Write permissions"}"#
            )),
            T::Rejected {
                message: "token rejected — ensure it has Read & Write permissions".into()
            }
        );
        assert!(matches!(
            T::from_reply(&http(
                503,
                r#"{"valid":false,"message":"could not reach Hetzner API — x"}"#
            )),
            T::Unreachable { .. }
        ));
        assert!(matches!(
            T::from_reply(&http(
                400,
                r#"{"valid":false,"message":"token too short — x"}"#
            )),
            T::TooShortServer { .. }
        ));
        assert_eq!(
            T::from_reply(&text(400, "invalid request body\n")),
            T::Http {
                status: 400,
                message: "invalid request body".into()
            }
        );
        assert!(matches!(
            T::from_reply(&text(502, "bad gateway")),
            T::Http { status: 502, .. }
        ));
        assert!(matches!(
            T::from_reply(&http(200, "{not json")),
            T::Http { status: 200, .. }
        ));
        assert!(matches!(
            T::from_reply(&CheckReply::Transport("connection refused".into())),
            T::Unreachable { .. }
        ));
    }

    #[test]
    fn subdomain_answers() {
        use Availability as A;
        assert_eq!(
            A::from_reply(&http(200, r#"{"available":true,"fqdn":"t42.omani.works"}"#)),
            A::Available {
                fqdn: "t42.omani.works".into()
            }
        );
        assert!(matches!(
            A::from_reply(&http(
                200,
                r#"{"available":false,"reason":"invalid-format","detail":"x"}"#
            )),
            A::Invalid { .. }
        ));
        // Malformed-JSON 400 carries the same shape but any non-2xx is an error for the UI.
        assert!(matches!(
            A::from_reply(&http(
                400,
                r#"{"available":false,"reason":"invalid-format"}"#
            )),
            A::Error { .. }
        ));
        assert_eq!(
            A::from_reply(&http(200, r#"{"available":false,"reason":"active-state"}"#)),
            A::Taken {
                reason: "active-state".into(),
                detail: "already in use by a Sovereign".into()
            }
        );
        assert!(matches!(
            A::from_reply(&http(
                200,
                r#"{"available":false,"reason":"pdm-unavailable","detail":"down"}"#
            )),
            A::Taken { .. }
        ));
        assert!(matches!(A::from_reply(&http(200, "")), A::Error { .. }));
        assert!(matches!(
            A::from_reply(&CheckReply::Transport("t".into())),
            A::Error { .. }
        ));
    }

    #[test]
    fn registrar_answers() {
        use RegistrarStatus as R;
        assert_eq!(
            R::from_reply(&http(
                200,
                r#"{"valid":true,"registrar":"ovh","domain":"a.com"}"#
            )),
            R::Valid
        );
        for (status, code) in [
            (401, "invalid-token"),
            (429, "rate-limited"),
            (403, "domain-not-in-account"),
            (502, "api-unavailable"),
            (404, "unsupported-registrar"),
            (422, "missing-token"),
        ] {
            let body =
                format!(r#"{{"error":"{code}","detail":"d","registrar":"ovh","domain":"a.com"}}"#);
            match R::from_reply(&http(status, &body)) {
                R::Failed { code: c, .. } => assert_eq!(c, code),
                other => panic!("{other:?}"),
            }
        }
        assert!(
            matches!(R::from_reply(&text(500, "boom")), R::Failed { code, .. } if code == "http-500")
        );
        assert!(matches!(R::from_reply(&http(200, "{}")), R::Failed { .. }));
    }

    #[test]
    fn generated_key_answers() {
        let ok = r#"{"publicKey":"ssh-ed25519 AAAA catalyst@x","privateKey":"-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n","fingerprint":"SHA256:abc"}"#;
        let k = GeneratedKey::from_reply(&http(200, ok)).unwrap();
        assert_eq!(k.fingerprint, "SHA256:abc");
        assert!(!format!("{k:?}").contains("BEGIN"));
        assert!(
            GeneratedKey::from_reply(&http(
                500,
                r#"{"error":"could not generate Ed25519 keypair"}"#
            ))
            .unwrap_err()
            .contains("could not generate")
        );
        assert!(GeneratedKey::from_reply(&http(200, r#"{"publicKey":"x"}"#)).is_err());
    }

    #[test]
    fn error_dialects() {
        assert_eq!(
            error_parts(
                Some("application/json"),
                r#"{"error":"subdomain-conflict","detail":"pick another"}"#
            ),
            (Some("subdomain-conflict".into()), "pick another".into())
        );
        assert_eq!(
            error_parts(
                Some("application/json"),
                r#"{"error":"hetzner project ID is required"}"#
            ),
            (
                Some("hetzner project ID is required".into()),
                "hetzner project ID is required".into()
            )
        );
        assert_eq!(
            error_parts(Some("text/plain"), "deployment not found\n"),
            (None, "deployment not found".into())
        );
        assert_eq!(error_parts(None, r#"{"error":"x"}"#).0, Some("x".into()));
        assert_eq!(
            error_parts(Some("application/json"), "not json").1,
            "not json"
        );
        assert_eq!(error_parts(None, "").1, "empty answer");
    }
}
