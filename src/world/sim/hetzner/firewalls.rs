//! Firewalls: rules, and application to servers directly or through a label selector.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::body::{self, Reply, created, no_content};
use super::error::{ApiError, ApiResult};
use super::labels::LabelSelector;
use super::store::{Kind, Store};

fn rule(r: &Value) -> ApiResult<Value> {
    let direction = body::req_str(r, "direction")?;
    if !matches!(direction, "in" | "out") {
        return Err(ApiError::invalid_input(
            "rules.direction",
            "must be in or out",
        ));
    }
    let protocol = body::req_str(r, "protocol")?;
    if !matches!(protocol, "tcp" | "udp" | "icmp" | "esp" | "gre") {
        return Err(ApiError::invalid_input(
            "rules.protocol",
            "unknown protocol",
        ));
    }
    let port = body::opt_str(r, "port")?;
    match (protocol, port) {
        ("tcp" | "udp", None) => {
            return Err(ApiError::invalid_input(
                "rules.port",
                "port is required for tcp and udp",
            ));
        }
        ("tcp" | "udp", Some(p)) => {
            let ok = p == "any"
                || p.split('-').all(|n| n.parse::<u16>().is_ok_and(|n| n >= 1))
                    && p.split('-').count() <= 2;
            if !ok {
                return Err(ApiError::invalid_input(
                    "rules.port",
                    format!("invalid port '{p}'"),
                ));
            }
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid_input(
                "rules.port",
                "port is only allowed for tcp and udp",
            ));
        }
        _ => {}
    }
    let ips = |field: &str| -> ApiResult<Vec<Value>> {
        let list = body::opt_array(r, field)?.to_vec();
        for ip in &list {
            let s = ip.as_str().unwrap_or_default();
            let addr = s.split('/').next().unwrap_or_default();
            if addr.parse::<std::net::IpAddr>().is_err() {
                return Err(ApiError::invalid_input(
                    &format!("rules.{field}"),
                    format!("'{s}' is not an IP network"),
                ));
            }
        }
        Ok(list)
    };
    let source_ips = ips("source_ips")?;
    let destination_ips = ips("destination_ips")?;
    if direction == "in" && source_ips.is_empty() {
        return Err(ApiError::invalid_input(
            "rules.source_ips",
            "required for direction in",
        ));
    }
    if direction == "out" && destination_ips.is_empty() {
        return Err(ApiError::invalid_input(
            "rules.destination_ips",
            "required for direction out",
        ));
    }
    Ok(json!({
        "direction": direction,
        "protocol": protocol,
        "port": port,
        "source_ips": if direction == "in" { source_ips } else { vec![] },
        "destination_ips": if direction == "out" { destination_ips } else { vec![] },
        "description": r.get("description").cloned().unwrap_or(Value::Null),
    }))
}

fn rules(body: &Value) -> ApiResult<Vec<Value>> {
    body::opt_array(body, "rules")?.iter().map(rule).collect()
}

/// Validate one `apply_to`/`remove_from` entry and normalise it.
fn resource(store: &Store, r: &Value) -> ApiResult<Value> {
    match body::req_str(r, "type")? {
        "server" => {
            let id = store.resolve(Kind::Server, &r["server"], "apply_to.server")?;
            Ok(json!({"type": "server", "server": {"id": id}}))
        }
        "label_selector" => {
            let sel = body::req_str(&r["label_selector"], "selector")?;
            LabelSelector::parse(sel).map_err(|e| ApiError::invalid_input("label_selector", e))?;
            Ok(json!({"type": "label_selector", "label_selector": {"selector": sel}}))
        }
        other => Err(ApiError::invalid_input(
            "type",
            format!("unknown resource type '{other}'"),
        )),
    }
}

fn same_entry(a: &Value, b: &Value) -> bool {
    a["type"] == b["type"]
        && a["server"] == b["server"]
        && a["label_selector"] == b["label_selector"]
}

fn apply_actions(store: &mut Store, id: i64, entries: &[Value], command: &str) -> Vec<Value> {
    let d = store.settings.action_duration;
    entries
        .iter()
        .map(|e| {
            let mut res = vec![(id, Kind::Firewall)];
            if let Some(s) = e["server"]["id"].as_i64() {
                res.push((s, Kind::Server));
            }
            store.start_action(command, &res, d, vec![])
        })
        .collect()
}

pub fn create(store: &mut Store, body: &Value) -> ApiResult<Reply> {
    let name = body::req_str(body, "name")?;
    let labels = body::labels(body)?;
    let rules = rules(body)?;
    let entries: Vec<Value> = body::opt_array(body, "apply_to")?
        .iter()
        .map(|r| resource(store, r))
        .collect::<ApiResult<_>>()?;
    if store.name_taken(Kind::Firewall, name, None) {
        return Err(ApiError::uniqueness("name"));
    }
    let id = store.alloc_id();
    store.insert(
        Kind::Firewall,
        id,
        json!({
            "id": id,
            "name": name,
            "labels": labels,
            "rules": rules,
            "applied_to": entries,
            "created": store.now_string(),
        }),
    );
    let actions = apply_actions(store, id, &entries, "apply_firewall");
    created(json!({"firewall": store.render(Kind::Firewall, id)?, "actions": actions}))
}

pub fn delete(store: &mut Store, id: i64) -> ApiResult<Reply> {
    let fw = store.raw(Kind::Firewall, id)?;
    let in_use = fw["applied_to"].as_array().is_some_and(|l| {
        l.iter().any(|e| {
            e["server"]["id"]
                .as_i64()
                .is_some_and(|s| !store.is_deleting(Kind::Server, s))
        })
    });
    if in_use {
        return Err(ApiError::resource_in_use(
            "firewall is still applied to servers",
        ));
    }
    store.mark_deleted(Kind::Firewall, id)?;
    no_content()
}

pub fn action(store: &mut Store, id: i64, name: &str, body: &Value) -> ApiResult<Reply> {
    let fw = store.raw(Kind::Firewall, id)?.clone();
    let current: Vec<Value> = fw["applied_to"].as_array().cloned().unwrap_or_default();
    match name {
        "set_rules" => {
            let new_rules = rules(body)?;
            store.raw_mut(Kind::Firewall, id)?["rules"] = json!(new_rules);
            let d = store.settings.action_duration;
            let mut actions =
                vec![store.start_action("set_firewall_rules", &[(id, Kind::Firewall)], d, vec![])];
            actions.extend(apply_actions(store, id, &current, "apply_firewall"));
            created(json!({ "actions": actions }))
        }
        "apply_to_resources" => {
            let entries: Vec<Value> = body::opt_array(body, "apply_to")?
                .iter()
                .map(|r| resource(store, r))
                .collect::<ApiResult<_>>()?;
            if entries
                .iter()
                .any(|e| current.iter().any(|c| same_entry(c, e)))
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "firewall_already_applied",
                    "firewall is already applied to this resource",
                ));
            }
            if let Some(list) = store.raw_mut(Kind::Firewall, id)?["applied_to"].as_array_mut() {
                list.extend(entries.iter().cloned());
            }
            let actions = apply_actions(store, id, &entries, "apply_firewall");
            created(json!({ "actions": actions }))
        }
        "remove_from_resources" => {
            let entries: Vec<Value> = body::opt_array(body, "remove_from")?
                .iter()
                .map(|r| resource(store, r))
                .collect::<ApiResult<_>>()?;
            if entries
                .iter()
                .any(|e| !current.iter().any(|c| same_entry(c, e)))
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "firewall_already_removed",
                    "firewall is not applied to this resource",
                ));
            }
            if let Some(list) = store.raw_mut(Kind::Firewall, id)?["applied_to"].as_array_mut() {
                list.retain(|c| !entries.iter().any(|e| same_entry(c, e)));
            }
            let actions = apply_actions(store, id, &entries, "remove_firewall");
            created(json!({ "actions": actions }))
        }
        _ => Err(ApiError::route_not_found()),
    }
}
