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
use super::journal::{self, Journal, RunSummary};
use super::naming;
use super::ownership::{self, Ambiguous, Vetoed};
use super::planfile::{self, PlanFileError, PlanRefusal};

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
}

impl RecoveryReport {
    /// Everything of the plan is gone, nothing else matched, nothing was left ambiguous, no
    /// error: the run the operator asked for happened, all of it.
    pub fn complete(&self) -> bool {
        self.verified_zero_orphans && self.errors.is_empty() && self.ambiguous.is_empty()
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
    let pdm = match &opts.pdm_url {
        Some(url) => external::pdm_check(url, &pool, &sub).await,
        None => StepOutcome::skipped("no --pdm URL given"),
    };
    let api = match &opts.api_url {
        Some(url) => external::api_find(url, &opts.fqdn).await,
        None => StepOutcome::skipped("no --api URL given"),
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

/// The operation name of purge journals (`<dir>/recover-<slug>-<stamp>.ndjson`).
pub const JOURNAL_OPERATION: &str = "recover";

/// Purges in `dir` that were cut off before their `done` step (an SSH drop, a killed process) and
/// that no later purge of the same Sovereign has since run to its end, oldest first. Re-running
/// the purge for the FQDN is the remedy: it plans again by the ownership rule and verifies.
pub fn interrupted_purges(dir: &Path) -> Vec<RunSummary> {
    let runs = journal::runs(dir, JOURNAL_OPERATION);
    // Same FQDN, same slug: file names of one Sovereign's runs order by their UTC stamp.
    let redone = |r: &RunSummary| {
        r.fqdn.is_some()
            && runs
                .iter()
                .any(|later| later.done && later.fqdn == r.fqdn && later.file > r.file)
    };
    runs.iter()
        .filter(|r| !r.done && !redone(r))
        .cloned()
        .collect()
}

/// The purge of exactly `plan`'s objects, by id. Refuses before anything else when the plan is
/// for another Sovereign or was made with another token, and when the very first delete is
/// forbidden (read-only token). Journaled: `start`, the plan, each delete before it is sent, each
/// sweep round, the external steps, and a final `done` with the outcome whether the purge
/// succeeded or failed — only a purge whose process died (or whose future was dropped) lacks it,
/// which is what [`interrupted_purges`] looks for.
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
        Some(dir) => match Journal::create(dir, JOURNAL_OPERATION, &naming::slug(&opts.fqdn)) {
            Ok(j) => Some(j),
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the recovery journal");
                None
            }
        },
        None => None,
    };
    let mut deleted: BTreeMap<(Kind, i64), CloudObject> = BTreeMap::new();
    let mut note = |step: &str, detail: serde_json::Value| {
        if let Some(j) = journal.as_mut() {
            j.record(step, detail);
        }
    };
    note("start", serde_json::json!({"fqdn": opts.fqdn}));
    let result = purge(client, opts, plan, emit, &mut note, &mut deleted).await;
    let mut outcome = match &result {
        Ok(r) => serde_json::json!({
            "outcome": if r.verified_zero_orphans { "verified-clean" } else { "objects-remain" },
            "verified_zero_orphans": r.verified_zero_orphans,
            "remaining": &r.remaining,
            "appeared_after_plan": &r.appeared_after_plan,
            "skipped": &r.skipped,
            "errors": &r.errors,
            "pdm": &r.pdm,
            "api": &r.api,
        }),
        Err(e) => serde_json::json!({"outcome": "failed", "error": e.to_string()}),
    };
    if let Some(o) = outcome.as_object_mut() {
        o.insert("fqdn".into(), opts.fqdn.clone().into());
        o.insert(
            "deleted".into(),
            serde_json::json!(deleted.values().collect::<Vec<_>>()),
        );
    }
    note("done", outcome);
    let path = journal.as_ref().map(|j| j.path().display().to_string());
    result.map(|r| RecoveryReport { journal: path, ..r })
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

/// Delete `batch` concurrently; successes go into `deleted`, failures come back.
async fn delete_batch(
    client: &HetznerClient,
    batch: &[&Target],
    emit: &(dyn Fn(RecoverEvent) + Send + Sync),
    deleted: &mut BTreeMap<(Kind, i64), CloudObject>,
) -> Vec<HetznerError> {
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
        match r {
            Ok(()) => {
                deleted
                    .entry((t.object.kind, t.object.id))
                    .or_insert_with(|| t.object.clone());
            }
            Err(e) => errors.push(e),
        }
    }
    errors
}

/// The steps of [`apply`]; `deleted` fills as objects go so a failure can still say what went.
async fn purge(
    client: &HetznerClient,
    opts: &RecoverOptions,
    plan: &RecoveryPlan,
    emit: &(dyn Fn(RecoverEvent) + Send + Sync),
    note: &mut (dyn FnMut(&str, serde_json::Value) + Send),
    deleted: &mut BTreeMap<(Kind, i64), CloudObject>,
) -> Result<RecoveryReport, RecoverError> {
    let started = Instant::now();
    let deadline = started + opts.deadline;

    let inv = Inventory::fetch(client).await.map_err(classify)?;
    let first = against(&inv, opts, plan);
    emit(RecoverEvent::Planned {
        targets: plan.targets.len(),
    });
    note(
        "plan",
        serde_json::json!({
            "fqdn": opts.fqdn,
            "plan_created_at": plan.created_at,
            "token_fingerprint": plan.project.token_fingerprint,
            "targets": &plan.targets,
            "ambiguous": &plan.ambiguous,
        }),
    );
    let mut skipped: BTreeMap<(Kind, i64), Skipped> = BTreeMap::new();
    for s in first.skipped {
        emit(RecoverEvent::Skipped {
            object: s.object.clone(),
            why: s.why.clone(),
        });
        note(
            "skip",
            serde_json::json!({"object": &s.object, "why": &s.why}),
        );
        skipped.insert((s.object.kind, s.object.id), s);
    }
    let mut appeared: BTreeMap<(Kind, i64), Target> = BTreeMap::new();
    let report_appeared =
        |list: Vec<Target>,
         appeared: &mut BTreeMap<(Kind, i64), Target>,
         note: &mut (dyn FnMut(&str, serde_json::Value) + Send)| {
            for t in list {
                let key = (t.object.kind, t.object.id);
                if appeared.contains_key(&key) {
                    continue;
                }
                emit(RecoverEvent::AppearedAfterPlan {
                    object: t.object.clone(),
                });
                note("appeared", serde_json::json!({"object": &t.object}));
                appeared.insert(key, t);
            }
        };
    report_appeared(first.appeared, &mut appeared, note);
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
            note("delete", serde_json::json!({"object": &first.object}));
            match delete_one(client, first, emit).await {
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
            note("delete", serde_json::json!({"object": &t.object}));
        }
        errors.extend(
            delete_batch(client, &stage_targets, emit, deleted)
                .await
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
        report_appeared(now.appeared, &mut appeared, note);
        for s in now.skipped {
            let key = (s.object.kind, s.object.id);
            if let std::collections::btree_map::Entry::Vacant(slot) = skipped.entry(key) {
                emit(RecoverEvent::Skipped {
                    object: s.object.clone(),
                    why: s.why.clone(),
                });
                note(
                    "skip",
                    serde_json::json!({"object": &s.object, "why": &s.why}),
                );
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
        note(
            "sweep",
            serde_json::json!({"round": round, "remaining": &remaining}),
        );
        if remaining.is_empty() || Instant::now() >= deadline {
            break remaining;
        }
        for stage in 0..4 {
            let batch: Vec<&Target> = remaining
                .iter()
                .filter(|t| t.object.kind.purge_stage() == stage)
                .collect();
            for e in delete_batch(client, &batch, emit, deleted).await {
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

    let (pool, sub) = opts.pool_and_sub();
    let pdm = match &opts.pdm_url {
        Some(url) => {
            note("pdm-release", serde_json::json!({"pool": pool, "sub": sub}));
            external::pdm_release(url, &pool, &sub).await
        }
        None => StepOutcome::skipped("no --pdm URL given"),
    };
    emit(RecoverEvent::External {
        step: "pdm-release".into(),
        outcome: pdm.clone(),
    });
    let api = match &opts.api_url {
        Some(url) => {
            note("api-cancel", serde_json::json!({"fqdn": opts.fqdn}));
            external::api_cancel(url, &opts.fqdn, client.credentials()).await
        }
        None => StepOutcome::skipped("no --api URL given"),
    };
    emit(RecoverEvent::External {
        step: "api-cancel".into(),
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
        journal: None,
        stats: client.stats(),
        elapsed_ms: started.elapsed().as_millis(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, fqdn: &str, steps: &[&str]) {
        let mut j = Journal::create(dir, JOURNAL_OPERATION, &naming::slug(fqdn)).expect("journal");
        j.record("start", serde_json::json!({"fqdn": fqdn}));
        for step in steps {
            j.record(step, serde_json::json!({}));
        }
        // Journal names carry a millisecond stamp: the next run must get a later one.
        let now = chrono::Utc::now().timestamp_millis();
        while chrono::Utc::now().timestamp_millis() == now {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn an_interrupted_purge_counts_until_a_later_purge_of_its_sovereign_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        run(dir.path(), "a.omani.works", &["plan", "delete"]);
        run(dir.path(), "b.omani.works", &["plan", "delete", "done"]);
        run(dir.path(), "c.omani.works", &["plan", "delete"]);
        let fqdns = |dir: &Path| -> Vec<Option<String>> {
            interrupted_purges(dir)
                .into_iter()
                .map(|r| r.fqdn)
                .collect()
        };
        assert_eq!(
            fqdns(dir.path()),
            [Some("a.omani.works".into()), Some("c.omani.works".into())]
        );
        // A later run of `a` that ended (even with objects remaining) redid it; a later run of
        // `c` cut off again leaves both of `c`'s runs to report.
        run(dir.path(), "a.omani.works", &["plan", "done"]);
        run(dir.path(), "c.omani.works", &["plan"]);
        let left = interrupted_purges(dir.path());
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(
            left.iter()
                .all(|r| r.fqdn.as_deref() == Some("c.omani.works") && !r.done),
            "{left:?}"
        );
    }
}
