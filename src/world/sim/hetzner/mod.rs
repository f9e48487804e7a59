//! Simulated Hetzner Cloud API (/v1) with labels, pagination, rate limits and the linger quirk.
//!
//! `HetznerSim::start` binds 127.0.0.1:0 and serves the API that the `hcloud` crate, the `hcloud`
//! CLI and python-hcloud talk to. `HetznerControl` is the Rust side for tests and the simulated
//! world: tokens, rate budget, linger, action duration, project limits, failing actions, the
//! request log, direct object access and a snapshot of the whole project. `sovereign` creates
//! what a Phase-0 apply leaves behind (contract §5.3); `faults` turns scenario data into knobs.
//!
//! Behaviour worth knowing (all on `SimClock`, so tests advance time instead of sleeping):
//! * Actions start `running` and turn `success` (or `error`, see `fail_actions`) after their
//!   simulated duration; server creation takes four action durations, then the server is
//!   `running` (or `off` with `start_after_create: false`).
//! * DELETE answers success at once, but the object stays listed, gettable and keeps its name
//!   (so re-creating it is a `uniqueness_error`) for the linger time; then it and every
//!   reference to it vanish. A second DELETE during the window succeeds again.
//! * A server's auto-created primary IPs are named `primary_ip-<id>`, carry no labels and are
//!   deleted with the server (`auto_delete`), so a label-selector purge never sees them.
//! * Firewalls still applied to a live server refuse deletion (`resource_in_use`); servers that
//!   are being deleted do not count, so the recovery order servers → … → firewalls works.
//! * Errors use the real dialect `{"error":{"code","message","details"}}`: 401 `unauthorized`,
//!   403 `forbidden` (read-only token writing), 403 `resource_limit_exceeded`, 404 `not_found`,
//!   409 `uniqueness_error`, 400 `invalid_input`/`json_error`, 429 `rate_limit_exceeded`.
//!   Every response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.
//! * Knobs for scenarios: `set_outage` (503 `unavailable`), `set_latency` (simulated time per
//!   request), `set_limit` (project limits), `fail_actions`, tokens, rate budget, linger.
//! * Time-driven changes are applied lazily on the next request, so an idle simulator uses no
//!   CPU. Not simulated: certificates, ISOs, placement groups, metrics, storage boxes, DNS zones.

mod body;
pub mod catalog;
mod error;
pub mod faults;
mod firewalls;
mod http;
mod ips;
pub mod labels;
mod load_balancers;
mod networks;
mod query;
mod routes;
mod servers;
pub mod sovereign;
mod ssh_keys;
mod store;
mod volumes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::task::JoinHandle;

pub use axum::http::Method;
pub use error::ApiError;
pub use http::{RateBudget, RequestRecord, TokenAccess};
pub use ssh_keys::fingerprint as ssh_key_fingerprint;
pub use store::Kind;

use crate::sim::clock::SimClock;

/// The project the simulated Hetzner API stands for (what a create body names as its project).
pub const PROJECT_ID: &str = "sim-project";
/// The read-write token of a default simulator (64 characters, like a real project token, so
/// catalyst-api's length check accepts it).
pub const DEFAULT_TOKEN: &str = "simrwtokensimrwtokensimrwtokensimrwtokensimrwtokensimrwtoken0001";
/// A read-only token of a default simulator: passes validation, fails every write with 403.
pub const DEFAULT_READONLY_TOKEN: &str =
    "simrotokensimrotokensimrotokensimrotokensimrotokensimrotoken0001";

#[derive(Debug, Clone)]
pub struct HetznerSimConfig {
    pub tokens: Vec<(String, TokenAccess)>,
    pub rate_budget: RateBudget,
    /// How long a deleted object stays listed after DELETE answered success.
    pub linger: Duration,
    /// Simulated duration of an ordinary action (server creation takes four times as long).
    pub action_duration: Duration,
}

impl Default for HetznerSimConfig {
    fn default() -> Self {
        let settings = store::StoreSettings::default();
        HetznerSimConfig {
            tokens: vec![
                (DEFAULT_TOKEN.to_string(), TokenAccess::ReadWrite),
                (DEFAULT_READONLY_TOKEN.to_string(), TokenAccess::ReadOnly),
            ],
            rate_budget: RateBudget::default(),
            linger: settings.linger,
            action_duration: settings.action_duration,
        }
    }
}

/// A running simulated Hetzner Cloud API; the server stops when this is dropped.
pub struct HetznerSim {
    addr: SocketAddr,
    control: HetznerControl,
    task: JoinHandle<()>,
}

impl HetznerSim {
    /// Bind 127.0.0.1:0 and start serving.
    pub async fn start(config: HetznerSimConfig, clock: SimClock) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener, config, clock)
    }

    /// Serve on an already bound listener (for a world that picks its own ports).
    pub fn serve(
        listener: tokio::net::TcpListener,
        config: HetznerSimConfig,
        clock: SimClock,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let store = store::Store::new(
            clock,
            store::StoreSettings {
                linger: config.linger,
                action_duration: config.action_duration,
                limits: Default::default(),
            },
        );
        let tokens: HashMap<String, TokenAccess> = config.tokens.into_iter().collect();
        let shared: http::Shared = Arc::new(Mutex::new(http::World::new(
            store,
            tokens,
            config.rate_budget,
        )));
        let app = axum::Router::new()
            .fallback(http::handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulated Hetzner API stopped");
            }
        });
        tracing::info!(%addr, "simulated Hetzner API listening");
        Ok(HetznerSim {
            addr,
            control: HetznerControl { shared },
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API root to give clients, e.g. `HCLOUD_ENDPOINT`: `http://127.0.0.1:P/v1`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn control(&self) -> HetznerControl {
        self.control.clone()
    }

    /// An `hcloud` crate configuration pointed at this simulator.
    pub fn hcloud_configuration(&self, token: &str) -> hcloud::apis::configuration::Configuration {
        hcloud_configuration(&self.endpoint(), token)
    }
}

impl Drop for HetznerSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An `hcloud` crate configuration for any endpoint (hcloud 0.26 has no base-path field; the
/// default root is remapped instead).
pub fn hcloud_configuration(
    endpoint: &str,
    token: &str,
) -> hcloud::apis::configuration::Configuration {
    let mut cfg = hcloud::apis::configuration::Configuration::new();
    cfg.base_path_mapping.insert(
        "https://api.hetzner.cloud/v1".into(),
        endpoint.trim_end_matches('/').to_string(),
    );
    cfg.bearer_access_token = Some(token.to_string());
    cfg
}

/// Control and inspection of a running simulator, cheap to clone.
#[derive(Clone)]
pub struct HetznerControl {
    shared: http::Shared,
}

impl HetznerControl {
    fn world(&self) -> std::sync::MutexGuard<'_, http::World> {
        http::lock(&self.shared)
    }

    pub fn add_token(&self, token: &str, access: TokenAccess) {
        self.world().tokens.insert(token.to_string(), access);
    }

    pub fn revoke_token(&self, token: &str) {
        self.world().tokens.remove(token);
    }

    /// Replace the request budget; the bucket starts full.
    pub fn set_rate_budget(&self, budget: RateBudget) {
        self.world().set_rate(budget);
    }

    /// Simulate an API outage: every request answers 503 `unavailable` until lifted.
    pub fn set_outage(&self, down: bool) {
        self.world().outage = down;
    }

    /// Make every request take this much simulated time before it is answered.
    pub fn set_latency(&self, latency: Duration) {
        self.world().latency = latency;
    }

    /// How many requests are being held back by the latency knob right now.
    pub fn delayed_requests(&self) -> usize {
        self.world().delayed
    }

    pub fn set_linger(&self, linger: Duration) {
        self.world().store.settings.linger = linger;
    }

    /// Project limit for a kind (Hetzner: typically 10 servers, 1 load balancer); creating one
    /// more answers 403 `resource_limit_exceeded`. `None` lifts the limit.
    pub fn set_limit(&self, kind: Kind, limit: Option<usize>) {
        let mut world = self.world();
        match limit {
            Some(n) => world.store.settings.limits.insert(kind, n),
            None => world.store.settings.limits.remove(&kind),
        };
    }

    pub fn set_action_duration(&self, d: Duration) {
        self.world().store.settings.action_duration = d;
    }

    /// How long (simulated) an action takes now; a server's create takes four times that.
    pub fn action_duration(&self) -> Duration {
        self.world().store.settings.action_duration
    }

    /// Make every future action with this `command` (e.g. `create_server`) end in `error`
    /// with the given Hetzner error code and message; `None` heals it again.
    pub fn fail_actions(&self, command: &str, error: Option<(&str, &str)>) {
        let mut world = self.world();
        match error {
            Some((code, message)) => {
                world
                    .store
                    .failing
                    .insert(command.to_string(), (code.to_string(), message.to_string()));
            }
            None => {
                world.store.failing.remove(command);
            }
        }
    }

    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.world().log.iter().cloned().collect()
    }

    pub fn clear_request_log(&self) {
        self.world().log.clear();
    }

    /// Perform an API call without auth or rate limiting (scenario setup from Rust).
    /// `path` is relative to `/v1` and may carry a query, e.g. `servers?label_selector=a=b`.
    pub fn request(&self, method: Method, path: &str, body: Value) -> Result<Value, ApiError> {
        let uri: axum::http::Uri = format!("/v1/{}", path.trim_start_matches('/'))
            .parse()
            .map_err(|_| ApiError::route_not_found())?;
        let segments: Vec<&str> = uri
            .path()
            .trim_start_matches("/v1")
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let q = query::Query::parse(uri.query());
        let body = if body.is_null() {
            Value::Object(Map::new())
        } else {
            body
        };
        let mut world = self.world();
        routes::dispatch(&mut world.store, &method, &segments, &q, &body).map(|(_, v)| v)
    }

    /// The user data server `id` was created with (as the machine sees it; never in the API).
    pub fn user_data(&self, id: i64) -> Option<String> {
        self.world().store.user_data.get(&id).cloned()
    }

    /// Create an object; `body` is the API's create body. Returns the created object.
    pub fn create(&self, kind: Kind, body: Value) -> Result<Value, ApiError> {
        let mut reply = self.request(Method::POST, kind.path(), body)?;
        Ok(reply[kind.singular()].take())
    }

    pub fn get(&self, kind: Kind, id: i64) -> Result<Value, ApiError> {
        let mut reply = self.request(Method::GET, &format!("{}/{id}", kind.path()), Value::Null)?;
        Ok(reply[kind.singular()].take())
    }

    /// Every object of a kind (lingering ones included), optionally filtered by a label selector.
    pub fn list(&self, kind: Kind, label_selector: Option<&str>) -> Result<Vec<Value>, ApiError> {
        let sel = label_selector
            .map(labels::LabelSelector::parse)
            .transpose()
            .map_err(|e| ApiError::invalid_input("label_selector", e))?;
        let mut world = self.world();
        world.store.settle();
        Ok(world
            .store
            .list(kind)
            .into_iter()
            .filter(|o| sel.as_ref().is_none_or(|s| s.matches_json(o.get("labels"))))
            .collect())
    }

    pub fn delete(&self, kind: Kind, id: i64) -> Result<(), ApiError> {
        self.request(
            Method::DELETE,
            &format!("{}/{id}", kind.path()),
            Value::Null,
        )
        .map(|_| ())
    }

    /// Run a named action, e.g. `(Kind::Server, id, "poweroff", json!({}))`.
    pub fn action(&self, kind: Kind, id: i64, name: &str, body: Value) -> Result<Value, ApiError> {
        self.request(
            Method::POST,
            &format!("{}/{id}/actions/{name}", kind.path()),
            body,
        )
    }

    /// All objects by collection name (`servers`, `networks`, …) plus `actions`.
    pub fn snapshot(&self) -> Value {
        let mut world = self.world();
        world.store.settle();
        let mut out = Map::new();
        for kind in Kind::ALL {
            out.insert(
                kind.path().to_string(),
                Value::Array(world.store.list(kind)),
            );
        }
        out.insert(
            "actions".into(),
            Value::Array(world.store.actions_for(None, None)),
        );
        Value::Object(out)
    }
}
