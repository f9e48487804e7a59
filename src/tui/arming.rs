//! The last gate before a destructive pane (recovery, drill) runs: the cockpit armed with `:arm`
//! and the Sovereign's FQDN typed back (`provision::confirm`, the rule the CLI applies too).

use crossterm::event::{KeyCode, KeyEvent};
use tui_textarea::TextArea;

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
