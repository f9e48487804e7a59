//! The cockpit's pre-flight (runbook §1.2): the `:preflight` pane (snapshots of `checking…` and of
//! a report, at 80×24 and wide; outside text made terminal-safe; stale answers dropped), and the
//! wizard's Review step gated on it against the simulated world — a ✗ item refuses Provision, a
//! typed override naming it lets the create through, and the provision journal holds the override.

use std::time::Duration;

use crossterm::event::KeyCode;
use sovtui::provision::preflight::{self, Item, Report, Verdict};
use sovtui::provision::wizard::{CheckReply, Provider, SshMode, Step, Wizard, WizardConfig};
use sovtui::sim::scenario::WorldScenario;
use sovtui::sim::world::World;
use sovtui::tui::app::{App, Msg, View};
use sovtui::tui::palette::Command;
use sovtui::tui::preflight::PreflightMsg;
use sovtui::tui::wizard::gate::{GateState, OVERRIDE_FIELD};
use sovtui::tui::wizard::{Effects, Mode, Row, screen_rows};

mod support;
use support::cockpit::{chars, key, render};

const DEADLINE: Duration = Duration::from_secs(120);

fn app() -> App {
    support::cockpit::detached_app("preflight test")
}

fn report() -> Report {
    let items = preflight::IDS
        .iter()
        .map(|id| {
            let (verdict, evidence) = match *id {
                "B" => (
                    Verdict::Unknown,
                    vec!["no request (--from REQ) to read the key from".to_string()],
                ),
                "E" => (
                    Verdict::Fail,
                    // Outside text with a terminal escape: shown inert.
                    vec!["secret catalyst/catalyst-ghcr-pull-token: not found\u{1b}]52;c;cHduZWQ=\u{7}".to_string()],
                ),
                _ => (Verdict::Pass, vec![format!("{id}: as the runbook wants")]),
            };
            Item {
                id: id.to_string(),
                title: preflight::title(id).into(),
                verdict,
                evidence,
                fix: if verdict == Verdict::Pass {
                    String::new()
                } else {
                    preflight::fix(id).into()
                },
            }
        })
        .collect();
    Report {
        fqdn: "t42.omani.works".into(),
        items,
    }
}

#[test]
fn the_pane_says_checking_then_each_item_with_a_word_its_evidence_and_fix() {
    let mut app = app();
    app.run_command(Command::Preflight(Some("t42.omani.works".into())));
    assert_eq!(*app.view(), View::Preflight);
    let screen = render(&mut app, 80, 24);
    assert_eq!(screen.matches("checking…").count(), 8, "{screen}");
    insta::assert_snapshot!("preflight_checking_80x24", screen);

    // A stale answer (an earlier run's) is dropped.
    app.update(Msg::Preflight(PreflightMsg {
        seq: 0,
        result: Ok(report()),
    }));
    assert!(app.preflight.as_ref().expect("pane").running);
    app.update(Msg::Preflight(PreflightMsg {
        seq: 1,
        result: Ok(report()),
    }));
    let wide = render(&mut app, 160, 40);
    for word in [
        "✓ ok",
        "✗ FAIL",
        "? unknown",
        "fix: Create a fine-grained token",
    ] {
        assert!(wide.contains(word), "{word}: {wide}");
    }
    assert!(wide.contains("✗ E: do not provision"), "{wide}");
    assert!(
        !wide.contains('\u{1b}') && !wide.contains('\u{7}'),
        "escape shown raw"
    );
    insta::assert_snapshot!("preflight_report_160x40", wide);
    insta::assert_snapshot!("preflight_report_80x24", render(&mut app, 80, 24));

    // `r` runs it again: every item says checking… until the answer.
    key(&mut app, KeyCode::Char('r'));
    let p = app.preflight.as_ref().expect("pane");
    assert!(p.running && p.seq == 2);
    assert_eq!(render(&mut app, 80, 24).matches("checking…").count(), 8);
    // Esc leaves the pane.
    key(&mut app, KeyCode::Esc);
    assert_eq!(*app.view(), View::Fleet);
}

/// A wizard that passes every step (solo, the world's token, a pasted key), on Review.
async fn wizard_on_review(world: &World, sub: &str) -> Wizard {
    let e = world.endpoints();
    let mut w = Wizard::new(WizardConfig::default());
    w.set_industry(sovtui::provision::wizard::fields::INDUSTRIES[0])
        .expect("industry");
    w.set_org_size(sovtui::provision::wizard::fields::ORG_SIZES[0])
        .expect("size");
    w.set_topology(Some(sovtui::provision::wizard::Topology::Solo));
    w.seed_regions();
    w.set_token(Provider::Hetzner, &e.hetzner_token);
    w.set_hetzner_project_id(sovtui::sim::hetzner::PROJECT_ID);
    w.set_ssh_mode(SshMode::Paste);
    w.set_pasted_key(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKE3pPPp6pdfNnPZ2W4fOzZCMs3DGu5wQBvsHIzuT3c4 op@bastion",
    );
    w.set_subdomain(sub);
    for req in w.due_checks() {
        let reply: CheckReply = sovtui::tui::wizard::post_check(&e.catalyst_api, &req).await;
        w.complete(req.ticket, &reply);
    }
    assert_eq!(
        w.goto(Step::Review),
        Ok(Step::Review),
        "{:?}",
        w.issues(Step::Domain)
    );
    w
}

async fn pump_until(
    app: &mut App,
    rx: &mut tokio::sync::mpsc::Receiver<Msg>,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    let r = tokio::time::timeout(DEADLINE, async {
        while !done(app) {
            match rx.recv().await {
                Some(m) => app.update(m),
                None => panic!("channel closed"),
            }
        }
    })
    .await;
    if r.is_err() {
        let w = app.wizard.as_ref().expect("wizard");
        panic!("timed out waiting for {what}; message {:?}", w.message);
    }
}

/// Move the wizard's cursor onto the first row `pred` accepts (the rows as the screen has them).
fn go_to(app: &mut App, pred: impl Fn(&Row) -> bool) {
    let list = screen_rows(app.wizard.as_ref().expect("wizard"));
    let idx = list
        .iter()
        .position(&pred)
        .unwrap_or_else(|| panic!("no such row: {list:#?}"));
    for _ in 0..list.len() {
        key(app, KeyCode::Up);
    }
    for _ in 0..idx {
        key(app, KeyCode::Down);
    }
}

fn provision(app: &mut App) {
    go_to(
        app,
        |r| matches!(r, Row::Action { label, .. } if label.starts_with("Provision")),
    );
    key(app, KeyCode::Enter);
}

fn type_override(app: &mut App, text: &str) {
    go_to(
        app,
        |r| matches!(r, Row::Text { field, .. } if field == OVERRIDE_FIELD),
    );
    key(app, KeyCode::Enter);
    for _ in 0..20 {
        key(app, KeyCode::Backspace);
    }
    chars(app, text);
    key(app, KeyCode::Enter);
}

fn message(app: &App) -> String {
    app.wizard
        .as_ref()
        .and_then(|w| w.message.as_ref())
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_refuses_provision_on_a_failed_item_until_overridden_and_journals_the_override() {
    use sovtui::provision::journal::{self, Event};
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario: WorldScenario =
        serde_yaml::from_str("name: gate\nmothership:\n  ghcr_secret_missing: true\n")
            .expect("scenario");
    let world = World::start(scenario, 1.0, Some(dir.path().join("world")))
        .await
        .expect("world starts");
    let e = world.endpoints();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let mut app = app();
    app.effects = Effects { tx: Some(tx) };
    app.fleet_file = Some(dir.path().join("world/fleet.toml"));
    app.drill_state_dir = dir.path().join("state");
    app.update(Msg::CatalystApi(e.catalyst_api.clone()));
    app.update(Msg::HetznerEndpoint(
        sovtui::provision::hetzner::client::Credentials::new(
            e.hetzner_token.clone(),
            e.hetzner.clone(),
        ),
    ));
    app.run_command(Command::View(sovtui::tui::app::ViewKind::Wizard));
    app.wizard.as_mut().expect("wizard").wizard = wizard_on_review(&world, "gate2").await;
    // Any key on Review starts the pre-flight for the request as it stands.
    key(&mut app, KeyCode::Up);
    let screen = render(&mut app, 160, 60);
    assert!(screen.contains("checking A–H"), "{screen}");
    pump_until(&mut app, &mut rx, "the pre-flight", |a| {
        matches!(
            a.wizard.as_ref().map(|w| &w.preflight.state),
            Some(GateState::Done(_))
        )
    })
    .await;
    let Some(GateState::Done(r)) = app.wizard.as_ref().map(|w| w.preflight.state.clone()) else {
        unreachable!()
    };
    let failed: Vec<&str> = r.failed().iter().map(|i| i.id.as_str()).collect();
    assert_eq!(failed, ["E"], "{r:#?}");
    let screen = render(&mut app, 160, 60);
    assert!(screen.contains("E ✗ FAIL"), "{screen}");
    assert!(
        screen.contains("catalyst-ghcr-pull-token"),
        "the fix on Review: {screen}"
    );

    // Provision is refused: nothing created, nothing journaled.
    provision(&mut app);
    assert!(
        message(&app).contains("Provision refused"),
        "{}",
        message(&app)
    );
    assert!(!app.wizard.as_ref().expect("wizard").provisioning);
    // An override that does not name E, or a single key, does not let it through.
    for typed in ["A", "y"] {
        type_override(&mut app, typed);
        provision(&mut app);
        assert!(
            message(&app).contains("Provision refused"),
            "{typed}: {}",
            message(&app)
        );
    }
    let client = sovtui::provision::catalyst::CatalystClient::new(&e.catalyst_api).expect("client");
    assert!(client.list_deployments().await.expect("list").is_empty());
    let root = journal::root(&dir.path().join("state"));
    assert!(!root.join("provision").exists(), "nothing journaled yet");

    // Naming E: the create goes, after the override is journaled.
    type_override(&mut app, "E");
    provision(&mut app);
    pump_until(&mut app, &mut rx, "the create", |a| {
        a.wizard.as_ref().is_some_and(|w| {
            matches!(w.mode, Mode::Progress(_))
                || w.message.as_ref().is_some_and(|m| {
                    m.text.contains("refused") || m.text.contains("nothing was sent")
                })
        })
    })
    .await;
    assert!(
        matches!(app.wizard.as_ref().expect("wizard").mode, Mode::Progress(_)),
        "{}",
        message(&app)
    );
    let listed = client.list_deployments().await.expect("list");
    let created = listed
        .iter()
        .find(|d| d.sovereign_fqdn == "gate2.omani.works")
        .expect("created");
    let files: Vec<_> = std::fs::read_dir(root.join("provision"))
        .expect("provision journals")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1);
    // The create's task records the answer before it reports the create: the run has ended.
    let events = journal::read(&files[0]).expect("journal").entries;
    assert!(
        matches!(&events.last().expect("records").event, Event::Finished { outcome, .. } if outcome == "created"),
        "{events:?}"
    );
    let Event::Planned { plan } = &events[0].event else {
        panic!("{events:?}")
    };
    assert_eq!(plan["fqdn"], "gate2.omani.works");
    assert_eq!(plan["override"]["items"], serde_json::json!(["E"]));
    assert_eq!(plan["override"]["typed"], "E");
    assert!(
        plan["override"]["user"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    assert!(
        plan["override"]["evidence"][0]["evidence"]
            .to_string()
            .contains("catalyst-ghcr-pull-token"),
        "{plan}"
    );
    assert!(
        matches!(&events[2].event, Event::StepDone { detail, .. } if detail["id"] == created.id.as_str()),
        "{events:?}"
    );
    let text = std::fs::read_to_string(&files[0]).expect("journal");
    assert!(!text.contains(&e.hetzner_token), "the token journaled");
}
