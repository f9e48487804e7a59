//! Primary IPs (the addresses a server is born with) and floating IPs.

use serde_json::{Value, json};

use super::body::{self, Reply, action_reply, created, no_content};
use super::catalog::{self, LocationDef};
use super::error::{ApiError, ApiResult};
use super::servers::server_ip_entry;
use super::store::{Kind, Store};

pub struct NewPrimaryIp<'a> {
    pub id: i64,
    pub name: &'a str,
    pub family: &'a str,
    pub ip: &'a str,
    pub assignee: Option<i64>,
    pub auto_delete: bool,
    pub location: &'a LocationDef,
    pub labels: Value,
}

pub fn primary_ip_json(store: &Store, p: NewPrimaryIp<'_>) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "ip": p.ip,
        "type": p.family,
        "assignee_id": p.assignee,
        "assignee_type": "server",
        "auto_delete": p.auto_delete,
        "blocked": false,
        "created": store.now_string(),
        "datacenter": catalog::datacenter_json(p.location),
        "location": catalog::location_json(p.location),
        "dns_ptr": [{"ip": p.ip, "dns_ptr": format!("static.{}.clients.your-server.de", p.ip)}],
        "labels": p.labels,
        "protection": {"delete": false},
    })
}

fn family(body: &Value) -> ApiResult<&str> {
    let t = body::req_str(body, "type")?;
    if matches!(t, "ipv4" | "ipv6") {
        Ok(t)
    } else {
        Err(ApiError::invalid_input("type", "must be ipv4 or ipv6"))
    }
}

fn location_of(body: &Value, fields: &[&str]) -> ApiResult<Option<&'static LocationDef>> {
    for f in fields {
        if let Some(v) = body.get(*f).filter(|v| !v.is_null()) {
            let key = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            return catalog::find_location(&key)
                .map(Some)
                .ok_or_else(|| ApiError::invalid_input(f, format!("'{key}' not found")));
        }
    }
    Ok(None)
}

fn server_location(store: &Store, server: i64) -> ApiResult<&'static LocationDef> {
    let name = store.raw(Kind::Server, server)?["location"]["name"]
        .as_str()
        .unwrap_or("fsn1")
        .to_string();
    Ok(catalog::find_location(&name).unwrap_or(&catalog::LOCATIONS[0]))
}

fn assign_to_server(store: &mut Store, pid: i64, server: i64) -> ApiResult<()> {
    let p = store.raw(Kind::PrimaryIp, pid)?.clone();
    let fam = p["type"].as_str().unwrap_or("ipv4").to_string();
    let s = store.raw(Kind::Server, server)?;
    if !s["public_net"][&fam].is_null() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "primary_ip_version_mismatch",
            format!("server {server} already has a primary {fam}"),
        ));
    }
    if s["status"] != "off" {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "server_not_stopped",
            "server must be powered off to assign a primary IP",
        ));
    }
    let entry = server_ip_entry(&fam, pid, p["ip"].as_str().unwrap_or_default());
    store.raw_mut(Kind::Server, server)?["public_net"][&fam] = entry;
    store.raw_mut(Kind::PrimaryIp, pid)?["assignee_id"] = json!(server);
    Ok(())
}

pub fn create_primary(store: &mut Store, body: &Value) -> ApiResult<Reply> {
    let name = body::req_str(body, "name")?;
    let fam = family(body)?;
    let labels = body::labels(body)?;
    if store.name_taken(Kind::PrimaryIp, name, None) {
        return Err(ApiError::uniqueness("name"));
    }
    let assignee = body::opt_i64(body, "assignee_id")?;
    let loc = match assignee {
        Some(s) => server_location(store, s)
            .map_err(|_| ApiError::invalid_input("assignee_id", format!("server {s} not found")))?,
        None => location_of(body, &["location", "datacenter"])?.ok_or_else(|| {
            ApiError::invalid_input(
                "location",
                "location, datacenter or assignee_id is required",
            )
        })?,
    };
    let id = store.alloc_id();
    let (v4, v6) = store.alloc_public_ip();
    let ip = if fam == "ipv4" { v4 } else { v6 };
    let json = primary_ip_json(
        store,
        NewPrimaryIp {
            id,
            name,
            family: fam,
            ip: &ip,
            assignee: None,
            auto_delete: body::opt_bool(body, "auto_delete", false)?,
            location: loc,
            labels,
        },
    );
    store.insert(Kind::PrimaryIp, id, json);
    let action = match assignee {
        Some(server) => {
            if let Err(e) = assign_to_server(store, id, server) {
                store.mark_deleted(Kind::PrimaryIp, id)?;
                return Err(e);
            }
            let d = store.settings.action_duration;
            store.start_action(
                "create_primary_ip",
                &[(id, Kind::PrimaryIp), (server, Kind::Server)],
                d,
                vec![],
            )
        }
        None => Value::Null,
    };
    created(json!({"primary_ip": store.render(Kind::PrimaryIp, id)?, "action": action}))
}

pub fn delete_primary(store: &mut Store, id: i64) -> ApiResult<Reply> {
    let p = store.raw(Kind::PrimaryIp, id)?;
    if p["protection"]["delete"] == true {
        return Err(ApiError::protected("primary IP"));
    }
    if let Some(server) = p["assignee_id"].as_i64()
        && !store.is_deleting(Kind::Server, server)
    {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "must_be_unassigned",
            "primary IP must be unassigned before it can be deleted",
        ));
    }
    store.mark_deleted(Kind::PrimaryIp, id)?;
    no_content()
}

pub fn primary_action(store: &mut Store, id: i64, name: &str, body: &Value) -> ApiResult<Reply> {
    let p = store.raw(Kind::PrimaryIp, id)?.clone();
    let d = store.settings.action_duration;
    match name {
        "assign" => {
            let server = body::req_i64(body, "assignee_id")?;
            if !p["assignee_id"].is_null() {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "primary_ip_assigned",
                    "primary IP is already assigned",
                ));
            }
            assign_to_server(store, id, server)?;
            action_reply(store.start_action(
                "assign_primary_ip",
                &[(id, Kind::PrimaryIp), (server, Kind::Server)],
                d,
                vec![],
            ))
        }
        "unassign" => {
            let Some(server) = p["assignee_id"].as_i64() else {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "primary_ip_not_assigned",
                    "primary IP is not assigned",
                ));
            };
            let fam = p["type"].as_str().unwrap_or("ipv4").to_string();
            if let Ok(s) = store.raw_mut(Kind::Server, server) {
                s["public_net"][&fam] = Value::Null;
            }
            store.raw_mut(Kind::PrimaryIp, id)?["assignee_id"] = Value::Null;
            action_reply(store.start_action(
                "unassign_primary_ip",
                &[(id, Kind::PrimaryIp), (server, Kind::Server)],
                d,
                vec![],
            ))
        }
        "change_dns_ptr" => {
            let ip = body::req_str(body, "ip")?;
            let ptr = body.get("dns_ptr").cloned().unwrap_or(Value::Null);
            store.raw_mut(Kind::PrimaryIp, id)?["dns_ptr"] = json!([{"ip": ip, "dns_ptr": ptr}]);
            action_reply(store.start_action("change_dns_ptr", &[(id, Kind::PrimaryIp)], d, vec![]))
        }
        _ => Err(ApiError::route_not_found()),
    }
}

pub fn create_floating(store: &mut Store, body: &Value) -> ApiResult<Reply> {
    let fam = family(body)?;
    let labels = body::labels(body)?;
    let server = match body.get("server").filter(|v| !v.is_null()) {
        Some(v) => Some(store.resolve(Kind::Server, v, "server")?),
        None => None,
    };
    let loc = match server {
        Some(s) => server_location(store, s)?,
        None => location_of(body, &["home_location"])?.ok_or_else(|| {
            ApiError::invalid_input("home_location", "home_location or server is required")
        })?,
    };
    let id = store.alloc_id();
    let name = match body::opt_str(body, "name")? {
        Some(n) => n.to_string(),
        None => format!("floating_ip-{id}"),
    };
    if store.name_taken(Kind::FloatingIp, &name, None) {
        return Err(ApiError::uniqueness("name"));
    }
    let (v4, v6) = store.alloc_public_ip();
    let ip = if fam == "ipv4" { v4 } else { v6 };
    let json = json!({
        "id": id,
        "name": name,
        "description": body.get("description").cloned().unwrap_or(Value::Null),
        "ip": ip,
        "type": fam,
        "server": server,
        "dns_ptr": [{"ip": ip, "dns_ptr": format!("static.{ip}.clients.your-server.de")}],
        "home_location": catalog::location_json(loc),
        "blocked": false,
        "protection": {"delete": false},
        "labels": labels,
        "created": store.now_string(),
    });
    store.insert(Kind::FloatingIp, id, json);
    let action = match server {
        Some(s) => {
            let d = store.settings.action_duration;
            store.start_action(
                "assign_floating_ip",
                &[(id, Kind::FloatingIp), (s, Kind::Server)],
                d,
                vec![],
            )
        }
        None => Value::Null,
    };
    created(json!({"floating_ip": store.render(Kind::FloatingIp, id)?, "action": action}))
}

pub fn delete_floating(store: &mut Store, id: i64) -> ApiResult<Reply> {
    if store.raw(Kind::FloatingIp, id)?["protection"]["delete"] == true {
        return Err(ApiError::protected("floating IP"));
    }
    store.mark_deleted(Kind::FloatingIp, id)?;
    no_content()
}

pub fn floating_action(store: &mut Store, id: i64, name: &str, body: &Value) -> ApiResult<Reply> {
    store.raw(Kind::FloatingIp, id)?;
    let d = store.settings.action_duration;
    match name {
        "assign" => {
            let server = store.resolve(
                Kind::Server,
                body.get("server").unwrap_or(&Value::Null),
                "server",
            )?;
            store.raw_mut(Kind::FloatingIp, id)?["server"] = json!(server);
            action_reply(store.start_action(
                "assign_floating_ip",
                &[(id, Kind::FloatingIp), (server, Kind::Server)],
                d,
                vec![],
            ))
        }
        "unassign" => {
            store.raw_mut(Kind::FloatingIp, id)?["server"] = Value::Null;
            action_reply(store.start_action(
                "unassign_floating_ip",
                &[(id, Kind::FloatingIp)],
                d,
                vec![],
            ))
        }
        "change_dns_ptr" => {
            let ip = body::req_str(body, "ip")?;
            let ptr = body.get("dns_ptr").cloned().unwrap_or(Value::Null);
            store.raw_mut(Kind::FloatingIp, id)?["dns_ptr"] = json!([{"ip": ip, "dns_ptr": ptr}]);
            action_reply(store.start_action("change_dns_ptr", &[(id, Kind::FloatingIp)], d, vec![]))
        }
        _ => Err(ApiError::route_not_found()),
    }
}
