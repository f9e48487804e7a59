//! `/v1` routing: generic list/get/update/delete and action endpoints for every kind, the static
//! catalogue, and `/actions`.

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::body::{self, Reply, action_reply};
use super::catalog;
use super::error::{ApiError, ApiResult};
use super::query::{Query, paginate, sort_items};
use super::store::{Kind, Store};
use super::{firewalls, ips, load_balancers, networks, servers, ssh_keys, volumes};

/// Handle one request against the project; `segments` is the path after `/v1`.
pub fn dispatch(
    store: &mut Store,
    method: &Method,
    segments: &[&str],
    q: &Query,
    body: &Value,
) -> ApiResult<Reply> {
    store.settle();
    match (method.as_str(), segments) {
        ("GET", ["actions"]) => list_actions(store.actions_for(None, None), q),
        ("GET", ["actions", id]) => Ok((
            StatusCode::OK,
            json!({"action": store.action(parse_id(id)?)?}),
        )),
        ("GET", ["pricing"]) => Ok((StatusCode::OK, catalog::pricing_json())),
        ("GET", ["locations"]) => catalog_list(
            "locations",
            catalog::LOCATIONS
                .iter()
                .map(catalog::location_json)
                .collect(),
            q,
        ),
        ("GET", ["locations", id]) => catalog_get(
            "location",
            catalog::LOCATIONS
                .iter()
                .map(catalog::location_json)
                .collect(),
            id,
        ),
        ("GET", ["datacenters"]) => {
            let (status, mut v) = catalog_list(
                "datacenters",
                catalog::LOCATIONS
                    .iter()
                    .map(catalog::datacenter_json)
                    .collect(),
                q,
            )?;
            v["recommendation"] = json!(catalog::LOCATIONS[0].id);
            Ok((status, v))
        }
        ("GET", ["datacenters", id]) => catalog_get(
            "datacenter",
            catalog::LOCATIONS
                .iter()
                .map(catalog::datacenter_json)
                .collect(),
            id,
        ),
        ("GET", ["server_types"]) => catalog_list(
            "server_types",
            catalog::SERVER_TYPES
                .iter()
                .map(catalog::server_type_json)
                .collect(),
            q,
        ),
        ("GET", ["server_types", id]) => catalog_get(
            "server_type",
            catalog::SERVER_TYPES
                .iter()
                .map(catalog::server_type_json)
                .collect(),
            id,
        ),
        ("GET", ["load_balancer_types"]) => catalog_list(
            "load_balancer_types",
            catalog::LOAD_BALANCER_TYPES
                .iter()
                .map(catalog::load_balancer_type_json)
                .collect(),
            q,
        ),
        ("GET", ["load_balancer_types", id]) => catalog_get(
            "load_balancer_type",
            catalog::LOAD_BALANCER_TYPES
                .iter()
                .map(catalog::load_balancer_type_json)
                .collect(),
            id,
        ),
        ("GET", ["images"]) => {
            let mut items: Vec<Value> = catalog::IMAGES.iter().map(catalog::image_json).collect();
            for field in ["architecture", "type", "status"] {
                let wanted = q.get_all(field);
                if !wanted.is_empty() {
                    items.retain(|i| wanted.iter().any(|w| i[field].as_str() == Some(w)));
                }
            }
            catalog_list("images", items, q)
        }
        ("GET", ["images", id]) => catalog_get(
            "image",
            catalog::IMAGES.iter().map(catalog::image_json).collect(),
            id,
        ),
        (_, [kind, rest @ ..]) => {
            let kind = Kind::from_path(kind).ok_or_else(ApiError::route_not_found)?;
            kind_route(store, method, kind, rest, q, body)
        }
        _ => Err(ApiError::route_not_found()),
    }
}

fn parse_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::invalid_input("id", format!("'{raw}' is not a valid ID")))
}

fn filter_common(items: &mut Vec<Value>, q: &Query) -> ApiResult<()> {
    if let Some(name) = q.get("name") {
        items.retain(|i| i["name"].as_str() == Some(name));
    }
    if let Some(sel) = q.label_selector()? {
        items.retain(|i| sel.matches_json(i.get("labels")));
    }
    Ok(())
}

fn catalog_list(key: &str, mut items: Vec<Value>, q: &Query) -> ApiResult<Reply> {
    filter_common(&mut items, q)?;
    sort_items(&mut items, q, &["id", "name", "created"])?;
    let (page, meta) = paginate(items, q)?;
    let mut out = Map::new();
    out.insert(key.to_string(), Value::Array(page));
    out.insert("meta".into(), meta);
    Ok((StatusCode::OK, Value::Object(out)))
}

fn catalog_get(key: &str, items: Vec<Value>, raw_id: &str) -> ApiResult<Reply> {
    let id = parse_id(raw_id)?;
    let item = items
        .into_iter()
        .find(|i| i["id"].as_i64() == Some(id))
        .ok_or_else(|| ApiError::not_found(&key.replace('_', " "), id))?;
    Ok((StatusCode::OK, json!({ key: item })))
}

fn list_actions(mut actions: Vec<Value>, q: &Query) -> ApiResult<Reply> {
    let ids = q.get_all("id");
    if !ids.is_empty() {
        actions.retain(|a| {
            ids.iter()
                .any(|i| a["id"].as_i64().map(|n| n.to_string()).as_deref() == Some(i))
        });
    }
    let statuses = q.get_all("status");
    if !statuses.is_empty() {
        actions.retain(|a| statuses.iter().any(|s| a["status"].as_str() == Some(s)));
    }
    sort_items(
        &mut actions,
        q,
        &["id", "command", "status", "progress", "started", "finished"],
    )?;
    let (page, meta) = paginate(actions, q)?;
    Ok((StatusCode::OK, json!({"actions": page, "meta": meta})))
}

fn kind_route(
    store: &mut Store,
    method: &Method,
    kind: Kind,
    rest: &[&str],
    q: &Query,
    body: &Value,
) -> ApiResult<Reply> {
    match (method.as_str(), rest) {
        ("GET", []) => list(store, kind, q),
        ("POST", []) => create(store, kind, body),
        ("GET", ["actions"]) => list_actions(store.actions_for(Some(kind), None), q),
        ("GET", ["actions", aid]) => {
            let aid = parse_id(aid)?;
            let a = store.action(aid)?;
            let involved = a["resources"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x["type"] == kind.singular()));
            if !involved {
                return Err(ApiError::not_found("action", aid));
            }
            Ok((StatusCode::OK, json!({ "action": a })))
        }
        ("GET", [id]) => {
            let id = parse_id(id)?;
            Ok((
                StatusCode::OK,
                json!({ kind.singular(): store.render(kind, id)? }),
            ))
        }
        ("PUT", [id]) => update(store, kind, parse_id(id)?, body),
        ("DELETE", [id]) => delete(store, kind, parse_id(id)?),
        ("GET", [id, "actions"]) => {
            let id = parse_id(id)?;
            store.raw(kind, id)?;
            list_actions(store.actions_for(Some(kind), Some(id)), q)
        }
        ("GET", [id, "actions", aid]) => {
            let id = parse_id(id)?;
            let aid = parse_id(aid)?;
            store.raw(kind, id)?;
            let a = store.action(aid)?;
            let involved = a["resources"].as_array().is_some_and(|r| {
                r.iter()
                    .any(|x| x["type"] == kind.singular() && x["id"].as_i64() == Some(id))
            });
            if !involved {
                return Err(ApiError::not_found("action", aid));
            }
            Ok((StatusCode::OK, json!({ "action": a })))
        }
        ("POST", [id, "actions", name]) => object_action(store, kind, parse_id(id)?, name, body),
        (_, [] | [_] | [_, "actions"] | [_, "actions", _]) => Err(ApiError::method_not_allowed()),
        _ => Err(ApiError::route_not_found()),
    }
}

fn list(store: &Store, kind: Kind, q: &Query) -> ApiResult<Reply> {
    let mut items = store.list(kind);
    filter_common(&mut items, q)?;
    let statuses = q.get_all("status");
    if !statuses.is_empty() {
        items.retain(|i| statuses.iter().any(|s| i["status"].as_str() == Some(s)));
    }
    if let Some(ip) = q.get("ip") {
        items.retain(|i| i["ip"].as_str() == Some(ip));
    }
    if let Some(fp) = q.get("fingerprint") {
        items.retain(|i| i["fingerprint"].as_str() == Some(fp));
    }
    sort_items(&mut items, q, kind.sort_fields())?;
    let (page, meta) = paginate(items, q)?;
    let mut out = Map::new();
    out.insert(kind.path().to_string(), Value::Array(page));
    out.insert("meta".into(), meta);
    Ok((StatusCode::OK, Value::Object(out)))
}

fn create(store: &mut Store, kind: Kind, body: &Value) -> ApiResult<Reply> {
    if !body.is_object() {
        return Err(ApiError::json_error("request body must be a JSON object"));
    }
    if let Some(limit) = store.settings.limits.get(&kind)
        && store.count(kind) >= *limit
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "resource_limit_exceeded",
            format!("{} limit exceeded", kind.human()),
        ));
    }
    match kind {
        Kind::Server => servers::create(store, body),
        Kind::Network => networks::create(store, body),
        Kind::Firewall => firewalls::create(store, body),
        Kind::LoadBalancer => load_balancers::create(store, body),
        Kind::SshKey => ssh_keys::create(store, body),
        Kind::PrimaryIp => ips::create_primary(store, body),
        Kind::FloatingIp => ips::create_floating(store, body),
        Kind::Volume => volumes::create(store, body),
    }
}

fn delete(store: &mut Store, kind: Kind, id: i64) -> ApiResult<Reply> {
    match kind {
        Kind::Server => servers::delete(store, id),
        Kind::Network => {
            if store.raw(kind, id)?["protection"]["delete"] == true {
                return Err(ApiError::protected("network"));
            }
            networks::delete(store, id)
        }
        Kind::Firewall => firewalls::delete(store, id),
        Kind::LoadBalancer => load_balancers::delete(store, id),
        Kind::SshKey => ssh_keys::delete(store, id),
        Kind::PrimaryIp => ips::delete_primary(store, id),
        Kind::FloatingIp => ips::delete_floating(store, id),
        Kind::Volume => volumes::delete(store, id),
    }
}

fn update(store: &mut Store, kind: Kind, id: i64, body: &Value) -> ApiResult<Reply> {
    store.raw(kind, id)?;
    if let Some(name) = body::opt_str(body, "name")? {
        if kind == Kind::Server {
            body::hostname(name)?;
        }
        if name.is_empty() {
            return Err(ApiError::invalid_input("name", "must not be empty"));
        }
        if store.name_taken(kind, name, Some(id)) {
            return Err(ApiError::uniqueness("name"));
        }
    }
    let labels = if body.get("labels").is_some() {
        Some(body::labels(body)?)
    } else {
        None
    };
    let extra: &[&str] = match kind {
        Kind::FloatingIp => &["description"],
        Kind::PrimaryIp => &["auto_delete"],
        Kind::Network => &["expose_routes_to_vswitch"],
        _ => &[],
    };
    let obj = store.raw_mut(kind, id)?;
    if let Some(name) = body.get("name").filter(|v| v.is_string()) {
        obj["name"] = name.clone();
    }
    if let Some(l) = labels {
        obj["labels"] = l;
    }
    for f in extra {
        if let Some(v) = body.get(*f) {
            obj[*f] = v.clone();
        }
    }
    Ok((
        StatusCode::OK,
        json!({ kind.singular(): store.render(kind, id)? }),
    ))
}

fn object_action(
    store: &mut Store,
    kind: Kind,
    id: i64,
    name: &str,
    body: &Value,
) -> ApiResult<Reply> {
    store.raw(kind, id)?;
    if name == "change_protection" && !matches!(kind, Kind::Firewall | Kind::SshKey) {
        let delete = body::opt_bool(
            body,
            "delete",
            store.raw(kind, id)?["protection"]["delete"] == true,
        )?;
        let obj = store.raw_mut(kind, id)?;
        obj["protection"]["delete"] = json!(delete);
        if kind == Kind::Server {
            let rebuild = body::opt_bool(body, "rebuild", delete)?;
            obj["protection"]["rebuild"] = json!(rebuild);
        }
        let d = store.settings.action_duration;
        return action_reply(store.start_action("change_protection", &[(id, kind)], d, vec![]));
    }
    match kind {
        Kind::Server => servers::action(store, id, name, body),
        Kind::Network => networks::action(store, id, name, body),
        Kind::Firewall => firewalls::action(store, id, name, body),
        Kind::LoadBalancer => load_balancers::action(store, id, name, body),
        Kind::PrimaryIp => ips::primary_action(store, id, name, body),
        Kind::FloatingIp => ips::floating_action(store, id, name, body),
        Kind::Volume => volumes::action(store, id, name, body),
        Kind::SshKey => Err(ApiError::route_not_found()),
    }
}
