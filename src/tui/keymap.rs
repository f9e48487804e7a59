//! Keymaps: keys bound to actions by action name, from TOML (`keymaps/default.toml`,
//! `keymaps/vim.toml`, user keymaps in `$XDG_CONFIG_HOME/sovtui/keymaps/`), then the user's
//! `$XDG_CONFIG_HOME/sovtui/keymap.toml`, which replaces the keys of every action it names.
//! A keymap with a conflict (one key, two actions) or a guarded action on an unmodified single
//! key is refused as a whole, so the previous one stays in force.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::Deserialize;
use toml::Spanned;

use super::theme::line_of;

/// Everything a key can do in the cockpit shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Quit,
    ForceQuit,
    Help,
    Palette,
    Filter,
    Back,
    FocusNext,
    FocusPrev,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Matrix: previous component column; elsewhere the navigation pane.
    Left,
    /// Matrix: next component column; elsewhere the main pane.
    Right,
    Select,
    /// Fleet views: cycle the grouping (none, tag, worst state).
    Group,
    /// Fleet views: fold or unfold the group under the cursor.
    Fold,
    /// Leaves read-only mode. Guarded: never on an unmodified single key.
    Arm,
    Disarm,
    /// `sovtui demo`: stop / restart the simulated world's clock (a presenter's pause).
    PauseWorld,
}

impl Action {
    pub const ALL: [Action; 22] = [
        Action::Help,
        Action::Palette,
        Action::Filter,
        Action::Select,
        Action::Back,
        Action::FocusNext,
        Action::FocusPrev,
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::Left,
        Action::Right,
        Action::Group,
        Action::Fold,
        Action::Quit,
        Action::ForceQuit,
        Action::Arm,
        Action::Disarm,
        Action::PauseWorld,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::ForceQuit => "force_quit",
            Action::Help => "help",
            Action::Palette => "palette",
            Action::Filter => "filter",
            Action::Back => "back",
            Action::FocusNext => "focus_next",
            Action::FocusPrev => "focus_prev",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Left => "left",
            Action::Right => "right",
            Action::Select => "select",
            Action::Group => "group",
            Action::Fold => "fold",
            Action::Arm => "arm",
            Action::Disarm => "disarm",
            Action::PauseWorld => "pause_world",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Action::Quit => "quit (from the root view; elsewhere: back)",
            Action::ForceQuit => "quit from anywhere",
            Action::Help => "this help",
            Action::Palette => "command palette",
            Action::Filter => "filter the list",
            Action::Back => "back / close / clear",
            Action::FocusNext => "next pane",
            Action::FocusPrev => "previous pane",
            Action::Up => "move up",
            Action::Down => "move down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "first item",
            Action::Bottom => "last item",
            Action::Left => "matrix: cell cursor left; else navigation pane",
            Action::Right => "matrix: cell cursor right; else main pane",
            Action::Select => "open the selected item (a group header: fold/unfold it)",
            Action::Group => "fleet/matrix: group by none → tag → worst state",
            Action::Fold => "fleet/matrix: fold/unfold the group under the cursor",
            Action::Arm => "arm: allow destructive operations",
            Action::Disarm => "disarm: back to read-only",
            Action::PauseWorld => "demo: pause / resume the simulated world's clock",
        }
    }

    /// Actions that unlock or perform destructive work: never on a single unmodified key.
    pub fn guarded(self) -> bool {
        matches!(self, Action::Arm)
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// One key with its modifiers, as written in keymap files: `q`, `G`, `ctrl-c`, `shift-tab`, `esc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Chord {
    pub code: ChordCode,
    pub ctrl: bool,
    pub alt: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChordCode {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Delete,
    F(u8),
}

impl Chord {
    pub fn parse(s: &str) -> Option<Chord> {
        let mut ctrl = false;
        let mut alt = false;
        let mut shift = false;
        let mut rest = s;
        // `-` alone is a key; `ctrl--` is ctrl plus `-`.
        while rest.len() > 1 {
            let has = |prefix: &str| {
                rest.get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            };
            let (prefix_len, which) = if has("ctrl-") {
                (5, 0)
            } else if has("c-") {
                (2, 0)
            } else if has("alt-") {
                (4, 1)
            } else if has("m-") {
                (2, 1)
            } else if has("shift-") {
                (6, 2)
            } else {
                break;
            };
            match which {
                0 => ctrl = true,
                1 => alt = true,
                _ => shift = true,
            }
            rest = &rest[prefix_len..];
        }
        let code = match rest.to_lowercase().as_str() {
            "enter" | "return" | "cr" => ChordCode::Enter,
            "esc" | "escape" => ChordCode::Esc,
            "tab" if shift => ChordCode::BackTab,
            "tab" => ChordCode::Tab,
            "backtab" => ChordCode::BackTab,
            "backspace" | "bs" => ChordCode::Backspace,
            "up" => ChordCode::Up,
            "down" => ChordCode::Down,
            "left" => ChordCode::Left,
            "right" => ChordCode::Right,
            "pgup" | "pageup" => ChordCode::PageUp,
            "pgdn" | "pgdown" | "pagedown" => ChordCode::PageDown,
            "home" => ChordCode::Home,
            "end" => ChordCode::End,
            "del" | "delete" => ChordCode::Delete,
            "space" => ChordCode::Char(' '),
            f if f.len() >= 2 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                let n = f[1..].parse::<u8>().ok()?;
                if !(1..=24).contains(&n) {
                    return None;
                }
                ChordCode::F(n)
            }
            _ => {
                let mut chars = rest.chars();
                let c = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                let c = if shift { c.to_ascii_uppercase() } else { c };
                // Terminals send ctrl-letters lower-case; keep files case-insensitive there.
                ChordCode::Char(if ctrl { c.to_ascii_lowercase() } else { c })
            }
        };
        Some(Chord { code, ctrl, alt })
    }

    /// The chord a key event stands for. Shift is folded into the character (or BackTab).
    pub fn from_event(ev: &KeyEvent) -> Option<Chord> {
        if ev.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        let code = match ev.code {
            KeyCode::Char(c) => ChordCode::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            KeyCode::Enter => ChordCode::Enter,
            KeyCode::Esc => ChordCode::Esc,
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => ChordCode::BackTab,
            KeyCode::Tab => ChordCode::Tab,
            KeyCode::BackTab => ChordCode::BackTab,
            KeyCode::Backspace => ChordCode::Backspace,
            KeyCode::Up => ChordCode::Up,
            KeyCode::Down => ChordCode::Down,
            KeyCode::Left => ChordCode::Left,
            KeyCode::Right => ChordCode::Right,
            KeyCode::PageUp => ChordCode::PageUp,
            KeyCode::PageDown => ChordCode::PageDown,
            KeyCode::Home => ChordCode::Home,
            KeyCode::End => ChordCode::End,
            KeyCode::Delete => ChordCode::Delete,
            KeyCode::F(n) => ChordCode::F(n),
            _ => return None,
        };
        Some(Chord { code, ctrl, alt })
    }

    /// No ctrl/alt: a single keystroke anyone can hit by accident (shift does not count).
    pub fn unmodified(&self) -> bool {
        !self.ctrl && !self.alt
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            ChordCode::Char(' ') => f.write_str("space"),
            ChordCode::Char(c) => write!(f, "{c}"),
            ChordCode::Enter => f.write_str("enter"),
            ChordCode::Esc => f.write_str("esc"),
            ChordCode::Tab => f.write_str("tab"),
            ChordCode::BackTab => f.write_str("shift-tab"),
            ChordCode::Backspace => f.write_str("backspace"),
            ChordCode::Up => f.write_str("↑"),
            ChordCode::Down => f.write_str("↓"),
            ChordCode::Left => f.write_str("←"),
            ChordCode::Right => f.write_str("→"),
            ChordCode::PageUp => f.write_str("pgup"),
            ChordCode::PageDown => f.write_str("pgdn"),
            ChordCode::Home => f.write_str("home"),
            ChordCode::End => f.write_str("end"),
            ChordCode::Delete => f.write_str("del"),
            ChordCode::F(n) => write!(f, "f{n}"),
        }
    }
}

/// A keymap that cannot be used: which file, which line, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeymapError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for KeymapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for KeymapError {}

/// The keys in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    pub name: String,
    by_action: BTreeMap<Action, Vec<Chord>>,
    by_chord: BTreeMap<Chord, Action>,
    /// Files this keymap was built from (watched for live edits).
    pub files: Vec<PathBuf>,
}

impl Keymap {
    pub fn action_for(&self, ev: &KeyEvent) -> Option<Action> {
        let chord = Chord::from_event(ev)?;
        self.by_chord.get(&chord).copied()
    }

    pub fn keys(&self, action: Action) -> &[Chord] {
        self.by_action
            .get(&action)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The first key of an action, for footer hints; `None` when unbound.
    pub fn hint(&self, action: Action) -> Option<String> {
        self.keys(action).first().map(|c| c.to_string())
    }
}

pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../keymaps/default.toml")),
    ("vim", include_str!("../../keymaps/vim.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeymapFile {
    #[allow(dead_code)]
    name: Option<String>,
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    bindings: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
}

/// Where keymaps come from: built-ins, `$XDG_CONFIG_HOME/sovtui/keymaps/NAME.toml`, and the
/// overlay `$XDG_CONFIG_HOME/sovtui/keymap.toml`.
#[derive(Debug, Clone)]
pub struct KeymapCatalog {
    pub config_dir: Option<PathBuf>,
}

struct Source {
    label: String,
    text: String,
    path: Option<PathBuf>,
}

impl KeymapCatalog {
    pub fn new(config_dir: Option<PathBuf>) -> Self {
        KeymapCatalog { config_dir }
    }

    pub fn user_dir(&self) -> Option<PathBuf> {
        self.config_dir.as_ref().map(|d| d.join("keymaps"))
    }

    pub fn overlay_file(&self) -> Option<PathBuf> {
        self.config_dir.as_ref().map(|d| d.join("keymap.toml"))
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        names.extend(super::theme::toml_stems(self.user_dir().as_deref()));
        names.sort();
        names.dedup();
        names
    }

    fn base_source(&self, name: &str) -> Result<Source, KeymapError> {
        if let Some(path) = self
            .user_dir()
            .map(|d| d.join(format!("{name}.toml")))
            .filter(|p| p.is_file())
        {
            return read_source(&path);
        }
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => Ok(Source {
                label: format!("keymaps/{name}.toml"),
                text: text.to_string(),
                path: None,
            }),
            None => Err(KeymapError {
                file: name.to_string(),
                line: None,
                message: format!(
                    "no keymap named {name:?} (known: {})",
                    self.names().join(", ")
                ),
            }),
        }
    }

    /// The named keymap with the user's overlay applied.
    pub fn load(&self, name: &str) -> Result<Keymap, KeymapError> {
        let base = self.base_source(name)?;
        let mut sources = vec![base];
        if let Some(overlay) = self.overlay_file().filter(|p| p.is_file()) {
            sources.push(read_source(&overlay)?);
        }
        build(name, &sources)
    }

    /// The named keymap alone, for when the overlay is broken.
    pub fn load_without_overlay(&self, name: &str) -> Result<Keymap, KeymapError> {
        build(name, &[self.base_source(name)?])
    }
}

fn read_source(path: &Path) -> Result<Source, KeymapError> {
    let text = std::fs::read_to_string(path).map_err(|e| KeymapError {
        file: path.display().to_string(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    Ok(Source {
        label: path.display().to_string(),
        text,
        path: Some(path.to_path_buf()),
    })
}

fn build(name: &str, sources: &[Source]) -> Result<Keymap, KeymapError> {
    // action → (keys, file label, line of the binding) so a conflict can name both places.
    let mut bound: BTreeMap<Action, (Vec<Chord>, String, usize)> = BTreeMap::new();
    for src in sources {
        let err = |span: std::ops::Range<usize>, message: String| KeymapError {
            file: src.label.clone(),
            line: Some(line_of(&src.text, span.start)),
            message,
        };
        let file: KeymapFile = toml::from_str(&src.text).map_err(|e| KeymapError {
            file: src.label.clone(),
            line: e.span().map(|s| line_of(&src.text, s.start)),
            message: e.message().trim().to_string(),
        })?;
        for (action_name, keys) in &file.bindings {
            let action = Action::from_name(action_name).ok_or_else(|| {
                err(
                    keys.span(),
                    format!(
                        "unknown action {action_name:?} (known: {})",
                        Action::ALL.map(Action::name).join(", ")
                    ),
                )
            })?;
            let mut chords = Vec::new();
            for key in keys.get_ref() {
                let chord = Chord::parse(key.get_ref()).ok_or_else(|| {
                    err(key.span(), format!("cannot read key {:?}", key.get_ref()))
                })?;
                if action.guarded() && chord.unmodified() {
                    return Err(err(
                        key.span(),
                        format!(
                            "{action_name} is guarded and cannot be bound to the unmodified key {chord}; use ctrl- or alt-"
                        ),
                    ));
                }
                chords.push(chord);
            }
            let line = line_of(&src.text, keys.span().start);
            bound.insert(action, (chords, src.label.clone(), line));
        }
    }
    let mut by_chord: BTreeMap<Chord, Action> = BTreeMap::new();
    let mut conflicts = Vec::new();
    let mut conflict_lines = Vec::new();
    for (action, (chords, file, line)) in &bound {
        for chord in chords {
            if let Some(other) = by_chord.insert(*chord, *action)
                && other != *action
            {
                let (_, ofile, oline) = &bound[&other];
                conflict_lines.push((file.clone(), *line));
                conflict_lines.push((ofile.clone(), *oline));
                conflicts.push(format!(
                    "{chord} is bound to both {} ({ofile}:{oline}) and {} ({file}:{line})",
                    other.name(),
                    action.name()
                ));
            }
        }
    }
    if !conflicts.is_empty() {
        let file = sources
            .last()
            .map(|s| s.label.clone())
            .unwrap_or_else(|| name.to_string());
        // The error names the file read last; its line is that file's side of the first
        // conflict (the other side may be in the keymap it overlays).
        let line = conflict_lines
            .iter()
            .find_map(|(f, l)| (*f == file).then_some(*l));
        return Err(KeymapError {
            file,
            line,
            message: format!("key conflict: {}", conflicts.join("; ")),
        });
    }
    Ok(Keymap {
        name: name.to_string(),
        by_action: bound.into_iter().map(|(a, (c, _, _))| (a, c)).collect(),
        by_chord,
        files: sources.iter().filter_map(|s| s.path.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn parses_chords() {
        let c = Chord::parse("ctrl-c").expect("chord");
        assert!(c.ctrl && c.code == ChordCode::Char('c'));
        assert_eq!(
            Chord::parse("shift-tab").map(|c| c.code),
            Some(ChordCode::BackTab)
        );
        assert_eq!(
            Chord::parse("G").map(|c| c.code),
            Some(ChordCode::Char('G'))
        );
        assert_eq!(
            Chord::parse("-").map(|c| c.code),
            Some(ChordCode::Char('-'))
        );
        assert_eq!(Chord::parse("f5").map(|c| c.code), Some(ChordCode::F(5)));
        assert_eq!(Chord::parse("nonsense"), None);
        assert_eq!(
            Chord::from_event(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Chord::parse("G")
        );
        assert_eq!(
            Chord::from_event(&key(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Chord::parse("shift-tab")
        );
    }

    #[test]
    fn builtins_load_and_bind_the_shell_keys() {
        let cat = KeymapCatalog::new(None);
        for (name, _) in BUILTIN {
            let km = cat.load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            for a in [
                Action::Help,
                Action::Palette,
                Action::Filter,
                Action::Back,
                Action::Quit,
                Action::FocusNext,
                Action::PauseWorld,
            ] {
                assert!(!km.keys(a).is_empty(), "{name}: {} unbound", a.name());
            }
            for a in Action::ALL.into_iter().filter(|a| a.guarded()) {
                assert!(km.keys(a).iter().all(|c| !c.unmodified()));
            }
        }
        let vim = cat.load("vim").expect("vim");
        assert_eq!(
            vim.action_for(&key(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        for (name, _) in BUILTIN {
            let km = cat.load(name).expect("builtin");
            assert_eq!(
                km.action_for(&key(KeyCode::Right, KeyModifiers::NONE)),
                Some(Action::Right),
                "{name}"
            );
            assert_eq!(
                km.action_for(&key(KeyCode::Left, KeyModifiers::NONE)),
                Some(Action::Left),
                "{name}"
            );
        }
        assert_eq!(
            vim.action_for(&key(KeyCode::Char('l'), KeyModifiers::NONE)),
            Some(Action::Right)
        );
    }

    #[test]
    fn overlay_overrides_and_conflicts_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cat = KeymapCatalog::new(Some(dir.path().to_path_buf()));
        std::fs::write(
            dir.path().join("keymap.toml"),
            "[bindings]\nhelp = [\"f1\"]\n",
        )
        .expect("write");
        let km = cat.load("default").expect("overlay");
        assert_eq!(
            km.action_for(&key(KeyCode::F(1), KeyModifiers::NONE)),
            Some(Action::Help)
        );
        assert_eq!(
            km.action_for(&key(KeyCode::Char('?'), KeyModifiers::NONE)),
            None
        );

        std::fs::write(
            dir.path().join("keymap.toml"),
            "[bindings]\nhelp = [\"q\"]\n",
        )
        .expect("write");
        let err = cat.load("default").expect_err("conflict");
        assert!(err.message.contains("q is bound to both"), "{err}");
        assert_eq!(
            err.line,
            Some(2),
            "the overlay's side of the conflict: {err}"
        );

        std::fs::write(
            dir.path().join("keymap.toml"),
            "[bindings]\narm = [\"a\"]\n",
        )
        .expect("write");
        let err = cat.load("default").expect_err("guarded");
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.contains("guarded"), "{err}");

        std::fs::write(
            dir.path().join("keymap.toml"),
            "[bindings]\n\nfly = [\"x\"]\n",
        )
        .expect("write");
        let err = cat.load("default").expect_err("unknown action");
        assert_eq!(err.line, Some(3), "{err}");
    }
}
