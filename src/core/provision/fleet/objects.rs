//! Flux objects on the wire → the few fields the fleet displays. Conversion is lenient: a field
//! of the wrong shape is treated as absent instead of failing the object (or the whole list).

use chrono::{DateTime, Utc};
use kube::api::{ApiResource, GroupVersionKind};
use serde::{Deserialize, Serialize};

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

pub fn reduce(kind: FluxKind, obj: FluxObject) -> Reduced {
    match kind {
        FluxKind::HelmRelease => Reduced::Component(component_status(obj)),
        FluxKind::Kustomization | FluxKind::GitRepository => {
            Reduced::Object(flux_object_status(kind, obj))
        }
    }
}

/// One Flux object as it arrives in a LIST or a watch event, decoded straight into the fields
/// the fleet reads. Everything else (`spec.values`, `managedFields`, an inventory) is skipped
/// by the parser without being built: a JSON tree of the whole object per event was most of
/// the sync's allocations at 2,000 Sovereigns (docs/PERFORMANCE.md, "Fleet at 2,000").
///
/// `metadata` is read as strictly as kube reads it (a name that is not a string fails the
/// object); below `spec` and `status`, a field of the wrong shape counts as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FluxObject {
    pub name: String,
    pub namespace: String,
    pub resource_version: Option<String>,
    pub suspend: bool,
    /// `spec.dependsOn` as `namespace/name`, the object's own namespace where none is given.
    pub depends_on: Vec<String>,
    pub conditions: Vec<ConditionView>,
    /// `status.lastAppliedRevision` (Kustomization, HelmRelease).
    pub applied_revision: Option<String>,
    /// `status.artifact.revision` (GitRepository).
    pub artifact_revision: Option<String>,
}

/// The wire shapes behind [`FluxObject`]. Lenient parts are taken as raw JSON text borrowed
/// from the body and parsed on their own, so one of the wrong shape fails only itself.
mod wire {
    use serde::Deserialize;
    use serde_json::value::RawValue;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Meta {
        pub name: Option<String>,
        pub namespace: Option<String>,
        #[serde(rename = "resourceVersion")]
        pub resource_version: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Object<'a> {
        #[serde(default)]
        pub metadata: Meta,
        #[serde(default, borrow)]
        pub spec: Option<&'a RawValue>,
        #[serde(default, borrow)]
        pub status: Option<&'a RawValue>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Spec<'a> {
        #[serde(borrow)]
        pub suspend: Option<&'a RawValue>,
        #[serde(rename = "dependsOn", borrow)]
        pub depends_on: Option<&'a RawValue>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Status<'a> {
        #[serde(borrow)]
        pub conditions: Option<&'a RawValue>,
        #[serde(rename = "lastAppliedRevision", borrow)]
        pub applied_revision: Option<&'a RawValue>,
        #[serde(borrow)]
        pub artifact: Option<&'a RawValue>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Artifact<'a> {
        #[serde(borrow)]
        pub revision: Option<&'a RawValue>,
    }

    #[derive(Deserialize)]
    pub struct Dependency<'a> {
        pub name: String,
        #[serde(default, borrow)]
        pub namespace: Option<&'a RawValue>,
    }

    /// `raw` as a `T`, or `T`'s default where it is absent or of another shape.
    pub fn lenient<'a, T: Deserialize<'a> + Default>(raw: Option<&'a RawValue>) -> T {
        raw.and_then(|r| serde_json::from_str(r.get()).ok())
            .unwrap_or_default()
    }

    /// Each element of a list that parses as a `T`; the others are left out.
    pub fn each<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Vec<T> {
        let mut kept: Vec<T> = lenient::<Vec<&'a RawValue>>(raw)
            .into_iter()
            .filter_map(|r| serde_json::from_str(r.get()).ok())
            .collect();
        // Kept for as long as the object is shown, in the hub and in each front-end: a vector
        // grown by `collect` from a filtered iterator reserves room for four, which for the
        // usual one or two conditions was most of a HelmRelease's memory (27 MiB at 2,000).
        kept.shrink_to_fit();
        kept
    }
}

impl<'de> Deserialize<'de> for FluxObject {
    /// Needs a deserializer that can lend raw text (serde_json's `from_slice`/`from_str`);
    /// from a `serde_json::Value` it fails.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let o = wire::Object::deserialize(d)?;
        let spec: wire::Spec = wire::lenient(o.spec);
        let status: wire::Status = wire::lenient(o.status);
        let artifact: wire::Artifact = wire::lenient(status.artifact);
        let namespace = o.metadata.namespace.unwrap_or_default();
        let mut depends_on: Vec<String> = wire::each::<wire::Dependency>(spec.depends_on)
            .into_iter()
            .map(|d| {
                let ns = wire::lenient::<Option<String>>(d.namespace).filter(|n| !n.is_empty());
                format!("{}/{}", ns.as_deref().unwrap_or(&namespace), d.name)
            })
            .collect();
        depends_on.shrink_to_fit();
        let text = |raw| wire::lenient::<Option<String>>(raw).filter(|s| !s.is_empty());
        Ok(FluxObject {
            name: o.metadata.name.unwrap_or_default(),
            resource_version: o.metadata.resource_version,
            suspend: wire::lenient(spec.suspend),
            depends_on,
            conditions: wire::each(status.conditions),
            applied_revision: text(status.applied_revision),
            artifact_revision: text(artifact.revision),
            namespace,
        })
    }
}

fn parse_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// HelmRelease → component, with the state of contract §3.1 (plus stalled/suspended).
pub fn component_status(obj: FluxObject) -> ComponentStatus {
    let state = flux::derive_state(&obj.conditions, obj.suspend);
    let message = flux::display_message(&obj.conditions, state);
    let last_transition = parse_time(
        obj.conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .and_then(|c| c.last_transition_time.as_deref()),
    );
    ComponentStatus {
        name: obj.name,
        namespace: obj.namespace,
        state,
        message,
        last_transition,
        depends_on: obj.depends_on,
        conditions: obj.conditions,
    }
}

/// Kustomization / GitRepository → Ready, reason, message, revision, suspend.
pub fn flux_object_status(kind: FluxKind, obj: FluxObject) -> FluxObjectStatus {
    let ready = obj.conditions.iter().find(|c| c.type_ == "Ready");
    FluxObjectStatus {
        ready: ready.and_then(|c| match &*c.status {
            "True" => Some(true),
            "False" => Some(false),
            _ => None,
        }),
        reason: ready.map(|c| c.reason.to_string()).unwrap_or_default(),
        message: ready.map(|c| c.message.clone()).unwrap_or_default(),
        revision: match kind {
            FluxKind::GitRepository => obj.artifact_revision,
            _ => obj.applied_revision,
        },
        suspended: obj.suspend,
        name: obj.name,
        namespace: obj.namespace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::flux::ComponentState;
    use serde_json::{Value, json};

    fn obj(v: Value) -> FluxObject {
        serde_json::from_str(&v.to_string()).expect("object")
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
        let c = component_status(o);
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
        let c = component_status(o);
        assert_eq!(c.state, ComponentState::Installed);
        assert!(c.depends_on.is_empty());
        assert_eq!(c.message, "Helm install complete; Ready=True");
    }

    #[test]
    fn a_wrong_shaped_spec_or_status_is_absent_but_a_wrong_name_fails_the_object() {
        let o = obj(json!({
            "metadata": {"name": "bp-x", "namespace": "ns", "managedFields": [{"a": [1, 2]}]},
            "spec": "not a map",
            "status": {"conditions": {"type": "Ready"}, "lastAppliedRevision": 7,
                       "artifact": [1], "inventory": {"entries": [{"id": "x"}]}},
        }));
        assert_eq!(
            o,
            FluxObject {
                name: "bp-x".into(),
                namespace: "ns".into(),
                ..FluxObject::default()
            }
        );
        let deps = obj(json!({"metadata": {"name": "a", "namespace": "ns"},
            "spec": {"dependsOn": [{"name": "b", "namespace": 3}, {"namespace": "x"}, {"name": "c", "namespace": ""}]}}));
        assert_eq!(deps.depends_on, ["ns/b", "ns/c"]);
        let bad = serde_json::from_str::<FluxObject>(r#"{"metadata": {"name": 5}}"#);
        assert!(bad.is_err(), "{bad:?}");
    }

    #[test]
    fn suspended_and_stalled_helmreleases() {
        let s = obj(json!({"metadata": {"name": "a"}, "spec": {"suspend": true}}));
        assert_eq!(component_status(s).state, ComponentState::Suspended);
        let st = obj(json!({"metadata": {"name": "a"}, "status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "RetriesExceeded", "message": "gave up"}]}}));
        assert_eq!(component_status(st).state, ComponentState::Stalled);
        let none = obj(json!({"metadata": {"name": "a"}}));
        assert_eq!(component_status(none).state, ComponentState::Pending);
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
        let s = flux_object_status(FluxKind::Kustomization, k);
        assert_eq!(s.ready, Some(false));
        assert_eq!(s.reason, "BuildFailed");
        assert_eq!(s.message, "kustomize build failed");
        assert_eq!(s.revision.as_deref(), Some("main@sha1:abc"));
        assert!(!s.suspended);

        let unknown = obj(json!({"metadata": {"name": "k"}, "spec": {"suspend": true},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "Progressing"}]}}));
        let s = flux_object_status(FluxKind::Kustomization, unknown);
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
        let s = flux_object_status(FluxKind::GitRepository, g);
        assert_eq!(s.ready, Some(true));
        assert_eq!(s.revision.as_deref(), Some("main@sha1:def"));
    }
}
