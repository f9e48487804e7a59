//! The wizard and progress screens in-process: a snapshot of every step and of the progress view
//! (TestBackend + insta), and the App reducer driven through all seven steps against the
//! simulated world until the new Sovereign is ready with every component installed.

use std::time::Duration;

use crossterm::event::KeyCode;
use sovtui::provision::catalyst;
use sovtui::provision::wizard::{
    CheckReply, Provider, SshMode, Step, TokenStatus, Wizard, WizardConfig,
};
use sovtui::sim::scenario::WorldScenario;
use sovtui::sim::world::World;
use sovtui::tui::app::{App, Msg, Settings, View};
use sovtui::tui::palette::Command;
use sovtui::tui::theme::ColorLevel;
use sovtui::tui::wizard::progress::ProgressMsg;
use sovtui::tui::wizard::{Effects, Mode, ProgressScreen, Row, screen_rows};

mod support;
use support::cockpit::{chars, key, render};

const DEADLINE: Duration = Duration::from_secs(180);
const KEY_PATH: &str = "/tmp/sovtui-test/catalyst.pem";

fn app() -> App {
    let mut app = App::new(Settings {
        banner: "wizard test".into(),
        level: ColorLevel::Mono,
        theme: None,
        keymap: None,
        config_dir: None,
    });
    app.wizard_draft_path = None;
    app.catalyst_api = None;
    app
}

fn open(app: &mut App) {
    app.run_command(Command::View(sovtui::tui::app::ViewKind::Wizard));
    assert_eq!(*app.view(), View::Wizard);
    app.wizard.as_mut().expect("wizard").private_key_path = KEY_PATH.into();
}

fn step(app: &App) -> Step {
    app.wizard.as_ref().expect("wizard").wizard.step()
}

/// Move the cursor onto the first row matching `pred` with the arrow keys.
fn go_to(app: &mut App, pred: impl Fn(&Row) -> bool) {
    // The rows as the screen has them (Review adds the pre-flight's, which change once a key
    // starts it: counted after the keys that bring the cursor up).
    let rows_now = |app: &App| screen_rows(app.wizard.as_ref().expect("wizard"));
    for _ in 0..rows_now(app).len() + 20 {
        key(app, KeyCode::Up);
    }
    let list = rows_now(app);
    let idx = list
        .iter()
        .position(&pred)
        .unwrap_or_else(|| panic!("no such row: {list:#?}"));
    for _ in 0..idx {
        key(app, KeyCode::Down);
    }
    assert_eq!(app.wizard.as_ref().expect("wizard").cursor, idx);
}

fn text_row(field: &'static str) -> impl Fn(&Row) -> bool {
    move |r| matches!(r, Row::Text { field: f, .. } if f == field)
}

fn action_row(label: &'static str) -> impl Fn(&Row) -> bool {
    move |r| matches!(r, Row::Action { label: l, .. } if l.contains(label))
}

/// Type `value` into the text field `field` (replacing what is there).
fn type_into(app: &mut App, field: &'static str, value: &str) {
    go_to(app, text_row(field));
    key(app, KeyCode::Enter);
    for _ in 0..200 {
        key(app, KeyCode::Backspace);
    }
    chars(app, value);
    key(app, KeyCode::Enter);
    assert!(app.wizard.as_ref().expect("wizard").editing.is_none());
}

/// Pick the first option of the Org step's choices (industry and size start unset).
fn choose_org(app: &mut App) {
    for field in ["orgIndustry", "orgSize"] {
        go_to(
            app,
            move |r| matches!(r, Row::Choice { field: f, .. } if f == field),
        );
        key(app, KeyCode::Right);
    }
}

/// A wizard that passes every step, built through the public API (the subdomain check answered
/// as catalyst-api would), for the pictures of the later steps.
fn complete_wizard() -> Wizard {
    let mut w = Wizard::new(WizardConfig::default());
    w.set_industry(sovtui::provision::wizard::fields::INDUSTRIES[0])
        .expect("industry");
    w.set_org_size(sovtui::provision::wizard::fields::ORG_SIZES[0])
        .expect("size");
    w.seed_regions();
    w.use_demo_token(Provider::Hetzner);
    w.set_hetzner_project_id("4711");
    w.set_ssh_mode(SshMode::Paste);
    w.set_pasted_key(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKE3pPPp6pdfNnPZ2W4fOzZCMs3DGu5wQBvsHIzuT3c4 op@bastion",
    );
    w.set_subdomain("acme");
    for req in w.due_checks() {
        w.complete(
            req.ticket,
            &CheckReply::json(
                200,
                &serde_json::json!({"available": true, "fqdn": "acme.omani.works"}),
            ),
        );
    }
    w
}

#[test]
fn every_step_renders() {
    let mut app = app();
    open(&mut app);
    insta::assert_snapshot!("wizard_1_org", render(&mut app, 120, 34));
    // Every view at 80×24 and 200×50.
    insta::assert_snapshot!("wizard_1_org_80x24", render(&mut app, 80, 24));
    insta::assert_snapshot!("wizard_1_org_200x50", render(&mut app, 200, 50));
    choose_org(&mut app);
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(step(&app), Step::Topology);
    insta::assert_snapshot!("wizard_2_topology", render(&mut app, 120, 34));
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(step(&app), Step::Provider);
    insta::assert_snapshot!("wizard_3_provider", render(&mut app, 120, 34));
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(step(&app), Step::Credentials);
    // A token is masked on screen and a short one blocks Next with its reason.
    type_into(&mut app, "hetznerToken", "short-secret-token");
    type_into(&mut app, "hetznerProjectID", "4711");
    let screen = render(&mut app, 120, 34);
    assert!(!screen.contains("short-secret-token"), "{screen}");
    insta::assert_snapshot!("wizard_4_credentials", screen);
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(step(&app), Step::Credentials, "a short token blocks Next");
    let screen = render(&mut app, 120, 34);
    assert!(screen.contains("Next disabled"), "{screen}");

    for (s, name) in [
        (Step::Components, "wizard_5_components"),
        (Step::Domain, "wizard_6_domain"),
        (Step::Review, "wizard_7_review"),
    ] {
        let mut w = complete_wizard();
        assert_eq!(w.goto(s), Ok(s));
        let screen = app.wizard.as_mut().expect("wizard");
        screen.wizard = w;
        screen.cursor = 0;
        screen.message = None;
        insta::assert_snapshot!(name, render(&mut app, 120, 34));
        // Small terminals never panic.
        for (w, h) in [(60, 16), (80, 24), (1, 1)] {
            render(&mut app, w, h);
        }
    }
}

#[test]
fn cascades_wait_for_confirmation() {
    let mut app = app();
    open(&mut app);
    let mut w = complete_wizard();
    assert_eq!(w.goto(Step::Components), Ok(Step::Components));
    app.wizard.as_mut().expect("wizard").wizard = w;
    // Find a component whose removal drops dependents (a cascade) and toggle it.
    let candidate = sovtui::provision::wizard::components::COMPONENTS
        .iter()
        .find(|c| {
            let mut probe = app.wizard.as_ref().expect("wizard").wizard.clone();
            matches!(
                probe.toggle_component(c.id),
                Ok(sovtui::provision::wizard::ToggleOutcome::NeedsConfirmation(
                    _
                ))
            )
        })
        .expect("some toggle cascades");
    let before = app
        .wizard
        .as_ref()
        .expect("wizard")
        .wizard
        .selection()
        .clone();
    go_to(
        &mut app,
        move |r| matches!(r, Row::Component { id, .. } if *id == candidate.id),
    );
    key(&mut app, KeyCode::Char(' '));
    let w = app.wizard.as_ref().expect("wizard");
    assert!(w.wizard.pending_cascade().is_some());
    assert_eq!(w.wizard.selection(), &before, "nothing applied before y");
    let screen = render(&mut app, 120, 34);
    assert!(screen.contains("y apply"), "{screen}");
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(
        app.wizard.as_ref().expect("wizard").wizard.selection(),
        &before
    );
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('y'));
    assert_ne!(
        app.wizard.as_ref().expect("wizard").wizard.selection(),
        &before
    );
}

fn ev(time: &str, phase: &str, level: &str, msg: &str) -> catalyst::Event {
    catalyst::Event {
        time: time.into(),
        phase: phase.into(),
        level: level.into(),
        message: msg.into(),
        component: None,
        state: None,
    }
}

fn comp(time: &str, id: &str, state: &str) -> catalyst::Event {
    catalyst::Event {
        time: time.into(),
        phase: "component".into(),
        level: "info".into(),
        message: format!("{id} {state}"),
        component: Some(id.into()),
        state: Some(state.into()),
    }
}

#[test]
fn progress_view_renders_timeline_grid_banner_and_search() {
    let mut app = app();
    open(&mut app);
    let mut p = ProgressScreen::new("abc123".into(), "acme.omani.works".into());
    let fx = Effects::default();
    let events = vec![
        ev(
            "2026-01-01T10:00:00Z",
            "tofu-init",
            "info",
            "Initializing the backend...",
        ),
        ev(
            "2026-01-01T10:00:10Z",
            "tofu-plan",
            "info",
            "Plan: 12 to add, 0 to change",
        ),
        ev(
            "2026-01-01T10:01:40Z",
            "tofu-apply",
            "info",
            "hcloud_server.cp[0]: Creating...",
        ),
        ev(
            "2026-01-01T10:03:00Z",
            "tofu-output",
            "info",
            "Outputs: control_plane_ip",
        ),
        ev(
            "2026-01-01T10:07:00Z",
            "flux-bootstrap",
            "info",
            "waiting for the kubeconfig",
        ),
        ev(
            "2026-01-01T10:07:30Z",
            "component",
            "warn",
            "no bp-* HelmReleases in flux-system after 120s",
        ),
        comp("2026-01-01T10:08:00Z", "bp-cilium", "installed"),
        comp("2026-01-01T10:09:00Z", "bp-cert-manager", "installing"),
        comp("2026-01-01T10:09:30Z", "bp-harbor", "failed"),
        comp("2026-01-01T10:09:40Z", "bp-keycloak", "pending"),
    ];
    for e in events {
        p.on_msg(ProgressMsg::Event(0, e), &fx, None);
    }
    app.wizard.as_mut().expect("wizard").mode = Mode::Progress(Box::new(p));
    let screen = render(&mut app, 120, 40);
    assert!(
        screen.contains("OVERRUN"),
        "plan took 90 s > 60 s: {screen}"
    );
    assert!(screen.contains("HelmReleases in"), "banner: {screen}");
    insta::assert_snapshot!("progress_120x40", screen);
    insta::assert_snapshot!("progress_80x24", render(&mut app, 80, 24));
    insta::assert_snapshot!("progress_200x50", render(&mut app, 200, 50));
    for (w, h) in [(60, 16), (80, 24), (1, 1)] {
        render(&mut app, w, h);
    }
    // Search the log.
    chars(&mut app, "/hcloud");
    key(&mut app, KeyCode::Enter);
    let screen = render(&mut app, 120, 40);
    assert!(screen.contains("matching \"hcloud\": 1 of"), "{screen}");
    assert!(!screen.contains("Initializing the backend"), "{screen}");
}

/// Pump the reducer's channel into the app, advancing the world clock, until `done` holds.
async fn pump_until(
    app: &mut App,
    rx: &mut tokio::sync::mpsc::Receiver<Msg>,
    world: &World,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    let r = tokio::time::timeout(DEADLINE, async {
        while !done(app) {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => app.update(m),
                    None => panic!("channel closed"),
                },
                _ = tokio::time::sleep(Duration::from_millis(25)) => {
                    world.clock.advance(Duration::from_secs(15));
                }
            }
        }
    })
    .await;
    if r.is_err() {
        let w = app.wizard.as_ref().expect("wizard");
        panic!(
            "timed out waiting for {what}; step {:?}, message {:?}, issues {:?}",
            w.wizard.step(),
            w.message,
            w.wizard.issues(w.wizard.step())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walks_all_seven_steps_against_the_world_and_follows_to_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = World::start(
        WorldScenario::load("demo").expect("demo scenario"),
        600.0,
        Some(dir.path().join("state")),
    )
    .await
    .expect("world starts");
    let endpoints = world.endpoints();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let mut app = app();
    app.effects = Effects { tx: Some(tx) };
    app.wizard_draft_path = Some(dir.path().join("draft.json"));
    app.update(Msg::CatalystApi(endpoints.catalyst_api.clone()));
    open(&mut app);
    let key_path = dir.path().join("id_catalyst");
    app.wizard.as_mut().expect("wizard").private_key_path = key_path.display().to_string();

    // 1 Org, 2 Topology (solo: one Hetzner region), 3 Provider.
    type_into(&mut app, "orgName", "Acme Test");
    choose_org(&mut app);
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(step(&app), Step::Topology);
    pump_until(&mut app, &mut rx, &world, "the draft written", |_| {
        dir.path().join("draft.json").exists()
    })
    .await;
    go_to(
        &mut app,
        |r| matches!(r, Row::Choice { field, .. } if field == "topology"),
    );
    while app.wizard.as_ref().expect("wizard").wizard.topology()
        != Some(sovtui::provision::wizard::Topology::Solo)
    {
        key(&mut app, KeyCode::Right);
    }
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(step(&app), Step::Provider);
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(step(&app), Step::Credentials);

    // 4 Credentials: the token is validated live (debounced) against the simulated Hetzner.
    type_into(&mut app, "hetznerToken", &endpoints.hetzner_token);
    type_into(&mut app, "hetznerProjectID", "4711");
    pump_until(&mut app, &mut rx, &world, "token validation", |a| {
        matches!(
            a.wizard.as_ref().map(|w| w
                .wizard
                .token_status(sovtui::provision::wizard::Provider::Hetzner)),
            Some(TokenStatus::Valid { .. })
        )
    })
    .await;
    go_to(&mut app, action_row("generate an Ed25519"));
    key(&mut app, KeyCode::Enter);
    pump_until(&mut app, &mut rx, &world, "ssh key", |a| {
        a.wizard
            .as_ref()
            .is_some_and(|w| w.wizard.ssh().private_key_pending())
    })
    .await;
    let screen = render(&mut app, 120, 34);
    assert!(!screen.contains("PRIVATE KEY"), "private half never shown");
    go_to(&mut app, action_row("write the private key"));
    key(&mut app, KeyCode::Enter);
    let meta = std::fs::metadata(&key_path).expect("private key written");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let draft = std::fs::read_to_string(dir.path().join("draft.json")).expect("draft");
    assert!(
        !draft.contains(&endpoints.hetzner_token),
        "no token in the draft"
    );
    assert!(
        !draft.contains("PRIVATE KEY"),
        "no private key in the draft"
    );
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(
        step(&app),
        Step::Components,
        "{:?}",
        app.wizard.as_ref().map(|w| &w.message)
    );

    // 5 Components (defaults), 6 Domain (pool subdomain checked live), 7 Review.
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(step(&app), Step::Domain);
    type_into(&mut app, "sovereignSubdomain", "wizardtest");
    pump_until(&mut app, &mut rx, &world, "subdomain availability", |a| {
        a.wizard.as_ref().is_some_and(|w| {
            matches!(
                w.wizard.availability(),
                sovtui::provision::wizard::Availability::Available { .. }
            )
        })
    })
    .await;
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(step(&app), Step::Review);
    let screen = render(&mut app, 160, 50);
    assert!(
        !screen.contains(&endpoints.hetzner_token),
        "token masked on Review"
    );
    assert!(screen.contains("€"), "hourly cost on Review: {screen}");

    // Provision, then follow the run to ready.
    go_to(&mut app, action_row("Provision"));
    key(&mut app, KeyCode::Enter);
    pump_until(&mut app, &mut rx, &world, "ready", |a| {
        a.wizard.as_ref().is_some_and(|w| match &w.mode {
            Mode::Progress(p) => p.fold.status() == "ready" && !p.following,
            Mode::Form => false,
        })
    })
    .await;
    // Phase 1 seen from the new apiserver too, agreeing with the stream at the end.
    pump_until(&mut app, &mut rx, &world, "apiserver view agrees", |a| {
        a.wizard.as_ref().is_some_and(|w| match &w.mode {
            Mode::Progress(p) => p.cluster.as_ref().is_some_and(|c| {
                !c.states.is_empty() && c.disagreements(&p.fold.components).is_empty()
            }),
            Mode::Form => false,
        })
    })
    .await;
    let w = app.wizard.as_ref().expect("wizard");
    let Mode::Progress(p) = &w.mode else {
        unreachable!()
    };
    assert!(!p.fold.components.is_empty(), "Phase 1 components reported");
    assert!(
        p.fold.components.values().all(|c| c.state == "installed"),
        "{:?}",
        p.fold.components
    );
    let markers: Vec<&str> = p.fold.markers.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        markers,
        [
            "tofu-init",
            "tofu-plan",
            "tofu-apply",
            "tofu-output",
            "flux-bootstrap"
        ]
    );
    assert!(
        !dir.path().join("draft.json").exists(),
        "draft discarded after create"
    );
    let screen = render(&mut app, 160, 60);
    assert!(screen.contains("status ready"), "{screen}");
    assert!(screen.contains("agrees with the stream"), "{screen}");
    // catalyst-api knows the new Sovereign.
    let list = catalyst::CatalystClient::new(&endpoints.catalyst_api)
        .expect("client")
        .list_deployments()
        .await
        .expect("list");
    assert!(
        list.iter()
            .any(|d| d.sovereign_fqdn == "wizardtest.omani.works" && d.status == "ready"),
        "{list:?}"
    );
}

/// An app on the world's catalyst-api with a complete wizard (subdomain `sub`) on Review.
async fn app_on_review(world: &World, sub: &str) -> (App, tokio::sync::mpsc::Receiver<Msg>) {
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let mut app = app();
    app.effects = Effects { tx: Some(tx) };
    app.update(Msg::CatalystApi(world.endpoints().catalyst_api));
    open(&mut app);
    // One region: a request of more is refused at Review (catalyst-api builds only the first).
    let mut w = complete_wizard();
    w.set_topology(Some(sovtui::provision::wizard::Topology::Solo));
    w.seed_regions();
    w.set_subdomain(sub);
    for req in w.due_checks() {
        let reply = sovtui::tui::wizard::post_check(&world.endpoints().catalyst_api, &req).await;
        w.complete(req.ticket, &reply);
    }
    assert_eq!(
        w.goto(Step::Review),
        Ok(Step::Review),
        "{:?}",
        w.issues(Step::Domain)
    );
    app.wizard.as_mut().expect("wizard").wizard = w;
    (app, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_lands_on_the_domain_step_and_keeps_what_was_typed() {
    // Real-time speed: the first deployment (demo token) fails in Phase 0 and then releases its
    // PDM name, after which a second create would rightly succeed. At 1× that takes the better part
    // of a minute, far longer than this test's two requests even on a loaded machine.
    let world = World::start(
        WorldScenario::load("demo").expect("demo scenario"),
        1.0,
        None,
    )
    .await
    .expect("world starts");
    let (mut app, mut rx) = app_on_review(&world, "dup1").await;
    // Someone else takes the name between the availability check and Provision.
    let body = app
        .wizard
        .as_ref()
        .expect("wizard")
        .wizard
        .to_request()
        .to_json();
    sovtui::tui::wizard::post_create(&world.endpoints().catalyst_api, body)
        .await
        .expect("first create");
    go_to(&mut app, action_row("Provision"));
    key(&mut app, KeyCode::Enter);
    tokio::time::timeout(DEADLINE, async {
        while app.wizard.as_ref().is_some_and(|w| w.provisioning) {
            match rx.recv().await {
                Some(m) => app.update(m),
                None => panic!("channel closed"),
            }
        }
    })
    .await
    .expect("the create answer");
    let w = app.wizard.as_ref().expect("wizard");
    assert!(matches!(w.mode, Mode::Form), "no run started");
    assert_eq!(w.wizard.step(), Step::Domain);
    assert_eq!(w.wizard.domain().subdomain, "dup1", "nothing typed is lost");
    assert_eq!(w.wizard.hetzner_project_id(), "4711");
    assert!(
        w.message.as_ref().is_some_and(|m| m.text.contains("409")),
        "{:?}",
        w.message
    );
    assert!(
        w.wizard.can_advance(Step::Domain).is_err(),
        "the taken subdomain must be changed"
    );
    let screen = render(&mut app, 120, 34);
    assert!(screen.contains("subdomain-conflict"), "{screen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phase0_failure_is_shown_and_retried_from_the_progress_view() {
    let world = World::start(
        WorldScenario::load("demo").expect("demo scenario"),
        600.0,
        None,
    )
    .await
    .expect("world starts");
    // The demo token is not a Hetzner token: tofu fails in Phase 0.
    let (mut app, mut rx) = app_on_review(&world, "fail1").await;
    go_to(&mut app, action_row("Provision"));
    key(&mut app, KeyCode::Enter);
    let failed = |a: &App| {
        a.wizard.as_ref().is_some_and(|w| match &w.mode {
            Mode::Progress(p) => p.fold.status() == "failed" && !p.following,
            Mode::Form => false,
        })
    };
    pump_until(&mut app, &mut rx, &world, "Phase 0 failure", failed).await;
    let screen = render(&mut app, 120, 40);
    assert!(screen.contains("Phase 0 failed at"), "{screen}");
    assert!(screen.contains("R retries"), "{screen}");
    let Mode::Progress(p) = &app.wizard.as_ref().expect("wizard").mode else {
        unreachable!()
    };
    let applied = p.fold.applied;
    key(&mut app, KeyCode::Char('R'));
    pump_until(
        &mut app,
        &mut rx,
        &world,
        "retry answered and followed",
        |a| {
            a.wizard.as_ref().is_some_and(|w| match &w.mode {
                Mode::Progress(p) => {
                    p.fold
                        .log
                        .iter()
                        .any(|e| e.message.contains("Retry initiated"))
                        && p.fold.applied > applied
                }
                Mode::Form => false,
            })
        },
    )
    .await;
}

#[test]
fn a_saved_draft_is_offered_and_restored_without_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state").join("wizard-draft.json");
    let mut first = app();
    first.wizard_draft_path = Some(path.clone());
    open(&mut first);
    type_into(&mut first, "orgName", "Drafted Org");
    key(&mut first, KeyCode::Char(']'));
    key(&mut first, KeyCode::Char(']'));
    key(&mut first, KeyCode::Char(']'));
    assert_eq!(step(&first), Step::Credentials);
    type_into(&mut first, "hetznerToken", &"s".repeat(64));
    type_into(&mut first, "hetznerProjectID", "proj_draft");
    let saved = std::fs::read_to_string(&path).expect("draft written");
    assert!(!saved.contains(&"s".repeat(64)), "no token in the draft");
    drop(first); // the SSH connection drops

    let mut second = app();
    second.wizard_draft_path = Some(path.clone());
    open(&mut second);
    let screen = render(&mut second, 120, 34);
    assert!(screen.contains("r restore"), "{screen}");
    key(&mut second, KeyCode::Char('r'));
    let w = second.wizard.as_ref().expect("wizard");
    assert_eq!(w.wizard.org().name, "Drafted Org");
    assert_eq!(w.wizard.hetzner_project_id(), "proj_draft");
    assert_eq!(
        w.wizard.step(),
        Step::Credentials,
        "the token must be re-entered"
    );
    assert_eq!(
        w.wizard.token_status(Provider::Hetzner),
        TokenStatus::Empty,
        "secrets are not restored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioned_sovereign_joins_the_fleet_file_the_cockpit_follows() {
    use sovtui::provision::fleet::FleetEvent;
    use sovtui::tui::app::FleetMsg;
    use sovtui::tui::wizard::WizardMsg;
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.toml");
    let original = "# ops fleet\n";
    std::fs::write(&fleet, original).expect("write");
    let mut app = app();
    // Without a live hub the wizard has nowhere to join (nothing is written anywhere).
    open(&mut app);
    assert_eq!(app.wizard.as_ref().expect("wizard").fleet_file, None);
    // The live hub says which file it follows: that is where a new Sovereign joins.
    app.update(Msg::Fleet(FleetMsg::Event(Box::new(
        FleetEvent::FleetLoaded {
            path: Some(fleet.clone()),
            sovereigns: Vec::new(),
        },
    ))));
    assert_eq!(
        app.wizard.as_ref().expect("wizard").fleet_file.as_deref(),
        Some(fleet.as_path())
    );

    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let fx = Effects { tx: Some(tx) };
    let api = "http://127.0.0.1:9/sovereign";
    let mut p = ProgressScreen::new("d-77".into(), "new.omani.works".into());
    p.join_fleet = Some(fleet.clone());
    p.on_msg(ProgressMsg::KubeconfigServed, &fx, Some(api));
    let reply = tokio::time::timeout(DEADLINE, async {
        loop {
            match rx.recv().await.expect("reply") {
                Msg::Wizard(WizardMsg::Progress(m @ ProgressMsg::Joined(_))) => break m,
                _ => continue,
            }
        }
    })
    .await
    .expect("joined in time");
    p.on_msg(reply, &fx, Some(api));
    match &p.fleet_join {
        Some(Ok(text)) => assert!(text.contains("joined the fleet"), "{text}"),
        other => panic!("{other:?}"),
    }
    let text = std::fs::read_to_string(&fleet).expect("read");
    assert!(text.starts_with(original), "{text}");
    let parsed = sovtui::config::fleet_file::load(&fleet).expect("still a valid fleet file");
    let s = &parsed.sovereigns[0];
    assert_eq!(s.fqdn, "new.omani.works");
    assert_eq!(s.deployment_id.as_deref(), Some("d-77"));
    assert_eq!(s.catalyst_api.as_deref(), Some(api));
    assert_eq!(
        s.kubeconfig_from,
        sovtui::config::fleet_file::KubeconfigFrom::Catalyst
    );

    // A second screen on the same run finds it listed already: said, not an error.
    let mut again = ProgressScreen::new("d-77".into(), "new.omani.works".into());
    again.join_fleet = Some(fleet.clone());
    again.on_msg(ProgressMsg::KubeconfigServed, &fx, Some(api));
    let reply = tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("in time")
        .expect("reply");
    let Msg::Wizard(WizardMsg::Progress(m)) = reply else {
        panic!("unexpected {reply:?}")
    };
    again.on_msg(m, &fx, Some(api));
    match &again.fleet_join {
        Some(Ok(text)) => assert!(text.contains("already in the fleet"), "{text}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&fleet).expect("read"), text);
}

/// Keys go through the reducer; the draft is written by a task of its own once they pause, so a
/// slow disk never delays a frame. On this single-threaded runtime the writer cannot run until
/// the test yields: a file present right after the keys would mean the reducer wrote it.
#[tokio::test]
async fn the_draft_is_written_off_the_reducer_once_the_keys_pause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state").join("draft.json");
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let mut app = app();
    app.effects = Effects { tx: Some(tx) };
    app.wizard_draft_path = Some(path.clone());
    open(&mut app);
    type_into(&mut app, "orgName", "Keyed In Org");
    assert!(!path.exists(), "the reducer wrote the draft itself");
    tokio::time::timeout(Duration::from_secs(30), async {
        while !path.exists() {
            tokio::select! {
                Some(m) = rx.recv() => app.update(m),
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    })
    .await
    .expect("the draft is written once the keys pause");
    // The rename is atomic: once the file exists it is the whole latest draft.
    let text = std::fs::read_to_string(&path).expect("draft");
    assert!(text.contains("Keyed In Org"), "{text}");
}
