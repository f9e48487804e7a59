//! HelmRelease detail: state, message, dependsOn, every condition, the transitions seen since the
//! cockpit started, and the object's Kubernetes Events (fetched from the cluster when opened).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::super::app::{App, Focus};
use super::super::theme::{Slot, Theme};
use super::super::views::PendingAction;
use super::super::views::fleet_matrix::{prod_span, stale_marker};
use super::{connection_cell, pane_block, short_time, state_slot, state_symbol};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, fqdn: &str, name: &str) {
    let focused = app.focus == Focus::Main;
    let block = pane_block(format!(" {fqdn} · HelmRelease {name} "), focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let sovereign = app.fleet.iter().find(|s| s.fqdn == fqdn);
    let Some((s, c)) =
        sovereign.and_then(|s| s.components.iter().find(|c| c.name == name).map(|c| (s, c)))
    else {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "this HelmRelease is no longer in the fleet data",
                theme.style(Slot::NoticeWarn),
            )),
            inner,
        );
        return;
    };
    let header = theme.style(Slot::Header);
    let muted = theme.style(Slot::Muted);
    let mut lines = Vec::new();
    let mut top = vec![Span::styled(
        format!("{} {}", state_symbol(c.state), c.state),
        theme.style(state_slot(c.state)),
    )];
    top.push(Span::raw(format!("  {}/{}  ", c.namespace, c.name)));
    top.extend(connection_cell(&s.connection, theme).spans);
    if let Some(m) = stale_marker(s, app.fv.now()) {
        top.push(Span::styled(
            format!("  {m}"),
            theme.style(Slot::NoticeWarn),
        ));
    }
    if let Some(p) = prod_span(s, theme) {
        top.push(Span::raw("  "));
        top.push(p);
    }
    lines.push(Line::from(top));
    lines.push(Line::from(vec![
        Span::styled("message   ", header),
        Span::raw(c.message.clone()),
    ]));
    lines.push(Line::from(vec![
        Span::styled("since     ", header),
        Span::raw(
            c.last_transition
                .as_ref()
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "—".into()),
        ),
    ]));
    lines.push(Line::from(vec![
        Span::styled("dependsOn ", header),
        Span::raw(if c.depends_on.is_empty() {
            "nothing".to_string()
        } else {
            c.depends_on.join(", ")
        }),
    ]));
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled("Conditions", header)));
    if c.conditions.is_empty() {
        lines.push(Line::from(Span::styled("  none reported yet", muted)));
    }
    for k in &c.conditions {
        let sym = match &*k.status {
            "True" => "✔",
            "False" => "✖",
            _ => "?",
        };
        lines.push(Line::from(vec![
            Span::raw(format!(
                "  {sym} {:<12} {:<7} {:<24} ",
                k.type_, k.status, k.reason
            )),
            Span::styled(k.last_transition_time.clone().unwrap_or_default(), muted),
        ]));
        if !k.message.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("      {}", k.message),
                muted,
            )));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        "Transitions seen since start",
        header,
    )));
    match app
        .fv
        .transitions
        .get(&(fqdn.to_string(), name.to_string()))
    {
        Some(list) if !list.is_empty() => {
            for t in list.iter().rev() {
                lines.push(Line::from(vec![
                    Span::raw(format!("  {}  ", short_time(&t.at))),
                    Span::styled(
                        format!("{} {}", state_symbol(t.from), t.from),
                        theme.style(state_slot(t.from)),
                    ),
                    Span::raw(" → "),
                    Span::styled(
                        format!("{} {}", state_symbol(t.to), t.to),
                        theme.style(state_slot(t.to)),
                    ),
                    Span::styled(format!("  {}", t.message), muted),
                ]));
            }
        }
        _ => lines.push(Line::from(Span::styled("  none yet", muted))),
    }
    // Rows the wrapped text takes, so the Events start below it (and keep at least 4 rows).
    let w = usize::from(inner.width.max(1));
    let needed: usize = lines.iter().map(|l| l.width().max(1).div_ceil(w)).sum();
    let upper_h = (needed as u16 + 1).min(inner.height.saturating_sub(4));
    let [upper, lower] =
        Layout::vertical([Constraint::Length(upper_h), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), upper);

    let mut ev = Vec::new();
    let events = app
        .fv
        .events
        .as_ref()
        .filter(|e| e.fqdn == fqdn && e.name == name);
    match (events, app.fv.live.is_some()) {
        (Some(e), _) => match &e.result {
            Ok(list) if list.is_empty() => ev.push(Line::from(Span::styled(
                "  no Events for this object",
                muted,
            ))),
            Ok(list) => {
                for e in list {
                    let slot = if e.type_ == "Warning" {
                        Slot::NoticeWarn
                    } else {
                        Slot::Muted
                    };
                    ev.push(Line::from(vec![
                        Span::raw(format!(
                            "  {}  ",
                            e.last_seen.as_ref().map(short_time).unwrap_or_default()
                        )),
                        Span::styled(
                            format!("{:<8} {:<22}", e.type_, e.reason),
                            theme.style(slot),
                        ),
                        Span::raw(format!(" ×{} {}", e.count, e.message)),
                    ]));
                }
            }
            Err(err) => ev.push(Line::from(Span::styled(
                format!("  could not read Events: {err}"),
                theme.style(Slot::NoticeError),
            ))),
        },
        (None, true) => ev.push(Line::from(Span::styled("  fetching Events…", muted))),
        (None, false) => ev.push(Line::from(Span::styled(
            "  Events are read from the cluster on demand; this data has no live fleet hub",
            muted,
        ))),
    }
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.style(Slot::Border))
        .title(Span::styled(" Events ", header));
    frame.render_widget(Paragraph::new(ev).block(block), lower);
}

/// The confirm prompt of an armed action: it names the object and the Sovereign.
pub fn draw_confirm(frame: &mut Frame, area: Rect, theme: &Theme, p: &PendingAction) {
    let width = 80.min(area.width.saturating_sub(4));
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + area.height / 3,
        width,
        height: 5.min(area.height),
    };
    frame.render_widget(Clear, rect);
    let block =
        pane_block(" Confirm armed action ".into(), true, theme).style(theme.style(Slot::Overlay));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    frame.render_widget(
        Paragraph::new(Span::styled(p.prompt(), theme.style(Slot::NoticeWarn)))
            .wrap(Wrap { trim: true })
            .style(theme.style(Slot::Overlay)),
        inner,
    );
}
