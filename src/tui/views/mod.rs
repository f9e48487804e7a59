//! The fleet views beyond the overview: the Sovereigns × components matrix, the HelmRelease
//! detail, and the state they need (live hub handle, transitions seen, on-demand Events, sort
//! mode, the pending armed action). The reducer stays in `App::update`; the handlers here are
//! `impl App` blocks it calls.

pub mod fleet_matrix;
pub mod release_detail;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::widgets::TableState;

use crate::provision::fleet::model::SovereignStatus;
use crate::provision::fleet::{EventView, FleetHandle, FluxAction, FluxKind, ObjectRef};
use crate::provision::flux::ComponentState;

use super::app::{App, FleetMsg, Msg, Notice, Overlay, View};
use super::source::FleetSender;

/// How many transitions of one HelmRelease the detail view keeps.
pub const TRANSITIONS_KEPT: usize = 20;

/// The live source's hub handle and the channel back into the reducer, for effects.
#[derive(Debug, Clone)]
pub struct LiveFleet {
    pub handle: FleetHandle,
    pub tx: FleetSender,
}

/// An armed action on one HelmRelease, shown in a confirm prompt naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAction {
    pub fqdn: String,
    pub target: ObjectRef,
    pub action: FluxAction,
}

impl PendingAction {
    pub fn prompt(&self) -> String {
        format!(
            "{} HelmRelease {}/{} on {}? y confirms, any other key cancels",
            self.action.as_str(),
            self.target.namespace,
            self.target.name,
            self.fqdn
        )
    }
}

/// One state change of a HelmRelease seen while the cockpit ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub from: ComponentState,
    pub to: ComponentState,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ReleaseEvents {
    pub fqdn: String,
    pub name: String,
    pub result: Result<Vec<EventView>, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortMode {
    /// Fleet-file order for Sovereigns, bootstrap-kit (DAG) order for components.
    #[default]
    Natural,
    /// Worst state first.
    Worst,
    /// By name.
    Name,
}

impl SortMode {
    pub fn next(self) -> SortMode {
        match self {
            SortMode::Natural => SortMode::Worst,
            SortMode::Worst => SortMode::Name,
            SortMode::Name => SortMode::Natural,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortMode::Natural => "fleet/DAG order",
            SortMode::Worst => "worst first",
            SortMode::Name => "by name",
        }
    }
}

#[derive(Debug, Default)]
pub struct FleetViews {
    pub matrix_table: TableState,
    pub live: Option<LiveFleet>,
    /// Keyed by (fqdn, HelmRelease name); newest last.
    pub transitions: HashMap<(String, String), Vec<Transition>>,
    pub events: Option<ReleaseEvents>,
    pub sort: SortMode,
    /// Fixed "now" for deterministic screens (tests); `None` is the wall clock.
    pub now: Option<DateTime<Utc>>,
    /// The matrix's cell cursor: index into `fleet_matrix::columns` (`None`: whole rows).
    pub matrix_col: Option<usize>,
    /// The matrix's column order, kept until the fleet's component set changes (a status
    /// change, the common case under load, leaves it alone): see `App::matrix_columns`.
    pub matrix_columns: std::sync::OnceLock<std::sync::Arc<fleet_matrix::Columns>>,
    /// The open HelmRelease detail came from a matrix cell: back returns to the matrix.
    pub release_from_matrix: bool,
}

impl FleetViews {
    pub fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }

    /// Note every component whose state differs between two versions of a Sovereign.
    pub fn record_transitions(&mut self, before: &SovereignStatus, after: &SovereignStatus) {
        for c in &after.components {
            let Some(old) = before.components.iter().find(|o| o.name == c.name) else {
                continue;
            };
            if old.state == c.state {
                continue;
            }
            let at = match c.last_transition {
                Some(t) if Some(t) != old.last_transition => t,
                _ => self.now(),
            };
            let list = self
                .transitions
                .entry((after.fqdn.clone(), c.name.clone()))
                .or_default();
            list.push(Transition {
                at,
                from: old.state,
                to: c.state,
                message: c.message.clone(),
            });
            if list.len() > TRANSITIONS_KEPT {
                list.remove(0);
            }
        }
    }
}

/// Sort indices into `fleet` by the mode (stable).
pub fn sort_fleet(fleet: &[SovereignStatus], idx: &mut [usize], mode: SortMode) {
    match mode {
        SortMode::Natural => {}
        SortMode::Worst => idx.sort_by_key(|&i| {
            let s = &fleet[i];
            std::cmp::Reverse((
                u8::from(!s.connection.is_live()),
                s.worst().map(|c| c.state.severity()).unwrap_or(0),
            ))
        }),
        SortMode::Name => idx.sort_by(|&a, &b| fleet[a].fqdn.cmp(&fleet[b].fqdn)),
    }
}

impl App {
    pub fn toggle_sort(&mut self) {
        self.fv.sort = self.fv.sort.next();
        self.notice = Some(Notice::info(format!("sorted {}", self.fv.sort.label())));
    }

    /// Select the first row of the current list whose name contains `name`.
    pub fn jump(&mut self, name: &str) {
        let needle = name.to_lowercase();
        let found = match &self.view {
            View::Fleet | View::Matrix => self
                .visible_fleet()
                .iter()
                .position(|&i| self.fleet[i].fqdn.to_lowercase().contains(&needle)),
            View::Sovereign(_) => {
                let comps = self
                    .current_sovereign()
                    .map(|s| s.components.clone())
                    .unwrap_or_default();
                self.visible_components()
                    .iter()
                    .position(|&i| comps[i].name.to_lowercase().contains(&needle))
            }
            View::Release { .. } | View::Wizard | View::Recover => None,
        };
        match (found, &self.view) {
            (Some(row), View::Fleet) => self.fleet_table.select(Some(row)),
            (Some(row), View::Matrix) => self.fv.matrix_table.select(Some(row)),
            (Some(row), View::Sovereign(_)) => self.detail_table.select(Some(row)),
            _ => self.notice = Some(Notice::warn(format!("no row matches {name:?} here"))),
        }
    }

    /// The HelmRelease the operator is looking at: the open detail, or the selected row.
    pub fn selected_release(&self) -> Option<(String, ObjectRef)> {
        let s = self.current_sovereign()?;
        let c = match &self.view {
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
        self.overlay = Overlay::Confirm(PendingAction {
            fqdn,
            target,
            action,
        });
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

    /// The matrix's columns, computed on first use after the fleet's component set changed.
    pub fn matrix_columns(&self) -> std::sync::Arc<fleet_matrix::Columns> {
        self.fv
            .matrix_columns
            .get_or_init(|| std::sync::Arc::new(fleet_matrix::Columns::of(&self.fleet)))
            .clone()
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
        let col = self.fv.matrix_col?;
        let id = self.matrix_columns().ids.get(col)?.clone();
        let row = self.fv.matrix_table.selected().unwrap_or(0);
        let s = &self.fleet[*self.visible_fleet().get(row)?];
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
            Some(target) => {
                self.open_release(fqdn, target);
                self.fv.release_from_matrix = true;
            }
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
        self.fv.release_from_matrix = false;
        self.view = View::Release {
            fqdn: fqdn.clone(),
            name: target.name.clone(),
        };
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
