//! What the fleet knows about each Sovereign: the shapes every front-end renders. Only the fields
//! we display are kept, so memory stays bounded however large the objects on the wire are.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::provision::flux::{ComponentState, ConditionView};

/// How the link to one cluster's apiserver is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    Connecting,
    Live,
    /// Errors since `since`; data shown is stale.
    Degraded {
        since: DateTime<Utc>,
        error: String,
    },
    Forbidden {
        error: String,
    },
    AuthExpired {
        error: String,
    },
    Unreachable {
        since: DateTime<Utc>,
        error: String,
    },
}

impl ConnectionState {
    pub fn label(&self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Live => "live",
            ConnectionState::Degraded { .. } => "degraded",
            ConnectionState::Forbidden { .. } => "forbidden",
            ConnectionState::AuthExpired { .. } => "auth expired",
            ConnectionState::Unreachable { .. } => "unreachable",
        }
    }

    pub fn is_live(&self) -> bool {
        matches!(self, ConnectionState::Live)
    }
}

/// One HelmRelease, reduced to what the views show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentStatus {
    /// HelmRelease name, e.g. `bp-cilium`.
    pub name: String,
    pub namespace: String,
    pub state: ComponentState,
    pub message: String,
    /// Last transition of the Ready condition.
    pub last_transition: Option<DateTime<Utc>>,
    /// `namespace/name` of every HelmRelease this one waits for.
    pub depends_on: Vec<String>,
    pub conditions: Vec<ConditionView>,
}

impl ComponentStatus {
    /// Component id without the `bp-` prefix, as catalyst-api names it.
    pub fn id(&self) -> &str {
        crate::provision::flux::component_id(&self.name)
    }
}

/// A Kustomization or GitRepository: Ready state, message and (for sources) the revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FluxObjectStatus {
    pub name: String,
    pub namespace: String,
    pub ready: Option<bool>,
    pub reason: String,
    pub message: String,
    pub revision: Option<String>,
    pub suspended: bool,
}

/// Everything the fleet knows about one Sovereign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SovereignStatus {
    pub fqdn: String,
    pub tags: Vec<String>,
    pub connection: ConnectionState,
    /// When data last arrived over a live connection (for "stale for N s").
    pub last_live: Option<DateTime<Utc>>,
    /// Shared with the hub and every front-end: a change replaces one `Arc`, and a snapshot
    /// or an event copies pointers, not components (one copy of 80,000 at 2,000 Sovereigns).
    pub components: Vec<Arc<ComponentStatus>>,
    pub kustomizations: Vec<FluxObjectStatus>,
    pub git_repositories: Vec<FluxObjectStatus>,
}

impl SovereignStatus {
    pub fn new(fqdn: impl Into<String>, tags: Vec<String>) -> Self {
        SovereignStatus {
            fqdn: fqdn.into(),
            tags,
            connection: ConnectionState::Connecting,
            last_live: None,
            components: Vec::new(),
            kustomizations: Vec::new(),
            git_repositories: Vec::new(),
        }
    }

    /// Tagged `prod` (or `production`): front-ends give these a distinct colour cue.
    pub fn is_prod(&self) -> bool {
        self.tags.iter().any(|t| t == "prod" || t == "production")
    }

    pub fn counts(&self) -> BTreeMap<ComponentState, usize> {
        let mut counts = BTreeMap::new();
        for c in &self.components {
            *counts.entry(c.state).or_insert(0) += 1;
        }
        counts
    }

    /// The component in the worst state (ties: first in list order).
    pub fn worst(&self) -> Option<&ComponentStatus> {
        self.components
            .iter()
            .rev()
            .max_by_key(|c| c.state.severity())
            .filter(|c| c.state.severity() > 0)
            .map(|c| &**c)
    }

    /// Seconds since data was last live, when the connection is not live now.
    pub fn stale_for(&self, now: DateTime<Utc>) -> Option<i64> {
        if self.connection.is_live() {
            return None;
        }
        self.last_live.map(|t| (now - t).num_seconds().max(0))
    }
}
