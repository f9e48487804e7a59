//! The real `sovtui demo` binary in a pseudo-terminal: keys in, the screen parsed back (vt100),
//! raw bytes inspected for colour depth, clean exits on quit, SIGTERM and a dropped terminal.

use std::io::Write;
use std::sync::mpsc;

mod support;
use support::pty::{Spawn, WAIT};

fn colour_sgr(out: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = out;
    while let Some(i) = rest.find("\x1b[") {
        rest = &rest[i + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ';' || c == ':'))
            .unwrap_or(rest.len());
        if rest[end..].starts_with('m') {
            let params = &rest[..end];
            let colour = params.split(';').any(|c| {
                matches!(
                    c.parse::<u32>(),
                    Ok(30..=39 | 40..=49 | 90..=97 | 100..=107)
                )
            });
            if colour {
                found.push(params.to_string());
            }
        }
        rest = &rest[end..];
    }
    found
}

#[test]
fn demo_help_palette_quit_and_the_alternate_screen_is_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Spawn::demo().start(dir.path());
    s.wait_for("SIMULATED world");
    s.wait_for("salalah.omani.works");
    assert!(s.alternate_screen(), "runs on the alternate screen");

    s.send("?");
    s.wait_for("Help · keymap default");
    s.send("\x1b");
    s.wait_for("? help");

    s.send(":drill");
    s.wait_for(":drill");
    s.send("\r");
    s.wait_for("Failover drill (§6.1)");
    s.send("\x1b");
    s.wait_until("the drill pane closed", |screen| {
        !screen.contains("Failover drill (§6.1)")
    });

    s.send(":theme mono\r");
    s.wait_for("theme mono · keymap");

    // Resizes: a narrower layout drops the "Worst" column; below the minimum, the notice.
    s.resize(24, 80);
    s.wait_until("the 80×24 layout", |screen| {
        screen.contains("salalah.omani") && !screen.contains("Worst")
    });
    s.resize(12, 50);
    s.wait_for("terminal too small (need 60×16)");
    s.resize(40, 120);
    s.wait_until("the 120×40 layout again", |screen| {
        screen.contains("Worst")
    });

    s.send("q");
    assert!(s.wait_exit(), "exit status 0");
    assert!(!s.alternate_screen(), "left the alternate screen");
    let raw = s.raw_text();
    assert!(
        raw.contains("\x1b[?2026h"),
        "frames use synchronized output"
    );
    // TERM=xterm-256color and no COLORTERM: never a 24-bit colour sequence.
    assert!(
        !raw.contains("38;2;") && !raw.contains("48;2;"),
        "no 24-bit colour"
    );
    assert!(raw.contains("38;5;"), "256-colour theme in use");
    // The log went to the state dir, never to the screen.
    let log_dir = dir.path().join("state/sovtui");
    assert!(
        log_dir.join("sovtui.log").exists(),
        "log symlink in {log_dir:?}"
    );
    // `sovtui logs` prints it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .arg("logs")
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .output()
        .expect("sovtui logs");
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("sovtui started"), "{log}");
    assert!(log.contains("cockpit ended"), "{log}");
    // The simulated world's endpoints are logged, its Hetzner token never.
    assert!(log.contains("simulated world up"), "{log}");
    assert!(
        !log.contains(sovtui::sim::hetzner::DEFAULT_TOKEN),
        "the demo logged the world's Hetzner token: {log}"
    );
}

#[test]
fn no_color_means_no_colour_escapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Spawn::demo()
        .env("NO_COLOR", "1")
        .env("COLORTERM", "truecolor")
        .start(dir.path());
    s.wait_for("theme mono");
    s.wait_for("salalah.omani.works");
    s.send("?");
    s.wait_for("Help · keymap");
    s.send("\x1b");
    s.wait_for("? help");
    s.send("q");
    assert!(s.wait_exit());
    let found = colour_sgr(&s.raw_text());
    assert!(found.is_empty(), "colour escapes under NO_COLOR: {found:?}");
}

#[test]
fn live_edits_broken_theme_and_keymap_conflict_are_shown_and_the_previous_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config/sovtui");
    std::fs::create_dir_all(config.join("themes")).expect("mkdir");
    let theme = config.join("themes/mine.toml");
    std::fs::write(&theme, "extends = \"256\"\n").expect("write theme");
    let mut s = Spawn::demo().env("SOVTUI_THEME", "mine").start(dir.path());
    s.wait_for("theme mine");
    s.wait_for("salalah.omani.works");

    std::fs::write(
        &theme,
        "extends = \"256\"\n[styles]\ntitle = { fg = \"nope\" }\n",
    )
    .expect("break theme");
    s.wait_for("mine.toml:3:");
    assert!(s.screen().contains("keeping theme mine"), "{}", s.screen());

    std::fs::write(config.join("keymap.toml"), "[bindings]\nhelp = [\"q\"]\n")
        .expect("conflicting keymap");
    s.wait_for("key conflict");
    // The previous keymap is still in force: `?` is help and `q` quits.
    s.send("?");
    s.wait_for("Help · keymap default");
    s.send("\x1b");
    s.wait_for("? help");
    s.send("q");
    assert!(s.wait_exit());
}

fn signal_ends_the_cockpit_cleanly(signal: i32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Spawn::demo().start(dir.path());
    s.wait_for("salalah.omani.works");
    let pid = s.pid();
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    assert!(s.wait_exit(), "clean exit on signal {signal}");
    assert!(!s.alternate_screen());
}

#[test]
fn sigterm_ends_the_cockpit_cleanly() {
    signal_ends_the_cockpit_cleanly(libc::SIGTERM);
}

/// What the kernel sends the session when an SSH connection drops.
#[test]
fn sighup_ends_the_cockpit_cleanly() {
    signal_ends_the_cockpit_cleanly(libc::SIGHUP);
}

/// The terminal goes away (every master descriptor closed, as when sshd drops the session):
/// sovtui must not linger as an orphan.
#[test]
fn a_dropped_terminal_ends_the_cockpit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Spawn::demo().start(dir.path());
    s.wait_for("salalah.omani.works");
    s.hang_up();
    // Waits for the exit (not for time); kills it and fails if it lingers.
    s.wait_exit_status();
}

#[test]
fn logs_follow_prints_what_is_appended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_dir = dir.path().join("state/sovtui");
    std::fs::create_dir_all(&log_dir).expect("mkdir");
    let file = log_dir.join("sovtui.log.2026-11-29");
    std::fs::write(&file, "first line\n").expect("write");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .args(["logs", "--follow"])
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sovtui logs --follow");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = |what: &str| {
        let line = rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no {what}: {e}"));
        assert_eq!(line, what);
    };
    next("first line");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .expect("open");
    writeln!(f, "appended line").expect("append");
    next("appended line");
    // A newer day's file takes over.
    std::fs::write(log_dir.join("sovtui.log.2026-11-30"), "next day\n").expect("write");
    next("next day");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn demo_navigates_overview_matrix_sovereign_and_helmrelease_detail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Spawn::demo().start(dir.path());
    s.wait_for("SIMULATED world");
    // Live data: the hub has connected and HelmReleases are counted.
    s.wait_until("live data from the simulated world", |screen| {
        screen.contains("omantel.omani.works") && screen.contains("● live")
    });
    s.send(":matrix\r");
    s.wait_for("Matrix · 3 Sovereigns");
    s.wait_until("matrix columns", |screen| {
        screen.contains("Sovereign") && screen.contains("Connection")
    });
    s.send("\x1b");
    s.wait_for("Fleet · 3 Sovereigns");
    s.send(":jump omantel\r");
    s.send("\r");
    s.wait_for("omantel.omani.works · ");
    s.wait_for("HelmRelease");
    s.send(":jump cilium\r");
    s.send("\r");
    s.wait_for("HelmRelease bp-cilium");
    s.wait_for("Conditions");
    // Events are fetched from the cluster through the hub when the detail opens.
    s.wait_until("events fetched", |screen| {
        !screen.contains("fetching Events…")
            && (screen.contains("no Events for this object")
                || screen.contains("Normal")
                || screen.contains("Warning")
                || screen.contains("could not read Events"))
    });
    // Armed action through the hub: arm, ask, confirm, and the patch lands.
    s.send(":reconcile\r");
    s.wait_for(":arm first");
    s.send(":arm\r");
    s.wait_for("ARMED");
    s.send(":reconcile\r");
    s.wait_for("Confirm armed action");
    s.wait_for("reconcile HelmRelease");
    s.send("y");
    s.wait_until("the reconcile result", |screen| {
        screen.contains("reconcile bp-cilium on omantel.omani.works: done")
    });
    s.send(":disarm\r");
    s.wait_for("read-only again");
    s.send("q");
    s.wait_until("back in the Sovereign detail", |screen| {
        screen.contains("omantel.omani.works · ") && !screen.contains("HelmRelease bp-cilium")
    });
    s.send("q");
    s.wait_for("Fleet · 3 Sovereigns");
    s.send("q");
    assert!(s.wait_exit(), "exit status 0");
    assert!(!s.alternate_screen(), "left the alternate screen");
}
