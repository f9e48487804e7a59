//! The state of the fleet views beyond the overview (the Sovereigns × components matrix, the
//! HelmRelease detail): live hub handle, transitions seen, on-demand Events, sort mode, the
//! pending armed action, the matrix's column order. Their key handlers are the reducer's
//! (`app/fleet_views.rs`), their drawing is `ui/`'s.

pub mod fleet_matrix;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ratatui::widgets::TableState;

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
    /// The matrix's column order, recomputed by the reducer when the fleet's component set
    /// changes (a status change, the common case under load, leaves it alone).
    pub matrix_columns: std::sync::Arc<fleet_matrix::Columns>,
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
