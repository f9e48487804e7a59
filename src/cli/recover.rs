//! `sovtui recover FQDN`: runbook §2.2/§2.3. Dry run lists the exact objects; `--apply --confirm
//! FQDN` purges them, sweeps until nothing lingers, then releases PDM and cancels the record.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;

use super::phase0::{client_for, runtime};
use super::{CliError, CliResult, RecoverArgs};
use crate::provision::hetzner::external::{StepOutcome, StepStatus};
use crate::provision::hetzner::recover::{self, RecoverEvent, RecoverOptions, Target};
use crate::provision::journal::{self, Op, Unfinished};
use crate::provision::wizard::rules::check_fqdn_tofu;

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
}

fn show_targets(targets: &[Target]) {
    for t in targets {
        let why: Vec<String> = t
            .reasons
            .iter()
            .map(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.get("by").and_then(|b| b.as_str()).map(str::to_string))
                    .unwrap_or_default()
            })
            .collect();
        eprintln!(
            "  {:<15} {:<45} #{:<10} by {}",
            t.object.kind.api_path(),
            t.object.name,
            t.object.id,
            why.join("+")
        );
    }
}

fn show_step(name: &str, o: &StepOutcome) {
    eprintln!("  {name}: {:?} — {}", o.status, o.detail);
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
        eprintln!(
            "interrupted purge of {}: re-run `sovtui recover {fqdn} --apply --confirm {fqdn}` \
             (idempotent: it re-enumerates by label and verifies); journal {}",
            run.describe(),
            run.path.display()
        );
    }
    for run in listing.of(Op::Phase0Apply) {
        let fqdn = run.fqdn.as_deref().unwrap_or("FQDN");
        eprintln!(
            "interrupted Phase-0 apply of {}: finish it with `sovtui phase0 apply` or purge it \
             with `sovtui recover {fqdn} --apply --confirm {fqdn}`; journal {}",
            run.describe(),
            run.path.display()
        );
    }
    for e in &listing.unreadable {
        eprintln!("journal unreadable: {e}");
    }
}

pub fn run(_config: Option<PathBuf>, args: RecoverArgs) -> CliResult {
    if check_fqdn_tofu(&args.fqdn).is_err() {
        return Err(CliError::usage(format!(
            "FQDN: {:?} is not a Sovereign FQDN (lowercase labels, at least two)",
            args.fqdn
        )));
    }
    if args.apply {
        let typed = args.confirm.as_deref().unwrap_or_default();
        crate::provision::confirm::typed_back(typed, &args.fqdn)
            .map_err(|why| CliError::usage(format!("--confirm arms the purge: {why}")))?;
    }
    let mut opts = RecoverOptions::new(&args.fqdn);
    opts.pdm_url = args.recover.pdm.clone();
    opts.api_url = args.recover.api.clone();
    opts.pool_domain = args.recover.pool_domain.clone();
    opts.deadline = Duration::from_secs(args.recover.deadline);
    let journal_dir = journal::default_root();
    opts.journal_dir = Some(journal_dir.clone());
    warn_interrupted(&journal_dir);
    let client = client_for(None)?;
    let rt = runtime()?;

    if !args.apply {
        let plan = rt
            .block_on(recover::plan(&client, &opts))
            .map_err(|e| CliError::Failed(anyhow!("{e}")))?;
        if plan.targets.is_empty() {
            eprintln!("recover {} (dry run): Hetzner already clean", plan.fqdn);
        } else {
            eprintln!(
                "recover {} (dry run): {} objects would be deleted:",
                plan.fqdn,
                plan.targets.len()
            );
            show_targets(&plan.targets);
        }
        show_step("PDM", &plan.pdm);
        show_step("catalyst-api", &plan.api);
        eprintln!("  re-run with --apply --confirm {} to purge", plan.fqdn);
        if args.json {
            print_json(&plan, &journal_dir)?;
        }
        return Ok(());
    }

    let emit = |e: RecoverEvent| match e {
        RecoverEvent::Planned { targets } => eprintln!("purging {targets} objects"),
        RecoverEvent::Deleted { object } => {
            eprintln!(
                "  deleted   {:<15} {} #{}",
                object.kind.api_path(),
                object.name,
                object.id
            )
        }
        RecoverEvent::DeleteFailed { object, error } => eprintln!(
            "  refused   {:<15} {} #{}: {error}",
            object.kind.api_path(),
            object.name,
            object.id
        ),
        RecoverEvent::SweepRound { round, remaining } => {
            eprintln!("  sweep round {round}: {remaining} still listed")
        }
        _ => {}
    };
    let report = rt
        .block_on(recover::apply(&client, &opts, &emit))
        .map_err(|e| CliError::Failed(anyhow!("{e}")))?;
    eprintln!(
        "deleted {} objects in {} sweep rounds ({} ms)",
        report.deleted.len(),
        report.sweep_rounds,
        report.elapsed_ms
    );
    if !report.remaining.is_empty() {
        eprintln!("STILL PRESENT after the deadline:");
        show_targets(&report.remaining);
    }
    for e in &report.errors {
        eprintln!("  error: {e}");
    }
    show_step("PDM release", &report.pdm);
    show_step("catalyst-api record", &report.api);
    if let Some(j) = &report.journal {
        eprintln!("  journal: {j}");
    }
    if args.json {
        print_json(&report, &journal_dir)?;
    }
    let external_failed =
        report.pdm.status == StepStatus::Failed || report.api.status == StepStatus::Failed;
    if !report.verified_zero_orphans || !report.errors.is_empty() || external_failed {
        return Err(CliError::Failed(anyhow!(
            "recovery of {} incomplete: {} objects remain, {} errors{}",
            report.fqdn,
            report.remaining.len(),
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
