//! Asking an OCI registry whether a manifest exists, as an anonymous client of ghcr.io must: the
//! first `HEAD` is answered `401` with `WWW-Authenticate: Bearer realm=…,service=…,scope=…`; the
//! client then `GET`s the realm with that service and scope, receives `{"token": …}` and asks
//! again with `Authorization: Bearer`. Registries that answer without a token (a mirror, a
//! registry on loopback) get one request each.
//!
//! Bounded like every outside call: the HTTP client's connect and request deadlines, the realm
//! must be `https://` (or loopback, `provision::limits::check_transport`), and the realm's answer
//! is read to at most [`TOKEN_BODY_CAP`] bytes. The token lives only in this module's locals: it is
//! never logged, shown, written, or put into an error.

use std::fmt;

use crate::provision::limits::{Limits, check_transport, show_size};
use crate::provision::wire::registry::TokenResponse;

/// The largest token answer read (ghcr.io's is well under 4 KiB).
pub const TOKEN_BODY_CAP: usize = 64 * 1024;

/// The media types a Helm chart's manifest is served as.
const ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// A `WWW-Authenticate: Bearer` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

/// Parse a `WWW-Authenticate` value. `None` unless its scheme is `Bearer` with a `realm`.
/// Values may be quoted (commas inside quotes belong to the value: `scope="repository:x:pull,push"`).
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next() != Some('=') {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Some(Challenge {
        realm: get("realm").filter(|r| !r.is_empty())?,
        service: get("service"),
        scope: get("scope"),
    })
}

/// A registry token: only ever handed to `bearer_auth`; `Debug` masks it.
struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<masked>)")
    }
}

/// Read at most `cap` bytes of `resp`'s body; an error names the cap (never the content).
async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(format!(
            "the token answer is larger than {}",
            show_size(cap)
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the token answer: {e}"))?
    {
        if body.len() + chunk.len() > cap {
            return Err(format!(
                "the token answer is larger than {}",
                show_size(cap)
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The realm's anonymous token for `challenge`.
async fn fetch_token(
    http: &reqwest::Client,
    challenge: &Challenge,
    limits: &Limits,
) -> Result<Token, String> {
    check_transport("token realm", &challenge.realm, limits)?;
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = &challenge.service {
        query.push(("service", s));
    }
    if let Some(s) = &challenge.scope {
        query.push(("scope", s));
    }
    let resp = http
        .get(&challenge.realm)
        .query(&query)
        .send()
        .await
        .map_err(|e| format!("token realm {}: {e}", challenge.realm))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(format!(
            "token realm {} answered HTTP {status}",
            challenge.realm
        ));
    }
    let body = read_capped(resp, TOKEN_BODY_CAP.min(limits.max_body)).await?;
    // The error of a parse would quote the body, which holds the token: say only what failed.
    let answer: TokenResponse = serde_json::from_slice(&body)
        .map_err(|_| format!("token realm {}: the answer is not a token", challenge.realm))?;
    let token = if answer.token.is_empty() {
        answer.access_token
    } else {
        answer.token
    };
    if token.trim().is_empty() {
        return Err(format!(
            "token realm {}: the answer holds no token",
            challenge.realm
        ));
    }
    Ok(Token(token))
}

async fn head(
    http: &reqwest::Client,
    url: &str,
    token: Option<&Token>,
) -> Result<reqwest::Response, String> {
    let mut req = http.head(url).header("accept", ACCEPT);
    if let Some(t) = token {
        req = req.bearer_auth(&t.0);
    }
    req.send().await.map_err(|e| e.to_string())
}

/// Whether the manifest at `url` (`{registry}/v2/<name>/manifests/<reference>`) exists:
/// `Ok(Some(digest))` (`Docker-Content-Digest`, empty when absent), `Ok(None)` for a 404, `Err`
/// when it cannot be told (the registry or its token realm refused or did not answer).
pub async fn manifest_digest(
    http: &reqwest::Client,
    url: &str,
    limits: &Limits,
) -> Result<Option<String>, String> {
    let mut resp = head(http, url, None).await?;
    if resp.status().as_u16() == 401 {
        let header = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let Some(challenge) = parse_challenge(&header) else {
            return Err(if header.is_empty() {
                "registry answered 401 without a WWW-Authenticate challenge".to_string()
            } else {
                format!(
                    "registry answered 401 asking for {} (only anonymous Bearer tokens are used)",
                    header.split_whitespace().next().unwrap_or("?")
                )
            });
        };
        let token = fetch_token(http, &challenge, limits).await?;
        resp = head(http, url, Some(&token)).await?;
        if resp.status().as_u16() == 401 {
            return Err("registry refused its own anonymous token (HTTP 401)".into());
        }
    }
    match resp.status().as_u16() {
        200 => Ok(Some(
            resp.headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
        )),
        404 => Ok(None),
        s => Err(format!("registry answered HTTP {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghcr_challenges_parse() {
        let c = parse_challenge(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:openova-io/bp-cilium:pull""#,
        )
        .expect("bearer");
        assert_eq!(c.realm, "https://ghcr.io/token");
        assert_eq!(c.service.as_deref(), Some("ghcr.io"));
        assert_eq!(
            c.scope.as_deref(),
            Some("repository:openova-io/bp-cilium:pull")
        );
        // Commas inside quotes, spaces after commas, unquoted values, another case.
        let c = parse_challenge(
            r#"bearer realm="http://127.0.0.1:5000/token", scope="repository:a/b:pull,push",service=reg"#,
        )
        .expect("bearer");
        assert_eq!(c.scope.as_deref(), Some("repository:a/b:pull,push"));
        assert_eq!(c.service.as_deref(), Some("reg"));
        assert_eq!(parse_challenge(r#"Basic realm="x""#), None);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None, "no realm");
        assert_eq!(parse_challenge("Bearer"), None);
        assert_eq!(
            parse_challenge(r#"Bearer realm="unterminated"#).map(|c| c.realm),
            Some("unterminated".into())
        );
    }

    #[test]
    fn a_token_never_shows_in_debug() {
        let t = Token("secret-value".into());
        assert!(!format!("{t:?}").contains("secret"));
        let r = TokenResponse {
            token: "secret-value".into(),
            ..Default::default()
        };
        assert!(!format!("{r:?}").contains("secret"));
    }
}
