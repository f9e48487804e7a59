//! Reaching a Sovereign for a drill: its apiserver through the fleet file's kubeconfig and its
//! Hetzner project through the hcloud client.

use std::path::Path;

use anyhow::{Context, Result, anyhow};

use crate::config::fleet_file;
use crate::provision::hetzner::client::{
    ClientOptions, Credentials, DEFAULT_ENDPOINT, HetznerClient,
};

/// The clients a drill works with.
#[derive(Clone)]
pub struct DrillTarget {
    pub fqdn: String,
    pub kube: kube::Client,
    pub hetzner: HetznerClient,
}

/// Build both clients for `fqdn` from the fleet file: the kubeconfig context of its entry, and
/// the entry's Hetzner token source (else `HCLOUD_TOKEN` / the hcloud CLI config), against
/// `HCLOUD_ENDPOINT` when set.
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
    let creds = match &entry.hetzner {
        Some(source) => {
            let source = source.clone();
            let token = tokio::task::spawn_blocking(move || source.resolve())
                .await
                .map_err(|e| anyhow!("resolving the Hetzner token: {e}"))?
                .map_err(|e| anyhow!("{fqdn}: Hetzner token: {e}"))?;
            let endpoint = std::env::var("HCLOUD_ENDPOINT")
                .ok()
                .filter(|e| !e.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
            Credentials::new(token.expose(), endpoint)
        }
        None => Credentials::resolve(None)?,
    };
    let hetzner = HetznerClient::new(creds, ClientOptions::default())?;
    Ok(DrillTarget {
        fqdn: fqdn.to_string(),
        kube,
        hetzner,
    })
}
