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
use sovtui::sim::clock::SimClock;
use sovtui::sim::kube::{ClusterOptions, KubeSim, SimCluster};
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
    let errors_410 = cluster.request_log().len();
    assert!(errors_410 > 0);
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
            "{}/apis/apps/v1/namespaces/x/deployments",
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
}
