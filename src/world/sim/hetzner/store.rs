//! The in-memory Hetzner project: objects as the API renders them, actions that finish over
//! simulated time, and deletions that linger. Time-driven changes are applied lazily by `settle`
//! (called before every request and snapshot), so an idle simulator uses no CPU.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::labels::LabelSelector;
use crate::sim::clock::SimClock;

/// The mutable resource kinds of the simulated project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Kind {
    Server,
    Network,
    Firewall,
    LoadBalancer,
    SshKey,
    PrimaryIp,
    FloatingIp,
    Volume,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Server,
        Kind::Network,
        Kind::Firewall,
        Kind::LoadBalancer,
        Kind::SshKey,
        Kind::PrimaryIp,
        Kind::FloatingIp,
        Kind::Volume,
    ];

    /// The collection segment of the URL and the list key of the response.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Server => "servers",
            Kind::Network => "networks",
            Kind::Firewall => "firewalls",
            Kind::LoadBalancer => "load_balancers",
            Kind::SshKey => "ssh_keys",
            Kind::PrimaryIp => "primary_ips",
            Kind::FloatingIp => "floating_ips",
            Kind::Volume => "volumes",
        }
    }

    /// The single-object key of responses and the `type` in action resources.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Server => "server",
            Kind::Network => "network",
            Kind::Firewall => "firewall",
            Kind::LoadBalancer => "load_balancer",
            Kind::SshKey => "ssh_key",
            Kind::PrimaryIp => "primary_ip",
            Kind::FloatingIp => "floating_ip",
            Kind::Volume => "volume",
        }
    }

    pub fn human(self) -> &'static str {
        match self {
            Kind::Server => "server",
            Kind::Network => "network",
            Kind::Firewall => "firewall",
            Kind::LoadBalancer => "load balancer",
            Kind::SshKey => "SSH key",
            Kind::PrimaryIp => "primary IP",
            Kind::FloatingIp => "floating IP",
            Kind::Volume => "volume",
        }
    }

    pub fn from_path(segment: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.path() == segment)
    }

    /// Fields `sort=` accepts on this kind's list.
    pub fn sort_fields(self) -> &'static [&'static str] {
        &["id", "name", "created"]
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub json: Value,
    /// Simulated instant after which a deleted object disappears (the linger quirk).
    pub gone_at: Option<Duration>,
}

#[derive(Debug, Clone)]
struct ActionRec {
    id: i64,
    command: String,
    resources: Vec<(i64, &'static str)>,
    started: Duration,
    started_wall: DateTime<Utc>,
    duration: Duration,
    error: Option<(String, String)>,
}

/// A state change that happens when simulated time reaches `due`.
#[derive(Debug, Clone)]
struct Effect {
    due: Duration,
    kind: Kind,
    id: i64,
    /// JSON pointer into the stored object.
    pointer: String,
    value: Value,
}

/// Knobs of the simulated project that tests and the world may change at any time.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// How long a deleted object stays listed and gettable after DELETE answered success.
    pub linger: Duration,
    /// Simulated duration of an ordinary action; server creation takes four times as long.
    pub action_duration: Duration,
    /// Project limits: how many objects of a kind may exist at once.
    pub limits: BTreeMap<Kind, usize>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            linger: Duration::from_secs(5),
            action_duration: Duration::from_secs(2),
            limits: BTreeMap::new(),
        }
    }
}

pub struct Store {
    clock: SimClock,
    pub settings: StoreSettings,
    next_id: i64,
    next_action_id: i64,
    next_ip: u32,
    objects: BTreeMap<Kind, BTreeMap<i64, Record>>,
    actions: BTreeMap<i64, ActionRec>,
    effects: Vec<Effect>,
    /// Commands whose future actions end in `error` with this (code, message).
    pub failing: BTreeMap<String, (String, String)>,
}

/// Whether a firewall `applied_to` / load balancer `targets` entry covers one server.
fn entry_covers(entry: &Value, server: i64, labels: Option<&Value>) -> bool {
    match entry["type"].as_str() {
        Some("server") => entry["server"]["id"].as_i64() == Some(server),
        Some("label_selector") => LabelSelector::parse(
            entry["label_selector"]["selector"]
                .as_str()
                .unwrap_or_default(),
        )
        .is_ok_and(|s| s.matches_json(labels)),
        _ => false,
    }
}

fn wall(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

impl Store {
    pub fn new(clock: SimClock, settings: StoreSettings) -> Self {
        Store {
            clock,
            settings,
            next_id: 1_000_001,
            next_action_id: 5_000_001,
            next_ip: 0,
            objects: BTreeMap::new(),
            actions: BTreeMap::new(),
            effects: Vec::new(),
            failing: BTreeMap::new(),
        }
    }

    pub fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    pub fn now_string(&self) -> String {
        wall(self.clock.now())
    }

    pub fn clock(&self) -> &SimClock {
        &self.clock
    }

    pub fn alloc_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// A fresh public IPv4 (and matching IPv6 /64) in Hetzner-looking ranges.
    pub fn alloc_public_ip(&mut self) -> (String, String) {
        self.next_ip += 1;
        let n = self.next_ip;
        (
            format!("49.13.{}.{}", (n / 250) % 250, n % 250 + 2),
            format!("2a01:4f8:1c1c:{n:x}::/64"),
        )
    }

    /// Apply every effect and removal whose simulated time has come.
    pub fn settle(&mut self) {
        let now = self.now();
        let (due, pending): (Vec<Effect>, Vec<Effect>) = std::mem::take(&mut self.effects)
            .into_iter()
            .partition(|e| e.due <= now);
        self.effects = pending;
        for e in due {
            if let Some(rec) = self.objects.get_mut(&e.kind).and_then(|m| m.get_mut(&e.id))
                && let Some(slot) = rec.json.pointer_mut(&e.pointer)
            {
                *slot = e.value;
            }
        }
        let mut gone = Vec::new();
        for (kind, map) in &self.objects {
            for (id, rec) in map {
                if rec.gone_at.is_some_and(|t| t <= now) {
                    gone.push((*kind, *id));
                }
            }
        }
        for (kind, id) in gone {
            self.remove_now(kind, id);
        }
    }

    /// Drop an object and every reference other objects hold to it.
    fn remove_now(&mut self, kind: Kind, id: i64) {
        if let Some(map) = self.objects.get_mut(&kind) {
            map.remove(&id);
        }
        self.effects.retain(|e| !(e.kind == kind && e.id == id));
        if kind == Kind::Server {
            for fw in self.objects_mut(Kind::Firewall) {
                if let Some(list) = fw.json["applied_to"].as_array_mut() {
                    list.retain(|a| a["server"]["id"].as_i64() != Some(id));
                }
            }
            for lb in self.objects_mut(Kind::LoadBalancer) {
                if let Some(list) = lb.json["targets"].as_array_mut() {
                    list.retain(|a| a["server"]["id"].as_i64() != Some(id));
                }
            }
            for ip in self.objects_mut(Kind::FloatingIp) {
                if ip.json["server"].as_i64() == Some(id) {
                    ip.json["server"] = Value::Null;
                }
            }
            for v in self.objects_mut(Kind::Volume) {
                if v.json["server"].as_i64() == Some(id) {
                    v.json["server"] = Value::Null;
                }
            }
            for p in self.objects_mut(Kind::PrimaryIp) {
                if p.json["assignee_id"].as_i64() == Some(id) {
                    p.json["assignee_id"] = Value::Null;
                }
            }
        }
        if kind == Kind::Network {
            for k in [Kind::Server, Kind::LoadBalancer] {
                for o in self.objects_mut(k) {
                    if let Some(list) = o.json["private_net"].as_array_mut() {
                        list.retain(|p| p["network"].as_i64() != Some(id));
                    }
                }
            }
        }
        if kind == Kind::PrimaryIp {
            for s in self.objects_mut(Kind::Server) {
                for fam in ["ipv4", "ipv6"] {
                    if s.json["public_net"][fam]["id"].as_i64() == Some(id) {
                        s.json["public_net"][fam] = Value::Null;
                    }
                }
            }
        }
    }

    pub(crate) fn objects_mut(&mut self, kind: Kind) -> impl Iterator<Item = &mut Record> {
        self.objects.entry(kind).or_default().values_mut()
    }

    pub(crate) fn records(&self, kind: Kind) -> impl Iterator<Item = &Record> {
        self.objects.get(&kind).into_iter().flat_map(|m| m.values())
    }

    pub fn insert(&mut self, kind: Kind, id: i64, json: Value) {
        self.objects.entry(kind).or_default().insert(
            id,
            Record {
                json,
                gone_at: None,
            },
        );
    }

    pub fn raw(&self, kind: Kind, id: i64) -> ApiResult<&Value> {
        self.objects
            .get(&kind)
            .and_then(|m| m.get(&id))
            .map(|r| &r.json)
            .ok_or_else(|| ApiError::not_found(kind.human(), id))
    }

    pub fn raw_mut(&mut self, kind: Kind, id: i64) -> ApiResult<&mut Value> {
        self.objects
            .get_mut(&kind)
            .and_then(|m| m.get_mut(&id))
            .map(|r| &mut r.json)
            .ok_or_else(|| ApiError::not_found(kind.human(), id))
    }

    pub fn is_deleting(&self, kind: Kind, id: i64) -> bool {
        self.objects
            .get(&kind)
            .and_then(|m| m.get(&id))
            .is_some_and(|r| r.gone_at.is_some())
    }

    /// Resolve a reference given as an ID (number or digits) or a name.
    pub fn resolve(&self, kind: Kind, reference: &Value, field: &str) -> ApiResult<i64> {
        let found = match reference {
            Value::Number(n) => n.as_i64().filter(|id| self.raw(kind, *id).is_ok()),
            Value::String(s) => s
                .parse::<i64>()
                .ok()
                .filter(|id| self.raw(kind, *id).is_ok())
                .or_else(|| {
                    self.records(kind)
                        .find(|r| r.json["name"].as_str() == Some(s))
                        .and_then(|r| r.json["id"].as_i64())
                }),
            Value::Object(o) => o
                .get("id")
                .and_then(Value::as_i64)
                .filter(|id| self.raw(kind, *id).is_ok()),
            _ => None,
        };
        found.ok_or_else(|| {
            ApiError::invalid_input(field, format!("{} '{}' not found", kind.human(), reference))
        })
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.objects.get(&kind).map_or(0, BTreeMap::len)
    }

    pub fn name_taken(&self, kind: Kind, name: &str, except: Option<i64>) -> bool {
        self.records(kind)
            .any(|r| r.json["name"].as_str() == Some(name) && r.json["id"].as_i64() != except)
    }

    /// Accept a DELETE: the object stays visible until the linger window has passed.
    pub fn mark_deleted(&mut self, kind: Kind, id: i64) -> ApiResult<()> {
        let due = self.now() + self.settings.linger;
        let rec = self
            .objects
            .get_mut(&kind)
            .and_then(|m| m.get_mut(&id))
            .ok_or_else(|| ApiError::not_found(kind.human(), id))?;
        if rec.gone_at.is_none() {
            rec.gone_at = Some(due);
        }
        if self.settings.linger.is_zero() {
            self.remove_now(kind, id);
        }
        Ok(())
    }

    /// Start an action; `effects` are applied to the stored object when it finishes.
    pub fn start_action(
        &mut self,
        command: &str,
        resources: &[(i64, Kind)],
        duration: Duration,
        effects: Vec<(Kind, i64, &str, Value)>,
    ) -> Value {
        let id = self.next_action_id;
        self.next_action_id += 1;
        let started = self.now();
        let rec = ActionRec {
            id,
            command: command.to_string(),
            resources: resources.iter().map(|(i, k)| (*i, k.singular())).collect(),
            started,
            started_wall: self.clock.now(),
            duration,
            error: self.failing.get(command).cloned(),
        };
        // A failing action changes nothing on its resources.
        let effects = if rec.error.is_some() {
            Vec::new()
        } else {
            effects
        };
        for (kind, oid, pointer, value) in effects {
            self.effects.push(Effect {
                due: started + duration,
                kind,
                id: oid,
                pointer: pointer.to_string(),
                value,
            });
        }
        let json = self.action_json(&rec);
        self.actions.insert(id, rec);
        json
    }

    fn action_json(&self, a: &ActionRec) -> Value {
        let now = self.now();
        let done = now >= a.started + a.duration;
        let progress = if done {
            100
        } else {
            let frac = (now - a.started).as_secs_f64() / a.duration.as_secs_f64().max(1e-9);
            ((frac * 100.0) as i64).clamp(0, 99)
        };
        let (status, error) = match (&a.error, done) {
            (_, false) => ("running", Value::Null),
            (None, true) => ("success", Value::Null),
            (Some((code, message)), true) => ("error", json!({"code": code, "message": message})),
        };
        let finished = if done {
            json!(wall(
                a.started_wall + chrono::Duration::from_std(a.duration).unwrap_or_default()
            ))
        } else {
            Value::Null
        };
        json!({
            "id": a.id,
            "command": a.command,
            "status": status,
            "progress": progress,
            "started": wall(a.started_wall),
            "finished": finished,
            "resources": a.resources.iter().map(|(id, t)| json!({"id": id, "type": t})).collect::<Vec<_>>(),
            "error": error,
        })
    }

    pub fn action(&self, id: i64) -> ApiResult<Value> {
        self.actions
            .get(&id)
            .map(|a| self.action_json(a))
            .ok_or_else(|| ApiError::not_found("action", id))
    }

    /// Actions, optionally only those touching one kind / one object.
    pub fn actions_for(&self, kind: Option<Kind>, id: Option<i64>) -> Vec<Value> {
        self.actions
            .values()
            .filter(|a| {
                kind.is_none_or(|k| {
                    a.resources
                        .iter()
                        .any(|(rid, t)| *t == k.singular() && id.is_none_or(|i| i == *rid))
                })
            })
            .map(|a| self.action_json(a))
            .collect()
    }

    /// The object as the API shows it, with relations derived from the rest of the project.
    pub fn render(&self, kind: Kind, id: i64) -> ApiResult<Value> {
        let mut v = self.raw(kind, id)?.clone();
        match kind {
            Kind::Server => self.render_server(id, &mut v),
            Kind::Network => {
                v["servers"] = json!(self.attached_to_network(Kind::Server, id));
                v["load_balancers"] = json!(self.attached_to_network(Kind::LoadBalancer, id));
            }
            Kind::Firewall => self.render_firewall(&mut v),
            Kind::LoadBalancer => self.render_load_balancer(&mut v),
            _ => {}
        }
        Ok(v)
    }

    pub fn list(&self, kind: Kind) -> Vec<Value> {
        let ids: Vec<i64> = self
            .records(kind)
            .filter_map(|r| r.json["id"].as_i64())
            .collect();
        ids.into_iter()
            .filter_map(|id| self.render(kind, id).ok())
            .collect()
    }

    fn attached_to_network(&self, kind: Kind, network: i64) -> Vec<i64> {
        self.records(kind)
            .filter(|r| {
                r.json["private_net"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|p| p["network"].as_i64() == Some(network)))
            })
            .filter_map(|r| r.json["id"].as_i64())
            .collect()
    }

    /// Servers a firewall or load balancer entry (`server` or `label_selector`) points at.
    fn entry_servers(&self, entry: &Value) -> Vec<i64> {
        match entry["type"].as_str() {
            Some("server") => entry["server"]["id"].as_i64().into_iter().collect(),
            Some("label_selector") => {
                let Ok(sel) = LabelSelector::parse(
                    entry["label_selector"]["selector"]
                        .as_str()
                        .unwrap_or_default(),
                ) else {
                    return Vec::new();
                };
                self.records(Kind::Server)
                    .filter(|r| sel.matches_json(r.json.get("labels")))
                    .filter_map(|r| r.json["id"].as_i64())
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    fn render_server(&self, id: i64, v: &mut Value) {
        let labels_json = v.get("labels").cloned();
        let labels = labels_json.as_ref();
        let firewalls: Vec<Value> = self
            .records(Kind::Firewall)
            .filter(|fw| {
                fw.json["applied_to"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|e| entry_covers(e, id, labels)))
            })
            .map(|fw| json!({"id": fw.json["id"], "status": "applied"}))
            .collect();
        v["public_net"]["firewalls"] = json!(firewalls);
        v["public_net"]["floating_ips"] = json!(
            self.records(Kind::FloatingIp)
                .filter(|r| r.json["server"].as_i64() == Some(id))
                .filter_map(|r| r.json["id"].as_i64())
                .collect::<Vec<_>>()
        );
        v["volumes"] = json!(
            self.records(Kind::Volume)
                .filter(|r| r.json["server"].as_i64() == Some(id))
                .filter_map(|r| r.json["id"].as_i64())
                .collect::<Vec<_>>()
        );
        v["load_balancers"] = json!(
            self.records(Kind::LoadBalancer)
                .filter(|lb| {
                    lb.json["targets"]
                        .as_array()
                        .is_some_and(|l| l.iter().any(|e| entry_covers(e, id, labels)))
                })
                .filter_map(|r| r.json["id"].as_i64())
                .collect::<Vec<_>>()
        );
    }

    fn render_firewall(&self, v: &mut Value) {
        if let Some(list) = v["applied_to"].as_array_mut() {
            for entry in list.iter_mut() {
                if entry["type"] == "label_selector" {
                    let servers: Vec<Value> = self
                        .entry_servers(entry)
                        .into_iter()
                        .map(|id| json!({"type": "server", "server": {"id": id}}))
                        .collect();
                    entry["applied_to_resources"] = json!(servers);
                }
            }
        }
    }

    fn render_load_balancer(&self, v: &mut Value) {
        let health: Vec<Value> = v["services"]
            .as_array()
            .map(|s| {
                s.iter()
                    .map(|svc| json!({"listen_port": svc["listen_port"], "status": "healthy"}))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(list) = v["targets"].as_array_mut() {
            for entry in list.iter_mut() {
                entry["health_status"] = json!(health);
                if entry["type"] == "label_selector" {
                    let use_private = entry["use_private_ip"].clone();
                    let targets: Vec<Value> = self
                        .entry_servers(entry)
                        .into_iter()
                        .map(|id| {
                            json!({"type": "server", "server": {"id": id},
                                   "health_status": health, "use_private_ip": use_private})
                        })
                        .collect();
                    entry["targets"] = json!(targets);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_progress_and_apply_their_effects_on_simulated_time() {
        let clock = SimClock::new(1.0);
        let mut store = Store::new(clock.clone(), StoreSettings::default());
        store.insert(
            Kind::Server,
            7,
            json!({"id": 7, "name": "s", "status": "off"}),
        );
        let a = store.start_action(
            "start_server",
            &[(7, Kind::Server)],
            Duration::from_secs(100),
            vec![(Kind::Server, 7, "/status", json!("running"))],
        );
        let id = a["id"].as_i64().expect("id");
        assert_eq!(a["status"], "running");
        clock.advance(Duration::from_secs(50));
        store.settle();
        let mid = store.action(id).expect("action");
        assert_eq!(mid["status"], "running");
        let p = mid["progress"].as_i64().expect("progress");
        assert!((50..100).contains(&p), "{p}");
        assert_eq!(store.raw(Kind::Server, 7).expect("server")["status"], "off");
        clock.advance(Duration::from_secs(51));
        store.settle();
        let done = store.action(id).expect("action");
        assert_eq!(
            (done["status"].as_str(), done["progress"].as_i64()),
            (Some("success"), Some(100))
        );
        assert!(done["finished"].is_string());
        assert_eq!(
            store.raw(Kind::Server, 7).expect("server")["status"],
            "running"
        );
    }

    #[test]
    fn zero_linger_removes_at_once() {
        let clock = SimClock::new(1.0);
        let mut store = Store::new(
            clock,
            StoreSettings {
                linger: Duration::ZERO,
                action_duration: Duration::from_secs(1),
                limits: BTreeMap::new(),
            },
        );
        store.insert(Kind::Network, 1, json!({"id": 1, "name": "n"}));
        store.mark_deleted(Kind::Network, 1).expect("delete");
        assert!(store.raw(Kind::Network, 1).is_err());
        assert_eq!(
            store.mark_deleted(Kind::Network, 1).map_err(|e| e.code),
            Err("not_found")
        );
    }
}
