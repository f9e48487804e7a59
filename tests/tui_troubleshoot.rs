//! The troubleshooting walk view in the cockpit: snapshots of a question with the evidence's
//! answer marked and of a leaf with its recovery, plus back / restart / jump / copy through the
//! reducer. The PTY walk through `sovtui demo` lives at the end.

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sovtui::provision::fleet::model::SovereignStatus;
use sovtui::tui::app::{App, FleetMsg, Msg, Settings};
use sovtui::tui::source::{DEMO_FIXTURE, DEMO_FIXTURE_PATH, parse_fleet};
use sovtui::tui::theme::ColorLevel;

mod support;
use support::cockpit::{chars, draw as render, key, screen_text};
use support::pty::Spawn;

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
    // Every view at 80×24 and 200×50.
    insta::assert_snapshot!(
        "troubleshoot_question_80x24",
        render(&mut app, 80, 24).backend()
    );
    insta::assert_snapshot!(
        "troubleshoot_question_200x50",
        render(&mut app, 200, 50).backend()
    );
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
fn drill_typed_over_the_walk_is_raised_on_top_and_esc_returns_to_the_walk() {
    use sovtui::tui::app::View;
    let mut app = app_with(demo_fleet());
    open(&mut app);
    chars(&mut app, ":drill omantel.omani.works");
    key(&mut app, KeyCode::Enter);
    // The drill pane is on top at once (it used to stay under the walk until several esc).
    assert_eq!(app.panes().top(), &View::Drill);
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(
        text.contains("Failover drill (§6.1) · omantel.omani.works"),
        "{text}"
    );
    assert!(!text.contains(" Troubleshoot · "), "{text}");
    // One esc goes to the drill pane (not to the walk, which it would close) and pops it: the
    // walk is back as it was.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.panes().top(), &View::Troubleshoot);
    assert!(!app.drill_shown());
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains(" Troubleshoot · "), "{text}");
    assert!(text.contains("Did wizard reach tofu-plan?"), "{text}");
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

// ───────────────────── background gathering and related actions ─────────────────────

mod gathering {
    use super::*;
    use chrono::TimeZone;
    use sovtui::provision::troubleshoot::Evidence;
    use sovtui::provision::troubleshoot::gather::{Gathered, SourceResult};
    use sovtui::tui::troubleshoot::GatherMsg;

    fn at(h: u32, m: u32, s: u32) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc
            .with_ymd_and_hms(2026, 5, 20, h, m, s)
            .single()
            .expect("valid time")
    }

    fn catalyst_ok() -> Gathered {
        let mut ev = Evidence::new();
        ev.push(
            "pdm.check",
            "available=false reason=reserved",
            Some("POST /api/v1/subdomains/check".into()),
        );
        Gathered {
            group: "catalyst",
            result: SourceResult::Gathered(ev),
        }
    }

    fn cluster_ok() -> Gathered {
        let mut ev = Evidence::new();
        ev.push(
            "kube.pod",
            "harbor/harbor-core-0 Pending Unschedulable",
            Some("Pod harbor/harbor-core-0".into()),
        );
        Gathered {
            group: "cluster",
            result: SourceResult::Gathered(ev),
        }
    }

    /// The gather status row of the walk pane (right of the navigation pane).
    fn status_line(t: &Terminal<TestBackend>) -> String {
        let text = screen_text(t);
        let pane = |row: &str| {
            let r = row.split_once("││").map(|(_, r)| r).unwrap_or(row);
            r.trim_end_matches('│').trim_end().to_string()
        };
        let rows: Vec<String> = text.lines().map(pane).collect();
        let Some(first) = rows.iter().position(|r| r.contains("gather")) else {
            return String::new();
        };
        let mut out = vec![rows[first].clone()];
        out.extend(
            rows[first + 1..]
                .iter()
                .take_while(|r| r.starts_with("! "))
                .cloned(),
        );
        out.join("\n")
    }

    /// The status line while gathering, after it, and when a source fails on a refresh: its
    /// error shows and its last good evidence stays; the operator's answers survive.
    #[test]
    fn gather_status_line_and_last_good_evidence() {
        let mut app = app_with(demo_fleet());
        let fqdn = app.fleet[0].fqdn.clone();
        open(&mut app);
        // No channel back into a reducer here: the view says it is not gathering.
        let t = render(&mut app, 120, 40);
        assert!(
            status_line(&t).contains("not gathering"),
            "{}",
            status_line(&t)
        );

        let seq = app.troubleshoot.as_mut().expect("open").begin_gather();
        let t = render(&mut app, 120, 40);
        assert!(
            status_line(&t).starts_with("gathering"),
            "{}",
            status_line(&t)
        );
        insta::assert_snapshot!("troubleshoot_gathering", status_line(&t));

        app.update(Msg::Troubleshoot(GatherMsg {
            fqdn: fqdn.clone(),
            seq,
            at: at(12, 30, 0),
            setup: vec![],
            deployment: None,
            api: None,
            results: vec![catalyst_ok(), cluster_ok()],
        }));
        let t = render(&mut app, 120, 40);
        assert!(
            status_line(&t).contains("gathered at 12:30:00 UTC from: catalyst, cluster"),
            "{}",
            status_line(&t)
        );
        insta::assert_snapshot!("troubleshoot_gathered", status_line(&t));

        // The operator overrides Q1 (the evidence does not say "No").
        chars(&mut app, "1");
        let view = app.troubleshoot.as_ref().expect("open");
        assert_eq!(view.walk().breadcrumbs().last().expect("crumb").node, "Q1");

        // A refresh where the cluster is now unreachable.
        let seq = app.troubleshoot.as_mut().expect("open").begin_gather();
        let mut failed = Evidence::new();
        failed.error("listing pods: connection refused");
        app.update(Msg::Troubleshoot(GatherMsg {
            fqdn: fqdn.clone(),
            seq,
            at: at(12, 34, 56),
            setup: vec![],
            deployment: None,
            api: None,
            results: vec![
                catalyst_ok(),
                Gathered {
                    group: "cluster",
                    result: SourceResult::Unreachable(failed),
                },
            ],
        }));
        let t = render(&mut app, 120, 40);
        let line = status_line(&t);
        assert!(
            line.contains(
                "! cluster: listing pods: connection refused (keeping evidence from 12:30:00 UTC)"
            ),
            "{line}"
        );
        insta::assert_snapshot!("troubleshoot_gather_failed", line);
        let view = app.troubleshoot.as_ref().expect("open");
        assert!(
            view.walk()
                .evidence()
                .lines_of("kube.pod")
                .any(|l| l.text.contains("harbor-core-0")),
            "the cluster's last good evidence stays"
        );
        let crumbs = view.walk().breadcrumbs();
        assert_eq!(crumbs.last().expect("crumb").node, "Q1", "override kept");

        // An answer to an older gather, or for another Sovereign, is ignored.
        app.update(Msg::Troubleshoot(GatherMsg {
            fqdn,
            seq: seq + 7,
            at: at(13, 0, 0),
            setup: vec![],
            deployment: None,
            api: None,
            results: vec![cluster_ok()],
        }));
        let t = render(&mut app, 120, 40);
        assert!(status_line(&t).contains("12:34:56"), "{}", status_line(&t));
    }

    #[test]
    fn c3_action_opens_the_recovery_pane_for_that_fqdn_and_the_walk_comes_back() {
        let mut app = app_with(demo_fleet());
        let fqdn = app.fleet[0].fqdn.clone();
        open(&mut app);
        chars(&mut app, "j");
        chars(&mut app, "C3");
        key(&mut app, KeyCode::Enter);
        let text = screen_text(&render(&mut app, 120, 40));
        assert!(text.contains("1 recover → recovery pane"), "{text}");
        chars(&mut app, "1");
        assert_eq!(*app.view(), sovtui::tui::app::View::Recover);
        assert!(app.troubleshoot.is_none(), "the walk is set aside");
        let pane = app.recover.as_ref().expect("recovery pane");
        assert_eq!(pane.fqdn, fqdn);
        assert!(
            pane.gate.typed().is_empty(),
            "the FQDN is never typed back for the operator"
        );
        let text = screen_text(&render(&mut app, 120, 40));
        assert!(text.contains(&fqdn), "{text}");

        // :troubleshoot from the pane brings the walk back where it was.
        chars(&mut app, ":troubleshoot");
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.troubleshoot.as_ref().expect("back").walk().at(), "C3");
    }

    #[test]
    fn m4_playbook_lists_its_commands_with_the_fqdn_and_copies_them() {
        let mut app = app_with(demo_fleet());
        let fqdn = app.fleet[0].fqdn.clone();
        open(&mut app);
        chars(&mut app, "j");
        chars(&mut app, "M4");
        key(&mut app, KeyCode::Enter);
        chars(&mut app, "1");
        let t = render(&mut app, 120, 40);
        let text = screen_text(&t);
        assert!(text.contains("Playbook §2.8"), "{text}");
        assert!(text.contains("flux reconcile kustomization"), "{text}");
        assert!(text.contains(&fqdn), "FQDN filled in: {text}");
        insta::assert_snapshot!("troubleshoot_playbook_m4", t.backend());

        // Step 2 (the GitRepository listing) copies alone; Y copies every command.
        key(&mut app, KeyCode::Down);
        chars(&mut app, "y");
        assert_eq!(
            app.clipboard.take().as_deref(),
            Some("kubectl get gitrepository -n flux-system -o wide")
        );
        chars(&mut app, " ");
        assert!(
            app.troubleshoot
                .as_ref()
                .and_then(|t| t.playbook.as_ref())
                .is_some_and(|p| p.done.contains(&1))
        );
        chars(&mut app, "Y");
        let all = app.clipboard.take().expect("all commands");
        assert_eq!(all.lines().count(), 8, "{all}");
        assert!(
            !all.contains("{kit}") && all.contains("bootstrap-kit"),
            "{all}"
        );
        // Esc returns to the leaf, not out of the walk.
        key(&mut app, KeyCode::Esc);
        let view = app.troubleshoot.as_ref().expect("open");
        assert!(view.playbook.is_none());
        assert_eq!(view.walk().at(), "M4");
    }

    #[test]
    fn actions_without_a_view_say_so_and_credentials_opens_the_wizard() {
        let mut app = app_with(demo_fleet());
        open(&mut app);
        chars(&mut app, "j");
        chars(&mut app, "C1");
        key(&mut app, KeyCode::Enter);
        chars(&mut app, "o");
        let notice = app.notice.clone().expect("said so");
        assert!(
            notice.text.contains("redeploy:catalyst-api")
                && notice.text.contains("does not deploy"),
            "{notice:?}"
        );
        assert!(app.troubleshoot.is_some(), "still in the walk");

        chars(&mut app, "r");
        chars(&mut app, "j");
        chars(&mut app, "C2");
        key(&mut app, KeyCode::Enter);
        chars(&mut app, "1");
        assert_eq!(*app.view(), sovtui::tui::app::View::Wizard);
        let notice = app.notice.clone().expect("where the wizard is");
        assert!(notice.text.contains("Credentials"), "{notice:?}");
    }
}

// ───────────── a world Sovereign: gathered in the background, landing on its leaf ─────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn world_sovereign_is_gathered_in_the_background_and_the_walk_lands_on_c10() {
    use sovtui::sim::scenario::WorldScenario;
    use sovtui::sim::world::World;
    use std::time::{Duration, Instant};

    const FQDN: &str = "omantel.omani.works";
    let deadline = Instant::now() + Duration::from_secs(120);
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/leaf-C10.yaml");
    let world = World::start(
        WorldScenario::load(&scenario.display().to_string()).expect("scenario"),
        600.0,
        Some(dir.path().to_path_buf()),
    )
    .await
    .expect("world starts");

    let mut app = app_with(Vec::new());
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    app.effects.tx = Some(tx.clone());
    app.fleet_file = Some(dir.path().join("fleet.toml"));
    // The cockpit's own live source: the fleet hub on the world's fleet file.
    tokio::spawn(sovtui::tui::source::live_fleet_source(
        sovtui::tui::FleetSender::new(tx),
        dir.path().join("fleet.toml"),
    ));

    async fn pump(app: &mut App, rx: &mut tokio::sync::mpsc::Receiver<Msg>, until: Instant) {
        let wait = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(m)) => app.update(m),
            Ok(None) => panic!("the cockpit channel closed"),
            Err(_) => {}
        }
    }

    // The fleet shows the Sovereign with its failing bp-cilium.
    while !app
        .fleet
        .iter()
        .any(|s| s.fqdn == FQDN && s.components.iter().any(|c| c.name == "bp-cilium"))
    {
        assert!(Instant::now() < deadline, "fleet never showed {FQDN}");
        world.clock.advance(Duration::from_secs(5));
        pump(
            &mut app,
            &mut rx,
            Instant::now() + Duration::from_millis(200),
        )
        .await;
    }
    open(&mut app);
    let view = app.troubleshoot.as_ref().expect("open");
    assert!(view.gather.in_flight.is_some(), "gathering started on open");
    assert_eq!(view.walk().at(), "Q1", "the UI did not wait for the gather");

    loop {
        while app
            .troubleshoot
            .as_ref()
            .expect("open")
            .gather
            .in_flight
            .is_some()
        {
            assert!(Instant::now() < deadline, "the gather never came back");
            pump(&mut app, &mut rx, deadline).await;
        }
        chars(&mut app, "a"); // follow the evidence
        if app.troubleshoot.as_ref().expect("open").walk().at() == "C10" {
            break;
        }
        let at = app
            .troubleshoot
            .as_ref()
            .expect("open")
            .walk()
            .at()
            .to_string();
        assert!(
            Instant::now() < deadline,
            "never landed on C10 (at {at}): {}",
            app.troubleshoot.as_ref().expect("open").gather_line()
        );
        chars(&mut app, "r");
        world.clock.advance(Duration::from_secs(30));
        chars(&mut app, "g");
    }
    let view = app.troubleshoot.as_ref().expect("open");
    let line = view.gather_line();
    assert!(line.contains("from: catalyst, cluster"), "{line}");
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(
        text.contains("C10") && text.contains("gathered at"),
        "{text}"
    );
    assert!(text.contains("1 reconcile → armed reconcile"), "{text}");

    // The leaf's reconcile: read-only first, then the armed confirm names the failing release.
    chars(&mut app, "1");
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.contains(":arm first")),
        "{:?}",
        app.notice
    );
    chars(&mut app, ":arm");
    key(&mut app, KeyCode::Enter);
    chars(&mut app, "1");
    match app.overlay() {
        Some(sovtui::tui::app::Overlay::Confirm(p)) => {
            assert_eq!(p.fqdn, FQDN);
            assert_eq!(p.target.name, "bp-cilium");
        }
        other => panic!("expected the armed confirm, got {other:?}"),
    }
    key(&mut app, KeyCode::Esc); // cancels
    drop(world);
}

// ───────────────────── by hand, in a pseudo-terminal: `sovtui demo` ─────────────────────

#[test]
fn pty_walks_one_path_by_hand_in_the_demo() {
    let dirs = tempfile::tempdir().expect("tempdir");
    let mut s = Spawn::demo().start(dirs.path());
    // The demo is the simulated world; salalah's bp-harbor fails to install.
    s.wait_for("salalah.omani.works");
    s.wait_for("bp-harbor fail");
    s.send("\x1b[B"); // select salalah
    s.send(":troubleshoot\r");
    s.wait_for("Troubleshoot · salalah.omani.works");
    s.wait_for("Did wizard reach tofu-plan?");
    // Enter takes the answer the fleet's Flux evidence marks.
    s.send("\r");
    s.wait_for("tofu-apply succeed?");
    s.send("\r");
    s.wait_for("cloud-init finish 5min?");
    s.send("\r");
    s.wait_for("bootstrap-kit Ready?");
    s.send("\r");
    s.wait_for("bp-* HelmReleases Ready?");
    // A failure no rule knows: the walk asks instead of guessing.
    s.wait_for("answer it yourself");
    s.wait_for("context deadline exceeded"); // the failing release, shown as material

    s.send("\x1b"); // back to Q7
    s.wait_for("path: Q1 Yes=⚑ › Q3 Yes=⚑ › Q4 Yes=⚑ › Q7");
    s.send("j");
    s.wait_for("jump to leaf:");
    s.send("C5\r");
    s.wait_for("Recovery:");
    s.send("y");
    s.wait_for("(OSC 52)");
    let raw = s.raw_text();
    assert!(
        raw.contains("\x1b]52;c;"),
        "the clipboard sequence was written"
    );
    s.send("\x03");
    assert!(s.wait_exit(), "clean exit:\n{}", s.screen());
}
