//! Driving the cockpit's reducer with keys and drawing it into ratatui's TestBackend.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sovtui::tui::app::{App, Msg, Settings};
use sovtui::tui::theme::ColorLevel;
use sovtui::tui::ui;

/// A monochrome cockpit cut off from the operator's machine: no wizard draft, no catalyst-api,
/// no fleet file (a pane test hands it what it needs). `banner` shows in snapshots.
pub fn detached_app(banner: &str) -> App {
    let mut app = App::new(Settings {
        banner: banner.into(),
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

pub fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Input(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
}

pub fn chars(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// One frame of the cockpit at `w`×`h` (for snapshots of the whole terminal).
pub fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    let mut drawn = None;
    t.draw(|f| drawn = Some(ui::draw(f, app))).expect("draw");
    if let Some(d) = drawn {
        app.update(Msg::Drawn(d));
    }
    t
}

/// The frame's characters, one line per row.
pub fn screen_text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// One frame of the cockpit at `w`×`h`, as text.
pub fn render(app: &mut App, w: u16, h: u16) -> String {
    screen_text(&draw(app, w, h))
}
