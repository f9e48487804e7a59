//! The troubleshooting walk view (`:troubleshoot` on the selected Sovereign): the runbook §7
//! decision tree one question at a time, the evidence-suggested answer marked with the line that
//! decided it, breadcrumbs, back, restart, jump to a leaf, and the leaf with its recovery
//! commands (FQDN filled in) copyable through OSC 52.
//!
//! All walking is the library's [`Walk`]; this file only holds the cursor and draws. Evidence
//! comes from two places: the fleet watch (in the reducer, whenever fresh fleet data for the
//! Sovereign arrives) and a background gather ([`spawn_gather`]: catalyst-api, the cluster via
//! kube-rs) started when the view opens, on `g`, and every [`REFRESH_EVERY`] while open; its
//! result comes back as a [`GatherMsg`]. A source that fails keeps its last good evidence.
//! Leaf actions (`recover`, `reconcile`, `wizard:credentials`, `playbook:…`) open their views
//! through [`Reply::Open`]; actions without a view say so.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::provision::fleet::model::SovereignStatus;
use crate::provision::troubleshoot::gather::fleet::add_sovereign_status;
use crate::provision::troubleshoot::gather::{Gathered, SourceResult, Sources};
use crate::provision::troubleshoot::walk::{AnsweredBy, Position};
use crate::provision::troubleshoot::{Evidence, Placeholders, Tree, Walk};

use super::keymap::Action;
use super::msg::Msg;
use super::playbook::Playbook;
use super::theme::{Slot, Theme};

/// What a key press in the view asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Stay,
    /// Leave the view (Esc at the first question).
    Close,
    /// Put this text on the clipboard (the runtime writes the OSC 52 sequence).
    Copy(String),
    /// Something to tell the operator.
    Say(String),
    /// Gather the evidence again now.
    Gather,
    /// Open the view of a leaf's related action.
    Open(Related),
}

/// A leaf's related action, resolved for the Sovereign in view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Related {
    /// The §2.2 recovery pane for this Sovereign.
    Recover { fqdn: String },
    /// The armed reconcile (or C11's values change + reconcile) of the HelmRelease the deciding
    /// evidence names (`None`: it names none).
    Reconcile {
        fqdn: String,
        object: Option<(String, String)>,
        action: crate::provision::fleet::FluxAction,
    },
    /// The wizard at its Credentials step.
    WizardCredentials,
    /// No view does this; `why` says what to do instead.
    NoView { action: String, why: String },
}

/// How often an open walk gathers again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// Resolve a tree action name (`recover`, `reconcile`, `wizard:credentials`, `redeploy:…`, …).
/// `playbook:…` is handled by the view itself and never reaches here.
pub fn related(action: &str, fqdn: &str, object: Option<(String, String)>) -> Related {
    match action {
        "recover" => Related::Recover {
            fqdn: fqdn.to_string(),
        },
        "reconcile" => Related::Reconcile {
            fqdn: fqdn.to_string(),
            object,
            action: crate::provision::fleet::FluxAction::Reconcile,
        },
        "reconcile:observability-off" => Related::Reconcile {
            fqdn: fqdn.to_string(),
            object,
            action: crate::provision::fleet::FluxAction::DisableObservability,
        },
        "wizard:credentials" => Related::WizardCredentials,
        "refresh-watch" => Related::NoView {
            action: action.into(),
            why: "no view re-attaches the Phase-1 watcher: y copies the curl command".into(),
        },
        a => match a.split_once(':') {
            Some(("redeploy", what)) => Related::NoView {
                action: a.into(),
                why: format!(
                    "sovtui does not deploy {what}: follow the recovery steps (y copies the commands)"
                ),
            },
            _ => Related::NoView {
                action: a.into(),
                why: "this build has no view for it: follow the recovery steps".into(),
            },
        },
    }
}

/// What a background gather reports back to the reducer.
#[derive(Debug, Clone)]
pub struct GatherMsg {
    pub fqdn: String,
    /// The [`GatherStatus::in_flight`] number it answers.
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// What limited the gather before it started (no fleet-file entry, nothing to gather from).
    pub setup: Vec<String>,
    pub deployment: Option<String>,
    pub api: Option<String>,
    pub results: Vec<Gathered>,
}

/// One source group's last good evidence and latest failure.
#[derive(Debug, Clone, Default)]
pub struct GroupState {
    pub good: Option<(Evidence, DateTime<Utc>)>,
    pub error: Option<String>,
}

/// The background gathering of an open walk.
#[derive(Debug, Clone, Default)]
pub struct GatherStatus {
    /// Number of the gather running now.
    pub in_flight: Option<u64>,
    seq: u64,
    /// When the last gather came back.
    pub finished: Option<DateTime<Utc>>,
    finished_instant: Option<Instant>,
    pub groups: BTreeMap<String, GroupState>,
    /// Why the last gather was limited or could not run.
    pub problem: Option<String>,
}

/// What a gather needs to know, taken from the app when it starts.
#[derive(Debug, Clone)]
pub struct GatherRequest {
    pub fqdn: String,
    pub seq: u64,
    /// The operator's fleet file (its entry names kubeconfig, context, catalyst-api, deployment).
    pub fleet_file: Option<PathBuf>,
    /// The live fleet hub knows which fleet file it watches (the demo's, `--config`).
    pub live: Option<crate::provision::fleet::FleetHandle>,
    /// catalyst-api root when the fleet entry names none.
    pub catalyst_api: Option<String>,
}

/// Gather in the background and send the result to the reducer; never blocks the caller.
pub fn spawn_gather(
    req: GatherRequest,
    tx: Option<&tokio::sync::mpsc::Sender<Msg>>,
) -> Result<(), String> {
    let tx = tx.ok_or("no channel back to the cockpit")?.clone();
    let rt = tokio::runtime::Handle::try_current().map_err(|_| "no async runtime")?;
    rt.spawn(async move {
        let msg = gather(req).await;
        let _ = tx.send(Msg::Troubleshoot(msg)).await;
    });
    Ok(())
}

async fn gather(req: GatherRequest) -> GatherMsg {
    let mut setup = Vec::new();
    let mut src = Sources {
        fqdn: req.fqdn.clone(),
        catalyst_namespace: "catalyst".into(),
        ..Default::default()
    };
    let watched = match &req.live {
        Some(h) => h.snapshot().await.ok().and_then(|s| s.path),
        None => None,
    };
    match watched.or(req.fleet_file).filter(|p| p.exists()) {
        Some(path) => {
            // A small file; read off the async workers anyway.
            let mut filling = src.clone();
            let filled = tokio::task::spawn_blocking(move || {
                let r = filling.fill_from_fleet(&path);
                (filling, r)
            })
            .await;
            match filled {
                Ok((filled, r)) => {
                    src = filled;
                    if let Err(e) = r {
                        setup.push(e);
                    }
                }
                Err(e) => setup.push(format!("reading the fleet file: {e}")),
            }
        }
        None => setup.push("no fleet file: the cluster is not gathered".into()),
    }
    if src.api.is_none() {
        src.api = req.catalyst_api;
    }
    if src.groups().is_empty() {
        setup.push(format!(
            "nothing to gather from for {}: no kubeconfig and no catalyst-api",
            req.fqdn
        ));
    }
    let results = src.gather_each().await;
    GatherMsg {
        fqdn: req.fqdn,
        seq: req.seq,
        at: Utc::now(),
        setup,
        deployment: src.deployment,
        api: src.api,
        results,
    }
}

/// Add to `base` the sources of `other` that `base` has not gathered, and `other`'s errors.
fn fill_missing(base: &mut Evidence, other: &Evidence) {
    let have = base.gathered.clone();
    for src in other.gathered.iter().filter(|s| !have.contains(*s)) {
        base.mark(src);
    }
    for l in other.lines.iter().filter(|l| !have.contains(&l.source)) {
        base.push(&l.source, l.text.clone(), l.origin.clone());
    }
    base.errors.extend(other.errors.iter().cloned());
}

pub struct TroubleshootView {
    pub fqdn: String,
    walk: Walk,
    ph: Placeholders,
    /// Cursor over the answers of the current question.
    pub selected: usize,
    /// `Some` while the operator types a leaf id after `j`.
    pub jump_input: Option<String>,
    /// What the fleet watch shows of the Sovereign, and whether that watch is live now.
    fleet_evidence: Evidence,
    fleet_live: bool,
    pub gather: GatherStatus,
    /// A playbook opened from the leaf (Esc returns to the leaf).
    pub playbook: Option<Playbook>,
}

/// The evidence the cockpit already has for a Sovereign (its Flux objects from the fleet watch).
pub fn evidence_from_fleet(status: Option<&SovereignStatus>) -> Evidence {
    let mut ev = Evidence::new();
    if let Some(s) = status {
        add_sovereign_status(&mut ev, s);
    }
    ev
}

/// The OSC 52 sequence that sets the terminal's clipboard (tmux passes it on with
/// `set-clipboard on`).
pub fn osc52(text: &str) -> String {
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

impl TroubleshootView {
    pub fn open(tree: Arc<Tree>, fqdn: &str, evidence: Evidence) -> TroubleshootView {
        let mut walk = Walk::new(tree, evidence);
        // Start → Q1 has no question; take it so the first screen asks something.
        let _ = walk.accept();
        let fleet_evidence = walk.evidence().clone();
        let mut v = TroubleshootView {
            fqdn: fqdn.to_string(),
            walk,
            ph: Placeholders::for_fqdn(fqdn),
            selected: 0,
            jump_input: None,
            fleet_evidence,
            fleet_live: false,
            gather: GatherStatus::default(),
            playbook: None,
        };
        v.select_suggestion();
        v
    }

    /// Fresh fleet data for the Sovereign (or its absence): merged with what was gathered.
    pub fn set_fleet_status(&mut self, status: Option<&SovereignStatus>) {
        self.fleet_evidence = evidence_from_fleet(status);
        self.fleet_live = status.is_some_and(|s| s.connection.is_live());
        self.recombine();
    }

    /// Mark a gather as started and return its number (the [`GatherRequest::seq`]).
    pub fn begin_gather(&mut self) -> u64 {
        self.gather.seq += 1;
        self.gather.in_flight = Some(self.gather.seq);
        self.gather.problem = None;
        self.gather.seq
    }

    /// A gather could not start at all.
    pub fn gather_failed(&mut self, why: String) {
        self.gather.in_flight = None;
        self.gather.problem = Some(why);
        self.gather.finished_instant = Some(Instant::now());
    }

    /// Whether the periodic refresh is due.
    pub fn refresh_due(&self, every: Duration) -> bool {
        self.gather.in_flight.is_none()
            && self
                .gather
                .finished_instant
                .is_some_and(|t| t.elapsed() >= every)
    }

    /// Take a gather's result; false when it answers an older gather or another Sovereign.
    pub fn on_gathered(&mut self, msg: GatherMsg) -> bool {
        if msg.fqdn != self.fqdn || self.gather.in_flight != Some(msg.seq) {
            return false;
        }
        self.gather.in_flight = None;
        self.gather.finished = Some(msg.at);
        self.gather.finished_instant = Some(Instant::now());
        self.gather.problem = (!msg.setup.is_empty()).then(|| msg.setup.join("; "));
        if msg.deployment.is_some() {
            self.ph.deployment = msg.deployment;
        }
        if msg.api.is_some() {
            self.ph.api = msg.api;
        }
        for g in msg.results {
            let state = self.gather.groups.entry(g.group.to_string()).or_default();
            match g.result {
                SourceResult::Gathered(ev) => {
                    state.good = Some((ev, msg.at));
                    state.error = None;
                }
                // The last good evidence stays; the failure is shown next to it.
                failed => state.error = failed.failure(),
            }
        }
        self.recombine();
        true
    }

    /// The walk's evidence: the live fleet watch wins for the sources it covers, the gathered
    /// evidence fills the rest; while the watch is down the gathered evidence wins.
    fn recombine(&mut self) {
        let mut gathered = Evidence::new();
        for (ev, _) in self.gather.groups.values().filter_map(|g| g.good.as_ref()) {
            gathered.merge(ev.clone());
        }
        let ev = if self.fleet_live {
            let mut ev = self.fleet_evidence.clone();
            fill_missing(&mut ev, &gathered);
            ev
        } else {
            fill_missing(&mut gathered, &self.fleet_evidence);
            gathered
        };
        self.walk.set_evidence(ev);
        if matches!(self.walk.position(), Position::Question { .. }) && self.jump_input.is_none() {
            let len = self.answers_len();
            self.selected = self.selected.min(len.saturating_sub(1));
        }
    }

    /// Where the evidence comes from: a summary line, then one line per failing source.
    pub fn gather_lines(&self) -> Vec<String> {
        let g = &self.gather;
        let hhmmss = |t: &DateTime<Utc>| t.format("%H:%M:%S UTC").to_string();
        let good: Vec<&str> = g
            .groups
            .iter()
            .filter(|(_, s)| s.good.is_some())
            .map(|(n, _)| n.as_str())
            .collect();
        let known: Vec<&str> = g.groups.keys().map(String::as_str).collect();
        let mut line = match (&g.in_flight, &g.finished) {
            (Some(_), None) => "gathering evidence… (sources from the fleet file)".to_string(),
            (Some(_), Some(t)) => {
                format!("gathering… {} (last at {})", known.join(", "), hhmmss(t))
            }
            (None, Some(t)) if good.is_empty() => {
                format!("gathered at {}: nothing gathered", hhmmss(t))
            }
            (None, Some(t)) => format!("gathered at {} from: {}", hhmmss(t), good.join(", ")),
            (None, None) => "evidence: fleet watch only".to_string(),
        };
        if self.fleet_live && (g.in_flight.is_some() || g.finished.is_some()) {
            line.push_str(" + fleet watch");
        }
        let mut lines = vec![line];
        for (name, s) in &g.groups {
            if let Some(e) = &s.error {
                let kept = match &s.good {
                    Some((_, at)) => format!(" (keeping evidence from {})", hhmmss(at)),
                    None => String::new(),
                };
                lines.push(format!("! {name}: {e}{kept}"));
            }
        }
        if let Some(p) = &g.problem {
            lines.push(format!("! {p}"));
        }
        lines
    }

    /// [`Self::gather_lines`] as one line (for logs and test messages).
    pub fn gather_line(&self) -> String {
        self.gather_lines().join(" · ")
    }

    /// The related actions of the leaf in view, with whether each opens a view.
    fn leaf_actions(&self) -> Vec<String> {
        self.walk
            .leaf()
            .map(|l| l.actions.clone())
            .unwrap_or_default()
    }

    fn open_related(&mut self, index: usize) -> Reply {
        let actions = self.leaf_actions();
        let Some(action) = actions.get(index) else {
            return Reply::Stay;
        };
        let ph = self.walk.placeholders(&self.ph);
        if let Some(section) = action.strip_prefix("playbook:") {
            return match self.walk.leaf_view(&self.ph) {
                Some(v) => {
                    self.playbook = Some(Playbook::new(section, v));
                    Reply::Stay
                }
                None => Reply::Stay,
            };
        }
        match related(action, &self.fqdn, ph.object) {
            Related::NoView { action, why } => Reply::Say(format!("{action}: {why}")),
            r => Reply::Open(r),
        }
    }

    pub fn walk(&self) -> &Walk {
        &self.walk
    }

    fn select_suggestion(&mut self) {
        self.selected = match self.walk.position() {
            Position::Question {
                suggestion: Some(s),
                ..
            } => s.answer,
            _ => 0,
        };
    }

    fn answers_len(&self) -> usize {
        match self.walk.position() {
            Position::Question { node, .. } => node.answers.len(),
            Position::Leaf(_) => 0,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent, action: Option<Action>) -> Reply {
        if let Some(p) = self.playbook.as_mut() {
            return match p.on_key(key, action) {
                Reply::Close => {
                    self.playbook = None;
                    Reply::Stay
                }
                other => other,
            };
        }
        if let Some(mut input) = self.jump_input.take() {
            match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter => {
                    let id = input.trim().to_string();
                    return match self.walk.jump(&id) {
                        Ok(()) => Reply::Stay,
                        Err(e) => Reply::Say(e.to_string()),
                    };
                }
                KeyCode::Backspace => {
                    input.pop();
                    self.jump_input = Some(input);
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    input.push(c);
                    self.jump_input = Some(input);
                }
                _ => self.jump_input = Some(input),
            }
            return Reply::Stay;
        }
        match key.code {
            KeyCode::Char('r') => {
                self.walk.restart();
                let _ = self.walk.accept();
                self.select_suggestion();
                return Reply::Stay;
            }
            KeyCode::Char('j') => {
                self.jump_input = Some(String::new());
                return Reply::Stay;
            }
            KeyCode::Char('g') => return Reply::Gather,
            KeyCode::Char('o') if self.walk.leaf().is_some() => {
                return if self.leaf_actions().is_empty() {
                    Reply::Say("this leaf has no related action".into())
                } else {
                    self.open_related(0)
                };
            }
            KeyCode::Char('a') => {
                // Follow the evidence as far as it decides.
                self.walk.advance();
                self.select_suggestion();
                return Reply::Stay;
            }
            KeyCode::Char('y') => {
                return match self.walk.leaf_view(&self.ph) {
                    Some(v) if !v.commands().is_empty() => Reply::Copy(v.commands().join("\n")),
                    Some(_) => Reply::Say("this leaf has no commands to copy".into()),
                    None => Reply::Say("copy works on a leaf: answer the questions first".into()),
                };
            }
            KeyCode::Char(c @ '1'..='9') => {
                let i = c as usize - '1' as usize;
                if self.walk.leaf().is_some() {
                    return self.open_related(i);
                }
                if i < self.answers_len() {
                    self.selected = i;
                    return self.choose();
                }
                return Reply::Stay;
            }
            _ => {}
        }
        match action {
            Some(Action::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Action::Down) => {
                self.selected = (self.selected + 1).min(self.answers_len().saturating_sub(1))
            }
            Some(Action::Select) => return self.choose(),
            Some(Action::Back | Action::Quit) => {
                // Back to the previous question; at the first one, leave the view.
                let at_first = self
                    .walk
                    .breadcrumbs()
                    .iter()
                    .all(|c| matches!(c.by, AnsweredBy::Always));
                if at_first {
                    return Reply::Close;
                }
                self.walk.back();
                self.select_suggestion();
            }
            _ => {}
        }
        Reply::Stay
    }

    /// Answer the current question with the selected answer: taking the evidence's suggestion
    /// records the evidence; any other answer is the operator's override.
    fn choose(&mut self) -> Reply {
        let suggested = match self.walk.position() {
            Position::Question { suggestion, .. } => suggestion.map(|s| s.answer),
            Position::Leaf(_) => return Reply::Stay,
        };
        let r = if suggested == Some(self.selected) {
            self.walk.accept()
        } else {
            self.walk.answer(self.selected)
        };
        if let Err(e) = r {
            return Reply::Say(e.to_string());
        }
        self.select_suggestion();
        Reply::Stay
    }

    pub fn hints(&self) -> &'static str {
        if let Some(p) = &self.playbook {
            p.hints()
        } else if self.jump_input.is_some() {
            "type a leaf id (C1…C18, M1…M4, HC, DONE) · enter jump · esc cancel"
        } else if self.walk.leaf().is_some() {
            "y copy commands · 1-9/o related action · g gather · esc back · r restart · j jump"
        } else {
            "↑↓ choose · enter answer · a follow evidence · g gather · esc back · r restart · j jump"
        }
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.style(Slot::BorderFocused))
            .title(Span::styled(
                format!(
                    " Troubleshoot · {} · tree {} ",
                    self.fqdn,
                    self.walk.tree().version
                ),
                theme.style(Slot::Title),
            ));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let status_lines = self.gather_lines();
        let [crumbs, status, body, footer] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(status_lines.len().min(3) as u16),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(inner);
        let status_lines: Vec<Line> = status_lines
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                let slot = if i == 0 {
                    Slot::Muted
                } else {
                    Slot::NoticeWarn
                };
                Line::from(Span::styled(text, theme.style(slot)))
            })
            .collect();
        frame.render_widget(Paragraph::new(status_lines), status);

        let mut trail = vec![Span::styled("path: ", theme.style(Slot::Muted))];
        for c in self
            .walk
            .breadcrumbs()
            .iter()
            .filter(|c| !matches!(c.by, AnsweredBy::Always))
        {
            let mark = match &c.by {
                AnsweredBy::Evidence { .. } => "⚑",
                _ => "✎",
            };
            trail.push(Span::raw(format!("{} {}={} › ", c.node, c.answer, mark)));
        }
        trail.push(Span::styled(
            self.walk.at().to_string(),
            theme.style(Slot::Header),
        ));
        frame.render_widget(
            Paragraph::new(Line::from(trail)).wrap(Wrap { trim: true }),
            crumbs,
        );

        if let Some(p) = &self.playbook {
            p.draw(frame, body, theme);
            frame.render_widget(
                Paragraph::new(Line::from(Span::styled(
                    p.hints(),
                    theme.style(Slot::HintText),
                ))),
                footer,
            );
            return;
        }
        let lines = match self.walk.position() {
            Position::Question {
                node,
                suggestion,
                missing,
            } => {
                let mut l = vec![
                    Line::from(Span::styled(
                        format!("{}  {}", node.id, node.question),
                        theme.style(Slot::Header),
                    )),
                    Line::from(""),
                ];
                for (i, a) in node.answers.iter().enumerate() {
                    let suggested = suggestion.as_ref().is_some_and(|s| s.answer == i);
                    let cursor = if i == self.selected { "›" } else { " " };
                    let mark = if suggested { "⚑ evidence" } else { "" };
                    let extra = if a.extra { " (matrix/day-2)" } else { "" };
                    let style = if i == self.selected {
                        theme.style(Slot::Selected)
                    } else {
                        theme.style(Slot::Base)
                    };
                    l.push(Line::from(vec![
                        Span::styled(format!("{cursor} {}. {}{extra} ", i + 1, a.label), style),
                        Span::styled(mark, theme.style(Slot::StateInstalled)),
                        Span::styled(format!("  → {}", a.next), theme.style(Slot::Muted)),
                    ]));
                }
                l.push(Line::from(""));
                match &suggestion {
                    Some(s) => {
                        for c in s.evidence.iter().take(3) {
                            l.push(Line::from(vec![
                                Span::styled(
                                    format!("⚑ {}: ", c.source),
                                    theme.style(Slot::StateInstalled),
                                ),
                                Span::raw(c.text.clone()),
                            ]));
                        }
                    }
                    None if missing.is_empty() => l.push(Line::from(Span::styled(
                        "? the evidence does not decide this question: answer it",
                        theme.style(Slot::NoticeWarn),
                    ))),
                    None => l.push(Line::from(Span::styled(
                        format!(
                            "? not gathered: {} — answer it yourself",
                            missing.join(", ")
                        ),
                        theme.style(Slot::NoticeWarn),
                    ))),
                }
                if suggestion.is_none() {
                    // What was seen that no rule knows: the operator's material for answering.
                    let ev = self.walk.evidence();
                    let mut sources: Vec<&str> = node
                        .answers
                        .iter()
                        .flat_map(|a| a.when.iter().map(|r| r.source.as_str()))
                        .collect();
                    sources.dedup();
                    let mut seen = std::collections::BTreeSet::new();
                    let problems = sources
                        .into_iter()
                        .filter(|src| seen.insert(*src))
                        .flat_map(|src| ev.lines_of(src))
                        .filter(|line| !line.text.contains("Ready=True"))
                        .take(3);
                    for line in problems {
                        l.push(Line::from(vec![
                            Span::styled(
                                format!("seen {}: ", line.source),
                                theme.style(Slot::Muted),
                            ),
                            Span::raw(line.text.clone()),
                        ]));
                    }
                    for e in ev.errors.iter().take(2) {
                        l.push(Line::from(Span::styled(
                            format!("! {e}"),
                            theme.style(Slot::NoticeError),
                        )));
                    }
                }
                if let Some(h) = &node.help {
                    l.push(Line::from(""));
                    l.push(Line::from(Span::styled(
                        h.clone(),
                        theme.style(Slot::Muted),
                    )));
                }
                l
            }
            Position::Leaf(_) => match self.walk.leaf_view(&self.ph) {
                Some(v) => {
                    let mut l = vec![
                        Line::from(Span::styled(
                            format!("{}  {}  (runbook §{})", v.id, v.title, v.runbook),
                            theme.style(Slot::Header),
                        )),
                        Line::from(""),
                        Line::from(vec![
                            Span::styled("Symptom: ", theme.style(Slot::Header)),
                            Span::raw(v.symptom.clone()),
                        ]),
                        Line::from(vec![
                            Span::styled("Cause:   ", theme.style(Slot::Header)),
                            Span::raw(v.cause.clone()),
                        ]),
                        Line::from(""),
                        Line::from(Span::styled("Recovery:", theme.style(Slot::Header))),
                    ];
                    for (i, s) in v.recovery.iter().enumerate() {
                        l.push(Line::from(format!("{}. {}", i + 1, s.text)));
                        if let Some(cmd) = &s.cmd {
                            l.push(Line::from(Span::styled(
                                format!("   $ {cmd}"),
                                theme.style(Slot::Input),
                            )));
                        }
                    }
                    if !v.actions.is_empty() {
                        l.push(Line::from(""));
                        let mut spans = vec![Span::styled("related: ", theme.style(Slot::Header))];
                        for (i, a) in v.actions.iter().enumerate() {
                            let opens = match a.strip_prefix("playbook:") {
                                Some(section) => format!("§{section} playbook"),
                                None => match related(a, &self.fqdn, None) {
                                    Related::Recover { .. } => "recovery pane".into(),
                                    Related::Reconcile { action, .. } => {
                                        format!("armed {}", action.as_str())
                                    }
                                    Related::WizardCredentials => "wizard · Credentials".into(),
                                    Related::NoView { .. } => "no view".into(),
                                },
                            };
                            if i > 0 {
                                spans.push(Span::raw(" · "));
                            }
                            spans.push(Span::styled(
                                format!("{} ", i + 1),
                                theme.style(Slot::HintKey),
                            ));
                            spans.push(Span::raw(format!("{a} → {opens}")));
                        }
                        l.push(Line::from(spans));
                    }
                    l
                }
                None => Vec::new(),
            },
        };
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
        let foot = match &self.jump_input {
            Some(input) => Line::from(vec![
                Span::styled("jump to leaf: ", theme.style(Slot::HintKey)),
                Span::styled(format!("{input}▏"), theme.style(Slot::Input)),
            ]),
            None => Line::from(Span::styled(self.hints(), theme.style(Slot::HintText))),
        };
        frame.render_widget(Paragraph::new(foot), footer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn related_actions_resolve_to_views_or_say_why_not() {
        let obj = Some(("flux-system".to_string(), "bp-cilium".to_string()));
        assert_eq!(
            related("recover", "a.b.c", None),
            Related::Recover {
                fqdn: "a.b.c".into()
            }
        );
        assert_eq!(
            related("reconcile", "a.b.c", obj.clone()),
            Related::Reconcile {
                fqdn: "a.b.c".into(),
                object: obj.clone(),
                action: crate::provision::fleet::FluxAction::Reconcile,
            }
        );
        // C11: the values change and the reconcile in one armed patch.
        assert_eq!(
            related("reconcile:observability-off", "a.b.c", obj.clone()),
            Related::Reconcile {
                fqdn: "a.b.c".into(),
                object: obj,
                action: crate::provision::fleet::FluxAction::DisableObservability,
            }
        );
        assert_eq!(
            related("wizard:credentials", "a.b.c", None),
            Related::WizardCredentials
        );
        for a in ["redeploy:catalyst-api", "refresh-watch", "something-new"] {
            match related(a, "a.b.c", None) {
                Related::NoView { action, why } => {
                    assert_eq!(action, a);
                    assert!(!why.is_empty());
                }
                other => panic!("{a}: {other:?}"),
            }
        }
    }

    #[test]
    fn live_fleet_wins_for_its_sources_and_gathered_fills_the_rest() {
        let tree = Arc::new(Tree::builtin().expect("shipped tree"));
        let mut v = TroubleshootView::open(tree, "a.omani.works", Evidence::new());
        let seq = v.begin_gather();
        let mut cluster = Evidence::new();
        cluster.push("flux.helmrelease", "flux-system/bp-x Ready=False old", None);
        cluster.push("kube.pod", "ns/p Running", None);
        assert!(v.on_gathered(GatherMsg {
            fqdn: "a.omani.works".into(),
            seq,
            at: Utc::now(),
            setup: vec![],
            deployment: None,
            api: None,
            results: vec![Gathered {
                group: "cluster",
                result: SourceResult::Gathered(cluster),
            }],
        }));
        // No live fleet watch: the gathered lines are the evidence.
        assert!(v.walk().evidence().has("kube.pod"));
        assert_eq!(v.walk().evidence().lines_of("flux.helmrelease").count(), 1);
        // A live watch replaces the gathered flux lines with its own, keeps the pods.
        let mut s = SovereignStatus::new("a.omani.works", vec![]);
        s.connection = crate::provision::fleet::model::ConnectionState::Live;
        s.last_live = Some(Utc::now());
        v.set_fleet_status(Some(&s));
        let ev = v.walk().evidence();
        assert!(ev.has("kube.pod"));
        assert!(ev.has("flux.helmrelease"));
        assert_eq!(
            ev.lines_of("flux.helmrelease").count(),
            0,
            "the watch shows none"
        );
    }

    #[test]
    fn osc52_wraps_base64() {
        assert_eq!(osc52("hi"), "\x1b]52;c;aGk=\x07");
    }
}
