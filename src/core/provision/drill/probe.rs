//! The write probe: continuous numbered writes into the primary through a real Postgres connection,
//! counting only what the server acknowledged. With `synchronous_commit = remote_apply` an
//! acknowledgement means the replica has applied the row, which is what "zero loss" is measured on.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_postgres::NoTls;

/// The probe's table. One drill's rows are told apart by `drill_id`.
pub const PROBE_TABLE: &str = "sovtui_drill_probe";

/// What the probe has seen so far; published on every acknowledgement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeStats {
    /// Highest sequence number the server acknowledged; every number 1..=acked was acknowledged.
    pub acked: u64,
    pub first_ack_at: Option<DateTime<Utc>>,
    pub last_ack_at: Option<DateTime<Utc>>,
    /// A write sent but not acknowledged when the connection broke: it may or may not exist.
    pub in_doubt: Option<u64>,
    pub errors: u64,
    pub last_error: Option<String>,
    /// Acknowledged writes per second over the probe's lifetime.
    pub rate_per_s: f64,
}

/// The acknowledgement time of every acked sequence number (index = seq - 1), for RPO.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AckLog {
    pub acked_at: Vec<DateTime<Utc>>,
}

impl AckLog {
    pub fn acked(&self) -> u64 {
        self.acked_at.len() as u64
    }

    pub fn ack_time(&self, seq: u64) -> Option<DateTime<Utc>> {
        seq.checked_sub(1)
            .and_then(|i| self.acked_at.get(i as usize))
            .copied()
    }
}

/// Create the probe table on the primary (idempotent).
pub async fn prepare(client: &tokio_postgres::Client) -> Result<()> {
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (\
               drill_id text NOT NULL, seq bigint NOT NULL, written_at timestamptz NOT NULL DEFAULT now(),\
               PRIMARY KEY (drill_id, seq))"
        ))
        .await
        .context("creating the probe table")
}

/// A running probe: stop it to get the full acknowledgement log.
pub struct Probe {
    stop: watch::Sender<bool>,
    stats: watch::Receiver<ProbeStats>,
    task: tokio::task::JoinHandle<AckLog>,
}

impl Probe {
    /// Connect to `dsn`, prepare the table and start writing rows for `drill_id`, one
    /// autocommitted INSERT per row, at most one every `interval` (zero: as fast as acknowledged).
    /// The probe keeps going until stopped; after a connection failure it keeps trying to
    /// reconnect to the same DSN, counting errors, so a writer outlives a kill like an application.
    pub async fn start(dsn: &str, drill_id: &str, interval: Duration) -> Result<Probe> {
        let client = connect(dsn).await?;
        prepare(&client).await?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (stats_tx, stats_rx) = watch::channel(ProbeStats::default());
        let task = tokio::spawn(run(
            dsn.to_string(),
            drill_id.to_string(),
            interval,
            client,
            stop_rx,
            stats_tx,
        ));
        Ok(Probe {
            stop: stop_tx,
            stats: stats_rx,
            task,
        })
    }

    pub fn stats(&self) -> watch::Receiver<ProbeStats> {
        self.stats.clone()
    }

    /// Wait until at least `n` writes were acknowledged (or the probe ended).
    pub async fn wait_acked(&mut self, n: u64) -> ProbeStats {
        let mut rx = self.stats.clone();
        let result = rx.wait_for(|s| s.acked >= n).await;
        match result {
            Ok(stats) => stats.clone(),
            Err(_) => self.stats.borrow().clone(),
        }
    }

    pub async fn stop(self) -> Result<(ProbeStats, AckLog)> {
        let _ = self.stop.send(true);
        let log = self.task.await.context("probe task")?;
        let stats = self.stats.borrow().clone();
        Ok((stats, log))
    }
}

async fn connect(dsn: &str) -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(dsn, NoTls)
        .await
        .context("connecting the write probe")?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("probe connection ended: {e}");
        }
    });
    Ok(client)
}

async fn run(
    dsn: String,
    drill_id: String,
    interval: Duration,
    client: tokio_postgres::Client,
    mut stop: watch::Receiver<bool>,
    stats_tx: watch::Sender<ProbeStats>,
) -> AckLog {
    let mut log = AckLog::default();
    let mut stats = ProbeStats::default();
    let mut client = Some(client);
    let started = tokio::time::Instant::now();
    let insert = format!("INSERT INTO {PROBE_TABLE} (drill_id, seq) VALUES ($1, $2)");
    loop {
        if *stop.borrow() {
            break;
        }
        let Some(c) = client.as_ref() else {
            // Reconnect after a failure, but never faster than every 200 ms.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop.changed() => break,
            }
            match connect(&dsn).await {
                Ok(c) => client = Some(c),
                Err(e) => record_error(&mut stats, &stats_tx, format!("{e:#}")),
            }
            continue;
        };
        let seq = stats.acked + 1;
        let seq_i64 = i64::try_from(seq).unwrap_or(i64::MAX);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&drill_id, &seq_i64];
        let outcome = tokio::select! {
            r = c.execute(insert.as_str(), &params) => Some(r),
            _ = stop.changed() => None,
        };
        match outcome {
            None => {
                // Stopped while a write was in flight: it may or may not have committed.
                stats.in_doubt = Some(seq);
                let _ = stats_tx.send(stats.clone());
                break;
            }
            Some(Err(e))
                if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
            {
                // The earlier in-doubt attempt of this seq did commit: that is an acknowledgement.
                ack(&mut log, &mut stats, &stats_tx, seq, started);
            }
            Some(Ok(_)) => ack(&mut log, &mut stats, &stats_tx, seq, started),
            Some(Err(e)) => {
                stats.in_doubt = Some(seq);
                if c.is_closed() {
                    client = None;
                }
                record_error(&mut stats, &stats_tx, e.to_string());
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = stop.changed() => break,
                }
            }
        }
        if !interval.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => break,
            }
        }
    }
    log
}

fn ack(
    log: &mut AckLog,
    stats: &mut ProbeStats,
    tx: &watch::Sender<ProbeStats>,
    seq: u64,
    started: tokio::time::Instant,
) {
    let now = Utc::now();
    log.acked_at.push(now);
    stats.acked = seq;
    stats.in_doubt = None;
    stats.first_ack_at.get_or_insert(now);
    stats.last_ack_at = Some(now);
    let secs = started.elapsed().as_secs_f64();
    stats.rate_per_s = if secs > 0.0 { seq as f64 / secs } else { 0.0 };
    let _ = tx.send(stats.clone());
}

fn record_error(stats: &mut ProbeStats, tx: &watch::Sender<ProbeStats>, error: String) {
    stats.errors += 1;
    stats.last_error = Some(error);
    let _ = tx.send(stats.clone());
}
