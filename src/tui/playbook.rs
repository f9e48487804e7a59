//! A runbook playbook opened from a leaf's `playbook:<section>` action (M4 → §2.8, HC → §1.2 D):
//! the leaf's recovery steps as a checklist with the FQDN and the cluster's object names filled
//! in. The cursor walks the steps, `y` copies the command under it, `Y` every command (OSC 52,
//! like the leaf view), space ticks a step off. The steps themselves live in the tree file.

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::provision::troubleshoot::LeafView;

use super::keymap::Action;
use super::theme::{Slot, Theme};
use super::troubleshoot::Reply;

#[derive(Debug, Clone)]
pub struct Playbook {
    /// The runbook section (`2.8`, `1.2D`).
    pub section: String,
    pub leaf: LeafView,
    /// Step under the cursor.
    pub cursor: usize,
    /// Steps the operator ticked off.
    pub done: BTreeSet<usize>,
}

impl Playbook {
    pub fn new(section: &str, leaf: LeafView) -> Playbook {
        Playbook {
            section: section.to_string(),
            leaf,
            cursor: 0,
            done: BTreeSet::new(),
        }
    }

    pub fn title(&self) -> String {
        format!("Playbook §{} · {}", self.section, self.leaf.title)
    }

    pub fn hints(&self) -> &'static str {
        "↑↓ step · y copy command · Y copy all · space done · esc back to the leaf"
    }

    pub fn on_key(&mut self, key: KeyEvent, action: Option<Action>) -> Reply {
        let last = self.leaf.recovery.len().saturating_sub(1);
        match key.code {
            KeyCode::Char('y') => {
                return match self
                    .leaf
                    .recovery
                    .get(self.cursor)
                    .and_then(|s| s.cmd.clone())
                {
                    Some(cmd) => Reply::Copy(cmd),
                    None => Reply::Say(format!(
                        "step {} has no command to copy (Y copies all of them)",
                        self.cursor + 1
                    )),
                };
            }
            KeyCode::Char('Y') => {
                let all = self.leaf.commands();
                return if all.is_empty() {
                    Reply::Say("this playbook has no commands to copy".into())
                } else {
                    Reply::Copy(all.join("\n"))
                };
            }
            KeyCode::Char(' ') => {
                if !self.done.remove(&self.cursor) {
                    self.done.insert(self.cursor);
                }
                self.cursor = (self.cursor + 1).min(last);
                return Reply::Stay;
            }
            _ => {}
        }
        match action {
            Some(Action::Up) => self.cursor = self.cursor.saturating_sub(1),
            Some(Action::Down) => self.cursor = (self.cursor + 1).min(last),
            Some(Action::Top) => self.cursor = 0,
            Some(Action::Bottom) => self.cursor = last,
            Some(Action::Back | Action::Quit) => return Reply::Close,
            _ => {}
        }
        Reply::Stay
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let mut l = vec![
            Line::from(Span::styled(self.title(), theme.style(Slot::Header))),
            Line::from(Span::styled(
                format!(
                    "from leaf {} (runbook §{}) · {}/{} done",
                    self.leaf.id,
                    self.leaf.runbook,
                    self.done.len(),
                    self.leaf.recovery.len()
                ),
                theme.style(Slot::Muted),
            )),
            Line::from(""),
        ];
        for (i, s) in self.leaf.recovery.iter().enumerate() {
            let cursor = if i == self.cursor { "›" } else { " " };
            let tick = if self.done.contains(&i) { "[x]" } else { "[ ]" };
            let style = if i == self.cursor {
                theme.style(Slot::Selected)
            } else {
                theme.style(Slot::Base)
            };
            l.push(Line::from(Span::styled(
                format!("{cursor} {tick} {}. {}", i + 1, s.text),
                style,
            )));
            if let Some(cmd) = &s.cmd {
                l.push(Line::from(Span::styled(
                    format!("        $ {cmd}"),
                    theme.style(Slot::Input),
                )));
            }
        }
        frame.render_widget(Paragraph::new(l).wrap(Wrap { trim: false }), area);
    }
}
