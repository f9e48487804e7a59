//! Which Hetzner objects belong to a Sovereign: the one rule `recover`, `phase0 plan/apply` and
//! `drill plan` share, with the evidence for every object it claims.
//!
//! * The `catalyst.openova.io/sovereign` label decides: equal to the FQDN → ours; any other value
//!   → never ours, whatever the name or attachment (a veto).
//! * Unlabelled: ours by exact name equality with one of the Sovereign's deterministic names
//!   (both naming variants, every role and index — [`naming::slugs_naming`]), or by attachment to
//!   an object already ours (a server on our network, a volume / primary IP / floating IP on our
//!   server, a load balancer on our network, a firewall applied only to our servers).
//! * Evidence pointing at more than one Sovereign makes an unlabelled object **ambiguous**: never
//!   deleted, adopted or relabelled; the plan shows every candidate and how to resolve it. Other
//!   Sovereigns are learnt from the labels in the listing (plus any the caller knows), so an
//!   unlabelled `catalyst-acme-omani-works-net` is ambiguous between `acme.omani.works` and
//!   `acme-omani.works` as soon as either has labelled anything in the project.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::inventory::{CloudObject, Inventory, Kind};
use super::naming::{self, SOVEREIGN_LABEL};

/// Why an object belongs to the Sovereign.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum MatchReason {
    /// `catalyst.openova.io/sovereign=<fqdn>`.
    Label,
    /// Exactly one of its deterministic names.
    Name,
    /// Attached to one of its networks (e.g. a CCM-created worker).
    Network { network_id: i64 },
    /// Assigned or attached to one of its servers (e.g. `primary_ip-<digits>`).
    Server { server_id: i64 },
    /// Applied only to its servers.
    FirewallOfServers,
}

impl MatchReason {
    /// Short words for plans on a terminal.
    pub fn describe(&self) -> String {
        match self {
            MatchReason::Label => "label".into(),
            MatchReason::Name => "name".into(),
            MatchReason::Network { network_id } => format!("on network #{network_id}"),
            MatchReason::Server { server_id } => format!("on server #{server_id}"),
            MatchReason::FirewallOfServers => "firewall of its servers".into(),
        }
    }
}

/// Who an object's evidence points at: a Sovereign by FQDN, or — from a deterministic name whose
/// slug no Sovereign in sight has — one known only by its slug.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "kebab-case")]
pub enum Owner {
    Fqdn(String),
    Slug(String),
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Fqdn(fqdn) => f.write_str(fqdn),
            Owner::Slug(slug) => write!(f, "a Sovereign with slug {slug}"),
        }
    }
}

/// An object of this Sovereign and the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Claimed {
    #[serde(flatten)]
    pub object: CloudObject,
    pub reasons: Vec<MatchReason>,
}

/// An unlabelled object whose evidence points at this Sovereign and at least one other.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ambiguous {
    #[serde(flatten)]
    pub object: CloudObject,
    /// Every candidate owner, this Sovereign included.
    pub candidates: Vec<Owner>,
    /// The evidence for this Sovereign.
    pub reasons: Vec<MatchReason>,
    /// How the operator settles it.
    pub resolve: String,
}

/// An object that would match by name or attachment but is labelled for another Sovereign.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Vetoed {
    #[serde(flatten)]
    pub object: CloudObject,
    /// The label's value.
    pub owner: String,
    /// The evidence that the label overrode.
    pub reasons: Vec<MatchReason>,
}

/// The rule applied to one listing for one Sovereign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    pub fqdn: String,
    /// Ours, in purge order (stage, kind, name, id).
    pub ours: Vec<Claimed>,
    /// Never deleted, adopted or relabelled until labelled.
    pub ambiguous: Vec<Ambiguous>,
    /// Near misses the label veto excluded, for the plan to show.
    pub vetoed: Vec<Vetoed>,
    /// The other Sovereigns the project shows (label values), sorted.
    pub others: Vec<String>,
}

impl Ownership {
    pub fn ids(&self) -> BTreeSet<(Kind, i64)> {
        self.ours
            .iter()
            .map(|c| (c.object.kind, c.object.id))
            .collect()
    }

    pub fn is_ours(&self, kind: Kind, id: i64) -> bool {
        self.ours
            .iter()
            .any(|c| c.object.kind == kind && c.object.id == id)
    }

    pub fn ambiguous_of(&self, kind: Kind, id: i64) -> Option<&Ambiguous> {
        self.ambiguous
            .iter()
            .find(|a| a.object.kind == kind && a.object.id == id)
    }

    pub fn vetoed_of(&self, kind: Kind, id: i64) -> Option<&Vetoed> {
        self.vetoed
            .iter()
            .find(|v| v.object.kind == kind && v.object.id == id)
    }
}

/// What the listing says about one object before attachments are followed.
#[derive(Debug, Clone, Default)]
struct Evidence {
    /// The label's value, when the object carries one (it alone decides).
    label: Option<String>,
    /// Owner → reasons, for unlabelled objects.
    owners: BTreeMap<Owner, BTreeSet<MatchReason>>,
}

impl Evidence {
    /// The owners attachments to this object pass on: its label, else its evidence.
    fn owners(&self) -> BTreeSet<Owner> {
        match &self.label {
            Some(l) => BTreeSet::from([Owner::Fqdn(l.clone())]),
            None => self.owners.keys().cloned().collect(),
        }
    }
}

fn label_of(labels: Option<&HashMap<String, String>>) -> Option<String> {
    labels.and_then(|l| l.get(SOVEREIGN_LABEL)).cloned()
}

/// Ownership of every object of `inv` as seen from `fqdn`. `known` adds Sovereigns the caller
/// knows of (a fleet file) to those the labels show.
pub fn claim(inv: &Inventory, fqdn: &str, known: &[String]) -> Ownership {
    let mut sovereigns: BTreeSet<String> = known.iter().cloned().collect();
    sovereigns.insert(fqdn.to_string());
    for o in inv.objects() {
        if let Some(l) = o.labels.get(SOVEREIGN_LABEL)
            && !l.is_empty()
        {
            sovereigns.insert(l.clone());
        }
    }
    let mut by_slug: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &sovereigns {
        by_slug
            .entry(naming::slug(s))
            .or_default()
            .insert(s.clone());
    }
    let direct = |kind: Kind, name: &str, labels: Option<&HashMap<String, String>>| {
        let mut e = Evidence {
            label: label_of(labels),
            ..Default::default()
        };
        for slug in naming::slugs_naming(kind, name) {
            match by_slug.get(&slug) {
                Some(fqdns) => {
                    for f in fqdns {
                        e.owners
                            .entry(Owner::Fqdn(f.clone()))
                            .or_default()
                            .insert(MatchReason::Name);
                    }
                }
                None => {
                    e.owners
                        .entry(Owner::Slug(slug))
                        .or_default()
                        .insert(MatchReason::Name);
                }
            }
        }
        e
    };
    let attach = |e: &mut Evidence, from: &BTreeSet<Owner>, reason: MatchReason| {
        for o in from {
            e.owners
                .entry(o.clone())
                .or_default()
                .insert(reason.clone());
        }
    };

    let mut evidence: BTreeMap<(Kind, i64), Evidence> = BTreeMap::new();
    let mut networks: HashMap<i64, BTreeSet<Owner>> = HashMap::new();
    for n in &inv.networks {
        let e = direct(Kind::Network, &n.name, Some(&n.labels));
        networks.insert(n.id, e.owners());
        evidence.insert((Kind::Network, n.id), e);
    }
    let mut servers: HashMap<i64, BTreeSet<Owner>> = HashMap::new();
    for s in &inv.servers {
        let mut e = direct(Kind::Server, &s.name, Some(&s.labels));
        for net in s.private_net.iter().filter_map(|p| p.network) {
            if let Some(owners) = networks.get(&net) {
                attach(&mut e, owners, MatchReason::Network { network_id: net });
            }
        }
        servers.insert(s.id, e.owners());
        evidence.insert((Kind::Server, s.id), e);
    }
    for lb in &inv.load_balancers {
        let mut e = direct(Kind::LoadBalancer, &lb.name, Some(&lb.labels));
        for net in lb.private_net.iter().filter_map(|p| p.network) {
            if let Some(owners) = networks.get(&net) {
                attach(&mut e, owners, MatchReason::Network { network_id: net });
            }
        }
        evidence.insert((Kind::LoadBalancer, lb.id), e);
    }
    let on_server = |kind: Kind, id: i64, name: &str, labels, server: Option<i64>| {
        let mut e = direct(kind, name, Some(labels));
        if let Some(sid) = server
            && let Some(owners) = servers.get(&sid)
        {
            attach(&mut e, owners, MatchReason::Server { server_id: sid });
        }
        ((kind, id), e)
    };
    for ip in &inv.primary_ips {
        let (k, e) = on_server(Kind::PrimaryIp, ip.id, &ip.name, &ip.labels, ip.assignee_id);
        evidence.insert(k, e);
    }
    for ip in &inv.floating_ips {
        let (k, e) = on_server(Kind::FloatingIp, ip.id, &ip.name, &ip.labels, ip.server);
        evidence.insert(k, e);
    }
    for v in &inv.volumes {
        let (k, e) = on_server(Kind::Volume, v.id, &v.name, &v.labels, v.server);
        evidence.insert(k, e);
    }
    for fw in &inv.firewalls {
        let mut e = direct(Kind::Firewall, &fw.name, fw.labels.as_ref());
        // Only a firewall applied to servers alone, every one of them owned by the same
        // Sovereigns, follows them: one also guarding a label selector or an unowned server
        // protects something else.
        let applied: Vec<Option<&BTreeSet<Owner>>> = fw
            .applied_to
            .iter()
            .map(|a| {
                a.server
                    .as_ref()
                    .and_then(|s| servers.get(&s.id))
                    .filter(|o| !o.is_empty())
            })
            .collect();
        if !applied.is_empty() && applied.iter().all(Option::is_some) {
            let owners: BTreeSet<Owner> =
                applied.into_iter().flatten().flatten().cloned().collect();
            attach(&mut e, &owners, MatchReason::FirewallOfServers);
        }
        evidence.insert((Kind::Firewall, fw.id), e);
    }
    for k in &inv.ssh_keys {
        evidence.insert(
            (Kind::SshKey, k.id),
            direct(Kind::SshKey, &k.name, Some(&k.labels)),
        );
    }

    let me = Owner::Fqdn(fqdn.to_string());
    let mut out = Ownership {
        fqdn: fqdn.to_string(),
        others: sovereigns.iter().filter(|s| *s != fqdn).cloned().collect(),
        ..Default::default()
    };
    for object in inv.objects() {
        let Some(e) = evidence.get(&(object.kind, object.id)) else {
            continue;
        };
        let mine: Vec<MatchReason> = e
            .owners
            .get(&me)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        match &e.label {
            Some(l) if l == fqdn => {
                let mut reasons = vec![MatchReason::Label];
                reasons.extend(mine);
                out.ours.push(Claimed { object, reasons });
            }
            Some(other) => {
                if !mine.is_empty() {
                    out.vetoed.push(Vetoed {
                        object,
                        owner: other.clone(),
                        reasons: mine,
                    });
                }
            }
            None if mine.is_empty() => {}
            None if e.owners.len() == 1 => out.ours.push(Claimed {
                object,
                reasons: mine,
            }),
            None => {
                let candidates: Vec<Owner> = e.owners.keys().cloned().collect();
                let resolve = resolution(&object, &candidates);
                out.ambiguous.push(Ambiguous {
                    object,
                    candidates,
                    reasons: mine,
                    resolve,
                });
            }
        }
    }
    let order = |o: &CloudObject| (o.kind.purge_stage(), o.kind, o.name.clone(), o.id);
    out.ours.sort_by_key(|c| order(&c.object));
    out.ambiguous.sort_by_key(|a| order(&a.object));
    out.vetoed.sort_by_key(|v| order(&v.object));
    out
}

/// The hcloud command that settles an ambiguous object: label it for its real owner.
fn resolution(object: &CloudObject, candidates: &[Owner]) -> String {
    let fqdns: Vec<&str> = candidates
        .iter()
        .filter_map(|c| match c {
            Owner::Fqdn(f) => Some(f.as_str()),
            Owner::Slug(_) => None,
        })
        .collect();
    let noun = match object.kind {
        Kind::LoadBalancer => "load-balancer",
        Kind::Server => "server",
        Kind::Volume => "volume",
        Kind::FloatingIp => "floating-ip",
        Kind::PrimaryIp => "primary-ip",
        Kind::Firewall => "firewall",
        Kind::Network => "network",
        Kind::SshKey => "ssh-key",
    };
    format!(
        "label it for its owner, e.g. `hcloud {noun} add-label {} {SOVEREIGN_LABEL}={}` (one of: {}), then plan again",
        object.id,
        fqdns.first().copied().unwrap_or("<fqdn>"),
        candidates
            .iter()
            .map(Owner::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}
