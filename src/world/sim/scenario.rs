//! World scenarios: data files (`fixtures/scenarios/*.yaml`) that say which Sovereigns exist, how
//! far along each one is, and which faults the world plays. A fault is data — a release override,
//! a failing source, an extra object with a failing status — never a bespoke code path.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::catalyst::CatalystFaults;
use super::hetzner::faults::HetznerFaults;
use super::kube::ClusterScenario;

/// The scenarios shipped inside the binary, so `sovtui demo` and `sovtui sim` work from anywhere.
const BUILTIN: &[(&str, &str)] = &[
    (
        "demo",
        include_str!("../../../fixtures/scenarios/demo.yaml"),
    ),
    (
        "happy",
        include_str!("../../../fixtures/scenarios/happy.yaml"),
    ),
    // One per troubleshooting leaf of contract §9 (`sovtui demo --scenario leaf-C3`).
    (
        "leaf-C1",
        include_str!("../../../fixtures/scenarios/leaf-C1.yaml"),
    ),
    (
        "leaf-C2",
        include_str!("../../../fixtures/scenarios/leaf-C2.yaml"),
    ),
    (
        "leaf-C3",
        include_str!("../../../fixtures/scenarios/leaf-C3.yaml"),
    ),
    (
        "leaf-C4",
        include_str!("../../../fixtures/scenarios/leaf-C4.yaml"),
    ),
    (
        "leaf-C5",
        include_str!("../../../fixtures/scenarios/leaf-C5.yaml"),
    ),
    (
        "leaf-C6",
        include_str!("../../../fixtures/scenarios/leaf-C6.yaml"),
    ),
    (
        "leaf-C7",
        include_str!("../../../fixtures/scenarios/leaf-C7.yaml"),
    ),
    (
        "leaf-C8",
        include_str!("../../../fixtures/scenarios/leaf-C8.yaml"),
    ),
    (
        "leaf-C9",
        include_str!("../../../fixtures/scenarios/leaf-C9.yaml"),
    ),
    (
        "leaf-C10",
        include_str!("../../../fixtures/scenarios/leaf-C10.yaml"),
    ),
    (
        "leaf-C11",
        include_str!("../../../fixtures/scenarios/leaf-C11.yaml"),
    ),
    (
        "leaf-C12",
        include_str!("../../../fixtures/scenarios/leaf-C12.yaml"),
    ),
    (
        "leaf-C13",
        include_str!("../../../fixtures/scenarios/leaf-C13.yaml"),
    ),
    (
        "leaf-C14",
        include_str!("../../../fixtures/scenarios/leaf-C14.yaml"),
    ),
    (
        "leaf-C15",
        include_str!("../../../fixtures/scenarios/leaf-C15.yaml"),
    ),
    (
        "leaf-C16",
        include_str!("../../../fixtures/scenarios/leaf-C16.yaml"),
    ),
    (
        "leaf-C17",
        include_str!("../../../fixtures/scenarios/leaf-C17.yaml"),
    ),
    (
        "leaf-C18",
        include_str!("../../../fixtures/scenarios/leaf-C18.yaml"),
    ),
    (
        "leaf-D2.6",
        include_str!("../../../fixtures/scenarios/leaf-D2.6.yaml"),
    ),
    (
        "leaf-D2.7",
        include_str!("../../../fixtures/scenarios/leaf-D2.7.yaml"),
    ),
    (
        "leaf-D2.9",
        include_str!("../../../fixtures/scenarios/leaf-D2.9.yaml"),
    ),
    (
        "leaf-D2.10",
        include_str!("../../../fixtures/scenarios/leaf-D2.10.yaml"),
    ),
    (
        "leaf-HC",
        include_str!("../../../fixtures/scenarios/leaf-HC.yaml"),
    ),
    (
        "leaf-M1",
        include_str!("../../../fixtures/scenarios/leaf-M1.yaml"),
    ),
    (
        "leaf-M2",
        include_str!("../../../fixtures/scenarios/leaf-M2.yaml"),
    ),
    (
        "leaf-M3",
        include_str!("../../../fixtures/scenarios/leaf-M3.yaml"),
    ),
    (
        "leaf-M4",
        include_str!("../../../fixtures/scenarios/leaf-M4.yaml"),
    ),
];

pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldScenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub hetzner: HetznerSettings,
    #[serde(default)]
    pub catalyst: CatalystSettings,
    #[serde(default)]
    pub sovereigns: Vec<SovereignScenario>,
    /// How the mothership (Catalyst-Zero, runbook §1.2) is broken, if at all.
    #[serde(default)]
    pub mothership: super::mothership::MothershipScenario,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HetznerSettings {
    /// Simulated seconds a deleted object keeps being listed (the DELETE-but-still-there quirk).
    #[serde(default)]
    pub linger_seconds: Option<f64>,
    /// Requests per hour before 429 (Hetzner's default is 3600).
    #[serde(default)]
    pub rate_limit: Option<u64>,
    /// Project-side faults: limits, orphans left by an earlier run, slow actions, tokens.
    #[serde(default)]
    pub faults: HetznerFaults,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalystSettings {
    /// `main_tf` ([M], default) or `runbook` ([R]) resource names.
    #[serde(default)]
    pub naming: Option<String>,
    /// `CATALYST_PHASE1_MIN_BOOTSTRAP_KIT_HRS`.
    #[serde(default)]
    pub min_bootstrap_kit_hrs: Option<usize>,
    /// `CATALYST_PHASE1_FIRST_SEEN_TIMEOUT` in simulated seconds.
    #[serde(default)]
    pub first_seen_timeout_seconds: Option<f64>,
    /// Kit for clusters the timeline creates (`bootstrap-kit`, `runbook-11`).
    #[serde(default)]
    pub kit: Option<String>,
    /// PDM reservation TTL in simulated seconds (PDM's default: 600).
    #[serde(default)]
    pub pdm_reservation_ttl_seconds: Option<f64>,
    /// catalyst-api's own faults (a stale image's size regex, the Dynadot null_resource, …).
    #[serde(default)]
    pub faults: CatalystFaults,
    /// PDM allocations that exist before the world starts (another Sovereign holds the name).
    #[serde(default)]
    pub pdm_allocations: Vec<PdmAllocation>,
    /// PDM answers 503 to everything (its database is down).
    #[serde(default)]
    pub pdm_unavailable: bool,
    /// Who wins the Phase-1 start race of contract §2.6: `wait_for_kubeconfig` (default),
    /// `tofu_wins` (runbook C14: `ready` with zero components), `put_wins`.
    #[serde(default)]
    pub phase1_race: Option<String>,
    /// Restart the catalyst-api Pod this many simulated seconds after the world starts, without
    /// its PVC (pre-`418cead0`, runbook C13): every deployment record is lost.
    #[serde(default)]
    pub restart_without_pvc_after_seconds: Option<f64>,
}

/// One PDM row present at start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdmAllocation {
    pub pool: String,
    pub subdomain: String,
    /// `reserved` (an in-flight provisioning) or `active` (a live Sovereign).
    #[serde(default = "default_allocation_state")]
    pub state: String,
}

fn default_allocation_state() -> String {
    "active".into()
}

/// Which of the simulated project's tokens the wizard was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    #[default]
    ReadWrite,
    /// Passes `credentials/validate` (it can list servers), fails every write at apply.
    ReadOnly,
}

/// Wizard fields of a `provisioning` Sovereign's create request that differ from the defaults
/// (read-write token, cx42 control plane, one cx32 worker, a fresh Ed25519 key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestOverride {
    #[serde(default)]
    pub token: TokenKind,
    #[serde(default)]
    pub control_plane_size: Option<String>,
    #[serde(default)]
    pub worker_size: Option<String>,
    #[serde(default)]
    pub worker_count: Option<i64>,
    /// The public key as pasted, verbatim (e.g. a truncated one).
    #[serde(default)]
    pub ssh_public_key: Option<String>,
}

/// Values of `catalyst.phase1_race`.
pub const PHASE1_RACES: &[&str] = &["wait_for_kubeconfig", "tofu_wins", "put_wins"];

/// A Sovereign's public hosts (`console.FQDN`, `api.FQDN`) as its ingress answers them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressScenario {
    /// HTTP status of every answer (runbook §2.9: 403 from a Cilium Gateway envoy).
    #[serde(default = "default_ingress_status")]
    pub status: u16,
    /// The `server` header.
    #[serde(default = "default_ingress_server")]
    pub server: String,
    #[serde(default)]
    pub body: String,
}

fn default_ingress_status() -> u16 {
    200
}

fn default_ingress_server() -> String {
    "envoy".into()
}

/// How far along a Sovereign is when the world starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Its cluster exists and Flux reconciles its kit from the start.
    #[default]
    Running,
    /// Created through catalyst-api at start: Phase 0 and Phase 1 play out live.
    Provisioning,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SovereignScenario {
    pub fqdn: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub stage: Stage,
    /// Hetzner location of the (primary) region.
    #[serde(default = "default_region")]
    pub region: String,
    /// Further regions (multi-region Sovereigns: the drill's target).
    #[serde(default)]
    pub extra_regions: Vec<String>,
    /// Create the Phase-0 objects in the simulated Hetzner project (running Sovereigns).
    #[serde(default = "default_true")]
    pub hetzner: bool,
    /// The cluster: kit, release faults, extra objects.
    #[serde(default = "ClusterScenario::bootstrap_kit")]
    pub cluster: ClusterScenario,
    /// `provisioning` only: what the wizard sends to catalyst-api where it differs from defaults.
    #[serde(default)]
    pub request: Option<RequestOverride>,
    /// Serve the public hosts from a simulated ingress on loopback.
    #[serde(default)]
    pub ingress: Option<IngressScenario>,
    /// `running` only: the apiserver refuses connections from the start (it is in the kubeconfig
    /// all the same; the control API's `up` brings it back).
    #[serde(default)]
    pub apiserver_down: bool,
}

fn default_region() -> String {
    "fsn1".into()
}

fn default_true() -> bool {
    true
}

impl WorldScenario {
    /// A built-in scenario by name, or a scenario file by path.
    pub fn load(name_or_path: &str) -> Result<WorldScenario, String> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(text, &format!("{name}.yaml (built in)"));
        }
        let path = Path::new(name_or_path);
        if path.exists() {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            return Self::parse(&text, &path.display().to_string());
        }
        Err(format!(
            "no scenario named '{name_or_path}' (built in: {}) and no such file",
            builtin_names().join(", ")
        ))
    }

    /// Every error names `origin:line` (and the column when YAML gives one): the place serde_yaml
    /// reports, else the line the problem is about.
    pub fn parse(text: &str, origin: &str) -> Result<WorldScenario, String> {
        let scenario: WorldScenario =
            serde_yaml::from_str(text).map_err(|e| match e.location() {
                Some(loc) => format!("{origin}:{}:{}: {e}", loc.line(), loc.column()),
                None => format!("{origin}:{}: {e}", unlocated_line(text)),
            })?;
        for s in &scenario.sovereigns {
            s.cluster.resolve_kit().map_err(|e| {
                format!(
                    "{origin}:{}: sovereign {}: {e}",
                    line_with(text, &s.fqdn, 0),
                    s.fqdn
                )
            })?;
        }
        if let Some(race) = &scenario.catalyst.phase1_race
            && !PHASE1_RACES.contains(&race.as_str())
        {
            return Err(format!(
                "{origin}:{}: catalyst.phase1_race '{race}' is none of {}",
                line_with(text, "phase1_race", 0),
                PHASE1_RACES.join(", ")
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &scenario.sovereigns {
            if !seen.insert(&s.fqdn) {
                return Err(format!(
                    "{origin}:{}: sovereign {} is listed twice",
                    line_with(text, &s.fqdn, 1),
                    s.fqdn
                ));
            }
        }
        Ok(scenario)
    }
}

/// 1-based line of the `nth` (0-based) line containing `needle`; the first line when none does.
fn line_with(text: &str, needle: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !needle.is_empty() && l.contains(needle))
        .nth(nth)
        .map_or(1, |(i, _)| i + 1)
}

/// The line of a YAML error serde_yaml gives no place for. The one such error a file can cause
/// is a second document: its `---` is blamed (the first `---` after content, or the second one).
fn unlocated_line(text: &str) -> usize {
    let mut content = false;
    let mut markers = 0;
    for (i, l) in text.lines().enumerate() {
        let doc_start = l == "---" || l.starts_with("--- ") || l.starts_with("---\t");
        if doc_start {
            markers += 1;
            if content || markers == 2 {
                return i + 1;
            }
        } else if !l.trim().is_empty() && !l.trim_start().starts_with('#') {
            content = true;
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_scenarios_parse() {
        for name in builtin_names() {
            let s = WorldScenario::load(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.sovereigns.is_empty(), "{name}");
        }
    }

    #[test]
    fn every_scenario_file_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("fixtures/scenarios") {
            let path = entry.expect("dir entry").path();
            if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
                WorldScenario::load(&path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                assert!(
                    builtin_names().contains(&stem),
                    "{stem} is not built in: add it to BUILTIN so `--scenario {stem}` works anywhere"
                );
                n += 1;
            }
        }
        assert!(n > 2, "found only {n} scenario files");
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = WorldScenario::parse(
            "name: x\nsovereigns:\n  - fqdn: a\n    bogus: 1\n",
            "f.yaml",
        )
        .expect_err("unknown field");
        assert!(err.starts_with("f.yaml:"), "{err}");
        let err = WorldScenario::parse("name: x\ncatalyst:\n  phase1_race: sometimes\n", "f.yaml")
            .expect_err("unknown race");
        assert!(err.contains("tofu_wins"), "{err}");
        let ok = WorldScenario::parse(
            "name: x\ncatalyst:\n  phase1_race: tofu_wins\n  faults: {kubeconfig_postback_missing: true}\n  restart_without_pvc_after_seconds: 5\nsovereigns:\n  - fqdn: a.b.c\n    ingress: {status: 403}\n",
            "f.yaml",
        )
        .expect("parses");
        assert_eq!(
            ok.sovereigns[0].ingress.as_ref().map(|i| i.server.as_str()),
            Some("envoy")
        );
        let err = WorldScenario::parse("name: x\ncatalyst:\n  phase1_race: sometimes\n", "f.yaml")
            .expect_err("unknown race");
        assert!(err.starts_with("f.yaml:3: "), "{err}");
        let err = WorldScenario::parse(
            "name: x\nsovereigns:\n  - fqdn: a.b.c\n  - fqdn: a.b.c\n",
            "f.yaml",
        )
        .expect_err("twice");
        assert!(err.starts_with("f.yaml:4: "), "{err}");
        let err = WorldScenario::load("nope").expect_err("unknown");
        assert!(err.contains("demo"), "{err}");
    }

    /// Found by the fuzz target `fuzz_scenario_yaml`: serde_yaml gives a second document no
    /// location, so the error named the file without a line.
    #[test]
    fn a_second_document_is_blamed_on_its_marker_line() {
        let err = WorldScenario::parse("# c\nname: x\n---\nsovereigns: []\n", "f.yaml")
            .expect_err("two documents");
        assert!(err.starts_with("f.yaml:3: "), "{err}");
        let err = WorldScenario::parse("---\nname: x\n--- \n", "f.yaml").expect_err("two");
        assert!(err.starts_with("f.yaml:3: "), "{err}");
    }
}
