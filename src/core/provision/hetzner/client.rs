//! The Hetzner Cloud client: the hcloud crate over an injected reqwest client, with the endpoint
//! override, credentials picked by the one rule of `credentials`, bounded concurrency,
//! 429/5xx retries that honour the `RateLimit-*` headers, and action awaiting.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hcloud::apis::configuration::Configuration;
use hcloud::apis::{Error as HcloudError, actions_api};
use hcloud::models;
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

pub use super::credentials::TokenSource;

pub const DEFAULT_ENDPOINT: &str = "https://api.hetzner.cloud/v1";

/// A Hetzner API token plus the API root it is meant for. `Debug` never shows the token.
#[derive(Clone)]
pub struct Credentials {
    token: String,
    pub endpoint: String,
    pub source: TokenSource,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &"<redacted>")
            .field("endpoint", &self.endpoint)
            .field("source", &self.source)
            .finish()
    }
}

impl Credentials {
    /// The token, for the one place that must send it elsewhere: catalyst-api's wipe body.
    pub(crate) fn token_for_wipe(&self) -> &str {
        &self.token
    }

    /// The token, for the pre-flight's write probe (a create that cannot succeed, §1.2 A).
    pub(crate) fn token_for_write_probe(&self) -> &str {
        &self.token
    }

    pub fn new(token: impl Into<String>, endpoint: impl Into<String>) -> Self {
        Credentials {
            token: token.into(),
            endpoint: endpoint.into(),
            source: TokenSource::Explicit,
        }
    }

    /// A token from `source` (see [`super::credentials::resolve`] for the rule that picks it).
    pub fn from_source(
        token: impl Into<String>,
        endpoint: impl Into<String>,
        source: TokenSource,
    ) -> Self {
        Credentials {
            token: token.into(),
            endpoint: endpoint.into(),
            source,
        }
    }

    /// The first 8 hex digits of the token's SHA-256: enough to tell two tokens apart in a plan,
    /// nothing to recover the token from.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.token)
    }
}

/// The first 8 hex digits of SHA-256 of a secret: enough to tell two apart, nothing to recover
/// one from. Every plan shows this instead of a token or key.
pub fn fingerprint_of(secret: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(secret.as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// A failed Hetzner call, with Hetzner's own error code when it sent one.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
pub enum HetznerError {
    #[error("{what}: Hetzner answered HTTP {status} {code}: {message}")]
    Api {
        what: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{what}: {message}")]
    Transport { what: String, message: String },
    #[error("{what}: malformed answer from Hetzner: {message}")]
    Decode { what: String, message: String },
    #[error("{what}: still failing after {attempts} attempts: {last}")]
    Exhausted {
        what: String,
        attempts: u32,
        last: String,
    },
    #[error("{what}: action {id} ({command}) failed: {message}")]
    ActionFailed {
        what: String,
        id: i64,
        command: String,
        message: String,
    },
    #[error("{what}: timed out")]
    Timeout { what: String },
}

impl HetznerError {
    pub fn status(&self) -> Option<u16> {
        match self {
            HetznerError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            HetznerError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) || self.code() == Some("not_found")
    }

    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403) || self.code() == Some("forbidden")
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401) || self.code() == Some("unauthorized")
    }

    pub fn is_uniqueness(&self) -> bool {
        self.code() == Some("uniqueness_error")
    }
}

/// Tuning of retries, pacing and polling. Defaults suit the real API.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Requests in flight at once across every task using this client.
    pub max_concurrency: usize,
    /// Attempts per call for 429 / 5xx / transport errors.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub action_poll: Duration,
    pub action_timeout: Duration,
    pub request_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_concurrency: 8,
            max_attempts: 40,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(20),
            action_poll: Duration::from_millis(500),
            action_timeout: Duration::from_secs(900),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Counters for reports and the benchmark.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct ClientStats {
    pub requests: u64,
    pub rate_limited: u64,
    pub server_errors: u64,
    pub transport_errors: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
}

/// Shared knowledge of the rate limit: every task waits while the budget is known to be empty.
#[derive(Default)]
struct RateGate {
    blocked_until: Mutex<Option<Instant>>,
}

/// `RateLimit-*` headers as Hetzner sends them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitHeaders {
    pub limit: Option<f64>,
    pub remaining: Option<f64>,
    /// Seconds until the budget is full again.
    pub reset_in: Option<f64>,
    pub retry_after: Option<f64>,
}

impl RateLimitHeaders {
    pub fn from_headers(h: &reqwest::header::HeaderMap) -> Self {
        let num = |k: &str| {
            h.get(k)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        // Hetzner sends a UNIX timestamp; tolerate a delta in seconds too.
        let reset_in = num("ratelimit-reset").map(|r| if r > 1.0e9 { r - now } else { r });
        RateLimitHeaders {
            limit: num("ratelimit-limit"),
            remaining: num("ratelimit-remaining"),
            reset_in: reset_in.map(|r| r.max(0.0)),
            retry_after: num("retry-after"),
        }
    }

    /// How long to hold every request so that `batch` of them can pass again.
    pub fn wait_for(&self, batch: usize) -> Option<Duration> {
        if let Some(ra) = self.retry_after {
            return Some(Duration::from_secs_f64(ra.clamp(0.05, 60.0)));
        }
        let remaining = self.remaining?;
        if remaining >= 1.0 {
            return Some(Duration::ZERO);
        }
        let reset = self.reset_in?;
        // The bucket refills linearly to `limit` by `reset`: one slot every reset/limit seconds.
        let per_slot = match self.limit {
            Some(l) if l > 0.0 => reset / l,
            _ => reset,
        };
        Some(Duration::from_secs_f64(
            (per_slot * batch as f64)
                .clamp(0.05, reset.max(0.05))
                .min(60.0),
        ))
    }
}

#[derive(Clone)]
pub struct HetznerClient {
    cfg: Arc<Configuration>,
    http: reqwest::Client,
    creds: Credentials,
    opts: ClientOptions,
    permits: Arc<Semaphore>,
    gate: Arc<RateGate>,
    counters: Arc<Counters>,
}

impl fmt::Debug for HetznerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HetznerClient")
            .field("endpoint", &self.creds.endpoint)
            .finish_non_exhaustive()
    }
}

/// What a single attempt did, for the retry loop.
enum Attempt<T> {
    Done(T),
    Retry { reason: String, kind: RetryKind },
    Fail(HetznerError),
}

enum RetryKind {
    RateLimited,
    Server,
    Transport,
}

impl HetznerClient {
    /// The endpoint must be `https://` unless it is loopback (the simulated world) or
    /// `--insecure-http` allows it: every request carries the token.
    pub fn new(creds: Credentials, opts: ClientOptions) -> Result<Self, HetznerError> {
        let limits = crate::provision::limits::Limits::current();
        crate::provision::limits::check_transport("Hetzner endpoint", &creds.endpoint, &limits)
            .map_err(|message| HetznerError::Transport {
                what: "refusing the Hetzner endpoint".into(),
                message,
            })?;
        let http = reqwest::Client::builder()
            .connect_timeout(limits.connect)
            .timeout(opts.request_timeout)
            .user_agent(concat!("sovtui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HetznerError::Transport {
                what: "building the HTTP client".into(),
                message: e.to_string(),
            })?;
        let mut cfg = Configuration::new();
        let endpoint = creds.endpoint.trim_end_matches('/').to_string();
        cfg.base_path_mapping
            .insert(DEFAULT_ENDPOINT.to_string(), endpoint);
        cfg.bearer_access_token = Some(creds.token.clone());
        cfg.client = http.clone();
        cfg.user_agent = Some(concat!("sovtui/", env!("CARGO_PKG_VERSION")).to_string());
        Ok(HetznerClient {
            cfg: Arc::new(cfg),
            http,
            permits: Arc::new(Semaphore::new(opts.max_concurrency.max(1))),
            creds,
            opts,
            gate: Arc::new(RateGate::default()),
            counters: Arc::new(Counters::default()),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.creds.endpoint
    }

    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            rate_limited: self.counters.rate_limited.load(Ordering::Relaxed),
            server_errors: self.counters.server_errors.load(Ordering::Relaxed),
            transport_errors: self.counters.transport_errors.load(Ordering::Relaxed),
        }
    }

    /// Run one hcloud call with retries. `what` names the call in errors and logs.
    pub async fn call<T, E, F, Fut>(&self, what: &str, f: F) -> Result<T, HetznerError>
    where
        F: Fn(Arc<Configuration>) -> Fut,
        Fut: Future<Output = Result<T, HcloudError<E>>>,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.wait_gate().await;
            let outcome = {
                let _permit =
                    self.permits
                        .acquire()
                        .await
                        .map_err(|_| HetznerError::Transport {
                            what: what.into(),
                            message: "client shut down".into(),
                        })?;
                self.counters.requests.fetch_add(1, Ordering::Relaxed);
                classify(what, f(self.cfg.clone()).await)
            };
            let (reason, kind) = match outcome {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry { reason, kind } => (reason, kind),
            };
            if attempt >= self.opts.max_attempts {
                return Err(HetznerError::Exhausted {
                    what: what.into(),
                    attempts: attempt,
                    last: reason,
                });
            }
            match kind {
                RetryKind::RateLimited => {
                    self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(what, attempt, "rate limited; pacing by RateLimit headers");
                    self.on_rate_limited(attempt).await;
                }
                RetryKind::Server | RetryKind::Transport => {
                    let counter = if matches!(kind, RetryKind::Server) {
                        &self.counters.server_errors
                    } else {
                        &self.counters.transport_errors
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(what, attempt, reason, "retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .opts
            .backoff_base
            .saturating_mul(1u32 << attempt.min(10).saturating_sub(1));
        let capped = exp.min(self.opts.backoff_max);
        // Jitter so concurrent retries do not arrive together.
        let jitter = rand::random::<f64>() * 0.5 + 0.75;
        capped.mul_f64(jitter)
    }

    async fn wait_gate(&self) {
        loop {
            let until = *self.gate.blocked_until.lock().await;
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }

    /// The hcloud crate hides response headers, so after a 429 one task asks once for the
    /// `RateLimit-*` headers and closes the gate for everyone until the budget has refilled.
    async fn on_rate_limited(&self, attempt: u32) {
        let mut guard = self.gate.blocked_until.lock().await;
        if guard.is_some_and(|t| t > Instant::now()) {
            drop(guard);
            self.wait_gate().await;
            return;
        }
        let wait = match self.probe_rate_limit().await {
            Some(h) => h
                .wait_for(self.opts.max_concurrency)
                .unwrap_or_else(|| self.backoff(attempt)),
            None => self.backoff(attempt),
        };
        let wait = wait.max(Duration::from_millis(50));
        *guard = Some(Instant::now() + wait);
        drop(guard);
        self.wait_gate().await;
    }

    async fn probe_rate_limit(&self) -> Option<RateLimitHeaders> {
        let url = format!(
            "{}/locations?per_page=1",
            self.creds.endpoint.trim_end_matches('/')
        );
        let resp = self
            .http
            .get(url)
            .bearer_auth(&self.creds.token)
            .send()
            .await
            .ok()?;
        let h = RateLimitHeaders::from_headers(resp.headers());
        (h.remaining.is_some() || h.retry_after.is_some()).then_some(h)
    }

    /// Wait for an action to finish; an `error` status becomes `ActionFailed`.
    pub async fn await_action(
        &self,
        what: &str,
        action: &models::Action,
    ) -> Result<(), HetznerError> {
        let deadline = Instant::now() + self.opts.action_timeout;
        let mut current = action.clone();
        let mut poll = self.opts.action_poll / 4;
        loop {
            match current.status {
                models::action::Status::Success => return Ok(()),
                models::action::Status::Error => {
                    let message = current
                        .error
                        .as_ref()
                        .map(|e| format!("{}: {}", e.code, e.message))
                        .unwrap_or_else(|| "no error detail".into());
                    return Err(HetznerError::ActionFailed {
                        what: what.into(),
                        id: current.id,
                        command: current.command.clone(),
                        message,
                    });
                }
                models::action::Status::Running => {}
            }
            if Instant::now() >= deadline {
                return Err(HetznerError::Timeout {
                    what: format!("{what}: waiting for action {}", current.id),
                });
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(self.opts.action_poll);
            let id = current.id;
            current = *self
                .call(what, move |cfg| async move {
                    actions_api::get_action(&cfg, actions_api::GetActionParams { id }).await
                })
                .await?
                .action;
        }
    }

    pub async fn await_actions(
        &self,
        what: &str,
        actions: &[models::Action],
    ) -> Result<(), HetznerError> {
        let futs = actions.iter().map(|a| self.await_action(what, a));
        for r in futures::future::join_all(futs).await {
            r?;
        }
        Ok(())
    }
}

fn classify<T, E>(what: &str, result: Result<T, HcloudError<E>>) -> Attempt<T> {
    match result {
        Ok(v) => Attempt::Done(v),
        Err(HcloudError::ResponseError(rc)) => {
            let status = rc.status.as_u16();
            let (code, message) = parse_error_body(&rc.content);
            if status == 429 || code == "rate_limit_exceeded" {
                Attempt::Retry {
                    reason: format!("HTTP {status} {code}"),
                    kind: RetryKind::RateLimited,
                }
            } else if status >= 500 {
                Attempt::Retry {
                    reason: format!("HTTP {status} {code}: {message}"),
                    kind: RetryKind::Server,
                }
            } else {
                Attempt::Fail(HetznerError::Api {
                    what: what.into(),
                    status,
                    code,
                    message,
                })
            }
        }
        Err(HcloudError::Reqwest(e)) => {
            if e.is_decode() {
                Attempt::Fail(HetznerError::Decode {
                    what: what.into(),
                    message: e.to_string(),
                })
            } else {
                Attempt::Retry {
                    reason: e.to_string(),
                    kind: RetryKind::Transport,
                }
            }
        }
        Err(HcloudError::Serde(e)) => Attempt::Fail(HetznerError::Decode {
            what: what.into(),
            message: e.to_string(),
        }),
        Err(HcloudError::Io(e)) => Attempt::Retry {
            reason: e.to_string(),
            kind: RetryKind::Transport,
        },
    }
}

/// `{"error":{"code","message"}}`; anything else is reported verbatim (truncated).
fn parse_error_body(content: &str) -> (String, String) {
    let parsed: Option<serde_json::Value> = serde_json::from_str(content).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let code = err
        .and_then(|e| e.get("code"))
        .and_then(|c| c.as_str())
        .unwrap_or("")
        .to_string();
    let message = err
        .and_then(|e| e.get("message"))
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| content.chars().take(200).collect());
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_wait_follows_the_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("RateLimit-Limit", "3600".parse().expect("hv"));
        h.insert("RateLimit-Remaining", "0".parse().expect("hv"));
        h.insert("RateLimit-Reset", "3600".parse().expect("hv"));
        let r = RateLimitHeaders::from_headers(&h);
        assert_eq!(r.remaining, Some(0.0));
        // One slot per second; a batch of 8 waits 8 s.
        assert_eq!(r.wait_for(8), Some(Duration::from_secs(8)));
        h.insert("RateLimit-Remaining", "5".parse().expect("hv"));
        assert_eq!(
            RateLimitHeaders::from_headers(&h).wait_for(8),
            Some(Duration::ZERO)
        );
        h.insert("Retry-After", "2".parse().expect("hv"));
        assert_eq!(
            RateLimitHeaders::from_headers(&h).wait_for(8),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn error_bodies_are_read_in_both_shapes() {
        let (c, m) = parse_error_body(r#"{"error":{"code":"forbidden","message":"read-only"}}"#);
        assert_eq!((c.as_str(), m.as_str()), ("forbidden", "read-only"));
        let (c, m) = parse_error_body("<html>bad gateway</html>");
        assert_eq!(c, "");
        assert!(m.contains("bad gateway"));
    }

    #[test]
    fn credentials_debug_hides_the_token() {
        let c = Credentials::new("very-secret", "http://127.0.0.1:1/v1");
        assert!(!format!("{c:?}").contains("very-secret"));
        let f = c.fingerprint();
        assert_eq!(f.len(), 8);
        assert!(f.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(f, Credentials::new("very-secreT", "x").fingerprint());
    }
}
