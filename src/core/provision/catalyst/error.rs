//! Errors of the catalyst-api / PDM clients. Both error dialects of contract §1.0 are decoded by
//! Content-Type: plain text from `http.Error`, or JSON `{"error","detail",…}`.

use serde_json::Value;

/// The body of a non-2xx answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorBody {
    /// `text/plain` (e.g. `deployment not found`).
    Text(String),
    /// `application/json` with an `error` key (slug or sentence) and optional `detail`.
    Json {
        error: String,
        detail: Option<String>,
        raw: Value,
    },
}

impl ErrorBody {
    /// Decode by Content-Type, never assuming JSON on 4xx; JSON without `error` keeps the raw text.
    pub fn decode(content_type: Option<&str>, body: &str) -> ErrorBody {
        let is_json = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("json"));
        if is_json && let Ok(raw) = serde_json::from_str::<Value>(body) {
            let error = raw
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    raw.get("message")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .or_else(|| {
                    raw.get("reason")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| body.trim().to_string());
            let detail = raw
                .get("detail")
                .and_then(Value::as_str)
                .map(str::to_string);
            return ErrorBody::Json { error, detail, raw };
        }
        ErrorBody::Text(body.trim().to_string())
    }

    /// The slug or sentence: `error` for JSON, the whole text otherwise.
    pub fn error(&self) -> &str {
        match self {
            ErrorBody::Text(t) => t,
            ErrorBody::Json { error, .. } => error,
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            ErrorBody::Text(_) => None,
            ErrorBody::Json { detail, .. } => detail.as_deref(),
        }
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.detail() {
            Some(d) => write!(f, "{}: {}", self.error(), d),
            None => f.write_str(self.error()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach {url}: {}", crate::provision::net_error::describe(.source))]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered HTTP {status}: {body}")]
    Api {
        url: String,
        status: u16,
        body: ErrorBody,
    },
    #[error("malformed answer from {url}: {detail}")]
    Malformed { url: String, detail: String },
    #[error("invalid base URL {0:?}")]
    BadUrl(String),
    /// Plain http:// to a host that is not loopback, or a `streamURL` on another origin.
    #[error("{0}")]
    Refused(String),
    /// A deadline of [`crate::provision::limits::Limits`] passed.
    #[error("{url}: {what} within {limit} (deadline {setting})")]
    Timeout {
        url: String,
        /// What did not arrive, e.g. "no answer" or "the stream stalled: nothing".
        what: String,
        limit: String,
        /// The setting that sets this deadline.
        setting: &'static str,
    },
    /// A body or stream event larger than its cap was refused (the rest is not read).
    #[error("{url}: {what} is larger than {limit} (cap {setting}); refused")]
    TooLarge {
        url: String,
        what: String,
        limit: String,
        setting: &'static str,
    },
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server stayed silent past a deadline or sent more than a cap allows: a misbehaving
    /// or unreachable server, worth retrying later.
    pub fn is_bound(&self) -> bool {
        matches!(
            self,
            ClientError::Timeout { .. } | ClientError::TooLarge { .. }
        )
    }

    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            ClientError::Api { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The `error` slug of a JSON error answer (e.g. `subdomain-conflict`).
    pub fn slug(&self) -> Option<&str> {
        match self.body()? {
            ErrorBody::Json { error, .. } => Some(error),
            ErrorBody::Text(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_are_told_apart_by_content_type() {
        let t = ErrorBody::decode(Some("text/plain; charset=utf-8"), "deployment not found\n");
        assert_eq!(t, ErrorBody::Text("deployment not found".into()));
        let j = ErrorBody::decode(
            Some("application/json"),
            r#"{"error":"subdomain-conflict","detail":"pick another"}"#,
        );
        assert_eq!(j.error(), "subdomain-conflict");
        assert_eq!(j.detail(), Some("pick another"));
        // JSON-looking text is still text when the server said text
        let x = ErrorBody::decode(Some("text/plain"), r#"{"error":"x"}"#);
        assert!(matches!(x, ErrorBody::Text(_)));
        // broken JSON with a JSON content type degrades to text
        let b = ErrorBody::decode(Some("application/json"), "{oops");
        assert_eq!(b, ErrorBody::Text("{oops".into()));
    }
}
