//! The reducer's handlers for the fleet views beyond the overview: sort, jump, the armed Flux
//! actions and their confirm prompt, the matrix's cell cursor, opening a HelmRelease's detail.

use crossterm::event::{KeyCode, KeyEvent};

use crate::provision::fleet::model::SovereignStatus;
use crate::provision::fleet::{FluxAction, FluxKind, ObjectRef};

use super::super::msg::{FleetMsg, Msg, Notice};
use super::super::views::{PendingAction, fleet_matrix};
use super::{App, Overlay, View};

impl App {
    pub fn toggle_sort(&mut self) {
        self.fv.sort = self.fv.sort.next();
        let kept = self.remember_selections();
        self.fv.index.set_order(self.fv.sort);
        self.restore_selections(kept);
        self.notice = Some(Notice::info(format!("sorted {}", self.fv.sort.label())));
    }

    /// Select the first row of the current list whose name contains `name` (in the fleet
    /// views a match in a folded group unfolds it).
    pub fn jump(&mut self, name: &str) {
        let needle = name.to_lowercase();
        let found = match self.panes.view() {
            View::Fleet | View::Matrix => self.fv.index.jump(&needle),
            View::Sovereign(_) => {
                let comps = self
                    .current_sovereign()
                    .map(|s| s.components.clone())
                    .unwrap_or_default();
                self.visible_components()
                    .iter()
                    .position(|&i| comps[i].name.to_lowercase().contains(&needle))
            }
            View::Release { .. }
            | View::Wizard
            | View::Recover
            | View::Decommission
            | View::Preflight
            | View::Troubleshoot
            | View::Drill => None,
        };
        match (found, self.panes.view()) {
            (Some(row), View::Fleet) => self.fleet_table.select(Some(row)),
            (Some(row), View::Matrix) => self.fv.matrix_table.select(Some(row)),
            (Some(row), View::Sovereign(_)) => self.detail_table.select(Some(row)),
            _ => self.notice = Some(Notice::warn(format!("no row matches {name:?} here"))),
        }
    }

    /// The HelmRelease the operator is looking at: the open detail, or the selected row.
    pub fn selected_release(&self) -> Option<(String, ObjectRef)> {
        let s = self.current_sovereign()?;
        let c = match self.panes.view() {
            View::Release { name, .. } => s.components.iter().find(|c| &c.name == name)?,
            View::Sovereign(_) => {
                let row = self.detail_table.selected().unwrap_or(0);
                &s.components[*self.visible_components().get(row)?]
            }
            _ => return None,
        };
        Some((
            s.fqdn.clone(),
            ObjectRef {
                kind: FluxKind::HelmRelease,
                namespace: c.namespace.clone(),
                name: c.name.clone(),
            },
        ))
    }

    /// `:reconcile` / `:suspend` / `:resume`: only armed, and only after a confirm prompt.
    pub fn request_action(&mut self, action: FluxAction) {
        if !self.armed {
            self.notice = Some(Notice::warn(format!(
                "{}: read-only — :arm first",
                action.as_str()
            )));
            return;
        }
        let Some((fqdn, target)) = self.selected_release() else {
            self.notice = Some(Notice::warn(format!(
                "{}: open a Sovereign and select a HelmRelease first",
                action.as_str()
            )));
            return;
        };
        self.panes.set_overlay(Overlay::Confirm(PendingAction {
            fqdn,
            target,
            action,
        }));
    }

    pub(super) fn on_confirm_key(&mut self, pending: PendingAction, key: KeyEvent) {
        if key.code != KeyCode::Char('y') || !self.armed {
            self.notice = Some(Notice::info(format!(
                "{}: cancelled",
                pending.action.as_str()
            )));
            return;
        }
        let Some(live) = self.fv.live.clone() else {
            self.notice = Some(Notice::error(format!(
                "{}: no live fleet connection (this data is not from a fleet hub)",
                pending.action.as_str()
            )));
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.notice = Some(Notice::error("no async runtime to run the action on"));
            return;
        };
        tracing::warn!(fqdn = %pending.fqdn, name = %pending.target.name, action = pending.action.as_str(), "armed action confirmed");
        self.notice = Some(Notice::info(format!(
            "{} {} on {}: sent…",
            pending.action.as_str(),
            pending.target.name,
            pending.fqdn
        )));
        rt.spawn(async move {
            let what = format!(
                "{} {} on {}",
                pending.action.as_str(),
                pending.target.name,
                pending.fqdn
            );
            let notice = match live
                .handle
                .act(&pending.fqdn, &pending.target, pending.action)
                .await
            {
                Ok(_) => Notice::info(format!("{what}: done (audit log updated)")),
                Err(e) => Notice::error(format!("{what}: {e}")),
            };
            let _ = live.tx.message(Msg::Notice(notice)).await;
        });
    }

    /// The matrix's columns (shared: a frame holds them while the reducer may replace them).
    pub fn matrix_columns(&self) -> std::sync::Arc<fleet_matrix::Columns> {
        self.cached_columns()
            .get_or_insert_with(|| std::sync::Arc::new(fleet_matrix::Columns::of(&self.fleet)))
            .clone()
    }

    /// The cached columns (`None`: to be computed). Poisoning cannot leave a half-written
    /// value: it is replaced whole.
    fn cached_columns(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<std::sync::Arc<fleet_matrix::Columns>>> {
        self.fv
            .matrix_columns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the columns as they stand already cover `fleet[i]` (see `Columns::cover`); not
    /// yet computed ones will be computed from the fleet as it is, so they cover it too.
    pub(super) fn matrix_columns_cover(&self, i: usize) -> bool {
        match (self.cached_columns().as_ref(), self.fleet.get(i)) {
            (None, _) => true,
            (Some(columns), Some(s)) => columns.cover(s),
            (Some(_), None) => false,
        }
    }

    /// The fleet's component set changed: the columns are computed again when next needed. A
    /// cell cursor is kept inside them (which needs them now; the cursor is rarely in a cell).
    pub(super) fn refresh_matrix_columns(&mut self) {
        *self
            .fv
            .matrix_columns
            .get_mut()
            .unwrap_or_else(|p| p.into_inner()) = None;
        if self.fv.matrix_col.is_some() {
            let n = self.matrix_columns().ids.len();
            self.fv.matrix_col = self.fv.matrix_col.filter(|_| n > 0).map(|k| k.min(n - 1));
        }
    }

    /// Left/right in the matrix: move the cell cursor between components. Right from whole-row
    /// selection enters the first column; left from the first column returns to whole rows.
    pub fn move_matrix_column(&mut self, right: bool) {
        let n = self.matrix_columns().ids.len();
        self.fv.matrix_col = match (self.fv.matrix_col, right) {
            _ if n == 0 => None,
            (None, true) => Some(0),
            (None, false) => None,
            (Some(k), true) => Some((k + 1).min(n - 1)),
            (Some(0), false) => None,
            (Some(k), false) => Some((k - 1).min(n - 1)),
        };
    }

    /// The Sovereign and component id under the matrix's cell cursor, and the HelmRelease
    /// there (`None` when that Sovereign has no such component).
    pub fn matrix_cell(&self) -> Option<(&SovereignStatus, String, Option<ObjectRef>)> {
        self.matrix_cell_at(self.fv.matrix_table.selected().unwrap_or(0))
    }

    /// [`App::matrix_cell`] with the cursor on `row` of the visible fleet.
    pub fn matrix_cell_at(
        &self,
        row: usize,
    ) -> Option<(&SovereignStatus, String, Option<ObjectRef>)> {
        let col = self.fv.matrix_col?;
        let id = self.matrix_columns().ids.get(col)?.clone();
        let s = self.sovereign_at_row(row)?;
        let target = s
            .components
            .iter()
            .find(|c| c.id() == id)
            .map(|c| ObjectRef {
                kind: FluxKind::HelmRelease,
                namespace: c.namespace.clone(),
                name: c.name.clone(),
            });
        Some((s, id, target))
    }

    /// Enter on a matrix cell: that component's HelmRelease detail for that Sovereign.
    pub(super) fn open_matrix_cell(&mut self) {
        let Some((s, id, target)) = self.matrix_cell() else {
            return;
        };
        let fqdn = s.fqdn.clone();
        match target {
            Some(target) => self.open_release(fqdn, target),
            None => {
                self.notice = Some(Notice::warn(format!(
                    "{fqdn} has no HelmRelease for {id} (· in the matrix)"
                )))
            }
        }
    }

    /// Enter on a Sovereign's component list: open the HelmRelease detail, fetch its Events.
    pub(super) fn open_selected_release(&mut self, fqdn: String) {
        let Some((_, target)) = self.selected_release() else {
            return;
        };
        self.open_release(fqdn, target);
    }

    /// Show one HelmRelease's detail and fetch its Events through the live hub.
    fn open_release(&mut self, fqdn: String, target: ObjectRef) {
        // On the matrix or the Sovereign it came from: back returns there.
        self.raise(View::Release {
            fqdn: fqdn.clone(),
            name: target.name.clone(),
        });
        self.fv.events = None;
        let (Some(live), Ok(rt)) = (self.fv.live.clone(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        rt.spawn(async move {
            let result = live
                .handle
                .object_events(&fqdn, &target)
                .await
                .map_err(|e| e.to_string());
            let msg = FleetMsg::ReleaseEvents {
                fqdn,
                name: target.name,
                result,
            };
            let _ = live.tx.message(Msg::Fleet(msg)).await;
        });
    }
}
