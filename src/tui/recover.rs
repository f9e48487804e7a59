//! The recovery pane (runbook §2.2/§2.3) for one Sovereign: a dry-run plan listing the exact
//! Hetzner objects and why each matched (and the ambiguous ones it will not touch), the token and
//! project it was made with, then — armed, with the FQDN typed back — the purge of exactly that
//! plan, by id, with live progress per object, then the report of what was deleted, what remains
//! and what appeared after the plan (untouched).
//!
//! With a `[mothership]` in the fleet file, steps 2 and 3 go the runbook's way (the same library
//! calls as `sovtui recover`): the plan shows PDM's state of the name and the exact deployment
//! records; the armed run releases a held name and cancels each record through the catalyst-api
//! pod — or, chosen with F2, through catalyst-api's wipe route — and each step's outcome is shown.
//!
//! Every network call runs in a task (`provision::hetzner::recover::{plan, apply}`) that reports
//! back as [`RecoverMsg`]s; nothing here is called from the render path.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tokio::sync::mpsc;

use crate::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
use crate::provision::hetzner::credentials;
use crate::provision::hetzner::external::{StepOutcome, StepStatus};
use crate::provision::hetzner::inventory::{CloudObject, Kind};
use crate::provision::hetzner::recover::{
    self, MatchReason, RecoverEvent, RecoverOptions, RecoveryPlan, RecoveryReport,
};
use crate::provision::journal;
use crate::provision::mothership::records::RecordRoute;

use super::arming::{Gate, PaneKey, pane_frame};
use super::msg::Msg;
use super::pane_task::{on_own_thread, progress};
use super::theme::{Slot, Theme};

/// Replies of the plan and apply tasks, tagged with the Sovereign they are about.
#[derive(Debug, Clone)]
pub enum RecoverMsg {
    Planned {
        fqdn: String,
        result: Result<Box<RecoveryPlan>, String>,
    },
    Event {
        fqdn: String,
        event: RecoverEvent,
    },
    Finished {
        fqdn: String,
        result: Result<Box<RecoveryReport>, String>,
    },
}

/// Room for the purge's progress events on their way to the cockpit ([`progress`]; see
/// docs/RELIABILITY.md, Channels).
const RECOVER_EVENT_BUFFER: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectState {
    Pending,
    Deleting,
    Deleted,
    Failed(String),
    /// Never deleted by this purge: ambiguous, changed after the plan, or not in it.
    Untouched(String),
}

impl ObjectState {
    fn symbol(&self) -> (&'static str, Slot) {
        match self {
            ObjectState::Pending => ("·", Slot::StatePending),
            ObjectState::Deleting => ("◌", Slot::StateInstalling),
            ObjectState::Deleted => ("✓", Slot::StateInstalled),
            ObjectState::Failed(_) => ("✗", Slot::StateFailed),
            ObjectState::Untouched(_) => ("⊘", Slot::StateSuspended),
        }
    }
}

/// One object of the plan and what happened to it.
#[derive(Debug, Clone)]
pub struct ObjectRow {
    pub object: CloudObject,
    pub why: String,
    pub state: ObjectState,
}

#[derive(Debug, Clone)]
pub enum Phase {
    Planning,
    PlanFailed(String),
    Planned,
    Applying,
    Done(Box<RecoveryReport>),
    ApplyFailed(String),
}

pub struct RecoverScreen {
    pub fqdn: String,
    pub phase: Phase,
    pub plan: Option<RecoveryPlan>,
    pub rows: Vec<ObjectRow>,
    /// The FQDN typed back, and why the last Enter (or F2) did not start the purge.
    pub gate: Gate,
    pub sweep: Option<(u32, usize)>,
    pub external: BTreeMap<String, StepOutcome>,
    pub scroll: usize,
    /// What plan and apply run with (tests shorten the timings; the journal goes to the state dir).
    pub options: RecoverOptions,
}

fn why(reasons: &[MatchReason]) -> String {
    reasons
        .iter()
        .map(MatchReason::describe)
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The token the pane uses: the one the cockpit was handed (the demo's world), else the one
/// credential rule of every destructive path ([`credentials::resolve`]). Blocking (a token
/// command may run): call from `spawn_blocking`.
pub fn resolve_credentials(
    fqdn: &str,
    given: Option<Credentials>,
    fleet_file: Option<PathBuf>,
) -> Result<Credentials, String> {
    if let Some(c) = given {
        return Ok(c);
    }
    credentials::resolve(fqdn, fleet_file.as_deref(), None).map_err(|e| e.to_string())
}

/// The fleet file's `[mothership]` (None without a fleet file). Blocking: a file read.
fn mothership_of(
    fleet_file: Option<&std::path::Path>,
) -> Result<Option<crate::config::fleet_file::MothershipEntry>, String> {
    match fleet_file {
        Some(f) if f.exists() => crate::config::fleet_file::load(f)
            .map(|ff| ff.mothership)
            .map_err(|e| e.to_string()),
        _ => Ok(None),
    }
}

impl RecoverScreen {
    pub fn new(fqdn: &str, api_url: Option<String>) -> Self {
        let mut options = RecoverOptions::new(fqdn);
        options.api_url = api_url;
        options.journal_dir = Some(journal::default_root());
        RecoverScreen {
            fqdn: fqdn.to_string(),
            phase: Phase::Planning,
            plan: None,
            rows: Vec::new(),
            gate: Gate::new(fqdn, "the purge"),
            sweep: None,
            external: BTreeMap::new(),
            scroll: 0,
            options,
        }
    }

    /// Start the dry run in a task. Without a sender or runtime (snapshot tests) it just waits.
    pub fn start_plan(
        &mut self,
        tx: Option<&mpsc::Sender<Msg>>,
        creds: Option<Credentials>,
        fleet_file: Option<PathBuf>,
    ) -> bool {
        self.phase = Phase::Planning;
        let (Some(tx), Ok(handle)) = (tx.cloned(), tokio::runtime::Handle::try_current()) else {
            return false;
        };
        let fqdn = self.fqdn.clone();
        let mut opts = self.options.clone();
        handle.spawn(async move {
            let result = async {
                let f = fqdn.clone();
                let (creds, mothership) = tokio::task::spawn_blocking(move || {
                    let mothership = mothership_of(fleet_file.as_deref())?;
                    Ok::<_, String>((resolve_credentials(&f, creds, fleet_file)?, mothership))
                })
                .await
                .map_err(|e| format!("token lookup: {e}"))??;
                if opts.mothership.is_none() {
                    opts.mothership = mothership;
                }
                let client = HetznerClient::new(creds, ClientOptions::default())
                    .map_err(|e| e.to_string())?;
                recover::plan(&client, &opts)
                    .await
                    .map(Box::new)
                    .map_err(|e| e.to_string())
            }
            .await;
            let _ = tx
                .send(Msg::Recover(RecoverMsg::Planned { fqdn, result }))
                .await;
        });
        true
    }

    /// Why the purge cannot start now; `None` when it can.
    pub fn blocked_reason(&self, armed: bool) -> Option<String> {
        match &self.phase {
            Phase::Planned => {}
            Phase::Planning => return Some("the plan is still being fetched".into()),
            Phase::PlanFailed(_) => return Some("no plan (the dry run failed)".into()),
            Phase::Applying => return Some("the purge is running".into()),
            Phase::Done(_) | Phase::ApplyFailed(_) => return Some("the purge has run".into()),
        }
        if !self.plan.as_ref().is_some_and(has_work) {
            return Some("nothing to do: Hetzner holds nothing of this Sovereign".into());
        }
        crate::tui::arming::not_confirmed(armed, &self.gate.typed(), &self.fqdn)
    }

    /// Keys the pane takes: FQDN characters and editing keys into the confirm field, Enter to
    /// purge, arrows to scroll. Everything else (`:`, Esc, Tab, `?`) goes to the shell.
    pub fn on_key(
        &mut self,
        key: KeyEvent,
        armed: bool,
        tx: Option<&mpsc::Sender<Msg>>,
        creds: Option<Credentials>,
        fleet_file: Option<PathBuf>,
    ) -> bool {
        let code = match self.gate.key(key, true) {
            PaneKey::Shell => return false,
            PaneKey::Taken => return true,
            PaneKey::Pane(code) => code,
        };
        match code {
            KeyCode::F(2) => self.toggle_route(tx, creds, fleet_file),
            KeyCode::Up => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::Down => self.scroll = (self.scroll + 1).min(self.rows.len().saturating_sub(1)),
            KeyCode::Enter => {
                if self.gate.enter(self.blocked_reason(armed)) {
                    self.start_apply(tx, creds, fleet_file);
                }
            }
            _ => return false,
        }
        true
    }

    /// F2: step 3 by the other route (exec ⇄ catalyst-api's wipe route) — a fresh dry run, so
    /// the plan shown is the plan executed.
    fn toggle_route(
        &mut self,
        tx: Option<&mpsc::Sender<Msg>>,
        creds: Option<Credentials>,
        fleet_file: Option<PathBuf>,
    ) {
        if !matches!(self.phase, Phase::Planned | Phase::PlanFailed(_)) {
            self.gate.refused = Some("the route is chosen before the purge".into());
            return;
        }
        if self.plan.as_ref().is_some_and(|p| p.mothership.is_none()) {
            self.gate.refused =
                Some("no [mothership] in the fleet file: step 3 has no route to choose".into());
            return;
        }
        self.options.record_route = match self.options.record_route {
            RecordRoute::Exec => RecordRoute::Wipe,
            RecordRoute::Wipe => RecordRoute::Exec,
        };
        self.gate.refused = None;
        self.plan = None;
        self.rows.clear();
        self.external.clear();
        self.start_plan(tx, creds, fleet_file);
    }

    fn start_apply(
        &mut self,
        tx: Option<&mpsc::Sender<Msg>>,
        creds: Option<Credentials>,
        fleet_file: Option<PathBuf>,
    ) {
        let (Some(tx), Ok(handle)) = (tx.cloned(), tokio::runtime::Handle::try_current()) else {
            self.gate.refused = Some("no task runtime to run the purge in".into());
            return;
        };
        // The plan the operator read and armed is the one executed, by id.
        let Some(plan) = self.plan.clone() else {
            self.gate.refused = Some("no plan to execute".into());
            return;
        };
        tracing::warn!(fqdn = %self.fqdn, objects = plan.targets.len(), "recovery purge confirmed");
        self.phase = Phase::Applying;
        let fqdn = self.fqdn.clone();
        let opts = self.options.clone();
        handle.spawn(async move {
            let (progress, forward) = {
                let fqdn = fqdn.clone();
                progress("purge", RECOVER_EVENT_BUFFER, tx.clone(), move |event| {
                    Msg::Recover(RecoverMsg::Event {
                        fqdn: fqdn.clone(),
                        event,
                    })
                })
            };
            // The purge's future is not provably `Send` (its concurrent stream borrows).
            let f = fqdn.clone();
            let result = on_own_thread("purge", move || async move {
                let creds = resolve_credentials(&f, creds, fleet_file)?;
                let client = HetznerClient::new(creds, ClientOptions::default())
                    .map_err(|e| e.to_string())?;
                let emit = move |e: RecoverEvent| progress.emit(e);
                recover::apply(&client, &opts, &plan, &emit)
                    .await
                    .map(Box::new)
                    .map_err(|e| e.to_string())
            })
            .await;
            let _ = forward.await;
            let _ = tx
                .send(Msg::Recover(RecoverMsg::Finished { fqdn, result }))
                .await;
        });
    }

    /// Apply a task's reply (replies about another Sovereign are stale and ignored).
    pub fn on_msg(&mut self, msg: RecoverMsg) {
        match msg {
            RecoverMsg::Planned { fqdn, result } if fqdn == self.fqdn => match result {
                Ok(plan) => {
                    self.rows = plan
                        .targets
                        .iter()
                        .map(|t| ObjectRow {
                            object: t.object.clone(),
                            why: why(&t.reasons),
                            state: ObjectState::Pending,
                        })
                        .chain(plan.ambiguous.iter().map(|a| ObjectRow {
                            object: a.object.clone(),
                            why: why(&a.reasons),
                            state: ObjectState::Untouched(format!(
                                "ambiguous ({}): never deleted — {}",
                                a.candidates
                                    .iter()
                                    .map(ToString::to_string)
                                    .collect::<Vec<_>>()
                                    .join(" / "),
                                a.resolve
                            )),
                        }))
                        .collect();
                    self.external.insert("PDM".into(), plan.pdm.clone());
                    self.external
                        .insert("catalyst-api".into(), plan.api.clone());
                    self.plan = Some(*plan);
                    self.phase = Phase::Planned;
                }
                Err(e) => self.phase = Phase::PlanFailed(e),
            },
            RecoverMsg::Event { fqdn, event } if fqdn == self.fqdn => self.on_event(event),
            RecoverMsg::Finished { fqdn, result } if fqdn == self.fqdn => match result {
                Ok(report) => {
                    for o in &report.deleted {
                        self.set_state(o, ObjectState::Deleted);
                    }
                    self.external.insert("PDM".into(), report.pdm.clone());
                    self.external
                        .insert("catalyst-api".into(), report.api.clone());
                    self.phase = Phase::Done(report);
                }
                Err(e) => self.phase = Phase::ApplyFailed(e),
            },
            _ => {}
        }
    }

    fn set_state(&mut self, object: &CloudObject, state: ObjectState) {
        match self
            .rows
            .iter_mut()
            .find(|r| r.object.kind == object.kind && r.object.id == object.id)
        {
            Some(r) => r.state = state,
            // Not in the plan (it appeared after it): shown, never deleted.
            None => self.rows.push(ObjectRow {
                object: object.clone(),
                why: "not in the plan".into(),
                state,
            }),
        }
    }

    fn on_event(&mut self, event: RecoverEvent) {
        match event {
            RecoverEvent::Deleting { object } => self.set_state(&object, ObjectState::Deleting),
            RecoverEvent::Deleted { object } => self.set_state(&object, ObjectState::Deleted),
            RecoverEvent::DeleteFailed { object, error } => {
                self.set_state(&object, ObjectState::Failed(error))
            }
            RecoverEvent::SweepRound { round, remaining } => self.sweep = Some((round, remaining)),
            RecoverEvent::External { step, outcome } => {
                self.external.insert(step, outcome);
            }
            RecoverEvent::AppearedAfterPlan { object } => self.set_state(
                &object,
                ObjectState::Untouched("appeared after the plan: not deleted".into()),
            ),
            RecoverEvent::Skipped { object, why } => self.set_state(
                &object,
                ObjectState::Untouched(format!("{why}: not deleted")),
            ),
            RecoverEvent::Planned { .. } | RecoverEvent::StageDone { .. } => {}
        }
    }

    /// Rows of the plan's targets (what Enter deletes).
    pub fn deletable(&self) -> usize {
        self.plan.as_ref().map_or(0, |p| p.targets.len())
    }

    pub fn count(&self, state: &ObjectState) -> usize {
        self.rows.iter().filter(|r| &r.state == state).count()
    }
}

/// Whether executing `plan` changes anything: objects to delete, a held PDM name or a record to
/// end (through the mothership).
fn has_work(plan: &RecoveryPlan) -> bool {
    !plan.targets.is_empty()
        || plan.mothership.as_ref().is_some_and(|m| {
            m.pdm
                .as_ref()
                .and_then(|p| p.state)
                .is_some_and(|s| s.held())
                || m.records.records.iter().any(|r| r.cancel)
        })
}

fn kind_label(kind: Kind) -> &'static str {
    kind.api_path()
}

fn step_line<'a>(name: &str, o: &StepOutcome, theme: &Theme) -> Line<'a> {
    let (sym, slot) = step_symbol(&o.status);
    Line::from(vec![
        Span::styled(format!(" {sym} "), theme.style(slot)),
        Span::raw(format!("{name:<13} {:?}: {}", o.status, o.detail)),
    ])
}

/// Steps 2 and 3: one line each, then — through a mothership — one line per deployment record
/// (as planned; once the run ended, what it did to each).
fn step_lines<'a>(s: &RecoverScreen, theme: &Theme) -> Vec<Line<'a>> {
    let label = |k: &str| match k {
        "PDM" => "2 PDM".to_string(),
        "catalyst-api" => "3 record".to_string(),
        other => other.to_string(),
    };
    let mothership = s.plan.as_ref().and_then(|p| p.mothership.as_ref());
    let Some(m) = mothership else {
        return s
            .external
            .iter()
            .map(|(name, o)| step_line(&label(name), o, theme))
            .collect();
    };
    let mut out = Vec::new();
    if let Some(o) = s.external.get("PDM") {
        out.push(step_line("2 PDM", o, theme));
    }
    let route = match m.records.route {
        RecordRoute::Exec => format!("exec into {}/catalyst-api → cancelled", m.records.namespace),
        RecordRoute::Wipe => "catalyst-api's wipe route → wiped".to_string(),
    };
    let step3 = s
        .external
        .get("catalyst-api")
        .cloned()
        .unwrap_or_else(|| m.records.summary());
    let switch = if matches!(s.phase, Phase::Planned) {
        " · F2: switch route"
    } else {
        ""
    };
    let (sym, slot) = step_symbol(&step3.status);
    out.push(Line::from(vec![
        Span::styled(format!(" {sym} "), theme.style(slot)),
        Span::raw(format!(
            "{:<13} {:?}: {route}{switch}",
            "3 record", step3.status
        )),
    ]));
    let done = match &s.phase {
        Phase::Done(r) => r.mothership.as_ref(),
        _ => None,
    };
    match done {
        Some(r) => {
            for rec in &r.records.records {
                let (sym, slot) = step_symbol(&rec.outcome.status);
                out.push(Line::from(vec![
                    Span::styled(format!("     {sym} "), theme.style(slot)),
                    Span::raw(rec.outcome.detail.clone()),
                ]));
            }
            for rec in &r.records.appeared_after_plan {
                out.push(Line::from(vec![
                    Span::styled("     ⊘ ", theme.style(Slot::StateSuspended)),
                    Span::raw(format!(
                        "{} ({}) appeared after the plan: not touched",
                        rec.id, rec.status
                    )),
                ]));
            }
            if let Some(e) = &r.records.error {
                out.push(Line::from(vec![
                    Span::styled("     ✗ ", theme.style(Slot::StateFailed)),
                    Span::raw(e.clone()),
                ]));
            }
        }
        None => {
            if let Some(e) = &m.records.error {
                out.push(Line::from(vec![
                    Span::styled("     ✗ ", theme.style(Slot::StateFailed)),
                    Span::raw(format!("records unreadable: {e}")),
                ]));
            }
            for rec in &m.records.records {
                let to = match (rec.cancel, m.records.route) {
                    (false, _) => "left alone",
                    (true, RecordRoute::Exec) => "→ cancelled",
                    (true, RecordRoute::Wipe) => "→ wiped",
                };
                out.push(Line::from(vec![
                    Span::styled("     · ", theme.style(Slot::StatePending)),
                    Span::raw(format!(
                        "{} {} ({} events) {to}",
                        rec.id, rec.status, rec.events
                    )),
                ]));
            }
        }
    }
    out
}

fn step_symbol(status: &StepStatus) -> (&'static str, Slot) {
    match status {
        StepStatus::Skipped => ("–", Slot::Muted),
        StepStatus::Failed => ("✗", Slot::StateFailed),
        _ => ("✓", Slot::StateInstalled),
    }
}

/// Draw the pane into `area`.
pub fn draw(frame: &mut Frame, area: Rect, s: &RecoverScreen, armed: bool, theme: &Theme) {
    let inner = pane_frame(
        frame,
        area,
        format!(" Recover (§2.2/§2.3) · {} ", s.fqdn),
        theme,
    );
    let ext_lines = step_lines(s, theme);
    let ext_h = ext_lines.len() as u16;
    let [head, project, list, ext, confirm, button] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(ext_h),
        Constraint::Length(3),
        Constraint::Length(1),
    ])
    .areas(inner);

    let (text, slot) = match &s.phase {
        Phase::Planning => (
            "dry run: listing every Hetzner object…".to_string(),
            Slot::Muted,
        ),
        Phase::PlanFailed(e) => (format!("✗ dry run failed: {e}"), Slot::NoticeError),
        Phase::Planned => (
            format!(
                "dry run: {} objects would be deleted{} (nothing is touched until you confirm)",
                s.deletable(),
                match s.plan.as_ref().map_or(0, |p| p.ambiguous.len()) {
                    0 => String::new(),
                    n => format!(", {n} ambiguous left alone"),
                }
            ),
            Slot::Header,
        ),
        Phase::Applying => (
            format!(
                "purging: {} deleted, {} in flight, {} refused{}",
                s.count(&ObjectState::Deleted),
                s.count(&ObjectState::Deleting),
                s.rows
                    .iter()
                    .filter(|r| matches!(r.state, ObjectState::Failed(_)))
                    .count(),
                s.sweep
                    .map(|(r, n)| format!(" · sweep round {r}: {n} still listed"))
                    .unwrap_or_default()
            ),
            Slot::NoticeWarn,
        ),
        Phase::Done(r) if r.complete() => (
            format!(
                "✓ done: {} deleted, nothing remains ({} sweep rounds, {} ms)",
                r.deleted.len(),
                r.sweep_rounds,
                r.elapsed_ms
            ),
            Slot::StateInstalled,
        ),
        Phase::Done(r) => (
            format!(
                "✗ incomplete: {} deleted, {} REMAIN, {} appeared after the plan, {} ambiguous, {} errors{}",
                r.deleted.len(),
                r.remaining.len(),
                r.appeared_after_plan.len(),
                r.ambiguous.len() + r.skipped.len(),
                r.errors.len(),
                r.errors
                    .first()
                    .map(|e| format!(" — {e}"))
                    .unwrap_or_default()
            ),
            Slot::NoticeError,
        ),
        Phase::ApplyFailed(e) => (format!("✗ purge failed: {e}"), Slot::NoticeError),
    };
    frame.render_widget(Paragraph::new(Span::styled(text, theme.style(slot))), head);
    if let Some(p) = &s.plan {
        frame.render_widget(
            Paragraph::new(Span::styled(p.project.line(), theme.style(Slot::Muted))),
            project,
        );
    }

    let remaining: Vec<(Kind, i64)> = match &s.phase {
        Phase::Done(r) => r
            .remaining
            .iter()
            .map(|t| (t.object.kind, t.object.id))
            .collect(),
        _ => Vec::new(),
    };
    let rows: Vec<Line> = s
        .rows
        .iter()
        .skip(s.scroll)
        .take(list.height as usize)
        .map(|r| {
            let (sym, slot) = if remaining.contains(&(r.object.kind, r.object.id)) {
                ("!", Slot::StateFailed)
            } else {
                r.state.symbol()
            };
            let detail = match &r.state {
                ObjectState::Failed(e) | ObjectState::Untouched(e) => format!("  {e}"),
                _ => String::new(),
            };
            Line::from(vec![
                Span::styled(format!(" {sym} "), theme.style(slot)),
                Span::raw(format!(
                    "{:<14} {:<36} #{:<8} ",
                    kind_label(r.object.kind),
                    r.object.name,
                    r.object.id
                )),
                Span::styled(format!("by {}{detail}", r.why), theme.style(Slot::Muted)),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(rows), list);
    frame.render_widget(Paragraph::new(ext_lines), ext);

    s.gate.draw(frame, confirm, theme);
    let line = s.gate.button(
        s.blocked_reason(armed),
        format!("purge {} objects", s.deletable()),
        "purge",
        "ready — this deletes them",
        "",
        theme,
    );
    frame.render_widget(Paragraph::new(line), button);
}
