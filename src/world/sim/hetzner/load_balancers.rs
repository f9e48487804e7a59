//! Load balancers: targets (server, label selector, IP), services, networks, algorithm, type.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::body::{self, Reply, action_reply, created, no_content};
use super::catalog;
use super::error::{ApiError, ApiResult};
use super::labels::LabelSelector;
use super::networks::alloc_private_ip;
use super::store::{Kind, Store};

fn port(v: &Value, field: &str) -> ApiResult<Option<i64>> {
    match body::opt_i64(v, field)? {
        Some(p) if !(1..=65535).contains(&p) => Err(ApiError::invalid_input(
            field,
            "must be between 1 and 65535",
        )),
        other => Ok(other),
    }
}

fn service(v: &Value) -> ApiResult<Value> {
    let protocol = body::req_str(v, "protocol")?;
    let default_port = match protocol {
        "http" => Some(80),
        "https" => Some(443),
        "tcp" => None,
        _ => {
            return Err(ApiError::invalid_input(
                "protocol",
                "must be tcp, http or https",
            ));
        }
    };
    let listen = port(v, "listen_port")?
        .or(default_port)
        .ok_or_else(|| ApiError::invalid_input("listen_port", "required for tcp"))?;
    let dest = port(v, "destination_port")?
        .or(if protocol == "tcp" { None } else { Some(80) })
        .ok_or_else(|| ApiError::invalid_input("destination_port", "required for tcp"))?;
    let hc = v.get("health_check").cloned().unwrap_or(json!({}));
    let hc_protocol = body::opt_str(&hc, "protocol")?.unwrap_or("tcp");
    let health_check = json!({
        "protocol": hc_protocol,
        "port": port(&hc, "port")?.unwrap_or(dest),
        "interval": body::opt_i64(&hc, "interval")?.unwrap_or(15),
        "timeout": body::opt_i64(&hc, "timeout")?.unwrap_or(10),
        "retries": body::opt_i64(&hc, "retries")?.unwrap_or(3),
        "http": if hc_protocol == "http" {
            let h = hc.get("http").cloned().unwrap_or(json!({}));
            json!({
                "domain": h.get("domain").cloned().unwrap_or(Value::Null),
                "path": body::opt_str(&h, "path")?.unwrap_or("/"),
                "response": h.get("response").cloned().unwrap_or(json!("")),
                "status_codes": h.get("status_codes").cloned().unwrap_or(json!(["2??", "3??"])),
                "tls": body::opt_bool(&h, "tls", false)?,
            })
        } else { Value::Null },
    });
    let mut svc = json!({
        "protocol": protocol,
        "listen_port": listen,
        "destination_port": dest,
        "proxyprotocol": body::opt_bool(v, "proxyprotocol", false)?,
        "health_check": health_check,
    });
    if protocol != "tcp" {
        let h = v.get("http").cloned().unwrap_or(json!({}));
        svc["http"] = json!({
            "cookie_name": body::opt_str(&h, "cookie_name")?.unwrap_or("HCLBSTICKY"),
            "cookie_lifetime": body::opt_i64(&h, "cookie_lifetime")?.unwrap_or(300),
            "certificates": h.get("certificates").cloned().unwrap_or(json!([])),
            "redirect_http": body::opt_bool(&h, "redirect_http", false)?,
            "sticky_sessions": body::opt_bool(&h, "sticky_sessions", false)?,
        });
    }
    Ok(svc)
}

fn target(store: &Store, v: &Value) -> ApiResult<Value> {
    let use_private = body::opt_bool(v, "use_private_ip", false)?;
    match body::req_str(v, "type")? {
        "server" => {
            let id = store.resolve(Kind::Server, &v["server"], "server")?;
            Ok(json!({"type": "server", "server": {"id": id}, "use_private_ip": use_private}))
        }
        "label_selector" => {
            let sel = body::req_str(&v["label_selector"], "selector")?;
            LabelSelector::parse(sel).map_err(|e| ApiError::invalid_input("label_selector", e))?;
            Ok(
                json!({"type": "label_selector", "label_selector": {"selector": sel}, "use_private_ip": use_private, "targets": []}),
            )
        }
        "ip" => {
            let ip = body::req_str(&v["ip"], "ip")?;
            ip.parse::<std::net::IpAddr>()
                .map_err(|_| ApiError::invalid_input("ip", "not an IP address"))?;
            Ok(json!({"type": "ip", "ip": {"ip": ip}}))
        }
        other => Err(ApiError::invalid_input(
            "type",
            format!("unknown target type '{other}'"),
        )),
    }
}

fn same_target(a: &Value, b: &Value) -> bool {
    a["type"] == b["type"]
        && a["server"] == b["server"]
        && a["label_selector"] == b["label_selector"]
        && a["ip"] == b["ip"]
}

pub fn create(store: &mut Store, body: &Value) -> ApiResult<Reply> {
    let name = body::req_str(body, "name")?;
    let type_ref = body
        .get("load_balancer_type")
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .ok_or_else(|| {
            ApiError::invalid_input("load_balancer_type", "Missing data for required field.")
        })?;
    let lbt = catalog::find_load_balancer_type(&type_ref).ok_or_else(|| {
        ApiError::invalid_input("load_balancer_type", format!("'{type_ref}' not found"))
    })?;
    let loc = match (
        body::opt_str(body, "location")?,
        body::opt_str(body, "network_zone")?,
    ) {
        (Some(l), _) => catalog::find_location(l)
            .ok_or_else(|| ApiError::invalid_input("location", format!("'{l}' not found")))?,
        (None, Some(z)) => catalog::LOCATIONS
            .iter()
            .find(|l| l.network_zone == z)
            .ok_or_else(|| ApiError::invalid_input("network_zone", format!("'{z}' not found")))?,
        (None, None) => {
            return Err(ApiError::invalid_input(
                "location",
                "location or network_zone is required",
            ));
        }
    };
    let algorithm = body
        .get("algorithm")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("round_robin");
    if !matches!(algorithm, "round_robin" | "least_connections") {
        return Err(ApiError::invalid_input("algorithm", "unknown algorithm"));
    }
    let labels = body::labels(body)?;
    if store.name_taken(Kind::LoadBalancer, name, None) {
        return Err(ApiError::uniqueness("name"));
    }
    let mut services: Vec<Value> = Vec::new();
    for s in body::opt_array(body, "services")? {
        let svc = service(s)?;
        if services
            .iter()
            .any(|o| o["listen_port"] == svc["listen_port"])
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "source_port_already_used",
                "listen_port is already used by another service",
            ));
        }
        services.push(svc);
    }
    let targets: Vec<Value> = body::opt_array(body, "targets")?
        .iter()
        .map(|t| target(store, t))
        .collect::<ApiResult<_>>()?;
    let mut private_net = Vec::new();
    if let Some(n) = body.get("network").filter(|v| !v.is_null()) {
        let net = store.resolve(Kind::Network, n, "network")?;
        let ip = alloc_private_ip(store, net, None, loc.network_zone)?;
        private_net.push(json!({"network": net, "ip": ip}));
    }
    let public = body::opt_bool(body, "public_interface", true)?;
    let id = store.alloc_id();
    let (v4, v6) = store.alloc_public_ip();
    let v6 = v6.replace("::/64", "::1");
    let lb = json!({
        "id": id,
        "name": name,
        "public_net": {
            "enabled": public,
            "ipv4": {"ip": v4, "dns_ptr": format!("static.{v4}.clients.your-server.de")},
            "ipv6": {"ip": v6, "dns_ptr": null},
        },
        "private_net": private_net,
        "location": catalog::location_json(loc),
        "load_balancer_type": catalog::load_balancer_type_json(lbt),
        "protection": {"delete": false},
        "labels": labels,
        "targets": targets,
        "services": services,
        "algorithm": {"type": algorithm},
        "outgoing_traffic": null,
        "ingoing_traffic": null,
        "included_traffic": 21_990_232_555_520i64,
        "created": store.now_string(),
    });
    store.insert(Kind::LoadBalancer, id, lb);
    let d = store.settings.action_duration;
    let action = store.start_action(
        "create_load_balancer",
        &[(id, Kind::LoadBalancer)],
        d * 2,
        vec![],
    );
    created(json!({"load_balancer": store.render(Kind::LoadBalancer, id)?, "action": action}))
}

pub fn delete(store: &mut Store, id: i64) -> ApiResult<Reply> {
    if store.raw(Kind::LoadBalancer, id)?["protection"]["delete"] == true {
        return Err(ApiError::protected("load balancer"));
    }
    store.mark_deleted(Kind::LoadBalancer, id)?;
    no_content()
}

pub fn action(store: &mut Store, id: i64, name: &str, body: &Value) -> ApiResult<Reply> {
    let lb = store.raw(Kind::LoadBalancer, id)?.clone();
    let d = store.settings.action_duration;
    let res = [(id, Kind::LoadBalancer)];
    match name {
        "add_target" => {
            let t = target(store, body)?;
            let targets = lb["targets"].as_array().cloned().unwrap_or_default();
            if targets.iter().any(|o| same_target(o, &t)) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "target_already_defined",
                    "target is already defined",
                ));
            }
            if t["use_private_ip"] == true
                && lb["private_net"].as_array().is_none_or(|l| l.is_empty())
            {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "load_balancer_not_attached_to_network",
                    "load balancer is not attached to a network",
                ));
            }
            let max = lb["load_balancer_type"]["max_targets"]
                .as_u64()
                .unwrap_or(25) as usize;
            if targets.len() >= max {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "resource_limit_exceeded",
                    "target limit of the load balancer type reached",
                ));
            }
            if let Some(list) = store.raw_mut(Kind::LoadBalancer, id)?["targets"].as_array_mut() {
                list.push(t);
            }
            action_reply(store.start_action("add_target", &res, d, vec![]))
        }
        "remove_target" => {
            let t = target(store, body)?;
            let list = store.raw_mut(Kind::LoadBalancer, id)?["targets"]
                .as_array_mut()
                .ok_or_else(|| ApiError::invalid_input("targets", "no targets"))?;
            let before = list.len();
            list.retain(|o| !same_target(o, &t));
            if before == list.len() {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "target not found",
                ));
            }
            action_reply(store.start_action("remove_target", &res, d, vec![]))
        }
        "add_service" => {
            let svc = service(body)?;
            let services = lb["services"].as_array().cloned().unwrap_or_default();
            if services
                .iter()
                .any(|o| o["listen_port"] == svc["listen_port"])
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "source_port_already_used",
                    "listen_port is already used by another service",
                ));
            }
            let max = lb["load_balancer_type"]["max_services"]
                .as_u64()
                .unwrap_or(5) as usize;
            if services.len() >= max {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "resource_limit_exceeded",
                    "service limit of the load balancer type reached",
                ));
            }
            if let Some(list) = store.raw_mut(Kind::LoadBalancer, id)?["services"].as_array_mut() {
                list.push(svc);
            }
            action_reply(store.start_action("add_service", &res, d, vec![]))
        }
        "update_service" => {
            let listen = port(body, "listen_port")?.ok_or_else(|| {
                ApiError::invalid_input("listen_port", "Missing data for required field.")
            })?;
            let list = store.raw_mut(Kind::LoadBalancer, id)?["services"]
                .as_array_mut()
                .ok_or_else(|| ApiError::invalid_input("services", "no services"))?;
            let svc = list
                .iter_mut()
                .find(|s| s["listen_port"] == listen)
                .ok_or_else(|| {
                    ApiError::new(StatusCode::NOT_FOUND, "not_found", "service not found")
                })?;
            let mut merged = svc.clone();
            if let (Some(m), Some(b)) = (merged.as_object_mut(), body.as_object()) {
                for (k, v) in b {
                    m.insert(k.clone(), v.clone());
                }
            }
            *svc = service(&merged)?;
            action_reply(store.start_action("update_service", &res, d, vec![]))
        }
        "delete_service" => {
            let listen = port(body, "listen_port")?.ok_or_else(|| {
                ApiError::invalid_input("listen_port", "Missing data for required field.")
            })?;
            let list = store.raw_mut(Kind::LoadBalancer, id)?["services"]
                .as_array_mut()
                .ok_or_else(|| ApiError::invalid_input("services", "no services"))?;
            let before = list.len();
            list.retain(|s| s["listen_port"] != listen);
            if before == list.len() {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "service not found",
                ));
            }
            action_reply(store.start_action("delete_service", &res, d, vec![]))
        }
        "attach_to_network" => {
            let net = store.resolve(
                Kind::Network,
                body.get("network").unwrap_or(&Value::Null),
                "network",
            )?;
            if lb["private_net"]
                .as_array()
                .is_some_and(|l| l.iter().any(|p| p["network"].as_i64() == Some(net)))
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "load_balancer_already_attached",
                    "load balancer is already attached to this network",
                ));
            }
            let zone = lb["location"]["network_zone"]
                .as_str()
                .unwrap_or("eu-central")
                .to_string();
            let ip = alloc_private_ip(store, net, body::opt_str(body, "ip")?, &zone)?;
            if let Some(list) = store.raw_mut(Kind::LoadBalancer, id)?["private_net"].as_array_mut()
            {
                list.push(json!({"network": net, "ip": ip}));
            }
            action_reply(store.start_action(
                "attach_to_network",
                &[(id, Kind::LoadBalancer), (net, Kind::Network)],
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
            if let Some(list) = store.raw_mut(Kind::LoadBalancer, id)?["private_net"].as_array_mut()
            {
                list.retain(|p| p["network"].as_i64() != Some(net));
            }
            action_reply(store.start_action(
                "detach_from_network",
                &[(id, Kind::LoadBalancer), (net, Kind::Network)],
                d,
                vec![],
            ))
        }
        "change_algorithm" => {
            let t = body::req_str(body, "type")?;
            if !matches!(t, "round_robin" | "least_connections") {
                return Err(ApiError::invalid_input("type", "unknown algorithm"));
            }
            store.raw_mut(Kind::LoadBalancer, id)?["algorithm"] = json!({"type": t});
            action_reply(store.start_action("change_algorithm", &res, d, vec![]))
        }
        "change_type" => {
            let key = body::req_str(body, "load_balancer_type")?;
            let t = catalog::find_load_balancer_type(key).ok_or_else(|| {
                ApiError::invalid_input("load_balancer_type", format!("'{key}' not found"))
            })?;
            store.raw_mut(Kind::LoadBalancer, id)?["load_balancer_type"] =
                catalog::load_balancer_type_json(t);
            action_reply(store.start_action("change_load_balancer_type", &res, d, vec![]))
        }
        "enable_public_interface" | "disable_public_interface" => {
            let on = name == "enable_public_interface";
            store.raw_mut(Kind::LoadBalancer, id)?["public_net"]["enabled"] = json!(on);
            action_reply(store.start_action(name, &res, d, vec![]))
        }
        "change_dns_ptr" => {
            let ip = body::req_str(body, "ip")?.to_string();
            let ptr = body.get("dns_ptr").cloned().unwrap_or(Value::Null);
            let lbm = store.raw_mut(Kind::LoadBalancer, id)?;
            for fam in ["ipv4", "ipv6"] {
                if lbm["public_net"][fam]["ip"].as_str() == Some(&ip) {
                    lbm["public_net"][fam]["dns_ptr"] = ptr.clone();
                }
            }
            action_reply(store.start_action("change_dns_ptr", &res, d, vec![]))
        }
        _ => Err(ApiError::route_not_found()),
    }
}
