//! The drill's data plane on two real PostgreSQL servers: a synchronous pair loses nothing across a
//! primary kill and promotion; an asynchronous pair with a cut replication link loses exactly the
//! writes made after the cut, and the report says so. Skips (with a notice) without PostgreSQL.

use std::time::Duration;

use sovtui_core::provision::drill::probe::Probe;
use sovtui_core::provision::drill::report;
use sovtui_core::provision::drill::verdict::Verdict;
use sovtui_core::provision::drill::verify;
use sovtui_core::provision::journal::{self, Event, Journal, Op};
use sovtui_world::sim::pgpair::{PgPair, Replication, find_pg_bin};

#[path = "../../../tests/support/tools.rs"]
mod tools;

const DEADLINE: Duration = Duration::from_secs(120);

fn postgres_available() -> bool {
    if find_pg_bin().is_none() {
        tools::missing(
            "the real data-plane test",
            "PostgreSQL server binaries not found",
        );
        return false;
    }
    true
}

/// Wait for the probe to see the dead primary: a failed write after `after` acknowledgements.
async fn wait_probe_error(probe: &Probe) {
    let mut rx = probe.stats();
    tokio::time::timeout(DEADLINE, rx.wait_for(|s| s.errors > 0))
        .await
        .expect("probe noticed the kill")
        .expect("probe alive");
}

/// A drill journal for `drill_id` under `state`, as the run makes one.
fn drill_journal(state: &std::path::Path, drill_id: &str) -> Journal {
    Journal::create_with_id(
        &journal::root(state),
        Op::Drill,
        drill_id,
        "omantel.omani.works",
    )
    .expect("journal")
}

/// Journal `step` as started (before it takes effect, as the run does).
fn started(j: &mut Journal, step: &str) {
    j.append(Event::StepStarted { step: step.into() })
        .expect("journal");
}

/// Journal `step` as done with `detail`.
fn done(j: &mut Journal, step: &str, detail: serde_json::Value) {
    j.append(Event::StepDone {
        step: step.into(),
        detail,
    })
    .expect("journal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_pair_survives_a_primary_kill_with_zero_loss_and_fails_back() {
    if !postgres_available() {
        return;
    }
    let mut pair = PgPair::start_temp(["pg-fsn1", "pg-nbg1"], Replication::Sync)
        .await
        .expect("pair");
    let state = tempfile::tempdir().expect("state dir");
    let drill_id = "drill-sync";
    let mut j = drill_journal(state.path(), drill_id);
    j.append(Event::Planned {
        plan: serde_json::json!({"primary": pair.primary().name, "replica": pair.replica().name}),
    })
    .expect("plan");

    started(&mut j, "probe");
    let mut probe = Probe::start(&pair.primary().dsn(), drill_id, Duration::ZERO)
        .await
        .expect("probe");
    tokio::time::timeout(DEADLINE, probe.wait_acked(200))
        .await
        .expect("200 acknowledged writes");
    done(&mut j, "probe", serde_json::json!({}));

    started(&mut j, "kill");
    let killed_at = tokio::time::Instant::now();
    pair.kill_primary().await.expect("kill");
    wait_probe_error(&probe).await;
    let (stats, acks) = probe.stop().await.expect("probe stop");
    assert!(stats.acked >= 200);
    done(
        &mut j,
        "kill",
        serde_json::json!({"touched": [{"kind": "postgres", "name": "pg-fsn1", "action": "stop -m immediate"}]}),
    );

    started(&mut j, "promote");
    pair.promote_replica().await.expect("promote");
    let new_primary = PgPair::connect(pair.primary()).await.expect("new primary");
    new_primary
        .execute("CREATE TABLE IF NOT EXISTS rto_check (x int)", &[])
        .await
        .expect("new primary accepts writes");
    let rto_ms = killed_at.elapsed().as_millis() as i64;
    done(&mut j, "promote", serde_json::json!({"rto_ms": rto_ms}));

    started(&mut j, "verify");
    let v = verify::verify(&new_primary, drill_id, &acks)
        .await
        .expect("verify");
    assert!(v.zero_loss(), "sync replication lost rows: {v:?}");
    assert_eq!(v.acked, stats.acked);
    done(&mut j, "verify", serde_json::json!({"verification": v}));

    started(&mut j, "reverse");
    pair.rejoin_old_primary()
        .await
        .expect("old primary rejoins as replica");
    pair.switchover().await.expect("fail back");
    assert_eq!(pair.primary().name, "pg-fsn1");
    let back = PgPair::connect(pair.primary())
        .await
        .expect("original primary");
    let v_back = verify::verify(&back, drill_id, &acks)
        .await
        .expect("verify after failback");
    assert!(v_back.zero_loss(), "{v_back:?}");
    done(&mut j, "reverse", serde_json::json!({}));
    j.append(Event::Finished {
        outcome: "passed".into(),
        detail: serde_json::Value::Null,
    })
    .expect("journal");

    let replay = journal::read(j.path()).expect("read journal");
    let r = report::build(drill_id, "postgres", &replay.entries);
    assert_eq!(r.outcome, "passed");
    assert_eq!(r.verdict(), Verdict::Passed, "{r:?}");
    assert_eq!(r.rto_ms, Some(rto_ms));
    assert_eq!(r.rpo_ms, Some(0));
    assert_eq!(r.rows_written, Some(stats.acked));
    let md = r.to_markdown();
    assert!(md.contains("zero transaction loss"), "{md}");
    assert_eq!(r.timeline.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_pair_with_a_cut_link_reports_the_real_loss() {
    if !postgres_available() {
        return;
    }
    let mut pair = PgPair::start_temp(["pg-hel1", "pg-fsn1"], Replication::Async)
        .await
        .expect("pair");
    let drill_id = "drill-async";
    let mut probe = Probe::start(&pair.primary().dsn(), drill_id, Duration::ZERO)
        .await
        .expect("probe");
    let before_cut = tokio::time::timeout(DEADLINE, probe.wait_acked(100))
        .await
        .expect("writes before the cut");
    // Let the replica catch up on what was written so far, then cut the link.
    pair.wait_streaming(DEADLINE).await.expect("streaming");
    pair.pause_replication().await.expect("cut the link");
    let cut_at = probe.stats().borrow().acked;
    tokio::time::timeout(DEADLINE, probe.wait_acked(cut_at + 150))
        .await
        .expect("writes after the cut");
    pair.kill_primary().await.expect("kill");
    wait_probe_error(&probe).await;
    let (stats, acks) = probe.stop().await.expect("stop");
    pair.promote_replica().await.expect("promote");
    let new_primary = PgPair::connect(pair.primary()).await.expect("new primary");
    let v = verify::verify(&new_primary, drill_id, &acks)
        .await
        .expect("verify");
    assert!(before_cut.acked >= 100);
    assert!(
        v.lost >= 150,
        "writes acknowledged after the cut must be lost: {v:?}"
    );
    assert!(v.lost <= stats.acked);
    assert!(v.rpo_ms > 0, "{v:?}");
    assert_eq!(v.highest_present + v.lost, stats.acked, "{v:?}");

    let state = tempfile::tempdir().expect("state");
    let mut j = drill_journal(state.path(), drill_id);
    started(&mut j, "verify");
    done(&mut j, "verify", serde_json::json!({"verification": v}));
    let r = report::build(
        drill_id,
        "postgres",
        &journal::read(j.path()).expect("read").entries,
    );
    let md = r.to_markdown();
    assert!(md.contains("acknowledged rows lost"), "{md}");
    assert_eq!(r.rpo_ms, Some(v.rpo_ms));
    // The verdict names the rows: everything after the last one the replica received.
    assert_eq!(r.verdict(), Verdict::Failed);
    let first = v.highest_present + 1;
    assert!(
        r.failures[0].contains(&format!("seq {first}–{}", stats.acked)),
        "{:?}",
        r.failures
    );
    assert!(
        md.contains(&format!("by seq: {first}–{}", stats.acked)),
        "{md}"
    );
}
