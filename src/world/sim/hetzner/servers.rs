//! Servers: creation with auto-created primary IPs, network attachment, power actions, delete.

use rand::Rng;
use serde_json::{Value, json};

use super::body::{self, Reply, action_reply, created};
use super::catalog;
use super::error::{ApiError, ApiResult};
use super::networks::alloc_private_ip;
use super::store::{Kind, Store};

/// Create a primary IP the way the API does for a new server: named `primary_ip-<id>`,
/// unlabelled, deleted together with the server.
fn auto_primary_ip(
    store: &mut Store,
    family: &str,
    server: i64,
    loc: &catalog::LocationDef,
) -> Value {
    let id = store.alloc_id();
    let (v4, v6) = store.alloc_public_ip();
    let ip = if family == "ipv4" { v4 } else { v6 };
    let name = format!("primary_ip-{id}");
    let json = super::ips::primary_ip_json(
        store,
        super::ips::NewPrimaryIp {
            id,
            name: &name,
            family,
            ip: &ip,
            assignee: Some(server),
            auto_delete: true,
            location: loc,
            labels: json!({}),
        },
    );
    store.insert(Kind::PrimaryIp, id, json);
    server_ip_entry(family, id, &ip)
}

pub(crate) fn server_ip_entry(family: &str, id: i64, ip: &str) -> Value {
    if family == "ipv4" {
        json!({"id": id, "ip": ip, "blocked": false,
               "dns_ptr": format!("static.{}.clients.your-server.de", ip.split('.').rev().collect::<Vec<_>>().join("."))})
    } else {
        json!({"id": id, "ip": ip, "blocked": false, "dns_ptr": []})
    }
}

fn random_password() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

pub fn create(store: &mut Store, body: &Value) -> ApiResult<Reply> {
    let name = body::req_str(body, "name")?;
    body::hostname(name)?;
    let st_ref = body
        .get("server_type")
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .ok_or_else(|| {
            ApiError::invalid_input("server_type", "Missing data for required field.")
        })?;
    let st = catalog::find_server_type(&st_ref).ok_or_else(|| {
        ApiError::invalid_input("server_type", format!("server type '{st_ref}' not found"))
    })?;
    let image_ref = body
        .get("image")
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .ok_or_else(|| ApiError::invalid_input("image", "Missing data for required field."))?;
    let image = catalog::find_image(&image_ref, st.architecture).ok_or_else(|| {
        ApiError::invalid_input("image", format!("image '{image_ref}' not found"))
    })?;
    let loc_ref = body::opt_str(body, "location")?
        .or(body::opt_str(body, "datacenter")?)
        .map(str::to_string)
        .or_else(|| {
            body.get("location")
                .filter(|v| v.is_number())
                .map(|v| v.to_string())
        });
    let loc = match loc_ref {
        Some(r) => catalog::find_location(&r).ok_or_else(|| {
            ApiError::invalid_input("location", format!("location '{r}' not found"))
        })?,
        None => &catalog::LOCATIONS[0],
    };
    let labels = body::labels(body)?;
    if store.name_taken(Kind::Server, name, None) {
        return Err(ApiError::uniqueness("name"));
    }
    let ssh_keys: Vec<i64> = body::opt_array(body, "ssh_keys")?
        .iter()
        .map(|k| store.resolve(Kind::SshKey, k, "ssh_keys"))
        .collect::<ApiResult<_>>()?;
    let mut networks: Vec<i64> = body::opt_array(body, "networks")?
        .iter()
        .map(|n| store.resolve(Kind::Network, n, "networks"))
        .collect::<ApiResult<_>>()?;
    networks.dedup();
    let firewalls: Vec<i64> = body::opt_array(body, "firewalls")?
        .iter()
        .map(|f| store.resolve(Kind::Firewall, f.get("firewall").unwrap_or(f), "firewalls"))
        .collect::<ApiResult<_>>()?;
    let volumes: Vec<i64> = body::opt_array(body, "volumes")?
        .iter()
        .map(|v| store.resolve(Kind::Volume, v, "volumes"))
        .collect::<ApiResult<_>>()?;
    let public = body.get("public_net").cloned().unwrap_or(json!({}));
    let enable_v4 = body::opt_bool(&public, "enable_ipv4", true)?;
    let enable_v6 = body::opt_bool(&public, "enable_ipv6", true)?;
    let given_v4 = body::opt_i64(&public, "ipv4")?;
    let given_v6 = body::opt_i64(&public, "ipv6")?;
    for (given, family) in [(given_v4, "ipv4"), (given_v6, "ipv6")] {
        if let Some(pid) = given {
            let p = store.raw(Kind::PrimaryIp, pid).map_err(|_| {
                ApiError::invalid_input("public_net", format!("primary IP {pid} not found"))
            })?;
            if !p["assignee_id"].is_null() || p["type"].as_str() != Some(family) {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "primary_ip_assigned",
                    format!("primary IP {pid} is already assigned or of the wrong type"),
                ));
            }
        }
    }
    let mut private_net = Vec::new();
    let id = store.alloc_id();
    for n in &networks {
        let ip = alloc_private_ip(store, *n, None, loc.network_zone)?;
        private_net.push(json!({"network": n, "ip": ip, "alias_ips": [], "mac_address": format!("86:00:00:{:02x}:{:02x}:{:02x}", (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff)}));
    }
    let mut public_net = json!({"ipv4": null, "ipv6": null, "floating_ips": [], "firewalls": []});
    for (given, enabled, family) in [(given_v4, enable_v4, "ipv4"), (given_v6, enable_v6, "ipv6")] {
        if let Some(pid) = given {
            let p = store.raw_mut(Kind::PrimaryIp, pid)?;
            p["assignee_id"] = json!(id);
            let ip = p["ip"].as_str().unwrap_or_default().to_string();
            public_net[family] = server_ip_entry(family, pid, &ip);
        } else if enabled {
            public_net[family] = auto_primary_ip(store, family, id, loc);
        }
    }
    let start = body::opt_bool(body, "start_after_create", true)?;
    let server = json!({
        "id": id,
        "name": name,
        "status": "initializing",
        "created": store.now_string(),
        "public_net": public_net,
        "private_net": private_net,
        "server_type": catalog::server_type_json(st),
        "datacenter": catalog::datacenter_json(loc),
        "location": catalog::location_json(loc),
        "image": catalog::image_json(image),
        "iso": null,
        "rescue_enabled": false,
        "locked": false,
        "backup_window": null,
        "outgoing_traffic": 0,
        "ingoing_traffic": 0,
        "included_traffic": 21_990_232_555_520i64,
        "protection": {"delete": false, "rebuild": false},
        "labels": labels,
        "volumes": [],
        "load_balancers": [],
        "primary_disk_size": st.disk,
        "placement_group": null,
    });
    store.insert(Kind::Server, id, server);
    for fw in firewalls {
        if let Some(list) = store.raw_mut(Kind::Firewall, fw)?["applied_to"].as_array_mut() {
            list.push(json!({"type": "server", "server": {"id": id}}));
        }
    }
    for v in &volumes {
        store.raw_mut(Kind::Volume, *v)?["server"] = json!(id);
    }
    let d = store.settings.action_duration;
    let res = [(id, Kind::Server)];
    let final_status = if start { "running" } else { "off" };
    let action = store.start_action(
        "create_server",
        &res,
        d * 4,
        vec![(Kind::Server, id, "/status", json!(final_status))],
    );
    let mut next_actions = Vec::new();
    if start {
        next_actions.push(store.start_action("start_server", &res, d * 4, vec![]));
    }
    for n in networks {
        next_actions.push(store.start_action(
            "attach_to_network",
            &[(id, Kind::Server), (n, Kind::Network)],
            d * 4,
            vec![],
        ));
    }
    let root_password = if ssh_keys.is_empty() {
        json!(random_password())
    } else {
        Value::Null
    };
    created(json!({
        "server": store.render(Kind::Server, id)?,
        "action": action,
        "next_actions": next_actions,
        "root_password": root_password,
    }))
}

pub fn delete(store: &mut Store, id: i64) -> ApiResult<Reply> {
    let server = store.raw(Kind::Server, id)?.clone();
    if server["protection"]["delete"] == true {
        return Err(ApiError::protected("server"));
    }
    let action = store.start_action(
        "delete_server",
        &[(id, Kind::Server)],
        store.settings.action_duration,
        vec![],
    );
    store.mark_deleted(Kind::Server, id)?;
    for family in ["ipv4", "ipv6"] {
        if let Some(pid) = server["public_net"][family]["id"].as_i64()
            && store
                .raw(Kind::PrimaryIp, pid)
                .is_ok_and(|p| p["auto_delete"] == true)
        {
            store.mark_deleted(Kind::PrimaryIp, pid)?;
        }
    }
    Ok((axum::http::StatusCode::OK, json!({ "action": action })))
}

fn power(store: &mut Store, id: i64, command: &str, status: &str) -> ApiResult<Reply> {
    let d = store.settings.action_duration;
    action_reply(store.start_action(
        command,
        &[(id, Kind::Server)],
        d,
        vec![(Kind::Server, id, "/status", json!(status))],
    ))
}

pub fn action(store: &mut Store, id: i64, name: &str, body: &Value) -> ApiResult<Reply> {
    let server = store.raw(Kind::Server, id)?.clone();
    let d = store.settings.action_duration;
    let res = [(id, Kind::Server)];
    match name {
        "poweron" => power(store, id, "start_server", "running"),
        "poweroff" => power(store, id, "stop_server", "off"),
        "shutdown" => power(store, id, "shutdown_server", "off"),
        "reboot" => power(store, id, "reboot_server", "running"),
        "reset" => power(store, id, "reset_server", "running"),
        "attach_to_network" => {
            let net = store.resolve(
                Kind::Network,
                body.get("network").unwrap_or(&Value::Null),
                "network",
            )?;
            if server["private_net"]
                .as_array()
                .is_some_and(|l| l.iter().any(|p| p["network"].as_i64() == Some(net)))
            {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "server_already_attached",
                    "server is already attached to this network",
                ));
            }
            let zone = server["location"]["network_zone"]
                .as_str()
                .unwrap_or("eu-central")
                .to_string();
            let ip = alloc_private_ip(store, net, body::opt_str(body, "ip")?, &zone)?;
            let alias: Vec<Value> = body::opt_array(body, "alias_ips")?.to_vec();
            if let Some(list) = store.raw_mut(Kind::Server, id)?["private_net"].as_array_mut() {
                list.push(json!({"network": net, "ip": ip, "alias_ips": alias, "mac_address": format!("86:00:00:00:{:02x}:{:02x}", (net >> 8) & 0xff, net & 0xff)}));
            }
            action_reply(store.start_action(
                "attach_to_network",
                &[(id, Kind::Server), (net, Kind::Network)],
                d,
                vec![],
            ))
        }
        "detach_from_network" => {
            let net = store.resolve(
                Kind::Network,
                body.get("network").unwrap_or(&Value::Null),
                "network",
            )?;
            if let Some(list) = store.raw_mut(Kind::Server, id)?["private_net"].as_array_mut() {
                let before = list.len();
                list.retain(|p| p["network"].as_i64() != Some(net));
                if before == list.len() {
                    return Err(ApiError::new(
                        axum::http::StatusCode::CONFLICT,
                        "server_not_attached",
                        "server is not attached to this network",
                    ));
                }
            }
            action_reply(store.start_action(
                "detach_from_network",
                &[(id, Kind::Server), (net, Kind::Network)],
                d,
                vec![],
            ))
        }
        "change_type" => {
            let key = body::req_str(body, "server_type")?;
            let st = catalog::find_server_type(key).ok_or_else(|| {
                ApiError::invalid_input("server_type", format!("server type '{key}' not found"))
            })?;
            if server["status"] != "off" {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "server_not_stopped",
                    "server must be stopped to change its type",
                ));
            }
            action_reply(store.start_action(
                "change_server_type",
                &res,
                d * 2,
                vec![(
                    Kind::Server,
                    id,
                    "/server_type",
                    catalog::server_type_json(st),
                )],
            ))
        }
        "rebuild" => {
            let key = body::req_str(body, "image")?;
            let arch = server["server_type"]["architecture"]
                .as_str()
                .unwrap_or("x86");
            let image = catalog::find_image(key, arch).ok_or_else(|| {
                ApiError::invalid_input("image", format!("image '{key}' not found"))
            })?;
            store.raw_mut(Kind::Server, id)?["image"] = catalog::image_json(image);
            let action = store.start_action("rebuild_server", &res, d * 2, vec![]);
            created(json!({"action": action, "root_password": random_password()}))
        }
        "enable_rescue" => {
            store.raw_mut(Kind::Server, id)?["rescue_enabled"] = json!(true);
            let action = store.start_action("enable_rescue", &res, d, vec![]);
            created(json!({"action": action, "root_password": random_password()}))
        }
        "disable_rescue" => {
            store.raw_mut(Kind::Server, id)?["rescue_enabled"] = json!(false);
            action_reply(store.start_action("disable_rescue", &res, d, vec![]))
        }
        "enable_backup" => {
            store.raw_mut(Kind::Server, id)?["backup_window"] = json!("22-02");
            action_reply(store.start_action("enable_backup", &res, d, vec![]))
        }
        "disable_backup" => {
            store.raw_mut(Kind::Server, id)?["backup_window"] = Value::Null;
            action_reply(store.start_action("disable_backup", &res, d, vec![]))
        }
        "change_dns_ptr" => {
            let ip = body::req_str(body, "ip")?.to_string();
            let ptr = body.get("dns_ptr").cloned().unwrap_or(Value::Null);
            let s = store.raw_mut(Kind::Server, id)?;
            if s["public_net"]["ipv4"]["ip"].as_str() == Some(&ip) {
                s["public_net"]["ipv4"]["dns_ptr"] = ptr;
            }
            action_reply(store.start_action("change_dns_ptr", &res, d, vec![]))
        }
        _ => Err(ApiError::route_not_found()),
    }
}
