//! `sovtui decommission` (runbook §1.7/§2.1) against the world, over loopback: a Sovereign the
//! world provisioned through catalyst-api is planned, wiped through catalyst-api's `/wipe` with the
//! token in the body, followed to `wiped`, and verified item by item — Hetzner by the ownership
//! rule, PDM's name, `console.<fqdn>` at the mothership's DNS. A wipe that leaves something
//! behind (the scenario knob `catalyst.faults.wipe_leaves_behind`) is never called verified and
//! the leftover is named; an object labelled for another Sovereign is never touched.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sovtui::provision::catalyst::CatalystClient;
use sovtui::provision::hetzner::naming;
use sovtui::sim::hetzner::{DEFAULT_READONLY_TOKEN, Kind as SimKind};
use sovtui::sim::scenario::WorldScenario;
use sovtui::sim::world::World;

const FQDN: &str = "t42.omani.works";
const DEADLINE: Duration = Duration::from_secs(240);

fn scenario(leaves: &[&str]) -> WorldScenario {
    let yaml = format!(
        "name: decommission\n\
         hetzner: {{linger_seconds: 5}}\n\
         catalyst:\n  pdm_reservation_ttl_seconds: 3600\n  faults: {{wipe_leaves_behind: {leaves:?}}}\n\
         sovereigns:\n  - fqdn: {FQDN}\n    stage: provisioning\n    cluster: {{kit: bootstrap-kit, bootstrap_seconds: 1}}\n"
    );
    serde_yaml::from_str(&yaml).expect("scenario parses")
}

/// A world whose `FQDN` was provisioned through catalyst-api and is `ready`.
async fn provisioned(leaves: &[&str], dir: &Path) -> World {
    let world = World::start(scenario(leaves), 600.0, Some(dir.to_path_buf()))
        .await
        .expect("world starts");
    let id = world.deployments()[FQDN].clone();
    let api = CatalystClient::new(&world.endpoints().catalyst_api).expect("client");
    tokio::time::timeout(DEADLINE, async {
        loop {
            let st = api.deployment(&id).await.expect("record");
            if st.status == "ready" {
                break;
            }
            assert!(
                !["failed", "wiped", "cancelled"].contains(&st.status.as_str()),
                "provisioning ended {}",
                st.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the Sovereign is ready");
    world
}

struct Run {
    code: i32,
    json: Value,
    stderr: String,
}

async fn sovtui(world: &World, dir: &Path, token: &str, args: &[&str]) -> Run {
    let e = world.endpoints();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .arg("--config")
        .arg(dir.join("fleet.toml"))
        .args(args)
        .env("HCLOUD_ENDPOINT", &e.hetzner)
        .env("HCLOUD_TOKEN", token)
        .env("HCLOUD_CONFIG", "/nonexistent/cli.toml")
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("XDG_STATE_HOME", dir.join("xdg-state"))
        .env("XDG_CONFIG_HOME", dir.join("xdg-config"))
        .env_remove("SOVTUI_S3_ACCESS_KEY")
        .env_remove("SOVTUI_S3_SECRET_KEY")
        .output()
        .await
        .expect("run sovtui");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    Run {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// The plan, written to `dir/plan.json`.
async fn plan(world: &World, dir: &Path) -> Value {
    let plan_file = dir.join("plan.json");
    let run = sovtui(
        world,
        dir,
        &world.endpoints().hetzner_token,
        &[
            "decommission",
            FQDN,
            "--plan-out",
            plan_file.to_str().expect("utf-8"),
            "--json",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json
}

async fn apply(world: &World, dir: &Path) -> Run {
    let plan_file = dir.join("plan.json");
    sovtui(
        world,
        dir,
        &world.endpoints().hetzner_token,
        &[
            "decommission",
            FQDN,
            "--apply",
            "--plan",
            plan_file.to_str().expect("utf-8"),
            "--confirm",
            FQDN,
            "--verify-grace",
            "2",
            "--json",
        ],
    )
    .await
}

fn check<'a>(report: &'a Value, item: &str) -> &'a Value {
    report["verification"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["item"] == item))
        .unwrap_or_else(|| panic!("no {item} check: {report:#}"))
}

fn labelled(world: &World, kind: SimKind) -> Vec<Value> {
    world
        .hetzner
        .control()
        .list(kind, Some(&format!("{}={FQDN}", naming::SOVEREIGN_LABEL)))
        .expect("list")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decommission_ends_verified_and_never_touches_a_foreign_labelled_object() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = provisioned(&[], dir.path()).await;
    // Named like one of ours, labelled for another Sovereign: the label decides.
    let foreign = world
        .hetzner
        .control()
        .create(
            SimKind::Server,
            json!({"name": format!("catalyst-{}-w9", naming::slug(FQDN)), "server_type": "cx22",
                   "image": "ubuntu-24.04", "location": "fsn1",
                   "labels": {naming::SOVEREIGN_LABEL: "other.omani.works"}}),
        )
        .expect("foreign server")["id"]
        .as_i64()
        .expect("id");

    let p = plan(&world, dir.path()).await;
    assert_eq!(p["format"], "sovtui-decommission-plan/1");
    assert_eq!(p["deployment"]["id"], world.deployments()[FQDN].as_str());
    assert_eq!(p["deployment"]["status"], "ready");
    assert!(
        p["hetzner"].as_array().is_some_and(|t| t
            .iter()
            .any(|t| t["kind"] == "server" && t["labels"][naming::SOVEREIGN_LABEL] == FQDN)),
        "{p:#}"
    );
    assert!(
        p["vetoed"]
            .as_array()
            .is_some_and(|v| v.iter().any(|v| v["id"] == foreign)),
        "{p:#}"
    );
    assert_eq!(p["pdm"]["pool"], "omani.works");
    assert_eq!(p["pdm"]["sub"], "t42");
    assert_eq!(p["dns"]["ttl"], 300, "{p:#}");
    // Never the token: only its fingerprint.
    let text = std::fs::read_to_string(dir.path().join("plan.json")).expect("plan file");
    assert!(!text.contains(&world.endpoints().hetzner_token));
    // The dry run changed nothing.
    assert!(!labelled(&world, SimKind::Server).is_empty());

    let run = apply(&world, dir.path()).await;
    let r = &run.json;
    assert_eq!(run.code, 0, "{}\n{r:#}", run.stderr);
    assert_eq!(r["verdict"], "verified", "{r:#}");
    assert_eq!(r["status"], "wiped");
    assert_eq!(r["leftovers"], json!([]));
    for item in ["hetzner", "pdm", "dns"] {
        assert_eq!(check(r, item)["state"], "gone", "{item}: {r:#}");
    }
    assert!(
        check(r, "pdm")["summary"]
            .as_str()
            .is_some_and(|s| s.contains("t42.omani.works is AVAILABLE")),
        "{r:#}"
    );
    // The DNS line: gone at the authority, and how long a cached answer may linger.
    let dns = check(r, "dns");
    assert!(dns["may_resolve_until"].is_string(), "{r:#}");
    let note = dns["notes"][0].as_str().unwrap_or("");
    let time = note.strip_prefix("may resolve until ").unwrap_or("");
    assert!(
        time.len() > 8
            && time[..8]
                .chars()
                .enumerate()
                .all(|(i, c)| if i == 2 || i == 5 {
                    c == ':'
                } else {
                    c.is_ascii_digit()
                })
            && note.contains(" UTC ")
            && note.ends_with("(TTL 300 s)"),
        "{note}"
    );
    assert!(run.stderr.contains(note), "{}", run.stderr);
    assert!(run.stderr.contains("VERIFIED"), "{}", run.stderr);
    // The foreign server is still there, reported as not ours.
    assert!(
        world
            .hetzner
            .control()
            .get(SimKind::Server, foreign)
            .is_ok()
    );
    assert!(
        check(r, "hetzner")["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n
                .as_str()
                .is_some_and(|n| n.contains("labelled for other.omani.works")))),
        "{r:#}"
    );
    // The world agrees: nothing of it in Hetzner, PDM released.
    for kind in SimKind::ALL {
        assert!(labelled(&world, kind).is_empty(), "{kind:?} left");
    }
    let pdm = world.catalyst.pdm().expect("embedded PDM");
    assert!(pdm.row("omani.works", "t42").is_none());
    // Journaled, and the journal ended.
    let journal = r["journal"].as_str().expect("journal path");
    let text = std::fs::read_to_string(journal).expect("journal");
    assert!(text.contains("\"verified\""), "{text}");

    // Applying again: the record is wiped already, so it only verifies.
    let again = apply(&world, dir.path()).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("already wiped"), "{}", again.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wipe_that_leaves_a_server_behind_is_not_verified_and_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = provisioned(&["servers"], dir.path()).await;
    let p = plan(&world, dir.path()).await;
    let servers: Vec<String> = p["hetzner"]
        .as_array()
        .expect("targets")
        .iter()
        .filter(|t| t["kind"] == "server")
        .map(|t| t["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(!servers.is_empty(), "{p:#}");

    let run = apply(&world, dir.path()).await;
    let r = &run.json;
    assert_eq!(run.code, 1, "{}\n{r:#}", run.stderr);
    assert_eq!(r["verdict"], "not-verified");
    // catalyst-api reached `wiped` — its word is not the verdict.
    assert_eq!(r["status"], "wiped");
    assert_eq!(check(r, "hetzner")["state"], "left");
    let leftovers = r["leftovers"].to_string();
    for s in &servers {
        assert!(leftovers.contains(s), "{s} not named: {leftovers}");
    }
    // The other two items still hold, each in its own words.
    assert_eq!(check(r, "pdm")["state"], "gone");
    assert_eq!(check(r, "dns")["state"], "gone");
    assert!(run.stderr.contains("NOT VERIFIED"), "{}", run.stderr);
    assert!(
        run.stderr.contains("✗ LEFT Hetzner objects"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wipe_that_keeps_the_pdm_name_is_not_verified_and_dns_still_resolves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = provisioned(&["pdm"], dir.path()).await;
    plan(&world, dir.path()).await;
    let run = apply(&world, dir.path()).await;
    let r = &run.json;
    assert_eq!(run.code, 1, "{}\n{r:#}", run.stderr);
    assert_eq!(r["verdict"], "not-verified");
    // catalyst-api's report claims the release; the verification asked PDM itself.
    assert_eq!(r["wipe_report"]["pdmReleased"], true, "{r:#}");
    assert_eq!(check(r, "hetzner")["state"], "gone");
    assert_eq!(check(r, "pdm")["state"], "left");
    assert_eq!(check(r, "dns")["state"], "left");
    let leftovers = r["leftovers"].to_string();
    assert!(
        leftovers.contains("t42.omani.works is held at PDM"),
        "{leftovers}"
    );
    assert!(
        leftovers.contains("console.t42.omani.works resolves to")
            && leftovers.contains("TTL 300 s"),
        "{leftovers}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_refused_for_another_token_or_fqdn_touches_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = provisioned(&[], dir.path()).await;
    plan(&world, dir.path()).await;
    let plan_file = dir.path().join("plan.json");
    let plan_arg = plan_file.to_str().expect("utf-8");
    // Another project's token: refused before anything is sent.
    let run = sovtui(
        &world,
        dir.path(),
        DEFAULT_READONLY_TOKEN,
        &[
            "decommission",
            FQDN,
            "--apply",
            "--plan",
            plan_arg,
            "--confirm",
            FQDN,
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("made with token"), "{}", run.stderr);
    // The FQDN typed back wrong.
    let run = sovtui(
        &world,
        dir.path(),
        &world.endpoints().hetzner_token,
        &[
            "decommission",
            FQDN,
            "--apply",
            "--plan",
            plan_arg,
            "--confirm",
            "t42.omani.work",
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    let api = CatalystClient::new(&world.endpoints().catalyst_api).expect("client");
    let st = api
        .deployment(&world.deployments()[FQDN])
        .await
        .expect("record");
    assert_eq!(st.status, "ready", "nothing was wiped");
    assert!(!labelled(&world, SimKind::Server).is_empty());
}
