//! The simulated Continuum / CNPG operator of one Sovereign: what the real controllers do during a
//! region-kill drill (contract §7.5/§7.6), driven by what the drill does through the real APIs.
//!
//! * the primary region's control-plane servers go off or away in the Hetzner project → the
//!   primary Cluster loses its instance, the pair stops streaming, the Continuum is `Degraded`
//!   (and with a real data plane the primary's postmaster is killed);
//! * `spec.switchoverRequest` on the Continuum, or `spec.values.cnpgPair.replica.promoted: true`
//!   on the replica's HelmRelease → `SwitchingOver`, promotion (`pg_promote` on a real pair),
//!   `status.currentPrimary` on the replica Cluster, Continuum `FailedOver` with `lastSwitchover`;
//! * `spec.failbackRequest` once the region is back → the old primary rejoins and a switchover
//!   puts it back in charge; everything `Healthy` / `Streaming` again.
//!
//! Each Cluster publishes its DSN in a Secret `<cluster>-app` (`uri`), as CNPG does; without a real
//! data plane there is no such Secret and the drill labels its data plane `simulated`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, anyhow};
use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::dataplane::DataPlane;
use super::hetzner::sovereign::{ROLE_LABEL, SOVEREIGN_LABEL};
use super::hetzner::{HetznerControl, Kind};
use super::kube::SimCluster;

/// The running operator; dropping it stops it.
pub struct Operator {
    task: tokio::task::JoinHandle<()>,
    held: Arc<AtomicBool>,
}

impl Operator {
    /// While held, a switchover request waits unanswered: a test can then act on a drill that
    /// is provably inside its promote step instead of racing it.
    pub fn hold_switchovers(&self, held: bool) {
        self.held.store(held, Ordering::SeqCst);
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
struct State {
    /// The primary region has been seen with every control plane running. Only a region seen up
    /// can be lost: servers still `initializing` right after the world starts are booting, and
    /// taking that for a region kill failed the pair over before anyone had touched it.
    seen_up: bool,
    killed: bool,
    failed_over: bool,
}

/// Faults the operator can be told to play (tests of what the drill makes of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// The Continuum controller never finishes a switchover: the replica is promoted but the
    /// Continuum stays `SwitchingOver` with no new `lastSwitchover`.
    pub continuum_stalls: bool,
    /// Switchover requests are not acted on (set through [`Operator::hold_switchovers`]).
    pub switchovers_held: bool,
}

/// Start the operator of `fqdn` on its apiserver and the Hetzner project, with a real Postgres
/// pair (nodes named after the two Clusters) or none (simulated data plane).
pub fn start(
    cluster: SimCluster,
    hetzner: HetznerControl,
    fqdn: String,
    pg: Option<Arc<Mutex<DataPlane>>>,
    faults: Faults,
) -> Operator {
    let held = Arc::new(AtomicBool::new(false));
    let hold = held.clone();
    let task = tokio::spawn(async move {
        let mut state = State::default();
        loop {
            let faults = Faults {
                switchovers_held: hold.load(Ordering::SeqCst),
                ..faults
            };
            if let Err(e) = tick(&cluster, &hetzner, &fqdn, pg.as_ref(), faults, &mut state).await {
                tracing::warn!(sovereign = %fqdn, "simulated operator: {e:#}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    Operator { task, held }
}

fn s<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

fn patch(c: &SimCluster, kind: &str, ns: &str, name: &str, p: Value) -> Result<()> {
    c.merge_patch(kind, ns, name, p)
        .map(|_| ())
        .map_err(|e| anyhow!("patching {kind} {ns}/{name}: {e:?}"))
}

/// Whether every control-plane server of `region` is running.
fn region_up(h: &HetznerControl, fqdn: &str, region: &str) -> Result<bool> {
    let servers = h
        .list(Kind::Server, Some(&format!("{SOVEREIGN_LABEL}={fqdn}")))
        .map_err(|e| anyhow!("listing servers: {e:?}"))?;
    let cps: Vec<&Value> = servers
        .iter()
        .filter(|s| {
            s.pointer(&format!("/labels/{}", ROLE_LABEL.replace('/', "~1")))
                == Some(&json!("control-plane"))
        })
        .filter(|s| s.pointer("/location/name").and_then(Value::as_str) == Some(region))
        .collect();
    Ok(!cps.is_empty()
        && cps
            .iter()
            .all(|s| s.get("status") == Some(&json!("running"))))
}

async fn publish_dsns(c: &SimCluster, ns: &str, pg: &Mutex<DataPlane>) -> Result<()> {
    let pair = pg.lock().await;
    for node in [pair.primary(), pair.replica()] {
        let name = format!("{}-app", node.name);
        if c.get("Secret", ns, &name).is_some() {
            continue;
        }
        let uri = format!(
            "postgresql://postgres@127.0.0.1:{}/postgres?connect_timeout=5",
            node.port
        );
        c.apply(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": ns, "labels": {"cnpg.io/cluster": node.name}},
            "type": "kubernetes.io/basic-auth",
            "data": {"uri": base64::engine::general_purpose::STANDARD.encode(uri)},
        }))
        .map_err(|e| anyhow!("publishing {name}: {e:?}"))?;
    }
    Ok(())
}

async fn tick(
    c: &SimCluster,
    h: &HetznerControl,
    fqdn: &str,
    pg: Option<&Arc<Mutex<DataPlane>>>,
    faults: Faults,
    st: &mut State,
) -> Result<()> {
    let Ok(continuums) = c.list("Continuum", None) else {
        return Ok(());
    };
    let Some(cont) = continuums.first() else {
        return Ok(());
    };
    let ns = s(cont, "/metadata/namespace")
        .unwrap_or("default")
        .to_string();
    let cname = s(cont, "/metadata/name").unwrap_or_default().to_string();
    let app = s(cont, "/spec/applicationRef")
        .unwrap_or(&cname)
        .to_string();
    let Some(pair) = c.get("CNPGPair", &ns, &app) else {
        return Ok(());
    };
    let primary = s(&pair, "/spec/primaryCluster")
        .unwrap_or_default()
        .to_string();
    let replica = s(&pair, "/spec/replicaCluster")
        .unwrap_or_default()
        .to_string();
    let primary_region = s(&pair, "/spec/primaryRegion")
        .unwrap_or_default()
        .to_string();
    let replica_region = s(&pair, "/spec/replicaRegion")
        .unwrap_or_default()
        .to_string();
    let home = s(cont, "/spec/primaryRegion")
        .unwrap_or_default()
        .to_string();
    let standby = cont
        .pointer("/spec/hotStandbyRegions/0")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Some(pg) = pg {
        publish_dsns(c, &ns, pg).await?;
    }
    let up = region_up(h, fqdn, &primary_region)?;
    st.seen_up |= up;

    if !up && st.seen_up && !st.killed {
        st.killed = true;
        if let Some(pg) = pg {
            pg.lock().await.kill_primary().await?;
        }
        patch(
            c,
            "Cluster",
            &ns,
            &primary,
            json!({"status": {"readyInstances": 0, "phase": "Cluster is unreachable",
            "conditions": [{"type": "Ready", "status": "False", "reason": "InstancesUnreachable", "message": format!("region {primary_region} lost")}]}}),
        )?;
        patch(
            c,
            "CNPGPair",
            &ns,
            &app,
            json!({"status": {"phase": "Degraded", "streaming": false}}),
        )?;
        if !st.failed_over {
            patch(
                c,
                "Continuum",
                &ns,
                &cname,
                json!({"status": {"phase": "Degraded"}}),
            )?;
        }
    }

    let hr_promoted = c.get("HelmRelease", &ns, &replica).and_then(|hr| {
        hr.pointer("/spec/values/cnpgPair/replica/promoted")
            .cloned()
    }) == Some(json!(true));
    let requested = cont
        .pointer("/spec/switchoverRequest")
        .is_some_and(|v| !v.is_null());
    if (requested || hr_promoted) && !st.failed_over && !faults.switchovers_held {
        patch(
            c,
            "Continuum",
            &ns,
            &cname,
            json!({"status": {"phase": "SwitchingOver"}}),
        )?;
        if let Some(pg) = pg {
            pg.lock().await.promote_replica().await?;
        }
        let now = chrono::Utc::now().to_rfc3339();
        patch(
            c,
            "Cluster",
            &ns,
            &replica,
            json!({"spec": {"replica": {"enabled": false}},
            "status": {"currentPrimary": format!("{replica}-1"), "readyInstances": 1}}),
        )?;
        patch(
            c,
            "CNPGPair",
            &ns,
            &app,
            json!({"status": {"phase": "Degraded", "streaming": false, "currentPrimaryRegion": replica_region}}),
        )?;
        let continuum = if faults.continuum_stalls {
            json!({"spec": {"switchoverRequest": null}, "status": {"phase": "SwitchingOver"}})
        } else {
            json!({
            "spec": {"switchoverRequest": null},
            "status": {"phase": "FailedOver", "primaryRegion": standby, "leaseHolder": standby,
                "lastSwitchover": {"at": now, "from": home, "to": standby,
                    "reason": s(cont, "/spec/switchoverRequest/reason").unwrap_or("operator-requested"),
                    "initiatedBy": s(cont, "/spec/switchoverRequest/initiatedBy").unwrap_or("sovtui")}}})
        };
        patch(c, "Continuum", &ns, &cname, continuum)?;
        st.failed_over = true;
    }

    if requested && st.failed_over {
        // A repeated request (a resumed drill re-sends it): already done, acknowledge it.
        patch(
            c,
            "Continuum",
            &ns,
            &cname,
            json!({"spec": {"switchoverRequest": null}}),
        )?;
    }

    let failback = cont
        .pointer("/spec/failbackRequest")
        .is_some_and(|v| !v.is_null());
    if failback && up {
        if st.failed_over {
            if let Some(pg) = pg {
                let mut pair = pg.lock().await;
                pair.rejoin_old_primary().await?;
                pair.switchover().await?;
            }
            if hr_promoted {
                patch(
                    c,
                    "HelmRelease",
                    &ns,
                    &replica,
                    json!({"spec": {"values": {"cnpgPair": {"replica": {"promoted": false}}}}}),
                )?;
            }
        } else if st.killed && pg.is_some() {
            return Err(anyhow!(
                "the killed primary cannot be restarted without a promotion in this simulator"
            ));
        }
        restore_healthy(
            c,
            &ns,
            &cname,
            &app,
            &primary,
            &replica,
            &primary_region,
            &home,
            &standby,
        )?;
        st.failed_over = false;
        st.killed = false;
    } else if up && st.killed && !st.failed_over && pg.is_none() {
        // The region came back without a promotion (an abort after the kill).
        restore_healthy(
            c,
            &ns,
            &cname,
            &app,
            &primary,
            &replica,
            &primary_region,
            &home,
            &standby,
        )?;
        st.killed = false;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn restore_healthy(
    c: &SimCluster,
    ns: &str,
    cname: &str,
    app: &str,
    primary: &str,
    replica: &str,
    primary_region: &str,
    home: &str,
    standby: &str,
) -> Result<()> {
    let ready = json!([{"type": "Ready", "status": "True", "reason": "ClusterIsReady", "message": "Cluster is Ready"}]);
    patch(
        c,
        "Cluster",
        ns,
        primary,
        json!({"status": {"readyInstances": 1, "phase": "Cluster in healthy state", "currentPrimary": format!("{primary}-1"), "conditions": ready}}),
    )?;
    patch(
        c,
        "Cluster",
        ns,
        replica,
        json!({"spec": {"replica": {"enabled": true}}, "status": {"currentPrimary": null, "readyInstances": 1, "conditions": ready}}),
    )?;
    patch(
        c,
        "CNPGPair",
        ns,
        app,
        json!({"status": {"phase": "Streaming", "streaming": true, "currentPrimaryRegion": primary_region, "walLagSeconds": 0}}),
    )?;
    patch(
        c,
        "Continuum",
        ns,
        cname,
        json!({"spec": {"failbackRequest": null},
        "status": {"phase": "Healthy", "primaryRegion": home, "leaseHolder": home, "replicationLag": {standby: "0s"}}}),
    )?;
    Ok(())
}
