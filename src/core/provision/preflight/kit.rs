//! The bp-* charts a Sovereign pulls and their target versions (§1.2 G): the bootstrap kit's pins,
//! as `clusters/_template/bootstrap-kit/*.yaml` publishes them (fixtures/kits/).

use serde::Deserialize;

/// The charts to find in the registry: `<repository>/<chart>:<version>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitPins {
    pub name: String,
    /// `oci://ghcr.io/openova-io` → `openova-io`.
    pub repository: String,
    /// `(chart, version)`.
    pub charts: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct RawKit {
    name: String,
    #[serde(default)]
    helm_repository_url: Option<String>,
    #[serde(default, rename = "release")]
    releases: Vec<RawRelease>,
}

#[derive(Deserialize)]
struct RawRelease {
    name: String,
    chart_version: String,
}

impl KitPins {
    /// Parse a kit file (TOML: `name`, `helm_repository_url`, `[[release]] name, chart_version`).
    pub fn parse(text: &str) -> Result<KitPins, String> {
        let raw: RawKit = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let url = raw
            .helm_repository_url
            .unwrap_or_else(|| "oci://ghcr.io/openova-io".into());
        let repository = url
            .trim_start_matches("oci://")
            .split_once('/')
            .map(|(_, p)| p.trim_matches('/').to_string())
            .unwrap_or_default();
        Ok(KitPins {
            name: raw.name,
            repository,
            charts: raw
                .releases
                .into_iter()
                .map(|r| (r.name, r.chart_version))
                .collect(),
        })
    }

    /// The 35-release bootstrap kit.
    pub fn bootstrap_kit() -> KitPins {
        Self::parse(include_str!("../../../../fixtures/kits/bootstrap-kit.toml")).unwrap_or_else(
            |_| KitPins {
                name: "bootstrap-kit".into(),
                repository: "openova-io".into(),
                charts: Vec::new(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bootstrap_kit_pins_every_chart() {
        let k = KitPins::bootstrap_kit();
        assert_eq!(k.repository, "openova-io");
        assert_eq!(k.charts.len(), 35);
        assert!(
            k.charts
                .iter()
                .any(|(c, v)| c == "bp-cilium" && !v.is_empty())
        );
    }
}
