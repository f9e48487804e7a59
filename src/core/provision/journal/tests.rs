use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use super::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a record"))
        .collect()
}

#[test]
fn fold_tracks_done_interrupted_and_rollbacks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::create_with_id(dir.path(), Op::Drill, "d1", "a.example").expect("create");
    j.planned(&json!({"steps": 5})).expect("append");
    for step in ["probe", "kill"] {
        j.started(step).expect("append");
        j.done(step, json!({})).expect("append");
    }
    j.started("promote").expect("append");
    let state = RunState::fold(&read(j.path()).expect("read").entries);
    assert_eq!(state.interrupted.as_deref(), Some("promote"));
    assert_eq!(state.target.as_deref(), Some("a.example"));
    assert_eq!(
        (state.op, state.run.as_deref()),
        (Some(Op::Drill), Some("d1"))
    );
    assert!(state.is_done("kill"));
    assert_eq!(unfinished(dir.path()).of(Op::Drill).count(), 1);

    j.append(Event::RollbackStarted {
        step: "kill".into(),
    })
    .expect("append");
    j.append(Event::RollbackDone {
        step: "kill".into(),
    })
    .expect("append");
    j.finish("rolled_back", Value::Null).expect("append");
    let state = RunState::fold(&read(j.path()).expect("read").entries);
    assert!(!state.is_done("kill"));
    assert!(state.is_finished());
    assert!(unfinished(dir.path()).runs.is_empty());
    assert!(
        Journal::create_with_id(dir.path(), Op::Drill, "d1", "a.example").is_err(),
        "never overwritten"
    );
}

#[test]
fn every_record_names_format_run_op_sovereign_and_time_and_the_files_are_private() {
    let state = tempfile::tempdir().expect("tempdir");
    let root = root(state.path());
    let mut j = Journal::create(&root, Op::Purge, "t1.omani.works").expect("create");
    assert!(j.run_id().starts_with("purge-"), "{}", j.run_id());
    assert_eq!(j.path(), path(&root, Op::Purge, j.run_id()));
    j.planned(&json!({"targets": []})).expect("append");
    j.started("delete server catalyst-t1-cp1 #7")
        .expect("append");
    j.done("delete server catalyst-t1-cp1 #7", json!({}))
        .expect("append");
    j.finish("verified-clean", json!({"deleted": 1}))
        .expect("append");
    let recs = lines(j.path());
    assert_eq!(recs.len(), 4);
    for r in &recs {
        assert_eq!(r["v"], FORMAT);
        assert_eq!(r["run"], j.run_id());
        assert_eq!(r["op"], "purge");
        assert_eq!(r["fqdn"], "t1.omani.works");
        assert!(r["at"].as_str().is_some_and(|a| a.ends_with('Z')), "{r}");
    }
    assert_eq!(recs[1]["event"], "step_started");
    assert_eq!(recs[1]["step"], "delete server catalyst-t1-cp1 #7");
    assert_eq!(recs[3]["event"], "finished");
    assert_eq!(recs[3]["outcome"], "verified-clean");
    assert_eq!(recs[3]["detail"]["deleted"], 1);
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(&root.join("purge")), 0o700);
    assert_eq!(mode(j.path()), 0o600);
}

#[test]
fn a_journal_that_cannot_be_created_refuses_the_run() {
    let state = tempfile::tempdir().expect("tempdir");
    // Root ignores permissions; a regular file where the journal directory should be does not.
    let root = state.path().join("journal");
    std::fs::write(&root, "not a directory").expect("write");
    let err = Journal::create(&root, Op::Purge, "t1.omani.works").expect_err("no journal");
    assert!(matches!(err, JournalError::Create { .. }), "{err}");
    let said = err.to_string();
    assert!(
        said.contains("the purge of t1.omani.works was not started and nothing was changed"),
        "{said}"
    );
    assert!(said.contains(&root.display().to_string()), "{said}");
}

#[test]
fn a_write_failing_mid_run_says_where_the_run_stopped_and_how_to_roll_back() {
    let state = tempfile::tempdir().expect("tempdir");
    let root = root(state.path());
    let mut j = Journal::create_with_id(&root, Op::Drill, "drill-x", "a.omani.works").expect("j");
    j.planned(&json!({})).expect("append");
    j.started("kill").expect("append");
    j.done("kill", json!({})).expect("append");
    // A full disk, for real: /dev/full answers every write with ENOSPC.
    std::fs::remove_file(j.path()).expect("rm");
    std::os::unix::fs::symlink("/dev/full", j.path()).expect("symlink");
    let err = j.started("promote").expect_err("disk full");
    let said = err.to_string();
    assert!(matches!(err, JournalError::Write { .. }), "{said}");
    assert!(
        said.contains("stopped at the step boundary after `kill`")
            && said.contains("sovtui drill rollback drill-x --confirm a.omani.works"),
        "{said}"
    );

    // A journal deleted under the run is a failure too, not a fresh file.
    std::fs::remove_file(j.path()).expect("rm");
    assert!(j.started("promote").is_err());
    assert!(!j.path().exists(), "never re-created behind the run's back");
}

#[test]
fn a_torn_last_line_is_tolerated_a_torn_middle_is_not_and_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.jsonl");
    let good = r#"{"v":1,"run":"x","op":"purge","fqdn":"a.b","at":"2026-11-29T10:00:00Z","event":"step_started","step":"kill"}"#;
    std::fs::write(&path, format!("{good}\n{{\"v\":1,\"at\":\"2026-11")).expect("write");
    let replay = read(&path).expect("torn tail is fine");
    assert!(replay.truncated_tail);
    assert_eq!(replay.entries.len(), 1);

    std::fs::write(&path, format!("{good}\nnot json\n{good}\n")).expect("write");
    let err = read(&path).expect_err("torn middle").to_string();
    assert!(err.contains("x.jsonl:2"), "{err}");

    std::fs::write(&path, good.replace(r#""v":1"#, r#""v":2"#)).expect("write");
    let err = read(&path).expect_err("newer").to_string();
    assert!(err.contains("newer sovtui"), "{err}");
}

fn run(root: &Path, op: Op, fqdn: &str, steps: &[&str], end: Option<&str>) -> String {
    let mut j = Journal::create(root, op, fqdn).expect("journal");
    j.planned(&json!({})).expect("append");
    for s in steps {
        j.started(s).expect("append");
    }
    if let Some(outcome) = end {
        j.finish(outcome, Value::Null).expect("append");
    }
    // Runs are ordered by their first record's time: the next one must start later.
    let at = read(j.path()).expect("read").entries[0].at;
    while Utc::now() <= at {
        std::hint::spin_loop();
    }
    j.run_id().to_string()
}

#[test]
fn unfinished_lists_every_operation_newest_first_and_a_later_ended_apply_or_purge_settles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let a = run(root, Op::Purge, "a.omani.works", &["delete"], None);
    run(
        root,
        Op::Purge,
        "b.omani.works",
        &["delete"],
        Some("verified-clean"),
    );
    let c = run(root, Op::Purge, "c.omani.works", &["delete"], None);
    let d1 = run(root, Op::Drill, "d.omani.works", &["kill"], None);
    let p = run(root, Op::Phase0Apply, "e.omani.works", &["create"], None);
    let ids = |l: &Listing| l.runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&unfinished(root)),
        [p.clone(), d1.clone(), c.clone(), a]
    );

    // A later purge of `a` that ended (even with objects remaining) settles it; so does a later
    // apply of `e`. A later drill of `d` that ended does not: that kill may still be in effect.
    run(
        root,
        Op::Purge,
        "a.omani.works",
        &[],
        Some("objects-remain"),
    );
    run(
        root,
        Op::Phase0Apply,
        "e.omani.works",
        &[],
        Some("completed"),
    );
    run(root, Op::Drill, "d.omani.works", &[], Some("completed"));
    // A later purge of `c` cut off again leaves both of `c`'s runs to report.
    let c2 = run(root, Op::Purge, "c.omani.works", &["delete"], None);
    let l = unfinished(root);
    assert_eq!(ids(&l), [c2.clone(), d1.clone(), c.clone()]);
    assert_eq!(l.of(Op::Purge).count(), 2);
    assert!(l.unreadable.is_empty());

    // One broken journal is named, and does not hide the others.
    std::fs::write(root.join("drill").join("broken.jsonl"), "{\n{\n").expect("write");
    // A journal with no record took no step.
    std::fs::write(root.join("purge").join("empty.jsonl"), "").expect("write");
    let l = unfinished(root);
    assert_eq!(ids(&l), [c2.clone(), d1.clone(), c.clone()]);
    assert_eq!(l.unreadable.len(), 1, "{:?}", l.unreadable);
    assert!(
        l.unreadable[0].contains("broken.jsonl:1"),
        "{:?}",
        l.unreadable
    );
    assert!(unfinished(&root.join("absent")).runs.is_empty());
}

#[test]
fn describe_names_the_sovereign_the_start_and_the_last_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::create(dir.path(), Op::Purge, "t1.omani.works").expect("journal");
    j.planned(&json!({})).expect("append");
    j.started("delete server catalyst-t1-cp1 #7")
        .expect("append");
    let l = unfinished(dir.path());
    let said = l.runs[0].describe();
    assert!(said.starts_with("t1.omani.works (started 20"), "{said}");
    assert!(
        said.ends_with(" UTC, last step: delete server catalyst-t1-cp1 #7)"),
        "{said}"
    );
    let v = serde_json::to_value(&l.runs[0]).expect("json");
    assert_eq!(v["op"], "purge");
    assert_eq!(v["fqdn"], "t1.omani.works");
    assert_eq!(v["last_step"], "delete server catalyst-t1-cp1 #7");
    assert!(v.get("state").is_none(), "the fold stays out of --json");
}

/// What sovtui 0.x wrote for a drill cut off after its kill, line for line.
const OLD_DRILL: &str = r#"{"at":"2026-11-29T10:00:00Z","event":"planned","target":"omantel.omani.works","plan":{"target":"omantel.omani.works","data_plane":"simulated"}}
{"at":"2026-11-29T10:00:01Z","event":"step_started","step":"probe"}
{"at":"2026-11-29T10:00:02Z","event":"step_done","step":"probe","detail":{}}
{"at":"2026-11-29T10:00:03Z","event":"step_started","step":"kill"}
{"at":"2026-11-29T10:00:04Z","event":"step_done","step":"kill","detail":{"acks":[]}}
{"at":"2026-11-29T10:00:05Z","event":"step_started","step":"promote"}
"#;

#[test]
fn an_old_drill_journal_is_offered_read_and_continued() {
    let state = tempfile::tempdir().expect("tempdir");
    let root = root(state.path());
    let p = path(&root, Op::Drill, "drill-20261129T100000-abcdef");
    std::fs::create_dir_all(p.parent().expect("dir")).expect("mkdir");
    std::fs::write(&p, OLD_DRILL).expect("write");

    let l = unfinished(&root);
    assert!(l.unreadable.is_empty(), "{:?}", l.unreadable);
    let r = l.of(Op::Drill).next().expect("offered");
    assert_eq!(r.id, "drill-20261129T100000-abcdef");
    assert_eq!(r.fqdn.as_deref(), Some("omantel.omani.works"));
    assert_eq!(r.state.interrupted.as_deref(), Some("promote"));
    assert!(r.state.is_done("kill"));
    assert_eq!(
        r.state.plan.as_ref().map(|p| &p["data_plane"]),
        Some(&json!("simulated"))
    );

    // Resume appends current records to the old file; the whole reads back as one run.
    let mut j = Journal::reopen(&p).expect("reopen");
    assert_eq!(j.fqdn(), "omantel.omani.works");
    j.failed("promote", "interrupted").expect("append");
    j.finish("rolled_back", Value::Null).expect("append");
    let state = RunState::fold(&read(&p).expect("read").entries);
    assert_eq!(state.outcome.as_deref(), Some("rolled_back"));
    assert_eq!(state.target.as_deref(), Some("omantel.omani.works"));
    assert!(unfinished(&root).runs.is_empty());
}

#[test]
fn old_purge_and_apply_journals_are_still_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(
        root.join("recover-t4-omani-works-20261129T100000.000Z.ndjson"),
        concat!(
            r#"{"at":"2026-11-29T10:00:00+00:00","step":"start","fqdn":"t4.omani.works"}"#,
            "\n",
            r#"{"at":"2026-11-29T10:00:01+00:00","step":"delete","object":{"kind":"server","id":9,"name":"catalyst-t4-omani-works-cp1","labels":{}}}"#,
            "\n",
            r#"{"at": "2026-"#,
        ),
    )
    .expect("write");
    std::fs::write(
        root.join("phase0-apply-t5-omani-works-20261129T100000.000Z.ndjson"),
        concat!(
            r#"{"at":"2026-11-29T11:00:00+00:00","step":"apply","kind":"network","name":"catalyst-t5","action":"create"}"#,
            "\n",
        ),
    )
    .expect("write");
    std::fs::write(
        root.join("recover-t6-omani-works-20261129T100000.000Z.ndjson"),
        concat!(
            r#"{"at":"2026-11-29T09:00:00+00:00","step":"start","fqdn":"t6.omani.works"}"#,
            "\n",
            r#"{"at":"2026-11-29T09:00:01+00:00","step":"done","outcome":"verified-clean"}"#,
            "\n",
        ),
    )
    .expect("write");
    let l = unfinished(root);
    let purge = l.of(Op::Purge).collect::<Vec<_>>();
    assert_eq!(purge.len(), 1, "{l:?}");
    assert!(
        purge[0]
            .describe()
            .starts_with("t4.omani.works (started 2026-11-29 10:00 UTC")
            && purge[0]
                .describe()
                .ends_with("last step: delete server catalyst-t4-omani-works-cp1 #9)"),
        "{}",
        purge[0].describe()
    );
    let apply = l.of(Op::Phase0Apply).collect::<Vec<_>>();
    assert_eq!(apply.len(), 1, "{l:?}");
    assert_eq!(
        apply[0].id,
        "phase0-apply-t5-omani-works-20261129T100000.000Z"
    );
    assert_eq!(
        apply[0].last_step.as_deref(),
        Some("create network catalyst-t5")
    );
}
