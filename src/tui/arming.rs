//! The last gate before a destructive pane (decommission, recovery, drill) runs: the cockpit
//! armed with `:arm` and the Sovereign's FQDN typed back (`provision::confirm`, the rule the CLI
//! applies too) — the keys that reach it and how it is drawn, the same in every such pane.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};
use tui_textarea::TextArea;

use super::theme::{Slot, Theme};

/// A destructive pane's FQDN field and why its last Enter was refused.
pub struct Gate {
    pub confirm: TextArea<'static>,
    pub refused: Option<String>,
}

/// What a key means to a destructive pane once the gate has had it.
pub enum PaneKey {
    /// Not the pane's: the shell's (`:`, Esc, `?`, Ctrl/Alt chords).
    Shell,
    /// The FQDN field took it.
    Taken,
    /// The pane's own: Enter, scrolling, its F-keys.
    Pane(KeyCode),
}

impl Gate {
    /// `verb` names what typing the FQDN enables (`the wipe`, `the purge`).
    pub fn new(fqdn: &str, verb: &str) -> Self {
        let mut confirm = TextArea::default();
        confirm.set_placeholder_text(format!("type {fqdn} to enable {verb}"));
        Gate {
            confirm,
            refused: None,
        }
    }

    pub fn typed(&self) -> String {
        self.confirm.lines().join("")
    }

    /// Offer `key` to the field (when it is `editable` at all in the pane's phase).
    pub fn key(&mut self, key: KeyEvent, editable: bool) -> PaneKey {
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return PaneKey::Shell;
        }
        if editable && edit_confirm(&mut self.confirm, key) {
            self.refused = None;
            return PaneKey::Taken;
        }
        PaneKey::Pane(key.code)
    }

    /// Enter: `true` when the run may start (`blocked` is the pane's reason why not).
    pub fn enter(&mut self, blocked: Option<String>) -> bool {
        let go = blocked.is_none();
        self.refused = blocked;
        go
    }

    /// The FQDN field.
    pub fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let mut ta = self.confirm.clone();
        ta.set_block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.style(Slot::Border))
                .title(" type the FQDN to confirm "),
        );
        ta.set_style(theme.style(Slot::Input));
        frame.render_widget(&ta, area);
    }

    /// The go / no-go line under the field: `enter` labels the live button and `ready` says
    /// what it does; `name` labels the disabled one, followed by why and by `hint` (the keys
    /// that still apply).
    pub fn button<'a>(
        &self,
        blocked: Option<String>,
        enter: String,
        name: &str,
        ready: &'a str,
        hint: &'a str,
        theme: &Theme,
    ) -> Line<'a> {
        match blocked {
            None => Line::from(vec![
                Span::styled(
                    format!(" ▶ [ Enter: {enter} ] "),
                    theme.style(Slot::NoticeWarn),
                ),
                Span::raw(ready),
            ]),
            Some(why) => Line::from(vec![
                Span::styled(
                    format!(" ⊘ [ {name} ] disabled: "),
                    theme.style(Slot::Muted),
                ),
                Span::styled(
                    self.refused.clone().unwrap_or(why),
                    theme.style(Slot::NoticeWarn),
                ),
                Span::styled(hint, theme.style(Slot::HintKey)),
            ]),
        }
    }
}

/// The bordered frame of a destructive pane, titled; the area inside it.
pub fn pane_frame(frame: &mut Frame, area: Rect, title: String, theme: &Theme) -> Rect {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Slot::BorderFocused))
        .title(Span::styled(title, theme.style(Slot::Title)));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// Feed `key` to a pane's FQDN confirm field when it edits it (FQDN characters, deletion, cursor
/// moves); `true` when it did. Anything else stays the pane's (Enter, scrolling, its F-keys) or
/// the shell's (`:`, Esc, `?`), which is why the field takes no other character.
pub fn edit_confirm(confirm: &mut TextArea<'static>, key: KeyEvent) -> bool {
    let edits = match key.code {
        KeyCode::Char(c) => c.is_ascii_alphanumeric() || c == '.' || c == '-',
        KeyCode::Backspace
        | KeyCode::Delete
        | KeyCode::Left
        | KeyCode::Right
        | KeyCode::Home
        | KeyCode::End => true,
        _ => false,
    };
    if edits {
        confirm.input(key);
    }
    edits
}

/// Why the run may not start yet, or `None` when it may.
pub fn not_confirmed(armed: bool, typed: &str, fqdn: &str) -> Option<String> {
    if !armed {
        return Some("read-only: :arm first".into());
    }
    crate::provision::confirm::typed_back(typed, fqdn).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_until_armed_then_the_typed_back_rule() {
        let f = "omantel.omani.works";
        assert!(not_confirmed(false, f, f).is_some_and(|r| r.contains(":arm")));
        assert!(not_confirmed(true, "omantel.omani.work", f).is_some_and(|r| r.contains("match")));
        assert_eq!(not_confirmed(true, f, f), None);
    }

    #[test]
    fn the_confirm_field_takes_fqdn_characters_and_edits_only() {
        let mut field = TextArea::default();
        for c in "a.b-1:?/ ".chars() {
            edit_confirm(&mut field, KeyEvent::from(KeyCode::Char(c)));
        }
        assert!(edit_confirm(&mut field, KeyEvent::from(KeyCode::Backspace)));
        assert!(!edit_confirm(&mut field, KeyEvent::from(KeyCode::Enter)));
        assert!(!edit_confirm(&mut field, KeyEvent::from(KeyCode::Esc)));
        assert_eq!(field.lines().join(""), "a.b-");
    }
}
