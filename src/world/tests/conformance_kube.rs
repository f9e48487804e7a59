//! The simulated apiservers checked with clients nobody here wrote: Debian's kubectl 1.20 and the
//! python `kubernetes` client (22.6). Each test skips with a printed notice if its client is absent.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use sovtui_world::sim::clock::SimClock;
use sovtui_world::sim::kube::{ClusterOptions, KubeSim, SimCluster};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[path = "../../../tests/support/tools.rs"]
mod tools;

const WAIT: Duration = Duration::from_secs(60);

fn kubectl_path() -> Option<PathBuf> {
    let root = tools::workspace_root();
    // SOVTUI_KUBECTL picks another kubectl (e.g. a newer one) explicitly.
    let mut candidates: Vec<PathBuf> = std::env::var_os("SOVTUI_KUBECTL")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.extend([root.join("target/tools/kubectl/usr/bin/kubectl")]);
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("kubectl")));
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn python_with_kubernetes() -> Option<PathBuf> {
    let py = PathBuf::from("/usr/bin/python3");
    let ok = std::process::Command::new(&py)
        .args(["-c", "import kubernetes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(py)
}

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

async fn kubectl(
    bin: &PathBuf,
    cluster: &SimCluster,
    cache: &tempfile::TempDir,
    args: &[&str],
) -> (bool, String, String) {
    let out = tokio::time::timeout(
        WAIT,
        Command::new(bin)
            .arg(format!("--server={}", cluster.url()))
            .arg(format!("--cache-dir={}", cache.path().display()))
            .arg("--kubeconfig=/dev/null")
            .args(args)
            .output(),
    )
    .await
    .expect("kubectl timed out")
    .expect("kubectl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_watch_and_patch() {
    let Some(bin) = kubectl_path() else {
        tools::missing(
            "kubectl_get_watch_and_patch",
            "kubectl not found (PATH, target/tools/kubectl/usr/bin)",
        );
        return;
    };
    let (_sim, c) = cluster().await;
    let cache = tempfile::tempdir().expect("tempdir");

    let (ok, out, err) = kubectl(&bin, &c, &cache, &["get", "hr", "-A"]).await;
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
    let (ok, _, err) = kubectl(&bin, &c, &cache, &["get", "pods,nodes,ns", "-A"]).await;
    assert!(ok, "get pods,nodes,ns failed: {err}");
    let (ok, out, err) = kubectl(
        &bin,
        &c,
        &cache,
        &["-n", "flux-system", "describe", "hr", "bp-cilium"],
    )
    .await;
    assert!(ok, "describe failed: {err}");
    assert!(out.contains("bp-cilium") && out.contains("Ready"), "{out}");

    let (ok, out, err) = kubectl(
        &bin,
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
        &bin,
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
        &bin,
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
    let mut child = Command::new(&bin)
        .arg(format!("--server={}", c.url()))
        .arg(format!("--cache-dir={}", cache.path().display()))
        .arg("--kubeconfig=/dev/null")
        .args(["get", "hr", "-A", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn watch");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let saw = tokio::time::timeout(WAIT, async {
        let mut initial = 0;
        while let Ok(Some(line)) = lines.next_line().await {
            println!("kubectl -w: {line}");
            if line.contains("bp-") && initial < 2 {
                initial += 1;
                if initial == 2 {
                    c.apply(hr("bp-flux", "Unknown"))
                        .expect("apply during watch");
                }
            } else if line.contains("bp-flux") {
                return true;
            }
        }
        false
    })
    .await
    .expect("watch output in time");
    assert!(saw, "kubectl -w showed the new HelmRelease");
    let _ = child.kill().await;
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
    let Some(py) = python_with_kubernetes() else {
        tools::missing(
            "python_kubernetes_lists_and_watches_helmreleases",
            "/usr/bin/python3 without the kubernetes module",
        );
        return;
    };
    let (_sim, c) = cluster().await;
    let mut child = Command::new(py)
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
    .expect("python finished in time");
    assert_eq!(result.as_deref(), Some("bp-cert-manager,bp-cilium"));
    let _ = child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_operator_commands_against_a_reconciling_cluster() {
    use sovtui_world::sim::kube::ClusterScenario;
    let Some(bin) = kubectl_path() else {
        tools::missing(
            "kubectl_operator_commands_against_a_reconciling_cluster",
            "kubectl not found",
        );
        return;
    };
    // Fast clock: the runbook kit is installed within milliseconds of real time.
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
    let cache = tempfile::tempdir().expect("tempdir");

    // Runbook C9's live fix.
    let (ok, _, err) = kubectl(
        &bin,
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
            &bin,
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

    // helm-controller's log, found by label like an operator would.
    let (ok, out, err) = kubectl(
        &bin,
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

    // Events of a HelmRelease through describe.
    let (ok, out, err) = kubectl(
        &bin,
        &c,
        &cache,
        &["-n", "flux-system", "describe", "hr", "bp-cilium"],
    )
    .await;
    assert!(ok, "describe: {err}");
    assert!(out.contains("InstallSucceeded"), "{out}");

    let (ok, _, err) = kubectl(
        &bin,
        &c,
        &cache,
        &["-n", "flux-system", "delete", "hr", "bp-extra"],
    )
    .await;
    assert!(ok, "delete: {err}");
    assert!(c.get("hr", "flux-system", "bp-extra").is_none());
}
