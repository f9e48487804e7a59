//! The matrix: one row per Sovereign, one column per component (bootstrap-kit DAG order), each
//! cell a state symbol in the state's colour, so a glance finds the column that is red everywhere.
//! Here: the column order and the row window; the drawing is `ui/matrix.rs`.

use ratatui::text::Span;

use crate::provision::fleet::dag::topological_order;
use crate::provision::fleet::model::{ComponentStatus, SovereignStatus};

use super::super::theme::{Slot, Theme};

/// Column order: every component id present anywhere in the fleet, in dependency order (ids
/// without the `bp-` prefix).
pub fn columns(fleet: &[SovereignStatus]) -> Vec<String> {
    // Keys and dependencies by reference: nothing is cloned but ids.
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
    /// Per column, the namespace and dependencies the order was computed from (the first
    /// Sovereign in fleet order that has the component).
    from: Vec<(String, Vec<String>)>,
}

impl Columns {
    pub fn of(fleet: &[SovereignStatus]) -> Columns {
        let ids = columns(fleet);
        let index: std::collections::HashMap<String, usize> = ids
            .iter()
            .enumerate()
            .map(|(k, id)| (id.clone(), k))
            .collect();
        let mut from: Vec<Option<(String, Vec<String>)>> = vec![None; ids.len()];
        for c in fleet.iter().flat_map(|s| &s.components) {
            if let Some(slot) = index.get(c.id()).and_then(|&k| from.get_mut(k))
                && slot.is_none()
            {
                *slot = Some((c.namespace.clone(), c.depends_on.clone()));
            }
        }
        let from = from.into_iter().map(Option::unwrap_or_default).collect();
        Columns { ids, index, from }
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Whether every component of `s` is a column already, with the namespace and dependencies
    /// the order was computed from: then adding `s`'s components to the fleet leaves the columns
    /// exactly as they are, wherever `s` stands in the fleet.
    pub fn cover(&self, s: &SovereignStatus) -> bool {
        s.components.iter().all(|c| {
            self.position(c.id())
                .and_then(|k| self.from.get(k))
                .is_some_and(|(ns, deps)| *ns == c.namespace && *deps == c.depends_on)
        })
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
