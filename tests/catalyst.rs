//! The real catalyst client (reqwest, SSE reader, fold) and the `deploy` CLI against the simulated
//! catalyst-api and PDM over loopback. Hetzner is a small HTTP stand-in served here (the full
//! `sim::hetzner` is assembled with this simulator by the world); it speaks the same wire shapes
//! the timeline needs: bearer tokens (read-write / read-only / bad), create, list by label.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use sovtui::provision::catalyst::sse::{SseParser, StreamItem, decode};
use sovtui::provision::catalyst::{
    CatalystClient, DeploymentFold, ErrorBody, FollowOptions, PdmClient, follow,
};
use sovtui::provision::wizard::{DeploymentRequest, RegionRequest};
use sovtui::sim::catalyst::{
    CatalystSim, CatalystSimConfig, ClusterFactory, NamingVariant, Phase1Race,
};
use sovtui::sim::clock::SimClock;

const RW: &str = "rwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrwrw";
const RO: &str = "roroororoororoororoororoororoororoororoororoororoororoororoororo";
const TIMEOUT: Duration = Duration::from_secs(60);

// ---- a minimal Hetzner stand-in -------------------------------------------------------------

#[derive(Default)]
struct Cloud {
    objects: BTreeMap<String, Vec<Value>>,
    next_id: i64,
}

type CloudRef = Arc<Mutex<Cloud>>;

fn herr(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn auth(headers: &HeaderMap) -> Option<&'static str> {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(v) if v == format!("Bearer {RW}") => Some("rw"),
        Some(v) if v == format!("Bearer {RO}") => Some("ro"),
        _ => None,
    }
}

async fn hz_list(
    State(cloud): State<CloudRef>,
    Path(kind): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if auth(&headers).is_none() {
        return herr(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unable to authenticate",
        );
    }
    let cloud = cloud.lock().unwrap();
    let items: Vec<Value> = cloud
        .objects
        .get(&kind)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(
            |o| match q.get("label_selector").and_then(|s| s.split_once('=')) {
                Some((k, v)) => o["labels"][k] == json!(v),
                None => true,
            },
        )
        .collect();
    let n = items.len();
    axum::Json(json!({kind: items, "meta": {"pagination": {"page": 1, "per_page": 50, "total_entries": n}}}))
        .into_response()
}

async fn hz_create(
    State(cloud): State<CloudRef>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    axum::Json(mut body): axum::Json<Value>,
) -> Response {
    match auth(&headers) {
        None => {
            return herr(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "unable to authenticate",
            );
        }
        Some("ro") => {
            return herr(
                StatusCode::FORBIDDEN,
                "forbidden",
                "insufficient permissions for this request",
            );
        }
        _ => {}
    }
    let mut cloud = cloud.lock().unwrap();
    let name = body["name"].clone();
    if cloud
        .objects
        .get(&kind)
        .is_some_and(|l| l.iter().any(|o| o["name"] == name))
    {
        return herr(
            StatusCode::CONFLICT,
            "uniqueness_error",
            "name is already used",
        );
    }
    cloud.next_id += 1;
    let id = cloud.next_id;
    body["id"] = json!(id);
    body["public_net"] = json!({"ipv4": {"ip": format!("203.0.113.{id}")}});
    cloud
        .objects
        .entry(kind.clone())
        .or_default()
        .push(body.clone());
    let singular = kind.trim_end_matches('s').to_string();
    (
        StatusCode::CREATED,
        axum::Json(json!({singular: body, "action": {"id": id, "status": "running"}})),
    )
        .into_response()
}

/// The provider waits for a create's action; the stand-in's actions finish at once.
async fn hz_action(Path(id): Path<i64>) -> Response {
    axum::Json(json!({"action": {"id": id, "status": "success", "progress": 100}})).into_response()
}

async fn hz_delete(
    State(cloud): State<CloudRef>,
    Path((kind, id)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Response {
    match auth(&headers) {
        None => {
            return herr(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "unable to authenticate",
            );
        }
        Some("ro") => {
            return herr(
                StatusCode::FORBIDDEN,
                "forbidden",
                "insufficient permissions for this request",
            );
        }
        _ => {}
    }
    let mut cloud = cloud.lock().unwrap();
    let list = cloud.objects.entry(kind).or_default();
    let before = list.len();
    list.retain(|o| o["id"] != json!(id));
    if list.len() == before {
        return herr(StatusCode::NOT_FOUND, "not_found", "resource not found");
    }
    axum::Json(json!({"action": {"id": id, "status": "success"}})).into_response()
}

async fn start_cloud() -> (String, CloudRef) {
    let cloud: CloudRef = Arc::default();
    let app = Router::new()
        .route("/v1/{kind}", get(hz_list).post(hz_create))
        .route("/v1/{kind}/{id}", axum::routing::delete(hz_delete))
        .route("/v1/actions/{id}", get(hz_action))
        .with_state(cloud.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}/v1"), cloud)
}

// ---- a minimal Kubernetes stand-in: HelmRelease list + watch, driven like Flux -------------

/// One cluster serving `helmreleases` in `flux-system` (list with resourceVersion, then a chunked
/// watch stream), whose releases move through a scripted sequence of Ready conditions once a
/// watch is connected — so the catalyst Phase-1 watch derives states from real kube-rs traffic.
struct KubeStandIn {
    objects: Mutex<BTreeMap<String, Value>>,
    history: Mutex<Vec<(u64, Value)>>,
    rv: tokio::sync::watch::Sender<u64>,
    watching: tokio::sync::Notify,
    tailing: tokio::sync::Notify,
    /// helm-controller's log, one JSON line per reconcile step.
    log: Mutex<Vec<String>>,
}

type KubeRef = Arc<KubeStandIn>;

fn hr(name: &str, deps: &[&str]) -> Value {
    let deps: Vec<Value> = deps.iter().map(|d| json!({"name": d})).collect();
    json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "flux-system", "resourceVersion": "1"},
        "spec": {"dependsOn": deps, "interval": "15m"}})
}

impl KubeStandIn {
    fn set_ready(&self, name: &str, status: &str, reason: &str, message: &str) {
        let mut objs = self.objects.lock().unwrap();
        let rv = *self.rv.borrow() + 1;
        let o = objs.get_mut(name).unwrap();
        o["metadata"]["resourceVersion"] = json!(rv.to_string());
        o["status"] = json!({"conditions": [{"type": "Ready", "status": status, "reason": reason,
            "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
        self.history
            .lock()
            .unwrap()
            .push((rv, json!({"type": "MODIFIED", "object": o.clone()})));
        let level = if reason == "InstallFailed" {
            "error"
        } else {
            "info"
        };
        let line = json!({"level": level, "msg": message,
            "HelmRelease": {"name": name, "namespace": "flux-system"}});
        self.log.lock().unwrap().push(line.to_string());
        self.rv.send_replace(rv);
    }
}

#[derive(serde::Deserialize)]
struct KubeQuery {
    watch: Option<String>,
    #[serde(rename = "resourceVersion")]
    resource_version: Option<String>,
}

async fn kube_hrs(State(k): State<KubeRef>, Query(q): Query<KubeQuery>) -> Response {
    if q.watch.as_deref() != Some("true") && q.watch.as_deref() != Some("1") {
        let items: Vec<Value> = k.objects.lock().unwrap().values().cloned().collect();
        let rv = *k.rv.borrow();
        return axum::Json(
            json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmReleaseList",
            "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
        )
        .into_response();
    }
    let from: u64 = q.resource_version.and_then(|r| r.parse().ok()).unwrap_or(0);
    k.watching.notify_one();
    axum::body::Body::from_stream(watch_lines(k, from)).into_response()
}

async fn kube_pods() -> Response {
    axum::Json(
        json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"},
        "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "helm-controller-5d8f", "namespace": "flux-system",
            "labels": {"app": "helm-controller"}}, "status": {"phase": "Running"}}]}),
    )
    .into_response()
}

/// `GET .../pods/helm-controller-5d8f/log?follow=true&tailLines=0`: only lines written from now on.
async fn kube_pod_log(State(k): State<KubeRef>) -> Response {
    let mut from = k.log.lock().unwrap().len();
    k.tailing.notify_one();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::convert::Infallible>>(64);
    tokio::spawn(async move {
        let mut changes = k.rv.subscribe();
        loop {
            changes.borrow_and_update();
            let lines: Vec<String> = k.log.lock().unwrap()[from..].to_vec();
            from += lines.len();
            for l in lines {
                if tx.send(Ok(format!("{l}\n"))).await.is_err() {
                    return;
                }
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    });
    axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)).into_response()
}

/// The watch body: every history entry newer than `from`, then each new one as it happens.
fn watch_lines(
    k: KubeRef,
    mut from: u64,
) -> impl futures::Stream<Item = Result<String, std::convert::Infallible>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::convert::Infallible>>(64);
    tokio::spawn(async move {
        let mut changes = k.rv.subscribe();
        loop {
            changes.borrow_and_update();
            let lines: Vec<(u64, String)> = k
                .history
                .lock()
                .unwrap()
                .iter()
                .filter(|(rv, _)| *rv > from)
                .map(|(rv, e)| (*rv, format!("{e}\n")))
                .collect();
            for (rv, l) in lines {
                from = rv;
                if tx.send(Ok(l)).await.is_err() {
                    return;
                }
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// The kit: cilium → cert-manager → flux; `flux_fails` makes the last one InstallFailed.
async fn start_kube(flux_fails: bool) -> (String, KubeRef) {
    let mut objects = BTreeMap::new();
    objects.insert("bp-cilium".to_string(), hr("bp-cilium", &[]));
    objects.insert(
        "bp-cert-manager".to_string(),
        hr("bp-cert-manager", &["bp-cilium"]),
    );
    objects.insert("bp-flux".to_string(), hr("bp-flux", &["bp-cert-manager"]));
    objects.insert("unrelated".to_string(), hr("unrelated", &[]));
    let (rv, _) = tokio::sync::watch::channel(1u64);
    let k: KubeRef = Arc::new(KubeStandIn {
        objects: Mutex::new(objects),
        history: Mutex::new(Vec::new()),
        rv,
        watching: tokio::sync::Notify::new(),
        tailing: tokio::sync::Notify::new(),
        log: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route(
            "/apis/helm.toolkit.fluxcd.io/v2/namespaces/flux-system/helmreleases",
            get(kube_hrs),
        )
        .route("/api/v1/namespaces/flux-system/pods", get(kube_pods))
        .route(
            "/api/v1/namespaces/flux-system/pods/helm-controller-5d8f/log",
            get(kube_pod_log),
        )
        .with_state(k.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let driver = k.clone();
    tokio::spawn(async move {
        // Flux starts once catalyst watches the releases and tails helm-controller.
        driver.watching.notified().await;
        driver.tailing.notified().await;
        let not_ready = "dependency 'flux-system/bp-cilium' is not ready";
        let steps: Vec<(&str, &str, &str, &str)> = vec![
            (
                "bp-cilium",
                "Unknown",
                "Progressing",
                "Reconciliation in progress",
            ),
            ("bp-cert-manager", "False", "DependencyNotReady", not_ready),
            (
                "bp-cilium",
                "True",
                "InstallSucceeded",
                "Helm install succeeded for release kube-system/cilium.v1",
            ),
            (
                "bp-cert-manager",
                "Unknown",
                "Progressing",
                "Reconciliation in progress",
            ),
            (
                "bp-cert-manager",
                "True",
                "InstallSucceeded",
                "Helm install succeeded for release cert-manager/cert-manager.v1",
            ),
            (
                "bp-flux",
                "Unknown",
                "Progressing",
                "Reconciliation in progress",
            ),
            if flux_fails {
                (
                    "bp-flux",
                    "False",
                    "InstallFailed",
                    "Helm install failed for release flux-system/flux: timed out waiting for the condition",
                )
            } else {
                (
                    "bp-flux",
                    "True",
                    "InstallSucceeded",
                    "Helm install succeeded for release flux-system/flux.v1",
                )
            },
        ];
        for (name, st, reason, msg) in steps {
            tokio::time::sleep(Duration::from_millis(20)).await;
            driver.set_ready(name, st, reason, msg);
        }
    });
    (format!("http://{addr}"), k)
}

/// The factory the world assembly provides with `sim::kube`; here backed by the stand-in.
struct StandInCluster {
    flux_fails: bool,
}

impl ClusterFactory for StandInCluster {
    fn create_cluster(
        &self,
        _fqdn: String,
        _kit: String,
    ) -> BoxFuture<'static, anyhow::Result<String>> {
        let flux_fails = self.flux_fails;
        Box::pin(async move {
            let (url, _k) = start_kube(flux_fails).await;
            Ok(format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {url}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"
            ))
        })
    }
}

// ---- helpers --------------------------------------------------------------------------------

/// A cluster whose apiserver never answers: the kubeconfig lands, the watch sees nothing.
struct DeadCluster;

impl ClusterFactory for DeadCluster {
    fn create_cluster(
        &self,
        _fqdn: String,
        _kit: String,
    ) -> BoxFuture<'static, anyhow::Result<String>> {
        Box::pin(async {
            // Bind and drop: a loopback port with nothing behind it.
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            Ok(format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"
            ))
        })
    }
}

fn request(sub: &str, token: &str) -> DeploymentRequest {
    DeploymentRequest {
        org_name: "Acme Financial".into(),
        org_email: "platform@acme.io".into(),
        sovereign_fqdn: format!("{sub}.omani.works"),
        sovereign_domain_mode: "pool".into(),
        sovereign_pool_domain: "omani.works".into(),
        sovereign_subdomain: sub.into(),
        hetzner_token: token.into(),
        hetzner_project_id: "proj_abc123".into(),
        regions: vec![RegionRequest {
            provider: "hetzner".into(),
            cloud_region: "fsn1".into(),
            control_plane_size: "cpx32".into(),
            worker_size: "cpx32".into(),
            worker_count: 1,
        }],
        ssh_public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0c3Rrzz4Ck2Vx3r8Z catalyst@test"
            .into(),
        ..Default::default()
    }
}

async fn world(
    speed: f64,
    tweak: impl FnOnce(&mut CatalystSimConfig),
) -> (CatalystSim, CatalystClient, CloudRef, SimClock) {
    let (hz, cloud) = start_cloud().await;
    let clock = SimClock::new(speed);
    let mut cfg = CatalystSimConfig::new(clock.clone(), hz);
    // At high speeds real-time overhead is multiplied too; keep reservations from lapsing
    // mid-run unless a test is about the TTL.
    cfg.pdm.reservation_ttl = Duration::from_secs(24 * 3600);
    tweak(&mut cfg);
    let sim = CatalystSim::start(cfg).await.unwrap();
    let client = CatalystClient::new(&sim.url()).unwrap();
    (sim, client, cloud, clock)
}

async fn follow_to_end(client: &CatalystClient, id: &str) -> DeploymentFold {
    let mut fold = DeploymentFold::new(id);
    let opts = FollowOptions {
        poll_interval: Duration::from_millis(50),
        ..Default::default()
    };
    tokio::time::timeout(TIMEOUT, follow(client, &mut fold, &opts, |_, _| {}))
        .await
        .expect("deployment reached a terminal state in time")
        .expect("follow succeeded");
    fold
}

// ---- tests ----------------------------------------------------------------------------------

#[tokio::test]
async fn create_streams_phase0_creates_named_resources_and_reports_a_missing_kubeconfig() {
    let (sim, client, cloud, _clock) = world(2000.0, |_| {}).await;
    let created = client.create_deployment(&request("t42", RW)).await.unwrap();
    assert_eq!(created.id.len(), 16);
    assert!(
        created
            .id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(created.status, "provisioning");
    assert_eq!(
        created.stream_url,
        format!("/api/v1/deployments/{}/logs", created.id)
    );

    let fold = follow_to_end(&client, &created.id).await;
    let markers: Vec<&str> = fold.markers.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        markers,
        [
            "tofu-init",
            "tofu-plan",
            "tofu-apply",
            "tofu-output",
            "flux-bootstrap"
        ]
    );
    assert!(fold.log.search("Apply complete! Resources: 7 added").len() == 1);
    // No cluster factory: cloud-init never posts back, Phase 1 fails per contract.
    let state = fold.state.clone().unwrap();
    assert_eq!(state.status, "failed");
    assert_eq!(
        state.result.as_ref().unwrap().phase1_outcome.as_deref(),
        Some("kubeconfig-missing")
    );
    assert!(fold.phase0_failure().is_none(), "Phase 0 itself succeeded");
    assert!(
        fold.banners
            .iter()
            .any(|b| b.level == "error" && b.message.starts_with("Phase-1 watch could not start"))
    );
    assert!(
        state
            .result
            .as_ref()
            .unwrap()
            .load_balancer_ip
            .starts_with("203.0.113.")
    );

    // Hetzner got the §5.3 names and labels.
    let names: Vec<String> = {
        let c = cloud.lock().unwrap();
        c.objects
            .values()
            .flatten()
            .map(|o| o["name"].as_str().unwrap().to_string())
            .collect()
    };
    for n in [
        "catalyst-t42-omani-works-net",
        "catalyst-t42-omani-works-fw",
        "catalyst-t42-omani-works",
        "catalyst-t42-omani-works-cp1",
        "catalyst-t42-omani-works-w1",
        "catalyst-t42-omani-works-lb",
    ] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }
    {
        let c = cloud.lock().unwrap();
        for o in c.objects.values().flatten() {
            assert_eq!(
                o["labels"]["catalyst.openova.io/sovereign"],
                "t42.omani.works"
            );
        }
        let cp = c.objects["servers"]
            .iter()
            .find(|s| s["name"] == "catalyst-t42-omani-works-cp1")
            .unwrap();
        assert_eq!(cp["labels"]["catalyst.openova.io/role"], "control-plane");
    }

    // PDM: committed right after flux-bootstrap with the LB IP in six A records.
    let (st, records) = sim.pdm().unwrap().row("omani.works", "t42").unwrap();
    assert_eq!(st, "active");
    assert_eq!(records.len(), 6);

    // No kubeconfig was captured: 409 JSON not-implemented.
    let e = client.kubeconfig(&created.id).await.unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert_eq!(e.slug(), Some("not-implemented"));

    // list and GET agree.
    let all = client.list_deployments().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0], client.deployment(&created.id).await.unwrap());
}

#[tokio::test]
async fn runbook_naming_variant_is_used_when_configured() {
    let (_sim, client, cloud, _clock) = world(2000.0, |c| c.naming = NamingVariant::Runbook).await;
    let created = client.create_deployment(&request("rb1", RW)).await.unwrap();
    follow_to_end(&client, &created.id).await;
    let c = cloud.lock().unwrap();
    let names: Vec<&str> = c
        .objects
        .values()
        .flatten()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    for n in [
        "catalyst-rb1-omani-works-network",
        "catalyst-rb1-omani-works-ssh",
        "catalyst-rb1-omani-works-cp-1",
        "catalyst-rb1-omani-works-worker-1",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
}

#[tokio::test]
async fn reconnect_mid_stream_replays_everything_and_the_fold_deduplicates() {
    let (_sim, client, _cloud, _clock) = world(300.0, |_| {}).await;
    let created = client.create_deployment(&request("re1", RW)).await.unwrap();
    let mut fold = DeploymentFold::new(&created.id);

    // First connection: read until a few events arrived, then drop the connection.
    let url = client.url(&created.stream_url);
    let resp = reqwest::Client::new()
        .get(&url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.bytes_stream();
    let mut parser = SseParser::new();
    fold.begin_replay();
    let mut first = 0;
    tokio::time::timeout(TIMEOUT, async {
        while first < 5 {
            let chunk = body.next().await.expect("stream open").unwrap();
            for frame in parser.feed(&chunk) {
                assert!(frame.event.is_none(), "events are unnamed");
                if let StreamItem::Event(ev) = decode(&frame) {
                    assert!(fold.apply(ev));
                    first += 1;
                }
            }
        }
    })
    .await
    .unwrap();
    drop(body);

    // Reconnect through the library: full replay, duplicates dropped, then on to the end.
    let opts = FollowOptions {
        poll_interval: Duration::from_millis(50),
        ..Default::default()
    };
    tokio::time::timeout(TIMEOUT, follow(&client, &mut fold, &opts, |_, _| {}))
        .await
        .unwrap()
        .unwrap();
    assert!(
        fold.duplicates >= first as u64,
        "{} duplicates for {first} pre-read",
        fold.duplicates
    );
    let history = client.events(&created.id).await.unwrap();
    assert!(history.done);
    assert_eq!(
        fold.applied as usize,
        history.events.len(),
        "every buffered event applied exactly once"
    );

    // A second full replay changes nothing.
    let before = (fold.applied, fold.markers.clone());
    let mut again = 0;
    fold.begin_replay();
    for ev in history.events {
        if fold.apply(ev) {
            again += 1;
        }
    }
    assert_eq!(again, 0);
    assert_eq!(before, (fold.applied, fold.markers.clone()));
}

#[tokio::test]
async fn put_wins_race_closes_the_stream_early_and_polling_reaches_the_outcome() {
    let (_sim, client, _cloud, _clock) = world(1000.0, |c| {
        c.phase1_race = Phase1Race::PutWins;
        c.cluster_factory = Some(Arc::new(DeadCluster));
    })
    .await;
    let created = client.create_deployment(&request("pw1", RW)).await.unwrap();
    let mut fold = DeploymentFold::new(&created.id);
    let mut saw_polling = false;
    let mut done_statuses = Vec::new();
    let opts = FollowOptions {
        poll_interval: Duration::from_millis(50),
        ..Default::default()
    };
    tokio::time::timeout(
        TIMEOUT,
        follow(&client, &mut fold, &opts, |u, f| match u {
            sovtui::provision::catalyst::FollowUpdate::Polling => saw_polling = true,
            sovtui::provision::catalyst::FollowUpdate::State => {
                done_statuses.push(f.status().to_string())
            }
            _ => {}
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(saw_polling, "done with phase1-watching is not terminal");
    assert_eq!(
        done_statuses.first().map(String::as_str),
        Some("phase1-watching")
    );
    // The apiserver never answered: first-seen banner, then flux-not-reconciling → failed.
    assert!(fold.first_seen_warning);
    assert!(
        fold.banners
            .iter()
            .any(|b| b.message.contains("0 HelmReleases in 15m0s"))
    );
    let st = fold.state.as_ref().unwrap();
    assert_eq!(st.status, "failed");
    assert_eq!(
        st.result.as_ref().unwrap().phase1_outcome.as_deref(),
        Some("flux-not-reconciling")
    );
    // The kubeconfig was posted back through the bearer-protected PUT and can be fetched.
    let kc = client.kubeconfig(&created.id).await.unwrap();
    assert!(kc.yaml.contains("server: http://127.0.0.1:"));
    assert_eq!(
        kc.filename.as_deref(),
        Some("pw1.omani.works-kubeconfig.yaml")
    );
    let comps = client.components_state(&created.id).await.unwrap();
    assert!(!comps.watching);
}

#[tokio::test]
async fn tofu_wins_race_ends_ready_with_zero_components_and_offers_refresh_watch() {
    let (_sim, client, _cloud, _clock) = world(3000.0, |c| {
        c.phase1_race = Phase1Race::TofuWins;
        c.cluster_factory = Some(Arc::new(DeadCluster));
        // cloud-init far slower than the rest of Phase 0, so tofu wins even on a loaded machine
        c.timings.cloud_init = Duration::from_secs(3600);
    })
    .await;
    let created = client.create_deployment(&request("tw1", RW)).await.unwrap();
    let fold = follow_to_end(&client, &created.id).await;
    assert_eq!(fold.status(), "ready");
    assert!(
        fold.banners
            .iter()
            .any(|b| b.message.starts_with("Phase-1 watch skipped"))
    );
    // cloud-init posts later; then the state shows a kubeconfig and zero components.
    let id = created.id.clone();
    let state = tokio::time::timeout(TIMEOUT, async {
        loop {
            let s = client.deployment(&id).await.unwrap();
            if s.needs_refresh_watch() {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("kubeconfig arrived after ready");
    assert!(
        state
            .result
            .unwrap()
            .kubeconfig_path
            .unwrap()
            .ends_with(&format!("{id}.yaml"))
    );
}

#[tokio::test]
async fn read_only_token_validates_but_fails_at_apply_and_releases_the_name() {
    let (sim, client, _cloud, _clock) = world(2000.0, |_| {}).await;
    let v = client.validate_credentials("hetzner", RO).await.unwrap();
    assert!(v.valid, "a read-only token passes the GET probe");
    let bad = client
        .validate_credentials("hetzner", &"x".repeat(64))
        .await
        .unwrap();
    assert!(!bad.valid);
    assert!(bad.message.contains("token rejected"));
    let short = client
        .validate_credentials("hetzner", "short")
        .await
        .unwrap_err();
    assert_eq!(short.status(), Some(400));

    let created = client.create_deployment(&request("ro1", RO)).await.unwrap();
    let fold = follow_to_end(&client, &created.id).await;
    let failure = fold
        .phase0_failure()
        .expect("Phase-0 failure read from state");
    assert_eq!(failure.step.as_deref(), Some("tofu-apply"));
    assert!(
        fold.log
            .iter()
            .any(|l| l.level == "warn" && l.message.contains("(forbidden)"))
    );
    // no error-level events in Phase 0: the failure arrives via state
    assert!(fold.log.iter().all(|l| l.level != "error"));
    assert!(
        sim.pdm().unwrap().row("omani.works", "ro1").is_none(),
        "reservation released"
    );

    // Retry: still in-flight → 409; after the failure it re-runs and fails the same way.
    let r = client.retry_phase(&created.id, "tofu-apply").await.unwrap();
    assert_eq!(r.status, "provisioning");
    let e = client
        .retry_phase(&created.id, "tofu-plan")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409));
    let again = follow_to_end(&client, &created.id).await;
    assert_eq!(again.status(), "failed");
    assert!(
        again
            .log
            .iter()
            .any(|l| l.phase == "tofu-apply" && l.message.starts_with("Retry initiated"))
    );
    let manual = client.retry_phase(&created.id, "cilium").await.unwrap();
    assert_eq!(manual.status, "manual-retry-required");
    let unknown = client.retry_phase(&created.id, "nope").await.unwrap_err();
    assert_eq!(unknown.status(), Some(400));
}

#[tokio::test]
async fn invalid_variables_fail_at_plan_with_the_tofu_message() {
    let (_sim, client, _cloud, _clock) = world(2000.0, |_| {}).await;
    let mut req = request("pl1", RW);
    req.regions[0].control_plane_size = "m6i.xlarge".into();
    let created = client.create_deployment(&req).await.unwrap();
    let fold = follow_to_end(&client, &created.id).await;
    assert_eq!(
        fold.phase0_failure().unwrap().step.as_deref(),
        Some("tofu-plan")
    );
    assert!(fold.log.search("Invalid value for variable").len() == 1);
    assert!(
        fold.log
            .search("is not valid for variable \"control_plane_size\"")
            .len()
            == 1
    );
}

#[tokio::test]
async fn error_dialects_400_404_409_503() {
    let (sim, client, _cloud, _clock) = world(50.0, |_| {}).await;
    let http = reqwest::Client::new();
    // 400 text: malformed JSON
    let r = http
        .post(client.url("/api/v1/deployments"))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(r.text().await.unwrap().starts_with("invalid request body"));
    // 400 JSON: validation order
    let mut req = request("d1", RW);
    req.hetzner_project_id.clear();
    let e = client.create_deployment(&req).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(
        matches!(e.body(), Some(ErrorBody::Json { error, .. }) if error == "hetzner project ID is required")
    );
    // 404 text
    let e = client.deployment("0123456789abcdef").await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert_eq!(
        e.body(),
        Some(&ErrorBody::Text("deployment not found".into()))
    );
    let e = client
        .components_state("0123456789abcdef")
        .await
        .unwrap_err();
    assert_eq!(e.slug(), Some("deployment-not-found"));
    // 409: the name is held
    let first = client.create_deployment(&request("d1", RW)).await.unwrap();
    let e = client
        .create_deployment(&request("d1", RW))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert_eq!(e.slug(), Some("subdomain-conflict"));
    let check = client.check_subdomain("d1", "omani.works").await.unwrap();
    assert_eq!(
        (check.available, check.reason.as_deref()),
        (false, Some("reserved-state"))
    );
    let check = client.check_subdomain("1bad", "omani.works").await.unwrap();
    assert_eq!(check.reason.as_deref(), Some("invalid-format"));
    // 503: PDM down
    sim.pdm().unwrap().set_available(false);
    let e = client
        .create_deployment(&request("d2", RW))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(e.slug(), Some("pdm-unavailable"));
    let check = client.check_subdomain("d2", "omani.works").await.unwrap();
    assert_eq!(check.reason.as_deref(), Some("pdm-unavailable"));
    // retry while in flight: 409 JSON
    let e = client
        .retry_phase(&first.id, "tofu-init")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409));
}

#[tokio::test]
async fn pdm_conflict_and_reservation_ttl_on_the_sim_clock() {
    let (sim, _client, _cloud, clock) =
        world(1.0, |c| c.pdm.reservation_ttl = Duration::from_secs(600)).await;
    let pdm = PdmClient::new(&sim.pdm_url()).unwrap();
    let res = pdm.reserve("omani.works", "ttl1", "test").await.unwrap();
    assert_eq!(res.state, "reserved");
    let token = res.reservation_token.clone().unwrap();
    let e = pdm
        .reserve("omani.works", "ttl1", "test")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert_eq!(e.slug(), Some("conflict"));
    let e = pdm
        .reserve("omani.works", "admin", "test")
        .await
        .unwrap_err();
    assert_eq!(
        e.status(),
        Some(500),
        "reserved labels surface as a plain 500"
    );
    let e = pdm.reserve("example.org", "x1", "test").await.unwrap_err();
    assert_eq!(e.slug(), Some("unsupported-pool"));

    // The TTL (10m) elapses on the simulated clock: commit answers 410.
    clock.advance(Duration::from_secs(601));
    let e = pdm
        .commit(
            "omani.works",
            "ttl1",
            &token,
            "ttl1.omani.works",
            "203.0.113.9",
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(410));
    assert_eq!(e.slug(), Some("reservation-expired"));
    assert!(pdm.check("omani.works", "ttl1").await.unwrap().available);

    // A fresh reservation commits; a second commit is 409; wrong token is 403; release frees it.
    let res = pdm.reserve("omani.works", "ttl1", "test").await.unwrap();
    let e = pdm
        .commit(
            "omani.works",
            "ttl1",
            "wrong",
            "ttl1.omani.works",
            "203.0.113.9",
        )
        .await
        .unwrap_err();
    assert_eq!(e.slug(), Some("token-mismatch"));
    pdm.commit(
        "omani.works",
        "ttl1",
        res.reservation_token.as_deref().unwrap(),
        "ttl1.omani.works",
        "203.0.113.9",
    )
    .await
    .unwrap();
    let e = pdm
        .commit(
            "omani.works",
            "ttl1",
            "x",
            "ttl1.omani.works",
            "203.0.113.9",
        )
        .await
        .unwrap_err();
    assert_eq!(e.slug(), Some("already-active"));
    let check = pdm.check("omani.works", "ttl1").await.unwrap();
    assert_eq!(check.reason.as_deref(), Some("active-state"));
    assert_eq!(pdm.list("omani.works").await.unwrap().len(), 1);
    pdm.release("omani.works", "ttl1").await.unwrap();
    let e = pdm.release("omani.works", "ttl1").await.unwrap_err();
    assert_eq!(e.status(), Some(404));
}

#[tokio::test]
async fn sshkey_generate_returns_a_real_ed25519_pair() {
    let (_sim, client, _cloud, _clock) = world(50.0, |_| {}).await;
    let k = client.generate_ssh_key("t9.omani.works").await.unwrap();
    assert!(k.public_key.starts_with("ssh-ed25519 AAAA"));
    assert!(k.public_key.ends_with(" catalyst@t9.omani.works"));
    let private = ssh_key::PrivateKey::from_openssh(&k.private_key).unwrap();
    assert!(!private.is_encrypted());
    let public = ssh_key::PublicKey::from_openssh(&k.public_key).unwrap();
    assert_eq!(private.public_key().key_data(), public.key_data());
    assert_eq!(
        public.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
        k.fingerprint
    );
    let anon = client.generate_ssh_key("").await.unwrap();
    assert!(anon.public_key.ends_with(" catalyst"));
}

#[tokio::test]
async fn kubeconfig_put_checks_the_bearer() {
    let (_sim, client, _cloud, _clock) = world(1.0, |_| {}).await;
    let created = client.create_deployment(&request("kb1", RW)).await.unwrap();
    let http = reqwest::Client::new();
    let url = client.url(&format!("/api/v1/deployments/{}/kubeconfig", created.id));
    let r = http.put(&url).body("x").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .put(&url)
        .bearer_auth("0".repeat(64))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid-bearer");
    let r = http
        .put(client.url("/api/v1/deployments/ffffffffffffffff/kubeconfig"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

// ---- the headless CLI -----------------------------------------------------------------------

async fn sovtui(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .args(args)
        .env_remove("HCLOUD_TOKEN")
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn deploy_cli_create_watch_list() {
    let (_sim, client, _cloud, _clock) = world(2000.0, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let api = client.root().to_string();

    // A bad request: exit 2, every bad field named, nothing sent.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"orgName": "Acme", "orgEmail": "nope", "workerCount": -1, "sovereignDomainMode": "pool"}"#).unwrap();
    let (code, _, err) = sovtui(&[
        "deploy",
        "create",
        "--api",
        &api,
        "--from",
        bad.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 2, "{err}");
    for f in [
        "orgEmail",
        "workerCount",
        "sovereignFQDN: is required",
        "hetznerToken: is required",
        "hetznerProjectID: is required",
        "sshPublicKey: SSH public key is required",
        "region: is required",
        "sovereignSubdomain",
    ] {
        assert!(err.contains(f), "{f} named in: {err}");
    }
    assert!(client.list_deployments().await.unwrap().is_empty());
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "orgName = \"x\"\norgEmail = \n").unwrap();
    let (code, _, err) = sovtui(&[
        "deploy",
        "create",
        "--api",
        &api,
        "--from",
        broken.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("broken.toml:2"), "{err}");

    // A good TOML request.
    let good = dir.path().join("req.toml");
    std::fs::write(
        &good,
        format!(
            r#"
orgName = "Acme Financial"
orgEmail = "platform@acme.io"
sovereignFQDN = "cli1.omani.works"
sovereignDomainMode = "pool"
sovereignPoolDomain = "omani.works"
sovereignSubdomain = "cli1"
hetznerToken = "{RW}"
hetznerProjectID = "proj_abc123"
region = "fsn1"
controlPlaneSize = "cpx32"
workerSize = ""
workerCount = 0
haEnabled = false
sshPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKE3pPPp6pdfNnPZ2W4fOzZCMs3DGu5wQBvsHIzuT3c4 x"
"#
        ),
    )
    .unwrap();
    let (code, out, err) = sovtui(&[
        "deploy",
        "create",
        "--api",
        &api,
        "--from",
        good.to_str().unwrap(),
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(out.trim()).unwrap();
    let id = created["id"].as_str().unwrap().to_string();

    // The same name again: the conflict names the field, exit 2.
    let (code, _, err) = sovtui(&[
        "deploy",
        "create",
        "--api",
        &api,
        "--from",
        good.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("sovereignSubdomain"), "{err}");

    // watch --json is NDJSON ending in a final summary; no cluster → exit 1.
    let (code, out, err) = sovtui(&["deploy", "watch", "--api", &api, &id, "--json"]).await;
    assert_eq!(code, 1, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON line"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "event" && l["event"]["phase"] == "flux-bootstrap")
    );
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "final");
    assert_eq!(last["status"], "failed");
    assert_eq!(last["terminal"], true);

    let (code, out, _) = sovtui(&["deploy", "list", "--api", &api, "--json"]).await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["deployments"][0]["id"], id);

    let (code, _, err) = sovtui(&["deploy", "watch", "--api", &api, "ffffffffffffffff"]).await;
    assert_eq!(code, 2, "{err}");
}

// ---- Phase 1 from a live cluster -------------------------------------------------------------

#[tokio::test]
async fn phase1_is_derived_from_the_clusters_helmreleases_to_ready() {
    let (_sim, client, _cloud, _clock) = world(2000.0, |c| {
        c.cluster_factory = Some(Arc::new(StandInCluster { flux_fails: false }));
        c.min_bootstrap_kit_hrs = 3;
        c.watch_timeout = Duration::from_secs(1000 * 3600);
        c.first_seen_timeout = Duration::from_secs(100 * 3600);
    })
    .await;
    let created = client.create_deployment(&request("p1a", RW)).await.unwrap();
    let mut fold = DeploymentFold::new(&created.id);
    let mut seq: Vec<(String, String)> = Vec::new();
    let opts = FollowOptions {
        poll_interval: Duration::from_millis(50),
        ..Default::default()
    };
    tokio::time::timeout(
        TIMEOUT,
        follow(&client, &mut fold, &opts, |u, _| {
            if let sovtui::provision::catalyst::FollowUpdate::Event(ev) = u
                && ev.is_component_transition()
            {
                seq.push((ev.component.clone().unwrap(), ev.state.clone().unwrap()));
            }
        }),
    )
    .await
    .unwrap()
    .unwrap();
    let of = |c: &str| -> Vec<&str> {
        seq.iter()
            .filter(|(x, _)| x == c)
            .map(|(_, s)| s.as_str())
            .collect()
    };
    assert_eq!(of("cilium"), ["pending", "installing", "installed"]);
    // DependencyNotReady with "dependency '…' is not ready" stays pending: no extra event.
    assert_eq!(of("cert-manager"), ["pending", "installing", "installed"]);
    assert_eq!(of("flux"), ["pending", "installing", "installed"]);
    assert!(of("unrelated").is_empty(), "only bp-* releases are watched");
    let st = fold.state.as_ref().unwrap();
    assert_eq!(st.status, "ready");
    assert_eq!(
        st.result.as_ref().unwrap().phase1_outcome.as_deref(),
        Some("ready")
    );
    let cs = st.component_states().unwrap();
    assert_eq!(cs.len(), 3);
    assert!(cs.values().all(|s| s == "installed"));
    assert_eq!(fold.components["flux"].state, "installed");
    assert!(!fold.first_seen_warning);
    assert!(fold.kubeconfig_available());
    // helm-controller's lines arrive as component-log events, attributed per component.
    let cilium_log = &fold.component_logs["cilium"];
    assert!(
        cilium_log
            .iter()
            .any(|l| l.message.contains("Helm install succeeded")),
        "{cilium_log:?}"
    );
    assert!(!fold.component_logs.contains_key("unrelated"));
    assert!(
        fold.disagreements(cs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .is_empty()
    );

    let snap = client.components_state(&created.id).await.unwrap();
    let cm = snap
        .components
        .iter()
        .find(|c| c.app_id == "cert-manager")
        .unwrap();
    assert_eq!(cm.helm_release_name, "bp-cert-manager");
    assert_eq!(cm.depends_on.as_deref(), Some(&["cilium".to_string()][..]));
    assert!(cm.message.starts_with("Helm install succeeded"));
    let kc = client.kubeconfig(&created.id).await.unwrap();
    assert!(kc.yaml.contains("kind: Config"));
}

#[tokio::test]
async fn a_failed_helmrelease_fails_the_deployment() {
    let (_sim, client, _cloud, _clock) = world(2000.0, |c| {
        c.cluster_factory = Some(Arc::new(StandInCluster { flux_fails: true }));
        c.min_bootstrap_kit_hrs = 3;
        c.watch_timeout = Duration::from_secs(1000 * 3600);
        c.first_seen_timeout = Duration::from_secs(100 * 3600);
    })
    .await;
    let created = client.create_deployment(&request("p1b", RW)).await.unwrap();
    let fold = follow_to_end(&client, &created.id).await;
    let st = fold.state.as_ref().unwrap();
    assert_eq!(st.status, "failed");
    assert!(
        st.error
            .as_deref()
            .unwrap()
            .starts_with("Phase 1 finished with 1 failed component(s): flux")
    );
    assert_eq!(fold.components["flux"].state, "failed");
    assert!(
        fold.components["flux"]
            .message
            .contains("timed out waiting")
    );
    assert!(fold.phase0_failure().is_none());
}

#[tokio::test]
async fn refresh_watch_recovers_components_after_the_tofu_wins_race() {
    let (_sim, client, _cloud, _clock) = world(3000.0, |c| {
        c.phase1_race = Phase1Race::TofuWins;
        c.cluster_factory = Some(Arc::new(StandInCluster { flux_fails: false }));
        c.timings.cloud_init = Duration::from_secs(3600);
        c.min_bootstrap_kit_hrs = 3;
        c.watch_timeout = Duration::from_secs(1000 * 3600);
        c.first_seen_timeout = Duration::from_secs(100 * 3600);
    })
    .await;
    let created = client.create_deployment(&request("p1c", RW)).await.unwrap();
    let fold = follow_to_end(&client, &created.id).await;
    assert_eq!(fold.status(), "ready");
    assert!(fold.components.is_empty());
    let id = created.id.clone();
    tokio::time::timeout(TIMEOUT, async {
        while !client.deployment(&id).await.unwrap().needs_refresh_watch() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let answer = client.refresh_watch(&id).await.unwrap();
    assert_eq!(answer["watching"], true);
    assert!(
        !answer["components"].as_array().unwrap().is_empty(),
        "seeded rows: {answer}"
    );
    let snap = tokio::time::timeout(TIMEOUT, async {
        loop {
            let s = client.components_state(&id).await.unwrap();
            if s.components.len() == 3 && s.components.iter().all(|c| c.status == "installed") {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the fresh watcher saw every component installed");
    assert_eq!(snap.components.len(), 3);
    // the status itself is not re-evaluated by refresh-watch
    assert_eq!(client.deployment(&id).await.unwrap().status, "ready");
}

#[tokio::test]
async fn wipe_purges_by_label_releases_the_name_and_ends_wiped() {
    let (sim, client, cloud, _clock) = world(2000.0, |_| {}).await;
    let created = client.create_deployment(&request("wp1", RW)).await.unwrap();
    follow_to_end(&client, &created.id).await;
    // An orphan tofu does not know about, carrying the Sovereign's label.
    cloud.lock().unwrap().objects.entry("volumes".into()).or_default().push(json!({
        "id": 9999, "name": "pvc-1234", "labels": {"catalyst.openova.io/sovereign": "wp1.omani.works"}}));
    assert!(sim.pdm().unwrap().row("omani.works", "wp1").is_some());

    let e = client.wipe(&created.id, "  ", false).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(matches!(e.body(), Some(ErrorBody::Text(t)) if t.contains("hetznerToken")));
    let accepted = client.wipe(&created.id, RW, false).await.unwrap();
    assert_eq!(accepted["status"], "wiping");

    let fold = follow_to_end(&client, &created.id).await;
    let st = fold.state.as_ref().unwrap();
    assert_eq!(st.status, "wiped");
    let report = st.last_wipe_report.as_ref().unwrap();
    assert_eq!(report["verifiedZeroOrphans"], true, "{report}");
    assert_eq!(report["pdmReleased"], true);
    assert_eq!(report["tofuDestroyed"], true);
    assert!(
        report["providerPurge"]["volumes"]
            .as_array()
            .unwrap()
            .contains(&json!("pvc-1234"))
    );
    assert!(
        cloud.lock().unwrap().objects.values().all(|l| l.is_empty()),
        "nothing left in the cloud"
    );
    assert!(sim.pdm().unwrap().row("omani.works", "wp1").is_none());
    assert!(fold.log.iter().any(|l| l.phase == "wipe"));
    let e = client.release_subdomain(&created.id).await.unwrap_err();
    assert_eq!(e.status(), Some(410));
}

#[tokio::test]
async fn stale_image_fault_rejects_cpx_sizes_at_plan() {
    let (_sim, client, _cloud, _clock) = world(2000.0, |c| c.faults.stale_size_regex = true).await;
    let created = client.create_deployment(&request("c1x", RW)).await.unwrap();
    let fold = follow_to_end(&client, &created.id).await;
    assert_eq!(
        fold.phase0_failure().unwrap().step.as_deref(),
        Some("tofu-plan")
    );
    assert_eq!(
        fold.log
            .search(r#"The given value "cpx32" is not valid for variable "control_plane_size""#)
            .len(),
        1
    );
}

#[tokio::test]
async fn api_restart_fails_in_flight_records_or_loses_them_without_a_pvc() {
    // Slow enough that the run is still in Phase 0 when the restart happens.
    let (sim, client, _cloud, _clock) = world(1.0, |_| {}).await;
    let created = client.create_deployment(&request("rs1", RW)).await.unwrap();
    let id = created.id.clone();
    tokio::time::timeout(TIMEOUT, async {
        while client.events(&id).await.unwrap().events.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    sim.restart_api(true);
    let fold = follow_to_end(&client, &id).await;
    let st = fold.state.as_ref().unwrap();
    assert_eq!(st.status, "failed");
    assert!(
        st.error.as_deref().unwrap().contains("orphaned"),
        "{:?}",
        st.error
    );

    sim.restart_api(false);
    let e = client.deployment(&id).await.unwrap_err();
    assert_eq!(
        e.body(),
        Some(&ErrorBody::Text("deployment not found".into()))
    );
}

#[tokio::test]
async fn follow_survives_a_truncated_stream_with_malformed_frames() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let ev = |n: u32| {
        format!(
            r#"{{"time":"2026-01-01T00:00:0{n}Z","phase":"tofu","level":"info","message":"line {n}"}}"#
        )
    };
    let first = format!(
        "data: {}\n\ngarbage line\ndata: {{not json\n\ndata: {{\"time\":\"2026",
        ev(1)
    );
    let second = format!(
        "data: {}\n\ndata: {}\n\nevent: done\ndata: {{\"id\":\"x\",\"status\":\"ready\"}}\n\n",
        ev(1),
        ev(2)
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/api/v1/deployments/x/logs",
            get(move |State(calls): State<Arc<AtomicUsize>>| {
                let body = if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    first.clone()
                } else {
                    second.clone()
                };
                async move { ([("content-type", "text/event-stream")], body) }
            }),
        )
        .with_state(calls.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let client = CatalystClient::new(&format!("http://{addr}/")).unwrap();
    let mut fold = DeploymentFold::new("x");
    let mut reconnects = 0;
    tokio::time::timeout(
        TIMEOUT,
        follow(&client, &mut fold, &FollowOptions::default(), |u, _| {
            if matches!(
                u,
                sovtui::provision::catalyst::FollowUpdate::Reconnecting { .. }
            ) {
                reconnects += 1;
            }
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(reconnects, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(fold.status(), "ready");
    assert_eq!((fold.applied, fold.duplicates), (2, 1));
    assert_eq!(fold.malformed.len(), 2, "{:?}", fold.malformed);
    assert!(fold.malformed.iter().any(|m| m.contains("truncated")));
    assert_eq!(fold.log.search("line").len(), 2);
}

#[tokio::test]
async fn spawn_follow_feeds_a_reducer_over_a_bounded_channel() {
    use sovtui::provision::catalyst::{FollowMsg, spawn_follow};
    let (_sim, client, _cloud, _clock) = world(2000.0, |_| {}).await;
    let created = client.create_deployment(&request("sf1", RW)).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let task = spawn_follow(
        client.clone(),
        created.id.clone(),
        FollowOptions::default(),
        tx,
    );
    // The reducer keeps its own fold from the messages alone.
    let mut mine = DeploymentFold::new(&created.id);
    let ended = tokio::time::timeout(TIMEOUT, async {
        loop {
            match rx.recv().await.expect("channel open until Ended") {
                FollowMsg::Event(ev) => assert!(mine.apply(ev), "only new events are sent"),
                FollowMsg::State(s) => mine.set_state(*s),
                FollowMsg::Ended(r) => return r,
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(ended, Ok(()));
    task.await.unwrap();
    assert!(mine.is_terminal());
    assert_eq!(
        mine.applied as usize,
        client.events(&created.id).await.unwrap().events.len()
    );
}
