//! Flux objects on the wire → the few fields the fleet displays. Conversion is lenient: a field
//! of the wrong shape is treated as absent instead of failing the object (or the whole list).

use chrono::{DateTime, Utc};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{ComponentStatus, FluxObjectStatus};
use crate::provision::flux::{self, ConditionView};

/// The Flux kinds the fleet watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FluxKind {
    HelmRelease,
    Kustomization,
    GitRepository,
}

impl FluxKind {
    pub const ALL: [FluxKind; 3] = [
        FluxKind::HelmRelease,
        FluxKind::Kustomization,
        FluxKind::GitRepository,
    ];

    /// Group, version, kind and plural of contract §3.4.
    pub fn gvk_plural(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            FluxKind::HelmRelease => (
                "helm.toolkit.fluxcd.io",
                "v2",
                "HelmRelease",
                "helmreleases",
            ),
            FluxKind::Kustomization => (
                "kustomize.toolkit.fluxcd.io",
                "v1",
                "Kustomization",
                "kustomizations",
            ),
            FluxKind::GitRepository => (
                "source.toolkit.fluxcd.io",
                "v1",
                "GitRepository",
                "gitrepositories",
            ),
        }
    }

    pub fn api_resource(self) -> ApiResource {
        let (g, v, k, plural) = self.gvk_plural();
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(g, v, k), plural)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        self.gvk_plural().2
    }
}

impl std::fmt::Display for FluxKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object reduced for display: a HelmRelease becomes a component, the others a Flux object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Reduced {
    Component(ComponentStatus),
    Object(FluxObjectStatus),
}

impl Reduced {
    pub fn key(&self) -> (&str, &str) {
        match self {
            Reduced::Component(c) => (&c.namespace, &c.name),
            Reduced::Object(o) => (&o.namespace, &o.name),
        }
    }
}

pub fn reduce(kind: FluxKind, obj: &DynamicObject) -> Reduced {
    match kind {
        FluxKind::HelmRelease => Reduced::Component(component_status(obj)),
        FluxKind::Kustomization | FluxKind::GitRepository => {
            Reduced::Object(flux_object_status(kind, obj))
        }
    }
}

/// Kept for as long as the object is shown, in the hub and in each front-end: a vector grown
/// by `collect` from a filtered iterator reserves room for four, which for the usual one or two
/// conditions (or dependencies) was most of a HelmRelease's memory (27 MiB at 2,000 Sovereigns).
fn exact<T>(mut v: Vec<T>) -> Vec<T> {
    v.shrink_to_fit();
    v
}

fn conditions(obj: &DynamicObject) -> Vec<ConditionView> {
    obj.data
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|list| {
            exact(
                list.iter()
                    .filter_map(|c| serde_json::from_value::<ConditionView>(c.clone()).ok())
                    .collect(),
            )
        })
        .unwrap_or_default()
}

fn suspended(obj: &DynamicObject) -> bool {
    obj.data
        .pointer("/spec/suspend")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn str_at(obj: &DynamicObject, pointer: &str) -> Option<String> {
    obj.data
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn parse_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// HelmRelease → component, with the state of contract §3.1 (plus stalled/suspended).
pub fn component_status(obj: &DynamicObject) -> ComponentStatus {
    let namespace = obj.metadata.namespace.clone().unwrap_or_default();
    let conds = conditions(obj);
    let state = flux::derive_state(&conds, suspended(obj));
    let message = flux::display_message(&conds, state);
    let last_transition = parse_time(
        conds
            .iter()
            .find(|c| c.type_ == "Ready")
            .and_then(|c| c.last_transition_time.as_deref()),
    );
    let depends_on = obj
        .data
        .pointer("/spec/dependsOn")
        .and_then(Value::as_array)
        .map(|deps| {
            exact(
                deps.iter()
                    .filter_map(|d| {
                        let name = d.get("name").and_then(Value::as_str)?;
                        let ns = d
                            .get("namespace")
                            .and_then(Value::as_str)
                            .filter(|n| !n.is_empty())
                            .unwrap_or(&namespace);
                        Some(format!("{ns}/{name}"))
                    })
                    .collect(),
            )
        })
        .unwrap_or_default();
    ComponentStatus {
        name: obj.metadata.name.clone().unwrap_or_default(),
        namespace,
        state,
        message,
        last_transition,
        depends_on,
        conditions: conds,
    }
}

/// Kustomization / GitRepository → Ready, reason, message, revision, suspend.
pub fn flux_object_status(kind: FluxKind, obj: &DynamicObject) -> FluxObjectStatus {
    let conds = conditions(obj);
    let ready = conds.iter().find(|c| c.type_ == "Ready");
    let revision = match kind {
        FluxKind::GitRepository => str_at(obj, "/status/artifact/revision"),
        _ => str_at(obj, "/status/lastAppliedRevision"),
    };
    FluxObjectStatus {
        name: obj.metadata.name.clone().unwrap_or_default(),
        namespace: obj.metadata.namespace.clone().unwrap_or_default(),
        ready: ready.and_then(|c| match c.status.as_str() {
            "True" => Some(true),
            "False" => Some(false),
            _ => None,
        }),
        reason: ready.map(|c| c.reason.clone()).unwrap_or_default(),
        message: ready.map(|c| c.message.clone()).unwrap_or_default(),
        revision,
        suspended: suspended(obj),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::flux::ComponentState;
    use serde_json::json;

    fn obj(v: Value) -> DynamicObject {
        serde_json::from_value(v).expect("object")
    }

    #[test]
    fn helmrelease_keeps_only_displayed_fields() {
        let o = obj(json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "bp-flux", "namespace": "flux-system", "resourceVersion": "7",
                         "managedFields": [{"manager": "x"}]},
            "spec": {"dependsOn": [{"name": "bp-cert-manager"}, {"name": "y", "namespace": "other"}],
                     "values": {"huge": "blob"}},
            "status": {"conditions": [
                {"type": "Ready", "status": "False", "reason": "InstallFailed",
                 "message": "chart pull failed", "lastTransitionTime": "2026-11-29T10:00:00Z"},
                {"type": "Released", "status": "False"}
            ]}
        }));
        let c = component_status(&o);
        assert_eq!(c.id(), "flux");
        assert_eq!(c.state, ComponentState::Failed);
        assert_eq!(c.message, "chart pull failed");
        assert_eq!(c.depends_on, ["flux-system/bp-cert-manager", "other/y"]);
        assert_eq!(
            c.last_transition.map(|t| t.to_rfc3339()),
            Some("2026-11-29T10:00:00+00:00".into())
        );
        assert_eq!(c.conditions.len(), 2);
    }

    #[test]
    fn malformed_fields_count_as_absent() {
        let o = obj(json!({
            "metadata": {"name": "bp-x", "namespace": "flux-system"},
            "spec": {"suspend": "yes", "dependsOn": "bp-y"},
            "status": {"conditions": [42, {"type": "Ready", "status": "True"}]}
        }));
        let c = component_status(&o);
        assert_eq!(c.state, ComponentState::Installed);
        assert!(c.depends_on.is_empty());
        assert_eq!(c.message, "Helm install complete; Ready=True");
    }

    #[test]
    fn suspended_and_stalled_helmreleases() {
        let s = obj(json!({"metadata": {"name": "a"}, "spec": {"suspend": true}}));
        assert_eq!(component_status(&s).state, ComponentState::Suspended);
        let st = obj(json!({"metadata": {"name": "a"}, "status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "RetriesExceeded", "message": "gave up"}]}}));
        assert_eq!(component_status(&st).state, ComponentState::Stalled);
        let none = obj(json!({"metadata": {"name": "a"}}));
        assert_eq!(component_status(&none).state, ComponentState::Pending);
    }

    #[test]
    fn kustomization_state_and_revision() {
        let k = obj(json!({
            "metadata": {"name": "bootstrap-kit", "namespace": "flux-system"},
            "spec": {"suspend": false},
            "status": {"lastAppliedRevision": "main@sha1:abc",
                       "conditions": [{"type": "Ready", "status": "False",
                                       "reason": "BuildFailed", "message": "kustomize build failed"}]}
        }));
        let s = flux_object_status(FluxKind::Kustomization, &k);
        assert_eq!(s.ready, Some(false));
        assert_eq!(s.reason, "BuildFailed");
        assert_eq!(s.message, "kustomize build failed");
        assert_eq!(s.revision.as_deref(), Some("main@sha1:abc"));
        assert!(!s.suspended);

        let unknown = obj(json!({"metadata": {"name": "k"}, "spec": {"suspend": true},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "Progressing"}]}}));
        let s = flux_object_status(FluxKind::Kustomization, &unknown);
        assert_eq!(s.ready, None);
        assert!(s.suspended);
        assert_eq!(s.revision, None);
    }

    #[test]
    fn gitrepository_revision_comes_from_the_artifact() {
        let g = obj(json!({
            "metadata": {"name": "openova", "namespace": "flux-system"},
            "status": {"artifact": {"revision": "main@sha1:def"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded"}]}
        }));
        let s = flux_object_status(FluxKind::GitRepository, &g);
        assert_eq!(s.ready, Some(true));
        assert_eq!(s.revision.as_deref(), Some("main@sha1:def"));
    }
}
