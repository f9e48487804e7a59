//! Recovery step 2 (runbook §2.2, contract §6): the PDM allocation of the Sovereign's name. The
//! dry run reads its state the way the recovery script's dry run does — `GET
//! /api/v1/pool/{pool}/check?sub=` — and names it AVAILABLE, RESERVED or COMMITTED; the armed run
//! releases only a RESERVED or COMMITTED allocation, and only when it is still in the state the
//! plan showed (a name reserved after the plan may be a new provisioning's), then checks that it
//! reads AVAILABLE.

use serde::{Deserialize, Serialize};

use crate::provision::hetzner::external::{
    self, StepOutcome, StepStatus, base, body_text, excerpt, http,
};

/// What PDM holds for `<sub>.<pool>`, in the recovery script's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PdmState {
    /// No allocation: nothing to release.
    Available,
    /// Reserved by a provisioning (check reason `reserved-state`).
    Reserved,
    /// Committed to a Sovereign (check reason `active-state`).
    Committed,
}

impl PdmState {
    pub fn word(self) -> &'static str {
        match self {
            PdmState::Available => "AVAILABLE",
            PdmState::Reserved => "RESERVED",
            PdmState::Committed => "COMMITTED",
        }
    }

    /// Whether a recovery releases it.
    pub fn held(self) -> bool {
        self != PdmState::Available
    }
}

/// Step 2 as planned: where, which name, and the state the dry run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdmPlan {
    pub url: String,
    pub pool: String,
    pub sub: String,
    /// None when PDM could not say (`error` tells why): the armed run then releases nothing.
    pub state: Option<PdmState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PdmPlan {
    pub fn name(&self) -> String {
        format!("{}.{}", self.sub, self.pool)
    }

    /// The plan's one line for step 2.
    pub fn summary(&self) -> StepOutcome {
        match (&self.state, &self.error) {
            (Some(PdmState::Available), _) => StepOutcome {
                status: StepStatus::NothingToDo,
                detail: format!("{} is AVAILABLE in PDM: nothing to release", self.name()),
            },
            (Some(s), _) => StepOutcome {
                status: StepStatus::Done,
                detail: format!(
                    "{} is {} in PDM: --apply releases it",
                    self.name(),
                    s.word()
                ),
            },
            (None, e) => StepOutcome {
                status: StepStatus::Failed,
                detail: format!(
                    "{}: PDM state unknown ({}): nothing will be released",
                    self.name(),
                    e.as_deref().unwrap_or("no answer")
                ),
            },
        }
    }
}

/// What step 2 did: the state before (as read at apply time) and after, and the outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PdmReport {
    pub name: String,
    pub planned: Option<PdmState>,
    pub before: Option<PdmState>,
    pub after: Option<PdmState>,
    /// The allocation was not in the planned state: left alone.
    pub changed_since_plan: bool,
    pub outcome: StepOutcome,
}

/// `GET /api/v1/pool/{pool}/check?sub=` → the allocation's state.
pub async fn state(pdm: &str, pool: &str, sub: &str) -> Result<PdmState, String> {
    let url = format!("{}/api/v1/pool/{pool}/check", base(pdm));
    let resp = http()
        .get(&url)
        .query(&[("sub", sub)])
        .send()
        .await
        .map_err(|e| format!("PDM unreachable: {e}"))?;
    let status = resp.status();
    let body = body_text(resp).await;
    if !status.is_success() {
        return Err(format!("PDM check answered {status}: {}", excerpt(&body)));
    }
    let v: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("PDM check answer is not JSON: {e}"))?;
    let reason = v.get("reason").and_then(|r| r.as_str()).unwrap_or("");
    match (v.get("available").and_then(|a| a.as_bool()), reason) {
        (Some(true), _) => Ok(PdmState::Available),
        (Some(false), "reserved-state") => Ok(PdmState::Reserved),
        (Some(false), "active-state") => Ok(PdmState::Committed),
        (Some(false), r) => Err(format!(
            "PDM says {sub}.{pool} is not available ({r}: {}) but holds no allocation of it",
            v.get("detail").and_then(|d| d.as_str()).unwrap_or("")
        )),
        (None, _) => Err("PDM check answer has no `available`".into()),
    }
}

/// The dry run of step 2.
pub async fn plan(pdm: &str, pool: &str, sub: &str) -> PdmPlan {
    let (state, error) = match state(pdm, pool, sub).await {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    PdmPlan {
        url: pdm.to_string(),
        pool: pool.to_string(),
        sub: sub.to_string(),
        state,
        error,
    }
}

/// The armed step 2: release only what the plan showed held and is still in that state, then
/// read it back.
pub async fn apply(plan: &PdmPlan) -> PdmReport {
    let name = plan.name();
    let report = |before, after, changed, outcome| PdmReport {
        name: name.clone(),
        planned: plan.state,
        before,
        after,
        changed_since_plan: changed,
        outcome,
    };
    let Some(planned) = plan.state else {
        return report(
            None,
            None,
            false,
            StepOutcome {
                status: StepStatus::Failed,
                detail: format!("{name}: the plan has no PDM state; nothing released"),
            },
        );
    };
    let before = match state(&plan.url, &plan.pool, &plan.sub).await {
        Ok(s) => s,
        Err(e) => {
            return report(
                None,
                None,
                false,
                StepOutcome {
                    status: StepStatus::Failed,
                    detail: format!("{name}: {e}; nothing released"),
                },
            );
        }
    };
    if before != planned {
        return report(
            Some(before),
            Some(before),
            true,
            StepOutcome {
                status: StepStatus::Failed,
                detail: format!(
                    "{name} is {} now, the plan showed {}: changed since the plan, not released",
                    before.word(),
                    planned.word()
                ),
            },
        );
    }
    if !before.held() {
        return report(
            Some(before),
            Some(before),
            false,
            StepOutcome {
                status: StepStatus::NothingToDo,
                detail: format!("{name} is AVAILABLE in PDM: nothing to release"),
            },
        );
    }
    let released = external::pdm_release(&plan.url, &plan.pool, &plan.sub).await;
    if released.status == StepStatus::Failed {
        let after = state(&plan.url, &plan.pool, &plan.sub).await.ok();
        return report(Some(before), after, false, released);
    }
    match state(&plan.url, &plan.pool, &plan.sub).await {
        Ok(PdmState::Available) => report(
            Some(before),
            Some(PdmState::Available),
            false,
            StepOutcome {
                status: StepStatus::Done,
                detail: format!(
                    "{name}: {} → released → AVAILABLE (verified)",
                    before.word()
                ),
            },
        ),
        Ok(s) => report(
            Some(before),
            Some(s),
            false,
            StepOutcome {
                status: StepStatus::Failed,
                detail: format!("{name}: released, but PDM reads {} afterwards", s.word()),
            },
        ),
        Err(e) => report(
            Some(before),
            None,
            false,
            StepOutcome {
                status: StepStatus::Failed,
                detail: format!("{name}: released, but the check afterwards failed: {e}"),
            },
        ),
    }
}
