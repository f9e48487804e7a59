//! The decommission pane (runbook §1.7/§2.1) for one Sovereign: the dry-run plan — the
//! catalyst-api record, the Hetzner objects the wipe removes (and the ones labelled for another
//! Sovereign it leaves alone), the PDM name, `console.<fqdn>`'s DNS answer, the token's
//! fingerprint — then, armed and with the FQDN typed back, the wipe of exactly that deployment
//! id with catalyst-api's progress live, then the verification item by item, each in words.
//!
//! Every network call runs in a task (`provision::decommission::{plan, apply}`) that reports back
//! as [`DecommissionMsg`]s; nothing here is called from the render path.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use tokio::sync::mpsc;

use crate::provision::catalyst::CatalystClient;
use crate::provision::decommission::{
    self, Check, CheckState, DecommissionPlan, Event, Inputs, Options, Report,
};
use crate::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
use crate::provision::hetzner::ownership::MatchReason;

use super::arming::{Gate, PaneKey, pane_frame};
use super::msg::Msg;
use super::pane_task::{on_own_thread, progress};
use super::theme::{Slot, Theme};

/// Replies of the plan and wipe tasks, tagged with the Sovereign they are about.
#[derive(Debug, Clone)]
pub enum DecommissionMsg {
    Planned {
        fqdn: String,
        result: Result<Box<DecommissionPlan>, String>,
    },
    Event {
        fqdn: String,
        event: Event,
    },
    Finished {
        fqdn: String,
        result: Result<Box<Report>, String>,
    },
}

/// Room for the wipe's progress events on their way to the cockpit ([`progress`]).
const EVENT_BUFFER: usize = 1024;
/// catalyst-api progress lines kept on screen.
const PROGRESS_LINES: usize = 200;

#[derive(Debug, Clone)]
pub enum Phase {
    Planning,
    PlanFailed(String),
    Planned,
    Running,
    Done(Box<Report>),
    Failed(String),
}

/// One verification item as the pane shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Waiting,
    Checking,
    Done(Check),
}

/// Where the pane's tasks get their inputs: the fleet file (the Sovereign's catalyst-api and
/// deployment, `[mothership]`), the catalyst-api the cockpit was given, the token handed in.
#[derive(Debug, Clone, Default)]
pub struct Conn {
    pub fleet_file: Option<PathBuf>,
    pub catalyst_api: Option<String>,
    pub hetzner: Option<Credentials>,
}

pub struct DecommissionScreen {
    pub fqdn: String,
    pub phase: Phase,
    pub plan: Option<DecommissionPlan>,
    /// The FQDN typed back, and why the last Enter did not start the wipe.
    pub gate: Gate,
    pub status: Option<String>,
    pub progress: Vec<String>,
    /// `hetzner`, `pdm`, `dns` in the runbook's order.
    pub items: Vec<(String, Item)>,
    pub scroll: usize,
    /// What the armed run waits with (tests shorten it; the journal goes to the state dir).
    pub options: Options,
}

fn inputs(fqdn: &str, conn: &Conn) -> Result<Inputs, String> {
    let path = conn.fleet_file.clone().unwrap_or_default();
    match decommission::inputs_from_fleet(&path, fqdn, None, None) {
        Ok(i) => Ok(i),
        Err(_) if conn.catalyst_api.is_some() => {
            decommission::inputs_from_fleet(&path, fqdn, conn.catalyst_api.clone(), None)
        }
        Err(e) => Err(e),
    }
}

/// The token by the one rule (the cockpit's, else [`super::recover::resolve_credentials`]).
fn hetzner_client(fqdn: &str, conn: &Conn) -> Result<HetznerClient, String> {
    let creds =
        super::recover::resolve_credentials(fqdn, conn.hetzner.clone(), conn.fleet_file.clone())?;
    HetznerClient::new(creds, ClientOptions::default()).map_err(|e| e.to_string())
}

impl DecommissionScreen {
    pub fn new(fqdn: &str, journal_dir: PathBuf) -> Self {
        DecommissionScreen {
            fqdn: fqdn.to_string(),
            phase: Phase::Planning,
            plan: None,
            gate: Gate::new(fqdn, "the wipe"),
            status: None,
            progress: Vec::new(),
            items: ["hetzner", "pdm", "dns"]
                .iter()
                .map(|i| (i.to_string(), Item::Waiting))
                .collect(),
            scroll: 0,
            options: Options::new(journal_dir),
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running)
    }

    /// Start the dry run on a thread of its own. Without a sender or runtime (snapshot tests)
    /// it just waits.
    pub fn start_plan(&mut self, tx: Option<&mpsc::Sender<Msg>>, conn: &Conn) -> bool {
        self.phase = Phase::Planning;
        let (Some(tx), Ok(handle)) = (tx.cloned(), tokio::runtime::Handle::try_current()) else {
            return false;
        };
        let fqdn = self.fqdn.clone();
        let conn = conn.clone();
        let dns_deadline = self.options.dns_deadline;
        handle.spawn(async move {
            let f = fqdn.clone();
            let result = on_own_thread("decommission-plan", move || async move {
                let inputs = inputs(&f, &conn)?;
                let hetzner = hetzner_client(&f, &conn)?;
                let api = CatalystClient::new(&inputs.catalyst_api)
                    .map_err(|e| format!("catalyst-api: {e}"))?;
                decommission::plan(&api, &hetzner, &inputs, None, dns_deadline)
                    .await
                    .map(Box::new)
                    .map_err(|e| e.to_string())
            })
            .await;
            let _ = tx
                .send(Msg::Decommission(DecommissionMsg::Planned { fqdn, result }))
                .await;
        });
        true
    }

    /// Why the wipe cannot start now; `None` when it can.
    pub fn blocked_reason(&self, armed: bool) -> Option<String> {
        match &self.phase {
            Phase::Planned => {}
            Phase::Planning => return Some("the plan is still being fetched".into()),
            Phase::PlanFailed(_) => return Some("no plan (the dry run failed)".into()),
            Phase::Running => return Some("the wipe is running".into()),
            Phase::Done(_) | Phase::Failed(_) => return Some("the wipe has run".into()),
        }
        crate::tui::arming::not_confirmed(armed, &self.gate.typed(), &self.fqdn)
    }

    /// Keys the pane takes: FQDN characters and editing keys into the confirm field, Enter to
    /// wipe, arrows to scroll. Everything else (`:`, Esc, `?`) goes to the shell.
    pub fn on_key(
        &mut self,
        key: KeyEvent,
        armed: bool,
        tx: Option<&mpsc::Sender<Msg>>,
        conn: &Conn,
    ) -> bool {
        let code = match self.gate.key(key, true) {
            PaneKey::Shell => return false,
            PaneKey::Taken => return true,
            PaneKey::Pane(code) => code,
        };
        match code {
            KeyCode::Up => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::Down => self.scroll = self.scroll.saturating_add(1),
            KeyCode::Enter => {
                if self.gate.enter(self.blocked_reason(armed)) {
                    self.start_wipe(tx, conn);
                }
            }
            _ => return false,
        }
        true
    }

    fn start_wipe(&mut self, tx: Option<&mpsc::Sender<Msg>>, conn: &Conn) {
        let (Some(tx), Ok(handle)) = (tx.cloned(), tokio::runtime::Handle::try_current()) else {
            self.gate.refused = Some("no task runtime to run the wipe in".into());
            return;
        };
        // The plan the operator read and confirmed is the one executed, by deployment id.
        let Some(plan) = self.plan.clone() else {
            self.gate.refused = Some("no plan to execute".into());
            return;
        };
        tracing::warn!(fqdn = %self.fqdn, deployment = %plan.deployment.id, "decommission confirmed");
        self.phase = Phase::Running;
        let fqdn = self.fqdn.clone();
        let conn = conn.clone();
        let opts = self.options.clone();
        handle.spawn(async move {
            let (progress, forward) = {
                let fqdn = fqdn.clone();
                progress("decommission", EVENT_BUFFER, tx.clone(), move |event| {
                    Msg::Decommission(DecommissionMsg::Event {
                        fqdn: fqdn.clone(),
                        event,
                    })
                })
            };
            let f = fqdn.clone();
            let result = on_own_thread("decommission", move || async move {
                let hetzner = hetzner_client(&f, &conn)?;
                let api = CatalystClient::new(&plan.deployment.catalyst_api)
                    .map_err(|e| format!("catalyst-api: {e}"))?;
                let emit = move |e: Event| progress.emit(e);
                decommission::apply(&api, &hetzner, &plan, None, &opts, &emit)
                    .await
                    .map(Box::new)
                    .map_err(|e| e.to_string())
            })
            .await;
            let _ = forward.await;
            let _ = tx
                .send(Msg::Decommission(DecommissionMsg::Finished {
                    fqdn,
                    result,
                }))
                .await;
        });
    }

    /// Apply a task's reply (replies about another Sovereign are stale and ignored).
    pub fn on_msg(&mut self, msg: DecommissionMsg) {
        match msg {
            DecommissionMsg::Planned { fqdn, result } if fqdn == self.fqdn => match result {
                Ok(plan) => {
                    self.status = Some(plan.deployment.status.clone());
                    self.plan = Some(*plan);
                    self.phase = Phase::Planned;
                }
                Err(e) => self.phase = Phase::PlanFailed(e),
            },
            DecommissionMsg::Event { fqdn, event } if fqdn == self.fqdn => self.on_event(event),
            DecommissionMsg::Finished { fqdn, result } if fqdn == self.fqdn => match result {
                Ok(report) => {
                    for c in &report.verification.checks {
                        self.set_item(&c.item, Item::Done(c.clone()));
                    }
                    self.status = Some(report.status.clone());
                    self.phase = Phase::Done(report);
                }
                Err(e) => self.phase = Phase::Failed(e),
            },
            _ => {}
        }
    }

    fn set_item(&mut self, item: &str, state: Item) {
        if let Some(slot) = self.items.iter_mut().find(|(i, _)| i == item) {
            slot.1 = state;
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Wiping { deployment_id } => self
                .progress
                .push(format!("wipe of deployment {deployment_id} requested")),
            Event::WipeAccepted { status } => self.progress.push(format!("catalyst-api: {status}")),
            Event::AlreadyWiped => self
                .progress
                .push("the record is already wiped: verifying only".into()),
            Event::Progress {
                time,
                level,
                message,
            } => self.progress.push(format!("{time} {level:<5} {message}")),
            Event::Status { status } => self.status = Some(status),
            Event::Verifying { item } => self.set_item(&item, Item::Checking),
            Event::Checked { check } => {
                let item = check.item.clone();
                self.set_item(&item, Item::Done(check));
            }
        }
        if self.progress.len() > PROGRESS_LINES {
            let cut = self.progress.len() - PROGRESS_LINES;
            self.progress.drain(..cut);
        }
    }
}

fn title_of(item: &str) -> &'static str {
    match item {
        "hetzner" => "Hetzner objects",
        "pdm" => "PDM name",
        _ => "DNS",
    }
}

fn state_slot(s: CheckState) -> Slot {
    match s {
        CheckState::Gone => Slot::StateInstalled,
        CheckState::Left => Slot::StateFailed,
        CheckState::Unknown => Slot::StateDegraded,
    }
}

fn plan_lines<'a>(p: &DecommissionPlan, status: &str, theme: &Theme) -> Vec<Line<'a>> {
    let muted = theme.style(Slot::Muted);
    let mut out = vec![
        Line::from(format!(
            "deployment {} at {} — status {status}",
            p.deployment.id, p.deployment.catalyst_api
        )),
        Line::from(Span::styled(p.project.line(), muted)),
        Line::from(format!(
            "Hetzner: {} object(s) of it, which the wipe removes{}",
            p.hetzner.len(),
            match (p.ambiguous.len(), p.vetoed.len()) {
                (0, 0) => String::new(),
                (a, v) => format!(" · {a} ambiguous · {v} labelled for another Sovereign"),
            }
        )),
    ];
    for t in &p.hetzner {
        let why: Vec<String> = t.reasons.iter().map(MatchReason::describe).collect();
        out.push(Line::from(vec![
            Span::raw(format!(
                "  {:<14} {:<36} #{:<8} ",
                t.object.kind.api_path(),
                t.object.name,
                t.object.id
            )),
            Span::styled(format!("by {}", why.join(" + ")), muted),
        ]));
    }
    for a in &p.ambiguous {
        out.push(Line::from(Span::styled(
            format!(
                "  ambiguous {} {} #{}: counted as left until labelled — {}",
                a.object.kind.api_path(),
                a.object.name,
                a.object.id,
                a.resolve
            ),
            theme.style(Slot::NoticeWarn),
        )));
    }
    for v in &p.vetoed {
        out.push(Line::from(Span::styled(
            format!(
                "  not ours: {} {} #{} is labelled for {} (left alone)",
                v.object.kind.api_path(),
                v.object.name,
                v.object.id,
                v.owner
            ),
            muted,
        )));
    }
    out.push(Line::from(format!("PDM: {}", p.pdm.seen)));
    out.push(Line::from(format!("DNS: {}", p.dns.line())));
    out
}

fn item_lines<'a>(items: &[(String, Item)], theme: &Theme) -> Vec<Line<'a>> {
    let mut out = vec![Line::from(Span::styled(
        "Verification (§2.1):",
        theme.style(Slot::Header),
    ))];
    for (item, state) in items {
        match state {
            Item::Waiting => out.push(Line::from(Span::styled(
                format!(" · waiting   {}", title_of(item)),
                theme.style(Slot::StatePending),
            ))),
            Item::Checking => out.push(Line::from(Span::styled(
                format!(" ◌ checking… {}", title_of(item)),
                theme.style(Slot::StateInstalling),
            ))),
            Item::Done(c) => {
                out.push(Line::from(vec![
                    Span::styled(
                        format!(" {:<11} ", c.state.mark()),
                        theme.style(state_slot(c.state)),
                    ),
                    Span::raw(format!("{}: {}", c.title, c.summary)),
                ]));
                for l in &c.leftovers {
                    out.push(Line::from(Span::styled(
                        format!("     left: {l}"),
                        theme.style(Slot::StateFailed),
                    )));
                }
                for n in &c.notes {
                    out.push(Line::from(Span::styled(
                        format!("     {n}"),
                        theme.style(Slot::Muted),
                    )));
                }
            }
        }
    }
    out
}

/// Draw the pane into `area`.
pub fn draw(frame: &mut Frame, area: Rect, s: &DecommissionScreen, armed: bool, theme: &Theme) {
    let title = format!(" Decommission (§1.7/§2.1) · {} ", s.fqdn);
    let inner = pane_frame(frame, area, title, theme);
    let [head, body, confirm, button] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(3),
        Constraint::Length(1),
    ])
    .areas(inner);

    let (text, slot) = match &s.phase {
        Phase::Planning => (
            "dry run: reading the record, Hetzner, PDM and DNS…".to_string(),
            Slot::Muted,
        ),
        Phase::PlanFailed(e) => (format!("✗ dry run failed: {e}"), Slot::NoticeError),
        Phase::Planned => (
            "dry run: this is what the wipe takes (nothing is touched until you confirm)".into(),
            Slot::Header,
        ),
        Phase::Running => (
            format!(
                "wiping: the record is {} — then the verification runs",
                s.status.as_deref().unwrap_or("being asked")
            ),
            Slot::NoticeWarn,
        ),
        Phase::Done(r) if r.verified() => (
            "✓ VERIFIED: nothing of it is left in Hetzner, PDM or DNS".to_string(),
            Slot::StateInstalled,
        ),
        Phase::Done(r) => (
            format!(
                "✗ NOT VERIFIED: {} leftover(s) — {}",
                r.leftovers.len(),
                r.leftovers.first().cloned().unwrap_or_default()
            ),
            Slot::NoticeError,
        ),
        Phase::Failed(e) => (format!("✗ decommission failed: {e}"), Slot::NoticeError),
    };
    frame.render_widget(Paragraph::new(Span::styled(text, theme.style(slot))), head);

    // Once the wipe runs, the verification comes first: it is what the operator waits for.
    let mut lines: Vec<Line> = Vec::new();
    if matches!(s.phase, Phase::Running | Phase::Done(_)) {
        lines.extend(item_lines(&s.items, theme));
    }
    if !s.progress.is_empty() {
        lines.push(Line::from(Span::styled(
            "catalyst-api wipe:",
            theme.style(Slot::Header),
        )));
        // The newest lines: the wipe's log can be longer than the pane.
        let keep = (body.height as usize / 3).max(3);
        let skip = s.progress.len().saturating_sub(keep);
        lines.extend(
            s.progress[skip..]
                .iter()
                .map(|l| Line::from(Span::styled(format!("  {l}"), theme.style(Slot::Muted)))),
        );
    }
    if let Some(p) = &s.plan {
        if !lines.is_empty() {
            lines.push(Line::from(Span::styled(
                "The plan that was executed:",
                theme.style(Slot::Header),
            )));
        }
        let status = s.status.as_deref().unwrap_or(&p.deployment.status);
        lines.extend(plan_lines(p, status, theme));
    }
    // Long lines wrap (an object's name and reasons, a leftover): never cut a word off a verdict.
    let max_scroll = lines.len().saturating_sub(1);
    let lines: Vec<Line> = lines.into_iter().skip(s.scroll.min(max_scroll)).collect();
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);

    s.gate.draw(frame, confirm, theme);
    let line = s.gate.button(
        s.blocked_reason(armed),
        "wipe and verify".into(),
        "wipe",
        "ready — catalyst-api destroys the Sovereign",
        "",
        theme,
    );
    frame.render_widget(Paragraph::new(line), button);
}
