//! The matrix: one row per Sovereign, one column per component (bootstrap-kit DAG order), each
//! cell a state symbol in the state's colour, so a glance finds the column that is red everywhere.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use crate::provision::fleet::dag::topological_order;
use crate::provision::fleet::model::{ComponentStatus, SovereignStatus};

use super::super::app::{App, Focus};
use super::super::theme::{Slot, Theme};
use super::super::ui::{
    clamp_selection, connection_symbol, fleet_pane, selection_style, state_slot, state_symbol,
};

/// Letters of each component id shown stacked in the column header.
const HEADER_ROWS: u16 = 4;
const CONN_WIDTH: u16 = 16;
/// Marks the selected row (the table always has one selected).
const HIGHLIGHT: &str = "▶ ";

/// Column order: every component id present anywhere in the fleet, in dependency order (ids
/// without the `bp-` prefix).
pub fn columns(fleet: &[SovereignStatus]) -> Vec<String> {
    // Keys and dependencies by reference: this runs every frame, so nothing is cloned but ids.
    let mut seen = std::collections::HashSet::new();
    let mut union: Vec<&ComponentStatus> = Vec::new();
    for s in fleet {
        for c in &s.components {
            if seen.insert(c.id()) {
                union.push(c);
            }
        }
    }
    let keys: Vec<String> = union
        .iter()
        .map(|c| format!("{}/{}", c.namespace, c.name))
        .collect();
    topological_order(&keys, |i| union[i].depends_on.as_slice())
        .into_iter()
        .map(|i| union[i].id().to_string())
        .collect()
}

/// The matrix's columns and, for each component id, its column.
#[derive(Debug, Default)]
pub struct Columns {
    pub ids: Vec<String>,
    index: std::collections::HashMap<String, usize>,
}

impl Columns {
    pub fn of(fleet: &[SovereignStatus]) -> Columns {
        let ids = columns(fleet);
        let index = ids
            .iter()
            .enumerate()
            .map(|(k, id)| (id.clone(), k))
            .collect();
        Columns { ids, index }
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
}

/// A fingerprint of what a Sovereign contributes to the column order (its components and their
/// dependencies, not their states): while it is unchanged the matrix's columns can stay.
pub fn column_shape(s: &SovereignStatus) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for c in &s.components {
        (&c.namespace, &c.name, &c.depends_on).hash(&mut h);
    }
    h.finish()
}

/// The rows `[first, end)` a table of `height` one-line rows shows: from the previous offset,
/// scrolled just enough to keep the selection visible (what ratatui's `Table` does itself).
pub fn row_window(
    offset: usize,
    selected: Option<usize>,
    len: usize,
    height: usize,
) -> (usize, usize) {
    let last = len.saturating_sub(1);
    let mut first = offset.min(last);
    if let Some(sel) = selected {
        let sel = sel.min(last);
        first = first.min(sel);
        if sel >= first + height {
            first = (sel + 1).saturating_sub(height);
        }
    }
    (first, (first + height).min(len))
}

/// "stale 42s" for a Sovereign whose connection is not live (None while live).
pub fn stale_marker(s: &SovereignStatus, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    if s.connection.is_live() {
        return None;
    }
    Some(match s.stale_for(now) {
        Some(n) => format!("stale for {n} s"),
        None => "no data yet".to_string(),
    })
}

/// The `PROD` cue: a word in an inverse warning style, so it survives `mono`.
pub fn prod_span<'a>(s: &SovereignStatus, theme: &Theme) -> Option<Span<'a>> {
    s.is_prod()
        .then(|| Span::styled(" PROD ", theme.style(Slot::TitleWarn)))
}

pub fn draw(frame: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    let visible = app.visible_fleet();
    let columns = app.matrix_columns();
    let cols = &columns.ids;
    let title = format!(
        " Matrix · {} Sovereigns × {} components · {} ",
        app.fleet.len(),
        cols.len(),
        app.fv.sort.label()
    );
    let Some(inner) = fleet_pane(frame, area, app, theme, ("Matrix", title), visible.len()) else {
        return;
    };
    let [table_area, legend_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(inner);
    let now = app.fv.now();
    // Cells are two columns wide (symbol + gap); what does not fit is counted, not hidden.
    // Fixed: highlight symbol, the connection column and two gaps.
    let avail = usize::from(inner.width).saturating_sub(2 + CONN_WIDTH as usize + 2);
    let shown = cols.len().min(avail.saturating_sub(14) / 2);
    let hidden = cols.len() - shown;
    let name_width = avail.saturating_sub(shown * 2).min(40) as u16;
    // The cell cursor (clamped: the fleet may have shrunk) scrolls the columns to stay visible.
    app.fv.matrix_col = app
        .fv
        .matrix_col
        .filter(|_| !cols.is_empty())
        .map(|k| k.min(cols.len() - 1));
    let sel_col = app.fv.matrix_col;
    let start = match sel_col {
        Some(k) if shown > 0 && k >= shown => k + 1 - shown,
        _ => 0,
    };
    let window = start..start + shown;
    // The selected cell is told apart by reverse video and bold/underline, not by colour alone.
    let row_style = selection_style(app, Focus::Main, theme);
    let cell_style = if row_style.add_modifier.contains(Modifier::REVERSED) {
        Style::new()
            .not_reversed()
            .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    } else {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD | Modifier::UNDERLINED)
    };

    // The table holds the Sovereign and connection columns and an empty column as wide as the
    // grid; the grid's symbols and header letters are painted into the buffer afterwards, since
    // a widget per cell (2 000 of them at 50 × 40) costs most of a frame.
    let header = Row::new([
        Cell::from(Text::from(vec![
            Line::raw(""),
            Line::raw(""),
            Line::raw(""),
            Line::raw("Sovereign"),
        ])),
        Cell::from(Text::from(vec![
            Line::raw(""),
            Line::raw(""),
            Line::raw(""),
            Line::raw("Connection"),
        ])),
    ])
    .height(HEADER_ROWS)
    .style(theme.style(Slot::Header));

    // Rows are built only for what fits (the fleet may be far longer than the screen); the
    // scroll offset is kept in the view's state like ratatui's own would be.
    app.page = usize::from(table_area.height.saturating_sub(HEADER_ROWS));
    clamp_selection(&mut app.fv.matrix_table, visible.len());
    let (first, end) = row_window(
        app.fv.matrix_table.offset(),
        app.fv.matrix_table.selected(),
        visible.len(),
        app.page,
    );
    *app.fv.matrix_table.offset_mut() = first;
    let selected_row = app.fv.matrix_table.selected();
    // At least one row, even where none fits, so the highlight column stays reserved and the
    // header does not shift.
    let built = end.max((first + 1).min(visible.len()));
    let rows: Vec<Row> = visible[first..built]
        .iter()
        .map(|&i| {
            let s = &app.fleet[i];
            let mut name = vec![Span::raw(s.fqdn.as_str())];
            if let Some(p) = prod_span(s, theme) {
                name.insert(0, p);
            }
            let (csym, cslot) = connection_symbol(&s.connection);
            let conn = match stale_marker(s, now) {
                Some(m) => format!("{csym} {m}"),
                None => format!("{csym} {}", s.connection.label()),
            };
            Row::new([
                Cell::from(Line::from(name)),
                Cell::from(Span::styled(conn, theme.style(cslot))),
            ])
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(name_width),
        Constraint::Length(CONN_WIDTH),
    ];
    if shown > 0 {
        widths.push(Constraint::Length(shown as u16 * 2 - 1));
    }
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(row_style)
        .highlight_symbol(HIGHLIGHT);
    let mut shown_state =
        TableState::default().with_selected(selected_row.map(|r| r.saturating_sub(first)));
    frame.render_stateful_widget(table, table_area, &mut shown_state);

    // The grid starts after the highlight symbol (reserved while the table shows a row, as one
    // is always selected), the two columns and their gaps (the table lays columns out from the
    // left).
    let highlight = if built > first {
        HIGHLIGHT.chars().count() as u16
    } else {
        0
    };
    let grid = Rect {
        x: table_area.x + highlight + name_width + 1 + CONN_WIDTH + 1,
        ..table_area
    }
    .intersection(table_area);
    let buf = frame.buffer_mut();
    let mut utf8 = [0u8; 4];
    for (n, (k, id)) in cols.iter().enumerate().skip(start).take(shown).enumerate() {
        let x = grid.x + 2 * n as u16;
        for (r, letter) in id.chars().take(usize::from(HEADER_ROWS)).enumerate() {
            let y = grid.y + r as u16;
            if x < grid.right() && y < grid.bottom() {
                buf[(x, y)].set_symbol(letter.encode_utf8(&mut utf8));
            }
        }
        if sel_col == Some(k) {
            let header_cell = Rect::new(x, grid.y, 1, HEADER_ROWS).intersection(grid);
            buf.set_style(
                header_cell,
                Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            );
        }
    }
    let mut states = vec![None; shown];
    for (n, &i) in visible[first..end].iter().enumerate() {
        let y = grid.y + HEADER_ROWS + n as u16;
        if y >= grid.bottom() {
            break;
        }
        states.fill(None);
        for c in &app.fleet[i].components {
            if let Some(k) = columns.position(c.id())
                && window.contains(&k)
            {
                states[k - start] = Some(c.state);
            }
        }
        let is_selected = selected_row == Some(first + n);
        for (j, st) in states.iter().enumerate() {
            let x = grid.x + 2 * j as u16;
            if x >= grid.right() {
                break;
            }
            let (symbol, style) = match *st {
                Some(st) => (state_symbol(st), theme.style(state_slot(st))),
                None => ("·", theme.style(Slot::Muted)),
            };
            let cell = &mut buf[(x, y)];
            cell.set_symbol(symbol).set_style(style);
            // As the table does for its own cells: the row highlight over the cell's colour,
            // then the cell cursor.
            if is_selected {
                cell.set_style(row_style);
                if sel_col == Some(start + j) {
                    cell.set_style(cell_style);
                }
            }
        }
    }

    let mut legend = vec![Span::styled("· absent  ", theme.style(Slot::Muted))];
    for st in crate::provision::flux::ComponentState::ALL {
        legend.push(Span::styled(
            format!("{} {}  ", state_symbol(st), st.as_str()),
            theme.style(state_slot(st)),
        ));
    }
    let mut second = Vec::new();
    if hidden > 0 {
        second.push(Span::styled(
            format!("{hidden} more components to the right do not fit; widen the terminal  "),
            theme.style(Slot::NoticeWarn),
        ));
    }
    if let Some((s, id, target)) = app.matrix_cell() {
        // The cell comes first (on a narrow screen it is what the operator is looking for),
        // then what is scrolled off screen, then the message.
        let off = if hidden > 0 {
            format!(" · off screen: {start} ←, {} →", hidden - start)
        } else {
            String::new()
        };
        let (text, style) =
            match target.and_then(|t| s.components.iter().find(|c| c.name == t.name)) {
                Some(c) => (
                    format!(
                        "▶ {} × {id}: {} {}{off} — {} · enter opens its HelmRelease",
                        s.fqdn,
                        state_symbol(c.state),
                        c.state,
                        c.message
                    ),
                    theme.style(state_slot(c.state)),
                ),
                None => (
                    format!("▶ {} × {id}: no HelmRelease on this Sovereign{off}", s.fqdn),
                    theme.style(Slot::Muted),
                ),
            };
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(legend),
                Line::from(Span::styled(text, style)),
            ]),
            legend_area,
        );
        return;
    }
    let sel = app
        .fv
        .matrix_table
        .selected()
        .and_then(|r| visible.get(r))
        .map(|&i| &app.fleet[i]);
    if let Some(s) = sel {
        match s.worst() {
            Some(c) => second.push(Span::styled(
                format!("{}: worst {} {} — {}", s.fqdn, c.id(), c.state, c.message),
                theme.style(state_slot(c.state)),
            )),
            None => second.push(Span::styled(
                format!("{}: nothing wrong", s.fqdn),
                theme.style(Slot::Muted),
            )),
        }
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(legend), Line::from(second)]),
        legend_area,
    );
}

#[cfg(test)]
mod tests {
    use super::row_window;

    #[test]
    fn row_window_keeps_the_offset_and_scrolls_only_to_show_the_selection() {
        // Everything fits.
        assert_eq!(row_window(0, Some(2), 5, 10), (0, 5));
        // 50 rows, 10 visible: the selection at the bottom scrolls just far enough.
        assert_eq!(row_window(0, Some(9), 50, 10), (0, 10));
        assert_eq!(row_window(0, Some(10), 50, 10), (1, 11));
        assert_eq!(row_window(0, Some(49), 50, 10), (40, 50));
        // Moving up inside the window keeps it; above it scrolls up to the selection.
        assert_eq!(row_window(40, Some(45), 50, 10), (40, 50));
        assert_eq!(row_window(40, Some(12), 50, 10), (12, 22));
        // A fleet that shrank under the offset, no selection, no rows, no room.
        assert_eq!(row_window(40, None, 5, 10), (4, 5));
        assert_eq!(row_window(3, None, 0, 10), (0, 0));
        assert_eq!(row_window(0, Some(3), 5, 0), (4, 4));
    }
}
