//! The recovery pane in-process: snapshots of the plan view and of the confirm prompt
//! (TestBackend + insta), and the App reducer driven against the simulated world: plan, a wrong
//! FQDN that deletes nothing, arm, the FQDN typed back, the purge of exactly the plan shown —
//! nothing of the Sovereign left but an object created after the plan, which is reported.
//! With a mothership (the world's fleet file): the three steps — purge, PDM release, the `failed`
//! record cancelled through the catalyst-api pod — each with its outcome on screen, and F2
//! choosing catalyst-api's wipe route instead.

use std::collections::BTreeMap;
use std::time::Duration;

use crossterm::event::KeyCode;
use sovtui::provision::hetzner::client::Credentials;
use sovtui::provision::hetzner::credentials::{ProjectSummary, TokenSource};
use sovtui::provision::hetzner::external::StepOutcome;
use sovtui::provision::hetzner::inventory::{CloudObject, Kind};
use sovtui::provision::hetzner::naming;
use sovtui::provision::hetzner::recover::{self, MatchReason, RecoveryPlan, Target};
use sovtui::sim::hetzner::Kind as SimKind;
use sovtui::sim::scenario::WorldScenario;
use sovtui::sim::world::World;
use sovtui::tui::app::{App, Msg, View, ViewKind};
use sovtui::tui::palette::Command;
use sovtui::tui::recover::{Phase, RecoverMsg, RecoverScreen};

mod support;
use support::cockpit::{chars, key, render};

const DEADLINE: Duration = Duration::from_secs(240);
const FQDN: &str = "omantel.omani.works";

fn app() -> App {
    support::cockpit::detached_app("recover test")
}

fn clear_confirm(app: &mut App) {
    for _ in 0..80 {
        key(app, KeyCode::Backspace);
    }
}

fn object(kind: Kind, id: i64, name: &str, labelled: bool) -> CloudObject {
    let mut labels = BTreeMap::new();
    if labelled {
        labels.insert(naming::SOVEREIGN_LABEL.to_string(), FQDN.to_string());
    }
    CloudObject {
        kind,
        id,
        name: name.into(),
        labels,
    }
}

fn fixed_plan() -> RecoveryPlan {
    let targets = vec![
        Target {
            object: object(Kind::Server, 11, "catalyst-omantel-omani-works-cp1", true),
            reasons: vec![MatchReason::Label, MatchReason::Name],
        },
        Target {
            object: object(Kind::Server, 12, "ccm-worker-7f3a", false),
            reasons: vec![MatchReason::Network { network_id: 21 }],
        },
        Target {
            object: object(Kind::PrimaryIp, 31, "primary_ip-48213", false),
            reasons: vec![MatchReason::Server { server_id: 12 }],
        },
        Target {
            object: object(Kind::Network, 21, "catalyst-omantel-omani-works-net", true),
            reasons: vec![MatchReason::Label, MatchReason::Name],
        },
    ];
    RecoveryPlan {
        format: recover::PLAN_FORMAT.into(),
        fqdn: FQDN.into(),
        created_at: "2026-12-06T08:00:00Z".into(),
        dry_run: true,
        project: ProjectSummary {
            token_source: TokenSource::EnvHcloudToken,
            token_fingerprint: "0badc0de".into(),
            endpoint: "https://api.hetzner.cloud/v1".into(),
            servers: 7,
        },
        by_kind: BTreeMap::new(),
        targets,
        ambiguous: Vec::new(),
        vetoed: Vec::new(),
        others: Vec::new(),
        pdm: StepOutcome::skipped("no PDM URL known to the cockpit"),
        api: StepOutcome::skipped("no catalyst-api URL"),
        mothership: None,
    }
}

/// An App showing the recovery pane with a fixed plan (no tasks run: no sender, no runtime).
fn planned_app() -> App {
    let mut app = app();
    app.raise(View::Sovereign(FQDN.into()));
    app.run_command(Command::View(ViewKind::Recover));
    assert_eq!(*app.view(), View::Recover);
    app.update(Msg::Recover(RecoverMsg::Planned {
        fqdn: FQDN.into(),
        result: Ok(Box::new(fixed_plan())),
    }));
    app
}

fn mothership_plan() -> RecoveryPlan {
    use sovtui::config::fleet_file::MothershipEntry;
    use sovtui::provision::mothership::MothershipPlan;
    use sovtui::provision::mothership::pdm::{PdmPlan, PdmState};
    use sovtui::provision::mothership::records::{PlannedRecord, RecordRoute, RecordsPlan};
    let mut plan = fixed_plan();
    let pdm = PdmPlan {
        url: "http://127.0.0.1:8081".into(),
        pool: "omani.works".into(),
        sub: "omantel".into(),
        state: Some(PdmState::Reserved),
        error: None,
    };
    let records = RecordsPlan {
        namespace: "catalyst".into(),
        route: RecordRoute::Exec,
        api_url: None,
        records: vec![
            PlannedRecord {
                id: "4f2c9a1b0d3e5f67".into(),
                path: "/var/lib/catalyst/deployments/4f2c9a1b0d3e5f67.json".into(),
                status: "failed".into(),
                finished_at: Some("2026-12-06T07:58:00Z".into()),
                events: 41,
                sha256: "ab".repeat(32),
                cancel: true,
            },
            PlannedRecord {
                id: "0a1b2c3d4e5f6071".into(),
                path: "/var/lib/catalyst/deployments/0a1b2c3d4e5f6071.json".into(),
                status: "cancelled".into(),
                finished_at: Some("2026-12-01T12:00:00Z".into()),
                events: 12,
                sha256: "cd".repeat(32),
                cancel: false,
            },
        ],
        error: None,
    };
    plan.pdm = pdm.summary();
    plan.api = records.summary();
    plan.mothership = Some(MothershipPlan {
        entry: MothershipEntry::with_context("catalyst-zero"),
        pdm: Some(pdm),
        records,
    });
    plan
}

/// The plan through a mothership: step 2 with the PDM name and state, step 3 with the route
/// and each exact record; then the report of all three steps.
#[test]
fn mothership_steps_snapshot() {
    use sovtui::provision::hetzner::external::StepStatus;
    use sovtui::provision::mothership::MothershipReport;
    use sovtui::provision::mothership::pdm::{PdmReport, PdmState};
    use sovtui::provision::mothership::records::{RecordReport, RecordsReport};

    let mut app = app();
    app.raise(View::Sovereign(FQDN.into()));
    app.run_command(Command::View(ViewKind::Recover));
    let plan = mothership_plan();
    app.update(Msg::Recover(RecoverMsg::Planned {
        fqdn: FQDN.into(),
        result: Ok(Box::new(plan.clone())),
    }));
    let shown = render(&mut app, 130, 26);
    assert!(
        shown.contains("omantel.omani.works is RESERVED in PDM: --apply releases it")
            && shown.contains("4f2c9a1b0d3e5f67 failed (41 events) → cancelled")
            && shown.contains("0a1b2c3d4e5f6071 cancelled (12 events) left alone")
            && shown.contains("F2: switch route"),
        "{shown}"
    );
    insta::assert_snapshot!("recover_mothership_plan", shown);
    // Hetzner clean but the name held or a record to end: the run still has work.
    let mut clean = plan.clone();
    clean.targets.clear();
    app.update(Msg::Recover(RecoverMsg::Planned {
        fqdn: FQDN.into(),
        result: Ok(Box::new(clean)),
    }));
    app.run_command(Command::Arm);
    chars(&mut app, FQDN);
    assert_eq!(
        app.recover.as_ref().expect("pane").blocked_reason(true),
        None
    );

    let outcome = |status, detail: &str| StepOutcome {
        status,
        detail: detail.into(),
    };
    let records = RecordsReport {
        records: vec![
            RecordReport {
                id: "4f2c9a1b0d3e5f67".into(),
                planned_status: "failed".into(),
                status_after: Some("cancelled".into()),
                changed_since_plan: false,
                outcome: outcome(
                    StepStatus::Done,
                    "4f2c9a1b0d3e5f67: failed → cancelled (finishedAt 2026-12-06T08:01:00Z, \
                     operator-recovery event appended; read back from catalyst/catalyst-api-7c9d8f6b5-x2k4q)",
                ),
            },
            RecordReport {
                id: "0a1b2c3d4e5f6071".into(),
                planned_status: "cancelled".into(),
                status_after: Some("cancelled".into()),
                changed_since_plan: false,
                outcome: outcome(
                    StepStatus::NothingToDo,
                    "0a1b2c3d4e5f6071: cancelled — left alone",
                ),
            },
        ],
        appeared_after_plan: Vec::new(),
        error: None,
    };
    let pdm = PdmReport {
        name: "omantel.omani.works".into(),
        planned: Some(PdmState::Reserved),
        before: Some(PdmState::Reserved),
        after: Some(PdmState::Available),
        changed_since_plan: false,
        outcome: outcome(
            StepStatus::Done,
            "omantel.omani.works: RESERVED → released → AVAILABLE (verified)",
        ),
    };
    let report = recover::RecoveryReport {
        fqdn: FQDN.into(),
        deleted: plan.targets.iter().map(|t| t.object.clone()).collect(),
        remaining: Vec::new(),
        appeared_after_plan: Vec::new(),
        skipped: Vec::new(),
        ambiguous: Vec::new(),
        errors: Vec::new(),
        sweep_rounds: 2,
        verified_zero_orphans: true,
        pdm: pdm.outcome.clone(),
        api: records.summary(),
        mothership: Some(MothershipReport {
            pdm: Some(pdm),
            records,
        }),
        journal: None,
        stats: Default::default(),
        elapsed_ms: 4321,
    };
    app.update(Msg::Recover(RecoverMsg::Planned {
        fqdn: FQDN.into(),
        result: Ok(Box::new(plan)),
    }));
    app.update(Msg::Recover(RecoverMsg::Finished {
        fqdn: FQDN.into(),
        result: Ok(Box::new(report)),
    }));
    let shown = render(&mut app, 130, 26);
    assert!(
        shown.contains("RESERVED → released → AVAILABLE (verified)")
            && shown.contains("4f2c9a1b0d3e5f67: failed → cancelled")
            && !shown.contains("F2: switch route"),
        "{shown}"
    );
    insta::assert_snapshot!("recover_mothership_done", shown);
}

#[test]
fn plan_view_snapshot() {
    let mut app = planned_app();
    insta::assert_snapshot!("recover_plan", render(&mut app, 130, 24));
    // Every view at 80×24 and 200×50.
    insta::assert_snapshot!("recover_plan_80x24", render(&mut app, 80, 24));
    insta::assert_snapshot!("recover_plan_200x50", render(&mut app, 200, 50));
}

#[test]
fn confirm_prompt_snapshot_and_reasons() {
    let mut app = planned_app();
    // Read-only: even the right FQDN does not enable the purge.
    chars(&mut app, FQDN);
    let screen = app.recover.as_ref().expect("pane");
    assert_eq!(
        screen.blocked_reason(app.armed).as_deref(),
        Some("read-only: :arm first")
    );
    app.run_command(Command::Arm);
    clear_confirm(&mut app);
    chars(&mut app, "omantel.omani.work");
    let screen = app.recover.as_ref().expect("pane");
    let why = screen.blocked_reason(app.armed).expect("mismatch blocks");
    assert!(why.contains("does not match"), "{why}");
    insta::assert_snapshot!("recover_confirm_mismatch", render(&mut app, 130, 24));
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(
        app.recover.as_ref().expect("pane").blocked_reason(true),
        None
    );
    insta::assert_snapshot!("recover_confirm_ready", render(&mut app, 130, 24));
}

/// Apply every message the tasks send until `done` holds.
async fn pump(
    app: &mut App,
    rx: &mut tokio::sync::mpsc::Receiver<Msg>,
    done: impl Fn(&RecoverScreen) -> bool,
) {
    tokio::time::timeout(DEADLINE, async {
        while !done(app.recover.as_ref().expect("pane")) {
            let msg = rx.recv().await.expect("channel open");
            app.update(msg);
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "timed out; phase {:?}",
            app.recover.as_ref().map(|r| r.phase.clone())
        )
    });
}

fn sovereign_objects(world: &World) -> Vec<(SimKind, i64)> {
    let control = world.hetzner.control();
    let slug = naming::slug(FQDN);
    let mut out = Vec::new();
    for kind in SimKind::ALL {
        for o in control.list(kind, None).expect("list") {
            let labelled = o["labels"][naming::SOVEREIGN_LABEL].as_str() == Some(FQDN);
            let named = o["name"].as_str().is_some_and(|n| n.contains(&slug));
            if labelled || named {
                out.push((kind, o["id"].as_i64().unwrap_or_default()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reducer_plans_refuses_a_wrong_fqdn_then_purges_the_sovereign() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = WorldScenario::load("demo").expect("demo scenario");
    let world = World::start(scenario, 600.0, Some(dir.path().to_path_buf()))
        .await
        .expect("world starts");
    let endpoints = world.endpoints();
    let before = sovereign_objects(&world);
    assert!(!before.is_empty(), "the demo world holds {FQDN}'s objects");

    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let mut app = app();
    app.effects.tx = Some(tx);
    app.drill_state_dir = dir.path().to_path_buf();
    app.update(Msg::HetznerEndpoint(Credentials::new(
        endpoints.hetzner_token.clone(),
        endpoints.hetzner.clone(),
    )));
    app.raise(View::Sovereign(FQDN.into()));
    app.run_command(Command::View(ViewKind::Recover));
    assert_eq!(*app.view(), View::Recover);
    {
        let screen = app.recover.as_mut().expect("pane");
        // The pane journals where the next start looks for interrupted purges.
        assert_eq!(screen.options.journal_dir, Some(dir.path().join("journal")));
        screen.options.poll_interval = Duration::from_millis(100);
    }
    pump(&mut app, &mut rx, |r| !matches!(r.phase, Phase::Planning)).await;
    let screen = app.recover.as_ref().expect("pane");
    assert!(
        matches!(screen.phase, Phase::Planned),
        "plan: {:?}",
        screen.phase
    );
    assert!(screen.rows.len() >= before.len(), "{:?}", screen.rows);
    assert!(screen.rows.iter().all(|r| !r.why.is_empty()));
    // The token and project the plan was made with are on screen.
    let shown = render(&mut app, 130, 30);
    assert!(
        shown.contains("token ") && shown.contains("server(s) in the project"),
        "{shown}"
    );
    // Created after the operator read the plan: the purge must leave it alone.
    let late = world
        .hetzner
        .control()
        .create(
            SimKind::FloatingIp,
            serde_json::json!({"type": "ipv4", "home_location": "fsn1",
                               "labels": {naming::SOVEREIGN_LABEL: FQDN}}),
        )
        .expect("late floating IP")["id"]
        .as_i64()
        .expect("id");
    let before = sovereign_objects(&world);

    // Armed, but a wrong FQDN: Enter is refused with the reason and nothing is deleted.
    app.run_command(Command::Arm);
    chars(&mut app, "muscat.omani.works");
    key(&mut app, KeyCode::Enter);
    let screen = app.recover.as_ref().expect("pane");
    assert!(matches!(screen.phase, Phase::Planned));
    assert!(
        screen
            .gate
            .refused
            .as_deref()
            .is_some_and(|r| r.contains("does not match")),
        "{:?}",
        screen.gate.refused
    );
    assert_eq!(
        sovereign_objects(&world),
        before,
        "a wrong FQDN deletes nothing"
    );

    // The right FQDN: the purge runs, reporting per object, and nothing remains.
    clear_confirm(&mut app);
    chars(&mut app, FQDN);
    key(&mut app, KeyCode::Enter);
    assert!(matches!(
        app.recover.as_ref().expect("pane").phase,
        Phase::Applying
    ));
    pump(&mut app, &mut rx, |r| {
        matches!(r.phase, Phase::Done(_) | Phase::ApplyFailed(_))
    })
    .await;
    let screen = app.recover.as_ref().expect("pane");
    let Phase::Done(report) = &screen.phase else {
        panic!("purge failed: {:?}", screen.phase);
    };
    assert!(report.remaining.is_empty(), "{:?}", report.remaining);
    assert_eq!(
        report
            .appeared_after_plan
            .iter()
            .map(|t| t.object.id)
            .collect::<Vec<_>>(),
        [late]
    );
    assert!(
        !report.verified_zero_orphans,
        "an object appeared after the plan"
    );
    let (late_rows, rows): (Vec<_>, Vec<_>) = screen.rows.iter().partition(|r| r.object.id == late);
    assert!(
        rows.iter()
            .all(|r| r.state == sovtui::tui::recover::ObjectState::Deleted),
        "{rows:?}"
    );
    assert!(
        matches!(&late_rows[..], [r] if matches!(&r.state,
            sovtui::tui::recover::ObjectState::Untouched(why) if why.contains("appeared after the plan"))),
        "{late_rows:?}"
    );
    let planned: Vec<(String, i64, Kind)> = rows
        .iter()
        .map(|r| (r.object.name.clone(), r.object.id, r.object.kind))
        .collect();
    let screen_text = render(&mut app, 130, 30);
    assert!(
        screen_text.contains("appeared after the plan"),
        "{screen_text}"
    );

    // Lingering objects leave the listing as the simulated clock moves on.
    let only_late = vec![(SimKind::FloatingIp, late)];
    let left = tokio::time::timeout(DEADLINE, async {
        loop {
            let left = sovereign_objects(&world);
            if left == only_late {
                break left;
            }
            world.clock.advance(Duration::from_secs(60));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| sovereign_objects(&world));
    assert_eq!(left, only_late, "still in the simulated Hetzner");
    // Unlabelled attached objects the plan found are gone too.
    let control = world.hetzner.control();
    for (name, id, kind) in &planned {
        let kind = SimKind::ALL
            .into_iter()
            .find(|k| k.path() == kind.api_path())
            .expect("kind");
        assert!(
            control
                .list(kind, None)
                .expect("list")
                .iter()
                .all(|o| o["id"].as_i64() != Some(*id)),
            "{name} #{id} still listed"
        );
    }
}

#[test]
fn an_interrupted_purge_is_named_in_the_start_notice() {
    use sovtui::provision::journal::{self, Journal, Op};
    let state = tempfile::tempdir().expect("state dir");
    let journals = journal::root(state.path());
    let mut cut = Journal::create(&journals, Op::Purge, FQDN).expect("journal");
    cut.planned(&serde_json::json!({"targets": []}))
        .expect("plan");
    cut.started("delete server catalyst-omantel-omani-works-cp1 #11")
        .expect("delete");
    // A purge of another Sovereign that ended is not named.
    let mut ended = Journal::create(&journals, Op::Purge, "muscat.omani.works").expect("journal");
    ended
        .planned(&serde_json::json!({"targets": []}))
        .expect("plan");
    ended
        .finish("verified-clean", serde_json::Value::Null)
        .expect("done");

    let mut app = app();
    app.drill_state_dir = state.path().to_path_buf();
    app.offer_unfinished();
    let text = app
        .notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default();
    assert!(
        text.contains(&format!("interrupted purge of {FQDN} (started "))
            && text.contains("last step: delete server catalyst-omantel-omani-works-cp1 #11")
            && text.contains(":recover"),
        "{text}"
    );
    assert!(!text.contains("muscat"), "{text}");
}

/// Leaf C3's world with its name still held in PDM, the fleet file's `[mothership]` in the
/// cockpit: the pane plans all three steps, F2 switches step 3 to the wipe route and back, and
/// the armed run purges the orphans, releases the name and cancels the `failed` record — each
/// step's outcome on screen, the record read back through catalyst-api.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reducer_runs_the_three_steps_through_the_mothership() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = support::tools::workspace_root().join("fixtures/scenarios/leaf-C3.yaml");
    let scenario =
        WorldScenario::load(&path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    let world = World::start(scenario, 1.0, Some(dir.path().to_path_buf()))
        .await
        .expect("world starts");
    let endpoints = world.endpoints();
    let id = world
        .deployments()
        .get(FQDN)
        .cloned()
        .expect("a deployment");
    let catalyst =
        sovtui::provision::catalyst::CatalystClient::new(&endpoints.catalyst_api).expect("client");
    tokio::time::timeout(DEADLINE, async {
        while catalyst
            .deployment(&id)
            .await
            .map(|d| d.status)
            .ok()
            .as_deref()
            != Some("failed")
        {
            world.clock.advance(Duration::from_secs(20));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("C3's record fails");
    let reserved = reqwest::Client::new()
        .post(format!("{}/api/v1/pool/omani.works/reserve", endpoints.pdm))
        .json(&serde_json::json!({"subdomain": "omantel"}))
        .send()
        .await
        .expect("reserve");
    assert_eq!(reserved.status().as_u16(), 201);

    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let mut app = app();
    app.effects.tx = Some(tx);
    app.drill_state_dir = dir.path().to_path_buf();
    app.fleet_file = Some(dir.path().join("fleet.toml"));
    app.catalyst_api = Some(endpoints.catalyst_api.clone());
    app.update(Msg::HetznerEndpoint(Credentials::new(
        endpoints.hetzner_token.clone(),
        endpoints.hetzner.clone(),
    )));
    app.raise(View::Sovereign(FQDN.into()));
    app.run_command(Command::View(ViewKind::Recover));
    app.recover.as_mut().expect("pane").options.poll_interval = Duration::from_millis(100);
    pump(&mut app, &mut rx, |r| !matches!(r.phase, Phase::Planning)).await;
    let route = |app: &App| {
        let p = app.recover.as_ref().and_then(|r| r.plan.as_ref());
        p.and_then(|p| p.mothership.as_ref())
            .map(|m| m.records.route.word())
    };
    assert_eq!(
        route(&app),
        Some("exec"),
        "{:?}",
        app.recover.as_ref().map(|r| &r.phase)
    );
    let shown = render(&mut app, 130, 30);
    assert!(
        shown.contains("omantel.omani.works is RESERVED in PDM")
            && shown.contains(&format!("{id} failed"))
            && shown.contains("→ cancelled"),
        "{shown}"
    );

    // F2: the wipe route, planned afresh; F2 again: back to exec.
    key(&mut app, KeyCode::F(2));
    pump(&mut app, &mut rx, |r| !matches!(r.phase, Phase::Planning)).await;
    assert_eq!(route(&app), Some("wipe"));
    assert!(render(&mut app, 130, 30).contains("→ wiped"));
    key(&mut app, KeyCode::F(2));
    pump(&mut app, &mut rx, |r| !matches!(r.phase, Phase::Planning)).await;
    assert_eq!(route(&app), Some("exec"));

    app.run_command(Command::Arm);
    chars(&mut app, FQDN);
    key(&mut app, KeyCode::Enter);
    assert!(matches!(
        app.recover.as_ref().expect("pane").phase,
        Phase::Applying
    ));
    pump(&mut app, &mut rx, |r| {
        matches!(r.phase, Phase::Done(_) | Phase::ApplyFailed(_))
    })
    .await;
    let screen = app.recover.as_ref().expect("pane");
    let Phase::Done(report) = &screen.phase else {
        panic!("recovery failed: {:?}", screen.phase);
    };
    assert!(report.complete(), "{report:#?}");
    let shown = render(&mut app, 130, 30);
    assert!(
        shown.contains("✓ done")
            && shown.contains("RESERVED → released → AVAILABLE (verified)")
            && shown.contains(&format!("{id}: failed → cancelled")),
        "{shown}"
    );
    assert_eq!(
        catalyst.deployment(&id).await.expect("record").status,
        "cancelled"
    );
}

/// `sovtui demo` on a pseudo-terminal: the demo's fleet file has the world's `[mothership]`, so
/// the real binary's pane plans steps 2 and 3 through it (omantel: its PDM name and state, its
/// deployment records — none), and F2 switches step 3 to catalyst-api's wipe route and back, each
/// time a fresh dry run. (The armed three steps run in
/// `reducer_runs_the_three_steps_through_the_mothership`.)
#[test]
fn pty_the_demo_pane_plans_steps_2_and_3_through_the_mothership() {
    use support::pty::Spawn;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Spawn::demo()
        .size(40, 160)
        .wait(Duration::from_secs(120))
        .start(dir.path());
    s.wait_until("live data", |screen| {
        screen.contains("omantel.omani.works") && screen.contains("● live")
    });
    s.send(":jump omantel\r");
    s.send(":recover\r");
    let exec = |screen: &str| {
        screen.contains("Recover (§2.2/§2.3) · omantel.omani.works")
            && screen.contains("2 PDM         NothingToDo: omantel.omani.works is AVAILABLE in PDM")
            && screen.contains("3 record      NothingToDo: exec into catalyst/catalyst-api → cancelled · F2: switch route")
    };
    s.wait_until("steps 2 and 3 by exec", exec);
    s.send("\x1bOQ"); // F2
    s.wait_until("step 3 by the wipe route", |screen| {
        screen.contains(
            "3 record      NothingToDo: catalyst-api's wipe route → wiped · F2: switch route",
        )
    });
    s.send("\x1bOQ");
    s.wait_until("step 3 back to exec", exec);
    s.send("\x03");
    assert!(s.wait_exit());
}
