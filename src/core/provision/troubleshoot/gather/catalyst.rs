//! Evidence from catalyst-api, taken as plain data (the JSON of `GET /deployments/{id}/events`,
//! a failed create, a subdomain check) so any catalyst client can feed it. A small reqwest
//! fetcher is included for the headless `diagnose`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::provision::troubleshoot::evidence::Evidence;

/// What a catalyst client knows about one deployment, as plain data.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CatalystSnapshot {
    /// The body of `GET /api/v1/deployments/{id}/events`: `{state, events, done}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Value>,
    /// The body of `GET /api/v1/deployments/{id}` when `/events` was not fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// Requests that failed: method, path, HTTP status, body.
    #[serde(default)]
    pub http_failures: Vec<HttpFailure>,
    /// The answer to a failed `POST /api/v1/deployments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_failure: Option<HttpFailure>,
    /// The body of `POST /api/v1/subdomains/check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdomain_check: Option<Value>,
    /// What the SSE stream did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamObservation>,
    /// catalyst-api log lines, when the caller has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpFailure {
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(default)]
    pub body: String,
}

/// The `done` frame of the SSE stream and how long after connecting it came.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamObservation {
    pub done_status: String,
    pub components: usize,
    pub after_secs: u64,
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Render a JSON `{"error","detail"}` body, or the text itself.
fn body_text(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) if v.is_object() => {
            let err = s(&v, "error").unwrap_or("");
            match s(&v, "detail") {
                Some(d) if !d.is_empty() => format!("{err}: {d}"),
                _ => err.to_string(),
            }
        }
        _ => body.trim().to_string(),
    }
}

impl CatalystSnapshot {
    /// Turn the snapshot into evidence lines; malformed parts are reported, never fatal.
    pub fn add_to(&self, ev: &mut Evidence) {
        if let Some(events) = &self.events {
            add_events_response(ev, events);
        } else if let Some(state) = &self.state {
            add_state(ev, state, "GET /api/v1/deployments/{id}");
        }
        for f in &self.http_failures {
            ev.push(
                "catalyst.http",
                format!(
                    "{} {} {} {}",
                    f.method,
                    f.path,
                    f.status,
                    body_text(&f.body)
                ),
                Some(format!("{} {}", f.method, f.path)),
            );
        }
        if self.events.is_some() || self.state.is_some() || !self.http_failures.is_empty() {
            ev.mark("catalyst.http");
        }
        if let Some(f) = &self.create_failure {
            ev.push(
                "catalyst.create",
                format!("{} {}", f.status, body_text(&f.body)),
                Some(format!("{} {}", f.method, f.path)),
            );
        }
        if let Some(c) = &self.subdomain_check {
            let available = c.get("available").and_then(Value::as_bool);
            match available {
                Some(a) => {
                    let mut line = format!("available={a}");
                    if let Some(r) = s(c, "reason") {
                        line.push_str(&format!(" reason={r}"));
                    }
                    if let Some(d) = s(c, "detail") {
                        line.push_str(&format!(": {d}"));
                    }
                    ev.push(
                        "pdm.check",
                        line,
                        Some("POST /api/v1/subdomains/check".into()),
                    );
                }
                None => ev.error("subdomain check answer has no boolean `available`"),
            }
        }
        if let Some(st) = &self.stream {
            ev.push(
                "catalyst.stream",
                format!(
                    "done status={} components={} after={}s",
                    st.done_status, st.components, st.after_secs
                ),
                Some("GET /api/v1/deployments/{id}/logs (SSE)".into()),
            );
        }
        if let Some(log) = &self.log {
            ev.mark("catalyst.log");
            for l in log {
                ev.push("catalyst.log", l.trim(), Some("catalyst-api log".into()));
            }
        }
    }
}

/// Lines from a deployment `State()` object.
pub fn add_state(ev: &mut Evidence, state: &Value, origin: &str) {
    let origin = Some(origin.to_string());
    if !state.is_object() {
        ev.error("deployment state is not a JSON object");
        return;
    }
    if let Some(status) = s(state, "status") {
        ev.push("catalyst.status", status, origin.clone());
    }
    ev.mark("catalyst.error");
    if let Some(err) = s(state, "error").filter(|e| !e.is_empty()) {
        ev.push("catalyst.error", err, origin.clone());
    }
    let result = state.get("result");
    ev.mark("catalyst.outcome");
    if let Some(o) = result
        .and_then(|r| s(r, "phase1Outcome"))
        .filter(|o| !o.is_empty())
    {
        ev.push("catalyst.outcome", o, origin.clone());
    }
    ev.mark("catalyst.component");
    let comps = state
        .get("componentStates")
        .or_else(|| result.and_then(|r| r.get("componentStates")))
        .and_then(Value::as_object);
    if let Some(map) = comps {
        for (id, st) in map {
            if let Some(st) = st.as_str() {
                ev.push("catalyst.component", format!("{id} {st}"), origin.clone());
            }
        }
    }
}

/// Lines from one event list (the `events` array of `/events`, or SSE messages).
pub fn add_events(ev: &mut Evidence, events: &[Value], origin: &str) {
    for src in [
        "catalyst.phase",
        "catalyst.tofu",
        "catalyst.watch",
        "catalyst.event",
    ] {
        ev.mark(src);
    }
    let origin = Some(origin.to_string());
    let mut malformed = 0usize;
    for e in events {
        let (Some(phase), Some(message)) = (s(e, "phase"), s(e, "message")) else {
            malformed += 1;
            continue;
        };
        let level = s(e, "level").unwrap_or("info");
        let component = s(e, "component").filter(|c| !c.is_empty());
        ev.push("catalyst.phase", phase, origin.clone());
        match (phase, component) {
            ("tofu", _) => ev.push("catalyst.tofu", message, origin.clone()),
            ("component", None) => ev.push("catalyst.watch", message, origin.clone()),
            _ => {}
        }
        let line = match component {
            Some(c) => format!("{phase} {level} {c}: {message}"),
            None => format!("{phase} {level}: {message}"),
        };
        ev.push("catalyst.event", line, origin.clone());
    }
    if malformed > 0 {
        ev.error(format!(
            "{malformed} deployment event(s) without phase/message were skipped"
        ));
    }
}

/// Lines from the body of `GET /api/v1/deployments/{id}/events`.
pub fn add_events_response(ev: &mut Evidence, body: &Value) {
    let id = body
        .get("state")
        .and_then(|s| s.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let origin = format!("GET /api/v1/deployments/{id}/events");
    let origin = origin.as_str();
    match body.get("state") {
        Some(state) => add_state(ev, state, origin),
        None => ev.error("/events answer has no `state`"),
    }
    match body.get("events").and_then(Value::as_array) {
        Some(events) => add_events(ev, events, origin),
        None => ev.error("/events answer has no `events` array"),
    }
}

/// Fetch `/events` of a deployment and add what it says (or how it failed) to `ev`. Returns
/// whether catalyst-api says the deployment's stream is closed (`done: true`).
pub async fn fetch(http: &reqwest::Client, api: &str, deployment: &str, ev: &mut Evidence) -> bool {
    let path = format!("/api/v1/deployments/{deployment}/events");
    let url = format!("{}{path}", api.trim_end_matches('/'));
    let mut snap = CatalystSnapshot::default();
    match http.get(&url).send().await {
        Ok(resp) => {
            let status = resp.status();
            let text = match resp.text().await {
                Ok(t) => t,
                Err(e) => {
                    ev.error(format!("GET {path}: reading the body failed: {e}"));
                    return false;
                }
            };
            if status.is_success() {
                match serde_json::from_str::<Value>(&text) {
                    Ok(v) => snap.events = Some(v),
                    Err(e) => ev.error(format!("GET {path}: answer is not JSON: {e}")),
                }
            } else {
                snap.http_failures.push(HttpFailure {
                    method: "GET".into(),
                    path,
                    status: status.as_u16(),
                    body: text,
                });
            }
        }
        Err(e) => ev.error(format!("GET {url}: {e}")),
    }
    let done = snap
        .events
        .as_ref()
        .and_then(|v| v.get("done"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    snap.add_to(ev);
    done
}

/// Watch the deployment's SSE stream the way the admin UI does, for at most `budget`: when the
/// `done` frame arrives, record its status, how many components the stream (and the final state)
/// named, and how long after connecting it came (runbook C14: "closes within seconds, zero
/// components"). A stream still open at the end of the budget records nothing.
pub async fn observe_stream(
    api: &str,
    deployment: &str,
    budget: std::time::Duration,
    ev: &mut Evidence,
) {
    use crate::provision::catalyst::CatalystClient;
    use crate::provision::catalyst::sse::StreamItem;
    let client = match CatalystClient::new(api) {
        Ok(c) => c,
        Err(e) => {
            ev.error(format!("catalyst-api client for {api}: {e}"));
            return;
        }
    };
    let started = std::time::Instant::now();
    let watch = async {
        let mut stream = client.open_stream(deployment, None).await?;
        let mut components = std::collections::BTreeSet::new();
        while let Some(item) = stream.next().await {
            match item {
                StreamItem::Event(e) => {
                    if let (Some(c), Some(_)) = (&e.component, &e.state) {
                        components.insert(c.clone());
                    }
                }
                StreamItem::Done(state) => {
                    components.extend(
                        state
                            .component_states()
                            .into_iter()
                            .flatten()
                            .map(|(k, _)| k.clone()),
                    );
                    return Ok(Some((state.status.clone(), components.len())));
                }
                _ => {}
            }
        }
        Ok::<_, crate::provision::catalyst::ClientError>(None)
    };
    match tokio::time::timeout(budget, watch).await {
        Ok(Ok(Some((done_status, components)))) => CatalystSnapshot {
            stream: Some(StreamObservation {
                done_status,
                components,
                after_secs: started.elapsed().as_secs(),
            }),
            ..Default::default()
        }
        .add_to(ev),
        Ok(Ok(None)) => ev.error(format!(
            "GET /api/v1/deployments/{deployment}/logs ended without a done frame"
        )),
        Ok(Err(e)) => ev.error(format!("GET /api/v1/deployments/{deployment}/logs: {e}")),
        Err(_) => {}
    }
}

/// Lines of catalyst-api's log worth keeping as evidence: warnings and errors only (the rest is
/// noise, and less of the log leaves the cluster).
fn interesting(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    l.contains("level=warn")
        || l.contains("level=error")
        || l.contains("\"level\":\"warn")
        || l.contains("\"level\":\"error")
        || l.contains("error")
        || l.contains("failed")
}

/// Tail catalyst-api's log on the mothership cluster (pods `app.kubernetes.io/name=catalyst-api`
/// in `namespace`, as `scripts/operator-recover-sovereign.sh` finds them) into `catalyst.log`.
pub async fn tail_logs(client: &kube::Client, namespace: &str, tail: i64, ev: &mut Evidence) {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, ListParams, LogParams};
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = match pods
        .list(&ListParams::default().labels("app.kubernetes.io/name=catalyst-api"))
        .await
    {
        Ok(l) => l,
        Err(e) => {
            ev.error(format!("listing catalyst-api pods in {namespace}: {e}"));
            return;
        }
    };
    let running = list
        .items
        .iter()
        .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
    let Some(name) = running.and_then(|p| p.metadata.name.clone()) else {
        ev.error(format!("no Running catalyst-api pod in {namespace}"));
        return;
    };
    let lp = LogParams {
        tail_lines: Some(tail),
        ..Default::default()
    };
    match pods.logs(&name, &lp).await {
        Ok(text) => {
            ev.mark("catalyst.log");
            for line in text.lines().filter(|l| interesting(l)) {
                ev.push(
                    "catalyst.log",
                    line.trim(),
                    Some(format!("{namespace}/{name} log")),
                );
            }
        }
        Err(e) => ev.error(format!("reading the log of {namespace}/{name}: {e}")),
    }
}

/// Ask catalyst-api whether the FQDN's subdomain is free in its pool
/// (`POST /api/v1/subdomains/check`, always 200 with `available` + `reason`).
pub async fn check_subdomain(http: &reqwest::Client, api: &str, fqdn: &str, ev: &mut Evidence) {
    let Some((sub, pool)) = fqdn.split_once('.') else {
        ev.error(format!("{fqdn}: not a pool FQDN (<sub>.<pool>)"));
        return;
    };
    let path = "/api/v1/subdomains/check";
    let url = format!("{}{path}", api.trim_end_matches('/'));
    let body = serde_json::json!({ "subdomain": sub, "poolDomain": pool });
    let mut snap = CatalystSnapshot::default();
    match http.post(&url).json(&body).send().await {
        Ok(resp) => {
            let status = resp.status();
            match resp.text().await {
                Ok(text) => match serde_json::from_str::<Value>(&text) {
                    Ok(v) if v.get("available").is_some() => snap.subdomain_check = Some(v),
                    _ => snap.http_failures.push(HttpFailure {
                        method: "POST".into(),
                        path: path.into(),
                        status: status.as_u16(),
                        body: text,
                    }),
                },
                Err(e) => ev.error(format!("POST {path}: reading the body failed: {e}")),
            }
        }
        Err(e) => ev.error(format!("POST {url}: {e}")),
    }
    snap.add_to(ev);
}
