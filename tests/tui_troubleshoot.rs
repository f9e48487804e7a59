//! The troubleshooting walk view in the cockpit: snapshots of a question with the evidence's
//! answer marked and of a leaf with its recovery, plus back / restart / jump / copy through the
//! reducer. The PTY walk through `sovtui demo` lives at the end.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sovtui::provision::fleet::model::SovereignStatus;
use sovtui::tui::app::{App, FleetMsg, Msg, Settings};
use sovtui::tui::source::{DEMO_FIXTURE, DEMO_FIXTURE_PATH, parse_fleet};
use sovtui::tui::theme::ColorLevel;
use sovtui::tui::ui;

fn app_with(fleet: Vec<SovereignStatus>) -> App {
    let mut app = App::new(Settings {
        banner: "test".into(),
        level: ColorLevel::Mono,
        theme: None,
        keymap: None,
        config_dir: None,
    });
    app.update(Msg::Fleet(FleetMsg::Snapshot(fleet)));
    app
}

fn demo_fleet() -> Vec<SovereignStatus> {
    parse_fleet(DEMO_FIXTURE_PATH, DEMO_FIXTURE).expect("fixture")
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Input(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
}

fn chars(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn render(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| ui::draw(f, app)).expect("draw");
    t
}

fn screen_text(t: &Terminal<TestBackend>) -> String {
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

fn open(app: &mut App) {
    chars(app, ":troubleshoot");
    key(app, KeyCode::Enter);
    assert!(app.troubleshoot.is_some(), "view opened: {:?}", app.notice);
}

#[test]
fn walk_question_marks_the_evidence_answer() {
    let mut app = app_with(demo_fleet());
    open(&mut app);
    let t = render(&mut app, 120, 40);
    let text = screen_text(&t);
    assert!(text.contains("Did wizard reach tofu-plan?"), "{text}");
    insta::assert_snapshot!("troubleshoot_question", t.backend());
}

#[test]
fn jump_to_a_leaf_shows_recovery_with_the_fqdn_and_copies_it() {
    let mut app = app_with(demo_fleet());
    let fqdn = app.fleet[0].fqdn.clone();
    open(&mut app);
    chars(&mut app, "j");
    chars(&mut app, "C9");
    key(&mut app, KeyCode::Enter);
    let t = render(&mut app, 120, 40);
    let text = screen_text(&t);
    assert!(text.contains("Recovery:"), "{text}");
    assert!(text.contains(&fqdn), "FQDN filled in: {text}");
    insta::assert_snapshot!("troubleshoot_leaf_c9", t.backend());

    chars(&mut app, "y");
    let clip = app.clipboard.clone().expect("commands for the clipboard");
    assert!(!clip.is_empty() && !clip.contains("{fqdn}"), "{clip}");
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("OSC 52"))
    );

    // Back from the jump returns to the question; restart goes to Q1 with an empty path.
    key(&mut app, KeyCode::Esc);
    let t = app.troubleshoot.as_ref().expect("still open");
    assert_eq!(t.walk().at(), "Q1");
    chars(&mut app, "2"); // Q1 "Yes"
    assert_eq!(app.troubleshoot.as_ref().expect("open").walk().at(), "Q3");
    chars(&mut app, "r");
    assert_eq!(app.troubleshoot.as_ref().expect("open").walk().at(), "Q1");
    // Esc at the first question leaves the view.
    key(&mut app, KeyCode::Esc);
    assert!(app.troubleshoot.is_none());
}

#[test]
fn unknown_leaf_says_so_and_keeps_the_walk() {
    let mut app = app_with(demo_fleet());
    open(&mut app);
    chars(&mut app, "j");
    chars(&mut app, "C99");
    key(&mut app, KeyCode::Enter);
    assert!(
        app.notice.as_ref().is_some_and(|n| n.text.contains("C99")),
        "{:?}",
        app.notice
    );
    assert_eq!(app.troubleshoot.as_ref().expect("open").walk().at(), "Q1");
}

#[test]
fn without_a_fleet_it_asks_for_a_sovereign() {
    let mut app = app_with(Vec::new());
    chars(&mut app, ":troubleshoot");
    key(&mut app, KeyCode::Enter);
    assert!(app.troubleshoot.is_none());
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("select a Sovereign"))
    );
}
