//! HTTP surface of the simulated catalyst-api (contract §1), both error dialects included: plain
//! text where catalyst uses `http.Error`, JSON `{"error","detail"}` where it uses `writeJSON`.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::RngCore;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::phase0::{empty_result, run_provisioning};
use super::phase1::spawn_refresh;
use super::rules::{
    PHASE0_RETRY_IDS, PHASE1_RETRY_IDS, create_rejection, is_dns_label, mirror_first_region,
};
use super::store::{Deployment, Reservation};
use super::{Ctx, Phase1Race};
use crate::provision::wire::{ComponentSnapshot, DeploymentRequest};

pub(crate) fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route(
            "/api/v1/version",
            get(|| async { axum::Json(json!({"version": "sim", "commit": "b8d7a8b9"})) }),
        )
        .route("/api/v1/credentials/validate", post(validate_credentials))
        .route("/api/v1/subdomains/check", post(check_subdomain))
        .route("/api/v1/sshkey/generate", post(generate_key))
        .route("/api/v1/registrar/{r}/{action}", post(registrar_proxy))
        .route("/api/v1/deployments", post(create).get(list))
        .route("/api/v1/deployments/in-flight-count", get(in_flight))
        .route(
            "/api/v1/deployments/{id}",
            get(get_one).delete(delete_record),
        )
        .route("/api/v1/deployments/{id}/events", get(events))
        .route("/api/v1/deployments/{id}/logs", get(logs))
        .route(
            "/api/v1/deployments/{id}/kubeconfig",
            get(get_kubeconfig).put(put_kubeconfig),
        )
        .route("/api/v1/deployments/{id}/phases/{phase}/retry", post(retry))
        .route(
            "/api/v1/deployments/{id}/refresh-watch",
            post(refresh_watch),
        )
        .route(
            "/api/v1/deployments/{id}/components/state",
            get(components_state),
        )
        .route("/api/v1/deployments/{id}/wipe", post(super::wipe::wipe))
        .route(
            "/api/v1/deployments/{id}/release-subdomain",
            axum::routing::delete(super::wipe::release_subdomain),
        )
        .with_state(ctx)
}

pub(crate) fn text(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

pub(crate) fn jerr(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(crate) fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "deployment not found")
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ssh_key::HashAlg::Sha256.digest(data)
}

async fn validate_credentials(State(ctx): State<Ctx>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return text(StatusCode::BAD_REQUEST, "invalid request body");
    };
    let token = v
        .get("token")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    if token.chars().count() < 64 {
        return jerr(
            StatusCode::BAD_REQUEST,
            json!({"valid": false,
            "message": "token too short — a Hetzner Cloud API token is 64 characters"}),
        );
    }
    let url = format!("{}/servers", ctx.cfg.hetzner_url.trim_end_matches('/'));
    let probe = ctx
        .http
        .get(url)
        .bearer_auth(&token)
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match probe.map(|r| r.status().as_u16()) {
        Ok(200) => axum::Json(json!({"valid": true, "message": "read/write access confirmed"}))
            .into_response(),
        Ok(401) | Ok(403) => axum::Json(json!({"valid": false,
            "message": "token rejected — ensure it has Read & Write permissions"}))
        .into_response(),
        Ok(code) => jerr(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"valid": false,
            "message": format!("could not reach Hetzner API — unexpected HTTP {code}")}),
        ),
        Err(e) => jerr(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"valid": false,
            "message": format!("could not reach Hetzner API — {e}")}),
        ),
    }
}

async fn check_subdomain(State(ctx): State<Ctx>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return jerr(
            StatusCode::BAD_REQUEST,
            json!({"available": false, "reason": "invalid-format",
            "detail": "request body is not valid JSON"}),
        );
    };
    let sub = v
        .get("subdomain")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_lowercase();
    let pool = v
        .get("poolDomain")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_lowercase();
    if !is_dns_label(&sub) {
        return axum::Json(json!({"available": false, "reason": "invalid-format",
            "detail": "must start with a letter, contain only a-z, 0-9 and '-', not end with '-', at most 63 characters"}))
            .into_response();
    }
    if ctx.cfg.managed_pools.contains(&pool) {
        let url = format!("{}/api/v1/pool/{pool}/check", ctx.pdm_url);
        let answer = ctx
            .http
            .get(url)
            .query(&[("sub", &sub)])
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        return match answer {
            Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                Ok(v) => axum::Json(v).into_response(),
                Err(e) => axum::Json(json!({"available": false, "reason": "pdm-unavailable", "detail": e.to_string()})).into_response(),
            },
            Ok(r) => axum::Json(json!({"available": false, "reason": "pdm-unavailable",
                "detail": format!("pool-domain-manager answered HTTP {}", r.status())})).into_response(),
            Err(e) => axum::Json(json!({"available": false, "reason": "pdm-unavailable", "detail": e.to_string()})).into_response(),
        };
    }
    // BYO: the simulated DNS knows the configured existing domains.
    let fqdn = if pool.is_empty() {
        sub.clone()
    } else {
        format!("{sub}.{pool}")
    };
    if ctx.cfg.existing_byo_domains.contains(&fqdn) {
        return axum::Json(json!({"available": false, "reason": "exists",
            "detail": format!("{fqdn} already resolves in DNS")}))
        .into_response();
    }
    axum::Json(json!({"available": true, "fqdn": fqdn})).into_response()
}

async fn generate_key(body: Bytes) -> Response {
    let fqdn = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("fqdn")
                .and_then(Value::as_str)
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    let comment = if fqdn.is_empty() {
        "catalyst".to_string()
    } else {
        format!("catalyst@{fqdn}")
    };
    let mut key =
        match ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519) {
            Ok(k) => k,
            Err(_) => {
                return jerr(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "could not generate Ed25519 keypair"}),
                );
            }
        };
    key.set_comment(comment);
    let private = match key.to_openssh(ssh_key::LineEnding::LF) {
        Ok(p) => p.to_string(),
        Err(_) => {
            return jerr(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "could not serialize private key"}),
            );
        }
    };
    let public = match key.public_key().to_openssh() {
        Ok(p) => p,
        Err(_) => {
            return jerr(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "could not serialize private key"}),
            );
        }
    };
    let fingerprint = key.fingerprint(ssh_key::HashAlg::Sha256).to_string();
    tracing::info!(%fingerprint, "generated an Ed25519 key pair");
    axum::Json(json!({"publicKey": public, "privateKey": private, "fingerprint": fingerprint}))
        .into_response()
}

async fn registrar_proxy(
    State(ctx): State<Ctx>,
    Path((r, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    const KNOWN: &[&str] = &["cloudflare", "namecheap", "godaddy", "ovh", "dynadot"];
    let r = r.to_lowercase();
    if !KNOWN.contains(&r.as_str()) || !(action == "validate" || action == "set-ns") {
        return jerr(
            StatusCode::NOT_FOUND,
            json!({"error": "unsupported-registrar", "detail": "registrar adapter not available"}),
        );
    }
    if body.len() > 16 * 1024 {
        return jerr(
            StatusCode::BAD_REQUEST,
            json!({"error": "request-too-large"}),
        );
    }
    if action == "validate" {
        let Ok(v) = serde_json::from_slice::<Value>(&body) else {
            return jerr(StatusCode::BAD_REQUEST, json!({"error": "invalid-body"}));
        };
        if v.get("domain")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .is_empty()
        {
            return jerr(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": "missing-domain"}),
            );
        }
        if v.get("token")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .is_empty()
        {
            return jerr(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": "missing-token"}),
            );
        }
    }
    let url = format!("{}/api/v1/registrar/{r}/{action}", ctx.pdm_url);
    let timeout = Duration::from_secs(if action == "validate" { 15 } else { 30 });
    match ctx
        .http
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .timeout(timeout)
        .send()
        .await
    {
        Ok(resp) => {
            // Relay status and body verbatim.
            let status =
                StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let ctype = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            let bytes = resp.bytes().await.unwrap_or_default();
            (status, [(header::CONTENT_TYPE, ctype)], bytes).into_response()
        }
        Err(_) => jerr(StatusCode::BAD_GATEWAY, json!({"error": "pdm-unreachable"})),
    }
}

async fn create(State(ctx): State<Ctx>, body: Bytes) -> Response {
    let mut req: DeploymentRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("invalid request body: {e}"),
            );
        }
    };
    mirror_first_region(&mut req);
    if let Some(msg) = create_rejection(&req) {
        return jerr(StatusCode::BAD_REQUEST, json!({"error": msg}));
    }
    let pool_mode = req.sovereign_domain_mode == "pool";
    if pool_mode && ctx.cfg.ghcr_pull_token.as_deref().unwrap_or("").is_empty() {
        return jerr(
            StatusCode::BAD_REQUEST,
            json!({"error":
            "GHCR pull token is required for pool-mode provisioning (set CATALYST_GHCR_PULL_TOKEN)"}),
        );
    }
    let id = random_hex(8);
    let bearer = random_hex(32);
    let pool = req.sovereign_pool_domain.trim().to_lowercase();
    let mut reservation = None;
    if pool_mode && ctx.cfg.managed_pools.contains(&pool) {
        let url = format!("{}/api/v1/pool/{pool}/reserve", ctx.pdm_url);
        let sub = req.sovereign_subdomain.trim().to_lowercase();
        let answer = ctx
            .http
            .post(url)
            .json(&json!({"subdomain": sub, "createdBy": format!("catalyst-api/deployment-{id}")}))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match answer {
            Ok(r) if r.status().as_u16() == 201 => {
                let v: Value = r.json().await.unwrap_or(Value::Null);
                let token = v
                    .get("reservationToken")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                reservation = Some(Reservation {
                    pool: pool.clone(),
                    subdomain: sub,
                    token,
                });
            }
            Ok(r) if r.status().as_u16() == 409 => {
                return jerr(
                    StatusCode::CONFLICT,
                    json!({"error": "subdomain-conflict",
                    "detail": "this subdomain has been reserved or activated for the chosen pool — pick a different name"}),
                );
            }
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                return jerr(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "pdm-unavailable",
                    "detail": format!("pool-domain-manager is temporarily unreachable: HTTP {status}: {}", body.trim())}),
                );
            }
            Err(e) => {
                return jerr(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "pdm-unavailable",
                    "detail": format!("pool-domain-manager is temporarily unreachable: {e}")}),
                );
            }
        }
    }
    let (tx, _) = watch::channel(0u64);
    let fqdn = req.sovereign_fqdn.clone();
    let dep = Deployment {
        id: id.clone(),
        request: req,
        status: "provisioning".into(),
        started_at: ctx.now(),
        finished_at: None,
        error: None,
        result: None,
        events: VecDeque::new(),
        next_seq: 0,
        done: false,
        bearer_sha256: sha256(bearer.as_bytes()),
        kubeconfig: None,
        reservation,
        tofu_state: BTreeMap::new(),
        cp_ip: None,
        lb_ip: None,
        phase1_claimed: false,
        watcher_live: false,
        watcher_generation: 0,
        components: BTreeMap::new(),
        cloud_init_error: None,
        cloud_init_started: false,
        last_wipe_report: None,
        tasks: Vec::new(),
        changed: tx,
    };
    ctx.store.lock().insert(id.clone(), dep);
    tracing::info!(deployment = %id, %fqdn, "deployment created");
    ctx.spawn_for(
        &id,
        run_provisioning(ctx.clone(), id.clone(), bearer, false),
    );
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": id, "status": "provisioning", "streamURL": format!("/api/v1/deployments/{id}/logs")})),
    )
        .into_response()
}

async fn list(State(ctx): State<Ctx>) -> Response {
    let mut states: Vec<_> = ctx.store.lock().values().map(Deployment::state).collect();
    states.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(a.id.cmp(&b.id)));
    axum::Json(json!({"deployments": states})).into_response()
}

async fn in_flight(State(ctx): State<Ctx>) -> Response {
    let ids: Vec<String> = ctx
        .store
        .lock()
        .values()
        .filter(|d| {
            matches!(
                d.status.as_str(),
                "pending" | "provisioning" | "tofu-applying"
            )
        })
        .map(|d| d.id.clone())
        .collect();
    axum::Json(json!({"count": ids.len(), "ids": ids})).into_response()
}

async fn get_one(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    match ctx.store.with(&id, |d| d.state()) {
        Some(s) => axum::Json(s).into_response(),
        None => not_found(),
    }
}

async fn delete_record(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    let mut map = ctx.store.lock();
    let Some(d) = map.get(&id) else {
        return not_found();
    };
    if d.in_flight() {
        return text(
            StatusCode::CONFLICT,
            "deployment is still in-flight — wait for it to finish or wipe it",
        );
    }
    if d.status == "adopted" {
        return text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "deployment was adopted — it can no longer be deleted",
        );
    }
    map.remove(&id);
    axum::Json(json!({"deleted": id})).into_response()
}

async fn events(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    match ctx.store.with(&id, |d| {
        let evs: Vec<_> = d.events.iter().map(|(_, e)| e.clone()).collect();
        json!({"state": d.state(), "events": evs, "done": d.done})
    }) {
        Some(v) => axum::Json(v).into_response(),
        None => not_found(),
    }
}

fn data_frame(v: &impl serde::Serialize) -> Bytes {
    Bytes::from(format!(
        "data: {}\n\n",
        serde_json::to_string(v).unwrap_or_default()
    ))
}

/// SSE (contract §2.2): replay the whole buffer, then tail until the run closes it, then `done`.
async fn logs(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    let Some(mut rx) = ctx.store.with(&id, |d| d.changed.subscribe()) else {
        return not_found();
    };
    let (tx, out) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(64);
    tokio::spawn(async move {
        let mut next: u64 = 0;
        loop {
            let Some((frames, done_state)) = ctx.store.with(&id, |d| {
                let frames: Vec<Bytes> = d
                    .events
                    .iter()
                    .filter(|(seq, _)| *seq >= next)
                    .map(|(_, e)| data_frame(e))
                    .collect();
                next = d.next_seq;
                (frames, d.done.then(|| d.state()))
            }) else {
                return;
            };
            for f in frames {
                if tx.send(Ok(f)).await.is_err() {
                    return;
                }
            }
            if let Some(state) = done_state {
                let frame = format!(
                    "event: done\ndata: {}\n\n",
                    serde_json::to_string(&state).unwrap_or_default()
                );
                let _ = tx.send(Ok(Bytes::from(frame))).await;
                return;
            }
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return },
                _ = tx.closed() => return,
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(out);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONNECTION, "keep-alive"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn get_kubeconfig(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    match ctx.store.with(&id, |d| {
        (d.kubeconfig.clone(), d.request.sovereign_fqdn.clone())
    }) {
        None => not_found(),
        Some((None, _)) => jerr(
            StatusCode::CONFLICT,
            json!({"error": "not-implemented",
            "detail": "no kubeconfig has been captured for this deployment yet (cloud-init posts it back once k3s is up)"}),
        ),
        Some((Some(k), fqdn)) => (
            [
                (header::CONTENT_TYPE, "application/yaml".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{fqdn}-kubeconfig.yaml\""),
                ),
            ],
            k,
        )
            .into_response(),
    }
}

async fn put_kubeconfig(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(hash) = ctx
        .store
        .with(&id, |d| (d.bearer_sha256.clone(), d.kubeconfig.is_some()))
    else {
        return not_found();
    };
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bearer = match auth.split_once(' ') {
        Some((scheme, tok)) if scheme.eq_ignore_ascii_case("bearer") && !tok.trim().is_empty() => {
            tok.trim()
        }
        _ => return jerr(StatusCode::UNAUTHORIZED, json!({"error": "missing-bearer"})),
    };
    let (stored, already) = hash;
    if stored.is_empty() {
        return jerr(StatusCode::FORBIDDEN, json!({"error": "no-bearer-hash"}));
    }
    let given = sha256(bearer.as_bytes());
    let diff = given
        .iter()
        .zip(stored.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 || given.len() != stored.len() {
        return jerr(StatusCode::FORBIDDEN, json!({"error": "invalid-bearer"}));
    }
    if already {
        return jerr(StatusCode::FORBIDDEN, json!({"error": "already-set"}));
    }
    if body.len() > 1024 * 1024 {
        return jerr(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": "body-too-large"}),
        );
    }
    if body.is_empty() {
        return jerr(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": "empty-body"}),
        );
    }
    let yaml = String::from_utf8_lossy(&body).to_string();
    let path = format!(
        "{}/{id}.yaml",
        ctx.cfg.kubeconfigs_dir.trim_end_matches('/')
    );
    let start_watch = ctx
        .store
        .with(&id, |d| {
            d.kubeconfig = Some(yaml);
            let mut r = d.result.clone().unwrap_or_else(|| empty_result(&d.request.sovereign_fqdn));
            r.kubeconfig_path = Some(path);
            d.result = Some(r);
            let start = ctx.cfg.phase1_race == Phase1Race::PutWins && !d.phase1_claimed;
            if start {
                d.phase1_claimed = true;
            } else if d.phase1_claimed && ctx.cfg.phase1_race == Phase1Race::TofuWins && !d.watcher_live {
                tracing::info!(deployment = %id, "Phase-1 watch already running (once-flag set); kubeconfig stored only");
            }
            d.notify();
            start
        })
        .unwrap_or(false);
    if start_watch {
        let ctx2 = ctx.clone();
        let id2 = id.clone();
        ctx.spawn_for(&id, async move {
            super::phase1::watch_and_finish(&ctx2, &id2).await
        });
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn retry(State(ctx): State<Ctx>, Path((id, phase)): Path<(String, String)>) -> Response {
    let Some(status) = ctx.store.with(&id, |d| d.status.clone()) else {
        return not_found();
    };
    let stream_url = format!("/api/v1/deployments/{id}/logs");
    if PHASE0_RETRY_IDS.contains(&phase.as_str()) {
        if status == "provisioning" || status == "tofu-applying" {
            return jerr(
                StatusCode::CONFLICT,
                json!({"error":
                "deployment is still in-flight — wait for the current run to finish before retrying"}),
            );
        }
        // Only the hash of the bearer is kept, so a retry whose apply creates the first control
        // plane (cloud-init never ran) mints a new one for its cloud-init.
        let bearer = random_hex(32);
        ctx.store.with(&id, |d| {
            if !d.cloud_init_started && d.kubeconfig.is_none() {
                d.bearer_sha256 = sha256(bearer.as_bytes());
            }
            d.status = "provisioning".into();
            d.error = None;
            d.finished_at = None;
            d.done = false;
            d.notify();
        });
        ctx.emit(&id, &phase, "info", format!("Retry initiated for phase {phase}: re-running tofu init/plan/apply/output on the same workdir"));
        ctx.spawn_for(&id, run_provisioning(ctx.clone(), id.clone(), bearer, true));
        return axum::Json(
            json!({"id": id, "status": "provisioning", "phase": phase, "streamURL": stream_url,
            "message": format!("Phase 0 retry started from {phase}")}),
        )
        .into_response();
    }
    if PHASE1_RETRY_IDS.contains(&phase.as_str()) {
        let hr = if phase.starts_with("bp-") {
            phase.clone()
        } else {
            format!("bp-{phase}")
        };
        let epoch = ctx.cfg.clock.now().timestamp();
        ctx.emit(&id, &phase, "info", format!(
            "Flux owns Phase-1 retries: annotate helmrelease/{hr} -n flux-system with reconcile.fluxcd.io/requestedAt={epoch} to force a reconcile"));
        return axum::Json(json!({"id": id, "status": "manual-retry-required", "phase": phase, "streamURL": stream_url,
            "runbook": "docs/RUNBOOK-PROVISIONING.md#rollback-procedures-per-phase",
            "message": format!("Phase 1 is reconciled by Flux; annotate helmrelease/{hr} to retry")})).into_response();
    }
    jerr(
        StatusCode::BAD_REQUEST,
        json!({"error": format!(
        "unknown phase \"{phase}\" — see docs/RUNBOOK-PROVISIONING.md for the phase ids")}),
    )
}

fn snapshots(d: &Deployment) -> Vec<ComponentSnapshot> {
    if !d.components.is_empty() {
        return d.components.values().cloned().collect();
    }
    // Without a watcher the rows are synthesised from componentStates.
    d.result
        .as_ref()
        .and_then(|r| r.component_states.as_ref())
        .map(|cs| {
            cs.iter()
                .map(|(app, st)| ComponentSnapshot {
                    app_id: app.clone(),
                    status: st.clone(),
                    helm_release_name: format!("bp-{app}"),
                    namespace: "flux-system".into(),
                    last_transition_at: "0001-01-01T00:00:00Z".into(),
                    message: String::new(),
                    depends_on: None,
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn refresh_watch(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    let Some((live, kubeconfig, comps)) = ctx.store.with(&id, |d| {
        (d.watcher_live, d.kubeconfig.clone(), snapshots(d))
    }) else {
        return jerr(
            StatusCode::NOT_FOUND,
            json!({"error": "deployment-not-found"}),
        );
    };
    if live {
        return axum::Json(json!({"watching": true, "alreadyActive": true, "components": comps}))
            .into_response();
    }
    let Some(kubeconfig) = kubeconfig else {
        return jerr(
            StatusCode::CONFLICT,
            json!({"error": "watch-not-resumable",
            "detail": "no kubeconfig has been captured for this deployment"}),
        );
    };
    spawn_refresh(ctx.clone(), id.clone(), kubeconfig);
    // Wait (bounded) for the informer's first sync so the answer carries seeded rows.
    let seeded = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let n = ctx.store.with(&id, |d| d.components.len()).unwrap_or(0);
            if n > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let comps = ctx.store.with(&id, |d| snapshots(d)).unwrap_or_default();
    if seeded.is_err() {
        return jerr(
            StatusCode::GATEWAY_TIMEOUT,
            json!({"error": "seed-timeout",
            "detail": "the initial HelmRelease list did not sync within 30s", "watching": true}),
        );
    }
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({"watching": true, "seededAt": ctx.now(), "components": comps})),
    )
        .into_response()
}

async fn components_state(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    match ctx.store.with(
        &id,
        |d| json!({"watching": d.watcher_live, "components": snapshots(d)}),
    ) {
        Some(v) => axum::Json(v).into_response(),
        None => jerr(
            StatusCode::NOT_FOUND,
            json!({"error": "deployment-not-found"}),
        ),
    }
}
