//! Runbook §1.7/§2.1: decommission a Sovereign the canonical way — catalyst-api's
//! `POST /deployments/{id}/wipe` with the Hetzner token (and optional object-storage credentials)
//! in the body, followed to `wiped` — then verify, independently of catalyst-api's own report,
//! that nothing of it is left:
//!
//! 1. Hetzner holds nothing of it (the one ownership rule, `hetzner::ownership`: label first, a
//!    foreign label vetoes; unlabelled objects by exact name or attachment);
//! 2. its PDM name is released (`AVAILABLE`);
//! 3. `console.<fqdn>` no longer resolves at the mothership's DNS, with how long a resolver's
//!    cached answer may still linger (the TTL seen before the wipe).
//!
//! The verdict is `verified` only when all three hold; otherwise it names every leftover.
//!
//! Read-only until armed: [`plan`] reads (catalyst-api record, Hetzner listing, PDM check, one DNS
//! question) and shows what the wipe will take; [`apply`] executes exactly that plan — its
//! deployment id, with a token of the same fingerprint — journaled (no journal, no run).

mod verify;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::catalyst::{CatalystClient, ClientError, DeploymentFold, FollowOptions, FollowUpdate};
use super::hetzner::client::{HetznerClient, HetznerError, fingerprint_of};
use super::hetzner::credentials::ProjectSummary;
use super::hetzner::inventory::Inventory;
use super::hetzner::ownership::{self, Ambiguous, Claimed, Vetoed};
use super::hetzner::planfile::{self, PlanFileError, PlanRefusal};
use super::journal::{Journal, JournalError, Op};

pub use super::catalyst::ObjectStorageCredentials;
pub use verify::{Check, CheckState, DnsSeen, Verification};

/// The `format` of decommission plan files.
pub const PLAN_FORMAT: &str = "sovtui-decommission-plan/1";

/// Where the plan looks. Everything here is an address or a name, never a secret.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub fqdn: String,
    /// catalyst-api root of the mothership that provisioned the Sovereign.
    pub catalyst_api: String,
    /// The deployment to wipe; without it the one open record of the FQDN is used.
    pub deployment_id: Option<String>,
    /// PDM root (`[mothership] pdm`); without it item 2 cannot be verified.
    pub pdm_url: Option<String>,
    /// The pool zones PDM manages (`[mothership] pool_zones`): a name outside them is not PDM's.
    pub pool_zones: Vec<String>,
    /// The mothership's DNS (`[mothership] dns`); without it item 3 cannot be verified.
    pub dns: Option<SocketAddr>,
    /// Sovereigns the caller knows share the project (fleet file), for the ownership rule.
    pub known_sovereigns: Vec<String>,
    /// Pass `?force=true`: override catalyst-api's min-life guard for a Sovereign younger than
    /// 30 minutes that is still converging.
    pub force: bool,
}

/// How long the armed run waits for each thing. Tests shorten them.
#[derive(Debug, Clone)]
pub struct Options {
    /// From the wipe request to `wiped`.
    pub wipe_deadline: Duration,
    /// How long the verification keeps re-listing Hetzner while deleted objects linger.
    pub verify_grace: Duration,
    pub poll_interval: Duration,
    /// Where the run is journaled. No journal, no run.
    pub journal_dir: PathBuf,
    /// Per DNS question.
    pub dns_deadline: Duration,
}

impl Options {
    pub fn new(journal_dir: PathBuf) -> Self {
        Options {
            wipe_deadline: Duration::from_secs(30 * 60),
            verify_grace: Duration::from_secs(120),
            poll_interval: Duration::from_secs(2),
            journal_dir,
            dns_deadline: Duration::from_secs(5),
        }
    }
}

/// The catalyst-api record the plan will wipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedDeployment {
    pub catalyst_api: String,
    pub id: String,
    /// Its status when planned.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
}

/// The Sovereign's PDM name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdmName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `None`: the FQDN is under no pool zone (BYO domain): PDM holds nothing for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    pub sub: String,
    /// What PDM said when planned (`held (active-state)`, `AVAILABLE`, or why it is unknown).
    pub seen: String,
}

/// Which object-storage credentials go into the wipe body: only their shape, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSummary {
    pub access_key_fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl StorageSummary {
    pub fn of(c: &ObjectStorageCredentials) -> Self {
        StorageSummary {
            access_key_fingerprint: fingerprint_of(&c.access_key),
            region: c.region.clone(),
        }
    }
}

/// What a dry run found and an armed run executes. Written as a plan file by `--plan-out`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecommissionPlan {
    /// [`PLAN_FORMAT`].
    pub format: String,
    pub fqdn: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub deployment: PlannedDeployment,
    /// The token the wipe body carries (source and fingerprint, never the token).
    pub project: ProjectSummary,
    /// What of the Sovereign Hetzner holds now (the ownership rule): what the wipe must remove.
    pub hetzner: Vec<Claimed>,
    /// Unlabelled objects that may be this Sovereign's or another's: the verification counts
    /// them as not verified until labelled.
    pub ambiguous: Vec<Ambiguous>,
    /// Labelled for another Sovereign although name or attachment point here: never ours.
    pub vetoed: Vec<Vetoed>,
    pub others: Vec<String>,
    pub known_sovereigns: Vec<String>,
    pub pdm: PdmName,
    pub dns: DnsSeen,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_storage: Option<StorageSummary>,
    pub force: bool,
}

impl DecommissionPlan {
    pub fn write(&self, path: &Path) -> Result<(), PlanFileError> {
        planfile::write(path, self)
    }

    pub fn read(path: &Path) -> Result<Self, PlanFileError> {
        planfile::read(path, PLAN_FORMAT)
    }

    /// The PDM name as `sub.pool`, or the FQDN for a BYO domain.
    pub fn pdm_name(&self) -> String {
        match &self.pdm.pool {
            Some(p) => format!("{}.{p}", self.pdm.sub),
            None => self.fqdn.clone(),
        }
    }
}

/// Progress of an armed run, for the cockpit's live view and the CLI's lines.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The wipe request is about to be sent.
    Wiping { deployment_id: String },
    /// catalyst-api accepted it (202 `wiping`, or an older version's 200 with the report).
    WipeAccepted { status: String },
    /// The record was already wiped: only the verification runs.
    AlreadyWiped,
    /// One of catalyst-api's `wipe` events.
    Progress {
        time: String,
        level: String,
        message: String,
    },
    /// The record's status changed.
    Status { status: String },
    /// The verification is looking at `item`.
    Verifying { item: String },
    /// One verification item decided.
    Checked { check: Check },
}

/// What an armed run did and found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub fqdn: String,
    pub deployment_id: String,
    /// The record's last status (`wiped` when the wipe finished).
    pub status: String,
    /// catalyst-api's own `lastWipeReport` — shown, never trusted for the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wipe_report: Option<serde_json::Value>,
    pub verification: Verification,
    /// `verified` or `not-verified`.
    pub verdict: String,
    /// Every leftover, one line each (empty exactly when verified).
    pub leftovers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    pub elapsed_ms: u128,
}

impl Report {
    pub fn verified(&self) -> bool {
        self.verdict == "verified"
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("catalyst-api {0}")]
    Api(#[from] ClientError),
    #[error("the Hetzner token was rejected ({0})")]
    Unauthorized(HetznerError),
    #[error(transparent)]
    Hetzner(HetznerError),
    #[error("{0}")]
    NoDeployment(String),
    #[error("refusing the plan: {0}")]
    Refused(#[from] PlanRefusal),
    /// The record changed after the plan in a way that makes the plan wrong: nothing was sent.
    #[error("the deployment changed after the plan: {0} — nothing was wiped; plan again")]
    Changed(String),
    #[error(
        "catalyst-api refused the wipe: {0} — the Sovereign is younger than catalyst-api's \
         min-life guard and still converging; wait, or plan again with --force"
    )]
    TooYoung(String),
    #[error("the wipe did not reach `wiped` within {0}: {1}")]
    NotWiped(String, String),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

fn classify(e: HetznerError) -> Error {
    if e.is_unauthorized() {
        Error::Unauthorized(e)
    } else {
        Error::Hetzner(e)
    }
}

/// The plan's inputs from the fleet file: the Sovereign's `catalyst_api` and `deployment_id`
/// (overridden by `api` / `deployment`), `[mothership]`'s PDM, DNS and pool zones, and the other
/// Sovereigns it lists. A missing fleet file gives only what the overrides say.
pub fn inputs_from_fleet(
    fleet_file: &Path,
    fqdn: &str,
    api: Option<String>,
    deployment: Option<String>,
) -> Result<Inputs, String> {
    let fleet = if fleet_file.exists() {
        crate::config::fleet_file::load(fleet_file).map_err(|e| e.to_string())?
    } else {
        crate::config::fleet_file::FleetFile::default()
    };
    let entry = fleet.sovereigns.iter().find(|s| s.fqdn == fqdn);
    let catalyst_api = api
        .or_else(|| entry.and_then(|e| e.catalyst_api.clone()))
        .or_else(|| fleet.catalyst_api(None).map(str::to_string))
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            format!(
                "no catalyst-api for {fqdn}: give --api URL or a catalyst_api in its fleet-file \
                 entry ({})",
                fleet_file.display()
            )
        })?;
    let m = fleet.mothership.as_ref();
    Ok(Inputs {
        fqdn: fqdn.to_string(),
        catalyst_api,
        deployment_id: deployment.or_else(|| entry.and_then(|e| e.deployment_id.clone())),
        pdm_url: m.and_then(|m| m.pdm.clone()),
        pool_zones: m.map_or_else(
            || {
                crate::config::fleet_file::DEFAULT_POOL_ZONES
                    .iter()
                    .map(|z| z.to_string())
                    .collect()
            },
            |m| m.pool_zones.clone(),
        ),
        dns: m.and_then(|m| m.dns),
        known_sovereigns: fleet.sovereigns.iter().map(|s| s.fqdn.clone()).collect(),
        force: false,
    })
}

/// `(pool zone, subdomain)` of the FQDN: the longest pool zone it ends in, and the label before
/// it. `None` for a BYO domain (under no pool zone).
pub fn pool_and_sub(fqdn: &str, pool_zones: &[String]) -> (Option<String>, String) {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    let zone = pool_zones
        .iter()
        .map(|z| z.trim_end_matches('.').to_ascii_lowercase())
        .filter(|z| {
            fqdn.strip_suffix(z.as_str())
                .and_then(|head| head.strip_suffix('.'))
                .is_some_and(|sub| !sub.is_empty() && !sub.contains('.'))
        })
        .max_by_key(|z| z.len());
    match zone {
        Some(z) => {
            let sub = fqdn[..fqdn.len() - z.len() - 1].to_string();
            (Some(z), sub)
        }
        None => (None, fqdn.split('.').next().unwrap_or_default().to_string()),
    }
}

/// The record to wipe: the one named, or the one record of the FQDN that is not wiped yet.
async fn find_deployment(
    api: &CatalystClient,
    inputs: &Inputs,
) -> Result<super::catalyst::DeploymentState, Error> {
    if let Some(id) = &inputs.deployment_id {
        let st = api.deployment(id).await.map_err(|e| match e.status() {
            Some(404) => Error::NoDeployment(format!(
                "catalyst-api {} has no deployment {id}",
                api.root()
            )),
            _ => Error::Api(e),
        })?;
        if !st.sovereign_fqdn.is_empty() && st.sovereign_fqdn != inputs.fqdn {
            return Err(Error::NoDeployment(format!(
                "deployment {id} is {}, not {}",
                st.sovereign_fqdn, inputs.fqdn
            )));
        }
        return Ok(st);
    }
    let mut mine: Vec<_> = api
        .list_deployments()
        .await?
        .into_iter()
        .filter(|d| d.sovereign_fqdn == inputs.fqdn)
        .collect();
    // A wiped record is history; the open one is what a decommission wipes. With only wiped
    // records left, the newest is verified again.
    let open: Vec<_> = mine
        .iter()
        .filter(|d| d.status != "wiped")
        .cloned()
        .collect();
    match open.len() {
        1 => return Ok(open.into_iter().next().expect("one")),
        0 => {}
        n => {
            return Err(Error::NoDeployment(format!(
                "{n} open deployments of {} at {} ({}): name one with --deployment ID",
                inputs.fqdn,
                api.root(),
                open.iter()
                    .map(|d| format!("{} {}", d.id, d.status))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    mine.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    mine.pop().ok_or_else(|| {
        Error::NoDeployment(format!(
            "catalyst-api {} has no deployment of {}: nothing to wipe there (for leftovers of a \
             run it has no record of, use `sovtui recover {}`)",
            api.root(),
            inputs.fqdn,
            inputs.fqdn
        ))
    })
}

/// Dry run: the record, what Hetzner holds of the Sovereign, its PDM name, its DNS answer.
/// Nothing is changed.
pub async fn plan(
    api: &CatalystClient,
    hetzner: &HetznerClient,
    inputs: &Inputs,
    storage: Option<&ObjectStorageCredentials>,
    dns_deadline: Duration,
) -> Result<DecommissionPlan, Error> {
    let dep = find_deployment(api, inputs).await?;
    let inv = Inventory::fetch(hetzner).await.map_err(classify)?;
    let owned = ownership::claim(&inv, &inputs.fqdn, &inputs.known_sovereigns);
    let (pool, sub) = pool_and_sub(&inputs.fqdn, &inputs.pool_zones);
    let mut pdm = PdmName {
        url: inputs.pdm_url.clone(),
        pool,
        sub,
        seen: String::new(),
    };
    pdm.seen = verify::pdm_state(&pdm).await.1;
    let dns = verify::dns_seen(inputs.dns, &inputs.fqdn, dns_deadline).await;
    Ok(DecommissionPlan {
        format: PLAN_FORMAT.to_string(),
        fqdn: inputs.fqdn.clone(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        deployment: PlannedDeployment {
            catalyst_api: api.root().to_string(),
            id: dep.id,
            status: dep.status,
            started_at: dep.started_at,
        },
        project: ProjectSummary::new(hetzner.credentials(), &inv),
        hetzner: owned.ours,
        ambiguous: owned.ambiguous,
        vetoed: owned.vetoed,
        others: owned.others,
        known_sovereigns: inputs.known_sovereigns.clone(),
        pdm,
        dns,
        object_storage: storage.map(StorageSummary::of),
        force: inputs.force,
    })
}

/// Why a plan may not run with these inputs (beyond [`planfile::check`]): the object-storage
/// credentials differ from the plan's.
fn check_storage(
    plan: &DecommissionPlan,
    storage: Option<&ObjectStorageCredentials>,
) -> Result<(), Error> {
    let now = storage.map(StorageSummary::of);
    if now != plan.object_storage {
        let show = |s: &Option<StorageSummary>| match s {
            Some(s) => format!("access key {}", s.access_key_fingerprint),
            None => "none".to_string(),
        };
        return Err(Error::Changed(format!(
            "the plan's object-storage credentials ({}) are not this run's ({})",
            show(&plan.object_storage),
            show(&now)
        )));
    }
    Ok(())
}

/// Execute exactly `plan`: check it is for this Sovereign and token, journal, wipe its deployment
/// id, follow it to `wiped` (bounded), then verify. A record already wiped is only verified.
pub async fn apply(
    api: &CatalystClient,
    hetzner: &HetznerClient,
    plan: &DecommissionPlan,
    storage: Option<&ObjectStorageCredentials>,
    opts: &Options,
    emit: &(dyn Fn(Event) + Send + Sync),
) -> Result<Report, Error> {
    planfile::check(
        &plan.fqdn,
        &plan.project.token_fingerprint,
        &plan.fqdn,
        hetzner.credentials(),
    )?;
    check_storage(plan, storage)?;
    if api.root() != plan.deployment.catalyst_api {
        return Err(Error::Changed(format!(
            "the plan's catalyst-api is {}, this run's {}",
            plan.deployment.catalyst_api,
            api.root()
        )));
    }
    let mut journal = Journal::create(&opts.journal_dir, Op::Decommission, &plan.fqdn)?;
    journal.planned(plan)?;
    let started = Instant::now();
    let result = run(api, hetzner, plan, storage, opts, emit, &mut journal).await;
    if let Err(Error::Journal(_)) = &result {
        return result;
    }
    let (outcome, detail) = match &result {
        Ok(r) => (
            r.verdict.as_str(),
            serde_json::json!({"status": r.status, "leftovers": r.leftovers}),
        ),
        Err(e) => ("failed", serde_json::json!({"error": e.to_string()})),
    };
    journal.finish(outcome, detail)?;
    let path = journal.path().display().to_string();
    result.map(|r| Report {
        journal: Some(path),
        elapsed_ms: started.elapsed().as_millis(),
        ..r
    })
}

async fn run(
    api: &CatalystClient,
    hetzner: &HetznerClient,
    plan: &DecommissionPlan,
    storage: Option<&ObjectStorageCredentials>,
    opts: &Options,
    emit: &(dyn Fn(Event) + Send + Sync),
    journal: &mut Journal,
) -> Result<Report, Error> {
    let id = &plan.deployment.id;
    // The record must still be the plan's: same Sovereign.
    let now = match api.deployment(id).await {
        Ok(s) => s,
        Err(e) if e.status() == Some(404) => {
            return Err(Error::Changed(format!(
                "deployment {id} is no longer on record at {}",
                api.root()
            )));
        }
        Err(e) => return Err(Error::Api(e)),
    };
    if !now.sovereign_fqdn.is_empty() && now.sovereign_fqdn != plan.fqdn {
        return Err(Error::Changed(format!(
            "deployment {id} is now {}, not {}",
            now.sovereign_fqdn, plan.fqdn
        )));
    }
    // What a resolver may have cached: the answer just before the wipe (the plan's may be old).
    let before = verify::dns_seen(
        plan.dns.server.as_deref().and_then(|s| s.parse().ok()),
        &plan.fqdn,
        opts.dns_deadline,
    )
    .await;
    let ttl_before = before.ttl.max(plan.dns.ttl);

    let mut status = now.status.clone();
    let mut wipe_report = now.last_wipe_report.clone();
    if status == "wiped" {
        emit(Event::AlreadyWiped);
        journal.done("wipe", serde_json::json!({"already": "wiped"}))?;
    } else {
        emit(Event::Wiping {
            deployment_id: id.clone(),
        });
        journal.started("wipe")?;
        let token = hetzner.credentials().token_for_wipe();
        match api.wipe_with_storage(id, token, storage, plan.force).await {
            Ok(answer) => {
                let st = answer
                    .get("status")
                    .and_then(|s| s.as_str())
                    .unwrap_or("accepted")
                    .to_string();
                // Older catalyst-api answers 200 with the report itself.
                if answer.get("wipedAt").is_some() {
                    wipe_report = Some(answer.clone());
                }
                emit(Event::WipeAccepted { status: st.clone() });
                journal.done("wipe", serde_json::json!({"answer": st}))?;
            }
            Err(e) if e.status() == Some(409) => {
                let text = e.to_string();
                if text.contains("already in progress") {
                    // Another wipe of this record is running: follow it.
                    emit(Event::WipeAccepted {
                        status: "wiping (already in progress)".into(),
                    });
                    journal.done("wipe", serde_json::json!({"answer": "already in progress"}))?;
                } else {
                    journal.failed("wipe", &text)?;
                    return Err(Error::TooYoung(text));
                }
            }
            Err(e) => {
                journal.failed("wipe", &e.to_string())?;
                return Err(Error::Api(e));
            }
        }
        journal.started("follow")?;
        let (st, report) = follow_to_wiped(api, id, opts, emit).await?;
        status = st;
        if report.is_some() {
            wipe_report = report;
        }
        journal.done("follow", serde_json::json!({"status": status}))?;
    }

    journal.started("verify")?;
    let verification = verify::verify(hetzner, plan, ttl_before, opts, emit)
        .await
        .map_err(classify)?;
    let mut leftovers = verification.leftovers();
    if status != "wiped" {
        leftovers.insert(
            0,
            format!("the deployment record {id} is {status}, not wiped"),
        );
    }
    journal.done(
        "verify",
        serde_json::json!({"checks": &verification.checks}),
    )?;
    Ok(Report {
        fqdn: plan.fqdn.clone(),
        deployment_id: id.clone(),
        status,
        wipe_report,
        verdict: if leftovers.is_empty() {
            "verified".into()
        } else {
            "not-verified".into()
        },
        leftovers,
        verification,
        journal: None,
        elapsed_ms: 0,
    })
}

/// Follow the record until it is terminal (the wipe's events reported as they come), within
/// `opts.wipe_deadline`. `(status, lastWipeReport)`; a record that answers 410 Gone once wiped
/// (some catalyst-api versions) counts as wiped.
async fn follow_to_wiped(
    api: &CatalystClient,
    id: &str,
    opts: &Options,
    emit: &(dyn Fn(Event) + Send + Sync),
) -> Result<(String, Option<serde_json::Value>), Error> {
    let mut fold = DeploymentFold::new(id);
    let fopts = FollowOptions {
        poll_interval: opts.poll_interval,
        ..FollowOptions::default()
    };
    let last_status = std::sync::Mutex::new(String::new());
    let followed = tokio::time::timeout(
        opts.wipe_deadline,
        super::catalyst::follow(api, &mut fold, &fopts, |u, f| {
            match u {
                FollowUpdate::Event(e) if e.phase == "wipe" => emit(Event::Progress {
                    time: e.time.clone(),
                    level: e.level.clone(),
                    message: super::safe_text::terminal_safe(&e.message).into_owned(),
                }),
                _ => {}
            }
            if let Some(st) = &f.state {
                let mut last = last_status.lock().unwrap_or_else(|e| e.into_inner());
                if *last != st.status {
                    *last = st.status.clone();
                    emit(Event::Status {
                        status: st.status.clone(),
                    });
                }
            }
        }),
    )
    .await;
    let shown = super::limits::show_duration(opts.wipe_deadline);
    match followed {
        Err(_) => {
            let st = fold
                .state
                .as_ref()
                .map_or("unknown".to_string(), |s| s.status.clone());
            Err(Error::NotWiped(shown, format!("the record is still {st}")))
        }
        Ok(Err(e)) if e.status() == Some(410) => Ok(("wiped".into(), None)),
        Ok(Err(e)) => Err(Error::Api(e)),
        Ok(Ok(())) => {
            // The stream's last state may predate the report: read the record once more.
            let st = match api.deployment(id).await {
                Ok(s) => s,
                Err(e) if e.status() == Some(410) => return Ok(("wiped".into(), None)),
                Err(e) => return Err(Error::Api(e)),
            };
            Ok((st.status, st.last_wipe_report))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones() -> Vec<String> {
        ["omani.works", "works", "omantel.biz"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn pool_and_sub_takes_the_longest_pool_zone() {
        assert_eq!(
            pool_and_sub("t42.omani.works", &zones()),
            (Some("omani.works".into()), "t42".into())
        );
        // Deeper than one label under a pool zone: not a pool name.
        assert_eq!(
            pool_and_sub("a.b.omantel.biz", &zones()),
            (None, "a".into())
        );
        assert_eq!(pool_and_sub("acme.example.com", &zones()).0, None);
        assert_eq!(
            pool_and_sub("omani.works", &zones()).0,
            Some("works".into())
        );
    }

    #[test]
    fn storage_secret_is_never_in_the_plan_or_debug() {
        let c = ObjectStorageCredentials {
            access_key: "AKIA1".into(),
            secret_key: "s3cr3t-value".into(),
            region: Some("fsn1".into()),
        };
        let summary = serde_json::to_string(&StorageSummary::of(&c)).expect("json");
        assert!(
            !summary.contains("s3cr3t") && !summary.contains("AKIA1"),
            "{summary}"
        );
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
