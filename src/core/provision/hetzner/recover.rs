//! Runbook §2.2 + §2.3: find every Hetzner object of a Sovereign by the one ownership rule
//! ([`super::ownership`]), show that as a plan (optionally written to a plan file), then — armed —
//! delete exactly the plan's objects, by id, in a safe order with bounded concurrency, and sweep —
//! re-list and re-delete what of the plan lingers — until nothing of it remains or a deadline.
//! Anything that now matches but was not in the plan is reported, never touched. Then release
//! the PDM allocation and cancel the catalyst-api record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::client::{ClientStats, HetznerClient, HetznerError};
use super::credentials::ProjectSummary;
use super::external::{self, StepOutcome};
use super::inventory::{self, CloudObject, Inventory, Kind};
use super::naming;
use super::ownership::{self, Ambiguous, Vetoed};
use super::planfile::{self, PlanFileError, PlanRefusal};
use crate::config::fleet_file::MothershipEntry;
use crate::provision::journal::{Journal, JournalError, Op};
use crate::provision::limits::Limits;
use crate::provision::mothership::records::{self, RecordRoute};
use crate::provision::mothership::{self as ms, MothershipPlan, MothershipReport, pdm};

pub use super::ownership::{Claimed as Target, MatchReason};

/// The `format` of recovery plan files.
pub const PLAN_FORMAT: &str = "sovtui-recover-plan/1";

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
    pub journal_dir: Option<PathBuf>,
    /// Sovereigns the caller knows share the project (a fleet file), besides those its labels
    /// show: the ownership rule treats an unlabelled name they share as ambiguous.
    pub known_sovereigns: Vec<String>,
    /// The fleet file's `[mothership]`: steps 2 and 3 the runbook's way (PDM state and release,
    /// the records through the catalyst-api pod). None: today's `pdm_url` / `api_url` steps.
    pub mothership: Option<MothershipEntry>,
    /// How step 3 changes a record when a mothership is configured.
    pub record_route: RecordRoute,
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
            known_sovereigns: Vec::new(),
            mothership: None,
            record_route: RecordRoute::default(),
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
    Planned {
        targets: usize,
    },
    /// Matches now, was not in the plan: reported, untouched.
    AppearedAfterPlan {
        object: CloudObject,
    },
    /// In the plan, changed since: untouched.
    Skipped {
        object: CloudObject,
        why: String,
    },
    Deleting {
        object: CloudObject,
    },
    Deleted {
        object: CloudObject,
    },
    DeleteFailed {
        object: CloudObject,
        error: String,
    },
    StageDone {
        stage: usize,
        lingering: usize,
    },
    SweepRound {
        round: u32,
        remaining: usize,
    },
    External {
        step: String,
        outcome: StepOutcome,
    },
}

/// What a dry run found and an armed run executes. Written as a plan file by `recover --out`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecoveryPlan {
    /// [`PLAN_FORMAT`].
    pub format: String,
    pub fqdn: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub dry_run: bool,
    /// The token (source and fingerprint, never the token) and the project's size.
    pub project: ProjectSummary,
    /// Exactly what an armed run deletes, in purge order.
    pub targets: Vec<Target>,
    /// Never deleted until labelled.
    pub ambiguous: Vec<Ambiguous>,
    /// Labelled for another Sovereign although name or attachment point here: left alone.
    pub vetoed: Vec<Vetoed>,
    /// Other Sovereigns the project's labels show.
    pub others: Vec<String>,
    pub by_kind: BTreeMap<String, usize>,
    pub pdm: StepOutcome,
    pub api: StepOutcome,
    /// Steps 2 and 3 through the mothership (exact PDM name and state, exact record ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mothership: Option<MothershipPlan>,
}

impl RecoveryReport {
    /// Everything of the plan is gone, nothing else matched, nothing was left ambiguous, no
    /// error: the run the operator asked for happened, all of it.
    pub fn complete(&self) -> bool {
        self.verified_zero_orphans && self.errors.is_empty() && self.ambiguous.is_empty()
    }

    /// Something was not as the plan showed — a Hetzner object appeared or changed owner, the
    /// PDM allocation or a deployment record changed — and was left alone.
    pub fn changed_since_plan(&self) -> bool {
        !self.appeared_after_plan.is_empty()
            || !self.skipped.is_empty()
            || self
                .mothership
                .as_ref()
                .is_some_and(MothershipReport::changed_since_plan)
    }
}

impl RecoveryPlan {
    pub fn write(&self, path: &Path) -> Result<(), PlanFileError> {
        planfile::write(path, self)
    }

    pub fn read(path: &Path) -> Result<Self, PlanFileError> {
        planfile::read(path, PLAN_FORMAT)
    }

    fn ids(&self) -> BTreeSet<(Kind, i64)> {
        self.targets
            .iter()
            .map(|t| (t.object.kind, t.object.id))
            .collect()
    }
}

/// A planned object the armed run left alone because it changed after the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    #[serde(flatten)]
    pub object: CloudObject,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    pub fqdn: String,
    pub deleted: Vec<CloudObject>,
    /// Objects of the plan still listed at the deadline.
    pub remaining: Vec<Target>,
    /// Objects that match now but were not in the plan: untouched.
    pub appeared_after_plan: Vec<Target>,
    /// Objects of the plan that changed after it (now another Sovereign's, or ambiguous):
    /// untouched.
    pub skipped: Vec<Skipped>,
    /// The plan's ambiguous objects, untouched.
    pub ambiguous: Vec<Ambiguous>,
    pub errors: Vec<String>,
    pub sweep_rounds: u32,
    pub verified_zero_orphans: bool,
    pub pdm: StepOutcome,
    pub api: StepOutcome,
    /// Steps 2 and 3 through the mothership, in detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mothership: Option<MothershipReport>,
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
    #[error("refusing the plan: {0}")]
    Refused(#[from] PlanRefusal),
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

/// Dry run: the exact objects an `--apply` would delete (and the ambiguous ones it would not),
/// plus what PDM and catalyst-api hold.
pub async fn plan(
    client: &HetznerClient,
    opts: &RecoverOptions,
) -> Result<RecoveryPlan, RecoverError> {
    let inv = Inventory::fetch(client).await.map_err(classify)?;
    let owned = ownership::claim(&inv, &opts.fqdn, &opts.known_sovereigns);
    let (pool, sub) = opts.pool_and_sub();
    let (pdm, api, mothership) = match &opts.mothership {
        Some(m) => {
            let mp = plan_mothership(m, opts, &pool, &sub).await;
            let pdm = match &mp.pdm {
                Some(p) => p.summary(),
                None => StepOutcome::skipped("no PDM URL ([mothership] pdm or --pdm)"),
            };
            (pdm, mp.records.summary(), Some(mp))
        }
        None => (
            match &opts.pdm_url {
                Some(url) => external::pdm_check(url, &pool, &sub).await,
                None => StepOutcome::skipped("no --pdm URL given"),
            },
            match &opts.api_url {
                Some(url) => external::api_find(url, &opts.fqdn).await,
                None => StepOutcome::skipped("no --api URL given"),
            },
            None,
        ),
    };
    Ok(RecoveryPlan {
        format: PLAN_FORMAT.to_string(),
        fqdn: opts.fqdn.clone(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        dry_run: true,
        project: ProjectSummary::new(client.credentials(), &inv),
        by_kind: by_kind(&owned.ours),
        targets: owned.ours,
        ambiguous: owned.ambiguous,
        vetoed: owned.vetoed,
        others: owned.others,
        pdm,
        api,
        mothership,
    })
}

/// Steps 2 and 3 read through the mothership: PDM's state of the name, the exact records.
async fn plan_mothership(
    m: &MothershipEntry,
    opts: &RecoverOptions,
    pool: &str,
    sub: &str,
) -> MothershipPlan {
    let limits = Limits::current();
    let pdm = match opts.pdm_url.as_ref().or(m.pdm.as_ref()) {
        Some(url) => Some(pdm::plan(url, pool, sub).await),
        None => None,
    };
    let client = ms::client(m, None, &limits).await;
    let records = records::plan(
        client.as_ref().map_err(String::as_str),
        &m.catalyst_namespace,
        &opts.fqdn,
        opts.record_route,
        opts.api_url.clone(),
        &limits,
    )
    .await;
    MothershipPlan {
        entry: m.clone(),
        pdm,
        records,
    }
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

/// The purge of exactly `plan`'s objects, by id. Refuses before anything else when the plan is
/// for another Sovereign or was made with another token, when its journal cannot be created, and
/// when the very first delete is forbidden (read-only token). Journaled: the plan, each delete
/// before it is sent and after it answered, each sweep round, the external steps, and a final
/// `finished` with the outcome whether the purge succeeded or failed — only a purge whose process
/// died (or whose future was dropped, or whose journal stopped taking records, which stops it at
/// the next step) lacks it, which is what `provision::journal::unfinished` looks for.
pub async fn apply(
    client: &HetznerClient,
    opts: &RecoverOptions,
    plan: &RecoveryPlan,
    emit: &(dyn Fn(RecoverEvent) + Send + Sync),
) -> Result<RecoveryReport, RecoverError> {
    planfile::check(
        &plan.fqdn,
        &plan.project.token_fingerprint,
        &opts.fqdn,
        client.credentials(),
    )?;
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
    let result = purge(client, opts, plan, emit, &mut note, &mut deleted).await;
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
                "appeared_after_plan": &r.appeared_after_plan,
                "skipped": &r.skipped,
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

/// Steps 2 and 3 through the mothership the plan names, each journaled before and after.
async fn apply_mothership(
    client: &HetznerClient,
    opts: &RecoverOptions,
    mp: &MothershipPlan,
    note: &mut NoteFn<'_>,
) -> Result<MothershipReport, RecoverError> {
    let limits = Limits::current();
    let pdm = match &mp.pdm {
        Some(p) => {
            note(Note::Started(format!("pdm-release {}", p.name())))?;
            let r = pdm::apply(p).await;
            note(Note::Done(
                format!("pdm-release {}", p.name()),
                serde_json::json!(&r),
            ))?;
            Some(r)
        }
        None => None,
    };
    let ids: Vec<&str> = mp
        .records
        .records
        .iter()
        .filter(|r| r.cancel)
        .map(|r| r.id.as_str())
        .collect();
    let step = format!("record-{} {}", mp.records.route.word(), ids.join(" "));
    note(Note::Started(step.clone()))?;
    let kube = ms::client(&mp.entry, None, &limits).await;
    let inputs = records::ApplyInputs {
        fqdn: &opts.fqdn,
        now: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        credentials: client.credentials(),
        wipe_deadline: opts.deadline,
        poll_interval: opts.poll_interval,
        limits: &limits,
    };
    let records = records::apply(kube.as_ref().map_err(String::as_str), &mp.records, &inputs).await;
    note(Note::Done(step, serde_json::json!(&records)))?;
    Ok(MothershipReport { pdm, records })
}

/// What [`purge`] journals.
enum Note {
    Plan(serde_json::Value),
    Started(String),
    Done(String, serde_json::Value),
    Failed(String, String),
}

type NoteFn<'a> = dyn FnMut(Note) -> Result<(), RecoverError> + Send + 'a;

/// The journal's name of the step that deletes `o`: `delete server catalyst-x-cp1 #12`.
fn delete_step(o: &CloudObject) -> String {
    format!("delete {} {} #{}", o.kind.singular(), o.name, o.id)
}

/// Journal the answer to a delete: done, or failed with the error.
fn note_deleted(
    note: &mut NoteFn,
    t: &Target,
    r: &Result<(), HetznerError>,
) -> Result<(), RecoverError> {
    let step = delete_step(&t.object);
    match r {
        Ok(()) => note(Note::Done(step, serde_json::Value::Null)),
        Err(e) => note(Note::Failed(step, e.to_string())),
    }
}

/// Plan, then execute exactly that plan: what `recover --apply` without `--plan` does (after
/// printing the plan), for callers with no operator between the two steps.
pub async fn plan_then_apply(
    client: &HetznerClient,
    opts: &RecoverOptions,
    emit: &(dyn Fn(RecoverEvent) + Send + Sync),
) -> Result<RecoveryReport, RecoverError> {
    let plan = plan(client, opts).await?;
    apply(client, opts, &plan, emit).await
}

/// What a fresh listing says about the plan: the planned objects still listed (and still
/// deletable), those that changed since, and what matches now that the plan did not hold.
struct Against {
    listed: Vec<Target>,
    skipped: Vec<Skipped>,
    appeared: Vec<Target>,
}

fn against(inv: &Inventory, opts: &RecoverOptions, plan: &RecoveryPlan) -> Against {
    let now = ownership::claim(inv, &opts.fqdn, &opts.known_sovereigns);
    let planned = plan.ids();
    let present: BTreeMap<(Kind, i64), CloudObject> = inv
        .objects()
        .into_iter()
        .map(|o| ((o.kind, o.id), o))
        .collect();
    let mut listed = Vec::new();
    let mut skipped = Vec::new();
    for t in &plan.targets {
        let (kind, id) = (t.object.kind, t.object.id);
        let Some(object) = present.get(&(kind, id)) else {
            continue;
        };
        // A label veto or a new ambiguity outranks the plan: the operator approved this object
        // as ours, and it no longer is.
        if let Some(owner) = object
            .labels
            .get(naming::SOVEREIGN_LABEL)
            .filter(|l| *l != &opts.fqdn)
        {
            skipped.push(Skipped {
                object: object.clone(),
                why: format!("now labelled for {owner}"),
            });
        } else if let Some(a) = now.ambiguous_of(kind, id) {
            skipped.push(Skipped {
                object: object.clone(),
                why: format!(
                    "now ambiguous between {}",
                    a.candidates
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        } else {
            listed.push(Target {
                object: object.clone(),
                reasons: t.reasons.clone(),
            });
        }
    }
    let appeared = now
        .ours
        .into_iter()
        .filter(|c| !planned.contains(&(c.object.kind, c.object.id)))
        .collect();
    Against {
        listed,
        skipped,
        appeared,
    }
}

/// Delete `batch` concurrently, journaling each delete before it is sent and after it answered;
/// successes go into `deleted`, failures come back.
async fn delete_batch(
    client: &HetznerClient,
    batch: &[&Target],
    emit: &(dyn Fn(RecoverEvent) + Send + Sync),
    note: &mut NoteFn<'_>,
    deleted: &mut BTreeMap<(Kind, i64), CloudObject>,
) -> Result<Vec<HetznerError>, RecoverError> {
    for t in batch {
        note(Note::Started(delete_step(&t.object)))?;
    }
    let concurrency = client.options().max_concurrency.max(1);
    let results: Vec<(&Target, Result<(), HetznerError>)> = futures::stream::iter(
        batch
            .iter()
            .map(|t| async move { (*t, delete_one(client, t, emit).await) }),
    )
    .buffer_unordered(concurrency)
    .collect()
    .await;
    let mut errors = Vec::new();
    for (t, r) in results {
        note_deleted(note, t, &r)?;
        match r {
            Ok(()) => {
                deleted
                    .entry((t.object.kind, t.object.id))
                    .or_insert_with(|| t.object.clone());
            }
            Err(e) => errors.push(e),
        }
    }
    Ok(errors)
}

/// Report (once) each object that matches now but was not in the plan: it is never touched.
fn report_appeared(
    list: Vec<Target>,
    appeared: &mut BTreeMap<(Kind, i64), Target>,
    emit: &(dyn Fn(RecoverEvent) + Send + Sync),
    note: &mut NoteFn<'_>,
) -> Result<(), RecoverError> {
    for t in list {
        let key = (t.object.kind, t.object.id);
        if appeared.contains_key(&key) {
            continue;
        }
        emit(RecoverEvent::AppearedAfterPlan {
            object: t.object.clone(),
        });
        note(Note::Done(
            format!("appeared after the plan: {}", delete_step(&t.object)),
            serde_json::json!({"object": &t.object}),
        ))?;
        appeared.insert(key, t);
    }
    Ok(())
}

/// Journal a planned object left alone because it is no longer ours.
fn note_skipped(note: &mut NoteFn<'_>, s: &Skipped) -> Result<(), RecoverError> {
    note(Note::Done(
        format!("skip {}", delete_step(&s.object)),
        serde_json::json!({"object": &s.object, "why": &s.why}),
    ))
}

/// The steps of [`apply`]; `deleted` fills as objects go so a failure can still say what went.
async fn purge(
    client: &HetznerClient,
    opts: &RecoverOptions,
    plan: &RecoveryPlan,
    emit: &(dyn Fn(RecoverEvent) + Send + Sync),
    note: &mut NoteFn<'_>,
    deleted: &mut BTreeMap<(Kind, i64), CloudObject>,
) -> Result<RecoveryReport, RecoverError> {
    let started = Instant::now();
    let deadline = started + opts.deadline;

    let inv = Inventory::fetch(client).await.map_err(classify)?;
    let first = against(&inv, opts, plan);
    emit(RecoverEvent::Planned {
        targets: plan.targets.len(),
    });
    note(Note::Plan(serde_json::json!({
        "plan_created_at": plan.created_at,
        "token_fingerprint": plan.project.token_fingerprint,
        "targets": &plan.targets,
        "ambiguous": &plan.ambiguous,
    })))?;
    let mut skipped: BTreeMap<(Kind, i64), Skipped> = BTreeMap::new();
    for s in first.skipped {
        emit(RecoverEvent::Skipped {
            object: s.object.clone(),
            why: s.why.clone(),
        });
        note_skipped(note, &s)?;
        skipped.insert((s.object.kind, s.object.id), s);
    }
    let mut appeared: BTreeMap<(Kind, i64), Target> = BTreeMap::new();
    report_appeared(first.appeared, &mut appeared, emit, note)?;
    let targets = first.listed;

    let mut errors: Vec<String> = Vec::new();

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
        errors.extend(
            delete_batch(client, &stage_targets, emit, note, deleted)
                .await?
                .iter()
                .map(ToString::to_string),
        );
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

    // Verification sweep: full re-listing; re-delete whatever of the plan is still there. No
    // re-selection: what matches now but was not planned is only reported.
    let mut round = 0u32;
    let remaining = loop {
        round += 1;
        let inv = Inventory::fetch(client).await.map_err(classify)?;
        let now = against(&inv, opts, plan);
        report_appeared(now.appeared, &mut appeared, emit, note)?;
        for s in now.skipped {
            let key = (s.object.kind, s.object.id);
            if let std::collections::btree_map::Entry::Vacant(slot) = skipped.entry(key) {
                emit(RecoverEvent::Skipped {
                    object: s.object.clone(),
                    why: s.why.clone(),
                });
                note_skipped(note, &s)?;
                slot.insert(s);
            }
        }
        let remaining: Vec<Target> = now
            .listed
            .into_iter()
            .filter(|t| !skipped.contains_key(&(t.object.kind, t.object.id)))
            .collect();
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
            for e in delete_batch(client, &batch, emit, note, deleted).await? {
                if e.is_forbidden() || e.is_unauthorized() {
                    errors.push(e.to_string());
                } else {
                    // In-use refusals are expected while dependants linger; the next round
                    // retries.
                    tracing::debug!(error = %e, "sweep delete refused; will retry");
                }
            }
        }
        tokio::time::sleep(
            opts.poll_interval
                .min(deadline.saturating_duration_since(Instant::now())),
        )
        .await;
    };
    let verified = remaining.is_empty() && appeared.is_empty() && skipped.is_empty();

    let (pdm, api, mothership) = match &plan.mothership {
        Some(mp) => {
            let r = apply_mothership(client, opts, mp, note).await?;
            let pdm = match &r.pdm {
                Some(p) => p.outcome.clone(),
                None => StepOutcome::skipped("no PDM URL ([mothership] pdm or --pdm)"),
            };
            (pdm, r.records.summary(), Some(r))
        }
        None => {
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
            let api = match &opts.api_url {
                Some(url) => {
                    note(Note::Started("api-cancel".into()))?;
                    let o = external::api_cancel(url, &opts.fqdn, client.credentials()).await;
                    note(Note::Done("api-cancel".into(), serde_json::json!(&o)))?;
                    o
                }
                None => StepOutcome::skipped("no --api URL given"),
            };
            (pdm, api, None)
        }
    };
    emit(RecoverEvent::External {
        step: "PDM".into(),
        outcome: pdm.clone(),
    });
    emit(RecoverEvent::External {
        step: "catalyst-api".into(),
        outcome: api.clone(),
    });
    // Errors from deletes that later succeeded in the sweep are noise once nothing remains.
    if remaining.is_empty() {
        errors.retain(|e| e.contains("forbidden") || e.contains("unauthorized"));
    }
    Ok(RecoveryReport {
        fqdn: opts.fqdn.clone(),
        deleted: deleted.values().cloned().collect(),
        remaining,
        appeared_after_plan: appeared.into_values().collect(),
        skipped: skipped.into_values().collect(),
        ambiguous: plan.ambiguous.clone(),
        errors,
        sweep_rounds: round,
        verified_zero_orphans: verified,
        pdm,
        api,
        mothership,
        journal: None,
        stats: client.stats(),
        elapsed_ms: started.elapsed().as_millis(),
    })
}
