//! One rule for panes, by hand in `sovtui demo` on a pseudo-terminal: every palette command that
//! shows a pane brings it to the front over the pane the operator is in, the navigation names
//! what is on screen, and `esc` returns to where the operator was.

mod support;
use support::pty::{Session, Spawn};

const WALK: &str = "Troubleshoot · salalah.omani.works";
const DRILL: &str = "Failover drill (§6.1) · omantel.omani.works";

/// The demo with live data, the troubleshooting walk on salalah in front.
fn in_the_walk(dir: &std::path::Path) -> Session {
    let mut s = Spawn::demo().start(dir);
    s.wait_until("live data", |screen| {
        screen.contains("salalah.omani.works") && screen.contains("● live")
    });
    s.send(":jump salalah\r");
    s.send(":troubleshoot\r");
    s.wait_for(WALK);
    assert_nav_names(&mut s, "Troubleshoot");
    s
}

/// The navigation marks `label` (and nothing else) as on screen.
#[track_caller]
fn assert_nav_names(s: &mut Session, label: &str) {
    s.wait_until(&format!("the navigation names {label}"), |screen| {
        let marked: Vec<&str> = screen.lines().filter(|l| l.contains(" ◂")).collect();
        marked.len() == 1 && marked[0].contains(&format!("{label} ◂"))
    });
}

/// `command` over the walk shows `front` (a pane instead of the walk; an overlay over it);
/// `esc` brings the walk back.
#[track_caller]
fn over_the_walk_and_back(command: &str, front: &str, nav: Option<&str>) {
    let overlay = command == "help";
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = in_the_walk(dir.path());
    s.send(&format!(":{command}\r"));
    s.wait_until(&format!("{front} in front"), |screen| {
        screen.contains(front) && (overlay || !screen.contains(WALK))
    });
    if let Some(label) = nav {
        assert_nav_names(&mut s, label);
    }
    s.send("\x1b");
    s.wait_until("back in the walk", |screen| {
        screen.contains(WALK) && !screen.contains(front)
    });
    assert_nav_names(&mut s, "Troubleshoot");
    s.send("\x03");
    assert!(s.wait_exit());
}

#[test]
fn drill_comes_over_the_walk_and_esc_returns_to_it() {
    over_the_walk_and_back("drill omantel.omani.works", DRILL, Some("Failover drill"));
}

#[test]
fn matrix_comes_over_the_walk_and_esc_returns_to_it() {
    // The matrix takes the whole width: there is no navigation to name it.
    over_the_walk_and_back("matrix", "Matrix · 3 Sovereigns", None);
}

#[test]
fn wizard_comes_over_the_walk_and_esc_returns_to_it() {
    over_the_walk_and_back("wizard", "Wizard — step 1/7", Some("Wizard"));
}

#[test]
fn recover_comes_over_the_walk_and_esc_returns_to_it() {
    over_the_walk_and_back(
        "recover",
        "Recover (§2.2/§2.3) · salalah",
        Some("Recover (§2.2)"),
    );
}

#[test]
fn fleet_comes_over_the_walk_and_esc_returns_to_it() {
    over_the_walk_and_back("fleet", "Fleet · 3 Sovereigns", Some("Fleet overview"));
}

#[test]
fn help_comes_over_the_walk_and_esc_returns_to_it() {
    // An overlay: the walk stays on screen under it, and the navigation still names the walk.
    over_the_walk_and_back("help", "Help · keymap", Some("Troubleshoot"));
}

#[test]
fn troubleshoot_comes_over_the_drill_and_esc_returns_to_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Spawn::demo().start(dir.path());
    s.wait_until("live data", |screen| {
        screen.contains("salalah.omani.works") && screen.contains("● live")
    });
    s.send(":jump salalah\r");
    s.send(":drill omantel.omani.works\r");
    s.wait_for(DRILL);
    assert_nav_names(&mut s, "Failover drill");
    s.send(":troubleshoot\r");
    s.wait_until("the walk in front", |screen| {
        screen.contains("Troubleshoot · ") && !screen.contains(DRILL)
    });
    assert_nav_names(&mut s, "Troubleshoot");
    s.send("\x1b");
    s.wait_until("back in the drill", |screen| {
        screen.contains(DRILL) && !screen.contains("Troubleshoot · ")
    });
    assert_nav_names(&mut s, "Failover drill");
    s.send("\x03");
    assert!(s.wait_exit());
}

#[test]
fn preflight_comes_over_the_walk_and_esc_returns_to_it() {
    // The pre-flight has no navigation entry (it is raised by `:preflight`, or from the wizard).
    over_the_walk_and_back(
        "preflight",
        "Pre-flight (runbook §1.2) · salalah.omani.works",
        None,
    );
}

/// `:preflight` in `sovtui demo` on a world whose mothership lacks the GHCR pull token: every item
/// comes back from the world (A from its Hetzner, C from its PDM, D/E from the mothership's
/// apiserver, F from its DNS, G from its registry through the token exchange, H from its CI), E
/// alone is ✗ with the runbook's fix, B (no request) is `?`; `r` runs it again.
#[test]
fn preflight_in_the_demo_shows_exactly_the_broken_item_and_its_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("pf.yaml");
    std::fs::write(
        &scenario,
        "name: pf-pty\nmothership:\n  ghcr_secret_missing: true\n",
    )
    .expect("scenario");
    let mut s = Spawn::demo()
        .args(&["demo", "--scenario", scenario.to_str().expect("utf-8")])
        .size(60, 160)
        .start(dir.path());
    s.wait_for("SIMULATED world");
    s.send(":preflight t42.omani.works\r");
    s.wait_for("Pre-flight (runbook §1.2) · t42.omani.works");
    // Until the world has handed the cockpit its fleet file and Hetzner API, the run cannot see
    // the mothership: run it again (`r`) until it does — a state, not a timer.
    let done = |screen: &str| screen.contains(" ok, ") && !screen.contains("checking…");
    for attempt in 0.. {
        s.wait_until("the pre-flight's answer", done);
        let screen = s.screen();
        if !(screen.contains("no [mothership]") || screen.contains("no Hetzner token")) {
            break;
        }
        assert!(
            attempt < 30,
            "the demo never handed over its world:\n{screen}"
        );
        s.send("r");
        s.wait_until("checking again or answered", |sc| {
            sc.contains("checking…") || sc != screen
        });
    }
    let screen = s.screen();
    assert_eq!(screen.matches("✗ FAIL").count(), 1, "{screen}");
    for want in [
        " E  ✗ FAIL",
        "fix: Create a fine-grained token",
        " B  ? unknown",
        " A  ✓ ok",
        " G  ✓ ok",
        "35/35 charts",
        " H  ✓ ok",
        "✗ E: do not provision",
    ] {
        assert!(screen.contains(want), "{want}:\n{screen}");
    }
    // Again, on a key: every item says checking… until the same answer comes back.
    s.send("r");
    s.wait_until("the run again", |sc| {
        sc.contains("… checking…") || sc.contains("✗ E: do not provision")
    });
    s.wait_until("the same answer", |sc| {
        done(sc) && sc.contains(" E  ✗ FAIL")
    });
    s.send("\x03");
    assert!(s.wait_exit());
}
