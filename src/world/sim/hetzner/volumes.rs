//! Volumes: created in a location or next to a server, attach/detach/resize.

use serde_json::{Value, json};

use super::body::{self, Reply, action_reply, created, no_content};
use super::catalog;
use super::error::{ApiError, ApiResult};
use super::store::{Kind, Store};

pub fn create(store: &mut Store, body: &Value) -> ApiResult<Reply> {
    let name = body::req_str(body, "name")?;
    let size = body::req_i64(body, "size")?;
    if !(10..=10240).contains(&size) {
        return Err(ApiError::invalid_input(
            "size",
            "must be between 10 and 10240 GB",
        ));
    }
    let labels = body::labels(body)?;
    let server = match body.get("server").filter(|v| !v.is_null()) {
        Some(v) => Some(store.resolve(Kind::Server, v, "server")?),
        None => None,
    };
    let loc = match (server, body.get("location").filter(|v| !v.is_null())) {
        (Some(s), _) => {
            let n = store.raw(Kind::Server, s)?["location"]["name"]
                .as_str()
                .unwrap_or("fsn1")
                .to_string();
            catalog::find_location(&n).unwrap_or(&catalog::LOCATIONS[0])
        }
        (None, Some(l)) => {
            let key = l
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| l.to_string());
            catalog::find_location(&key)
                .ok_or_else(|| ApiError::invalid_input("location", format!("'{key}' not found")))?
        }
        (None, None) => {
            return Err(ApiError::invalid_input(
                "location",
                "location or server is required",
            ));
        }
    };
    let format = body::opt_str(body, "format")?;
    if format.is_some_and(|f| !matches!(f, "ext4" | "xfs")) {
        return Err(ApiError::invalid_input("format", "must be ext4 or xfs"));
    }
    if store.name_taken(Kind::Volume, name, None) {
        return Err(ApiError::uniqueness("name"));
    }
    let id = store.alloc_id();
    store.insert(
        Kind::Volume,
        id,
        json!({
            "id": id,
            "name": name,
            "server": server,
            "location": catalog::location_json(loc),
            "size": size,
            "linux_device": format!("/dev/disk/by-id/scsi-0HC_Volume_{id}"),
            "protection": {"delete": false},
            "labels": labels,
            "status": "creating",
            "format": format,
            "created": store.now_string(),
        }),
    );
    let d = store.settings.action_duration;
    let action = store.start_action(
        "create_volume",
        &[(id, Kind::Volume)],
        d,
        vec![(Kind::Volume, id, "/status", json!("available"))],
    );
    let mut next_actions = Vec::new();
    if let Some(s) = server {
        next_actions.push(store.start_action(
            "attach_volume",
            &[(id, Kind::Volume), (s, Kind::Server)],
            d,
            vec![],
        ));
    }
    created(json!({
        "volume": store.render(Kind::Volume, id)?,
        "action": action,
        "next_actions": next_actions,
    }))
}

pub fn delete(store: &mut Store, id: i64) -> ApiResult<Reply> {
    let v = store.raw(Kind::Volume, id)?;
    if v["protection"]["delete"] == true {
        return Err(ApiError::protected("volume"));
    }
    if v["server"]
        .as_i64()
        .is_some_and(|s| !store.is_deleting(Kind::Server, s))
    {
        return Err(ApiError::new(
            axum::http::StatusCode::LOCKED,
            "locked",
            "volume is attached to a server; detach it first",
        ));
    }
    store.mark_deleted(Kind::Volume, id)?;
    no_content()
}

pub fn action(store: &mut Store, id: i64, name: &str, body: &Value) -> ApiResult<Reply> {
    let vol = store.raw(Kind::Volume, id)?.clone();
    let d = store.settings.action_duration;
    match name {
        "attach" => {
            let server = store.resolve(
                Kind::Server,
                body.get("server").unwrap_or(&Value::Null),
                "server",
            )?;
            if !vol["server"].is_null() {
                return Err(ApiError::new(
                    axum::http::StatusCode::LOCKED,
                    "locked",
                    "volume is already attached",
                ));
            }
            store.raw_mut(Kind::Volume, id)?["server"] = json!(server);
            action_reply(store.start_action(
                "attach_volume",
                &[(id, Kind::Volume), (server, Kind::Server)],
                d,
                vec![],
            ))
        }
        "detach" => {
            store.raw_mut(Kind::Volume, id)?["server"] = Value::Null;
            action_reply(store.start_action("detach_volume", &[(id, Kind::Volume)], d, vec![]))
        }
        "resize" => {
            let size = body::req_i64(body, "size")?;
            if size <= vol["size"].as_i64().unwrap_or(0) || size > 10240 {
                return Err(ApiError::invalid_input(
                    "size",
                    "volumes can only grow, up to 10240 GB",
                ));
            }
            store.raw_mut(Kind::Volume, id)?["size"] = json!(size);
            action_reply(store.start_action("resize_volume", &[(id, Kind::Volume)], d, vec![]))
        }
        _ => Err(ApiError::route_not_found()),
    }
}
