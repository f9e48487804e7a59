//! The fleet library and `sovtui fleet` against simulated apiservers on loopback: several
//! clusters at once, one going down and coming back, an apiserver restart with history
//! compaction (410 → relist), 401 and credential re-read, fleet-file reloads, armed actions, and a
//! status change made with kubectl that shows up in `fleet status --json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use sovtui::provision::fleet::model::{ConnectionState, SovereignStatus};
use sovtui::provision::fleet::{
    Fleet, FleetEvent, FleetHandle, FleetOptions, FleetSnapshot, FluxAction, FluxKind, ObjectRef,
    WatchTuning,
};
use sovtui::provision::flux::ComponentState;
use sovtui::sim::clock::SimClock;
use sovtui::sim::kube::{ClusterOptions, KubeSim, SimCluster};
use tokio::sync::mpsc::Receiver;

mod support;
use support::cockpit::render as screen;

const A: &str = "alpha.fleet.test";
const B: &str = "bravo.fleet.test";
const C: &str = "charlie.fleet.test";
/// Generous overall bound for any awaited condition; tests wait on events, never on sleeps.
const PATIENCE: Duration = Duration::from_secs(60);

fn hr(name: &str, deps: &[&str], ready: Option<(&str, &str, &str)>) -> Value {
    let deps: Vec<Value> = deps.iter().map(|d| json!({"name": d})).collect();
    let conditions: Vec<Value> = ready
        .map(|(status, reason, message)| {
            vec![
                json!({"type": "Ready", "status": status, "reason": reason, "message": message,
                        "lastTransitionTime": "2026-11-29T10:00:00Z"}),
            ]
        })
        .unwrap_or_default();
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "15m", "dependsOn": deps,
                 "chart": {"spec": {"chart": name, "sourceRef": {"kind": "HelmRepository", "name": name}}}},
        "status": {"conditions": conditions}
    })
}

fn installed() -> Option<(&'static str, &'static str, &'static str)> {
    Some(("True", "InstallSucceeded", "Helm install succeeded"))
}

fn seed(c: &SimCluster) {
    // Applied out of DAG order on purpose.
    for obj in [
        hr("bp-flux", &["bp-cert-manager"], installed()),
        hr("bp-cert-manager", &["bp-cilium"], installed()),
        hr(
            "bp-keycloak",
            &["bp-cert-manager"],
            Some(("Unknown", "Progressing", "")),
        ),
        hr("bp-cilium", &[], installed()),
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "bootstrap-kit", "namespace": "flux-system"},
            "spec": {"interval": "5m", "path": "./clusters/x/bootstrap-kit", "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "openova"}},
            "status": {"lastAppliedRevision": "main@sha1:1111",
                       "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                                       "message": "Applied revision: main@sha1:1111"}]}
        }),
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "openova", "namespace": "flux-system"},
            "spec": {"interval": "1m", "url": "https://github.com/openova-io/openova", "ref": {"branch": "main"}},
            "status": {"artifact": {"revision": "main@sha1:1111"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "stored artifact"}]}
        }),
    ] {
        c.apply(obj).expect("seed object");
    }
}

struct World {
    sim: KubeSim,
    dir: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        let sim = KubeSim::new(SimClock::new(1.0));
        for name in [A, B, C] {
            // kubectl 1.20 has no --subresource: let it edit status through the main resource.
            let opts = ClusterOptions {
                lenient_status: true,
                ..Default::default()
            };
            let c = sim.add_empty_cluster(name, opts).await.expect("cluster");
            seed(&c);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("kubeconfig"), sim.kubeconfig_yaml()).expect("kubeconfig");
        let w = World { sim, dir };
        w.write_fleet(&[A, B, C]);
        w
    }

    fn cluster(&self, name: &str) -> SimCluster {
        self.sim.cluster(name).expect("cluster exists")
    }

    fn fleet_path(&self) -> PathBuf {
        self.dir.path().join("fleet.toml")
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn write_fleet(&self, names: &[&str]) {
        let mut text = String::new();
        for n in names {
            let tags = if *n == A { "[\"prod\"]" } else { "[]" };
            text.push_str(&format!(
                "[[sovereign]]\nfqdn = \"{n}\"\nkubeconfig = \"kubeconfig\"\ntags = {tags}\n\n"
            ));
        }
        write_atomically(&self.fleet_path(), &text);
    }

    fn options(&self) -> FleetOptions {
        FleetOptions {
            audit_log: self.dir.path().join("state/audit.jsonl"),
            reload_debounce: Duration::from_millis(50),
            tuning: WatchTuning {
                backoff_min: Duration::from_millis(50),
                backoff_max: Duration::from_millis(400),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn start(&self) -> (FleetHandle, Receiver<FleetEvent>) {
        Fleet::start(&self.fleet_path(), self.options()).expect("fleet starts")
    }
}

/// Replace a file the way editors do (write elsewhere, rename over).
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// Wait until `pred` holds for the fleet's snapshot, re-checking after every event.
async fn wait_for(
    handle: &FleetHandle,
    events: &mut Receiver<FleetEvent>,
    what: &str,
    mut pred: impl FnMut(&FleetSnapshot) -> bool,
) -> FleetSnapshot {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let snap = handle.snapshot().await.expect("snapshot");
        if pred(&snap) {
            return snap;
        }
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("fleet stopped while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}; last snapshot: {snap:#?}"),
        }
    }
}

/// Wait for an event matching `pred`, returning it.
async fn wait_event(
    events: &mut Receiver<FleetEvent>,
    what: &str,
    mut pred: impl FnMut(&FleetEvent) -> bool,
) -> FleetEvent {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) if pred(&ev) => return ev,
            Ok(Some(_)) => {}
            Ok(None) => panic!("fleet stopped while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

fn sov<'a>(snap: &'a FleetSnapshot, fqdn: &str) -> &'a SovereignStatus {
    snap.sovereigns
        .iter()
        .find(|s| s.fqdn == fqdn)
        .unwrap_or_else(|| panic!("{fqdn} in snapshot"))
}

fn state_of(s: &SovereignStatus, hr: &str) -> Option<ComponentState> {
    s.components.iter().find(|c| c.name == hr).map(|c| c.state)
}

fn all_live(snap: &FleetSnapshot) -> bool {
    snap.settled() && snap.sovereigns.iter().all(|s| s.connection.is_live())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clusters_sync_with_dag_order_and_flux_objects() {
    let w = World::new().await;
    let (handle, mut events) = w.start();
    let snap = wait_for(&handle, &mut events, "initial sync", all_live).await;
    assert_eq!(
        snap.sovereigns
            .iter()
            .map(|s| s.fqdn.as_str())
            .collect::<Vec<_>>(),
        [A, B, C]
    );
    for s in &snap.sovereigns {
        let order: Vec<&str> = s.components.iter().map(|c| c.id()).collect();
        assert_eq!(
            order,
            ["cilium", "cert-manager", "flux", "keycloak"],
            "{}",
            s.fqdn
        );
        assert_eq!(state_of(s, "bp-keycloak"), Some(ComponentState::Installing));
        assert_eq!(
            s.components[1].depends_on,
            ["flux-system/bp-cilium".to_string()]
        );
        assert_eq!(s.kustomizations.len(), 1);
        assert_eq!(s.kustomizations[0].ready, Some(true));
        assert_eq!(
            s.git_repositories[0].revision.as_deref(),
            Some("main@sha1:1111")
        );
        assert_eq!(s.worst().map(|c| c.name.as_str()), Some("bp-keycloak"));
        assert_eq!(s.stale_for(chrono::Utc::now()), None);
    }
    assert_eq!(sov(&snap, A).tags, ["prod"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_going_down_is_marked_stale_then_comes_back_with_current_data() {
    let w = World::new().await;
    let (handle, mut events) = w.start();
    wait_for(&handle, &mut events, "initial sync", all_live).await;

    let b = w.cluster(B);
    b.down();
    let snap = wait_for(&handle, &mut events, "bravo unreachable", |s| {
        matches!(sov(s, B).connection, ConnectionState::Unreachable { .. })
    })
    .await;
    let down = sov(&snap, B);
    assert!(
        down.stale_for(chrono::Utc::now()).is_some(),
        "stale marker on data of a cluster that is not live"
    );
    assert_eq!(down.components.len(), 4, "last known data is kept");
    assert!(sov(&snap, A).connection.is_live());
    assert!(sov(&snap, C).connection.is_live());

    // The world moves on while we cannot see it.
    b.merge_patch(
        "hr",
        "flux-system",
        "bp-keycloak",
        json!({"status": {"conditions": [{"type": "Ready", "status": "False",
            "reason": "InstallFailed", "message": "keycloak: chart pull failed"}]}}),
    )
    .expect("patch while down");
    b.up().await.expect("up again");

    let snap = wait_for(&handle, &mut events, "bravo live with new data", |s| {
        let b = sov(s, B);
        b.connection.is_live() && state_of(b, "bp-keycloak") == Some(ComponentState::Failed)
    })
    .await;
    let back = sov(&snap, B);
    assert_eq!(back.stale_for(chrono::Utc::now()), None);
    let keycloak = back
        .components
        .iter()
        .find(|c| c.name == "bp-keycloak")
        .expect("keycloak");
    assert_eq!(keycloak.message, "keycloak: chart pull failed");
    assert_eq!(back.worst().map(|c| c.id()), Some("keycloak"));
}

fn list_requests(c: &SimCluster, plural: &str) -> usize {
    c.request_log()
        .iter()
        .filter(|r| r.method == "GET" && !r.watch && r.uri.contains(plural))
        .count()
}

/// Wait until the cluster has answered a watch of each of `plurals` (the log records a watch
/// once its stream has started).
async fn wait_watching(c: &SimCluster, plurals: &[&str]) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let log = c.request_log();
        let open = |p: &&str| {
            log.iter()
                .any(|r| r.watch && r.status == 200 && r.uri.contains(*p))
        };
        if plurals.iter().all(open) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for watches of {plurals:?}; requests: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apiserver_restart_with_compacted_history_relists() {
    let w = World::new().await;
    let (handle, mut events) = w.start();
    wait_for(&handle, &mut events, "initial sync", all_live).await;

    let c = w.cluster(C);
    let lists_before = list_requests(&c, "helmreleases");
    c.down();
    wait_for(&handle, &mut events, "charlie not live", |s| {
        !sov(s, C).connection.is_live()
    })
    .await;
    // Changes only a relist can reveal once the history is gone: a deletion and an update.
    c.delete("hr", "flux-system", "bp-flux").expect("delete");
    c.merge_patch(
        "hr",
        "flux-system",
        "bp-cilium",
        json!({"status": {"conditions": [{"type": "Ready", "status": "False",
            "reason": "UpgradeFailed", "message": "cilium upgrade failed"}]}}),
    )
    .expect("patch");
    c.restart(false).await.expect("restart without history");

    let snap = wait_for(&handle, &mut events, "charlie relisted", |s| {
        let c = sov(s, C);
        c.connection.is_live()
            && state_of(c, "bp-flux").is_none()
            && state_of(c, "bp-cilium") == Some(ComponentState::Failed)
    })
    .await;
    assert_eq!(sov(&snap, C).components.len(), 3);
    assert!(
        list_requests(&c, "helmreleases") > lists_before,
        "a fresh list after the 410"
    );
    assert!(
        c.request_log()
            .iter()
            .any(|r| r.watch && r.uri.contains("helmreleases")),
        "watching again after the relist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_stream_compaction_while_live_relists() {
    let w = World::new().await;
    let (handle, mut events) = w.start();
    // After every Synced event no initial-list Snapshot can still be queued.
    let mut synced = 0;
    while synced < 3 {
        if let FleetEvent::Synced { .. } = wait_event(&mut events, "synced", |_| true).await {
            synced += 1;
        }
    }
    let a = w.cluster(A);
    let all_lists = |c: &SimCluster| {
        ["helmreleases", "kustomizations", "gitrepositories"]
            .iter()
            .map(|p| list_requests(c, p))
            .sum::<usize>()
    };
    // Synced means listed, not yet watching: a watch that opens after the compaction resumes
    // from the current version, which (as on a real apiserver) is still valid and never sees a
    // 410. So compact only once all three watches are open.
    wait_watching(&a, &["helmreleases", "kustomizations", "gitrepositories"]).await;
    let lists_before = all_lists(&a);
    a.compact_history();
    // Only a relist produces a Snapshot; watch events produce per-object changes.
    wait_event(
        &mut events,
        "alpha relisted",
        |e| matches!(e, FleetEvent::Snapshot { status } if status.fqdn == A),
    )
    .await;
    assert!(all_lists(&a) > lists_before);
    // And the watch resumed from the new list works.
    a.apply(hr("bp-gitea", &["bp-keycloak"], None))
        .expect("new hr");
    let snap = wait_for(&handle, &mut events, "alpha sees bp-gitea", |s| {
        state_of(sov(s, A), "bp-gitea") == Some(ComponentState::Pending)
    })
    .await;
    assert_eq!(
        sov(&snap, A).components.last().map(|c| c.id()),
        Some("gitea")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_is_auth_expired_until_credentials_work_again() {
    let w = World::new().await;
    let (handle, mut events) = w.start();
    wait_for(&handle, &mut events, "initial sync", all_live).await;
    let a = w.cluster(A);
    a.set_unauthorized(true);
    // Cut open watches so the next request meets the 401.
    a.restart(true).await.expect("restart");
    wait_for(&handle, &mut events, "alpha auth expired", |s| {
        matches!(sov(s, A).connection, ConnectionState::AuthExpired { .. })
    })
    .await;
    a.set_unauthorized(false);
    wait_for(&handle, &mut events, "alpha live again", |s| {
        sov(s, A).connection.is_live()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_file_changes_apply_live_and_a_broken_file_keeps_the_last_good_fleet() {
    let w = World::new().await;
    w.write_fleet(&[A, B]);
    let (handle, mut events) = w.start();
    wait_for(&handle, &mut events, "two synced", all_live).await;

    w.write_fleet(&[A, B, C]);
    wait_event(
        &mut events,
        "charlie added",
        |e| matches!(e, FleetEvent::SovereignAdded { status } if status.fqdn == C),
    )
    .await;
    wait_for(&handle, &mut events, "three synced", |s| {
        all_live(s) && s.sovereigns.len() == 3
    })
    .await;

    write_atomically(
        &w.fleet_path(),
        "[[sovereign]]\nfqdn = \"alpha.fleet.test\"\nkubeconfig = \"kubeconfig\"\ntagz = []\n",
    );
    let ev = wait_event(&mut events, "file error", |e| {
        matches!(e, FleetEvent::FleetFileError { .. })
    })
    .await;
    let FleetEvent::FleetFileError { error } = ev else {
        unreachable!()
    };
    assert_eq!(error.line, Some(4), "{error}");
    assert!(error.message.contains("tagz"), "{error}");
    let snap = handle.snapshot().await.expect("snapshot");
    assert_eq!(snap.sovereigns.len(), 3, "last good fleet kept");
    assert!(snap.file_error.is_some());

    w.write_fleet(&[A]);
    wait_event(
        &mut events,
        "bravo removed",
        |e| matches!(e, FleetEvent::SovereignRemoved { fqdn } if fqdn == B),
    )
    .await;
    let snap = wait_for(&handle, &mut events, "only alpha", |s| {
        s.sovereigns.len() == 1 && s.file_error.is_none()
    })
    .await;
    assert_eq!(snap.sovereigns[0].fqdn, A);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn armed_actions_patch_the_object_and_are_audited() {
    let w = World::new().await;
    let (handle, mut events) = w.start();
    wait_for(&handle, &mut events, "initial sync", all_live).await;
    let target = ObjectRef {
        kind: FluxKind::HelmRelease,
        namespace: "flux-system".into(),
        name: "bp-cilium".into(),
    };
    handle
        .act(B, &target, FluxAction::Reconcile)
        .await
        .expect("reconcile");
    let obj = w
        .cluster(B)
        .get("hr", "flux-system", "bp-cilium")
        .expect("object");
    assert!(
        obj.pointer("/metadata/annotations/reconcile.fluxcd.io~1requestedAt")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty()),
        "{obj}"
    );

    // Runbook C11: the values change and the reconcile request land in one patch.
    handle
        .act(B, &target, FluxAction::DisableObservability)
        .await
        .expect("observability off");
    let obj = w
        .cluster(B)
        .get("hr", "flux-system", "bp-cilium")
        .expect("object");
    assert_eq!(
        obj.pointer("/spec/values/observability/enabled"),
        Some(&Value::Bool(false)),
        "{obj}"
    );

    handle
        .act(B, &target, FluxAction::Suspend)
        .await
        .expect("suspend");
    wait_for(&handle, &mut events, "suspended seen", |s| {
        state_of(sov(s, B), "bp-cilium") == Some(ComponentState::Suspended)
    })
    .await;
    handle
        .act(B, &target, FluxAction::Resume)
        .await
        .expect("resume");
    wait_for(&handle, &mut events, "resumed seen", |s| {
        state_of(sov(s, B), "bp-cilium") == Some(ComponentState::Installed)
    })
    .await;

    let missing = ObjectRef {
        name: "bp-nope".into(),
        ..target.clone()
    };
    assert!(
        handle
            .act(B, &missing, FluxAction::Reconcile)
            .await
            .is_err()
    );

    let audit = sovtui::provision::fleet::actions::read_audit(handle.audit_log()).expect("audit");
    let outcomes: Vec<(FluxAction, &str)> = audit
        .iter()
        .map(|r| (r.action, r.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (FluxAction::Reconcile, "requested"),
            (FluxAction::Reconcile, "succeeded"),
            (FluxAction::DisableObservability, "requested"),
            (FluxAction::DisableObservability, "succeeded"),
            (FluxAction::Suspend, "requested"),
            (FluxAction::Suspend, "succeeded"),
            (FluxAction::Resume, "requested"),
            (FluxAction::Resume, "succeeded"),
            (FluxAction::Reconcile, "requested"),
            (FluxAction::Reconcile, "failed"),
        ]
    );
    assert!(audit.iter().all(|r| r.fqdn == B));
}

fn kubectl() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    // SOVTUI_KUBECTL picks another kubectl explicitly (as in tests/conformance_kube.rs).
    let candidates = std::env::var_os("SOVTUI_KUBECTL")
        .map(PathBuf::from)
        .into_iter()
        .chain([repo.join("target/tools/kubectl/usr/bin/kubectl")]);
    candidates.into_iter().find(|p| p.is_file()).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("kubectl"))
                .find(|p| p.is_file())
        })
    })
}

async fn run_sovtui(args: &[&str], config: &Path) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sovtui"));
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .env_remove("SOVTUI_CATALYST_API")
        .env(
            "XDG_STATE_HOME",
            config.parent().expect("dir").join("xdg-state"),
        )
        .kill_on_drop(true);
    tokio::time::timeout(PATIENCE, cmd.output())
        .await
        .expect("sovtui finished in time")
        .expect("sovtui runs")
}

/// A third-party client changes a status: kubectl merge-patches bravo's bp-flux to failed.
async fn fail_bravo_flux_with_kubectl(kubectl: &Path, w: &World) {
    let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "False",
        "reason": "InstallFailed", "message": "flux: values invalid",
        "lastTransitionTime": "2026-11-29T12:00:00Z"}]}});
    let out = tokio::process::Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(w.kubeconfig())
        .args(["--context", B, "--cache-dir"])
        .arg(w.dir.path().join("kubectl-cache"))
        .args(["-n", "flux-system", "patch", "helmrelease", "bp-flux"])
        .args(["--type", "merge", "-p"])
        .arg(patch.to_string())
        .output()
        .await
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl patch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_patch_shows_up_in_fleet_status_json() {
    let Some(kubectl) = kubectl() else {
        support::tools::missing(
            "kubectl_patch_shows_up_in_fleet_status_json",
            "kubectl not found",
        );
        return;
    };
    let w = World::new().await;
    fail_bravo_flux_with_kubectl(&kubectl, &w).await;

    let out = run_sovtui(&["fleet", "status", "--json"], &w.fleet_path()).await;
    assert!(
        out.status.success(),
        "fleet status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["complete"], json!(true), "{doc:#}");
    let sovs = doc["sovereigns"].as_array().expect("sovereigns");
    assert_eq!(sovs.len(), 3);
    let bravo = sovs.iter().find(|s| s["fqdn"] == json!(B)).expect("bravo");
    assert_eq!(bravo["connection"]["state"], json!("live"));
    assert_eq!(bravo["worst"]["name"], json!("bp-flux"));
    assert_eq!(bravo["worst"]["state"], json!("failed"));
    assert_eq!(bravo["worst"]["message"], json!("flux: values invalid"));
    assert_eq!(bravo["counts"]["failed"], json!(1));
    let alpha = sovs.iter().find(|s| s["fqdn"] == json!(A)).expect("alpha");
    assert_eq!(alpha["counts"]["installed"], json!(3));
    assert_eq!(alpha["tags"], json!(["prod"]));
}

/// `--group-by` gives the cockpit's groups (same rule, `provision::fleet::arrange`) with their
/// counts; a bad grouping is a usage error before anything is contacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_status_groups_by_tag_and_by_worst_state() {
    let w = World::new().await;
    let out = run_sovtui(
        &["fleet", "status", "--json", "--group-by", "tag"],
        &w.fleet_path(),
    )
    .await;
    assert!(
        out.status.success(),
        "fleet status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    // The world's Sovereigns are all installing bp-keycloak.
    assert_eq!(doc["summary"], json!({"progressing": 3}), "{doc:#}");
    let groups = doc["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2, "{doc:#}");
    assert_eq!(groups[0]["group"], json!({"by": "tag", "name": "prod"}));
    assert_eq!(groups[0]["sovereigns"], json!([A]));
    assert_eq!(groups[0]["health"], json!({"progressing": 1}));
    assert_eq!(groups[1]["group"], json!({"by": "untagged"}));
    assert_eq!(groups[1]["count"], json!(2));
    assert_eq!(groups[1]["sovereigns"], json!([B, C]));
    for s in doc["sovereigns"].as_array().expect("sovereigns") {
        assert_eq!(s["health"], json!("progressing"), "{s:#}");
    }

    let out = run_sovtui(&["fleet", "status", "--group-by", "worst"], &w.fleet_path()).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("progressing · 3 — progressing 3"), "{err}");
    assert!(err.contains("3 Sovereigns · ◐ 3 progressing"), "{err}");

    let out = run_sovtui(
        &["fleet", "status", "--group-by", "colour"],
        &w.fleet_path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected none, tag or worst"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_status_names_file_and_line_of_a_broken_fleet_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fleet.toml");
    std::fs::write(&path, "[[sovereign]]\nfqdn = \"a.b\"\nfqdn2 = 1\n").expect("write");
    let out = run_sovtui(&["fleet", "status", "--json"], &path).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fleet.toml:3:"), "{err}");
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_watch_streams_ndjson_changes() {
    use tokio::io::AsyncBufReadExt;
    let w = World::new().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .args(["fleet", "watch", "--json", "--config"])
        .arg(w.fleet_path())
        .env("XDG_STATE_HOME", w.dir.path().join("xdg-state"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn watch");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("a line in time")
            .expect("read")
            .expect("stream still open");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("NDJSON line {line:?}: {e}"))
    };
    let mut synced = 0;
    while synced < 3 {
        if next().await["event"] == json!("synced") {
            synced += 1;
        }
    }
    w.cluster(C)
        .merge_patch(
            "hr",
            "flux-system",
            "bp-keycloak",
            json!({"status": {"conditions": [{"type": "Ready", "status": "True",
                "reason": "InstallSucceeded", "message": "done"}]}}),
        )
        .expect("patch");
    loop {
        let ev = next().await;
        if ev["event"] == json!("component_changed") && ev["fqdn"] == json!(C) {
            assert_eq!(ev["component"]["name"], json!("bp-keycloak"));
            assert_eq!(ev["component"]["state"], json!("installed"));
            assert_eq!(ev["previous"], json!("installing"));
            break;
        }
    }
    child.kill().await.expect("kill watch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_edit_reconnects_the_affected_sovereign() {
    let w = World::new().await;
    let (handle, mut events) = w.start();
    wait_for(&handle, &mut events, "initial sync", all_live).await;

    // Charlie's apiserver moves: a new server with different content, announced only by the
    // kubeconfig changing under us.
    let moved = w
        .sim
        .add_empty_cluster("moved.fleet.test", ClusterOptions::default())
        .await
        .expect("cluster");
    moved
        .apply(hr("bp-only-here", &[], installed()))
        .expect("hr");
    let urls: Vec<(String, String)> = w
        .sim
        .urls()
        .into_iter()
        .filter(|(n, _)| n != "moved.fleet.test")
        .map(|(n, u)| if n == C { (n, moved.url()) } else { (n, u) })
        .collect();
    write_atomically(&w.kubeconfig(), &sovtui::sim::kube::kubeconfig_yaml(&urls));
    let snap = wait_for(&handle, &mut events, "charlie on its new server", |s| {
        let c = sov(s, C);
        c.connection.is_live() && c.components.len() == 1
    })
    .await;
    assert_eq!(sov(&snap, C).components[0].name, "bp-only-here");
    assert_eq!(sov(&snap, A).components.len(), 4, "others untouched");
}

/// A Sovereign whose apiserver serves TLS with a CA of its own (as k3s does) is checked against
/// the CA its kubeconfig names and carries its three watches over one HTTP/2 connection; a
/// plain-HTTP one gets HTTP/1.1, a connection per watch. Another CA in the kubeconfig is refused
/// and said so, not trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_sovereign_is_verified_and_its_watches_share_one_http2_connection() {
    use sovtui::sim::kube::tls::SimTls;
    const KINDS: [&str; 3] = ["helmreleases", "kustomizations", "gitrepositories"];
    let sim = KubeSim::new(SimClock::new(1.0));
    let tls = ClusterOptions {
        tls: Some(SimTls::generate().expect("cluster CA")),
        ..Default::default()
    };
    let secure = sim.add_empty_cluster(A, tls).await.expect("cluster");
    let plain = sim
        .add_empty_cluster(B, ClusterOptions::default())
        .await
        .expect("cluster");
    seed(&secure);
    seed(&plain);
    assert!(secure.url().starts_with("https://"));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("kubeconfig"), sim.kubeconfig_yaml()).expect("kubeconfig");
    let w = World { sim, dir };
    w.write_fleet(&[A, B]);
    let (handle, mut events) = w.start();
    let snap = wait_for(&handle, &mut events, "initial sync", all_live).await;
    assert_eq!(sov(&snap, A).components.len(), 4);
    wait_watching(&secure, &KINDS).await;
    wait_watching(&plain, &KINDS).await;

    let log = secure.request_log();
    assert!(
        log.iter().all(|r| r.version == "HTTP/2.0"),
        "every request over HTTP/2: {log:#?}"
    );
    assert_eq!(
        secure.connections_accepted(),
        1,
        "three LISTs and three watches over one connection"
    );
    let log = plain.request_log();
    assert!(log.iter().all(|r| r.version == "HTTP/1.1"), "{log:#?}");
    assert!(plain.connections_accepted() >= 3, "a connection per watch");

    // The kubeconfig now names another CA for alpha: its apiserver is no longer trusted.
    let stranger = SimTls::generate().expect("another CA");
    let kubeconfig = sovtui::sim::kube::cluster::kubeconfig_yaml_with_ca(&[
        (A.to_string(), secure.url(), Some(stranger.ca_pem())),
        (B.to_string(), plain.url(), None),
    ]);
    write_atomically(&w.kubeconfig(), &kubeconfig);
    let snap = wait_for(&handle, &mut events, "alpha refused", |s| {
        matches!(&sov(s, A).connection, ConnectionState::Unreachable { error, .. }
            if error.to_lowercase().contains("certificate"))
    })
    .await;
    assert!(sov(&snap, B).connection.is_live(), "bravo untouched");
}

/// Fold events into a front-end's copy until `pred` holds for it.
async fn wait_mirror(
    events: &mut Receiver<FleetEvent>,
    mirror: &mut Vec<SovereignStatus>,
    what: &str,
    mut pred: impl FnMut(&[SovereignStatus]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !pred(mirror) {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) => ev.apply_to(mirror),
            Ok(None) => panic!("fleet stopped while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}; mirror: {mirror:#?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_end_folding_the_events_sees_exactly_the_fleet_snapshot() {
    let w = World::new().await;
    let (handle, mut events) = w.start();
    let mut mirror = Vec::new();
    wait_mirror(&mut events, &mut mirror, "all live", |m| {
        m.len() == 3
            && m.iter()
                .all(|s| s.connection.is_live() && s.components.len() == 4)
    })
    .await;
    let b = w.cluster(B);
    b.apply(hr("bp-gitea", &["bp-keycloak"], None))
        .expect("add");
    b.delete("hr", "flux-system", "bp-cilium").expect("delete");
    b.merge_patch(
        "kustomization",
        "flux-system",
        "bootstrap-kit",
        json!({"status": {"conditions": [{"type": "Ready", "status": "False",
            "reason": "BuildFailed", "message": "kustomize build failed"}]}}),
    )
    .expect("patch ks");
    wait_mirror(&mut events, &mut mirror, "bravo changes", |m| {
        m.iter().any(|s| {
            s.fqdn == B
                && s.components.len() == 4
                && state_of(s, "bp-cilium").is_none()
                && s.kustomizations.first().and_then(|k| k.ready) == Some(false)
        })
    })
    .await;
    let snap = handle.snapshot().await.expect("snapshot");
    assert_eq!(mirror, snap.sovereigns);
    let bravo = sov(&snap, B);
    assert_eq!(bravo.components.last().map(|c| c.id()), Some("gitea"));
    assert_eq!(bravo.kustomizations[0].message, "kustomize build failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_kubeconfig_contexts_watches_every_one() {
    let w = World::new().await;
    let path = w.dir.path().join("adopt.toml");
    // Alpha listed explicitly with a tag; bravo and charlie come from $KUBECONFIG.
    std::fs::write(
        &path,
        "adopt_kubeconfig = true\n[[sovereign]]\nfqdn = \"alpha.fleet.test\"\ntags = [\"prod\"]\n",
    )
    .expect("write");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sovtui"));
    cmd.args(["fleet", "status", "--json", "--config"])
        .arg(&path)
        .env("KUBECONFIG", w.kubeconfig())
        .env("XDG_STATE_HOME", w.dir.path().join("xdg-state"))
        .kill_on_drop(true);
    let out = tokio::time::timeout(PATIENCE, cmd.output())
        .await
        .expect("in time")
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let fqdns: Vec<&str> = doc["sovereigns"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["fqdn"].as_str())
        .collect();
    assert_eq!(fqdns, [A, B, C]);
    assert!(
        doc["sovereigns"]
            .as_array()
            .expect("list")
            .iter()
            .all(|s| s["connection"]["state"] == json!("live") && s["synced"] == json!(true))
    );
    assert_eq!(doc["sovereigns"][0]["tags"], json!(["prod"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_pods_are_read_on_demand() {
    let w = World::new().await;
    let (handle, mut events) = w.start();
    wait_for(&handle, &mut events, "initial sync", all_live).await;
    let a = w.cluster(A);
    for (name, obj, reason, ts) in [
        (
            "e1",
            "bp-cilium",
            "InstallSucceeded",
            "2026-11-29T10:00:00Z",
        ),
        ("e2", "bp-cilium", "UpgradeFailed", "2026-11-29T11:00:00Z"),
        ("e3", "bp-flux", "InstallSucceeded", "2026-11-29T12:00:00Z"),
    ] {
        a.apply(json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "flux-system"},
            "involvedObject": {"kind": "HelmRelease", "name": obj, "namespace": "flux-system"},
            "type": if reason == "UpgradeFailed" { "Warning" } else { "Normal" },
            "reason": reason, "message": format!("{obj}: {reason}"),
            "count": 1, "lastTimestamp": ts
        }))
        .expect("event");
    }
    a.apply(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "helm-controller-abc", "namespace": "flux-system",
                     "labels": {"app": "helm-controller"}},
        "spec": {"containers": [{"name": "manager", "image": "x"}], "nodeName": "cp-1"},
        "status": {"phase": "Running",
                   "containerStatuses": [{"name": "manager", "ready": true, "restartCount": 2,
                                          "image": "x", "imageID": "", "state": {}}]}
    }))
    .expect("pod");

    let target = ObjectRef {
        kind: FluxKind::HelmRelease,
        namespace: "flux-system".into(),
        name: "bp-cilium".into(),
    };
    let evs = handle.object_events(A, &target).await.expect("events");
    let reasons: Vec<&str> = evs.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["UpgradeFailed", "InstallSucceeded"],
        "newest first"
    );
    assert_eq!(evs[0].type_, "Warning");

    let pods = handle
        .pods(A, "flux-system", Some("app=helm-controller"))
        .await
        .expect("pods");
    assert_eq!(pods.len(), 1, "{pods:?}");
    assert_eq!(pods[0].ready, "1/1");
    assert_eq!(pods[0].restarts, 2);
    assert_eq!(pods[0].node.as_deref(), Some("cp-1"));
    assert!(handle.pods("not.in.fleet", "x", None).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_credential_plugins_run_without_reaching_the_terminal() {
    let w = World::new().await;
    let url = w.cluster(A).url();
    let cred = r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"plugin-token"}}"#;
    let kubeconfig = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "a", "cluster": {"server": url}}],
        "users": [{"name": "a", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "sh",
            "args": ["-c", format!("echo PLUGIN-NOISE-ON-STDERR >&2; echo '{cred}'")],
            "interactiveMode": "IfAvailable"
        }}}],
        "contexts": [{"name": A, "context": {"cluster": "a", "user": "a"}}],
        "current-context": A
    });
    let kc = w.dir.path().join("exec-kubeconfig");
    std::fs::write(&kc, serde_yaml::to_string(&kubeconfig).expect("yaml")).expect("write");
    let fleet = w.dir.path().join("exec-fleet.toml");
    std::fs::write(
        &fleet,
        format!(
            "[[sovereign]]\nfqdn = \"{A}\"\nkubeconfig = \"{}\"\n",
            kc.display()
        ),
    )
    .expect("write");
    let out = run_sovtui(&["fleet", "status", "--json"], &fleet).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("PLUGIN-NOISE"),
        "plugin stderr leaked: {stderr}"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["complete"], json!(true), "{doc:#}");
    assert_eq!(doc["sovereigns"][0]["connection"]["state"], json!("live"));
    assert_eq!(
        doc["sovereigns"][0]["components"].as_array().map(Vec::len),
        Some(4)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_kubeconfig_context_is_reported_without_waiting_out_the_timeout() {
    let w = World::new().await;
    let fleet = w.dir.path().join("ghost.toml");
    std::fs::write(
        &fleet,
        format!(
            "[[sovereign]]\nfqdn = \"{A}\"\nkubeconfig = \"kubeconfig\"\n\n\
             [[sovereign]]\nfqdn = \"ghost.fleet.test\"\nkubeconfig = \"kubeconfig\"\n"
        ),
    )
    .expect("write");
    // A timeout far beyond PATIENCE: the command must end because the fleet is settled.
    let out = run_sovtui(&["fleet", "status", "--json", "--timeout", "3600"], &fleet).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["complete"], json!(true), "{doc:#}");
    let ghost = &doc["sovereigns"][1];
    assert_eq!(ghost["fqdn"], json!("ghost.fleet.test"));
    assert_eq!(ghost["connection"]["state"], json!("degraded"), "{ghost:#}");
    assert!(
        ghost["connection"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("ghost.fleet.test")),
        "{ghost:#}"
    );
    assert_eq!(doc["sovereigns"][0]["connection"]["state"], json!("live"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_bootstrap_kit_comes_up_in_dependency_order_with_a_fault() {
    use sovtui::sim::kube::ClusterScenario;
    // Simulated install durations are minutes; 2000× makes the whole kit take about a second.
    let sim = KubeSim::new(SimClock::new(2000.0));
    let scenario = ClusterScenario::parse(
        "kit = \"bootstrap-kit\"\n[releases.bp-gitea]\n\
         fault = { type = \"fail\", reason = \"InstallFailed\", message = \"gitea: chart pull failed\" }\n",
        "test",
    )
    .expect("scenario");
    sim.add_cluster(A, scenario).await.expect("cluster");
    sim.add_cluster(B, ClusterScenario::bootstrap_kit())
        .await
        .expect("cluster");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("kubeconfig"), sim.kubeconfig_yaml()).expect("kubeconfig");
    let fleet = dir.path().join("fleet.toml");
    std::fs::write(
        &fleet,
        format!(
            "[[sovereign]]\nfqdn = \"{A}\"\nkubeconfig = \"kubeconfig\"\n\n\
             [[sovereign]]\nfqdn = \"{B}\"\nkubeconfig = \"kubeconfig\"\n"
        ),
    )
    .expect("fleet");
    let opts = FleetOptions {
        audit_log: dir.path().join("audit.jsonl"),
        ..Default::default()
    };
    let (handle, mut events) = Fleet::start(&fleet, opts).expect("start");
    // Each kind has its own watch, so the releases can settle before the Flux objects are
    // listed; the wait names both rather than trusting an order nothing guarantees.
    let snap = wait_for(&handle, &mut events, "kits settled", |s| {
        s.sovereigns.len() == 2
            && all_live(s)
            && s.sovereigns.iter().all(|x| x.components.len() == 35)
            && !sov(s, A).kustomizations.is_empty()
            && !sov(s, A).git_repositories.is_empty()
            && state_of(sov(s, A), "bp-gitea") == Some(ComponentState::Failed)
            && sov(s, A)
                .components
                .iter()
                .filter(|c| c.name != "bp-gitea" && c.name != "bp-catalyst-platform")
                .all(|c| c.state == ComponentState::Installed)
            && sov(s, B)
                .components
                .iter()
                .all(|c| c.state == ComponentState::Installed)
    })
    .await;
    let a = sov(&snap, A);
    // The kit's DAG: every release comes after everything it depends on.
    let pos = |n: &str| {
        a.components
            .iter()
            .position(|c| format!("{}/{}", c.namespace, c.name) == n)
    };
    for (i, c) in a.components.iter().enumerate() {
        for d in &c.depends_on {
            let dp = pos(d).unwrap_or_else(|| panic!("{} depends on missing {d}", c.name));
            assert!(dp < i, "{d} must precede {}", c.name);
        }
    }
    assert_eq!(a.components[0].id(), "cilium");
    let platform = a
        .components
        .iter()
        .find(|c| c.name == "bp-catalyst-platform")
        .expect("platform");
    assert_eq!(
        platform.state,
        ComponentState::Pending,
        "waits on the failed gitea: {}",
        platform.message
    );
    assert_eq!(a.worst().map(|c| c.id()), Some("gitea"));
    assert_eq!(a.counts().get(&ComponentState::Installed), Some(&33));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_makes_the_fleet_run_the_credential_plugin_again() {
    let w = World::new().await;
    let a = w.cluster(A);
    let calls = w.dir.path().join("plugin-calls");
    let cred = r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}"#;
    let kubeconfig = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "a", "cluster": {"server": a.url()}}],
        "users": [{"name": "a", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "sh",
            "args": ["-c", format!("echo call >> '{}'; echo '{cred}'", calls.display())]
        }}}],
        "contexts": [{"name": A, "context": {"cluster": "a", "user": "a"}}],
    });
    std::fs::write(
        w.dir.path().join("exec-kubeconfig"),
        serde_yaml::to_string(&kubeconfig).expect("yaml"),
    )
    .expect("write");
    write_atomically(
        &w.fleet_path(),
        &format!("[[sovereign]]\nfqdn = \"{A}\"\nkubeconfig = \"exec-kubeconfig\"\n"),
    );
    let (handle, mut events) = w.start();
    wait_for(&handle, &mut events, "alpha live", all_live).await;
    let count = || {
        std::fs::read_to_string(&calls)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let before = count();
    assert!(before >= 1, "the plugin ran for the first client");

    a.set_unauthorized(true);
    a.restart(true).await.expect("restart");
    wait_for(&handle, &mut events, "alpha auth expired", |s| {
        matches!(sov(s, A).connection, ConnectionState::AuthExpired { .. })
    })
    .await;
    a.set_unauthorized(false);
    wait_for(&handle, &mut events, "alpha live again", |s| {
        sov(s, A).connection.is_live()
    })
    .await;
    assert!(
        count() > before,
        "credentials were re-read after the 401 ({} → {})",
        before,
        count()
    );
}

fn w_options(dir: &Path) -> FleetOptions {
    FleetOptions {
        audit_log: dir.join("state/audit.jsonl"),
        tuning: WatchTuning {
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(400),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Every file under `dir` (recursively), for "nothing secret was written" checks.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioned_sovereign_joins_the_fleet_and_its_kubeconfig_stays_in_memory() {
    use sovtui::provision::catalyst::CatalystClient;
    const M: &str = "muscat.omani.works";
    let scenario = sovtui::sim::scenario::WorldScenario::load("demo").expect("demo scenario");
    let state = tempfile::tempdir().expect("state dir");
    let world = sovtui::sim::world::World::start(scenario, 600.0, Some(state.path().into()))
        .await
        .expect("world starts");
    let api = world.endpoints().catalyst_api;
    let id = world
        .deployments()
        .get(M)
        .cloned()
        .expect("muscat deployment");
    let catalyst = CatalystClient::new(&api).expect("client");
    let clock = world.clock.clone();
    let ticker = tokio::spawn(async move {
        loop {
            clock.advance(Duration::from_secs(20));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // Phase 0 runs until cloud-init posts the kubeconfig back (409 until then).
    tokio::time::timeout(PATIENCE, async {
        loop {
            match catalyst.kubeconfig(&id).await {
                Ok(_) => break,
                Err(e) if e.status() == Some(409) => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("GET kubeconfig: {e}"),
            }
        }
    })
    .await
    .expect("catalyst-api serves the kubeconfig");

    let dir = tempfile::tempdir().expect("tempdir");
    let ops = dir.path().join("ops");
    std::fs::create_dir_all(&ops).expect("mkdir");
    let fleet = ops.join("fleet.toml");
    let original = "# the operator's fleet — comments survive\nadopt_kubeconfig = false # no\n";
    std::fs::write(&fleet, original).expect("write");

    // A deployment catalyst-api does not know is refused, and nothing is written.
    let out = run_sovtui(
        &[
            "fleet",
            "join",
            M,
            "--api",
            &api,
            "--deployment",
            "no-such-id",
        ],
        &fleet,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(std::fs::read_to_string(&fleet).expect("read"), original);

    let out = run_sovtui(
        &[
            "fleet",
            "join",
            M,
            "--api",
            &api,
            "--deployment",
            &id,
            "--tag",
            "prod",
            "--json",
        ],
        &fleet,
    )
    .await;
    assert!(
        out.status.success(),
        "fleet join: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["fqdn"], json!(M));
    assert_eq!(doc["sovereigns"], json!(1));
    let text = std::fs::read_to_string(&fleet).expect("read");
    assert!(text.starts_with(original), "{text}");
    assert!(text.contains("kubeconfig_from = \"catalyst\""), "{text}");
    assert!(
        text.contains(&format!("deployment_id = \"{id}\"")),
        "{text}"
    );

    // Joining twice is refused, naming the file and line; the file is untouched.
    let out = run_sovtui(
        &["fleet", "join", M, "--api", &api, "--deployment", &id],
        &fleet,
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fleet.toml:"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&fleet).expect("read"), text);

    // The hub fetches the kubeconfig from catalyst-api and watches the new Sovereign.
    let (handle, mut events) = Fleet::start(&fleet, w_options(dir.path())).expect("fleet starts");
    let snap = wait_for(&handle, &mut events, "muscat live with components", |s| {
        s.synced.iter().any(|f| f == M)
            && sov(s, M).connection.is_live()
            && !sov(s, M).components.is_empty()
    })
    .await;
    assert!(sov(&snap, M).is_prod());
    ticker.abort();

    // The world's own fleet file lists its provisioned Sovereign the same way, and the demo's
    // hub reaches it through catalyst-api too.
    let world_fleet = state.path().join("fleet.toml");
    let parsed = sovtui::config::fleet_file::load(&world_fleet).expect("world fleet file");
    let entry = parsed
        .sovereigns
        .iter()
        .find(|s| s.fqdn == M)
        .expect("muscat in the world's fleet");
    assert_eq!(
        entry.kubeconfig_from,
        sovtui::config::fleet_file::KubeconfigFrom::Catalyst
    );
    let (world_hub, mut world_events) =
        Fleet::start(&world_fleet, w_options(dir.path())).expect("world fleet starts");
    wait_for(
        &world_hub,
        &mut world_events,
        "muscat live via the world's file",
        |s| {
            s.sovereigns
                .iter()
                .any(|x| x.fqdn == M && x.connection.is_live())
        },
    )
    .await;
    drop(world_hub);
    // `diagnose` gathers the cluster's evidence through the same in-memory kubeconfig.
    let out = run_sovtui(&["diagnose", M, "--json"], &world_fleet).await;
    let doc = String::from_utf8_lossy(&out.stdout);
    assert!(
        doc.contains(&format!("{M}: HelmRelease flux-system/bp-")),
        "{doc}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 401: the hub fetches the kubeconfig again and recovers once the apiserver accepts it.
    let m = world.kube.cluster(M).expect("muscat cluster");
    m.set_unauthorized(true);
    m.restart(true).await.expect("restart");
    wait_for(&handle, &mut events, "muscat auth expired", |s| {
        matches!(sov(s, M).connection, ConnectionState::AuthExpired { .. })
    })
    .await;
    m.set_unauthorized(false);
    wait_for(&handle, &mut events, "muscat live again", |s| {
        sov(s, M).connection.is_live()
    })
    .await;

    // Nothing but the fleet file was written: no kubeconfig, no token.
    for f in files_under(dir.path()) {
        let body = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(
            !body.contains("kind: Config") && !body.contains("\"kind\":\"Config\""),
            "{} holds a kubeconfig",
            f.display()
        );
    }
}

/// Feed the cockpit the live source's messages until the rendered screen satisfies `pred`.
async fn screen_until(
    app: &mut sovtui::tui::App,
    rx: &mut Receiver<sovtui::tui::Msg>,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let text = screen(app, 160, 30);
        if pred(&text) {
            return text;
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(msg)) => app.update(msg),
            Ok(None) => panic!("the live source stopped while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}; screen:\n{text}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_patch_shows_up_on_screen_in_the_overview_and_the_matrix() {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    use sovtui::tui::app::{App, Msg, Settings, View};
    let Some(kubectl) = kubectl() else {
        support::tools::missing(
            "kubectl_patch_shows_up_on_screen_in_the_overview_and_the_matrix",
            "kubectl not found",
        );
        return;
    };
    let w = World::new().await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let source = tokio::spawn(sovtui::tui::source::live_fleet_source(
        sovtui::tui::FleetSender::new(tx),
        w.fleet_path(),
    ));
    let mut app = App::new(Settings {
        banner: "kubectl on screen".into(),
        level: sovtui::tui::theme::ColorLevel::Mono,
        theme: None,
        keymap: None,
        config_dir: None,
    });
    app.wizard_draft_path = None;
    // The fleet list's row (the navigation's line for the same Sovereign has a `●` too, and
    // need not be on the same screen line).
    let row_of = |text: &str, fqdn: &str| -> String {
        text.lines()
            .flat_map(|l| l.split('│').map(str::to_string).collect::<Vec<_>>())
            .find(|seg| seg.contains(fqdn) && seg.contains("● "))
            .unwrap_or_default()
    };
    screen_until(&mut app, &mut rx, "three live Sovereigns", |t| {
        [A, B, C].iter().all(|f| row_of(t, f).contains("live"))
            && row_of(t, B).contains("◐ bp-keycloak installing")
    })
    .await;

    fail_bravo_flux_with_kubectl(&kubectl, &w).await;

    // The overview: bravo's worst item is now the failed release, symbol and text.
    let text = screen_until(
        &mut app,
        &mut rx,
        "bravo's bp-flux failed in the overview",
        |t| row_of(t, B).contains("✖ bp-flux failed"),
    )
    .await;
    assert!(
        row_of(&text, A).contains("◐ bp-keycloak installing"),
        "{text}"
    );

    // The matrix: bravo's flux cell shows ✖, and the cell cursor names state and message.
    let key = |app: &mut App, code: KeyCode| {
        app.update(Msg::Input(Event::Key(KeyEvent::new(
            code,
            KeyModifiers::NONE,
        ))))
    };
    app.run_command(sovtui::tui::palette::Command::Matrix);
    app.run_command(sovtui::tui::palette::Command::Jump(B.into()));
    let cols = sovtui::tui::views::fleet_matrix::columns(&app.fleet);
    assert_eq!(cols, ["cilium", "cert-manager", "flux", "keycloak"]);
    for _ in 0..=2 {
        key(&mut app, KeyCode::Right);
    }
    let text = screen(&mut app, 160, 30);
    assert!(
        text.contains("▶ bravo.fleet.test × flux: ✖ failed — flux: values invalid"),
        "{text}"
    );
    let bravo_row = text
        .lines()
        .find(|l| l.starts_with("│▶") && l.contains(B))
        .expect("bravo row");
    assert!(bravo_row.contains("✔ ✔ ✖ ◐"), "{bravo_row}");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        *app.view(),
        View::Release {
            fqdn: B.into(),
            name: "bp-flux".into()
        }
    );
    drop(rx);
    let _ = tokio::time::timeout(PATIENCE, source).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cockpit_api_flag_is_checked_before_the_terminal_is_taken() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none/fleet.toml");
    // No fleet file and no catalyst-api: a usage error that names both ways out.
    let out = run_sovtui(&[], &missing).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no fleet file") && stderr.contains("--api"),
        "{stderr}"
    );
    // A malformed --api is refused by name, and nothing is created.
    let out = run_sovtui(&["--api", "console.openova.io"], &missing).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--api \"console.openova.io\""),
        "{out:?}"
    );
    assert!(!missing.exists());
}

/// `sovtui fleet suspend|resume|reconcile` is the cockpit's `:suspend`/`:resume`/`:reconcile`
/// headless: the HelmRelease changes in the world, the audit log records it, `--json` reports
/// it, and a wrong `--confirm` is refused before anything is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_suspend_resume_reconcile_change_the_world_and_need_the_fqdn_typed_back() {
    let w = World::new().await;
    let hr_of = |w: &World| {
        w.cluster(B)
            .get("hr", "flux-system", "bp-cilium")
            .expect("object")
    };
    let annotation = |o: &Value| {
        o.pointer("/metadata/annotations/reconcile.fluxcd.io~1requestedAt")
            .and_then(Value::as_str)
            .map(str::to_string)
    };

    // A near miss arms nothing: exit 2, the object is untouched, nothing is audited.
    let before = hr_of(&w);
    let out = run_sovtui(
        &[
            "fleet",
            "suspend",
            B,
            "bp-cilium",
            "--confirm",
            "bravo.fleet.tes",
        ],
        &w.fleet_path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(hr_of(&w), before);
    let audit = w.dir.path().join("xdg-state/sovtui/audit.jsonl");
    assert!(
        !audit.exists(),
        "a refused action wrote {}",
        audit.display()
    );

    let out = run_sovtui(
        &["fleet", "suspend", B, "bp-cilium", "--confirm", B, "--json"],
        &w.fleet_path(),
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["action"], json!("suspend"), "{doc:#}");
    assert_eq!(doc["done"][0]["name"], json!("bp-cilium"), "{doc:#}");
    assert_eq!(doc["done"][0]["outcome"], json!("succeeded"), "{doc:#}");
    assert_eq!(doc["failed"], json!([]));
    assert_eq!(hr_of(&w).pointer("/spec/suspend"), Some(&Value::Bool(true)));
    // The other Sovereigns and HelmReleases are untouched.
    assert_eq!(
        w.cluster(B)
            .get("hr", "flux-system", "bp-flux")
            .expect("object")
            .pointer("/spec/suspend"),
        None
    );

    let out = run_sovtui(
        &["fleet", "resume", B, "bp-cilium", "--confirm", B, "--json"],
        &w.fleet_path(),
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let resumed = hr_of(&w);
    assert_eq!(resumed.pointer("/spec/suspend"), Some(&Value::Bool(false)));
    let first = annotation(&resumed).expect("resume asks for a reconcile");

    let out = run_sovtui(
        &[
            "fleet",
            "reconcile",
            B,
            "flux-system/bp-cilium",
            "--confirm",
            B,
        ],
        &w.fleet_path(),
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let second = annotation(&hr_of(&w)).expect("annotation");
    assert_ne!(first, second, "reconcile stamps a new request");

    // An unknown HelmRelease: a usage error naming what there is.
    let out = run_sovtui(
        &["fleet", "reconcile", B, "bp-nope", "--confirm", B],
        &w.fleet_path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bp-cilium"));

    let records = sovtui::provision::fleet::actions::read_audit(&audit).expect("audit log");
    let seen: Vec<(FluxAction, &str, &str)> = records
        .iter()
        .map(|r| (r.action, r.name.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (FluxAction::Suspend, "bp-cilium", "requested"),
            (FluxAction::Suspend, "bp-cilium", "succeeded"),
            (FluxAction::Resume, "bp-cilium", "requested"),
            (FluxAction::Resume, "bp-cilium", "succeeded"),
            (FluxAction::Reconcile, "bp-cilium", "requested"),
            (FluxAction::Reconcile, "bp-cilium", "succeeded"),
        ]
    );
    assert!(records.iter().all(|r| r.fqdn == B));
}
