//! `sovtui demo` with a data plane, end to end on a pseudo-terminal: a drill on omantel through
//! the pane writes, kills, promotes, verifies and reverses with rows — on two real PostgreSQL
//! servers where they are installed (skipped with a notice otherwise), and on the modelled data
//! plane everywhere — and the demo leaves no PostgreSQL server behind when its terminal hangs up.
//! Also the demo's timeline: muscat is provisioned when the operator is looking (first key).

use std::time::{Duration, Instant};

mod support;
use support::pty::{Session, Spawn};

const FQDN: &str = "omantel.omani.works";

/// Open the drill pane on omantel, wait for its plan, arm, type the FQDN back, start, and wait
/// for the verdict.
fn drill_through_the_pane(s: &mut Session, data_plane_label: &str) -> String {
    s.wait_for(FQDN);
    s.send(&format!(":drill {FQDN}\r"));
    s.wait_for("Failover drill");
    s.wait_until_within(
        "the plan with its data plane",
        Duration::from_secs(120),
        |screen| screen.contains(data_plane_label),
    );
    s.send(":arm\r");
    s.send(FQDN);
    s.send("\r");
    s.wait_until_within("the verdict", Duration::from_secs(300), |screen| {
        screen.contains("outcome passed") || screen.contains("outcome failed")
    });
    s.screen()
}

#[test]
fn a_demo_drill_on_the_modelled_data_plane_reports_rows_rpo_and_world_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Spawn::demo()
        .args(&["demo", "--data-plane", "modelled", "--speed", "60"])
        .size(50, 170)
        .start(dir.path());
    s.wait_for("data plane modelled");
    let screen = drill_through_the_pane(&mut s, "MODELLED");
    assert!(screen.contains("outcome passed"), "{screen}");
    assert!(screen.contains("data plane modelled"), "{screen}");
    assert!(screen.contains("zero transaction loss"), "{screen}");
    assert!(screen.contains("rows written"), "{screen}");
    // Timings in a sped-up world: wall time and world time.
    assert!(screen.contains("world at 60×"), "{screen}");
    assert!(screen.contains(" world"), "{screen}");
    s.send("\x1b");
    s.wait_until("the drill pane closed", |screen| {
        !screen.contains("Failover drill (§6.1)")
    });
    s.send("q");
    assert!(s.wait_exit(), "clean exit");
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) && !cmd.contains("sh -c") {
                found.push(cmd);
            }
        }
    }
    found
}

#[test]
fn a_demo_drill_on_real_postgres_writes_and_verifies_rows_and_leaves_no_server_behind() {
    if sovtui::sim::pgpair::find_pg_bin().is_none() {
        support::tools::missing(
            "the demo's real data-plane drill",
            "PostgreSQL server binaries not found",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Spawn::demo()
        .args(&["demo", "--data-plane", "postgres", "--speed", "60"])
        .size(50, 170)
        .start(dir.path());
    s.wait_for("data plane postgres");
    let screen = drill_through_the_pane(&mut s, "PostgreSQL (real rows");
    assert!(screen.contains("outcome passed"), "{screen}");
    assert!(screen.contains("data plane postgres"), "{screen}");
    assert!(screen.contains("zero transaction loss"), "{screen}");
    assert!(screen.contains("world at 60×"), "{screen}");

    // The pair's servers belong to this demo: its pid names their directory (under the demo's
    // state dir, or under the temp dir when root runs them as `postgres`).
    let pid = s.pid();
    let ours = |p: &String| {
        p.contains(&format!("sovtui-pg-{pid}-")) || p.contains(&format!("demo-{pid}/dataplane"))
    };
    let running: Vec<String> = processes_mentioning("postgres")
        .into_iter()
        .filter(|p| ours(p))
        .collect();
    assert!(
        !running.is_empty(),
        "the demo's postgres servers are running"
    );
    // An SSH drop: the terminal hangs up. Nothing of the pair may survive.
    s.hang_up();
    s.wait_exit_status();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left: Vec<String> = processes_mentioning("postgres")
            .into_iter()
            .filter(|p| ours(p))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "orphaned postgres: {left:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_demo_provisions_muscat_at_the_first_key_not_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Spawn::demo()
        .args(&["demo", "--data-plane", "modelled"])
        .size(40, 160)
        .start(dir.path());
    s.wait_for("press any key to start provisioning muscat.omani.works");
    s.wait_for("salalah.omani.works");
    // Only the prompt names muscat: it is not in the fleet, nothing was created for it.
    let count = |screen: &str| screen.matches("muscat.omani.works").count();
    assert_eq!(count(&s.screen()), 1, "{}", s.screen());
    s.send("j");
    s.wait_for("provisioning muscat.omani.works started");
    s.wait_until("muscat in the fleet", |screen| count(screen) >= 2);
    s.send("q");
    assert!(s.wait_exit(), "clean exit");
}
