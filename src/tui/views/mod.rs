//! The state of the fleet views beyond the overview (the Sovereigns × components matrix, the
//! HelmRelease detail): live hub handle, transitions seen, on-demand Events, sort mode, the
//! pending armed action, the matrix's column order. Their key handlers are the reducer's
//! (`app/fleet_views.rs`), their drawing is `ui/`'s.

pub mod fleet_matrix;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ratatui::widgets::TableState;

use crate::provision::fleet::arrange::{FleetIndex, GroupBy};
use crate::provision::fleet::model::{ComponentStatus, SovereignStatus};
use crate::provision::fleet::{EventView, FleetHandle, FluxAction, ObjectRef};
use crate::provision::flux::ComponentState;

use super::source::FleetSender;

/// How many transitions of one HelmRelease the detail view keeps.
pub const TRANSITIONS_KEPT: usize = 20;

/// How many transitions the cockpit keeps for the whole fleet. Twenty for each of 80,000
/// HelmReleases (2,000 Sovereigns) grew without a useful bound (≈ 4 MiB a minute in the soak);
/// past this the HelmReleases whose last transition is oldest are forgotten first.
pub const TRANSITIONS_KEPT_FLEET: usize = 10_000;

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
    /// How many transitions `transitions` holds in all.
    pub transitions_kept: usize,
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
            if let Some(old) = before.components.iter().find(|o| o.name == c.name) {
                self.record_transition(&after.fqdn, old, c);
            }
        }
    }

    /// Note a component's change of state (nothing when its state is the same).
    pub fn record_transition(&mut self, fqdn: &str, old: &ComponentStatus, new: &ComponentStatus) {
        if old.state == new.state {
            return;
        }
        let at = match new.last_transition {
            Some(t) if Some(t) != old.last_transition => t,
            _ => self.now(),
        };
        let list = self
            .transitions
            .entry((fqdn.to_string(), new.name.clone()))
            .or_default();
        list.push(Transition {
            at,
            from: old.state,
            to: new.state,
            message: new.message.clone(),
        });
        if list.len() > TRANSITIONS_KEPT {
            list.remove(0);
        } else {
            self.transitions_kept += 1;
        }
        if self.transitions_kept > TRANSITIONS_KEPT_FLEET {
            self.forget_oldest_transitions();
        }
    }

    /// Down to half the fleet-wide bound, forgetting whole HelmReleases, the one whose last
    /// transition is oldest first (a sort now and then: every `TRANSITIONS_KEPT_FLEET / 2`
    /// transitions at most).
    fn forget_oldest_transitions(&mut self) {
        let mut newest: Vec<(DateTime<Utc>, (String, String))> = self
            .transitions
            .iter()
            .filter_map(|(k, list)| Some((list.last()?.at, k.clone())))
            .collect();
        newest.sort();
        let mut kept = self.transitions_kept;
        for (_, key) in newest {
            if kept <= TRANSITIONS_KEPT_FLEET / 2 {
                break;
            }
            if let Some(list) = self.transitions.remove(&key) {
                kept -= list.len();
            }
        }
        self.transitions_kept = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(name: &str, state: ComponentState, minute: u32) -> ComponentStatus {
        ComponentStatus {
            name: name.into(),
            namespace: "flux-system".into(),
            state,
            message: format!("{state} at {minute}"),
            last_transition: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 6, 10, minute, 0)
                .single(),
            depends_on: Vec::new(),
            conditions: Vec::new(),
        }
    }

    #[test]
    fn transitions_are_bounded_per_release_and_for_the_fleet_oldest_forgotten_first() {
        let mut fv = FleetViews::default();
        let (up, down) = (ComponentState::Installed, ComponentState::Failed);
        // One release flips 30 times: the last 20 are kept.
        for m in 0..30 {
            let (a, b) = if m % 2 == 0 { (up, down) } else { (down, up) };
            fv.record_transition(
                "old.test",
                &component("bp-a", a, m),
                &component("bp-a", b, m + 1),
            );
        }
        let key = |f: &str, n: &str| (f.to_string(), n.to_string());
        assert_eq!(
            fv.transitions[&key("old.test", "bp-a")].len(),
            TRANSITIONS_KEPT
        );
        assert_eq!(fv.transitions_kept, TRANSITIONS_KEPT);
        // Then as many releases as the fleet-wide bound allows, each changing once, later.
        for i in 0..TRANSITIONS_KEPT_FLEET {
            let name = format!("bp-{i}");
            fv.record_transition(
                "new.test",
                &component(&name, up, 40),
                &component(&name, down, 41),
            );
        }
        assert!(
            fv.transitions_kept <= TRANSITIONS_KEPT_FLEET,
            "{}",
            fv.transitions_kept
        );
        let held: usize = fv.transitions.values().map(Vec::len).sum();
        assert_eq!(held, fv.transitions_kept, "the count is the truth");
        assert!(
            !fv.transitions.contains_key(&key("old.test", "bp-a")),
            "the release whose last transition is oldest went first"
        );
        let newest = format!("bp-{}", TRANSITIONS_KEPT_FLEET - 1);
        assert_eq!(fv.transitions[&key("new.test", &newest)].len(), 1);
        // Same state: nothing to note.
        let before = fv.transitions_kept;
        fv.record_transition(
            "new.test",
            &component("bp-x", up, 1),
            &component("bp-x", up, 2),
        );
        assert_eq!(fv.transitions_kept, before);
    }
}
