//! The Review step's pre-flight (runbook §1.2) and the gate it puts on Provision: the request as it
//! stands is checked by the library's checklist (the `:preflight` pane's and `sovtui preflight`'s),
//! its items are listed on Review, and Provision is refused while one is ✗ unless the operator
//! names every ✗ item (or types `override`) in the override row — the decision is the library's
//! (`provision::preflight::gate`), and the override is journaled before the create is sent.
//!
//! Without a `[mothership]` in the fleet file there is nothing to check against: Review says so
//! and Provision is not gated (as `sovtui deploy create`).

use crate::provision::preflight::gate::{self, Decision, GatedCreate};
use crate::provision::preflight::{Report, Verdict};
use crate::provision::safe_text::terminal_safe;
use crate::provision::wizard::DeploymentRequest;

use super::rows::{ActionId, Row};
use super::{Effects, WizardMsg};

/// The override row's field name.
pub const OVERRIDE_FIELD: &str = "preflightOverride";

#[derive(Debug, Clone, Default)]
pub enum GateState {
    /// Not started (not on Review yet).
    #[default]
    Idle,
    Checking,
    Done(Report),
    /// Not run: no `[mothership]`, or its inputs could not be read (said why).
    NotRun(String),
}

#[derive(Debug, Clone, Default)]
pub struct ReviewGate {
    pub state: GateState,
    /// The request the state is about.
    pub request: Option<DeploymentRequest>,
    pub seq: u64,
}

impl ReviewGate {
    pub fn is_checking(&self) -> bool {
        matches!(self.state, GateState::Checking)
    }

    pub fn is_for(&self, req: &DeploymentRequest) -> bool {
        self.request.as_ref() == Some(req)
    }

    /// Run the checklist for `req` (on its own thread; the answer arrives as
    /// [`WizardMsg::Preflight`]). Without a task runtime it stays `Checking`.
    pub fn start(
        &mut self,
        req: DeploymentRequest,
        conn: &crate::tui::preflight::Conn,
        fx: &Effects,
    ) {
        self.seq += 1;
        self.state = GateState::Checking;
        self.request = Some(req.clone());
        let (Some(tx), Ok(handle)) = (fx.tx.clone(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let seq = self.seq;
        let conn = conn.clone();
        let started = std::thread::Builder::new()
            .name("sovtui-review-preflight".into())
            .spawn(move || {
                let result = (|| {
                    let fqdn = Some(req.sovereign_fqdn.clone()).filter(|f| !f.is_empty());
                    let inputs = crate::tui::preflight::inputs(&conn, Some(req), fqdn)?;
                    if inputs.mothership.is_none() {
                        return Err(
                            "no [mothership] in the fleet file: nothing to check §1.2 against"
                                .to_string(),
                        );
                    }
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| format!("pre-flight runtime: {e}"))?;
                    Ok(rt.block_on(crate::provision::preflight::run(&inputs)))
                })();
                handle.spawn(async move {
                    let _ = tx
                        .send(crate::tui::msg::Msg::Wizard(WizardMsg::Preflight {
                            seq,
                            result,
                        }))
                        .await;
                });
            });
        if let Err(e) = started {
            self.state = GateState::NotRun(format!("cannot start the pre-flight: {e}"));
        }
    }

    pub fn on_result(&mut self, seq: u64, result: Result<Report, String>) {
        if seq != self.seq {
            return;
        }
        self.state = match result {
            Ok(r) => GateState::Done(r),
            Err(e) => GateState::NotRun(e),
        };
    }

    /// The gate's answer for Provision of `req` with `typed` as the override: `Ok(Some(plan))` to
    /// journal before the create, `Ok(None)` when there is nothing to gate on (no mothership),
    /// `Err(why)` when Provision is refused.
    pub fn decide(
        &self,
        req: &DeploymentRequest,
        api: &str,
        typed: &str,
    ) -> Result<Option<GatedCreate>, String> {
        if !self.is_for(req) {
            return Err(
                "the pre-flight has not run for the request as it stands — it is starting now"
                    .into(),
            );
        }
        let report = match &self.state {
            GateState::Idle | GateState::Checking => {
                return Err("the pre-flight is still checking (§1.2 A–H)".into());
            }
            GateState::NotRun(_) => return Ok(None),
            GateState::Done(r) => r,
        };
        let r#override = match gate::decide(report, typed) {
            Decision::Clear => None,
            Decision::Refused { why, .. } => return Err(why),
            Decision::Overridden(o) => Some(o),
        };
        Ok(Some(GatedCreate {
            fqdn: req.sovereign_fqdn.clone(),
            api: api.to_string(),
            preflight: report.clone(),
            r#override,
        }))
    }

    /// The Review rows: a heading, each item (verdict with its word, title, first evidence line,
    /// the fix when ✗), the override row when something is ✗, and the re-run action.
    pub fn rows(&self, typed: &str) -> Vec<Row> {
        let info = |label: String, value: String| Row::Info {
            label,
            value: terminal_safe(&value).into_owned(),
        };
        let mut v = Vec::new();
        match &self.state {
            GateState::Idle => v.push(info("Pre-flight §1.2".into(), "not run yet".into())),
            GateState::Checking => {
                v.push(info("Pre-flight §1.2".into(), "checking A–H…".into()));
                for id in crate::provision::preflight::IDS {
                    v.push(info(
                        format!("  {id} … checking…"),
                        crate::provision::preflight::title(id).into(),
                    ));
                }
            }
            GateState::NotRun(why) => v.push(info(
                "Pre-flight §1.2".into(),
                format!("not run — {why}; Provision is not gated"),
            )),
            GateState::Done(r) => {
                let failed: Vec<&str> = r.failed().iter().map(|i| i.id.as_str()).collect();
                v.push(info(
                    "Pre-flight §1.2".into(),
                    if failed.is_empty() {
                        format!("{} — nothing ✗", r.summary())
                    } else {
                        format!(
                            "{} — ✗ {} refuses Provision unless overridden",
                            r.summary(),
                            failed.join(", ")
                        )
                    },
                ));
                for i in &r.items {
                    let first = i.evidence.first().cloned().unwrap_or_default();
                    v.push(info(
                        format!("  {} {}", i.id, i.verdict.mark()),
                        if first.is_empty() {
                            i.title.clone()
                        } else {
                            format!("{} — {first}", i.title)
                        },
                    ));
                    if i.verdict == Verdict::Fail {
                        v.push(info("      fix".into(), i.fix.clone()));
                    }
                }
                if !failed.is_empty() {
                    v.push(Row::Text {
                        field: OVERRIDE_FIELD.into(),
                        label: "Override ✗ (type items)".into(),
                        value: typed.to_string(),
                        secret: false,
                        status: Some(format!("{} or override — journaled", failed.join(","))),
                    });
                }
            }
        }
        v.push(Row::Action {
            action: ActionId::Preflight,
            label: "run the pre-flight again".into(),
            disabled: matches!(self.state, GateState::Checking).then(|| "checking".to_string()),
        });
        v
    }
}
