//! The fleet views at 2,000 Sovereigns × 40 HelmReleases: grouped overview and matrix (by worst
//! state, by tag), folds, the `/` filter and `:jump`, the summary line, and long FQDNs in the
//! navigation. Screens are TestBackend snapshots (insta); the fleet is generated, fixed in
//! time, so every run draws the same frames.

use std::sync::Arc;

use crossterm::event::KeyCode;
use sovtui::provision::fleet::arrange::{GroupKey, Health};
use sovtui::provision::fleet::model::{ComponentStatus, ConnectionState, SovereignStatus};
use sovtui::provision::flux::ComponentState;
use sovtui::tui::app::{App, FleetMsg, Msg, Settings, View};
use sovtui::tui::theme::ColorLevel;

mod support;
use support::cockpit::{chars, draw, key, render};

const SOVEREIGNS: usize = 2000;
const RELEASES: usize = 40;
/// Sovereigns in trouble, by index: the rest are ready.
const FAILED: [usize; 3] = [17, 911, 1500];
const STALLED: usize = 640;
const NOT_LIVE: [usize; 2] = [333, 1777];
const PROGRESSING: [usize; 12] = [
    5, 99, 250, 412, 777, 1001, 1234, 1313, 1618, 1800, 1942, 1999,
];

fn at(t: &str) -> chrono::DateTime<chrono::Utc> {
    t.parse().expect("time")
}

fn fqdn(i: usize) -> String {
    let region = ["eu-central", "us-east", "ap-south", "eu-north"][i % 4];
    format!("sov-{i:04}.{region}.fleet.example")
}

fn sovereign(i: usize) -> SovereignStatus {
    let mut tags = vec![["eu", "us", "ap", "eu"][i % 4].to_string()];
    if i.is_multiple_of(4) {
        tags.insert(0, "prod".into());
    }
    let mut s = SovereignStatus::new(fqdn(i), tags);
    s.connection = ConnectionState::Live;
    s.last_live = Some(at("2026-11-29T13:19:59Z"));
    if NOT_LIVE.contains(&i) {
        s.connection = ConnectionState::Unreachable {
            since: at("2026-11-29T13:18:00Z"),
            error: "dial tcp: connection refused".into(),
        };
        s.last_live = Some(at("2026-11-29T13:18:00Z"));
    }
    s.components = (0..RELEASES)
        .map(|j| ComponentStatus {
            name: format!("bp-comp{j:02}"),
            namespace: "flux-system".into(),
            state: ComponentState::Installed,
            message: "Helm install succeeded".into(),
            last_transition: None,
            depends_on: if j == 0 {
                vec![]
            } else {
                vec![format!("flux-system/bp-comp{:02}", (j - 1) / 2)]
            },
            conditions: vec![],
        })
        .map(Arc::new)
        .collect();
    let trouble = if FAILED.contains(&i) {
        Some((ComponentState::Failed, "install retries exhausted"))
    } else if i == STALLED {
        Some((ComponentState::Stalled, "RetriesExceeded"))
    } else if PROGRESSING.contains(&i) {
        Some((ComponentState::Installing, "Running 'install' action"))
    } else {
        None
    };
    if let Some((state, message)) = trouble {
        let c = Arc::make_mut(&mut s.components[(i * 7) % RELEASES]);
        c.state = state;
        c.message = message.into();
    }
    s
}

fn fleet() -> Vec<SovereignStatus> {
    (0..SOVEREIGNS).map(sovereign).collect()
}

fn app() -> App {
    let mut app = App::new(Settings {
        banner: "scale · 2,000 generated Sovereigns".into(),
        level: ColorLevel::Mono,
        theme: None,
        keymap: None,
        config_dir: None,
    });
    // The default threshold (50), whatever the environment says.
    app.fv.worst_first_above = 50;
    app.update(Msg::Fleet(FleetMsg::Snapshot(fleet())));
    app.fv.now = Some(at("2026-11-29T13:20:00Z"));
    app
}

fn command(app: &mut App, text: &str) {
    chars(app, &format!(":{text}"));
    key(app, KeyCode::Enter);
}

/// The line of the screen that holds `needle` (panics with the screen when none does).
fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}:\n{screen}"))
}

#[test]
fn grouped_overview_80x24() {
    let mut app = app();
    let text = render(&mut app, 80, 24);
    // Large fleet: grouped by worst state, worst first, counts in each header.
    assert!(text.contains("by worst state"), "{text}");
    assert!(line_with(&text, "◑ not live").contains("2 Sovereigns"));
    assert!(line_with(&text, "✖ failed").contains("3 Sovereigns"));
    // The summary fits the pane (54 columns here), thousands separated, never wrapped.
    let summary = line_with(&text, "2,000 Sov ◑");
    assert!(summary.contains("◑2 ✖3 ‼1 ◐12 ✔1,982"), "{summary}");
    // Starts on the first Sovereign of the worst group.
    assert_eq!(
        app.selected_sovereign().map(|s| s.fqdn.clone()),
        Some(fqdn(333))
    );
    insta::assert_snapshot!("grouped_overview_80x24", draw(&mut app, 80, 24).backend());
}

#[test]
fn grouped_overview_200x50() {
    let mut app = app();
    let text = render(&mut app, 200, 50);
    assert!(
        text.contains(
            "2,000 Sovereigns · ◑ 2 not live · ✖ 3 failed · ‼ 1 stalled · ◐ 12 progressing · ✔ 1,982 ready"
        ),
        "{text}"
    );
    insta::assert_snapshot!("grouped_overview_200x50", draw(&mut app, 200, 50).backend());
}

#[test]
fn grouped_matrix_80x24() {
    let mut app = app();
    command(&mut app, "matrix");
    assert_eq!(*app.view(), View::Matrix);
    let text = render(&mut app, 80, 24);
    // The whole width (78 columns inside the border): glyphs and numbers, no words.
    let summary = line_with(&text, "2,000 Sov ◑");
    assert!(summary.chars().count() <= 80, "{summary}");
    assert!(summary.contains("◑2 ✖3 ‼1 ◐12 ✔1,982"), "{summary}");
    assert!(line_with(&text, "✖ failed").contains("3 Sovereigns"));
    insta::assert_snapshot!("grouped_matrix_80x24", draw(&mut app, 80, 24).backend());
}

#[test]
fn grouped_matrix_200x50() {
    let mut app = app();
    command(&mut app, "matrix");
    insta::assert_snapshot!("grouped_matrix_200x50", draw(&mut app, 200, 50).backend());
}

#[test]
fn grouping_by_tag_counts_each_tag_and_the_key_cycles_groupings() {
    let mut app = app();
    // worst → none → tag.
    key(&mut app, KeyCode::Char('g'));
    let text = render(&mut app, 120, 40);
    assert!(!text.contains("by worst state"), "{text}");
    assert!(!text.contains("▾"), "ungrouped has no headers:\n{text}");
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Home);
    let text = render(&mut app, 200, 50);
    // 500 prod Sovereigns (every 4th), each also in its region's group.
    assert!(
        line_with(&text, "▾ tag ap · 500 Sovereigns").contains("◐ progressing 4 · ✔ ready 496"),
        "{text}"
    );
    insta::assert_snapshot!("grouped_by_tag_200x50", draw(&mut app, 200, 50).backend());
    command(&mut app, "group worst");
    assert!(render(&mut app, 120, 40).contains("by worst state"));
}

#[test]
fn folding_keeps_the_header_and_its_count_and_enter_on_a_header_unfolds() {
    let mut app = app();
    command(&mut app, "fold all");
    let text = render(&mut app, 80, 24);
    let ready = line_with(&text, "✔ ready");
    assert!(ready.contains("▸ ✔ ready · 1,982 Sovereigns"), "{ready}");
    let main = |text: &str| -> String {
        text.lines()
            .map(|l| l.chars().skip(24).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(!main(&text).contains("sov-"), "every group folded:\n{text}");
    // The cursor is on the first header: enter unfolds it.
    key(&mut app, KeyCode::Enter);
    let text = render(&mut app, 80, 24);
    assert!(text.contains("▾ ◑ not live"), "{text}");
    assert!(main(&text).contains("sov-0333"), "{text}");
    // `z` on a Sovereign folds its group.
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('z'));
    assert!(!main(&render(&mut app, 80, 24)).contains("sov-0333"));
}

#[test]
fn filter_at_2000_80x24() {
    let mut app = app();
    key(&mut app, KeyCode::Char('/'));
    chars(&mut app, "sov-19");
    let text = render(&mut app, 80, 24);
    assert!(text.contains("100 of 2,000 match /sov-19"), "{text}");
    // Within the filter the groups count only what matches.
    assert!(
        line_with(&text, "◐ progressing").contains("2 Sovereigns"),
        "{text}"
    );
    insta::assert_snapshot!("filter_sov19_80x24", draw(&mut app, 80, 24).backend());
    // Backspace widens again; health words filter too.
    for _ in 0.."sov-19".len() {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "failed");
    let text = render(&mut app, 80, 24);
    assert!(text.contains("3 of 2,000 match /failed"), "{text}");
    key(&mut app, KeyCode::Esc);
    assert!(!render(&mut app, 80, 24).contains("match /"));
}

#[test]
fn jump_at_2000_unfolds_and_selects() {
    let mut app = app();
    command(&mut app, "matrix");
    command(&mut app, "fold all");
    command(&mut app, "jump sov-1234");
    assert_eq!(
        app.selected_sovereign().map(|s| s.fqdn.clone()),
        Some(fqdn(1234))
    );
    let text = render(&mut app, 80, 24);
    assert!(line_with(&text, "▶").contains("sov-1234"), "{text}");
    insta::assert_snapshot!("jump_matrix_80x24", draw(&mut app, 80, 24).backend());
    // A ready one, deep in the biggest group.
    command(&mut app, "jump sov-1998");
    let text = render(&mut app, 200, 50);
    assert!(line_with(&text, "▶").contains("sov-1998"), "{text}");
    insta::assert_snapshot!("jump_matrix_200x50", draw(&mut app, 200, 50).backend());
}

#[test]
fn rows_stay_put_when_a_sovereign_changes_inside_its_group_and_the_cursor_follows_a_move() {
    let mut app = app();
    command(&mut app, "jump sov-0042");
    let before = render(&mut app, 120, 40);
    // A message changes, the state does not: not a row moves.
    let mut s = sovereign(41);
    Arc::make_mut(&mut s.components[3]).message = "upgraded".into();
    app.update(Msg::Fleet(FleetMsg::Update(s)));
    assert_eq!(render(&mut app, 120, 40), before);
    // The selected Sovereign fails: it moves to "failed" and the cursor goes with it.
    let mut s = sovereign(42);
    Arc::make_mut(&mut s.components[0]).state = ComponentState::Failed;
    app.update(Msg::Fleet(FleetMsg::Update(s)));
    let text = render(&mut app, 120, 40);
    let failed = app
        .fv
        .index
        .groups()
        .iter()
        .find(|g| g.key == GroupKey::Worst(Health::Failed))
        .map(|g| g.counts.total());
    assert_eq!(failed, Some(4));
    assert!(line_with(&text, "2,000 Sov ◑").contains("✖4"), "{text}");
    assert_eq!(
        app.selected_sovereign().map(|s| s.fqdn.clone()),
        Some(fqdn(42))
    );
    assert!(line_with(&text, "▶").contains("sov-0042"), "{text}");
}

#[test]
fn long_fqdns_in_the_navigation_are_elided_in_the_middle() {
    let mut app = app();
    let text = render(&mut app, 80, 24);
    // 17 columns for the name: the first label whole, the shared `.fleet.example` gone, the
    // end of what is left.
    assert!(text.contains("sov-0000…-central"), "{text}");
    let text = render(&mut app, 200, 50);
    // 34 columns of navigation: room for the whole distinguishing part.
    assert!(text.contains("sov-0000.eu-central…e"), "{text}");
    // Never a name cut at the pane's edge.
    for l in text.lines().take(40) {
        let nav: String = l.chars().take(34).collect();
        assert!(!nav.contains(".fleet.exa│"), "{l}");
    }
}

#[test]
fn a_small_fleet_stays_ungrouped_by_default() {
    let mut app = App::new(Settings {
        banner: "small".into(),
        level: ColorLevel::Mono,
        theme: None,
        keymap: None,
        config_dir: None,
    });
    app.fv.worst_first_above = 50;
    app.update(Msg::Fleet(FleetMsg::Snapshot(
        (0..50).map(sovereign).collect(),
    )));
    let text = render(&mut app, 120, 40);
    assert!(!text.contains("by worst state"), "{text}");
    app.update(Msg::Fleet(FleetMsg::Update(sovereign(50))));
    assert!(render(&mut app, 120, 40).contains("by worst state"));
}
