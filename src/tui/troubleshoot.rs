//! The troubleshooting walk view (`:troubleshoot` on the selected Sovereign): the runbook §7
//! decision tree one question at a time, the evidence-suggested answer marked with the line that
//! decided it, breadcrumbs, back, restart, jump to a leaf, and the leaf with its recovery
//! commands (FQDN filled in) copyable through OSC 52.
//!
//! All walking is the library's [`Walk`]; this file only holds the cursor and draws. Evidence is
//! built when the view opens and when fresh fleet data for its Sovereign arrives (in the
//! reducer), never while drawing.

use std::sync::Arc;

use base64::Engine as _;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::provision::fleet::model::SovereignStatus;
use crate::provision::troubleshoot::gather::fleet::add_sovereign_status;
use crate::provision::troubleshoot::walk::{AnsweredBy, Position};
use crate::provision::troubleshoot::{Evidence, Placeholders, Tree, Walk};

use super::keymap::Action;
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
}

pub struct TroubleshootView {
    pub fqdn: String,
    walk: Walk,
    ph: Placeholders,
    /// Cursor over the answers of the current question.
    pub selected: usize,
    /// `Some` while the operator types a leaf id after `j`.
    pub jump_input: Option<String>,
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
        let mut v = TroubleshootView {
            fqdn: fqdn.to_string(),
            walk,
            ph: Placeholders::for_fqdn(fqdn),
            selected: 0,
            jump_input: None,
        };
        v.select_suggestion();
        v
    }

    pub fn walk(&self) -> &Walk {
        &self.walk
    }

    /// Fresher evidence; the path taken so far stays.
    pub fn set_evidence(&mut self, evidence: Evidence) {
        self.walk.set_evidence(evidence);
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
        if self.jump_input.is_some() {
            "type a leaf id (C1…C18, M1…M4, HC, DONE) · enter jump · esc cancel"
        } else if self.walk.leaf().is_some() {
            "y copy commands · esc back · r restart · j jump"
        } else {
            "↑↓ choose · enter answer · a follow evidence · esc back · r restart · j jump"
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
        let [crumbs, body, footer] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(inner);

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
                        l.push(Line::from(Span::styled(
                            format!("related: {}", v.actions.join(", ")),
                            theme.style(Slot::Muted),
                        )));
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
    fn osc52_wraps_base64() {
        assert_eq!(osc52("hi"), "\x1b]52;c;aGk=\x07");
    }
}
