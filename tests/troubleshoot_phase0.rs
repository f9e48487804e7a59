//! The troubleshooting leaves of Phase 0 and the Domain step, end to end: start the world from
//! `fixtures/scenarios/leaf-*.yaml` (the Sovereign is created through catalyst-api with the
//! scenario's request; the fault lives in catalyst-api, PDM or the simulated Hetzner project), let
//! the timeline fail, gather evidence exactly like `sovtui diagnose` does (`gather::Sources` filled
//! from the world's fleet.toml) and check the leaf, the cited evidence and that no step was guessed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sovtui::provision::catalyst::CatalystClient;
use sovtui::provision::troubleshoot::evidence::Evidence;
use sovtui::provision::troubleshoot::gather::Sources;
use sovtui::provision::troubleshoot::tree::Tree;
use sovtui::provision::troubleshoot::walk::{AnsweredBy, Diagnosis, Placeholders, diagnose};
use sovtui::sim::hetzner::DEFAULT_READONLY_TOKEN;
use sovtui::sim::scenario::WorldScenario;
use sovtui::sim::world::World;

mod support;
use support::diagnose::{assert_cites, diagnose_json_until};

const FQDN: &str = "omantel.omani.works";
/// Overall bound on a world reaching its scenario's state; the loop waits on the diagnosis.
const DEADLINE: Duration = Duration::from_secs(90);
/// Simulated time per round: a Phase-0 step is seconds to a minute long.
const STEP: Duration = Duration::from_secs(20);

fn scenario_path(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/scenarios")
        .join(format!("{name}.yaml"))
        .display()
        .to_string()
}

/// Speed 1: simulated time moves by our `advance` calls (and a negligible real-time drift), so
/// the window in which M3's apply hangs cannot slip past between two diagnoses.
async fn start(scenario: &str, dir: &Path) -> World {
    let loaded = WorldScenario::load(&scenario_path(scenario)).unwrap_or_else(|e| panic!("{e}"));
    World::start(loaded, 1.0, Some(dir.to_path_buf()))
        .await
        .unwrap_or_else(|e| panic!("{scenario}: world starts: {e:#}"))
}

/// What `sovtui diagnose FQDN --config DIR/fleet.toml` gathers and concludes.
async fn diagnose_from_fleet(dir: &Path, tree: &Arc<Tree>) -> (Diagnosis, Evidence) {
    let mut src = Sources {
        fqdn: FQDN.into(),
        ..Default::default()
    };
    src.fill_from_fleet(&dir.join("fleet.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut ev = Evidence::new();
    src.gather(&mut ev).await.unwrap_or_else(|e| panic!("{e}"));
    let ph = Placeholders {
        fqdn: FQDN.into(),
        deployment: src.deployment.clone(),
        api: src.api.clone(),
        ..Default::default()
    };
    (diagnose(tree.clone(), ev.clone(), &ph), ev)
}

/// Start the scenario and diagnose until the walk lands on `leaf` or the deadline passes.
async fn world_lands_on(scenario: &str, leaf: &str) -> (Diagnosis, World, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = start(scenario, dir.path()).await;
    let tree = Arc::new(Tree::builtin().expect("shipped tree"));
    let start = Instant::now();
    loop {
        let (d, ev) = diagnose_from_fleet(dir.path(), &tree).await;
        if d.leaf_id() == Some(leaf) {
            eprintln!("{scenario}:\n{}", d.to_text());
            return (d, world, dir);
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{scenario}: never landed on {leaf}; last diagnosis:\n{}\nevidence errors: {:?}",
            d.to_text(),
            ev.errors
        );
        // Let the timeline move on (tofu init, plan, apply) before asking again.
        world.clock.advance(STEP);
        tokio::task::yield_now().await;
    }
}

/// The evidence that decided the last question cites `needle`, and every step was decided by
/// evidence (none by the operator, none left as a question).
fn assert_decided_by_evidence(d: &Diagnosis, needle: &str) {
    assert_cites(d, needle);
    assert!(
        d.path
            .iter()
            .all(|c| !matches!(c.by, AnsweredBy::Operator { .. })),
        "{}",
        d.to_text()
    );
}

fn fleet_entry(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("fleet.toml")).expect("fleet.toml")
}

macro_rules! leaf_test {
    ($name:ident, $scenario:literal, $leaf:literal, $cites:literal) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (d, world, dir) = world_lands_on($scenario, $leaf).await;
            assert_decided_by_evidence(&d, $cites);
            // The deployment the world created is what the fleet file points diagnose at.
            let id = world
                .deployments()
                .get(FQDN)
                .cloned()
                .expect("a deployment");
            let fleet = fleet_entry(dir.path());
            assert!(
                fleet.contains(&format!("deployment_id = \"{id}\"")),
                "{fleet}"
            );
            assert!(
                world.kube.cluster(FQDN).is_none(),
                "Phase 0 never finished, so there is no cluster"
            );
        }
    };
}

leaf_test!(
    c1_stale_image_rejects_cpx,
    "leaf-C1",
    "C1",
    "The given value \"cpx32\" is not valid for variable \"control_plane_size\""
);
leaf_test!(
    c2_invalid_public_key,
    "leaf-C2",
    "C2",
    "public_key field is invalid"
);
leaf_test!(c3_orphans_uniqueness, "leaf-C3", "C3", "uniqueness_error");
leaf_test!(
    c4_dynadot_null_resource,
    "leaf-C4",
    "C4",
    "dynadot API returned"
);
leaf_test!(m2_project_limit, "leaf-M2", "M2", "resource_limit_exceeded");
leaf_test!(
    m3_still_creating,
    "leaf-M3",
    "M3",
    "Still creating... [10m0s elapsed]"
);

/// M1: the read-only token passes catalyst-api's credential check (it can list servers), and the
/// first write of `tofu apply` is refused with Hetzner's 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m1_read_only_token() {
    let (d, world, _dir) = world_lands_on("leaf-M1", "M1").await;
    assert_decided_by_evidence(&d, "(forbidden)");
    let client = CatalystClient::new(&world.endpoints().catalyst_api).expect("client");
    let verdict = client
        .validate_credentials("hetzner", DEFAULT_READONLY_TOKEN)
        .await
        .expect("validate answers");
    assert!(verdict.valid, "read-only passes validation: {verdict:?}");
}

/// C18 and HC: catalyst-api refuses the create, so there is no deployment; the fleet file still
/// names the Sovereign with its catalyst-api and diagnose asks the subdomain check.
async fn refused_create_lands_on(scenario: &str, leaf: &str, refusal: &str, cites: &str) {
    let (d, world, dir) = world_lands_on(scenario, leaf).await;
    assert_decided_by_evidence(&d, cites);
    let refused = world.refused_creates();
    let why = refused.get(FQDN).expect("the create was refused");
    assert!(why.contains(refusal), "{why}");
    assert!(world.deployments().is_empty());
    let fleet = fleet_entry(dir.path());
    assert!(fleet.contains(&format!("fqdn = \"{FQDN}\"")), "{fleet}");
    assert!(fleet.contains("catalyst_api = "), "{fleet}");
    assert!(!fleet.contains("deployment_id"), "{fleet}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c18_pdm_subdomain_conflict() {
    refused_create_lands_on(
        "leaf-C18",
        "C18",
        "subdomain-conflict",
        "available=false reason=active-state",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hc_pdm_unavailable() {
    refused_create_lands_on(
        "leaf-HC",
        "HC",
        "pdm-unavailable",
        "available=false reason=pdm-unavailable",
    )
    .await;
}

/// `sovtui --config DIR/fleet.toml diagnose FQDN --json` on a Phase-0 failure: catalyst-api and
/// the deployment id come from the fleet file; the Sovereign has no cluster (no context in the
/// kubeconfig), which is reported, not fatal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_binary_on_orphans() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = start("leaf-C3", dir.path()).await;
    let fleet = dir.path().join("fleet.toml");
    let text = diagnose_json_until(&world, &fleet, FQDN, "C3", STEP, DEADLINE).await;
    assert!(text.contains("uniqueness_error"), "{text}");
    assert!(
        text.contains(&format!("operator-recover-sovereign.sh {FQDN} --apply")),
        "recovery filled with the FQDN: {text}"
    );
}

/// Issue 15: the `sovtui recover` commands a leaf suggests carry what a whole recovery needs —
/// catalyst-api and PDM (without them the release and the record steps are skipped), a plan file
/// the purge then executes by id, the FQDN typed back. Pasted verbatim into a shell against the
/// world (the operator's environment holds the Hetzner token and the fleet file with its
/// `[mothership]`), they purge C3's orphans, check PDM, and cancel the `failed` deployment
/// record through the mothership (runbook §2.2 step 3) instead of skipping any step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c3_suggested_recover_commands_work_as_pasted() {
    use sovtui::provision::troubleshoot::walk::LeafView;

    let (_d, world, dir) = world_lands_on("leaf-C3", "C3").await;
    let endpoints = world.endpoints();
    let tree = Tree::builtin().expect("shipped tree");
    let ph = Placeholders {
        fqdn: FQDN.into(),
        api: Some(endpoints.catalyst_api.clone()),
        pdm: Some(endpoints.pdm.clone()),
        ..Default::default()
    };
    let view = LeafView::render(tree.leaf("C3").expect("C3"), &ph);
    let cmds: Vec<String> = view
        .recovery
        .iter()
        .filter_map(|s| s.cmd.clone())
        .filter(|c| c.starts_with("sovtui recover"))
        .collect();
    assert_eq!(cmds.len(), 2, "a dry run and its purge: {cmds:?}");

    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join("sovtui")).expect("mkdir");
    std::fs::copy(
        dir.path().join("fleet.toml"),
        home.path().join("sovtui/fleet.toml"),
    )
    .expect("fleet file");
    // `[mothership] kubeconfig = "kubeconfig"` is relative to the fleet file.
    std::fs::copy(
        dir.path().join("kubeconfig"),
        home.path().join("sovtui/kubeconfig"),
    )
    .expect("kubeconfig");
    let id = world
        .deployments()
        .get(FQDN)
        .cloned()
        .expect("a deployment");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_sovtui"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for cmd in &cmds {
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(home.path())
            .env("PATH", &path)
            .env("HCLOUD_TOKEN", &endpoints.hetzner_token)
            .env("HCLOUD_ENDPOINT", &endpoints.hetzner)
            .env("XDG_CONFIG_HOME", home.path())
            .env("XDG_STATE_HOME", home.path())
            .env("HOME", home.path())
            .output()
            .await
            .expect("run the pasted command");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{cmd}\n{err}");
        for skipped in ["no --pdm URL given", "no --api URL given", "skipped"] {
            assert!(!err.contains(skipped), "{cmd} skips a step:\n{err}");
        }
        assert!(err.contains(&id), "{cmd} names the record {id}:\n{err}");
    }
    let client = CatalystClient::new(&endpoints.catalyst_api).expect("client");
    let state = client.deployment(&id).await.expect("the record");
    assert_eq!(state.status, "cancelled", "C3's failed record is cancelled");
    let left = world
        .hetzner
        .control()
        .list(
            sovtui::sim::hetzner::Kind::Network,
            Some(&format!("catalyst.openova.io/sovereign={FQDN}")),
        )
        .expect("list");
    assert!(left.is_empty(), "the orphans are gone: {left:?}");
    let pdm = world.catalyst.pdm().expect("embedded PDM");
    assert!(
        pdm.row("omani.works", "omantel").is_none(),
        "PDM holds no name"
    );
}

/// Every `sovtui recover` a leaf of the shipped tree suggests names catalyst-api, PDM and a plan
/// file, and its purge executes that plan with the FQDN typed back — the CLI accepts each as is.
#[test]
fn every_suggested_recover_command_is_a_whole_recovery() {
    use clap::Parser as _;
    use sovtui::provision::troubleshoot::walk::LeafView;

    let tree = Tree::builtin().expect("shipped tree");
    let ph = Placeholders {
        fqdn: FQDN.into(),
        api: Some("http://127.0.0.1:1".into()),
        pdm: Some("http://127.0.0.1:2".into()),
        ..Default::default()
    };
    let mut n = 0;
    for leaf in &tree.leaves {
        let view = LeafView::render(leaf, &ph);
        for cmd in view.recovery.iter().filter_map(|s| s.cmd.as_deref()) {
            if !cmd.starts_with("sovtui recover") {
                continue;
            }
            n += 1;
            let words: Vec<&str> = cmd.split_whitespace().collect();
            let cli = sovtui::cli::Cli::try_parse_from(&words)
                .unwrap_or_else(|e| panic!("{}: {cmd}: {e}", leaf.id));
            let Some(sovtui::cli::Command::Recover(args)) = cli.command else {
                panic!("{}: {cmd} is not recover", leaf.id)
            };
            assert_eq!(args.fqdn, FQDN, "{}: {cmd}", leaf.id);
            assert_eq!(args.recover.api.as_deref(), ph.api.as_deref(), "{cmd}");
            assert_eq!(args.recover.pdm.as_deref(), ph.pdm.as_deref(), "{cmd}");
            if args.apply {
                assert_eq!(args.confirm.as_deref(), Some(FQDN), "{cmd}");
                assert!(
                    args.plan.is_some(),
                    "{}: the purge runs a plan: {cmd}",
                    leaf.id
                );
            } else {
                assert!(
                    args.out.is_some(),
                    "{}: the dry run writes the plan: {cmd}",
                    leaf.id
                );
            }
        }
    }
    assert!(n >= 2, "the tree suggests recover commands");
}
