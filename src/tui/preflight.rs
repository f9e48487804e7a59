//! The pre-flight pane (`:preflight [FQDN]`, runbook §1.2): checklist A–H for the selected
//! Sovereign, a named Sovereign-to-be, or the wizard's request — each item ✓ / ✗ / ? with a word
//! beside the glyph, its evidence and, unless ✓, the runbook's fix. `r` runs it again.
//!
//! The checks are the library's (`provision::preflight::run`, what `sovtui preflight` runs); they
//! run on a thread of their own and report back as a [`PreflightMsg`], so the screen never waits:
//! while they run every item says `checking…`.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use tokio::sync::mpsc;

use crate::provision::hetzner::client::{Credentials, TokenSource};
use crate::provision::preflight::{self, Report, Verdict};
use crate::provision::safe_text::terminal_safe;
use crate::provision::wizard::DeploymentRequest;

use super::msg::Msg;
use super::theme::{Slot, Theme};

/// A finished run, tagged with the run it answers (older answers are stale and dropped).
#[derive(Debug, Clone)]
pub struct PreflightMsg {
    pub seq: u64,
    pub result: Result<Report, String>,
}

/// What a run needs besides the request: the fleet file (`[mothership]`, known Sovereigns, the
/// credential rule) and the Hetzner API the cockpit was handed (the demo's world), if any.
#[derive(Debug, Clone, Default)]
pub struct Conn {
    pub fleet_file: Option<PathBuf>,
    pub hetzner: Option<Credentials>,
}

/// The checklist's inputs, as `sovtui preflight` builds them, with one difference: a Hetzner API
/// handed to the cockpit (the demo's world) is where the token is checked — the request's own
/// token when it has one, else the handed one. Blocking (a `token_cmd` may run).
pub fn inputs(
    conn: &Conn,
    request: Option<DeploymentRequest>,
    fqdn: Option<String>,
) -> Result<preflight::Inputs, String> {
    let fleet_file = conn
        .fleet_file
        .clone()
        .unwrap_or_else(crate::config::paths::fleet_file);
    let limits = crate::provision::limits::Limits::current();
    let token = request
        .as_ref()
        .map(|r| r.hetzner_token.trim().to_string())
        .filter(|t| !t.is_empty());
    let mut inputs = preflight::inputs_from_fleet(&fleet_file, request, fqdn, limits)?;
    if let Some(given) = &conn.hetzner {
        inputs.hetzner = Ok(match token {
            Some(t) => Credentials::from_source(t, given.endpoint.clone(), TokenSource::Request),
            None => given.clone(),
        });
    }
    Ok(inputs)
}

/// Run the checklist on a thread of its own (its futures borrow across a concurrent stream, so
/// they are not `Send`); the answer arrives through `reply`.
pub fn spawn(
    conn: Conn,
    request: Option<DeploymentRequest>,
    fqdn: Option<String>,
    reply: impl FnOnce(Result<Report, String>) + Send + 'static,
) -> Result<(), String> {
    std::thread::Builder::new()
        .name("sovtui-preflight".into())
        .spawn(move || {
            let result = (|| {
                let inputs = inputs(&conn, request, fqdn)?;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("pre-flight runtime: {e}"))?;
                Ok(rt.block_on(preflight::run(&inputs)))
            })();
            reply(result);
        })
        .map(drop)
        .map_err(|e| format!("cannot start the pre-flight: {e}"))
}

/// `✓ ok` / `✗ FAIL` / `? unknown` and its colour (never the only sign).
pub fn verdict_span(v: Verdict) -> (&'static str, Slot) {
    match v {
        Verdict::Pass => ("✓ ok     ", Slot::StateInstalled),
        Verdict::Fail => ("✗ FAIL   ", Slot::StateFailed),
        Verdict::Unknown => ("? unknown", Slot::StatePending),
    }
}

pub struct PreflightScreen {
    /// The Sovereign(-to-be) checked.
    pub fqdn: String,
    /// The wizard's request, when the pane was opened from the wizard (B then checks its key).
    pub request: Option<DeploymentRequest>,
    /// The last answer (kept while a new run is on its way).
    pub report: Option<Report>,
    pub error: Option<String>,
    /// A run is on its way.
    pub running: bool,
    /// The run the next answer must carry.
    pub seq: u64,
    pub scroll: u16,
}

impl PreflightScreen {
    pub fn new(fqdn: &str, request: Option<DeploymentRequest>) -> Self {
        PreflightScreen {
            fqdn: fqdn.to_string(),
            request,
            report: None,
            error: None,
            running: false,
            seq: 0,
            scroll: 0,
        }
    }

    /// Start a run. Without a sender or runtime (snapshot tests) the pane just shows `checking…`.
    pub fn start(&mut self, tx: Option<&mpsc::Sender<Msg>>, conn: &Conn) -> bool {
        self.seq += 1;
        self.running = true;
        self.error = None;
        let (Some(tx), Ok(handle)) = (tx.cloned(), tokio::runtime::Handle::try_current()) else {
            return false;
        };
        let seq = self.seq;
        let fqdn = (!self.fqdn.is_empty()).then(|| self.fqdn.clone());
        let started = spawn(conn.clone(), self.request.clone(), fqdn, move |result| {
            handle.spawn(async move {
                let _ = tx.send(Msg::Preflight(PreflightMsg { seq, result })).await;
            });
        });
        if let Err(e) = started {
            self.running = false;
            self.error = Some(e);
            return false;
        }
        true
    }

    pub fn on_msg(&mut self, msg: PreflightMsg) {
        if msg.seq != self.seq {
            return;
        }
        self.running = false;
        match msg.result {
            Ok(r) => self.report = Some(r),
            Err(e) => self.error = Some(e),
        }
    }

    /// `r` runs again, arrows scroll; everything else goes to the shell.
    pub fn on_key(&mut self, key: KeyEvent, tx: Option<&mpsc::Sender<Msg>>, conn: &Conn) -> bool {
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return false;
        }
        match key.code {
            KeyCode::Char('r') => {
                if !self.running {
                    self.start(tx, conn);
                }
            }
            KeyCode::Up => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::Down => self.scroll = self.scroll.saturating_add(1),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_add(10),
            KeyCode::Home => self.scroll = 0,
            _ => return false,
        }
        true
    }

    /// The checklist's lines (also the wizard's Review section): per item its verdict (or
    /// `checking…`), title, evidence and, unless ✓, the fix.
    pub fn lines(&self, theme: &Theme) -> Vec<Line<'static>> {
        item_lines(self.report.as_ref(), self.running, theme)
    }
}

/// The lines of a checklist: `report`'s items, or `checking…` for each while `running`.
pub fn item_lines(report: Option<&Report>, running: bool, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for id in preflight::IDS {
        let item = report.and_then(|r| r.item(id)).filter(|_| !running);
        let title = item
            .map(|i| terminal_safe(&i.title).into_owned())
            .unwrap_or_else(|| preflight::title(id).to_string());
        let (mark, slot) = match item {
            Some(i) => verdict_span(i.verdict),
            None if running => ("… checking…", Slot::StateInstalling),
            None => ("· not run ", Slot::Muted),
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {id}  "), theme.style(Slot::Header)),
            Span::styled(format!("{mark:<11} "), theme.style(slot)),
            Span::styled(title, theme.style(Slot::Base)),
        ]));
        let Some(item) = item else { continue };
        for e in &item.evidence {
            lines.push(Line::from(Span::styled(
                format!("      {}", terminal_safe(e)),
                theme.style(Slot::Muted),
            )));
        }
        if item.verdict != Verdict::Pass && !item.fix.is_empty() {
            lines.push(Line::from(vec![
                Span::styled("      fix: ", theme.style(Slot::HintKey)),
                Span::styled(
                    terminal_safe(&item.fix).into_owned(),
                    theme.style(Slot::Base),
                ),
            ]));
        }
    }
    lines
}

pub fn draw(frame: &mut Frame, area: Rect, s: &PreflightScreen, theme: &Theme) {
    let title = format!(
        " Pre-flight (runbook §1.2) · {} ",
        terminal_safe(if s.fqdn.is_empty() {
            "(no FQDN)"
        } else {
            &s.fqdn
        })
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Slot::BorderFocused))
        .title(Span::styled(title, theme.style(Slot::BorderFocused)));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [head, body, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let head_line = match (&s.error, &s.report, s.running) {
        (_, _, true) => Line::from(Span::styled("checking A–H…", theme.style(Slot::NoticeInfo))),
        (Some(e), _, false) => Line::from(Span::styled(
            format!("pre-flight not run: {}", terminal_safe(e)),
            theme.style(Slot::NoticeError),
        )),
        (None, Some(r), false) => {
            let failed: Vec<&str> = r.failed().iter().map(|i| i.id.as_str()).collect();
            let verdict = if failed.is_empty() {
                Span::styled(
                    "nothing ✗: clear to provision".to_string(),
                    theme.style(Slot::StateInstalled),
                )
            } else {
                Span::styled(
                    format!("✗ {}: do not provision", failed.join(", ")),
                    theme.style(Slot::StateFailed),
                )
            };
            Line::from(vec![
                Span::styled(format!("{} · ", r.summary()), theme.style(Slot::Base)),
                verdict,
            ])
        }
        (None, None, false) => Line::from(Span::styled("not run yet", theme.style(Slot::Muted))),
    };
    frame.render_widget(Paragraph::new(head_line), head);
    frame.render_widget(
        Paragraph::new(s.lines(theme))
            .wrap(Wrap { trim: false })
            .scroll((s.scroll, 0)),
        body,
    );
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            "r run again  ↑↓ scroll  esc back",
            theme.style(Slot::HintText),
        ))),
        hints,
    );
}
