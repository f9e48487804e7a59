//! The state of the fleet views beyond the overview (the Sovereigns × components matrix, the
//! HelmRelease detail): live hub handle, transitions seen, on-demand Events, sort mode, the
//! pending armed action, the matrix's column order. Their key handlers are the reducer's
//! (`app/fleet_views.rs`), their drawing is `ui/`'s.

pub mod fleet_matrix;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ratatui::widgets::TableState;

use crate::provision::fleet::arrange::{FleetIndex, GroupBy};
use crate::provision::fleet::model::SovereignStatus;
use crate::provision::fleet::{EventView, FleetHandle, FluxAction, ObjectRef};
use crate::provision::flux::ComponentState;

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

/// The order of the fleet lists (and, worst first, of a Sovereign's HelmReleases): the
/// library's rule (`provision::fleet::arrange`), shared with `sovtui fleet status`.
pub type SortMode = crate::provision::fleet::arrange::Order;

#[derive(Debug, Default)]
pub struct FleetViews {
    pub matrix_table: TableState,
    pub live: Option<LiveFleet>,
    /// Keyed by (fqdn, HelmRelease name); newest last.
    pub transitions: HashMap<(String, String), Vec<Transition>>,
    pub events: Option<ReleaseEvents>,
    pub sort: SortMode,
    /// The fleet views' rows (groups, order, filter, folds), kept by the reducer as the fleet
    /// changes (the library's rules: `provision::fleet::arrange`).
    pub index: FleetIndex,
    /// The grouping the operator chose (`None`: by fleet size, see `worst_first_above`).
    pub group_chosen: Option<GroupBy>,
    /// Fleets larger than this open grouped by worst state (`SOVTUI_WORST_FIRST_ABOVE`).
    pub worst_first_above: usize,
    /// Fixed "now" for deterministic screens (tests); `None` is the wall clock.
    pub now: Option<DateTime<Utc>>,
    /// The matrix's cell cursor: index into `fleet_matrix::columns` (`None`: whole rows).
    pub matrix_col: Option<usize>,
    /// The matrix's column order; `None` after the fleet's component set changed, computed again
    /// when next asked for (a status change, the common case under load, leaves it alone). Lazy
    /// because it is a pass over every component of the fleet: while 2,000 Sovereigns arrive one
    /// by one, computing it per arrival was quadratic (seconds of the initial sync), per frame it
    /// is once per 33 ms at most.
    pub matrix_columns: std::sync::Mutex<Option<std::sync::Arc<fleet_matrix::Columns>>>,
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
