//! Bootstrap-kit order: HelmReleases sorted so every release comes after what it `dependsOn`
//! (contract §3.5: the order of files is documentary, `dependsOn` is authoritative).

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use super::model::ComponentStatus;

/// The canonical order of a Sovereign's components: by namespace/name, then topologically, so
/// every holder of the same set computes the same order.
pub fn sort_components<C: Borrow<ComponentStatus>>(components: &mut Vec<C>) {
    components.sort_by(|a, b| {
        let (a, b) = (a.borrow(), b.borrow());
        (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))
    });
    order_by_dependencies(components);
}

/// Sort components topologically by `depends_on`, stable: among releases whose dependencies are
/// all placed, the one earliest in the input goes first. Dependencies on releases that are not in
/// the list are ignored (they cannot be placed anyway); releases caught in a cycle keep their
/// input order at the end, so nothing is ever dropped.
pub fn order_by_dependencies<C: Borrow<ComponentStatus>>(components: &mut Vec<C>) {
    let keys: Vec<String> = components
        .iter()
        .map(|c| format!("{}/{}", c.borrow().namespace, c.borrow().name))
        .collect();
    let order = topological_order(&keys, |i| components[i].borrow().depends_on.as_slice());
    let mut slots: Vec<Option<C>> = components.drain(..).map(Some).collect();
    components.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// Indices of `keys` in dependency order; `deps(i)` names what `keys[i]` waits for.
pub fn topological_order<'a>(keys: &[String], deps: impl Fn(usize) -> &'a [String]) -> Vec<usize> {
    let index: BTreeMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let mut waiting_on: Vec<BTreeSet<usize>> = (0..keys.len())
        .map(|i| {
            deps(i)
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .filter(|&d| d != i)
                .collect()
        })
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); keys.len()];
    for (i, w) in waiting_on.iter().enumerate() {
        for &d in w {
            dependents[d].push(i);
        }
    }
    // Ready set ordered by input position keeps the sort stable.
    let mut ready: BTreeSet<usize> = (0..keys.len())
        .filter(|&i| waiting_on[i].is_empty())
        .collect();
    let mut placed = vec![false; keys.len()];
    let mut out = Vec::with_capacity(keys.len());
    while let Some(i) = ready.pop_first() {
        placed[i] = true;
        out.push(i);
        for &j in &dependents[i] {
            if waiting_on[j].remove(&i) && waiting_on[j].is_empty() && !placed[j] {
                ready.insert(j);
            }
        }
    }
    out.extend((0..keys.len()).filter(|&i| !placed[i]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::flux::ComponentState;

    fn hr(name: &str, deps: &[&str]) -> ComponentStatus {
        ComponentStatus {
            name: name.into(),
            namespace: "flux-system".into(),
            state: ComponentState::Pending,
            message: String::new(),
            last_transition: None,
            depends_on: deps.iter().map(|d| format!("flux-system/{d}")).collect(),
            conditions: Vec::new(),
        }
    }

    fn names(c: &[ComponentStatus]) -> Vec<&str> {
        c.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn dependencies_come_first_and_ties_keep_input_order() {
        let mut c = vec![
            hr("bp-flux", &["bp-cert-manager"]),
            hr("bp-reloader", &[]),
            hr("bp-cert-manager", &["bp-cilium"]),
            hr("bp-cilium", &[]),
            hr("bp-external-dns", &["bp-cert-manager", "bp-powerdns"]),
            hr("bp-powerdns", &["bp-cert-manager"]),
        ];
        order_by_dependencies(&mut c);
        assert_eq!(
            names(&c),
            [
                "bp-reloader",
                "bp-cilium",
                "bp-cert-manager",
                "bp-flux",
                "bp-powerdns",
                "bp-external-dns"
            ]
        );
    }

    #[test]
    fn missing_dependencies_are_ignored_and_cycles_kept() {
        let mut c = vec![hr("b", &["a"]), hr("a", &["b"]), hr("x", &["not-there"])];
        order_by_dependencies(&mut c);
        assert_eq!(names(&c), ["x", "b", "a"]);
    }

    #[test]
    fn every_dependency_precedes_its_dependent() {
        // A slice of the contract's kit with its real edges.
        let mut c = vec![
            hr(
                "bp-grafana",
                &["bp-cnpg", "bp-loki", "bp-mimir", "bp-tempo", "bp-keycloak"],
            ),
            hr("bp-loki", &["bp-seaweedfs"]),
            hr("bp-mimir", &["bp-seaweedfs"]),
            hr("bp-tempo", &["bp-seaweedfs"]),
            hr("bp-seaweedfs", &["bp-flux", "bp-cert-manager"]),
            hr("bp-cnpg", &["bp-flux"]),
            hr("bp-keycloak", &["bp-cert-manager"]),
            hr("bp-flux", &["bp-cert-manager"]),
            hr("bp-cert-manager", &["bp-cilium"]),
            hr("bp-cilium", &[]),
        ];
        order_by_dependencies(&mut c);
        let pos = |n: &str| c.iter().position(|x| x.name == n).expect("present");
        for x in &c {
            for d in &x.depends_on {
                let dn = d.trim_start_matches("flux-system/");
                assert!(pos(dn) < pos(&x.name), "{dn} before {}", x.name);
            }
        }
        assert_eq!(c.len(), 10);
        assert_eq!(c[0].name, "bp-cilium");
        assert_eq!(c[9].name, "bp-grafana");
    }
}
