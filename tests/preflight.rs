//! `sovtui preflight --json` against the world: a healthy mothership reports A–H all ✓, and each
//! item broken by its own scenario reports exactly that item ✗ with the runbook's fix.

use std::path::Path;

use serde_json::Value;
use sovtui::provision::hetzner::request::DeploymentRequest;
use sovtui::sim::hetzner::{DEFAULT_READONLY_TOKEN, DEFAULT_TOKEN};
use sovtui::sim::scenario::WorldScenario;
use sovtui::sim::world::World;

const FQDN: &str = "t42.omani.works";
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5VdO/LcEbh2a+hBchu5g0qzWAo+LXyQjq94vjuPhtC sovereign-admin@acme";

async fn world(yaml: &str, dir: &Path) -> World {
    let scenario: WorldScenario = serde_yaml::from_str(yaml).expect("scenario parses");
    World::start(scenario, 1.0, Some(dir.to_path_buf()))
        .await
        .expect("world starts")
}

fn request(dir: &Path, token: &str, key: &str) -> std::path::PathBuf {
    let req = DeploymentRequest {
        org_name: "Acme".into(),
        org_email: "ops@acme.example".into(),
        sovereign_fqdn: FQDN.into(),
        sovereign_domain_mode: "pool".into(),
        sovereign_pool_domain: "omani.works".into(),
        sovereign_subdomain: "t42".into(),
        hetzner_token: token.into(),
        hetzner_project_id: "sim-project".into(),
        ssh_public_key: key.into(),
        ..Default::default()
    };
    let path = dir.join("request.json");
    std::fs::write(&path, serde_json::to_string(&req).expect("json")).expect("write request");
    path
}

/// Run `sovtui preflight --from REQ --json` with the world's fleet file; (exit code, report).
async fn preflight(w: &World, dir: &Path, req: &Path) -> (i32, Value) {
    let e = w.endpoints();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sovtui"));
    cmd.arg("--config")
        .arg(dir.join("fleet.toml"))
        .args(["preflight", "--json", "--from"])
        .arg(req)
        .env("HCLOUD_ENDPOINT", &e.hetzner)
        .env_remove("HCLOUD_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .env("HCLOUD_CONFIG", "/nonexistent/cli.toml")
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("XDG_STATE_HOME", dir.join("xdg-state"))
        .env("XDG_CONFIG_HOME", dir.join("xdg-config"));
    let out = cmd.output().await.expect("run sovtui");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {stdout}\nstderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn verdicts(report: &Value) -> Vec<(String, String)> {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap_or("").to_string(),
                i["verdict"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Exactly `broken` is ✗ (with a fix from the runbook containing `fix_says`); every other item ✓.
async fn only_fails(yaml: &str, token: &str, key: &str, broken: &str, fix_says: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = world(yaml, dir.path()).await;
    let req = request(dir.path(), token, key);
    let (code, report) = preflight(&w, dir.path(), &req).await;
    let v = verdicts(&report);
    for (id, verdict) in &v {
        let want = if id == broken { "fail" } else { "pass" };
        assert_eq!(verdict, want, "item {id}: {report:#}");
    }
    assert_eq!(v.len(), 8, "{report:#}");
    let item = report["items"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["id"] == broken))
        .expect("broken item");
    let fix = item["fix"].as_str().unwrap_or("");
    assert!(fix.contains(fix_says), "{broken}: fix {fix:?}");
    let broken_code = if broken.is_empty() { 0 } else { 1 };
    assert_eq!(code, broken_code, "{report:#}");
}

const EMPTY: &str = "name: preflight\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_world_passes_every_item() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = world(EMPTY, dir.path()).await;
    let req = request(dir.path(), DEFAULT_TOKEN, KEY);
    let (code, report) = preflight(&w, dir.path(), &req).await;
    assert_eq!(
        verdicts(&report),
        ["A", "B", "C", "D", "E", "F", "G", "H"]
            .iter()
            .map(|i| (i.to_string(), "pass".to_string()))
            .collect::<Vec<_>>(),
        "{report:#}"
    );
    assert_eq!(code, 0);
    let g = &report["items"][6]["evidence"][0];
    assert!(g.as_str().unwrap_or("").starts_with("35/35"), "{g}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_token_fails_a() {
    only_fails(EMPTY, DEFAULT_READONLY_TOKEN, KEY, "A", "Read & Write").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_holding_another_sovereign_fails_a() {
    let yaml = "name: shared\nsovereigns:\n  - fqdn: omantel.omani.works\n    cluster: {kit: null, flux: false}\n";
    only_fails(
        yaml,
        DEFAULT_TOKEN,
        KEY,
        "A",
        "separate Hetzner Cloud project",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_ssh_key_fails_b() {
    only_fails(
        EMPTY,
        DEFAULT_TOKEN,
        "ssh-ed25519 AAAAC3Nza",
        "B",
        "ssh-keygen -t ed25519",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_subdomain_fails_c() {
    let yaml =
        "name: taken\ncatalyst:\n  pdm_allocations:\n    - {pool: omani.works, subdomain: t42}\n";
    only_fails(yaml, DEFAULT_TOKEN, KEY, "C", "§2.2 recovery").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynadot_secret_without_its_secret_fails_d() {
    let yaml = "name: dynadot\nmothership:\n  missing_dynadot_keys: [api-secret]\n";
    only_fails(yaml, DEFAULT_TOKEN, KEY, "D", "dynadot-api-credentials").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdm_not_ready_fails_d() {
    let yaml = "name: pdm-down\nmothership:\n  pdm_ready_replicas: 0\n";
    only_fails(yaml, DEFAULT_TOKEN, KEY, "D", "1/1 READY").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ghcr_token_fails_e() {
    let yaml = "name: ghcr\nmothership:\n  ghcr_secret_missing: true\n";
    only_fails(yaml, DEFAULT_TOKEN, KEY, "E", "catalyst-ghcr-pull-token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_pool_zone_fails_f() {
    let yaml = "name: zones\nmothership:\n  missing_pool_zones: [omani.rest]\n";
    only_fails(yaml, DEFAULT_TOKEN, KEY, "F", "pdnsutil list-all-zones").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpublished_chart_fails_g() {
    let yaml = "name: charts\nmothership:\n  missing_artifacts: [bp-keycloak]\n";
    only_fails(yaml, DEFAULT_TOKEN, KEY, "G", "Publish the missing bp-*").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_red_release_run_fails_h() {
    let yaml =
        "name: ci\nmothership:\n  ci_conclusions: [success, failure, success, success, success]\n";
    only_fails(yaml, DEFAULT_TOKEN, KEY, "H", "fix CI first").await;
}
