//! The decommission pane: in-process snapshots (TestBackend + insta) of the plan, of the live
//! wipe and of both verdicts — each verification item in words, not colour alone — and, on a
//! pseudo-terminal, `sovtui demo` on a world with a Sovereign provisioned through catalyst-api:
//! `:decommission FQDN`, a wrong FQDN refused, `:arm`, the FQDN typed back, the wipe followed
//! live, and the verification ending VERIFIED with the DNS line.

use crossterm::event::KeyCode;
use serde_json::json;
use sovtui::provision::decommission::{
    Check, CheckState, DecommissionPlan, Event, Report, Verification,
};
use sovtui::tui::app::{App, Msg, View};
use sovtui::tui::decommission::{DecommissionMsg, Phase};
use sovtui::tui::palette::Command;

mod support;
use support::cockpit::{chars, key, render};
use support::pty::Spawn;

const FQDN: &str = "t42.omani.works";

fn app() -> App {
    support::cockpit::detached_app("decommission test")
}

fn fixed_plan() -> DecommissionPlan {
    let label = |f: &str| json!({"catalyst.openova.io/sovereign": f});
    serde_json::from_value(json!({
        "format": "sovtui-decommission-plan/1",
        "fqdn": FQDN,
        "created_at": "2026-12-06T14:00:00Z",
        "deployment": {"catalyst_api": "http://127.0.0.1:8080", "id": "3f69f0482cd61002",
                       "status": "ready"},
        "project": {"token_source": {"from": "env-hcloud-token"}, "token_fingerprint": "ea7ba671",
                    "endpoint": "https://api.hetzner.cloud/v1", "servers": 3},
        "hetzner": [
            {"kind": "server", "id": 4, "name": "catalyst-t42-omani-works-cp1",
             "labels": label(FQDN), "reasons": [{"by": "label"}, {"by": "name"}]},
            {"kind": "primary_ip", "id": 5, "name": "primary_ip-5", "labels": {},
             "reasons": [{"by": "server", "server_id": 4}]},
            {"kind": "network", "id": 1, "name": "catalyst-t42-omani-works-net",
             "labels": label(FQDN), "reasons": [{"by": "label"}, {"by": "name"}]}
        ],
        "ambiguous": [],
        "vetoed": [
            {"kind": "server", "id": 11, "name": "catalyst-t42-omani-works-w9",
             "labels": label("other.omani.works"), "owner": "other.omani.works",
             "reasons": [{"by": "name"}]}
        ],
        "others": ["other.omani.works"],
        "known_sovereigns": [],
        "pdm": {"url": "http://127.0.0.1:8081", "pool": "omani.works", "sub": "t42",
                "seen": "t42.omani.works is held at PDM (active-state)"},
        "dns": {"server": "127.0.0.1:5353", "name": "console.t42.omani.works", "rcode": "NOERROR",
                "addresses": ["49.13.0.7"], "ttl": 300, "at": "2026-12-06T14:00:00Z"},
        "force": false
    }))
    .expect("plan")
}

fn check(item: &str, title: &str, state: CheckState, summary: &str) -> Check {
    Check {
        item: item.into(),
        title: title.into(),
        state,
        summary: summary.into(),
        leftovers: Vec::new(),
        notes: Vec::new(),
        may_resolve_until: None,
    }
}

fn verified_checks() -> Vec<Check> {
    let mut dns = check(
        "dns",
        "DNS",
        CheckState::Gone,
        "console.t42.omani.works resolves nowhere at 127.0.0.1:5353 (NXDOMAIN)",
    );
    dns.may_resolve_until = Some("2026-12-06T14:10:00Z".into());
    dns.notes.push(
        "may resolve until 14:10:00 UTC from resolvers that cached it before the wipe (TTL 300 s)"
            .into(),
    );
    let mut hetzner = check(
        "hetzner",
        "Hetzner objects",
        CheckState::Gone,
        "nothing of t42.omani.works in the project (full listing, ownership rule)",
    );
    hetzner.notes.push(
        "not ours: server catalyst-t42-omani-works-w9 #11 is labelled for other.omani.works \
         (its name points here; the label decides)"
            .into(),
    );
    vec![
        hetzner,
        check(
            "pdm",
            "PDM name",
            CheckState::Gone,
            "t42.omani.works is AVAILABLE at PDM",
        ),
        dns,
    ]
}

fn report(checks: Vec<Check>) -> Report {
    let verification = Verification { checks };
    let leftovers = verification.leftovers();
    Report {
        fqdn: FQDN.into(),
        deployment_id: "3f69f0482cd61002".into(),
        status: "wiped".into(),
        wipe_report: None,
        verdict: if leftovers.is_empty() {
            "verified".into()
        } else {
            "not-verified".into()
        },
        leftovers,
        verification,
        journal: None,
        elapsed_ms: 1234,
    }
}

fn send(app: &mut App, m: DecommissionMsg) {
    app.update(Msg::Decommission(m));
}

fn event(app: &mut App, event: Event) {
    send(
        app,
        DecommissionMsg::Event {
            fqdn: FQDN.into(),
            event,
        },
    );
}

/// An App showing the pane with the fixed plan (no tasks run: no sender, no runtime).
fn planned_app() -> App {
    let mut app = app();
    app.run_command(Command::Decommission(Some(FQDN.into())));
    assert_eq!(*app.view(), View::Decommission);
    send(
        &mut app,
        DecommissionMsg::Planned {
            fqdn: FQDN.into(),
            result: Ok(Box::new(fixed_plan())),
        },
    );
    app
}

#[test]
fn plan_view_snapshot_and_the_confirm_rule() {
    let mut app = planned_app();
    insta::assert_snapshot!("decommission_plan", render(&mut app, 130, 26));
    insta::assert_snapshot!("decommission_plan_80x24", render(&mut app, 80, 24));
    // Read-only until armed, then the FQDN typed back exactly.
    chars(&mut app, FQDN);
    let pane = app.decommission.as_ref().expect("pane");
    assert_eq!(
        pane.blocked_reason(app.armed).as_deref(),
        Some("read-only: :arm first")
    );
    app.run_command(Command::Arm);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Enter);
    let pane = app.decommission.as_ref().expect("pane");
    assert!(matches!(pane.phase, Phase::Planned), "nothing started");
    assert!(
        pane.gate
            .refused
            .as_deref()
            .is_some_and(|r| r.contains("match")),
        "{:?}",
        pane.gate.refused
    );
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(
        app.decommission
            .as_ref()
            .expect("pane")
            .blocked_reason(true),
        None
    );
}

#[test]
fn live_wipe_and_verdict_snapshots() {
    let mut app = planned_app();
    // What the armed run reports, as the wipe task sends it.
    app.decommission.as_mut().expect("pane").phase = Phase::Running;
    event(
        &mut app,
        Event::Wiping {
            deployment_id: "3f69f0482cd61002".into(),
        },
    );
    event(
        &mut app,
        Event::WipeAccepted {
            status: "wiping".into(),
        },
    );
    event(
        &mut app,
        Event::Status {
            status: "wiping".into(),
        },
    );
    event(
        &mut app,
        Event::Progress {
            time: "2026-12-06T14:01:00Z".into(),
            level: "info".into(),
            message: "hcloud_server.control_plane[0]: Destruction complete".into(),
        },
    );
    let checks = verified_checks();
    event(
        &mut app,
        Event::Checked {
            check: checks[0].clone(),
        },
    );
    event(&mut app, Event::Verifying { item: "pdm".into() });
    insta::assert_snapshot!("decommission_live", render(&mut app, 130, 30));

    let mut done = app.decommission.take().expect("pane");
    done.on_msg(DecommissionMsg::Finished {
        fqdn: FQDN.into(),
        result: Ok(Box::new(report(verified_checks()))),
    });
    app.decommission = Some(done);
    let shown = render(&mut app, 130, 30);
    assert!(shown.contains("✓ VERIFIED"), "{shown}");
    insta::assert_snapshot!("decommission_verified", shown);

    // A leftover: named, in words.
    let mut left = verified_checks();
    left[0].state = CheckState::Left;
    left[0].summary = "1 object(s) of t42.omani.works still in the project".into();
    left[0]
        .leftovers
        .push("server catalyst-t42-omani-works-cp1 #4 (ours by label + name)".into());
    let mut app = planned_app();
    app.decommission.as_mut().expect("pane").phase = Phase::Running;
    send(
        &mut app,
        DecommissionMsg::Finished {
            fqdn: FQDN.into(),
            result: Ok(Box::new(report(left))),
        },
    );
    let shown = render(&mut app, 130, 30);
    assert!(
        shown.contains("NOT VERIFIED") && shown.contains("✗ LEFT"),
        "{shown}"
    );
    insta::assert_snapshot!("decommission_not_verified", shown);
}

/// The scenario the PTY test's demo runs: one Sovereign provisioned through catalyst-api.
const SCENARIO: &str = "name: decommission-pty
hetzner: {linger_seconds: 5}
catalyst: {pdm_reservation_ttl_seconds: 3600}
sovereigns:
  - fqdn: t42.omani.works
    stage: provisioning
    cluster: {kit: bootstrap-kit, bootstrap_seconds: 1}
";

#[test]
fn pty_decommission_refuses_a_wrong_fqdn_then_wipes_and_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("decommission.yaml");
    std::fs::write(&scenario, SCENARIO).expect("scenario");
    let mut s = Spawn::demo()
        .args(&[
            "demo",
            "--scenario",
            scenario.to_str().expect("utf-8"),
            "--speed",
            "600",
            "--data-plane",
            "modelled",
        ])
        .size(45, 150)
        .start(dir.path());
    s.wait_for("press any key to start provisioning t42.omani.works");
    // Provisioning starts with the first key; the plan shows the record's status — ask again
    // until the Sovereign is ready (a younger one is refused by catalyst-api's min-life guard).
    let mut ready = false;
    let until = std::time::Instant::now() + std::time::Duration::from_secs(240);
    while std::time::Instant::now() < until {
        s.send(&format!(":decommission {FQDN}\r"));
        s.wait_until("the plan", |screen| {
            screen.contains("Decommission (§1.7/§2.1)")
                && (screen.contains("— status ") || screen.contains("dry run failed"))
        });
        if s.screen().contains("— status ready") {
            ready = true;
            break;
        }
        s.send("\x1b");
        s.wait_until("back", |screen| {
            !screen.contains("Decommission (§1.7/§2.1)")
        });
    }
    assert!(ready, "{}", s.screen());
    s.wait_for("catalyst-t42-omani-works-cp1");
    assert!(s.screen().contains("PDM: t42.omani.works is held at PDM"));
    assert!(s.screen().contains("(TTL 300 s)"));

    // Armed, but the FQDN typed back wrong: refused, nothing starts.
    s.send(":arm\r");
    s.send("t42.omani.work\r");
    s.wait_for("does not match");
    assert!(s.screen().contains("dry run: this is what the wipe takes"));
    s.send("s\r");
    s.wait_until("verified", |screen| {
        screen.contains("VERIFIED") || screen.contains("failed")
    });
    let shown = s.screen();
    assert!(shown.contains("✓ VERIFIED"), "{shown}");
    for line in [
        "✓ gone      Hetzner objects",
        "✓ gone      PDM name",
        "✓ gone      DNS",
        "may resolve until",
        "catalyst-api wipe:",
    ] {
        assert!(shown.contains(line), "{line}: {shown}");
    }
    s.send("\x03");
    assert!(s.wait_exit());
}
