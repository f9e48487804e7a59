//! The provisioning run of one deployment: Phase 0 as OpenTofu would narrate it while the Hetzner
//! resources of contract §5.3 are created over HTTP, PDM commit/release (§5.5), cloud-init posting
//! the kubeconfig back, then the Phase-1 start race of §2.6.

use std::time::Duration;

use serde_json::{Value, json};

use super::Ctx;
use super::Phase1Race;
use super::hetzner::{Hetzner, id_of, public_ipv4};
use super::phase1;
use crate::provision::wire::{DeploymentRequest, DeploymentResult};
use crate::sim::hetzner::sovereign::{ROLE_LABEL, SOVEREIGN_LABEL, network_zone};

fn is_size(s: &str) -> bool {
    ["cpx", "ccx", "cax", "cx"].iter().any(|p| {
        s.strip_prefix(p)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn fqdn_ok(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_lowercase()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

fn email_ok(s: &str) -> bool {
    match s.split_once('@') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.contains('@')
                && b.split_once('.')
                    .is_some_and(|(x, y)| !x.is_empty() && !y.is_empty())
        }
        None => false,
    }
}

/// The tofu variable validations of `variables.tf` (contract §5.2): `(variable, value)` of the
/// first one that fails.
fn invalid_variable(
    req: &DeploymentRequest,
    stale_size_regex: bool,
) -> Option<(&'static str, String)> {
    if stale_size_regex {
        // The pre-c6cbfe68 regex: `^(cx|ccx|cax)[0-9]+$`, no cpx.
        for (var, v) in [
            ("control_plane_size", &req.control_plane_size),
            ("worker_size", &req.worker_size),
        ] {
            if v.starts_with("cpx") {
                return Some((var, v.clone()));
            }
        }
    }
    if !fqdn_ok(&req.sovereign_fqdn) {
        return Some(("sovereign_fqdn", req.sovereign_fqdn.clone()));
    }
    if !email_ok(&req.org_email) {
        return Some(("org_email", req.org_email.clone()));
    }
    // The module's `region` list is the set of places with a network zone.
    if network_zone(&req.region).is_err() {
        return Some(("region", req.region.clone()));
    }
    if !is_size(&req.control_plane_size) {
        return Some(("control_plane_size", req.control_plane_size.clone()));
    }
    if !(req.worker_size.is_empty() || is_size(&req.worker_size)) {
        return Some(("worker_size", req.worker_size.clone()));
    }
    if !(0..=50).contains(&req.worker_count) {
        return Some(("worker_count", req.worker_count.to_string()));
    }
    let key_ok = ["ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-nistp256 "]
        .iter()
        .any(|p| req.ssh_public_key.starts_with(p));
    if !key_ok {
        let shown: String = req.ssh_public_key.chars().take(40).collect();
        return Some(("ssh_public_key", shown));
    }
    None
}

struct Resource {
    address: String,
    kind: &'static str,
    body: Value,
    wait: Duration,
    is_server: bool,
}

/// A wipe started: the provisioning run stops at its next step.
pub(crate) fn wiping(ctx: &Ctx, id: &str) -> bool {
    ctx.store
        .with(id, |d| d.status == "wiping" || d.status == "wiped")
        .unwrap_or(true)
}

const PLAN_FAILED: &str =
    "tofu plan: tofu plan -input=false -no-color -out=tfplan failed: exit status 1";
const APPLY_FAILED: &str =
    "tofu apply: tofu apply -input=false -no-color -auto-approve tfplan failed: exit status 1";

/// Entry point of the asynchronous run started by create (and by Phase-0 retry with `retry`).
pub(crate) async fn run_provisioning(ctx: Ctx, id: String, bearer: String, retry: bool) {
    let Some(req) = ctx.store.with(&id, |d| d.request.clone()) else {
        return;
    };
    let outcome = run_phase0(&ctx, &id, &req, &bearer).await;
    if wiping(&ctx, &id) {
        // Cancel & Wipe took over: the wipe owns the record from here.
        return;
    }
    match outcome {
        Err(error) => {
            if !retry {
                release_reservation(&ctx, &id).await;
            }
            let now = ctx.now();
            ctx.store.with(&id, |d| {
                d.status = "failed".into();
                d.error = Some(error);
                d.finished_at = Some(now);
                d.done = true;
                d.notify();
            });
        }
        Ok((cp_ip, lb_ip)) => {
            let fqdn = req.sovereign_fqdn.clone();
            ctx.store.with(&id, |d| {
                d.cp_ip = Some(cp_ip.clone());
                d.lb_ip = Some(lb_ip.clone());
                let mut r = d.result.clone().unwrap_or_default();
                r.sovereign_fqdn = fqdn.clone();
                r.control_plane_ip = cp_ip.clone();
                r.load_balancer_ip = lb_ip.clone();
                r.console_url = format!("https://console.{fqdn}");
                r.gitops_repo_url = format!("https://gitea.{fqdn}");
                d.result = Some(r);
                if !retry {
                    d.status = "phase1-watching".into();
                }
                d.notify();
            });
            if retry {
                // [M]: a Phase-0 retry ends ready without re-running the Phase-1 watch or PDM commit.
                let now = ctx.now();
                ctx.store.with(&id, |d| {
                    d.status = "ready".into();
                    d.finished_at = Some(now);
                    d.done = true;
                    d.notify();
                });
                return;
            }
            commit_reservation(&ctx, &id, &fqdn, &lb_ip).await;
            start_phase1(&ctx, &id).await;
        }
    }
}

async fn release_reservation(ctx: &Ctx, id: &str) {
    let Some(res) = ctx.store.with(id, |d| d.reservation.clone()).flatten() else {
        return;
    };
    let url = format!("{}/api/v1/pool/{}/release", ctx.pdm_url, res.pool);
    let outcome = ctx
        .http
        .delete(url)
        .json(&json!({"subdomain": res.subdomain}))
        .send()
        .await;
    match outcome {
        Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => {}
        Ok(r) => tracing::warn!(status = %r.status(), "PDM release failed"),
        Err(e) => tracing::warn!(error = %e, "PDM release failed"),
    }
}

async fn commit_reservation(ctx: &Ctx, id: &str, fqdn: &str, lb_ip: &str) {
    let Some(res) = ctx.store.with(id, |d| d.reservation.clone()).flatten() else {
        return;
    };
    let url = format!("{}/api/v1/pool/{}/commit", ctx.pdm_url, res.pool);
    let body = json!({"subdomain": res.subdomain, "reservationToken": res.token,
        "sovereignFQDN": fqdn, "loadBalancerIP": lb_ip});
    // [M] only logs a failed commit; the deployment carries on.
    match ctx.http.post(url).json(&body).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = %r.status(), "PDM commit failed"),
        Err(e) => tracing::warn!(error = %e, "PDM commit failed"),
    }
}

/// A duration as Go prints it (`45s`, `1m0s`, `10m20s`, `1h2m0s`), which is how OpenTofu
/// reports elapsed times.
fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, m, sec) => format!("{h}h{m}m{sec}s"),
    }
}

/// OpenTofu's diagnostic box for a provider error on `address` (`hcloud_server.control_plane[0]`).
fn error_box(error: &str, address: &str) -> Vec<String> {
    let base = address.split('[').next().unwrap_or(address);
    let (rtype, rname) = base.split_once('.').unwrap_or((base, ""));
    vec![
        "╷".into(),
        format!("│ Error: {error}"),
        "│ ".into(),
        format!("│   with {address},"),
        format!("│   on main.tf, in resource \"{rtype}\" \"{rname}\":"),
        "╵".into(),
    ]
}

fn tofu(ctx: &Ctx, id: &str, line: impl Into<String>) {
    ctx.emit(id, "tofu", "info", line);
}

fn tofu_err(ctx: &Ctx, id: &str, lines: &[String]) {
    for l in lines {
        ctx.emit(id, "tofu", "warn", l.clone());
    }
}

async fn run_phase0(
    ctx: &Ctx,
    id: &str,
    req: &DeploymentRequest,
    bearer: &str,
) -> Result<(String, String), String> {
    let t = &ctx.cfg.timings;
    let fqdn = req.sovereign_fqdn.as_str();
    let names = ctx.cfg.naming.names(fqdn);

    ctx.emit(
        id,
        "tofu-init",
        "info",
        "Initialising OpenTofu working directory",
    );
    tofu(ctx, id, "Initializing the backend...");
    tofu(ctx, id, "Initializing provider plugins...");
    tofu(
        ctx,
        id,
        "- Finding hetznercloud/hcloud versions matching \"~> 1.49\"...",
    );
    ctx.sleep(t.init).await;
    tofu(ctx, id, "- Installing hetznercloud/hcloud v1.49.1...");
    tofu(
        ctx,
        id,
        "- Installed hetznercloud/hcloud v1.49.1 (signed, key ID 5219EACB3A77198B)",
    );
    tofu(ctx, id, "OpenTofu has been successfully initialized!");

    ctx.emit(
        id,
        "tofu-plan",
        "info",
        "Planning Hetzner resources (tofu plan)",
    );
    if let Some((var, value)) = invalid_variable(req, ctx.cfg.faults.stale_size_regex) {
        ctx.sleep(t.small_resource).await;
        tofu_err(
            ctx,
            id,
            &[
                "╷".into(),
                "│ Error: Invalid value for variable".into(),
                "│ ".into(),
                "│   on tofu.auto.tfvars.json line 1:".into(),
                format!("│ The given value {value:?} is not valid for variable {var:?}."),
                "╵".into(),
            ],
        );
        return Err(PLAN_FAILED.into());
    }

    let labels = json!({ SOVEREIGN_LABEL: fqdn });
    let cp_count = if req.ha_enabled { 3 } else { 1 };
    let workers = req.worker_count.max(0) as usize;
    let mut plan: Vec<(String, &'static str)> = vec![
        ("hcloud_network.main".into(), "networks"),
        ("hcloud_network_subnet.main".into(), ""),
        ("hcloud_firewall.main".into(), "firewalls"),
        ("hcloud_ssh_key.main".into(), "ssh_keys"),
    ];
    for i in 0..cp_count {
        plan.push((format!("hcloud_server.control_plane[{i}]"), "servers"));
    }
    for i in 0..workers {
        plan.push((format!("hcloud_server.worker[{i}]"), "servers"));
    }
    plan.push(("hcloud_load_balancer.main".into(), "load_balancers"));
    let state = ctx
        .store
        .with(id, |d| d.tofu_state.clone())
        .unwrap_or_default();
    let to_add: Vec<&(String, &str)> = plan
        .iter()
        .filter(|(a, _)| !state.contains_key(a))
        .collect();
    for (addr, _) in plan.iter().filter(|(a, _)| state.contains_key(a)) {
        tofu(
            ctx,
            id,
            format!("{addr}: Refreshing state... [id={}]", state[addr]),
        );
    }
    tofu(
        ctx,
        id,
        "OpenTofu used the selected providers to generate the following execution plan.",
    );
    tofu(
        ctx,
        id,
        "Resource actions are indicated with the following symbols:",
    );
    tofu(ctx, id, "  + create");
    tofu(ctx, id, "OpenTofu will perform the following actions:");
    for (addr, _) in &to_add {
        tofu(ctx, id, format!("  # {addr} will be created"));
    }
    ctx.sleep(t.plan).await;
    tofu(
        ctx,
        id,
        format!("Plan: {} to add, 0 to change, 0 to destroy.", to_add.len()),
    );
    tofu(ctx, id, "Saved the plan to: tfplan");

    ctx.emit(id, "tofu-apply", "info", "Applying the plan (tofu apply)");
    let hz = Hetzner {
        clock: &ctx.cfg.clock,
        http: &ctx.http,
        root: &ctx.cfg.hetzner_url,
        token: &req.hetzner_token,
    };
    let mut added = 0usize;
    if let Some(answer) = &ctx.cfg.faults.dns_null_resource_error {
        tofu(ctx, id, "null_resource.dns_pool: Creating...");
        tofu(
            ctx,
            id,
            "null_resource.dns_pool: Provisioning with 'local-exec'...",
        );
        ctx.sleep(t.small_resource).await;
        tofu(
            ctx,
            id,
            format!("null_resource.dns_pool (local-exec): dynadot API returned {answer}"),
        );
        tofu_err(
            ctx,
            id,
            &[
                "╷".into(),
                "│ Error: local-exec provisioner error".into(),
                "│ ".into(),
                "│   with null_resource.dns_pool,".into(),
                "│   on main.tf, in resource \"null_resource\" \"dns_pool\":".into(),
                format!(
                    "│ Error running command: exit status 1. Output: dynadot API returned {answer}"
                ),
                "╵".into(),
            ],
        );
        return Err(APPLY_FAILED.into());
    }
    let get_id = |addr: &str| {
        ctx.store
            .with(id, |d| d.tofu_state.get(addr).copied())
            .flatten()
    };
    for (addr, kind) in &plan {
        if get_id(addr).is_some() {
            continue;
        }
        if wiping(ctx, id) {
            return Err("tofu apply: cancelled by wipe".into());
        }
        let net = get_id("hcloud_network.main").unwrap_or_default();
        let fw = get_id("hcloud_firewall.main").unwrap_or_default();
        let key = get_id("hcloud_ssh_key.main").unwrap_or_default();
        let res = match (addr.as_str(), *kind) {
            ("hcloud_network_subnet.main", _) => {
                // The subnet rides on the network object; nothing to call separately.
                tofu(ctx, id, format!("{addr}: Creating..."));
                ctx.sleep(t.small_resource).await;
                tofu(
                    ctx,
                    id,
                    format!(
                        "{addr}: Creation complete after {}s [id={net}-10.0.1.0/24]",
                        t.small_resource.as_secs()
                    ),
                );
                ctx.store
                    .with(id, |d| d.tofu_state.insert(addr.clone(), net));
                added += 1;
                continue;
            }
            (_, "networks") => Resource {
                address: addr.clone(),
                kind,
                body: json!({"name": names.network(), "ip_range": "10.0.0.0/16", "labels": labels,
                    "subnets": [{"type": "cloud", "ip_range": "10.0.1.0/24", "network_zone": network_zone(&req.region).unwrap_or("eu-central")}]}),
                wait: t.small_resource,
                is_server: false,
            },
            (_, "firewalls") => {
                let any = json!(["0.0.0.0/0", "::/0"]);
                let mut rules: Vec<Value> = ["80", "443", "6443"]
                    .iter()
                    .map(|p| json!({"direction": "in", "protocol": "tcp", "port": p, "source_ips": any}))
                    .collect();
                rules.push(json!({"direction": "in", "protocol": "icmp", "source_ips": any}));
                Resource {
                    address: addr.clone(),
                    kind,
                    body: json!({"name": names.firewall(), "labels": labels, "rules": rules}),
                    wait: t.small_resource,
                    is_server: false,
                }
            }
            (_, "ssh_keys") => Resource {
                address: addr.clone(),
                kind,
                body: json!({"name": names.ssh_key(), "public_key": req.ssh_public_key.trim(), "labels": labels}),
                wait: t.small_resource,
                is_server: false,
            },
            (_, "servers") => {
                let (name, role, size) = match addr.split_once('[') {
                    Some(("hcloud_server.control_plane", n)) => {
                        let n: u32 = n.trim_end_matches(']').parse().unwrap_or(0);
                        (
                            names.control_plane(n + 1),
                            "control-plane",
                            req.control_plane_size.clone(),
                        )
                    }
                    Some((_, n)) => {
                        let n: u32 = n.trim_end_matches(']').parse().unwrap_or(0);
                        (names.worker(n + 1), "worker", req.worker_size.clone())
                    }
                    None => (
                        names.control_plane(1),
                        "control-plane",
                        req.control_plane_size.clone(),
                    ),
                };
                let mut server_labels = labels.clone();
                server_labels[ROLE_LABEL] = json!(role);
                Resource {
                    address: addr.clone(),
                    kind,
                    body: json!({"name": name, "server_type": size, "image": "ubuntu-24.04",
                        "location": req.region, "ssh_keys": [key], "networks": [net],
                        "firewalls": [{"firewall": fw}], "labels": server_labels,
                        "start_after_create": true,
                        "public_net": {"enable_ipv4": true, "enable_ipv6": true},
                        "user_data": format!("#cloud-config\n# catalyst {role} for {fqdn}\n")}),
                    wait: t.server,
                    is_server: true,
                }
            }
            _ => {
                let targets: Vec<Value> = ctx
                    .store
                    .with(id, |d| {
                        d.tofu_state
                            .iter()
                            .filter(|(a, _)| a.starts_with("hcloud_server.control_plane"))
                            .map(|(_, sid)| json!({"type": "server", "server": {"id": sid}, "use_private_ip": true}))
                            .collect()
                    })
                    .unwrap_or_default();
                Resource {
                    address: addr.clone(),
                    kind: "load_balancers",
                    body: json!({"name": names.load_balancer(), "load_balancer_type": "lb11",
                        "location": req.region, "algorithm": {"type": "round_robin"}, "network": net,
                        "labels": labels, "targets": targets, "public_interface": true,
                        "services": [
                            {"protocol": "tcp", "listen_port": 80, "destination_port": 31080, "proxyprotocol": false},
                            {"protocol": "tcp", "listen_port": 443, "destination_port": 31443, "proxyprotocol": false}]}),
                    wait: t.load_balancer,
                    is_server: false,
                }
            }
        };
        tofu(ctx, id, format!("{}: Creating...", res.address));
        let answer = match hz.create(res.kind, &res.body).await {
            Ok(v) => v,
            Err(e) => {
                tofu_err(ctx, id, &error_box(&e.to_string(), &res.address));
                return Err(APPLY_FAILED.into());
            }
        };
        let singular = match res.kind {
            "networks" => "network",
            "firewalls" => "firewall",
            "ssh_keys" => "ssh_key",
            "servers" => "server",
            _ => "load_balancer",
        };
        let obj = answer.get(singular).cloned().unwrap_or(Value::Null);
        let Some(obj_id) = id_of(&obj) else {
            tofu_err(
                ctx,
                id,
                &[format!(
                    "│ Error: the Hetzner API answered without a {singular} id"
                )],
            );
            return Err(APPLY_FAILED.into());
        };
        let mut waited = Duration::ZERO;
        let step = Duration::from_secs(10);
        let still_creating = |waited: Duration| {
            tofu(
                ctx,
                id,
                format!(
                    "{}: Still creating... [{} elapsed]",
                    res.address,
                    go_duration(waited)
                ),
            );
        };
        while waited + step < res.wait {
            ctx.sleep(step).await;
            waited += step;
            still_creating(waited);
        }
        ctx.sleep(res.wait - waited).await;
        waited = res.wait;
        // The provider returns only once Hetzner's create_server action has finished; in a
        // capacity-starved location that takes long (runbook M3) or ends in an action error.
        let action = answer.pointer("/action/id").and_then(Value::as_i64);
        if let (true, Some(action)) = (res.is_server, action) {
            loop {
                let status = match hz.get(&format!("actions/{action}")).await {
                    Ok(v) => v.get("action").cloned().unwrap_or(Value::Null),
                    Err(e) => {
                        tofu_err(ctx, id, &error_box(&e.to_string(), &res.address));
                        return Err(APPLY_FAILED.into());
                    }
                };
                match status.get("status").and_then(Value::as_str) {
                    Some("running") => {}
                    Some("error") => {
                        let err = status.get("error");
                        let text = |k: &str| {
                            err.and_then(|e| e.get(k))
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string()
                        };
                        let line = format!("{} ({})", text("message"), text("code"));
                        tofu_err(ctx, id, &error_box(&line, &res.address));
                        return Err(APPLY_FAILED.into());
                    }
                    _ => break,
                }
                if wiping(ctx, id) {
                    return Err("tofu apply: cancelled by wipe".into());
                }
                let to_boundary = step - Duration::from_secs(waited.as_secs() % step.as_secs());
                ctx.sleep(to_boundary).await;
                waited += to_boundary;
                still_creating(waited);
            }
        }
        tofu(
            ctx,
            id,
            format!(
                "{}: Creation complete after {} [id={obj_id}]",
                res.address,
                go_duration(waited)
            ),
        );
        added += 1;
        let ip = public_ipv4(&obj);
        let first_cp = res.address == "hcloud_server.control_plane[0]";
        let is_lb = res.kind == "load_balancers";
        let start_cloud_init = ctx
            .store
            .with(id, |d| {
                d.tofu_state.insert(res.address.clone(), obj_id);
                if first_cp {
                    d.cp_ip = ip.clone();
                }
                if is_lb {
                    d.lb_ip = ip.clone();
                }
                let start = first_cp && !d.cloud_init_started;
                if start {
                    d.cloud_init_started = true;
                }
                start
            })
            .unwrap_or(false);
        if start_cloud_init && res.is_server {
            ctx.spawn_for(
                id,
                cloud_init(ctx.clone(), id.to_string(), bearer.to_string()),
            );
        }
    }
    tofu(
        ctx,
        id,
        format!("Apply complete! Resources: {added} added, 0 changed, 0 destroyed."),
    );

    if ctx.cfg.phase1_race == Phase1Race::PutWins {
        // cloud-init posts back before tofu returns: wait for it (or for its failure).
        let _ = wait_for_kubeconfig(ctx, id).await;
    }

    ctx.emit(id, "tofu-output", "info", "Reading OpenTofu outputs");
    ctx.sleep(t.output).await;
    let (cp_ip, lb_ip) = ctx
        .store
        .with(id, |d| (d.cp_ip.clone(), d.lb_ip.clone()))
        .unwrap_or_default();
    let cp_ip = match cp_ip {
        Some(ip) => ip,
        None => {
            refetch_ip(
                &hz,
                ctx,
                id,
                "hcloud_server.control_plane[0]",
                "servers",
                "server",
            )
            .await?
        }
    };
    let lb_ip = match lb_ip {
        Some(ip) => ip,
        None => {
            refetch_ip(
                &hz,
                ctx,
                id,
                "hcloud_load_balancer.main",
                "load_balancers",
                "load_balancer",
            )
            .await?
        }
    };
    tofu(ctx, id, format!("control_plane_ip = \"{cp_ip}\""));
    tofu(ctx, id, format!("load_balancer_ip = \"{lb_ip}\""));
    tofu(ctx, id, format!("console_url = \"https://console.{fqdn}\""));
    ctx.emit(
        id,
        "flux-bootstrap",
        "info",
        format!(
            "Phase 0 complete. cloud-init installs k3s, Cilium and Flux on {cp_ip}; Flux then reconciles clusters/{fqdn}/ (bootstrap-kit) from the GitOps repository"
        ),
    );
    Ok((cp_ip, lb_ip))
}

async fn refetch_ip(
    hz: &Hetzner<'_>,
    ctx: &Ctx,
    id: &str,
    addr: &str,
    kind: &str,
    singular: &str,
) -> Result<String, String> {
    let obj_id = ctx
        .store
        .with(id, |d| d.tofu_state.get(addr).copied())
        .flatten()
        .ok_or_else(|| format!("tofu output: {addr} is not in the state"))?;
    let v = hz
        .get(&format!("{kind}/{obj_id}"))
        .await
        .map_err(|e| format!("tofu output: reading {addr}: {e}"))?;
    v.get(singular)
        .and_then(public_ipv4)
        .ok_or_else(|| format!("tofu output: {addr} has no public IPv4 address"))
}

/// cloud-init on the first control plane: k3s comes up (the cluster factory), then the kubeconfig
/// is PUT back to catalyst-api with the deployment's bearer, over HTTP like `curl --retry` does.
async fn cloud_init(ctx: Ctx, id: String, bearer: String) {
    let (fqdn, wait) = (
        ctx.store
            .with(&id, |d| d.request.sovereign_fqdn.clone())
            .unwrap_or_default(),
        match ctx.cfg.phase1_race {
            Phase1Race::PutWins => ctx.cfg.timings.small_resource,
            _ => ctx.cfg.timings.cloud_init,
        },
    );
    ctx.sleep(wait).await;
    let created = match &ctx.cfg.cluster_factory {
        Some(f) => f.create_cluster(fqdn.clone(), ctx.cfg.kit.clone()).await,
        None => Err(anyhow::anyhow!(
            "this simulated world has no Kubernetes host configured"
        )),
    };
    let kubeconfig = match created {
        Ok(k) => k,
        Err(e) => {
            let msg = format!(
                "cloud-init on the control plane of {fqdn} failed before the kubeconfig post-back: {e:#}"
            );
            tracing::warn!(deployment = %id, "{msg}");
            ctx.store.with(&id, |d| {
                d.cloud_init_error = Some(msg);
                d.notify();
            });
            return;
        }
    };
    if wiping(&ctx, &id) {
        return;
    }
    if ctx.cfg.faults.kubeconfig_postback_missing {
        tracing::warn!(deployment = %id, "failed to load Sovereign kubeconfig: connection refused");
        ctx.store.with(&id, |d| {
            d.cloud_init_error = Some(
                "failed to load Sovereign kubeconfig: connection refused (cloud-init never posted it back)".into(),
            );
            d.notify();
        });
        return;
    }
    let url = format!("{}/api/v1/deployments/{id}/kubeconfig", ctx.self_url);
    let mut last = String::new();
    for _ in 0..10 {
        match ctx
            .http
            .put(&url)
            .header("Authorization", format!("Bearer {bearer}"))
            .header("Content-Type", "application/x-yaml")
            .body(kubeconfig.clone())
            .send()
            .await
        {
            Ok(r) if r.status().as_u16() == 204 => return,
            Ok(r) => {
                last = format!("HTTP {}", r.status());
                // 403/422 will not change on retry.
                if r.status().is_client_error() {
                    break;
                }
            }
            Err(e) => last = e.to_string(),
        }
        ctx.sleep(Duration::from_secs(10)).await;
    }
    ctx.store.with(&id, |d| {
        d.cloud_init_error = Some(format!("kubeconfig post-back failed: {last}"));
        d.notify();
    });
}

/// Wait until the kubeconfig landed (Ok) or cloud-init reported why it never will (Err).
pub(crate) async fn wait_for_kubeconfig(ctx: &Ctx, id: &str) -> Result<String, String> {
    let Some(mut rx) = ctx.store.with(id, |d| d.changed.subscribe()) else {
        return Err("deployment vanished".into());
    };
    let budget = ctx.cfg.clock.sleep(ctx.cfg.watch_timeout);
    tokio::pin!(budget);
    loop {
        let now = ctx.store.with(id, |d| {
            (
                d.kubeconfig.clone(),
                d.cloud_init_error.clone(),
                d.cloud_init_started,
            )
        });
        match now {
            None => return Err("deployment vanished".into()),
            Some((Some(k), _, _)) => return Ok(k),
            Some((None, Some(e), _)) => return Err(e),
            Some((None, None, false)) => {
                return Err("no control plane was created, so cloud-init never ran".into());
            }
            _ => {}
        }
        tokio::select! {
            changed = rx.changed() => if changed.is_err() {
                return Err("deployment vanished".into());
            },
            _ = &mut budget => {
                return Err("the kubeconfig did not arrive within the Phase-1 watch timeout".into());
            }
        }
    }
}

/// After `flux-bootstrap`: the Phase-1 start race (contract §2.6).
async fn start_phase1(ctx: &Ctx, id: &str) {
    match ctx.cfg.phase1_race {
        Phase1Race::TofuWins => {
            let has_kubeconfig = ctx.store.with(id, |d| {
                d.phase1_claimed = true;
                d.kubeconfig.is_some()
            });
            if has_kubeconfig != Some(true) {
                ctx.emit(
                    id,
                    "component",
                    "warn",
                    "Phase-1 watch skipped: no kubeconfig is available for this deployment yet (cloud-init has not posted it back); component states will not be streamed",
                );
                phase1::mark_phase1_done(ctx, id, "").await;
                return;
            }
            phase1::watch_and_finish(ctx, id).await;
        }
        Phase1Race::PutWins => {
            let already = ctx.store.with(id, |d| {
                let was = d.phase1_claimed;
                d.phase1_claimed = true;
                was
            });
            if already == Some(true) {
                // The PUT owns the watch: close the stream now, status still phase1-watching.
                ctx.store.with(id, |d| {
                    d.done = true;
                    d.notify();
                });
                return;
            }
            phase1::watch_and_finish(ctx, id).await;
        }
        Phase1Race::WaitForKubeconfig => {
            ctx.store.with(id, |d| d.phase1_claimed = true);
            phase1::watch_and_finish(ctx, id).await;
        }
    }
}

/// Build the result skeleton for records created before Phase 0 finished.
pub(crate) fn empty_result(fqdn: &str) -> DeploymentResult {
    DeploymentResult {
        sovereign_fqdn: fqdn.to_string(),
        ..Default::default()
    }
}
