//! What Phase 0 (`tofu apply` of `infra/hetzner`, contract §5.3) leaves in a Hetzner project,
//! created through the simulator's own API code so the world's timeline produces exactly the
//! objects, names and labels a real run would. This is the world's one home for the §5.3 names and
//! labels (the simulated catalyst-api names its objects from here too); it is deliberately
//! independent of `provision::hetzner` (docs/WORLD.md), or a bug in the client's naming would
//! cancel out in the tests meant to catch it.

use serde::Serialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::{HetznerControl, Kind};

pub const SOVEREIGN_LABEL: &str = "catalyst.openova.io/sovereign";
pub const ROLE_LABEL: &str = "catalyst.openova.io/role";

/// Which of the two naming schemes of contract §5.3 to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum NamingVariant {
    /// `infra/hetzner/main.tf`: `-net`, key `catalyst-<slug>`, `-cp1`, `-w1`.
    #[default]
    Main,
    /// The runbook §1.5: `-network`, `-ssh`, `-cp-1`, `-worker-1`.
    Runbook,
}

/// Resource names of one Sovereign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SovereignNames {
    pub network: String,
    pub firewall: String,
    pub ssh_key: String,
    pub control_planes: Vec<String>,
    pub workers: Vec<String>,
    pub load_balancer: String,
}

/// `t42.omani.works` → `t42-omani-works` (contract §5.3).
pub fn slug(fqdn: &str) -> String {
    fqdn.replace('.', "-")
}

/// One Sovereign's name for each object under one naming scheme; indexes are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameScheme {
    base: String,
    naming: NamingVariant,
}

impl NameScheme {
    pub fn new(fqdn: &str, naming: NamingVariant) -> Self {
        NameScheme {
            base: format!("catalyst-{}", slug(fqdn)),
            naming,
        }
    }

    /// The suffixes that differ between the schemes: network, SSH key, control plane, worker.
    fn suffixes(&self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self.naming {
            NamingVariant::Main => ("-net", "", "-cp", "-w"),
            NamingVariant::Runbook => ("-network", "-ssh", "-cp-", "-worker-"),
        }
    }

    pub fn network(&self) -> String {
        format!("{}{}", self.base, self.suffixes().0)
    }

    pub fn firewall(&self) -> String {
        format!("{}-fw", self.base)
    }

    pub fn ssh_key(&self) -> String {
        format!("{}{}", self.base, self.suffixes().1)
    }

    pub fn control_plane(&self, n: u32) -> String {
        format!("{}{}{n}", self.base, self.suffixes().2)
    }

    pub fn worker(&self, n: u32) -> String {
        format!("{}{}{n}", self.base, self.suffixes().3)
    }

    pub fn load_balancer(&self) -> String {
        format!("{}-lb", self.base)
    }
}

pub fn sovereign_names(
    fqdn: &str,
    naming: NamingVariant,
    control_planes: u32,
    workers: u32,
) -> SovereignNames {
    let scheme = NameScheme::new(fqdn, naming);
    SovereignNames {
        network: scheme.network(),
        firewall: scheme.firewall(),
        ssh_key: scheme.ssh_key(),
        control_planes: (1..=control_planes)
            .map(|i| scheme.control_plane(i))
            .collect(),
        workers: (1..=workers).map(|i| scheme.worker(i)).collect(),
        load_balancer: scheme.load_balancer(),
    }
}

/// The Phase-0 inputs that shape the Hetzner project (tfvars of contract §5.2).
#[derive(Debug, Clone, Serialize)]
pub struct SovereignSpec {
    pub fqdn: String,
    pub region: String,
    pub control_plane_size: String,
    pub worker_size: String,
    pub worker_count: u32,
    pub ha_enabled: bool,
    pub ssh_public_key: String,
    pub ssh_allowed_cidrs: Vec<String>,
    pub naming: NamingVariant,
}

impl SovereignSpec {
    /// The module defaults: cx42 control plane, cx32 workers, no workers, no HA.
    pub fn new(fqdn: &str, region: &str, ssh_public_key: &str) -> Self {
        SovereignSpec {
            fqdn: fqdn.to_string(),
            region: region.to_string(),
            control_plane_size: "cx42".into(),
            worker_size: "cx32".into(),
            worker_count: 0,
            ha_enabled: false,
            ssh_public_key: ssh_public_key.to_string(),
            ssh_allowed_cidrs: Vec::new(),
            naming: NamingVariant::Main,
        }
    }
}

/// One created object, in creation order, with its tofu address for `tofu apply` log lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedResource {
    pub address: String,
    pub kind: Kind,
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SovereignResources {
    pub names: SovereignNames,
    pub created: Vec<CreatedResource>,
    /// `control_plane_ip` output: cp[0] public IPv4.
    pub control_plane_ip: String,
    /// `load_balancer_ip` output: the LB's public IPv4.
    pub load_balancer_ip: String,
}

pub fn network_zone(region: &str) -> ApiResult<&'static str> {
    match region {
        "fsn1" | "nbg1" | "hel1" => Ok("eu-central"),
        "ash" => Ok("us-east"),
        "hil" => Ok("us-west"),
        other => Err(ApiError::invalid_input(
            "region",
            format!("'{other}' is not one of fsn1, nbg1, hel1, ash, hil"),
        )),
    }
}

fn rule(protocol: &str, port: Option<&str>, sources: &[String]) -> Value {
    let mut r = json!({"direction": "in", "protocol": protocol, "source_ips": sources});
    if let Some(p) = port {
        r["port"] = json!(p);
    }
    r
}

/// Record a created object for the apply log; returns its ID.
fn note(created: &mut Vec<CreatedResource>, address: String, kind: Kind, obj: &Value) -> i64 {
    let id = obj["id"].as_i64().unwrap_or_default();
    created.push(CreatedResource {
        address,
        kind,
        id,
        name: obj["name"].as_str().unwrap_or_default().to_string(),
    });
    id
}

/// Create the Sovereign's network, firewall, SSH key, servers and load balancer the way the
/// Terraform module does. Fails (leaving what was already created, like a failed apply) on the
/// first API error.
pub fn create_sovereign(
    control: &HetznerControl,
    spec: &SovereignSpec,
) -> ApiResult<SovereignResources> {
    let zone = network_zone(&spec.region)?;
    let cps = if spec.ha_enabled { 3 } else { 1 };
    let names = sovereign_names(&spec.fqdn, spec.naming, cps, spec.worker_count);
    let labels = json!({ SOVEREIGN_LABEL: spec.fqdn });
    let mut created = Vec::new();

    let network = control.create(
        Kind::Network,
        json!({"name": names.network, "ip_range": "10.0.0.0/16", "labels": labels}),
    )?;
    let network_id = note(
        &mut created,
        "hcloud_network.main".into(),
        Kind::Network,
        &network,
    );
    control.action(
        Kind::Network,
        network_id,
        "add_subnet",
        json!({"type": "cloud", "ip_range": "10.0.1.0/24", "network_zone": zone}),
    )?;
    created.push(CreatedResource {
        address: "hcloud_network_subnet.main".into(),
        kind: Kind::Network,
        id: network_id,
        name: "10.0.1.0/24".into(),
    });

    let anywhere = vec!["0.0.0.0/0".to_string(), "::/0".to_string()];
    let mut rules = vec![
        rule("tcp", Some("80"), &anywhere),
        rule("tcp", Some("443"), &anywhere),
        rule("tcp", Some("6443"), &anywhere),
        rule("icmp", None, &anywhere),
    ];
    if !spec.ssh_allowed_cidrs.is_empty() {
        rules.push(rule("tcp", Some("22"), &spec.ssh_allowed_cidrs));
    }
    let firewall = control.create(
        Kind::Firewall,
        json!({"name": names.firewall, "labels": labels, "rules": rules}),
    )?;
    let firewall_id = note(
        &mut created,
        "hcloud_firewall.main".into(),
        Kind::Firewall,
        &firewall,
    );

    let key = control.create(
        Kind::SshKey,
        json!({"name": names.ssh_key, "public_key": spec.ssh_public_key, "labels": labels}),
    )?;
    let key_id = note(
        &mut created,
        "hcloud_ssh_key.main".into(),
        Kind::SshKey,
        &key,
    );

    let mut servers = Vec::new();
    let plan = names
        .control_planes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                n,
                format!("hcloud_server.control_plane[{i}]"),
                "control-plane",
                &spec.control_plane_size,
                format!("10.0.1.{}", 2 + i),
            )
        })
        .chain(names.workers.iter().enumerate().map(|(i, n)| {
            (
                n,
                format!("hcloud_server.worker[{i}]"),
                "worker",
                &spec.worker_size,
                format!("10.0.1.{}", 10 + i),
            )
        }));
    let mut cp_ids = Vec::new();
    let mut cp0_ip = String::new();
    for (name, address, role, size, ip) in plan {
        let server = control.create(
            Kind::Server,
            json!({
                "name": name,
                "server_type": size,
                "image": "ubuntu-24.04",
                "location": spec.region,
                "ssh_keys": [key_id],
                "firewalls": [{"firewall": firewall_id}],
                "labels": {SOVEREIGN_LABEL: spec.fqdn, ROLE_LABEL: role},
            }),
        )?;
        let id = note(&mut created, address, Kind::Server, &server);
        control.action(
            Kind::Server,
            id,
            "attach_to_network",
            json!({"network": network_id, "ip": ip}),
        )?;
        if role == "control-plane" {
            if cp_ids.is_empty() {
                cp0_ip = server["public_net"]["ipv4"]["ip"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
            cp_ids.push(id);
        }
        servers.push(id);
    }

    let lb = control.create(
        Kind::LoadBalancer,
        json!({
            "name": names.load_balancer,
            "load_balancer_type": "lb11",
            "location": spec.region,
            "algorithm": {"type": "round_robin"},
            "network": network_id,
            "labels": labels,
            "services": [
                {"protocol": "tcp", "listen_port": 80, "destination_port": 31080},
                {"protocol": "tcp", "listen_port": 443, "destination_port": 31443},
            ],
        }),
    )?;
    let lb_id = note(
        &mut created,
        "hcloud_load_balancer.main".into(),
        Kind::LoadBalancer,
        &lb,
    );
    for id in cp_ids {
        control.action(
            Kind::LoadBalancer,
            lb_id,
            "add_target",
            json!({"type": "server", "server": {"id": id}, "use_private_ip": true}),
        )?;
    }
    Ok(SovereignResources {
        names,
        created,
        control_plane_ip: cp0_ip,
        load_balancer_ip: lb["public_net"]["ipv4"]["ip"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_naming_variants() {
        let m = sovereign_names("omantel.omani.works", NamingVariant::Main, 3, 2);
        assert_eq!(m.network, "catalyst-omantel-omani-works-net");
        assert_eq!(m.ssh_key, "catalyst-omantel-omani-works");
        assert_eq!(m.control_planes[2], "catalyst-omantel-omani-works-cp3");
        assert_eq!(m.workers[0], "catalyst-omantel-omani-works-w1");
        let r = sovereign_names("omantel.omani.works", NamingVariant::Runbook, 1, 1);
        assert_eq!(r.network, "catalyst-omantel-omani-works-network");
        assert_eq!(r.ssh_key, "catalyst-omantel-omani-works-ssh");
        assert_eq!(r.control_planes[0], "catalyst-omantel-omani-works-cp-1");
        assert_eq!(r.workers[0], "catalyst-omantel-omani-works-worker-1");
        assert_eq!(r.load_balancer, "catalyst-omantel-omani-works-lb");
    }
}
