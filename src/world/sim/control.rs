//! The world's control API, for tests and for operators rehearsing a bad day: skip time, take an
//! apiserver down / restart it / slow it / make it answer 401, compact watch history, read the
//! request logs. Plain HTTP + JSON on loopback, so a test in any language can drive it.
//!
//! | route | effect |
//! |---|---|
//! | `GET  /` | the world clock (`now`, `elapsed_seconds`, `speed`, `paused`) and the clusters |
//! | `POST /advance?seconds=N` | skip simulated time |
//! | `POST /clusters/{name}/down`, `/up` | close / reopen the apiserver's port |
//! | `POST /clusters/{name}/restart?keep_history=BOOL` | new listener, same port |
//! | `POST /clusters/{name}/latency?ms=N` | answer every request N ms late |
//! | `POST /clusters/{name}/unauthorized?on=BOOL` | answer 401 (expired credentials) |
//! | `POST /clusters/{name}/compact` | compact watch history: watchers get an in-stream 410 |
//! | `GET  /clusters/{name}/requests` | the apiserver's request log |
//! | `GET  /hetzner/requests` | the Hetzner API's request log |
//! | `GET  /hetzner/snapshot` | every object in the Hetzner project |

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::clock::SimClock;
use super::hetzner::HetznerControl;
use super::kube::{KubeSim, SimCluster};

#[derive(Clone)]
pub struct Targets {
    pub clock: SimClock,
    pub kube: KubeSim,
    pub hetzner: HetznerControl,
}

pub struct ControlServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ControlServer {
    /// Serve on `listen` (e.g. `127.0.0.1:0`).
    pub async fn start(listen: &str, targets: Targets) -> std::io::Result<ControlServer> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/", get(overview))
            .route("/advance", post(advance))
            .route("/clusters/{name}/{action}", post(cluster_action))
            .route("/clusters/{name}/requests", get(cluster_requests))
            .route("/hetzner/requests", get(hetzner_requests))
            .route("/hetzner/snapshot", get(hetzner_snapshot))
            .with_state(targets);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("control API stopped: {e}");
            }
        });
        Ok(ControlServer { addr, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

type Params = Query<HashMap<String, String>>;

/// A refused control request: small enough to travel in a `Result`.
type Rejection = (StatusCode, Json<serde_json::Value>);

fn bad_request(msg: String) -> Rejection {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg})))
}

/// Booleans the way Kubernetes parses them (Go's ParseBool), so `?on=True` works from Python.
fn parse_bool(params: &HashMap<String, String>, key: &str) -> Result<Option<bool>, Rejection> {
    match params.get(key).map(String::as_str) {
        None => Ok(None),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(Some(true)),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(Some(false)),
        Some(other) => Err(bad_request(format!("{key}={other} is not a boolean"))),
    }
}

fn parse_f64(params: &HashMap<String, String>, key: &str) -> Result<f64, Rejection> {
    let raw = params
        .get(key)
        .ok_or_else(|| bad_request(format!("missing ?{key}=")))?;
    raw.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| bad_request(format!("{key}={raw} is not a non-negative number")))
}

async fn overview(State(t): State<Targets>) -> Json<serde_json::Value> {
    let clusters: Vec<_> = t
        .kube
        .clusters()
        .iter()
        .map(|c| json!({"name": c.name(), "url": c.url(), "up": c.is_up()}))
        .collect();
    Json(json!({
        "now": t.clock.now(),
        "elapsed_seconds": t.clock.elapsed().as_secs_f64(),
        "speed": t.clock.speed(),
        "paused": t.clock.is_paused(),
        "clusters": clusters,
    }))
}

async fn advance(State(t): State<Targets>, Query(q): Params) -> Response {
    match parse_f64(&q, "seconds") {
        Ok(secs) => {
            t.clock.advance(Duration::from_secs_f64(secs));
            Json(json!({"elapsed_seconds": t.clock.elapsed().as_secs_f64()})).into_response()
        }
        Err(r) => r.into_response(),
    }
}

fn cluster(t: &Targets, name: &str) -> Result<SimCluster, Rejection> {
    t.kube.cluster(name).ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no cluster named {name}")})),
        )
    })
}

async fn cluster_action(
    State(t): State<Targets>,
    Path((name, action)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let c = match cluster(&t, &name) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let outcome: Result<(), Rejection> = async {
        match action.as_str() {
            "down" => c.down(),
            "up" => c.up().await.map_err(|e| bad_request(e.to_string()))?,
            "restart" => {
                let keep = parse_bool(&q, "keep_history")?.unwrap_or(false);
                c.restart(keep)
                    .await
                    .map_err(|e| bad_request(e.to_string()))?
            }
            "latency" => c.set_latency(Duration::from_secs_f64(parse_f64(&q, "ms")? / 1000.0)),
            "unauthorized" => c.set_unauthorized(parse_bool(&q, "on")?.unwrap_or(true)),
            "compact" => c.compact_history(),
            other => return Err(bad_request(format!("unknown cluster action '{other}'"))),
        }
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => Json(json!({"cluster": name, "action": action, "up": c.is_up()})).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn cluster_requests(State(t): State<Targets>, Path(name): Path<String>) -> Response {
    match cluster(&t, &name) {
        Ok(c) => Json(json!(c.request_log())).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn hetzner_requests(State(t): State<Targets>) -> Json<serde_json::Value> {
    Json(json!(t.hetzner.request_log()))
}

async fn hetzner_snapshot(State(t): State<Targets>) -> Json<serde_json::Value> {
    Json(t.hetzner.snapshot())
}
