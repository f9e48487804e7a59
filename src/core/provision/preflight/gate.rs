//! The pre-flight as a gate on Provision (the wizard's Review step and `sovtui deploy create`):
//! a ✗ item refuses the create unless the operator overrides it deliberately — naming every
//! failing item (`A,C`) or typing `override` — and the override is journaled, with the items, their
//! evidence, who and when, *before* the deployment is created (no journal, no create). `?` items
//! never block; they are recorded with the rest of the report.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Report, Verdict};
use crate::provision::journal::{Journal, JournalError, Op};

/// The step the journal names around the create.
pub const CREATE_STEP: &str = "create deployment";

/// What the operator typed to override, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideSpec {
    /// `override`: every ✗ item.
    All,
    /// The letters named (`A,C`, `a c`).
    Items(BTreeSet<String>),
}

/// Parse an override: `override` (any case), or item letters separated by commas or spaces.
/// `None` for empty input; `Err` names what is not an item.
pub fn parse_override(text: &str) -> Result<Option<OverrideSpec>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.eq_ignore_ascii_case("override") {
        return Ok(Some(OverrideSpec::All));
    }
    let mut items = BTreeSet::new();
    for part in t.split(|c: char| c == ',' || c.is_whitespace()) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let id = part.to_ascii_uppercase();
        if !super::IDS.contains(&id.as_str()) {
            return Err(format!(
                "{part:?} is not a pre-flight item (A–H), nor `override`"
            ));
        }
        items.insert(id);
    }
    if items.is_empty() {
        return Ok(None);
    }
    Ok(Some(OverrideSpec::Items(items)))
}

/// An override of ✗ items, as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// The ✗ items overridden.
    pub items: Vec<String>,
    /// Each overridden item's evidence, as the operator saw it.
    pub evidence: Vec<OverriddenItem>,
    /// Who (`$USER`, else `$LOGNAME`) and when.
    pub user: String,
    pub at: DateTime<Utc>,
    /// What was typed (`A,C` or `override`).
    pub typed: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverriddenItem {
    pub id: String,
    pub title: String,
    pub evidence: Vec<String>,
}

/// The gate's answer for a report and what was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing is ✗.
    Clear,
    /// Some item is ✗ and the override does not name it: the create is refused.
    Refused { failed: Vec<String>, why: String },
    /// Every ✗ item is overridden: the create may go, once this is journaled.
    Overridden(Override),
}

/// Who is at the keyboard, for the record.
pub fn operator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Decide on `report` given the override typed (empty: none).
pub fn decide(report: &Report, typed: &str) -> Decision {
    let failed: Vec<String> = report.failed().iter().map(|i| i.id.clone()).collect();
    if failed.is_empty() {
        return Decision::Clear;
    }
    let how = format!(
        "fix {} (runbook §1.2), or override deliberately: name every ✗ item ({}) or type `override` — the override is journaled",
        failed.join(", "),
        failed.join(",")
    );
    let spec = match parse_override(typed) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Decision::Refused {
                why: format!("pre-flight ✗ {} — {how}", failed.join(", ")),
                failed,
            };
        }
        Err(e) => {
            return Decision::Refused {
                why: format!("override: {e} — {how}"),
                failed,
            };
        }
    };
    if let OverrideSpec::Items(named) = &spec {
        let missing: Vec<&String> = failed.iter().filter(|f| !named.contains(*f)).collect();
        if !missing.is_empty() {
            return Decision::Refused {
                why: format!(
                    "the override does not name {} — {how}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                failed,
            };
        }
    }
    Decision::Overridden(Override {
        evidence: report
            .items
            .iter()
            .filter(|i| i.verdict == Verdict::Fail)
            .map(|i| OverriddenItem {
                id: i.id.clone(),
                title: i.title.clone(),
                evidence: i.evidence.clone(),
            })
            .collect(),
        items: failed,
        user: operator(),
        at: Utc::now(),
        typed: typed.trim().to_string(),
    })
}

/// The journal's plan record of a gated create.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatedCreate {
    pub fqdn: String,
    /// Where the create goes.
    pub api: String,
    /// The pre-flight the create was gated on (every item, ✓ / ✗ / ?).
    pub preflight: Report,
    /// The override of ✗ items, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#override: Option<Override>,
}

/// Journal the gated create before it is sent: the plan (report and override) and the create
/// step's start. The caller records the answer ([`created`] / [`not_created`]).
pub fn journal_create(root: &Path, plan: &GatedCreate) -> Result<Journal, JournalError> {
    let mut j = Journal::create(root, Op::Provision, &plan.fqdn)?;
    j.planned(plan)?;
    j.started(CREATE_STEP)?;
    Ok(j)
}

/// The create answered with deployment `id`.
pub fn created(j: &mut Journal, id: &str) -> Result<(), JournalError> {
    j.done(CREATE_STEP, serde_json::json!({ "id": id }))?;
    j.finish("created", serde_json::json!({ "id": id }))
}

/// The create was refused or did not answer.
pub fn not_created(j: &mut Journal, error: &str) -> Result<(), JournalError> {
    j.failed(CREATE_STEP, error)?;
    j.finish("failed", serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::preflight::{Item, fix, title};

    fn report(fails: &[&str], unknown: &[&str]) -> Report {
        Report {
            fqdn: "t1.omani.works".into(),
            items: super::super::IDS
                .iter()
                .map(|id| {
                    let verdict = if fails.contains(id) {
                        Verdict::Fail
                    } else if unknown.contains(id) {
                        Verdict::Unknown
                    } else {
                        Verdict::Pass
                    };
                    Item {
                        id: id.to_string(),
                        title: title(id).into(),
                        verdict,
                        evidence: vec![format!("evidence of {id}")],
                        fix: fix(id).into(),
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn unknown_items_never_block() {
        assert_eq!(decide(&report(&[], &["B", "H"]), ""), Decision::Clear);
    }

    #[test]
    fn a_failed_item_refuses_until_every_failed_item_is_named() {
        let r = report(&["A", "E"], &["B"]);
        assert!(matches!(decide(&r, ""), Decision::Refused { failed, .. } if failed == ["A", "E"]));
        match decide(&r, "a") {
            Decision::Refused { why, .. } => assert!(why.contains("does not name E"), "{why}"),
            d => panic!("{d:?}"),
        }
        assert!(
            matches!(decide(&r, "A,Z"), Decision::Refused { why, .. } if why.contains("\"Z\""))
        );
        assert!(
            matches!(decide(&r, "y"), Decision::Refused { .. }),
            "a single key never overrides"
        );
        match decide(&r, "e, a") {
            Decision::Overridden(o) => {
                assert_eq!(o.items, ["A", "E"]);
                assert_eq!(o.evidence[1].evidence, ["evidence of E"]);
                assert!(!o.user.is_empty());
            }
            d => panic!("{d:?}"),
        }
        assert!(matches!(decide(&r, " OVERRIDE "), Decision::Overridden(_)));
    }
}
