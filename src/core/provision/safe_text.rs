//! Outside text made safe to print on a terminal. Servers, clusters and files we do not control
//! supply event messages, HelmRelease conditions, error bodies and names; printed raw, an
//! `ESC]0;…BEL` would retitle the operator's terminal and an `ESC[2J` would wipe it. Every
//! human-readable line of outside text goes through [`terminal_safe`]; `--json` output does not
//! (JSON escapes control characters itself and must stay exact).

use std::borrow::Cow;

/// `s` without control characters and escape sequences, printable Unicode kept:
/// * ESC sequences are removed whole: CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ST`), DCS, SOS,
///   PM and APC strings (`ESC P|X|^|_ … ST`), and two- or three-byte escapes (`ESC c`, `ESC ( B`);
///   their 8-bit C1 forms (U+009B CSI, U+009D OSC, U+0090 DCS …) likewise;
/// * other C0/C1 controls and DEL are dropped, `\r` included (it would let a line overwrite
///   itself); `\t` becomes a space; `\n` is kept (callers printing one line per item use
///   [`one_line`]);
/// * bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) are dropped, so text
///   cannot display in an order other than the one it has.
///
/// Text that needs no change is returned borrowed.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_work) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push(' '),
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                // nF escapes: intermediates 0x20–0x2F, then one final byte.
                Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
                    while chars
                        .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                        .is_some()
                    {}
                    chars.next();
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if is_dropped(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`terminal_safe`] for one-line contexts (a table row, a status line): line breaks become
/// ` ⏎ ` so a message cannot fake further lines.
pub fn one_line(s: &str) -> Cow<'_, str> {
    match terminal_safe(s) {
        Cow::Borrowed(b) if !b.contains('\n') => Cow::Borrowed(b),
        safe => Cow::Owned(safe.trim_end_matches('\n').replace('\n', " ⏎ ")),
    }
}

fn needs_work(c: char) -> bool {
    c == '\t' || (c != '\n' && is_dropped(c))
}

fn is_dropped(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// After `ESC [`: parameter and intermediate bytes, then one final byte (0x40–0x7E). A sequence
/// broken off by another control ends there (the control is dropped with it).
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) || c.is_control() {
            return;
        }
    }
}

/// After `ESC ]` (or P, X, ^, _): everything up to BEL, `ESC \`, or U+009C.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_removed_whole() {
        assert_eq!(terminal_safe("a\u{1b}]0;pwned\u{7}b"), "ab");
        assert_eq!(terminal_safe("a\u{1b}]0;pwned\u{1b}\\b"), "ab");
        assert_eq!(
            terminal_safe("\u{1b}[2Jwiped\u{1b}[31;1mred\u{1b}[0m"),
            "wipedred"
        );
        assert_eq!(terminal_safe("x\u{1b}Pq#0;2;0;0;0\u{1b}\\y"), "xy");
        assert_eq!(terminal_safe("x\u{1b}_app\u{9c}y"), "xy");
        assert_eq!(terminal_safe("x\u{1b}cy\u{1b}(Bz"), "xyz");
        assert_eq!(terminal_safe("x\u{9b}2Jy\u{9d}0;t\u{7}z"), "xyz");
        // An unterminated OSC swallows the rest rather than leaking it.
        assert_eq!(terminal_safe("ok\u{1b}]0;never ends"), "ok");
        assert_eq!(terminal_safe("trailing\u{1b}"), "trailing");
    }

    #[test]
    fn controls_go_printable_unicode_stays() {
        assert_eq!(terminal_safe("a\rb\u{8}c\u{7f}d\u{0}e"), "abcde");
        assert_eq!(terminal_safe("tab\there\nline"), "tab here\nline");
        assert_eq!(terminal_safe("ünïcødé — ✓ 漢字 🚀"), "ünïcødé — ✓ 漢字 🚀");
        assert_eq!(terminal_safe("abc\u{202e}fed"), "abcfed");
        assert!(matches!(terminal_safe("plain text"), Cow::Borrowed(_)));
        assert_eq!(one_line("first\nsecond\n"), "first ⏎ second");
        assert!(matches!(one_line("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn nothing_that_steers_a_terminal_survives_any_input() {
        // Every two-character combination of the dangerous code points, plus printable context.
        let specials = [
            '\u{1b}', '\u{9b}', '\u{9d}', '\u{90}', '\u{7}', '\u{9c}', '[', ']', '\\', 'P', '\r',
            '\u{85}', 'a',
        ];
        for a in specials {
            for b in specials {
                for c in specials {
                    let s: String = [a, b, c, 'z'].iter().collect();
                    let out = terminal_safe(&s);
                    assert!(
                        !out.chars().any(|c| c.is_control() && c != '\n'),
                        "{s:?} -> {out:?}"
                    );
                }
            }
        }
    }
}
