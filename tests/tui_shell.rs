//! The cockpit shell in-process: screen snapshots (TestBackend + insta), the reducer's key
//! handling, live reload of themes and keymaps, and the colour depth of what reaches a terminal.

use std::path::Path;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{TerminalOptions, Viewport};
use sovtui::tui::app::{App, FleetMsg, Level, Msg, Settings, View};
use sovtui::tui::keymap::Action;
use sovtui::tui::source::{DEMO_FIXTURE, DEMO_FIXTURE_PATH, parse_fleet};
use sovtui::tui::theme::{ColorLevel, Slot};
use sovtui::tui::{runtime, ui};

mod support;
use support::cockpit::{chars, draw as render, key, screen_text};

fn settings(level: ColorLevel, config_dir: Option<&Path>) -> Settings {
    Settings {
        banner: "demo · FIXTURE DATA from fixtures/demo-fleet.json (not live)".into(),
        level,
        theme: None,
        keymap: None,
        config_dir: config_dir.map(Path::to_path_buf),
    }
}

fn demo_app() -> App {
    let mut app = App::new(settings(ColorLevel::Mono, None));
    let fleet = parse_fleet(DEMO_FIXTURE_PATH, DEMO_FIXTURE).expect("fixture");
    app.update(Msg::Fleet(FleetMsg::Snapshot(fleet)));
    // A fixed "now" so "stale for N s" is the same on every run.
    app.fv.now = Some("2026-11-29T13:20:00Z".parse().expect("time"));
    app
}

#[test]
fn shell_120x40() {
    let mut app = demo_app();
    insta::assert_snapshot!("shell_120x40", render(&mut app, 120, 40).backend());
}

#[test]
fn shell_80x24() {
    let mut app = demo_app();
    insta::assert_snapshot!("shell_80x24", render(&mut app, 80, 24).backend());
    // The column rule: at 80 columns every Sovereign's name is whole and its state is there;
    // the connection shrinks to its glyph and the worst item drops first.
    let text = screen_text(&render(&mut app, 80, 24));
    for name in [
        "PROD omantel.openova.cloud",
        "alpha.omani.works",
        "PROD bank-dr.sovereign.example",
    ] {
        assert!(text.contains(name), "{name} cut at 80 columns:\n{text}");
    }
    assert!(text.contains("✖1 ✔34"), "{text}");
}

#[test]
fn shell_200x50() {
    let mut app = demo_app();
    let text = screen_text(&render(&mut app, 200, 50));
    // Wide: every column whole, the worst item named.
    assert!(text.contains("degraded stale for 91 s"), "{text}");
    assert!(text.contains("✖ bp-harbor failed"), "{text}");
    insta::assert_snapshot!("shell_200x50", render(&mut app, 200, 50).backend());
}

/// No ✔ without data: a Sovereign nothing has been read from is unknown — a glyph and a word —
/// in the navigation, the fleet list, the matrix and its summary line.
#[test]
fn a_sovereign_without_data_is_unknown_everywhere_never_installed() {
    use sovtui::provision::fleet::model::SovereignStatus;
    let mut app = demo_app();
    app.update(Msg::Fleet(FleetMsg::Update(SovereignStatus::new(
        "muscat.omani.works",
        vec![],
    ))));
    // The pane segments (between borders) that show it: the navigation's and the list's rows
    // need not be on the same screen line.
    let row = |text: &str, what: &str| -> Vec<String> {
        text.lines()
            .flat_map(|l| l.split('│').map(str::to_string).collect::<Vec<_>>())
            .filter(|seg| seg.contains("muscat.omani.wo"))
            .inspect(|l| assert!(!l.contains('✔'), "{what}: a ✔ without data: {l}"))
            .collect()
    };
    let text = screen_text(&render(&mut app, 120, 40));
    let lines = row(&text, "fleet");
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines.iter().any(|l| l.contains("◌? muscat.omani.works")),
        "nav: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("? no data yet")),
        "fleet list: {lines:?}"
    );
    insta::assert_snapshot!(
        "fleet_unknown_sovereign_80x24",
        render(&mut app, 80, 24).backend()
    );

    command(&mut app, "matrix");
    command(&mut app, "jump muscat");
    let text = screen_text(&render(&mut app, 120, 40));
    let lines = row(&text, "matrix");
    assert!(lines.iter().any(|l| l.contains("? ? ? ?")), "{text}");
    assert!(
        text.contains("muscat.omani.works: ? no data yet"),
        "matrix summary: {text}"
    );
}

#[test]
fn too_small_screen_and_tiny_sizes_never_panic() {
    let mut app = demo_app();
    insta::assert_snapshot!("too_small_50x12", render(&mut app, 50, 12).backend());
    for (w, h) in [
        (1, 1),
        (0, 0),
        (2, 40),
        (200, 1),
        (59, 16),
        (60, 15),
        (60, 16),
    ] {
        let t = render(&mut app, w, h);
        if w >= ui::MIN_WIDTH && h >= ui::MIN_HEIGHT {
            assert!(!screen_text(&t).contains("too small"), "{w}x{h}");
        }
    }
    // Overlays at the minimum size too.
    chars(&mut app, "?");
    render(&mut app, ui::MIN_WIDTH, ui::MIN_HEIGHT);
    key(&mut app, KeyCode::Esc);
    chars(&mut app, ":theme ");
    render(&mut app, ui::MIN_WIDTH, ui::MIN_HEIGHT);
    render(&mut app, 1, 1);
}

#[test]
fn help_overlay_is_generated_from_the_live_keymap() {
    let mut app = demo_app();
    chars(&mut app, "?");
    insta::assert_snapshot!("help_overlay", render(&mut app, 120, 40).backend());
    // Switching keymap changes the help: vim's j appears.
    key(&mut app, KeyCode::Esc);
    app.switch_keymap("vim", false);
    chars(&mut app, "?");
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains("Help · keymap vim"), "{text}");
    assert!(text.contains("↓ j"), "{text}");
}

#[test]
fn palette_overlay_completes() {
    let mut app = demo_app();
    chars(&mut app, ":t");
    insta::assert_snapshot!("palette_overlay", render(&mut app, 120, 40).backend());
    key(&mut app, KeyCode::Tab); // "troubleshoot" is first
    chars(&mut app, "");
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains(":troubleshoot"), "{text}");
}

#[test]
fn drill_opens_the_drill_pane_and_unknown_commands_error() {
    let mut app = demo_app();
    chars(&mut app, ":drill");
    key(&mut app, KeyCode::Enter);
    assert!(app.drill_shown(), "the drill pane is shown");
    let fqdn = app.drill.as_ref().map(|d| d.fqdn.clone()).expect("pane");
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(
        text.contains(&format!("Failover drill (§6.1) · {fqdn}")),
        "{text}"
    );
    key(&mut app, KeyCode::Esc);
    assert!(!app.drill_shown());
    assert_eq!(*app.view(), View::Fleet);

    chars(&mut app, ":bogus");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.notice.as_ref().map(|n| n.level), Some(Level::Error));
}

#[test]
fn navigation_filter_back_and_quit() {
    let mut app = demo_app();
    // Open the third Sovereign from the fleet table.
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        *app.view(),
        View::Sovereign("bank-dr.sovereign.example".into())
    );
    // Bootstrap-kit (DAG) order: the CNI comes first.
    let first = app.visible_components()[0];
    assert_eq!(
        app.current_sovereign().expect("sovereign").components[first].name,
        "bp-cilium"
    );
    insta::assert_snapshot!("sovereign_detail", render(&mut app, 120, 40).backend());
    // q is "back" away from the root, and quits only at the root.
    chars(&mut app, "q");
    assert_eq!(*app.view(), View::Fleet);
    assert!(!app.should_quit());

    // `/` filters the fleet; Esc clears.
    chars(&mut app, "/alpha");
    assert_eq!(app.visible_fleet().len(), 1);
    key(&mut app, KeyCode::Enter);
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains("1 of 3 match /alpha"), "{text}");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.visible_fleet().len(), 3);

    // Tab moves focus to the navigation pane; Enter on a Sovereign opens it.
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(*app.view(), View::Sovereign("alpha.omani.works".into()));
    key(&mut app, KeyCode::Esc);
    assert_eq!(*app.view(), View::Fleet);
    chars(&mut app, "q");
    assert!(app.should_quit());
}

#[test]
fn ctrl_c_quits_from_inside_the_palette() {
    let mut app = demo_app();
    chars(&mut app, ":the");
    app.update(Msg::Input(Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    ))));
    assert!(app.should_quit());
}

#[test]
fn fleet_updates_replace_one_sovereign_and_keep_the_selection() {
    let mut app = demo_app();
    key(&mut app, KeyCode::Down);
    let mut fixed = app.fleet[2].clone();
    for c in &mut fixed.components {
        std::sync::Arc::make_mut(c).state = sovtui::provision::flux::ComponentState::Installed;
    }
    app.update(Msg::Fleet(FleetMsg::Update(fixed)));
    assert_eq!(app.fleet.len(), 3);
    assert!(app.fleet[2].worst().is_none());
    assert_eq!(app.fleet_table.selected(), Some(1));
    app.update(Msg::Fleet(FleetMsg::SourceError(
        "connection refused".into(),
    )));
    assert_eq!(app.fleet.len(), 3, "last good data stays");
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains("data source: connection refused"), "{text}");
}

const GOOD_THEME: &str =
    "extends = \"mono\"\n[styles]\ntitle = { mods = [\"bold\", \"underline\"] }\n";

/// Help and the palette draw from names read once and again on each change the config watcher
/// reports — never from the directories on every frame.
#[test]
fn theme_and_keymap_names_are_cached_and_follow_the_watcher() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("themes")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("keymaps")).expect("mkdir");
    let mut app = App::new(settings(ColorLevel::Mono, Some(dir.path())));
    assert!(!app.config_names.themes.contains(&"mine".to_string()));
    let theme_file = dir.path().join("themes/mine.toml");
    std::fs::write(&theme_file, GOOD_THEME).expect("write");
    let keymap_file = dir.path().join("keymaps/mykeys.toml");
    std::fs::write(&keymap_file, "[bindings]\n").expect("write");
    // Until the watcher says so, a frame shows the names it had.
    chars(&mut app, "?");
    let before = screen_text(&render(&mut app, 120, 120));
    assert!(!before.contains("mine"), "{before}");
    app.update(Msg::ConfigChanged(vec![theme_file, keymap_file]));
    assert!(app.config_names.themes.contains(&"mine".to_string()));
    assert!(app.config_names.keymaps.contains(&"mykeys".to_string()));
    let after = screen_text(&render(&mut app, 120, 120));
    assert!(after.contains("mine"), "{after}");
}

#[test]
fn broken_theme_file_shows_file_and_line_and_keeps_the_last_good_theme() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("themes")).expect("mkdir");
    let theme_file = dir.path().join("themes/mine.toml");
    std::fs::write(&theme_file, GOOD_THEME).expect("write");
    let mut s = settings(ColorLevel::Mono, Some(dir.path()));
    s.theme = Some("mine".into());
    let mut app = App::new(s);
    assert_eq!(app.theme.name, "mine");
    let good_title = app.theme.style(Slot::Title);

    std::fs::write(
        &theme_file,
        "extends = \"mono\"\n[styles]\ntitle = { mods = [\"blinky\"] }\n",
    )
    .expect("write");
    app.update(Msg::ConfigChanged(vec![theme_file.clone()]));
    let notice = app.notice.clone().expect("notice");
    assert_eq!(notice.level, Level::Error);
    assert!(notice.text.contains("mine.toml:3:"), "{}", notice.text);
    assert!(
        notice.text.contains("keeping theme mine"),
        "{}",
        notice.text
    );
    assert_eq!(
        app.theme.style(Slot::Title),
        good_title,
        "last good theme kept"
    );
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains("mine.toml:3:"), "{text}");

    // Fixing the file applies it again.
    std::fs::write(&theme_file, GOOD_THEME).expect("write");
    app.update(Msg::ConfigChanged(vec![theme_file]));
    assert_eq!(app.notice.as_ref().map(|n| n.level), Some(Level::Info));
}

#[test]
fn keymap_conflict_is_reported_and_the_previous_keymap_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let overlay = dir.path().join("keymap.toml");
    std::fs::write(&overlay, "[bindings]\nhelp = [\"f2\"]\n").expect("write");
    let mut app = App::new(settings(ColorLevel::Mono, Some(dir.path())));
    assert_eq!(app.keymap.hint(Action::Help).as_deref(), Some("f2"));

    std::fs::write(&overlay, "[bindings]\nhelp = [\"f2\"]\nfilter = [\"q\"]\n").expect("write");
    app.update(Msg::ConfigChanged(vec![overlay.clone()]));
    let notice = app.notice.clone().expect("notice");
    assert_eq!(notice.level, Level::Error);
    assert!(notice.text.contains("key conflict"), "{}", notice.text);
    assert!(
        notice.text.contains("q is bound to both"),
        "{}",
        notice.text
    );
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains("key conflict"), "{text}");
    // Previous keymap still in force: f2 is help, q still quits.
    assert_eq!(app.keymap.hint(Action::Help).as_deref(), Some("f2"));
    chars(&mut app, "q");
    assert!(app.should_quit());
}

#[test]
fn a_conflicting_user_keymap_at_start_falls_back_with_a_visible_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("keymap.toml"),
        "[bindings]\narm = [\"a\"]\n",
    )
    .expect("write");
    let app = App::new(settings(ColorLevel::Mono, Some(dir.path())));
    let notice = app.notice.clone().expect("notice");
    assert!(notice.text.contains("guarded"), "{}", notice.text);
    assert!(app.keymap.keys(Action::Arm).is_empty());
}

#[tokio::test]
async fn the_watcher_reports_edits_of_the_config_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("themes")).expect("mkdir");
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let _watcher = sovtui::tui::watch::spawn(dir.path(), tx).expect("watcher");
    let file = dir.path().join("themes/mine.toml");
    std::fs::write(&file, GOOD_THEME).expect("write");
    let got = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match rx.recv().await {
                Some(Msg::ConfigChanged(paths))
                    if paths.iter().any(|p| p.ends_with("mine.toml")) =>
                {
                    return paths;
                }
                Some(_) => continue,
                None => panic!("watcher channel closed"),
            }
        }
    })
    .await
    .expect("change reported within 30 s");
    assert!(got.iter().any(|p| p.ends_with("themes/mine.toml")));
}

/// A writer whose bytes the test can read back.
#[derive(Clone, Default)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("sink").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes a full frame sends to a real (crossterm) terminal at a colour depth.
fn frame_bytes(level: ColorLevel, theme: &str) -> String {
    let mut s = settings(level, None);
    s.theme = Some(theme.into());
    let mut app = App::new(s);
    let fleet = parse_fleet(DEMO_FIXTURE_PATH, DEMO_FIXTURE).expect("fixture");
    app.update(Msg::Fleet(FleetMsg::Snapshot(fleet)));
    let sink = Sink::default();
    let backend = CrosstermBackend::new(sink.clone());
    let mut t = Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 120, 40)),
        },
    )
    .expect("terminal");
    runtime::draw_frame(&mut t, &mut app).expect("draw");
    drop(t);
    let bytes = sink.0.lock().expect("sink").clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// SGR parameter lists in a byte stream.
fn sgr_params(out: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut rest = out;
    while let Some(i) = rest.find("\x1b[") {
        rest = &rest[i + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ';' || c == ':'))
            .unwrap_or(rest.len());
        if rest[end..].starts_with('m') {
            v.push(rest[..end].to_string());
        }
        rest = &rest[end..];
    }
    v
}

#[test]
fn a_256_colour_terminal_never_gets_24_bit_colour_even_from_the_truecolor_theme() {
    let out = frame_bytes(ColorLevel::Ansi256, "default");
    let params = sgr_params(&out);
    assert!(
        params.iter().any(|p| p.contains("38;5;")),
        "uses 256 colours"
    );
    assert!(!out.contains("38;2;") && !out.contains("48;2;"));
    let out = frame_bytes(ColorLevel::TrueColor, "default");
    assert!(out.contains("38;2;"), "truecolor theme at truecolor depth");
    assert!(
        out.contains("\x1b[?2026h") && out.contains("\x1b[?2026l"),
        "synchronized output"
    );
}

#[test]
fn mono_uses_modifiers_only() {
    let out = frame_bytes(ColorLevel::Mono, "default");
    for p in sgr_params(&out) {
        for code in p.split(';').filter(|c| !c.is_empty()) {
            let n: u32 = code.parse().unwrap_or(0);
            let colour = matches!(n, 30..=38 | 40..=48 | 90..=97 | 100..=107);
            assert!(!colour, "colour SGR {p:?} in mono output");
        }
    }
    assert!(
        sgr_params(&out).iter().any(|p| p == "7"),
        "reverse video for selection"
    );
}

// ---- fleet views: matrix, Sovereign detail, HelmRelease detail, armed actions ----------------

fn command(app: &mut App, text: &str) {
    chars(app, &format!(":{text}"));
    key(app, KeyCode::Enter);
}

#[test]
fn matrix_view_in_dag_order_with_stale_and_prod_cues() {
    let mut app = demo_app();
    command(&mut app, "matrix");
    assert_eq!(*app.view(), View::Matrix);
    let cols = sovtui::tui::views::fleet_matrix::columns(&app.fleet);
    assert_eq!(cols.len(), 35);
    assert_eq!(cols[0], "cilium");
    let wide = screen_text(&render(&mut app, 120, 40));
    // Every component fits at 120 columns; the connection column gives up a word for it.
    assert!(wide.contains("◑ stale 91 s"), "{wide}");
    assert!(!wide.contains("do not fit"), "{wide}");
    let wider = screen_text(&render(&mut app, 200, 50));
    assert!(wider.contains("◑ stale for 91 s"), "{wider}");
    assert!(wide.contains(" PROD "), "{wide}");
    insta::assert_snapshot!("matrix_120x40", render(&mut app, 120, 40).backend());
    insta::assert_snapshot!("matrix_80x24", render(&mut app, 80, 24).backend());
    insta::assert_snapshot!("matrix_200x50", render(&mut app, 200, 50).backend());
    // Names whole at 80 columns; the connection is its glyph.
    let narrow = screen_text(&render(&mut app, 80, 24));
    assert!(
        narrow.contains("PROD bank-dr.sovereign.example ◑"),
        "{narrow}"
    );
    // Enter opens the selected Sovereign; back returns to the matrix, then to the overview.
    command(&mut app, "jump bank");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        *app.view(),
        View::Sovereign("bank-dr.sovereign.example".into())
    );
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Esc);
    assert_eq!(*app.view(), View::Fleet);
    // Sort cycles: worst first puts the disconnected, failing Sovereign on top.
    command(&mut app, "sort");
    assert_eq!(
        app.fleet[app.visible_fleet()[0]].fqdn,
        "bank-dr.sovereign.example"
    );
}

/// A HelmRelease event from the live source, as the fleet hub sends it.
fn component_event(
    app: &mut App,
    fqdn: &str,
    component: sovtui::provision::fleet::model::ComponentStatus,
) {
    app.update(Msg::Fleet(FleetMsg::Event(Box::new(
        sovtui::provision::fleet::FleetEvent::ComponentChanged {
            fqdn: fqdn.into(),
            component: component.into(),
            previous: None,
        },
    ))));
}

#[test]
fn matrix_columns_are_kept_through_state_changes_and_follow_new_components() {
    let mut app = demo_app();
    command(&mut app, "matrix");
    let first = app.matrix_columns();
    assert_eq!(first.ids.len(), 35);
    // A status change keeps the column order (the common case under load).
    let fqdn = app.fleet[0].fqdn.clone();
    let mut changed = (*app.fleet[0].components[3]).clone();
    changed.state = sovtui::provision::flux::ComponentState::Failed;
    changed.message = "upgrade failed".into();
    component_event(&mut app, &fqdn, changed);
    assert!(std::sync::Arc::ptr_eq(&first, &app.matrix_columns()));
    // A change of dependencies moves a column: a release nothing waits for now waits for the
    // last column's release, so its column comes after that one; without the dependency the
    // order is worked out again.
    let comps = app.fleet[0].components.clone();
    let key = |c: &sovtui::provision::fleet::model::ComponentStatus| {
        format!("{}/{}", c.namespace, c.name)
    };
    let last = first.ids.last().cloned().unwrap_or_default();
    let all: Vec<_> = app.fleet.iter().flat_map(|s| &s.components).collect();
    let waited = all.iter().find(|c| c.id() == last).map(|c| key(c));
    assert!(
        waited.is_some(),
        "{last} is a column, so some Sovereign has it"
    );
    let leaf = comps
        .iter()
        .find(|c| c.id() != last && !all.iter().any(|o| o.depends_on.contains(&key(c))));
    let mut leaf = leaf
        .map(|c| (**c).clone())
        .expect("a release nothing waits for");
    let deps = leaf.depends_on.clone();
    leaf.depends_on.extend(waited);
    component_event(&mut app, &fqdn, leaf.clone());
    let moved = app.matrix_columns();
    let at = |ids: &[String], id: &str| ids.iter().position(|c| c == id);
    assert!(
        at(&moved.ids, leaf.id()) > at(&moved.ids, &last),
        "{} after {last}: {:?}",
        leaf.id(),
        moved.ids
    );
    leaf.depends_on = deps;
    component_event(&mut app, &fqdn, leaf);
    assert!(!std::sync::Arc::ptr_eq(&moved, &app.matrix_columns()));
    // A HelmRelease that depends on cilium is new: the matrix gains its column, after cilium.
    let mut added = (*app.fleet[0].components[0]).clone();
    assert_eq!(added.id(), "cilium");
    added.depends_on = vec![format!("{}/{}", added.namespace, added.name)];
    added.name = "bp-zz-new".into();
    component_event(&mut app, &fqdn, added);
    let cols = app.matrix_columns();
    assert_eq!(cols.ids.len(), 36);
    let pos = |id: &str| cols.ids.iter().position(|c| c == id);
    assert!(pos("zz-new") > pos("cilium"), "{:?}", cols.ids);
    let screen = screen_text(&render(&mut app, 120, 40));
    assert!(screen.contains("× 36 components"), "{screen}");
    // A Sovereign going away changes the set again.
    app.update(Msg::Fleet(FleetMsg::Removed(fqdn)));
    assert_eq!(app.matrix_columns().ids.len(), 35);
}

#[test]
fn matrix_draws_only_the_rows_that_fit_and_scrolls_to_the_selection() {
    let mut app = demo_app();
    let template = app.fleet[0].clone();
    let fleet: Vec<_> = (0..30)
        .map(|i| {
            let mut s = template.clone();
            s.fqdn = format!("sov-{i:02}.fleet.example");
            s
        })
        .collect();
    app.update(Msg::Fleet(FleetMsg::Snapshot(fleet)));
    command(&mut app, "matrix");
    let top = screen_text(&render(&mut app, 120, 24));
    assert!(top.contains("sov-00.fleet.example"), "{top}");
    assert!(!top.contains("sov-29.fleet.example"), "{top}");
    for _ in 0..29 {
        key(&mut app, KeyCode::Down);
    }
    let bottom = screen_text(&render(&mut app, 120, 24));
    let selected = bottom.lines().find(|l| l.contains('▶')).unwrap_or_default();
    assert!(selected.contains("sov-29.fleet.example"), "{bottom}");
    assert!(!bottom.contains("sov-00.fleet.example"), "{bottom}");
    // Back up one row: the window stays where it is (no jump back to the top).
    key(&mut app, KeyCode::Up);
    let up = screen_text(&render(&mut app, 120, 24));
    assert!(
        up.contains("sov-29.fleet.example") && !up.contains("sov-00.fleet.example"),
        "{up}"
    );
}

fn open_harbor(app: &mut App) {
    command(app, "jump bank");
    key(app, KeyCode::Enter);
    command(app, "jump harbor");
    key(app, KeyCode::Enter);
    assert_eq!(
        *app.view(),
        View::Release {
            fqdn: "bank-dr.sovereign.example".into(),
            name: "bp-harbor".into()
        }
    );
}

#[test]
fn sovereign_detail_narrow() {
    let mut app = demo_app();
    command(&mut app, "jump bank");
    key(&mut app, KeyCode::Enter);
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains("@main@sha1:9f2c1e4b"), "{text}");
    insta::assert_snapshot!("sovereign_detail_80x24", render(&mut app, 80, 24).backend());
    insta::assert_snapshot!(
        "sovereign_detail_200x50",
        render(&mut app, 200, 50).backend()
    );
    // The column rule: state and HelmRelease name whole at 80 columns.
    let text = screen_text(&render(&mut app, 80, 24));
    assert!(text.contains("✔ installed  bp-sealed-secrets"), "{text}");
}

#[test]
fn release_detail_shows_conditions_transitions_and_events() {
    use sovtui::provision::fleet::EventView;
    use sovtui::provision::flux::ComponentState;
    let mut app = demo_app();
    // A transition seen while running: harbor goes from failed to installing.
    let mut next = app.fleet[2].clone();
    let harbor = next
        .components
        .iter_mut()
        .find(|c| c.name == "bp-harbor")
        .map(std::sync::Arc::make_mut)
        .expect("harbor");
    harbor.state = ComponentState::Installing;
    harbor.message = "Reconciliation in progress".into();
    harbor.last_transition = Some("2026-11-29T13:19:40Z".parse().expect("time"));
    app.update(Msg::Fleet(FleetMsg::Update(next)));
    open_harbor(&mut app);
    app.update(Msg::Fleet(FleetMsg::ReleaseEvents {
        fqdn: "bank-dr.sovereign.example".into(),
        name: "bp-harbor".into(),
        result: Ok(vec![EventView {
            type_: "Warning".into(),
            reason: "InstallFailed".into(),
            message: "timed out waiting for the condition".into(),
            count: 3,
            last_seen: Some("2026-11-29T13:10:00Z".parse().expect("time")),
        }]),
    }));
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains("failed → ◐ installing"), "{text}");
    assert!(text.contains("InstallFailed"), "{text}");
    insta::assert_snapshot!("release_detail_120x40", render(&mut app, 120, 40).backend());
    insta::assert_snapshot!("release_detail_80x24", render(&mut app, 80, 24).backend());
    insta::assert_snapshot!("release_detail_200x50", render(&mut app, 200, 50).backend());
    key(&mut app, KeyCode::Esc);
    assert_eq!(
        *app.view(),
        View::Sovereign("bank-dr.sovereign.example".into())
    );
}

#[test]
fn flux_actions_need_arming_and_a_confirmation_naming_the_object() {
    use sovtui::tui::app::Overlay;
    let mut app = demo_app();
    open_harbor(&mut app);
    command(&mut app, "reconcile");
    assert_eq!(app.overlay(), None, "read-only: no prompt");
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.contains(":arm first")),
        "{:?}",
        app.notice
    );
    command(&mut app, "arm");
    command(&mut app, "suspend");
    let Some(Overlay::Confirm(p)) = app.overlay() else {
        panic!("expected a confirm prompt, got {:?}", app.overlay());
    };
    assert!(
        p.prompt()
            .contains("suspend HelmRelease flux-system/bp-harbor on bank-dr"),
        "{}",
        p.prompt()
    );
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains("Confirm armed action"), "{text}");
    // Anything but y cancels.
    chars(&mut app, "n");
    assert_eq!(app.overlay(), None);
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("cancelled"))
    );
    // y without a live hub (fixture data) says so instead of pretending.
    command(&mut app, "resume");
    chars(&mut app, "y");
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("no live fleet connection")),
        "{:?}",
        app.notice
    );
}

#[test]
fn the_tick_redraws_only_while_some_sovereign_is_stale() {
    use sovtui::provision::fleet::model::ConnectionState;
    let mut app = demo_app();
    app.take_dirty();
    app.update(Msg::Fleet(FleetMsg::Tick));
    assert!(
        app.take_dirty(),
        "bank-dr is degraded: its stale counter moves"
    );
    let mut back = app.fleet[2].clone();
    back.connection = ConnectionState::Live;
    app.update(Msg::Fleet(FleetMsg::Update(back)));
    app.take_dirty();
    app.update(Msg::Fleet(FleetMsg::Tick));
    assert!(!app.take_dirty(), "all live: nothing to redraw");
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(!text.contains("stale for"), "{text}");
}

#[test]
fn matrix_cell_cursor_moves_between_components_and_opens_that_helmrelease() {
    use ratatui::style::Modifier;
    let mut app = demo_app();
    command(&mut app, "matrix");
    command(&mut app, "jump bank");
    let cols = sovtui::tui::views::fleet_matrix::columns(&app.fleet);
    let harbor = cols
        .iter()
        .position(|c| c == "harbor")
        .expect("harbor column");
    assert_eq!(app.fv.matrix_col, None, "whole rows until left/right");
    key(&mut app, KeyCode::Left);
    assert_eq!(app.fv.matrix_col, None);
    key(&mut app, KeyCode::Right);
    assert_eq!(app.fv.matrix_col, Some(0));
    for _ in 0..harbor {
        key(&mut app, KeyCode::Right);
    }
    assert_eq!(app.fv.matrix_col, Some(harbor));

    let t = render(&mut app, 120, 40);
    let text = screen_text(&t);
    assert!(
        text.contains("▶ bank-dr.sovereign.example × harbor:"),
        "{text}"
    );
    // In the selected row exactly one state cell carries the cursor cue, and it is not a
    // colour: bold + underline; its column header is in reverse video.
    let buf = t.backend().buffer();
    let row = text
        .lines()
        .position(|l| l.starts_with("│▶") && l.contains("bank-dr"))
        .expect("selected row") as u16;
    let marked: Vec<u16> = (0..buf.area.width)
        .filter(|&x| {
            let c = &buf[(x, row)];
            c.modifier.contains(Modifier::BOLD | Modifier::UNDERLINED)
                && "○◐✔▲✖‼‖·".contains(c.symbol())
        })
        .collect();
    assert_eq!(marked.len(), 1, "{marked:?}");
    assert!(
        buf[(marked[0], 5)].modifier.contains(Modifier::REVERSED),
        "header of the cursor column"
    );
    insta::assert_snapshot!("matrix_cursor_120x40", t.backend());
    // Narrow: the columns scroll so the cursor stays on screen, and the status line says so.
    for _ in harbor..cols.len() + 3 {
        key(&mut app, KeyCode::Right);
    }
    assert_eq!(app.fv.matrix_col, Some(cols.len() - 1), "stops at the last");
    let narrow = render(&mut app, 80, 24);
    let text = screen_text(&narrow);
    let last = cols.last().expect("columns");
    assert!(text.contains(&format!("× {last}:")), "{text}");
    // The name is whole (the column rule), so one component fewer fits than the name cut to 15.
    assert!(text.contains("off screen: 14 ←, 0 →"), "{text}");
    insta::assert_snapshot!("matrix_cursor_80x24", narrow.backend());
    for _ in harbor..cols.len() - 1 {
        key(&mut app, KeyCode::Left);
    }
    assert_eq!(app.fv.matrix_col, Some(harbor));

    // Enter opens that component's HelmRelease of that Sovereign; back returns to the matrix
    // with the cursor kept, then to whole rows, then to the overview.
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        *app.view(),
        View::Release {
            fqdn: "bank-dr.sovereign.example".into(),
            name: "bp-harbor".into()
        }
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(*app.view(), View::Matrix);
    assert_eq!(app.fv.matrix_col, Some(harbor));
    key(&mut app, KeyCode::Esc);
    assert_eq!(
        (app.view().clone(), app.fv.matrix_col),
        (View::Matrix, None)
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(*app.view(), View::Fleet);

    // vim: l and h move the cursor; elsewhere they move between panes.
    app.switch_keymap("vim", false);
    command(&mut app, "matrix");
    chars(&mut app, "lll");
    assert_eq!(app.fv.matrix_col, Some(2));
    chars(&mut app, "h");
    assert_eq!(app.fv.matrix_col, Some(1));
    let hints = ui::footer_hints(&app);
    assert!(
        hints.iter().any(|(k, l)| k == "→" && *l == "cell"),
        "{hints:?}"
    );
}
