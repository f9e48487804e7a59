//! The catalyst-api client (reqwest): one typed call per route of contract §1.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::error::{ClientError, ErrorBody};
use super::model::{
    ComponentsState, CreateResponse, CredentialsVerdict, DeploymentState, EventsResponse,
    GeneratedKey, RetryResponse, SubdomainVerdict,
};
use super::sse::{SseParser, StreamItem, decode};
use crate::provision::limits::{self, Limits, show_duration, show_size};
use crate::provision::wizard::DeploymentRequest;

/// S3 (object storage) credentials for a wipe's bucket purge. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ObjectStorageCredentials {
    pub access_key: String,
    pub secret_key: String,
    pub region: Option<String>,
}

impl std::fmt::Debug for ObjectStorageCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorageCredentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("region", &self.region)
            .finish()
    }
}

/// A client bound to one catalyst-api root (e.g. `https://console.openova.io/sovereign` or
/// `http://127.0.0.1:P`); every route and every relative `streamURL` resolves against it.
#[derive(Debug, Clone)]
pub struct CatalystClient {
    root: String,
    http: reqwest::Client,
    limits: Limits,
}

/// The answer of `GET /kubeconfig`.
#[derive(Clone)]
pub struct Kubeconfig {
    pub yaml: String,
    pub filename: Option<String>,
}

impl std::fmt::Debug for Kubeconfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubeconfig")
            .field("bytes", &self.yaml.len())
            .field("filename", &self.filename)
            .finish()
    }
}

impl CatalystClient {
    /// A client under the process-wide [`Limits::current`].
    pub fn new(root: &str) -> Result<Self, ClientError> {
        Self::with_limits(root, Limits::current())
    }

    /// Plain `http://` is refused unless the host is loopback or `limits.insecure_http`: the
    /// Hetzner token (create, wipe) and kubeconfigs travel through this client.
    pub fn with_limits(root: &str, limits: Limits) -> Result<Self, ClientError> {
        let root = root.trim().trim_end_matches('/').to_string();
        if !(root.starts_with("http://") || root.starts_with("https://")) {
            return Err(ClientError::BadUrl(root));
        }
        limits::check_transport("catalyst-api", &root, &limits).map_err(ClientError::Refused)?;
        let http = http_client(&limits).map_err(|source| ClientError::Transport {
            url: root.clone(),
            source,
        })?;
        Ok(CatalystClient { root, http, limits })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    /// A route or a relative `streamURL` resolved against the API root (never against the host).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        format!("{}/{}", self.root, path.trim_start_matches('/'))
    }

    /// A server-given `streamURL` resolved; an absolute one must have the API's origin (a
    /// stream elsewhere could be anyone's).
    pub fn stream_url(&self, path: &str) -> Result<String, ClientError> {
        let url = self.url(path);
        let absolute = path.starts_with("http://") || path.starts_with("https://");
        if absolute && !limits::same_origin(&url, &self.root) {
            return Err(ClientError::Refused(format!(
                "streamURL {url} is not on catalyst-api's origin ({}); not followed",
                self.root
            )));
        }
        Ok(url)
    }

    /// Send under the request deadline; the deadline keeps running for the body.
    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(reqwest::Response, Instant), ClientError> {
        exchange(&self.limits, req, url).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<T, ClientError> {
        let (resp, deadline) = self.exchange(req, url).await?;
        let (status, text, ctype) = read(resp, url, &self.limits, deadline).await?;
        if !(200..300).contains(&status) {
            return Err(ClientError::Api {
                url: url.to_string(),
                status,
                body: ErrorBody::decode(ctype.as_deref(), &text),
            });
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Malformed {
            url: url.to_string(),
            detail: format!("{e} in {}", clip(&text)),
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        self.send(self.http.get(&url), &url).await
    }

    async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let url = self.url(path);
        self.send(self.http.post(&url).json(body), &url).await
    }

    /// POST `body` to `path` and hand back the answer as it came (status, Content-Type, text),
    /// under the same deadlines and body cap as every call: for callers that decode answers
    /// themselves (the wizard's live checks and create).
    pub async fn post_raw(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(u16, Option<String>, String), ClientError> {
        let url = self.url(path);
        let (resp, deadline) = self.exchange(self.http.post(&url).json(body), &url).await?;
        let (status, text, ctype) = read(resp, &url, &self.limits, deadline).await?;
        Ok((status, ctype, text))
    }

    pub async fn healthz(&self) -> Result<String, ClientError> {
        let url = self.url("/healthz");
        let (resp, deadline) = self.exchange(self.http.get(&url), &url).await?;
        let (status, text, ctype) = read(resp, &url, &self.limits, deadline).await?;
        if status != 200 {
            return Err(ClientError::Api {
                url,
                status,
                body: ErrorBody::decode(ctype.as_deref(), &text),
            });
        }
        Ok(text)
    }

    /// `POST /api/v1/credentials/validate`. The 503 and 400 answers carry the same JSON shape, so
    /// they are returned as errors with the verdict's message in the body.
    pub async fn validate_credentials(
        &self,
        provider: &str,
        token: &str,
    ) -> Result<CredentialsVerdict, ClientError> {
        self.post_json(
            "/api/v1/credentials/validate",
            &serde_json::json!({"token": token, "provider": provider}),
        )
        .await
    }

    pub async fn check_subdomain(
        &self,
        subdomain: &str,
        pool_domain: &str,
    ) -> Result<SubdomainVerdict, ClientError> {
        self.post_json(
            "/api/v1/subdomains/check",
            &serde_json::json!({"subdomain": subdomain, "poolDomain": pool_domain}),
        )
        .await
    }

    pub async fn generate_ssh_key(&self, fqdn: &str) -> Result<GeneratedKey, ClientError> {
        self.post_json(
            "/api/v1/sshkey/generate",
            &serde_json::json!({"fqdn": fqdn}),
        )
        .await
    }

    pub async fn validate_registrar(
        &self,
        registrar: &str,
        domain: &str,
        token: &str,
    ) -> Result<serde_json::Value, ClientError> {
        self.post_json(
            &format!("/api/v1/registrar/{registrar}/validate"),
            &serde_json::json!({"domain": domain, "token": token}),
        )
        .await
    }

    pub async fn create_deployment(
        &self,
        req: &DeploymentRequest,
    ) -> Result<CreateResponse, ClientError> {
        self.post_json("/api/v1/deployments", req).await
    }

    /// `GET /api/v1/deployments` ([N]); the answer is `{"deployments":[State…]}`.
    pub async fn list_deployments(&self) -> Result<Vec<DeploymentState>, ClientError> {
        #[derive(serde::Deserialize)]
        struct List {
            deployments: Vec<DeploymentState>,
        }
        let l: List = self.get_json("/api/v1/deployments").await?;
        Ok(l.deployments)
    }

    pub async fn deployment(&self, id: &str) -> Result<DeploymentState, ClientError> {
        self.get_json(&format!("/api/v1/deployments/{id}")).await
    }

    pub async fn events(&self, id: &str) -> Result<EventsResponse, ClientError> {
        self.get_json(&format!("/api/v1/deployments/{id}/events"))
            .await
    }

    pub async fn components_state(&self, id: &str) -> Result<ComponentsState, ClientError> {
        self.get_json(&format!("/api/v1/deployments/{id}/components/state"))
            .await
    }

    /// `POST /refresh-watch`: 200 already active / 202 started; the body either way.
    pub async fn refresh_watch(&self, id: &str) -> Result<serde_json::Value, ClientError> {
        let url = self.url(&format!("/api/v1/deployments/{id}/refresh-watch"));
        self.send(self.http.post(&url), &url).await
    }

    /// `POST /phases/{phase}/retry` (no body).
    pub async fn retry_phase(&self, id: &str, phase: &str) -> Result<RetryResponse, ClientError> {
        let url = self.url(&format!("/api/v1/deployments/{id}/phases/{phase}/retry"));
        self.send(self.http.post(&url), &url).await
    }

    /// `POST /wipe` ([N] Cancel & Wipe): 202 and the purge runs detached; poll `deployment()`
    /// until `status == "wiped"` and read `last_wipe_report`. The token must be re-entered.
    pub async fn wipe(
        &self,
        id: &str,
        hetzner_token: &str,
        force: bool,
    ) -> Result<serde_json::Value, ClientError> {
        self.wipe_with_storage(id, hetzner_token, None, force).await
    }

    /// `POST /wipe` with the object-storage credentials too, so catalyst-api can delete the
    /// Sovereign's buckets. The body's keys are the code's (`hetznerToken`, `objectStorage*`);
    /// the runbook's `hcloud_token` / `s3_credentials` match no catalyst-api version (contract
    /// §1.14).
    pub async fn wipe_with_storage(
        &self,
        id: &str,
        hetzner_token: &str,
        storage: Option<&ObjectStorageCredentials>,
        force: bool,
    ) -> Result<serde_json::Value, ClientError> {
        let mut url = self.url(&format!("/api/v1/deployments/{id}/wipe"));
        if force {
            url.push_str("?force=true");
        }
        let mut body = serde_json::json!({"hetznerToken": hetzner_token});
        if let Some(s) = storage {
            body["objectStorageAccessKey"] = serde_json::json!(s.access_key);
            body["objectStorageSecretKey"] = serde_json::json!(s.secret_key);
            if let Some(region) = &s.region {
                body["objectStorageRegion"] = serde_json::json!(region);
            }
        }
        self.send(self.http.post(&url).json(&body), &url).await
    }

    /// `DELETE /release-subdomain` ([N]): PDM release only.
    pub async fn release_subdomain(&self, id: &str) -> Result<serde_json::Value, ClientError> {
        let url = self.url(&format!("/api/v1/deployments/{id}/release-subdomain"));
        self.send(self.http.delete(&url), &url).await
    }

    /// `GET /kubeconfig`: the YAML once cloud-init has posted it back (409 before that).
    pub async fn kubeconfig(&self, id: &str) -> Result<Kubeconfig, ClientError> {
        let url = self.url(&format!("/api/v1/deployments/{id}/kubeconfig"));
        let (resp, deadline) = self.exchange(self.http.get(&url), &url).await?;
        let filename = resp
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("filename=").nth(1))
            .map(|f| f.trim_matches('"').to_string());
        let (status, text, ctype) = read(resp, &url, &self.limits, deadline).await?;
        if status != 200 {
            return Err(ClientError::Api {
                url,
                status,
                body: ErrorBody::decode(ctype.as_deref(), &text),
            });
        }
        Ok(Kubeconfig {
            yaml: text,
            filename,
        })
    }

    /// Open the SSE stream (`streamURL` or the default path). 404 and other non-200 answers come
    /// back as `ClientError::Api` before any event; headers must arrive within the request
    /// deadline, and the open stream may then stay silent for at most `sse_idle`.
    pub async fn open_stream(
        &self,
        id: &str,
        stream_url: Option<&str>,
    ) -> Result<SseStream, ClientError> {
        let default = format!("/api/v1/deployments/{id}/logs");
        let url = self.stream_url(stream_url.unwrap_or(&default))?;
        let req = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let (resp, deadline) = self.exchange(req, &url).await?;
        let status = resp.status().as_u16();
        if status != 200 {
            let (_, text, ctype) = read(resp, &url, &self.limits, deadline).await?;
            return Err(ClientError::Api {
                url,
                status,
                body: ErrorBody::decode(ctype.as_deref(), &text),
            });
        }
        Ok(SseStream {
            body: Box::pin(resp.bytes_stream()),
            parser: SseParser::with_max_event(self.limits.max_event),
            pending: std::collections::VecDeque::new(),
            ended: false,
            saw_done: false,
            interrupted: None,
            last_data: Utc::now(),
            idle: self.limits.sse_idle,
            url,
        })
    }
}

/// An open deployment stream: decoded items one at a time.
pub struct SseStream {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    parser: SseParser,
    pending: std::collections::VecDeque<StreamItem>,
    ended: bool,
    saw_done: bool,
    interrupted: Option<ClientError>,
    /// When the last bytes arrived (for "stalled since").
    last_data: DateTime<Utc>,
    idle: Duration,
    url: String,
}

impl SseStream {
    /// The next item; `None` once the server ended the response or the connection broke.
    pub async fn next(&mut self) -> Option<StreamItem> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                if matches!(item, StreamItem::Done(_)) {
                    self.saw_done = true;
                }
                return Some(item);
            }
            if self.ended {
                return None;
            }
            let next = match tokio::time::timeout(self.idle, self.body.next()).await {
                Ok(next) => next,
                Err(_) => {
                    // A silent server: say since when, and let the caller reconnect.
                    self.ended = true;
                    self.interrupted = Some(ClientError::Timeout {
                        url: self.url.clone(),
                        what: format!(
                            "the stream stalled: nothing since {}",
                            self.last_data.format("%H:%M:%SZ")
                        ),
                        limit: show_duration(self.idle),
                        setting: "SOVTUI_SSE_IDLE",
                    });
                    continue;
                }
            };
            match next {
                Some(Ok(chunk)) => {
                    self.last_data = Utc::now();
                    for frame in self.parser.feed(&chunk) {
                        self.pending.push_back(decode(&frame));
                    }
                    if self.parser.overflowed() {
                        // Deliver what was complete, then drop the connection: reading on would
                        // only feed the oversized event.
                        self.ended = true;
                        self.interrupted = Some(ClientError::TooLarge {
                            url: self.url.clone(),
                            what: "an event".into(),
                            limit: show_size(self.limits_max_event()),
                            setting: "SOVTUI_MAX_EVENT",
                        });
                    }
                }
                Some(Err(e)) => {
                    // The connection broke mid-stream: the caller reconnects and replays.
                    tracing::debug!(url = %self.url, error = %e, "SSE stream interrupted");
                    self.interrupted = Some(ClientError::Transport {
                        url: self.url.clone(),
                        source: e,
                    });
                    self.ended = true;
                }
                None => {
                    self.ended = true;
                    if self.parser.has_partial_frame() {
                        self.pending.push_back(StreamItem::Malformed {
                            detail: "stream ended inside a frame (truncated); it was dropped"
                                .into(),
                        });
                    }
                    if self.parser.malformed_lines > 0 {
                        tracing::debug!(url = %self.url, lines = self.parser.malformed_lines, "malformed SSE lines skipped");
                    }
                }
            }
        }
    }

    /// A `done` frame was delivered.
    pub fn saw_done(&self) -> bool {
        self.saw_done
    }

    /// Why the connection broke, when it did not end normally: a transport error, a stall past
    /// the idle deadline, or an event over the cap.
    pub fn interrupted(&self) -> Option<&ClientError> {
        self.interrupted.as_ref()
    }

    fn limits_max_event(&self) -> usize {
        self.parser.max_event()
    }
}

/// A reqwest client with the connection deadline of `limits`. Per-call deadlines are ours
/// ([`exchange`], [`read`], the stream's idle timeout); the socket read timeout is only a
/// backstop should one of them be missed.
pub(crate) fn http_client(limits: &Limits) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(limits.connect)
        // Well past our own deadlines, so theirs (with the clearer message) fire first.
        .read_timeout(limits.request.max(limits.sse_idle) * 2)
        .build()
}

/// Send `req` and wait for the response headers within `limits.request`; returns the deadline
/// the body must also meet.
pub(crate) async fn exchange(
    limits: &Limits,
    req: reqwest::RequestBuilder,
    url: &str,
) -> Result<(reqwest::Response, Instant), ClientError> {
    let deadline = Instant::now() + limits.request;
    match tokio::time::timeout_at(deadline, req.send()).await {
        Ok(Ok(resp)) => Ok((resp, deadline)),
        Ok(Err(source)) if source.is_timeout() && !source.is_connect() => {
            Err(request_timeout(url, limits, "no answer"))
        }
        Ok(Err(source)) => Err(ClientError::Transport {
            url: url.to_string(),
            source,
        }),
        Err(_) => Err(request_timeout(url, limits, "no answer")),
    }
}

fn request_timeout(url: &str, limits: &Limits, what: &str) -> ClientError {
    ClientError::Timeout {
        url: url.to_string(),
        what: what.to_string(),
        limit: show_duration(limits.request),
        setting: "SOVTUI_REQUEST_TIMEOUT",
    }
}

/// Status, body text and Content-Type of a response: the body at most `limits.max_body` bytes
/// and complete by `deadline`, else an error naming the source and the bound.
pub(crate) async fn read(
    mut resp: reqwest::Response,
    url: &str,
    limits: &Limits,
    deadline: Instant,
) -> Result<(u16, String, Option<String>), ClientError> {
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let too_large = || ClientError::TooLarge {
        url: url.to_string(),
        what: "the answer".into(),
        limit: show_size(limits.max_body),
        setting: "SOVTUI_MAX_BODY",
    };
    if resp
        .content_length()
        .is_some_and(|n| n > limits.max_body as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Err(_) => return Err(request_timeout(url, limits, "the answer was not complete")),
            Ok(Err(source)) => {
                return Err(ClientError::Transport {
                    url: url.to_string(),
                    source,
                });
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > limits.max_body {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned(), ctype))
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(200).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}
