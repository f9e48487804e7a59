//! The HTTP front: bearer-token auth (read-write / read-only), the rate-limit budget with
//! `RateLimit-*` headers, the request log, then routing into the project.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::error::ApiError;
use super::query::Query;
use super::routes::dispatch;
use super::store::Store;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenAccess {
    ReadWrite,
    ReadOnly,
}

/// The request budget: `limit` requests, refilled at `refill_per_second` per simulated second
/// (Hetzner: 3600 per hour, one per second).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBudget {
    pub limit: u64,
    pub refill_per_second: f64,
}

impl Default for RateBudget {
    fn default() -> Self {
        RateBudget {
            limit: 3600,
            refill_per_second: 1.0,
        }
    }
}

/// One served request. The token itself is never recorded, only what kind it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    pub at: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// `read-write`, `read-only`, `invalid` or `none`.
    pub token: &'static str,
}

pub(crate) struct World {
    pub store: Store,
    pub tokens: HashMap<String, TokenAccess>,
    pub rate: RateBudget,
    bucket: f64,
    bucket_at: Duration,
    pub log: VecDeque<RequestRecord>,
    /// While set, every request answers 503 `unavailable` (an API outage).
    pub outage: bool,
    /// Simulated time every request takes before it is handled (a slow API).
    pub latency: Duration,
    /// Requests currently held back by `latency`.
    pub delayed: usize,
}

const LOG_CAPACITY: usize = 10_000;

impl World {
    pub fn new(store: Store, tokens: HashMap<String, TokenAccess>, rate: RateBudget) -> Self {
        let now = store.now();
        World {
            store,
            tokens,
            rate,
            bucket: rate.limit as f64,
            bucket_at: now,
            log: VecDeque::new(),
            outage: false,
            latency: Duration::ZERO,
            delayed: 0,
        }
    }

    pub fn set_rate(&mut self, rate: RateBudget) {
        self.rate = rate;
        self.bucket = rate.limit as f64;
        self.bucket_at = self.store.now();
    }

    fn refill(&mut self) {
        let now = self.store.now();
        let dt = now.saturating_sub(self.bucket_at).as_secs_f64();
        self.bucket = (self.bucket + dt * self.rate.refill_per_second).min(self.rate.limit as f64);
        self.bucket_at = now;
    }

    /// Take one request from the budget; false when it is exhausted.
    fn take(&mut self) -> bool {
        self.refill();
        if self.bucket >= 1.0 {
            self.bucket -= 1.0;
            true
        } else {
            false
        }
    }

    fn rate_headers(&self) -> [(&'static str, String); 3] {
        let missing = self.rate.limit as f64 - self.bucket;
        let secs = if self.rate.refill_per_second > 0.0 {
            (missing / self.rate.refill_per_second).ceil() as i64
        } else {
            0
        };
        let reset = self.store.clock().now().timestamp() + secs.max(0);
        [
            ("RateLimit-Limit", self.rate.limit.to_string()),
            (
                "RateLimit-Remaining",
                (self.bucket.floor() as i64).max(0).to_string(),
            ),
            ("RateLimit-Reset", reset.to_string()),
        ]
    }

    fn record(&mut self, r: RequestRecord) {
        if self.log.len() >= LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(r);
    }
}

pub(crate) type Shared = Arc<Mutex<World>>;

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, World> {
    // A poisoned lock only means a panicking handler thread; the store is still consistent
    // because every mutation is validated before it is applied.
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

fn respond(status: StatusCode, body: &Value, headers: &[(&'static str, String)]) -> Response {
    let mut builder = Response::builder().status(status);
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            builder = builder.header(*k, v);
        }
    }
    let body = if body.is_null() {
        Body::empty()
    } else {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
        Body::from(body.to_string())
    };
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

struct DelayedGuard<'a>(&'a Shared);

impl Drop for DelayedGuard<'_> {
    fn drop(&mut self) {
        let mut world = lock(self.0);
        world.delayed = world.delayed.saturating_sub(1);
    }
}

pub(crate) async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let (latency, clock) = {
        let mut world = lock(&shared);
        if !world.latency.is_zero() {
            world.delayed += 1;
        }
        (world.latency, world.store.clock().clone())
    };
    if !latency.is_zero() {
        // The guard also counts down when the client gives up and this future is dropped.
        let _delayed = DelayedGuard(&shared);
        clock.sleep(latency).await;
    }
    let mut world = lock(&shared);
    let access = token.and_then(|t| world.tokens.get(t).copied());
    let token_kind = match (token, access) {
        (None, _) => "none",
        (Some(_), None) => "invalid",
        (Some(_), Some(TokenAccess::ReadWrite)) => "read-write",
        (Some(_), Some(TokenAccess::ReadOnly)) => "read-only",
    };
    let path = uri.path().to_string();
    let result = serve(&mut world, &method, &uri, access, &raw);
    let (status, body) = match result {
        Ok(reply) => reply,
        Err(e) => {
            tracing::debug!(%method, %path, error = %e, "simulated hcloud request failed");
            (e.status, e.body())
        }
    };
    let record = RequestRecord {
        at: world.store.now_string(),
        method: method.to_string(),
        path,
        query: uri.query().map(str::to_string),
        status: status.as_u16(),
        token: token_kind,
    };
    world.record(record);
    let rate_headers = world.rate_headers();
    drop(world);
    respond(status, &body, &rate_headers)
}

fn serve(
    world: &mut World,
    method: &Method,
    uri: &Uri,
    access: Option<TokenAccess>,
    raw: &Bytes,
) -> Result<(StatusCode, Value), ApiError> {
    let rest = uri
        .path()
        .strip_prefix("/v1")
        .ok_or_else(ApiError::route_not_found)?;
    if world.outage {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "service temporarily unavailable",
        ));
    }
    let access = access.ok_or_else(ApiError::unauthorized)?;
    if !world.take() {
        return Err(ApiError::rate_limited(world.rate.limit));
    }
    let writes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if writes && access == TokenAccess::ReadOnly {
        return Err(ApiError::forbidden());
    }
    let body: Value = if raw.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(raw).map_err(ApiError::json_error)?
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let q = Query::parse(uri.query());
    dispatch(&mut world.store, method, &segments, &q, &body)
}
