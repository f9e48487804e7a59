//! The drill report, as JSON and as Markdown, built from the journal so that the two always agree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::verdict::{self, ContinuumCheck, Evidence};
use super::verify::{Verification, ranges_text};
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
    /// `postgres` for a real data plane, `modelled` for the simulated world's model of one,
    /// `simulated` for none — never left implicit (see [`super::dataplane`]).
    pub data_plane: String,
    /// The target's world ran this many times faster than the wall clock (a simulated world at
    /// `--speed`): timings are given in wall time and in world time (wall × speed).
    #[serde(default)]
    pub world_speed: Option<f64>,
    /// How the run ended: `passed`, `passed_region_destroyed` (a pass after `--kill terminate`:
    /// see [`Report::region_destroyed`]), `failed`, `unverified` (see [`verdict`]), or
    /// `rolled_back`, `aborted` (stopped before a verdict), `unfinished`.
    pub outcome: String,
    /// Control-plane servers of the killed region that the drill terminated (`--kill terminate`):
    /// gone for good, so the region stays down and the Sovereign failed over until Phase 0
    /// rebuilds them. Empty when nothing was terminated. Never hidden behind any outcome.
    #[serde(default)]
    pub region_destroyed: Vec<String>,
    /// Why the drill failed: lost rows by sequence number, exceeded RPO/RTO, a Continuum that did
    /// not fail over, a step after the kill that failed.
    #[serde(default)]
    pub failures: Vec<String>,
    /// Why a pass was not shown (no data plane, stopped before verify).
    #[serde(default)]
    pub unverified: Vec<String>,
    /// The objectives the drill was judged against (from the plan).
    #[serde(default)]
    pub rto_seconds: Option<u64>,
    #[serde(default)]
    pub rpo_seconds: Option<u64>,
    /// What the Continuum reported after the promotion.
    #[serde(default)]
    pub continuum: Option<ContinuumCheck>,
    pub timeline: Vec<StepTiming>,
    /// Kill → new primary accepting writes.
    pub rto_ms: Option<i64>,
    pub rpo_ms: Option<i64>,
    pub rows_written: Option<u64>,
    pub verification: Option<Verification>,
    pub objects_touched: Vec<serde_json::Value>,
}

/// Build the report from journal entries. Measurements come from the step details the run wrote:
/// `probe`/`verify` details carry the verification, `promote` the RTO and the Continuum, any step
/// `touched` objects. `data_plane` is used when the journaled plan does not say.
pub fn build(drill_id: &str, data_plane: &str, entries: &[Entry]) -> Report {
    let mut report = Report {
        drill_id: drill_id.to_string(),
        target: String::new(),
        data_plane: data_plane.to_string(),
        world_speed: None,
        outcome: "unfinished".into(),
        region_destroyed: Vec::new(),
        failures: Vec::new(),
        unverified: Vec::new(),
        rto_seconds: None,
        rpo_seconds: None,
        continuum: None,
        timeline: Vec::new(),
        rto_ms: None,
        rpo_ms: None,
        rows_written: None,
        verification: None,
        objects_touched: Vec::new(),
    };
    let mut verified = false;
    let mut killed = false;
    let mut step_failures = Vec::new();
    // A terminate kill that was cut off may have deleted some of the plan's servers already.
    let mut terminate_planned: Vec<String> = Vec::new();
    let mut kill_started = false;
    for e in entries {
        match &e.event {
            Event::Planned { plan } => {
                if plan
                    .pointer("/options/server_kill")
                    .and_then(|v| v.as_str())
                    == Some("terminate")
                {
                    terminate_planned = plan
                        .pointer("/region/control_planes")
                        .and_then(|v| v.as_array())
                        .map(|cps| cps.iter().filter_map(server_label).collect())
                        .unwrap_or_default();
                }
                report.target = e.fqdn.clone();
                if let Some(dp) = plan.get("data_plane").and_then(|v| v.as_str()) {
                    report.data_plane = dp.to_string();
                }
                report.world_speed = plan.get("world_speed").and_then(|v| v.as_f64());
                report.rto_seconds = plan.get("rto_seconds").and_then(|v| v.as_u64());
                report.rpo_seconds = plan.get("rpo_seconds").and_then(|v| v.as_u64());
            }
            Event::StepStarted { step } => {
                kill_started |= step == "kill";
                report.timeline.push(StepTiming {
                    step: step.clone(),
                    started_at: e.at,
                    ended_at: None,
                    duration_ms: None,
                    outcome: "interrupted".into(),
                })
            }
            Event::StepDone { step, detail } => {
                close(&mut report.timeline, step, e.at, "done".into());
                match step.as_str() {
                    "kill" => killed = true,
                    "verify" => verified = true,
                    _ => {}
                }
                if let Some(c) = detail
                    .get("continuum")
                    .and_then(|v| serde_json::from_value::<ContinuumCheck>(v.clone()).ok())
                {
                    report.continuum = Some(c);
                }
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
                    report.region_destroyed.extend(
                        touched
                            .iter()
                            .filter(|o| o["kind"] == "hetzner/server" && o["action"] == "terminate")
                            .map(|o| {
                                format!(
                                    "{} (#{})",
                                    o["name"].as_str().unwrap_or("?"),
                                    o["id"].as_i64().map_or("?".into(), |i| i.to_string())
                                )
                            }),
                    );
                }
            }
            Event::StepFailed { step, error } => {
                close(&mut report.timeline, step, e.at, format!("failed: {error}"));
                // After the kill a failed step means the failover did not go through; an
                // interruption is redone by `resume` and judged by how the redo ends.
                if killed && error != "interrupted" {
                    step_failures.push((step.clone(), error.clone()));
                }
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
    if report.region_destroyed.is_empty() && kill_started && !killed {
        // The kill was cut off before it was journaled done: its servers may be gone already.
        report.region_destroyed = terminate_planned
            .into_iter()
            .map(|s| format!("{s} (the kill was cut off: it may be gone)"))
            .collect();
    }
    let judgement = verdict::judge(&Evidence {
        drill_id,
        data_plane: &report.data_plane,
        verification: report.verification.as_ref(),
        verified,
        rto_ms: report.rto_ms,
        rto_seconds: report.rto_seconds.unwrap_or(u64::MAX / 1000),
        rpo_seconds: report.rpo_seconds.unwrap_or(u64::MAX / 1000),
        continuum: report.continuum.as_ref(),
        step_failures,
    });
    report.failures = judgement.failures;
    report.unverified = judgement.unverified;
    report
}

/// `name (#id)` of a plan's control plane, journaled as `[id, name, status]`.
fn server_label(cp: &serde_json::Value) -> Option<String> {
    let id = cp.get(0)?.as_i64()?;
    let name = cp.get(1)?.as_str()?;
    Some(format!("{name} (#{id})"))
}

/// The outcome of a drill that ran every step: the verdict, and for a pass whether the killed
/// region came back. A `--kill terminate` drill destroys the region's control planes by design,
/// so its pass says so in the outcome itself (`passed_region_destroyed`) instead of failing the
/// reverse step it could never do or reading as a plain pass.
pub fn completed_outcome(verdict: verdict::Verdict, region_destroyed: bool) -> &'static str {
    match verdict {
        verdict::Verdict::Passed if region_destroyed => PASSED_REGION_DESTROYED,
        v => v.as_str(),
    }
}

/// A pass after a terminate kill: zero loss shown, the region's servers gone.
pub const PASSED_REGION_DESTROYED: &str = "passed_region_destroyed";

impl Report {
    /// The verdict on what the journal holds so far (the run journals this as its outcome).
    pub fn verdict(&self) -> verdict::Verdict {
        if !self.failures.is_empty() {
            verdict::Verdict::Failed
        } else if !self.unverified.is_empty() {
            verdict::Verdict::Unverified
        } else {
            verdict::Verdict::Passed
        }
    }
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
    /// What the operator must know when the drill terminated servers, in one line (`None` when
    /// it did not): which servers are gone and how the region comes back.
    pub fn region_destroyed_text(&self) -> Option<String> {
        if self.region_destroyed.is_empty() {
            return None;
        }
        Some(format!(
            "the kill terminated {} (`--kill terminate`, irreversible by design): the region stays down and the Sovereign failed over until Phase 0 rebuilds it (`sovtui phase0 apply`); then fail back",
            self.region_destroyed.join(", ")
        ))
    }

    /// A duration as the operator should read it: wall time, and in a sped-up world also world
    /// time (`1.200 s wall · 12.000 s world at 10×`).
    pub fn timing(&self, wall_ms: Option<i64>) -> String {
        match (wall_ms, self.world_speed) {
            (Some(m), Some(speed)) if speed != 1.0 => format!(
                "{} wall · {:.3} s world at {speed}×",
                ms(Some(m)),
                m as f64 * speed / 1000.0
            ),
            _ => ms(wall_ms),
        }
    }

    pub fn to_markdown(&self) -> String {
        let mut out = format!("# Failover drill {} — {}\n\n", self.drill_id, self.target);
        out += &format!("* Outcome: **{}**\n", self.outcome);
        if let Some(line) = self.region_destroyed_text() {
            out += &format!("* Region: **destroyed** — {line}\n");
        }
        out += &format!(
            "* Data plane: {} ({})\n",
            self.data_plane,
            super::dataplane::describe(&self.data_plane)
        );
        let limit = |s: Option<u64>| s.map(|s| format!(" (objective {s} s)")).unwrap_or_default();
        out += &format!(
            "* RTO observed: {}{}\n",
            self.timing(self.rto_ms),
            limit(self.rto_seconds)
        );
        out += &format!(
            "* RPO observed: {}{}\n",
            self.timing(self.rpo_ms),
            limit(self.rpo_seconds)
        );
        if let Some(c) = &self.continuum {
            out += &format!(
                "* Continuum after the promotion: {} — {}\n",
                if c.switched {
                    "failed over"
                } else {
                    "DID NOT fail over"
                },
                c.evidence
            );
        }
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
            if !v.lost_ranges.is_empty() {
                out += &format!(
                    "* Lost rows (`{}` where drill_id = `{}`), by seq: {}\n",
                    super::probe::PROBE_TABLE,
                    self.drill_id,
                    ranges_text(&v.lost_ranges)
                );
            }
        }
        if !self.failures.is_empty() {
            out += "\n## Why the drill failed\n\n";
            for f in &self.failures {
                out += &format!("* {f}\n");
            }
        }
        if !self.unverified.is_empty() {
            out += "\n## Not verified\n\n";
            for u in &self.unverified {
                out += &format!("* {u}\n");
            }
        }
        out += "\n## Timeline\n\n| step | started | duration | outcome |\n|---|---|---|---|\n";
        for t in &self.timeline {
            out += &format!(
                "| {} | {} | {} | {} |\n",
                t.step,
                t.started_at.format("%H:%M:%S%.3f"),
                self.timing(t.duration_ms),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::journal::{Entry, Event, Op};
    use serde_json::json;

    fn entry(event: Event) -> Entry {
        Entry {
            v: crate::provision::journal::FORMAT,
            at: Utc::now(),
            op: Op::Drill,
            run: "d1".into(),
            fqdn: "omantel.omani.works".into(),
            event,
        }
    }

    fn planned(kill: &str) -> Entry {
        entry(Event::Planned {
            plan: json!({"options": {"server_kill": kill},
                "region": {"control_planes": [[7, "catalyst-x-cp1", "running"]]}}),
        })
    }

    #[test]
    fn only_a_pass_reads_as_region_destroyed_and_nothing_worse_is_masked() {
        use verdict::Verdict::*;
        assert_eq!(completed_outcome(Passed, false), "passed");
        assert_eq!(completed_outcome(Passed, true), PASSED_REGION_DESTROYED);
        assert_eq!(completed_outcome(Failed, true), "failed");
        assert_eq!(completed_outcome(Unverified, true), "unverified");
    }

    #[test]
    fn terminated_servers_are_listed_from_the_kill_and_a_cut_off_kill_names_the_plan() {
        let kill_started = entry(Event::StepStarted {
            step: "kill".into(),
        });
        let cut = build(
            "d1",
            "postgres",
            &[planned("terminate"), kill_started.clone()],
        );
        assert_eq!(
            cut.region_destroyed,
            ["catalyst-x-cp1 (#7) (the kill was cut off: it may be gone)"]
        );
        let done = entry(Event::StepDone {
            step: "kill".into(),
            detail: json!({"touched": [
                {"kind": "hetzner/load_balancer", "name": "lb", "id": 3, "action": "remove target server #7"},
                {"kind": "hetzner/server", "name": "catalyst-x-cp1", "id": 7, "action": "terminate"}]}),
        });
        let r = build(
            "d1",
            "postgres",
            &[planned("terminate"), kill_started.clone(), done],
        );
        assert_eq!(r.region_destroyed, ["catalyst-x-cp1 (#7)"]);
        assert!(
            r.to_markdown()
                .contains("Region: **destroyed** — the kill terminated catalyst-x-cp1 (#7)"),
            "{}",
            r.to_markdown()
        );
        // A power-off kill destroys nothing, cut off or not.
        let off = build("d1", "postgres", &[planned("power_off"), kill_started]);
        assert!(off.region_destroyed.is_empty());
        assert!(off.region_destroyed_text().is_none());
    }
}
