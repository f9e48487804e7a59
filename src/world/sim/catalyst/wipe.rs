//! Cancel & Wipe ([N], contract §1.14): `POST /wipe` answers 202 and purges in the background —
//! tofu destroy of what the run created, then the label sweep for orphans (re-listing until the
//! Hetzner "deleted but still listed" linger has passed), PDM release, local cleanup, `wiped`.
//! Also `DELETE /release-subdomain`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Ctx;
use super::api::{jerr, not_found, text};
use super::hetzner::{Hetzner, id_of};
use crate::sim::hetzner::sovereign::slug;

/// Kinds in purge order, as the wipe report names them.
const PURGE_KINDS: &[&str] = &[
    "servers",
    "load_balancers",
    "networks",
    "firewalls",
    "volumes",
    "primary_ips",
    "floating_ips",
];

#[derive(serde::Deserialize)]
pub(crate) struct ForceQuery {
    force: Option<String>,
}

pub(crate) async fn wipe(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(q): Query<ForceQuery>,
    body: Bytes,
) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return text(StatusCode::BAD_REQUEST, "invalid request body");
    };
    let token = v
        .get("hetznerToken")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    let force = q.force.as_deref().is_some_and(|f| f == "true" || f == "1");
    let now = ctx.cfg.clock.now();
    let min_life = ctx.cfg.wipe_min_life.as_secs() as i64;
    let verdict = ctx.store.with(&id, |d| {
        if token.is_empty() {
            return Err(Box::new(text(
                StatusCode::BAD_REQUEST,
                "hetznerToken is required: the stored token is redacted, re-enter it",
            )));
        }
        if d.status == "wiping" {
            return Err(Box::new(text(StatusCode::CONFLICT, "wipe already in progress for this deployment")));
        }
        let age = chrono::DateTime::parse_from_rfc3339(&d.started_at)
            .map(|t| (now - t.with_timezone(&chrono::Utc)).num_seconds())
            .unwrap_or(i64::MAX);
        if d.status == "phase1-watching" && age < min_life && !force {
            return Err(Box::new(jerr(StatusCode::CONFLICT, json!({
                "error": "min-life-protection", "deploymentId": d.id, "sovereignFQDN": d.request.sovereign_fqdn,
                "status": d.status, "startedAt": d.started_at, "ageSec": age, "minLifeSec": min_life,
                "retryAfterSec": min_life - age,
                "hint": "the Sovereign is still converging; wait or pass ?force=true"}))));
        }
        d.status = "wiping".into();
        d.done = false;
        d.watcher_generation += 1; // cancels the Phase-1 watcher at its next event
        d.notify();
        Ok(d.request.sovereign_fqdn.clone())
    });
    let fqdn = match verdict {
        None => return not_found(),
        Some(Err(resp)) => return *resp,
        Some(Ok(f)) => f,
    };
    ctx.spawn_for(&id, run_wipe(ctx.clone(), id.clone(), token));
    (
        StatusCode::ACCEPTED,
        axum::Json(
            json!({"deploymentId": id, "sovereignFQDN": fqdn, "status": "wiping",
            "message": "wipe started; poll GET /api/v1/deployments/{id} until status is wiped"}),
        ),
    )
        .into_response()
}

async fn run_wipe(ctx: Ctx, id: String, token: String) {
    let Some((fqdn, state)) = ctx.store.with(&id, |d| {
        (d.request.sovereign_fqdn.clone(), d.tofu_state.clone())
    }) else {
        return;
    };
    let hz = Hetzner {
        clock: &ctx.cfg.clock,
        http: &ctx.http,
        root: &ctx.cfg.hetzner_url,
        token: &token,
    };
    let mut errors: Vec<String> = Vec::new();
    let mut purged: serde_json::Map<String, Value> = serde_json::Map::new();
    let mut note = |kind: &str, name: String| {
        let list = purged.entry(kind.to_string()).or_insert_with(|| json!([]));
        if let Some(a) = list.as_array_mut()
            && !a.contains(&json!(name))
        {
            a.push(json!(name));
        }
    };

    ctx.emit(
        &id,
        "wipe",
        "info",
        "tofu destroy: removing the resources of the OpenTofu state",
    );
    let mut destroyed = true;
    // tofu destroys dependents first: LB, servers, then key, firewall, network.
    let order = |addr: &str| match addr.split('.').next() {
        Some("hcloud_load_balancer") => Some((0, "load_balancers")),
        Some("hcloud_server") => Some((1, "servers")),
        Some("hcloud_ssh_key") => Some((2, "ssh_keys")),
        Some("hcloud_firewall") => Some((3, "firewalls")),
        Some("hcloud_network") => Some((4, "networks")),
        _ => None,
    };
    let leaves = &ctx.cfg.faults.wipe_leaves_behind;
    let missed = |kind: &str| leaves.iter().any(|l| l == kind);
    let mut steps: Vec<(usize, &str, &String, i64)> = state
        .iter()
        .filter_map(|(addr, obj_id)| order(addr).map(|(rank, kind)| (rank, kind, addr, *obj_id)))
        .filter(|(_, kind, _, _)| !missed(kind))
        .collect();
    steps.sort();
    for (_, kind, addr, obj_id) in steps {
        match hz.delete(&format!("{kind}/{obj_id}")).await {
            Ok(_) => ctx.emit(&id, "wipe", "info", format!("{addr}: Destruction complete")),
            // Gone already, or still referenced by an object that is on its way out: the sweep
            // below comes back for it.
            Err(e) if e.code == "not_found" || e.code == "resource_in_use" => {}
            Err(e) => {
                destroyed = false;
                ctx.emit(&id, "wipe", "warn", format!("{addr}: {e}"));
                errors.push(format!("tofu destroy {addr}: {e}"));
            }
        }
    }

    // Orphan sweep by label, then SSH keys by slug; repeat while objects linger after DELETE.
    let selector = format!("catalyst.openova.io/sovereign={fqdn}");
    let slug = slug(&fqdn);
    let mut residual: Vec<String> = Vec::new();
    for round in 0..6 {
        residual.clear();
        for kind in PURGE_KINDS
            .iter()
            .copied()
            .chain(["ssh_keys"])
            .filter(|k| !missed(k))
        {
            let listed = if kind == "ssh_keys" {
                hz.list_all(kind, None).await.map(|v| {
                    v.into_iter()
                        .filter(|o| {
                            o.get("name")
                                .and_then(Value::as_str)
                                .is_some_and(|n| n.contains(&slug))
                        })
                        .collect::<Vec<_>>()
                })
            } else {
                hz.list_all(kind, Some(&selector)).await
            };
            let objs = match listed {
                Ok(o) => o,
                Err(e) => {
                    if round == 0 {
                        errors.push(format!("list {kind}: {e}"));
                    }
                    continue;
                }
            };
            for o in objs {
                let name = o
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                let Some(oid) = id_of(&o) else { continue };
                match hz.delete(&format!("{kind}/{oid}")).await {
                    // Still listed after an earlier pass: lingering or in use; look again.
                    Ok(_) if round > 0 => {
                        note(kind, name.clone());
                        residual.push(format!("{kind}/{name}"));
                    }
                    Err(_) if round > 0 => residual.push(format!("{kind}/{name}")),
                    Ok(_) => {
                        ctx.emit(&id, "wipe", "info", format!("deleted {kind}/{name}"));
                        note(kind, name);
                    }
                    Err(e) if e.code == "not_found" => note(kind, name),
                    Err(e) if e.code == "resource_in_use" => {
                        residual.push(format!("{kind}/{name}"))
                    }
                    Err(e) => {
                        ctx.emit(
                            &id,
                            "wipe",
                            "warn",
                            format!("could not delete {kind}/{name}: {e}"),
                        );
                        errors.push(format!("delete {kind}/{name}: {e}"));
                    }
                }
            }
        }
        if residual.is_empty() && round > 0 {
            break;
        }
        // Deleted objects may linger for a while: look again later.
        ctx.sleep(Duration::from_secs(10)).await;
    }

    let pdm_released = missed("pdm") || release(&ctx, &id).await;
    let now = ctx.now();
    let report = json!({
        "deploymentId": id, "sovereignFQDN": fqdn, "provider": "hetzner",
        "tofuDestroyed": destroyed, "providerPurge": purged, "pdmReleased": pdm_released,
        "localCleaned": true, "errors": errors, "wipedAt": now,
        "verifiedZeroOrphans": residual.is_empty(), "residualOrphans": residual,
    });
    ctx.emit(
        &id,
        "wipe",
        if residual.is_empty() { "info" } else { "warn" },
        format!("wipe finished: {} orphan(s) left", residual.len()),
    );
    ctx.store.with(&id, |d| {
        d.kubeconfig = None;
        d.tofu_state.clear();
        d.status = "wiped".into();
        d.finished_at = Some(now.clone());
        d.last_wipe_report = Some(report);
        d.done = true;
        d.notify();
    });
}

/// PDM release of the deployment's pool name; true when PDM freed it (or held nothing).
async fn release(ctx: &Ctx, id: &str) -> bool {
    let Some((mode, pool, sub)) = ctx.store.with(id, |d| {
        (
            d.request.sovereign_domain_mode.clone(),
            d.request.sovereign_pool_domain.trim().to_lowercase(),
            d.request.sovereign_subdomain.trim().to_lowercase(),
        )
    }) else {
        return false;
    };
    if mode != "pool" || !ctx.cfg.managed_pools.contains(&pool) {
        return true;
    }
    let url = format!("{}/api/v1/pool/{pool}/release", ctx.pdm_url);
    match ctx.http.delete(url).query(&[("sub", &sub)]).send().await {
        Ok(r) => r.status().is_success() || r.status().as_u16() == 404,
        Err(_) => false,
    }
}

pub(crate) async fn release_subdomain(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    let Some(status) = ctx.store.with(&id, |d| d.status.clone()) else {
        return not_found();
    };
    match status.as_str() {
        "pending" | "provisioning" | "tofu-applying" | "flux-bootstrapping" | "phase1-watching"
        | "wiping" => jerr(
            StatusCode::CONFLICT,
            json!({"error": "deployment-in-flight"}),
        ),
        "wiped" => jerr(StatusCode::GONE, json!({"error": "deployment-wiped"})),
        "adopted" => jerr(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": "deployment-adopted"}),
        ),
        _ => {
            if release(&ctx, &id).await {
                axum::Json(json!({"released": true, "deploymentId": id})).into_response()
            } else {
                jerr(StatusCode::BAD_GATEWAY, json!({"error": "pdm-unreachable"}))
            }
        }
    }
}
