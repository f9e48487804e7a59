//! The catalyst-api client (reqwest): one typed call per route of contract §1.

use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ClientError, ErrorBody};
use super::model::{
    ComponentsState, CreateResponse, CredentialsVerdict, DeploymentState, EventsResponse,
    GeneratedKey, RetryResponse, SubdomainVerdict,
};
use super::sse::{SseParser, StreamItem, decode};
use crate::provision::wizard::DeploymentRequest;

/// A client bound to one catalyst-api root (e.g. `https://console.openova.io/sovereign` or
/// `http://127.0.0.1:P`); every route and every relative `streamURL` resolves against it.
#[derive(Debug, Clone)]
pub struct CatalystClient {
    root: String,
    http: reqwest::Client,
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
    pub fn new(root: &str) -> Result<Self, ClientError> {
        let root = root.trim().trim_end_matches('/').to_string();
        if !(root.starts_with("http://") || root.starts_with("https://")) {
            return Err(ClientError::BadUrl(root));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| ClientError::Transport {
                url: root.clone(),
                source,
            })?;
        Ok(CatalystClient { root, http })
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

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<T, ClientError> {
        let resp = req
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.to_string(),
                source,
            })?;
        let (status, text, ctype) = read(resp, url).await?;
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

    pub async fn healthz(&self) -> Result<String, ClientError> {
        let url = self.url("/healthz");
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        let (status, text, ctype) = read(resp, &url).await?;
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
        let mut url = self.url(&format!("/api/v1/deployments/{id}/wipe"));
        if force {
            url.push_str("?force=true");
        }
        let body = serde_json::json!({"hetznerToken": hetzner_token});
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
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        let filename = resp
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("filename=").nth(1))
            .map(|f| f.trim_matches('"').to_string());
        let (status, text, ctype) = read(resp, &url).await?;
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
    /// back as `ClientError::Api` before any event.
    pub async fn open_stream(
        &self,
        id: &str,
        stream_url: Option<&str>,
    ) -> Result<SseStream, ClientError> {
        let default = format!("/api/v1/deployments/{id}/logs");
        let url = self.url(stream_url.unwrap_or(&default));
        let resp = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        let status = resp.status().as_u16();
        if status != 200 {
            let (_, text, ctype) = read(resp, &url).await?;
            return Err(ClientError::Api {
                url,
                status,
                body: ErrorBody::decode(ctype.as_deref(), &text),
            });
        }
        Ok(SseStream {
            body: Box::pin(resp.bytes_stream()),
            parser: SseParser::new(),
            pending: std::collections::VecDeque::new(),
            ended: false,
            saw_done: false,
            interrupted: None,
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
    interrupted: Option<String>,
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
            match self.body.next().await {
                Some(Ok(chunk)) => {
                    for frame in self.parser.feed(&chunk) {
                        self.pending.push_back(decode(&frame));
                    }
                }
                Some(Err(e)) => {
                    // The connection broke mid-stream: the caller reconnects and replays.
                    tracing::debug!(url = %self.url, error = %e, "SSE stream interrupted");
                    self.interrupted = Some(e.to_string());
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

    /// Why the connection broke, when it did not end normally.
    pub fn interrupted(&self) -> Option<&str> {
        self.interrupted.as_deref()
    }
}

async fn read(
    resp: reqwest::Response,
    url: &str,
) -> Result<(u16, String, Option<String>), ClientError> {
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.map_err(|source| ClientError::Transport {
        url: url.to_string(),
        source,
    })?;
    Ok((status, text, ctype))
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(200).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}
