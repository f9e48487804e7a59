//! Every troubleshooting leaf the simulated world can express, end to end: start the world from
//! `fixtures/scenarios/leaf-*.yaml`, gather evidence from its apiserver with the real kube-rs
//! gatherer, walk the shipped tree with `diagnose`, and check the leaf and the cited evidence.
//! The `happy` world lands on DONE. `diagnose FQDN --config fleet.toml` runs the binary against a
//! world's state dir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sovtui::provision::troubleshoot::evidence::Evidence;
use sovtui::provision::troubleshoot::gather::Sources;
use sovtui::provision::troubleshoot::gather::kube as kube_gather;
use sovtui::provision::troubleshoot::tree::Tree;
use sovtui::provision::troubleshoot::walk::{AnsweredBy, Diagnosis, Placeholders, diagnose};
use sovtui::sim::scenario::WorldScenario;
use sovtui::sim::world::World;

mod support;
use support::diagnose::{assert_cites, diagnose_json_until};

const FQDN: &str = "omantel.omani.works";
/// Overall bound on a world reaching its scenario's state; the loop waits on the diagnosis.
const DEADLINE: Duration = Duration::from_secs(90);
/// Simulated time the world moves on between two diagnoses.
const STEP: Duration = Duration::from_secs(30);

fn scenario_path(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/scenarios")
        .join(format!("{name}.yaml"))
        .display()
        .to_string()
}

async fn client_for(kubeconfig: &Path, context: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig parses");
    let opts = kube::config::KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .expect("context exists");
    kube::Client::try_from(cfg).expect("client")
}

async fn diagnose_once(client: &kube::Client, tree: &Arc<Tree>) -> Diagnosis {
    let mut ev = Evidence::new();
    let snap = kube_gather::gather(client, &mut ev).await;
    snap.add_to(&mut ev, FQDN);
    diagnose(tree.clone(), ev, &Placeholders::for_fqdn(FQDN))
}

/// Start the scenario, then diagnose until the walk lands on `leaf` (the world needs a few
/// simulated seconds to bootstrap Flux and install the kit) or the deadline passes.
async fn world_lands_on(scenario: &str, leaf: &str) -> Diagnosis {
    let dir = tempfile::tempdir().expect("tempdir");
    let loaded = WorldScenario::load(&scenario_path(scenario))
        .or_else(|_| WorldScenario::load(scenario))
        .unwrap_or_else(|e| panic!("{e}"));
    let world = World::start(loaded, 600.0, Some(dir.path().to_path_buf()))
        .await
        .expect("world starts");
    let client = client_for(&dir.path().join("kubeconfig"), FQDN).await;
    let tree = Arc::new(Tree::builtin().expect("shipped tree"));
    let start = Instant::now();
    loop {
        let d = diagnose_once(&client, &tree).await;
        if d.leaf_id() == Some(leaf) {
            drop(world);
            return d;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{scenario}: never landed on {leaf}; last diagnosis:\n{}",
            d.to_text()
        );
        // Let the simulated clock move the world on (Flux bootstrap, installs) before asking again.
        world.clock.advance(STEP);
        tokio::task::yield_now().await;
    }
}

macro_rules! leaf_test {
    ($name:ident, $scenario:literal, $leaf:literal, $cites:literal) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let d = world_lands_on($scenario, $leaf).await;
            assert_cites(&d, $cites);
            let every_step_by_evidence = d
                .path
                .iter()
                .all(|c| !matches!(c.by, AnsweredBy::Operator { .. }));
            assert!(every_step_by_evidence, "{}", d.to_text());
        }
    };
}

leaf_test!(
    c5_flux_pending_forever,
    "leaf-C5",
    "C5",
    "untolerated taint"
);
leaf_test!(
    c6_cilium_operator_cannot_dial,
    "leaf-C6",
    "C6",
    "failed to dial kube-apiserver"
);
leaf_test!(
    c7_kube_system_conflict,
    "leaf-C7",
    "C7",
    "existing namespace \"kube-system\" is conflicting"
);
leaf_test!(
    c9_ghcr_pull_missing,
    "leaf-C9",
    "C9",
    "secrets \"ghcr-pull\" not found"
);
leaf_test!(c10_ghcr_401, "leaf-C10", "C10", "401 Unauthorized");
leaf_test!(
    c11_servicemonitor,
    "leaf-C11",
    "C11",
    "no matches for kind \"ServiceMonitor\""
);
leaf_test!(c12_hollow_chart, "leaf-C12", "C12", "pods=0");
leaf_test!(
    c17_acme_rate_limit,
    "leaf-C17",
    "C17",
    "too many certificates already issued"
);
leaf_test!(m4_git_repository_fails, "leaf-M4", "M4", "Ready=False");
leaf_test!(
    c8_providerconfig_crd_missing,
    "leaf-C8",
    "C8",
    "no matches for kind \"ProviderConfig\""
);
leaf_test!(
    d210_clustermesh_zero_peers,
    "leaf-D2.10",
    "D2.10",
    "zero peer entries"
);
leaf_test!(
    d26_no_storage_class,
    "leaf-D2.6",
    "D2.6",
    "no storage class is set"
);
leaf_test!(
    d27_flux_double_install,
    "leaf-D2.7",
    "D2.7",
    "storedVersions[0]: Invalid value"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_lands_on_done() {
    let d = world_lands_on("happy", "DONE").await;
    assert_cites(&d, "Ready=True");
}

/// `sovtui diagnose FQDN --config D/fleet.toml --json`: kubeconfig, context and catalyst-api come
/// from the fleet file the world writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_from_the_fleet_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = World::start(
        WorldScenario::load(&scenario_path("leaf-C10")).expect("scenario"),
        600.0,
        Some(dir.path().to_path_buf()),
    )
    .await
    .expect("world starts");
    let fleet = dir.path().join("fleet.toml");
    let text = diagnose_json_until(&world, &fleet, FQDN, "C10", STEP, DEADLINE).await;
    assert!(text.contains("401 Unauthorized"), "{text}");
    assert!(text.contains(FQDN), "recovery filled with the FQDN");

    // An FQDN the fleet file does not list is a usage error naming the file.
    let out = Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .arg("--config")
        .arg(&fleet)
        .args(["diagnose", "nope.example.org", "--json"])
        .output()
        .expect("run sovtui diagnose");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fleet.toml") && err.contains("nope.example.org"),
        "{err}"
    );
}

/// Diagnose the way `sovtui diagnose FQDN --config DIR/fleet.toml` does: every source the world's
/// fleet file names (kubeconfig + context, catalyst-api + deployment id, the probe override),
/// gathered by `Sources::gather`. None while the fleet file does not list the Sovereign yet.
async fn diagnose_from_fleet(fleet: &Path, tree: &Arc<Tree>) -> Option<Diagnosis> {
    let mut src = Sources {
        fqdn: FQDN.into(),
        ..Default::default()
    };
    src.fill_from_fleet(fleet).ok()?;
    let mut ev = Evidence::new();
    src.gather(&mut ev).await.ok()?;
    let ph = Placeholders {
        deployment: src.deployment.clone(),
        api: src.api.clone(),
        ..Placeholders::for_fqdn(FQDN)
    };
    Some(diagnose(tree.clone(), ev, &ph))
}

/// As `world_lands_on`, gathering through the fleet file (catalyst-api, probes and cluster).
async fn world_lands_on_via_fleet(scenario: &str, leaf: &str) -> Diagnosis {
    let loaded = WorldScenario::load(&scenario_path(scenario)).unwrap_or_else(|e| panic!("{e}"));
    scenario_lands_on_via_fleet(loaded, leaf).await
}

async fn scenario_lands_on_via_fleet(loaded: WorldScenario, leaf: &str) -> Diagnosis {
    let scenario = loaded.name.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let world = World::start(loaded, 600.0, Some(dir.path().to_path_buf()))
        .await
        .expect("world starts");
    let fleet = dir.path().join("fleet.toml");
    let tree = Arc::new(Tree::builtin().expect("shipped tree"));
    let start = Instant::now();
    let mut last = String::from("(the fleet file never listed the Sovereign)");
    loop {
        if let Some(d) = diagnose_from_fleet(&fleet, &tree).await {
            if d.leaf_id() == Some(leaf) {
                drop(world);
                return d;
            }
            last = d.to_text();
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{scenario}: never landed on {leaf}; last diagnosis:\n{last}"
        );
        world.clock.advance(STEP);
        tokio::task::yield_now().await;
    }
}

macro_rules! fleet_leaf_test {
    ($name:ident, $scenario:literal, $leaf:literal, $cites:literal) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let d = world_lands_on_via_fleet($scenario, $leaf).await;
            assert_cites(&d, $cites);
            let every_step_by_evidence = d
                .path
                .iter()
                .all(|c| !matches!(c.by, AnsweredBy::Operator { .. }));
            assert!(every_step_by_evidence, "{}", d.to_text());
        }
    };
}

fleet_leaf_test!(
    c13_deployment_lost_on_restart,
    "leaf-C13",
    "C13",
    "deployment not found"
);
fleet_leaf_test!(
    c14_ready_with_zero_components,
    "leaf-C14",
    "C14",
    "components=0"
);
fleet_leaf_test!(
    c15_kubeconfig_postback_missing,
    "leaf-C15",
    "C15",
    "failed to load Sovereign kubeconfig: connection refused"
);

/// C16 cites both sides: a HelmRelease not Ready on the cluster, and catalyst-api's component
/// states all `installed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c16_installed_while_reconciling() {
    let d = world_lands_on_via_fleet("leaf-C16", "C16").await;
    assert_cites(&d, " installed");
    let last = d.path.last().expect("a path");
    let AnsweredBy::Evidence { evidence } = &last.by else {
        panic!("{}", d.to_text());
    };
    assert!(
        evidence.iter().any(|c| c.source == "flux.helmrelease"
            && (c.text.contains("Ready=Unknown") || c.text.contains("Ready=False"))),
        "{evidence:?}"
    );
}
fleet_leaf_test!(
    d29_envoy_403_on_public_hosts,
    "leaf-D2.9",
    "D2.9",
    " 403 envoy"
);

/// A Sovereign provisioned through catalyst-api without faults lands on DONE through the same
/// sources (deployment events, the closed SSE stream, the cluster): none of the catalyst-side
/// leaves fires on a healthy run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_healthy_lands_on_done() {
    let scenario = WorldScenario::parse(
        "name: provisioned-healthy\nsovereigns:\n  - fqdn: omantel.omani.works\n    stage: provisioning\n    cluster:\n      kit: bootstrap-kit\n      bootstrap_seconds: 1\n",
        "inline",
    )
    .expect("scenario");
    let d = scenario_lands_on_via_fleet(scenario, "DONE").await;
    assert_cites(&d, "Ready=True");
}

/// `sovtui diagnose FQDN --config D/fleet.toml --json` probes the public hosts where the fleet
/// file's `probe` table says they answer (the world's simulated ingress) and lands on D2.9.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_binary_probes_through_the_fleet_override() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = World::start(
        WorldScenario::load(&scenario_path("leaf-D2.9")).expect("scenario"),
        600.0,
        Some(dir.path().to_path_buf()),
    )
    .await
    .expect("world starts");
    let fleet = dir.path().join("fleet.toml");
    let text = diagnose_json_until(&world, &fleet, FQDN, "D2.9", STEP, DEADLINE).await;
    assert!(
        text.contains(&format!("GET http://console.{FQDN}:")) && text.contains(" 403 envoy"),
        "{text}"
    );
}

/// Issue 15: leaf C9's remedy made a `generic` secret with a `token` key, while cloud-init makes
/// a `kubernetes.io/dockerconfigjson` — Flux cannot use the former. The remedy now comes from the
/// same home as the rendered cloud-init; pasted into a shell with each kubectl against the C9
/// world, it creates the secret cloud-init would have: same name, namespace, type and payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c9_remedy_creates_the_secret_cloud_init_creates() {
    use base64::Engine as _;
    use k8s_openapi::api::core::v1::Secret;
    use sovtui::provision::hetzner::cloudinit;
    use sovtui::provision::troubleshoot::walk::LeafView;

    let kubectls = support::tools::kubectls("c9_remedy_creates_the_secret_cloud_init_creates");
    let dir = tempfile::tempdir().expect("tempdir");
    let loaded = WorldScenario::load(&scenario_path("leaf-C9")).expect("leaf-C9");
    let world = World::start(loaded, 600.0, Some(dir.path().to_path_buf()))
        .await
        .expect("world starts");
    let tree = Tree::builtin().expect("shipped tree");
    let view = LeafView::render(tree.leaf("C9").expect("C9"), &Placeholders::for_fqdn(FQDN));
    let cmd = view
        .recovery
        .iter()
        .filter_map(|s| s.cmd.clone())
        .find(|c| c.contains("create secret"))
        .expect("C9 suggests creating the secret");
    assert_eq!(cmd, cloudinit::ghcr_pull_secret_command("<GHCR token>"));

    let client = client_for(&dir.path().join("kubeconfig"), FQDN).await;
    let secrets: kube::Api<Secret> =
        kube::Api::namespaced(client, cloudinit::GHCR_PULL_SECRET_NAMESPACE);
    let decode = |b64: &str| -> serde_json::Value {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        serde_json::from_slice(&raw).expect("dockerconfigjson")
    };
    let want = decode(&cloudinit::ghcr_dockerconfigjson_b64("ghp_pasted"));
    for k in &kubectls {
        let pasted = cmd.replacen(
            "kubectl ",
            &format!("{} --context {FQDN} ", k.path.display()),
            1,
        );
        let pasted = pasted.replace("<GHCR token>", "ghp_pasted");
        let out = Command::new("sh")
            .arg("-c")
            .arg(&pasted)
            .env("KUBECONFIG", dir.path().join("kubeconfig"))
            .output()
            .expect("run kubectl");
        assert!(
            out.status.success(),
            "{} ({}): {pasted}\n{}",
            k.path.display(),
            k.version,
            String::from_utf8_lossy(&out.stderr)
        );
        let s = secrets
            .get(cloudinit::GHCR_PULL_SECRET_NAME)
            .await
            .expect("the secret exists");
        assert_eq!(s.type_.as_deref(), Some(cloudinit::GHCR_PULL_SECRET_TYPE));
        let data = s.data.expect("data");
        let got =
            decode(&base64::engine::general_purpose::STANDARD.encode(&data[".dockerconfigjson"].0));
        for key in ["username", "password", "auth"] {
            assert_eq!(
                got["auths"]["ghcr.io"][key],
                want["auths"]["ghcr.io"][key],
                "{} ({}): {key}",
                k.path.display(),
                k.version
            );
        }
        secrets
            .delete(cloudinit::GHCR_PULL_SECRET_NAME, &Default::default())
            .await
            .expect("delete for the next kubectl");
    }
    drop(world);
}
