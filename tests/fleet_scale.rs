//! The cockpit's fleet at scale, deterministically (issue 19; the timing side is the soak in
//! `benches/fleet.rs`): the generated world of `sovtui sim --sovereigns N` as the cockpit sees it,
//! and a fleet whose apiservers all restart or compact at once — every cluster must come back
//! live on the cockpit's state with the change made after (or during) the fault. Tests wait on
//! the cockpit's state, never on sleeps.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sovtui::provision::fleet::model::ConnectionState;
use sovtui::provision::flux::ComponentState;
use sovtui::sim::clock::SimClock;
use sovtui::sim::kube::{ClusterOptions, KubeSim, SimCluster};
use sovtui::sim::large_fleet;
use sovtui::tui::app::{App, Msg, Settings};
use sovtui::tui::runtime;
use sovtui::tui::source::{FleetSender, live_fleet_source};
use sovtui::tui::theme::ColorLevel;
use tokio::sync::mpsc::Receiver;

/// Generous overall bound for any awaited condition.
const PATIENCE: Duration = Duration::from_secs(120);

/// The cockpit's state fed by its own live source (the fleet hub on `fleet_file`), as `sovtui`
/// runs it, without a terminal.
fn cockpit(fleet_file: &Path) -> (App, Receiver<Msg>) {
    let mut app = App::new(Settings {
        banner: "fleet scale".into(),
        level: ColorLevel::TrueColor,
        theme: None,
        keymap: None,
        config_dir: None,
    });
    let (tx, rx) = tokio::sync::mpsc::channel(runtime::CHANNEL_CAPACITY);
    app.effects.tx = Some(tx.clone());
    app.fleet_file = Some(fleet_file.to_path_buf());
    tokio::spawn(live_fleet_source(
        FleetSender::new(tx),
        fleet_file.to_path_buf(),
    ));
    (app, rx)
}

/// Apply the cockpit's messages until `pred` holds for its state.
async fn until(app: &mut App, rx: &mut Receiver<Msg>, what: &str, pred: impl Fn(&App) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !pred(app) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(m)) => app.update(m),
            Ok(None) => panic!("the cockpit's channel closed while waiting for {what}"),
            Err(_) => {
                let summary: Vec<String> = app
                    .fleet
                    .iter()
                    .map(|s| {
                        format!(
                            "{} {:?} {} components",
                            s.fqdn,
                            s.connection,
                            s.components.len()
                        )
                    })
                    .collect();
                panic!("timed out waiting for {what}; fleet: {summary:#?}")
            }
        }
    }
}

fn state(app: &App, fqdn: &str, hr: &str) -> Option<(ComponentState, String)> {
    app.fleet
        .iter()
        .find(|s| s.fqdn == fqdn)?
        .components
        .iter()
        .find(|c| c.name == hr)
        .map(|c| (c.state, c.message.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_fleet_is_written_for_the_cockpit_with_its_failing_sovereign() {
    use sovtui::sim::world::World;
    const N: usize = 30;
    let dir = tempfile::tempdir().expect("tempdir");
    let world = World::start(
        large_fleet::scenario(N),
        1000.0,
        Some(dir.path().to_path_buf()),
    )
    .await
    .expect("world starts");
    assert_eq!(world.endpoints().clusters.len(), N);
    let fleet_toml = std::fs::read_to_string(dir.path().join("fleet.toml")).expect("fleet.toml");
    assert_eq!(fleet_toml.matches("[[sovereign]]").count(), N);
    let down = large_fleet::fqdn(25);
    assert_eq!(
        large_fleet::failure_of(25),
        Some(large_fleet::Failure::ApiserverDown)
    );
    assert!(!world.kube.cluster(&down).expect("down cluster").is_up());

    let kit = sovtui::sim::kube::Kit::builtin("bootstrap-kit").expect("kit");
    let (mut app, mut rx) = cockpit(&dir.path().join("fleet.toml"));
    until(
        &mut app,
        &mut rx,
        "every healthy Sovereign installed and the down one unreachable",
        |app| {
            app.fleet.len() == N
                && app.fleet.iter().all(|s| {
                    if s.fqdn == down {
                        matches!(s.connection, ConnectionState::Unreachable { .. })
                    } else {
                        s.connection.is_live()
                            && s.components.len() == kit.releases.len()
                            && s.components
                                .iter()
                                .all(|c| c.state == ComponentState::Installed)
                    }
                })
        },
    )
    .await;
    // The control API's `up` (here its Rust side) brings the down one into the fleet.
    world
        .kube
        .cluster(&down)
        .expect("down cluster")
        .up()
        .await
        .expect("up");
    until(&mut app, &mut rx, "the down Sovereign live", |app| {
        app.fleet
            .iter()
            .any(|s| s.fqdn == down && s.connection.is_live() && !s.components.is_empty())
    })
    .await;
}

const CLUSTERS: usize = 8;

fn name(i: usize) -> String {
    format!("r{i}.scale.test")
}

fn hr(name: &str, deps: &[&str], ready: bool, message: &str) -> Value {
    let deps: Vec<Value> = deps.iter().map(|d| json!({"name": d})).collect();
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "15m", "dependsOn": deps},
        "status": {"conditions": [{
            "type": "Ready",
            "status": if ready { "True" } else { "False" },
            "reason": if ready { "InstallSucceeded" } else { "UpgradeFailed" },
            "message": message
        }]}
    })
}

fn seed(c: &SimCluster) {
    for obj in [
        hr("bp-cilium", &[], true, "installed"),
        hr("bp-cert-manager", &["bp-cilium"], true, "installed"),
        hr("bp-flux", &["bp-cert-manager"], true, "installed"),
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "bootstrap-kit", "namespace": "flux-system"},
            "spec": {"interval": "5m", "path": "./clusters/x/bootstrap-kit", "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "openova"}},
            "status": {"conditions": [{"type": "Ready", "status": "True",
                "reason": "ReconciliationSucceeded", "message": "Applied revision: main@sha1:1111"}]}
        }),
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "openova", "namespace": "flux-system"},
            "spec": {"interval": "1m", "url": "https://github.com/openova-io/openova"},
            "status": {"artifact": {"revision": "main@sha1:1111"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                                "message": "stored artifact"}]}
        }),
    ] {
        c.apply(obj).expect("seed object");
    }
}

const WATCHED: [&str; 3] = ["helmreleases", "kustomizations", "gitrepositories"];

fn lists(c: &SimCluster) -> usize {
    c.request_log()
        .iter()
        .filter(|r| r.method == "GET" && !r.watch && WATCHED.iter().any(|p| r.uri.contains(p)))
        .count()
}

/// Every watched kind has an open watch (the request log records a watch once it started).
fn watching(c: &SimCluster) -> bool {
    let log = c.request_log();
    WATCHED.iter().all(|p| {
        log.iter()
            .any(|r| r.watch && r.status == 200 && r.uri.contains(p))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cluster_recovers_from_restarts_and_compactions_and_shows_the_later_change() {
    let sim = KubeSim::new(SimClock::new(1.0));
    let mut clusters = Vec::new();
    for i in 0..CLUSTERS {
        let c = sim
            .add_empty_cluster(&name(i), ClusterOptions::default())
            .await
            .expect("cluster");
        seed(&c);
        clusters.push(c);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("kubeconfig"), sim.kubeconfig_yaml()).expect("kubeconfig");
    let fleet: String = (0..CLUSTERS)
        .map(|i| {
            format!(
                "[[sovereign]]\nfqdn = \"{}\"\nkubeconfig = \"kubeconfig\"\n\n",
                name(i)
            )
        })
        .collect();
    std::fs::write(dir.path().join("fleet.toml"), fleet).expect("fleet.toml");

    let (mut app, mut rx) = cockpit(&dir.path().join("fleet.toml"));
    until(&mut app, &mut rx, "the whole fleet live", |app| {
        app.fleet.len() == CLUSTERS
            && app
                .fleet
                .iter()
                .all(|s| s.connection.is_live() && s.components.len() == 3)
    })
    .await;
    // A compaction only reaches watches that are open: wait for all of them, on the cockpit's
    // messages (each watch start is logged by the world while the cockpit keeps running).
    until(&mut app, &mut rx, "every watch open", |_| {
        clusters.iter().all(watching)
    })
    .await;
    let lists_before: Vec<usize> = clusters.iter().map(lists).collect();

    // All at once, four kinds of fault, two clusters each:
    // 0–1: down, changed while down, back without its watch history (resume → 410 → relist);
    // 2–3: history compacted under the open watches (in-stream 410 → relist), then changed;
    // 4–5: restarted with the history kept (the watch resumes where it was), then changed;
    // 6–7: down, changed while down, back with the history kept.
    let later = |i: usize| format!("later change on {}", name(i));
    let change = |c: &SimCluster, i: usize| {
        c.merge_patch(
            "hr",
            "flux-system",
            "bp-cilium",
            json!({"status": {"conditions": [{"type": "Ready", "status": "False",
                "reason": "UpgradeFailed", "message": later(i)}]}}),
        )
        .expect("change");
    };
    for (i, c) in clusters.iter().enumerate() {
        match i / 2 {
            0 => {
                c.down();
                change(c, i);
                c.restart(false).await.expect("restart without history");
            }
            1 => {
                c.compact_history();
                change(c, i);
            }
            2 => {
                c.restart(true).await.expect("restart");
                change(c, i);
            }
            _ => {
                c.down();
                change(c, i);
                c.up().await.expect("up");
            }
        }
    }

    until(
        &mut app,
        &mut rx,
        "every cluster live with its later change",
        |app| {
            app.fleet.len() == CLUSTERS
                && (0..CLUSTERS).all(|i| {
                    app.fleet
                        .iter()
                        .any(|s| s.fqdn == name(i) && s.connection.is_live())
                        && state(app, &name(i), "bp-cilium")
                            == Some((ComponentState::Failed, later(i)))
                })
        },
    )
    .await;
    for i in 0..4 {
        assert!(
            lists(&clusters[i]) > lists_before[i],
            "{} lost its history: the cockpit must have relisted",
            name(i)
        );
    }
    // And the watches run again after the recovery: one more change reaches the cockpit.
    for (i, c) in clusters.iter().enumerate() {
        c.merge_patch(
            "hr",
            "flux-system",
            "bp-flux",
            json!({"status": {"conditions": [{"type": "Ready", "status": "False",
                "reason": "UpgradeFailed", "message": format!("after recovery {i}")}]}}),
        )
        .expect("change");
    }
    until(&mut app, &mut rx, "the change after recovery", |app| {
        (0..CLUSTERS).all(|i| {
            state(app, &name(i), "bp-flux")
                == Some((ComponentState::Failed, format!("after recovery {i}")))
        })
    })
    .await;
}

/// Every binary built on the cockpit's crate (this test's too) allocates with jemalloc and its
/// built-in options: under glibc's malloc the soak's RSS grew without end (`alloc_tuning`).
#[cfg(all(unix, feature = "jemalloc"))]
#[test]
fn the_cockpit_allocates_with_jemalloc_and_its_options() {
    assert_eq!(tikv_jemalloc_ctl::opt::narenas::read().ok(), Some(2));
    assert_eq!(
        tikv_jemalloc_ctl::opt::background_thread::read().ok(),
        Some(true)
    );
    // Kept opaque: an optimiser may drop an allocation nothing reads.
    let block = std::hint::black_box(vec![7u8; 8 << 20]);
    let now = sovtui::alloc_tuning::heap_stats().expect("jemalloc's statistics");
    assert!(now.allocated >= block.len(), "{now:?}");
    assert!(
        now.active >= now.allocated && now.resident >= now.active,
        "{now:?}"
    );
}
