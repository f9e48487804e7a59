//! The drill report, as JSON and as Markdown, built from the journal so that the two always agree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::verify::Verification;
use crate::provision::journal::{Entry, Event};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    pub step: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// `done`, `failed: …`, `rolled back`, `interrupted`.
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub drill_id: String,
    pub target: String,
    /// `postgres` for a real data plane, `simulated` otherwise — never left implicit.
    pub data_plane: String,
    pub outcome: String,
    pub timeline: Vec<StepTiming>,
    /// Kill → new primary accepting writes.
    pub rto_ms: Option<i64>,
    pub rpo_ms: Option<i64>,
    pub rows_written: Option<u64>,
    pub verification: Option<Verification>,
    pub objects_touched: Vec<serde_json::Value>,
}

/// Build the report from journal entries. Measurements come from the step details the run wrote:
/// `probe`/`verify` details carry the verification, `promote` the RTO, any step `touched` objects.
pub fn build(drill_id: &str, data_plane: &str, entries: &[Entry]) -> Report {
    let mut report = Report {
        drill_id: drill_id.to_string(),
        target: String::new(),
        data_plane: data_plane.to_string(),
        outcome: "unfinished".into(),
        timeline: Vec::new(),
        rto_ms: None,
        rpo_ms: None,
        rows_written: None,
        verification: None,
        objects_touched: Vec::new(),
    };
    for e in entries {
        match &e.event {
            Event::Planned { .. } => report.target = e.fqdn.clone(),
            Event::StepStarted { step } => report.timeline.push(StepTiming {
                step: step.clone(),
                started_at: e.at,
                ended_at: None,
                duration_ms: None,
                outcome: "interrupted".into(),
            }),
            Event::StepDone { step, detail } => {
                close(&mut report.timeline, step, e.at, "done".into());
                if let Some(ms) = detail.get("rto_ms").and_then(|v| v.as_i64()) {
                    report.rto_ms = Some(ms);
                }
                if let Some(v) = detail
                    .get("verification")
                    .and_then(|v| serde_json::from_value::<Verification>(v.clone()).ok())
                {
                    report.rpo_ms = Some(v.rpo_ms);
                    report.rows_written = Some(v.acked);
                    report.verification = Some(v);
                }
                if let Some(touched) = detail.get("touched").and_then(|v| v.as_array()) {
                    report.objects_touched.extend(touched.iter().cloned());
                }
            }
            Event::StepFailed { step, error } => {
                close(&mut report.timeline, step, e.at, format!("failed: {error}"))
            }
            Event::RollbackStarted { step } => report.timeline.push(StepTiming {
                step: format!("rollback {step}"),
                started_at: e.at,
                ended_at: None,
                duration_ms: None,
                outcome: "interrupted".into(),
            }),
            Event::RollbackDone { step } => close(
                &mut report.timeline,
                &format!("rollback {step}"),
                e.at,
                "done".into(),
            ),
            Event::Finished { outcome, .. } => report.outcome = outcome.clone(),
        }
    }
    report
}

fn close(timeline: &mut [StepTiming], step: &str, at: DateTime<Utc>, outcome: String) {
    if let Some(t) = timeline
        .iter_mut()
        .rev()
        .find(|t| t.step == step && t.ended_at.is_none())
    {
        t.ended_at = Some(at);
        t.duration_ms = Some((at - t.started_at).num_milliseconds());
        t.outcome = outcome;
    }
}

fn ms(v: Option<i64>) -> String {
    v.map(|m| format!("{:.3} s", m as f64 / 1000.0))
        .unwrap_or_else(|| "—".into())
}

impl Report {
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# Failover drill {} — {}\n\n", self.drill_id, self.target);
        out += &format!("* Outcome: **{}**\n", self.outcome);
        out += &format!("* Data plane: {}\n", self.data_plane);
        out += &format!("* RTO observed: {}\n", ms(self.rto_ms));
        out += &format!("* RPO observed: {}\n", ms(self.rpo_ms));
        if let Some(v) = &self.verification {
            let verdict = if v.zero_loss() {
                "zero transaction loss".to_string()
            } else {
                format!(
                    "**{} acknowledged rows lost** (first: {:?})",
                    v.lost, v.lost_sample
                )
            };
            out += &format!(
                "* Rows acknowledged: {}; present on the new primary: {}; gaps: {} — {}\n",
                v.acked, v.present, v.gaps, verdict
            );
        }
        out += "\n## Timeline\n\n| step | started | duration | outcome |\n|---|---|---|---|\n";
        for t in &self.timeline {
            out += &format!(
                "| {} | {} | {} | {} |\n",
                t.step,
                t.started_at.format("%H:%M:%S%.3f"),
                ms(t.duration_ms),
                t.outcome.replace('|', "\\|")
            );
        }
        if !self.objects_touched.is_empty() {
            out += "\n## Objects touched\n\n";
            for o in &self.objects_touched {
                out += &format!("* `{o}`\n");
            }
        }
        out
    }
}
