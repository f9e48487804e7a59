//! Which evidence to gather for one Sovereign, and gathering it: catalyst-api (deployment or
//! subdomain check), HTTP probes of its public hosts, its cluster, and catalyst-api's own log on
//! the mothership. `sovtui diagnose` and the cockpit's walk view both gather through here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{catalyst, kube as kube_gather, probe};
use crate::provision::troubleshoot::Evidence;

/// Where the evidence for one Sovereign lives. Absent sources are simply not gathered, so the
/// walk asks instead of guessing.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub fqdn: String,
    /// catalyst-api root.
    pub api: Option<String>,
    /// Deployment id on `api`; without it only the subdomain check runs.
    pub deployment: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    /// Context of the Sovereign in `kubeconfig` (default: the FQDN).
    pub context: Option<String>,
    /// Context of the mothership in `kubeconfig`, to tail catalyst-api's log.
    pub catalyst_context: Option<String>,
    pub catalyst_namespace: String,
    /// Probe https://console.FQDN/ and https://api.FQDN/healthz.
    pub probe: bool,
    /// No kubeconfig file: the cluster's kubeconfig is fetched from `api` for `deployment`
    /// into memory (a fleet entry with `kubeconfig_from = "catalyst"`).
    pub kubeconfig_from_catalyst: bool,
}

impl Sources {
    /// Take what is still open (kubeconfig, context, catalyst-api, deployment id) from the fleet
    /// file's entry for the FQDN; what is already set wins.
    pub fn fill_from_fleet(&mut self, file: &Path) -> Result<(), String> {
        let fleet = crate::config::fleet_file::load(file).map_err(|e| e.to_string())?;
        let Some(entry) = fleet.sovereigns.iter().find(|s| s.fqdn == self.fqdn) else {
            let known: Vec<&str> = fleet.sovereigns.iter().map(|s| s.fqdn.as_str()).collect();
            return Err(format!(
                "{}: no [[sovereign]] with fqdn = \"{}\" (the file lists: {})",
                file.display(),
                self.fqdn,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        };
        let from_catalyst =
            entry.kubeconfig_from == crate::config::fleet_file::KubeconfigFrom::Catalyst;
        if self.kubeconfig.is_none() && from_catalyst {
            self.kubeconfig_from_catalyst = true;
        } else if self.kubeconfig.is_none() {
            self.kubeconfig = match &entry.kubeconfig {
                Some(p) => Some(p.clone()),
                None => crate::config::fleet_file::default_kubeconfig_paths()
                    .into_iter()
                    .find(|p| p.exists()),
            };
            if self.context.is_none() {
                self.context = Some(entry.context.clone());
            }
        }
        if self.api.is_none() {
            self.api = entry.catalyst_api.clone();
        }
        if self.deployment.is_none() && self.api == entry.catalyst_api {
            self.deployment = entry.deployment_id.clone();
        }
        Ok(())
    }

    /// Gather every source that is set into `ev`. An unreachable source leaves its evidence
    /// marked as gathered-with-error by the gatherer; only a broken kubeconfig is an error here.
    pub async fn gather(&self, ev: &mut Evidence) -> Result<(), String> {
        if let Some(api) = &self.api {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .map_err(|e| format!("building the HTTP client: {e}"))?;
            match &self.deployment {
                Some(dep) => catalyst::fetch(&http, api, dep, ev).await,
                // No deployment to look at: did the wizard even get past the Domain step?
                None => catalyst::check_subdomain(&http, api, &self.fqdn, ev).await,
            }
        }
        if self.probe {
            let http = probe::client().map_err(|e| format!("building the HTTP client: {e}"))?;
            probe::probe(&http, &probe::public_urls(&self.fqdn), ev).await;
        }
        if self.kubeconfig.is_none()
            && self.kubeconfig_from_catalyst
            && let (Some(api), Some(dep)) = (&self.api, &self.deployment)
        {
            let client =
                crate::provision::fleet::cluster::catalyst_client(&self.fqdn, api, dep).await?;
            let snap = kube_gather::gather(&client, ev).await;
            snap.add_to(ev, &self.fqdn);
        }
        if let Some(path) = &self.kubeconfig {
            let context = self.context.clone().unwrap_or_else(|| self.fqdn.clone());
            let client = client_for(path, &context).await?;
            let snap = kube_gather::gather(&client, ev).await;
            snap.add_to(ev, &context);
            if let Some(mothership) = &self.catalyst_context {
                let client = client_for(path, mothership).await?;
                catalyst::tail_logs(&client, &self.catalyst_namespace, 500, ev).await;
            }
        }
        Ok(())
    }
}

async fn client_for(path: &Path, context: &str) -> Result<kube::Client, String> {
    let kc = kube::config::Kubeconfig::read_from(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let opts = kube::config::KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| format!("{}: context {context}: {e}", path.display()))?;
    // A diagnosis is interactive-speed work: an unreachable cluster should fail fast.
    cfg.connect_timeout = Some(Duration::from_secs(10));
    cfg.read_timeout = Some(Duration::from_secs(60));
    kube::Client::try_from(cfg).map_err(|e| format!("building the kube client: {e}"))
}
