//! Drawing the matrix (state and column order: `views/fleet_matrix.rs`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::super::app::{App, Focus};
use super::super::msg::Drawn;
use super::super::theme::{Slot, Theme};
use super::super::views::fleet_matrix::{prod_span, row_window, stale_marker};
use super::columns::{Column, fit, text_width};
use super::{
    Known, clamp_selection, connection_symbol, fleet_pane, group_header_text, paint_group_header,
    selection_style, state_slot, state_symbol,
};
use crate::provision::fleet::arrange::{Row as FleetRow, thousands};

/// Letters of each component id shown stacked in the column header.
const HEADER_ROWS: u16 = 4;
const CONN_WIDTH: u16 = 16;
/// Marks the selected row (the table always has one selected).
const HIGHLIGHT: &str = "▶ ";

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, drawn: &mut Drawn) {
    let rows_all = app.fleet_rows();
    let columns = app.matrix_columns();
    let cols = &columns.ids;
    let title = format!(
        " Matrix · {} Sovereigns × {} components · {}",
        thousands(app.fleet.len()),
        cols.len(),
        app.fv.sort.label()
    );
    let Some(inner) = fleet_pane(frame, area, app, theme, ("Matrix", title)) else {
        return;
    };
    let [table_area, legend_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(inner);
    let now = app.fv.now();
    // Rows are built only for what fits (the fleet may be far longer than the screen); the
    // scroll offset is kept in the view's state like ratatui's own would be.
    let page = usize::from(table_area.height.saturating_sub(HEADER_ROWS));
    let mut table_state = app.fv.matrix_table;
    clamp_selection(&mut table_state, rows_all.len());
    let (first, end) = row_window(
        table_state.offset(),
        table_state.selected(),
        rows_all.len(),
        page,
    );
    *table_state.offset_mut() = first;
    drawn.page = Some(page);
    drawn.matrix_table = Some(table_state);
    let selected_row = table_state.selected();
    // At least one row, even where none fits, so the highlight column stays reserved and the
    // header does not shift.
    let built = end.max((first + 1).min(rows_all.len()));
    // The Sovereigns on screen (their widths size the name column).
    let visible: Vec<usize> = rows_all[first..built]
        .iter()
        .filter_map(|r| r.sovereign())
        .collect();
    // Cells are two columns wide (symbol + gap); what does not fit is counted, not hidden.
    // The one column rule (`columns::fit`): the Sovereign's name whole, then as much of the grid
    // as fits, the connection shrinking to its glyph (and dropping) first.
    let ident = visible
        .iter()
        .map(|&i| {
            let s = &app.fleet[i];
            let first = s.fqdn.split('.').next().unwrap_or(&s.fqdn);
            text_width(first) + if s.is_prod() { 6 } else { 0 }
        })
        .max()
        .unwrap_or(0);
    let name_max = visible
        .iter()
        .map(|&i| {
            let s = &app.fleet[i];
            text_width(&s.fqdn) + if s.is_prod() { 6 } else { 0 }
        })
        .max()
        .unwrap_or(0)
        .max(text_width("Sovereign"));
    let grid_max = (cols.len() as u16).saturating_mul(2).saturating_sub(1);
    let layout = fit(
        &[
            Column::identity(ident.max(4), name_max),
            Column::detail(2, 1, CONN_WIDTH),
            Column::detail(1, grid_max.min(15), grid_max),
        ],
        inner.width.saturating_sub(HIGHLIGHT.chars().count() as u16),
        1,
    );
    let name_width = layout[0].unwrap_or(0);
    let conn_width = layout[1].unwrap_or(0);
    let shown = usize::from(layout[2].unwrap_or(0).div_ceil(2)).min(cols.len());
    let hidden = cols.len() - shown;
    // The cell cursor (kept inside the columns by the reducer) scrolls the columns to stay
    // visible.
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
    let conn_title = match conn_width {
        w if w >= 10 => "Connection",
        w if w >= 4 => "Conn",
        _ => "",
    };
    let mut header = vec![Cell::from(Text::from(vec![
        Line::raw(""),
        Line::raw(""),
        Line::raw(""),
        Line::raw("Sovereign"),
    ]))];
    if conn_width > 0 {
        header.push(Cell::from(Text::from(vec![
            Line::raw(""),
            Line::raw(""),
            Line::raw(""),
            Line::raw(conn_title),
        ])));
    }
    let header = Row::new(header)
        .height(HEADER_ROWS)
        .style(theme.style(Slot::Header));

    let rows: Vec<Row> = rows_all[first..built]
        .iter()
        .map(|r| {
            // A group header's row stays empty; its text is painted over the whole width.
            let Some(i) = r.sovereign() else {
                return Row::new(Vec::<Cell>::new());
            };
            let s = &app.fleet[i];
            let mut name = vec![Span::raw(s.fqdn.as_str())];
            if let Some(p) = prod_span(s, theme) {
                name.insert(0, p);
            }
            let (csym, cslot) = connection_symbol(&s.connection);
            let label = format!("{csym} {}", s.connection.label());
            let stale = stale_marker(s, now).map(|m| format!("{csym} {m}"));
            // As much as the column allows: the whole text, a shorter one, the glyph.
            let conn = [
                stale.clone(),
                stale.map(|m| m.replacen("stale for ", "stale ", 1)),
                Some(label),
            ]
            .into_iter()
            .flatten()
            .find(|t| text_width(t) <= conn_width)
            .unwrap_or_else(|| csym.to_string());
            let mut cells = vec![Cell::from(Line::from(name))];
            if conn_width > 0 {
                cells.push(Cell::from(Span::styled(conn, theme.style(cslot))));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(name_width)];
    if conn_width > 0 {
        widths.push(Constraint::Length(conn_width));
    }
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
        x: table_area.x
            + highlight
            + name_width
            + 1
            + if conn_width > 0 { conn_width + 1 } else { 0 },
        ..table_area
    }
    .intersection(table_area);
    let mut utf8 = [0u8; 4];
    let buf = frame.buffer_mut();
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
    for (n, r) in rows_all[first..end].iter().enumerate() {
        let y = grid.y + HEADER_ROWS + n as u16;
        if y >= grid.bottom() {
            break;
        }
        let i = match r {
            FleetRow::Sovereign { index, .. } => *index as usize,
            FleetRow::Header(g) => {
                // Across the whole row: the group, how many, what their states add up to.
                if let Some(group) = app.fv.index.groups().get(*g as usize) {
                    let line = Rect {
                        x: table_area.x + highlight,
                        y,
                        width: table_area.width.saturating_sub(highlight),
                        height: 1,
                    }
                    .intersection(table_area);
                    let selected = (selected_row == Some(first + n)).then_some(row_style);
                    paint_group_header(
                        frame,
                        line,
                        &group_header_text(group),
                        theme.style(Slot::Header),
                        selected,
                    );
                }
                continue;
            }
        };
        let buf = frame.buffer_mut();
        states.fill(None);
        // A Sovereign nothing has been read from: every cell is unknown, not absent.
        let absent = if Known::of(&app.fleet[i]) == Known::NoData {
            ("?", theme.style(Slot::Muted))
        } else {
            ("·", theme.style(Slot::Muted))
        };
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
                None => absent,
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

    let mut legend = vec![Span::styled(
        "· absent  ? no data  ",
        theme.style(Slot::Muted),
    )];
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
    if let Some((s, id, target)) = app.matrix_cell_at(selected_row.unwrap_or(0)) {
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
                None if Known::of(s) == Known::NoData => (
                    format!("▶ {} × {id}: ? unknown — no data yet{off}", s.fqdn),
                    theme.style(Slot::Muted),
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
    let sel = selected_row.and_then(|r| app.sovereign_at_row(r));
    if let Some(s) = sel {
        match s.worst() {
            Some(c) => second.push(Span::styled(
                format!("{}: worst {} {} — {}", s.fqdn, c.id(), c.state, c.message),
                theme.style(state_slot(c.state)),
            )),
            None => {
                let (sym, word, slot) = Known::of(s).symbol();
                second.push(Span::styled(
                    format!("{}: {sym} {word}", s.fqdn),
                    theme.style(slot),
                ))
            }
        }
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(legend), Line::from(second)]),
        legend_area,
    );
}
