//! Two HTTP faces of the world around the mothership on one loopback port: the OCI registry the
//! bp-* charts are pulled from (distribution spec: `HEAD|GET /v2/<name>/manifests/<tag>` with
//! `Docker-Content-Digest`, `MANIFEST_UNKNOWN` otherwise) and the release workflow's runs in the
//! shape of GitHub's Actions API (`GET /repos/{owner}/{repo}/actions/workflows/{wf}/runs`).
//!
//! Like ghcr.io, the registry serves nobody without a token unless told otherwise: a manifest
//! request without `Authorization: Bearer` (or with a token not issued for that repository's pull)
//! is answered `401 UNAUTHORIZED` with `WWW-Authenticate: Bearer realm="<here>/token",
//! service="<host:port>",scope="repository:<name>:pull"`; `GET /token?service=&scope=` hands out an
//! anonymous token for exactly the scopes asked (ghcr.io's answer: `{"token": …}`).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use sha2::Digest;

use super::{CI_REPO, CI_WORKFLOW};
use crate::provision::wire::registry::TokenResponse;

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

struct Ctx {
    /// `<prefix>/<chart>` repository names, e.g. `openova-io/bp-cilium`.
    prefix: String,
    /// `(chart, version)` published.
    artifacts: BTreeSet<(String, String)>,
    /// Conclusions of the last runs on main, newest first.
    conclusions: Vec<String>,
    /// Manifests only with a token (ghcr.io's way).
    demand_token: bool,
    /// `host:port`: the `service` of the challenge and of the token.
    service: String,
    /// Tokens handed out, with the repositories each may pull.
    tokens: Mutex<HashMap<String, BTreeSet<String>>>,
}

pub struct HttpSim {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpSim {
    pub async fn start(
        prefix: String,
        artifacts: Vec<(String, String)>,
        conclusions: Vec<String>,
        demand_token: bool,
    ) -> std::io::Result<HttpSim> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let ctx = Arc::new(Ctx {
            prefix,
            artifacts: artifacts.into_iter().collect(),
            conclusions,
            demand_token,
            service: addr.to_string(),
            tokens: Mutex::default(),
        });
        let app = Router::new()
            .route("/v2/", get(|| async { axum::Json(json!({})) }))
            .route("/v2/{*rest}", get(manifest).head(manifest))
            .route("/token", get(token))
            .route(
                "/repos/{owner}/{repo}/actions/workflows/{wf}/runs",
                get(runs),
            )
            .with_state(ctx);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "simulated registry stopped");
            }
        });
        Ok(HttpSim { addr, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn oci_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errors": [{"code": code, "message": message, "detail": {}}]})),
    )
        .into_response()
}

#[derive(Deserialize)]
struct TokenQuery {
    service: Option<String>,
    /// Repeated in the spec; one is what a single-repository pull asks.
    scope: Option<String>,
}

/// The anonymous token endpoint: a token for the `pull` scopes asked (public packages, as ghcr.io
/// treats the kit's charts).
async fn token(State(ctx): State<Arc<Ctx>>, Query(q): Query<TokenQuery>) -> Response {
    if q.service.as_deref().is_some_and(|s| s != ctx.service) {
        return oci_error(
            StatusCode::BAD_REQUEST,
            "DENIED",
            "token requested for another service",
        );
    }
    let mut repos = BTreeSet::new();
    if let Some(scope) = &q.scope {
        // `repository:<name>:<actions>`; the name itself may hold no colon.
        let mut parts = scope.splitn(3, ':');
        if let (Some("repository"), Some(name), Some(actions)) =
            (parts.next(), parts.next(), parts.next())
            && actions.split(',').any(|a| a == "pull")
        {
            repos.insert(name.to_string());
        }
    }
    let token = format!("sim-ghcr-{}", uuid::Uuid::new_v4().simple());
    ctx.tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token.clone(), repos);
    axum::Json(TokenResponse {
        token,
        expires_in: Some(300),
        issued_at: Some(chrono::Utc::now().to_rfc3339()),
        ..Default::default()
    })
    .into_response()
}

/// Whether the request carries a token issued for pulling `name`.
fn may_pull(ctx: &Ctx, headers: &HeaderMap, name: &str) -> bool {
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    ctx.tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(token.trim())
        .is_some_and(|repos| repos.contains(name))
}

fn unauthorized(ctx: &Ctx, name: &str) -> Response {
    let mut resp = oci_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required",
    );
    let challenge = format!(
        "Bearer realm=\"http://{}/token\",service=\"{}\",scope=\"repository:{name}:pull\"",
        ctx.service, ctx.service
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert("www-authenticate", v);
    }
    resp
}

async fn manifest(
    State(ctx): State<Arc<Ctx>>,
    method: Method,
    headers: HeaderMap,
    Path(rest): Path<String>,
) -> Response {
    let Some((name, tag)) = rest.rsplit_once("/manifests/") else {
        return oci_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        );
    };
    if ctx.demand_token && !may_pull(&ctx, &headers, name) {
        return unauthorized(&ctx, name);
    }
    let chart = name
        .strip_prefix(&format!("{}/", ctx.prefix))
        .unwrap_or(name);
    if !ctx.artifacts.iter().any(|(c, _)| c == chart) {
        return oci_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        );
    }
    if !ctx
        .artifacts
        .contains(&(chart.to_string(), tag.to_string()))
    {
        return oci_error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown",
        );
    }
    let config = format!(
        "sha256:{:x}",
        sha2::Sha256::digest(format!("{chart}:{tag}:config"))
    );
    let layer = format!(
        "sha256:{:x}",
        sha2::Sha256::digest(format!("{chart}:{tag}:chart"))
    );
    let body = json!({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": config, "size": 512},
        "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": layer, "size": 40960}],
        "annotations": {"org.opencontainers.image.title": chart, "org.opencontainers.image.version": tag}
    })
    .to_string();
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(&body));
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static(MANIFEST_TYPE));
    if let Ok(v) = HeaderValue::from_str(&digest) {
        headers.insert("docker-content-digest", v);
    }
    if method == Method::HEAD {
        if let Ok(v) = HeaderValue::from_str(&body.len().to_string()) {
            headers.insert("content-length", v);
        }
        return (StatusCode::OK, headers).into_response();
    }
    (StatusCode::OK, headers, body).into_response()
}

#[derive(Deserialize)]
struct RunsQuery {
    branch: Option<String>,
    per_page: Option<usize>,
}

async fn runs(
    State(ctx): State<Arc<Ctx>>,
    Path((owner, repo, wf)): Path<(String, String, String)>,
    Query(q): Query<RunsQuery>,
) -> Response {
    if format!("{owner}/{repo}") != CI_REPO || wf != CI_WORKFLOW {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow", "status": "404"})),
        )
            .into_response();
    }
    let branch_ok = q.branch.as_deref().is_none_or(|b| b == "main");
    let per_page = q.per_page.unwrap_or(30).clamp(1, 100);
    let runs: Vec<_> = if branch_ok {
        ctx.conclusions
            .iter()
            .enumerate()
            .take(per_page)
            .map(|(i, c)| {
                let id = 9_000_000_000u64 - i as u64;
                json!({
                    "id": id, "name": "blueprint-release", "head_branch": "main",
                    "head_sha": format!("{:040x}", id), "event": "push",
                    "status": "completed", "conclusion": c, "run_number": 500 - i,
                    "created_at": format!("2026-05-{:02}T10:00:00Z", 20 - i.min(19)),
                    "html_url": format!("https://github.com/{CI_REPO}/actions/runs/{id}"),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    axum::Json(json!({"total_count": runs.len(), "workflow_runs": runs})).into_response()
}
