//! The assembled simulated world: `sovtui sim` writes its state-dir files (`endpoints.json`,
//! `kubeconfig`, `fleet.toml`) and serves every service; the real clients (kube-rs, the hcloud
//! crate, our catalyst client) reach it through those files; a Sovereign created through
//! catalyst-api joins the fleet files.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;
use sovtui::provision::catalyst::{CatalystClient, DeploymentFold, FollowOptions, follow};
use sovtui::sim::scenario::WorldScenario;
use sovtui::sim::world::{Endpoints, World};

const DEADLINE: Duration = Duration::from_secs(120);

fn helmrelease() -> ApiResource {
    ApiResource {
        group: "helm.toolkit.fluxcd.io".into(),
        version: "v2".into(),
        api_version: "helm.toolkit.fluxcd.io/v2".into(),
        kind: "HelmRelease".into(),
        plural: "helmreleases".into(),
    }
}

async fn client_for(kubeconfig: &std::path::Path, context: &str) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("kubeconfig parses");
    let opts = KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .expect("context exists");
    kube::Client::try_from(cfg).expect("client")
}

#[test]
fn sim_command_writes_the_state_dir_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .args(["sim", "--scenario", "happy", "--state-dir"])
        .arg(dir.path())
        .env("XDG_STATE_HOME", dir.path().join("xdg-state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sovtui sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("endpoints line");
    let printed: Endpoints = serde_json::from_str(&line).expect("one JSON line on stdout");
    let written: Endpoints = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("endpoints.json")).expect("endpoints.json"),
    )
    .expect("endpoints.json parses");
    assert_eq!(printed, written);
    assert!(printed.hetzner.ends_with("/v1"));
    assert!(printed.clusters.contains_key("omantel.omani.works"));
    let kubeconfig = std::fs::read_to_string(dir.path().join("kubeconfig")).expect("kubeconfig");
    assert!(kubeconfig.contains("omantel.omani.works"));
    let fleet = std::fs::read_to_string(dir.path().join("fleet.toml")).expect("fleet.toml");
    assert!(fleet.contains("fqdn = \"omantel.omani.works\""), "{fleet}");
    assert!(
        !fleet.contains(&printed.hetzner_token),
        "no token in the fleet file"
    );

    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("wait");
    assert!(status.success(), "sim exits cleanly on SIGTERM: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_world_serves_real_clients_and_provisions_a_sovereign() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = WorldScenario::load("demo").expect("demo scenario");
    let world = World::start(scenario, 600.0, Some(dir.path().to_path_buf()))
        .await
        .expect("world starts");
    let kubeconfig = dir.path().join("kubeconfig");

    // kube-rs through the written kubeconfig: the failing release of salalah is there.
    let salalah = client_for(&kubeconfig, "salalah.omani.works").await;
    let hrs: Api<DynamicObject> = Api::all_with(salalah, &helmrelease());
    let list = tokio::time::timeout(DEADLINE, async {
        loop {
            let list = hrs.list(&ListParams::default()).await.expect("list");
            if list.items.len() >= 35 {
                break list;
            }
            world.clock.advance(Duration::from_secs(30));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("kit applied");
    assert!(
        list.items
            .iter()
            .any(|o| o.metadata.name.as_deref() == Some("bp-harbor"))
    );

    // The hcloud crate sees the running Sovereigns' Phase-0 objects by label.
    let endpoints = world.endpoints();
    let cfg = world.hetzner.hcloud_configuration(&endpoints.hetzner_token);
    let servers = hcloud::apis::servers_api::list_servers(
        &cfg,
        hcloud::apis::servers_api::ListServersParams {
            label_selector: Some("catalyst.openova.io/sovereign=omantel.omani.works".into()),
            ..Default::default()
        },
    )
    .await
    .expect("list servers");
    assert_eq!(servers.servers.len(), 1);

    // muscat is provisioned through catalyst-api: follow its stream to a terminal state.
    let id = world
        .deployments()
        .get("muscat.omani.works")
        .cloned()
        .expect("muscat deployment");
    let client = CatalystClient::new(&endpoints.catalyst_api).expect("client");
    let mut fold = DeploymentFold::new(&id);
    let clock = world.clock.clone();
    let ticker = tokio::spawn(async move {
        loop {
            clock.advance(Duration::from_secs(20));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    tokio::time::timeout(
        DEADLINE,
        follow(&client, &mut fold, &FollowOptions::default(), |_, _| {}),
    )
    .await
    .expect("deployment reaches a terminal state")
    .expect("follow");
    ticker.abort();
    assert_eq!(fold.status(), "ready", "{fold:?}");

    // ... and its cluster joined the state-dir files the cockpit watches.
    let fleet = std::fs::read_to_string(dir.path().join("fleet.toml")).expect("fleet.toml");
    assert!(fleet.contains("fqdn = \"muscat.omani.works\""), "{fleet}");
    assert!(
        fleet.contains(&format!("deployment_id = \"{id}\"")),
        "{fleet}"
    );
    let muscat = client_for(&kubeconfig, "muscat.omani.works").await;
    let hrs: Api<DynamicObject> = Api::all_with(muscat, &helmrelease());
    assert!(
        !hrs.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

/// Runbook §2.2/§2.3 against a Sovereign the world provisioned through catalyst-api: the purge
/// leaves nothing in Hetzner, releases the PDM name, and ends the catalyst-api record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_purges_hetzner_releases_pdm_and_ends_the_record() {
    use sovtui::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
    use sovtui::provision::hetzner::external::StepStatus;
    use sovtui::provision::hetzner::recover::{self, RecoverOptions};

    let world = World::start(WorldScenario::load("demo").expect("demo"), 600.0, None)
        .await
        .expect("world starts");
    let endpoints = world.endpoints();
    let id = world.deployments()["muscat.omani.works"].clone();
    let catalyst = CatalystClient::new(&endpoints.catalyst_api).expect("client");
    // Wait until Phase 0 committed the PDM name (the record is active). At 600× Phase 0 takes
    // about a real second; skipping time ahead would only eat into the reservation's TTL.
    let pdm = world.catalyst.pdm().expect("embedded PDM");
    tokio::time::timeout(DEADLINE, async {
        while pdm
            .row("omani.works", "muscat")
            .is_none_or(|(state, _)| state != "active")
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("PDM name committed");

    let creds = Credentials::new(endpoints.hetzner_token.clone(), endpoints.hetzner.clone());
    let client = HetznerClient::new(creds, ClientOptions::default()).expect("hetzner client");
    let mut opts = RecoverOptions::new("muscat.omani.works");
    opts.pdm_url = Some(endpoints.pdm.clone());
    opts.api_url = Some(endpoints.catalyst_api.clone());
    opts.poll_interval = Duration::from_millis(50);
    let report = tokio::time::timeout(DEADLINE, recover::apply(&client, &opts, &|_| {}))
        .await
        .expect("purge finishes")
        .expect("purge");
    assert!(report.remaining.is_empty(), "{:?}", report.remaining);
    assert!(report.verified_zero_orphans);
    assert!(!report.deleted.is_empty());
    assert_eq!(report.pdm.status, StepStatus::Done, "{:?}", report.pdm);
    assert_eq!(report.api.status, StepStatus::Done, "{:?}", report.api);
    assert!(
        pdm.row("omani.works", "muscat").is_none(),
        "PDM released the name"
    );
    let left = world
        .hetzner
        .control()
        .list(
            sovtui::sim::hetzner::Kind::Server,
            Some("catalyst.openova.io/sovereign=muscat.omani.works"),
        )
        .expect("list");
    assert!(left.is_empty(), "{left:?}");
    // catalyst-api finishes a wipe in the background: wait for the record's end state.
    tokio::time::timeout(DEADLINE, async {
        loop {
            let state = catalyst.deployment(&id).await.expect("record");
            if ["wiped", "cancelled"].contains(&state.status.as_str()) {
                break;
            }
            assert_eq!(
                state.status, "wiping",
                "only a wipe in progress may precede the end"
            );
            world.clock.advance(Duration::from_secs(20));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the record ends wiped or cancelled");
    // The other Sovereigns are untouched.
    let omantel = world
        .hetzner
        .control()
        .list(
            sovtui::sim::hetzner::Kind::Server,
            Some("catalyst.openova.io/sovereign=omantel.omani.works"),
        )
        .expect("list");
    assert_eq!(omantel.len(), 1);
}
