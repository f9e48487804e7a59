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

// ---- G through GHCR's anonymous-token exchange ------------------------------------------------

/// The world's registry, like ghcr.io, answers a bare manifest request 401 with a Bearer
/// challenge; the library follows it (realm → token → retry) — and a registry that needs no
/// token is asked once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_demands_a_token_and_the_library_fetches_one() {
    use sovtui::provision::limits::Limits;
    use sovtui::provision::preflight::oci;
    for (yaml, demands) in [
        (EMPTY, true),
        (
            "name: open\nmothership:\n  registry_without_token: true\n",
            false,
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let w = world(yaml, dir.path()).await;
        let registry = w.endpoints().mothership.expect("mothership").registry;
        let url = format!("{registry}/v2/openova-io/bp-cilium/manifests/1.1.1");
        let http = reqwest::Client::new();
        let bare = http.head(&url).send().await.expect("HEAD");
        if demands {
            assert_eq!(bare.status().as_u16(), 401);
            let challenge = bare.headers()["www-authenticate"]
                .to_str()
                .expect("ascii")
                .to_string();
            let c = oci::parse_challenge(&challenge).expect("a Bearer challenge");
            assert_eq!(c.realm, format!("{registry}/token"));
            assert_eq!(
                c.scope.as_deref(),
                Some("repository:openova-io/bp-cilium:pull")
            );
            // A token for another repository does not open this one.
            let other: Value = http
                .get(&c.realm)
                .query(&[
                    ("service", c.service.clone().unwrap_or_default()),
                    ("scope", "repository:openova-io/bp-flux:pull".into()),
                ])
                .send()
                .await
                .expect("token")
                .json()
                .await
                .expect("json");
            let refused = http
                .head(&url)
                .bearer_auth(other["token"].as_str().expect("token"))
                .send()
                .await
                .expect("HEAD");
            assert_eq!(refused.status().as_u16(), 401);
        } else {
            assert_eq!(bare.status().as_u16(), 200);
        }
        let digest = oci::manifest_digest(&http, &url, &Limits::default())
            .await
            .expect("answered");
        assert!(
            digest.as_deref().is_some_and(|d| d.starts_with("sha256:")),
            "{digest:?}"
        );
        let missing = url.replace("1.1.1", "0.0.0-never");
        assert_eq!(
            oci::manifest_digest(&http, &missing, &Limits::default()).await,
            Ok(None)
        );
    }
}

/// A hostile or broken token realm makes G unknowable (`?`, said why), never ✗, never a hang, and
/// the token never appears in what is said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_token_realm_is_told_without_the_token() {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    use sovtui::provision::limits::Limits;
    use sovtui::provision::preflight::oci;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let challenge = move |realm: &str| {
        let mut h = HeaderMap::new();
        h.insert(
            "www-authenticate",
            format!("Bearer realm=\"http://{addr}/{realm}\",service=\"hostile\",scope=\"repository:x/{realm}:pull\"")
                .parse()
                .expect("header"),
        );
        (StatusCode::UNAUTHORIZED, h)
    };
    let app =
        axum::Router::new()
            .route(
                "/v2/x/{realm}/manifests/{tag}",
                get(
                    move |axum::extract::Path((realm, _)): axum::extract::Path<(
                        String,
                        String,
                    )>| async move { challenge(&realm) },
                ),
            )
            .route("/big", get(|| async { "x".repeat(1 << 20) }))
            .route(
                "/garbage",
                get(|| async { "token=SECRET-GARBAGE not json" }),
            )
            .route(
                "/empty",
                get(|| async { axum::Json(serde_json::json!({"token": ""})) }),
            )
            .route(
                "/refused",
                get(|| async { axum::Json(serde_json::json!({"token": "SECRET-REFUSED"})) }),
            )
            .route(
                "/denied",
                get(|| async { (StatusCode::FORBIDDEN, "SECRET-DENIED") }),
            );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    for (realm, says) in [
        ("big", "larger than 64 KiB"),
        ("garbage", "not a token"),
        ("empty", "holds no token"),
        ("refused", "refused its own anonymous token"),
        ("denied", "answered HTTP 403"),
    ] {
        let url = format!("http://{addr}/v2/x/{realm}/manifests/1.0.0");
        let e = oci::manifest_digest(&http, &url, &Limits::default())
            .await
            .expect_err(realm);
        assert!(e.contains(says), "{realm}: {e}");
        assert!(!e.contains("SECRET"), "{realm}: the token leaked: {e}");
    }
    server.abort();
}

// ---- the gate on `sovtui deploy create` --------------------------------------------------------

/// `deploy create` with a world whose GHCR pull token is missing (E ✗): refused, nothing created;
/// an override that does not name E is refused too; `--override-preflight E` creates it, and the
/// provision journal holds the override (items, evidence, who, when) before the create's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_create_refuses_a_failed_item_unless_overridden_and_journals_the_override() {
    use sovtui::provision::journal::{self, Event};
    let dir = tempfile::tempdir().expect("tempdir");
    let w = world(
        "name: gate\nmothership:\n  ghcr_secret_missing: true\n",
        dir.path(),
    )
    .await;
    let e = w.endpoints();
    let req = dir.path().join("req.toml");
    std::fs::write(
        &req,
        format!(
            r#"orgName = "Acme"
orgEmail = "ops@acme.example"
sovereignFQDN = "gate1.omani.works"
sovereignDomainMode = "pool"
sovereignPoolDomain = "omani.works"
sovereignSubdomain = "gate1"
hetznerToken = "{DEFAULT_TOKEN}"
hetznerProjectID = "sim-project"
region = "fsn1"
controlPlaneSize = "cpx32"
workerSize = ""
workerCount = 0
haEnabled = false
sshPublicKey = "{KEY}"
"#
        ),
    )
    .expect("request");
    let state = dir.path().join("xdg-state");
    let create = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sovtui"));
        cmd.arg("--config")
            .arg(dir.path().join("fleet.toml"))
            .args([
                "deploy",
                "create",
                "--api",
                &e.catalyst_api,
                "--json",
                "--from",
            ])
            .arg(&req)
            .args(extra)
            .env("HCLOUD_ENDPOINT", &e.hetzner)
            .env_remove("HCLOUD_TOKEN")
            .env_remove("GITHUB_TOKEN")
            .env("USER", "gate-tester")
            .env("HCLOUD_CONFIG", "/nonexistent/cli.toml")
            .env("XDG_STATE_HOME", &state)
            .env("XDG_CONFIG_HOME", dir.path().join("xdg-config"));
        let out = tokio::task::block_in_place(|| cmd.output()).expect("run sovtui");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let journals = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(state.join("sovtui/journal/provision"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };

    let (code, out, err) = create(&[]);
    assert_eq!(code, 1, "refused: {err}");
    assert!(out.trim().is_empty(), "nothing created: {out}");
    assert!(err.contains("E ✗ FAIL"), "{err}");
    assert!(err.contains("catalyst-ghcr-pull-token"), "the fix: {err}");
    assert!(
        err.contains("--override") || err.contains("override"),
        "{err}"
    );
    let listed = || async {
        sovtui::provision::catalyst::CatalystClient::new(&e.catalyst_api)
            .expect("client")
            .list_deployments()
            .await
            .expect("list")
    };
    assert!(listed().await.is_empty(), "no deployment created");
    assert!(journals().is_empty(), "a refused create journals nothing");

    let (code, _, err) = create(&["--override-preflight", "A"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not name E"), "{err}");
    let (code, _, err) = create(&["--override-preflight", "Q"]);
    assert_eq!(code, 2, "not an item: {err}");
    assert!(listed().await.is_empty(), "still nothing created");

    let (code, out, err) = create(&["--override-preflight", "E"]);
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(out.trim()).expect("created JSON");
    let id = created["id"].as_str().expect("id").to_string();
    let files = journals();
    assert_eq!(files.len(), 1, "one provision journal");
    let replay = journal::read(&files[0]).expect("journal reads");
    let events: Vec<&Event> = replay.entries.iter().map(|e| &e.event).collect();
    let Event::Planned { plan } = events[0] else {
        panic!("planned first: {events:?}")
    };
    assert_eq!(plan["override"]["items"], serde_json::json!(["E"]));
    assert_eq!(plan["override"]["user"], "gate-tester");
    assert!(plan["override"]["at"].is_string());
    assert_eq!(plan["override"]["typed"], "E");
    let evidence = plan["override"]["evidence"][0]["evidence"].to_string();
    assert!(evidence.contains("catalyst-ghcr-pull-token"), "{evidence}");
    assert_eq!(plan["preflight"]["items"].as_array().map(Vec::len), Some(8));
    assert!(matches!(events[1], Event::StepStarted { step } if step == "create deployment"));
    assert!(
        matches!(events[2], Event::StepDone { detail, .. } if detail["id"] == id.as_str()),
        "{events:?}"
    );
    assert!(matches!(events[3], Event::Finished { outcome, .. } if outcome == "created"));
    // The override went to the journal, the token never did.
    let text = std::fs::read_to_string(&files[0]).expect("journal text");
    assert!(!text.contains(DEFAULT_TOKEN), "token journaled");
}
