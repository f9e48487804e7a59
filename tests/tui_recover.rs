//! The recovery pane in-process: snapshots of the plan view and of the confirm prompt
//! (TestBackend + insta), and the App reducer driven against the simulated world: plan, a wrong
//! FQDN that deletes nothing, arm, the FQDN typed back, the purge of exactly the plan shown —
//! nothing of the Sovereign left but an object created after the plan, which is reported.

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
use sovtui::tui::app::{App, Msg, Settings, View, ViewKind};
use sovtui::tui::palette::Command;
use sovtui::tui::recover::{Phase, RecoverMsg, RecoverScreen};
use sovtui::tui::theme::ColorLevel;

mod support;
use support::cockpit::{chars, key, render};

const DEADLINE: Duration = Duration::from_secs(240);
const FQDN: &str = "omantel.omani.works";

fn app() -> App {
    let mut app = App::new(Settings {
        banner: "recover test".into(),
        level: ColorLevel::Mono,
        theme: None,
        keymap: None,
        config_dir: None,
    });
    app.wizard_draft_path = None;
    app.catalyst_api = None;
    app.fleet_file = None;
    app
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
            .refused
            .as_deref()
            .is_some_and(|r| r.contains("does not match")),
        "{:?}",
        screen.refused
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
