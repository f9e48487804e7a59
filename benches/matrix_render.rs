//! Matrix render time: 50 Sovereigns × 40 HelmReleases (a dependsOn tree) drawn at 200×50 into
//! ratatui's TestBackend, one status change applied between frames (as in live use).
//! `MATRIX_BENCH_FRAMES` (default 2000) frames; prints mean, p50, p99 and max per frame.

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

fn fleet() -> Vec<SovereignStatus> {
    (0..CLUSTERS)
        .map(|i| {
            let mut s = SovereignStatus::new(
                format!("sov-{i:02}.bench.example"),
                if i % 5 == 0 {
                    vec!["prod".into()]
                } else {
                    vec![]
                },
            );
            s.connection = if i % 7 == 3 {
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
                    state: ComponentState::ALL[(i + j) % ComponentState::ALL.len()],
                    message: format!("release {j} message"),
                    last_transition: None,
                    depends_on: if j == 0 {
                        vec![]
                    } else {
                        vec![format!("flux-system/bp-comp{:02}", (j - 1) / 2)]
                    },
                    conditions: vec![],
                })
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
    let mut fleet = fleet();
    app.update(Msg::Fleet(FleetMsg::Snapshot(fleet.clone())));
    for c in ":matrix".chars() {
        app.update(Msg::Input(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        ))));
    }
    app.update(Msg::Input(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    ))));
    let matrix = measure(&mut app, &mut fleet, frames);
    report("matrix", frames, matrix);
    // For scale: the fleet overview (one row per Sovereign) under the same load and build.
    app.update(Msg::Input(Event::Key(KeyEvent::new(
        KeyCode::Esc,
        KeyModifiers::NONE,
    ))));
    let overview = measure(&mut app, &mut fleet, frames);
    report("overview", frames, overview);
}

fn measure(app: &mut App, fleet: &mut [SovereignStatus], frames: usize) -> Vec<f64> {
    let mut term = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    let mut times = Vec::with_capacity(frames);
    for n in 0..frames {
        let s = &mut fleet[n % CLUSTERS];
        let c = &mut s.components[n % RELEASES];
        c.state = ComponentState::ALL[(n / CLUSTERS) % ComponentState::ALL.len()];
        app.update(Msg::Fleet(FleetMsg::Update(s.clone())));
        let t = Instant::now();
        let mut drawn = None;
        term.draw(|f| drawn = Some(ui::draw(f, app))).expect("draw");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if let Some(d) = drawn {
            app.update(Msg::Drawn(d));
        }
    }
    times
}

fn report(what: &str, frames: usize, mut times: Vec<f64>) {
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{what} render 200×50, {CLUSTERS}×{RELEASES}, {frames} frames: mean {mean:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        pct(0.5),
        pct(0.99),
        times[times.len() - 1]
    );
}
