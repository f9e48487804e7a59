//! What a drill's live view shows besides the journal: the Continuum phase and lease, the pair's
//! replication lag, and the state of every Hetzner object the plan touches, read fresh through the
//! same clients the run uses. Read-only; a read that fails is reported in the observation, never
//! as an error, so a dead region shows as such instead of stopping the view.

use hcloud::apis::{firewalls_api, load_balancers_api, servers_api};
use kube::api::{Api, DynamicObject};
use serde::{Deserialize, Serialize};

use super::plan::{DrillPlan, cnpg_pair_resource, continuum_resource};
use super::target::DrillTarget;

/// One touched Hetzner object and how it stands against the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectState {
    pub kind: String,
    pub name: String,
    /// e.g. `running`, `off`, `2/2 targets`, `applied to 1/1 servers`, `deleted`.
    pub state: String,
    /// As the plan found it (nothing of the kill in effect).
    pub intact: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub continuum_phase: Option<String>,
    pub lease_holder: Option<String>,
    pub primary_region: Option<String>,
    pub wal_lag_seconds: Option<f64>,
    pub streaming: Option<bool>,
    pub objects: Vec<ObjectState>,
    /// Reads that failed (the view shows them; the next poll tries again).
    pub errors: Vec<String>,
}

fn text(v: &serde_json::Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(|v| v.as_str()).map(String::from)
}

/// Read everything once.
pub async fn observe(t: &DrillTarget, plan: &DrillPlan) -> Observation {
    let mut o = Observation::default();
    let continuums: Api<DynamicObject> =
        Api::namespaced_with(t.kube.clone(), &plan.namespace, &continuum_resource());
    match continuums.get(&plan.continuum).await {
        Ok(c) => {
            o.continuum_phase = text(&c.data, "/status/phase");
            o.lease_holder = text(&c.data, "/status/leaseHolder");
            o.primary_region = text(&c.data, "/status/primaryRegion");
        }
        Err(e) => o.errors.push(format!("Continuum {}: {e}", plan.continuum)),
    }
    let pairs: Api<DynamicObject> =
        Api::namespaced_with(t.kube.clone(), &plan.namespace, &cnpg_pair_resource());
    match pairs.get(&plan.pair).await {
        Ok(p) => {
            o.wal_lag_seconds = p
                .data
                .pointer("/status/walLagSeconds")
                .and_then(|v| v.as_f64());
            o.streaming = p
                .data
                .pointer("/status/streaming")
                .and_then(|v| v.as_bool());
        }
        Err(e) => o.errors.push(format!("CNPGPair {}: {e}", plan.pair)),
    }
    let h = &t.hetzner;
    if let Some((id, name)) = &plan.region.load_balancer {
        let id = *id;
        match h
            .call("reading the load balancer", move |cfg| async move {
                load_balancers_api::get_load_balancer(
                    &cfg,
                    load_balancers_api::GetLoadBalancerParams { id },
                )
                .await
            })
            .await
        {
            Ok(lb) => {
                let present: Vec<i64> = lb
                    .load_balancer
                    .targets
                    .iter()
                    .filter_map(|t| t.server.as_ref().map(|s| s.id))
                    .collect();
                let want = plan.region.lb_targets.len();
                let have = plan
                    .region
                    .lb_targets
                    .iter()
                    .filter(|t| present.contains(&t.server_id))
                    .count();
                o.objects.push(ObjectState {
                    kind: "load balancer".into(),
                    name: name.clone(),
                    state: format!("{have}/{want} planned targets attached"),
                    intact: have == want,
                });
            }
            Err(e) => o.errors.push(format!("load balancer {name}: {e}")),
        }
    }
    if let Some((id, name)) = &plan.region.firewall {
        let id = *id;
        match h
            .call("reading the firewall", move |cfg| async move {
                firewalls_api::get_firewall(&cfg, firewalls_api::GetFirewallParams { id }).await
            })
            .await
        {
            Ok(fw) => {
                let applied: Vec<i64> = fw
                    .firewall
                    .applied_to
                    .iter()
                    .filter_map(|a| a.server.as_ref().map(|s| s.id))
                    .collect();
                let want = plan.region.firewall_servers.len();
                let have = plan
                    .region
                    .firewall_servers
                    .iter()
                    .filter(|s| applied.contains(s))
                    .count();
                o.objects.push(ObjectState {
                    kind: "firewall".into(),
                    name: name.clone(),
                    state: format!("applied to {have}/{want} planned servers"),
                    intact: have == want,
                });
            }
            Err(e) => o.errors.push(format!("firewall {name}: {e}")),
        }
    }
    for (id, name, planned_status) in &plan.region.control_planes {
        let sid = *id;
        let r = h
            .call("reading a server", move |cfg| async move {
                servers_api::get_server(&cfg, servers_api::GetServerParams { id: sid }).await
            })
            .await;
        let (state, intact) = match r {
            Ok(s) => match s.server {
                Some(srv) => {
                    let status = serde_json::to_value(srv.status)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    let intact = &status == planned_status;
                    (status, intact)
                }
                None => ("deleted".to_string(), false),
            },
            Err(e) if e.is_not_found() => ("deleted".to_string(), false),
            Err(e) => {
                o.errors.push(format!("server {name}: {e}"));
                continue;
            }
        };
        o.objects.push(ObjectState {
            kind: "server".into(),
            name: name.clone(),
            state,
            intact,
        });
    }
    o
}
