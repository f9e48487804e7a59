//! No journal, no run: a destructive run whose journal cannot be created does not start, one whose
//! journal stops taking records stops at the next step boundary and says how to roll back, and
//! what sovtui writes is private. Against the simulated Hetzner API, with real failures (these
//! tests run as root, which ignores permission bits: a regular file where a directory must be,
//! and /dev/full, which answers every write with ENOSPC).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sovtui::provision::hetzner::apply::{self, ApplyError, ApplyEvent};
use sovtui::provision::hetzner::recover::{self, RecoverError, RecoverEvent, RecoverOptions};
use sovtui::provision::journal::{self, Op};

mod support;

use support::hetzner::{client, deletes, model, objects, sovtui, with_sovereign};

const FQDN: &str = "t7.omani.works";

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn recover_opts(root: &Path) -> RecoverOptions {
    let mut o = RecoverOptions::new(FQDN);
    o.stage_grace = Duration::from_secs(30);
    o.deadline = Duration::from_secs(60);
    o.poll_interval = Duration::from_millis(100);
    o.journal_dir = Some(root.to_path_buf());
    o
}

/// The one journal file of `op` under `root`.
fn the_journal(root: &Path, op: Op) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(root.join(op.as_str()))
        .expect("journal dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// Put /dev/full where the journal is (the journal itself moved aside to `<path>.kept`).
fn fill_the_disk_under(journal: &Path) {
    std::fs::rename(journal, journal.with_extension("kept")).expect("move aside");
    std::os::unix::fs::symlink("/dev/full", journal).expect("symlink");
}

/// Undo [`fill_the_disk_under`].
fn free_the_disk_under(journal: &Path) {
    std::fs::remove_file(journal).expect("rm symlink");
    std::fs::rename(journal.with_extension("kept"), journal).expect("move back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_apply_with_an_unwritable_state_dir_refuses_before_deleting_anything() {
    let sim = with_sovereign(FQDN).await;
    let before = objects(&sim);
    assert!(!before.is_empty());
    sim.control().clear_request_log();

    let home = tempfile::tempdir().expect("tmp");
    // The state dir is a regular file: nothing can be created under it, root or not.
    std::fs::write(home.path().join("sovtui"), "not a directory").expect("write");
    let (code, _, err) = sovtui(
        &sim,
        home.path(),
        &["recover", FQDN, "--apply", "--confirm", FQDN, "--json"],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("cannot create the journal")
            && err.contains(&format!(
                "the purge of {FQDN} was not started and nothing was changed"
            )),
        "{err}"
    );
    assert_eq!(deletes(&sim), 0, "not a single DELETE");
    assert_eq!(objects(&sim), before);

    // A state dir made read-only by its owner (permission bits bind everyone but root).
    if !is_root() {
        let home = tempfile::tempdir().expect("tmp");
        let state = home.path().join("sovtui");
        std::fs::create_dir(&state).expect("mkdir");
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o500)).expect("chmod");
        let (code, _, err) = sovtui(
            &sim,
            home.path(),
            &["recover", FQDN, "--apply", "--confirm", FQDN],
        )
        .await;
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        assert_ne!(code, 0, "{err}");
        assert!(err.contains("was not started"), "{err}");
        assert_eq!(deletes(&sim), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_whose_journal_fills_up_stops_at_the_next_step_and_stays_unfinished() {
    let sim = with_sovereign(FQDN).await;
    let c = client(&sim);
    sim.control().clear_request_log();
    let state = tempfile::tempdir().expect("state");
    let root = journal::root(state.path());
    let opts = recover_opts(&root);
    // The disk fills the moment the first object is gone (the first delete runs alone).
    let emit = |e: RecoverEvent| {
        if matches!(e, RecoverEvent::Deleted { .. }) {
            fill_the_disk_under(&the_journal(&root, Op::Purge));
        }
    };
    let err = recover::plan_then_apply(&c, &opts, &emit)
        .await
        .expect_err("the purge stops");
    let said = err.to_string();
    assert!(matches!(err, RecoverError::Journal(_)), "{said}");
    assert!(
        said.contains("cannot write the journal")
            && said.contains("stopped at the step boundary after `delete ")
            && said.contains("deleted objects cannot be restored")
            && said.contains(&format!("sovtui recover {FQDN} --apply --confirm {FQDN}")),
        "{said}"
    );
    assert_eq!(
        deletes(&sim),
        1,
        "nothing was deleted after the journal failed"
    );

    // The run did not end, and its journal says so: the next sovtui names it.
    let path = the_journal(&root, Op::Purge);
    free_the_disk_under(&path);
    let listing = journal::unfinished(&root);
    let cut: Vec<_> = listing.of(Op::Purge).collect();
    assert_eq!(cut.len(), 1, "{listing:?}");
    assert_eq!(cut[0].fqdn.as_deref(), Some(FQDN));
    assert!(
        cut[0]
            .last_step
            .as_deref()
            .is_some_and(|s| s.starts_with("delete ")),
        "{:?}",
        cut[0]
    );

    // Finishing it as the message says settles it.
    let report = recover::plan_then_apply(&c, &opts, &|_| {})
        .await
        .expect("finish");
    assert!(report.verified_zero_orphans, "{:?}", report.remaining);
    assert!(journal::unfinished(&root).runs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phase0_apply_whose_journal_fills_up_writes_nothing_more() {
    let sim = support::hetzner::sim(Duration::from_millis(300)).await;
    let c = client(&sim);
    let state = tempfile::tempdir().expect("state");
    let root = journal::root(state.path());
    let m = model(FQDN);
    // The disk fills once the first object (the network) is ready.
    let emit = |e: ApplyEvent| {
        if matches!(e, ApplyEvent::StepDone { .. }) {
            fill_the_disk_under(&the_journal(&root, Op::Phase0Apply));
        }
    };
    let err = apply::apply(&c, &m, Some(root.clone()), &emit)
        .await
        .expect_err("the apply stops");
    let said = err.to_string();
    assert!(matches!(err, ApplyError::Journal(_)), "{said}");
    assert!(
        said.contains("Phase-0 apply of t7.omani.works stopped at the step boundary")
            && said.contains(&format!("sovtui recover {FQDN} --apply --confirm {FQDN}")),
        "{said}"
    );
    let names: Vec<String> = objects(&sim)
        .iter()
        .filter_map(|o| o["name"].as_str().map(String::from))
        .collect();
    assert_eq!(
        names,
        std::slice::from_ref(&m.network.name),
        "only the network was created"
    );

    let path = the_journal(&root, Op::Phase0Apply);
    free_the_disk_under(&path);
    let listing = journal::unfinished(&root);
    assert_eq!(listing.of(Op::Phase0Apply).count(), 1, "{listing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_purge_writes_is_private_and_an_open_state_dir_is_closed() {
    let sim = with_sovereign(FQDN).await;
    let home = tempfile::tempdir().expect("tmp");
    let state = home.path().join("sovtui");
    // An older sovtui (or a umask of 022) left the state dir open.
    std::fs::create_dir(&state).expect("mkdir");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (code, _, err) = sovtui(
        &sim,
        home.path(),
        &[
            "recover",
            FQDN,
            "--apply",
            "--confirm",
            FQDN,
            "--deadline",
            "60",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let root = journal::root(&state);
    let file = the_journal(&root, Op::Purge);
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(&root.join("purge")), 0o700);
    assert_eq!(mode(&file), 0o600);
    assert!(
        err.contains(&format!("journal: {}", file.display())),
        "{err}"
    );
}

#[test]
fn a_drill_report_is_private() {
    use sovtui::provision::drill::run;
    use sovtui::provision::journal::Journal;
    let state = tempfile::tempdir().expect("state");
    let mut j = Journal::create_with_id(&journal::root(state.path()), Op::Drill, "drill-r", FQDN)
        .expect("journal");
    j.planned(&serde_json::json!({"data_plane": "simulated"}))
        .expect("plan");
    j.finish("rolled_back", serde_json::Value::Null)
        .expect("end");
    let md = run::write_report(state.path(), "drill-r").expect("report");
    let dir = run::report_dir(state.path());
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&md), 0o600);
    assert_eq!(mode(&dir.join("drill-r.json")), 0o600);
    assert!(
        std::fs::read_to_string(&md)
            .expect("markdown")
            .contains("rolled_back")
    );
}
