//! What a simulated cluster starts with and how it misbehaves — as data. Scenario files of the
//! world embed a [`ClusterScenario`] per Sovereign; a fault is an override here, never code.
//!
//! ```toml
//! kit = "bootstrap-kit"
//! [releases.bp-cilium]
//! fault = { type = "fail", reason = "InstallFailed", message = "failed to authorize: 401 Unauthorized" }
//! [releases.bp-gitea]
//! fault = { type = "stuck" }
//! [[objects]]
//! apiVersion = "v1"
//! kind = "Secret"
//! metadata = { name = "ghcr-pull", namespace = "flux-system" }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::kit::{Kit, KitError};

/// How one HelmRelease misbehaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReleaseFault {
    /// The install ends with `Ready=False` and this reason/message (e.g. `InstallFailed`,
    /// `ArtifactFailed`, or any other reason for a degraded release). With `stalled`, Flux has
    /// given up: `Stalled=True` with reason `RetriesExceeded`.
    Fail {
        #[serde(default = "default_fail_reason")]
        reason: String,
        message: String,
        #[serde(default)]
        stalled: bool,
    },
    /// Flux never reconciles it: no status at all (Ready absent → `pending`).
    Pending,
    /// The install starts and never finishes: `Ready=Unknown`, reason `Progressing`, forever.
    Stuck,
}

fn default_fail_reason() -> String {
    "InstallFailed".into()
}

/// Per-HelmRelease overrides, keyed by HelmRelease name in [`ClusterScenario::releases`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseOverride {
    #[serde(default)]
    pub fault: Option<ReleaseFault>,
    /// Replace the kit's install duration (simulated seconds).
    #[serde(default)]
    pub install_seconds: Option<f64>,
    /// `Ready=True` but no workload pods: the hollow umbrella chart of runbook C12.
    #[serde(default)]
    pub hollow: bool,
    /// Create the HelmRelease with `spec.suspend: true`.
    #[serde(default)]
    pub suspend: bool,
}

/// A Flux source/Kustomization that fails: `Ready=False` with this reason and message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FluxFault {
    pub reason: String,
    pub message: String,
}

fn default_true() -> bool {
    true
}

fn default_bootstrap_seconds() -> f64 {
    20.0
}

/// One simulated cluster's starting state and faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterScenario {
    /// Built-in kit name (`bootstrap-kit`, `runbook-11`); none = no HelmReleases from a kit.
    #[serde(default)]
    pub kit: Option<String>,
    /// A kit given inline instead of by name.
    #[serde(default)]
    pub kit_inline: Option<Kit>,
    /// Run the Flux bootstrap (controllers, GitRepository, Kustomization applying the kit) and the
    /// HelmRelease reconciler. Off = a plain apiserver holding just `objects`.
    #[serde(default = "default_true")]
    pub flux: bool,
    /// Simulated seconds from cluster start until the Kustomization has applied the kit.
    #[serde(default = "default_bootstrap_seconds")]
    pub bootstrap_seconds: f64,
    /// GitRepository name: [M] `openova`, [R] `openova-public`.
    #[serde(default)]
    pub git_repository_name: Option<String>,
    /// Kustomization name: [M] `bootstrap-kit`, [R] `<fqdn>-bootstrap-kit`.
    #[serde(default)]
    pub kustomization_name: Option<String>,
    /// The GitRepository fails (nothing is applied; runbook M4).
    #[serde(default)]
    pub git_repository_fault: Option<FluxFault>,
    /// The bootstrap-kit Kustomization fails to apply (no HelmReleases appear; runbook C7).
    #[serde(default)]
    pub kustomization_fault: Option<FluxFault>,
    /// Overrides per HelmRelease name.
    #[serde(default)]
    pub releases: BTreeMap<String, ReleaseOverride>,
    /// Extra objects created at start (status included), e.g. a Continuum, a CNPG Cluster, a
    /// Pending Pod for runbook C5, a Certificate failing with the LE rate limit (C17).
    #[serde(default)]
    pub objects: Vec<Value>,
    /// Node names; default one control-plane node `<cluster-name-with-dashes>-cp1`.
    #[serde(default)]
    pub nodes: Option<Vec<String>>,
    /// Let main-resource writes change status (for status edits with kubectl 1.20).
    #[serde(default)]
    pub lenient_status: bool,
    /// Watch events the apiserver keeps for clients resuming a watch (default 1024); older
    /// resourceVersions get 410 Expired and the client relists. The main per-cluster memory
    /// cost of a large world (docs/PERFORMANCE.md).
    #[serde(default)]
    pub watch_history: Option<usize>,
    /// Requests kept in the cluster's request log (default 10 000).
    #[serde(default)]
    pub request_log: Option<usize>,
}

impl Default for ClusterScenario {
    fn default() -> Self {
        ClusterScenario {
            kit: None,
            kit_inline: None,
            flux: true,
            bootstrap_seconds: default_bootstrap_seconds(),
            git_repository_name: None,
            kustomization_name: None,
            git_repository_fault: None,
            kustomization_fault: None,
            releases: BTreeMap::new(),
            objects: Vec::new(),
            nodes: None,
            lenient_status: false,
            watch_history: None,
            request_log: None,
        }
    }
}

impl ClusterScenario {
    /// The default healthy Sovereign: the 35-release kit of contract §3.5.
    pub fn bootstrap_kit() -> ClusterScenario {
        ClusterScenario {
            kit: Some("bootstrap-kit".into()),
            ..ClusterScenario::default()
        }
    }

    /// The runbook's 11-component kit.
    pub fn runbook_11() -> ClusterScenario {
        ClusterScenario {
            kit: Some("runbook-11".into()),
            ..ClusterScenario::default()
        }
    }

    /// A plain apiserver with no Flux and no objects.
    pub fn empty() -> ClusterScenario {
        ClusterScenario {
            flux: false,
            ..ClusterScenario::default()
        }
    }

    /// Parse a scenario from TOML, YAML or JSON text (by `origin`'s extension; TOML otherwise).
    pub fn parse(text: &str, origin: &str) -> Result<ClusterScenario, String> {
        let parsed = if origin.ends_with(".json") {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else if origin.ends_with(".yaml") || origin.ends_with(".yml") {
            serde_yaml::from_str(text).map_err(|e| e.to_string())
        } else {
            toml::from_str(text).map_err(|e| e.to_string())
        };
        let scenario: ClusterScenario = parsed.map_err(|e| format!("{origin}: {e}"))?;
        scenario
            .resolve_kit()
            .map_err(|e| format!("{origin}: {e}"))?;
        Ok(scenario)
    }

    /// Read a scenario file (`.toml`, `.yaml`/`.yml` or `.json`); errors name the file.
    pub fn load(path: &std::path::Path) -> Result<ClusterScenario, String> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{origin}: {e}"))?;
        ClusterScenario::parse(&text, &origin)
    }

    /// The kit this scenario uses, if any.
    pub fn resolve_kit(&self) -> Result<Option<Kit>, KitError> {
        if let Some(k) = &self.kit_inline {
            k.validate()?;
            return Ok(Some(k.clone()));
        }
        self.kit.as_deref().map(Kit::builtin).transpose()
    }

    pub fn git_repository_name(&self) -> String {
        self.git_repository_name
            .clone()
            .unwrap_or_else(|| "openova".into())
    }

    pub fn kustomization_name(&self) -> String {
        self.kustomization_name
            .clone()
            .unwrap_or_else(|| "bootstrap-kit".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../../../fixtures/kits/README.md");
        let block = readme
            .split("```toml")
            .nth(2)
            .and_then(|b| b.split("```").next())
            .expect("second toml block");
        let s = ClusterScenario::parse(block, "README.md").expect("README example parses");
        assert_eq!(s.releases["bp-harbor"].install_seconds, Some(600.0));
        assert_eq!(s.objects.len(), 1);
        let kit_block = readme
            .split("```toml")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("kit block");
        assert!(kit_block.contains("[[release]]"));
    }

    #[test]
    fn parses_the_documented_toml() {
        let text = r#"
kit = "runbook-11"
[releases.bp-cilium]
fault = { type = "fail", reason = "InstallFailed", message = "failed to authorize: 401 Unauthorized" }
[releases.bp-gitea]
fault = { type = "stuck" }
[[objects]]
apiVersion = "v1"
kind = "Secret"
metadata = { name = "ghcr-pull", namespace = "flux-system" }
"#;
        let s = ClusterScenario::parse(text, "x.toml").expect("parse");
        assert!(s.flux);
        assert_eq!(s.releases["bp-gitea"].fault, Some(ReleaseFault::Stuck));
        assert_eq!(s.objects[0]["kind"], "Secret");
        assert_eq!(
            s.resolve_kit().expect("kit").expect("some").releases.len(),
            11
        );
        let err = ClusterScenario::parse("kit = \"nope\"", "bad.toml").expect_err("bad kit");
        assert!(err.contains("bad.toml"), "{err}");
        let err = ClusterScenario::parse("kits = 1", "typo.toml").expect_err("typo");
        assert!(err.contains("unknown field"), "{err}");
        let y = ClusterScenario::parse(
            "kit: bootstrap-kit\nreleases:\n  bp-flux: {fault: {type: pending}}\n",
            "s.yaml",
        )
        .expect("yaml");
        assert_eq!(y.releases["bp-flux"].fault, Some(ReleaseFault::Pending));
    }
}
