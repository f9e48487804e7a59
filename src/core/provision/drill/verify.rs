//! Verification on the new primary: every acknowledged probe row present, no gaps. What is missing
//! is the real transaction loss; its time span is the observed RPO.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::probe::{AckLog, PROBE_TABLE};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Writes the old primary acknowledged.
    pub acked: u64,
    /// Probe rows found on the new primary (acknowledged or in doubt).
    pub present: u64,
    /// Acknowledged rows missing on the new primary: the transaction loss.
    pub lost: u64,
    /// The first few missing sequence numbers, for the report.
    pub lost_sample: Vec<u64>,
    /// Holes in the sequence below the highest row present (never expected: rows are written in order).
    pub gaps: u64,
    /// Acknowledgement-time span of the lost writes (zero when nothing was lost).
    pub rpo_ms: i64,
    pub highest_present: u64,
}

impl Verification {
    pub fn zero_loss(&self) -> bool {
        self.lost == 0 && self.gaps == 0
    }
}

/// Read the drill's rows from `client` (the new primary) and compare with what was acknowledged.
pub async fn verify(
    client: &tokio_postgres::Client,
    drill_id: &str,
    acks: &AckLog,
) -> Result<Verification> {
    let rows = client
        .query(
            &format!("SELECT seq FROM {PROBE_TABLE} WHERE drill_id = $1 ORDER BY seq"),
            &[&drill_id],
        )
        .await
        .context("reading the probe rows on the new primary")?;
    let present: Vec<u64> = rows
        .iter()
        .filter_map(|r| r.try_get::<_, i64>(0).ok())
        .filter_map(|s| u64::try_from(s).ok())
        .collect();
    Ok(compare(&present, acks))
}

/// The comparison itself, on sorted sequence numbers.
pub fn compare(present_sorted: &[u64], acks: &AckLog) -> Verification {
    let acked = acks.acked();
    let highest_present = present_sorted.last().copied().unwrap_or(0);
    let mut lost_seqs = Vec::new();
    let mut gaps = 0u64;
    let mut expected = 1u64;
    for &seq in present_sorted {
        if seq > expected {
            let hole = seq - expected;
            gaps += hole;
            lost_seqs.extend((expected..seq).filter(|s| *s <= acked));
        }
        expected = seq + 1;
    }
    // Everything acknowledged above the highest row present is missing too.
    lost_seqs.extend((expected..=acked).filter(|s| *s >= 1));
    let lost = lost_seqs.len() as u64;
    let rpo_ms = match (lost_seqs.first(), lost_seqs.last()) {
        (Some(&first), Some(&last)) => {
            // From the last write that survived before the loss to the last lost acknowledgement.
            let from: Option<DateTime<Utc>> = acks
                .ack_time(first.saturating_sub(1))
                .or_else(|| acks.ack_time(first));
            match (from, acks.ack_time(last)) {
                (Some(a), Some(b)) => (b - a).num_milliseconds().max(0),
                _ => 0,
            }
        }
        _ => 0,
    };
    Verification {
        acked,
        present: present_sorted.len() as u64,
        lost,
        lost_sample: lost_seqs.iter().take(10).copied().collect(),
        gaps,
        rpo_ms,
        highest_present,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acks(n: usize) -> AckLog {
        let t0 = Utc::now();
        AckLog {
            acked_at: (0..n)
                .map(|i| t0 + chrono::Duration::milliseconds(10 * i as i64))
                .collect(),
        }
    }

    #[test]
    fn everything_present_is_zero_loss() {
        let v = compare(&(1..=100).collect::<Vec<_>>(), &acks(100));
        assert!(v.zero_loss());
        assert_eq!(v.rpo_ms, 0);
    }

    #[test]
    fn an_in_doubt_row_beyond_the_acks_is_not_loss() {
        let v = compare(&(1..=101).collect::<Vec<_>>(), &acks(100));
        assert!(v.zero_loss());
        assert_eq!(v.present, 101);
    }

    #[test]
    fn a_missing_tail_is_loss_with_its_time_span() {
        let v = compare(&(1..=90).collect::<Vec<_>>(), &acks(100));
        assert_eq!(v.lost, 10);
        assert_eq!(v.lost_sample[0], 91);
        assert!(!v.zero_loss());
        // Last surviving ack is #90 at 890 ms, last lost ack #100 at 990 ms.
        assert_eq!(v.rpo_ms, 100);
    }

    #[test]
    fn holes_count_as_gaps() {
        let mut present: Vec<u64> = (1..=50).collect();
        present.retain(|s| *s != 20 && *s != 21);
        let v = compare(&present, &acks(50));
        assert_eq!(v.gaps, 2);
        assert_eq!(v.lost, 2);
    }

    #[test]
    fn nothing_present_loses_everything() {
        let v = compare(&[], &acks(5));
        assert_eq!(v.lost, 5);
        assert_eq!(v.highest_present, 0);
    }
}
