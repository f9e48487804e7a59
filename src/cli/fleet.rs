//! `sovtui fleet status|watch|join`: the fleet library without the cockpit.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{CliError, CliResult, FleetCommand, FluxActionArgs};
use crate::config::paths;
use crate::provision::fleet::arrange::{
    FleetIndex, GroupBy, GroupKey, Health, HealthCounts, Order, summary_line, thousands,
};
use crate::provision::fleet::model::{ComponentStatus, SovereignStatus};
use crate::provision::fleet::{
    AuditRecord, Fleet, FleetEvent, FleetOptions, FleetSnapshot, FluxAction,
};
use crate::provision::flux::ComponentState;

pub fn run(config: Option<PathBuf>, cmd: FleetCommand) -> CliResult {
    let path = config.unwrap_or_else(paths::fleet_file);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.into()))?;
    rt.block_on(async {
        match cmd {
            FleetCommand::Status {
                json,
                timeout,
                group_by,
            } => status(&path, json, Duration::from_secs(timeout), group_by).await,
            FleetCommand::Watch { json } => watch(&path, json).await,
            FleetCommand::Reconcile(args) => act(&path, FluxAction::Reconcile, args).await,
            FleetCommand::Suspend(args) => act(&path, FluxAction::Suspend, args).await,
            FleetCommand::Resume(args) => act(&path, FluxAction::Resume, args).await,
            FleetCommand::Join {
                fqdn,
                api,
                deployment,
                tags,
                no_verify,
                json,
            } => {
                let entry = crate::config::fleet_file::JoinEntry {
                    fqdn,
                    catalyst_api: api,
                    deployment_id: deployment,
                    tags,
                };
                join(&path, entry, !no_verify, json).await
            }
        }
    })
}

/// One Sovereign in `fleet status --json`: the full status plus the summary columns.
#[derive(Debug, Serialize)]
pub struct SovereignReport<'a> {
    #[serde(flatten)]
    pub status: &'a SovereignStatus,
    pub synced: bool,
    pub stale_for_seconds: Option<i64>,
    pub counts: BTreeMap<ComponentState, usize>,
    pub worst: Option<&'a ComponentStatus>,
    /// The Sovereign's overall state, as the cockpit groups and summarises it.
    pub health: Health,
}

/// One group of `fleet status --group-by`: the cockpit's group header and its rows.
#[derive(Debug, Serialize)]
pub struct GroupReport<'a> {
    pub group: GroupKey,
    pub label: String,
    pub count: usize,
    /// Sovereigns per health, worst first (only the non-zero ones).
    pub health: BTreeMap<Health, usize>,
    /// FQDNs in the cockpit's order.
    pub sovereigns: Vec<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct StatusReport<'a> {
    pub fleet_file: Option<&'a Path>,
    pub file_error: Option<String>,
    /// Every cluster synced (or in a state waiting cannot cure) before the timeout.
    pub complete: bool,
    pub generated_at: DateTime<Utc>,
    /// Sovereigns per health (the cockpit's summary line).
    pub summary: BTreeMap<Health, usize>,
    pub sovereigns: Vec<SovereignReport<'a>>,
    /// With `--group-by`: the groups, worst first (by worst state) or by tag name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupReport<'a>>>,
}

/// The groups of the fleet as the cockpit shows them (same rule: `provision::fleet::arrange`).
pub fn groups(snap: &FleetSnapshot, group_by: GroupBy) -> Vec<GroupReport<'_>> {
    let ix = FleetIndex::new(&snap.sovereigns, group_by, Order::Natural);
    let mut out: Vec<GroupReport> = ix
        .groups()
        .iter()
        .map(|g| GroupReport {
            group: g.key.clone(),
            label: g.key.label(),
            count: g.counts.total(),
            health: g.counts.to_map(),
            sovereigns: Vec::new(),
        })
        .collect();
    for r in ix.rows() {
        if let (Some(i), Some(g)) = (r.sovereign(), out.get_mut(r.group())) {
            g.sovereigns.push(snap.sovereigns[i].fqdn.as_str());
        }
    }
    out
}

pub fn report(snap: &FleetSnapshot, now: DateTime<Utc>) -> StatusReport<'_> {
    let mut summary = HealthCounts::default();
    for s in &snap.sovereigns {
        summary.add(Health::of(s));
    }
    StatusReport {
        summary: summary.to_map(),
        groups: None,
        fleet_file: snap.path.as_deref(),
        file_error: snap.file_error.as_ref().map(|e| e.to_string()),
        complete: snap.settled(),
        generated_at: now,
        sovereigns: snap
            .sovereigns
            .iter()
            .map(|s| SovereignReport {
                status: s,
                synced: snap.synced.contains(&s.fqdn),
                stale_for_seconds: s.stale_for(now),
                counts: s.counts(),
                worst: s.worst(),
                health: Health::of(s),
            })
            .collect(),
    }
}

fn start(
    path: &Path,
) -> Result<
    (
        crate::provision::fleet::FleetHandle,
        tokio::sync::mpsc::Receiver<FleetEvent>,
    ),
    CliError,
> {
    Fleet::start(path, FleetOptions::default()).map_err(|e| CliError::usage(e.to_string()))
}

async fn status(
    path: &Path,
    json: bool,
    timeout: Duration,
    group_by: Option<GroupBy>,
) -> CliResult {
    let (handle, mut events) = start(path)?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut snap = handle.snapshot().await.map_err(CliError::Failed)?;
    while !snap.settled() {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(_)) => {
                // Drain what is queued before asking again.
                while events.try_recv().is_ok() {}
                snap = handle.snapshot().await.map_err(CliError::Failed)?;
            }
            Ok(None) | Err(_) => {
                snap = handle.snapshot().await.map_err(CliError::Failed)?;
                break;
            }
        }
    }
    let now = Utc::now();
    let mut rep = report(&snap, now);
    rep.groups = group_by.map(|g| groups(&snap, g));
    if !rep.complete {
        say!(
            "sovtui: not every cluster synced within {}s; showing what is known",
            timeout.as_secs()
        );
    }
    if json {
        let text = serde_json::to_string(&rep).map_err(|e| CliError::Failed(e.into()))?;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    } else {
        match &rep.groups {
            // Grouped: each group's header (what the cockpit shows), then its Sovereigns.
            Some(groups) if group_by != Some(GroupBy::None) => {
                let by_fqdn: std::collections::HashMap<&str, &SovereignReport> = rep
                    .sovereigns
                    .iter()
                    .map(|s| (s.status.fqdn.as_str(), s))
                    .collect();
                for g in groups {
                    let mut counts = HealthCounts::default();
                    for (h, n) in &g.health {
                        counts.0[h.rank()] = *n;
                    }
                    say!(
                        "{} · {} — {}",
                        g.label,
                        thousands(g.count),
                        counts.describe()
                    );
                    for f in &g.sovereigns {
                        if let Some(s) = by_fqdn.get(f) {
                            say!("  {}", human_line(s));
                        }
                    }
                }
            }
            _ => {
                for s in &rep.sovereigns {
                    say!("{}", human_line(s));
                }
            }
        }
        let mut totals = HealthCounts::default();
        for s in &rep.sovereigns {
            totals.add(s.health);
        }
        say!("{}", summary_line(&totals, 200));
    }
    Ok(())
}

fn human_line(s: &SovereignReport<'_>) -> String {
    let tags = if s.status.tags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", s.status.tags.join(","))
    };
    let counts: Vec<String> = s
        .counts
        .iter()
        .map(|(state, n)| format!("{state} {n}"))
        .collect();
    let stale = s
        .stale_for_seconds
        .map(|n| format!(" (stale for {n}s)"))
        .unwrap_or_default();
    let worst = s
        .worst
        .map(|c| {
            format!(
                "  worst: {} {} — {}",
                c.id(),
                c.state,
                crate::provision::safe_text::one_line(&c.message)
            )
        })
        .unwrap_or_default();
    use crate::provision::fleet::model::ConnectionState as C;
    let why = match &s.status.connection {
        C::Degraded { error, .. }
        | C::Unreachable { error, .. }
        | C::Forbidden { error }
        | C::AuthExpired { error } => format!(" ({error})"),
        C::Connecting | C::Live => String::new(),
    };
    format!(
        "{}{tags}  {}{why}{stale}  {}{worst}",
        s.status.fqdn,
        s.status.connection.label(),
        if counts.is_empty() {
            "no components".to_string()
        } else {
            counts.join(" · ")
        }
    )
}

/// What `fleet reconcile|suspend|resume --json` prints: one audit record per HelmRelease acted
/// on (the `succeeded`/`failed` line the audit log holds), and the errors.
#[derive(Debug, Serialize)]
pub struct ActionReport {
    pub fqdn: String,
    pub action: FluxAction,
    pub audit_log: PathBuf,
    pub done: Vec<AuditRecord>,
    pub failed: Vec<ActionFailure>,
}

#[derive(Debug, Serialize)]
pub struct ActionFailure {
    pub namespace: String,
    pub name: String,
    pub error: String,
}

/// The cockpit's `:reconcile` / `:suspend` / `:resume`, headless: the FQDN typed back first
/// (nothing is contacted before), then the same audited `FleetHandle::act` per HelmRelease.
async fn act(path: &Path, action: FluxAction, args: FluxActionArgs) -> CliResult {
    let what = format!("the {} on {}", action.as_str(), args.fqdn);
    super::armed::confirmed(&args.confirm, &args.fqdn, &what)?;
    let (handle, mut events) = start(path)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    let mut snap = handle.snapshot().await.map_err(CliError::Failed)?;
    if !snap.sovereigns.iter().any(|s| s.fqdn == args.fqdn) {
        return Err(CliError::usage(format!(
            "{} is not in the fleet file {}",
            args.fqdn,
            path.display()
        )));
    }
    while !snap.synced.contains(&args.fqdn) {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(_)) => {
                while events.try_recv().is_ok() {}
                snap = handle.snapshot().await.map_err(CliError::Failed)?;
            }
            Ok(None) | Err(_) => {
                let conn = snap
                    .sovereigns
                    .iter()
                    .find(|s| s.fqdn == args.fqdn)
                    .map(|s| s.connection.label())
                    .unwrap_or("unknown");
                return Err(CliError::Failed(anyhow::anyhow!(
                    "{} did not sync within {}s ({conn}): nothing was changed",
                    args.fqdn,
                    args.timeout
                )));
            }
        }
    }
    let status = snap
        .sovereigns
        .iter()
        .find(|s| s.fqdn == args.fqdn)
        .ok_or_else(|| CliError::usage(format!("{} left the fleet", args.fqdn)))?;
    let targets =
        crate::provision::fleet::actions::helm_release_targets(status, args.helmrelease.as_deref())
            .map_err(CliError::usage)?;
    let mut report = ActionReport {
        fqdn: args.fqdn.clone(),
        action,
        audit_log: handle.audit_log().to_path_buf(),
        done: Vec::new(),
        failed: Vec::new(),
    };
    for target in &targets {
        match handle.act(&args.fqdn, target, action).await {
            Ok(record) => {
                say!(
                    "{} HelmRelease {}/{} on {}: done",
                    action.as_str(),
                    target.namespace,
                    target.name,
                    args.fqdn
                );
                report.done.push(record);
            }
            Err(e) => {
                say!("{e:#}");
                report.failed.push(ActionFailure {
                    namespace: target.namespace.clone(),
                    name: target.name.clone(),
                    error: format!("{e:#}"),
                });
            }
        }
    }
    say!("audit log: {}", report.audit_log.display());
    if args.json {
        let text = serde_json::to_string(&report).map_err(|e| CliError::Failed(e.into()))?;
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(anyhow::anyhow!(
            "{} of {} HelmReleases failed to {}",
            report.failed.len(),
            targets.len(),
            action.as_str()
        )))
    }
}

/// `sovtui fleet join`: append the Sovereign to the fleet file (see [`crate::provision::fleet::join`]).
async fn join(
    path: &Path,
    entry: crate::config::fleet_file::JoinEntry,
    verify: bool,
    json: bool,
) -> CliResult {
    use crate::provision::fleet::JoinError;
    if let Err(e) = crate::provision::catalyst::CatalystClient::new(&entry.catalyst_api) {
        return Err(CliError::usage(format!("--api: {e}")));
    }
    if entry.deployment_id.trim().is_empty() {
        return Err(CliError::usage("--deployment: must not be empty"));
    }
    match crate::provision::fleet::join(path, entry, verify).await {
        Ok(outcome) => {
            say!(
                "{} joined the fleet in {} ({} Sovereigns); its kubeconfig is fetched from catalyst-api when needed",
                outcome.fqdn,
                outcome.fleet_file.display(),
                outcome.sovereigns
            );
            if json {
                let text =
                    serde_json::to_string(&outcome).map_err(|e| CliError::Failed(e.into()))?;
                let _ = writeln!(std::io::stdout().lock(), "{text}");
            }
            Ok(())
        }
        Err(e @ (JoinError::AlreadyListed(_) | JoinError::File(_))) => {
            Err(CliError::usage(e.to_string()))
        }
        Err(JoinError::Catalyst(e)) => Err(CliError::Failed(anyhow::anyhow!(
            "{e} (nothing was added; --no-verify adds it anyway)"
        ))),
    }
}

/// Resolves on SIGINT, SIGTERM or SIGHUP: the normal ends of a stream someone is reading.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let hup = signal(SignalKind::hangup());
    match (term, hup) {
        (Ok(mut term), Ok(mut hup)) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn watch(path: &Path, json: bool) -> CliResult {
    let (_handle, mut events) = start(path)?;
    let mut out = std::io::stdout().lock();
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = &mut stop => return Ok(()),
        };
        let Some(ev) = ev else {
            return Err(CliError::Failed(anyhow::anyhow!("fleet stopped")));
        };
        if json {
            let line = serde_json::to_string(&ev).map_err(|e| CliError::Failed(e.into()))?;
            if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                // The reader went away (e.g. `| head`): a normal end for a stream.
                return Ok(());
            }
        } else {
            say!("{}", human_event(&ev));
        }
    }
}

fn human_event(ev: &FleetEvent) -> String {
    match ev {
        FleetEvent::FleetLoaded { sovereigns, .. } => {
            format!("fleet: {} Sovereign(s)", sovereigns.len())
        }
        FleetEvent::FleetFileError { error } => format!("fleet file: {error}"),
        FleetEvent::SovereignAdded { status } => format!("{}: added", status.fqdn),
        FleetEvent::SovereignRemoved { fqdn } => format!("{fqdn}: removed"),
        FleetEvent::Snapshot { status } => format!(
            "{}: {} components, {}",
            status.fqdn,
            status.components.len(),
            status.connection.label()
        ),
        FleetEvent::Synced { fqdn } => format!("{fqdn}: synced"),
        FleetEvent::ComponentChanged {
            fqdn,
            component,
            previous,
        } => format!(
            "{fqdn}: {} {} → {} — {}",
            component.id(),
            previous.map(|p| p.as_str()).unwrap_or("new"),
            component.state,
            component.message
        ),
        FleetEvent::ComponentRemoved { fqdn, name, .. } => format!("{fqdn}: {name} removed"),
        FleetEvent::ObjectChanged { fqdn, kind, object } => format!(
            "{fqdn}: {kind} {} ready={:?} {}",
            object.name, object.ready, object.message
        ),
        FleetEvent::ObjectRemoved {
            fqdn, kind, name, ..
        } => format!("{fqdn}: {kind} {name} removed"),
        FleetEvent::Connection {
            fqdn, connection, ..
        } => format!("{fqdn}: {}", connection.label()),
    }
}
