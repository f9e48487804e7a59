//! The simulated apiservers against the real kube-rs client: list paging, get, status patches,
//! the `watcher` through compaction (in-stream 410 → relist) and apiserver restarts.

use std::time::Duration;

use futures::StreamExt;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config};
use serde_json::json;
use sovtui_world::sim::clock::SimClock;
use sovtui_world::sim::kube::{ClusterOptions, KubeSim, SimCluster};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);

fn hr_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
        "helmreleases",
    )
}

fn client(cluster: &SimCluster) -> Client {
    let url = cluster.url().parse().expect("url");
    Client::try_from(Config::new(url)).expect("client")
}

fn hr(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "flux-system", "labels": {"tier": if name.ends_with('1') { "one" } else { "other" }}},
        "spec": {"interval": "15m", "chart": {"spec": {"chart": name, "version": "1.0.0"}}},
    })
}

async fn empty_cluster(name: &str) -> (KubeSim, SimCluster) {
    let sim = KubeSim::new(SimClock::new(1.0));
    let cluster = sim
        .add_empty_cluster(name, ClusterOptions::default())
        .await
        .expect("cluster");
    (sim, cluster)
}

#[tokio::test]
async fn list_paging_get_create_and_status_patch() {
    let (_sim, cluster) = empty_cluster("paging.example").await;
    for i in 0..5 {
        cluster.apply(hr(&format!("bp-r{i}"))).expect("apply");
    }
    let api: Api<DynamicObject> =
        Api::namespaced_with(client(&cluster), "flux-system", &hr_resource());

    let first = api
        .list(&ListParams::default().limit(2))
        .await
        .expect("page 1");
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().expect("continue token");
    let second = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect("page 2");
    assert_eq!(second.items[0].metadata.name.as_deref(), Some("bp-r2"));
    let all = api.list(&ListParams::default()).await.expect("all");
    assert_eq!(all.items.len(), 5);
    assert!(all.metadata.resource_version.is_some());
    let one = api
        .list(&ListParams::default().labels("tier=one"))
        .await
        .expect("labels");
    assert_eq!(one.items.len(), 1);
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=bp-r3"))
        .await
        .expect("fields");
    assert_eq!(by_name.items[0].metadata.name.as_deref(), Some("bp-r3"));

    let got = api.get("bp-r4").await.expect("get");
    assert_eq!(got.data["spec"]["chart"]["spec"]["version"], "1.0.0");
    let missing = api.get("nope").await.expect_err("404");
    match missing {
        kube::Error::Api(s) => assert_eq!(s.code, 404),
        other => panic!("unexpected {other:?}"),
    }

    let obj: DynamicObject = serde_json::from_value(hr("bp-new")).expect("obj");
    let created = api
        .create(&PostParams::default(), &obj)
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    let dup = api
        .create(&PostParams::default(), &obj)
        .await
        .expect_err("dup");
    assert!(
        matches!(dup, kube::Error::Api(ref s) if s.code == 409),
        "{dup:?}"
    );

    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "InstallSucceeded", "message": "ok"}]}});
    let patched = api
        .patch_status("bp-new", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patch status");
    assert_eq!(
        patched.data["status"]["conditions"][0]["reason"],
        "InstallSucceeded"
    );
    // The main resource ignores status, as a real apiserver does for a status subresource.
    let ignored = api
        .patch(
            "bp-new",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"conditions": []}, "spec": {"suspend": true}})),
        )
        .await
        .expect("patch main");
    assert_eq!(
        ignored.data["status"]["conditions"][0]["reason"],
        "InstallSucceeded"
    );
    assert_eq!(ignored.data["spec"]["suspend"], true);
    assert_eq!(ignored.metadata.generation, Some(2));
    let json_patch: json_patch::Patch =
        serde_json::from_value(json!([{"op": "replace", "path": "/spec/suspend", "value": false}]))
            .expect("jp");
    let patched = api
        .patch(
            "bp-new",
            &PatchParams::default(),
            &Patch::<()>::Json(json_patch),
        )
        .await
        .expect("json patch");
    assert_eq!(patched.data["spec"]["suspend"], false);
    api.delete("bp-new", &Default::default())
        .await
        .expect("delete");
    assert!(cluster.get("hr", "flux-system", "bp-new").is_none());
}

/// Events of a running watcher, forwarded so the test can wait for specific ones.
fn spawn_watcher(cluster: &SimCluster) -> mpsc::UnboundedReceiver<watcher::Event<DynamicObject>> {
    let api: Api<DynamicObject> = Api::all_with(client(cluster), &hr_resource());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(ev) = stream.next().await {
            if let Ok(ev) = ev
                && tx.send(ev).is_err()
            {
                return;
            }
        }
    });
    rx
}

async fn wait_event(
    rx: &mut mpsc::UnboundedReceiver<watcher::Event<DynamicObject>>,
    what: &str,
    mut pred: impl FnMut(&watcher::Event<DynamicObject>) -> bool,
) {
    tokio::time::timeout(WAIT, async {
        while let Some(ev) = rx.recv().await {
            if pred(&ev) {
                return;
            }
        }
        panic!("watcher ended while waiting for {what}");
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

fn applied(name: &'static str) -> impl FnMut(&watcher::Event<DynamicObject>) -> bool {
    move |ev| matches!(ev, watcher::Event::Apply(o) | watcher::Event::InitApply(o) if o.metadata.name.as_deref() == Some(name))
}

fn list_requests(cluster: &SimCluster) -> usize {
    cluster
        .request_log()
        .iter()
        .filter(|r| r.uri.contains("helmreleases") && !r.watch && r.method == "GET")
        .count()
}

#[tokio::test]
async fn watcher_relists_after_in_stream_410_and_survives_restarts() {
    let (_sim, cluster) = empty_cluster("watch.example").await;
    cluster.apply(hr("bp-a1")).expect("apply");
    let mut rx = spawn_watcher(&cluster);
    wait_event(&mut rx, "initial object", applied("bp-a1")).await;
    wait_event(&mut rx, "init done", |e| {
        matches!(e, watcher::Event::InitDone)
    })
    .await;

    cluster.apply(hr("bp-b")).expect("apply");
    wait_event(&mut rx, "live add", applied("bp-b")).await;

    // Compaction: the open watch gets an in-stream 410 and the watcher re-lists.
    let lists_before = list_requests(&cluster);
    cluster.compact_history();
    wait_event(&mut rx, "re-init after 410", |e| {
        matches!(e, watcher::Event::Init)
    })
    .await;
    wait_event(&mut rx, "re-init done", |e| {
        matches!(e, watcher::Event::InitDone)
    })
    .await;
    assert!(list_requests(&cluster) > lists_before, "a relist happened");
    cluster.apply(hr("bp-c")).expect("apply");
    wait_event(&mut rx, "add after relist", applied("bp-c")).await;

    // Restart keeping history: the watcher resumes and sees what changed while it was down.
    let port = cluster.port();
    cluster.down();
    cluster
        .apply(hr("bp-while-down"))
        .expect("apply while down");
    cluster.restart(true).await.expect("restart");
    assert_eq!(cluster.port(), port, "same port after restart");
    wait_event(&mut rx, "change made while down", applied("bp-while-down")).await;

    // Restart with a fresh watch cache: resuming fails with 410 and the watcher re-lists.
    cluster.restart(false).await.expect("restart reset");
    cluster.apply(hr("bp-after-reset")).expect("apply");
    wait_event(&mut rx, "object after reset", applied("bp-after-reset")).await;
}

#[tokio::test]
async fn unauthorized_and_unknown_kinds_answer_status_objects() {
    let (_sim, cluster) = empty_cluster("status.example").await;
    let http = reqwest::Client::new();
    let resp = http
        .get(format!(
            "{}/apis/apps/v1/namespaces/x/widgets",
            cluster.url()
        ))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 404);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["kind"], "Status");
    cluster.set_unauthorized(true);
    let resp = http
        .get(format!("{}/api/v1/namespaces", cluster.url()))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 401);
    cluster.set_unauthorized(false);
    // Added latency delays every answer by at least that much (a lower bound cannot flake).
    cluster.set_latency(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let resp = http
        .get(format!("{}/version", cluster.url()))
        .send()
        .await
        .expect("slow");
    assert_eq!(resp.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    cluster.set_latency(Duration::ZERO);
    let resp = http
        .get(format!("{}/apis/helm.toolkit.fluxcd.io/v2", cluster.url()))
        .send()
        .await
        .expect("get");
    let body: serde_json::Value = resp.json().await.expect("json");
    let hr = body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["name"] == "helmreleases")
        .expect("hr")
        .clone();
    assert_eq!(hr["shortNames"], json!(["hr"]));
    assert_eq!(hr["kind"], "HelmRelease");
    // Python's client sends watch=True; it must be a watch, not a list.
    let resp = http
        .get(format!(
            "{}/api/v1/namespaces?watch=True&timeoutSeconds=1",
            cluster.url()
        ))
        .send()
        .await
        .expect("watch");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    assert!(text.contains("\"type\":\"ADDED\"") || text.is_empty());
    assert!(!text.contains("NamespaceList"));
    // Hostile query values get a Status, never a crash.
    for q in [
        "watch=true&timeoutSeconds=18446744073709551615",
        "limit=-1",
        "watch=maybe",
        "labelSelector=a%20in%20(b",
        "continue=%%%",
    ] {
        let resp = http
            .get(format!(
                "{}/apis/helm.toolkit.fluxcd.io/v2/helmreleases?{q}",
                cluster.url()
            ))
            .send()
            .await
            .expect("answer");
        assert!(resp.status().as_u16() < 500, "{q}: {}", resp.status());
        if q.starts_with("watch=true") {
            drop(resp);
        }
    }
    let resp = http
        .get(format!("{}/version", cluster.url()))
        .send()
        .await
        .expect("still up");
    assert_eq!(resp.status(), 200);
}

fn ready_of(cluster: &SimCluster, name: &str) -> Option<(String, String, String)> {
    let obj = cluster.get("hr", "flux-system", name)?;
    let conds = obj.pointer("/status/conditions")?.as_array()?.clone();
    let ready = conds.iter().find(|c| c["type"] == "Ready")?;
    Some((
        ready["status"].as_str()?.to_string(),
        ready["reason"].as_str()?.to_string(),
        ready["message"].as_str()?.to_string(),
    ))
}

async fn until(cluster: &SimCluster, what: &str, mut pred: impl FnMut(&SimCluster) -> bool) {
    tokio::time::timeout(WAIT, cluster.wait_for(|c| pred(c)))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

fn ready_true(c: &SimCluster, name: &str) -> bool {
    ready_of(c, name).is_some_and(|r| r.0 == "True")
}

#[tokio::test]
async fn reconciler_brings_a_small_kit_up_in_depends_on_order() {
    use sovtui_world::sim::kube::{ClusterScenario, Kit, ReleaseFault, ReleaseOverride};
    let kit = Kit::from_toml(
        r#"
name = "small"
[[release]]
name = "bp-a"
release_name = "a"
target_namespace = "a-system"
chart_version = "1.0.0"
install_seconds = 100
[[release]]
name = "bp-b"
release_name = "b"
target_namespace = "b"
chart_version = "1.0.1"
depends_on = ["bp-a"]
install_seconds = 100
[[release]]
name = "bp-c"
release_name = "c"
target_namespace = "c"
chart_version = "1.0.0"
depends_on = ["bp-b"]
install_seconds = 100
[[release]]
name = "bp-bad"
release_name = "bad"
target_namespace = "bad"
chart_version = "1.0.0"
depends_on = ["bp-a"]
install_seconds = 100
"#,
        "small",
    )
    .expect("kit");
    let mut scenario = ClusterScenario {
        kit_inline: Some(kit),
        bootstrap_seconds: 20.0,
        ..ClusterScenario::default()
    };
    scenario.releases.insert(
        "bp-bad".into(),
        ReleaseOverride {
            fault: Some(ReleaseFault::Fail {
                reason: "InstallFailed".into(),
                message: "failed to get authentication secret 'flux-system/ghcr-pull': secrets \"ghcr-pull\" not found".into(),
                stalled: false,
            }),
            ..ReleaseOverride::default()
        },
    );
    // Speed 1: nothing moves in real time during the test; only `advance` moves the world.
    let sim = KubeSim::new(SimClock::new(1.0));
    let c = sim
        .add_cluster("small.example", scenario)
        .await
        .expect("cluster");
    let clock = sim.clock().clone();

    assert!(c.get("gitrepository", "flux-system", "openova").is_some());
    assert!(
        c.list("pods", Some("flux-system"))
            .expect("pods")
            .iter()
            .any(|p| p["metadata"]["labels"]["app"] == "helm-controller")
    );
    assert!(
        c.list("hr", None).expect("hr").is_empty(),
        "kit not applied before the Kustomization"
    );

    clock.advance(Duration::from_secs(21));
    until(&c, "kit applied", |c| {
        c.list("hr", None).map(|l| l.len() == 4).unwrap_or(false)
    })
    .await;
    until(&c, "bp-a progressing and bp-b waiting", |c| {
        ready_of(c, "bp-a").is_some_and(|r| r.0 == "Unknown" && r.1 == "Progressing")
            && ready_of(c, "bp-b").is_some_and(|r| r.1 == "DependencyNotReady")
    })
    .await;
    let (_, _, msg) = ready_of(&c, "bp-b").expect("b");
    assert_eq!(msg, "dependency 'flux-system/bp-a' is not ready");
    let ks = c.get("ks", "flux-system", "bootstrap-kit").expect("ks");
    assert_eq!(ks["status"]["conditions"][0]["status"], "True");

    clock.advance(Duration::from_secs(101));
    until(&c, "bp-a ready", |c| ready_true(c, "bp-a")).await;
    let (_, reason, msg) = ready_of(&c, "bp-a").expect("a");
    assert_eq!(reason, "InstallSucceeded");
    assert_eq!(
        msg,
        "Helm install succeeded for release a-system/a.v1 with chart bp-a@1.0.0"
    );
    until(&c, "bp-b installing", |c| {
        ready_of(c, "bp-b").is_some_and(|r| r.0 == "Unknown")
    })
    .await;
    assert!(!ready_true(&c, "bp-b") && !ready_true(&c, "bp-c"));
    assert_eq!(ready_of(&c, "bp-c").expect("c").1, "DependencyNotReady");

    clock.advance(Duration::from_secs(101));
    until(&c, "bp-b ready and bp-bad failed", |c| {
        ready_true(c, "bp-b") && ready_of(c, "bp-bad").is_some_and(|r| r.1 == "InstallFailed")
    })
    .await;
    assert!(!ready_true(&c, "bp-c"));
    clock.advance(Duration::from_secs(101));
    until(&c, "bp-c ready", |c| ready_true(c, "bp-c")).await;
    assert!(
        c.get("pod", "c", "c-0").is_some(),
        "workload pod of the release"
    );
    let conds: Vec<sovtui_core::provision::flux::ConditionView> = serde_json::from_value(
        c.get("hr", "flux-system", "bp-bad").expect("bad")["status"]["conditions"].clone(),
    )
    .expect("conditions");
    assert_eq!(
        sovtui_core::provision::flux::derive_catalyst_state(&conds),
        sovtui_core::provision::flux::ComponentState::Failed
    );

    // helm-controller's log, as catalyst's log tailer reads it: pods app=helm-controller, then logs.
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client(&c), "flux-system");
    let list = pods
        .list(&ListParams::default().labels("app=helm-controller"))
        .await
        .expect("pods");
    let name = list.items[0].metadata.name.clone().expect("name");
    assert_eq!(
        list.items[0]
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref()),
        Some("Running")
    );
    let log = pods.logs(&name, &Default::default()).await.expect("log");
    let failure = log
        .lines()
        .find(|l| l.contains("\"level\":\"error\"") && l.contains("bp-bad"))
        .expect("error line for bp-bad");
    assert!(failure.contains("ghcr-pull"), "{failure}");
    let tail = pods
        .logs(
            &name,
            &kube::api::LogParams {
                tail_lines: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("tail");
    assert_eq!(tail.lines().count(), 1);
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events_end_bookmark() {
    let (_sim, cluster) = empty_cluster("streaming.example").await;
    cluster.apply(hr("bp-s1")).expect("apply");
    cluster.apply(hr("bp-s2")).expect("apply");
    let api: Api<DynamicObject> = Api::all_with(client(&cluster), &hr_resource());
    let mut stream = watcher(api, watcher::Config::default().streaming_lists())
        .default_backoff()
        .boxed();
    let mut seen = Vec::new();
    tokio::time::timeout(WAIT, async {
        while let Some(ev) = stream.next().await {
            match ev.expect("event") {
                watcher::Event::InitApply(o) => seen.push(o.metadata.name.unwrap_or_default()),
                watcher::Event::InitDone => break,
                _ => {}
            }
        }
    })
    .await
    .expect("initial events end");
    seen.sort();
    assert_eq!(seen, vec!["bp-s1", "bp-s2"]);
    assert!(
        cluster
            .request_log()
            .iter()
            .any(|r| r.watch && r.uri.contains("sendInitialEvents=true")),
        "{:?}",
        cluster.request_log()
    );
}

/// Resident memory of this process in KiB (Linux), for the capacity figure.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_fifty_clusters_of_forty_helmreleases() {
    use sovtui_world::sim::kube::ClusterScenario;
    let before = rss_kib();
    // A fast clock: the whole kit reconciles in milliseconds of real time.
    let sim = KubeSim::new(SimClock::new(1_000_000.0));
    let mut clusters = Vec::new();
    for i in 0..50 {
        let mut scenario = ClusterScenario::bootstrap_kit();
        for j in 0..5 {
            let mut extra = hr(&format!("app-{j}"));
            extra["spec"]["dependsOn"] = json!([{"name": "bp-cilium"}]);
            scenario.objects.push(extra);
        }
        clusters.push(
            sim.add_cluster(&format!("s{i}.omani.works"), scenario)
                .await
                .expect("cluster"),
        );
    }
    for c in &clusters {
        until(c, "40 HelmReleases Ready", |c| {
            c.list("hr", None)
                .map(|l| {
                    l.len() == 40
                        && l.iter().all(|o| {
                            o["status"]["conditions"].as_array().is_some_and(|cs| {
                                cs.iter()
                                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
                            })
                        })
                })
                .unwrap_or(false)
        })
        .await;
    }
    let cert = clusters[1]
        .get("certificate", "cert-manager", "wildcard")
        .expect("wildcard certificate once cert-manager is installed");
    assert_eq!(cert["status"]["conditions"][0]["status"], "True");
    assert!(
        clusters[1]
            .get("clusterissuer", "", "wildcard-issuer")
            .is_some()
    );
    // Every listener answers a real client.
    for c in clusters.iter().step_by(7) {
        let api: Api<DynamicObject> = Api::all_with(client(c), &hr_resource());
        assert_eq!(
            api.list(&ListParams::default())
                .await
                .expect("list")
                .items
                .len(),
            40
        );
    }
    if let (Some(b), Some(a)) = (before, rss_kib()) {
        println!(
            "50 clusters x 40 HelmReleases: RSS {} KiB -> {} KiB (+{} KiB)",
            b,
            a,
            a.saturating_sub(b)
        );
    }
    assert_eq!(sim.urls().len(), 50);
    let removed = sim.remove_cluster("s0.omani.works").expect("removed");
    assert!(!removed.is_up());
    assert_eq!(sim.urls().len(), 49);
}

#[tokio::test]
async fn a_fault_cleared_at_run_time_recovers_on_reconcile_request() {
    use sovtui_world::sim::kube::{ClusterScenario, ReleaseFault, ReleaseOverride};
    let mut scenario = ClusterScenario {
        kit: Some("runbook-11".into()),
        bootstrap_seconds: 0.0,
        ..ClusterScenario::default()
    };
    scenario.releases.insert(
        "bp-cilium".into(),
        ReleaseOverride {
            fault: Some(ReleaseFault::Fail {
                reason: "InstallFailed".into(),
                message: "failed to authorize: 401 Unauthorized".into(),
                stalled: true,
            }),
            ..ReleaseOverride::default()
        },
    );
    scenario.releases.insert(
        "bp-gitea".into(),
        ReleaseOverride {
            fault: Some(ReleaseFault::Pending),
            ..ReleaseOverride::default()
        },
    );
    let sim = KubeSim::new(SimClock::new(1.0));
    let c = sim
        .add_cluster("recover.example", scenario)
        .await
        .expect("cluster");
    let clock = sim.clock().clone();
    clock.advance(Duration::from_secs(1000));
    until(&c, "bp-cilium failed", |c| {
        ready_of(c, "bp-cilium").is_some_and(|r| r.1 == "InstallFailed")
    })
    .await;
    let cilium = c.get("hr", "flux-system", "bp-cilium").expect("hr");
    assert!(
        cilium["status"]["conditions"]
            .as_array()
            .expect("conds")
            .iter()
            .any(|c| c["type"] == "Stalled" && c["reason"] == "RetriesExceeded")
    );
    assert_eq!(
        ready_of(&c, "bp-cert-manager").expect("cm").2,
        "dependency 'flux-system/bp-cilium' is not ready"
    );
    assert!(
        c.get("hr", "flux-system", "bp-gitea")
            .expect("gitea")
            .get("status")
            .is_none(),
        "a pending release is never reconciled"
    );

    // The operator fixes the token and asks Flux to reconcile (what `flux reconcile hr` does).
    c.set_release_override("bp-cilium", ReleaseOverride::default());
    let api: Api<DynamicObject> = Api::namespaced_with(client(&c), "flux-system", &hr_resource());
    let at = "2026-11-29T14:00:00Z";
    api.patch(
        "bp-cilium",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": at}}}),
        ),
    )
    .await
    .expect("annotate");
    until(&c, "bp-cilium reinstalling", |c| {
        ready_of(c, "bp-cilium").is_some_and(|r| r.0 == "Unknown")
    })
    .await;
    clock.advance(Duration::from_secs(1000));
    until(&c, "bp-cilium ready", |c| ready_true(c, "bp-cilium")).await;
    let cilium = c.get("hr", "flux-system", "bp-cilium").expect("hr");
    assert_eq!(cilium["status"]["lastHandledReconcileAt"], at);
    until(&c, "bp-cert-manager installing", |c| {
        ready_of(c, "bp-cert-manager").is_some_and(|r| r.0 != "False")
    })
    .await;
}

#[tokio::test]
async fn flux_faults_keep_the_kit_from_being_applied() {
    use sovtui_world::sim::kube::{ClusterScenario, FluxFault};
    let sim = KubeSim::new(SimClock::new(1.0));
    let conflict = "existing namespace \"kube-system\" is conflicting with another resource that has the same name";
    let ks_fault = sim
        .add_cluster(
            "c7.example",
            ClusterScenario {
                kustomization_fault: Some(FluxFault {
                    reason: "ReconciliationFailed".into(),
                    message: conflict.into(),
                }),
                ..ClusterScenario::bootstrap_kit()
            },
        )
        .await
        .expect("cluster");
    let git_fault = sim
        .add_cluster(
            "m4.example",
            ClusterScenario {
                git_repository_name: Some("openova-public".into()),
                kustomization_name: Some("m4.example-bootstrap-kit".into()),
                git_repository_fault: Some(FluxFault {
                    reason: "GitOperationFailed".into(),
                    message: "failed to checkout and determine revision: unable to clone: authentication required".into(),
                }),
                ..ClusterScenario::bootstrap_kit()
            },
        )
        .await
        .expect("cluster");
    sim.clock().advance(Duration::from_secs(3600));
    let ks_ready = |c: &SimCluster, name: &str| {
        c.get("ks", "flux-system", name)
            .and_then(|k| k["status"]["conditions"][0].as_object().cloned())
    };
    until(&ks_fault, "kustomization failed", |c| {
        ks_ready(c, "bootstrap-kit").is_some_and(|r| r["status"] == "False")
    })
    .await;
    assert_eq!(
        ks_ready(&ks_fault, "bootstrap-kit").expect("ks")["message"],
        conflict
    );
    until(&git_fault, "source failed", |c| {
        ks_ready(c, "m4.example-bootstrap-kit").is_some_and(|r| r["status"] == "False")
    })
    .await;
    assert_eq!(
        ks_ready(&git_fault, "m4.example-bootstrap-kit").expect("ks")["reason"],
        "ArtifactFailed"
    );
    let git = git_fault
        .get("gitrepository", "flux-system", "openova-public")
        .expect("git");
    assert_eq!(
        git["status"]["conditions"][0]["reason"],
        "GitOperationFailed"
    );
    assert!(ks_fault.list("hr", None).expect("hr").is_empty());
    let events = ks_fault
        .list("events", Some("flux-system"))
        .expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["involvedObject"]["kind"] == "Kustomization" && e["message"] == conflict),
        "{events:?}"
    );
    assert!(git_fault.list("hr", None).expect("hr").is_empty());
}

#[tokio::test]
async fn kube_clients_work_from_the_hosts_kubeconfig() {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    use sovtui_world::sim::kube::ClusterScenario;
    let sim = KubeSim::new(SimClock::new(1.0));
    sim.add_cluster("a.omani.works", ClusterScenario::runbook_11())
        .await
        .expect("a");
    sim.add_cluster("b.omani.works", ClusterScenario::empty())
        .await
        .expect("b");
    let kubeconfig = Kubeconfig::from_yaml(&sim.kubeconfig_yaml()).expect("kubeconfig parses");
    for (context, has_flux) in [("a.omani.works", true), ("b.omani.works", false)] {
        let options = KubeConfigOptions {
            context: Some(context.to_string()),
            ..Default::default()
        };
        let config = Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
            .await
            .expect("config");
        let client = Client::try_from(config).expect("client");
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        let names: Vec<String> = namespaces
            .list(&ListParams::default())
            .await
            .expect("namespaces")
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        assert!(
            names.contains(&"kube-system".to_string()),
            "{context}: {names:?}"
        );
        assert_eq!(
            names.contains(&"flux-system".to_string()),
            has_flux,
            "{context}"
        );
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client);
        let node = nodes.list(&ListParams::default()).await.expect("nodes");
        assert_eq!(
            node.items[0].metadata.name.as_deref(),
            Some(format!("catalyst-{}-cp1", context.replace('.', "-")).as_str())
        );
    }
}

#[tokio::test]
async fn idle_watches_get_bookmarks_and_end_at_their_timeout() {
    let sim = KubeSim::new(SimClock::new(1.0));
    let cluster = sim
        .add_empty_cluster(
            "bookmarks.example",
            ClusterOptions {
                bookmark_interval: Some(Duration::from_millis(50)),
                ..ClusterOptions::default()
            },
        )
        .await
        .expect("cluster");
    cluster.apply(hr("bp-a")).expect("apply");
    let rv = cluster.resource_version();
    let url = format!(
        "{}/apis/helm.toolkit.fluxcd.io/v2/helmreleases?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion={rv}",
        cluster.url()
    );
    // The body ends by itself when timeoutSeconds passes; meanwhile bookmarks carry the version.
    let body = tokio::time::timeout(WAIT, async {
        reqwest::get(&url)
            .await
            .expect("watch")
            .text()
            .await
            .expect("body")
    })
    .await
    .expect("watch ended at its timeout");
    let first: serde_json::Value =
        serde_json::from_str(body.lines().next().expect("a line")).expect("json line");
    assert_eq!(first["type"], "BOOKMARK");
    assert_eq!(first["object"]["kind"], "HelmRelease");
    assert_eq!(
        first["object"]["metadata"]["resourceVersion"],
        rv.to_string()
    );
    assert!(body.lines().all(|l| l.contains("BOOKMARK")), "{body}");
}

/// Content negotiation over HTTP as a real apiserver does it: protobuf bodies and answers for
/// built-in kinds, YAML on request, 406 for a custom resource asked for in protobuf only, 400 for
/// a body that is not protobuf, protobuf watch frames.
#[tokio::test]
async fn protobuf_yaml_and_json_are_negotiated() {
    use sovtui_world::sim::kube::proto;
    const PB: &str = "application/vnd.kubernetes.protobuf";
    let (_sim, cluster) = empty_cluster("proto.example").await;
    cluster
        .apply(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}),
        )
        .expect("namespace");
    cluster.apply(hr("bp-a1")).expect("hr");
    let http = reqwest::Client::new();
    let secrets = format!("{}/api/v1/namespaces/flux-system/secrets", cluster.url());
    let body = proto::encode(&json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s1", "namespace": "flux-system"}, "data": {"token": "YWJj"}}))
    .expect("encode");
    let resp = http
        .post(&secrets)
        .header("content-type", PB)
        .header("accept", format!("{PB}, application/json"))
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 201);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(PB)
    );
    let created = proto::decode(&resp.bytes().await.expect("body")).expect("protobuf answer");
    assert_eq!(created["type"], "Opaque", "defaulted like a real apiserver");
    assert_eq!(created["data"]["token"], "YWJj");
    assert!(created["metadata"]["resourceVersion"].is_string());
    assert_eq!(
        cluster.get("secret", "flux-system", "s1").expect("stored")["data"]["token"],
        "YWJj"
    );

    let yaml = http
        .get(format!("{secrets}/s1"))
        .header("accept", "application/yaml")
        .send()
        .await
        .expect("get yaml");
    assert_eq!(yaml.status(), 200);
    assert!(yaml.text().await.expect("text").contains("token: YWJj"));

    let list = http
        .get(&secrets)
        .header("accept", PB)
        .send()
        .await
        .expect("list");
    let list = proto::decode(&list.bytes().await.expect("body")).expect("SecretList");
    assert_eq!(list["kind"], "SecretList");
    assert_eq!(list["items"][0]["metadata"]["name"], "s1");

    let missing = http
        .get(format!("{secrets}/nope"))
        .header("accept", PB)
        .send()
        .await
        .expect("get missing");
    assert_eq!(missing.status(), 404);
    let status = proto::decode(&missing.bytes().await.expect("body")).expect("protobuf Status");
    assert_eq!(status["reason"], "NotFound");

    let garbage = http
        .post(&secrets)
        .header("content-type", PB)
        .body("{\"not\": \"protobuf\"}")
        .send()
        .await
        .expect("post garbage");
    assert_eq!(garbage.status(), 400);

    let hrs = format!(
        "{}/apis/helm.toolkit.fluxcd.io/v2/namespaces/flux-system/helmreleases",
        cluster.url()
    );
    let only_pb = http
        .get(&hrs)
        .header("accept", PB)
        .send()
        .await
        .expect("hr pb");
    assert_eq!(only_pb.status(), 406);
    let fallback = http
        .get(&hrs)
        .header("accept", format!("{PB}, application/json"))
        .send()
        .await
        .expect("hr");
    assert_eq!(fallback.status(), 200);
    let hr_list: serde_json::Value = fallback.json().await.expect("json");
    assert_eq!(hr_list["items"][0]["metadata"]["name"], "bp-a1");
    let pb_cr = http
        .post(&hrs)
        .header("content-type", PB)
        .body(vec![b'k', b'8', b's', 0])
        .send()
        .await
        .expect("post cr");
    assert_eq!(pb_cr.status(), 415, "custom resources take no protobuf");

    // A protobuf watch: the opening ADDED event as a length-prefixed frame.
    let mut watch = http
        .get(format!("{secrets}?watch=true"))
        .header("accept", PB)
        .send()
        .await
        .expect("watch");
    assert_eq!(
        watch
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/vnd.kubernetes.protobuf;stream=watch")
    );
    let mut buf = Vec::new();
    while buf.len() < 4
        || buf.len() < 4 + u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize
    {
        let chunk = tokio::time::timeout(Duration::from_secs(10), watch.chunk())
            .await
            .expect("frame in time")
            .expect("chunk")
            .expect("stream open");
        buf.extend_from_slice(&chunk);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let frame = &buf[4..4 + len];
    // WatchEvent{type=1: "ADDED", object=2: RawExtension{raw=1: <k8s\0 + Unknown>}}
    assert!(frame.windows(5).any(|w| w == b"ADDED"));
    let magic = frame
        .windows(4)
        .position(|w| w == b"k8s\0")
        .expect("embedded object");
    let object = proto::decode(&frame[magic..]).expect("object in the frame");
    assert_eq!(object["metadata"]["name"], "s1");
}

/// kube-rs's `Patch::Apply`: field ownership in `managedFields`, a 409 naming the other manager
/// and the field, `force` taking the field over.
#[tokio::test]
async fn kube_rs_server_side_apply_conflicts_and_force() {
    use k8s_openapi::api::core::v1::ConfigMap;
    let (_sim, cluster) = empty_cluster("ssa.example").await;
    cluster
        .apply(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}),
        )
        .expect("namespace");
    let api: Api<ConfigMap> = Api::namespaced(client(&cluster), "flux-system");
    let cm = |v: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "overrides", "namespace": "flux-system"},
               "data": {"replicas": v}})
    };
    let made = api
        .patch(
            "overrides",
            &PatchParams::apply("sovtui"),
            &Patch::Apply(cm("2")),
        )
        .await
        .expect("apply creates");
    let mf = made.metadata.managed_fields.clone().expect("managedFields");
    assert_eq!(mf.len(), 1);
    assert_eq!(mf[0].manager.as_deref(), Some("sovtui"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));
    let fields = mf[0].fields_v1.as_ref().expect("fieldsV1").0.clone();
    assert_eq!(fields, json!({"f:data": {"f:replicas": {}}}));

    let err = api
        .patch(
            "overrides",
            &PatchParams::apply("drill"),
            &Patch::Apply(cm("3")),
        )
        .await
        .expect_err("conflict");
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 409, "{s:?}");
            assert!(
                s.message.contains(r#"conflict with "sovtui""#)
                    && s.message.contains(".data.replicas"),
                "{}",
                s.message
            );
        }
        other => panic!("expected a 409, got {other:?}"),
    }
    let forced = api
        .patch(
            "overrides",
            &PatchParams::apply("drill").force(),
            &Patch::Apply(cm("3")),
        )
        .await
        .expect("forced");
    assert_eq!(
        forced
            .data
            .as_ref()
            .and_then(|d| d.get("replicas"))
            .map(String::as_str),
        Some("3")
    );
    let owners: Vec<String> = forced
        .metadata
        .managed_fields
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.manager.clone())
        .collect();
    assert_eq!(
        owners,
        vec!["drill".to_string()],
        "sovtui lost its only field"
    );

    // An apply without a field manager is refused, as by a real apiserver.
    let err = api
        .patch("overrides", &PatchParams::default(), &Patch::Apply(cm("4")))
        .await
        .expect_err("no fieldManager");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 400),
        "{err:?}"
    );
}
