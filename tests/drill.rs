//! Region-kill drills end to end against the simulated world (Hetzner API, apiserver, simulated
//! Continuum/CNPG operator) through the real clients, with a real Postgres pair as the data plane
//! where PostgreSQL is installed (skipped with a notice otherwise).

use std::time::Duration;

use serde_json::Value;
use sovtui::provision::drill::plan::{self, PlanOptions, SYNC_PRECONDITION};
use sovtui::provision::drill::run::{self, RunOptions};
use sovtui::provision::drill::steps::{Promotion, Step};
use sovtui::provision::drill::target::DrillTarget;
use sovtui::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
use sovtui::provision::journal;
use sovtui::sim::dataplane::{DataPlaneKind, SharedDataPlane};
use sovtui::sim::hetzner::sovereign::{ROLE_LABEL, SOVEREIGN_LABEL};
use sovtui::sim::hetzner::{Kind, Method};
use sovtui::sim::operator::Faults;
use sovtui::sim::pgpair::{Replication, find_pg_bin};
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

/// The drill's plan of omantel with `opts`.
async fn plan_for(t: &DrillTarget, opts: PlanOptions) -> plan::DrillPlan {
    plan::plan(&t.kube, &t.hetzner, FQDN, opts)
        .await
        .expect("plan")
}

/// [`plan_for`], which must be ready to run (the plan's text says why not).
async fn ready_plan(t: &DrillTarget, opts: PlanOptions) -> plan::DrillPlan {
    let p = plan_for(t, opts).await;
    assert!(p.ready(), "{}", p.to_text());
    p
}

/// The plan refused the pair for replicating asynchronously: that precondition, failed.
fn refused_as_async(p: &plan::DrillPlan) -> sovtui::provision::drill::steps::Precondition {
    assert!(!p.ready(), "{}", p.to_text());
    p.failed_preconditions()
        .into_iter()
        .find(|f| f.name == SYNC_PRECONDITION)
        .cloned()
        .unwrap_or_else(|| panic!("{}", p.to_text()))
}

/// Run the drill of plan `p` as `id`, journaled in a state dir of its own (kept as long as the
/// returned handle): how it ended.
async fn drill(
    t: &DrillTarget,
    p: plan::DrillPlan,
    opts: RunOptions,
    id: &str,
) -> (tempfile::TempDir, run::Outcome) {
    let state = tempfile::tempdir().expect("state");
    let out = run::run_with_id(t, state.path(), p, opts, id)
        .await
        .expect("run");
    (state, out)
}

/// The plan holds server `id` as a control plane found in `status`.
fn assert_planned(p: &plan::DrillPlan, id: i64, status: &str) {
    assert!(
        p.region
            .control_planes
            .iter()
            .any(|(cp, _, s)| *cp == id && s == status),
        "control plane #{id} planned as {status}: {:?}",
        p.region.control_planes
    );
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
    let p = ready_plan(&t, PlanOptions::default()).await;
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

    let opts = RunOptions {
        stop_after: Some(Step::Kill),
        abort: true,
        ..RunOptions::default()
    };
    let (state, out) = drill(&t, p.clone(), opts, "abort-1").await;
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
        let again = plan_for(&t, PlanOptions::default()).await;
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
    let p = plan_for(&t, PlanOptions::default()).await;
    assert!(!p.ready());
    let failed: Vec<&str> = p
        .failed_preconditions()
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert!(failed.contains(&"Continuum Healthy"), "{failed:?}");
    assert!(failed.contains(&"lease held by the primary"), "{failed:?}");
}

async fn pg_world(replication: Replication) -> Option<(World, SharedDataPlane, tempfile::TempDir)> {
    if !postgres_available() {
        return None;
    }
    let world = world().await;
    let (pg, dir) = with_pair(&world, DataPlaneKind::Postgres, replication).await;
    Some((world, pg, dir))
}

/// Put a data plane of `kind` behind omantel's simulated operator (the one home the demo and
/// `sovtui sim` use too) and wait for its DSNs. The directory lives as long as the pair.
async fn with_pair(
    world: &World,
    kind: DataPlaneKind,
    replication: Replication,
) -> (SharedDataPlane, tempfile::TempDir) {
    let dir = tempfile::tempdir_in(std::env::temp_dir()).expect("dir");
    let base = sovtui::sim::dataplane::files_dir(kind, &dir.path().join("pair"));
    let pg = world
        .attach_data_plane(FQDN, kind, &base, replication)
        .await
        .expect("data plane");
    (pg, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_drill_on_a_real_sync_pair_loses_nothing_and_fails_back() {
    let Some((world, _pg, _dir)) = pg_world(Replication::Sync).await else {
        return;
    };
    let t = target(&world).await;
    let opts = PlanOptions {
        promotion: Promotion::ContinuumSwitchover,
        ..PlanOptions::default()
    };
    let p = ready_plan(&t, opts).await;
    let before = hetzner_state(&world);
    let (state, out) = drill(&t, p, RunOptions::default(), "full-1").await;
    assert_eq!(out.outcome, "passed", "{out:?}");
    let r = run::report(state.path(), "full-1").expect("report");
    assert_eq!(r.outcome, "passed");
    assert!(r.failures.is_empty() && r.unverified.is_empty(), "{r:?}");
    assert!(r.continuum.as_ref().is_some_and(|c| c.switched), "{r:?}");
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
async fn an_asynchronous_pair_is_refused_by_the_plan_and_by_the_run() {
    let Some((world, _pg, _dir)) = pg_world(Replication::Async).await else {
        return;
    };
    let t = target(&world).await;
    let p = plan_for(&t, PlanOptions::default()).await;
    let sync = refused_as_async(&p);
    // Declared remote_apply on the Cluster, but the live primary says otherwise.
    assert!(
        sync.evidence
            .contains("live on the primary: synchronous_commit = local"),
        "{}",
        sync.evidence
    );
    let state = tempfile::tempdir().expect("state");
    let err = run::run_with_id(&t, state.path(), p, RunOptions::default(), "async-0")
        .await
        .expect_err("an unready plan never runs");
    assert!(format!("{err:#}").contains(SYNC_PRECONDITION), "{err:#}");
    assert!(
        !run::journal_path(state.path(), "async-0").exists(),
        "refused before the journal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_that_falls_back_to_async_at_the_kill_fails_the_drill_and_names_the_lost_rows() {
    let Some((world, pg, _dir)) = pg_world(Replication::Sync).await else {
        return;
    };
    let t = target(&world).await;
    let p = plan_for(&t, PlanOptions::default()).await;
    // Synchronous when planned; at the kill the standby drops out, the primary degrades to
    // async and acknowledges ~32 KiB of WAL worth of probe rows that never reach the replica.
    assert!(p.ready(), "{}", p.to_text());
    pg.lock().await.degrade_before_kill(Some(32 * 1024));
    let before = hetzner_state(&world);
    let (state, out) = drill(&t, p, RunOptions::default(), "lost-1").await;
    assert_eq!(out.outcome, "failed", "{out:?}");
    let r = run::report(state.path(), "lost-1").expect("report");
    assert_eq!(r.outcome, "failed");
    let v = r.verification.clone().expect("verification");
    assert!(v.lost > 0 && !v.zero_loss(), "{v:?}");
    let [first, last] = *v.lost_ranges.first().expect("lost ranges");
    // Rows are written in order: the replica stopped at one, everything after it is lost.
    assert_eq!(first, v.highest_present + 1, "{v:?}");
    assert_eq!(v.lost_ranges.len(), 1, "{v:?}");
    assert_eq!(
        v.lost_ranges.iter().map(|[a, b]| b - a + 1).sum::<u64>(),
        v.lost,
        "{v:?}"
    );
    assert!(
        r.failures[0].contains(&format!("{} acknowledged row(s) lost: seq {first}", v.lost)),
        "{:?}",
        r.failures
    );
    let md = r.to_markdown();
    assert!(md.contains("**failed**"), "{md}");
    assert!(md.contains("acknowledged rows lost"), "{md}");
    assert!(
        md.contains(&format!("by seq: {first}–{last}")) || md.contains(&format!("by seq: {first}")),
        "{md}"
    );
    // The drill still put the region back.
    assert_eq!(hetzner_state(&world), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuum_that_does_not_switch_fails_the_drill() {
    let world = world().await;
    world.start_operator_with(
        FQDN,
        None,
        Faults {
            continuum_stalls: true,
            ..Faults::default()
        },
    );
    let t = target(&world).await;
    let p = ready_plan(&t, PlanOptions::default()).await;
    let opts = RunOptions {
        wait: Duration::from_secs(10),
        ..RunOptions::default()
    };
    let (state, out) = drill(&t, p, opts, "stall-1").await;
    assert_eq!(out.outcome, "failed", "{out:?}");
    let r = run::report(state.path(), "stall-1").expect("report");
    let c = r.continuum.clone().expect("continuum checked");
    assert!(!c.switched);
    assert_eq!(c.phase.as_deref(), Some("SwitchingOver"));
    assert!(
        r.failures
            .iter()
            .any(|f| f.contains("Continuum did not report the failover")
                && f.contains("SwitchingOver")),
        "{:?}",
        r.failures
    );
    assert!(r.to_markdown().contains("DID NOT fail over"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_drill_resumes_and_journal_and_report_agree() {
    let Some((world, _pg, _dir)) = pg_world(Replication::Sync).await else {
        return;
    };
    let t = target(&world).await;
    let opts = PlanOptions {
        promotion: Promotion::ContinuumSwitchover,
        ..PlanOptions::default()
    };
    let p = plan_for(&t, opts).await;
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
    assert_eq!(out.outcome, "passed", "{out:?}");
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

/// `sovtui ARGS` against the world's files, run to its end off the async runtime.
async fn cli(
    world_dir: &std::path::Path,
    state_home: &std::path::Path,
    world: &World,
    args: &[&str],
) -> std::process::Output {
    let mut cmd = sovtui(world_dir, state_home, world);
    cmd.args(args);
    tokio::task::spawn_blocking(move || cmd.output().expect("sovtui"))
        .await
        .expect("join")
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
    let out = cli(
        files.path(),
        home.path(),
        &world,
        &[
            "drill",
            "plan",
            FQDN,
            "--kill",
            "terminate",
            "--promotion",
            "helm-value",
            "--json",
        ],
    )
    .await;
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
    let p = ready_plan(&t, opts).await;
    let cp_ids: Vec<i64> = p.region.control_planes.iter().map(|c| c.0).collect();
    assert!(!cp_ids.is_empty());
    let ropts = RunOptions {
        stop_after: Some(Step::Kill),
        ..RunOptions::default()
    };
    let (state, out) = drill(&t, p, ropts, "terminate-1").await;
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
    // Rolled back or not, the terminated servers are gone, and the report keeps saying so.
    let r = run::report(state.path(), "terminate-1").expect("report");
    assert_eq!(r.region_destroyed.len(), cp_ids.len(), "{r:?}");
    for id in &cp_ids {
        assert!(
            r.region_destroyed
                .iter()
                .any(|d| d.ends_with(&format!("(#{id})"))),
            "{:?}",
            r.region_destroyed
        );
    }
    assert!(r.to_markdown().contains("Region: **destroyed**"));
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
    let p = plan_for(&t, opts).await;
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
    let p = ready_plan(&t, opts).await;
    let before = hetzner_state(&world);
    let ropts = RunOptions {
        stop_after: Some(Step::Promote),
        ..RunOptions::default()
    };
    let (state, out) = drill(&t, p.clone(), ropts, "hr-1").await;
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
    // No data plane behind the demo's pair: nothing was verified, so no pass.
    assert_eq!(out.outcome, "unverified", "{out:?}");
    let r = run::report(state.path(), "hr-1").expect("report");
    assert!(r.continuum.as_ref().is_some_and(|c| c.switched), "{r:?}");
    assert!(r.unverified[0].contains("no data plane"), "{r:?}");
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
    // The drill waits in its promote step until released, so the hang-up lands after the kill
    // and before the end however fast or slow this machine is.
    assert!(
        world.hold_switchovers(FQDN, true),
        "the demo runs an operator"
    );
    let mut child = sovtui(files.path(), home.path(), &world);
    child
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
        .stderr(std::process::Stdio::piped());
    // As in a terminal session: a test run under `nohup` (or any runner that ignores SIGHUP)
    // would hand the drill an ignored hang-up, and it would rightly run on.
    // SAFETY: between fork and exec only `signal`, which is async-signal-safe, is called.
    unsafe {
        use std::os::unix::process::CommandExt;
        child.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = child.spawn().expect("spawn sovtui drill run");
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
    assert!(!folded.is_done("promote"), "{folded:?}");

    world.hold_switchovers(FQDN, false);
    let resumed = cli(
        files.path(),
        home.path(),
        &world,
        &["drill", "resume", &id, "--confirm", FQDN, "--json"],
    )
    .await;
    // The demo pair has no data plane: the drill ran through but proved nothing — exit 3.
    assert_eq!(
        resumed.status.code(),
        Some(3),
        "resume: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(
        String::from_utf8_lossy(&resumed.stderr).contains("unverified"),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let report = cli(
        files.path(),
        home.path(),
        &world,
        &["drill", "report", &id, "--format", "json"],
    )
    .await;
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let r: Value = serde_json::from_slice(&report.stdout).expect("report json");
    let folded = journal::RunState::fold(&journal::read(&path).expect("read").entries);
    assert_eq!(folded.outcome.as_deref(), Some("unverified"));
    assert_eq!(r["outcome"], "unverified", "{r}");
    assert!(
        r["unverified"][0]
            .as_str()
            .is_some_and(|u| u.contains("no data plane")),
        "{r}"
    );
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
    assert!(md.contains("**unverified**"), "{md}");
    assert!(md.contains("## Not verified"), "{md}");
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
    let p = ready_plan(&t, PlanOptions::default()).await;
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

/// `sovtui drill run` on a pair that loses rows: exit 1, the rows named on stdout (JSON), on
/// stderr and in the Markdown report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_fails_a_drill_that_lost_rows_with_exit_1_and_names_them() {
    if !postgres_available() {
        return;
    }
    let files = tempfile::tempdir().expect("files");
    let home = tempfile::tempdir().expect("state home");
    let world = world_with_files(files.path()).await;
    let (pg, _dir) = with_pair(&world, DataPlaneKind::Postgres, Replication::Sync).await;
    pg.lock().await.degrade_before_kill(Some(32 * 1024));
    let out = cli(
        files.path(),
        home.path(),
        &world,
        &["drill", "run", FQDN, "--confirm", FQDN, "--json"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).expect("report json");
    assert_eq!(r["outcome"], "failed", "{r}");
    let lost = r["verification"]["lost"].as_u64().expect("lost");
    assert!(lost > 0, "{r}");
    let ranges = r["verification"]["lost_ranges"].as_array().expect("ranges");
    let first = ranges[0][0].as_u64().expect("first lost seq");
    let failure = r["failures"][0].as_str().expect("failure");
    assert!(
        failure.contains(&format!("{lost} acknowledged row(s) lost: seq {first}")),
        "{failure}"
    );
    assert!(stderr.contains("FAILED: "), "{stderr}");
    assert!(stderr.contains("ended failed"), "{stderr}");
    let id = r["drill_id"].as_str().expect("id");
    let md = run::report_dir(&home.path().join("sovtui")).join(format!("{id}.md"));
    let md = std::fs::read_to_string(&md).expect("Markdown report");
    assert!(md.contains("**failed**"), "{md}");
    assert!(md.contains(&format!("by seq: {first}")), "{md}");
    let json = run::report_dir(&home.path().join("sovtui")).join(format!("{id}.json"));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(json).expect("JSON report")).expect("json");
    assert_eq!(doc["failures"], r["failures"]);
}

/// Resuming repeats kills and rolling back undoes them: both are armed like `run`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_and_rollback_refuse_without_the_fqdn_typed_back() {
    let files = tempfile::tempdir().expect("files");
    let home = tempfile::tempdir().expect("state home");
    let world = world_with_files(files.path()).await;
    let before = hetzner_state(&world);
    let t = target(&world).await;
    let p = plan_for(&t, PlanOptions::default()).await;
    let state = home.path().join("sovtui");
    let ropts = RunOptions {
        stop_after: Some(Step::Kill),
        ..RunOptions::default()
    };
    let out = run::run_with_id(&t, &state, p, ropts, "armed-1")
        .await
        .expect("run");
    assert_eq!(out.outcome, "paused");
    let path = run::journal_path(&state, "armed-1");
    let journaled = std::fs::read(&path).expect("journal");
    let (dir, state_home, w) = (files.path(), home.path(), &world);
    let call = move |args: Vec<&'static str>| async move { cli(dir, state_home, w, &args).await };
    for sub in ["resume", "rollback"] {
        let out = call(vec!["drill", sub, "armed-1", "--json"]).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{sub} without --confirm: {out:?}"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--confirm"),
            "{out:?}"
        );
        let out = call(vec![
            "drill",
            sub,
            "armed-1",
            "--confirm",
            "omantel.omani.work",
        ])
        .await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{sub} with a near miss: {out:?}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("does not match omantel.omani.works"),
            "{stderr}"
        );
        assert_eq!(
            std::fs::read(&path).expect("journal"),
            journaled,
            "a refused {sub} wrote nothing"
        );
    }
    let out = call(vec![
        "drill",
        "rollback",
        "armed-1",
        "--confirm",
        FQDN,
        "--json",
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("report json");
    assert_eq!(r["outcome"], "rolled_back", "{r}");
    assert_eq!(hetzner_state(&world), before, "rolled back exactly");
}

/// Without PostgreSQL the modelled data plane stands in, through the same library path: the
/// drill asks the server what it is, writes and verifies rows, and labels its report `modelled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_drill_on_the_modelled_sync_pair_writes_verifies_and_is_labelled_modelled() {
    let world = world().await;
    let (_pg, _dir) = with_pair(&world, DataPlaneKind::Modelled, Replication::Sync).await;
    let t = target(&world).await;
    let p = ready_plan(&t, PlanOptions::default()).await;
    let before = hetzner_state(&world);
    let opts = RunOptions {
        world_speed: Some(600.0),
        ..RunOptions::default()
    };
    let (state, out) = drill(&t, p, opts, "model-1").await;
    assert_eq!(out.outcome, "passed", "{out:?}");
    let r = run::report(state.path(), "model-1").expect("report");
    assert_eq!(r.data_plane, "modelled");
    assert_eq!(r.world_speed, Some(600.0));
    let v = r.verification.clone().expect("verification");
    assert!(v.acked >= 200 && v.zero_loss(), "{v:?}");
    assert_eq!(r.rpo_ms, Some(0));
    let md = r.to_markdown();
    assert!(md.contains("Data plane: modelled (MODELLED"), "{md}");
    assert!(md.contains("world at 600×"), "{md}");
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["data_plane"], "modelled");
    assert_eq!(hetzner_state(&world), before, "the region is back");
}

/// The modelled pair keeps the semantics that matter: a synchronous pair that degrades to
/// asynchronous at the kill loses exactly the writes the replica never got, and the drill says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_modelled_pair_loses_the_unshipped_writes_of_an_async_cut_and_the_drill_fails() {
    let world = world().await;
    let (pg, _dir) = with_pair(&world, DataPlaneKind::Modelled, Replication::Sync).await;
    let t = target(&world).await;
    let p = ready_plan(&t, PlanOptions::default()).await;
    pg.lock().await.degrade_before_kill(Some(32 * 1024));
    let (state, out) = drill(&t, p, RunOptions::default(), "model-lost").await;
    assert_eq!(out.outcome, "failed", "{out:?}");
    let r = run::report(state.path(), "model-lost").expect("report");
    assert_eq!(r.data_plane, "modelled");
    let v = r.verification.clone().expect("verification");
    // 32 KiB at 128 bytes a write: at least 256 acknowledged writes never reached the replica.
    assert!(v.lost >= 256, "{v:?}");
    assert_eq!(v.lost_ranges.len(), 1, "{v:?}");
    assert_eq!(v.lost_ranges[0][0], v.highest_present + 1, "{v:?}");
    assert!(r.rpo_ms.is_some_and(|ms| ms > 0), "{r:?}");
}

/// An asynchronous modelled pair is refused by the plan, as a real one is: the live check asks
/// the modelled primary through the same client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asynchronous_modelled_pair_is_refused_by_the_plan() {
    let world = world().await;
    let (_pg, _dir) = with_pair(&world, DataPlaneKind::Modelled, Replication::Async).await;
    let t = target(&world).await;
    let p = plan_for(&t, PlanOptions::default()).await;
    let sync = refused_as_async(&p);
    assert!(
        sync.evidence
            .contains("live on the primary: synchronous_commit = local"),
        "{}",
        sync.evidence
    );
}

/// A control plane added to omantel's primary region next to the scenario's, shaped like the
/// planned one `like` and named `…-cp<n>`, ours by the Sovereign label. It has no role label yet:
/// the plan knows it as a control plane by its name, the simulated operator (which counts only
/// role-labelled ones) not until [`count_as_control_plane`] — so a server still booting is not
/// taken for a lost region before the drill has touched anything.
fn add_control_plane(world: &World, like: &(i64, String, String), n: u32) -> i64 {
    let h = world.hetzner.control();
    let model = h
        .get(Kind::Server, like.0)
        .expect("the planned control plane");
    let name = format!(
        "{}{n}",
        like.1.trim_end_matches(|c: char| c.is_ascii_digit())
    );
    let created = h
        .create(
            Kind::Server,
            serde_json::json!({
                "name": name,
                "server_type": model["server_type"]["name"],
                "image": "ubuntu-24.04",
                "location": model["location"]["name"],
                "labels": {SOVEREIGN_LABEL: FQDN},
            }),
        )
        .expect("creating the extra control plane");
    created["id"].as_i64().expect("server id")
}

/// Give server `id` the control-plane role label: from now on the simulated operator counts it
/// (the region is up only while it runs too).
fn count_as_control_plane(world: &World, id: i64) {
    world
        .hetzner
        .control()
        .request(
            Method::PUT,
            &format!("servers/{id}"),
            serde_json::json!({"labels": {SOVEREIGN_LABEL: FQDN, ROLE_LABEL: "control-plane"}}),
        )
        .expect("labelling the control plane");
}

fn server_status(world: &World, id: i64) -> String {
    let s = world
        .hetzner
        .control()
        .get(Kind::Server, id)
        .expect("server");
    s["status"].as_str().unwrap_or_default().to_string()
}

/// Move the simulated clock on until server `id` is `status`.
async fn until_status(world: &World, id: i64, status: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while server_status(world, id) != status {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server #{id} never became {status}: {}",
            server_status(world, id)
        );
        world.clock.advance(Duration::from_secs(3600));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn continuum_phase(world: &World) -> Value {
    world
        .kube
        .cluster(FQDN)
        .expect("cluster")
        .get("Continuum", "catalyst-system", "omantel-db")
        .expect("Continuum")["status"]["phase"]
        .clone()
}

/// The kill powers off every planned control plane, so the undo must power every one back on —
/// also one the plan saw still `initializing` (it had finished booting by the kill). Before the
/// fix the undo skipped it: the region never came back and the failback waited for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_undo_powers_on_a_control_plane_planned_while_initializing_and_fails_back() {
    let world = world().await;
    let t = target(&world).await;
    let first = plan_for(&t, PlanOptions::default()).await;
    let h = world.hetzner.control();
    // Its create action takes a simulated day: the server stays `initializing` until the clock
    // is moved on, whatever the load on this machine.
    let usual = h.action_duration();
    h.set_action_duration(Duration::from_secs(24 * 3600));
    let booting = add_control_plane(&world, &first.region.control_planes[0], 9);
    h.set_action_duration(usual);
    let p = ready_plan(&t, PlanOptions::default()).await;
    assert_planned(&p, booting, "initializing");
    until_status(&world, booting, "running").await;
    count_as_control_plane(&world, booting);
    let before = hetzner_state(&world);

    let opts = RunOptions {
        wait: Duration::from_secs(30),
        ..RunOptions::default()
    };
    let (state, out) = drill(&t, p.clone(), opts, "booting-1").await;
    // No data plane behind the demo's pair: nothing verified, but every step ran.
    assert_eq!(out.outcome, "unverified", "{out:?}");
    let r = run::report(state.path(), "booting-1").expect("report");
    assert!(
        r.timeline
            .iter()
            .any(|s| s.step == "reverse" && s.outcome == "done"),
        "the failback completed: {:?}",
        r.timeline
    );
    for (id, name, _) in &p.region.control_planes {
        assert_eq!(
            server_status(&world, *id),
            "running",
            "{name} (#{id}) powered back on"
        );
    }
    assert_eq!(continuum_phase(&world), "Healthy");
    assert_eq!(
        hetzner_state(&world),
        before,
        "the region is back as it was"
    );
}

/// A control plane that was already off when the drill was planned is how the drill found it:
/// the kill powers it off (a no-op) and the undo leaves it off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_plane_already_off_before_the_drill_stays_off() {
    let world = world().await;
    let t = target(&world).await;
    let first = plan_for(&t, PlanOptions::default()).await;
    let spare = add_control_plane(&world, &first.region.control_planes[0], 8);
    until_status(&world, spare, "running").await;
    world
        .hetzner
        .control()
        .action(Kind::Server, spare, "poweroff", serde_json::json!({}))
        .expect("poweroff");
    until_status(&world, spare, "off").await;
    let p = ready_plan(&t, PlanOptions::default()).await;
    assert_planned(&p, spare, "off");
    let before = hetzner_state(&world);
    let opts = RunOptions {
        wait: Duration::from_secs(30),
        ..RunOptions::default()
    };
    let (_state, out) = drill(&t, p.clone(), opts, "spare-1").await;
    assert_eq!(out.outcome, "unverified", "{out:?}");
    assert_eq!(server_status(&world, spare), "off", "left as it was found");
    for (id, name, _) in p.region.control_planes.iter().filter(|c| c.0 != spare) {
        assert_eq!(server_status(&world, *id), "running", "{name} (#{id})");
    }
    assert_eq!(continuum_phase(&world), "Healthy");
    assert_eq!(
        hetzner_state(&world),
        before,
        "the region is back as it was"
    );
}

/// `--kill terminate` is the runbook's kill and irreversible by design: a drill that loses
/// nothing passes the failover and says, in its outcome, its exit status (5), its report and on
/// stderr, that the region's control planes are gone. It does not fail back (there is nothing
/// to fail back to); the Sovereign stays failed over on the standby.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminate_drill_that_loses_nothing_passes_and_says_the_region_is_destroyed() {
    let files = tempfile::tempdir().expect("files");
    let home = tempfile::tempdir().expect("state home");
    let world = world_with_files(files.path()).await;
    let (_pg, _dir) = with_pair(&world, DataPlaneKind::Modelled, Replication::Sync).await;
    let t = target(&world).await;
    let p = plan_for(&t, PlanOptions::default()).await;
    let cps: Vec<(i64, String)> = p
        .region
        .control_planes
        .iter()
        .map(|(id, name, _)| (*id, name.clone()))
        .collect();
    let out = cli(
        files.path(),
        home.path(),
        &world,
        &[
            "drill",
            "run",
            FQDN,
            "--confirm",
            FQDN,
            "--kill",
            "terminate",
            "--json",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).expect("report json");
    assert_eq!(r["outcome"], "passed_region_destroyed", "{r}");
    assert_eq!(r["failures"], serde_json::json!([]), "{r}");
    assert_eq!(r["unverified"], serde_json::json!([]), "{r}");
    assert_eq!(r["verification"]["lost"], 0, "{r}");
    let destroyed = r["region_destroyed"].as_array().expect("region_destroyed");
    assert_eq!(destroyed.len(), cps.len(), "{r}");
    for (id, name) in &cps {
        let label = format!("{name} (#{id})");
        assert!(
            destroyed.iter().any(|d| d == &Value::from(label.clone())),
            "{r}"
        );
        assert!(stderr.contains(&label), "{stderr}");
    }
    assert!(stderr.contains("REGION DESTROYED: "), "{stderr}");
    assert!(
        r["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .any(|s| s["step"] == "reverse" && s["outcome"] == "done"),
        "{r}"
    );
    assert_eq!(continuum_phase(&world), "FailedOver", "no failback");
    let id = r["drill_id"].as_str().expect("id");
    let md = run::report_dir(&home.path().join("sovtui")).join(format!("{id}.md"));
    let md = std::fs::read_to_string(&md).expect("Markdown report");
    assert!(md.contains("**passed_region_destroyed**"), "{md}");
    assert!(md.contains("Region: **destroyed**"), "{md}");
}
