//! Step 5's component marketplace (contract §4.6, `componentGroups.ts` + the deployment store):
//! families, effective tiers, direct dependencies, the default selection and the selection rules.
//! Every change is first computed as a [`Proposal`]; a proposal that reaches beyond what the operator
//! picked (a cascade) must be confirmed before it is applied.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Mandatory,
    Recommended,
    Optional,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Mandatory => "mandatory",
            Tier::Recommended => "recommended",
            Tier::Optional => "optional",
        }
    }
}

/// A product family (the chips of the grid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    pub id: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub tier: Tier,
    /// Picking one member of this (non-mandatory) family selects the whole family closure.
    pub cascade_on_member_selection: bool,
}

/// One component card. `tier` is the effective tier, after transitive-mandatory promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    pub id: &'static str,
    pub family: &'static str,
    pub tier: Tier,
    pub deps: &'static [&'static str],
}

const fn fam(
    id: &'static str,
    name: &'static str,
    title: &'static str,
    tier: Tier,
    cascade_on_member_selection: bool,
) -> Family {
    Family {
        id,
        name,
        title,
        tier,
        cascade_on_member_selection,
    }
}

const fn c(
    id: &'static str,
    family: &'static str,
    tier: Tier,
    deps: &'static [&'static str],
) -> Component {
    Component {
        id,
        family,
        tier,
        deps,
    }
}

use Tier::{Mandatory as M, Optional as O, Recommended as R};

pub static FAMILIES: &[Family] = &[
    fam("pilot", "PILOT", "GitOps & IaC", M, false),
    fam("spine", "SPINE", "Networking & Service Mesh", M, false),
    fam("surge", "SURGE", "Scaling & Resilience", M, false),
    fam("silo", "SILO", "Storage & Registry", M, false),
    fam("guardian", "GUARDIAN", "Security & Identity", M, false),
    fam("insights", "INSIGHTS", "AIOps & Observability", R, false),
    fam("fabric", "FABRIC", "Data & Integration", R, false),
    fam("cortex", "CORTEX", "AI & Machine Learning", O, true),
    fam("relay", "RELAY", "Communication", O, false),
];

pub static COMPONENTS: &[Component] = &[
    c("flux", "pilot", M, &[]),
    c("crossplane", "pilot", M, &[]),
    c("gitea", "pilot", M, &["cnpg"]),
    c("opentofu", "pilot", M, &[]),
    c("vcluster", "pilot", M, &[]),
    c("cilium", "spine", M, &[]),
    c("coraza", "spine", M, &[]),
    c("powerdns", "spine", M, &["cnpg"]),
    c("external-dns", "spine", M, &["powerdns"]),
    c("envoy", "spine", M, &[]),
    c("frpc", "spine", R, &[]),
    c("netbird", "spine", M, &[]),
    c("strongswan", "spine", O, &[]),
    c("vpa", "surge", M, &[]),
    c("keda", "surge", M, &[]),
    c("reloader", "surge", M, &[]),
    c("continuum", "surge", R, &[]),
    c("seaweedfs", "silo", M, &[]),
    c("velero", "silo", M, &["seaweedfs"]),
    c("harbor", "silo", M, &["cnpg", "seaweedfs", "valkey"]),
    c("falco", "guardian", R, &[]),
    c("kyverno", "guardian", M, &[]),
    c("trivy", "guardian", R, &[]),
    c("syft-grype", "guardian", R, &[]),
    c("sigstore", "guardian", R, &[]),
    c("keycloak", "guardian", R, &["cnpg"]),
    c("openbao", "guardian", M, &[]),
    c("external-secrets", "guardian", M, &["openbao"]),
    c("cert-manager", "guardian", M, &["external-dns"]),
    c("grafana", "insights", R, &[]),
    c("opentelemetry", "insights", R, &[]),
    c("alloy", "insights", R, &[]),
    c("loki", "insights", R, &["seaweedfs"]),
    c("mimir", "insights", R, &["seaweedfs"]),
    c("tempo", "insights", R, &["seaweedfs"]),
    c("opensearch", "insights", R, &[]),
    c("litmus", "insights", O, &[]),
    c("openmeter", "insights", O, &["cnpg"]),
    c(
        "specter",
        "insights",
        O,
        &["bge", "milvus", "langfuse", "vllm", "kserve"],
    ),
    c("cnpg", "fabric", M, &[]),
    c("valkey", "fabric", M, &[]),
    c("strimzi", "fabric", R, &[]),
    c("debezium", "fabric", R, &["strimzi"]),
    c("flink", "fabric", O, &[]),
    c("temporal", "fabric", O, &["cnpg"]),
    c("clickhouse", "fabric", O, &[]),
    c("ferretdb", "fabric", O, &["cnpg"]),
    c("iceberg", "fabric", O, &["seaweedfs"]),
    c("superset", "fabric", O, &["cnpg"]),
    c("kserve", "cortex", M, &[]),
    c("knative", "cortex", O, &[]),
    c("axon", "cortex", R, &[]),
    c("neo4j", "cortex", O, &[]),
    c("vllm", "cortex", O, &[]),
    c("milvus", "cortex", O, &["seaweedfs"]),
    c("bge", "cortex", O, &[]),
    c("langfuse", "cortex", O, &["cnpg"]),
    c("librechat", "cortex", O, &["ferretdb"]),
    c("stalwart", "relay", R, &[]),
    c("livekit", "relay", R, &[]),
    c("stunner", "relay", R, &[]),
    c("matrix", "relay", O, &["cnpg"]),
    c("ntfy", "relay", O, &[]),
];

pub fn component(id: &str) -> Option<&'static Component> {
    COMPONENTS.iter().find(|c| c.id == id)
}

pub fn family(id: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.id == id)
}

pub fn family_members(family_id: &str) -> impl Iterator<Item = &'static Component> + '_ {
    COMPONENTS.iter().filter(move |c| c.family == family_id)
}

fn is_mandatory(id: &str) -> bool {
    component(id).is_some_and(|c| c.tier == Tier::Mandatory)
}

/// `ids` plus everything they transitively depend on.
fn with_deps<'a>(ids: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<&'static str> = ids
        .into_iter()
        .filter_map(|id| component(id).map(|c| c.id))
        .collect();
    while let Some(id) = stack.pop() {
        if out.insert(id)
            && let Some(comp) = component(id)
        {
            stack.extend(comp.deps.iter().copied());
        }
    }
    out
}

/// `id` plus everything that transitively depends on it.
fn with_dependents(id: &str) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<&'static str> = component(id).map(|c| c.id).into_iter().collect();
    while let Some(id) = stack.pop() {
        if out.insert(id) {
            stack.extend(
                COMPONENTS
                    .iter()
                    .filter(|c| c.deps.contains(&id))
                    .map(|c| c.id),
            );
        }
    }
    out
}

/// The members of a family plus their transitive dependencies.
fn family_closure(family_id: &str) -> BTreeSet<&'static str> {
    with_deps(family_members(family_id).map(|c| c.id))
}

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum Change {
    AddComponent(String),
    RemoveComponent(String),
    AddFamily(String),
    RemoveFamily(String),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::AddComponent(id) => write!(f, "add {id}"),
            Change::RemoveComponent(id) => write!(f, "remove {id}"),
            Change::AddFamily(id) => write!(f, "add family {id}"),
            Change::RemoveFamily(id) => write!(f, "remove family {id}"),
        }
    }
}

/// The exact effect of a [`Change`] on the current selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub change: Change,
    /// Ids that become selected (sorted).
    pub add: Vec<&'static str>,
    /// Ids that become unselected (sorted).
    pub remove: Vec<&'static str>,
}

impl Proposal {
    /// True when the effect goes beyond the component (or the family's own members) the operator
    /// picked, i.e. it pulls in dependencies or drops dependents; such proposals need confirmation.
    pub fn is_cascade(&self) -> bool {
        let own: BTreeSet<&str> = match &self.change {
            Change::AddComponent(id) | Change::RemoveComponent(id) => {
                std::iter::once(id.as_str()).collect()
            }
            Change::AddFamily(f) | Change::RemoveFamily(f) => {
                family_members(f).map(|c| c.id).collect()
            }
        };
        self.add
            .iter()
            .chain(self.remove.iter())
            .any(|id| !own.contains(id))
    }

    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// Why a change was refused outright.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("unknown component `{0}`")]
    UnknownComponent(String),
    #[error("unknown family `{0}`")]
    UnknownFamily(String),
    #[error("`{0}` is mandatory and cannot be removed")]
    Mandatory(String),
    #[error("family `{0}` is mandatory and cannot be removed")]
    MandatoryFamily(String),
}

/// The selected component ids. Always contains every mandatory component and is closed under
/// dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    ids: BTreeSet<&'static str>,
}

impl Default for Selection {
    /// Every mandatory and recommended component plus their transitive dependencies.
    fn default() -> Self {
        let base = COMPONENTS
            .iter()
            .filter(|c| c.tier != Tier::Optional)
            .map(|c| c.id);
        Selection {
            ids: with_deps(base),
        }
    }
}

impl Selection {
    /// Rebuild a selection from stored ids (a draft). Unknown ids are returned separately; the
    /// result is re-closed under mandatory components and dependencies so it is always valid.
    pub fn from_ids<S: AsRef<str>>(ids: &[S]) -> (Selection, Vec<String>) {
        let mut unknown = Vec::new();
        let mut known = Vec::new();
        for id in ids {
            match component(id.as_ref()) {
                Some(comp) => known.push(comp.id),
                None => unknown.push(id.as_ref().to_string()),
            }
        }
        let mandatory = COMPONENTS
            .iter()
            .filter(|c| c.tier == Tier::Mandatory)
            .map(|c| c.id);
        let ids = with_deps(known.into_iter().chain(mandatory));
        (Selection { ids }, unknown)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.ids.iter().copied()
    }

    fn diff(&self, change: Change, target: BTreeSet<&'static str>) -> Proposal {
        Proposal {
            change,
            add: target.difference(&self.ids).copied().collect(),
            remove: self.ids.difference(&target).copied().collect(),
        }
    }

    /// `addComponent`: the id and its transitive deps; any newly added member of a non-mandatory
    /// family with `cascade_on_member_selection` pulls in that whole family closure (to a fixpoint).
    pub fn propose_add(&self, id: &str) -> Result<Proposal, SelectionError> {
        let comp = component(id).ok_or_else(|| SelectionError::UnknownComponent(id.into()))?;
        let mut target = self.ids.clone();
        let mut frontier = with_deps([comp.id]);
        let mut cascaded: BTreeSet<&str> = BTreeSet::new();
        loop {
            let newly: Vec<&'static str> = frontier
                .iter()
                .copied()
                .filter(|id| !target.contains(id))
                .collect();
            target.extend(frontier.iter().copied());
            let mut next = BTreeSet::new();
            for id in newly {
                let Some(comp) = component(id) else { continue };
                let Some(f) = family(comp.family) else {
                    continue;
                };
                if f.tier != Tier::Mandatory
                    && f.cascade_on_member_selection
                    && cascaded.insert(f.id)
                {
                    next.extend(family_closure(f.id));
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        Ok(self.diff(Change::AddComponent(comp.id.into()), target))
    }

    /// `removeComponent`: refuses mandatory ids; otherwise drops the id and every transitive
    /// dependent that is not mandatory.
    pub fn propose_remove(&self, id: &str) -> Result<Proposal, SelectionError> {
        let comp = component(id).ok_or_else(|| SelectionError::UnknownComponent(id.into()))?;
        if comp.tier == Tier::Mandatory {
            return Err(SelectionError::Mandatory(comp.id.into()));
        }
        let drop: BTreeSet<&str> = with_dependents(comp.id)
            .into_iter()
            .filter(|d| !is_mandatory(d))
            .collect();
        let target = self
            .ids
            .iter()
            .copied()
            .filter(|id| !drop.contains(id))
            .collect();
        Ok(self.diff(Change::RemoveComponent(comp.id.into()), target))
    }

    /// `addProduct`: the family closure.
    pub fn propose_add_family(&self, family_id: &str) -> Result<Proposal, SelectionError> {
        let f = family(family_id).ok_or_else(|| SelectionError::UnknownFamily(family_id.into()))?;
        let mut target = self.ids.clone();
        target.extend(family_closure(f.id));
        Ok(self.diff(Change::AddFamily(f.id.into()), target))
    }

    /// `removeProduct`: drops the family's non-mandatory members and their non-mandatory dependents.
    pub fn propose_remove_family(&self, family_id: &str) -> Result<Proposal, SelectionError> {
        let f = family(family_id).ok_or_else(|| SelectionError::UnknownFamily(family_id.into()))?;
        if f.tier == Tier::Mandatory {
            return Err(SelectionError::MandatoryFamily(f.id.into()));
        }
        let mut drop = BTreeSet::new();
        for m in family_members(f.id).filter(|m| m.tier != Tier::Mandatory) {
            drop.extend(
                with_dependents(m.id)
                    .into_iter()
                    .filter(|d| !is_mandatory(d)),
            );
        }
        let target = self
            .ids
            .iter()
            .copied()
            .filter(|id| !drop.contains(id))
            .collect();
        Ok(self.diff(Change::RemoveFamily(f.id.into()), target))
    }

    /// Compute the proposal for a change.
    pub fn propose(&self, change: &Change) -> Result<Proposal, SelectionError> {
        match change {
            Change::AddComponent(id) => self.propose_add(id),
            Change::RemoveComponent(id) => self.propose_remove(id),
            Change::AddFamily(id) => self.propose_add_family(id),
            Change::RemoveFamily(id) => self.propose_remove_family(id),
        }
    }

    /// Apply a proposal computed against this selection.
    pub fn apply(&mut self, proposal: &Proposal) {
        for id in &proposal.remove {
            self.ids.remove(id);
        }
        self.ids.extend(proposal.add.iter().copied());
    }

    /// Family selection state for the chips: (selected members, total members).
    pub fn family_count(&self, family_id: &str) -> (usize, usize) {
        let members: Vec<_> = family_members(family_id).collect();
        let selected = members.iter().filter(|m| self.contains(m.id)).count();
        (selected, members.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_counts() {
        assert_eq!(COMPONENTS.len(), 63);
        assert_eq!(
            COMPONENTS
                .iter()
                .filter(|c| c.tier == Tier::Mandatory)
                .count(),
            24
        );
        // Every dependency names a known component and every component a known family.
        for comp in COMPONENTS {
            assert!(family(comp.family).is_some(), "{}", comp.id);
            for d in comp.deps {
                assert!(component(d).is_some(), "{} -> {d}", comp.id);
            }
        }
        // Ids are unique.
        let ids: BTreeSet<_> = COMPONENTS.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 63);
    }

    #[test]
    fn mandatory_components_only_depend_on_mandatory_ones() {
        // This is what the transitive-mandatory promotion of cnpg and valkey guarantees.
        for comp in COMPONENTS.iter().filter(|c| c.tier == Tier::Mandatory) {
            for d in comp.deps {
                assert!(is_mandatory(d), "{} -> {d}", comp.id);
            }
        }
        assert!(is_mandatory("cnpg") && is_mandatory("valkey"));
    }

    #[test]
    fn default_selection_is_the_44_mandatory_and_recommended() {
        let s = Selection::default();
        assert_eq!(s.len(), 44);
        assert!(s.contains("harbor") && s.contains("cnpg") && s.contains("axon"));
        assert!(!s.contains("specter") && !s.contains("bge") && !s.contains("strongswan"));
    }

    #[test]
    fn adding_a_plain_optional_component_is_not_a_cascade() {
        let s = Selection::default();
        let p = s.propose_add("strongswan").unwrap();
        assert_eq!(p.add, vec!["strongswan"]);
        assert!(p.remove.is_empty());
        assert!(!p.is_cascade());
    }

    #[test]
    fn adding_pulls_transitive_deps() {
        let s = Selection::default();
        let p = s.propose_remove("keycloak").unwrap();
        let mut s2 = s.clone();
        s2.apply(&p);
        // temporal needs cnpg which is already selected (mandatory): no cascade.
        let p = s2.propose_add("temporal").unwrap();
        assert_eq!(p.add, vec!["temporal"]);
        // debezium needs strimzi; drop both, re-add debezium: strimzi comes back as a cascade.
        let mut s3 = Selection::default();
        let p = s3.propose_remove("strimzi").unwrap();
        assert_eq!(p.remove, vec!["debezium", "strimzi"]);
        assert!(p.is_cascade());
        s3.apply(&p);
        let p = s3.propose_add("debezium").unwrap();
        assert_eq!(p.add, vec!["debezium", "strimzi"]);
        assert!(p.is_cascade());
    }

    #[test]
    fn cortex_member_selection_cascades_the_whole_family() {
        let s = Selection::default();
        let p = s.propose_add("bge").unwrap();
        // All of CORTEX that is not yet selected, plus ferretdb (librechat's dep).
        assert_eq!(
            p.add,
            vec![
                "bge",
                "ferretdb",
                "knative",
                "langfuse",
                "librechat",
                "milvus",
                "neo4j",
                "vllm"
            ]
        );
        assert!(p.is_cascade());
    }

    #[test]
    fn specter_cascades_its_deps_and_cortex() {
        let s = Selection::default();
        let p = s.propose_add("specter").unwrap();
        for id in ["specter", "bge", "milvus", "langfuse", "vllm"] {
            assert!(p.add.contains(&id), "{id}");
        }
        // kserve is mandatory, already in; CORTEX cascade adds the rest of the family.
        assert!(p.add.contains(&"librechat") && p.add.contains(&"ferretdb"));
        assert!(!p.add.contains(&"kserve"));
        assert!(p.is_cascade());
    }

    #[test]
    fn harbor_runbook_example_deps() {
        assert_eq!(
            with_deps(["harbor"]),
            BTreeSet::from(["harbor", "cnpg", "seaweedfs", "valkey"])
        );
    }

    #[test]
    fn removing_refuses_mandatory_and_cascades_dependents() {
        let s = Selection::default();
        assert_eq!(
            s.propose_remove("cnpg"),
            Err(SelectionError::Mandatory("cnpg".into()))
        );
        assert_eq!(
            s.propose_remove("kserve"),
            Err(SelectionError::Mandatory("kserve".into()))
        );
        assert!(matches!(
            s.propose_remove("nope"),
            Err(SelectionError::UnknownComponent(_))
        ));
        // Removing ferretdb (after a CORTEX cascade) also drops librechat.
        let mut s = Selection::default();
        s.apply(&s.propose_add("librechat").unwrap());
        let p = s.propose_remove("ferretdb").unwrap();
        assert_eq!(p.remove, vec!["ferretdb", "librechat"]);
        assert!(p.is_cascade());
        // Removing a leaf is not a cascade.
        let p = Selection::default().propose_remove("falco").unwrap();
        assert_eq!(p.remove, vec!["falco"]);
        assert!(!p.is_cascade());
    }

    #[test]
    fn removing_a_dependency_drops_specter() {
        let mut s = Selection::default();
        s.apply(&s.propose_add("specter").unwrap());
        let p = s.propose_remove("milvus").unwrap();
        assert_eq!(p.remove, vec!["milvus", "specter"]);
    }

    #[test]
    fn family_add_and_remove() {
        let s = Selection::default();
        let p = s.propose_add_family("relay").unwrap();
        assert_eq!(p.add, vec!["matrix", "ntfy"]);
        assert!(!p.is_cascade());
        let mut s2 = s.clone();
        s2.apply(&p);
        assert_eq!(s2.family_count("relay"), (5, 5));
        let p = s2.propose_remove_family("relay").unwrap();
        assert_eq!(
            p.remove,
            vec!["livekit", "matrix", "ntfy", "stalwart", "stunner"]
        );
        assert_eq!(
            s.propose_remove_family("pilot"),
            Err(SelectionError::MandatoryFamily("pilot".into()))
        );
        // Removing FABRIC keeps the mandatory cnpg/valkey but drops their optional dependents
        // elsewhere only if they depend on a removed member.
        let mut s3 = Selection::default();
        s3.apply(&s3.propose_add("librechat").unwrap());
        let p = s3.propose_remove_family("fabric").unwrap();
        assert!(p.remove.contains(&"ferretdb") && p.remove.contains(&"librechat"));
        assert!(!p.remove.contains(&"cnpg"));
        assert!(p.is_cascade());
    }

    #[test]
    fn selection_invariants_hold_after_every_change() {
        let mut s = Selection::default();
        let changes = [
            Change::AddComponent("specter".into()),
            Change::RemoveComponent("seaweedfs".into()),
            Change::RemoveFamily("insights".into()),
            Change::AddFamily("fabric".into()),
            Change::RemoveComponent("ferretdb".into()),
        ];
        for ch in changes {
            if let Ok(p) = s.propose(&ch) {
                s.apply(&p);
            }
            for id in s.ids() {
                for d in component(id).unwrap().deps {
                    assert!(s.contains(d), "{id} selected without {d} after {ch}");
                }
            }
            for m in COMPONENTS.iter().filter(|c| c.tier == Tier::Mandatory) {
                assert!(s.contains(m.id));
            }
        }
    }

    #[test]
    fn restore_from_ids_recloses() {
        let (s, unknown) = Selection::from_ids(&["librechat", "bogus"]);
        assert_eq!(unknown, vec!["bogus".to_string()]);
        assert!(s.contains("ferretdb") && s.contains("cnpg") && s.contains("flux"));
        assert_eq!(
            s.len(),
            24 + 2,
            "mandatory + librechat + ferretdb (cnpg is mandatory)"
        );
    }
}
