//! Matrix render time: 50 Sovereigns × 40 HelmReleases (a dependsOn tree) drawn at 200×50 into
//! ratatui's TestBackend, one status change applied between frames (as in live use).
//! `MATRIX_BENCH_FRAMES` (default 2000) frames; prints mean, p50, p99 and max per frame.
//!
//! Then the fleet views at 2,000 Sovereigns × 40 HelmReleases (grouped by worst state, as a
//! large fleet opens), at 200×50: a status change → frame, a `/` filter keystroke → frame
//! (typing `sov-19` and deleting it again, reducer and frame both timed) and `:jump NAME` →
//! frame (the `enter` that runs it, reducer and frame). `SCALE_BENCH_ROUNDS` (default 50)
//! rounds of each.

use std::time::Instant;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sovtui::provision::fleet::model::{ComponentStatus, ConnectionState, SovereignStatus};
use sovtui::provision::flux::ComponentState;
use sovtui::tui::app::{App, FleetMsg, Msg, Settings};
use sovtui::tui::theme::ColorLevel;
use sovtui::tui::ui;

const CLUSTERS: usize = 50;
const RELEASES: usize = 40;
const LARGE: usize = 2000;

/// Every Sovereign with every state at 50 (the worst case for the grid); at 2,000 a fleet
/// as it runs: one in 50 in trouble, one in 500 not live, the rest all installed.
fn make_fleet(clusters: usize) -> Vec<SovereignStatus> {
    let large = clusters > CLUSTERS;
    (0..clusters)
        .map(|i| {
            let mut s = SovereignStatus::new(
                format!("sov-{i:04}.bench.example"),
                if i % 5 == 0 {
                    vec!["prod".into()]
                } else {
                    vec![]
                },
            );
            let troubled = !large || i % 50 == 7;
            s.connection = if (!large && i % 7 == 3) || (large && i % 500 == 3) {
                ConnectionState::Degraded {
                    since: chrono::Utc::now(),
                    error: "watch stream closed".into(),
                }
            } else {
                ConnectionState::Live
            };
            s.last_live = Some(chrono::Utc::now());
            s.components = (0..RELEASES)
                .map(|j| ComponentStatus {
                    name: format!("bp-comp{j:02}"),
                    namespace: "flux-system".into(),
                    state: if troubled {
                        ComponentState::ALL[(i + j) % ComponentState::ALL.len()]
                    } else {
                        ComponentState::Installed
                    },
                    message: format!("release {j} message"),
                    last_transition: None,
                    depends_on: if j == 0 {
                        vec![]
                    } else {
                        vec![format!("flux-system/bp-comp{:02}", (j - 1) / 2)]
                    },
                    conditions: vec![],
                })
                .map(Into::into)
                .collect();
            s
        })
        .collect()
}

fn main() {
    let frames: usize = std::env::var("MATRIX_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut app = App::new(Settings {
        banner: "bench".into(),
        level: ColorLevel::TrueColor,
        theme: None,
        keymap: None,
        config_dir: None,
    });
    let mut fleet = make_fleet(CLUSTERS);
    app.update(Msg::Fleet(FleetMsg::Snapshot(fleet.clone())));
    typed(&mut app, ":matrix");
    press(&mut app, KeyCode::Enter);
    let matrix = measure(&mut app, &mut fleet, frames);
    report("matrix", CLUSTERS, frames, matrix);
    // For scale: the fleet overview (one row per Sovereign) under the same load and build.
    press(&mut app, KeyCode::Esc);
    let overview = measure(&mut app, &mut fleet, frames);
    report("overview", CLUSTERS, frames, overview);

    // 2,000 Sovereigns: what an operator does at that size.
    let rounds: usize = std::env::var("SCALE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let mut app = App::new(Settings {
        banner: "bench".into(),
        level: ColorLevel::TrueColor,
        theme: None,
        keymap: None,
        config_dir: None,
    });
    let mut large = make_fleet(LARGE);
    let t = Instant::now();
    app.update(Msg::Fleet(FleetMsg::Snapshot(large.clone())));
    println!(
        "2,000 × {RELEASES}: snapshot into the reducer (index built, grouped by worst state): {:.3} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    for view in ["overview", "matrix"] {
        if view == "matrix" {
            typed(&mut app, ":matrix");
            press(&mut app, KeyCode::Enter);
        }
        let change = measure(&mut app, &mut large, rounds * 10);
        report(&format!("{view} status change"), LARGE, rounds * 10, change);
        let mut term = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
        frame(&mut term, &mut app);
        // `/` then `sov-19` typed and deleted: 12 keystrokes a round, each reducer + frame.
        let mut filter = Vec::new();
        press(&mut app, KeyCode::Char('/'));
        for _ in 0..rounds {
            for c in "sov-19".chars() {
                filter.push(timed(&mut term, &mut app, KeyCode::Char(c)));
            }
            for _ in 0.."sov-19".len() {
                filter.push(timed(&mut term, &mut app, KeyCode::Backspace));
            }
        }
        press(&mut app, KeyCode::Esc);
        let n = filter.len();
        report(&format!("{view} filter keystroke"), LARGE, n, filter);
        // `:jump sov-NNNN`: the enter that runs it, reducer + frame.
        let mut jump = Vec::new();
        for r in 0..rounds {
            typed(
                &mut app,
                &format!(":jump sov-{:04}", (r * 397 + 1999) % LARGE),
            );
            jump.push(timed(&mut term, &mut app, KeyCode::Enter));
        }
        report(&format!("{view} :jump"), LARGE, rounds, jump);
    }
}

fn press(app: &mut App, code: KeyCode) {
    app.update(Msg::Input(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn frame(term: &mut Terminal<TestBackend>, app: &mut App) {
    let mut drawn = None;
    term.draw(|f| drawn = Some(ui::draw(f, app))).expect("draw");
    if let Some(d) = drawn {
        app.update(Msg::Drawn(d));
    }
}

/// Milliseconds from a key reaching the reducer to its frame drawn.
fn timed(term: &mut Terminal<TestBackend>, app: &mut App, code: KeyCode) -> f64 {
    let t = Instant::now();
    press(app, code);
    frame(term, app);
    t.elapsed().as_secs_f64() * 1000.0
}

fn measure(app: &mut App, fleet: &mut [SovereignStatus], frames: usize) -> Vec<f64> {
    let mut term = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    let clusters = fleet.len();
    let mut times = Vec::with_capacity(frames);
    for n in 0..frames {
        // Spread over the fleet (a prime stride), so changes move Sovereigns between groups.
        let s = &mut fleet[(n * 7919) % clusters];
        let c = std::sync::Arc::make_mut(&mut s.components[n % RELEASES]);
        c.state = ComponentState::ALL[(n / clusters) % ComponentState::ALL.len()];
        // Timed from the message: the reducer's index upkeep is part of the cost at 2,000.
        let t = Instant::now();
        app.update(Msg::Fleet(FleetMsg::Update(s.clone())));
        let mut drawn = None;
        term.draw(|f| drawn = Some(ui::draw(f, app))).expect("draw");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if let Some(d) = drawn {
            app.update(Msg::Drawn(d));
        }
    }
    times
}

fn report(what: &str, clusters: usize, frames: usize, mut times: Vec<f64>) {
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{what} → frame 200×50, {clusters}×{RELEASES}, {frames} samples: mean {mean:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        pct(0.5),
        pct(0.99),
        times[times.len() - 1]
    );
}
