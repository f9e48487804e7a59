//! The Hetzner resource model, Phase-0 apply and §2.2/§2.3 recovery, with the real hcloud-crate
//! client against the simulated Hetzner API over loopback (linger quirk on).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Value, json};
use sovtui::provision::hetzner::apply::{self, ApplyError};
use sovtui::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
use sovtui::provision::hetzner::inventory::{Inventory, Kind as ObjectKind};
use sovtui::provision::hetzner::model::{ModelOptions, SovereignModel};
use sovtui::provision::hetzner::plan;
use sovtui::provision::hetzner::recover::{self, MatchReason, RecoverError, RecoverOptions};
use sovtui::provision::hetzner::request::DeploymentRequest;
use sovtui::provision::journal::{self, Journal, Op};
use sovtui::sim::clock::SimClock;
use sovtui::sim::hetzner::{
    DEFAULT_READONLY_TOKEN, DEFAULT_TOKEN, HetznerSim, HetznerSimConfig, Kind, RateBudget,
};

mod support;

const FQDN: &str = "t42.omani.works";
const DECOY: &str = "t4.omani.works";

fn request(fqdn: &str, ha: bool, workers: i64) -> DeploymentRequest {
    DeploymentRequest::from_json(
        &json!({
            "orgName": "Acme", "orgEmail": "platform@acme.io", "sovereignFQDN": fqdn,
            "sovereignDomainMode": "pool", "sovereignPoolDomain": "omani.works",
            "sovereignSubdomain": fqdn.split('.').next(), "hetznerToken": "",
            "hetznerProjectID": "proj_abc123", "region": "fsn1", "controlPlaneSize": "cpx32",
            "workerSize": "cpx22", "workerCount": workers, "haEnabled": ha,
            "regions": [{"provider": "hetzner", "cloudRegion": "fsn1", "controlPlaneSize": "cpx32",
                         "workerSize": "cpx22", "workerCount": workers}],
            "sshPublicKey": public_key(fqdn),
        })
        .to_string(),
    )
    .expect("request")
}

/// One key per Sovereign for the whole test binary, so every model of a Sovereign agrees on it
/// (Hetzner refuses the same public key under two names).
fn public_key(fqdn: &str) -> String {
    static KEYS: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
        std::sync::OnceLock::new();
    let mut keys = KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    keys.entry(fqdn.to_string())
        .or_insert_with(|| {
            let key =
                ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
                    .expect("keygen");
            key.public_key().to_openssh().expect("openssh")
        })
        .clone()
}

async fn sim(linger: Duration, budget: RateBudget) -> HetznerSim {
    let config = HetznerSimConfig {
        linger,
        action_duration: Duration::from_millis(100),
        rate_budget: budget,
        ..Default::default()
    };
    HetznerSim::start(config, SimClock::new(1.0))
        .await
        .expect("sim starts")
}

fn big_budget() -> RateBudget {
    RateBudget {
        limit: 100_000,
        refill_per_second: 10_000.0,
    }
}

fn client(sim: &HetznerSim, token: &str) -> HetznerClient {
    let opts = ClientOptions {
        action_poll: Duration::from_millis(50),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(500),
        max_attempts: 200,
        ..Default::default()
    };
    HetznerClient::new(Credentials::new(token, sim.endpoint()), opts).expect("client")
}

fn model(fqdn: &str, ha: bool, workers: i64) -> SovereignModel {
    let req = request(fqdn, ha, workers);
    req.validate_for_phase0().expect("valid request");
    SovereignModel::from_request(&req, &ModelOptions::default())
}

fn quiet() -> impl Fn(apply::ApplyEvent) + Send + Sync {
    |_| {}
}

fn names(sim: &HetznerSim, kind: Kind) -> BTreeSet<String> {
    sim.control()
        .list(kind, None)
        .expect("list")
        .iter()
        .filter_map(|o| o["name"].as_str().map(str::to_string))
        .collect()
}

fn count_all(sim: &HetznerSim) -> usize {
    Kind::ALL
        .iter()
        .map(|k| sim.control().list(*k, None).expect("list").len())
        .sum()
}

/// The unfinished purges under a journal root, newest first.
fn interrupted_purges(root: &std::path::Path) -> Vec<journal::Unfinished> {
    journal::unfinished(root).of(Op::Purge).cloned().collect()
}

/// `recover_opts()` journaling into `dir`.
fn journaled_recover_opts(dir: &std::path::Path) -> RecoverOptions {
    RecoverOptions {
        journal_dir: Some(dir.to_path_buf()),
        ..recover_opts()
    }
}

fn recover_opts() -> RecoverOptions {
    let mut o = RecoverOptions::new(FQDN);
    o.stage_grace = Duration::from_secs(30);
    o.deadline = Duration::from_secs(90);
    o.poll_interval = Duration::from_millis(200);
    o
}

#[tokio::test]
async fn apply_twice_changes_nothing() {
    let sim = sim(Duration::from_secs(2), big_budget()).await;
    let c = client(&sim, DEFAULT_TOKEN);
    let m = model(FQDN, true, 2);

    let first = apply::apply(&c, &m, None, &quiet())
        .await
        .expect("first apply");
    assert_eq!(first.created.len(), m.object_count(), "{:?}", first.created);
    assert!(first.load_balancer_ip.is_some());

    // What the API now holds matches the contract names, labels, IPs and LB shape.
    let servers = sim
        .control()
        .list(
            Kind::Server,
            Some(&format!("catalyst.openova.io/sovereign={FQDN}")),
        )
        .expect("list");
    assert_eq!(servers.len(), 5);
    let cp1 = servers
        .iter()
        .find(|s| s["name"] == "catalyst-t42-omani-works-cp1")
        .expect("cp1");
    assert_eq!(cp1["private_net"][0]["ip"], "10.0.1.2");
    assert_eq!(cp1["labels"]["catalyst.openova.io/role"], "control-plane");
    let lbs = sim.control().list(Kind::LoadBalancer, None).expect("lbs");
    assert_eq!(lbs.len(), 1);
    assert_eq!(lbs[0]["targets"].as_array().map(Vec::len), Some(3));
    assert_eq!(lbs[0]["services"].as_array().map(Vec::len), Some(2));

    // Plan after apply: nothing to create or update.
    let inv = Inventory::fetch(&c).await.expect("inventory");
    let p = plan::diff(&m, &inv);
    assert!(p.is_noop(), "{:#?}", p.items);
    assert_eq!(p.summary.orphan, 0, "{:#?}", p.items);

    sim.control().clear_request_log();
    let second = apply::apply(&c, &m, None, &quiet())
        .await
        .expect("second apply");
    assert!(
        !second.changed_anything(),
        "{:?} {:?}",
        second.created,
        second.updated
    );
    let writes: Vec<_> = sim
        .control()
        .request_log()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(writes.is_empty(), "second apply wrote: {writes:?}");
}

#[tokio::test]
async fn plan_shows_drift_and_orphans_and_apply_fixes_the_fixable() {
    let sim = sim(Duration::from_secs(1), big_budget()).await;
    let c = client(&sim, DEFAULT_TOKEN);
    apply::apply(&c, &model(FQDN, false, 2), None, &quiet())
        .await
        .expect("apply");
    // Shrink to one worker: w2 becomes an orphan. Drop a label on the firewall: an update.
    let m = model(FQDN, false, 1);
    let fw = sim
        .control()
        .list(Kind::Firewall, None)
        .expect("fw")
        .remove(0);
    let id = fw["id"].as_i64().expect("id");
    sim.control()
        .request(
            axum::http::Method::PUT,
            &format!("firewalls/{id}"),
            json!({"labels": {}}),
        )
        .expect("relabel");
    let inv = Inventory::fetch(&c).await.expect("inventory");
    let p = plan::diff(&m, &inv);
    let orphan: Vec<_> = p
        .items
        .iter()
        .filter(|i| i.action == plan::Action::Orphan)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(orphan, ["catalyst-t42-omani-works-w2"]);
    let upd: Vec<_> = p
        .items
        .iter()
        .filter(|i| i.action == plan::Action::Update)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(upd, ["catalyst-t42-omani-works-fw"]);
    let r = apply::apply(&c, &m, None, &quiet())
        .await
        .expect("apply fixes");
    assert_eq!(r.updated, ["firewalls/catalyst-t42-omani-works-fw: labels"]);
    assert!(r.created.is_empty());
    let p = plan::diff(&m, &Inventory::fetch(&c).await.expect("inventory"));
    assert!(p.is_noop());
}

fn object(sim: &HetznerSim, kind: Kind, name: &str) -> Value {
    sim.control()
        .list(kind, None)
        .expect("list")
        .into_iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("{name} exists"))
}

/// A simulated project holding one applied Sovereign (one control plane, one worker).
async fn applied_sovereign() -> (HetznerSim, HetznerClient, SovereignModel) {
    let sim = sim(Duration::from_secs(1), big_budget()).await;
    let c = client(&sim, DEFAULT_TOKEN);
    let m = model(FQDN, false, 1);
    apply::apply(&c, &m, None, &quiet()).await.expect("apply");
    (sim, c, m)
}

/// `kind name action` of every step an apply journaled, sorted.
fn journaled_steps(report: &apply::ApplyReport) -> Vec<String> {
    let path = report.journal.as_deref().expect("journal path");
    let journal = std::fs::read_to_string(path).expect("journal");
    let mut steps: Vec<String> = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("journal line"))
        .filter(|j| j["event"] == "step_started")
        .map(|j| {
            // `<action> <kind> <name>`
            let step = j["step"].as_str().expect("journal step");
            let mut parts = step.splitn(3, ' ');
            let mut next = || parts.next().expect("three parts").to_string();
            let (action, kind, name) = (next(), next(), next());
            format!("{kind} {name} {action}")
        })
        .collect();
    steps.sort();
    steps
}

/// Every kind apply relabels: labels replaced by an operator's own are put back next to the
/// operator's, each fix reported and journaled as a `labels` step of that object.
#[tokio::test]
async fn apply_relabels_every_kind_and_keeps_foreign_labels() {
    let (sim, c, m) = applied_sovereign().await;
    // (the simulator's kind, apply's kind, name, desired labels)
    let mut ours: Vec<(Kind, ObjectKind, &str, &HashMap<String, String>)> = vec![
        (
            Kind::Network,
            ObjectKind::Network,
            &m.network.name,
            &m.network.labels,
        ),
        (
            Kind::Firewall,
            ObjectKind::Firewall,
            &m.firewall.name,
            &m.firewall.labels,
        ),
        (
            Kind::SshKey,
            ObjectKind::SshKey,
            &m.ssh_key.name,
            &m.ssh_key.labels,
        ),
        (
            Kind::LoadBalancer,
            ObjectKind::LoadBalancer,
            &m.load_balancer.name,
            &m.load_balancer.labels,
        ),
    ];
    for s in &m.servers {
        ours.push((Kind::Server, ObjectKind::Server, &s.name, &s.labels));
    }
    for (kind, object_kind, name, _) in &ours {
        let id = object(&sim, *kind, name)["id"].as_i64().expect("id");
        sim.control()
            .request(
                axum::http::Method::PUT,
                &format!("{}/{id}", object_kind.api_path()),
                json!({"labels": {"owner": "ops"}}),
            )
            .expect("relabel");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let events = std::sync::Mutex::new(Vec::new());
    let emit = |e: apply::ApplyEvent| events.lock().expect("events").push(e);
    let r = apply::apply(&c, &m, Some(dir.path().to_path_buf()), &emit)
        .await
        .expect("apply relabels");

    let mut want: Vec<String> = ours
        .iter()
        .map(|(_, kind, name, _)| format!("{}/{name}: labels", kind.api_path()))
        .collect();
    want.sort();
    let mut updated = r.updated.clone();
    updated.sort();
    assert_eq!(updated, want);
    assert!(r.created.is_empty(), "{:?}", r.created);
    for (kind, _, name, desired) in &ours {
        let labels = &object(&sim, *kind, name)["labels"];
        assert_eq!(labels["owner"], "ops", "{name}: {labels}");
        for (k, v) in *desired {
            assert_eq!(labels[k.as_str()], v.as_str(), "{name}: {labels}");
        }
    }
    assert!(plan::diff(&m, &Inventory::fetch(&c).await.expect("inventory")).is_noop());

    // One `labels` step per object, as apply names it in its journal and events.
    let mut want_steps: Vec<String> = ours
        .iter()
        .map(|(_, kind, name, _)| format!("{} {name} labels", json!(kind).as_str().expect("kind")))
        .collect();
    want_steps.sort();
    assert_eq!(journaled_steps(&r), want_steps);
    let mut stepped: Vec<String> = events
        .lock()
        .expect("events")
        .iter()
        .filter_map(|e| match e {
            apply::ApplyEvent::Step { kind, name, action } => Some(format!(
                "{} {name} {action}",
                json!(kind).as_str().expect("kind")
            )),
            _ => None,
        })
        .collect();
    stepped.sort();
    assert_eq!(stepped, want_steps);
}

/// Every in-place fix apply makes besides labels: a subnet, the firewall's rules, a load balancer
/// service, its network attachment and target, a server's network attachment and its firewall.
/// Each is reported and journaled as its own step, and the result plans nothing.
#[tokio::test]
async fn apply_fixes_every_in_place_drift() {
    let (sim, c, m) = applied_sovereign().await;
    let (cp, worker) = (&m.servers[0], &m.servers[1]);
    assert_eq!(m.load_balancer.targets, std::slice::from_ref(&cp.name));
    let id = |kind, name: &str| object(&sim, kind, name)["id"].as_i64().expect("id");
    let (net, fw, lb) = (
        id(Kind::Network, &m.network.name),
        id(Kind::Firewall, &m.firewall.name),
        id(Kind::LoadBalancer, &m.load_balancer.name),
    );
    let (cp_id, worker_id) = (id(Kind::Server, &cp.name), id(Kind::Server, &worker.name));
    let port = m.load_balancer.services[0].listen_port;
    let server = |id| json!({"type": "server", "server": {"id": id}});
    let drift = [
        (
            format!("load_balancers/{lb}/actions/remove_target"),
            server(cp_id),
        ),
        (
            format!("load_balancers/{lb}/actions/delete_service"),
            json!({"listen_port": port}),
        ),
        (
            format!("load_balancers/{lb}/actions/detach_from_network"),
            json!({"network": net}),
        ),
        (
            format!("servers/{cp_id}/actions/detach_from_network"),
            json!({"network": net}),
        ),
        // The worker leaves the network too: a subnet still holding servers cannot go.
        (
            format!("servers/{worker_id}/actions/detach_from_network"),
            json!({"network": net}),
        ),
        (
            format!("networks/{net}/actions/delete_subnet"),
            json!({"ip_range": m.network.subnet_range}),
        ),
        (
            format!("firewalls/{fw}/actions/set_rules"),
            json!({"rules": []}),
        ),
        (
            format!("firewalls/{fw}/actions/remove_from_resources"),
            json!({"remove_from": [server(worker_id)]}),
        ),
    ];
    for (path, body) in drift {
        sim.control()
            .request(axum::http::Method::POST, &path, body)
            .unwrap_or_else(|e| panic!("{path}: {e:?}"));
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let r = apply::apply(&c, &m, Some(dir.path().to_path_buf()), &quiet())
        .await
        .expect("apply fixes");
    let (n, f, l) = (&m.network.name, &m.firewall.name, &m.load_balancer.name);
    let mut want = vec![
        format!("networks/{n}: subnet {}", m.network.subnet_range),
        format!("firewalls/{f}: rules"),
        format!("load_balancers/{l}: service {port}"),
        format!("load_balancers/{l}: network"),
        format!("load_balancers/{l}: target {}", cp.name),
        format!(
            "servers/{}: attached to network at {}",
            cp.name, cp.private_ip
        ),
        format!(
            "servers/{}: attached to network at {}",
            worker.name, worker.private_ip
        ),
        format!("servers/{}: firewall applied", worker.name),
    ];
    want.sort();
    let mut updated = r.updated.clone();
    updated.sort();
    assert_eq!(updated, want);
    assert!(r.created.is_empty(), "{:?}", r.created);
    assert!(plan::diff(&m, &Inventory::fetch(&c).await.expect("inventory")).is_noop());

    let mut want_steps = vec![
        format!("network {n} add-subnet"),
        format!("firewall {f} set-rules"),
        format!("load_balancer {l} add-service-{port}"),
        format!("load_balancer {l} attach-network"),
        format!("load_balancer {l} add-target-{}", cp.name),
        format!("server {} attach-network", cp.name),
        format!("server {} attach-network", worker.name),
        format!("server {} apply-firewall", worker.name),
    ];
    want_steps.sort();
    assert_eq!(journaled_steps(&r), want_steps);
}

/// A partial apply plus what CCM and operators leave behind, next to another Sovereign that must
/// survive. Returns the decoy's object count.
async fn partial_sovereign_with_orphans(sim: &HetznerSim, c: &HetznerClient) -> usize {
    // The decoy: t4.omani.works, whose slug is a prefix of ours but never ours.
    apply::apply(c, &model(DECOY, false, 1), None, &quiet())
        .await
        .expect("decoy apply");
    let decoy_count = count_all(sim);

    // A Phase-0 run that died after the servers (no LB targets): build the full thing, then drop
    // the LB to make the state partial.
    let m = model(FQDN, true, 1);
    apply::apply(c, &m, None, &quiet()).await.expect("apply");
    let ctl = sim.control();
    let net_id = ctl
        .list(Kind::Network, None)
        .expect("nets")
        .iter()
        .find(|n| n["name"] == "catalyst-t42-omani-works-net")
        .and_then(|n| n["id"].as_i64())
        .expect("network");
    // A CCM-created worker: no FQDN in its name, no label, only attached to the network.
    let ccm = ctl
        .create(
            Kind::Server,
            json!({"name": "ccm-worker-7f3a", "server_type": "cpx22", "image": "ubuntu-24.04",
                   "location": "fsn1", "start_after_create": false,
                   "public_net": {"enable_ipv4": false, "enable_ipv6": false}}),
        )
        .expect("ccm worker");
    let ccm_id = ccm["id"].as_i64().expect("id");
    ctl.action(
        Kind::Server,
        ccm_id,
        "attach_to_network",
        json!({"network": net_id, "ip": "10.0.1.50"}),
    )
    .expect("attach");
    // Primary IPs can only be assigned to a stopped server.
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let s = ctl.get(Kind::Server, ccm_id).expect("get ccm");
            match s["status"].as_str() {
                Some("off") => break,
                Some("running") => {
                    ctl.action(Kind::Server, ccm_id, "poweroff", json!({}))
                        .expect("poweroff");
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("CCM worker stopped");
    // A primary IP that will not auto-delete, assigned to that worker.
    ctl.create(
        Kind::PrimaryIp,
        json!({"name": "primary_ip-4242", "type": "ipv4", "assignee_type": "server",
               "assignee_id": ccm_id, "auto_delete": false}),
    )
    .expect("primary ip");
    // A volume attached to it, unlabelled.
    ctl.create(
        Kind::Volume,
        json!({"name": "pvc-0f9e", "size": 10, "server": ccm_id, "format": "ext4"}),
    )
    .expect("volume");
    // An unattached floating IP that only carries the label.
    ctl.create(
        Kind::FloatingIp,
        json!({"type": "ipv4", "home_location": "fsn1", "labels": {"catalyst.openova.io/sovereign": FQDN}}),
    )
    .expect("floating ip");
    decoy_count
}

#[tokio::test]
async fn recovery_after_a_partial_apply_leaves_nothing() {
    let sim = sim(Duration::from_secs(3), big_budget()).await;
    let c = client(&sim, DEFAULT_TOKEN);
    let decoy_count = partial_sovereign_with_orphans(&sim, &c).await;
    // Dry run lists the attachment-only objects with the reason that found them.
    let dry = recover::plan(&c, &recover_opts()).await.expect("dry run");
    let find = |name: &str| dry.targets.iter().find(|t| t.object.name == name);
    let ccm = find("ccm-worker-7f3a").expect("CCM worker found");
    assert!(
        matches!(ccm.reasons[..], [MatchReason::Network { .. }]),
        "{:?}",
        ccm.reasons
    );
    let pip = find("primary_ip-4242").expect("primary IP found");
    assert!(matches!(pip.reasons[..], [MatchReason::Server { .. }]));
    assert!(find("pvc-0f9e").is_some());
    assert!(
        dry.targets
            .iter()
            .all(|t| !t.object.name.contains("t4-omani"))
    );
    let before = count_all(&sim);
    assert_eq!(
        before - decoy_count,
        dry.targets.len(),
        "dry run must list every object"
    );
    assert_eq!(count_all(&sim), before, "dry run deletes nothing");

    let journals = tempfile::tempdir().expect("journal dir");
    let opts = journaled_recover_opts(journals.path());
    let report = recover::apply(&c, &opts, &|_| {}).await.expect("purge");
    assert!(
        report.verified_zero_orphans,
        "remaining: {:#?}",
        report.remaining
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        interrupted_purges(journals.path()),
        [],
        "a purge run to its end is not interrupted"
    );
    let last = last_journal_line(report.journal.as_deref().expect("journal path"));
    assert_eq!(last["event"], "finished", "{last}");
    assert_eq!(last["outcome"], "verified-clean", "{last}");
    assert_eq!(last["fqdn"], FQDN, "{last}");
    assert_eq!(
        last["detail"]["deleted"].as_array().map(Vec::len),
        Some(report.deleted.len()),
        "{last}"
    );

    // The same run's journal cut after its first delete, as an SSH drop would leave it.
    let path = report.journal.as_deref().expect("journal path");
    let text = std::fs::read_to_string(path).expect("journal");
    let cut_at = text
        .lines()
        .position(|l| l.contains(r#""step":"delete "#))
        .expect("a delete step");
    let cut: String = text
        .lines()
        .take(cut_at + 1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(path, cut).expect("truncate");
    let found = interrupted_purges(journals.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].fqdn.as_deref(), Some(FQDN));
    assert!(
        found[0]
            .last_step
            .as_deref()
            .is_some_and(|s| s.starts_with("delete ")),
        "{found:?}"
    );

    // Let the linger window pass, then only the decoy may be left.
    tokio::time::timeout(Duration::from_secs(30), async {
        while count_all(&sim) != decoy_count {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("only the decoy remains");
    for kind in Kind::ALL {
        assert!(
            names(&sim, kind).iter().all(|n| !n.contains("t42")
                && n != "ccm-worker-7f3a"
                && n != "primary_ip-4242"
                && n != "pvc-0f9e"),
            "{kind:?}: {:?}",
            names(&sim, kind)
        );
    }

    // Cross-check with the official hcloud CLI when it is installed.
    // tokio's Command: the simulator answers on this runtime, so the CLI must not block it.
    match tokio::process::Command::new("hcloud")
        .arg("version")
        .output()
        .await
    {
        Err(_) => support::tools::missing(
            "the hcloud CLI cross-check",
            "the hcloud CLI is not installed",
        ),
        Ok(_) => {
            for sub in [
                "server",
                "network",
                "firewall",
                "load-balancer",
                "ssh-key",
                "primary-ip",
                "floating-ip",
                "volume",
            ] {
                let out = tokio::process::Command::new("hcloud")
                    .args([sub, "list", "-o", "json"])
                    .env("HCLOUD_ENDPOINT", sim.endpoint())
                    .env("HCLOUD_TOKEN", DEFAULT_TOKEN)
                    .env("HCLOUD_CONFIG", "/nonexistent/cli.toml")
                    .output()
                    .await
                    .expect("run hcloud");
                assert!(
                    out.status.success(),
                    "hcloud {sub} list: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let v: Value = serde_json::from_slice(&out.stdout).expect("hcloud json");
                let leftovers: Vec<&Value> = v
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|o| {
                                let name = o["name"].as_str().unwrap_or("");
                                let label = o["labels"]["catalyst.openova.io/sovereign"].as_str();
                                name.contains("t42")
                                    || label == Some(FQDN)
                                    || name == "ccm-worker-7f3a"
                                    || name == "primary_ip-4242"
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                assert!(
                    leftovers.is_empty(),
                    "hcloud {sub} list still shows {leftovers:?}"
                );
            }
        }
    }

    // Re-run: idempotent, nothing to do; it redoes the cut-off run, which is no longer reported.
    let again = recover::apply(&c, &opts, &|_| {})
        .await
        .expect("second purge");
    assert!(again.deleted.is_empty() && again.verified_zero_orphans);
    assert_eq!(interrupted_purges(journals.path()), []);
}

/// The last line of a journal.
fn last_journal_line(path: impl AsRef<std::path::Path>) -> Value {
    let text = std::fs::read_to_string(path).expect("journal");
    serde_json::from_str(text.lines().last().expect("a line")).expect("journal line")
}

#[tokio::test]
async fn a_purge_cut_off_mid_way_is_reported_with_its_fqdn() {
    let sim = sim(Duration::from_secs(1), big_budget()).await;
    let c = client(&sim, DEFAULT_TOKEN);
    apply::apply(&c, &model(FQDN, false, 1), None, &quiet())
        .await
        .expect("apply");
    let journals = tempfile::tempdir().expect("journal dir");
    let opts = journaled_recover_opts(journals.path());
    // The purge future is dropped once an object is gone: what a dead process leaves behind.
    let first_deleted = tokio::sync::Notify::new();
    let emit = |e: recover::RecoverEvent| {
        if matches!(e, recover::RecoverEvent::Deleted { .. }) {
            first_deleted.notify_one();
        }
    };
    tokio::select! {
        r = recover::apply(&c, &opts, &emit) => panic!("the purge ended before the cut: {r:?}"),
        _ = first_deleted.notified() => {}
    }
    let found = interrupted_purges(journals.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].fqdn.as_deref(), Some(FQDN), "{found:?}");
    assert!(!found[0].state.is_finished());
    assert!(
        found[0]
            .describe()
            .starts_with(&format!("{FQDN} (started ")),
        "{}",
        found[0].describe()
    );
}

#[tokio::test]
async fn a_429_storm_is_ridden_out() {
    // Five requests, refilled at ten per second: almost every burst runs into 429.
    let sim = sim(
        Duration::from_millis(500),
        RateBudget {
            limit: 5,
            refill_per_second: 10.0,
        },
    )
    .await;
    let c = client(&sim, DEFAULT_TOKEN);
    let m = model(FQDN, true, 2);
    let r = apply::apply(&c, &m, None, &quiet())
        .await
        .expect("apply through the storm");
    assert_eq!(r.created.len(), m.object_count());
    assert!(
        r.stats.rate_limited > 0,
        "the storm never hit: {:?}",
        r.stats
    );
    let limited = sim
        .control()
        .request_log()
        .iter()
        .filter(|x| x.status == 429)
        .count();
    assert!(limited > 0);
    let mut o = recover_opts();
    o.poll_interval = Duration::from_millis(100);
    let rep = recover::apply(&c, &o, &|_| {})
        .await
        .expect("purge through the storm");
    assert!(rep.verified_zero_orphans, "{:#?}", rep.remaining);
}

#[tokio::test]
async fn a_read_only_token_fails_before_anything_is_touched() {
    let sim = sim(Duration::from_secs(1), big_budget()).await;
    let ro = client(&sim, DEFAULT_READONLY_TOKEN);
    let m = model(FQDN, false, 1);
    let err = apply::apply(&ro, &m, None, &quiet())
        .await
        .expect_err("read-only apply");
    match &err {
        ApplyError::ReadOnlyToken { touched, .. } => assert_eq!(*touched, 0),
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().contains("Nothing was created"), "{err}");
    assert_eq!(count_all(&sim), 0);

    // Recovery with a read-only token: refused at the first delete, nothing deleted.
    let rw = client(&sim, DEFAULT_TOKEN);
    apply::apply(&rw, &m, None, &quiet()).await.expect("apply");
    let before = sim.control().snapshot();
    sim.control().clear_request_log();
    let journals = tempfile::tempdir().expect("journal dir");
    let opts = journaled_recover_opts(journals.path());
    let err = recover::apply(&ro, &opts, &|_| {})
        .await
        .expect_err("read-only purge");
    assert!(matches!(err, RecoverError::ReadOnlyToken(_)), "{err}");
    assert!(err.to_string().contains("nothing was deleted"));
    // A reported failure ends the run: journaled as done, not interrupted.
    assert_eq!(interrupted_purges(journals.path()), []);
    let runs: Vec<_> = std::fs::read_dir(journals.path().join("purge"))
        .expect("purge journals")
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let done = last_journal_line(runs[0].path());
    assert_eq!(done["event"], "finished", "{done}");
    assert_eq!(done["outcome"], "failed", "{done}");
    assert_eq!(done["detail"]["deleted"], json!([]), "{done}");
    let deletes: Vec<_> = sim
        .control()
        .request_log()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "exactly one refused DELETE: {deletes:?}");
    assert_eq!(deletes[0].status, 403);
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("actions");
        }
        v
    };
    assert_eq!(strip(&sim.control().snapshot()), strip(&before));
}

/// Run the real binary against the simulator; returns (exit code, stdout JSON or Null, stderr).
async fn sovtui(sim: &HetznerSim, state: &std::path::Path, args: &[&str]) -> (i32, Value, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .args(args)
        .env("HCLOUD_TOKEN", DEFAULT_TOKEN)
        .env("HCLOUD_ENDPOINT", sim.endpoint())
        .env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state)
        .env("HOME", state)
        .output()
        .await
        .expect("run sovtui");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_plans_applies_and_recovers() {
    let sim = sim(Duration::from_secs(1), big_budget()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let req_path = dir.path().join("request.json");
    let req = request(FQDN, false, 1);
    std::fs::write(&req_path, serde_json::to_string(&req).expect("json")).expect("write");
    let from = req_path.to_str().expect("utf8");

    let (code, plan, err) = sovtui(
        &sim,
        dir.path(),
        &["phase0", "plan", "--from", from, "--json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(plan["plan"]["summary"]["create"], 6, "{plan}");
    assert!(!err.contains(DEFAULT_TOKEN), "token leaked to stderr");

    let (code, _, err) = sovtui(
        &sim,
        dir.path(),
        &["phase0", "apply", "--from", from, "--confirm", "wrong.fqdn"],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--confirm"), "{err}");
    assert_eq!(
        count_all(&sim),
        0,
        "an unarmed apply must not touch anything"
    );

    let (code, report, err) = sovtui(
        &sim,
        dir.path(),
        &[
            "phase0",
            "apply",
            "--from",
            from,
            "--confirm",
            FQDN,
            "--json",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        report["created"].as_array().map(Vec::len),
        Some(6),
        "{report}"
    );
    let (code, again, _) = sovtui(
        &sim,
        dir.path(),
        &[
            "phase0",
            "apply",
            "--from",
            from,
            "--confirm",
            FQDN,
            "--json",
        ],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(again["created"].as_array().map(Vec::len), Some(0));
    assert_eq!(again["updated"].as_array().map(Vec::len), Some(0));

    // A purge of another Sovereign that an SSH drop cut off after a delete.
    let mut cut = Journal::create(&journal::root(&dir.path().join("sovtui")), Op::Purge, DECOY)
        .expect("journal");
    cut.planned(&json!({"targets": []})).expect("plan");
    cut.started("delete server catalyst-t4-omani-works-cp1 #9")
        .expect("delete");
    let (code, dry, err) = sovtui(&sim, dir.path(), &["recover", FQDN, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("interrupted purge of {DECOY} (started "))
            && err.contains(&format!("sovtui recover {DECOY} --apply --confirm {DECOY}")),
        "{err}"
    );
    assert_eq!(dry["interrupted_purges"][0]["fqdn"], DECOY, "{dry}");
    assert_eq!(
        dry["interrupted_purges"][0]["last_step"], "delete server catalyst-t4-omani-works-cp1 #9",
        "{dry}"
    );
    assert!(dry["dry_run"].as_bool().unwrap_or(false));
    let listed = dry["targets"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(listed, count_all(&sim), "dry run lists every object: {dry}");
    assert!(err.contains("no --pdm URL given"), "{err}");

    let (code, done, err) = sovtui(
        &sim,
        dir.path(),
        &[
            "recover",
            FQDN,
            "--apply",
            "--confirm",
            FQDN,
            "--json",
            "--deadline",
            "60",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(done["verified_zero_orphans"], true, "{done}");
    let journal = done["journal"].as_str().expect("journal path");
    assert!(journal.starts_with(dir.path().to_str().expect("utf8")));
    let lines = std::fs::read_to_string(journal).expect("journal");
    assert!(
        lines.lines().count() >= listed + 2,
        "journal too short: {lines}"
    );
    assert!(
        lines
            .lines()
            .last()
            .is_some_and(|l| l.contains(r#""event":"finished""#)),
        "{lines}"
    );
    // Still the other Sovereign's cut-off purge only: this one ended.
    let still: Vec<&Value> = done["interrupted_purges"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    assert_eq!(still.len(), 1, "{done}");
    assert_eq!(still[0]["fqdn"], DECOY, "{done}");

    let (code, _, err) = sovtui(&sim, dir.path(), &["recover", "Not A Fqdn"]).await;
    assert_eq!(code, 2, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_outage_is_retried_until_it_lifts() {
    let sim = sim(Duration::from_secs(1), big_budget()).await;
    let c = client(&sim, DEFAULT_TOKEN);
    sim.control().set_outage(true);
    // Lift the outage once the client has demonstrably been refused with a 503.
    let ctl = sim.control();
    let lifter = tokio::spawn(async move {
        while !ctl.request_log().iter().any(|r| r.status == 503) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ctl.set_outage(false);
    });
    let m = model(FQDN, false, 0);
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        apply::apply(&c, &m, None, &quiet()),
    )
    .await
    .expect("apply finishes")
    .expect("apply rides out the outage");
    lifter.await.expect("lifter");
    assert_eq!(r.created.len(), m.object_count());
    assert!(r.stats.server_errors > 0, "{:?}", r.stats);
}
