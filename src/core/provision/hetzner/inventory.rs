//! A full listing of every resource kind the purge cares about, page by page, with no filter:
//! runbook §2.3 — name and label filters miss CCM workers and `primary_ip-<digits>`.

use std::collections::BTreeMap;

use hcloud::apis::{
    firewalls_api, floating_ips_api, load_balancers_api, networks_api, primary_ips_api,
    servers_api, ssh_keys_api, volumes_api,
};
use hcloud::models;
use serde::{Deserialize, Serialize};

use super::client::{HetznerClient, HetznerError};

const PER_PAGE: i64 = 50;
/// A listing longer than this many pages is treated as a malformed answer (a loop in `next_page`).
const MAX_PAGES: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    LoadBalancer,
    Server,
    Volume,
    FloatingIp,
    PrimaryIp,
    Firewall,
    Network,
    SshKey,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::LoadBalancer,
        Kind::Server,
        Kind::Volume,
        Kind::FloatingIp,
        Kind::PrimaryIp,
        Kind::Firewall,
        Kind::Network,
        Kind::SshKey,
    ];

    /// The `/v1/<path>` collection, also the kind names of the recovery script and wipe report.
    pub fn api_path(self) -> &'static str {
        match self {
            Kind::LoadBalancer => "load_balancers",
            Kind::Server => "servers",
            Kind::Volume => "volumes",
            Kind::FloatingIp => "floating_ips",
            Kind::PrimaryIp => "primary_ips",
            Kind::Firewall => "firewalls",
            Kind::Network => "networks",
            Kind::SshKey => "ssh_keys",
        }
    }

    /// The singular name, as serialized: `server`, `load_balancer` (journal step names).
    pub fn singular(self) -> &'static str {
        match self {
            Kind::LoadBalancer => "load_balancer",
            Kind::Server => "server",
            Kind::Volume => "volume",
            Kind::FloatingIp => "floating_ip",
            Kind::PrimaryIp => "primary_ip",
            Kind::Firewall => "firewall",
            Kind::Network => "network",
            Kind::SshKey => "ssh_key",
        }
    }

    /// Purge stage: everything in a stage may go at once; a stage only depends on earlier ones
    /// (servers hold volumes, IPs, firewall attachments and network attachments).
    pub fn purge_stage(self) -> usize {
        match self {
            Kind::LoadBalancer | Kind::Server => 0,
            Kind::Volume | Kind::FloatingIp | Kind::PrimaryIp => 1,
            Kind::Firewall | Kind::Network => 2,
            Kind::SshKey => 3,
        }
    }
}

/// One object, reduced to what plans and reports show.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CloudObject {
    pub kind: Kind,
    pub id: i64,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// Every object of the project, as listed at one moment.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub servers: Vec<models::Server>,
    pub load_balancers: Vec<models::LoadBalancer>,
    pub networks: Vec<models::Network>,
    pub firewalls: Vec<models::Firewall>,
    pub volumes: Vec<models::Volume>,
    pub primary_ips: Vec<models::PrimaryIp>,
    pub floating_ips: Vec<models::FloatingIp>,
    pub ssh_keys: Vec<models::SshKey>,
}

macro_rules! list_all {
    ($client:expr, $what:expr, $api:ident :: $func:ident, $params:ident, $field:ident) => {{
        let mut out = Vec::new();
        let mut page = 1i64;
        loop {
            let resp = $client
                .call($what, move |cfg| async move {
                    $api::$func(
                        &cfg,
                        $api::$params {
                            page: Some(page),
                            per_page: Some(PER_PAGE),
                            ..Default::default()
                        },
                    )
                    .await
                })
                .await?;
            out.extend(resp.$field);
            match resp.meta.pagination.next_page {
                Some(next) if next > page && next <= MAX_PAGES => page = next,
                Some(next) => {
                    return Err(HetznerError::Decode {
                        what: $what.to_string(),
                        message: format!("next_page {next} after page {page}"),
                    });
                }
                None => break,
            }
        }
        out
    }};
}

fn labels(map: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl Inventory {
    /// List every kind in full (the kinds are listed concurrently).
    pub async fn fetch(client: &HetznerClient) -> Result<Self, HetznerError> {
        let (servers, load_balancers, networks, firewalls) = tokio::try_join!(
            async {
                Ok::<_, HetznerError>(list_all!(
                    client,
                    "listing servers",
                    servers_api::list_servers,
                    ListServersParams,
                    servers
                ))
            },
            async {
                Ok(list_all!(
                    client,
                    "listing load balancers",
                    load_balancers_api::list_load_balancers,
                    ListLoadBalancersParams,
                    load_balancers
                ))
            },
            async {
                Ok(list_all!(
                    client,
                    "listing networks",
                    networks_api::list_networks,
                    ListNetworksParams,
                    networks
                ))
            },
            async {
                Ok(list_all!(
                    client,
                    "listing firewalls",
                    firewalls_api::list_firewalls,
                    ListFirewallsParams,
                    firewalls
                ))
            },
        )?;
        let (volumes, primary_ips, floating_ips, ssh_keys) = tokio::try_join!(
            async {
                Ok::<_, HetznerError>(list_all!(
                    client,
                    "listing volumes",
                    volumes_api::list_volumes,
                    ListVolumesParams,
                    volumes
                ))
            },
            async {
                Ok(list_all!(
                    client,
                    "listing primary IPs",
                    primary_ips_api::list_primary_ips,
                    ListPrimaryIpsParams,
                    primary_ips
                ))
            },
            async {
                Ok(list_all!(
                    client,
                    "listing floating IPs",
                    floating_ips_api::list_floating_ips,
                    ListFloatingIpsParams,
                    floating_ips
                ))
            },
            async {
                Ok(list_all!(
                    client,
                    "listing SSH keys",
                    ssh_keys_api::list_ssh_keys,
                    ListSshKeysParams,
                    ssh_keys
                ))
            },
        )?;
        Ok(Inventory {
            servers,
            load_balancers,
            networks,
            firewalls,
            volumes,
            primary_ips,
            floating_ips,
            ssh_keys,
        })
    }

    pub fn objects(&self) -> Vec<CloudObject> {
        let mut out = Vec::new();
        let mut push = |kind, id, name: &str, l: BTreeMap<String, String>| {
            out.push(CloudObject {
                kind,
                id,
                name: name.to_string(),
                labels: l,
            })
        };
        for s in &self.servers {
            push(Kind::Server, s.id, &s.name, labels(&s.labels));
        }
        for s in &self.load_balancers {
            push(Kind::LoadBalancer, s.id, &s.name, labels(&s.labels));
        }
        for s in &self.networks {
            push(Kind::Network, s.id, &s.name, labels(&s.labels));
        }
        for s in &self.firewalls {
            let l = s.labels.as_ref().map(labels).unwrap_or_default();
            push(Kind::Firewall, s.id, &s.name, l);
        }
        for s in &self.volumes {
            push(Kind::Volume, s.id, &s.name, labels(&s.labels));
        }
        for s in &self.primary_ips {
            push(Kind::PrimaryIp, s.id, &s.name, labels(&s.labels));
        }
        for s in &self.floating_ips {
            push(Kind::FloatingIp, s.id, &s.name, labels(&s.labels));
        }
        for s in &self.ssh_keys {
            push(Kind::SshKey, s.id, &s.name, labels(&s.labels));
        }
        out
    }

    pub fn len(&self) -> usize {
        self.servers.len()
            + self.load_balancers.len()
            + self.networks.len()
            + self.firewalls.len()
            + self.volumes.len()
            + self.primary_ips.len()
            + self.floating_ips.len()
            + self.ssh_keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `DELETE /v1/<kind>/<id>`. A 404 counts as success: the object is already gone.
pub async fn delete(client: &HetznerClient, kind: Kind, id: i64) -> Result<(), HetznerError> {
    let what = format!("deleting {} {id}", kind.api_path());
    let r = match kind {
        Kind::Server => client
            .call(&what, move |cfg| async move {
                servers_api::delete_server(&cfg, servers_api::DeleteServerParams { id }).await
            })
            .await
            .map(drop),
        Kind::LoadBalancer => {
            client
                .call(&what, move |cfg| async move {
                    load_balancers_api::delete_load_balancer(
                        &cfg,
                        load_balancers_api::DeleteLoadBalancerParams { id },
                    )
                    .await
                })
                .await
        }
        Kind::Network => {
            client
                .call(&what, move |cfg| async move {
                    networks_api::delete_network(&cfg, networks_api::DeleteNetworkParams { id })
                        .await
                })
                .await
        }
        Kind::Firewall => {
            client
                .call(&what, move |cfg| async move {
                    firewalls_api::delete_firewall(&cfg, firewalls_api::DeleteFirewallParams { id })
                        .await
                })
                .await
        }
        Kind::Volume => {
            client
                .call(&what, move |cfg| async move {
                    volumes_api::delete_volume(&cfg, volumes_api::DeleteVolumeParams { id }).await
                })
                .await
        }
        Kind::PrimaryIp => {
            client
                .call(&what, move |cfg| async move {
                    primary_ips_api::delete_primary_ip(
                        &cfg,
                        primary_ips_api::DeletePrimaryIpParams { id },
                    )
                    .await
                })
                .await
        }
        Kind::FloatingIp => {
            client
                .call(&what, move |cfg| async move {
                    floating_ips_api::delete_floating_ip(
                        &cfg,
                        floating_ips_api::DeleteFloatingIpParams { id },
                    )
                    .await
                })
                .await
        }
        Kind::SshKey => {
            client
                .call(&what, move |cfg| async move {
                    ssh_keys_api::delete_ssh_key(&cfg, ssh_keys_api::DeleteSshKeyParams { id })
                        .await
                })
                .await
        }
    };
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn the_singular_name_is_the_serialized_one() {
        for k in Kind::ALL {
            assert_eq!(serde_json::to_value(k).expect("json"), k.singular());
        }
    }
}
