//! Which evidence to gather for one Sovereign, and gathering it: catalyst-api (deployment or
//! subdomain check), HTTP probes of its public hosts, its cluster, and catalyst-api's own log on
//! the mothership. `sovtui diagnose` and the cockpit's walk view both gather through here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{catalyst, kube as kube_gather, probe};
use crate::config::fleet_file::ProbeOverride;
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
    /// Reach the public hosts here instead of through DNS (the fleet file's `probe` table).
    pub probe_via: Option<ProbeOverride>,
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
        // A fleet entry that says where its public hosts answer asks for them to be probed.
        if self.probe_via.is_none() && entry.probe.is_some() {
            self.probe_via = entry.probe.clone();
            self.probe = true;
        }
        Ok(())
    }

    /// Gather every source that is set into `ev`. An unreachable source leaves its evidence
    /// marked as gathered-with-error by the gatherer; only a broken kubeconfig is an error here.
    pub async fn gather(&self, ev: &mut Evidence) -> Result<(), String> {
        for g in self.gather_each().await {
            match g.result {
                SourceResult::Gathered(e) | SourceResult::Unreachable(e) => ev.merge(e),
                SourceResult::Broken(msg) => return Err(msg),
            }
        }
        Ok(())
    }

    /// The source groups that are set, in gathering order (what a "gathering…" line names).
    pub fn groups(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.api.is_some() {
            out.push(GROUP_CATALYST);
        }
        if self.probe {
            out.push(GROUP_PROBE);
        }
        if self.kubeconfig_from_catalyst && self.kubeconfig.is_none() && self.deployment.is_some() {
            out.push(GROUP_CLUSTER);
        }
        if self.kubeconfig.is_some() {
            out.push(GROUP_CLUSTER);
            if self.catalyst_context.is_some() {
                out.push(GROUP_CATALYST_LOG);
            }
        }
        out
    }

    /// Gather each source group on its own, so a caller that gathers repeatedly (the cockpit)
    /// can keep the last good evidence of a group that fails this time.
    pub async fn gather_each(&self) -> Vec<Gathered> {
        let mut out = Vec::new();
        if let Some(api) = &self.api {
            let mut ev = Evidence::new();
            let result = match reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
            {
                Ok(http) => {
                    match &self.deployment {
                        Some(dep) => {
                            // A closed stream answers at once (replay + `done`): see what the
                            // admin UI saw.
                            if catalyst::fetch(&http, api, dep, &mut ev).await {
                                catalyst::observe_stream(
                                    api,
                                    dep,
                                    Duration::from_secs(10),
                                    &mut ev,
                                )
                                .await;
                            }
                        }
                        // No deployment to look at: did the wizard even get past the Domain step?
                        None => catalyst::check_subdomain(&http, api, &self.fqdn, &mut ev).await,
                    }
                    SourceResult::from_evidence(ev)
                }
                Err(e) => SourceResult::Broken(format!("building the HTTP client: {e}")),
            };
            out.push(Gathered {
                group: GROUP_CATALYST,
                result,
            });
        }
        if self.probe {
            let via = self.probe_via.as_ref();
            let result = match probe::client_via(&self.fqdn, via) {
                Ok(http) => {
                    let mut ev = Evidence::new();
                    probe::probe(&http, &probe::public_urls_via(&self.fqdn, via), &mut ev).await;
                    SourceResult::from_evidence(ev)
                }
                Err(e) => SourceResult::Broken(format!("building the HTTP client: {e}")),
            };
            out.push(Gathered {
                group: GROUP_PROBE,
                result,
            });
        }
        if self.kubeconfig.is_none()
            && self.kubeconfig_from_catalyst
            && let (Some(api), Some(dep)) = (&self.api, &self.deployment)
        {
            let mut ev = Evidence::new();
            let result =
                match crate::provision::fleet::cluster::catalyst_client(&self.fqdn, api, dep).await
                {
                    Ok(client) => {
                        let snap = kube_gather::gather(&client, &mut ev).await;
                        snap.add_to(&mut ev, &self.fqdn);
                        SourceResult::from_evidence(ev)
                    }
                    // catalyst-api not serving the kubeconfig (no cluster yet, or it lost the
                    // deployment) is evidence of its own, not a broken configuration.
                    Err(e) => {
                        ev.error(format!("kubeconfig from catalyst-api: {e}"));
                        SourceResult::Unreachable(ev)
                    }
                };
            out.push(Gathered {
                group: GROUP_CLUSTER,
                result,
            });
        }
        if let Some(path) = &self.kubeconfig {
            let context = self.context.clone().unwrap_or_else(|| self.fqdn.clone());
            let result = match has_context(path, &context) {
                Ok(true) => match client_for(path, &context).await {
                    Ok(client) => {
                        let mut ev = Evidence::new();
                        let snap = kube_gather::gather(&client, &mut ev).await;
                        snap.add_to(&mut ev, &context);
                        SourceResult::from_evidence(ev)
                    }
                    Err(e) => SourceResult::Broken(e),
                },
                // A Sovereign whose Phase 0 never finished has no cluster yet: the kube sources
                // stay ungathered (so the walk asks) and the catalyst evidence still counts.
                Ok(false) => {
                    let mut ev = Evidence::new();
                    ev.error(format!(
                        "{}: no context {context:?}, so its cluster was not asked (not provisioned yet?)",
                        path.display()
                    ));
                    SourceResult::Unreachable(ev)
                }
                Err(e) => SourceResult::Broken(e),
            };
            out.push(Gathered {
                group: GROUP_CLUSTER,
                result,
            });
            if let Some(mothership) = &self.catalyst_context {
                let result = match client_for(path, mothership).await {
                    Ok(client) => {
                        let mut ev = Evidence::new();
                        catalyst::tail_logs(&client, &self.catalyst_namespace, 500, &mut ev).await;
                        SourceResult::from_evidence(ev)
                    }
                    Err(e) => SourceResult::Broken(e),
                };
                out.push(Gathered {
                    group: GROUP_CATALYST_LOG,
                    result,
                });
            }
        }
        out
    }
}

/// Source group names as [`Sources::groups`] and [`Gathered::group`] give them.
pub const GROUP_CATALYST: &str = "catalyst";
pub const GROUP_PROBE: &str = "probe";
pub const GROUP_CLUSTER: &str = "cluster";
pub const GROUP_CATALYST_LOG: &str = "catalyst-log";

/// What gathering one source group gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceResult {
    /// At least one evidence source was gathered (its `errors` may still name partial failures).
    Gathered(Evidence),
    /// Nothing could be gathered; the evidence holds only the errors saying why.
    Unreachable(Evidence),
    /// The source's configuration is broken (kubeconfig, context, HTTP client).
    Broken(String),
}

impl SourceResult {
    fn from_evidence(ev: Evidence) -> SourceResult {
        if ev.gathered.is_empty() && !ev.errors.is_empty() {
            SourceResult::Unreachable(ev)
        } else {
            SourceResult::Gathered(ev)
        }
    }

    /// Why nothing was gathered, if nothing was.
    pub fn failure(&self) -> Option<String> {
        match self {
            SourceResult::Gathered(_) => None,
            SourceResult::Unreachable(ev) => Some(ev.errors.join("; ")),
            SourceResult::Broken(msg) => Some(msg.clone()),
        }
    }
}

/// One source group's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gathered {
    pub group: &'static str,
    pub result: SourceResult,
}

/// Whether the kubeconfig at `path` names `context`; an unreadable file is an error.
fn has_context(path: &Path, context: &str) -> Result<bool, String> {
    let kc = kube::config::Kubeconfig::read_from(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(kc.contexts.iter().any(|c| c.name == context))
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
    crate::provision::kube_transport::client(
        cfg,
        context,
        crate::provision::limits::Limits::current().max_body,
    )
    .map_err(|e| format!("building the kube client: {e}"))
}
