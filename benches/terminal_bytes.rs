//! Bytes the cockpit writes to its terminal: (a) idle for 5 s, (b) when one list row changes,
//! (c) a full redraw at 120×40 — through the real event loop and crossterm backend, into a
//! counting writer. Results go into docs/PERFORMANCE.md. Run: `cargo bench --bench terminal_bytes`
//! (byte counts do not depend on the build profile, so `cargo test --bench terminal_bytes` gives
//! the same numbers faster).

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use sovtui::provision::flux::ComponentState;
use sovtui::tui::app::{App, FleetMsg, Msg, Settings};
use sovtui::tui::runtime::{self, ExitReason};
use sovtui::tui::source::{DEMO_FIXTURE, DEMO_FIXTURE_PATH, parse_fleet};
use sovtui::tui::theme::ColorLevel;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

#[derive(Clone)]
struct Counter(Arc<AtomicUsize>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len(), Ordering::SeqCst);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn terminal(counter: Counter) -> Terminal<CrosstermBackend<Counter>> {
    Terminal::with_options(
        CrosstermBackend::new(counter),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 120, 40)),
        },
    )
    .expect("terminal")
}

fn app(level: ColorLevel, theme: &str) -> App {
    App::new(Settings {
        banner: "demo · FIXTURE DATA from fixtures/demo-fleet.json (not live)".into(),
        level,
        theme: Some(theme.into()),
        keymap: None,
        config_dir: None,
    })
}

/// Wait until nothing has been written for 300 ms (the loop draws within 33 ms of a change).
async fn settle(count: &AtomicUsize) -> usize {
    let mut last = count.load(Ordering::SeqCst);
    let mut quiet = 0;
    while quiet < 6 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = count.load(Ordering::SeqCst);
        if now == last {
            quiet += 1;
        } else {
            quiet = 0;
            last = now;
        }
    }
    last
}

fn full_redraw(level: ColorLevel, theme: &str) -> usize {
    let count = Arc::new(AtomicUsize::new(0));
    let mut t = terminal(Counter(count.clone()));
    let mut a = app(level, theme);
    let fleet = parse_fleet(DEMO_FIXTURE_PATH, DEMO_FIXTURE).expect("fixture");
    a.update(Msg::Fleet(FleetMsg::Snapshot(fleet)));
    runtime::draw_frame(&mut t, &mut a).expect("draw");
    count.load(Ordering::SeqCst)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fleet = parse_fleet(DEMO_FIXTURE_PATH, DEMO_FIXTURE).expect("fixture");
    let (idle, row, select) = rt.block_on(async {
        let count = Arc::new(AtomicUsize::new(0));
        let mut term = terminal(Counter(count.clone()));
        let mut a = app(ColorLevel::Ansi256, "256");
        let (tx, rx) = mpsc::channel(256);
        let (key_tx, key_rx) = mpsc::channel::<io::Result<Event>>(16);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stop_rx.await;
                ExitReason::Quit
            };
            runtime::event_loop(&mut term, &mut a, ReceiverStream::new(key_rx), rx, shutdown).await
        });
        tx.send(Msg::Fleet(FleetMsg::Snapshot(fleet.clone())))
            .await
            .expect("send");
        let before = settle(&count).await;

        // (a) idle
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle = count.load(Ordering::SeqCst) - before;

        // (b) one row changes: bank-dr's failing HelmRelease recovers.
        let before = count.load(Ordering::SeqCst);
        let mut fixed = fleet[2].clone();
        for c in &mut fixed.components {
            std::sync::Arc::make_mut(c).state = ComponentState::Installed;
        }
        tx.send(Msg::Fleet(FleetMsg::Update(fixed)))
            .await
            .expect("send");
        let row = settle(&count).await - before;

        // The selection moves down one row (a key press).
        let before = count.load(Ordering::SeqCst);
        key_tx
            .send(Ok(Event::Key(KeyEvent::new(
                KeyCode::Down,
                KeyModifiers::NONE,
            ))))
            .await
            .expect("send key");
        let select = settle(&count).await - before;

        let _ = stop_tx.send(());
        task.await.expect("loop task").expect("loop");
        (idle, row, select)
    });
    println!("terminal bytes (fleet overview, 120×40, fixture fleet of 3 Sovereigns)");
    println!("  (a) idle for 5 s:                       {idle} bytes");
    println!("  (b) one list row changes (256 theme):   {row} bytes");
    println!("      selection moves one row (key):      {select} bytes");
    for (level, theme) in [
        (ColorLevel::TrueColor, "default"),
        (ColorLevel::Ansi256, "256"),
        (ColorLevel::Ansi16, "16"),
        (ColorLevel::Mono, "mono"),
    ] {
        println!(
            "  (c) full redraw, theme {theme:<8}:          {} bytes",
            full_redraw(level, theme)
        );
    }
}
