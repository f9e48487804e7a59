//! A bootstrap kit as data: the HelmReleases (with dependsOn) a cluster's Flux applies. Built-in
//! kits are the files of `fixtures/kits/`, embedded so the binary needs no data directory.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One HelmRelease of a kit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KitRelease {
    /// HelmRelease (and HelmRepository) name, e.g. `bp-cilium`.
    pub name: String,
    pub release_name: String,
    pub target_namespace: String,
    pub chart_version: String,
    /// Names of HelmReleases in the kit's namespace that must be Ready first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Simulated seconds from "dependencies Ready" to the install finishing.
    #[serde(default = "default_install_seconds")]
    pub install_seconds: f64,
}

fn default_install_seconds() -> f64 {
    30.0
}

fn default_namespace() -> String {
    "flux-system".into()
}

fn default_repo_url() -> String {
    "oci://ghcr.io/openova-io".into()
}

/// A bootstrap kit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kit {
    pub name: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default = "default_repo_url")]
    pub helm_repository_url: String,
    #[serde(default, rename = "release")]
    pub releases: Vec<KitRelease>,
}

/// A kit file that could not be used; says which release and why.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KitError {
    #[error("kit {kit}: {message}")]
    Parse { kit: String, message: String },
    #[error("kit {kit}: release {release} depends on unknown release {dependency}")]
    UnknownDependency {
        kit: String,
        release: String,
        dependency: String,
    },
    #[error("kit {kit}: release {release} is listed twice")]
    Duplicate { kit: String, release: String },
    #[error("kit {kit}: dependsOn cycle through {release}")]
    Cycle { kit: String, release: String },
    #[error("no built-in kit named {0:?} (known: bootstrap-kit, runbook-11)")]
    UnknownKit(String),
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "bootstrap-kit",
        include_str!("../../../../fixtures/kits/bootstrap-kit.toml"),
    ),
    (
        "runbook-11",
        include_str!("../../../../fixtures/kits/runbook-11.toml"),
    ),
];

impl Kit {
    /// Parse and validate a kit file's text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Kit, KitError> {
        let kit: Kit = toml::from_str(text).map_err(|e| KitError::Parse {
            kit: origin.to_string(),
            message: e.to_string(),
        })?;
        kit.validate()?;
        Ok(kit)
    }

    /// Read a kit file (TOML); errors name the file (and line, for syntax errors).
    pub fn load(path: &std::path::Path) -> Result<Kit, KitError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| KitError::Parse {
            kit: origin.clone(),
            message: e.to_string(),
        })?;
        Kit::from_toml(&text, &origin)
    }

    /// A built-in kit by name: `bootstrap-kit` (contract §3.5, 35 releases) or `runbook-11`.
    pub fn builtin(name: &str) -> Result<Kit, KitError> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| KitError::UnknownKit(name.to_string()))?;
        Kit::from_toml(text, name)
    }

    /// Known dependencies, no duplicates, no cycles.
    pub fn validate(&self) -> Result<(), KitError> {
        let mut names = BTreeSet::new();
        for r in &self.releases {
            if !names.insert(r.name.as_str()) {
                return Err(KitError::Duplicate {
                    kit: self.name.clone(),
                    release: r.name.clone(),
                });
            }
        }
        for r in &self.releases {
            if let Some(d) = r.depends_on.iter().find(|d| !names.contains(d.as_str())) {
                return Err(KitError::UnknownDependency {
                    kit: self.name.clone(),
                    release: r.name.clone(),
                    dependency: d.clone(),
                });
            }
        }
        self.install_order().map(|_| ())
    }

    /// Release names in an order where every release comes after its dependencies.
    pub fn install_order(&self) -> Result<Vec<String>, KitError> {
        let deps: BTreeMap<&str, &[String]> = self
            .releases
            .iter()
            .map(|r| (r.name.as_str(), r.depends_on.as_slice()))
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut remaining: Vec<&str> = self.releases.iter().map(|r| r.name.as_str()).collect();
        while !remaining.is_empty() {
            let before = remaining.len();
            remaining.retain(|name| {
                let ready = deps
                    .get(name)
                    .is_none_or(|ds| ds.iter().all(|d| done.iter().any(|x| x == d)));
                if ready {
                    done.push(name.to_string());
                }
                !ready
            });
            if remaining.len() == before {
                return Err(KitError::Cycle {
                    kit: self.name.clone(),
                    release: remaining[0].to_string(),
                });
            }
        }
        Ok(done)
    }

    pub fn release(&self, name: &str) -> Option<&KitRelease> {
        self.releases.iter().find(|r| r.name == name)
    }

    /// The objects the bootstrap-kit Kustomization applies: target Namespaces, one OCI
    /// HelmRepository and one HelmRelease per release, shaped like the kit's YAML files.
    pub fn objects(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut namespaces: BTreeSet<&str> = BTreeSet::new();
        for r in &self.releases {
            if namespaces.insert(&r.target_namespace) {
                out.push(json!({
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": r.target_namespace, "labels": {"kubernetes.io/metadata.name": r.target_namespace}},
                    "status": {"phase": "Active"},
                }));
            }
        }
        let labels = json!({"kustomize.toolkit.fluxcd.io/name": "bootstrap-kit", "kustomize.toolkit.fluxcd.io/namespace": self.namespace});
        for r in &self.releases {
            out.push(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1beta2", "kind": "HelmRepository",
                "metadata": {"name": r.name, "namespace": self.namespace, "labels": labels},
                "spec": {"type": "oci", "url": self.helm_repository_url, "interval": "15m", "secretRef": {"name": "ghcr-pull"}},
            }));
            let depends: Vec<Value> = r.depends_on.iter().map(|d| json!({"name": d})).collect();
            out.push(json!({
                "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": {"name": r.name, "namespace": self.namespace, "labels": labels},
                "spec": {
                    "interval": "15m",
                    "releaseName": r.release_name,
                    "targetNamespace": r.target_namespace,
                    "chart": {"spec": {"chart": r.name, "version": r.chart_version,
                                       "sourceRef": {"kind": "HelmRepository", "name": r.name}}},
                    "dependsOn": depends,
                    "install": {"disableWait": true, "remediation": {"retries": 3}},
                    "upgrade": {"disableWait": true, "remediation": {"retries": 3}},
                },
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_kits_load_and_order() {
        let kit = Kit::builtin("bootstrap-kit").expect("kit");
        assert_eq!(kit.releases.len(), 35);
        let order = kit.install_order().expect("order");
        let pos = |n: &str| order.iter().position(|x| x == n).expect(n);
        assert!(pos("bp-cilium") < pos("bp-cert-manager"));
        assert!(pos("bp-gitea") < pos("bp-catalyst-platform"));
        assert!(pos("bp-tempo") < pos("bp-grafana"));
        assert_eq!(Kit::builtin("runbook-11").expect("11").releases.len(), 11);
        assert!(matches!(Kit::builtin("nope"), Err(KitError::UnknownKit(_))));
        let objs = kit.objects();
        assert_eq!(
            objs.iter().filter(|o| o["kind"] == "HelmRelease").count(),
            35
        );
    }

    #[test]
    fn bad_kits_are_rejected_with_the_release_named() {
        let text = r#"
name = "k"
[[release]]
name = "a"
release_name = "a"
target_namespace = "a"
chart_version = "1"
depends_on = ["b"]
"#;
        assert_eq!(
            Kit::from_toml(text, "k"),
            Err(KitError::UnknownDependency {
                kit: "k".into(),
                release: "a".into(),
                dependency: "b".into()
            })
        );
        let cyc = r#"
name = "k"
[[release]]
name = "a"
release_name = "a"
target_namespace = "a"
chart_version = "1"
depends_on = ["b"]
[[release]]
name = "b"
release_name = "b"
target_namespace = "b"
chart_version = "1"
depends_on = ["a"]
"#;
        assert!(matches!(
            Kit::from_toml(cyc, "k"),
            Err(KitError::Cycle { .. })
        ));
        assert!(matches!(
            Kit::from_toml("name = 3", "k"),
            Err(KitError::Parse { .. })
        ));
    }
}
