//! Desired (the model) versus actual (a full listing): create / update / unchanged / orphan, and
//! — by the one ownership rule — the desired names another Sovereign's object holds (`foreign`)
//! or that cannot be told apart from another Sovereign's (`ambiguous`): apply touches neither.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use hcloud::models;
use serde::{Deserialize, Serialize};

use super::client::HetznerClient;
use super::credentials::ProjectSummary;
use super::inventory::{Inventory, Kind};
use super::model::{CostEstimate, DesiredServer, FirewallRule, SovereignModel};
use super::naming::{NamingVariant, SOVEREIGN_LABEL};
use super::ownership::{self, MatchReason, Ownership};
use super::planfile::{self, PlanFileError};

/// The `format` of Phase-0 plan files.
pub const PLAN_FORMAT: &str = "sovtui-phase0-plan/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Orphan,
    /// The desired name is held by an object labelled for another Sovereign: never touched;
    /// apply refuses until the name is free.
    Foreign,
    /// The desired name is held by an unlabelled object another Sovereign may own just as well:
    /// never adopted or relabelled; apply refuses until it is labelled.
    Ambiguous,
}

/// One difference; `fixable` ones are changed by apply, the others need a re-create (recover).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub what: String,
    pub fixable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanItem {
    pub kind: Kind,
    pub name: String,
    pub id: Option<i64>,
    pub action: Action,
    pub changes: Vec<Change>,
    /// For orphans: why the object is considered the Sovereign's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<MatchReason>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub orphan: usize,
    #[serde(default)]
    pub foreign: usize,
    #[serde(default)]
    pub ambiguous: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phase0Plan {
    /// [`PLAN_FORMAT`].
    pub format: String,
    pub fqdn: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub naming: NamingVariant,
    /// The token and the project's size; absent only from a plan made without a client.
    pub project: Option<ProjectSummary>,
    pub items: Vec<PlanItem>,
    pub summary: PlanSummary,
    pub cost: CostEstimate,
}

impl Phase0Plan {
    pub fn is_noop(&self) -> bool {
        self.summary.create == 0 && self.summary.update == 0
    }

    /// Items apply must not touch and will not work around (`foreign`, `ambiguous`).
    pub fn blocked(&self) -> Vec<&PlanItem> {
        self.items
            .iter()
            .filter(|i| matches!(i.action, Action::Foreign | Action::Ambiguous))
            .collect()
    }

    pub fn write(&self, path: &Path) -> Result<(), PlanFileError> {
        planfile::write(path, self)
    }

    pub fn read(path: &Path) -> Result<Self, PlanFileError> {
        planfile::read(path, PLAN_FORMAT)
    }

    /// How the project now differs from what this plan showed, one line per item; empty when
    /// it does not. Times and the project's server count are not compared.
    pub fn drift_from(&self, planned: &Phase0Plan) -> Vec<String> {
        let mut out = Vec::new();
        if self.fqdn != planned.fqdn || self.naming != planned.naming {
            out.push(format!(
                "the plan is for {} (naming {:?}), this run for {} (naming {:?})",
                planned.fqdn, planned.naming, self.fqdn, self.naming
            ));
        }
        let key = |i: &PlanItem| (i.kind, i.name.clone());
        let now: std::collections::BTreeMap<_, _> =
            self.items.iter().map(|i| (key(i), i)).collect();
        let then: std::collections::BTreeMap<_, _> =
            planned.items.iter().map(|i| (key(i), i)).collect();
        for (k, was) in &then {
            match now.get(k) {
                None => out.push(format!(
                    "{} {}: planned {:?}, no longer in the plan",
                    k.0.api_path(),
                    k.1,
                    was.action
                )),
                Some(is) if is != was => out.push(format!(
                    "{} {}: planned {:?}{} {:?}, now {:?}{} {:?}",
                    k.0.api_path(),
                    k.1,
                    was.action,
                    was.id.map(|i| format!(" #{i}")).unwrap_or_default(),
                    was.changes.iter().map(|c| &c.what).collect::<Vec<_>>(),
                    is.action,
                    is.id.map(|i| format!(" #{i}")).unwrap_or_default(),
                    is.changes.iter().map(|c| &c.what).collect::<Vec<_>>(),
                )),
                Some(_) => {}
            }
        }
        for (k, is) in &now {
            if !then.contains_key(k) {
                out.push(format!(
                    "{} {}: now {:?}, not in the plan",
                    k.0.api_path(),
                    k.1,
                    is.action
                ));
            }
        }
        out
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

/// Push the item of a desired object (`found` = id and labels of the object holding its name),
/// unless another Sovereign holds the name.
fn push(
    items: &mut Vec<PlanItem>,
    owned: &Ownership,
    kind: Kind,
    name: &str,
    found: Option<(i64, Option<&HashMap<String, String>>)>,
    changes: Vec<Change>,
) {
    let blocked = found.and_then(|(id, labels)| held_by_another(owned, kind, name, id, labels));
    items.push(blocked.unwrap_or_else(|| item(kind, name, found.map(|f| f.0), changes)));
}

/// The object holding a desired name, unless the ownership rule says it is not ours to change:
/// then the item says whose it is (or that nobody can tell) and apply leaves it alone.
fn held_by_another(
    owned: &Ownership,
    kind: Kind,
    name: &str,
    id: i64,
    labels: Option<&HashMap<String, String>>,
) -> Option<PlanItem> {
    let blocked = |action, what: String| PlanItem {
        kind,
        name: name.to_string(),
        id: Some(id),
        action,
        changes: vec![Change {
            what,
            fixable: false,
        }],
        reasons: Vec::new(),
    };
    if let Some(owner) = labels
        .and_then(|l| l.get(SOVEREIGN_LABEL))
        .filter(|o| **o != owned.fqdn)
    {
        return Some(blocked(
            Action::Foreign,
            format!(
                "held by #{id}, labelled {SOVEREIGN_LABEL}={owner}: another Sovereign's object, \
                 never relabelled or adopted; apply cannot create {name} while it exists"
            ),
        ));
    }
    owned.ambiguous_of(kind, id).map(|a| {
        let mut item = blocked(
            Action::Ambiguous,
            format!(
                "unlabelled, and its name is also {}'s: never adopted; {}",
                a.candidates
                    .iter()
                    .filter(|c| **c != ownership::Owner::Fqdn(owned.fqdn.clone()))
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                a.resolve
            ),
        );
        item.reasons = a.reasons.clone();
        item
    })
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

/// List the project and compare: the plan `phase0 plan` shows and `phase0 apply` executes, with
/// the token it was made with. `known` = Sovereigns the caller knows share the project.
pub async fn fetch(
    client: &HetznerClient,
    model: &SovereignModel,
    known: &[String],
) -> Result<(Phase0Plan, Inventory), super::client::HetznerError> {
    let inv = Inventory::fetch(client).await?;
    let mut p = diff_with(model, &inv, known);
    p.project = Some(ProjectSummary::new(client.credentials(), &inv));
    Ok((p, inv))
}

/// Compare the model with a full listing of the project.
pub fn diff(model: &SovereignModel, inv: &Inventory) -> Phase0Plan {
    diff_with(model, inv, &[])
}

/// [`diff`], knowing of more Sovereigns in the project than its labels show.
pub fn diff_with(model: &SovereignModel, inv: &Inventory, known: &[String]) -> Phase0Plan {
    let owned = ownership::claim(inv, &model.fqdn, known);
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
    push(
        &mut items,
        &owned,
        Kind::Network,
        &d.name,
        net.map(|n| (n.id, Some(&n.labels))),
        changes,
    );

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
    push(
        &mut items,
        &owned,
        Kind::Firewall,
        &d.name,
        fw.map(|f| (f.id, f.labels.as_ref())),
        changes,
    );

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
    push(
        &mut items,
        &owned,
        Kind::SshKey,
        &d.name,
        key.map(|k| (k.id, Some(&k.labels))),
        changes,
    );

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
    push(
        &mut items,
        &owned,
        Kind::LoadBalancer,
        &d.name,
        lb.map(|l| (l.id, Some(&l.labels))),
        changes,
    );

    // Servers
    let mut desired_server_ids = BTreeSet::new();
    for d in &model.servers {
        desired_keys.insert((Kind::Server, d.name.clone()));
        let s = inv.servers.iter().find(|s| s.name == d.name);
        if let Some(s) = s
            && owned.is_ours(Kind::Server, s.id)
        {
            desired_server_ids.insert(s.id);
        }
        let changes = s.map_or_else(Vec::new, |s| server_changes(d, s, net, fw));
        push(
            &mut items,
            &owned,
            Kind::Server,
            &d.name,
            s.map(|s| (s.id, Some(&s.labels))),
            changes,
        );
    }

    // Orphans: tied to the Sovereign but not part of the model. A server's own primary IPs
    // go with the server (desired or orphan), so they are not listed on their own.
    let targets = owned.ours.clone();
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
            Action::Foreign => summary.foreign += 1,
            Action::Ambiguous => summary.ambiguous += 1,
        }
    }
    Phase0Plan {
        format: PLAN_FORMAT.to_string(),
        fqdn: model.fqdn.clone(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        project: None,
        naming: model.naming,
        items,
        summary,
        cost: model.cost.clone(),
    }
}
