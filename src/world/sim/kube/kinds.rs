//! The one table of kinds every simulated apiserver serves. Discovery, routing, list kinds and
//! Status messages are all derived from it, so adding a kind is adding a row.

/// One served resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    /// API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// Whether `status` is a subresource: writes to the main resource then leave status alone.
    pub status_subresource: bool,
    pub categories: &'static [&'static str],
    /// `Some((apiVersion, kind))` when this resource is another one seen in a second shape (the
    /// apiserver's `events.k8s.io/v1` Events are the core Events): its objects live there.
    pub stored_as: Option<(&'static str, &'static str)>,
}

impl KindInfo {
    /// `apiVersion` as written in objects: `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` as the apiserver names a resource in its messages (`helmreleases.helm.toolkit.fluxcd.io`).
    pub fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

const VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// Verbs advertised in discovery for every resource.
pub fn verbs() -> &'static [&'static str] {
    VERBS
}

#[allow(clippy::too_many_arguments)] // a table row reads best positionally
const fn kind(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    status_subresource: bool,
) -> KindInfo {
    KindInfo {
        group,
        version,
        kind,
        plural,
        singular,
        namespaced,
        short_names,
        status_subresource,
        categories: &[],
        stored_as: None,
    }
}

/// Every kind served by a simulated cluster.
pub static KINDS: &[KindInfo] = &[
    kind(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        false,
        &["ns"],
        true,
    ),
    kind("", "v1", "Node", "nodes", "node", false, &["no"], true),
    KindInfo {
        categories: &["all"],
        ..kind("", "v1", "Pod", "pods", "pod", true, &["po"], true)
    },
    kind("", "v1", "Event", "events", "event", true, &["ev"], false),
    KindInfo {
        stored_as: Some(("v1", "Event")),
        ..kind(
            "events.k8s.io",
            "v1",
            "Event",
            "events",
            "event",
            true,
            &["ev"],
            false,
        )
    },
    kind("", "v1", "Secret", "secrets", "secret", true, &[], false),
    kind(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        true,
        &["cm"],
        false,
    ),
    KindInfo {
        categories: &["all"],
        ..kind(
            "",
            "v1",
            "Service",
            "services",
            "service",
            true,
            &["svc"],
            true,
        )
    },
    kind(
        "",
        "v1",
        "Endpoints",
        "endpoints",
        "endpoints",
        true,
        &["ep"],
        false,
    ),
    kind(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        true,
        &["sa"],
        false,
    ),
    kind(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        true,
        &["pvc"],
        true,
    ),
    kind(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        "persistentvolume",
        false,
        &["pv"],
        true,
    ),
    KindInfo {
        categories: &["all"],
        ..kind(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            "deployment",
            true,
            &["deploy"],
            true,
        )
    },
    KindInfo {
        categories: &["all"],
        ..kind(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            "statefulset",
            true,
            &["sts"],
            true,
        )
    },
    KindInfo {
        categories: &["all"],
        ..kind(
            "apps",
            "v1",
            "DaemonSet",
            "daemonsets",
            "daemonset",
            true,
            &["ds"],
            true,
        )
    },
    KindInfo {
        categories: &["all"],
        ..kind(
            "apps",
            "v1",
            "ReplicaSet",
            "replicasets",
            "replicaset",
            true,
            &["rs"],
            true,
        )
    },
    kind(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        true,
        &[],
        false,
    ),
    kind(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        "storageclass",
        false,
        &["sc"],
        false,
    ),
    KindInfo {
        categories: &["flux"],
        ..kind(
            "helm.toolkit.fluxcd.io",
            "v2",
            "HelmRelease",
            "helmreleases",
            "helmrelease",
            true,
            &["hr"],
            true,
        )
    },
    KindInfo {
        categories: &["flux"],
        ..kind(
            "source.toolkit.fluxcd.io",
            "v1beta2",
            "HelmRepository",
            "helmrepositories",
            "helmrepository",
            true,
            &["helmrepo"],
            true,
        )
    },
    KindInfo {
        categories: &["flux"],
        ..kind(
            "source.toolkit.fluxcd.io",
            "v1",
            "GitRepository",
            "gitrepositories",
            "gitrepository",
            true,
            &["gitrepo"],
            true,
        )
    },
    KindInfo {
        categories: &["flux"],
        ..kind(
            "kustomize.toolkit.fluxcd.io",
            "v1",
            "Kustomization",
            "kustomizations",
            "kustomization",
            true,
            &["ks"],
            true,
        )
    },
    kind(
        "cert-manager.io",
        "v1",
        "Certificate",
        "certificates",
        "certificate",
        true,
        &["cert", "certs"],
        true,
    ),
    kind(
        "cert-manager.io",
        "v1",
        "ClusterIssuer",
        "clusterissuers",
        "clusterissuer",
        false,
        &["ciss"],
        true,
    ),
    kind(
        "dr.openova.io",
        "v1",
        "Continuum",
        "continuums",
        "continuum",
        true,
        &["dr"],
        true,
    ),
    kind(
        "dr.openova.io",
        "v1",
        "CNPGPair",
        "cnpgpairs",
        "cnpgpair",
        true,
        &["cpp"],
        true,
    ),
    kind(
        "postgresql.cnpg.io",
        "v1",
        "Cluster",
        "clusters",
        "cluster",
        true,
        &[],
        true,
    ),
];

/// Index of a kind in [`KINDS`]; the store keys objects by it.
pub type KindId = usize;

/// The kind served at `group/version/plural`.
pub fn by_plural(group: &str, version: &str, plural: &str) -> Option<KindId> {
    KINDS
        .iter()
        .position(|k| k.group == group && k.version == version && k.plural == plural)
}

/// Look a kind up by its `kind` name (`HelmRelease`), optionally narrowed by `apiVersion`.
pub fn by_kind(kind: &str, api_version: Option<&str>) -> Option<KindId> {
    KINDS
        .iter()
        .position(|k| k.kind == kind && api_version.is_none_or(|av| k.api_version() == av))
}

/// Look a kind up the way a person names it: kind, plural, singular or short name, any case.
pub fn by_any_name(name: &str) -> Option<KindId> {
    let lower = name.to_ascii_lowercase();
    KINDS.iter().position(|k| {
        k.kind.eq_ignore_ascii_case(&lower)
            || k.plural == lower
            || k.singular == lower
            || k.short_names.contains(&lower.as_str())
    })
}

/// Where the objects of `id` are kept: itself, or the kind it is a second shape of.
pub fn storage(id: KindId) -> KindId {
    match info(id).stored_as {
        Some((api_version, kind)) => by_kind(kind, Some(api_version)).unwrap_or(id),
        None => id,
    }
}

/// The kind's info by id. Ids come from this module, so they are always in range.
pub fn info(id: KindId) -> &'static KindInfo {
    &KINDS[id]
}

/// All (group, version) pairs, in table order, without duplicates.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for k in KINDS {
        if !out.contains(&(k.group, k.version)) {
            out.push((k.group, k.version));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let hr = by_any_name("hr").expect("hr");
        assert_eq!(info(hr).kind, "HelmRelease");
        assert_eq!(
            by_plural("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
            Some(hr)
        );
        assert_eq!(info(by_any_name("ks").expect("ks")).kind, "Kustomization");
        assert_eq!(info(by_any_name("cpp").expect("cpp")).kind, "CNPGPair");
        assert_eq!(info(by_any_name("dr").expect("dr")).kind, "Continuum");
        assert_eq!(
            by_kind("Pod", Some("v1")).map(|k| info(k).plural),
            Some("pods")
        );
        assert_eq!(by_kind("Pod", Some("apps/v1")), None);
        assert!(group_versions().contains(&("source.toolkit.fluxcd.io", "v1beta2")));
        // Names find the core Event; the events.k8s.io view keeps its objects there.
        let core_event = by_any_name("events").expect("events");
        assert_eq!(info(core_event).group, "");
        let v1_event = by_plural("events.k8s.io", "v1", "events").expect("events.k8s.io");
        assert_eq!(storage(v1_event), core_event);
        assert_eq!(storage(core_event), core_event);
    }
}
