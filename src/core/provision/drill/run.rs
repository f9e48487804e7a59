//! `drill run|resume|rollback|report`: the armed drill, journaled before and after every step so
//! a dropped SSH session (SIGHUP, a killed process, a dropped future) loses nothing: `resume`
//! continues from the journal, `rollback` undoes the steps in effect in reverse order.
//!
//! The probe's acknowledgement log is journaled with the kill step (the probe ends there: the
//! primary is gone), so a resumed run verifies exactly what the interrupted one saw acknowledged.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;
use hcloud::apis::{firewalls_api, load_balancers_api, servers_api};
use hcloud::models;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde::Serialize;
use serde_json::{Value, json};

use super::plan::{DrillPlan, cnpg_cluster_resource, continuum_resource};
use super::probe::{AckLog, Probe};
use super::report::{self, Report};
use super::steps::{Promotion, ServerKill, Step};
use super::target::DrillTarget;
use super::verdict::{ContinuumCheck, Verdict};
use super::verify;
use crate::config::private_fs;
use crate::provision::journal::{self, Event, Journal, Op, RunState};

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Acknowledged probe writes before the kill (the warm-up).
    pub warmup_rows: u64,
    /// How long to wait for the probe, the operator and the failback (beyond the RTO for promote).
    pub wait: Duration,
    /// Stop after this step is journaled done (tests: an abort or an interruption right there).
    pub stop_after: Option<Step>,
    /// Abort (roll back) instead of continuing after `stop_after`.
    pub abort: bool,
    /// Where the probe's counters are published while it writes (the cockpit's live view).
    pub progress: Option<tokio::sync::watch::Sender<super::probe::ProbeStats>>,
    /// How much faster than the wall clock the target's world runs (a simulated world at
    /// `--speed`): journaled with the plan so the report gives timings in both.
    pub world_speed: Option<f64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            warmup_rows: 200,
            wait: Duration::from_secs(120),
            stop_after: None,
            abort: false,
            progress: None,
            world_speed: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: String,
    /// The verdict — `passed`, `failed`, `unverified` (see [`super::verdict`]), or
    /// `passed_region_destroyed` for a pass whose kill terminated the region's control planes
    /// (see [`report::completed_outcome`]) — or how a run without one ended: `rolled_back`,
    /// `aborted`, `paused` (stopped on request, resumable). A run that lost acknowledged rows is
    /// `failed` however it ended.
    pub outcome: String,
    pub error: Option<String>,
}

/// A fresh drill id (`drill-<UTC stamp>-<6 hex>`).
pub fn new_id() -> String {
    journal::new_run_id(Op::Drill)
}

/// The journal of drill `id` under `state_dir`.
pub fn journal_path(state_dir: &Path, id: &str) -> std::path::PathBuf {
    journal::path(&journal::root(state_dir), Op::Drill, id)
}

fn replay(state_dir: &Path, id: &str) -> Result<RunState> {
    let path = journal_path(state_dir, id);
    if !path.exists() {
        let open: Vec<String> = journal::unfinished(&journal::root(state_dir))
            .of(Op::Drill)
            .map(|r| r.id.clone())
            .collect();
        bail!(
            "no drill {id} (looked for {}); {}",
            path.display(),
            if open.is_empty() {
                "no drill is unfinished".to_string()
            } else {
                format!("unfinished drills: {}", open.join(" "))
            }
        );
    }
    Ok(RunState::fold(&journal::read(&path)?.entries))
}

/// The Sovereign a journaled drill targets.
pub fn target_of(state_dir: &Path, id: &str) -> Result<String> {
    replay(state_dir, id)?
        .target
        .with_context(|| format!("drill {id}: journal has no plan"))
}

/// The report of a journaled drill.
pub fn report(state_dir: &Path, id: &str) -> Result<Report> {
    let path = journal_path(state_dir, id);
    let entries = journal::read(&path)?.entries;
    let data_plane = entries
        .iter()
        .find_map(|e| match &e.event {
            Event::Planned { plan, .. } => plan
                .get("data_plane")
                .and_then(|v| v.as_str())
                .map(String::from),
            _ => None,
        })
        .unwrap_or_else(|| "unknown".into());
    Ok(report::build(id, &data_plane, &entries))
}

/// Where a drill's Markdown and JSON reports are written.
pub fn report_dir(state_dir: &Path) -> std::path::PathBuf {
    state_dir.join("drill-reports")
}

/// Write the report of a journaled drill as `<id>.md` and `<id>.json` under [`report_dir`];
/// returns the Markdown file's path.
pub fn write_report(state_dir: &Path, id: &str) -> Result<std::path::PathBuf> {
    let r = report(state_dir, id)?;
    let dir = report_dir(state_dir);
    private_fs::own_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let md = dir.join(format!("{id}.md"));
    private_fs::replace_file(&md, r.to_markdown().as_bytes())
        .with_context(|| format!("writing {}", md.display()))?;
    let json = dir.join(format!("{id}.json"));
    private_fs::replace_file(&json, serde_json::to_string_pretty(&r)?.as_bytes())
        .with_context(|| format!("writing {}", json.display()))?;
    Ok(md)
}

/// The DSN a CNPG cluster publishes in its `<cluster>-app` Secret (`uri`), if any.
pub async fn cluster_dsn(kube: &kube::Client, ns: &str, cluster: &str) -> Result<Option<String>> {
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), ns);
    let Some(secret) = secrets.get_opt(&format!("{cluster}-app")).await? else {
        return Ok(None);
    };
    if let Some(uri) = secret.data.as_ref().and_then(|d| d.get("uri")) {
        return Ok(Some(
            String::from_utf8(uri.0.clone()).context("uri is not UTF-8")?,
        ));
    }
    Ok(secret.string_data.and_then(|d| d.get("uri").cloned()))
}

/// In-memory state of a run in progress.
struct Live {
    probe: Option<Probe>,
    acks: Option<AckLog>,
}

/// Start an armed drill on a ready plan.
pub async fn run(
    t: &DrillTarget,
    state_dir: &Path,
    plan: DrillPlan,
    opts: RunOptions,
) -> Result<Outcome> {
    let id = new_id();
    run_with_id(t, state_dir, plan, opts, &id).await
}

/// `run` with a chosen id (tests, and the cockpit which shows the id before starting).
pub async fn run_with_id(
    t: &DrillTarget,
    state_dir: &Path,
    plan: DrillPlan,
    opts: RunOptions,
    id: &str,
) -> Result<Outcome> {
    if !plan.ready() {
        let failed: Vec<&str> = plan
            .failed_preconditions()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        bail!(
            "the plan's preconditions do not hold ({}); refusing to start",
            failed.join(", ")
        );
    }
    let data_plane =
        super::dataplane::of_cluster(&t.kube, &plan.namespace, &plan.primary_cluster).await?;
    let mut j = Journal::create_with_id(&journal::root(state_dir), Op::Drill, id, &plan.target)?;
    let mut plan_doc = serde_json::to_value(&plan)?;
    plan_doc["data_plane"] = json!(data_plane);
    if let Some(speed) = opts.world_speed.filter(|s| s.is_finite() && *s > 0.0) {
        plan_doc["world_speed"] = json!(speed);
    }
    j.append(Event::Planned { plan: plan_doc })?;
    drive(t, &mut j, id, &plan, RunState::default(), opts).await
}

/// Continue an interrupted drill from its journal.
pub async fn resume(
    t: &DrillTarget,
    state_dir: &Path,
    id: &str,
    opts: RunOptions,
) -> Result<Outcome> {
    let state = replay(state_dir, id)?;
    if let Some(o) = &state.outcome {
        bail!("drill {id} already ended: {o}");
    }
    let plan: DrillPlan = serde_json::from_value(
        state
            .plan
            .clone()
            .with_context(|| format!("drill {id}: journal has no plan"))?,
    )
    .context("reading the journaled plan")?;
    let mut j = Journal::reopen(&journal_path(state_dir, id))?;
    if let Some(step) = &state.interrupted {
        // A step cut off mid-way: record that, then redo it (every step is idempotent).
        j.append(Event::StepFailed {
            step: step.clone(),
            error: "interrupted".into(),
        })?;
    }
    drive(t, &mut j, id, &plan, state, opts).await
}

/// Roll a drill back: undo its steps in effect, in reverse order.
pub async fn rollback(t: &DrillTarget, state_dir: &Path, id: &str) -> Result<Outcome> {
    rollback_as(t, state_dir, id, "rolled_back").await
}

/// [`rollback`], journaling `outcome` as how the run ended (`aborted` when the operator stopped a
/// run in progress).
pub async fn rollback_as(
    t: &DrillTarget,
    state_dir: &Path,
    id: &str,
    outcome: &str,
) -> Result<Outcome> {
    let state = replay(state_dir, id)?;
    if let Some(o) = &state.outcome {
        bail!("drill {id} already ended: {o}");
    }
    let plan: DrillPlan = serde_json::from_value(state.plan.clone().context("no plan")?)?;
    let mut j = Journal::reopen(&journal_path(state_dir, id))?;
    let mut state = state;
    if let Some(step) = state.interrupted.clone()
        && !step.starts_with("rollback:")
    {
        // A step cut off mid-way may have partly taken effect (some targets detached): undo
        // it too; every undo only puts back what is missing.
        j.append(Event::StepFailed {
            step: step.clone(),
            error: "interrupted".into(),
        })?;
        state.done.push((step, Value::Null));
    }
    unwind(t, &mut j, &plan, &state, &RunOptions::default()).await?;
    conclude(&mut j, id, Ended::Stopped(outcome), None)
}

/// How a run ended, before the verdict is applied.
enum Ended<'a> {
    /// Every step ran: the outcome is the verdict.
    Completed,
    /// Stopped before the end (`rolled_back`, `aborted`): that, unless the journal already
    /// shows a failure — a loss is never hidden behind a rollback.
    Stopped(&'a str),
}

/// Journal how the run ended, judged from the journal itself (the report reads the same).
fn conclude(j: &mut Journal, id: &str, ended: Ended, error: Option<String>) -> Result<Outcome> {
    let entries = journal::read(j.path())?.entries;
    let built = report::build(id, "unknown", &entries);
    let verdict = built.verdict();
    let outcome = match ended {
        Ended::Completed => report::completed_outcome(verdict, !built.region_destroyed.is_empty()),
        Ended::Stopped(_) if verdict == Verdict::Failed => verdict.as_str(),
        Ended::Stopped(how) => how,
    };
    j.finish(outcome, Value::Null)?;
    Ok(Outcome {
        id: id.into(),
        outcome: outcome.into(),
        error,
    })
}

async fn drive(
    t: &DrillTarget,
    j: &mut Journal,
    id: &str,
    plan: &DrillPlan,
    state: RunState,
    opts: RunOptions,
) -> Result<Outcome> {
    let mut live = Live {
        probe: None,
        acks: state
            .detail("kill")
            .and_then(|d| d.get("acks"))
            .and_then(|a| serde_json::from_value(a.clone()).ok()),
    };
    let mut state = state;
    for step in Step::ORDER {
        if state.is_done(step.name()) {
            continue;
        }
        // A resumed run that lost its probe before the kill restarts it (idempotent rows).
        j.append(Event::StepStarted {
            step: step.name().into(),
        })?;
        let started = std::time::Instant::now();
        match do_step(t, plan, id, step, &mut live, &state, &opts).await {
            Ok(mut detail) => {
                if step == Step::Promote {
                    detail["elapsed_ms"] = json!(started.elapsed().as_millis() as i64);
                }
                j.append(Event::StepDone {
                    step: step.name().into(),
                    detail: detail.clone(),
                })?;
                state.done.push((step.name().into(), detail));
            }
            Err(e) => {
                let msg = format!("{e:#}");
                tracing::warn!(drill = id, step = step.name(), "step failed: {msg}");
                j.append(Event::StepFailed {
                    step: step.name().into(),
                    error: msg.clone(),
                })?;
                if let Some(p) = live.probe.take() {
                    let _ = p.stop().await;
                }
                unwind(t, j, plan, &state, &opts).await?;
                return conclude(
                    j,
                    id,
                    Ended::Stopped("rolled_back"),
                    Some(format!("{}: {msg}", step.name())),
                );
            }
        }
        if opts.stop_after == Some(step) {
            if let Some(p) = live.probe.take() {
                let _ = p.stop().await;
            }
            if opts.abort {
                unwind(t, j, plan, &state, &opts).await?;
                return conclude(j, id, Ended::Stopped("aborted"), None);
            }
            return Ok(Outcome {
                id: id.into(),
                outcome: "paused".into(),
                error: None,
            });
        }
    }
    conclude(j, id, Ended::Completed, None)
}

async fn do_step(
    t: &DrillTarget,
    plan: &DrillPlan,
    id: &str,
    step: Step,
    live: &mut Live,
    state: &RunState,
    opts: &RunOptions,
) -> Result<Value> {
    match step {
        Step::Probe => {
            let Some(dsn) = cluster_dsn(&t.kube, &plan.namespace, &plan.primary_cluster).await?
            else {
                return Ok(
                    json!({"data_plane": "simulated", "note": "no Postgres behind the primary: no rows written"}),
                );
            };
            let data_plane = super::dataplane::identify(&dsn).await?;
            let mut probe = Probe::start(&dsn, id, Duration::ZERO).await?;
            if let Some(tx) = opts.progress.clone() {
                let mut rx = probe.stats();
                tokio::spawn(async move {
                    while rx.changed().await.is_ok() {
                        let stats = rx.borrow_and_update().clone();
                        // One slot, latest wins: a reader that falls behind skips snapshots
                        // it no longer needs.
                        if tx.send(stats).is_err() {
                            break;
                        }
                    }
                });
            }
            let stats = tokio::time::timeout(opts.wait, probe.wait_acked(opts.warmup_rows))
                .await
                .map_err(|_| {
                    anyhow!(
                        "the probe got fewer than {} acknowledgements",
                        opts.warmup_rows
                    )
                })?;
            live.probe = Some(probe);
            Ok(json!({"data_plane": data_plane, "acked_at_warmup": stats.acked}))
        }
        Step::Kill => {
            let killed_at = Utc::now();
            let touched = kill_region(t, plan).await?;
            let mut detail = json!({"touched": touched, "killed_at": killed_at.to_rfc3339()});
            if let Some(probe) = live.probe.take() {
                // The writer keeps going until the dead primary refuses it.
                let mut rx = probe.stats();
                let _ = tokio::time::timeout(opts.wait, rx.wait_for(|s| s.errors > 0)).await;
                let (stats, acks) = probe.stop().await?;
                detail["probe"] = serde_json::to_value(&stats)?;
                detail["acks"] = serde_json::to_value(&acks)?;
                live.acks = Some(acks);
            } else if state.is_done("probe")
                && state
                    .detail("probe")
                    .and_then(|d| d.get("data_plane"))
                    .and_then(Value::as_str)
                    .is_some_and(super::dataplane::writes_rows)
            {
                bail!(
                    "the probe was lost before the kill (interrupted run): roll back and start again"
                );
            }
            Ok(detail)
        }
        Step::Promote => {
            let started = std::time::Instant::now();
            request_promotion(t, plan).await?;
            // Wait past the RTO so an overrun is measured and judged, not just cut off.
            let rto = Duration::from_secs(plan.rto_seconds.max(1));
            let current = wait_current_primary(t, plan, rto + opts.wait)
                .await
                .with_context(|| {
                    format!(
                        "no new primary within {} s (RTO {} s)",
                        (rto + opts.wait).as_secs(),
                        plan.rto_seconds
                    )
                })?;
            // RTO as the operator sees it: from the kill to the promoted primary.
            let kill_ms = state
                .detail("kill")
                .and_then(|d| d.get("killed_at"))
                .and_then(|v| v.as_str())
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|k| (Utc::now() - k.with_timezone(&Utc)).num_milliseconds());
            let rto_ms = kill_ms.unwrap_or(started.elapsed().as_millis() as i64);
            let continuum = wait_continuum_failed_over(t, plan, opts.wait).await;
            Ok(json!({
                "new_primary": current,
                "rto_ms": rto_ms,
                "continuum": continuum,
                "touched": [{"kind": "kube", "name": promotion_target(plan), "action": "promote"}],
            }))
        }
        Step::Verify => {
            let Some(acks) = live.acks.clone() else {
                return Ok(json!({"data_plane": "simulated", "note": "no real rows to verify"}));
            };
            let dsn = cluster_dsn(&t.kube, &plan.namespace, &plan.replica_cluster)
                .await?
                .context("the new primary publishes no DSN")?;
            let (client, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls)
                .await
                .context("connecting the new primary")?;
            tokio::spawn(conn);
            let v = verify::verify(&client, id, &acks).await?;
            Ok(json!({"verification": v}))
        }
        Step::Reverse => {
            if plan.options.server_kill == ServerKill::Terminate {
                // A terminated control plane is gone for good: the Hetzner API cannot bring it
                // back, so there is no region to fail back to until Phase 0 rebuilds it. That is
                // what the operator chose, not a failure of the failover: put back what still
                // exists, leave the Sovereign failed over, and let the outcome say the region is
                // destroyed (`passed_region_destroyed`, see `report::completed_outcome`).
                restore_region(t, plan).await?;
                return Ok(json!({
                    "restored": false,
                    "region_destroyed": true,
                    "note": "control planes terminated (--kill terminate): no failback until Phase 0 rebuilds the region",
                }));
            }
            restore_region(t, plan).await?;
            request_failback(t, plan).await?;
            wait_failed_back(t, plan, opts.wait).await?;
            Ok(json!({"restored": true}))
        }
    }
}

/// Undo the steps in effect, newest first.
async fn unwind(
    t: &DrillTarget,
    j: &mut Journal,
    plan: &DrillPlan,
    state: &RunState,
    opts: &RunOptions,
) -> Result<()> {
    let done: Vec<String> = state.done.iter().map(|(s, _)| s.clone()).collect();
    for name in done.iter().rev() {
        let Some(step) = Step::parse(name) else {
            continue;
        };
        if !step.has_rollback() || step == Step::Reverse {
            continue;
        }
        j.append(Event::RollbackStarted { step: name.clone() })?;
        match step {
            Step::Kill => restore_region(t, plan).await?,
            Step::Promote => {
                let killed = done.iter().any(|d| d == "kill");
                if killed && plan.options.server_kill == ServerKill::Terminate {
                    // The old primary's region is gone: there is nothing to fail back to until
                    // Phase 0 rebuilds it, so the Sovereign stays failed over (the report says
                    // the region is destroyed). Put back what still exists.
                    restore_region(t, plan).await?;
                } else {
                    request_failback(t, plan).await?;
                    // The region must be back before the old primary can rejoin.
                    if killed {
                        restore_region(t, plan).await?;
                    }
                    wait_failed_back(t, plan, opts.wait).await?;
                }
            }
            _ => {}
        }
        j.append(Event::RollbackDone { step: name.clone() })?;
    }
    Ok(())
}

fn promotion_target(plan: &DrillPlan) -> String {
    match plan.options.promotion {
        Promotion::ContinuumSwitchover => {
            format!("Continuum {}/{}", plan.namespace, plan.continuum)
        }
        Promotion::HelmReleaseValue => {
            format!("HelmRelease {}/{}", plan.namespace, plan.replica_cluster)
        }
    }
}

async fn kill_region(t: &DrillTarget, plan: &DrillPlan) -> Result<Vec<Value>> {
    let h = &t.hetzner;
    let mut touched = Vec::new();
    if let Some((lb_id, lb_name)) = &plan.region.load_balancer {
        for target in &plan.region.lb_targets {
            let (id, sid) = (*lb_id, target.server_id);
            let mut req =
                models::RemoveTargetRequest::new(models::remove_target_request::Type::Server);
            req.server = Some(Box::new(models::ResourceId::new(sid)));
            let r = h
                .call("removing a load balancer target", move |cfg| {
                    let req = req.clone();
                    async move {
                        load_balancers_api::remove_target(
                            &cfg,
                            load_balancers_api::RemoveTargetParams {
                                id,
                                remove_target_request: req,
                            },
                        )
                        .await
                    }
                })
                .await;
            match r {
                Ok(r) => h.await_action("removing a target", &r.action).await?,
                // Already gone (a resumed kill): the end state is what counts.
                Err(e)
                    if e.code() == Some("load_balancer_target_not_found") || e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
            touched.push(json!({"kind": "hetzner/load_balancer", "name": lb_name, "id": lb_id, "action": format!("remove target server #{sid}")}));
        }
    }
    if let Some((fw_id, fw_name)) = &plan.region.firewall
        && !plan.region.firewall_servers.is_empty()
    {
        let id = *fw_id;
        let resources: Vec<models::FirewallResource> = plan
            .region
            .firewall_servers
            .iter()
            .map(|sid| {
                let mut r = models::FirewallResource::new(models::firewall_resource::Type::Server);
                r.server = Some(Box::new(models::ResourceId::new(*sid)));
                r
            })
            .collect();
        let r = h
            .call("removing the firewall from servers", move |cfg| {
                let req = models::RemoveFromResourcesRequest::new(resources.clone());
                async move {
                    firewalls_api::remove_from_resources(
                        &cfg,
                        firewalls_api::RemoveFromResourcesParams {
                            id,
                            remove_from_resources_request: req,
                        },
                    )
                    .await
                }
            })
            .await;
        match r {
            Ok(r) => h.await_actions("removing the firewall", &r.actions).await?,
            Err(e) if e.code() == Some("firewall_resource_not_found") => {}
            Err(e) => return Err(e.into()),
        }
        touched.push(json!({"kind": "hetzner/firewall", "name": fw_name, "id": fw_id, "action": format!("remove from servers {:?}", plan.region.firewall_servers)}));
    }
    for (sid, name, _) in &plan.region.control_planes {
        let id = *sid;
        match plan.options.server_kill {
            ServerKill::PowerOff => {
                let r = h
                    .call(
                        "powering off a control-plane server",
                        move |cfg| async move {
                            servers_api::power_off_server(
                                &cfg,
                                servers_api::PowerOffServerParams { id },
                            )
                            .await
                        },
                    )
                    .await?;
                h.await_action("powering off", &r.action).await?;
            }
            ServerKill::Terminate => {
                match crate::provision::hetzner::inventory::delete(
                    h,
                    crate::provision::hetzner::inventory::Kind::Server,
                    id,
                )
                .await
                {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        touched.push(json!({"kind": "hetzner/server", "name": name, "id": sid, "action": match plan.options.server_kill { ServerKill::PowerOff => "power off", ServerKill::Terminate => "terminate" }}));
    }
    Ok(touched)
}

/// Put the primary region's objects back exactly as the plan found them.
pub async fn restore_region(t: &DrillTarget, plan: &DrillPlan) -> Result<()> {
    let h = &t.hetzner;
    // Terminated control planes are gone (Phase 0 rebuilds and re-attaches them): restore the
    // attachments of the servers that still exist.
    let gone: Vec<i64> = match plan.options.server_kill {
        ServerKill::Terminate => plan
            .region
            .control_planes
            .iter()
            .map(|(id, _, _)| *id)
            .collect(),
        ServerKill::PowerOff => Vec::new(),
    };
    if plan.options.server_kill == ServerKill::PowerOff {
        // The kill powers off every planned control plane, so the undo powers every one back
        // on, except one that was already off when the plan was made (that is how it was found).
        // Skipping all but `running` left a server planned while still `initializing` off for
        // good, and the failback waited for a region that never came back.
        for (sid, _, status) in &plan.region.control_planes {
            if status == "off" {
                continue;
            }
            let id = *sid;
            let r = h
                .call(
                    "powering on a control-plane server",
                    move |cfg| async move {
                        servers_api::power_on_server(&cfg, servers_api::PowerOnServerParams { id })
                            .await
                    },
                )
                .await?;
            h.await_action("powering on", &r.action).await?;
        }
    }
    if let Some((fw_id, _)) = &plan.region.firewall
        && !plan.region.firewall_servers.is_empty()
    {
        let id = *fw_id;
        let fw = h
            .call("reading the firewall", move |cfg| async move {
                firewalls_api::get_firewall(&cfg, firewalls_api::GetFirewallParams { id }).await
            })
            .await?;
        let applied: Vec<i64> = fw
            .firewall
            .applied_to
            .iter()
            .filter_map(|a| a.server.as_ref().map(|s| s.id))
            .collect();
        let missing: Vec<models::FirewallResource> = plan
            .region
            .firewall_servers
            .iter()
            .filter(|s| !applied.contains(s) && !gone.contains(s))
            .map(|sid| {
                let mut r = models::FirewallResource::new(models::firewall_resource::Type::Server);
                r.server = Some(Box::new(models::ResourceId::new(*sid)));
                r
            })
            .collect();
        if !missing.is_empty() {
            let r = h
                .call("re-applying the firewall", move |cfg| {
                    let req = models::ApplyToResourcesRequest::new(missing.clone());
                    async move {
                        firewalls_api::apply_to_resources(
                            &cfg,
                            firewalls_api::ApplyToResourcesParams {
                                id,
                                apply_to_resources_request: req,
                            },
                        )
                        .await
                    }
                })
                .await?;
            h.await_actions("re-applying the firewall", &r.actions)
                .await?;
        }
    }
    if let Some((lb_id, _)) = &plan.region.load_balancer {
        let id = *lb_id;
        let lb = h
            .call("reading the load balancer", move |cfg| async move {
                load_balancers_api::get_load_balancer(
                    &cfg,
                    load_balancers_api::GetLoadBalancerParams { id },
                )
                .await
            })
            .await?;
        let present: Vec<i64> = lb
            .load_balancer
            .targets
            .iter()
            .filter_map(|t| t.server.as_ref().map(|s| s.id))
            .collect();
        for target in plan
            .region
            .lb_targets
            .iter()
            .filter(|t| !present.contains(&t.server_id) && !gone.contains(&t.server_id))
        {
            let mut add =
                models::LoadBalancerAddTarget::new(models::load_balancer_add_target::Type::Server);
            add.server = Some(Box::new(models::ResourceId::new(target.server_id)));
            add.use_private_ip = Some(target.use_private_ip);
            let r = h
                .call("re-adding a load balancer target", move |cfg| {
                    let add = add.clone();
                    async move {
                        load_balancers_api::add_target(
                            &cfg,
                            load_balancers_api::AddTargetParams {
                                id,
                                load_balancer_add_target: add,
                            },
                        )
                        .await
                    }
                })
                .await?;
            h.await_action("re-adding a target", &r.action).await?;
        }
    }
    Ok(())
}

async fn request_promotion(t: &DrillTarget, plan: &DrillPlan) -> Result<()> {
    let pp = PatchParams::default();
    match plan.options.promotion {
        Promotion::ContinuumSwitchover => {
            let api: Api<DynamicObject> =
                Api::namespaced_with(t.kube.clone(), &plan.namespace, &continuum_resource());
            api.patch(
                &plan.continuum,
                &pp,
                &Patch::Merge(json!({"spec": {"switchoverRequest": {
                    "to": switchover_to(plan), "reason": "operator-requested",
                    "requestedAt": Utc::now().to_rfc3339(), "initiatedBy": "sovtui drill"}}})),
            )
            .await
            .context("requesting the Continuum switchover")?;
        }
        Promotion::HelmReleaseValue => {
            let hr = kube::core::ApiResource::from_gvk_with_plural(
                &kube::core::GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
                "helmreleases",
            );
            let api: Api<DynamicObject> =
                Api::namespaced_with(t.kube.clone(), &plan.namespace, &hr);
            api.patch(
                &plan.replica_cluster,
                &pp,
                &Patch::Merge(
                    json!({"spec": {"values": {"cnpgPair": {"replica": {"promoted": true}}}}}),
                ),
            )
            .await
            .context(
                "setting spec.values.cnpgPair.replica.promoted on the replica's HelmRelease",
            )?;
        }
    }
    Ok(())
}

async fn request_failback(t: &DrillTarget, plan: &DrillPlan) -> Result<()> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(t.kube.clone(), &plan.namespace, &continuum_resource());
    api.patch(
        &plan.continuum,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"failbackRequest": {
            "to": plan.primary_region, "reason": "failback",
            "requestedAt": Utc::now().to_rfc3339(), "approved": true}}})),
    )
    .await
    .context("requesting the failback")?;
    Ok(())
}

async fn wait_current_primary(
    t: &DrillTarget,
    plan: &DrillPlan,
    deadline: Duration,
) -> Result<String> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(t.kube.clone(), &plan.namespace, &cnpg_cluster_resource());
    let poll = async {
        loop {
            if let Ok(c) = api.get(&plan.replica_cluster).await
                && let Some(p) = c
                    .data
                    .pointer("/status/currentPrimary")
                    .and_then(|v| v.as_str())
                && !p.is_empty()
            {
                return p.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(deadline, poll).await.map_err(|_| {
        anyhow!(
            "status.currentPrimary of {} still empty",
            plan.replica_cluster
        )
    })
}

async fn wait_failed_back(t: &DrillTarget, plan: &DrillPlan, deadline: Duration) -> Result<()> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(t.kube.clone(), &plan.namespace, &continuum_resource());
    let poll = async {
        loop {
            if let Ok(c) = api.get(&plan.continuum).await {
                let phase = c.data.pointer("/status/phase").and_then(|v| v.as_str());
                let pending = c
                    .data
                    .pointer("/spec/failbackRequest")
                    .is_some_and(|v| !v.is_null());
                if phase == Some("Healthy") && !pending {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(deadline, poll).await.map_err(|_| {
        anyhow!(
            "Continuum {} did not return to Healthy after the failback",
            plan.continuum
        )
    })
}

/// The Continuum names regions by host cluster (`spec.hotStandbyRegions`); plans journaled before
/// that was recorded fall back to the pair's replica region.
fn switchover_to(plan: &DrillPlan) -> &str {
    if plan.continuum_standby.is_empty() {
        &plan.replica_region
    } else {
        &plan.continuum_standby
    }
}

/// After the promotion the Continuum must say so (contract §7.6 step 6): `FailedOver` with a new
/// `lastSwitchover` to the standby. Waits up to `deadline` for that (or a `Failed` phase), then
/// returns what it last saw — a Continuum that did not switch fails the drill, it does not stop it.
async fn wait_continuum_failed_over(
    t: &DrillTarget,
    plan: &DrillPlan,
    deadline: Duration,
) -> ContinuumCheck {
    let api: Api<DynamicObject> =
        Api::namespaced_with(t.kube.clone(), &plan.namespace, &continuum_resource());
    let expected = if plan.continuum_standby.is_empty() {
        ""
    } else {
        plan.continuum_standby.as_str()
    };
    let mut last = ContinuumCheck {
        evidence: format!("Continuum {} could not be read", plan.continuum),
        ..ContinuumCheck::default()
    };
    let until = tokio::time::Instant::now() + deadline;
    loop {
        match api.get(&plan.continuum).await {
            Ok(c) => {
                last =
                    ContinuumCheck::judge(&c.data, plan.last_switchover_before.as_ref(), expected);
                if last.switched || last.phase.as_deref() == Some("Failed") {
                    return last;
                }
            }
            Err(e) => {
                last.evidence = format!("Continuum {} could not be read: {e}", plan.continuum)
            }
        }
        if tokio::time::Instant::now() >= until {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
