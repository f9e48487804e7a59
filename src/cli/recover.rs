//! `sovtui recover FQDN`: runbook §2.2/§2.3. The dry run lists the exact objects (`--out` writes
//! that plan); `--apply --confirm FQDN` deletes exactly the plan's objects — the plan file's with
//! `--plan`, else the one it computes and prints — sweeps until none of them lingers, reports what
//! appeared after the plan without touching it, then releases PDM and cancels the record.
//! With a `[mothership]` in the fleet file, steps 2 and 3 go the runbook's way: the plan shows
//! PDM's state of the name and the exact deployment records, the armed run releases only a held
//! name and sets each record `cancelled` through the catalyst-api pod (`--record-route wipe`:
//! through catalyst-api's wipe route instead).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;

use super::phase0::runtime;
use super::{CliError, CliResult, RecoverArgs};
use crate::config::paths;
use crate::provision::hetzner::external::{StepOutcome, StepStatus};
use crate::provision::hetzner::recover::{
    self, MatchReason, RecoverError, RecoverEvent, RecoverOptions, RecoveryPlan, Target,
};
use crate::provision::journal::{self, Op, Unfinished};
use crate::provision::mothership::MothershipPlan;
use crate::provision::mothership::records::RecordRoute;

#[derive(Debug, Args, Clone)]
pub struct RecoverFlags {
    /// pool-domain-manager base URL; without it the PDM release is skipped
    #[arg(long, value_name = "URL")]
    pub pdm: Option<String>,
    /// catalyst-api base URL; without it the record cancel is skipped
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// Pool zone for PDM (default: the FQDN minus its first label)
    #[arg(long, value_name = "ZONE")]
    pub pool_domain: Option<String>,
    /// Give up the verification sweep after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub deadline: u64,
    /// With a [mothership] in the fleet file: how step 3 ends the deployment records — `exec`
    /// (the runbook's: rewritten `cancelled` in the catalyst-api pod) or `wipe` (catalyst-api's
    /// wipe route, needs --api). Default: the plan's, else exec
    #[arg(long, value_name = "ROUTE")]
    pub record_route: Option<RecordRoute>,
}

fn show_targets(targets: &[Target]) {
    for t in targets {
        let why: Vec<String> = t.reasons.iter().map(MatchReason::describe).collect();
        say!(
            "  {:<15} {:<45} #{:<10} by {}",
            t.object.kind.api_path(),
            &t.object.name,
            t.object.id,
            why.join(" + ")
        );
    }
}

fn show_plan(plan: &RecoveryPlan) {
    say!("  {}", plan.project.line());
    if plan.targets.is_empty() {
        say!("recover {}: Hetzner holds nothing of it", plan.fqdn);
    } else {
        say!(
            "recover {}: {} objects to delete (plan of {}):",
            plan.fqdn,
            plan.targets.len(),
            plan.created_at
        );
        show_targets(&plan.targets);
    }
    if !plan.ambiguous.is_empty() {
        say!(
            "  AMBIGUOUS — never deleted until labelled ({}):",
            plan.ambiguous.len()
        );
        for a in &plan.ambiguous {
            say!(
                "  {:<15} {:<45} #{:<10} {}",
                a.object.kind.api_path(),
                &a.object.name,
                a.object.id,
                a.candidates
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
            say!("      resolve: {}", a.resolve);
        }
    }
    for v in &plan.vetoed {
        say!(
            "  not ours: {} {} #{} is labelled for {} (its {} point here; the label decides)",
            v.object.kind.api_path(),
            &v.object.name,
            v.object.id,
            &v.owner,
            v.reasons
                .iter()
                .map(MatchReason::describe)
                .collect::<Vec<_>>()
                .join(" + ")
        );
    }
}

/// Steps 2 and 3 as planned through the mothership: the PDM name and state, the exact records.
fn show_mothership(m: &MothershipPlan) {
    say!(
        "  mothership: context {} (catalyst-api in namespace {})",
        m.entry.context,
        m.records.namespace
    );
    match &m.pdm {
        Some(p) => say!(
            "  step 2 PDM {} at {}: {}{}",
            p.name(),
            p.url,
            p.state.map_or("UNKNOWN", |s| s.word()),
            match (p.state, &p.error) {
                (Some(s), _) if s.held() => " → release, then verify AVAILABLE".to_string(),
                (Some(_), _) => " → nothing to release".to_string(),
                (None, e) => format!(" ({}) → nothing released", e.as_deref().unwrap_or("")),
            }
        ),
        None => say!("  step 2 PDM: no PDM URL ([mothership] pdm or --pdm): skipped"),
    }
    say!(
        "  step 3 deployment records (route {}):",
        m.records.route.word()
    );
    if let Some(e) = &m.records.error {
        say!("    unreadable: {e} — none will be changed");
    }
    if m.records.records.is_empty() && m.records.error.is_none() {
        say!("    none on record for this Sovereign");
    }
    for r in &m.records.records {
        say!(
            "    {} {:<12} {} events, sha256 {}  {}",
            r.id,
            r.status,
            r.events,
            &r.sha256[..r.sha256.len().min(12)],
            if !r.cancel {
                "left alone".to_string()
            } else if m.records.route == RecordRoute::Wipe {
                "→ wiped (catalyst-api wipe route)".to_string()
            } else {
                "→ cancelled (finishedAt, operator-recovery event)".to_string()
            }
        );
    }
}

fn show_step(name: &str, o: &StepOutcome) {
    say!("  {name}: {:?} — {}", o.status, o.detail);
}

/// The plan or report, plus the purges the journals show were cut off (as of printing: a purge
/// this run completed for the same FQDN no longer counts).
fn print_json(v: &impl serde::Serialize, journal_root: &Path) -> CliResult {
    #[derive(serde::Serialize)]
    struct WithInterrupted<'a, T> {
        #[serde(flatten)]
        inner: &'a T,
        interrupted_purges: Vec<Unfinished>,
    }
    let doc = WithInterrupted {
        inner: v,
        interrupted_purges: journal::unfinished(journal_root)
            .of(Op::Purge)
            .cloned()
            .collect(),
    };
    let text = serde_json::to_string_pretty(&doc).map_err(|e| CliError::Failed(e.into()))?;
    println!("{text}");
    Ok(())
}

/// Purges and Phase-0 applies an SSH drop (or a kill) cut off before they recorded their end,
/// and journals that cannot be read, on stderr.
fn warn_interrupted(journal_root: &Path) {
    let listing = journal::unfinished(journal_root);
    for run in listing.of(Op::Purge) {
        let fqdn = run.fqdn.as_deref().unwrap_or("FQDN");
        say!(
            "interrupted purge of {}: re-run `sovtui recover {fqdn} --apply --confirm {fqdn}` \
             (idempotent: it plans again and verifies); journal {}",
            run.describe(),
            run.path.display()
        );
    }
    for run in listing.of(Op::Phase0Apply) {
        let fqdn = run.fqdn.as_deref().unwrap_or("FQDN");
        say!(
            "interrupted Phase-0 apply of {}: finish it with `sovtui phase0 apply` or purge it \
             with `sovtui recover {fqdn} --apply --confirm {fqdn}`; journal {}",
            run.describe(),
            run.path.display()
        );
    }
    for e in &listing.unreadable {
        say!("journal unreadable: {e}");
    }
}

pub fn run(config: Option<PathBuf>, args: RecoverArgs) -> CliResult {
    // A plan file is read (and its Sovereign checked) before anything else happens.
    let typed = args.confirm.as_deref().unwrap_or_default();
    let planned = super::armed::preamble(
        &args.fqdn,
        args.apply.then_some((typed, "the purge")),
        args.plan.as_deref(),
        RecoveryPlan::read,
        |p| &p.fqdn,
    )?;
    let plan_path = super::armed::plan_path(args.plan.as_deref());
    let fleet_path = config.unwrap_or_else(paths::fleet_file);
    let mut opts = RecoverOptions::new(&args.fqdn);
    opts.pdm_url = args.recover.pdm.clone();
    opts.api_url = args.recover.api.clone();
    opts.pool_domain = args.recover.pool_domain.clone();
    opts.deadline = Duration::from_secs(args.recover.deadline);
    opts.known_sovereigns = super::phase0::fleet_sovereigns(&fleet_path);
    opts.record_route = args.recover.record_route.unwrap_or_default();
    if fleet_path.exists() {
        opts.mothership = crate::config::fleet_file::load(&fleet_path)
            .map_err(|e| CliError::usage(e.to_string()))?
            .mothership;
    }
    if let (Some(p), Some(route)) = (&planned, args.recover.record_route) {
        let planned_route = p.mothership.as_ref().map(|m| m.records.route);
        if planned_route.is_some_and(|r| r != route) {
            return Err(CliError::usage(format!(
                "{} was planned with --record-route {}, not {}: plan again to change the route — nothing was touched",
                plan_path,
                planned_route.map_or("", |r| r.word()),
                route.word()
            )));
        }
    }
    let journal_dir = journal::default_root();
    opts.journal_dir = Some(journal_dir.clone());
    warn_interrupted(&journal_dir);
    let client = super::phase0::client_for(&args.fqdn, &fleet_path, None)?;
    let rt = runtime()?;

    let plan = match planned {
        Some(p) => {
            crate::provision::hetzner::planfile::check(
                &p.fqdn,
                &p.project.token_fingerprint,
                &args.fqdn,
                client.credentials(),
            )
            .map_err(|e| CliError::usage(format!("{plan_path}: {e}")))?;
            say!("executing the plan file {plan_path}:");
            p
        }
        None => rt
            .block_on(recover::plan(&client, &opts))
            .map_err(|e| CliError::Failed(anyhow!("{e}")))?,
    };
    show_plan(&plan);
    if let Some(m) = &plan.mothership {
        show_mothership(m);
    }
    if let Some(out) = &args.out {
        plan.write(out)
            .map_err(|e| CliError::Failed(anyhow!("{e}")))?;
        say!("  plan written to {}", out.display());
    }

    if !args.apply {
        show_step("PDM", &plan.pdm);
        show_step("catalyst-api", &plan.api);
        match &args.out {
            Some(out) => say!(
                "  re-run with --apply --plan {} --confirm {} to delete exactly these objects",
                out.display(),
                plan.fqdn
            ),
            None => say!(
                "  re-run with --apply --confirm {} to purge (add --out PLAN.json here and \
                 --plan PLAN.json there to bind the purge to this very plan)",
                plan.fqdn
            ),
        }
        if args.json {
            print_json(&plan, &journal_dir)?;
        }
        if !plan.ambiguous.is_empty() {
            say!(
                "  {} ambiguous object(s): label them (see above) and plan again",
                plan.ambiguous.len()
            );
        }
        return Ok(());
    }

    let emit = |e: RecoverEvent| match e {
        RecoverEvent::Planned { targets } => say!("purging the plan's {targets} objects"),
        RecoverEvent::AppearedAfterPlan { object } => say!(
            "  APPEARED AFTER THE PLAN (not touched) {:<15} {} #{}",
            object.kind.api_path(),
            &object.name,
            object.id
        ),
        RecoverEvent::Skipped { object, why } => say!(
            "  CHANGED AFTER THE PLAN (not touched) {:<15} {} #{}: {why}",
            object.kind.api_path(),
            &object.name,
            object.id
        ),
        RecoverEvent::Deleted { object } => {
            say!(
                "  deleted   {:<15} {} #{}",
                object.kind.api_path(),
                object.name,
                object.id
            )
        }
        RecoverEvent::DeleteFailed { object, error } => say!(
            "  refused   {:<15} {} #{}: {error}",
            object.kind.api_path(),
            object.name,
            object.id
        ),
        RecoverEvent::SweepRound { round, remaining } => {
            say!("  sweep round {round}: {remaining} still listed")
        }
        _ => {}
    };
    let report = rt
        .block_on(recover::apply(&client, &opts, &plan, &emit))
        .map_err(|e| match e {
            RecoverError::Refused(r) => CliError::usage(r.to_string()),
            e => CliError::Failed(anyhow!("{e}")),
        })?;
    say!(
        "deleted {} objects in {} sweep rounds ({} ms)",
        report.deleted.len(),
        report.sweep_rounds,
        report.elapsed_ms
    );
    if !report.remaining.is_empty() {
        say!("STILL PRESENT after the deadline:");
        show_targets(&report.remaining);
    }
    for e in &report.errors {
        say!("  error: {e}");
    }
    show_step("PDM release", &report.pdm);
    show_step("catalyst-api record", &report.api);
    if let Some(m) = &report.mothership {
        for r in &m.records.records {
            say!("    record {}", r.outcome.detail);
        }
    }
    if let Some(j) = &report.journal {
        say!("  journal: {j}");
    }
    if args.json {
        print_json(&report, &journal_dir)?;
    }
    let external_failed =
        report.pdm.status == StepStatus::Failed || report.api.status == StepStatus::Failed;
    if report.changed_since_plan() {
        let (pdm, records) = report.mothership.as_ref().map_or((false, 0), |m| {
            (
                m.pdm.as_ref().is_some_and(|p| p.changed_since_plan),
                m.records
                    .records
                    .iter()
                    .filter(|r| r.changed_since_plan)
                    .count()
                    + m.records.appeared_after_plan.len(),
            )
        });
        return Err(CliError::Changed(format!(
            "recovery of {}: {} object(s) appeared after the plan and {} changed since it, {} \
             deployment record(s){} not as planned — none of them was touched; review `sovtui \
             recover {}` and run again",
            report.fqdn,
            report.appeared_after_plan.len(),
            report.skipped.len(),
            records,
            if pdm { " and the PDM allocation" } else { "" },
            report.fqdn
        )));
    }
    if !report.complete() || external_failed {
        return Err(CliError::Failed(anyhow!(
            "recovery of {} incomplete: {} objects remain, {} ambiguous left alone, {} errors{}",
            report.fqdn,
            report.remaining.len(),
            report.ambiguous.len(),
            report.errors.len(),
            if external_failed {
                ", a PDM/catalyst-api step failed"
            } else {
                ""
            }
        )));
    }
    Ok(())
}
