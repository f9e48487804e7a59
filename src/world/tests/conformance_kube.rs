//! The simulated apiservers checked with clients nobody here wrote: kubectl — Debian's 1.20 and a
//! current release (1.32: JSON for custom resources, protobuf for built-in kinds) — and the python
//! `kubernetes` client, Debian's 22.6 and the current 37. Every kubectl test runs once per kubectl
//! release found; a missing client is a printed skip (a failure under SOVTUI_REQUIRE_TOOLS=1).
//! docs/CONFORMANCE.md is the matrix these tests fill.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use sovtui_world::sim::clock::SimClock;
use sovtui_world::sim::kube::{ClusterOptions, KubeSim, SimCluster};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[path = "../../../tests/support/tools.rs"]
mod tools;

use tools::Kubectl;

const WAIT: Duration = Duration::from_secs(60);

fn hr(name: &str, ready: &str) -> serde_json::Value {
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "15m", "releaseName": name.trim_start_matches("bp-"), "suspend": false,
                  "chart": {"spec": {"chart": name, "version": "1.1.1"}}},
        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "Progressing", "message": "m",
                                   "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
    })
}

async fn cluster() -> (KubeSim, SimCluster) {
    let sim = KubeSim::new(SimClock::new(1.0));
    let c = sim
        .add_empty_cluster("conformance.example", ClusterOptions::default())
        .await
        .expect("cluster");
    c.apply(hr("bp-cilium", "True")).expect("apply");
    c.apply(hr("bp-cert-manager", "Unknown")).expect("apply");
    (sim, c)
}

/// How every kubectl here reaches `cluster`: its URL, no kubeconfig, a cache of its own.
fn at(cluster: &SimCluster, cache: &tempfile::TempDir) -> Vec<String> {
    vec![
        format!("--server={}", cluster.url()),
        format!("--cache-dir={}", cache.path().display()),
        "--kubeconfig=/dev/null".to_string(),
    ]
}

async fn kubectl(
    k: &Kubectl,
    cluster: &SimCluster,
    cache: &tempfile::TempDir,
    args: &[&str],
) -> (bool, String, String) {
    let (code, out, err) = k.run(&at(cluster, cache), args, None, WAIT).await;
    (code == 0, out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_watch_and_patch() {
    for k in tools::kubectls("kubectl_get_watch_and_patch") {
        get_watch_and_patch(&k).await;
    }
}

async fn get_watch_and_patch(bin: &Kubectl) {
    let (_sim, c) = cluster().await;
    let cache = tempfile::tempdir().expect("tempdir");

    let (ok, out, err) = kubectl(bin, &c, &cache, &["get", "hr", "-A"]).await;
    assert!(ok, "get hr -A failed: {err}");
    assert!(
        out.contains("bp-cilium") && out.contains("bp-cert-manager"),
        "{out}"
    );
    assert!(out.contains("flux-system"), "{out}");
    // Server-side printing: the HelmRelease CRD's printer columns.
    let header = out.lines().next().unwrap_or("");
    for col in ["NAMESPACE", "NAME", "AGE", "READY", "STATUS"] {
        assert!(header.contains(col), "header {header:?} lacks {col}");
    }
    let cilium = out.lines().find(|l| l.contains("bp-cilium")).unwrap_or("");
    assert!(cilium.contains("True"), "{cilium}");
    let (ok, _, err) = kubectl(bin, &c, &cache, &["get", "pods,nodes,ns", "-A"]).await;
    assert!(ok, "get pods,nodes,ns failed: {err}");
    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &["-n", "flux-system", "describe", "hr", "bp-cilium"],
    )
    .await;
    assert!(ok, "describe failed: {err}");
    assert!(out.contains("bp-cilium") && out.contains("Ready"), "{out}");

    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &[
            "-n",
            "flux-system",
            "get",
            "helmrelease",
            "bp-cilium",
            "-o",
            "json",
        ],
    )
    .await;
    assert!(ok, "get -o json failed: {err}");
    let obj: serde_json::Value = serde_json::from_str(&out).expect("json output");
    assert_eq!(obj["metadata"]["name"], "bp-cilium");
    assert_eq!(obj["status"]["conditions"][0]["status"], "True");

    let (ok, _, err) = kubectl(
        bin,
        &c,
        &cache,
        &[
            "-n",
            "flux-system",
            "patch",
            "hr",
            "bp-cilium",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ],
    )
    .await;
    assert!(ok, "patch merge failed: {err}");
    assert_eq!(
        c.get("hr", "flux-system", "bp-cilium").expect("obj")["spec"]["suspend"],
        true
    );

    let (ok, _, err) = kubectl(
        bin,
        &c,
        &cache,
        &[
            "-n",
            "flux-system",
            "patch",
            "hr",
            "bp-cilium",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/spec/interval","value":"5m"}]"#,
        ],
    )
    .await;
    assert!(ok, "patch json failed: {err}");
    assert_eq!(
        c.get("hr", "flux-system", "bp-cilium").expect("obj")["spec"]["interval"],
        "5m"
    );

    // Watch: start it, wait for the initial rows, make a change, read until it shows up.
    let mut initial = 0;
    let saw = tools::kubectl_stream_until(
        bin,
        &at(&c, &cache),
        &["get", "hr", "-A", "-w"],
        WAIT,
        |line| {
            if line.contains("bp-") && initial < 2 {
                initial += 1;
                if initial == 2 {
                    c.apply(hr("bp-flux", "Unknown"))
                        .expect("apply during watch");
                }
                false
            } else {
                line.contains("bp-flux")
            }
        },
    )
    .await;
    assert!(saw, "kubectl {} -w showed the new HelmRelease", bin.version);
}

const PYTHON_SCRIPT: &str = r#"
import sys
from kubernetes import client, watch
cfg = client.Configuration()
cfg.host = sys.argv[1]
api = client.CustomObjectsApi(client.ApiClient(cfg))
lst = api.list_cluster_custom_object("helm.toolkit.fluxcd.io", "v2", "helmreleases")
names = sorted(i["metadata"]["name"] for i in lst["items"])
print("LIST " + ",".join(names), flush=True)
rv = lst["metadata"]["resourceVersion"]
w = watch.Watch()
for ev in w.stream(api.list_namespaced_custom_object, "helm.toolkit.fluxcd.io", "v2", "flux-system",
                   "helmreleases", resource_version=rv, timeout_seconds=30):
    print("EVENT %s %s" % (ev["type"], ev["object"]["metadata"]["name"]), flush=True)
    if ev["object"]["metadata"]["name"] == "bp-python":
        break
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_kubernetes_lists_and_watches_helmreleases() {
    for py in tools::pythons(
        "python_kubernetes_lists_and_watches_helmreleases",
        "kubernetes",
    ) {
        python_lists_and_watches(&py).await;
    }
}

async fn python_lists_and_watches(py: &tools::Python) {
    let (_sim, c) = cluster().await;
    let mut child = Command::new(&py.path)
        .args(["-c", PYTHON_SCRIPT, &c.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("python");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let result = tokio::time::timeout(WAIT, async {
        let mut listed = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(l) = line.strip_prefix("LIST ") {
                listed = l.to_string();
                // The watch starts right after the list; a change now must arrive as an event.
                let c = c.clone();
                tokio::spawn(async move {
                    c.wait_for_request(|r| r.watch).await;
                    c.apply(hr("bp-python", "Unknown")).expect("apply");
                });
            } else if line == "EVENT ADDED bp-python" {
                return Some(listed);
            }
        }
        None
    })
    .await
    .unwrap_or_else(|_| panic!("{} finished in time", py.label()));
    assert_eq!(
        result.as_deref(),
        Some("bp-cert-manager,bp-cilium"),
        "{}",
        py.label()
    );
    let _ = child.wait().await;
}

/// A cluster that ran the runbook's kit to the end (fast clock).
async fn reconciled_cluster() -> (KubeSim, SimCluster) {
    use sovtui_world::sim::kube::ClusterScenario;
    let sim = KubeSim::new(SimClock::new(1_000_000.0));
    let c = sim
        .add_cluster("ops.omani.works", ClusterScenario::runbook_11())
        .await
        .expect("cluster");
    tokio::time::timeout(
        WAIT,
        c.wait_for(|c| {
            c.get("hr", "flux-system", "bp-catalyst-platform")
                .is_some_and(|o| o["status"]["conditions"][0]["status"] == "True")
        }),
    )
    .await
    .expect("kit ready");
    (sim, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_operator_commands_against_a_reconciling_cluster() {
    for k in tools::kubectls("kubectl_operator_commands_against_a_reconciling_cluster") {
        operator_commands(&k).await;
    }
}

async fn operator_commands(bin: &Kubectl) {
    let (_sim, c) = reconciled_cluster().await;
    let cache = tempfile::tempdir().expect("tempdir");

    // Runbook C9's live fix (kubectl ≥1.26 sends this body as protobuf).
    let (ok, _, err) = kubectl(
        bin,
        &c,
        &cache,
        &[
            "-n",
            "flux-system",
            "create",
            "secret",
            "generic",
            "ghcr-pull",
            "--from-literal=token=abc",
        ],
    )
    .await;
    assert!(ok, "create secret: {err}");
    let secret = c.get("secret", "flux-system", "ghcr-pull").expect("secret");
    assert_eq!(secret["data"]["token"], "YWJj");
    assert_eq!(secret["type"], "Opaque");
    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &[
            "-n",
            "flux-system",
            "get",
            "secret",
            "ghcr-pull",
            "-o",
            "jsonpath={.data.token}",
        ],
    )
    .await;
    assert!(ok && out == "YWJj", "get secret: {out} {err}");

    // Declarative apply, twice (create, then patch).
    let manifest = cache.path().join("hr.yaml");
    let yaml = |interval: &str| {
        format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: bp-extra\n  namespace: flux-system\nspec:\n  interval: {interval}\n  releaseName: extra\n  chart:\n    spec:\n      chart: bp-extra\n      version: 1.0.0\n"
        )
    };
    for interval in ["15m", "5m"] {
        std::fs::write(&manifest, yaml(interval)).expect("write manifest");
        let (ok, _, err) = kubectl(
            bin,
            &c,
            &cache,
            &["apply", "-f", manifest.to_str().expect("path")],
        )
        .await;
        assert!(
            ok,
            "apply ({interval}): {err}\n{:#?}",
            c.request_log().iter().rev().take(6).collect::<Vec<_>>()
        );
    }
    assert_eq!(
        c.get("hr", "flux-system", "bp-extra").expect("hr")["spec"]["interval"],
        "5m"
    );

    // helm-controller's log, found by label like an operator would, and by pod name.
    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &[
            "-n",
            "flux-system",
            "logs",
            "-l",
            "app=helm-controller",
            "--tail=-1",
        ],
    )
    .await;
    assert!(ok, "logs: {err}");
    assert!(
        out.contains("Helm install succeeded for release kube-system/cilium.v1"),
        "{out}"
    );
    let pods = c.list("pod", Some("flux-system")).expect("pods");
    let helm_pod = pods
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .find(|n| n.starts_with("helm-controller-"))
        .expect("helm-controller pod")
        .to_string();
    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &["-n", "flux-system", "logs", &helm_pod, "--tail=1"],
    )
    .await;
    assert!(ok, "logs {helm_pod}: {err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_eq!(
        Some(out.trim_end()),
        c.pod_log("flux-system", &helm_pod)
            .last()
            .map(String::as_str)
    );

    // A pod read through kubectl's typed client (protobuf on a current kubectl).
    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &["-n", "flux-system", "describe", "pod", &helm_pod],
    )
    .await;
    assert!(ok, "describe pod: {err}");
    assert!(out.contains("Running") && out.contains("manager"), "{out}");

    // Events of a HelmRelease through describe.
    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &["-n", "flux-system", "describe", "hr", "bp-cilium"],
    )
    .await;
    assert!(ok, "describe: {err}");
    assert!(out.contains("InstallSucceeded"), "{out}");

    // Waiting on a HelmRelease's Ready condition.
    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &[
            "-n",
            "flux-system",
            "wait",
            "--for=condition=Ready",
            "hr/bp-cilium",
            "--timeout=30s",
        ],
    )
    .await;
    assert!(ok, "wait: {err}");
    assert!(out.contains("condition met"), "{out}");

    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &["get", "deploy,sts,ds,svc,ep,cm,sa,pvc,pv,sc", "-A"],
    )
    .await;
    assert!(ok, "get the core kinds: {err}\n{out}");

    let (ok, _, err) = kubectl(
        bin,
        &c,
        &cache,
        &["-n", "flux-system", "delete", "hr", "bp-extra"],
    )
    .await;
    assert!(ok, "delete: {err}");
    assert!(c.get("hr", "flux-system", "bp-extra").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_configmap_lifecycle_and_conflicts() {
    for k in tools::kubectls("kubectl_configmap_lifecycle_and_conflicts") {
        configmap_lifecycle(&k).await;
    }
}

async fn configmap_lifecycle(bin: &Kubectl) {
    let (_sim, c) = cluster().await;
    let cache = tempfile::tempdir().expect("tempdir");
    let run = |args: &'static [&'static str]| {
        let (c, cache) = (c.clone(), &cache);
        async move { kubectl(bin, &c, cache, args).await }
    };
    let (ok, _, err) = run(&[
        "-n",
        "flux-system",
        "create",
        "configmap",
        "overrides",
        "--from-literal=replicas=2",
    ])
    .await;
    assert!(ok, "create configmap: {err}");
    let cm = c.get("cm", "flux-system", "overrides").expect("configmap");
    assert_eq!(cm["data"]["replicas"], "2");
    let (ok, _, err) = run(&[
        "-n",
        "flux-system",
        "create",
        "configmap",
        "overrides",
        "--from-literal=replicas=3",
    ])
    .await;
    assert!(
        !ok && err.contains("AlreadyExists") || err.contains("already exists"),
        "{err}"
    );

    let (ok, _, err) = run(&[
        "-n",
        "flux-system",
        "patch",
        "cm",
        "overrides",
        "-p",
        r#"{"data":{"replicas":"3"}}"#,
    ])
    .await;
    assert!(ok, "strategic patch: {err}");
    assert_eq!(
        c.get("cm", "flux-system", "overrides").expect("cm")["data"]["replicas"],
        "3"
    );

    // replace with a stale resourceVersion: 409, nothing lost.
    let stale = cm["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let file = cache.path().join("cm.json");
    let mut body = cm.clone();
    body["data"]["replicas"] = json!("4");
    body["metadata"]["resourceVersion"] = json!(stale);
    std::fs::write(&file, body.to_string()).expect("write");
    let (ok, _, err) = kubectl(
        bin,
        &c,
        &cache,
        &["replace", "-f", file.to_str().expect("path")],
    )
    .await;
    assert!(!ok && err.contains("the object has been modified"), "{err}");
    assert_eq!(
        c.get("cm", "flux-system", "overrides").expect("cm")["data"]["replicas"],
        "3"
    );
    // With the current version the same replace goes through.
    let current = c.get("cm", "flux-system", "overrides").expect("cm");
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    std::fs::write(&file, body.to_string()).expect("write");
    let (ok, _, err) = kubectl(
        bin,
        &c,
        &cache,
        &["replace", "-f", file.to_str().expect("path")],
    )
    .await;
    assert!(ok, "replace: {err}");
    assert_eq!(
        c.get("cm", "flux-system", "overrides").expect("cm")["data"]["replicas"],
        "4"
    );

    let (ok, out, err) = run(&["-n", "flux-system", "get", "cm", "overrides", "-o", "yaml"]).await;
    assert!(ok && out.contains("replicas: \"4\""), "{out} {err}");
    let (ok, _, err) = run(&["-n", "flux-system", "delete", "cm", "overrides"]).await;
    assert!(ok, "delete: {err}");
    assert!(c.get("cm", "flux-system", "overrides").is_none());
    let (ok, _, err) = run(&["-n", "flux-system", "get", "cm", "overrides"]).await;
    assert!(!ok && err.contains("not found"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_events_watch_streams() {
    for k in tools::kubectls("kubectl_get_events_watch_streams") {
        events_watch(&k).await;
    }
}

async fn events_watch(bin: &Kubectl) {
    let (_sim, c) = cluster().await;
    let cache = tempfile::tempdir().expect("tempdir");
    let event = |name: &str, reason: &str| {
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "flux-system"},
            "involvedObject": {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                               "name": "bp-cilium", "namespace": "flux-system"},
            "reason": reason, "message": format!("{reason} happened"), "type": "Normal",
            "source": {"component": "helm-controller"},
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z", "count": 1,
        })
    };
    c.apply(event("bp-cilium.1", "InstallSucceeded"))
        .expect("event");
    let saw = tools::kubectl_stream_until(
        bin,
        &at(&c, &cache),
        &["-n", "flux-system", "get", "events", "--watch"],
        WAIT,
        |line| {
            if line.contains("InstallSucceeded") {
                c.apply(event("bp-cilium.2", "UpgradeSucceeded"))
                    .expect("event during watch");
            }
            line.contains("UpgradeSucceeded")
        },
    )
    .await;
    assert!(saw, "kubectl {} streamed the new event", bin.version);
}

const EVERY_KIND: &str = include_str!("conformance/kube_every_kind.py");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_kubernetes_reads_every_kind_the_world_serves() {
    use sovtui_world::sim::kube::kinds::KINDS;
    for py in tools::pythons(
        "python_kubernetes_reads_every_kind_the_world_serves",
        "kubernetes",
    ) {
        let (_sim, c) = reconciled_cluster().await;
        let custom: Vec<String> = KINDS
            .iter()
            .filter(|k| !sovtui_world::sim::kube::proto::has_protobuf(&k.api_version(), k.kind))
            .map(|k| format!("{}/{}/{}", k.group, k.version, k.plural))
            .collect();
        let out = tokio::time::timeout(
            WAIT,
            Command::new(&py.path)
                .args(["-c", EVERY_KIND, &c.url()])
                .args(&custom)
                .output(),
        )
        .await
        .expect("in time")
        .expect("python runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{}:\n{stdout}", py.label());
        assert!(
            out.status.success(),
            "{}: {}",
            py.label(),
            String::from_utf8_lossy(&out.stderr)
        );
        let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
        assert!(
            failures.is_empty(),
            "{}:\n{}",
            py.label(),
            failures.join("\n")
        );
        // Every served kind was read, and the world holds objects of the kinds an operator reads.
        for k in KINDS {
            // A second shape of another kind is reported under its qualified name.
            let name = if k.stored_as.is_some() {
                k.qualified_resource()
            } else {
                k.plural.to_string()
            };
            let line = stdout
                .lines()
                .find(|l| l.split(' ').nth(1) == Some(name.as_str()))
                .unwrap_or_else(|| panic!("{}: {name} was not read", py.label()));
            let count: usize = line
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if matches!(
                k.plural,
                "namespaces" | "nodes" | "pods" | "events" | "helmreleases"
            ) {
                assert!(count > 0, "{}: no {} to read", py.label(), k.plural);
            }
        }
    }
}

/// Every built-in object the world serves fits its generated protobuf message: encoded and decoded
/// again it is the same object (what a current kubectl's typed client gets is what JSON clients get).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_world_object_survives_protobuf() {
    use sovtui_world::sim::kube::{kinds::KINDS, proto};
    let (_sim, c) = reconciled_cluster().await;
    let mut checked = 0;
    for k in KINDS
        .iter()
        .filter(|k| proto::has_protobuf(&k.api_version(), k.kind))
    {
        for obj in c.list(k.plural, None).expect("list") {
            let bytes = proto::encode(&obj).unwrap_or_else(|e| panic!("{}: {e}", k.kind));
            let back = proto::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", k.kind));
            assert!(
                back == obj,
                "{} changed through protobuf:\n{}\n{}",
                k.kind,
                serde_json::to_string_pretty(&obj).unwrap_or_default(),
                serde_json::to_string_pretty(&back).unwrap_or_default()
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} objects");
}

/// A core Event as a current recorder writes it (eventTime and reporting fields set).
fn core_event(name: &str, reason: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": "flux-system"},
        "involvedObject": {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                           "name": "bp-cilium", "namespace": "flux-system"},
        "reason": reason, "message": format!("{reason} happened"), "type": "Normal",
        "source": {"component": "helm-controller"}, "reportingComponent": "helm-controller",
        "reportingInstance": "helm-controller", "action": "Reconcile",
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z", "count": 1,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_and_writes_events_k8s_io_v1() {
    for k in tools::kubectls("kubectl_reads_and_writes_events_k8s_io_v1") {
        events_v1(&k).await;
    }
}

async fn events_v1(bin: &Kubectl) {
    let (_sim, c) = cluster().await;
    let cache = tempfile::tempdir().expect("tempdir");
    c.apply(core_event("bp-cilium.1", "InstallSucceeded"))
        .expect("event");

    // Discovery advertises the group, and the same Event reads in the v1 shape.
    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &["api-resources", "--api-group=events.k8s.io"],
    )
    .await;
    assert!(
        ok && out.contains("events.k8s.io/v1"),
        "api-resources: {out} {err}"
    );
    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &["-n", "flux-system", "get", "events.v1.events.k8s.io"],
    )
    .await;
    assert!(
        ok && out.contains("InstallSucceeded"),
        "get events.v1.events.k8s.io: {out} {err}"
    );
    let (ok, out, err) = kubectl(
        bin,
        &c,
        &cache,
        &[
            "-n",
            "flux-system",
            "get",
            "events.v1.events.k8s.io",
            "bp-cilium.1",
            "-o",
            "json",
        ],
    )
    .await;
    assert!(ok, "get -o json: {err}");
    let ev: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(ev["apiVersion"], "events.k8s.io/v1", "{ev}");
    assert_eq!(ev["note"], "InstallSucceeded happened");
    assert_eq!(ev["regarding"]["name"], "bp-cilium");
    assert_eq!(ev["reportingController"], "helm-controller");
    assert_eq!(ev["deprecatedCount"], 1);
    assert!(
        ev.get("message").is_none() && ev.get("involvedObject").is_none(),
        "{ev}"
    );

    // Created through events.k8s.io/v1 (strictly validated), read back as a core Event.
    let file = cache.path().join("event.yaml");
    let v1 = |name: &str, event_time: &str| {
        format!(
            "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: {name}\n  namespace: flux-system\neventTime: {event_time}\nreportingController: sovtui.io/drill\nreportingInstance: drill-1\naction: Drill\nreason: DrillStarted\ntype: Normal\nnote: drill started\nregarding:\n  apiVersion: helm.toolkit.fluxcd.io/v2\n  kind: HelmRelease\n  name: bp-cilium\n  namespace: flux-system\n"
        )
    };
    std::fs::write(&file, v1("drill.1", "\"2026-01-01T00:00:01.000000Z\"")).expect("write");
    let path = file.to_str().expect("path");
    let (ok, _, err) = kubectl(bin, &c, &cache, &["create", "-f", path]).await;
    assert!(ok, "create events.k8s.io/v1 Event: {err}");
    let core = c
        .get("event", "flux-system", "drill.1")
        .expect("stored as a core Event");
    assert_eq!(core["message"], "drill started");
    assert_eq!(core["involvedObject"]["name"], "bp-cilium");
    assert_eq!(core["reportingComponent"], "sovtui.io/drill");
    std::fs::write(&file, v1("drill.2", "null")).expect("write");
    let (ok, _, err) = kubectl(bin, &c, &cache, &["create", "-f", path]).await;
    assert!(!ok && err.contains("eventTime: Required value"), "{err}");

    if bin.minor >= 26 {
        // `kubectl events` (core Events, sorted, with the object they are about).
        let (ok, out, err) = kubectl(bin, &c, &cache, &["-n", "flux-system", "events"]).await;
        assert!(ok, "kubectl events: {err}");
        assert!(
            out.contains("InstallSucceeded") && out.contains("DrillStarted"),
            "{out}"
        );
        let (ok, out, err) = kubectl(
            bin,
            &c,
            &cache,
            &[
                "-n",
                "flux-system",
                "events",
                "--for",
                "helmrelease/bp-cilium",
            ],
        )
        .await;
        assert!(
            ok && out.contains("InstallSucceeded"),
            "kubectl events --for: {out} {err}"
        );
    }

    // A v1 watch streams new Events in the v1 shape.
    let saw = tools::kubectl_stream_until(
        bin,
        &at(&c, &cache),
        &[
            "-n",
            "flux-system",
            "get",
            "events.v1.events.k8s.io",
            "-w",
            "-o",
            "jsonpath={.note}{\"\\n\"}",
        ],
        WAIT,
        |line| {
            if line.contains("InstallSucceeded happened") {
                c.apply(core_event("bp-cilium.2", "UpgradeSucceeded"))
                    .expect("event during watch");
            }
            line.contains("UpgradeSucceeded happened")
        },
    )
    .await;
    assert!(saw, "kubectl {} streamed the new event as v1", bin.version);
}

const PYTHON_EVENTS_V1: &str = r#"
import sys, datetime
from kubernetes import client, watch
cfg = client.Configuration()
cfg.host = sys.argv[1]
cfg.client_side_validation = True
api = client.EventsV1Api(client.ApiClient(cfg))
lst = api.list_event_for_all_namespaces()
for ev in lst.items:
    one = api.read_namespaced_event(ev.metadata.name, ev.metadata.namespace)
    assert one.note == ev.note and one.regarding.name == ev.regarding.name, one
print("LIST " + ",".join(sorted(e.reason for e in lst.items)), flush=True)
body = client.EventsV1Event(
    metadata=client.V1ObjectMeta(name="py.1", namespace="flux-system"),
    event_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    reporting_controller="sovtui.io/py", reporting_instance="py-1", action="Check",
    reason="Checked", type="Normal", note="checked from python",
    regarding=client.V1ObjectReference(kind="HelmRelease", name="bp-cilium", namespace="flux-system"))
made = api.create_namespaced_event("flux-system", body)
print("CREATED %s %s" % (made.metadata.name, made.note), flush=True)
w = watch.Watch()
for ev in w.stream(api.list_namespaced_event, "flux-system", resource_version=lst.metadata.resource_version,
                   timeout_seconds=30):
    print("EVENT %s %s" % (ev["type"], ev["object"].reason), flush=True)
    if ev["object"].metadata.name == "py.1":
        break
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_kubernetes_events_v1_api() {
    for py in tools::pythons("python_kubernetes_events_v1_api", "kubernetes") {
        let (_sim, c) = reconciled_cluster().await;
        let out = tokio::time::timeout(
            WAIT,
            Command::new(&py.path)
                .args(["-c", PYTHON_EVENTS_V1, &c.url()])
                .output(),
        )
        .await
        .expect("in time")
        .expect("python runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {stdout}\n{}",
            py.label(),
            String::from_utf8_lossy(&out.stderr)
        );
        let list = stdout
            .lines()
            .find(|l| l.starts_with("LIST "))
            .unwrap_or("");
        assert!(
            list.contains("InstallSucceeded"),
            "{}: {stdout}",
            py.label()
        );
        assert!(
            stdout.contains("CREATED py.1 checked from python")
                && stdout.contains("EVENT ADDED Checked"),
            "{}: {stdout}",
            py.label()
        );
        let core = c.get("event", "flux-system", "py.1").expect("core Event");
        assert_eq!(core["message"], "checked from python");
    }
}

/// Runs kubectl, returning (ok, stdout, stderr) — for the apply tests' many commands.
async fn apply_file(
    bin: &Kubectl,
    c: &SimCluster,
    cache: &tempfile::TempDir,
    yaml: &str,
    extra: &[&str],
) -> (bool, String, String) {
    let file = cache.path().join("applied.yaml");
    std::fs::write(&file, yaml).expect("write manifest");
    let mut args = vec!["apply", "--server-side", "-f", file.to_str().expect("path")];
    args.extend_from_slice(extra);
    kubectl(bin, c, cache, &args).await
}

fn managers(obj: &serde_json::Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or("").to_string(),
                        e["operation"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_owns_fields_and_conflicts() {
    for k in tools::kubectls("kubectl_server_side_apply_owns_fields_and_conflicts") {
        server_side_apply(&k).await;
    }
}

async fn server_side_apply(bin: &Kubectl) {
    let (_sim, c) = cluster().await;
    let cache = tempfile::tempdir().expect("tempdir");
    let cm = |replicas: &str, extra: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: overrides\n  namespace: flux-system\n  labels:\n    app: catalyst\ndata:\n  replicas: \"{replicas}\"\n{extra}"
        )
    };
    let (ok, _, err) = apply_file(bin, &c, &cache, &cm("2", "  region: fsn1\n"), &[]).await;
    assert!(ok, "first apply: {err}");
    let obj = c.get("cm", "flux-system", "overrides").expect("created");
    assert_eq!(
        managers(&obj),
        vec![("kubectl".into(), "Apply".into())],
        "{obj}"
    );
    let fields = &obj["metadata"]["managedFields"][0];
    assert_eq!(fields["fieldsType"], "FieldsV1");
    assert_eq!(
        fields["fieldsV1"],
        json!({"f:data": {"f:region": {}, "f:replicas": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
    );

    // Another manager applying a different value: 409 naming the owner and the field.
    let (ok, _, err) = apply_file(
        bin,
        &c,
        &cache,
        &cm("3", ""),
        &["--field-manager=flux-drill"],
    )
    .await;
    assert!(!ok, "conflicting apply went through");
    assert!(
        err.contains("conflict") && err.contains("\"kubectl\"") && err.contains(".data.replicas"),
        "{err}"
    );
    assert_eq!(
        c.get("cm", "flux-system", "overrides").expect("cm")["data"]["replicas"],
        "2",
        "nothing changed"
    );
    // Forced: the value changes and the field changes hands.
    let (ok, _, err) = apply_file(
        bin,
        &c,
        &cache,
        &cm("3", ""),
        &["--field-manager=flux-drill", "--force-conflicts"],
    )
    .await;
    assert!(ok, "forced apply: {err}");
    let obj = c.get("cm", "flux-system", "overrides").expect("cm");
    assert_eq!(obj["data"]["replicas"], "3");
    let mf = obj["metadata"]["managedFields"].as_array().expect("mf");
    let owner = |m: &str| {
        mf.iter()
            .find(|e| e["manager"] == m)
            .map(|e| e["fieldsV1"].clone())
            .unwrap_or_default()
    };
    assert!(
        owner("kubectl")["f:data"].get("f:replicas").is_none(),
        "{obj}"
    );
    assert!(
        owner("flux-drill")["f:data"].get("f:replicas").is_some(),
        "{obj}"
    );

    // An ordinary patch is recorded as an Update by its manager.
    let (ok, _, err) = kubectl(
        bin,
        &c,
        &cache,
        &[
            "-n",
            "flux-system",
            "patch",
            "cm",
            "overrides",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"tier":"gold"}}"#,
        ],
    )
    .await;
    assert!(ok, "patch: {err}");
    let obj = c.get("cm", "flux-system", "overrides").expect("cm");
    assert!(
        managers(&obj).contains(&("kubectl-patch".into(), "Update".into())),
        "{obj}"
    );

    // The first applier drops `region` from its configuration: nobody else owns it, so it goes.
    let (ok, _, err) = apply_file(bin, &c, &cache, &cm("3", ""), &[]).await;
    assert!(ok, "re-apply without region: {err}");
    let obj = c.get("cm", "flux-system", "overrides").expect("cm");
    assert!(obj["data"].get("region").is_none(), "{obj}");
    assert_eq!(obj["data"]["tier"], "gold", "{obj}");

    // A custom resource, applied twice by the same manager (create, then change).
    let hr = |interval: &str| {
        format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: bp-ssa\n  namespace: flux-system\nspec:\n  interval: {interval}\n  chart:\n    spec:\n      chart: bp-ssa\n      version: 1.0.0\n"
        )
    };
    for interval in ["15m", "5m"] {
        let (ok, _, err) = apply_file(bin, &c, &cache, &hr(interval), &[]).await;
        assert!(ok, "apply hr ({interval}): {err}");
    }
    let obj = c.get("hr", "flux-system", "bp-ssa").expect("hr");
    assert_eq!(obj["spec"]["interval"], "5m");
    assert_eq!(
        managers(&obj),
        vec![("kubectl".into(), "Apply".into())],
        "{obj}"
    );
}

const SCHEMAS: &str = include_str!("conformance/kube_schemas.py");

/// Every object of every kind the world serves, read as JSON and validated strictly against the
/// published schemas: the Kubernetes OpenAPI (PyPI's kubernetes-validate, pinned in
/// .ci/install-deps) and Flux v2.4.0's CRDs (conformance/flux-crd-schemas.json).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_object_matches_the_published_schemas() {
    use sovtui_world::sim::kube::kinds::KINDS;
    const TEST: &str = "every_object_matches_the_published_schemas";
    let py = tools::workspace_root().join("target/tools/py/bin/python");
    let has_validator = std::process::Command::new(&py)
        .args(["-c", "import kubernetes_validate, jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_validator {
        tools::missing(
            TEST,
            "kubernetes-validate in target/tools/py (.ci/install-deps)",
        );
        return;
    }
    let (_sim, c) = reconciled_cluster().await;
    // Objects a reconciled kit does not hold: a Secret, and one written by server-side apply
    // (so `managedFields` are checked as ObjectMeta too).
    c.apply(json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "ghcr-pull", "namespace": "flux-system"},
                   "stringData": {"token": "abc"}}))
        .expect("secret");
    let applied = reqwest::Client::new()
        .patch(format!(
            "{}/api/v1/namespaces/flux-system/configmaps/ssa?fieldManager=schema-check",
            c.url()
        ))
        .header("content-type", "application/apply-patch+yaml")
        .body(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa","labels":{"a":"b"}},"data":{"k":"v"}}"#)
        .send()
        .await
        .expect("apply");
    assert_eq!(applied.status().as_u16(), 201);
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance/flux-crd-schemas.json");
    let kinds: Vec<String> = KINDS
        .iter()
        .map(|k| {
            format!(
                "{}/{}/{}/{}/{}",
                k.group, k.version, k.plural, k.kind, k.namespaced
            )
        })
        .collect();
    let out = tokio::time::timeout(
        WAIT,
        Command::new(&py)
            .args(["-c", SCHEMAS, &c.url(), "1.33.0"])
            .arg(&fixture)
            .args(&kinds)
            .output(),
    )
    .await
    .expect("in time")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for k in KINDS {
        let line = stdout
            .lines()
            .find(|l| l.split(' ').nth(1) == Some(k.plural) && !l.starts_with("FAIL"))
            .unwrap_or_else(|| panic!("{} was not checked", k.plural));
        // Built-in kinds and Flux's have published schemas; the others' CRDs are not in the fixture.
        let published = k.group.is_empty()
            || k.group.ends_with(".k8s.io")
            || k.group == "apps"
            || k.group.ends_with(".fluxcd.io");
        assert_eq!(line.starts_with("OK"), published, "{}: {line}", k.plural);
    }
}

/// A cluster with the runbook's exec target: Deployment `pool-domain-manager` in
/// `openova-system`, one Running pod of it, a handler for its `wget` and a file it holds.
async fn exec_cluster() -> (KubeSim, SimCluster) {
    use sovtui_world::sim::kube::exec::{ExecOutput, ExecTarget};
    let sim = KubeSim::new(SimClock::new(1.0));
    let c = sim
        .add_empty_cluster("exec.example", ClusterOptions::default())
        .await
        .expect("cluster");
    let labels = json!({"app": "pool-domain-manager"});
    c.apply(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "openova-system"}}),
    )
    .expect("namespace");
    c.apply(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "pool-domain-manager", "namespace": "openova-system", "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "pdm", "image": "ghcr.io/openova/pdm:1"}]}}},
    }))
    .expect("deployment");
    c.apply(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pool-domain-manager-6d4f9-x2x7q", "namespace": "openova-system",
                     "labels": labels},
        "spec": {"containers": [{"name": "pdm", "image": "ghcr.io/openova/pdm:1",
                                 "env": [{"name": "PDM_ZONES", "value": "omani.works"}]},
                                {"name": "metrics", "image": "ghcr.io/openova/metrics:1"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "pdm", "ready": true, "restartCount": 0, "image": "ghcr.io/openova/pdm:1",
                                          "imageID": "", "started": true, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}},
                                         {"name": "metrics", "ready": true, "restartCount": 0, "image": "ghcr.io/openova/metrics:1",
                                          "imageID": "", "started": true, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]},
    }))
    .expect("pod");
    let pdm = ExecTarget::labels("openova-system", &[("app", "pool-domain-manager")]);
    c.exec().register(pdm.clone().container("pdm"), |call| {
        (call.program() == "wget" && call.argv.iter().any(|a| a.ends_with("/healthz")))
            .then(|| ExecOutput::ok("{\"status\":\"ok\"}\n"))
    });
    c.exec()
        .files(pdm)
        .put("/etc/pdm/zones", "omani.works\nopenova.io\n");
    (sim, c)
}

/// `kubectl exec` with `input` on its stdin (None: no stdin): (exit code, stdout, stderr).
async fn kubectl_exec(
    k: &Kubectl,
    cluster: &SimCluster,
    cache: &tempfile::TempDir,
    args: &[&str],
    input: Option<&str>,
) -> (i32, String, String) {
    k.run(&at(cluster, cache), args, input, WAIT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_runs_commands_in_pods() {
    for k in tools::kubectls("kubectl_exec_runs_commands_in_pods") {
        exec_commands(&k).await;
    }
}

async fn exec_commands(bin: &Kubectl) {
    let (_sim, c) = exec_cluster().await;
    let cache = tempfile::tempdir().expect("tempdir");
    let pod = "pool-domain-manager-6d4f9-x2x7q";
    let ns = ["-n", "openova-system"];
    let exec =
        |args: &[&str]| -> Vec<String> { ns.iter().chain(args).map(|s| s.to_string()).collect() };
    let run = |args: Vec<String>, input: Option<&'static str>| {
        let (c, cache) = (&c, &cache);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            kubectl_exec(bin, c, cache, &args, input).await
        }
    };

    let (code, out, err) = run(exec(&["exec", pod, "--", "echo", "hi", "there"]), None).await;
    assert_eq!((code, out.as_str()), (0, "hi there\n"), "{err}");

    // The runbook's command, as written: kubectl resolves deploy/NAME through the Deployment's
    // selector and a pod list itself.
    let (code, out, err) = run(
        exec(&[
            "exec",
            "deploy/pool-domain-manager",
            "--",
            "wget",
            "-qO-",
            "http://localhost:8080/healthz",
        ]),
        None,
    )
    .await;
    assert_eq!((code, out.as_str()), (0, "{\"status\":\"ok\"}\n"), "{err}");

    // A non-zero exit reaches kubectl as the kubelet's Status: kubectl exits with the code;
    // stdout and stderr stay apart.
    let (code, out, err) = run(
        exec(&[
            "exec",
            pod,
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ]),
        None,
    )
    .await;
    assert_eq!((code, out.as_str()), (3, "out\n"), "{err}");
    assert!(err.contains("err\n"), "{err}");
    assert!(err.contains("command terminated with exit code 3"), "{err}");

    // stdin with -i, read to its end.
    let (code, out, err) = run(
        exec(&["exec", "-i", pod, "--", "sh", "-c", "cat | grep -c omani"]),
        Some("omani.works\nexample.org\nomani.net\n"),
    )
    .await;
    assert_eq!((code, out.as_str()), (0, "2\n"), "{err}");

    // Files the pod holds, the container's environment, a chosen container.
    let (code, out, err) = run(
        exec(&["exec", pod, "-c", "pdm", "--", "cat", "/etc/pdm/zones"]),
        None,
    )
    .await;
    assert_eq!(
        (code, out.as_str()),
        (0, "omani.works\nopenova.io\n"),
        "{err}"
    );
    let (code, out, err) = run(exec(&["exec", pod, "--", "printenv", "PDM_ZONES"]), None).await;
    assert_eq!((code, out.as_str()), (0, "omani.works\n"), "{err}");
    // The wget handler is registered for the pdm container only.
    let (code, out, _) = run(
        exec(&[
            "exec",
            pod,
            "-c",
            "metrics",
            "--",
            "wget",
            "-qO-",
            "http://localhost:8080/healthz",
        ]),
        None,
    )
    .await;
    assert_eq!(code, 126, "no wget in the metrics container: {out}");

    // Refusals as the apiserver words them.
    let (code, _, err) = run(exec(&["exec", pod, "-c", "nope", "--", "true"]), None).await;
    assert_ne!(code, 0);
    assert!(err.contains("container nope is not valid for pod"), "{err}");
    let (code, _, err) = run(exec(&["exec", "no-such-pod", "--", "true"]), None).await;
    assert_ne!(code, 0);
    assert!(err.contains("not found"), "{err}");

    // Which protocol carried it: SPDY (POST) for 1.20; a current kubectl speaks websocket (GET)
    // and only falls back to SPDY if the upgrade fails — it must not have to here.
    let execs: Vec<_> = c
        .request_log()
        .into_iter()
        .filter(|r| r.uri.contains("/exec?") && r.status == 101)
        .collect();
    assert!(!execs.is_empty());
    let want = if bin.minor >= 30 { "GET" } else { "POST" };
    assert!(
        execs.iter().all(|r| r.method == want),
        "kubectl {}: {:?}",
        bin.version,
        execs
            .iter()
            .map(|r| (&r.method, &r.uri))
            .collect::<Vec<_>>()
    );
}

const EXEC_PY: &str = include_str!("conformance/kube_exec.py");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_kubernetes_stream_exec() {
    for py in tools::pythons("python_kubernetes_stream_exec", "kubernetes") {
        let (_sim, c) = exec_cluster().await;
        let out = tokio::time::timeout(
            WAIT,
            Command::new(&py.path)
                .args(["-c", EXEC_PY, &c.url()])
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("{} finished in time", py.label()))
        .expect("python");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {stdout}\n{}",
            py.label(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout,
            "OUT \"omani.works\\nopenova.io\\n\"\nSTDOUT \"out\\n\"\nSTDERR \"err\\n\"\nCODE 3\n",
            "{}",
            py.label()
        );
        assert!(
            c.request_log()
                .iter()
                .any(|r| r.uri.contains("/exec?") && r.method == "GET" && r.status == 101),
            "{} upgraded to a websocket",
            py.label()
        );
    }
}
