//! Networks with subnets and routes, and private IP allocation for servers and load balancers.

use serde_json::{Value, json};

use super::body::{self, Cidr, Reply, action_reply, created, no_content};
use super::error::{ApiError, ApiResult};
use super::store::{Kind, Store};

fn subnet_json(net: Cidr, body: &Value, existing: &[Value]) -> ApiResult<Value> {
    let kind = body::opt_str(body, "type")?.unwrap_or("cloud");
    if !matches!(kind, "cloud" | "server" | "vswitch") {
        return Err(ApiError::invalid_input(
            "type",
            "must be cloud, server or vswitch",
        ));
    }
    let zone = body::req_str(body, "network_zone")?;
    if !matches!(zone, "eu-central" | "us-east" | "us-west" | "ap-southeast") {
        return Err(ApiError::invalid_input(
            "network_zone",
            "unknown network zone",
        ));
    }
    let taken: Vec<Cidr> = existing
        .iter()
        .filter_map(|s| s["ip_range"].as_str())
        .filter_map(|s| Cidr::parse(s, "ip_range").ok())
        .collect();
    let range = match body::opt_str(body, "ip_range")? {
        Some(r) => {
            let c = Cidr::parse(r, "ip_range")?;
            if !net.contains(c) {
                return Err(ApiError::invalid_input(
                    "ip_range",
                    "subnet is not inside the network",
                ));
            }
            if taken.iter().any(|t| t.overlaps(c)) {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "ip_range_already_in_use",
                    "ip_range overlaps an existing subnet",
                ));
            }
            c
        }
        None => (0..256u32)
            .map(|i| Cidr {
                base: net.base.wrapping_add(i << 8),
                prefix: 24.max(net.prefix),
            })
            .find(|c| net.contains(*c) && !taken.iter().any(|t| t.overlaps(*c)))
            .ok_or_else(|| ApiError::invalid_input("ip_range", "network has no free /24"))?,
    };
    Ok(json!({
        "type": kind,
        "ip_range": range.to_string(),
        "network_zone": zone,
        "gateway": net.host(1),
        "vswitch_id": body.get("vswitch_id").cloned().unwrap_or(Value::Null),
    }))
}

pub fn create(store: &mut Store, body: &Value) -> ApiResult<Reply> {
    let name = body::req_str(body, "name")?;
    let range = Cidr::parse(body::req_str(body, "ip_range")?, "ip_range")?;
    let labels = body::labels(body)?;
    if store.name_taken(Kind::Network, name, None) {
        return Err(ApiError::uniqueness("name"));
    }
    let mut subnets: Vec<Value> = Vec::new();
    for s in body::opt_array(body, "subnets")? {
        let sub = subnet_json(range, s, &subnets)?;
        subnets.push(sub);
    }
    let mut routes = Vec::new();
    for r in body::opt_array(body, "routes")? {
        routes.push(json!({
            "destination": body::req_str(r, "destination")?,
            "gateway": body::req_str(r, "gateway")?,
        }));
    }
    let id = store.alloc_id();
    let net = json!({
        "id": id,
        "name": name,
        "ip_range": range.to_string(),
        "subnets": subnets,
        "routes": routes,
        "servers": [],
        "load_balancers": [],
        "protection": {"delete": false},
        "labels": labels,
        "created": store.now_string(),
        "expose_routes_to_vswitch": body::opt_bool(body, "expose_routes_to_vswitch", false)?,
    });
    store.insert(Kind::Network, id, net);
    created(json!({ "network": store.render(Kind::Network, id)? }))
}

pub fn delete(store: &mut Store, id: i64) -> ApiResult<Reply> {
    store.mark_deleted(Kind::Network, id)?;
    no_content()
}

pub fn action(store: &mut Store, id: i64, name: &str, body: &Value) -> ApiResult<Reply> {
    let net = store.raw(Kind::Network, id)?.clone();
    let range = Cidr::parse(net["ip_range"].as_str().unwrap_or_default(), "ip_range")?;
    let d = store.settings.action_duration;
    let res = [(id, Kind::Network)];
    match name {
        "add_subnet" => {
            let existing = net["subnets"].as_array().cloned().unwrap_or_default();
            let sub = subnet_json(range, body, &existing)?;
            if let Some(list) = store.raw_mut(Kind::Network, id)?["subnets"].as_array_mut() {
                list.push(sub);
            }
            action_reply(store.start_action("add_subnet", &res, d, vec![]))
        }
        "delete_subnet" => {
            let r = body::req_str(body, "ip_range")?;
            let sub = Cidr::parse(r, "ip_range")?;
            let in_use = [Kind::Server, Kind::LoadBalancer].iter().any(|k| {
                store.records(*k).any(|o| {
                    o.json["private_net"].as_array().is_some_and(|l| {
                        l.iter().any(|p| {
                            p["network"].as_i64() == Some(id)
                                && p["ip"]
                                    .as_str()
                                    .and_then(|ip| body::parse_ipv4(ip, "ip").ok())
                                    .is_some_and(|ip| sub.contains_ip(ip))
                        })
                    })
                })
            });
            if in_use {
                return Err(ApiError::resource_in_use(
                    "subnet still has attached resources",
                ));
            }
            let list = store.raw_mut(Kind::Network, id)?["subnets"]
                .as_array_mut()
                .ok_or_else(|| ApiError::invalid_input("ip_range", "no subnets"))?;
            let before = list.len();
            list.retain(|s| s["ip_range"].as_str() != Some(&sub.to_string()));
            if list.len() == before {
                return Err(ApiError::invalid_input("ip_range", "no such subnet"));
            }
            action_reply(store.start_action("delete_subnet", &res, d, vec![]))
        }
        "add_route" => {
            let route = json!({
                "destination": body::req_str(body, "destination")?,
                "gateway": body::req_str(body, "gateway")?,
            });
            if let Some(list) = store.raw_mut(Kind::Network, id)?["routes"].as_array_mut() {
                list.push(route);
            }
            action_reply(store.start_action("add_route", &res, d, vec![]))
        }
        "delete_route" => {
            let dest = body::req_str(body, "destination")?.to_string();
            if let Some(list) = store.raw_mut(Kind::Network, id)?["routes"].as_array_mut() {
                list.retain(|r| r["destination"].as_str() != Some(&dest));
            }
            action_reply(store.start_action("delete_route", &res, d, vec![]))
        }
        "change_ip_range" => {
            let new = Cidr::parse(body::req_str(body, "ip_range")?, "ip_range")?;
            if !new.contains(range) {
                return Err(ApiError::invalid_input("ip_range", "may only be extended"));
            }
            store.raw_mut(Kind::Network, id)?["ip_range"] = json!(new.to_string());
            action_reply(store.start_action("change_ip_range", &res, d, vec![]))
        }
        _ => Err(ApiError::route_not_found()),
    }
}

fn used_ips(store: &Store, network: i64) -> Vec<String> {
    let mut used = Vec::new();
    for k in [Kind::Server, Kind::LoadBalancer] {
        for o in store.records(k) {
            for p in o.json["private_net"].as_array().into_iter().flatten() {
                if p["network"].as_i64() == Some(network) {
                    used.extend(p["ip"].as_str().map(str::to_string));
                    for a in p["alias_ips"].as_array().into_iter().flatten() {
                        used.extend(a.as_str().map(str::to_string));
                    }
                }
            }
        }
    }
    used
}

/// Pick (or check) a private IP for a resource joining `network` from `zone`.
pub fn alloc_private_ip(
    store: &Store,
    network: i64,
    requested: Option<&str>,
    zone: &str,
) -> ApiResult<String> {
    let net = store.raw(Kind::Network, network)?;
    let subnets: Vec<Cidr> = net["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["network_zone"].as_str() == Some(zone))
        .filter_map(|s| s["ip_range"].as_str())
        .filter_map(|s| Cidr::parse(s, "ip_range").ok())
        .collect();
    if subnets.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "no_subnet_available",
            format!("network {network} has no subnet in network zone {zone}"),
        ));
    }
    let used = used_ips(store, network);
    if let Some(ip) = requested {
        let n = body::parse_ipv4(ip, "ip")?;
        if !subnets.iter().any(|s| s.contains_ip(n)) {
            return Err(ApiError::invalid_input(
                "ip",
                "IP is not inside a subnet of the network",
            ));
        }
        if used.iter().any(|u| u == ip) {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "ip_not_available",
                format!("IP {ip} is already in use"),
            ));
        }
        return Ok(ip.to_string());
    }
    for s in subnets {
        let hosts = s.size().saturating_sub(1).min(u32::MAX as u64) as u32;
        for n in 2..hosts {
            let ip = s.host(n);
            if !used.contains(&ip) {
                return Ok(ip);
            }
        }
    }
    Err(ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "ip_not_available",
        "no free IP left in the network",
    ))
}
