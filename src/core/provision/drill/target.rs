//! Reaching a Sovereign for a drill: its apiserver through the fleet file's kubeconfig and its
//! Hetzner project through the hcloud client.

use std::path::Path;

use anyhow::{Context, Result, anyhow};

use crate::config::fleet_file;
use crate::provision::hetzner::client::{ClientOptions, HetznerClient};
use crate::provision::hetzner::credentials;

/// The clients a drill works with.
#[derive(Clone)]
pub struct DrillTarget {
    pub fqdn: String,
    pub kube: kube::Client,
    pub hetzner: HetznerClient,
}

/// Build both clients for `fqdn` from the fleet file: the kubeconfig context of its entry, and
/// the Hetzner token by the one credential rule ([`credentials::resolve`]).
pub async fn connect(fleet_path: &Path, fqdn: &str) -> Result<DrillTarget> {
    let fleet = fleet_file::load(fleet_path).map_err(|e| anyhow!("{e}"))?;
    let entry = fleet
        .sovereigns
        .iter()
        .find(|s| s.fqdn == fqdn)
        .cloned()
        .with_context(|| format!("{fqdn} is not in {}", fleet_path.display()))?;
    let kube = crate::provision::fleet::cluster::build_client(&entry, None)
        .await
        .map_err(|e| anyhow!("{fqdn}: {e}"))?;
    let (path, f) = (fleet_path.to_path_buf(), fqdn.to_string());
    let creds = tokio::task::spawn_blocking(move || credentials::resolve(&f, Some(&path), None))
        .await
        .map_err(|e| anyhow!("resolving the Hetzner token: {e}"))??;
    let hetzner = HetznerClient::new(creds, ClientOptions::default())?;
    Ok(DrillTarget {
        fqdn: fqdn.to_string(),
        kube,
        hetzner,
    })
}
