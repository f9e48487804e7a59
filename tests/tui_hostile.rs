//! The cockpit on a pseudo-terminal with a fleet whose Sovereigns' apiservers and catalyst-api
//! misbehave (tests/support/hostile.rs), beside one healthy Sovereign of the simulated world
//! whose HelmRelease message carries terminal escape sequences. While every bad source keeps
//! misbehaving, the cockpit must answer keys, show each bad source's state with its reason,
//! keep its memory bounded by the caps, and never pass a server's escape sequence to the
//! terminal.
//!
//! `hostile_cockpit_figures` (ignored; run with `--ignored --nocapture`) is the measuring
//! harness behind docs/RELIABILITY.md: peak RSS and key-to-frame latency over many keys.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sovtui::sim::clock::SimClock;
use sovtui::sim::kube::{ClusterOptions, KubeSim};

mod support;
use support::hostile::{Behaviour, Hostile, NASTY};
use support::pty::{Session, Spawn};

/// The cap the cockpit runs with here (`SOVTUI_MAX_BODY`): small, so the memory bound is tight.
const MAX_BODY: u64 = 8 << 20;

/// Peak RSS allowed: the cockpit's own footprint (46 MiB measured for the healthy Sovereign
/// alone, debug build) with room to spare, plus ten capped bodies in flight at once (a capped
/// read may double its buffer once). Measured with the caps: 104–122 MiB; with a cap so high it
/// does not bite, the endless watch line and body pass 300 MiB within half a minute.
const RSS_BOUND_KIB: u64 = 96 * 1024 + 10 * MAX_BODY / 1024;

/// The hostile sources, the healthy world, and the fleet file naming them all.
struct World {
    _servers: Vec<Hostile>,
    _sim: KubeSim,
    _rt: tokio::runtime::Runtime,
    fleet: std::path::PathBuf,
    /// (Sovereign, text its detail must show)
    bad: Vec<(&'static str, &'static str)>,
}

fn kubeconfig(fqdn: &str, server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {fqdn}\n\
         clusters:\n- name: c\n  cluster:\n    server: {server}\n\
         users:\n- name: u\n  user:\n    token: t\n\
         contexts:\n- name: {fqdn}\n  context:\n    cluster: c\n    user: u\n"
    )
}

fn world(dir: &Path) -> World {
    world_with(dir, true)
}

/// The healthy Sovereign, and the hostile ones unless `hostile` is false (the baseline).
fn world_with(dir: &Path, hostile: bool) -> World {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt.block_on(async {
        let sim = KubeSim::new(SimClock::new(1.0));
        let c = sim
            .add_empty_cluster("healthy.fleet.test", ClusterOptions::default())
            .await
            .expect("cluster");
        c.apply(json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "bp-evil", "namespace": "flux-system"},
            "spec": {"interval": "15m", "chart": {"spec": {"chart": "bp-evil",
                     "sourceRef": {"kind": "HelmRepository", "name": "bp-evil"}}}},
            "status": {"conditions": [{"type": "Ready", "status": "False",
                       "reason": "InstallFailed", "message": NASTY,
                       "lastTransitionTime": "2026-12-06T10:00:00Z"}]}
        }))
        .expect("seed");
        sim
    });
    std::fs::write(dir.join("healthy.kubeconfig"), sim.kubeconfig_yaml()).expect("kubeconfig");
    let mut text = String::from(
        "[[sovereign]]\nfqdn = \"healthy.fleet.test\"\nkubeconfig = \"healthy.kubeconfig\"\n",
    );
    let mut servers = Vec::new();
    let mut bad = Vec::new();
    let apiservers: [(&str, Hostile, &str); 7] = [
        (
            "silent.fleet.test",
            Hostile::start(Behaviour::Silent),
            "no answer within 1s",
        ),
        (
            "drip.fleet.test",
            Hostile::start(Behaviour::Drip {
                body: "{}".repeat(50),
                every: Duration::from_secs(1),
            }),
            "within 1s",
        ),
        (
            "tls.fleet.test",
            Hostile::self_signed_tls(Behaviour::Silent),
            "TLS handshake failed",
        ),
        (
            "handshake.fleet.test",
            Hostile::closes_mid_handshake(),
            "TLS handshake failed",
        ),
        (
            "flap.fleet.test",
            Hostile::start(Behaviour::Flapping),
            "flapping: answer",
        ),
        (
            "huge.fleet.test",
            Hostile::start(Behaviour::HugeBody { len: 1 << 30 }),
            "larger than 8 MiB",
        ),
        (
            "endless.fleet.test",
            Hostile::start(Behaviour::EndlessKube { list_ok: true }),
            "a watch event is larger than 8 MiB",
        ),
    ];
    for (fqdn, server, reason) in apiservers.into_iter().filter(|_| hostile) {
        let file = format!("{fqdn}.kubeconfig");
        std::fs::write(dir.join(&file), kubeconfig(fqdn, server.url())).expect("kubeconfig");
        text.push_str(&format!(
            "\n[[sovereign]]\nfqdn = \"{fqdn}\"\nkubeconfig = \"{file}\"\n"
        ));
        servers.push(server);
        bad.push((fqdn, reason));
    }
    // A Sovereign whose kubeconfig comes from a catalyst-api that sends a body without end.
    let api = Hostile::start(Behaviour::EndlessBody);
    if hostile {
        text.push_str(&format!(
            "\n[[sovereign]]\nfqdn = \"body.fleet.test\"\ncatalyst_api = \"{}\"\n\
         deployment_id = \"0123456789abcdef\"\nkubeconfig_from = \"catalyst\"\n",
            api.url()
        ));
        bad.push(("body.fleet.test", "larger than 8 MiB"));
    }
    servers.push(api);
    let fleet = dir.join("fleet.toml");
    std::fs::write(&fleet, text).expect("fleet");
    World {
        _servers: servers,
        _sim: sim,
        _rt: rt,
        fleet,
        bad,
    }
}

fn start(dir: &Path, w: &World) -> Session {
    start_capped(dir, w, "8MiB")
}

fn start_capped(dir: &Path, w: &World, max_body: &str) -> Session {
    let fleet = w.fleet.to_str().expect("utf-8 path").to_string();
    Spawn::demo()
        .args(&["--config", &fleet])
        .env("SOVTUI_REQUEST_TIMEOUT", "1s")
        .env("SOVTUI_CONNECT_TIMEOUT", "1s")
        .env("SOVTUI_WATCH_IDLE", "3s")
        .env("SOVTUI_MAX_BODY", max_body)
        // Wide enough that each reason fits on the Sovereign's summary line.
        .size(50, 220)
        .start(dir)
}

/// VmHWM (peak resident set) of `pid`, in KiB.
fn peak_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Server-sent bytes that must never reach the terminal: the title change, the bell that ends
/// it, the colour and the 8-bit CSI of `NASTY` (the cockpit's own output has none of these).
fn assert_no_server_escapes(s: &Session) {
    let raw = s.raw();
    for (bad, what) in [
        (&b"\x1b]0;"[..], "an OSC title sequence"),
        (&b"\x07"[..], "a BEL"),
        (&b"\xc2\x9b"[..], "an 8-bit CSI"),
        (&b"\x1b[31mred"[..], "the server's colour sequence"),
    ] {
        assert!(
            !raw.windows(bad.len()).any(|w| w == bad),
            "{what} from a server reached the terminal"
        );
    }
}

/// Send `keys` and wait for the frame `pred` accepts; the time it took.
fn key_to_frame(s: &mut Session, keys: &str, what: &str, pred: impl Fn(&str) -> bool) -> Duration {
    let t = Instant::now();
    s.send(keys);
    s.wait_until(what, pred);
    t.elapsed()
}

/// Open each bad Sovereign through the fleet filter and wait for its reason.
fn visit_every_bad_source(s: &mut Session, w: &World) {
    for (fqdn, reason) in &w.bad {
        key_to_frame(s, &format!("/{fqdn}\r"), "the filter applied", |screen| {
            screen.contains(&format!("match /{fqdn}"))
        });
        s.send("\r");
        s.wait_until(&format!("{fqdn} shows {reason:?}"), |screen| {
            screen.contains(reason) && screen.contains(fqdn)
        });
        s.send("q");
        s.wait_until("back on the fleet", |screen| {
            screen.contains(&format!("match /{fqdn}"))
        });
        s.send("\x1b");
        s.wait_until("the filter cleared", |screen| !screen.contains("match /"));
    }
}

#[test]
fn the_cockpit_stays_responsive_truthful_and_bounded_against_hostile_sources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = world(dir.path());
    let mut s = start(dir.path(), &w);
    s.wait_for("healthy.fleet.test");
    s.wait_for("endless.fleet.test");
    // The healthy Sovereign goes live while the others misbehave.
    s.wait_until("healthy is live", |screen| {
        screen
            .lines()
            .any(|l| l.contains("healthy.fleet.test") && l.contains("live"))
    });

    visit_every_bad_source(&mut s, &w);

    // The healthy Sovereign's escape-laden message: shown as text, never as sequences.
    s.send("/healthy\r");
    s.wait_until("filtered", |screen| screen.contains("match /healthy"));
    s.send("\r");
    s.wait_for("bp-evil");
    s.wait_for("boom");
    s.send("q");
    s.wait_until("back on the fleet", |screen| {
        screen.contains("match /healthy")
    });
    // An Esc alone (followed by nothing for a moment) clears the filter; sent together with the
    // next key it would read as Alt+key.
    s.send("\x1b");
    s.wait_until("the filter cleared", |screen| !screen.contains("match /"));

    // Keys keep working: the help overlay opens and closes while every source misbehaves.
    for _ in 0..20 {
        key_to_frame(&mut s, "?", "help open", |screen| {
            screen.contains("Help · keymap")
        });
        key_to_frame(&mut s, "\x1b", "help closed", |screen| {
            !screen.contains("Help · keymap")
        });
    }

    let peak = peak_rss_kib(s.pid());
    assert!(
        peak < RSS_BOUND_KIB,
        "peak RSS {peak} KiB over the bound {RSS_BOUND_KIB} KiB"
    );
    assert_no_server_escapes(&s);
    s.send("q");
    assert!(s.wait_exit(), "exit status 0");
}

/// The measuring harness (docs/RELIABILITY.md, "Hostile-server runs"): N help toggles while
/// every source misbehaves; key-to-frame p50/p99 and the cockpit's peak RSS.
/// `SOVTUI_HOSTILE_KEYS` (default 200 round trips), `SOVTUI_HOSTILE_BASELINE=1` (the healthy
/// Sovereign alone), `SOVTUI_HOSTILE_CAP=2GiB` (a cap so high it does not bite: what the bound
/// guards against; the reasons are then not awaited).
#[test]
#[ignore = "measurement: cargo test --test tui_hostile -- --ignored --nocapture"]
fn hostile_cockpit_figures() {
    let n: usize = std::env::var("SOVTUI_HOSTILE_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let baseline = std::env::var("SOVTUI_HOSTILE_BASELINE").is_ok_and(|v| v == "1");
    let cap = std::env::var("SOVTUI_HOSTILE_CAP").ok();
    let dir = tempfile::tempdir().expect("tempdir");
    let w = world_with(dir.path(), !baseline);
    let mut s = start_capped(dir.path(), &w, cap.as_deref().unwrap_or("8MiB"));
    s.wait_for("healthy.fleet.test");
    if cap.is_none() {
        visit_every_bad_source(&mut s, &w);
    }
    let mut lat = Vec::with_capacity(2 * n);
    for _ in 0..n {
        lat.push(key_to_frame(&mut s, "?", "help open", |screen| {
            screen.contains("Help · keymap")
        }));
        lat.push(key_to_frame(&mut s, "\x1b", "help closed", |screen| {
            !screen.contains("Help · keymap")
        }));
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let peak = peak_rss_kib(s.pid());
    println!(
        "hostile cockpit ({}, cap {}): {} keys, key-to-frame p50 {:?} p99 {:?} max {:?}; peak RSS {} MiB (bound {} MiB)",
        if baseline { "baseline" } else { "hostile" },
        cap.as_deref().unwrap_or("8MiB"),
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1],
        peak / 1024,
        RSS_BOUND_KIB / 1024
    );
    let fqdns: Vec<_> = w.bad.iter().map(|(f, _)| *f).collect();
    println!("misbehaving: {}", fqdns.join(", "));
    assert_no_server_escapes(&s);
    s.send("q");
    assert!(s.wait_exit(), "exit status 0");
}
