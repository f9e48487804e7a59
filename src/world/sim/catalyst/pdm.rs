//! Simulated pool-domain-manager (contract §6): check / reserve / commit / release with 409
//! conflicts and a reservation TTL on the world's `SimClock`, plus the registrar proxy targets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::rules::is_dns_label;
use crate::sim::clock::SimClock;

/// Control-plane names PDM refuses to hand out.
pub const RESERVED_LABELS: &[&str] = &[
    "api", "admin", "console", "gitea", "harbor", "keycloak", "www", "mail", "smtp", "imap", "vpn",
    "openova", "catalyst", "docs", "status", "app", "system", "openbao", "vault", "flux", "k8s",
];

/// The six A records commit writes (contract §6.3).
pub const COMMIT_RECORDS: &[&str] = &["@", "*", "console", "api", "gitea", "harbor"];

/// An account a simulated registrar knows: validate/set-ns succeed for its token and domains.
#[derive(Clone, Default)]
pub struct RegistrarAccount {
    pub registrar: String,
    pub token: String,
    pub domains: Vec<String>,
}

impl std::fmt::Debug for RegistrarAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrarAccount")
            .field("registrar", &self.registrar)
            .field("domains", &self.domains)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct PdmConfig {
    /// `DYNADOT_MANAGED_DOMAINS`; PDM's own default is `openova.io, omani.works`.
    pub managed_domains: Vec<String>,
    /// `PDM_RESERVATION_TTL` (default 10m).
    pub reservation_ttl: Duration,
    pub registrars: Vec<RegistrarAccount>,
    /// Rows present at start (scenario data): `(pool, subdomain, state)`.
    pub seed: Vec<(String, String, String)>,
}

impl Default for PdmConfig {
    fn default() -> Self {
        PdmConfig {
            managed_domains: vec!["openova.io".into(), "omani.works".into()],
            reservation_ttl: Duration::from_secs(600),
            registrars: Vec::new(),
            seed: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct Row {
    state: String,
    reserved_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    token: String,
    created_by: String,
    fqdn: Option<String>,
    lb_ip: Option<String>,
    records: Vec<(String, String)>,
}

#[derive(Debug)]
struct Inner {
    rows: BTreeMap<(String, String), Row>,
    available: bool,
}

#[derive(Clone)]
struct Ctx {
    clock: SimClock,
    cfg: Arc<PdmConfig>,
    inner: Arc<Mutex<Inner>>,
}

impl Ctx {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sweeper, run lazily on every access: expired reservations disappear.
    fn sweep(&self, inner: &mut Inner) {
        let now = self.clock.now();
        inner
            .rows
            .retain(|_, r| !(r.state == "reserved" && r.expires_at.is_some_and(|e| e <= now)));
    }
}

/// A running simulated PDM.
pub struct PdmSim {
    addr: SocketAddr,
    ctx: Ctx,
    task: tokio::task::JoinHandle<()>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn err(status: StatusCode, error: &str, detail: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "detail": detail})),
    )
        .into_response()
}

fn allocation(pool: &str, sub: &str, r: &Row) -> Value {
    let mut v = json!({
        "poolDomain": pool, "subdomain": sub, "state": r.state,
        "reservedAt": rfc3339(r.reserved_at), "createdBy": r.created_by,
    });
    if let Some(e) = r.expires_at {
        v["expiresAt"] = json!(rfc3339(e));
    }
    if let Some(f) = &r.fqdn {
        v["sovereignFQDN"] = json!(f);
    }
    if let Some(ip) = &r.lb_ip {
        v["loadBalancerIP"] = json!(ip);
    }
    if r.state == "reserved" {
        v["reservationToken"] = json!(r.token);
    }
    v
}

impl PdmSim {
    pub async fn start(clock: SimClock, cfg: PdmConfig) -> std::io::Result<PdmSim> {
        let now = clock.now();
        let mut rows = BTreeMap::new();
        for (pool, sub, state) in &cfg.seed {
            rows.insert(
                (pool.clone(), sub.clone()),
                Row {
                    state: state.clone(),
                    reserved_at: now,
                    expires_at: None,
                    token: uuid::Uuid::new_v4().to_string(),
                    created_by: "scenario".into(),
                    fqdn: Some(format!("{sub}.{pool}")),
                    lb_ip: None,
                    records: Vec::new(),
                },
            );
        }
        let ctx = Ctx {
            clock,
            cfg: Arc::new(cfg),
            inner: Arc::new(Mutex::new(Inner {
                rows,
                available: true,
            })),
        };
        let app = Router::new()
            .route("/healthz", get(healthz))
            .route("/api/v1/reserved", get(reserved))
            .route("/api/v1/pool/{domain}/check", get(check))
            .route("/api/v1/pool/{domain}/list", get(list))
            .route("/api/v1/pool/{domain}/reserve", post(reserve))
            .route("/api/v1/pool/{domain}/commit", post(commit))
            .route("/api/v1/pool/{domain}/release", delete(release))
            .route("/api/v1/registrar/{r}/{action}", post(registrar))
            .with_state(ctx.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "simulated PDM stopped");
            }
        });
        Ok(PdmSim { addr, ctx, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Make every route answer 503 (PDM unhealthy) or bring it back.
    pub fn set_available(&self, available: bool) {
        self.ctx.lock().available = available;
    }

    /// `(state, A records)` of a row, for tests and the world's inspection.
    pub fn row(&self, pool: &str, sub: &str) -> Option<(String, Vec<(String, String)>)> {
        let mut inner = self.ctx.lock();
        self.ctx.sweep(&mut inner);
        inner
            .rows
            .get(&(pool.to_string(), sub.to_string()))
            .map(|r| (r.state.clone(), r.records.clone()))
    }
}

/// A read-only view of PDM's rows for the world's DNS server (PowerDNS serves what PDM wrote).
#[derive(Clone)]
pub struct PdmZones(Ctx);

impl PdmZones {
    /// Every child zone PDM holds: `(zone, records)` — a reserved row has its zone and no A
    /// records yet, an active one the six commit records (name relative to the zone, IP).
    pub fn zones(&self) -> Vec<(String, Vec<(String, String)>)> {
        let mut inner = self.0.lock();
        self.0.sweep(&mut inner);
        inner
            .rows
            .iter()
            .map(|((pool, sub), r)| (format!("{sub}.{pool}"), r.records.clone()))
            .collect()
    }

    /// Make every PDM route answer 503 (its database is down) or bring it back.
    pub fn set_available(&self, available: bool) {
        self.0.lock().available = available;
    }

    /// PDM's `/healthz` answer as (status, body), for the mothership pod's exec'd `wget`.
    pub fn healthz(&self) -> (u16, String) {
        let inner = self.0.lock();
        if !inner.available {
            return (
                503,
                json!({"status": "unhealthy", "db": "connection refused"}).to_string(),
            );
        }
        let registrars: Vec<&str> = self
            .0
            .cfg
            .registrars
            .iter()
            .map(|a| a.registrar.as_str())
            .collect();
        // Field order as PDM's Go struct encodes it (status first), with the encoder's newline.
        (
            200,
            format!(
                "{{\"status\":\"ok\",\"managedDomains\":{},\"registrars\":{}}}\n",
                json!(self.0.cfg.managed_domains),
                json!(registrars)
            ),
        )
    }
}

impl PdmSim {
    /// The view the world's DNS server answers from.
    pub fn zones(&self) -> PdmZones {
        PdmZones(self.ctx.clone())
    }
}

impl Drop for PdmSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn unavailable(ctx: &Ctx) -> Option<Response> {
    (!ctx.lock().available).then(|| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "unhealthy", "db": "connection refused"})),
        )
            .into_response()
    })
}

async fn healthz(State(ctx): State<Ctx>) -> Response {
    if let Some(r) = unavailable(&ctx) {
        return r;
    }
    let registrars: Vec<&str> = ctx
        .cfg
        .registrars
        .iter()
        .map(|a| a.registrar.as_str())
        .collect();
    axum::Json(json!({"status": "ok", "managedDomains": ctx.cfg.managed_domains, "registrars": registrars}))
        .into_response()
}

async fn reserved() -> Response {
    let mut labels: Vec<&str> = RESERVED_LABELS.to_vec();
    labels.sort();
    axum::Json(json!({"reserved": labels})).into_response()
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

fn managed(ctx: &Ctx, pool: &str) -> bool {
    ctx.cfg.managed_domains.iter().any(|d| d == pool)
}

#[derive(Deserialize)]
struct SubQuery {
    sub: Option<String>,
}

async fn check(
    State(ctx): State<Ctx>,
    Path(domain): Path<String>,
    Query(q): Query<SubQuery>,
) -> Response {
    if let Some(r) = unavailable(&ctx) {
        return r;
    }
    let pool = norm(&domain);
    let sub = norm(q.sub.as_deref().unwrap_or(""));
    let verdict = |available: bool, reason: Option<&str>, detail: &str| {
        let mut v = json!({"available": available});
        if let Some(r) = reason {
            v["reason"] = json!(r);
            v["detail"] = json!(detail);
        } else {
            v["fqdn"] = json!(format!("{sub}.{pool}"));
        }
        axum::Json(v).into_response()
    };
    if !is_dns_label(&sub) {
        return verdict(
            false,
            Some("invalid-format"),
            "subdomain must be a lowercase DNS label starting with a letter",
        );
    }
    if !managed(&ctx, &pool) {
        return verdict(
            false,
            Some("unsupported-pool"),
            "this pool domain is not managed by pool-domain-manager",
        );
    }
    if RESERVED_LABELS.contains(&sub.as_str()) {
        return verdict(
            false,
            Some("reserved"),
            "this name is reserved for the control plane",
        );
    }
    let mut inner = ctx.lock();
    ctx.sweep(&mut inner);
    match inner
        .rows
        .get(&(pool.clone(), sub.clone()))
        .map(|r| r.state.as_str())
    {
        Some("reserved") => verdict(
            false,
            Some("reserved-state"),
            "this subdomain is reserved by an in-flight provisioning",
        ),
        Some("active") => verdict(
            false,
            Some("active-state"),
            "this subdomain belongs to a live Sovereign",
        ),
        Some(_) => verdict(
            false,
            Some("unknown-state"),
            "allocation in an unknown state",
        ),
        None => verdict(true, None, ""),
    }
}

async fn list(State(ctx): State<Ctx>, Path(domain): Path<String>) -> Response {
    if let Some(r) = unavailable(&ctx) {
        return r;
    }
    let pool = norm(&domain);
    if !managed(&ctx, &pool) {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported-pool",
            "pool domain is not managed",
        );
    }
    let mut inner = ctx.lock();
    ctx.sweep(&mut inner);
    let allocations: Vec<Value> = inner
        .rows
        .iter()
        .filter(|((p, _), _)| *p == pool)
        .map(|((p, s), r)| allocation(p, s, r))
        .collect();
    axum::Json(json!({"poolDomain": pool, "allocations": allocations})).into_response()
}

fn parse_body(body: &Bytes) -> Result<Value, Box<Response>> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            Box::new(err(
                StatusCode::BAD_REQUEST,
                "invalid-body",
                "request body must be a JSON object",
            ))
        })
}

fn str_field(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .map(norm)
        .unwrap_or_default()
}

async fn reserve(State(ctx): State<Ctx>, Path(domain): Path<String>, body: Bytes) -> Response {
    if let Some(r) = unavailable(&ctx) {
        return r;
    }
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let pool = norm(&domain);
    let sub = str_field(&v, "subdomain");
    let created_by = v
        .get("createdBy")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("catalyst-api")
        .to_string();
    if !is_dns_label(&sub) {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-format",
            "subdomain is not a valid DNS label",
        );
    }
    if !managed(&ctx, &pool) {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported-pool",
            "pool domain is not managed",
        );
    }
    if RESERVED_LABELS.contains(&sub.as_str()) {
        // Faithful to PDM: a reserved label surfaces as a plain 500, not a 409/422.
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("subdomain {sub:?} is reserved\n"),
        )
            .into_response();
    }
    let mut inner = ctx.lock();
    ctx.sweep(&mut inner);
    let key = (pool.clone(), sub.clone());
    if inner.rows.contains_key(&key) {
        return err(
            StatusCode::CONFLICT,
            "conflict",
            "this subdomain is already reserved or active",
        );
    }
    let now = ctx.clock.now();
    let ttl = chrono::Duration::from_std(ctx.cfg.reservation_ttl)
        .unwrap_or(chrono::Duration::minutes(10));
    let row = Row {
        state: "reserved".into(),
        reserved_at: now,
        expires_at: Some(now + ttl),
        token: uuid::Uuid::new_v4().to_string(),
        created_by,
        fqdn: None,
        lb_ip: None,
        records: Vec::new(),
    };
    let body = allocation(&pool, &sub, &row);
    inner.rows.insert(key, row);
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn commit(State(ctx): State<Ctx>, Path(domain): Path<String>, body: Bytes) -> Response {
    if let Some(r) = unavailable(&ctx) {
        return r;
    }
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let pool = norm(&domain);
    let sub = str_field(&v, "subdomain");
    let token = v
        .get("reservationToken")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    let lb_ip = str_field(&v, "loadBalancerIP");
    let fqdn = str_field(&v, "sovereignFQDN");
    if !is_dns_label(&sub) {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-format",
            "subdomain is not a valid DNS label",
        );
    }
    if lb_ip.parse::<std::net::Ipv4Addr>().is_err() {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing-lb-ip",
            "loadBalancerIP must be an IPv4 address",
        );
    }
    if !managed(&ctx, &pool) {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported-pool",
            "pool domain is not managed",
        );
    }
    let now = ctx.clock.now();
    let mut inner = ctx.lock();
    let key = (pool.clone(), sub.clone());
    let Some(row) = inner.rows.get_mut(&key) else {
        return err(
            StatusCode::NOT_FOUND,
            "not-found",
            "no reservation for this subdomain",
        );
    };
    if row.state == "active" {
        return err(
            StatusCode::CONFLICT,
            "already-active",
            "this subdomain is already committed",
        );
    }
    if row.token != token {
        return err(
            StatusCode::FORBIDDEN,
            "token-mismatch",
            "reservationToken does not match",
        );
    }
    if row.expires_at.is_some_and(|e| e <= now) {
        inner.rows.remove(&key);
        return err(
            StatusCode::GONE,
            "reservation-expired",
            "the reservation TTL elapsed before commit",
        );
    }
    row.state = "active".into();
    row.expires_at = None;
    row.fqdn = Some(if fqdn.is_empty() {
        format!("{sub}.{pool}")
    } else {
        fqdn
    });
    row.lb_ip = Some(lb_ip.clone());
    row.records = COMMIT_RECORDS
        .iter()
        .map(|n| (n.to_string(), lb_ip.clone()))
        .collect();
    axum::Json(allocation(&pool, &sub, row)).into_response()
}

async fn release(
    State(ctx): State<Ctx>,
    Path(domain): Path<String>,
    Query(q): Query<SubQuery>,
    body: Bytes,
) -> Response {
    if let Some(r) = unavailable(&ctx) {
        return r;
    }
    let pool = norm(&domain);
    // The JSON body wins; `?sub=` is the fallback when the body is absent or invalid.
    let sub = serde_json::from_slice::<Value>(&body)
        .ok()
        .map(|v| str_field(&v, "subdomain"))
        .filter(|s| !s.is_empty())
        .or_else(|| q.sub.as_deref().map(norm))
        .unwrap_or_default();
    if !is_dns_label(&sub) {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-format",
            "subdomain is not a valid DNS label",
        );
    }
    let mut inner = ctx.lock();
    ctx.sweep(&mut inner);
    match inner.rows.remove(&(pool.clone(), sub.clone())) {
        Some(row) => axum::Json(json!({"freed": allocation(&pool, &sub, &row)})).into_response(),
        None => err(
            StatusCode::NOT_FOUND,
            "not-found",
            "no allocation for this subdomain",
        ),
    }
}

const REGISTRARS: &[&str] = &["cloudflare", "namecheap", "godaddy", "ovh", "dynadot"];

async fn registrar(
    State(ctx): State<Ctx>,
    Path((r, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Some(resp) = unavailable(&ctx) {
        return resp;
    }
    let r = r.to_lowercase();
    let reg_err = |status: StatusCode, error: &str, detail: &str, domain: &str| {
        (
            status,
            axum::Json(json!({"error": error, "detail": detail, "registrar": r, "domain": domain})),
        )
            .into_response()
    };
    if !REGISTRARS.contains(&r.as_str()) || !(action == "validate" || action == "set-ns") {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "unsupported-registrar", "detail": "registrar adapter not available", "supported": REGISTRARS})),
        )
            .into_response();
    }
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    let domain = str_field(&v, "domain");
    let token = v
        .get("token")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    if domain.is_empty() {
        return reg_err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing-domain",
            "domain is required",
            "",
        );
    }
    if token.is_empty() {
        return reg_err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing-token",
            "token is required",
            &domain,
        );
    }
    let accounts: Vec<&RegistrarAccount> = ctx
        .cfg
        .registrars
        .iter()
        .filter(|a| a.registrar == r)
        .collect();
    let Some(acct) = accounts.iter().find(|a| a.token == token) else {
        return reg_err(
            StatusCode::UNAUTHORIZED,
            "invalid-token",
            "the registrar rejected the credentials",
            &domain,
        );
    };
    if !acct.domains.contains(&domain) {
        return reg_err(
            StatusCode::FORBIDDEN,
            "domain-not-in-account",
            "the domain is not in this registrar account",
            &domain,
        );
    }
    if action == "validate" {
        return axum::Json(json!({"valid": true, "registrar": r, "domain": domain}))
            .into_response();
    }
    let ns: Vec<String> = v
        .get("nameservers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if ns.is_empty() {
        return reg_err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing-nameservers",
            "nameservers are required",
            &domain,
        );
    }
    axum::Json(
        json!({"success": true, "registrar": r, "domain": domain, "nameservers": ns,
        "propagation": "NS changes usually propagate within 1-24 hours"}),
    )
    .into_response()
}
