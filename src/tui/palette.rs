//! The `:` command palette: the commands, their completion, and turning typed text into a
//! [`Command`].

use super::msg::ViewKind;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Palette {
    pub input: String,
    /// Index into the current candidates.
    pub selected: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Fleet,
    View(ViewKind),
    Theme(Option<String>),
    Keymap(Option<String>),
    Help,
    Arm,
    Disarm,
    Quit,
    /// Sovereigns × components.
    Matrix,
    /// Cycle the sort of the current list.
    Sort,
    /// Select the first row whose name contains the argument.
    Jump(String),
    /// Group the fleet views (`None`: the next grouping).
    Group(Option<crate::provision::fleet::GroupBy>),
    /// Fold the group under the cursor (`None`), every group (`Some(true)`) or none.
    Fold(Option<bool>),
    /// An armed action on the selected HelmRelease (confirmed before it runs).
    Flux(crate::provision::fleet::FluxAction),
    /// `drill FQDN`: the failover drill pane of that Sovereign.
    Drill(String),
    /// `decommission [FQDN]`: runbook §1.7/§2.1 for that Sovereign, else the selected one.
    Decommission(Option<String>),
    /// `preflight [FQDN]`: runbook §1.2's checklist for that Sovereign(-to-be), else the
    /// wizard's request or the selected Sovereign.
    Preflight(Option<String>),
}

/// Every command word with its one-line description, in the order the palette lists them.
pub const COMMANDS: &[(&str, &str)] = &[
    ("fleet", "fleet overview"),
    ("wizard", "provisioning wizard and Phase 0/1 progress"),
    ("troubleshoot", "troubleshooting walks (runbook §7.4)"),
    ("drill", "drill [FQDN]: region-kill failover drill"),
    ("recover", "§2.2 purge of the selected Sovereign"),
    (
        "decommission",
        "decommission [FQDN]: §1.7 wipe, §2.1 verify",
    ),
    ("preflight", "preflight [FQDN]: §1.2 checklist A–H"),
    ("theme", "theme NAME: switch theme"),
    ("keymap", "keymap NAME: switch keymap"),
    ("help", "keys and commands"),
    ("arm", "allow destructive operations"),
    ("disarm", "back to read-only"),
    ("quit", "leave sovtui"),
    ("matrix", "Sovereigns × components matrix"),
    ("sort", "cycle sort: fleet/DAG order, worst first, by name"),
    (
        "jump",
        "jump NAME: select the first row whose name contains NAME",
    ),
    ("group", "group [none|tag|worst]: group the fleet views"),
    (
        "fold",
        "fold [all|none]: fold the group under the cursor, or all",
    ),
    (
        "reconcile",
        "reconcile the selected HelmRelease now (armed, confirmed)",
    ),
    (
        "suspend",
        "suspend the selected HelmRelease (armed, confirmed)",
    ),
    (
        "resume",
        "resume the selected HelmRelease (armed, confirmed)",
    ),
];

/// A completion: the text it puts in the input, and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub text: String,
    pub description: String,
}

/// Completions for what has been typed so far.
pub fn candidates(input: &str, themes: &[String], keymaps: &[String]) -> Vec<Candidate> {
    let input = input.trim_start();
    if let Some((word, arg)) = input.split_once(' ') {
        let fixed = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        let (names, what) = match word {
            "theme" => (themes.to_vec(), "switch to theme"),
            "keymap" => (keymaps.to_vec(), "switch to keymap"),
            "group" => (fixed(&["none", "tag", "worst"]), "group the fleet views:"),
            "fold" => (fixed(&["all", "none"]), "fold groups:"),
            _ => return Vec::new(),
        };
        let arg = arg.trim();
        return names
            .iter()
            .filter(|n| n.starts_with(arg))
            .map(|n| Candidate {
                text: format!("{word} {n}"),
                description: format!("{what} {n}"),
            })
            .collect();
    }
    COMMANDS
        .iter()
        .filter(|(w, _)| w.starts_with(input))
        .map(|(w, d)| Candidate {
            text: if takes_argument(w) {
                format!("{w} ")
            } else {
                w.to_string()
            },
            description: d.to_string(),
        })
        .collect()
}

fn takes_argument(word: &str) -> bool {
    matches!(word, "theme" | "keymap" | "jump")
}

pub fn parse(text: &str) -> Option<Command> {
    let mut parts = text.split_whitespace();
    let word = parts.next()?;
    let arg = parts.next().map(str::to_string);
    if parts.next().is_some() {
        return None;
    }
    let no_arg = |c: Command| arg.is_none().then_some(c);
    match word {
        "fleet" => no_arg(Command::Fleet),
        "wizard" => no_arg(Command::View(ViewKind::Wizard)),
        "troubleshoot" => no_arg(Command::View(ViewKind::Troubleshoot)),
        "drill" => Some(match arg {
            Some(fqdn) => Command::Drill(fqdn),
            None => Command::View(ViewKind::Drill),
        }),
        "recover" => no_arg(Command::View(ViewKind::Recover)),
        "decommission" => Some(Command::Decommission(arg)),
        "preflight" => Some(Command::Preflight(arg)),
        "theme" => Some(Command::Theme(arg)),
        "keymap" => Some(Command::Keymap(arg)),
        "help" => no_arg(Command::Help),
        "arm" => no_arg(Command::Arm),
        "disarm" => no_arg(Command::Disarm),
        "quit" | "q" => no_arg(Command::Quit),
        "matrix" => no_arg(Command::Matrix),
        "sort" => no_arg(Command::Sort),
        "jump" => arg.clone().map(Command::Jump),
        "group" => match arg.as_deref() {
            None => Some(Command::Group(None)),
            Some(g) => crate::provision::fleet::GroupBy::parse(g).map(|g| Command::Group(Some(g))),
        },
        "fold" => match arg.as_deref() {
            None => Some(Command::Fold(None)),
            Some("all") => Some(Command::Fold(Some(true))),
            Some("none") => Some(Command::Fold(Some(false))),
            Some(_) => None,
        },
        "reconcile" => no_arg(Command::Flux(
            crate::provision::fleet::FluxAction::Reconcile,
        )),
        "suspend" => no_arg(Command::Flux(crate::provision::fleet::FluxAction::Suspend)),
        "resume" => no_arg(Command::Flux(crate::provision::fleet::FluxAction::Resume)),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Run(Command),
    /// Enter on a command that needs an argument: put it in the input instead.
    Complete(String),
    Unknown(String),
    Empty,
}

/// What Enter does: run the typed command if it is complete, else the selected completion.
pub fn resolve(input: &str, candidates: &[Candidate], selected: usize) -> Resolved {
    let typed = input.trim();
    if typed.is_empty() {
        return Resolved::Empty;
    }
    let chosen = candidates.get(selected.min(candidates.len().saturating_sub(1)));
    let run = |text: &str| match parse(text) {
        Some(cmd) => Resolved::Run(cmd),
        None => Resolved::Unknown(typed.to_string()),
    };
    if typed.contains(' ') {
        // "theme mo" runs the completion; "theme nothere" runs as typed and reports the error.
        return run(chosen.map(|c| c.text.as_str()).unwrap_or(typed));
    }
    if COMMANDS.iter().any(|(w, _)| *w == typed) {
        return run(typed);
    }
    match chosen {
        Some(c) if c.text.ends_with(' ') => Resolved::Complete(c.text.clone()),
        Some(c) => run(&c.text),
        None => Resolved::Unknown(typed.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's palette table names every command of the palette, each with a headless
    /// column, so the documentation cannot fall behind the table it describes.
    #[test]
    fn the_readme_lists_every_palette_command_with_its_headless_counterpart() {
        let readme = include_str!("../../README.md");
        // Escaped bars (`a\|b`) are part of a cell.
        let rows: Vec<String> = readme
            .lines()
            .skip_while(|l| !l.starts_with("| palette | what it does | headless |"))
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.replace("\\|", "/"))
            .collect();
        assert!(rows.len() > 2, "README has no palette table");
        for (word, _) in COMMANDS {
            let row = rows
                .iter()
                .find(|r| {
                    r.split('|').nth(1).is_some_and(|c| {
                        c.split(',').any(|w| {
                            w.trim().trim_matches('`').split(' ').next()
                                == Some(&format!(":{word}"))
                        })
                    })
                })
                .unwrap_or_else(|| panic!("README's palette table has no :{word}"));
            assert_eq!(row.split('|').count(), 5, "{row}");
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn completes_commands_and_arguments() {
        let themes = names(&["16", "256", "default", "mono"]);
        let keymaps = names(&["default", "vim"]);
        let c = candidates("dr", &themes, &keymaps);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].text, "drill");
        let c = candidates("th", &themes, &keymaps);
        assert_eq!(c[0].text, "theme ");
        let c = candidates("theme m", &themes, &keymaps);
        assert_eq!(
            c.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
            ["theme mono"]
        );
        assert_eq!(candidates("keymap ", &themes, &keymaps).len(), 2);
        assert!(candidates("zzz", &themes, &keymaps).is_empty());
    }

    #[test]
    fn resolves_enter() {
        let themes = names(&["default", "mono"]);
        let none: Vec<String> = Vec::new();
        let r = |s: &str| resolve(s, &candidates(s, &themes, &none), 0);
        assert_eq!(r("dri"), Resolved::Run(Command::View(ViewKind::Drill)));
        assert_eq!(r("quit"), Resolved::Run(Command::Quit));
        assert_eq!(r("th"), Resolved::Complete("theme ".into()));
        assert_eq!(r("theme"), Resolved::Run(Command::Theme(None)));
        assert_eq!(
            r("theme mo"),
            Resolved::Run(Command::Theme(Some("mono".into())))
        );
        assert_eq!(
            r("theme nothere"),
            Resolved::Run(Command::Theme(Some("nothere".into())))
        );
        assert_eq!(r("bogus"), Resolved::Unknown("bogus".into()));
        assert_eq!(r(""), Resolved::Empty);
    }
}
