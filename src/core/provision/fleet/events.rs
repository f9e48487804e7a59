//! What the fleet tells its front-ends. Events are per Sovereign and carry only what changed,
//! except `Snapshot`, which replaces one Sovereign's whole picture (after a (re)list).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{ComponentStatus, ConnectionState, FluxObjectStatus, SovereignStatus};
use super::objects::FluxKind;
use crate::config::fleet_file::FleetFileError;
use crate::provision::flux::ComponentState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FleetEvent {
    /// The fleet file was read (again) and is valid; `sovereigns` lists the FQDNs now watched.
    FleetLoaded {
        path: Option<PathBuf>,
        sovereigns: Vec<String>,
    },
    /// The fleet file is broken; the last good fleet stays in place.
    FleetFileError {
        error: FleetFileError,
    },
    SovereignAdded {
        status: SovereignStatus,
    },
    SovereignRemoved {
        fqdn: String,
    },
    /// One Sovereign's full picture, replacing what the front-end had.
    Snapshot {
        status: SovereignStatus,
    },
    /// Every watched kind of this Sovereign has been listed at least once.
    Synced {
        fqdn: String,
    },
    ComponentChanged {
        fqdn: String,
        component: Arc<ComponentStatus>,
        /// State before this change (`None`: a new component).
        previous: Option<ComponentState>,
    },
    ComponentRemoved {
        fqdn: String,
        namespace: String,
        name: String,
    },
    /// A Kustomization or GitRepository changed.
    ObjectChanged {
        fqdn: String,
        kind: FluxKind,
        object: FluxObjectStatus,
    },
    ObjectRemoved {
        fqdn: String,
        kind: FluxKind,
        namespace: String,
        name: String,
    },
    Connection {
        fqdn: String,
        connection: ConnectionState,
        last_live: Option<DateTime<Utc>>,
    },
}

impl FleetEvent {
    /// The Sovereign the event is about (`None` for fleet-file events).
    pub fn fqdn(&self) -> Option<&str> {
        match self {
            FleetEvent::FleetLoaded { .. } | FleetEvent::FleetFileError { .. } => None,
            FleetEvent::SovereignAdded { status } | FleetEvent::Snapshot { status } => {
                Some(&status.fqdn)
            }
            FleetEvent::SovereignRemoved { fqdn }
            | FleetEvent::Synced { fqdn }
            | FleetEvent::ComponentChanged { fqdn, .. }
            | FleetEvent::ComponentRemoved { fqdn, .. }
            | FleetEvent::ObjectChanged { fqdn, .. }
            | FleetEvent::ObjectRemoved { fqdn, .. }
            | FleetEvent::Connection { fqdn, .. } => Some(fqdn),
        }
    }

    /// Apply the event to a front-end's copy of the fleet (what the cockpit's reducer can call).
    pub fn apply_to(&self, fleet: &mut Vec<SovereignStatus>) {
        let find = |fleet: &mut Vec<SovereignStatus>, fqdn: &str| {
            fleet.iter().position(|s| s.fqdn == fqdn)
        };
        match self {
            FleetEvent::FleetLoaded { sovereigns, .. } => {
                fleet.retain(|s| sovereigns.contains(&s.fqdn));
            }
            FleetEvent::FleetFileError { .. } | FleetEvent::Synced { .. } => {}
            FleetEvent::SovereignAdded { status } | FleetEvent::Snapshot { status } => {
                match find(fleet, &status.fqdn) {
                    Some(i) => fleet[i] = status.clone(),
                    None => fleet.push(status.clone()),
                }
            }
            FleetEvent::SovereignRemoved { fqdn } => fleet.retain(|s| &s.fqdn != fqdn),
            FleetEvent::ComponentChanged {
                fqdn, component, ..
            } => {
                if let Some(i) = find(fleet, fqdn) {
                    let s = &mut fleet[i];
                    let pos = s.components.iter().position(|c| {
                        c.namespace == component.namespace && c.name == component.name
                    });
                    let reorder = match pos {
                        Some(p) => {
                            let deps_changed = s.components[p].depends_on != component.depends_on;
                            s.components[p] = component.clone();
                            deps_changed
                        }
                        None => {
                            s.components.push(component.clone());
                            true
                        }
                    };
                    if reorder {
                        super::dag::sort_components(&mut s.components);
                    }
                }
            }
            FleetEvent::ComponentRemoved {
                fqdn,
                namespace,
                name,
            } => {
                if let Some(i) = find(fleet, fqdn) {
                    fleet[i]
                        .components
                        .retain(|c| !(&c.namespace == namespace && &c.name == name));
                }
            }
            FleetEvent::ObjectChanged { fqdn, kind, object } => {
                if let Some(i) = find(fleet, fqdn) {
                    let list = objects_mut(&mut fleet[i], *kind);
                    match list
                        .iter()
                        .position(|o| o.namespace == object.namespace && o.name == object.name)
                    {
                        Some(p) => list[p] = object.clone(),
                        None => {
                            list.push(object.clone());
                            list.sort_by(|a, b| {
                                (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))
                            });
                        }
                    }
                }
            }
            FleetEvent::ObjectRemoved {
                fqdn,
                kind,
                namespace,
                name,
            } => {
                if let Some(i) = find(fleet, fqdn) {
                    objects_mut(&mut fleet[i], *kind)
                        .retain(|o| !(&o.namespace == namespace && &o.name == name));
                }
            }
            FleetEvent::Connection {
                fqdn,
                connection,
                last_live,
            } => {
                if let Some(i) = find(fleet, fqdn) {
                    fleet[i].connection = connection.clone();
                    fleet[i].last_live = *last_live;
                }
            }
        }
    }
}

pub(crate) fn objects_mut(s: &mut SovereignStatus, kind: FluxKind) -> &mut Vec<FluxObjectStatus> {
    match kind {
        FluxKind::GitRepository => &mut s.git_repositories,
        _ => &mut s.kustomizations,
    }
}
