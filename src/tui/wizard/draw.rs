//! Drawing the wizard form and the progress screen with the theme's slots (every state also has
//! a symbol, never colour alone).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::provision::catalyst::model::PHASE0_MARKERS;
use crate::provision::wizard::{Severity, Step};
use crate::tui::msg::{Level, Notice};
use crate::tui::theme::{Slot, Theme};

use super::progress::{CLOUD_INIT_EXPECTED, PHASE1_EXPECTED, ProgressScreen};
use super::rows::Row;
use super::{Mode, WizardScreen};

fn block<'a>(title: String, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Slot::BorderFocused))
        .title(Span::styled(title, theme.style(Slot::BorderFocused)))
}

fn notice_line<'a>(n: &Notice, theme: &Theme) -> Line<'a> {
    let (sym, slot) = match n.level {
        Level::Info => ("ℹ", Slot::NoticeInfo),
        Level::Warn => ("⚠", Slot::NoticeWarn),
        Level::Error => ("✖", Slot::NoticeError),
    };
    Line::from(Span::styled(format!("{sym} {}", n.text), theme.style(slot)))
}

pub fn draw(frame: &mut Frame, area: Rect, s: &WizardScreen, theme: &Theme) {
    match &s.mode {
        Mode::Form => draw_form(frame, area, s, theme),
        Mode::Progress(p) => draw_progress(frame, area, p, theme),
    }
}

fn step_indicator<'a>(s: &WizardScreen, theme: &Theme, width: u16) -> Line<'a> {
    let full = indicator(s, theme, false);
    if full.width() <= width as usize {
        full
    } else {
        indicator(s, theme, true)
    }
}

/// The step indicator; `compact` names only the current step.
fn indicator<'a>(s: &WizardScreen, theme: &Theme, compact: bool) -> Line<'a> {
    let w = &s.wizard;
    let mut spans = Vec::new();
    for (i, step) in Step::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" › ", theme.style(Slot::Muted)));
        }
        let mark = if *step == w.step() {
            "▶"
        } else if *step != Step::Review && w.step_done(*step) {
            "✓"
        } else {
            "·"
        };
        let slot = if *step == w.step() {
            Slot::Selected
        } else if mark == "✓" {
            Slot::StateInstalled
        } else {
            Slot::Muted
        };
        let text = if compact && *step != w.step() {
            format!("{mark}{}", step.number())
        } else {
            format!("{mark}{} {}", step.number(), step.title())
        };
        spans.push(Span::styled(text, theme.style(slot)));
    }
    Line::from(spans)
}

fn draw_form(frame: &mut Frame, area: Rect, s: &WizardScreen, theme: &Theme) {
    let outer = block(s.title(), theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let w = &s.wizard;
    let issues = w.issues(w.step());
    let issue_h = (issues.len().min(4) as u16).max(1);
    let edit_h = if s.editing.is_some() { 3 } else { 0 };
    let [indicator, list, edit, issue_area, msg, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(edit_h),
        Constraint::Length(issue_h),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(step_indicator(s, theme, indicator.width)),
        indicator,
    );

    let errors = w.field_errors(w.step());
    let all = super::screen_rows(s);
    let height = list.height as usize;
    let cursor = s.cursor.min(all.len().saturating_sub(1));
    let first = cursor.saturating_sub(height.saturating_sub(1));
    let mut lines = Vec::new();
    for (i, row) in all.iter().enumerate().skip(first).take(height) {
        lines.push(row_line(row, i == cursor, &errors, theme));
    }
    frame.render_widget(Paragraph::new(lines), list);

    if let Some((field, ta)) = &s.editing {
        let mut ta = ta.clone();
        ta.set_block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.style(Slot::BorderFocused))
                .title(format!("editing {field} — enter/esc to finish")),
        );
        ta.set_style(theme.style(Slot::Input));
        ta.set_cursor_line_style(Style::default());
        frame.render_widget(&ta, edit);
    }

    let issue_lines: Vec<Line> = if issues.is_empty() {
        vec![Line::from(Span::styled(
            "✓ this step is complete",
            theme.style(Slot::StateInstalled),
        ))]
    } else {
        issues
            .iter()
            .take(4)
            .map(|i| {
                let (sym, slot) = match i.severity {
                    Severity::Error => ("✖", Slot::NoticeError),
                    Severity::Pending => ("…", Slot::NoticeInfo),
                    Severity::Warning => ("⚠", Slot::NoticeWarn),
                };
                let field = if i.field.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", i.field)
                };
                Line::from(Span::styled(
                    format!("{sym} {field}{}", i.message),
                    theme.style(slot),
                ))
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(issue_lines), issue_area);

    let msg_line = if s.restore_offer.is_some() {
        notice_line(
            &Notice::warn("a saved draft was found: r restore it · d discard it"),
            theme,
        )
    } else if let Some(p) = w.pending_cascade() {
        notice_line(
            &Notice::warn(format!(
                "cascade — y apply · n cancel: +[{}] −[{}]",
                p.add.join(" "),
                p.remove.join(" ")
            )),
            theme,
        )
    } else if s.provisioning && !s.awaiting_preflight {
        notice_line(
            &Notice::info("provisioning: waiting for catalyst-api…"),
            theme,
        )
    } else if let Some(n) = &s.message {
        notice_line(n, theme)
    } else {
        Line::default()
    };
    frame.render_widget(Paragraph::new(msg_line), msg);
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            "↑↓ move  ←→ change  space toggle  enter edit/run  ] next  [ back  esc leave",
            theme.style(Slot::HintText),
        ))),
        hints,
    );
}

fn row_line<'a>(
    row: &Row,
    selected: bool,
    errors: &std::collections::BTreeMap<String, String>,
    theme: &Theme,
) -> Line<'a> {
    let pointer = if selected { "▸ " } else { "  " };
    let label_style = if selected {
        theme.style(Slot::Selected)
    } else {
        theme.style(Slot::Base)
    };
    let mut spans = vec![Span::styled(pointer.to_string(), label_style)];
    let mut err_key = None;
    match row {
        Row::Text {
            field,
            label,
            value,
            status,
            ..
        } => {
            spans.push(Span::styled(format!("{label:<26}"), label_style));
            spans.push(Span::styled(
                if value.is_empty() {
                    "(empty)".to_string()
                } else {
                    value.clone()
                },
                theme.style(Slot::Input),
            ));
            if let Some(st) = status {
                spans.push(Span::styled(format!("  [{st}]"), theme.style(Slot::Muted)));
            }
            err_key = Some(field.clone());
        }
        Row::Choice {
            label,
            value,
            field,
            ..
        } => {
            spans.push(Span::styled(format!("{label:<26}"), label_style));
            spans.push(Span::styled(
                format!("‹ {value} ›"),
                theme.style(Slot::Input),
            ));
            err_key = Some(field.clone());
        }
        Row::Toggle { label, on, .. } => {
            spans.push(Span::styled(format!("{label:<26}"), label_style));
            spans.push(Span::styled(
                if *on { "[x] yes" } else { "[ ] no" }.to_string(),
                theme.style(Slot::Input),
            ));
        }
        Row::Component {
            id,
            selected: on,
            detail,
        } => {
            spans.push(Span::styled(
                format!("{} {id:<26}", if *on { "[x]" } else { "[ ]" }),
                label_style,
            ));
            spans.push(Span::styled(detail.clone(), theme.style(Slot::Muted)));
        }
        Row::Action {
            label, disabled, ..
        } => match disabled {
            None => spans.push(Span::styled(
                format!("[ {label} ]"),
                theme.style(Slot::HintKey),
            )),
            Some(why) => {
                spans.push(Span::styled(
                    format!("[ {label} ]"),
                    theme.style(Slot::Muted),
                ));
                spans.push(Span::styled(
                    format!("  disabled — {why}"),
                    theme.style(Slot::NoticeWarn),
                ));
            }
        },
        Row::Info { label, value } => {
            spans.push(Span::styled(
                format!("{label:<26}"),
                theme.style(Slot::Header),
            ));
            spans.push(Span::styled(value.clone(), theme.style(Slot::Base)));
        }
    }
    if let Some(e) = err_key.and_then(|k| errors.get(&k)) {
        spans.push(Span::styled(
            format!("  ✖ {e}"),
            theme.style(Slot::NoticeError),
        ));
    }
    Line::from(spans)
}

fn component_symbol(state: &str) -> (&'static str, Slot) {
    match state {
        "installed" | "ready" => ("✔", Slot::StateInstalled),
        "installing" | "reconciling" => ("◐", Slot::StateInstalling),
        "failed" => ("✖", Slot::StateFailed),
        "degraded" => ("▲", Slot::StateDegraded),
        "stalled" => ("‼", Slot::StateStalled),
        _ => ("○", Slot::StatePending),
    }
}

fn fmt_secs(s: i64) -> String {
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn parse_time(t: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

/// The Phase-0 timeline lines, plus cloud-init and Phase 1 against the runbook's expectations.
pub fn timeline_lines<'a>(p: &ProgressScreen, theme: &Theme) -> Vec<Line<'a>> {
    let spans = p.fold.phase0_timeline();
    let failure = p.fold.phase0_failure();
    let mut out = Vec::new();
    for (i, m) in PHASE0_MARKERS.iter().enumerate() {
        let span = spans.iter().find(|s| s.phase == *m);
        let failed_here = failure
            .as_ref()
            .is_some_and(|f| f.step.as_deref() == Some(*m))
            || (failure.is_some()
                && span.is_some()
                && spans.last().map(|s| s.phase.as_str()) == Some(*m));
        let (sym, slot, text) = match span {
            None => ("○", Slot::StatePending, "waiting".to_string()),
            Some(_) if failed_here => (
                "✖",
                Slot::StateFailed,
                failure.as_ref().map_or(String::new(), |f| f.error.clone()),
            ),
            Some(s) => match s.duration_secs {
                Some(d) => {
                    let exp = s.expected_secs.map_or(String::new(), |(lo, hi)| {
                        format!(" (expected {}–{})", fmt_secs(lo), fmt_secs(hi))
                    });
                    if s.overrun {
                        (
                            "⚠",
                            Slot::StateDegraded,
                            format!("{} OVERRUN{exp}", fmt_secs(d)),
                        )
                    } else {
                        ("✔", Slot::StateInstalled, format!("{}{exp}", fmt_secs(d)))
                    }
                }
                None if i + 1 == PHASE0_MARKERS.len()
                    && (p.fold.status() == "ready" || !p.fold.components.is_empty()) =>
                {
                    ("✔", Slot::StateInstalled, "done".to_string())
                }
                None => (
                    "◐",
                    Slot::StateInstalling,
                    format!("running since {}", s.started_at),
                ),
            },
        };
        out.push(Line::from(vec![
            Span::styled(format!(" {sym} {m:<15}"), theme.style(slot)),
            Span::styled(text, theme.style(Slot::Muted)),
        ]));
    }
    // Cloud-init runs from the end of tofu-apply to flux-bootstrap's first component; Phase 1
    // from flux-bootstrap to the last component installed. Both are judged like the steps.
    let marker = |name: &str| {
        p.fold
            .markers
            .iter()
            .find(|(m, _)| m == name)
            .and_then(|(_, t)| parse_time(t))
    };
    let last_component = p
        .fold
        .components
        .values()
        .filter_map(|c| parse_time(&c.since))
        .max();
    let judge = |label: &str, d: Option<i64>, (lo, hi): (i64, i64), done: bool| {
        let (sym, slot, text) = match d {
            None => ("○", Slot::StatePending, "waiting".to_string()),
            Some(d) if d > hi => (
                "⚠",
                Slot::StateDegraded,
                format!(
                    "{} OVERRUN (expected {}–{})",
                    fmt_secs(d),
                    fmt_secs(lo),
                    fmt_secs(hi)
                ),
            ),
            Some(d) => (
                if done { "✔" } else { "◐" },
                if done {
                    Slot::StateInstalled
                } else {
                    Slot::StateInstalling
                },
                format!(
                    "{} (expected {}–{})",
                    fmt_secs(d),
                    fmt_secs(lo),
                    fmt_secs(hi)
                ),
            ),
        };
        Line::from(vec![
            Span::styled(format!(" {sym} {label:<15}"), theme.style(slot)),
            Span::styled(text, theme.style(Slot::Muted)),
        ])
    };
    let cloud_init = match (marker("tofu-output"), marker("flux-bootstrap")) {
        (Some(a), Some(b)) => Some((b - a).num_seconds()),
        _ => None,
    };
    out.push(judge(
        "cloud-init",
        cloud_init,
        CLOUD_INIT_EXPECTED,
        cloud_init.is_some(),
    ));
    let phase1_done = p.fold.status() == "ready";
    let phase1 = match (marker("flux-bootstrap"), last_component) {
        (Some(a), Some(b)) => Some((b - a).num_seconds().max(0)),
        _ => None,
    };
    out.push(judge("phase 1", phase1, PHASE1_EXPECTED, phase1_done));
    out
}

/// How the new Sovereign's apiserver compares with the stream.
fn cluster_line<'a>(p: &ProgressScreen, theme: &Theme) -> Line<'a> {
    let (sym, slot, text) = match (&p.cluster, &p.cluster_error) {
        (_, Some(e)) => ("✖", Slot::NoticeError, format!("apiserver: {e}")),
        (None, None) if p.fold.markers.iter().any(|(m, _)| m == "flux-bootstrap") => (
            "◌",
            Slot::Muted,
            "apiserver: waiting for the kubeconfig".to_string(),
        ),
        (None, None) => (
            "○",
            Slot::Muted,
            "apiserver: watched once Phase 0 has bootstrapped Flux".to_string(),
        ),
        (Some(view), None) => {
            let diff = view.disagreements(&p.fold.components);
            if diff.is_empty() {
                (
                    "✔",
                    Slot::StateInstalled,
                    format!(
                        "apiserver: {} HelmReleases, agrees with the stream",
                        view.states.len()
                    ),
                )
            } else {
                let first: Vec<String> = diff
                    .iter()
                    .take(3)
                    .map(|(id, s, c)| format!("{id} stream={s} cluster={c}"))
                    .collect();
                (
                    "≠",
                    Slot::NoticeWarn,
                    format!(
                        "apiserver differs for {}: {}{}",
                        diff.len(),
                        first.join("; "),
                        if diff.len() > 3 { "; …" } else { "" }
                    ),
                )
            }
        }
    };
    Line::from(Span::styled(format!("{sym} {text}"), theme.style(slot)))
}

fn draw_progress(frame: &mut Frame, area: Rect, p: &ProgressScreen, theme: &Theme) {
    let outer = block(format!("Provisioning {}", p.title()), theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let fold = &p.fold;
    let banner = fold.first_seen_warning || !fold.banners.is_empty();
    let comps = fold.component_order.len();
    let grid_cols = (inner.width / 30).max(1) as usize;
    let grid_h = comps.div_ceil(grid_cols).max(1) as u16 + 1;
    let [
        head,
        cluster_area,
        banner_area,
        timeline,
        grid,
        log,
        msg,
        hints,
    ] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(if banner { 1 } else { 0 }),
        Constraint::Length(PHASE0_MARKERS.len() as u16 + 3),
        Constraint::Length(grid_h.min(inner.height / 3)),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);

    let status = fold.status().to_string();
    let status_slot = match status.as_str() {
        "ready" => Slot::StateInstalled,
        "failed" | "cancelled" => Slot::StateFailed,
        _ => Slot::StateInstalling,
    };
    let counts = fold.component_counts();
    let installed = counts.get("installed").copied().unwrap_or(0);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(format!("status {status}"), theme.style(status_slot)),
            Span::styled(
                format!(
                    "  ·  Phase 1 {installed}/{comps} installed  ·  {}  ·  {} events, {} duplicates dropped",
                    p.link, fold.applied, fold.duplicates
                ),
                theme.style(Slot::Muted),
            ),
        ])),
        head,
    );
    frame.render_widget(Paragraph::new(cluster_line(p, theme)), cluster_area);
    if banner {
        let text = fold.banners.first().map_or_else(
            || "first-seen warning: HelmReleases not seen yet".to_string(),
            |e| e.message.clone(),
        );
        frame.render_widget(
            Paragraph::new(notice_line(&Notice::warn(text), theme)),
            banner_area,
        );
    }
    let mut tl = vec![Line::from(Span::styled(
        "Phase 0 (tofu) and Phase 1",
        theme.style(Slot::Header),
    ))];
    tl.extend(timeline_lines(p, theme));
    frame.render_widget(Paragraph::new(tl), timeline);

    // DAG order once the apiserver told us the dependsOn edges; first-reported order before.
    let order = match &p.cluster {
        Some(c) => c.dag_order(&fold.component_order),
        None => fold.component_order.clone(),
    };
    let mut grid_lines = vec![Line::from(Span::styled(
        match (comps, &p.cluster) {
            (0, _) => "Phase 1 components: none reported yet",
            (_, Some(_)) => "Phase 1 components (dependency order, from the apiserver)",
            (_, None) => "Phase 1 components (order first reported)",
        },
        theme.style(Slot::Header),
    ))];
    let cell = (inner.width as usize / grid_cols).max(10);
    for chunk in order.chunks(grid_cols) {
        let mut spans = Vec::new();
        for id in chunk {
            let st = fold
                .components
                .get(id)
                .map_or("pending", |c| c.state.as_str());
            let (sym, slot) = component_symbol(st);
            let text: String = format!("{sym} {id}").chars().take(cell - 1).collect();
            spans.push(Span::styled(format!("{text:<cell$}"), theme.style(slot)));
        }
        grid_lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(grid_lines), grid);

    let lines: Vec<&crate::provision::catalyst::Event> = if p.query.is_empty() {
        fold.log.iter().collect()
    } else {
        let q = p.query.to_lowercase();
        fold.log
            .iter()
            .filter(|e| e.message.to_lowercase().contains(&q))
            .collect()
    };
    let title = if p.query.is_empty() {
        format!(
            "log ({} lines, {} evicted)",
            fold.log.len(),
            fold.log.evicted
        )
    } else {
        format!(
            "log matching {:?}: {} of {}",
            p.query,
            lines.len(),
            fold.log.len()
        )
    };
    let log_block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.style(Slot::Border))
        .title(title);
    let h = log_block.inner(log).height as usize;
    let end = lines.len().saturating_sub(p.scroll);
    let start = end.saturating_sub(h);
    let log_lines: Vec<Line> = lines[start..end]
        .iter()
        .map(|e| {
            let slot = match e.level.as_str() {
                "error" => Slot::NoticeError,
                "warn" | "warning" => Slot::NoticeWarn,
                _ => Slot::Base,
            };
            Line::from(vec![
                Span::styled(format!("{:<14} ", e.phase), theme.style(Slot::Muted)),
                Span::styled(e.message.clone(), theme.style(slot)),
            ])
        })
        .collect();
    frame.render_widget(
        // Unwrapped, one entry per row, so the newest line is always the bottom one.
        Paragraph::new(log_lines).block(log_block),
        log,
    );

    let msg_line = if p.searching {
        Line::from(vec![
            Span::styled("/", theme.style(Slot::HintKey)),
            Span::styled(p.query.clone(), theme.style(Slot::Input)),
        ])
    } else if let Some(f) = fold.phase0_failure() {
        notice_line(
            &Notice::error(format!(
                "Phase 0 failed at {} (R retries that phase): {}",
                f.step.as_deref().unwrap_or("an unknown step"),
                f.error
            )),
            theme,
        )
    } else if fold.needs_refresh_watch() {
        notice_line(
            &Notice::warn(
                "ready with no components while a kubeconfig exists — w runs refresh-watch",
            ),
            theme,
        )
    } else if let Some(n) = &p.message {
        notice_line(n, theme)
    } else {
        Line::default()
    };
    frame.render_widget(Paragraph::new(msg_line), msg);
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            if p.following {
                "/ search log  ↑↓ scroll  R retry phase  w refresh-watch  esc leave"
            } else {
                "/ search log  ↑↓ scroll  R retry phase  w refresh-watch  f follow again  N new wizard  esc leave"
            },
            theme.style(Slot::HintText),
        ))),
        hints,
    );
}
