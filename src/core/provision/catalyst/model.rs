//! The library's reading of catalyst-api's wire shapes (contract §1, §2): which statuses are final,
//! the Phase-0 marker order, and what an event or a deployment State means to a client. The shapes
//! themselves are `provision::wire`, re-exported here.

use std::collections::BTreeMap;

pub use crate::provision::wire::catalyst::{
    ComponentSnapshot, ComponentsState, CreateResponse, CredentialsVerdict, DeploymentResult,
    DeploymentState, Event, EventsResponse, GeneratedKey, RetryResponse, SubdomainVerdict,
};

/// Statuses after which nothing changes any more (contract §2.6, §12 fact 2).
pub const TERMINAL_STATUSES: &[&str] = &["ready", "failed", "wiped", "adopted", "cancelled"];

/// Phase-0 markers in the order catalyst-api emits them.
pub const PHASE0_MARKERS: &[&str] = &[
    "tofu-init",
    "tofu-plan",
    "tofu-apply",
    "tofu-output",
    "flux-bootstrap",
];

impl Event {
    /// A Phase-1 state transition of one component.
    pub fn is_component_transition(&self) -> bool {
        self.phase == "component"
            && self.component.as_deref().is_some_and(|c| !c.is_empty())
            && self.state.as_deref().is_some_and(|s| !s.is_empty())
    }

    /// A component-less `component` warn/error: a watch-level diagnostic the UI shows as a banner.
    pub fn is_watch_diagnostic(&self) -> bool {
        self.phase == "component"
            && self.component.as_deref().unwrap_or("").is_empty()
            && (self.level == "warn" || self.level == "error")
    }
}

impl DeploymentState {
    pub fn is_terminal(&self) -> bool {
        TERMINAL_STATUSES.contains(&self.status.as_str())
    }

    /// Component states from the lifted copy, else from `result`.
    pub fn component_states(&self) -> Option<&BTreeMap<String, String>> {
        self.component_states
            .as_ref()
            .or_else(|| self.result.as_ref()?.component_states.as_ref())
    }

    /// Contract §2.6 workaround: `ready` with no components while a kubeconfig exists means the
    /// Phase-1 watch never ran; `refresh-watch` can start it.
    pub fn needs_refresh_watch(&self) -> bool {
        let has_kubeconfig = self
            .result
            .as_ref()
            .and_then(|r| r.kubeconfig_path.as_deref())
            .is_some_and(|p| !p.is_empty());
        self.status == "ready"
            && has_kubeconfig
            && self.component_states().is_none_or(|c| c.is_empty())
    }
}
