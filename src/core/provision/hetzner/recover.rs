//! Runbook §2.2 + §2.3: find every Hetzner object of a Sovereign (label, deterministic name, and
//! attachment to its network or servers), purge in a safe order with bounded concurrency, then
//! sweep — re-list everything and re-delete what lingers — until nothing remains or a deadline;
//! then release the PDM allocation and cancel the catalyst-api record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use super::client::{ClientStats, HetznerClient, HetznerError};
use super::external::{self, StepOutcome};
use super::inventory::{self, CloudObject, Inventory, Kind};
use super::naming::{self, SOVEREIGN_LABEL};
use crate::provision::journal::{Journal, JournalError, Op};

/// Why an object belongs to the Sovereign.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum MatchReason {
    /// `catalyst.openova.io/sovereign=<fqdn>`.
    Label,
    /// `catalyst-<slug>` or `catalyst-<slug>-…`.
    Name,
    /// Attached to one of its networks (e.g. a CCM-created worker).
    Network { network_id: i64 },
    /// Assigned or attached to one of its servers (e.g. `primary_ip-<digits>`).
    Server { server_id: i64 },
    /// Applied only to its servers.
    FirewallOfServers,
    /// Selected earlier in this run; still listed (the DELETE-but-still-there quirk).
    Earlier,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Target {
    #[serde(flatten)]
    pub object: CloudObject,
    pub reasons: Vec<MatchReason>,
}

/// Pure selection over a full listing. `earlier` are (kind, id) pairs selected before in the run.
pub fn select_targets(inv: &Inventory, fqdn: &str, earlier: &BTreeSet<(Kind, i64)>) -> Vec<Target> {
    let mut reasons: BTreeMap<(Kind, i64), BTreeSet<MatchReason>> = BTreeMap::new();
    let own = |labels: Option<&std::collections::HashMap<String, String>>, name: &str| {
        let mut r = BTreeSet::new();
        if labels
            .and_then(|l| l.get(SOVEREIGN_LABEL))
            .map(String::as_str)
            == Some(fqdn)
        {
            r.insert(MatchReason::Label);
        }
        if naming::name_matches(fqdn, name) {
            r.insert(MatchReason::Name);
        }
        r
    };
    let mut add = |kind: Kind, id: i64, r: BTreeSet<MatchReason>| {
        let mut r = r;
        if earlier.contains(&(kind, id)) {
            r.insert(MatchReason::Earlier);
        }
        if !r.is_empty() {
            reasons.entry((kind, id)).or_default().extend(r);
        }
    };

    let mut networks = BTreeSet::new();
    for n in &inv.networks {
        let r = own(Some(&n.labels), &n.name);
        if !r.is_empty() || earlier.contains(&(Kind::Network, n.id)) {
            networks.insert(n.id);
        }
        add(Kind::Network, n.id, r);
    }
    let mut servers = BTreeSet::new();
    for s in &inv.servers {
        let mut r = own(Some(&s.labels), &s.name);
        for pn in &s.private_net {
            if let Some(net) = pn.network
                && networks.contains(&net)
            {
                r.insert(MatchReason::Network { network_id: net });
            }
        }
        if !r.is_empty() || earlier.contains(&(Kind::Server, s.id)) {
            servers.insert(s.id);
        }
        add(Kind::Server, s.id, r);
    }
    for lb in &inv.load_balancers {
        let mut r = own(Some(&lb.labels), &lb.name);
        for pn in &lb.private_net {
            if let Some(net) = pn.network
                && networks.contains(&net)
            {
                r.insert(MatchReason::Network { network_id: net });
            }
        }
        add(Kind::LoadBalancer, lb.id, r);
    }
    for ip in &inv.primary_ips {
        let mut r = own(Some(&ip.labels), &ip.name);
        if let Some(sid) = ip.assignee_id
            && servers.contains(&sid)
        {
            r.insert(MatchReason::Server { server_id: sid });
        }
        add(Kind::PrimaryIp, ip.id, r);
    }
    for ip in &inv.floating_ips {
        let mut r = own(Some(&ip.labels), &ip.name);
        if let Some(sid) = ip.server
            && servers.contains(&sid)
        {
            r.insert(MatchReason::Server { server_id: sid });
        }
        add(Kind::FloatingIp, ip.id, r);
    }
    for v in &inv.volumes {
        let mut r = own(Some(&v.labels), &v.name);
        if let Some(sid) = v.server
            && servers.contains(&sid)
        {
            r.insert(MatchReason::Server { server_id: sid });
        }
        add(Kind::Volume, v.id, r);
    }
    for fw in &inv.firewalls {
        let mut r = own(fw.labels.as_ref(), &fw.name);
        let applied: Vec<Option<i64>> = fw
            .applied_to
            .iter()
            .map(|a| a.server.as_ref().map(|s| s.id))
            .collect();
        if !applied.is_empty()
            && applied
                .iter()
                .all(|s| s.is_some_and(|id| servers.contains(&id)))
        {
            r.insert(MatchReason::FirewallOfServers);
        }
        add(Kind::Firewall, fw.id, r);
    }
    for k in &inv.ssh_keys {
        add(Kind::SshKey, k.id, own(Some(&k.labels), &k.name));
    }

    let objects: BTreeMap<(Kind, i64), CloudObject> = inv
        .objects()
        .into_iter()
        .map(|o| ((o.kind, o.id), o))
        .collect();
    let mut out: Vec<Target> = reasons
        .into_iter()
        .filter_map(|(key, r)| {
            objects.get(&key).map(|o| Target {
                object: o.clone(),
                reasons: r.into_iter().collect(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (
            a.object.kind.purge_stage(),
            a.object.kind,
            &a.object.name,
            a.object.id,
        )
            .cmp(&(
                b.object.kind.purge_stage(),
                b.object.kind,
                &b.object.name,
                b.object.id,
            ))
    });
    out
}

#[derive(Debug, Clone)]
pub struct RecoverOptions {
    pub fqdn: String,
    /// After each stage, how long to wait for its objects to leave the listing before moving on.
    pub stage_grace: Duration,
    /// Overall deadline of the purge including the verification sweep.
    pub deadline: Duration,
    /// Pause between sweep rounds and between listing polls.
    pub poll_interval: Duration,
    pub pdm_url: Option<String>,
    pub api_url: Option<String>,
    /// Pool zone for PDM (default: the FQDN minus its first label).
    pub pool_domain: Option<String>,
    /// The journal root (`provision::journal::root`). `--apply` refuses to start when its journal
    /// cannot be created there; None journals nothing (library tests only).
    pub journal_dir: Option<PathBuf>,
}

impl RecoverOptions {
    pub fn new(fqdn: impl Into<String>) -> Self {
        RecoverOptions {
            fqdn: fqdn.into(),
            stage_grace: Duration::from_secs(60),
            deadline: Duration::from_secs(600),
            poll_interval: Duration::from_secs(2),
            pdm_url: None,
            api_url: None,
            pool_domain: None,
            journal_dir: None,
        }
    }

    /// (pool zone, subdomain label).
    pub fn pool_and_sub(&self) -> (String, String) {
        let (sub, rest) = self.fqdn.split_once('.').unwrap_or((&self.fqdn, ""));
        (
            self.pool_domain.clone().unwrap_or_else(|| rest.to_string()),
            sub.to_string(),
        )
    }
}

/// Progress of an `--apply` run, for the cockpit's live view and for logs.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RecoverEvent {
    Planned { targets: usize },
    Deleting { object: CloudObject },
    Deleted { object: CloudObject },
    DeleteFailed { object: CloudObject, error: String },
    StageDone { stage: usize, lingering: usize },
    SweepRound { round: u32, remaining: usize },
    External { step: String, outcome: StepOutcome },
}

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryPlan {
    pub fqdn: String,
    pub dry_run: bool,
    pub targets: Vec<Target>,
    pub by_kind: BTreeMap<String, usize>,
    pub pdm: StepOutcome,
    pub api: StepOutcome,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    pub fqdn: String,
    pub deleted: Vec<CloudObject>,
    pub remaining: Vec<Target>,
    pub errors: Vec<String>,
    pub sweep_rounds: u32,
    pub verified_zero_orphans: bool,
    pub pdm: StepOutcome,
    pub api: StepOutcome,
    pub journal: Option<String>,
    pub stats: ClientStats,
    pub elapsed_ms: u128,
}

#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error(
        "the Hetzner token was refused for writes ({0}); it is read-only or expired — nothing was \
         deleted. Generate a Read & Write token and re-run."
    )]
    ReadOnlyToken(HetznerError),
    #[error("the Hetzner token was rejected ({0})")]
    Unauthorized(HetznerError),
    #[error(transparent)]
    Hetzner(#[from] HetznerError),
    /// No journal, no run: it could not be created (nothing was deleted), or it stopped taking
    /// records (the purge stopped at the next step boundary). The message says what to do.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

fn classify(e: HetznerError) -> RecoverError {
    if e.is_unauthorized() {
        RecoverError::Unauthorized(e)
    } else {
        RecoverError::Hetzner(e)
    }
}

fn by_kind(targets: &[Target]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for t in targets {
        *m.entry(t.object.kind.api_path().to_string()).or_insert(0) += 1;
    }
    m
}

/// Dry run: the exact objects an `--apply` would delete, plus what PDM and catalyst-api hold.
pub async fn plan(
    client: &HetznerClient,
    opts: &RecoverOptions,
) -> Result<RecoveryPlan, RecoverError> {
    let inv = Inventory::fetch(client).await.map_err(classify)?;
    let targets = select_targets(&inv, &opts.fqdn, &BTreeSet::new());
    let (pool, sub) = opts.pool_and_sub();
    let pdm = match &opts.pdm_url {
        Some(url) => external::pdm_check(url, &pool, &sub).await,
        None => StepOutcome::skipped("no --pdm URL given"),
    };
    let api = match &opts.api_url {
        Some(url) => external::api_find(url, &opts.fqdn).await,
        None => StepOutcome::skipped("no --api URL given"),
    };
    Ok(RecoveryPlan {
        fqdn: opts.fqdn.clone(),
        dry_run: true,
        by_kind: by_kind(&targets),
        targets,
        pdm,
        api,
    })
}

/// Delete one object, reporting progress; Err carries the error text.
async fn delete_one(
    client: &HetznerClient,
    t: &Target,
    emit: &(dyn Fn(RecoverEvent) + Send + Sync),
) -> Result<(), HetznerError> {
    emit(RecoverEvent::Deleting {
        object: t.object.clone(),
    });
    match inventory::delete(client, t.object.kind, t.object.id).await {
        Ok(()) => {
            emit(RecoverEvent::Deleted {
                object: t.object.clone(),
            });
            Ok(())
        }
        Err(e) => {
            emit(RecoverEvent::DeleteFailed {
                object: t.object.clone(),
                error: e.to_string(),
            });
            Err(e)
        }
    }
}

/// The purge. Refuses to start when its journal cannot be created, and when the very first
/// delete is forbidden (read-only token). Journaled: the plan, each delete before it is sent and
/// after it answered, each sweep round, the external steps, and a final `finished` with the
/// outcome whether the purge succeeded or failed — only a purge whose process died (or whose
/// future was dropped, or whose journal stopped taking records, which stops it at the next step)
/// lacks it, which is what `provision::journal::unfinished` looks for.
pub async fn apply(
    client: &HetznerClient,
    opts: &RecoverOptions,
    emit: &(dyn Fn(RecoverEvent) + Send + Sync),
) -> Result<RecoveryReport, RecoverError> {
    let mut journal = match &opts.journal_dir {
        Some(dir) => Some(Journal::create(dir, Op::Purge, &opts.fqdn)?),
        None => None,
    };
    let mut deleted: BTreeMap<(Kind, i64), CloudObject> = BTreeMap::new();
    let mut note = |record: Note| -> Result<(), RecoverError> {
        let Some(j) = journal.as_mut() else {
            return Ok(());
        };
        match record {
            Note::Plan(plan) => j.planned(&plan),
            Note::Started(step) => j.started(&step),
            Note::Done(step, detail) => j.done(&step, detail),
            Note::Failed(step, error) => j.failed(&step, &error),
        }
        .map_err(RecoverError::Journal)
    };
    let result = purge(client, opts, emit, &mut note, &mut deleted).await;
    if let Err(RecoverError::Journal(_)) = &result {
        // The run did not end; its journal must keep saying so.
        return result;
    }
    let (outcome, mut detail) = match &result {
        Ok(r) => (
            if r.verified_zero_orphans {
                "verified-clean"
            } else {
                "objects-remain"
            },
            serde_json::json!({
                "verified_zero_orphans": r.verified_zero_orphans,
                "remaining": &r.remaining,
                "errors": &r.errors,
                "pdm": &r.pdm,
                "api": &r.api,
            }),
        ),
        Err(e) => ("failed", serde_json::json!({"error": e.to_string()})),
    };
    detail["deleted"] = serde_json::json!(deleted.values().collect::<Vec<_>>());
    if let Some(j) = journal.as_mut() {
        j.finish(outcome, detail)?;
    }
    let path = journal.as_ref().map(|j| j.path().display().to_string());
    result.map(|r| RecoveryReport { journal: path, ..r })
}

/// What [`purge`] journals.
enum Note {
    Plan(serde_json::Value),
    Started(String),
    Done(String, serde_json::Value),
    Failed(String, String),
}

/// The journal's name of the step that deletes `o`: `delete server catalyst-x-cp1 #12`.
fn delete_step(o: &CloudObject) -> String {
    format!("delete {} {} #{}", o.kind.singular(), o.name, o.id)
}

/// Journal the answer to a delete: done, or failed with the error.
fn note_deleted(
    note: &mut (dyn FnMut(Note) -> Result<(), RecoverError> + Send),
    t: &Target,
    r: &Result<(), HetznerError>,
) -> Result<(), RecoverError> {
    let step = delete_step(&t.object);
    match r {
        Ok(()) => note(Note::Done(step, serde_json::Value::Null)),
        Err(e) => note(Note::Failed(step, e.to_string())),
    }
}

/// The steps of [`apply`]; `deleted` fills as objects go so a failure can still say what went.
async fn purge(
    client: &HetznerClient,
    opts: &RecoverOptions,
    emit: &(dyn Fn(RecoverEvent) + Send + Sync),
    note: &mut (dyn FnMut(Note) -> Result<(), RecoverError> + Send),
    deleted: &mut BTreeMap<(Kind, i64), CloudObject>,
) -> Result<RecoveryReport, RecoverError> {
    let started = Instant::now();
    let deadline = started + opts.deadline;

    let inv = Inventory::fetch(client).await.map_err(classify)?;
    let targets = select_targets(&inv, &opts.fqdn, &BTreeSet::new());
    let known: BTreeSet<(Kind, i64)> = targets
        .iter()
        .map(|t| (t.object.kind, t.object.id))
        .collect();
    emit(RecoverEvent::Planned {
        targets: targets.len(),
    });
    note(Note::Plan(serde_json::json!({"targets": &targets})))?;

    let mut errors: Vec<String> = Vec::new();
    let concurrency = client.options().max_concurrency.max(1);

    // The first delete runs alone: a read-only token must fail before anything is touched.
    let mut first_done = false;
    for stage in 0..4 {
        let mut stage_targets: Vec<&Target> = targets
            .iter()
            .filter(|t| t.object.kind.purge_stage() == stage)
            .collect();
        if stage_targets.is_empty() {
            continue;
        }
        if !first_done {
            let first = stage_targets.remove(0);
            note(Note::Started(delete_step(&first.object)))?;
            let r = delete_one(client, first, emit).await;
            note_deleted(note, first, &r)?;
            match r {
                Ok(()) => {
                    deleted.insert((first.object.kind, first.object.id), first.object.clone());
                }
                Err(e) if e.is_forbidden() => return Err(RecoverError::ReadOnlyToken(e)),
                Err(e) if e.is_unauthorized() => return Err(RecoverError::Unauthorized(e)),
                Err(e) => errors.push(e.to_string()),
            }
            first_done = true;
        }
        for t in &stage_targets {
            note(Note::Started(delete_step(&t.object)))?;
        }
        let results: Vec<(&Target, Result<(), HetznerError>)> = futures::stream::iter(
            stage_targets
                .iter()
                .map(|t| async move { (*t, delete_one(client, t, emit).await) }),
        )
        .buffer_unordered(concurrency)
        .collect()
        .await;
        for (t, r) in results {
            note_deleted(note, t, &r)?;
            match r {
                Ok(()) => {
                    deleted.insert((t.object.kind, t.object.id), t.object.clone());
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        // Wait for this stage to leave the listing so the next stage is not refused as in-use.
        let stage_ids: BTreeSet<(Kind, i64)> = targets
            .iter()
            .filter(|t| t.object.kind.purge_stage() == stage)
            .map(|t| (t.object.kind, t.object.id))
            .collect();
        let stage_deadline = (Instant::now() + opts.stage_grace).min(deadline);
        let mut lingering;
        loop {
            let inv = Inventory::fetch(client).await.map_err(classify)?;
            lingering = inv
                .objects()
                .into_iter()
                .filter(|o| stage_ids.contains(&(o.kind, o.id)))
                .count();
            if lingering == 0 || Instant::now() >= stage_deadline {
                break;
            }
            tokio::time::sleep(opts.poll_interval).await;
        }
        emit(RecoverEvent::StageDone { stage, lingering });
    }

    // Verification sweep: full re-listing, re-delete whatever is still there.
    let mut round = 0u32;
    let remaining = loop {
        round += 1;
        let inv = Inventory::fetch(client).await.map_err(classify)?;
        let remaining = select_targets(&inv, &opts.fqdn, &known);
        emit(RecoverEvent::SweepRound {
            round,
            remaining: remaining.len(),
        });
        note(Note::Done(
            format!("sweep round {round}"),
            serde_json::json!({"remaining": &remaining}),
        ))?;
        if remaining.is_empty() || Instant::now() >= deadline {
            break remaining;
        }
        for stage in 0..4 {
            let batch: Vec<&Target> = remaining
                .iter()
                .filter(|t| t.object.kind.purge_stage() == stage)
                .collect();
            for t in &batch {
                note(Note::Started(delete_step(&t.object)))?;
            }
            let results: Vec<(&Target, Result<(), HetznerError>)> = futures::stream::iter(
                batch
                    .into_iter()
                    .map(|t| async move { (t, delete_one(client, t, emit).await) }),
            )
            .buffer_unordered(concurrency)
            .collect()
            .await;
            for (t, r) in results {
                note_deleted(note, t, &r)?;
                match r {
                    Ok(()) => {
                        deleted
                            .entry((t.object.kind, t.object.id))
                            .or_insert_with(|| t.object.clone());
                    }
                    Err(e) if e.is_forbidden() || e.is_unauthorized() => {
                        errors.push(e.to_string());
                    }
                    // In-use refusals are expected while dependants linger; the next round retries.
                    Err(e) => tracing::debug!(error = %e, "sweep delete refused; will retry"),
                }
            }
        }
        tokio::time::sleep(
            opts.poll_interval
                .min(deadline.saturating_duration_since(Instant::now())),
        )
        .await;
    };
    let verified = remaining.is_empty();

    let (pool, sub) = opts.pool_and_sub();
    let pdm = match &opts.pdm_url {
        Some(url) => {
            note(Note::Started("pdm-release".into()))?;
            let o = external::pdm_release(url, &pool, &sub).await;
            note(Note::Done("pdm-release".into(), serde_json::json!(&o)))?;
            o
        }
        None => StepOutcome::skipped("no --pdm URL given"),
    };
    emit(RecoverEvent::External {
        step: "pdm-release".into(),
        outcome: pdm.clone(),
    });
    let api = match &opts.api_url {
        Some(url) => {
            note(Note::Started("api-cancel".into()))?;
            let o = external::api_cancel(url, &opts.fqdn, client.credentials()).await;
            note(Note::Done("api-cancel".into(), serde_json::json!(&o)))?;
            o
        }
        None => StepOutcome::skipped("no --api URL given"),
    };
    emit(RecoverEvent::External {
        step: "api-cancel".into(),
        outcome: api.clone(),
    });
    // Errors from deletes that later succeeded in the sweep are noise once nothing remains.
    if verified {
        errors.retain(|e| e.contains("forbidden") || e.contains("unauthorized"));
    }
    Ok(RecoveryReport {
        fqdn: opts.fqdn.clone(),
        deleted: deleted.values().cloned().collect(),
        remaining,
        errors,
        sweep_rounds: round,
        verified_zero_orphans: verified,
        pdm,
        api,
        journal: None,
        stats: client.stats(),
        elapsed_ms: started.elapsed().as_millis(),
    })
}
