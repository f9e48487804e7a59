//! Region-kill drills end to end against the simulated world (Hetzner API, apiserver, simulated
//! Continuum/CNPG operator) through the real clients, with a real Postgres pair as the data plane
//! where PostgreSQL is installed (skipped with a notice otherwise).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sovtui::provision::drill::plan::{self, PlanOptions};
use sovtui::provision::drill::run::{self, RunOptions};
use sovtui::provision::drill::steps::{Promotion, Step};
use sovtui::provision::drill::target::DrillTarget;
use sovtui::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
use sovtui::provision::journal;
use sovtui::sim::pgpair::{PgPair, Replication, find_pg_bin};
use sovtui::sim::scenario::WorldScenario;
use sovtui::sim::world::World;

mod support;

const FQDN: &str = "omantel.omani.works";

async fn world() -> World {
    let scenario = WorldScenario::load("demo").expect("demo scenario");
    World::start(scenario, 600.0, None).await.expect("world")
}

async fn target(world: &World) -> DrillTarget {
    let cluster = world.kube.cluster(FQDN).expect("omantel apiserver");
    let kc = kube::config::Kubeconfig::from_yaml(&cluster.kubeconfig_yaml()).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(
        kc,
        &kube::config::KubeConfigOptions {
            context: Some(FQDN.into()),
            ..Default::default()
        },
    )
    .await
    .expect("kube config");
    let kube = kube::Client::try_from(cfg).expect("kube client");
    let endpoints = world.endpoints();
    let opts = ClientOptions {
        action_poll: Duration::from_millis(40),
        ..ClientOptions::default()
    };
    let hetzner = HetznerClient::new(
        Credentials::new(endpoints.hetzner_token.clone(), endpoints.hetzner.clone()),
        opts,
    )
    .expect("hcloud client");
    DrillTarget {
        fqdn: FQDN.into(),
        kube,
        hetzner,
    }
}

/// The Hetzner state a drill may touch: servers' status and firewalls, LB targets, firewall
/// attachments — everything that must come back exactly.
fn hetzner_state(world: &World) -> Value {
    let snap = world.hetzner.control().snapshot();
    let pick = |v: &Value, keys: &[&str]| -> Value {
        let mut out = serde_json::Map::new();
        for k in keys {
            out.insert(k.to_string(), v.get(*k).cloned().unwrap_or(Value::Null));
        }
        Value::Object(out)
    };
    let list = |name: &str, keys: &[&str]| -> Vec<Value> {
        snap.get(name)
            .and_then(Value::as_array)
            .map(|a| {
                // Only the drilled Sovereign's objects: another one is being provisioned meanwhile.
                a.iter()
                    .filter(|v| {
                        v.get("name")
                            .and_then(Value::as_str)
                            .is_some_and(|n| n.contains("omantel"))
                    })
                    .map(|v| pick(v, keys))
                    .collect()
            })
            .unwrap_or_default()
    };
    serde_json::json!({
        "servers": list("servers", &["id", "name", "status"]),
        "load_balancers": list("load_balancers", &["id", "name", "targets"]),
        "firewalls": list("firewalls", &["id", "name", "applied_to", "rules"]),
    })
}

/// The same state through the official hcloud CLI (None, with a notice, when it is not installed).
async fn hcloud_cli_state(world: &World) -> Option<Value> {
    let e = world.endpoints();
    let mut out = serde_json::Map::new();
    for (sub, keys) in [
        ("server", &["id", "name", "status"][..]),
        ("load-balancer", &["id", "name", "targets"][..]),
        ("firewall", &["id", "name", "applied_to", "rules"][..]),
    ] {
        let run = tokio::process::Command::new("hcloud")
            .args([sub, "list", "-o", "json"])
            .env("HCLOUD_ENDPOINT", &e.hetzner)
            .env("HCLOUD_TOKEN", &e.hetzner_token)
            .env("HCLOUD_CONFIG", "/nonexistent/cli.toml")
            .output()
            .await;
        let Ok(run) = run else {
            support::tools::missing(
                "the hcloud CLI cross-check",
                "the hcloud CLI is not installed",
            );
            return None;
        };
        assert!(
            run.status.success(),
            "hcloud {sub} list: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let v: Value = serde_json::from_slice(&run.stdout).expect("hcloud json");
        let items: Vec<Value> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|o| o["name"].as_str().is_some_and(|n| n.contains("omantel")))
                    .map(|o| {
                        let mut m = serde_json::Map::new();
                        for k in keys {
                            // Health checks are the LB's own, not what the drill restores.
                            let mut val = o.get(*k).cloned().unwrap_or(Value::Null);
                            if let Some(ts) = val.as_array_mut() {
                                for t in ts {
                                    if let Some(obj) = t.as_object_mut() {
                                        obj.remove("health_status");
                                    }
                                }
                            }
                            m.insert(k.to_string(), val);
                        }
                        Value::Object(m)
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.insert(sub.to_string(), Value::Array(items));
    }
    Some(Value::Object(out))
}

fn postgres_available() -> bool {
    if find_pg_bin().is_none() {
        support::tools::missing(
            "the real data-plane drill",
            "PostgreSQL server binaries not found",
        );
        return false;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_lists_the_touches_and_abort_after_kill_restores_hetzner_exactly() {
    let world = world().await;
    let t = target(&world).await;
    let p = plan::plan(&t.kube, &t.hetzner, FQDN, PlanOptions::default())
        .await
        .expect("plan");
    assert!(p.ready(), "{}", p.to_text());
    assert_eq!(p.primary_cluster, "omantel-db-fsn");
    assert!(p.region.load_balancer.is_some() && p.region.firewall.is_some());
    assert!(!p.region.control_planes.is_empty());
    for kind in [
        "hetzner/load_balancer",
        "hetzner/firewall",
        "hetzner/server",
    ] {
        assert!(
            p.touches.iter().any(|t| t.kind == kind),
            "{kind} in {}",
            p.to_text()
        );
    }
    let before = hetzner_state(&world);
    let before_cli = hcloud_cli_state(&world).await;

    let state = tempfile::tempdir().expect("state");
    let opts = RunOptions {
        stop_after: Some(Step::Kill),
        abort: true,
        ..RunOptions::default()
    };
    let out = run::run_with_id(&t, state.path(), p.clone(), opts, "abort-1")
        .await
        .expect("run");
    assert_eq!(out.outcome, "aborted", "{out:?}");
    assert_eq!(
        hetzner_state(&world),
        before,
        "rollback restores the objects exactly"
    );
    if let Some(cli_before) = before_cli {
        let cli_after = hcloud_cli_state(&world).await.expect("hcloud CLI");
        assert_eq!(
            cli_after, cli_before,
            "the hcloud CLI sees the objects exactly as before"
        );
        assert!(!cli_after["server"].as_array().expect("servers").is_empty());
    }
    let report = run::report(state.path(), "abort-1").expect("report");
    assert_eq!(report.outcome, "aborted");
    assert_eq!(report.data_plane, "simulated");
    assert!(
        report
            .timeline
            .iter()
            .any(|s| s.step == "rollback kill" && s.outcome == "done")
    );

    // Once the operator saw the region back, the plan's preconditions hold again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let again = plan::plan(&t.kube, &t.hetzner, FQDN, PlanOptions::default())
            .await
            .expect("plan");
        if again.ready() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            again.to_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_refuses_when_the_continuum_is_not_healthy() {
    let world = world().await;
    let t = target(&world).await;
    let cluster = world.kube.cluster(FQDN).expect("cluster");
    cluster
        .merge_patch(
            "Continuum",
            "catalyst-system",
            "omantel-db",
            serde_json::json!({"status": {"phase": "Degraded", "leaseHolder": "hz-nbg-rtz-prod"}}),
        )
        .expect("patch");
    let p = plan::plan(&t.kube, &t.hetzner, FQDN, PlanOptions::default())
        .await
        .expect("plan");
    assert!(!p.ready());
    let failed: Vec<&str> = p
        .failed_preconditions()
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert!(failed.contains(&"Continuum Healthy"), "{failed:?}");
    assert!(failed.contains(&"lease held by the primary"), "{failed:?}");
}

async fn pg_world(replication: Replication) -> Option<(World, Arc<tokio::sync::Mutex<PgPair>>)> {
    if !postgres_available() {
        return None;
    }
    let world = world().await;
    let pair = PgPair::start_temp(["omantel-db-fsn", "omantel-db-nbg"], replication)
        .await
        .expect("postgres pair");
    let pg = Arc::new(tokio::sync::Mutex::new(pair));
    world.start_operator(FQDN, Some(pg.clone()));
    let cluster = world.kube.cluster(FQDN).expect("cluster");
    tokio::time::timeout(
        Duration::from_secs(30),
        cluster.wait_for(|c| {
            c.get("Secret", "catalyst-system", "omantel-db-nbg-app")
                .is_some()
        }),
    )
    .await
    .expect("the operator publishes the DSNs");
    Some((world, pg))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_drill_on_a_real_sync_pair_loses_nothing_and_fails_back() {
    let Some((world, _pg)) = pg_world(Replication::Sync).await else {
        return;
    };
    let t = target(&world).await;
    let opts = PlanOptions {
        promotion: Promotion::ContinuumSwitchover,
        ..PlanOptions::default()
    };
    let p = plan::plan(&t.kube, &t.hetzner, FQDN, opts)
        .await
        .expect("plan");
    assert!(p.ready(), "{}", p.to_text());
    let before = hetzner_state(&world);
    let state = tempfile::tempdir().expect("state");
    let out = run::run_with_id(&t, state.path(), p, RunOptions::default(), "full-1")
        .await
        .expect("run");
    assert_eq!(out.outcome, "completed", "{out:?}");
    let r = run::report(state.path(), "full-1").expect("report");
    assert_eq!(r.data_plane, "postgres");
    let v = r.verification.clone().expect("verification");
    assert!(v.acked >= 200, "{v:?}");
    assert!(v.zero_loss(), "{v:?}");
    assert_eq!(v.gaps, 0);
    assert!(r.rto_ms.is_some() && r.rpo_ms == Some(0), "{r:?}");
    assert_eq!(
        hetzner_state(&world),
        before,
        "the reverse step restored the region"
    );
    assert!(r.to_markdown().contains("zero transaction loss"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_pair_with_injected_lag_reports_the_real_loss() {
    let Some((world, pg)) = pg_world(Replication::Async).await else {
        return;
    };
    let t = target(&world).await;
    let opts = PlanOptions {
        promotion: Promotion::ContinuumSwitchover,
        ..PlanOptions::default()
    };
    let p = plan::plan(&t.kube, &t.hetzner, FQDN, opts)
        .await
        .expect("plan");
    // The probe's table reaches the replica, then the link is cut before the probe writes: every
    // acknowledged row exists only on the primary.
    {
        let pair = pg.lock().await;
        let primary = PgPair::connect(pair.primary()).await.expect("primary");
        sovtui::provision::drill::probe::prepare(&primary)
            .await
            .expect("probe table");
        let replica = PgPair::connect(pair.replica()).await.expect("replica");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let row = replica
                .query_one("SELECT to_regclass('sovtui_drill_probe') IS NOT NULL", &[])
                .await
                .expect("query replica");
            if row.get::<_, bool>(0) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "table never replicated"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        pair.pause_replication().await.expect("pause");
    }
    let state = tempfile::tempdir().expect("state");
    let ropts = RunOptions {
        stop_after: Some(Step::Verify),
        ..RunOptions::default()
    };
    let out = run::run_with_id(&t, state.path(), p, ropts, "async-1")
        .await
        .expect("run");
    assert_eq!(out.outcome, "paused", "{out:?}");
    let r = run::report(state.path(), "async-1").expect("report");
    let v = r.verification.clone().expect("verification");
    assert!(v.lost > 0 && !v.zero_loss(), "{v:?}");
    assert!(r.rpo_ms.is_some_and(|ms| ms >= 0));
    assert!(r.to_markdown().contains("acknowledged rows lost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_drill_resumes_and_journal_and_report_agree() {
    let Some((world, _pg)) = pg_world(Replication::Sync).await else {
        return;
    };
    let t = target(&world).await;
    let opts = PlanOptions {
        promotion: Promotion::ContinuumSwitchover,
        ..PlanOptions::default()
    };
    let p = plan::plan(&t.kube, &t.hetzner, FQDN, opts)
        .await
        .expect("plan");
    let state = tempfile::tempdir().expect("state");
    // The session drops (the run future is dropped, as on SIGHUP) right after the kill step's
    // journal entry.
    let path = run::journal_path(state.path(), "resume-1");
    let running = run::run_with_id(&t, state.path(), p, RunOptions::default(), "resume-1");
    let killed = async {
        loop {
            if let Ok(replay) = journal::read(&path)
                && journal::RunState::fold(&replay.entries).is_done("kill")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        r = running => panic!("the run ended before the interruption: {r:?}"),
        _ = tokio::time::timeout(Duration::from_secs(120), killed) => {}
    }
    let listing = journal::unfinished(&journal::root(state.path()));
    let unfinished: Vec<_> = listing.of(journal::Op::Drill).collect();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].id, "resume-1");

    let out = run::resume(&t, state.path(), "resume-1", RunOptions::default())
        .await
        .expect("resume");
    assert_eq!(out.outcome, "completed", "{out:?}");
    let folded = journal::RunState::fold(&journal::read(&path).expect("read").entries);
    let r = run::report(state.path(), "resume-1").expect("report");
    assert_eq!(Some(r.outcome.clone()), folded.outcome);
    for step in Step::ORDER {
        assert!(folded.is_done(step.name()), "{step:?} done in the journal");
        assert!(
            r.timeline
                .iter()
                .any(|s| s.step == step.name() && s.outcome == "done"),
            "{step:?} done in the report"
        );
    }
    assert!(r.verification.expect("verification").zero_loss());
}

/// `sovtui` itself, run as an operator would, against the world's files.
fn sovtui(
    world_dir: &std::path::Path,
    state_home: &std::path::Path,
    world: &World,
) -> std::process::Command {
    let e = world.endpoints();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sovtui"));
    cmd.arg("--config")
        .arg(world_dir.join("fleet.toml"))
        .env("HCLOUD_TOKEN", &e.hetzner_token)
        .env("HCLOUD_ENDPOINT", &e.hetzner)
        .env("XDG_STATE_HOME", state_home)
        .env("XDG_CONFIG_HOME", state_home.join("config"))
        .stdin(std::process::Stdio::null());
    cmd
}

async fn world_with_files(dir: &std::path::Path) -> World {
    let scenario = WorldScenario::load("demo").expect("demo scenario");
    World::start(scenario, 600.0, Some(dir.to_path_buf()))
        .await
        .expect("world")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_kill_mode_deletes_the_control_plane_server_and_the_cli_plans_it() {
    let files = tempfile::tempdir().expect("files");
    let home = tempfile::tempdir().expect("state home");
    let world = world_with_files(files.path()).await;
    // The CLI flags reach the plan.
    let out = tokio::task::spawn_blocking({
        let mut cmd = sovtui(files.path(), home.path(), &world);
        cmd.args([
            "drill",
            "plan",
            FQDN,
            "--kill",
            "terminate",
            "--promotion",
            "helm-value",
            "--json",
        ]);
        move || cmd.output().expect("sovtui drill plan")
    })
    .await
    .expect("join");
    // The value path needs the replica's HelmRelease, which the demo lacks: a clear refusal
    // (exit 1) naming the failed precondition, with the plan still printed.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("replica HelmRelease found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("plan json");
    assert_eq!(doc["options"]["server_kill"], "terminate", "{doc}");
    assert_eq!(doc["options"]["promotion"], "helm_release_value", "{doc}");
    let touches = doc["touches"].as_array().expect("touches");
    assert!(
        touches.iter().any(|t| t["kind"] == "hetzner/server"
            && t["action"]
                .as_str()
                .is_some_and(|a| a.to_lowercase().contains("terminate"))),
        "{doc}"
    );
    assert!(
        touches.iter().any(|t| t["kind"] == "kube/HelmRelease"),
        "{doc}"
    );

    let t = target(&world).await;
    let opts = PlanOptions {
        server_kill: sovtui::provision::drill::steps::ServerKill::Terminate,
        ..PlanOptions::default()
    };
    let p = plan::plan(&t.kube, &t.hetzner, FQDN, opts)
        .await
        .expect("plan");
    assert!(p.ready(), "{}", p.to_text());
    let cp_ids: Vec<i64> = p.region.control_planes.iter().map(|c| c.0).collect();
    assert!(!cp_ids.is_empty());
    let state = tempfile::tempdir().expect("state");
    let ropts = RunOptions {
        stop_after: Some(Step::Kill),
        ..RunOptions::default()
    };
    let out = run::run_with_id(&t, state.path(), p, ropts, "terminate-1")
        .await
        .expect("run");
    assert_eq!(out.outcome, "paused", "{out:?}");
    // Deleted servers linger in listings for a few simulated seconds (the Hetzner quirk the
    // simulator plays): wait, moving the simulated clock, until they are gone.
    let gone = |v: &Value| {
        v["servers"].as_array().is_some_and(|a| {
            a.iter()
                .all(|s| !cp_ids.contains(&s["id"].as_i64().unwrap_or(-1)))
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = hetzner_state(&world);
        if gone(&now) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "control planes {cp_ids:?} terminated: {}",
            now["servers"]
        );
        world.clock.advance(Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = run::report(state.path(), "terminate-1").expect("report");
    assert!(
        r.objects_touched
            .iter()
            .any(|o| o["kind"] == "hetzner/server" && o["action"] == "terminate"),
        "{:?}",
        r.objects_touched
    );
    // Rolling back restores what the API can (the attachments of the servers that still exist)
    // instead of failing on the terminated ones, which Phase 0 rebuilds.
    let back = run::rollback(&t, state.path(), "terminate-1")
        .await
        .expect("rollback after a terminate");
    assert_eq!(back.outcome, "rolled_back", "{back:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_through_the_helmrelease_value_promotes_the_replica_and_fails_back() {
    let world = world().await;
    let t = target(&world).await;
    let opts = PlanOptions {
        promotion: Promotion::HelmReleaseValue,
        ..PlanOptions::default()
    };
    // Without the replica's HelmRelease the value path is refused, by name.
    let p = plan::plan(&t.kube, &t.hetzner, FQDN, opts)
        .await
        .expect("plan");
    assert!(!p.ready());
    assert!(
        p.failed_preconditions()
            .iter()
            .any(|f| f.name == "replica HelmRelease found"),
        "{}",
        p.to_text()
    );
    // The cnpg-pair chart's replica-side release, as on a real two-region Sovereign (§7.4).
    let cluster = world.kube.cluster(FQDN).expect("cluster");
    cluster
        .apply(serde_json::json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "omantel-db-nbg", "namespace": "catalyst-system"},
            "spec": {"chart": {"spec": {"chart": "cnpg-pair"}},
                     "values": {"cnpgPair": {"replica": {"promoted": false}}}},
        }))
        .expect("replica HelmRelease");
    let p = plan::plan(&t.kube, &t.hetzner, FQDN, opts)
        .await
        .expect("plan");
    assert!(p.ready(), "{}", p.to_text());
    let before = hetzner_state(&world);
    let state = tempfile::tempdir().expect("state");
    let ropts = RunOptions {
        stop_after: Some(Step::Promote),
        ..RunOptions::default()
    };
    let out = run::run_with_id(&t, state.path(), p.clone(), ropts, "hr-1")
        .await
        .expect("run");
    assert_eq!(out.outcome, "paused", "{out:?}");
    let hr = cluster
        .get("HelmRelease", &p.namespace, &p.replica_cluster)
        .expect("HelmRelease");
    assert_eq!(
        hr["spec"]["values"]["cnpgPair"]["replica"]["promoted"], true,
        "the value path was used: {hr}"
    );
    let replica = cluster
        .get("Cluster", &p.namespace, &p.replica_cluster)
        .expect("replica Cluster");
    assert!(
        replica["status"]["currentPrimary"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "the replica was promoted: {replica}"
    );
    let continuum = cluster
        .get("Continuum", &p.namespace, &p.continuum)
        .expect("Continuum");
    assert_eq!(continuum["status"]["phase"], "FailedOver", "{continuum}");
    assert!(
        continuum["spec"]["switchoverRequest"].is_null(),
        "promoted through the HelmRelease, not a switchover request: {continuum}"
    );
    let r = run::report(state.path(), "hr-1").expect("report");
    assert!(
        r.objects_touched.iter().any(|o| o["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("HelmRelease "))),
        "{:?}",
        r.objects_touched
    );
    // The rest of the drill (verify, reverse) completes from the journal.
    let out = run::resume(&t, state.path(), "hr-1", RunOptions::default())
        .await
        .expect("resume");
    assert_eq!(out.outcome, "completed", "{out:?}");
    assert_eq!(
        hetzner_state(&world),
        before,
        "the region is back as it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_to_a_running_drill_then_resume_completes_it_and_journal_and_report_agree() {
    let files = tempfile::tempdir().expect("files");
    let home = tempfile::tempdir().expect("state home");
    let world = world_with_files(files.path()).await;
    let before = hetzner_state(&world);
    let mut child = sovtui(files.path(), home.path(), &world)
        .args([
            "drill",
            "run",
            FQDN,
            "--confirm",
            FQDN,
            "--kill",
            "power-off",
            "--json",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sovtui drill run");
    let dir = journal::root(&home.path().join("sovtui")).join("drill");
    // Wait until the journal shows the kill step done.
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let (id, path) = loop {
        let found = std::fs::read_dir(&dir).ok().and_then(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        });
        if let Some(path) = found
            && let Ok(replay) = journal::read(&path)
            && journal::RunState::fold(&replay.entries).is_done("kill")
        {
            let id = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("id")
                .to_string();
            break (id, path);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            use std::io::Read;
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("the drill ended before the kill was journaled ({status}): {err}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no kill in the journal"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to our own child process, which has not been reaped yet.
    let rc = unsafe { libc::kill(pid, libc::SIGHUP) };
    assert_eq!(rc, 0, "kill(SIGHUP)");
    let status = tokio::task::spawn_blocking(move || child.wait().expect("wait"))
        .await
        .expect("join");
    assert!(!status.success(), "SIGHUP ended the drill: {status}");
    let folded = journal::RunState::fold(&journal::read(&path).expect("read").entries);
    assert!(
        folded.outcome.is_none(),
        "interrupted, not finished: {folded:?}"
    );
    assert!(folded.is_done("kill"));

    let resumed = tokio::task::spawn_blocking({
        let mut cmd = sovtui(files.path(), home.path(), &world);
        cmd.args(["drill", "resume", &id, "--json"]);
        move || cmd.output().expect("sovtui drill resume")
    })
    .await
    .expect("join");
    assert!(
        resumed.status.success(),
        "resume: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let report = tokio::task::spawn_blocking({
        let mut cmd = sovtui(files.path(), home.path(), &world);
        cmd.args(["drill", "report", &id, "--format", "json"]);
        move || cmd.output().expect("sovtui drill report")
    })
    .await
    .expect("join");
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let r: Value = serde_json::from_slice(&report.stdout).expect("report json");
    let folded = journal::RunState::fold(&journal::read(&path).expect("read").entries);
    assert_eq!(folded.outcome.as_deref(), Some("completed"));
    assert_eq!(r["outcome"], "completed", "{r}");
    let timeline = r["timeline"].as_array().expect("timeline");
    for step in Step::ORDER {
        assert!(folded.is_done(step.name()), "{step:?} done in the journal");
        assert!(
            timeline
                .iter()
                .any(|t| t["step"] == step.name() && t["outcome"] == "done"),
            "{step:?} done in the report: {r}"
        );
    }
    let md = run::report_dir(&home.path().join("sovtui")).join(format!("{id}.md"));
    let md = std::fs::read_to_string(&md).expect("the resume wrote the Markdown report");
    assert!(md.contains("**completed**"), "{md}");
    assert_eq!(
        hetzner_state(&world),
        before,
        "the drill restored the region"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_dropped_in_the_middle_of_the_kill_rolls_back_exactly() {
    let world = world().await;
    let t = target(&world).await;
    let p = plan::plan(&t.kube, &t.hetzner, FQDN, PlanOptions::default())
        .await
        .expect("plan");
    assert!(p.ready(), "{}", p.to_text());
    let before = hetzner_state(&world);
    let state = tempfile::tempdir().expect("state");
    let path = run::journal_path(state.path(), "cut-1");
    let running = run::run_with_id(&t, state.path(), p, RunOptions::default(), "cut-1");
    // The session drops as soon as the kill step has started (some of its calls may be done).
    let kill_started = async {
        loop {
            if let Ok(replay) = journal::read(&path)
                && journal::RunState::fold(&replay.entries)
                    .interrupted
                    .as_deref()
                    == Some("kill")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::select! {
        r = running => panic!("the run ended before the interruption: {r:?}"),
        _ = tokio::time::timeout(Duration::from_secs(120), kill_started) => {}
    }
    let out = run::rollback(&t, state.path(), "cut-1")
        .await
        .expect("rollback");
    assert_eq!(out.outcome, "rolled_back");
    assert_eq!(
        hetzner_state(&world),
        before,
        "the half-done kill is undone exactly"
    );
    let r = run::report(state.path(), "cut-1").expect("report");
    assert!(
        r.timeline
            .iter()
            .any(|s| s.step == "rollback kill" && s.outcome == "done"),
        "{:?}",
        r.timeline
    );
}
