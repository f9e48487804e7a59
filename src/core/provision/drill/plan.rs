//! `drill plan`: read the Continuum / CNPGPair / CNPG Clusters through kube-rs and the primary
//! region's Hetzner objects through the hcloud client, check the preconditions of contract §7.6
//! and list exactly what a drill would touch, by name. Read-only.

use anyhow::{Context, Result};
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::steps::{Precondition, Promotion, ServerKill, Step, Touch};
use crate::provision::hetzner::client::HetznerClient;
use crate::provision::hetzner::inventory::Inventory;
use crate::provision::hetzner::naming::{ROLE_LABEL, SOVEREIGN_LABEL};

/// How the drill is to be run (shown in the plan, journaled with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOptions {
    pub server_kill: ServerKill,
    pub promotion: Promotion,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            server_kill: ServerKill::PowerOff,
            promotion: Promotion::ContinuumSwitchover,
        }
    }
}

/// A load balancer target the kill detaches (and the rollback re-adds exactly like this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LbTarget {
    pub server_id: i64,
    pub use_private_ip: bool,
}

/// The primary region's Hetzner objects, as found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionObjects {
    pub load_balancer: Option<(i64, String)>,
    pub lb_targets: Vec<LbTarget>,
    pub firewall: Option<(i64, String)>,
    /// Servers the firewall is applied to directly (label selectors are left alone).
    pub firewall_servers: Vec<i64>,
    /// Control-plane servers: id, name, status.
    pub control_planes: Vec<(i64, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillPlan {
    pub target: String,
    pub namespace: String,
    pub continuum: String,
    pub pair: String,
    pub primary_cluster: String,
    pub replica_cluster: String,
    pub primary_region: String,
    pub replica_region: String,
    pub rto_seconds: u64,
    pub rpo_seconds: u64,
    pub options: PlanOptions,
    pub region: RegionObjects,
    pub preconditions: Vec<Precondition>,
    pub touches: Vec<Touch>,
}

impl DrillPlan {
    pub fn ready(&self) -> bool {
        self.preconditions.iter().all(|p| p.ok)
    }

    pub fn failed_preconditions(&self) -> Vec<&Precondition> {
        self.preconditions.iter().filter(|p| !p.ok).collect()
    }

    pub fn to_text(&self) -> String {
        let mut out = format!(
            "Drill plan for {} — Continuum {}/{}, pair {} ({} in {} → {} in {}), RTO {} s, RPO {} s\n\nPreconditions:\n",
            self.target,
            self.namespace,
            self.continuum,
            self.pair,
            self.primary_cluster,
            self.primary_region,
            self.replica_cluster,
            self.replica_region,
            self.rto_seconds,
            self.rpo_seconds
        );
        for p in &self.preconditions {
            out += &format!(
                "  [{}] {}: {}\n",
                if p.ok { "ok" } else { "FAIL" },
                p.name,
                p.evidence
            );
        }
        out += "\nWill touch:\n";
        for t in &self.touches {
            out += &format!(
                "  {:<8} {:<22} {}{}: {} (undo: {})\n",
                t.step.name(),
                t.kind,
                t.name,
                t.id.as_ref().map(|i| format!(" #{i}")).unwrap_or_default(),
                t.action,
                t.undo
            );
        }
        out
    }
}

pub fn continuum_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("dr.openova.io", "v1", "Continuum"),
        "continuums",
    )
}

pub fn cnpg_pair_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("dr.openova.io", "v1", "CNPGPair"),
        "cnpgpairs",
    )
}

pub fn cnpg_cluster_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("postgresql.cnpg.io", "v1", "Cluster"),
        "clusters",
    )
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// `30s`, `5m`, `1h` (contract §7.2 pattern) → seconds.
pub fn parse_duration_s(text: &str) -> Option<u64> {
    let text = text.trim();
    let (num, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    }
}

fn cluster_ready(obj: &DynamicObject) -> (bool, String) {
    let conds = obj
        .data
        .pointer("/status/conditions")
        .and_then(|c| c.as_array());
    let ready = conds.and_then(|c| {
        c.iter()
            .find(|c| c.get("type").and_then(|t| t.as_str()) == Some("Ready"))
    });
    match ready {
        Some(c) => (
            c.get("status").and_then(|s| s.as_str()) == Some("True"),
            format!(
                "Ready={} {}",
                c.get("status").and_then(|s| s.as_str()).unwrap_or("?"),
                c.get("message").and_then(|s| s.as_str()).unwrap_or("")
            ),
        ),
        None => (false, "no Ready condition".into()),
    }
}

/// Build the plan. Errors only when the cluster or Hetzner cannot be read at all; a missing or
/// unhealthy object is a failed precondition in the plan, so the operator sees all of them at once.
pub async fn plan(
    kube: &kube::Client,
    hetzner: &HetznerClient,
    fqdn: &str,
    options: PlanOptions,
) -> Result<DrillPlan> {
    let continuums: Api<DynamicObject> = Api::all_with(kube.clone(), &continuum_resource());
    let list = continuums
        .list(&ListParams::default())
        .await
        .context("listing Continuums (dr.openova.io/v1)")?;
    let continuum = list
        .items
        .into_iter()
        .next()
        .with_context(|| format!("{fqdn} has no Continuum: not a multi-region Sovereign"))?;
    let namespace = continuum.metadata.namespace.clone().unwrap_or_default();
    let cname = continuum.metadata.name.clone().unwrap_or_default();
    let app = s(&continuum.data, &["spec", "applicationRef"])
        .unwrap_or(&cname)
        .to_string();

    let pairs: Api<DynamicObject> =
        Api::namespaced_with(kube.clone(), &namespace, &cnpg_pair_resource());
    let pair_list = pairs
        .list(&ListParams::default())
        .await
        .context("listing CNPGPairs")?;
    let pair = pair_list
        .items
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(app.as_str()))
        .or(pair_list.items.first())
        .cloned()
        .with_context(|| format!("no CNPGPair in namespace {namespace}"))?;
    let pname = pair.metadata.name.clone().unwrap_or_default();
    let pd = &pair.data;
    let primary_cluster = s(pd, &["spec", "primaryCluster"]).unwrap_or("").to_string();
    let replica_cluster = s(pd, &["spec", "replicaCluster"]).unwrap_or("").to_string();
    let primary_region = s(pd, &["spec", "primaryRegion"]).unwrap_or("").to_string();
    let replica_region = s(pd, &["spec", "replicaRegion"]).unwrap_or("").to_string();
    let rpo_seconds = pd
        .pointer("/spec/rpoSeconds")
        .and_then(|v| v.as_u64())
        .unwrap_or(30);
    let rto_seconds = s(&continuum.data, &["spec", "rto"])
        .and_then(parse_duration_s)
        .or_else(|| pd.pointer("/spec/rtoSeconds").and_then(|v| v.as_u64()))
        .unwrap_or(60);

    let mut pre = Vec::new();
    let clusters: Api<DynamicObject> =
        Api::namespaced_with(kube.clone(), &namespace, &cnpg_cluster_resource());
    for name in [&primary_cluster, &replica_cluster] {
        let (ok, evidence) = match clusters.get_opt(name).await {
            Ok(Some(c)) => cluster_ready(&c),
            Ok(None) => (false, "not found".into()),
            Err(e) => (false, format!("reading it failed: {e}")),
        };
        pre.push(Precondition {
            name: format!("Cluster {name} Ready"),
            ok,
            evidence,
        });
    }
    let phase = s(&continuum.data, &["status", "phase"]).unwrap_or("(none)");
    pre.push(Precondition {
        name: "Continuum Healthy".into(),
        ok: phase == "Healthy",
        evidence: format!("status.phase = {phase}"),
    });
    let holder = s(&continuum.data, &["status", "leaseHolder"]).unwrap_or("");
    let cprimary = s(&continuum.data, &["status", "primaryRegion"])
        .or(s(&continuum.data, &["spec", "primaryRegion"]))
        .unwrap_or("");
    pre.push(Precondition {
        name: "lease held by the primary".into(),
        ok: !holder.is_empty() && holder == cprimary,
        evidence: format!("leaseHolder = {holder:?}, primary = {cprimary:?}"),
    });
    let streaming = pd.pointer("/status/streaming").and_then(|v| v.as_bool()) == Some(true);
    let lag = pd.pointer("/status/walLagSeconds").and_then(|v| v.as_f64());
    pre.push(Precondition {
        name: "replication lag ≤ RPO".into(),
        ok: streaming && lag.is_some_and(|l| l <= rpo_seconds as f64),
        evidence: format!(
            "streaming = {streaming}, walLagSeconds = {}, rpoSeconds = {rpo_seconds}",
            lag.map(|l| l.to_string())
                .unwrap_or_else(|| "unknown".into())
        ),
    });

    let inv = Inventory::fetch(hetzner)
        .await
        .context("listing the Hetzner project")?;
    let ours = |labels: &std::collections::HashMap<String, String>| {
        labels.get(SOVEREIGN_LABEL).map(String::as_str) == Some(fqdn)
    };
    let mut region = RegionObjects::default();
    for srv in &inv.servers {
        if ours(&srv.labels)
            && srv.labels.get(ROLE_LABEL).map(String::as_str) == Some("control-plane")
            && srv.location.name == primary_region
        {
            region.control_planes.push((
                srv.id,
                srv.name.clone(),
                serde_json::to_value(srv.status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
            ));
        }
    }
    let cp_ids: Vec<i64> = region.control_planes.iter().map(|c| c.0).collect();
    if let Some(lb) = inv
        .load_balancers
        .iter()
        .find(|lb| ours(&lb.labels) && lb.location.name == primary_region)
    {
        region.load_balancer = Some((lb.id, lb.name.clone()));
        region.lb_targets = lb
            .targets
            .iter()
            .filter_map(|t| {
                t.server.as_ref().map(|srv| LbTarget {
                    server_id: srv.id,
                    use_private_ip: t.use_private_ip.unwrap_or(false),
                })
            })
            .collect();
    }
    if let Some(fw) = inv
        .firewalls
        .iter()
        .find(|fw| fw.labels.as_ref().is_some_and(ours))
    {
        region.firewall = Some((fw.id, fw.name.clone()));
        region.firewall_servers = fw
            .applied_to
            .iter()
            .filter_map(|a| a.server.as_ref().map(|s| s.id))
            .filter(|id| cp_ids.contains(id))
            .collect();
    }
    if options.promotion == Promotion::HelmReleaseValue {
        // The value path needs the replica's HelmRelease (contract §7.4, #5125).
        let hrs: Api<DynamicObject> = Api::namespaced_with(
            kube.clone(),
            &namespace,
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
                "helmreleases",
            ),
        );
        let found = hrs
            .get_opt(&replica_cluster)
            .await
            .context("reading the replica's HelmRelease")?;
        pre.push(Precondition {
            name: "replica HelmRelease found".into(),
            ok: found.is_some(),
            evidence: format!(
                "HelmRelease {namespace}/{replica_cluster} {}",
                if found.is_some() {
                    "exists (spec.values.cnpgPair.replica.promoted is set on it)"
                } else {
                    "not found: promote with a Continuum switchover instead"
                }
            ),
        });
    }
    pre.push(Precondition {
        name: "primary region's Hetzner objects found".into(),
        ok: region.load_balancer.is_some()
            && region.firewall.is_some()
            && !region.control_planes.is_empty(),
        evidence: format!(
            "load balancer {}, firewall {}, {} control-plane server(s) in {primary_region}",
            region
                .load_balancer
                .as_ref()
                .map_or("missing".into(), |l| l.1.clone()),
            region
                .firewall
                .as_ref()
                .map_or("missing".into(), |f| f.1.clone()),
            region.control_planes.len()
        ),
    });

    let mut touches = Vec::new();
    if let Some((id, name)) = &region.load_balancer {
        for t in &region.lb_targets {
            touches.push(Touch {
                step: Step::Kill,
                kind: "hetzner/load_balancer".into(),
                name: name.clone(),
                id: Some(id.to_string()),
                action: format!("remove target server #{}", t.server_id),
                undo: format!(
                    "add target server #{} (use_private_ip = {})",
                    t.server_id, t.use_private_ip
                ),
            });
        }
    }
    if let Some((id, name)) = &region.firewall {
        for sid in &region.firewall_servers {
            touches.push(Touch {
                step: Step::Kill,
                kind: "hetzner/firewall".into(),
                name: name.clone(),
                id: Some(id.to_string()),
                action: format!("remove from server #{sid}"),
                undo: format!("apply to server #{sid}"),
            });
        }
    }
    for (id, name, _) in &region.control_planes {
        let (action, undo) = match options.server_kill {
            ServerKill::PowerOff => ("power off", "power on"),
            ServerKill::Terminate => ("delete (terminate)", "none: rebuilt by Phase 0"),
        };
        touches.push(Touch {
            step: Step::Kill,
            kind: "hetzner/server".into(),
            name: name.clone(),
            id: Some(id.to_string()),
            action: action.into(),
            undo: undo.into(),
        });
    }
    let (kind, name, action) = match options.promotion {
        Promotion::ContinuumSwitchover => (
            "kube/Continuum",
            format!("{namespace}/{cname}"),
            format!("request switchover to {replica_region}"),
        ),
        Promotion::HelmReleaseValue => (
            "kube/HelmRelease",
            format!("{namespace}/{replica_cluster}"),
            "set spec.values.cnpgPair.replica.promoted = true".to_string(),
        ),
    };
    touches.push(Touch {
        step: Step::Promote,
        kind: kind.into(),
        name,
        id: None,
        action,
        undo: "fail back in the reverse step".into(),
    });

    Ok(DrillPlan {
        target: fqdn.to_string(),
        namespace,
        continuum: cname,
        pair: pname,
        primary_cluster,
        replica_cluster,
        primary_region,
        replica_region,
        rto_seconds,
        rpo_seconds,
        options,
        region,
        preconditions: pre,
        touches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_s("60s"), Some(60));
        assert_eq!(parse_duration_s("2m"), Some(120));
        assert_eq!(parse_duration_s("1h"), Some(3600));
        assert_eq!(parse_duration_s("s"), None);
        assert_eq!(parse_duration_s("5d"), None);
    }
}
