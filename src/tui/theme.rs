//! Themes: TOML files mapping named style slots to colours and modifiers, resolved for the colour
//! depth the terminal can show. ratatui never downgrades `Color::Rgb`, so every colour is converted
//! here once, at load time: a 256-colour terminal never receives a 24-bit sequence, whatever the
//! theme file says.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

/// How many colours the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColorLevel {
    /// No colour at all (`NO_COLOR`): bold, reverse and underline only.
    Mono,
    Ansi16,
    Ansi256,
    TrueColor,
}

impl ColorLevel {
    /// The colour-depth ladder, first match wins: `NO_COLOR` → mono, `COLORTERM` truecolor/24bit →
    /// truecolor, `TERM` with 256 → 256, a dumb terminal → mono, anything else → 16.
    pub fn detect(env: impl Fn(&str) -> Option<String>) -> ColorLevel {
        if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorLevel::Mono;
        }
        let colorterm = env("COLORTERM").unwrap_or_default().to_lowercase();
        if colorterm.contains("truecolor") || colorterm.contains("24bit") {
            return ColorLevel::TrueColor;
        }
        let term = env("TERM").unwrap_or_default().to_lowercase();
        if term.contains("truecolor") || term.contains("24bit") || term.contains("direct") {
            ColorLevel::TrueColor
        } else if term.contains("256") {
            ColorLevel::Ansi256
        } else if term.is_empty() || term == "dumb" {
            ColorLevel::Mono
        } else {
            ColorLevel::Ansi16
        }
    }

    pub fn from_process_env() -> ColorLevel {
        ColorLevel::detect(|k| std::env::var(k).ok())
    }

    /// The built-in theme that suits this depth.
    pub fn default_theme(self) -> &'static str {
        match self {
            ColorLevel::TrueColor => "default",
            ColorLevel::Ansi256 => "256",
            ColorLevel::Ansi16 => "16",
            ColorLevel::Mono => "mono",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ColorLevel::TrueColor => "truecolor",
            ColorLevel::Ansi256 => "256 colours",
            ColorLevel::Ansi16 => "16 colours",
            ColorLevel::Mono => "no colour",
        }
    }
}

/// Every place the cockpit draws with a themed style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    Base,
    Title,
    TitleWarn,
    Border,
    BorderFocused,
    Header,
    Selected,
    SelectedUnfocused,
    Muted,
    HintKey,
    HintText,
    NoticeInfo,
    NoticeWarn,
    NoticeError,
    Input,
    Overlay,
    StateInstalled,
    StateInstalling,
    StatePending,
    StateDegraded,
    StateFailed,
    StateStalled,
    StateSuspended,
    ConnLive,
    ConnConnecting,
    ConnBad,
}

impl Slot {
    pub const ALL: [Slot; 26] = [
        Slot::Base,
        Slot::Title,
        Slot::TitleWarn,
        Slot::Border,
        Slot::BorderFocused,
        Slot::Header,
        Slot::Selected,
        Slot::SelectedUnfocused,
        Slot::Muted,
        Slot::HintKey,
        Slot::HintText,
        Slot::NoticeInfo,
        Slot::NoticeWarn,
        Slot::NoticeError,
        Slot::Input,
        Slot::Overlay,
        Slot::StateInstalled,
        Slot::StateInstalling,
        Slot::StatePending,
        Slot::StateDegraded,
        Slot::StateFailed,
        Slot::StateStalled,
        Slot::StateSuspended,
        Slot::ConnLive,
        Slot::ConnConnecting,
        Slot::ConnBad,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Slot::Base => "base",
            Slot::Title => "title",
            Slot::TitleWarn => "title_warn",
            Slot::Border => "border",
            Slot::BorderFocused => "border_focused",
            Slot::Header => "header",
            Slot::Selected => "selected",
            Slot::SelectedUnfocused => "selected_unfocused",
            Slot::Muted => "muted",
            Slot::HintKey => "hint_key",
            Slot::HintText => "hint_text",
            Slot::NoticeInfo => "notice_info",
            Slot::NoticeWarn => "notice_warn",
            Slot::NoticeError => "notice_error",
            Slot::Input => "input",
            Slot::Overlay => "overlay",
            Slot::StateInstalled => "state_installed",
            Slot::StateInstalling => "state_installing",
            Slot::StatePending => "state_pending",
            Slot::StateDegraded => "state_degraded",
            Slot::StateFailed => "state_failed",
            Slot::StateStalled => "state_stalled",
            Slot::StateSuspended => "state_suspended",
            Slot::ConnLive => "conn_live",
            Slot::ConnConnecting => "conn_connecting",
            Slot::ConnBad => "conn_bad",
        }
    }

    fn from_name(name: &str) -> Option<Slot> {
        Slot::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A theme file that could not be used: which file, which line, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ThemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ThemeError {}

/// A theme resolved for one colour depth.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub level: ColorLevel,
    /// The file it came from (`None` for a built-in), watched for live edits.
    pub path: Option<PathBuf>,
    styles: BTreeMap<Slot, Style>,
}

impl Theme {
    pub fn style(&self, slot: Slot) -> Style {
        self.styles.get(&slot).copied().unwrap_or_default()
    }
}

/// The themes shipped in `themes/`, compiled in so the binary works from any directory.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("256", include_str!("../../themes/256.toml")),
    ("16", include_str!("../../themes/16.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// Where themes come from: the built-ins, and the user's `$XDG_CONFIG_HOME/sovtui/themes/`
/// (a user file with a built-in's name replaces it).
#[derive(Debug, Clone)]
pub struct ThemeCatalog {
    pub user_dir: Option<PathBuf>,
}

impl ThemeCatalog {
    pub fn new(user_dir: Option<PathBuf>) -> Self {
        ThemeCatalog { user_dir }
    }

    /// Every theme name that `load` accepts, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        names.extend(toml_stems(self.user_dir.as_deref()));
        names.sort();
        names.dedup();
        names
    }

    pub fn user_file(&self, name: &str) -> Option<PathBuf> {
        let path = self.user_dir.as_ref()?.join(format!("{name}.toml"));
        path.is_file().then_some(path)
    }

    pub fn load(&self, name: &str, level: ColorLevel) -> Result<Theme, ThemeError> {
        self.load_depth(name, level, 0)
    }

    fn load_depth(&self, name: &str, level: ColorLevel, depth: usize) -> Result<Theme, ThemeError> {
        if depth > 4 {
            return Err(ThemeError {
                file: name.to_string(),
                line: None,
                message: "`extends` chain is longer than 4 (a cycle?)".into(),
            });
        }
        let (label, text, path) = if let Some(path) = self.user_file(name) {
            let text = std::fs::read_to_string(&path).map_err(|e| ThemeError {
                file: path.display().to_string(),
                line: None,
                message: format!("cannot read: {e}"),
            })?;
            (path.display().to_string(), text, Some(path))
        } else if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name) {
            (format!("themes/{name}.toml"), text.to_string(), None)
        } else {
            return Err(ThemeError {
                file: name.to_string(),
                line: None,
                message: format!(
                    "no theme named {name:?} (known: {})",
                    self.names().join(", ")
                ),
            });
        };
        let file = parse_file(&label, &text)?;
        // User themes inherit every slot they leave out (from `extends`, else the built-in of the
        // same name, else `default`); built-ins must be complete.
        let base = if let Some(parent) = &file.extends {
            let parent_name = parent.get_ref().clone();
            if parent_name == name && path.is_none() {
                return Err(err_at(
                    &label,
                    &text,
                    parent.span(),
                    "a theme cannot extend itself",
                ));
            }
            let catalog = if parent_name == name {
                ThemeCatalog::new(None)
            } else {
                self.clone()
            };
            // A parent that cannot be had is this file's problem, at its `extends` line; a
            // parent that is there but broken reports its own file and line.
            let parent_theme = catalog
                .load_depth(&parent_name, level, depth + 1)
                .map_err(|e| {
                    if e.line.is_none() {
                        err_at(
                            &label,
                            &text,
                            parent.span(),
                            &format!("extends = {parent_name:?}: {}", e.message),
                        )
                    } else {
                        e
                    }
                })?;
            Some(parent_theme)
        } else if path.is_some() {
            let parent = if BUILTIN.iter().any(|(n, _)| *n == name) {
                name
            } else {
                "default"
            };
            Some(ThemeCatalog::new(None).load_depth(parent, level, depth + 1)?)
        } else {
            None
        };
        let mut styles = base.map(|b| b.styles).unwrap_or_default();
        for (slot_name, spec) in &file.styles {
            let slot = Slot::from_name(slot_name).ok_or_else(|| {
                err_at(
                    &label,
                    &text,
                    spec.span(),
                    &format!("unknown style slot {slot_name:?}"),
                )
            })?;
            let mut style = build_style(&label, &text, &file.palette, spec, level)?;
            // Without colour, a coloured bar or selection keeps standing out as reverse video.
            if level == ColorLevel::Mono
                && spec.get_ref().bg.is_some()
                && matches!(slot, Slot::Selected | Slot::Title | Slot::TitleWarn)
            {
                style = style.add_modifier(Modifier::REVERSED);
            }
            styles.insert(slot, style);
        }
        if let Some(missing) = Slot::ALL.iter().find(|s| !styles.contains_key(s)) {
            return Err(ThemeError {
                file: label,
                line: None,
                message: format!("style slot {:?} is missing", missing.name()),
            });
        }
        Ok(Theme {
            name: name.to_string(),
            level,
            path,
            styles,
        })
    }
}

/// `*.toml` file stems in a directory.
pub(crate) fn toml_stems(dir: Option<&Path>) -> Vec<String> {
    let Some(dir) = dir else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            (path.extension()? == "toml")
                .then(|| path.file_stem()?.to_str().map(str::to_string))
                .flatten()
        })
        .collect();
    names.sort();
    names
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[allow(dead_code)]
    name: Option<String>,
    #[allow(dead_code)]
    description: Option<String>,
    extends: Option<Spanned<String>>,
    #[serde(default)]
    palette: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    styles: BTreeMap<String, Spanned<StyleSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<Spanned<String>>,
    bg: Option<Spanned<String>>,
    #[serde(default)]
    mods: Vec<Spanned<String>>,
}

fn parse_file(label: &str, text: &str) -> Result<ThemeFile, ThemeError> {
    toml::from_str(text).map_err(|e| ThemeError {
        file: label.to_string(),
        line: e.span().map(|s| line_of(text, s.start)),
        message: e.message().trim().to_string(),
    })
}

/// 1-based line number of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn err_at(label: &str, text: &str, span: std::ops::Range<usize>, message: &str) -> ThemeError {
    ThemeError {
        file: label.to_string(),
        line: Some(line_of(text, span.start)),
        message: message.to_string(),
    }
}

fn build_style(
    label: &str,
    text: &str,
    palette: &BTreeMap<String, Spanned<String>>,
    spec: &Spanned<StyleSpec>,
    level: ColorLevel,
) -> Result<Style, ThemeError> {
    let spec = spec.get_ref();
    let mut style = Style::default();
    let color = |value: &Spanned<String>| -> Result<Color, ThemeError> {
        let raw = value.get_ref();
        // A palette name resolves to its colour; the palette entry's own line is blamed if bad.
        let (resolved, span) = match palette.get(raw) {
            Some(p) => (p.get_ref().as_str(), p.span()),
            None => (raw.as_str(), value.span()),
        };
        parse_color(resolved)
            .map(|c| downgrade(c, level))
            .ok_or_else(|| {
                err_at(
                    label,
                    text,
                    span,
                    &format!(
                        "{resolved:?} is neither a colour (#rrggbb, 0-255, a colour name, reset) nor a palette entry"
                    ),
                )
            })
    };
    if let Some(fg) = &spec.fg {
        style = style.fg(color(fg)?);
    }
    if let Some(bg) = &spec.bg {
        style = style.bg(color(bg)?);
    }
    for m in &spec.mods {
        let modifier = match m.get_ref().to_lowercase().as_str() {
            "bold" => Modifier::BOLD,
            "dim" => Modifier::DIM,
            "italic" => Modifier::ITALIC,
            "underline" | "underlined" => Modifier::UNDERLINED,
            "reverse" | "reversed" => Modifier::REVERSED,
            "crossed_out" | "strikethrough" => Modifier::CROSSED_OUT,
            other => {
                return Err(err_at(
                    label,
                    text,
                    m.span(),
                    &format!(
                        "unknown modifier {other:?} (bold, dim, italic, underline, reverse, crossed_out)"
                    ),
                ));
            }
        };
        style = style.add_modifier(modifier);
    }
    Ok(style)
}

const NAMED: &[(&str, Color)] = &[
    ("black", Color::Black),
    ("red", Color::Red),
    ("green", Color::Green),
    ("yellow", Color::Yellow),
    ("blue", Color::Blue),
    ("magenta", Color::Magenta),
    ("cyan", Color::Cyan),
    ("gray", Color::Gray),
    ("grey", Color::Gray),
    ("darkgray", Color::DarkGray),
    ("darkgrey", Color::DarkGray),
    ("lightred", Color::LightRed),
    ("lightgreen", Color::LightGreen),
    ("lightyellow", Color::LightYellow),
    ("lightblue", Color::LightBlue),
    ("lightmagenta", Color::LightMagenta),
    ("lightcyan", Color::LightCyan),
    ("white", Color::White),
];

pub fn parse_color(s: &str) -> Option<Color> {
    let s = s.trim();
    let lower = s.to_lowercase();
    if lower == "reset" || lower == "default" {
        return Some(Color::Reset);
    }
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
    }
    if let Ok(i) = s.parse::<u8>() {
        return Some(Color::Indexed(i));
    }
    NAMED.iter().find(|(n, _)| *n == lower).map(|(_, c)| *c)
}

/// The 16 ANSI colours with xterm's default RGB values, in index order.
const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

/// Convert a colour to one the terminal can show at `level`.
pub fn downgrade(color: Color, level: ColorLevel) -> Color {
    match (level, color) {
        (ColorLevel::Mono, _) => Color::Reset,
        (ColorLevel::TrueColor, c) => c,
        (ColorLevel::Ansi256, Color::Rgb(r, g, b)) => Color::Indexed(rgb_to_256(r, g, b)),
        (ColorLevel::Ansi256, c) => c,
        (ColorLevel::Ansi16, Color::Rgb(r, g, b)) => nearest16(r, g, b),
        (ColorLevel::Ansi16, Color::Indexed(i)) => {
            let (r, g, b) = index_to_rgb(i);
            nearest16(r, g, b)
        }
        (ColorLevel::Ansi16, c) => c,
    }
}

fn dist(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).unsigned_abs();
    d(a.0, b.0).pow(2) + d(a.1, b.1).pow(2) + d(a.2, b.2).pow(2)
}

fn nearest16(r: u8, g: u8, b: u8) -> Color {
    ANSI16
        .iter()
        .min_by_key(|(_, rgb)| dist(*rgb, (r, g, b)))
        .map(|(c, _)| *c)
        .unwrap_or(Color::Reset)
}

const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

fn index_to_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16[usize::from(i)].1,
        16..=231 => {
            let i = i - 16;
            (
                CUBE[usize::from(i / 36)],
                CUBE[usize::from((i / 6) % 6)],
                CUBE[usize::from(i % 6)],
            )
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            (v, v, v)
        }
    }
}

/// Nearest xterm-256 index: the 6×6×6 cube or the grey ramp, whichever is closer.
pub fn rgb_to_256(r: u8, g: u8, b: u8) -> u8 {
    let cube_idx = |v: u8| -> u8 {
        CUBE.iter()
            .enumerate()
            .min_by_key(|(_, c)| (i32::from(**c) - i32::from(v)).unsigned_abs())
            .map(|(i, _)| i as u8)
            .unwrap_or(0)
    };
    let (ci, cj, ck) = (cube_idx(r), cube_idx(g), cube_idx(b));
    let cube = 16 + 36 * ci + 6 * cj + ck;
    let avg = ((u16::from(r) + u16::from(g) + u16::from(b)) / 3) as u8;
    let grey = if avg < 8 {
        232
    } else {
        232 + ((avg - 8) / 10).min(23)
    };
    if dist(index_to_rgb(grey), (r, g, b)) < dist(index_to_rgb(cube), (r, g, b)) {
        grey
    } else {
        cube
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn colour_ladder() {
        assert_eq!(
            ColorLevel::detect(env(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")])),
            ColorLevel::Mono
        );
        assert_eq!(
            ColorLevel::detect(env(&[("COLORTERM", "24bit"), ("TERM", "xterm")])),
            ColorLevel::TrueColor
        );
        assert_eq!(
            ColorLevel::detect(env(&[("TERM", "xterm-256color")])),
            ColorLevel::Ansi256
        );
        assert_eq!(
            ColorLevel::detect(env(&[("TERM", "tmux-256color"), ("NO_COLOR", "")])),
            ColorLevel::Ansi256
        );
        assert_eq!(
            ColorLevel::detect(env(&[("TERM", "screen")])),
            ColorLevel::Ansi16
        );
        assert_eq!(ColorLevel::detect(env(&[])), ColorLevel::Mono);
    }

    #[test]
    fn every_builtin_loads_at_every_depth_and_never_exceeds_it() {
        let catalog = ThemeCatalog::new(None);
        for (name, _) in BUILTIN {
            for level in [
                ColorLevel::Mono,
                ColorLevel::Ansi16,
                ColorLevel::Ansi256,
                ColorLevel::TrueColor,
            ] {
                let theme = catalog
                    .load(name, level)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                for slot in Slot::ALL {
                    let s = theme.style(slot);
                    for c in [s.fg, s.bg].into_iter().flatten() {
                        match level {
                            ColorLevel::Mono => assert_eq!(c, Color::Reset),
                            ColorLevel::Ansi16 => {
                                assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_)))
                            }
                            ColorLevel::Ansi256 => assert!(!matches!(c, Color::Rgb(..))),
                            ColorLevel::TrueColor => {}
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn selection_is_never_colour_only() {
        let catalog = ThemeCatalog::new(None);
        for (name, _) in BUILTIN {
            let t = catalog.load(name, ColorLevel::Mono).expect("theme");
            for slot in [Slot::Selected, Slot::BorderFocused, Slot::Title] {
                assert!(
                    !t.style(slot).add_modifier.is_empty(),
                    "{name}: {} has no modifier",
                    slot.name()
                );
            }
        }
    }

    #[test]
    fn errors_name_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("mine.toml"),
            "[styles]\nbase = { fg = \"#ffffff\" }\ntitle = { fg = \"nocolour\" }\n",
        )
        .expect("write");
        let catalog = ThemeCatalog::new(Some(dir.path().to_path_buf()));
        let err = catalog
            .load("mine", ColorLevel::TrueColor)
            .expect_err("broken");
        assert!(err.file.ends_with("mine.toml"), "{err}");
        assert_eq!(err.line, Some(3), "{err}");
        std::fs::write(dir.path().join("mine.toml"), "[styles\nbase = 1\n").expect("write");
        let err = catalog
            .load("mine", ColorLevel::TrueColor)
            .expect_err("broken");
        assert_eq!(err.line, Some(1), "{err}");
        std::fs::write(
            dir.path().join("mine.toml"),
            "[palette]\nx = \"#00ff00\"\n[styles]\ntitle = { fg = \"x\", mods = [\"bold\"] }\n",
        )
        .expect("write");
        let t = catalog.load("mine", ColorLevel::TrueColor).expect("good");
        assert_eq!(t.style(Slot::Title).fg, Some(Color::Rgb(0, 255, 0)));
        assert!(catalog.names().contains(&"mine".to_string()));
    }

    /// Found while fuzzing theme files: `extends = "nope"` was reported as `nope: no theme
    /// named …` — neither the user's file nor a line in it.
    #[test]
    fn a_missing_parent_is_blamed_on_the_extends_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("mine.toml"),
            "name = \"mine\"\nextends = \"nope\"\n",
        )
        .expect("write");
        let catalog = ThemeCatalog::new(Some(dir.path().to_path_buf()));
        let err = catalog
            .load("mine", ColorLevel::TrueColor)
            .expect_err("no parent");
        assert!(err.file.ends_with("mine.toml"), "{err}");
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.contains("no theme named \"nope\""), "{err}");
    }

    #[test]
    fn downgrade_maps_into_range() {
        assert_eq!(rgb_to_256(255, 0, 0), 196);
        assert_eq!(rgb_to_256(128, 128, 128), 244);
        assert_eq!(
            downgrade(Color::Rgb(250, 10, 10), ColorLevel::Ansi16),
            Color::LightRed
        );
        assert_eq!(
            downgrade(Color::Indexed(21), ColorLevel::Ansi16),
            Color::Blue
        );
    }
}
