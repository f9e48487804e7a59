//! The drill's verdict. The runbook's pass condition (§6.1) is zero loss of acknowledged
//! transactions within the RPO and the RTO, with the Continuum reporting the failover. A drill
//! that cannot show that is never a pass: a loss, an exceeded objective or a failover that did not
//! happen is `failed`; a drill without a data plane to write into is `unverified`.
//!
//! One rule, one home: the run journals the outcome [`judge`] gives and the report lists the
//! reasons it gives, both computed from the same journal, so the two never disagree.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::probe::PROBE_TABLE;
use super::verify::{Verification, ranges_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every acknowledged row present, RPO and RTO kept, the Continuum failed over.
    Passed,
    /// Something the pass condition forbids happened (the reasons say what).
    Failed,
    /// Nothing contradicts a pass, but nothing proved it either (no data plane, stopped early).
    Unverified,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Unverified => "unverified",
        }
    }
}

/// What the Continuum said after the promotion (contract §7.6 step 6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContinuumCheck {
    pub phase: Option<String>,
    pub last_switchover: Option<Value>,
    /// `FailedOver`, with a `lastSwitchover` other than the one the plan saw, to the standby.
    pub switched: bool,
    pub evidence: String,
}

impl ContinuumCheck {
    /// Judge a Continuum object. `before` is the `lastSwitchover` the plan recorded (a previous
    /// drill's must not count), `expected_to` the standby region the switchover must go to
    /// (empty: not checked).
    pub fn judge(continuum: &Value, before: Option<&Value>, expected_to: &str) -> ContinuumCheck {
        let phase = continuum
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .map(String::from);
        let last = continuum
            .pointer("/status/lastSwitchover")
            .filter(|v| !v.is_null())
            .cloned();
        let to = last
            .as_ref()
            .and_then(|l| l.get("to"))
            .and_then(Value::as_str);
        let fresh = last.is_some() && last.as_ref() != before.filter(|b| !b.is_null());
        let to_ok = expected_to.is_empty() || to == Some(expected_to);
        let failed_over = phase.as_deref() == Some("FailedOver");
        let switched = failed_over && fresh && to_ok;
        let evidence = format!(
            "status.phase = {}, lastSwitchover {}",
            phase.as_deref().unwrap_or("(none)"),
            match (&last, fresh) {
                (None, _) => "absent".to_string(),
                (Some(_), false) => "unchanged since the plan".to_string(),
                (Some(l), true) => format!(
                    "at {} to {}{}",
                    l.get("at").and_then(Value::as_str).unwrap_or("?"),
                    to.unwrap_or("?"),
                    if to_ok {
                        String::new()
                    } else {
                        format!(" (expected {expected_to})")
                    }
                ),
            }
        );
        ContinuumCheck {
            phase,
            last_switchover: last,
            switched,
            evidence,
        }
    }
}

/// What a verdict is made of, as journaled by the run.
#[derive(Debug, Default)]
pub struct Evidence<'a> {
    pub drill_id: &'a str,
    /// `postgres` or `modelled` when rows were written; anything else means no data plane.
    pub data_plane: &'a str,
    pub verification: Option<&'a Verification>,
    pub verified: bool,
    pub rto_ms: Option<i64>,
    pub rto_seconds: u64,
    pub rpo_seconds: u64,
    pub continuum: Option<&'a ContinuumCheck>,
    /// Steps after the kill that failed (step, error): the failover did not go through.
    pub step_failures: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub verdict: Verdict,
    /// Why the drill failed, in the operator's words (empty unless failed).
    pub failures: Vec<String>,
    /// Why nothing proved a pass (empty when verified).
    pub unverified: Vec<String>,
}

fn secs(ms: i64) -> String {
    format!("{:.3} s", ms as f64 / 1000.0)
}

/// The verdict on the evidence.
pub fn judge(e: &Evidence) -> Judgement {
    let mut failures = Vec::new();
    let mut unverified = Vec::new();
    for (step, error) in &e.step_failures {
        failures.push(format!("step {step} failed: {error}"));
    }
    if let Some(v) = e.verification {
        if v.lost > 0 {
            failures.push(format!(
                "{} acknowledged row(s) lost: seq {} (drill_id {} in table {PROBE_TABLE})",
                v.lost,
                ranges_text(&v.lost_ranges),
                e.drill_id
            ));
        }
        if v.rpo_ms > i64::try_from(e.rpo_seconds.saturating_mul(1000)).unwrap_or(i64::MAX) {
            failures.push(format!(
                "RPO exceeded: {} of acknowledged writes lost, RPO {} s",
                secs(v.rpo_ms),
                e.rpo_seconds
            ));
        }
    }
    if let Some(rto) = e.rto_ms
        && rto > i64::try_from(e.rto_seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
    {
        failures.push(format!(
            "RTO exceeded: new primary {} after the kill, RTO {} s",
            secs(rto),
            e.rto_seconds
        ));
    }
    if let Some(c) = e.continuum
        && !c.switched
    {
        failures.push(format!(
            "the Continuum did not report the failover: {}",
            c.evidence
        ));
    }
    if !super::dataplane::writes_rows(e.data_plane) {
        unverified.push(format!(
            "no data plane ({}): no rows were written or verified, so zero loss is not shown",
            e.data_plane
        ));
    } else if !e.verified {
        unverified.push("the drill ended before its rows were verified".to_string());
    }
    let verdict = if !failures.is_empty() {
        Verdict::Failed
    } else if !unverified.is_empty() {
        Verdict::Unverified
    } else {
        Verdict::Passed
    };
    Judgement {
        verdict,
        failures,
        unverified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn clean(lost: &[u64]) -> Verification {
        let acks = super::super::probe::AckLog {
            acked_at: (0..20)
                .map(|i| chrono::Utc::now() + chrono::Duration::milliseconds(i))
                .collect(),
        };
        let present: Vec<u64> = (1..=20).filter(|s| !lost.contains(s)).collect();
        super::super::verify::compare(&present, &acks)
    }

    fn switched() -> ContinuumCheck {
        ContinuumCheck {
            switched: true,
            ..Default::default()
        }
    }

    fn evidence<'a>(v: &'a Verification, c: &'a ContinuumCheck) -> Evidence<'a> {
        Evidence {
            drill_id: "d1",
            data_plane: "postgres",
            verification: Some(v),
            verified: true,
            rto_ms: Some(10_000),
            rto_seconds: 60,
            rpo_seconds: 30,
            continuum: Some(c),
            step_failures: Vec::new(),
        }
    }

    #[test]
    fn zero_loss_within_the_objectives_passes() {
        let (v, c) = (clean(&[]), switched());
        let j = judge(&evidence(&v, &c));
        assert_eq!(j.verdict, Verdict::Passed, "{j:?}");
        assert!(j.failures.is_empty() && j.unverified.is_empty());
    }

    #[test]
    fn one_lost_row_fails_and_is_named() {
        let (v, c) = (clean(&[7]), switched());
        let j = judge(&evidence(&v, &c));
        assert_eq!(j.verdict, Verdict::Failed);
        assert!(j.failures[0].contains("seq 7 "), "{:?}", j.failures);
        assert!(j.failures[0].contains("drill_id d1"), "{:?}", j.failures);
    }

    #[test]
    fn rto_exceeded_fails_even_without_loss() {
        let (v, c) = (clean(&[]), switched());
        let mut e = evidence(&v, &c);
        e.rto_ms = Some(60_001);
        let j = judge(&e);
        assert_eq!(j.verdict, Verdict::Failed);
        assert!(j.failures[0].starts_with("RTO exceeded"), "{j:?}");
    }

    #[test]
    fn a_continuum_that_did_not_switch_fails() {
        let v = clean(&[]);
        let c = ContinuumCheck::judge(
            &json!({"status": {"phase": "SwitchingOver"}}),
            None,
            "hz-nbg",
        );
        assert!(!c.switched);
        let j = judge(&evidence(&v, &c));
        assert_eq!(j.verdict, Verdict::Failed);
        assert!(j.failures[0].contains("SwitchingOver"), "{j:?}");
    }

    #[test]
    fn no_data_plane_is_unverified_not_passed() {
        let c = switched();
        let e = Evidence {
            data_plane: "simulated",
            continuum: Some(&c),
            rto_seconds: 60,
            ..Default::default()
        };
        let j = judge(&e);
        assert_eq!(j.verdict, Verdict::Unverified);
        assert!(j.unverified[0].contains("no data plane"), "{j:?}");
    }

    #[test]
    fn a_failure_beats_unverified() {
        let c = ContinuumCheck::default();
        let e = Evidence {
            data_plane: "simulated",
            continuum: Some(&c),
            ..Default::default()
        };
        assert_eq!(judge(&e).verdict, Verdict::Failed);
    }

    #[test]
    fn the_continuum_must_have_switched_since_the_plan_and_to_the_standby() {
        let last = json!({"at": "2026-12-06T08:00:00Z", "from": "hz-fsn", "to": "hz-nbg"});
        let now = json!({"status": {"phase": "FailedOver", "lastSwitchover": last}});
        assert!(ContinuumCheck::judge(&now, None, "hz-nbg").switched);
        assert!(ContinuumCheck::judge(&now, Some(&Value::Null), "hz-nbg").switched);
        // The same lastSwitchover the plan saw: a previous drill's, not this one's.
        let stale = ContinuumCheck::judge(&now, Some(&last), "hz-nbg");
        assert!(!stale.switched);
        assert!(stale.evidence.contains("unchanged"), "{}", stale.evidence);
        let wrong = ContinuumCheck::judge(&now, None, "hz-hel");
        assert!(!wrong.switched);
        assert!(
            wrong.evidence.contains("expected hz-hel"),
            "{}",
            wrong.evidence
        );
        let degraded = json!({"status": {"phase": "Degraded", "lastSwitchover": last}});
        assert!(!ContinuumCheck::judge(&degraded, None, "hz-nbg").switched);
    }
}
