//! Drawing: state in, frame out. [`draw`] reads the [`App`] and returns what the frame laid out
//! ([`Drawn`]: page sizes, scroll offsets) for the reducer to take in; it never writes into the
//! state. Every state is shown by a symbol and a word as well as by colour, so the cockpit reads
//! the same in `mono` as in truecolor.

pub mod columns;
mod matrix;
mod release;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use crate::provision::fleet::model::{ConnectionState, SovereignStatus};
use crate::provision::flux::ComponentState;

use super::app::{App, Focus, NavItem};
use super::keymap::Action;
use super::msg::{Drawn, Level, ViewKind};
use super::palette;
use super::pane::{DrawCx, Overlay, View};
use super::theme::{Slot, Theme};
use columns::Column;

/// Below this the layout is replaced by the "terminal too small" screen.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;
/// What a table's highlight symbol (`▶ `) takes from its width.
const HIGHLIGHT_WIDTH: u16 = 2;

pub fn state_symbol(state: ComponentState) -> &'static str {
    state.symbol()
}

pub fn state_slot(state: ComponentState) -> Slot {
    match state {
        ComponentState::Installed => Slot::StateInstalled,
        ComponentState::Installing => Slot::StateInstalling,
        ComponentState::Pending => Slot::StatePending,
        ComponentState::Degraded => Slot::StateDegraded,
        ComponentState::Failed => Slot::StateFailed,
        ComponentState::Stalled => Slot::StateStalled,
        ComponentState::Suspended => Slot::StateSuspended,
    }
}

/// What is known of one Sovereign's HelmReleases, for its one-glyph summary (navigation, fleet
/// list, matrix, summary lines). One rule: no ✔ without data — a Sovereign nothing has been
/// read from yet is unknown, never "all installed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Never live and nothing read: its state is unknown.
    NoData,
    /// Read, and it has no HelmReleases.
    NoReleases,
    AllInstalled,
    Worst(ComponentState),
}

impl Known {
    pub fn of(s: &SovereignStatus) -> Known {
        if s.components.is_empty() {
            if s.last_live.is_none() && !s.connection.is_live() {
                return Known::NoData;
            }
            return Known::NoReleases;
        }
        match s.worst() {
            Some(c) => Known::Worst(c.state),
            None => Known::AllInstalled,
        }
    }

    /// Glyph, word, and colour slot: the glyph and the word carry the meaning, the colour only
    /// repeats it.
    pub fn symbol(self) -> (&'static str, &'static str, Slot) {
        match self {
            Known::NoData => ("?", "no data yet", Slot::Muted),
            Known::NoReleases => ("·", "no HelmReleases", Slot::Muted),
            Known::AllInstalled => ("✔", "all installed", Slot::StateInstalled),
            Known::Worst(st) => (state_symbol(st), st.as_str(), state_slot(st)),
        }
    }
}

pub fn connection_symbol(c: &ConnectionState) -> (&'static str, Slot) {
    match c {
        ConnectionState::Live => ("●", Slot::ConnLive),
        ConnectionState::Connecting => ("◌", Slot::ConnConnecting),
        ConnectionState::Degraded { .. } => ("◑", Slot::ConnBad),
        ConnectionState::Forbidden { .. } => ("⊘", Slot::ConnBad),
        ConnectionState::AuthExpired { .. } => ("◇", Slot::ConnBad),
        ConnectionState::Unreachable { .. } => ("✖", Slot::ConnBad),
    }
}

pub(super) fn short_time(t: &DateTime<Utc>) -> String {
    t.format("%m-%d %H:%M").to_string()
}

/// Draw one frame of `app`; hand the result to the reducer as [`super::msg::Msg::Drawn`].
pub fn draw(frame: &mut Frame, app: &App) -> Drawn {
    let mut drawn = Drawn::default();
    let area = frame.area();
    let theme = &app.theme;
    frame.render_widget(Block::default().style(theme.style(Slot::Base)), area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area, theme);
        return drawn;
    }
    let [title, body, notice, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let nav_width = (area.width / 4).clamp(24, 34);
    let [nav, mut main] =
        Layout::horizontal([Constraint::Length(nav_width), Constraint::Min(1)]).areas(body);
    // The matrix needs every column it can get: it takes the whole width.
    let wide_view = app.view() == &View::Matrix;
    if wide_view {
        main = body;
    }

    draw_title(frame, title, app, theme);
    if !wide_view {
        draw_nav(frame, nav, app, theme);
    }
    // The top pane: one with its own state draws itself; the fleet views are drawn here.
    match app.top_pane() {
        Some(pane) => pane.draw(
            frame,
            main,
            &DrawCx {
                theme,
                armed: app.armed,
            },
        ),
        None => match app.view() {
            View::Fleet => draw_fleet(frame, main, app, theme, &mut drawn),
            View::Sovereign(fqdn) => draw_sovereign(frame, main, app, theme, fqdn, &mut drawn),
            View::Matrix => matrix::draw(frame, main, app, theme, &mut drawn),
            View::Release { fqdn, name } => release::draw(frame, main, app, theme, fqdn, name),
            // Their state is gone: nothing to draw.
            View::Wizard
            | View::Recover
            | View::Decommission
            | View::Preflight
            | View::Troubleshoot
            | View::Drill => {}
        },
    }
    draw_notice(frame, notice, app, theme);
    draw_footer(frame, footer, app, theme);
    match app.overlay() {
        Some(Overlay::Help { scroll }) => {
            // Clamp the stored offset so scrolling back up starts moving at once.
            drawn.help_scroll = Some(draw_help(frame, area, app, theme, *scroll));
        }
        Some(Overlay::Palette(p)) => draw_palette(frame, area, app, theme, p),
        Some(Overlay::Confirm(p)) => release::draw_confirm(frame, area, theme, p),
        None | Some(Overlay::Filter) => {}
    }
    drawn
}

fn draw_too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    let text = vec![
        Line::from(Span::styled(
            format!("terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT})"),
            theme.style(Slot::NoticeWarn),
        )),
        Line::from(Span::styled(
            format!("now {}×{}", area.width, area.height),
            theme.style(Slot::Muted),
        )),
    ];
    let top = area.height.saturating_sub(2) / 2;
    let rect = Rect {
        y: area.y + top,
        height: area.height - top,
        ..area
    };
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        rect,
    );
}

fn draw_title(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let style = if app.armed {
        theme.style(Slot::TitleWarn)
    } else {
        theme.style(Slot::Title)
    };
    let mode = if app.armed { "ARMED" } else { "read-only" };
    // The demo's world clock, in words: a presenter's pause must be visible at a glance.
    let world = match (&app.demo_clock, app.world_paused) {
        (None, _) => "",
        (Some(_), false) => " world running ·",
        (Some(_), true) => " world PAUSED ·",
    };
    let right = format!(
        "{world} theme {} · keymap {} · {} ",
        app.theme.name, app.keymap.name, mode
    );
    let left = format!(" sovtui · {}", app.banner);
    let width = usize::from(area.width);
    let right_len = right.chars().count();
    let left: String = left
        .chars()
        .take(width.saturating_sub(right_len + 1))
        .collect();
    let pad = width.saturating_sub(left.chars().count() + right_len);
    let line = Line::from(vec![
        Span::raw(left),
        Span::raw(" ".repeat(pad)),
        Span::raw(right),
    ]);
    frame.render_widget(Paragraph::new(line).style(style), area);
}

pub(super) fn pane_block<'a>(title: String, focused: bool, theme: &Theme) -> Block<'a> {
    let border = if focused {
        theme.style(Slot::BorderFocused)
    } else {
        theme.style(Slot::Border)
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(title, border))
}

pub(super) fn selection_style(app: &App, pane: Focus, theme: &Theme) -> Style {
    if app.focus == pane && matches!(app.overlay(), None | Some(Overlay::Filter)) {
        theme.style(Slot::Selected)
    } else {
        theme.style(Slot::SelectedUnfocused)
    }
}

fn draw_nav(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Nav;
    let block = pane_block(
        if focused {
            " ▸ Navigate "
        } else {
            " Navigate "
        }
        .to_string(),
        focused,
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);

    // Only the lines on screen are built: the navigation lists every Sovereign (2,000).
    let n = app.fleet.len();
    let views = ViewKind::ALL.len();
    // Lines: SOVEREIGNS, a line per Sovereign (or one saying why there are none), a blank,
    // VIEWS, a line per view.
    let sov_lines = n.max(1);
    let total = 1 + sov_lines + 2 + views;
    let line_of = |item: usize| {
        if item < n {
            1 + item
        } else {
            1 + sov_lines + 2 + (item - n)
        }
    };
    let height = usize::from(inner.height);
    let selected_line = line_of(app.nav_selected.min(n + views - 1));
    let offset = (selected_line + 1).saturating_sub(height);
    let sel_style = selection_style(app, Focus::Nav, theme);
    let on_screen = match app.top_view() {
        View::Fleet => Some(ViewKind::Fleet),
        View::Wizard => Some(ViewKind::Wizard),
        View::Troubleshoot => Some(ViewKind::Troubleshoot),
        View::Drill => Some(ViewKind::Drill),
        View::Recover => Some(ViewKind::Recover),
        // Not in the navigation list: the pane's title names it.
        View::Decommission
        | View::Preflight
        | View::Sovereign(_)
        | View::Matrix
        | View::Release { .. } => None,
    };
    let shown_sovereign = match app.top_view() {
        View::Sovereign(f) | View::Release { fqdn: f, .. } => Some(f.as_str()),
        _ => None,
    };
    let suffix = app.fv.index.common_suffix();
    let item_line = |item: usize| -> Line {
        let selected = item == app.nav_selected;
        let marker = if selected && focused { "▶ " } else { "  " };
        let line = match app.nav_item(item) {
            Some(NavItem::Sovereign(fqdn)) => {
                let s = &app.fleet[item];
                let (sym, _, slot) = Known::of(s).symbol();
                let (csym, cslot) = connection_symbol(&s.connection);
                let mut spans = vec![
                    Span::raw(marker),
                    Span::styled(csym, theme.style(cslot)),
                    Span::styled(sym, theme.style(slot)),
                    Span::raw(" "),
                ];
                // On screen: the ◂ goes before the name so a long FQDN cannot push it out.
                let mut room = usize::from(inner.width).saturating_sub(5);
                if shown_sovereign == Some(fqdn.as_str()) {
                    spans.push(Span::styled("◂", theme.style(Slot::HintKey)));
                    room = room.saturating_sub(1);
                }
                // A long FQDN is elided in the middle, keeping what tells it apart.
                spans.push(Span::raw(crate::provision::fleet::arrange::elide_middle(
                    &fqdn, suffix, room,
                )));
                Line::from(spans)
            }
            Some(NavItem::View(kind)) => {
                // The navigation names what is on screen: the top pane.
                let active = kind.built() && on_screen == Some(kind);
                let mut spans = vec![Span::raw(marker), Span::raw(kind.label())];
                if active {
                    spans.push(Span::styled(" ◂", theme.style(Slot::HintKey)));
                }
                if !kind.built() {
                    spans.push(Span::styled(" (soon)", theme.style(Slot::Muted)));
                }
                Line::from(spans)
            }
            None => Line::raw(""),
        };
        if selected {
            line.style(sel_style)
        } else {
            line
        }
    };
    let lines: Vec<Line> = (offset..total.min(offset + height))
        .map(|l| match l {
            0 => Line::from(Span::styled("SOVEREIGNS", theme.style(Slot::Header))),
            l if l <= sov_lines && n == 0 => {
                let text = if app.waiting_for_data {
                    "  waiting for data…"
                } else {
                    "  none"
                };
                Line::from(Span::styled(text, theme.style(Slot::Muted)))
            }
            l if l <= sov_lines => item_line(l - 1),
            l if l == sov_lines + 1 => Line::raw(""),
            l if l == sov_lines + 2 => Line::from(Span::styled("VIEWS", theme.style(Slot::Header))),
            l => item_line(n + (l - sov_lines - 3)),
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn counts_spans<'a>(s: &SovereignStatus, theme: &Theme) -> Vec<Span<'a>> {
    let counts = s.counts();
    let mut spans = Vec::new();
    // Worst first, so the problem is what the eye lands on.
    let mut states: Vec<_> = counts.iter().collect();
    states.sort_by_key(|(st, _)| std::cmp::Reverse(st.severity()));
    for (state, n) in states {
        if !spans.is_empty() {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(
            format!("{}{}", state_symbol(*state), n),
            theme.style(state_slot(*state)),
        ));
    }
    if spans.is_empty() {
        let (sym, word, slot) = Known::of(s).symbol();
        spans.push(Span::styled(format!("{sym} {word}"), theme.style(slot)));
    }
    spans
}

pub(super) fn connection_cell<'a>(c: &ConnectionState, theme: &Theme) -> Line<'a> {
    let (sym, slot) = connection_symbol(c);
    let mut text = format!("{sym} {}", c.label());
    if let ConnectionState::Degraded { since, .. } | ConnectionState::Unreachable { since, .. } = c
    {
        text.push_str(&format!(" {}", since.format("%H:%M")));
    }
    Line::from(Span::styled(text, theme.style(slot)))
}

/// The pane of a fleet-wide view: `title` (or, while filtering, how many of the fleet match),
/// the fleet's one-line summary, and, for an empty fleet, why. `None` when there is nothing to
/// draw inside; else the area under the summary.
pub(super) fn fleet_pane(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    (view, title): (&str, String),
) -> Option<Rect> {
    use crate::provision::fleet::arrange::{GroupBy, thousands};
    let grouped = match app.fv.index.group_by() {
        GroupBy::None => "",
        GroupBy::Tag => " · by tag",
        GroupBy::Worst => " · by worst state",
    };
    let title = if app.fleet_filter.is_empty() {
        format!("{title}{grouped} ")
    } else {
        format!(
            " {view} · {} of {} match /{}{grouped} ",
            thousands(app.fv.index.matching()),
            thousands(app.fleet.len()),
            app.fleet_filter
        )
    };
    let block = pane_block(title, app.focus == Focus::Main, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if !app.fleet.is_empty() {
        let [summary, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
        frame.render_widget(
            Paragraph::new(Span::styled(
                crate::provision::fleet::arrange::summary_line(
                    app.fv.index.totals(),
                    usize::from(summary.width),
                ),
                theme.style(Slot::Header),
            )),
            summary,
        );
        return Some(rest);
    }
    let text = if app.waiting_for_data {
        "waiting for the first data from the source…"
    } else {
        "the fleet is empty"
    };
    frame.render_widget(
        Paragraph::new(Span::styled(text, theme.style(Slot::Muted))),
        inner,
    );
    None
}

/// A group header's text: fold marker, the group, how many, and (grouped by tag) what their
/// states add up to — words and glyphs, never colour alone.
pub(super) fn group_header_text(g: &crate::provision::fleet::arrange::Group) -> String {
    use crate::provision::fleet::arrange::{GroupKey, thousands};
    let fold = if g.folded { "▸" } else { "▾" };
    let n = g.counts.total();
    let noun = if n == 1 { "Sovereign" } else { "Sovereigns" };
    match &g.key {
        GroupKey::Worst(h) => format!(
            "{fold} {} {} · {} {noun}",
            h.symbol(),
            h.label(),
            thousands(n)
        ),
        key => {
            let parts: Vec<String> = g
                .counts
                .nonzero()
                .map(|(h, c)| format!("{} {} {}", h.symbol(), h.label(), thousands(c)))
                .collect();
            format!(
                "{fold} {} · {} {noun}: {}",
                key.label(),
                thousands(n),
                parts.join(" · ")
            )
        }
    }
}

/// Paint a group header over one line of a table (after its highlight column), keeping the
/// row's highlight when it is the selected row.
pub(super) fn paint_group_header(
    frame: &mut Frame,
    line: Rect,
    text: &str,
    style: Style,
    selected: Option<Style>,
) {
    let buf = frame.buffer_mut();
    buf.set_stringn(line.x, line.y, text, usize::from(line.width), style);
    if let Some(sel) = selected {
        buf.set_style(line, sel);
    }
}

fn draw_fleet(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, drawn: &mut Drawn) {
    use crate::provision::fleet::arrange::{Row as FleetRow, thousands};
    let rows_all = app.fleet_rows();
    let title = format!(" Fleet · {} Sovereigns", thousands(app.fleet.len()));
    let Some(inner) = fleet_pane(frame, area, app, theme, ("Fleet", title)) else {
        return;
    };
    // Only the rows on screen are built (the fleet may be 2,000 long); the scroll offset is
    // kept in the view's state as ratatui's own would be.
    let page = usize::from(inner.height.saturating_sub(1));
    let mut state = app.fleet_table;
    clamp_selection(&mut state, rows_all.len());
    let (first, end) = super::views::fleet_matrix::row_window(
        state.offset(),
        state.selected(),
        rows_all.len(),
        page,
    );
    *state.offset_mut() = first;
    drawn.page = Some(page);
    drawn.fleet_table = Some(state);
    let window = &rows_all[first..end];
    let selected_row = state.selected();
    // Every cell first, so the columns can be measured and laid out by the one rule
    // (`columns::fit`): the name and the state whole, connection and worst item shrink and drop.
    let now = app.fv.now();
    struct Cells<'a> {
        name: Line<'a>,
        conn: [Line<'a>; 3],
        counts: Line<'a>,
        worst: Line<'a>,
    }
    let cells: Vec<Option<Cells>> = window
        .iter()
        .map(|r| {
            let s = &app.fleet[r.sovereign()?];
            let mut name = vec![Span::raw(s.fqdn.clone())];
            if let Some(p) = super::views::fleet_matrix::prod_span(s, theme) {
                name.insert(0, p);
            }
            let (sym, slot) = connection_symbol(&s.connection);
            // Stale: the age of the data says more than when the trouble started.
            let full = match super::views::fleet_matrix::stale_marker(s, now) {
                Some(m) => Line::from(vec![
                    Span::styled(
                        format!("{sym} {} ", s.connection.label()),
                        theme.style(slot),
                    ),
                    Span::styled(m, theme.style(Slot::NoticeWarn)),
                ]),
                None => connection_cell(&s.connection, theme),
            };
            Some(Cells {
                name: Line::from(name),
                conn: [
                    full,
                    Line::from(Span::styled(
                        format!("{sym} {}", s.connection.label()),
                        theme.style(slot),
                    )),
                    Line::from(Span::styled(sym, theme.style(slot))),
                ],
                counts: Line::from(counts_spans(s, theme)),
                worst: worst_line(s, theme),
            })
        })
        .collect();
    let titles = ["Sovereign", "Connection", "HelmReleases", "Worst"];
    let head = |k: usize| columns::text_width(titles[k]);
    // What identifies a Sovereign: its first label (and the PROD cue), whole.
    let ident = window
        .iter()
        .filter_map(|r| r.sovereign())
        .map(|i| {
            let s = &app.fleet[i];
            let first = s.fqdn.split('.').next().unwrap_or(&s.fqdn);
            let prod = if s.is_prod() { 6 } else { 0 };
            columns::text_width(first) + prod
        })
        .max()
        .unwrap_or(0);
    let shown = || cells.iter().flatten();
    let name_max = columns::widest(shown().map(|c| &c.name)).max(head(0));
    let counts_max = columns::widest(shown().map(|c| &c.counts)).max(head(2));
    let cols = [
        Column::identity(ident.max(4), name_max),
        Column::detail(
            1,
            1,
            columns::widest(shown().map(|c| &c.conn[0])).max(head(1)),
        ),
        Column::identity(counts_max.min(8), counts_max),
        Column::detail(
            2,
            12,
            columns::widest(shown().map(|c| &c.worst)).max(head(3)),
        ),
    ];
    let widths = columns::fit(&cols, inner.width.saturating_sub(HIGHLIGHT_WIDTH), 1);
    let kept: Vec<usize> = (0..cols.len()).filter(|&k| widths[k].is_some()).collect();
    let header = Row::new(kept.iter().map(|&k| {
        // A column cut to its glyph gets a title that fits.
        let w = widths[k].unwrap_or(0);
        match titles[k] {
            t if columns::text_width(t) <= w => t,
            "Connection" if w >= 4 => "Conn",
            _ => "",
        }
    }))
    .style(theme.style(Slot::Header));
    let conn_width = widths[1].unwrap_or(0);
    let rows: Vec<Row> = cells
        .into_iter()
        .map(|c| {
            // A group header's row stays empty here; its text is painted over the whole width.
            let Some(Cells {
                name,
                conn,
                counts,
                worst,
            }) = c
            else {
                return Row::new(Vec::<Cell>::new());
            };
            // The connection cell says as much as its width allows: all, the state, the glyph.
            let conn = conn
                .into_iter()
                .find(|l| columns::line_width(l) <= conn_width)
                .unwrap_or_default();
            let mut all = [Some(name), Some(conn), Some(counts), Some(worst)];
            Row::new(
                kept.iter()
                    .filter_map(|&k| all[k].take().map(Cell::from))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let widths: Vec<Constraint> = kept
        .iter()
        .map(|&k| Constraint::Length(widths[k].unwrap_or(0)))
        .collect();
    let sel_style = selection_style(app, Focus::Main, theme);
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(sel_style)
        .highlight_symbol("▶ ");
    let mut shown_state =
        TableState::default().with_selected(selected_row.map(|r| r.saturating_sub(first)));
    frame.render_stateful_widget(table, inner, &mut shown_state);
    for (n, r) in window.iter().enumerate() {
        let FleetRow::Header(g) = r else { continue };
        let Some(group) = app.fv.index.groups().get(*g as usize) else {
            continue;
        };
        let line = Rect {
            x: inner.x + HIGHLIGHT_WIDTH,
            y: inner.y + 1 + n as u16,
            width: inner.width.saturating_sub(HIGHLIGHT_WIDTH),
            height: 1,
        }
        .intersection(inner);
        let selected = (selected_row == Some(first + n)).then_some(sel_style);
        paint_group_header(
            frame,
            line,
            &group_header_text(group),
            theme.style(Slot::Header),
            selected,
        );
    }
}

fn worst_line<'a>(s: &SovereignStatus, theme: &Theme) -> Line<'a> {
    match s.worst() {
        Some(c) => Line::from(Span::styled(
            format!("{} {} {}", state_symbol(c.state), c.name, c.state),
            theme.style(state_slot(c.state)),
        )),
        None => {
            let (sym, word, slot) = Known::of(s).symbol();
            Line::from(Span::styled(format!("{sym} {word}"), theme.style(slot)))
        }
    }
}

pub(super) fn clamp_selection(state: &mut ratatui::widgets::TableState, len: usize) {
    let sel = state.selected().unwrap_or(0).min(len.saturating_sub(1));
    state.select(Some(sel));
}

fn draw_sovereign(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    fqdn: &str,
    drawn: &mut Drawn,
) {
    let focused = app.focus == Focus::Main;
    let Some(s) = app.current_sovereign().cloned() else {
        let block = pane_block(format!(" {fqdn} "), focused, theme);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(
            Paragraph::new(Span::styled(
                "this Sovereign is no longer in the fleet data",
                theme.style(Slot::NoticeWarn),
            )),
            inner,
        );
        return;
    };
    let visible = app.visible_components();
    let mut title = format!(" {} · {} HelmReleases ", s.fqdn, s.components.len());
    if !app.detail_filter.is_empty() {
        title = format!(
            " {} · {} of {} match /{} ",
            s.fqdn,
            visible.len(),
            s.components.len(),
            app.detail_filter
        );
    }
    let block = pane_block(title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let mut summary = vec![Line::from(
        [
            [
                connection_cell(&s.connection, theme).spans,
                vec![Span::raw("  ")],
            ]
            .concat(),
            counts_spans(&s, theme),
        ]
        .concat(),
    )];
    let mut info = Vec::new();
    if !s.tags.is_empty() {
        info.push(Span::styled(
            format!("tags {}", s.tags.join(",")),
            theme.style(Slot::Muted),
        ));
    }
    if let Some(t) = s.last_live
        && !s.connection.is_live()
    {
        let stale = super::views::fleet_matrix::stale_marker(&s, app.fv.now()).unwrap_or_default();
        info.push(Span::styled(
            format!("  data from {} ({stale})", t.format("%H:%M:%S")),
            theme.style(Slot::NoticeWarn),
        ));
    }
    match &s.connection {
        ConnectionState::Degraded { error, .. }
        | ConnectionState::Unreachable { error, .. }
        | ConnectionState::Forbidden { error }
        | ConnectionState::AuthExpired { error } => info.push(Span::styled(
            format!("  {error}"),
            theme.style(Slot::NoticeWarn),
        )),
        ConnectionState::Live | ConnectionState::Connecting => {}
    }
    summary.push(Line::from(info));
    let flux: Vec<Span> = s
        .git_repositories
        .iter()
        .chain(s.kustomizations.iter())
        .flat_map(|o| {
            let (sym, slot) = match o.ready {
                Some(true) => ("✔", Slot::StateInstalled),
                Some(false) => ("✖", Slot::StateFailed),
                None => ("◐", Slot::StateInstalling),
            };
            // GitRepository revision: what the cluster actually runs.
            let rev = o
                .revision
                .as_ref()
                .map(|r| format!(" @{r}"))
                .unwrap_or_default();
            [
                Span::styled(format!("{sym} {}{rev}", o.name), theme.style(slot)),
                Span::raw("  "),
            ]
        })
        .collect();
    summary.push(Line::from(flux));
    // The selected HelmRelease's full message: the table cuts it, and it is the evidence.
    let [head, list, detail] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(1),
        Constraint::Length(if inner.height >= 16 { 4 } else { 0 }),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(summary), head);

    // The one column rule: state and name whole; the message shrinks, "since" drops first.
    let titles = ["State", "HelmRelease", "Since", "Message"];
    let state_w = ComponentState::ALL
        .iter()
        .map(|st| columns::text_width(&format!("{} {st}", state_symbol(*st))))
        .max()
        .unwrap_or(0);
    let name_w = visible
        .iter()
        .map(|&i| columns::text_width(&s.components[i].name))
        .max()
        .unwrap_or(0)
        .max(columns::text_width(titles[1]));
    let cols = [
        Column::identity(state_w, state_w),
        Column::identity(name_w.min(12), name_w),
        Column::detail(2, 11, 11),
        Column::detail(1, 10, u16::MAX),
    ];
    let widths = columns::fit(&cols, list.width.saturating_sub(HIGHLIGHT_WIDTH), 1);
    let kept: Vec<usize> = (0..cols.len()).filter(|&k| widths[k].is_some()).collect();
    let header = Row::new(kept.iter().map(|&k| titles[k])).style(theme.style(Slot::Header));
    let rows: Vec<Row> = visible
        .iter()
        .map(|&i| {
            let c = &s.components[i];
            let mut all = [
                Some(Cell::from(Span::styled(
                    format!("{} {}", state_symbol(c.state), c.state),
                    theme.style(state_slot(c.state)),
                ))),
                Some(Cell::from(c.name.clone())),
                Some(Cell::from(
                    c.last_transition
                        .as_ref()
                        .map(short_time)
                        .unwrap_or_default(),
                )),
                Some(Cell::from(Span::styled(
                    c.message.clone(),
                    theme.style(Slot::Muted),
                ))),
            ];
            Row::new(
                kept.iter()
                    .filter_map(|&k| all[k].take())
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let table = Table::new(
        rows,
        kept.iter()
            .map(|&k| Constraint::Length(widths[k].unwrap_or(0)))
            .collect::<Vec<_>>(),
    )
    .header(header)
    .column_spacing(1)
    .row_highlight_style(selection_style(app, Focus::Main, theme))
    .highlight_symbol("▶ ");
    drawn.page = Some(usize::from(list.height.saturating_sub(1)));
    let mut state = app.detail_table;
    clamp_selection(&mut state, visible.len());
    frame.render_stateful_widget(table, list, &mut state);
    drawn.detail_table = Some(state);
    let selected = state
        .selected()
        .and_then(|i| visible.get(i))
        .map(|&i| &s.components[i]);
    if let Some(c) = selected
        && detail.height > 0
    {
        let depends = if c.depends_on.is_empty() {
            "depends on nothing".to_string()
        } else {
            format!("depends on {}", c.depends_on.join(", "))
        };
        let lines = vec![
            Line::from(vec![
                Span::styled(
                    format!("{} {}: ", state_symbol(c.state), c.name),
                    theme.style(state_slot(c.state)),
                ),
                Span::raw(c.message.clone()),
            ]),
            Line::from(Span::styled(depends, theme.style(Slot::Muted))),
        ];
        let block = Block::default()
            .borders(Borders::TOP)
            .border_style(theme.style(Slot::Border));
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
            detail,
        );
    }
}

fn draw_notice(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if app.overlay() == Some(&Overlay::Filter) {
        let line = Line::from(vec![
            Span::styled("/", theme.style(Slot::HintKey)),
            Span::styled(app.filter().to_string(), theme.style(Slot::Input)),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        let x = area.x + 1 + app.filter().chars().count() as u16;
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
        return;
    }
    if let Some(n) = &app.notice {
        let (slot, prefix) = match n.level {
            Level::Info => (Slot::NoticeInfo, "ℹ "),
            Level::Warn => (Slot::NoticeWarn, "⚠ "),
            Level::Error => (Slot::NoticeError, "✖ "),
        };
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!("{prefix}{}", n.text),
                theme.style(slot),
            )),
            area,
        );
    }
}

/// The hints for what the keys do here, from the live keymap.
pub fn footer_hints(app: &App) -> Vec<(String, &'static str)> {
    let km = &app.keymap;
    let hint = |a: Action, label: &'static str| km.hint(a).map(|k| (k, label));
    let fixed = |k: &str, label: &'static str| Some((k.to_string(), label));
    let list: Vec<Option<(String, &'static str)>> = match app.overlay() {
        Some(Overlay::Palette(_)) => vec![
            fixed("enter", "run"),
            fixed("tab", "complete"),
            fixed("↑↓", "choose"),
            fixed("esc", "cancel"),
        ],
        Some(Overlay::Filter) => vec![
            fixed("enter", "keep filter"),
            fixed("esc", "clear filter"),
            fixed("↑↓", "move"),
        ],
        Some(Overlay::Help { .. }) => {
            vec![hint(Action::Back, "close"), hint(Action::Down, "scroll")]
        }
        Some(Overlay::Confirm(_)) => vec![fixed("y", "confirm"), fixed("any other key", "cancel")],
        None => {
            let mut v = vec![
                hint(Action::Help, "help"),
                hint(Action::Palette, "command"),
                hint(Action::Filter, "filter"),
                if app.view() == &View::Matrix {
                    hint(Action::Right, "cell")
                } else {
                    hint(Action::FocusNext, "focus")
                },
                hint(Action::Select, "open"),
            ];
            if app.view() == &View::Fleet {
                v.push(hint(Action::Quit, "quit"));
            } else {
                v.push(hint(Action::Back, "back"));
            }
            v
        }
    };
    list.into_iter().flatten().collect()
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = Vec::new();
    for (key, label) in footer_hints(app) {
        spans.push(Span::styled(format!(" {key}"), theme.style(Slot::HintKey)));
        spans.push(Span::styled(
            format!(" {label} "),
            theme.style(Slot::HintText),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// The help text, generated from the live keymap and the palette's command list.
pub fn help_lines(app: &App) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for action in super::keymap::Action::ALL {
        let keys: Vec<String> = app
            .keymap
            .keys(action)
            .iter()
            .map(|k| k.to_string())
            .collect();
        let keys = if keys.is_empty() {
            format!(":{}", action.name())
        } else {
            keys.join(" ")
        };
        out.push((keys, action.description().to_string()));
    }
    out
}

/// Draws the help overlay; returns the scroll offset actually used.
fn draw_help(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, scroll: u16) -> u16 {
    let rect = centered(area, 76.min(area.width.saturating_sub(4)), area.height - 4);
    frame.render_widget(Clear, rect);
    let block = pane_block(format!(" Help · keymap {} ", app.keymap.name), true, theme)
        .style(theme.style(Slot::Overlay));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let key_style = theme.style(Slot::HintKey);
    let mut lines = vec![Line::from(Span::styled("Keys", theme.style(Slot::Header)))];
    for (keys, desc) in help_lines(app) {
        lines.push(Line::from(vec![
            Span::styled(format!("  {keys:<22}"), key_style),
            Span::raw(desc),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        "Commands (after :, tab completes)",
        theme.style(Slot::Header),
    )));
    for (word, desc) in palette::COMMANDS {
        lines.push(Line::from(vec![
            Span::styled(format!("  :{word:<21}"), key_style),
            Span::raw(*desc),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("Themes   ", theme.style(Slot::Header)),
        Span::raw(format!(
            "{} (now {}, terminal: {})",
            app.config_names.themes.join(", "),
            app.theme.name,
            app.level.label()
        )),
    ]));
    lines.push(Line::from(vec![
        Span::styled("Keymaps  ", theme.style(Slot::Header)),
        Span::raw(app.config_names.keymaps.join(", ")),
    ]));
    if let Some(dir) = &app.keymaps.config_dir {
        lines.push(Line::from(vec![
            Span::styled("Config   ", theme.style(Slot::Header)),
            Span::raw(format!(
                "{}  (themes/NAME.toml, keymaps/NAME.toml, keymap.toml; edits apply live)",
                dir.display()
            )),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        "States",
        theme.style(Slot::Header),
    )));
    for chunk in ComponentState::ALL.chunks(4) {
        let spans: Vec<Span> = chunk
            .iter()
            .map(|s| {
                Span::styled(
                    format!("  {} {:<11}", state_symbol(*s), s.as_str()),
                    theme.style(state_slot(*s)),
                )
            })
            .collect();
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(vec![Span::styled(
        "  ? no data yet (state unknown)  · no HelmReleases",
        theme.style(Slot::Muted),
    )]));
    lines.push(Line::from(vec![Span::styled(
        "  ● live  ◌ connecting  ◑ degraded  ⊘ forbidden  ◇ auth expired  ✖ unreachable",
        theme.style(Slot::Muted),
    )]));
    let max_scroll = (lines.len() as u16).saturating_sub(inner.height);
    let scroll = scroll.min(max_scroll);
    frame.render_widget(
        Paragraph::new(lines)
            .style(theme.style(Slot::Overlay))
            .scroll((scroll, 0)),
        inner,
    );
    scroll
}

fn draw_palette(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, p: &palette::Palette) {
    let cands = palette::candidates(
        &p.input,
        &app.config_names.themes,
        &app.config_names.keymaps,
    );
    let shown = cands.len().min(8) as u16;
    let width = 64.min(area.width.saturating_sub(4));
    let height = (shown + 3).min(area.height.saturating_sub(2));
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height / 5).max(1),
        width,
        height,
    };
    frame.render_widget(Clear, rect);
    let block = pane_block(" Command ".into(), true, theme).style(theme.style(Slot::Overlay));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let mut lines = vec![Line::from(vec![
        Span::styled(":", theme.style(Slot::HintKey)),
        Span::styled(p.input.clone(), theme.style(Slot::Input)),
    ])];
    let sel = p.selected.min(cands.len().saturating_sub(1));
    let start = sel.saturating_sub(usize::from(shown.saturating_sub(1)));
    for (i, c) in cands
        .iter()
        .enumerate()
        .skip(start)
        .take(usize::from(shown))
    {
        let marker = if i == sel { "▶ " } else { "  " };
        let line = Line::from(vec![
            Span::raw(marker),
            Span::styled(
                format!("{:<20}", c.text.trim_end()),
                theme.style(Slot::HintKey),
            ),
            Span::styled(c.description.clone(), theme.style(Slot::Muted)),
        ]);
        lines.push(if i == sel {
            line.style(theme.style(Slot::Selected))
        } else {
            line
        });
    }
    if cands.is_empty() && !p.input.trim().is_empty() {
        lines.push(Line::from(Span::styled(
            "  no matching command",
            theme.style(Slot::Muted),
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    let x = inner.x + 1 + p.input.chars().count() as u16;
    if inner.width > 0 && inner.height > 0 {
        frame.set_cursor_position(Position::new(
            x.min(inner.right().saturating_sub(1)),
            inner.y,
        ));
    }
}
