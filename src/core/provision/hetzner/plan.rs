//! Desired (the model) versus actual (a full listing): create / update / unchanged / orphan.

use std::collections::{BTreeSet, HashMap};

use hcloud::models;
use serde::Serialize;

use super::inventory::{Inventory, Kind};
use super::model::{CostEstimate, DesiredServer, FirewallRule, SovereignModel};
use super::naming::NamingVariant;
use super::recover::{MatchReason, select_targets};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Orphan,
}

/// One difference; `fixable` ones are changed by apply, the others need a re-create (recover).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub what: String,
    pub fixable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanItem {
    pub kind: Kind,
    pub name: String,
    pub id: Option<i64>,
    pub action: Action,
    pub changes: Vec<Change>,
    /// For orphans: why the object is considered the Sovereign's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<MatchReason>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub orphan: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Phase0Plan {
    pub fqdn: String,
    pub naming: NamingVariant,
    pub items: Vec<PlanItem>,
    pub summary: PlanSummary,
    pub cost: CostEstimate,
}

impl Phase0Plan {
    pub fn is_noop(&self) -> bool {
        self.summary.create == 0 && self.summary.update == 0
    }
}

pub(super) fn label_changes(
    desired: &HashMap<String, String>,
    actual: Option<&HashMap<String, String>>,
) -> Vec<Change> {
    let mut out = Vec::new();
    let mut keys: Vec<&String> = desired.keys().collect();
    keys.sort();
    for k in keys {
        let want = &desired[k];
        match actual.and_then(|a| a.get(k)) {
            Some(have) if have == want => {}
            Some(have) => out.push(Change {
                what: format!("label {k}: {have:?} → {want:?}"),
                fixable: true,
            }),
            None => out.push(Change {
                what: format!("label {k} missing (want {want:?})"),
                fixable: true,
            }),
        }
    }
    out
}

fn enum_str<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn normalize_rules(rules: &[FirewallRule]) -> Vec<FirewallRule> {
    let mut out: Vec<FirewallRule> = rules
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.source_ips.sort();
            r
        })
        .collect();
    out.sort();
    out
}

pub fn actual_rules(fw: &models::Firewall) -> Vec<FirewallRule> {
    normalize_rules(
        &fw.rules
            .iter()
            .map(|r| FirewallRule {
                direction: enum_str(&r.direction),
                protocol: enum_str(&r.protocol),
                port: r.port.clone(),
                source_ips: r.source_ips.clone(),
            })
            .collect::<Vec<_>>(),
    )
}

fn key_body(k: &str) -> String {
    k.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

fn item(kind: Kind, name: &str, id: Option<i64>, changes: Vec<Change>) -> PlanItem {
    let action = match (id, changes.is_empty()) {
        (None, _) => Action::Create,
        (Some(_), true) => Action::Unchanged,
        (Some(_), false) => Action::Update,
    };
    PlanItem {
        kind,
        name: name.to_string(),
        id,
        action,
        changes,
        reasons: Vec::new(),
    }
}

pub fn server_changes(
    d: &DesiredServer,
    s: &models::Server,
    network: Option<&models::Network>,
    firewall: Option<&models::Firewall>,
) -> Vec<Change> {
    let mut c = Vec::new();
    if s.server_type.name != d.server_type {
        c.push(Change {
            what: format!(
                "server type {} → {} (needs re-create)",
                s.server_type.name, d.server_type
            ),
            fixable: false,
        });
    }
    if s.location.name != d.location {
        c.push(Change {
            what: format!(
                "location {} → {} (needs re-create)",
                s.location.name, d.location
            ),
            fixable: false,
        });
    }
    c.extend(label_changes(&d.labels, Some(&s.labels)));
    if let Some(net) = network {
        match s.private_net.iter().find(|p| p.network == Some(net.id)) {
            None => c.push(Change {
                what: format!(
                    "not attached to network {} (want {})",
                    net.name, d.private_ip
                ),
                fixable: true,
            }),
            Some(p) if p.ip.as_deref() != Some(d.private_ip.as_str()) => c.push(Change {
                what: format!(
                    "private IP {} → {} (needs re-create)",
                    p.ip.as_deref().unwrap_or("none"),
                    d.private_ip
                ),
                fixable: false,
            }),
            Some(_) => {}
        }
    }
    if let Some(fw) = firewall
        && !fw
            .applied_to
            .iter()
            .any(|a| a.server.as_ref().map(|r| r.id) == Some(s.id))
    {
        c.push(Change {
            what: format!("firewall {} not applied", fw.name),
            fixable: true,
        });
    }
    c
}

/// Compare the model with a full listing of the project.
pub fn diff(model: &SovereignModel, inv: &Inventory) -> Phase0Plan {
    let mut items = Vec::new();
    let mut desired_keys: BTreeSet<(Kind, String)> = BTreeSet::new();

    // Network
    let d = &model.network;
    desired_keys.insert((Kind::Network, d.name.clone()));
    let net = inv.networks.iter().find(|n| n.name == d.name);
    let changes = net.map_or_else(Vec::new, |n| {
        let mut c = Vec::new();
        if n.ip_range != d.ip_range {
            c.push(Change {
                what: format!("ip range {} → {} (needs re-create)", n.ip_range, d.ip_range),
                fixable: false,
            });
        }
        if !n
            .subnets
            .iter()
            .any(|s| s.ip_range.as_deref() == Some(d.subnet_range.as_str()))
        {
            c.push(Change {
                what: format!("subnet {} ({}) missing", d.subnet_range, d.network_zone),
                fixable: true,
            });
        }
        c.extend(label_changes(&d.labels, Some(&n.labels)));
        c
    });
    items.push(item(Kind::Network, &d.name, net.map(|n| n.id), changes));

    // Firewall
    let d = &model.firewall;
    desired_keys.insert((Kind::Firewall, d.name.clone()));
    let fw = inv.firewalls.iter().find(|f| f.name == d.name);
    let changes = fw.map_or_else(Vec::new, |f| {
        let mut c = Vec::new();
        if actual_rules(f) != normalize_rules(&d.rules) {
            c.push(Change {
                what: "rules differ".into(),
                fixable: true,
            });
        }
        c.extend(label_changes(&d.labels, f.labels.as_ref()));
        c
    });
    items.push(item(Kind::Firewall, &d.name, fw.map(|f| f.id), changes));

    // SSH key
    let d = &model.ssh_key;
    desired_keys.insert((Kind::SshKey, d.name.clone()));
    let key = inv.ssh_keys.iter().find(|k| k.name == d.name);
    let changes = key.map_or_else(Vec::new, |k| {
        let mut c = Vec::new();
        if key_body(&k.public_key) != key_body(&d.public_key) {
            c.push(Change {
                what: "public key differs (keys are immutable: needs re-create)".into(),
                fixable: false,
            });
        }
        c.extend(label_changes(&d.labels, Some(&k.labels)));
        c
    });
    items.push(item(Kind::SshKey, &d.name, key.map(|k| k.id), changes));

    // Load balancer
    let d = &model.load_balancer;
    desired_keys.insert((Kind::LoadBalancer, d.name.clone()));
    let lb = inv.load_balancers.iter().find(|l| l.name == d.name);
    let changes = lb.map_or_else(Vec::new, |l| {
        let mut c = Vec::new();
        if l.load_balancer_type.name != d.load_balancer_type {
            c.push(Change {
                what: format!(
                    "type {} → {} (not changed by apply)",
                    l.load_balancer_type.name, d.load_balancer_type
                ),
                fixable: false,
            });
        }
        c.extend(label_changes(&d.labels, Some(&l.labels)));
        if let Some(n) = net
            && !l.private_net.iter().any(|p| p.network == Some(n.id))
        {
            c.push(Change {
                what: format!("not attached to network {}", n.name),
                fixable: true,
            });
        }
        for s in &d.services {
            match l.services.iter().find(|x| x.listen_port == s.listen_port) {
                None => c.push(Change {
                    what: format!(
                        "service {} {}→{} missing",
                        s.protocol, s.listen_port, s.destination_port
                    ),
                    fixable: true,
                }),
                Some(x) if x.destination_port != s.destination_port => c.push(Change {
                    what: format!(
                        "service {} → destination {} (is {}; not changed by apply)",
                        s.listen_port, s.destination_port, x.destination_port
                    ),
                    fixable: false,
                }),
                Some(_) => {}
            }
        }
        for t in &d.targets {
            let sid = inv.servers.iter().find(|s| &s.name == t).map(|s| s.id);
            let present = sid.is_some_and(|sid| {
                l.targets
                    .iter()
                    .any(|x| x.server.as_ref().map(|r| r.id) == Some(sid))
            });
            if !present {
                c.push(Change {
                    what: format!("target {t} missing"),
                    fixable: true,
                });
            }
        }
        c
    });
    items.push(item(Kind::LoadBalancer, &d.name, lb.map(|l| l.id), changes));

    // Servers
    let mut desired_server_ids = BTreeSet::new();
    for d in &model.servers {
        desired_keys.insert((Kind::Server, d.name.clone()));
        let s = inv.servers.iter().find(|s| s.name == d.name);
        if let Some(s) = s {
            desired_server_ids.insert(s.id);
        }
        let changes = s.map_or_else(Vec::new, |s| server_changes(d, s, net, fw));
        items.push(item(Kind::Server, &d.name, s.map(|s| s.id), changes));
    }

    // Orphans: tied to the Sovereign but not part of the model. A server's own primary IPs
    // go with the server (desired or orphan), so they are not listed on their own.
    let targets = select_targets(inv, &model.fqdn, &BTreeSet::new());
    let sovereign_servers: BTreeSet<i64> = targets
        .iter()
        .filter(|t| t.object.kind == Kind::Server)
        .map(|t| t.object.id)
        .chain(desired_server_ids.iter().copied())
        .collect();
    for t in targets {
        if desired_keys.contains(&(t.object.kind, t.object.name.clone())) {
            continue;
        }
        if t.object.kind == Kind::PrimaryIp
            && inv
                .primary_ips
                .iter()
                .find(|p| p.id == t.object.id)
                .and_then(|p| p.assignee_id)
                .is_some_and(|a| sovereign_servers.contains(&a))
        {
            continue;
        }
        items.push(PlanItem {
            kind: t.object.kind,
            name: t.object.name.clone(),
            id: Some(t.object.id),
            action: Action::Orphan,
            changes: Vec::new(),
            reasons: t.reasons,
        });
    }

    let mut summary = PlanSummary::default();
    for i in &items {
        match i.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Unchanged => summary.unchanged += 1,
            Action::Orphan => summary.orphan += 1,
        }
    }
    Phase0Plan {
        fqdn: model.fqdn.clone(),
        naming: model.naming,
        items,
        summary,
        cost: model.cost.clone(),
    }
}
