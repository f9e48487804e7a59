//! `sovtui demo`'s pause key, end to end on a pseudo-terminal: `p` (the default keymap's
//! `pause_world`) stops the simulated world's clock and says so in words in the title bar; `p`
//! again restarts it. The world itself is asked through its control API (`GET /` on the
//! `control` endpoint the demo writes into `endpoints.json`), so the test sees the clock stand
//! still, not just the words.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crossterm::event::KeyCode;
use serde_json::Value;
use sovtui::tui::app::{App, Msg};
use sovtui::tui::drill::{DrillScreen, Phase};
use sovtui::tui::msg::DemoClock;

mod support;
use support::cockpit::{key, render};
use support::pty::{Session, Spawn};

fn app() -> App {
    support::cockpit::detached_app("pause test")
}

/// A demo clock that records what the cockpit asked of it.
fn recording_clock(app: &mut App) -> Arc<Mutex<Vec<bool>>> {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    app.update(Msg::DemoClock(DemoClock {
        set_paused: Arc::new(move |paused| seen.lock().expect("calls").push(paused)),
    }));
    calls
}

/// Outside the demo there is no clock: the key says so and the title bar says nothing of a
/// world. In the demo it toggles the clock, the title says which in words, and a drill neither
/// starts on a paused world nor lets it be paused while it runs.
#[test]
fn the_pause_key_toggles_the_demo_clock_in_words_and_guards_drills() {
    let mut plain = app();
    key(&mut plain, KeyCode::Char('p'));
    let text = render(&mut plain, 120, 30);
    assert!(text.contains("only the demo's simulated world"), "{text}");
    assert!(
        !text.contains("world running") && !text.contains("world PAUSED"),
        "{text}"
    );

    let mut app = app();
    let calls = recording_clock(&mut app);
    assert!(render(&mut app, 120, 30).contains("world running"));
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(*calls.lock().expect("calls"), [true]);
    let text = render(&mut app, 120, 30);
    assert!(text.contains("world PAUSED"), "{text}");
    assert!(text.contains("simulated time stands still"), "{text}");

    // A drill planned on the paused world does not start.
    let mut screen = DrillScreen::new("omantel.omani.works", std::env::temp_dir());
    screen.phase = Phase::Planned;
    app.drill = Some(Box::new(screen));
    app.drill.as_mut().expect("drill").world_paused = app.world_paused;
    assert!(
        app.drill
            .as_ref()
            .and_then(|d| d.blocked_reason(true))
            .is_some_and(|r| r.contains("paused")),
    );
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(*calls.lock().expect("calls"), [true, false]);
    assert!(render(&mut app, 120, 30).contains("world running"));
    assert!(!app.drill.as_ref().expect("drill").world_paused);

    // While a drill runs, the world cannot be paused.
    app.drill.as_mut().expect("drill").phase = Phase::Running;
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(*calls.lock().expect("calls"), [true, false], "no pause");
    let text = render(&mut app, 120, 30);
    assert!(text.contains("pause refused: a drill is running"), "{text}");
    assert!(text.contains("world running"), "{text}");
}

/// The demo world's control API root, from the `endpoints.json` it wrote into its state dir.
fn control_url(dirs: &Path, s: &mut Session) -> String {
    let file = dirs
        .join("state")
        .join("sovtui")
        .join(format!("demo-{}", s.pid()))
        .join("endpoints.json");
    let read = || {
        std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    };
    s.wait_until("the demo's endpoints.json", |_| read().is_some());
    read().expect("endpoints")["control"]
        .as_str()
        .expect("control URL")
        .to_string()
}

/// The world's clock as its control API reports it: (paused, elapsed simulated seconds).
fn clock(rt: &tokio::runtime::Runtime, control: &str) -> (bool, f64) {
    let v: Value = rt.block_on(async {
        reqwest::get(format!("{control}/"))
            .await
            .expect("GET control /")
            .json()
            .await
            .expect("control JSON")
    });
    (
        v["paused"].as_bool().expect("paused"),
        v["elapsed_seconds"].as_f64().expect("elapsed_seconds"),
    )
}

#[test]
fn the_pause_key_stops_the_demo_worlds_clock_and_says_so_in_the_title() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut s = Spawn::demo()
        .args(&["demo", "--data-plane", "modelled", "--speed", "60"])
        .start(dir.path());
    s.wait_for("world running");
    let control = control_url(dir.path(), &mut s);
    let (paused, _) = clock(&rt, &control);
    assert!(!paused);

    s.send("p");
    s.wait_for("world PAUSED");
    assert!(
        s.screen().contains("simulated time stands still"),
        "{}",
        s.screen()
    );
    let (paused, frozen) = clock(&rt, &control);
    assert!(paused, "the world's clock is paused");
    // At 60× any real time that passed between two answers would show; paused, none does.
    let (_, again) = clock(&rt, &control);
    assert_eq!(again, frozen, "simulated time stands still while paused");

    s.send("p");
    s.wait_for("world running again");
    let (paused, resumed) = clock(&rt, &control);
    assert!(!paused);
    assert!(resumed >= frozen, "time goes on from where it stood");
    let (_, later) = clock(&rt, &control);
    assert!(later > resumed, "running again: {later} > {resumed}");
    s.send("q");
    assert!(s.wait_exit(), "clean exit");
}
