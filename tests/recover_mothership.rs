//! Recovery steps 2 and 3 through the mothership (runbook §2.2), against the world: C3's state —
//! orphans in the Hetzner project, the deployment record `failed` — with the name still held in
//! PDM. The plan names the PDM allocation with its state and the exact record; the armed run
//! releases the name (verified AVAILABLE) and sets the `failed` record `cancelled` through the
//! catalyst-api pod, which the test reads back through the world (kube-rs exec, kubectl when
//! found, catalyst-api's GET). The wipe route is the alternative; a record or a PDM allocation
//! that changed after the plan is reported, never overwritten (the CLI exits 3).

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use serde_json::{Value, json};
use sovtui::config::fleet_file;
use sovtui::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
use sovtui::provision::hetzner::recover::{self, RecoverOptions, RecoveryPlan};
use sovtui::provision::mothership::pdm::PdmState;
use sovtui::provision::mothership::records::{RECOVERY_PHASE, RecordRoute};
use sovtui::sim::scenario::WorldScenario;
use sovtui::sim::world::World;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;
use support::tools;

const FQDN: &str = "omantel.omani.works";
const DEADLINE: Duration = Duration::from_secs(120);
/// Simulated time per round while waiting for C3's failure.
const STEP: Duration = Duration::from_secs(20);

/// The world of leaf C3 once its deployment record is `failed`: (world, state dir, record id).
async fn failed_c3(dir: &Path) -> (World, String) {
    let path = support::tools::workspace_root().join("fixtures/scenarios/leaf-C3.yaml");
    let scenario =
        WorldScenario::load(&path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    let world = World::start(scenario, 1.0, Some(dir.to_path_buf()))
        .await
        .expect("world starts");
    let id = world
        .deployments()
        .get(FQDN)
        .cloned()
        .expect("a deployment");
    let api = world.endpoints().catalyst_api;
    let start = Instant::now();
    loop {
        if api_status(&api, &id).await.as_deref() == Some("failed") {
            return (world, id);
        }
        assert!(start.elapsed() < DEADLINE, "the record never failed");
        world.clock.advance(STEP);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn api_status(api: &str, id: &str) -> Option<String> {
    let v: Value = reqwest::get(format!("{api}/api/v1/deployments/{id}"))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    v["status"].as_str().map(str::to_string)
}

/// PDM's own answer for the name: AVAILABLE or the reason it is not.
async fn pdm_check(pdm: &str) -> Value {
    reqwest::get(format!("{pdm}/api/v1/pool/omani.works/check?sub=omantel"))
        .await
        .expect("PDM answers")
        .json()
        .await
        .expect("JSON")
}

/// Hold the name in PDM, as a failed run whose release never happened leaves it.
async fn reserve(pdm: &str) {
    let r = reqwest::Client::new()
        .post(format!("{pdm}/api/v1/pool/omani.works/reserve"))
        .json(&json!({"subdomain": "omantel"}))
        .send()
        .await
        .expect("reserve");
    assert!(
        r.status().as_u16() == 201 || r.status().as_u16() == 409,
        "reserve: {}",
        r.status()
    );
    let v = pdm_check(pdm).await;
    assert_eq!(v["available"], false, "{v}");
}

fn options(dir: &Path, journals: &Path) -> RecoverOptions {
    let fleet = fleet_file::load(&dir.join("fleet.toml")).expect("the world's fleet file");
    let mut o = RecoverOptions::new(FQDN);
    o.mothership = fleet.mothership;
    o.stage_grace = Duration::from_secs(30);
    o.deadline = Duration::from_secs(90);
    o.poll_interval = Duration::from_millis(100);
    o.journal_dir = Some(journals.to_path_buf());
    o
}

fn hetzner(world: &World) -> HetznerClient {
    let e = world.endpoints();
    HetznerClient::new(
        Credentials::new(e.hetzner_token.clone(), e.hetzner.clone()),
        ClientOptions::default(),
    )
    .expect("client")
}

/// kube-rs straight at the mothership (not through sovtui's exec helper).
async fn mothership_pods(dir: &Path) -> Api<Pod> {
    let kc = kube::config::Kubeconfig::read_from(dir.join("kubeconfig")).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(
        kc,
        &kube::config::KubeConfigOptions {
            context: Some("catalyst-zero".into()),
            ..Default::default()
        },
    )
    .await
    .expect("config");
    Api::namespaced(kube::Client::try_from(cfg).expect("client"), "catalyst")
}

async fn catalyst_pod(pods: &Api<Pod>) -> String {
    pods.list(&kube::api::ListParams::default().labels("app.kubernetes.io/name=catalyst-api"))
        .await
        .expect("list")
        .items[0]
        .metadata
        .name
        .clone()
        .expect("name")
}

/// `cat FILE` in the catalyst-api pod (stdin, when given, goes to `sh -c SCRIPT`).
async fn pod_sh(pods: &Api<Pod>, script: &str, stdin: Option<&[u8]>) -> String {
    let pod = catalyst_pod(pods).await;
    let mut p = pods
        .exec(
            &pod,
            ["sh", "-c", script],
            &AttachParams::default().stdin(stdin.is_some()).stderr(false),
        )
        .await
        .expect("exec");
    if let Some(input) = stdin {
        let mut w = p.stdin().expect("stdin");
        w.write_all(input).await.expect("write");
        w.shutdown().await.expect("close stdin");
    }
    let mut out = String::new();
    p.stdout()
        .expect("stdout")
        .read_to_string(&mut out)
        .await
        .expect("read");
    p.join().await.expect("join");
    out
}

async fn read_record(pods: &Api<Pod>, id: &str) -> Value {
    let text = pod_sh(
        pods,
        &format!("cat /var/lib/catalyst/deployments/{id}.json"),
        None,
    )
    .await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mothership_recovery_releases_pdm_and_cancels_a_failed_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journals = tempfile::tempdir().expect("journals");
    let (world, id) = failed_c3(dir.path()).await;
    let e = world.endpoints();
    reserve(&e.pdm).await;
    let opts = options(dir.path(), journals.path());
    let c = hetzner(&world);

    // The dry run: the orphans, the PDM name with its state, the exact record.
    let plan = recover::plan(&c, &opts).await.expect("dry run");
    assert!(!plan.targets.is_empty(), "C3's orphans are planned");
    let m = plan
        .mothership
        .as_ref()
        .expect("steps 2 and 3 through the mothership");
    let p = m.pdm.as_ref().expect("PDM from [mothership] pdm");
    assert_eq!(
        (p.pool.as_str(), p.sub.as_str()),
        ("omani.works", "omantel")
    );
    assert_eq!(p.state, Some(PdmState::Reserved));
    assert_eq!(m.records.route, RecordRoute::Exec);
    assert!(m.records.error.is_none(), "{:?}", m.records.error);
    let ids: Vec<(&str, &str, bool)> = m
        .records
        .records
        .iter()
        .map(|r| (r.id.as_str(), r.status.as_str(), r.cancel))
        .collect();
    assert_eq!(ids, [(id.as_str(), "failed", true)]);

    // Executed from the plan file, as `--apply --plan` does.
    let file = dir.path().join("plan.json");
    plan.write(&file).expect("plan file");
    let plan = RecoveryPlan::read(&file).expect("read back");
    let report = recover::apply(&c, &opts, &plan, &|_| {})
        .await
        .expect("recovery");
    assert!(report.complete(), "{report:#?}");
    assert!(!report.changed_since_plan(), "{report:#?}");
    let r = report.mothership.as_ref().expect("mothership report");
    let pdm = r.pdm.as_ref().expect("PDM step");
    assert_eq!(
        (pdm.before, pdm.after),
        (Some(PdmState::Reserved), Some(PdmState::Available)),
        "{pdm:?}"
    );
    assert_eq!(r.records.records.len(), 1, "{:?}", r.records);
    assert_eq!(
        r.records.records[0].status_after.as_deref(),
        Some("cancelled"),
        "{:?}",
        r.records
    );

    // Read back through the world: the record file in the pod (kube-rs exec)…
    let pods = mothership_pods(dir.path()).await;
    let rec = read_record(&pods, &id).await;
    assert_eq!(rec["status"], "cancelled", "{rec}");
    let finished = rec["finishedAt"].as_str().expect("finishedAt");
    assert!(
        chrono::DateTime::parse_from_rfc3339(finished).is_ok(),
        "{finished}"
    );
    let last = rec["events"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["phase"], RECOVERY_PHASE, "{rec}");
    assert_eq!(last["level"], "warn", "{rec}");
    assert_eq!(last["time"], finished, "{rec}");
    // …catalyst-api's own view of it, and PDM's.
    assert_eq!(
        api_status(&e.catalyst_api, &id).await.as_deref(),
        Some("cancelled")
    );
    assert_eq!(pdm_check(&e.pdm).await["available"], true);

    // …and kubectl, as the runbook reads it (every release found).
    for k in tools::kubectls("mothership_recovery_releases_pdm_and_cancels_a_failed_record") {
        let cache = tempfile::tempdir().expect("cache");
        let file = format!("/var/lib/catalyst/deployments/{id}.json");
        let (code, out, err) = k
            .run(
                &[
                    format!("--kubeconfig={}", dir.path().join("kubeconfig").display()),
                    "--context=catalyst-zero".into(),
                    format!("--cache-dir={}", cache.path().display()),
                ],
                &[
                    "-n",
                    "catalyst",
                    "exec",
                    "deploy/catalyst-api",
                    "--",
                    "cat",
                    &file,
                ],
                None,
                DEADLINE,
            )
            .await;
        assert_eq!(code, 0, "{err}");
        let rec: Value = serde_json::from_str(&out).expect("record JSON");
        assert_eq!(rec["status"], "cancelled", "{}", k.path.display());
    }

    // Again: nothing held, the record already cancelled — a clean no-op.
    let again = recover::plan(&c, &opts).await.expect("second dry run");
    let m = again.mothership.as_ref().expect("mothership");
    assert_eq!(
        m.pdm.as_ref().and_then(|p| p.state),
        Some(PdmState::Available)
    );
    assert!(m.records.records.iter().all(|r| !r.cancel), "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wipe_route_ends_the_failed_record_wiped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journals = tempfile::tempdir().expect("journals");
    let (world, id) = failed_c3(dir.path()).await;
    let e = world.endpoints();
    let mut opts = options(dir.path(), journals.path());
    opts.record_route = RecordRoute::Wipe;
    let c = hetzner(&world);

    // Without catalyst-api's URL the wipe route has nothing to call: the plan says so and the
    // armed run changes no record.
    let plan = recover::plan(&c, &opts).await.expect("dry run");
    let m = plan.mothership.as_ref().expect("mothership");
    assert!(
        m.records
            .error
            .as_deref()
            .is_some_and(|e| e.contains("--api")),
        "{m:?}"
    );

    opts.api_url = Some(e.catalyst_api.clone());
    let plan = recover::plan(&c, &opts).await.expect("dry run");
    let m = plan.mothership.as_ref().expect("mothership");
    assert_eq!(m.records.route, RecordRoute::Wipe);
    assert_eq!(m.records.records.len(), 1, "{m:?}");
    assert_eq!(m.records.records[0].status, "failed");
    let report = recover::apply(&c, &opts, &plan, &|_| {})
        .await
        .expect("recovery");
    let r = report.mothership.as_ref().expect("mothership report");
    assert_eq!(r.records.records.len(), 1);
    let rec = &r.records.records[0];
    assert!(
        rec.outcome.detail.contains("wipe route"),
        "{:?}",
        rec.outcome
    );
    assert_eq!(rec.status_after.as_deref(), Some("wiped"), "{rec:?}");
    let pods = mothership_pods(dir.path()).await;
    assert_eq!(read_record(&pods, &id).await["status"], "wiped");
    // catalyst-api answers a wiped record with its status or 410 (contract §1.7).
    let now = api_status(&e.catalyst_api, &id).await;
    assert!(matches!(now.as_deref(), None | Some("wiped")), "{now:?}");
}

/// Run the binary with the world's fleet file and the operator's environment.
async fn sovtui(world: &World, dir: &Path, args: &[&str]) -> (i32, String) {
    let e = world.endpoints();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .arg("--config")
        .arg(dir.join("fleet.toml"))
        .args(args)
        .env("HCLOUD_TOKEN", &e.hetzner_token)
        .env("HCLOUD_ENDPOINT", &e.hetzner)
        .env("XDG_STATE_HOME", dir)
        .env("HOME", dir)
        .output()
        .await
        .expect("run sovtui");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The plan read the record and PDM; then someone appends to the record and reserves the name.
/// `--apply --plan` cancels neither: both are reported as changed since the plan, exit 4 (`cli::exit::CHANGED`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_and_a_name_changed_after_the_plan_are_reported_not_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (world, id) = failed_c3(dir.path()).await;
    let e = world.endpoints();
    let plan = dir.path().join("plan.json");
    let plan_arg = plan.display().to_string();
    let (code, err) = sovtui(&world, dir.path(), &["recover", FQDN, "--out", &plan_arg]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("{id} failed")),
        "the plan shows the record: {err}"
    );
    assert!(err.contains("step 2 PDM omantel.omani.works"), "{err}");
    assert!(
        err.contains("AVAILABLE"),
        "C3's run released the name: {err}"
    );

    // The record changes in the pod after the plan (an event appended, written back the
    // runbook's way); catalyst-api sees it as soon as that exec ended.
    let pods = mothership_pods(dir.path()).await;
    let mut rec = read_record(&pods, &id).await;
    let before = rec["events"].as_array().map_or(0, Vec::len);
    rec["events"].as_array_mut().expect("events").push(
        json!({"time": "2026-12-06T10:00:00Z", "phase": "tofu", "level": "info",
                     "message": "a late line"}),
    );
    let file = format!("/var/lib/catalyst/deployments/{id}.json");
    pod_sh(
        &pods,
        &format!("cat > {file}"),
        Some(serde_json::to_string(&rec).expect("json").as_bytes()),
    )
    .await;
    let events: Value = reqwest::get(format!("{}/api/v1/deployments/{id}/events", e.catalyst_api))
        .await
        .expect("events")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        events["events"].as_array().map_or(0, Vec::len),
        before + 1,
        "applied when the writing exec ended"
    );
    // And the name is taken after the plan read it AVAILABLE.
    reserve(&e.pdm).await;

    let (code, err) = sovtui(
        &world,
        dir.path(),
        &[
            "recover",
            FQDN,
            "--apply",
            "--plan",
            &plan_arg,
            "--confirm",
            FQDN,
        ],
    )
    .await;
    assert_eq!(code, i32::from(sovtui::cli::exit::CHANGED), "{err}");
    assert!(err.contains("changed since the plan"), "{err}");
    let rec = read_record(&pods, &id).await;
    assert_eq!(rec["status"], "failed", "not overwritten: {rec}");
    assert!(
        rec["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["phase"] != RECOVERY_PHASE),
        "{rec}"
    );
    assert_eq!(pdm_check(&e.pdm).await["available"], false, "not released");

    // Another route than the plan's is refused before anything is touched.
    let (code, err) = sovtui(
        &world,
        dir.path(),
        &[
            "recover",
            FQDN,
            "--apply",
            "--plan",
            &plan_arg,
            "--confirm",
            FQDN,
            "--record-route",
            "wipe",
        ],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("planned with --record-route exec"), "{err}");
}
