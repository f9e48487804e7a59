//! The desired Hetzner objects of one Sovereign, derived from a deployment request (contract §5.3),
//! plus a cost estimate from the wizard's price catalogue (§4.4), the one home of regions and prices.

use std::collections::HashMap;

use serde::Serialize;

use super::cloudinit::CloudInitInputs;
use super::naming::{self, Names, NamingVariant, ServerRole};
use super::request::DeploymentRequest;
use crate::provision::wizard::catalog::{HETZNER_LB11_PRICE, Provider, hetzner_network_zone};

pub const NETWORK_RANGE: &str = "10.0.0.0/16";
pub const SUBNET_RANGE: &str = "10.0.1.0/24";
pub const SERVER_IMAGE: &str = "ubuntu-24.04";
pub const LOAD_BALANCER_TYPE: &str = "lb11";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredNetwork {
    pub name: String,
    pub ip_range: String,
    pub subnet_range: String,
    pub network_zone: String,
    pub labels: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FirewallRule {
    /// Always `in`: the module only opens inbound ports.
    pub direction: String,
    /// `tcp` or `icmp`.
    pub protocol: String,
    pub port: Option<String>,
    pub source_ips: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredFirewall {
    pub name: String,
    pub rules: Vec<FirewallRule>,
    pub labels: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredSshKey {
    pub name: String,
    pub public_key: String,
    pub labels: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredServer {
    pub name: String,
    pub role: ServerRole,
    /// 1-based index within its role.
    pub index: u32,
    pub server_type: String,
    pub image: String,
    pub location: String,
    pub private_ip: String,
    pub labels: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LbService {
    pub protocol: String,
    pub listen_port: i32,
    pub destination_port: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredLoadBalancer {
    pub name: String,
    pub load_balancer_type: String,
    pub algorithm: String,
    pub location: String,
    pub services: Vec<LbService>,
    /// Server names, targeted through their private IPs.
    pub targets: Vec<String>,
    pub use_private_ip: bool,
    pub labels: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    pub item: String,
    pub sku: String,
    pub count: u32,
    pub eur_per_hour: f64,
    pub eur_per_month: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostEstimate {
    pub lines: Vec<CostLine>,
    pub eur_per_hour: f64,
    pub eur_per_month: f64,
    /// SKUs missing from the catalogue (their cost is not in the totals).
    pub unpriced: Vec<String>,
}

/// Knobs that are not part of the wizard's request (tfvars defaults of §5.2 and the naming drift).
#[derive(Debug, Clone)]
pub struct ModelOptions {
    pub naming: NamingVariant,
    pub ssh_allowed_cidrs: Vec<String>,
    pub k3s_version: String,
    pub gitops_repo_url: String,
    pub gitops_branch: String,
    pub ghcr_pull_token: String,
    pub enable_fail2ban: bool,
    pub enable_unattended_upgrades: bool,
    pub deployment_id: String,
    pub kubeconfig_bearer_token: String,
    pub catalyst_api_url: String,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            naming: NamingVariant::M,
            ssh_allowed_cidrs: Vec::new(),
            k3s_version: "v1.31.4+k3s1".into(),
            gitops_repo_url: "https://github.com/openova-io/openova".into(),
            gitops_branch: "main".into(),
            ghcr_pull_token: String::new(),
            enable_fail2ban: true,
            enable_unattended_upgrades: true,
            deployment_id: String::new(),
            kubeconfig_bearer_token: String::new(),
            catalyst_api_url: String::new(),
        }
    }
}

/// Every object Phase 0 creates for one Sovereign.
#[derive(Debug, Clone, Serialize)]
pub struct SovereignModel {
    pub fqdn: String,
    pub slug: String,
    pub naming: NamingVariant,
    pub location: String,
    pub network: DesiredNetwork,
    pub firewall: DesiredFirewall,
    pub ssh_key: DesiredSshKey,
    pub servers: Vec<DesiredServer>,
    pub load_balancer: DesiredLoadBalancer,
    pub cost: CostEstimate,
    #[serde(skip)]
    pub cloud_init: CloudInitInputs,
}

/// €/h and €/mo of a Hetzner server type, from the wizard's catalogue.
pub fn server_price(sku: &str) -> Option<(f64, f64)> {
    Provider::Hetzner
        .sku(sku)
        .map(|s| (s.eur_hour, s.eur_month))
}

fn round(v: f64, dp: i32) -> f64 {
    let f = 10f64.powi(dp);
    (v * f).round() / f
}

impl SovereignModel {
    /// Build the model; the request should have passed `validate_for_phase0`.
    pub fn from_request(req: &DeploymentRequest, opts: &ModelOptions) -> Self {
        let fqdn = req.sovereign_fqdn.clone();
        let names = Names::new(&fqdn, opts.naming);
        let shape = req.effective();
        let labels = naming::sovereign_labels(&fqdn);
        let cp_count = if shape.ha_enabled { 3 } else { 1 };

        let network = DesiredNetwork {
            name: names.network(),
            ip_range: NETWORK_RANGE.into(),
            subnet_range: SUBNET_RANGE.into(),
            // `validate_for_phase0` refuses other places; eu-central keeps the model total.
            network_zone: hetzner_network_zone(&shape.region)
                .unwrap_or("eu-central")
                .into(),
            labels: labels.clone(),
        };

        let world = vec!["0.0.0.0/0".to_string(), "::/0".to_string()];
        let mut rules: Vec<FirewallRule> = ["80", "443", "6443"]
            .iter()
            .map(|p| FirewallRule {
                direction: "in".into(),
                protocol: "tcp".into(),
                port: Some((*p).into()),
                source_ips: world.clone(),
            })
            .collect();
        rules.push(FirewallRule {
            direction: "in".into(),
            protocol: "icmp".into(),
            port: None,
            source_ips: world,
        });
        // Hetzner refuses a rule without sources, so no CIDRs means no SSH rule at all.
        if !opts.ssh_allowed_cidrs.is_empty() {
            rules.push(FirewallRule {
                direction: "in".into(),
                protocol: "tcp".into(),
                port: Some("22".into()),
                source_ips: opts.ssh_allowed_cidrs.clone(),
            });
        }
        let firewall = DesiredFirewall {
            name: names.firewall(),
            rules,
            labels: labels.clone(),
        };

        let ssh_key = DesiredSshKey {
            name: names.ssh_key(),
            public_key: req.ssh_public_key.trim().to_string(),
            labels: labels.clone(),
        };

        let mut servers = Vec::new();
        for i in 1..=cp_count {
            servers.push(DesiredServer {
                name: names.control_plane(i),
                role: ServerRole::ControlPlane,
                index: i,
                server_type: shape.control_plane_size.clone(),
                image: SERVER_IMAGE.into(),
                location: shape.region.clone(),
                private_ip: format!("10.0.1.{}", 1 + i),
                labels: naming::server_labels(&fqdn, ServerRole::ControlPlane),
            });
        }
        for i in 1..=shape.worker_count {
            servers.push(DesiredServer {
                name: names.worker(i),
                role: ServerRole::Worker,
                index: i,
                server_type: shape.worker_size.clone(),
                image: SERVER_IMAGE.into(),
                location: shape.region.clone(),
                private_ip: format!("10.0.1.{}", 9 + i),
                labels: naming::server_labels(&fqdn, ServerRole::Worker),
            });
        }

        let load_balancer = DesiredLoadBalancer {
            name: names.load_balancer(),
            load_balancer_type: LOAD_BALANCER_TYPE.into(),
            algorithm: "round_robin".into(),
            location: shape.region.clone(),
            services: vec![
                LbService {
                    protocol: "tcp".into(),
                    listen_port: 80,
                    destination_port: 31080,
                },
                LbService {
                    protocol: "tcp".into(),
                    listen_port: 443,
                    destination_port: 31443,
                },
            ],
            targets: servers
                .iter()
                .filter(|s| s.role == ServerRole::ControlPlane)
                .map(|s| s.name.clone())
                .collect(),
            use_private_ip: true,
            labels,
        };

        let cost = estimate_cost(&servers);
        let cloud_init = CloudInitInputs {
            fqdn: fqdn.clone(),
            subdomain: req.sovereign_subdomain.clone(),
            org_name: req.org_name.clone(),
            region: shape.region.clone(),
            ha_enabled: shape.ha_enabled,
            worker_count: shape.worker_count,
            project_id: req.hetzner_project_id.clone(),
            k3s_version: opts.k3s_version.clone(),
            gitops_repo_url: opts.gitops_repo_url.clone(),
            gitops_branch: opts.gitops_branch.clone(),
            ghcr_pull_token: opts.ghcr_pull_token.clone(),
            enable_fail2ban: opts.enable_fail2ban,
            enable_unattended_upgrades: opts.enable_unattended_upgrades,
            deployment_id: opts.deployment_id.clone(),
            kubeconfig_bearer_token: opts.kubeconfig_bearer_token.clone(),
            catalyst_api_url: opts.catalyst_api_url.clone(),
        };

        SovereignModel {
            slug: naming::slug(&fqdn),
            fqdn,
            naming: opts.naming,
            location: shape.region,
            network,
            firewall,
            ssh_key,
            servers,
            load_balancer,
            cost,
            cloud_init,
        }
    }

    /// How many objects an apply creates on an empty project (network, firewall, key, LB, servers).
    pub fn object_count(&self) -> usize {
        4 + self.servers.len()
    }

    /// The rendered user data of one desired server.
    pub fn user_data(
        &self,
        server: &DesiredServer,
        load_balancer_ip: &str,
    ) -> Result<String, super::cloudinit::RenderError> {
        match server.role {
            ServerRole::ControlPlane => self.cloud_init.control_plane(
                server.index,
                &server.name,
                &server.private_ip,
                load_balancer_ip,
            ),
            ServerRole::Worker => self.cloud_init.worker(&server.name, &server.private_ip),
        }
    }
}

fn estimate_cost(servers: &[DesiredServer]) -> CostEstimate {
    let mut lines: Vec<CostLine> = Vec::new();
    let mut unpriced = Vec::new();
    for s in servers {
        let item = match s.role {
            ServerRole::ControlPlane => "control-plane",
            ServerRole::Worker => "worker",
        };
        let Some((h, m)) = server_price(&s.server_type) else {
            if !unpriced.contains(&s.server_type) {
                unpriced.push(s.server_type.clone());
            }
            continue;
        };
        if let Some(line) = lines
            .iter_mut()
            .find(|l| l.item == item && l.sku == s.server_type)
        {
            line.count += 1;
            line.eur_per_hour = round(line.eur_per_hour + h, 4);
            line.eur_per_month = round(line.eur_per_month + m, 2);
        } else {
            lines.push(CostLine {
                item: item.into(),
                sku: s.server_type.clone(),
                count: 1,
                eur_per_hour: h,
                eur_per_month: m,
            });
        }
    }
    lines.push(CostLine {
        item: "load-balancer".into(),
        sku: LOAD_BALANCER_TYPE.into(),
        count: 1,
        eur_per_hour: HETZNER_LB11_PRICE.0,
        eur_per_month: HETZNER_LB11_PRICE.1,
    });
    let eur_per_hour = round(lines.iter().map(|l| l.eur_per_hour).sum(), 4);
    let eur_per_month = round(lines.iter().map(|l| l.eur_per_month).sum(), 2);
    CostEstimate {
        lines,
        eur_per_hour,
        eur_per_month,
        unpriced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn request(ha: bool, workers: i64) -> DeploymentRequest {
        DeploymentRequest {
            org_name: "Acme".into(),
            org_email: "platform@acme.io".into(),
            sovereign_fqdn: "t42.omani.works".into(),
            sovereign_domain_mode: "pool".into(),
            sovereign_pool_domain: "omani.works".into(),
            sovereign_subdomain: "t42".into(),
            hetzner_project_id: "proj_abc123".into(),
            region: "fsn1".into(),
            control_plane_size: "cpx32".into(),
            worker_size: "cpx22".into(),
            worker_count: workers,
            ha_enabled: ha,
            ssh_public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq x".into(),
            ..Default::default()
        }
    }

    #[test]
    fn ha_means_three_control_planes_and_lb_targets_them() {
        let m = SovereignModel::from_request(&request(true, 2), &ModelOptions::default());
        let names: Vec<&str> = m.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "catalyst-t42-omani-works-cp1",
                "catalyst-t42-omani-works-cp2",
                "catalyst-t42-omani-works-cp3",
                "catalyst-t42-omani-works-w1",
                "catalyst-t42-omani-works-w2"
            ]
        );
        assert_eq!(m.servers[0].private_ip, "10.0.1.2");
        assert_eq!(m.servers[2].private_ip, "10.0.1.4");
        assert_eq!(m.servers[3].private_ip, "10.0.1.10");
        assert_eq!(m.load_balancer.targets.len(), 3);
        assert_eq!(m.load_balancer.services[1].destination_port, 31443);
        assert_eq!(m.network.network_zone, "eu-central");
        assert_eq!(m.servers[3].labels[naming::ROLE_LABEL], "worker");
        assert!(
            m.firewall
                .rules
                .iter()
                .all(|r| r.port.as_deref() != Some("22"))
        );
        assert_eq!(m.object_count(), 9);
    }

    #[test]
    fn cost_is_servers_plus_lb() {
        let m = SovereignModel::from_request(&request(false, 2), &ModelOptions::default());
        // cpx32 + 2 × cpx22 + lb11
        assert_eq!(
            m.cost.eur_per_hour,
            round(0.0232 + 2.0 * 0.0128 + 0.0088, 4)
        );
        assert_eq!(m.cost.eur_per_month, round(14.49 + 2.0 * 7.99 + 5.39, 2));
        assert!(m.cost.unpriced.is_empty());
        let mut r = request(false, 0);
        r.control_plane_size = "cpx21".into();
        let m = SovereignModel::from_request(&r, &ModelOptions::default());
        assert_eq!(m.cost.unpriced, ["cpx21"]);
    }

    #[test]
    fn ssh_rule_only_with_cidrs_and_runbook_names() {
        let opts = ModelOptions {
            naming: NamingVariant::R,
            ssh_allowed_cidrs: vec!["198.51.100.0/24".into()],
            ..Default::default()
        };
        let m = SovereignModel::from_request(&request(false, 1), &opts);
        assert_eq!(m.network.name, "catalyst-t42-omani-works-network");
        assert_eq!(m.servers[1].name, "catalyst-t42-omani-works-worker-1");
        assert!(
            m.firewall
                .rules
                .iter()
                .any(|r| r.port.as_deref() == Some("22") && r.source_ips == ["198.51.100.0/24"])
        );
    }
}
