//! The drill pane in-process: snapshots of the plan, live and report views (TestBackend + insta),
//! and the App reducer driving a real drill against the simulated world through the pane:
//! plan, arm, the FQDN typed back, run, abort after the kill, Hetzner objects restored exactly.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::KeyCode;
use serde_json::Value;
use sovtui::provision::drill::observe::{ObjectState, Observation};
use sovtui::provision::drill::plan::{DrillPlan, LbTarget, PlanOptions, RegionObjects};
use sovtui::provision::drill::probe::ProbeStats;
use sovtui::provision::drill::report::{Report, StepTiming};
use sovtui::provision::drill::steps::{Precondition, Step, Touch};
use sovtui::provision::drill::verify::Verification;
use sovtui::provision::hetzner::client::{ClientOptions, Credentials};
use sovtui::sim::scenario::WorldScenario;
use sovtui::sim::world::World;
use sovtui::tui::app::{App, Msg};
use sovtui::tui::drill::{DrillScreen, Finished, Phase};
use sovtui::tui::palette::Command;

mod support;
use support::cockpit::{chars, key, render};

const DEADLINE: Duration = Duration::from_secs(240);
const FQDN: &str = "omantel.omani.works";

fn app() -> App {
    support::cockpit::detached_app("drill test")
}

fn at(s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 16, 0, 0).unwrap() + chrono::Duration::seconds(s as i64)
}

fn fixed_plan() -> DrillPlan {
    let pre = |name: &str, ok: bool, evidence: &str| Precondition {
        name: name.into(),
        ok,
        evidence: evidence.into(),
    };
    let touch = |step, kind: &str, name: &str, id: Option<&str>, action: &str, undo: &str| Touch {
        step,
        kind: kind.into(),
        name: name.into(),
        id: id.map(String::from),
        action: action.into(),
        undo: undo.into(),
    };
    DrillPlan {
        target: FQDN.into(),
        namespace: "catalyst-system".into(),
        continuum: "omantel-db".into(),
        pair: "omantel-db".into(),
        primary_cluster: "omantel-db-fsn".into(),
        replica_cluster: "omantel-db-nbg".into(),
        primary_region: "fsn1".into(),
        replica_region: "nbg1".into(),
        rto_seconds: 120,
        rpo_seconds: 30,
        continuum_standby: "hz-nbg-rtz-prod".into(),
        last_switchover_before: None,
        options: PlanOptions::default(),
        hetzner: None,
        region: RegionObjects {
            load_balancer: Some((41, "catalyst-omantel-omani-works-lb".into())),
            lb_targets: vec![LbTarget {
                server_id: 11,
                use_private_ip: true,
            }],
            firewall: Some((51, "catalyst-omantel-omani-works-fw".into())),
            firewall_servers: vec![11],
            control_planes: vec![(
                11,
                "catalyst-omantel-omani-works-cp1".into(),
                "running".into(),
            )],
        },
        preconditions: vec![
            pre(
                "database clusters ready",
                true,
                "omantel-db-fsn Ready=True, omantel-db-nbg Ready=True",
            ),
            pre("Continuum Healthy", true, "status.phase = Healthy"),
            pre(
                "lease held by the primary",
                true,
                "leaseHolder = \"fsn1\", primary = \"fsn1\"",
            ),
            pre(
                "replication lag ≤ RPO",
                false,
                "streaming = true, walLagSeconds = 45 > 30",
            ),
            pre(
                "primary region's Hetzner objects",
                true,
                "LB, firewall and 1 control plane found",
            ),
        ],
        touches: vec![
            touch(
                Step::Kill,
                "hetzner/load_balancer",
                "catalyst-omantel-omani-works-lb",
                Some("41"),
                "remove target server #11",
                "re-add target",
            ),
            touch(
                Step::Kill,
                "hetzner/firewall",
                "catalyst-omantel-omani-works-fw",
                Some("51"),
                "remove from server #11",
                "re-apply",
            ),
            touch(
                Step::Kill,
                "hetzner/server",
                "catalyst-omantel-omani-works-cp1",
                Some("11"),
                "power off",
                "power on",
            ),
            touch(
                Step::Promote,
                "kube/Continuum",
                "catalyst-system/omantel-db",
                None,
                "switchover request to nbg1",
                "failback request",
            ),
        ],
    }
}

fn timing(step: &str, start: u32, end: Option<u32>, outcome: &str) -> StepTiming {
    StepTiming {
        step: step.into(),
        started_at: at(start),
        ended_at: end.map(at),
        duration_ms: end.map(|e| (e as i64 - start as i64) * 1000),
        outcome: outcome.into(),
    }
}

fn report(outcome: &str, timeline: Vec<StepTiming>, verification: Option<Verification>) -> Report {
    Report {
        drill_id: "drill-20261129T160000-abc123".into(),
        target: FQDN.into(),
        data_plane: "postgres".into(),
        world_speed: None,
        outcome: outcome.into(),
        region_destroyed: Vec::new(),
        failures: Vec::new(),
        unverified: Vec::new(),
        rto_seconds: Some(60),
        rpo_seconds: Some(30),
        continuum: None,
        timeline,
        rto_ms: Some(7400),
        rpo_ms: verification.as_ref().map(|v| v.rpo_ms),
        rows_written: verification.as_ref().map(|v| v.acked),
        verification,
        objects_touched: vec![serde_json::json!({"kind": "hetzner/server"})],
    }
}

/// An App showing the drill pane, with no tasks (no sender, no runtime).
fn shown(screen: DrillScreen) -> App {
    let mut app = app();
    app.drill = Some(Box::new(screen));
    app.raise(sovtui::tui::app::View::Drill);
    app
}

fn live_screen() -> DrillScreen {
    let mut s = DrillScreen::new(FQDN, std::env::temp_dir());
    s.plan = Some(fixed_plan());
    s.data_plane = Some("postgres".into());
    s.phase = Phase::Running;
    s.run_id = Some("drill-20261129T160000-abc123".into());
    s.frozen_now = Some(at(14));
    s.report = Some(report(
        "unfinished",
        vec![
            timing("probe", 0, Some(3), "done"),
            timing("kill", 3, Some(6), "done"),
            timing("promote", 6, None, "interrupted"),
        ],
        None,
    ));
    s.probe = Some(ProbeStats {
        acked: 1843,
        rate_per_s: 412.0,
        errors: 3,
        in_doubt: Some(1844),
        ..ProbeStats::default()
    });
    s.observation = Some(Observation {
        continuum_phase: Some("SwitchingOver".into()),
        lease_holder: Some("nbg1".into()),
        primary_region: Some("fsn1".into()),
        wal_lag_seconds: Some(0.0),
        streaming: Some(false),
        objects: vec![
            ObjectState {
                kind: "load balancer".into(),
                name: "catalyst-omantel-omani-works-lb".into(),
                state: "0/1 planned targets attached".into(),
                intact: false,
            },
            ObjectState {
                kind: "server".into(),
                name: "catalyst-omantel-omani-works-cp1".into(),
                state: "off".into(),
                intact: false,
            },
        ],
        errors: Vec::new(),
    });
    s
}

#[test]
fn plan_view_shows_preconditions_touches_and_kill_mode() {
    let mut s = DrillScreen::new(FQDN, std::env::temp_dir());
    s.plan = Some(fixed_plan());
    s.data_plane = Some("simulated".into());
    s.phase = Phase::Planned;
    let mut app = shown(s);
    let text = render(&mut app, 140, 34);
    assert!(text.contains("✗ replication lag ≤ RPO"), "{text}");
    assert!(text.contains("SIMULATED"), "{text}");
    assert!(
        text.contains("power off the control-plane server"),
        "{text}"
    );
    assert!(text.contains("refused: precondition(s) failed"), "{text}");
    insta::assert_snapshot!("drill_plan", text);
    // Every view at 80×24 and 200×50.
    insta::assert_snapshot!("drill_plan_80x24", render(&mut app, 80, 24));
    insta::assert_snapshot!("drill_plan_200x50", render(&mut app, 200, 50));
}

#[test]
fn live_view_shows_timers_probe_continuum_and_objects() {
    let mut app = shown(live_screen());
    let text = render(&mut app, 140, 34);
    assert!(text.contains("1843 rows acknowledged"), "{text}");
    assert!(
        text.contains("8.0 s"),
        "the running promote's timer: {text}"
    );
    assert!(text.contains("[a] abort"), "{text}");
    insta::assert_snapshot!("drill_live", text);
}

#[test]
fn report_view_shows_rto_rpo_rows_and_the_markdown_path() {
    let mut s = live_screen();
    let verification = Verification {
        acked: 1843,
        present: 1844,
        lost: 0,
        lost_sample: Vec::new(),
        lost_ranges: Vec::new(),
        gaps: 0,
        rpo_ms: 0,
        highest_present: 1844,
    };
    let r = report(
        "passed",
        vec![
            timing("probe", 0, Some(3), "done"),
            timing("kill", 3, Some(6), "done"),
            timing("promote", 6, Some(13), "done"),
            timing("verify", 13, Some(14), "done"),
            timing("reverse", 14, Some(30), "done"),
        ],
        Some(verification),
    );
    s.report = Some(r.clone());
    s.phase = Phase::Done;
    s.finished = Some(Finished {
        outcome: "passed".into(),
        error: None,
        report: Box::new(r),
        report_path: Some("/state/drill-reports/drill-20261129T160000-abc123.md".into()),
        report_error: None,
    });
    let mut app = shown(s);
    let text = render(&mut app, 140, 40);
    assert!(text.contains("zero transaction loss"), "{text}");
    assert!(text.contains("RTO 7.4 s"), "{text}");
    assert!(
        text.contains("drill-reports/drill-20261129T160000-abc123.md"),
        "{text}"
    );
    assert!(text.contains("PASSED"), "{text}");
    insta::assert_snapshot!("drill_report", text);
}

/// A finished drill shown with `outcome`, the report carrying `failures` / `unverified`.
fn ended(outcome: &str, r: Report) -> String {
    let mut s = live_screen();
    s.report = Some(r.clone());
    s.phase = Phase::Done;
    s.finished = Some(Finished {
        outcome: outcome.into(),
        error: None,
        report: Box::new(r),
        report_path: None,
        report_error: None,
    });
    let mut app = shown(s);
    render(&mut app, 160, 44)
}

#[test]
fn a_failed_drill_says_failed_and_names_the_lost_rows_in_words() {
    let verification = Verification {
        acked: 400,
        present: 150,
        lost: 250,
        lost_sample: (151..161).collect(),
        lost_ranges: vec![[151, 400]],
        gaps: 0,
        rpo_ms: 900,
        highest_present: 150,
    };
    let mut r = report(
        "failed",
        vec![timing("verify", 13, Some(14), "done")],
        Some(verification),
    );
    r.failures = vec![
        "250 acknowledged row(s) lost: seq 151–400 (drill_id x in table sovtui_drill_probe)".into(),
    ];
    let text = ended("failed", r);
    assert!(text.contains("✗ drill"), "{text}");
    assert!(
        text.contains("FAILED: 250 acknowledged row(s) lost"),
        "{text}"
    );
    assert!(text.contains("by seq: 151–400"), "{text}");
    assert!(!text.contains("PASSED"), "{text}");
}

#[test]
fn an_unverified_drill_is_not_shown_as_a_pass() {
    let mut r = report("unverified", Vec::new(), None);
    r.data_plane = "simulated".into();
    r.unverified = vec!["no data plane (simulated): no rows were written or verified".into()];
    let text = ended("unverified", r);
    assert!(text.contains("UNVERIFIED (not a pass)"), "{text}");
    assert!(text.contains("? no data plane"), "{text}");
    assert!(
        !text.contains("PASSED") && !text.contains("✓ drill"),
        "{text}"
    );
}

/// A pass after `--kill terminate` reads as a pass of the failover and, in words on the same
/// screen, as a destroyed region with the servers to rebuild — never as a plain pass.
#[test]
fn a_pass_that_destroyed_the_region_says_both() {
    let mut r = report(
        "passed_region_destroyed",
        vec![timing("reverse", 14, Some(15), "done")],
        None,
    );
    r.region_destroyed = vec!["catalyst-omantel-omani-works-cp1 (#7)".into()];
    let text = ended("passed_region_destroyed", r);
    assert!(text.contains("PASSED, REGION DESTROYED"), "{text}");
    assert!(
        text.contains("REGION DESTROYED: the kill terminated"),
        "{text}"
    );
    assert!(
        text.contains("catalyst-omantel-omani-works-cp1 (#7)"),
        "{text}"
    );
    assert!(!text.contains("FAILED"), "{text}");
}

#[test]
fn arming_needs_arm_and_the_fqdn_typed_back() {
    let mut plan = fixed_plan();
    for p in &mut plan.preconditions {
        p.ok = true;
    }
    let mut s = DrillScreen::new(FQDN, std::env::temp_dir());
    s.plan = Some(plan);
    s.phase = Phase::Planned;
    let mut app = shown(s);
    let blocked = |app: &App| app.drill.as_ref().and_then(|d| d.blocked_reason(app.armed));
    assert!(blocked(&app).is_some_and(|r| r.contains(":arm")));
    app.run_command(Command::Arm);
    chars(&mut app, "muscat.omani.works");
    assert!(blocked(&app).is_some_and(|r| r.contains("does not match")));
    for _ in 0..40 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, FQDN);
    assert_eq!(blocked(&app), None);
    // Esc leaves the pane; :drill brings the same one back.
    key(&mut app, KeyCode::Esc);
    assert!(!app.drill_shown());
    app.run_command(Command::Drill(FQDN.into()));
    assert!(app.drill_shown());
    assert_eq!(
        app.drill.as_ref().map(|d| d.gate.typed()),
        Some(FQDN.to_string())
    );
}

/// The Hetzner state a drill may touch, only the drilled Sovereign's.
fn hetzner_state(world: &World) -> Value {
    let snap = world.hetzner.control().snapshot();
    let list = |name: &str, keys: &[&str]| -> Vec<Value> {
        snap.get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|v| v["name"].as_str().is_some_and(|n| n.contains("omantel")))
                    .map(|v| {
                        let mut m = serde_json::Map::new();
                        for k in keys {
                            m.insert(k.to_string(), v.get(*k).cloned().unwrap_or(Value::Null));
                        }
                        Value::Object(m)
                    })
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

/// A cockpit reaching the world's Hetzner API and fleet file (in `world_dir`), journaling into
/// `state`, with the drill pane opened on the Sovereign; and the channel its effects report on.
fn drill_opened(
    endpoints: &sovtui::sim::world::Endpoints,
    world_dir: &std::path::Path,
    state: &std::path::Path,
) -> (App, tokio::sync::mpsc::Receiver<Msg>) {
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let mut app = app();
    app.effects.tx = Some(tx);
    app.fleet_file = Some(world_dir.join("fleet.toml"));
    app.drill_state_dir = state.to_path_buf();
    app.update(Msg::HetznerEndpoint(Credentials::new(
        endpoints.hetzner_token.clone(),
        endpoints.hetzner.clone(),
    )));
    app.run_command(Command::Drill(FQDN.into()));
    (app, rx)
}

async fn pump(
    app: &mut App,
    rx: &mut tokio::sync::mpsc::Receiver<Msg>,
    done: impl Fn(&DrillScreen) -> bool,
) {
    tokio::time::timeout(DEADLINE, async {
        while !done(app.drill.as_ref().expect("pane")) {
            let msg = rx.recv().await.expect("channel open");
            app.update(msg);
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "timed out; phase {:?}",
            app.drill.as_ref().map(|d| d.phase.clone())
        )
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_through_the_pane_aborted_after_the_kill_restores_hetzner_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("state dir");
    let scenario = WorldScenario::load("demo").expect("demo scenario");
    let world = World::start(scenario, 600.0, Some(dir.path().to_path_buf()))
        .await
        .expect("world starts");
    let endpoints = world.endpoints();
    let before = hetzner_state(&world);

    let (mut app, mut rx) = drill_opened(&endpoints, dir.path(), state.path());
    assert!(app.drill_shown());
    pump(&mut app, &mut rx, |d| d.phase != Phase::Planning).await;
    {
        let d = app.drill.as_mut().expect("pane");
        assert_eq!(d.phase, Phase::Planned, "{:?}", d.phase);
        let plan = d.plan.as_ref().expect("plan");
        assert!(plan.ready(), "{}", plan.to_text());
        assert_eq!(d.data_plane.as_deref(), Some("simulated"));
        d.client_options = ClientOptions {
            action_poll: Duration::from_millis(40),
            ..ClientOptions::default()
        };
    }
    let text = render(&mut app, 140, 40);
    assert!(
        text.contains("SIMULATED"),
        "the demo's data plane is labelled: {text}"
    );
    // The project and token the kill would act on show before anything is armed.
    assert!(
        text.contains("Hetzner project: token ") && text.contains(" from "),
        "the plan names the token and project: {text}"
    );

    // Not armed: Enter is refused and nothing is touched.
    chars(&mut app, FQDN);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.drill.as_ref().expect("pane").phase, Phase::Planned);
    assert_eq!(hetzner_state(&world), before);

    // The operator is down while the drill runs, so the promotion waits (within the RTO) and
    // the abort lands after the kill, not after a drill that already ran to its end.
    world.stop_operator(FQDN);
    app.run_command(Command::Arm);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.drill.as_ref().expect("pane").phase, Phase::Running);
    pump(&mut app, &mut rx, |d| {
        d.journal.as_ref().is_some_and(|j| j.is_done("kill")) || !matches!(d.phase, Phase::Running)
    })
    .await;
    assert_eq!(app.drill.as_ref().expect("pane").phase, Phase::Running);
    assert_ne!(hetzner_state(&world), before, "the kill took effect");
    key(&mut app, KeyCode::Char('a'));
    assert_eq!(app.drill.as_ref().expect("pane").phase, Phase::Aborting);
    world.start_operator(FQDN, None);
    pump(&mut app, &mut rx, |d| {
        matches!(d.phase, Phase::Done | Phase::Failed(_))
    })
    .await;
    let d = app.drill.as_ref().expect("pane");
    let f = d
        .finished
        .as_ref()
        .unwrap_or_else(|| panic!("{:?}", d.phase));
    assert_eq!(f.outcome, "aborted");
    assert_eq!(f.report.outcome, "aborted");
    assert!(
        f.report
            .timeline
            .iter()
            .any(|t| t.step == "rollback kill" && t.outcome == "done"),
        "{:?}",
        f.report.timeline
    );
    let md = f.report_path.clone().expect("markdown report written");
    assert!(md.starts_with(state.path()));
    let text = std::fs::read_to_string(&md).expect("report file");
    assert!(text.contains("**aborted**"), "{text}");
    assert_eq!(
        hetzner_state(&world),
        before,
        "abort restored the Hetzner objects exactly"
    );
    let screen = render(&mut app, 140, 50);
    assert!(screen.contains("Markdown report:"), "{screen}");
}

#[test]
fn an_unfinished_drill_is_offered_at_start() {
    let state = tempfile::tempdir().expect("state dir");
    use sovtui::provision::journal::{self, Journal, Op};
    let mut j = Journal::create_with_id(&journal::root(state.path()), Op::Drill, "drill-x", FQDN)
        .expect("journal");
    let mut plan = serde_json::to_value(fixed_plan()).expect("plan json");
    plan["data_plane"] = "simulated".into();
    j.append(journal::Event::Planned { plan }).expect("append");
    j.append(sovtui::provision::journal::Event::StepStarted {
        step: "probe".into(),
    })
    .expect("append");
    let mut app = app();
    app.drill_state_dir = state.path().to_path_buf();
    app.offer_unfinished();
    assert!(app.drill_shown());
    let d = app.drill.as_ref().expect("offered");
    assert_eq!(d.phase, Phase::Unfinished);
    assert_eq!(d.run_id.as_deref(), Some("drill-x"));
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("unfinished drill drill-x")),
        "{:?}",
        app.notice
    );
    let text = render(&mut app, 140, 40);
    assert!(text.contains("resume the drill"), "{text}");
    key(&mut app, KeyCode::F(2));
    let text = render(&mut app, 140, 40);
    assert!(text.contains("roll the drill back"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_drill_through_the_pane_on_real_postgres_shows_rows_and_zero_loss() {
    use sovtui::sim::dataplane::DataPlaneKind;
    use sovtui::sim::pgpair::{Replication, find_pg_bin};
    if find_pg_bin().is_none() {
        support::tools::missing(
            "the real data-plane pane drill",
            "PostgreSQL server binaries not found",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("state dir");
    let scenario = WorldScenario::load("demo").expect("demo scenario");
    let world = World::start(scenario, 600.0, Some(dir.path().to_path_buf()))
        .await
        .expect("world starts");
    let base = sovtui::sim::dataplane::files_dir(DataPlaneKind::Postgres, &dir.path().join("pg"));
    let _pg = world
        .attach_data_plane(FQDN, DataPlaneKind::Postgres, &base, Replication::Sync)
        .await
        .expect("postgres pair");
    let endpoints = world.endpoints();
    let before = hetzner_state(&world);

    let (mut app, mut rx) = drill_opened(&endpoints, dir.path(), state.path());
    pump(&mut app, &mut rx, |d| d.phase != Phase::Planning).await;
    {
        let d = app.drill.as_mut().expect("pane");
        assert_eq!(d.phase, Phase::Planned, "{:?}", d.phase);
        assert_eq!(d.data_plane.as_deref(), Some("postgres"));
        d.client_options = ClientOptions {
            action_poll: Duration::from_millis(40),
            ..ClientOptions::default()
        };
        d.warmup_rows = 50;
    }
    app.run_command(Command::Arm);
    chars(&mut app, FQDN);
    key(&mut app, KeyCode::Enter);
    let phase = app.drill.as_ref().expect("pane").phase.clone();
    if phase != Phase::Running {
        panic!("not running ({phase:?}):\n{}", render(&mut app, 140, 50));
    }
    pump(&mut app, &mut rx, |d| {
        d.probe.as_ref().is_some_and(|p| p.acked >= 50) || !d.is_running()
    })
    .await;
    let live = render(&mut app, 140, 50);
    assert!(live.contains("rows acknowledged"), "{live}");
    pump(&mut app, &mut rx, |d| {
        matches!(d.phase, Phase::Done | Phase::Failed(_))
    })
    .await;
    let d = app.drill.as_ref().expect("pane");
    let f = d
        .finished
        .as_ref()
        .unwrap_or_else(|| panic!("{:?}", d.phase));
    assert_eq!(f.outcome, "passed", "{:?}", f.error);
    let v = f.report.verification.clone().expect("verification");
    assert!(v.acked >= 50 && v.zero_loss(), "{v:?}");
    assert!(f.report.rto_ms.is_some() && f.report.rpo_ms == Some(0));
    let done = render(&mut app, 140, 50);
    assert!(done.contains("zero transaction loss"), "{done}");
    assert_eq!(
        hetzner_state(&world),
        before,
        "the reverse step restored the region"
    );
}
