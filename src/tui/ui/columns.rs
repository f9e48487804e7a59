//! The one column-layout rule of every table view (fleet list, Sovereign, matrix): columns have
//! priorities, as in k9s. What identifies a row (the Sovereign's name, its state) is kept whole
//! when at all possible; the columns that only add detail (connection, worst item, since) shrink
//! to their minimum and then drop, least important first, before an identifying column is cut.

/// One column: how important it is, the narrowest it is still useful at, and what its content
/// needs (`u16::MAX` for a column that takes whatever is left, such as a message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// 0: identifies the row, never dropped and cut only when nothing else is left to give;
    /// larger numbers shrink and drop earlier.
    pub priority: u8,
    pub min: u16,
    pub max: u16,
}

impl Column {
    /// A column that identifies the row (kept whole, cut only below `min` as a last resort).
    pub fn identity(min: u16, max: u16) -> Column {
        Column {
            priority: 0,
            min: min.min(max),
            max,
        }
    }

    /// A detail column: `min` when space is short, dropped when even that does not fit.
    pub fn detail(priority: u8, min: u16, max: u16) -> Column {
        Column {
            priority: priority.max(1),
            min: min.min(max),
            max,
        }
    }
}

/// The width of a text in terminal columns.
pub fn text_width(s: &str) -> u16 {
    line_width(&ratatui::text::Line::raw(s))
}

/// The width of a cell's line in terminal columns (what a column's `max` is measured in).
pub fn line_width(line: &ratatui::text::Line) -> u16 {
    u16::try_from(line.width()).unwrap_or(u16::MAX)
}

/// The widest of `lines` (0 for none).
pub fn widest<'a>(lines: impl IntoIterator<Item = &'a ratatui::text::Line<'a>>) -> u16 {
    lines.into_iter().map(line_width).max().unwrap_or(0)
}

/// Widths for `cols` in `width` terminal columns with `spacing` between adjacent columns; `None`
/// for a dropped column.
///
/// 1. Identity columns want their whole `max`, detail columns their `min`. While that does not
///    fit, the least important detail column (the last of equal priority) is dropped.
/// 2. If the identity columns alone do not fit whole, they share the width, each down to no less
///    than its `min` (the table cuts what is still too wide: the terminal is too narrow).
/// 3. What is left goes to the kept columns in priority order, each up to its `max`.
pub fn fit(cols: &[Column], width: u16, spacing: u16) -> Vec<Option<u16>> {
    let mut kept: Vec<bool> = vec![true; cols.len()];
    let need = |kept: &[bool]| -> u32 {
        let n = kept.iter().filter(|k| **k).count() as u32;
        let gaps = n.saturating_sub(1) * u32::from(spacing);
        cols.iter()
            .zip(kept)
            .filter(|(_, k)| **k)
            .map(|(c, _)| u32::from(if c.priority == 0 { c.max } else { c.min }))
            .sum::<u32>()
            .saturating_add(gaps)
    };
    while need(&kept) > u32::from(width) {
        // The least important detail column still kept; ties drop the rightmost.
        let victim = cols
            .iter()
            .enumerate()
            .filter(|(i, c)| kept[*i] && c.priority > 0)
            .max_by_key(|(i, c)| (c.priority, *i))
            .map(|(i, _)| i);
        match victim {
            Some(i) => kept[i] = false,
            None => break,
        }
    }
    let n = kept.iter().filter(|k| **k).count() as u16;
    let mut left = width.saturating_sub(n.saturating_sub(1).saturating_mul(spacing));
    let mut widths: Vec<Option<u16>> = cols
        .iter()
        .zip(&kept)
        .map(|(c, k)| k.then_some(c.min))
        .collect();
    // Every kept column gets its minimum first (identity columns are all there is when it does
    // not fit; they are then cut in order, the leftmost keeping the most).
    for w in widths.iter_mut().flatten() {
        let take = (*w).min(left);
        *w = take;
        left -= take;
    }
    // Then the rest, most important first, each up to what its content needs.
    let mut order: Vec<usize> = (0..cols.len()).filter(|i| kept[*i]).collect();
    order.sort_by_key(|i| (cols[*i].priority, *i));
    for i in order {
        if let Some(w) = widths[i].as_mut() {
            let more = cols[i].max.saturating_sub(*w).min(left);
            *w += more;
            left -= more;
        }
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_shrink_then_drop_before_the_name_is_cut() {
        let name = Column::identity(8, 31);
        let state = Column::identity(6, 10);
        let conn = Column::detail(1, 1, 25);
        let worst = Column::detail(2, 12, 30);
        let cols = [name, state, conn, worst];
        // Wide: everything whole.
        assert_eq!(fit(&cols, 200, 1), [Some(31), Some(10), Some(25), Some(30)]);
        // Narrower: the least important column gets what is left after the others are whole.
        assert_eq!(
            fit(&cols, 31 + 10 + 25 + 20 + 3, 1),
            [Some(31), Some(10), Some(25), Some(20)]
        );
        // The worst item drops before the connection is cut to its glyph.
        assert_eq!(fit(&cols, 52, 1), [Some(31), Some(10), Some(9), None]);
        // Then the connection shrinks, then drops; the name stays whole.
        assert_eq!(fit(&cols, 44, 1), [Some(31), Some(10), Some(1), None]);
        assert_eq!(fit(&cols, 42, 1), [Some(31), Some(10), None, None]);
        // Only when nothing else is left is an identity column cut, never below its minimum
        // while the width allows it.
        assert_eq!(fit(&cols, 30, 1), [Some(23), Some(6), None, None]);
        assert_eq!(fit(&cols, 15, 1), [Some(8), Some(6), None, None]);
        assert_eq!(fit(&cols, 0, 1), [Some(0), Some(0), None, None]);
    }

    #[test]
    fn a_fill_column_takes_what_is_left() {
        let cols = [
            Column::identity(12, 12),
            Column::identity(10, 22),
            Column::detail(2, 11, 11),
            Column::detail(1, 10, u16::MAX),
        ];
        assert_eq!(fit(&cols, 100, 1), [Some(12), Some(22), Some(11), Some(52)]);
        // "since" drops before the message does.
        assert_eq!(fit(&cols, 50, 1), [Some(12), Some(22), None, Some(14)]);
    }
}
