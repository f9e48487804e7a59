//! The one ownership rule, plan-bound execution and the one credential rule, end to end: the real
//! `sovtui` binary and the library against the simulated Hetzner API, with the objects an operator
//! would make by hand made by the hcloud CLI. Each test reproduces a finding of issue 13 and shows
//! it fixed:
//! * `recover omantel.com` no longer deletes `omantel.com.om`'s objects or its attached volume;
//! * `acme.omani.works` and `acme-omani.works` (one slug): unlabelled name matches are ambiguous,
//!   listed with both FQDNs, never deleted; the labelled ones are the other's;
//! * a server labelled for another Sovereign on our network is not claimed, nor its volume;
//! * `phase0 plan` does not propose relabelling the other Sovereign's objects, and apply refuses;
//! * objects that appear after the plan are untouched and reported, exit 4; a plan file for
//!   another Sovereign or made with another token is refused;
//! * `phase0 apply --plan` refuses when the project drifted from the plan;
//! * the fleet file's token for the Sovereign beats `HCLOUD_TOKEN`, and plans say so.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::Digest;
use sovtui::provision::hetzner::apply;
use sovtui::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
use sovtui::provision::hetzner::model::{ModelOptions, SovereignModel};
use sovtui::provision::hetzner::recover::{self, RecoverEvent, RecoverOptions};
use sovtui::provision::hetzner::request::DeploymentRequest;
use sovtui::sim::clock::SimClock;
use sovtui::sim::hetzner::{
    DEFAULT_READONLY_TOKEN, DEFAULT_TOKEN, HetznerSim, HetznerSimConfig, Kind, RateBudget,
};

mod support;
use support::hcloud::{Hcloud, which};

const LABEL: &str = "catalyst.openova.io/sovereign";

async fn sim() -> HetznerSim {
    let config = HetznerSimConfig {
        linger: Duration::from_millis(500),
        action_duration: Duration::from_millis(50),
        rate_budget: RateBudget {
            limit: 100_000,
            refill_per_second: 10_000.0,
        },
        ..Default::default()
    };
    HetznerSim::start(config, SimClock::new(1.0))
        .await
        .expect("sim starts")
}

fn fingerprint(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hcloud CLI for `sim` (its own config at `config`), or None (the test skips) when it is not
/// installed.
fn hcloud(test: &str, sim: &HetznerSim, config: &Path) -> Option<Hcloud> {
    let Some(bin) = which("hcloud") else {
        support::tools::missing(test, "the hcloud CLI is not installed");
        return None;
    };
    Some(Hcloud {
        bin,
        endpoint: sim.endpoint(),
        token: DEFAULT_TOKEN.to_string(),
        config: config.to_path_buf(),
    })
}

/// What most tests here start from: a fresh project, a working directory, and the hcloud CLI on
/// the project with its config in that directory — `None` (a skip, said by `test`) without it.
async fn project_with_cli(test: &str) -> Option<(HetznerSim, tempfile::TempDir, Hcloud)> {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cli = hcloud(test, &sim, &dir.path().join("cli.toml"))?;
    Some((sim, dir, cli))
}

/// What an operator creates by hand for one Sovereign: a network with a subnet and a control
/// plane on it, labelled or not.
async fn by_hand(cli: &Hcloud, slug: &str, cidr: u8, label: Option<&str>) {
    let net = format!("catalyst-{slug}-net");
    let mut create = vec![
        "network".to_string(),
        "create".into(),
        "--name".into(),
        net.clone(),
        "--ip-range".into(),
        format!("10.{cidr}.0.0/16"),
    ];
    let mut server = vec![
        "server".to_string(),
        "create".into(),
        "--name".into(),
        format!("catalyst-{slug}-cp1"),
        "--type".into(),
        "cpx32".into(),
        "--image".into(),
        "ubuntu-24.04".into(),
        "--location".into(),
        "fsn1".into(),
        "--network".into(),
        net.clone(),
    ];
    if let Some(l) = label {
        for args in [&mut create, &mut server] {
            args.push("--label".into());
            args.push(format!("{LABEL}={l}"));
        }
    }
    cli.run(&create.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    cli.run(&[
        "network",
        "add-subnet",
        &net,
        "--type",
        "cloud",
        "--network-zone",
        "eu-central",
        "--ip-range",
        &format!("10.{cidr}.1.0/24"),
    ])
    .await;
    cli.run(&server.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
}

/// Run the binary against `sim`: (exit code, stdout JSON or Null, stderr).
async fn sovtui(
    sim: &HetznerSim,
    state: &Path,
    token: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> (i32, Value, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sovtui"));
    cmd.args(args)
        .env("HCLOUD_TOKEN", token)
        .env("HCLOUD_ENDPOINT", sim.endpoint())
        .env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state)
        .env("HOME", state)
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("sovtui finishes")
        .expect("run sovtui");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// [`sovtui`] with the project's read-write token and nothing else set: the operator who owns it.
async fn as_owner(sim: &HetznerSim, state: &Path, args: &[&str]) -> (i32, Value, String) {
    sovtui(sim, state, DEFAULT_TOKEN, &[], args).await
}

/// `phase0 plan --from FROM --out PLAN` as the owner, which must succeed: its stderr.
async fn phase0_plan_to(sim: &HetznerSim, state: &Path, from: &str, plan: &str) -> String {
    let (code, _, err) = as_owner(
        sim,
        state,
        &["phase0", "plan", "--from", from, "--out", plan],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    err
}

/// `phase0 apply --from FROM --plan PLAN --confirm FQDN [EXTRA]` as the owner.
async fn phase0_apply_plan(
    sim: &HetznerSim,
    state: &Path,
    from: &str,
    plan: &str,
    fqdn: &str,
    extra: &[&str],
) -> (i32, Value, String) {
    let mut args = vec![
        "phase0",
        "apply",
        "--from",
        from,
        "--plan",
        plan,
        "--confirm",
        fqdn,
    ];
    args.extend_from_slice(extra);
    as_owner(sim, state, &args).await
}

/// The deployment request of `fqdn` as a file in `dir` (what `--from` reads).
fn write_request(dir: &Path, fqdn: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{fqdn}.json"));
    std::fs::write(&path, serde_json::to_string(&request(fqdn)).expect("json"))
        .expect("write request");
    path
}

fn named(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn id_of(sim: &HetznerSim, kind: Kind, name: &str) -> i64 {
    sim.control()
        .list(kind, None)
        .expect("list")
        .iter()
        .find(|o| o["name"] == name)
        .and_then(|o| o["id"].as_i64())
        .unwrap_or_else(|| panic!("{name} exists"))
}

fn exists(sim: &HetznerSim, kind: Kind, id: i64) -> bool {
    sim.control().get(kind, id).is_ok()
}

fn deletes(sim: &HetznerSim) -> Vec<String> {
    sim.control()
        .request_log()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_of_a_prefix_never_touches_the_longer_sovereign_or_its_volume() {
    let Some((sim, dir, cli)) = project_with_cli("prefix").await else {
        return;
    };
    by_hand(&cli, "omantel-com", 0, Some("omantel.com")).await;
    // omantel.com.om, made by hand without labels, with a data volume on its server.
    by_hand(&cli, "omantel-com-om", 1, None).await;
    cli.run(&[
        "volume",
        "create",
        "--name",
        "om-data",
        "--size",
        "10",
        "--server",
        "catalyst-omantel-com-om-cp1",
    ])
    .await;
    let theirs = [
        (
            Kind::Network,
            id_of(&sim, Kind::Network, "catalyst-omantel-com-om-net"),
        ),
        (
            Kind::Server,
            id_of(&sim, Kind::Server, "catalyst-omantel-com-om-cp1"),
        ),
        (Kind::Volume, id_of(&sim, Kind::Volume, "om-data")),
    ];

    let (code, plan, err) = as_owner(&sim, dir.path(), &["recover", "omantel.com", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let targets = named(&plan, "targets");
    assert!(
        targets.contains(&"catalyst-omantel-com-cp1".to_string())
            && targets.contains(&"catalyst-omantel-com-net".to_string()),
        "{targets:?}"
    );
    assert!(
        targets
            .iter()
            .all(|n| !n.contains("omantel-com-om") && n != "om-data"),
        "omantel.com's plan lists omantel.com.om's objects: {targets:?}"
    );

    let (code, report, err) = as_owner(
        &sim,
        dir.path(),
        &[
            "recover",
            "omantel.com",
            "--apply",
            "--confirm",
            "omantel.com",
            "--json",
            "--deadline",
            "60",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["verified_zero_orphans"], true, "{report}");
    for (kind, id) in theirs {
        assert!(
            exists(&sim, kind, id),
            "{kind:?} #{id} of omantel.com.om was deleted"
        );
    }
    // The longer Sovereign's own dry run still finds all of it, volume included.
    let (_, plan, _) = as_owner(&sim, dir.path(), &["recover", "omantel.com.om", "--json"]).await;
    let targets = named(&plan, "targets");
    for n in [
        "catalyst-omantel-com-om-net",
        "catalyst-omantel-com-om-cp1",
        "om-data",
    ] {
        assert!(targets.contains(&n.to_string()), "{n}: {targets:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_slug_makes_unlabelled_objects_ambiguous_and_they_survive() {
    let Some((sim, dir, cli)) = project_with_cli("same slug").await else {
        return;
    };
    // acme-omani.works, as Phase 0 left it (labelled).
    by_hand(&cli, "acme-omani-works", 0, Some("acme-omani.works")).await;
    // By hand, unlabelled: a runbook-named control plane and its data volume. Both Sovereigns
    // spell `catalyst-acme-omani-works-cp-1`.
    cli.run(&[
        "server",
        "create",
        "--name",
        "catalyst-acme-omani-works-cp-1",
        "--type",
        "cpx32",
        "--image",
        "ubuntu-24.04",
        "--location",
        "fsn1",
    ])
    .await;
    cli.run(&[
        "volume",
        "create",
        "--name",
        "acme-data",
        "--size",
        "10",
        "--server",
        "catalyst-acme-omani-works-cp-1",
    ])
    .await;
    let before = sim.control().snapshot();

    let (code, plan, err) =
        as_owner(&sim, dir.path(), &["recover", "acme.omani.works", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(named(&plan, "targets"), Vec::<String>::new(), "{plan}");
    let ambiguous = plan["ambiguous"].as_array().cloned().unwrap_or_default();
    let cp = ambiguous
        .iter()
        .find(|a| a["name"] == "catalyst-acme-omani-works-cp-1")
        .unwrap_or_else(|| panic!("the hand-made server is ambiguous: {plan}"));
    let candidates: Vec<&str> = cp["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .filter_map(|c| c["value"].as_str())
        .collect();
    assert_eq!(candidates, ["acme-omani.works", "acme.omani.works"], "{cp}");
    assert!(
        cp["resolve"]
            .as_str()
            .is_some_and(|r| r.contains("hcloud server add-label")),
        "{cp}"
    );
    assert!(
        ambiguous.iter().any(|a| a["name"] == "acme-data"),
        "the volume on an ambiguous server is ambiguous too: {plan}"
    );
    assert!(
        err.contains("AMBIGUOUS") && err.contains("acme-omani.works"),
        "{err}"
    );
    // The other's labelled objects are shown as vetoed, never as targets.
    let vetoed = named(&plan, "vetoed");
    assert!(
        vetoed.contains(&"catalyst-acme-omani-works-net".to_string()),
        "{vetoed:?}"
    );

    sim.control().clear_request_log();
    let (code, report, err) = as_owner(
        &sim,
        dir.path(),
        &[
            "recover",
            "acme.omani.works",
            "--apply",
            "--confirm",
            "acme.omani.works",
            "--json",
            "--deadline",
            "30",
        ],
    )
    .await;
    assert_eq!(
        code, 1,
        "ambiguous objects left alone make the purge incomplete: {err}"
    );
    // The server, its volume and its two primary IPs.
    let mut left = named(&report, "ambiguous");
    left.retain(|n| !n.starts_with("primary_ip-"));
    left.sort();
    assert_eq!(
        left,
        ["acme-data", "catalyst-acme-omani-works-cp-1"],
        "{report}"
    );
    assert_eq!(
        report["ambiguous"].as_array().map(Vec::len),
        Some(4),
        "{report}"
    );
    assert_eq!(
        deletes(&sim),
        Vec::<String>::new(),
        "nothing may be deleted"
    );
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("actions");
        }
        v
    };
    assert_eq!(strip(&sim.control().snapshot()), strip(&before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_labelled_for_another_sovereign_on_our_network_is_not_ours() {
    let Some((sim, dir, cli)) = project_with_cli("foreign label").await else {
        return;
    };
    let fqdn = "omantel.omani.works";
    by_hand(&cli, "omantel-omani-works", 0, Some(fqdn)).await;
    cli.run(&[
        "server",
        "create",
        "--name",
        "tenant-box",
        "--type",
        "cpx22",
        "--image",
        "ubuntu-24.04",
        "--location",
        "fsn1",
        "--network",
        "catalyst-omantel-omani-works-net",
        "--label",
        &format!("{LABEL}=other.omani.works"),
    ])
    .await;
    cli.run(&[
        "volume",
        "create",
        "--name",
        "tenant-data",
        "--size",
        "10",
        "--server",
        "tenant-box",
    ])
    .await;
    let tenant = id_of(&sim, Kind::Server, "tenant-box");
    let tenant_data = id_of(&sim, Kind::Volume, "tenant-data");

    let (code, plan, err) = as_owner(&sim, dir.path(), &["recover", fqdn, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let targets = named(&plan, "targets");
    assert!(
        !targets.contains(&"tenant-box".to_string())
            && !targets.contains(&"tenant-data".to_string()),
        "{targets:?}"
    );
    let vetoed = plan["vetoed"].as_array().cloned().unwrap_or_default();
    assert!(
        vetoed.iter().any(|v| v["name"] == "tenant-box"
            && v["owner"] == "other.omani.works"
            && v["reasons"][0]["by"] == "network"),
        "{plan}"
    );

    let (code, _, err) = as_owner(
        &sim,
        dir.path(),
        &[
            "recover",
            fqdn,
            "--apply",
            "--confirm",
            fqdn,
            "--deadline",
            "20",
        ],
    )
    .await;
    // Our network cannot go while the other's server sits on it: the purge says so (exit 1)
    // rather than detaching or deleting what is not ours.
    assert!(code == 0 || code == 1, "{err}");
    assert!(
        exists(&sim, Kind::Server, tenant),
        "the other's server was deleted"
    );
    assert!(
        exists(&sim, Kind::Volume, tenant_data),
        "its volume was deleted"
    );
    assert!(
        deletes(&sim)
            .iter()
            .all(|p| !p.ends_with(&format!("/servers/{tenant}"))
                && !p.ends_with(&format!("/volumes/{tenant_data}"))),
        "{:?}",
        deletes(&sim)
    );
}

/// A Phase-0 request for `fqdn` (one control plane, no workers).
fn request(fqdn: &str) -> DeploymentRequest {
    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("keygen")
        .public_key()
        .to_openssh()
        .expect("openssh");
    let req = DeploymentRequest::from_json(
        &json!({
            "orgName": "Acme", "orgEmail": "platform@acme.io", "sovereignFQDN": fqdn,
            "sovereignDomainMode": "pool",
            "sovereignPoolDomain": fqdn.split_once('.').map(|(_, d)| d).unwrap_or_default(),
            "sovereignSubdomain": fqdn.split('.').next(), "hetznerToken": "",
            "hetznerProjectID": "proj_abc123", "region": "fsn1", "controlPlaneSize": "cpx32",
            "workerSize": "cpx22", "workerCount": 0, "haEnabled": false,
            "regions": [{"provider": "hetzner", "cloudRegion": "fsn1", "controlPlaneSize": "cpx32",
                         "workerSize": "cpx22", "workerCount": 0}],
            "sshPublicKey": key,
        })
        .to_string(),
    )
    .expect("request");
    req.validate_for_phase0().expect("valid request");
    req
}

fn client(sim: &HetznerSim, token: &str) -> HetznerClient {
    let opts = ClientOptions {
        action_poll: Duration::from_millis(20),
        backoff_base: Duration::from_millis(20),
        ..Default::default()
    };
    HetznerClient::new(Credentials::new(token, sim.endpoint()), opts).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phase0_never_relabels_or_adopts_another_sovereigns_objects() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    // acme-omani.works, applied by Phase 0: every object labelled for it.
    let other =
        SovereignModel::from_request(&request("acme-omani.works"), &ModelOptions::default());
    apply::apply(&client(&sim, DEFAULT_TOKEN), &other, None, &|_| {})
        .await
        .expect("the other's apply");

    let req_path = write_request(dir.path(), "acme.omani.works");
    let from = req_path.to_str().expect("utf8");
    let (code, out, err) = as_owner(
        &sim,
        dir.path(),
        &["phase0", "plan", "--from", from, "--json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let items = out["plan"]["items"].as_array().cloned().unwrap_or_default();
    assert!(!items.is_empty(), "{out}");
    for i in &items {
        assert_eq!(i["action"], "foreign", "{i}");
        let changes = i["changes"].to_string();
        assert!(
            !changes.contains("label ") || changes.contains("held by"),
            "{i}"
        );
    }
    assert_eq!(out["plan"]["summary"]["update"], 0, "{out}");
    assert!(err.contains("FOREIGN"), "{err}");

    sim.control().clear_request_log();
    let (code, _, err) = as_owner(
        &sim,
        dir.path(),
        &[
            "phase0",
            "apply",
            "--from",
            from,
            "--confirm",
            "acme.omani.works",
        ],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refusing to apply"), "{err}");
    let writes: Vec<_> = sim
        .control()
        .request_log()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(writes.is_empty(), "apply wrote: {writes:?}");
    for s in sim.control().list(Kind::Server, None).expect("servers") {
        assert_eq!(s["labels"][LABEL], "acme-omani.works", "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_that_appear_after_the_plan_are_reported_and_untouched() {
    let Some((sim, dir, cli)) = project_with_cli("appeared after the plan").await else {
        return;
    };
    let fqdn = "t42.omani.works";
    by_hand(&cli, "t42-omani-works", 0, Some(fqdn)).await;
    let plan_file = dir.path().join("plan.json");
    let plan_arg = plan_file.to_str().expect("utf8");
    let (code, _, err) = as_owner(&sim, dir.path(), &["recover", fqdn, "--out", plan_arg]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&fingerprint(DEFAULT_TOKEN)), "{err}");
    assert!(
        err.contains("HCLOUD_TOKEN") && err.contains("server(s) in the project"),
        "{err}"
    );
    let text = std::fs::read_to_string(&plan_file).expect("plan file");
    assert!(
        !text.contains(DEFAULT_TOKEN),
        "the token is in the plan file"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&plan_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let plan: Value = serde_json::from_str(&text).expect("plan JSON");
    assert_eq!(plan["format"], recover::PLAN_FORMAT);
    assert_eq!(
        plan["project"]["token_fingerprint"],
        fingerprint(DEFAULT_TOKEN)
    );
    let planned: Vec<(String, i64)> = plan["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().unwrap_or_default().to_string(),
                t["id"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert!(planned.len() >= 3, "{plan}");

    // After the operator read the plan, someone adds a server with the Sovereign's label.
    cli.run(&[
        "server",
        "create",
        "--name",
        "late-box",
        "--type",
        "cpx22",
        "--image",
        "ubuntu-24.04",
        "--location",
        "fsn1",
        "--label",
        &format!("{LABEL}={fqdn}"),
    ])
    .await;
    let late = id_of(&sim, Kind::Server, "late-box");

    sim.control().clear_request_log();
    // A plan of another Sovereign, or one made with another token: refused, nothing touched.
    let (code, _, err) = as_owner(
        &sim,
        dir.path(),
        &[
            "recover",
            "t4.omani.works",
            "--apply",
            "--plan",
            plan_arg,
            "--confirm",
            "t4.omani.works",
        ],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("plan for t42.omani.works"), "{err}");
    let (code, _, err) = sovtui(
        &sim,
        dir.path(),
        DEFAULT_READONLY_TOKEN,
        &[],
        &[
            "recover",
            fqdn,
            "--apply",
            "--plan",
            plan_arg,
            "--confirm",
            fqdn,
        ],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&fingerprint(DEFAULT_READONLY_TOKEN)), "{err}");
    assert_eq!(deletes(&sim), Vec::<String>::new());

    let (code, report, err) = as_owner(
        &sim,
        dir.path(),
        &[
            "recover",
            fqdn,
            "--apply",
            "--plan",
            plan_arg,
            "--confirm",
            fqdn,
            "--json",
            "--deadline",
            "60",
        ],
    )
    .await;
    // Exit 4: the project changed after the plan (not 3, a drill's "unverified").
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("APPEARED AFTER THE PLAN") && err.contains("late-box"),
        "{err}"
    );
    // The server and the primary IPs Hetzner created with it.
    let mut appeared = named(&report, "appeared_after_plan");
    appeared.retain(|n| !n.starts_with("primary_ip-"));
    assert_eq!(appeared, ["late-box"], "{report}");
    assert_eq!(
        report["appeared_after_plan"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
    assert!(exists(&sim, Kind::Server, late), "late-box was deleted");
    let deleted = deletes(&sim);
    for (kind, id) in &planned {
        assert!(
            deleted
                .iter()
                .any(|p| p.ends_with(&format!("/{kind}s/{id}"))),
            "{kind} #{id} of the plan not deleted: {deleted:?}"
        );
    }
    assert!(
        deleted
            .iter()
            .all(|p| !p.ends_with(&format!("/servers/{late}"))),
        "{deleted:?}"
    );
}

/// Library level: an object appearing while the purge runs is not re-selected by a sweep round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_rounds_never_reselect() {
    let sim = sim().await;
    let c = client(&sim, DEFAULT_TOKEN);
    let fqdn = "t42.omani.works";
    let m = SovereignModel::from_request(&request(fqdn), &ModelOptions::default());
    apply::apply(&c, &m, None, &|_| {}).await.expect("apply");
    let mut opts = RecoverOptions::new(fqdn);
    opts.poll_interval = Duration::from_millis(50);
    opts.deadline = Duration::from_secs(60);
    let plan = recover::plan(&c, &opts).await.expect("plan");
    let ctl = sim.control();
    let added = std::sync::Mutex::new(None);
    let emit = |e: RecoverEvent| {
        if matches!(e, RecoverEvent::Deleted { .. })
            && let Ok(mut added) = added.lock()
            && added.is_none()
        {
            let ip = ctl
                .create(
                    Kind::FloatingIp,
                    json!({"type": "ipv4", "home_location": "fsn1", "labels": {LABEL: fqdn}}),
                )
                .expect("floating ip");
            *added = ip["id"].as_i64();
        }
    };
    let report = recover::apply(&c, &opts, &plan, &emit)
        .await
        .expect("purge");
    let added = added.lock().expect("lock").expect("created mid-purge");
    assert!(report.remaining.is_empty(), "{:?}", report.remaining);
    assert_eq!(
        report
            .appeared_after_plan
            .iter()
            .map(|t| t.object.id)
            .collect::<Vec<_>>(),
        [added]
    );
    assert!(!report.verified_zero_orphans && !report.complete());
    assert!(exists(&sim, Kind::FloatingIp, added));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phase0_apply_with_a_plan_refuses_a_drifted_project() {
    let Some((sim, dir, cli)) = project_with_cli("phase0 drift").await else {
        return;
    };
    let fqdn = "drift.omani.works";
    let req_path = write_request(dir.path(), fqdn);
    let from = req_path.to_str().expect("utf8");
    let plan_file = dir.path().join("p0.json");
    let plan_arg = plan_file.to_str().expect("utf8");
    let err = phase0_plan_to(&sim, dir.path(), from, plan_arg).await;
    assert!(err.contains(&fingerprint(DEFAULT_TOKEN)), "{err}");
    // Someone creates the network by hand after the plan was read.
    cli.run(&[
        "network",
        "create",
        "--name",
        "catalyst-drift-omani-works-net",
        "--ip-range",
        "10.0.0.0/16",
        "--label",
        &format!("{LABEL}={fqdn}"),
    ])
    .await;
    sim.control().clear_request_log();
    let (code, _, err) = phase0_apply_plan(&sim, dir.path(), from, plan_arg, fqdn, &[]).await;
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("changed since the plan") && err.contains("catalyst-drift-omani-works-net"),
        "{err}"
    );
    assert!(
        sim.control()
            .request_log()
            .iter()
            .all(|r| r.method == "GET"),
        "a refused apply wrote"
    );
    // A fresh plan of the same project applies.
    phase0_plan_to(&sim, dir.path(), from, plan_arg).await;
    let (code, report, err) =
        phase0_apply_plan(&sim, dir.path(), from, plan_arg, fqdn, &["--json"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        report["created"].as_array().is_some_and(|c| !c.is_empty()),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_files_token_beats_the_environment_and_plans_say_so() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    let fqdn = "t42.omani.works";
    let fleet = dir.path().join("fleet.toml");
    std::fs::write(
        &fleet,
        format!(
            "[[sovereign]]\nfqdn = \"{fqdn}\"\nhetzner = {{ token_env = \"SOVTUI_T42_TOKEN\" }}\n"
        ),
    )
    .expect("fleet file");
    let config = fleet.to_str().expect("utf8");
    // HCLOUD_TOKEN holds another (read-only) token: the fleet entry for this Sovereign wins.
    let (code, plan, err) = sovtui(
        &sim,
        dir.path(),
        DEFAULT_READONLY_TOKEN,
        &[("SOVTUI_T42_TOKEN", DEFAULT_TOKEN)],
        &["--config", config, "recover", fqdn, "--json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        plan["project"]["token_source"]["from"], "fleet-file",
        "{plan}"
    );
    assert_eq!(
        plan["project"]["token_source"]["via"],
        "token_env SOVTUI_T42_TOKEN"
    );
    assert_eq!(
        plan["project"]["token_fingerprint"],
        fingerprint(DEFAULT_TOKEN)
    );
    assert_eq!(plan["project"]["servers"], 0);
    assert!(!err.contains(DEFAULT_TOKEN) && !err.contains(DEFAULT_READONLY_TOKEN));
    // A configured source that fails is an error, never a fall-through to HCLOUD_TOKEN.
    let (code, _, err) = sovtui(
        &sim,
        dir.path(),
        DEFAULT_READONLY_TOKEN,
        &[],
        &["--config", config, "recover", fqdn],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SOVTUI_T42_TOKEN"), "{err}");
    // Another Sovereign of no entry: HCLOUD_TOKEN.
    let (code, plan, err) = as_owner(
        &sim,
        dir.path(),
        &["--config", config, "recover", "other.omani.works", "--json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        plan["project"]["token_source"]["from"], "env-hcloud-token",
        "{plan}"
    );
}
