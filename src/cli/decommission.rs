//! `sovtui decommission FQDN`: runbook §1.7/§2.1. Read-only by default: it shows what the wipe
//! will take (the deployment record, the Hetzner objects by the ownership rule, the PDM name,
//! `console.<fqdn>`'s DNS answer, the token's fingerprint) and `--plan-out` writes that plan;
//! `--apply --confirm FQDN` (with `--plan FILE` to bind it to a written plan) sends catalyst-api's
//! wipe for exactly that deployment id, follows it to `wiped`, and verifies all three items.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;

use super::phase0::runtime;
use super::{CliError, CliResult};
use crate::config::paths;
use crate::provision::catalyst::CatalystClient;
use crate::provision::decommission::{
    self, CheckState, DecommissionPlan, Error, Event, ObjectStorageCredentials, Options,
};
use crate::provision::hetzner::ownership::MatchReason;
use crate::provision::journal;

#[derive(Debug, Args)]
pub struct DecommissionArgs {
    pub fqdn: String,
    /// Write the plan to this file (0600) for `--apply --plan`
    #[arg(long, value_name = "PLAN.json", conflicts_with = "apply")]
    pub plan_out: Option<PathBuf>,
    /// Wipe for real (default: show the plan only)
    #[arg(long, requires = "confirm")]
    pub apply: bool,
    /// With --apply: execute exactly this plan file (from `--plan-out`); its record, catalyst-api
    /// and `force` are the plan's
    #[arg(
        long,
        value_name = "PLAN.json",
        requires = "apply",
        conflicts_with_all = ["api", "deployment", "force"]
    )]
    pub plan: Option<PathBuf>,
    /// The FQDN typed back: arms --apply
    #[arg(long, value_name = "FQDN")]
    pub confirm: Option<String>,
    /// catalyst-api base URL (default: the Sovereign's `catalyst_api` in the fleet file)
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// The deployment to wipe (default: the fleet file's `deployment_id`, else the one open
    /// record of the FQDN)
    #[arg(long, value_name = "ID")]
    pub deployment: Option<String>,
    /// Override catalyst-api's min-life guard (a Sovereign younger than 30 minutes)
    #[arg(long)]
    pub force: bool,
    /// Give up following the wipe after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    pub wipe_deadline: u64,
    /// How long the verification re-lists while deleted objects linger
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub verify_grace: u64,
    #[arg(long)]
    pub json: bool,
}

/// Object-storage credentials for the wipe's bucket purge: `SOVTUI_S3_ACCESS_KEY` and
/// `SOVTUI_S3_SECRET_KEY` (both or neither), `SOVTUI_S3_REGION` optional.
fn storage_from_env() -> Result<Option<ObjectStorageCredentials>, CliError> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    match (var("SOVTUI_S3_ACCESS_KEY"), var("SOVTUI_S3_SECRET_KEY")) {
        (None, None) => Ok(None),
        (Some(access_key), Some(secret_key)) => Ok(Some(ObjectStorageCredentials {
            access_key: access_key.trim().to_string(),
            secret_key: secret_key.trim().to_string(),
            region: var("SOVTUI_S3_REGION").map(|r| r.trim().to_string()),
        })),
        _ => Err(CliError::usage(
            "object storage: set both SOVTUI_S3_ACCESS_KEY and SOVTUI_S3_SECRET_KEY, or neither",
        )),
    }
}

fn show_plan(p: &DecommissionPlan) {
    say!("decommission {} (plan of {}):", p.fqdn, p.created_at);
    say!(
        "  deployment {} at {} — status {}",
        p.deployment.id,
        p.deployment.catalyst_api,
        p.deployment.status
    );
    say!("  {}", p.project.line());
    if p.hetzner.is_empty() {
        say!("  Hetzner: holds nothing of it");
    } else {
        say!(
            "  Hetzner: {} object(s) of it, which the wipe removes:",
            p.hetzner.len()
        );
        for t in &p.hetzner {
            let why: Vec<String> = t.reasons.iter().map(MatchReason::describe).collect();
            say!(
                "    {:<15} {:<45} #{:<10} by {}",
                t.object.kind.api_path(),
                &t.object.name,
                t.object.id,
                why.join(" + ")
            );
        }
    }
    for a in &p.ambiguous {
        say!(
            "  AMBIGUOUS {} {} #{} ({}): the verification counts it until labelled — {}",
            a.object.kind.api_path(),
            &a.object.name,
            a.object.id,
            a.candidates
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
            a.resolve
        );
    }
    for v in &p.vetoed {
        say!(
            "  not ours: {} {} #{} is labelled for {} (the label decides; left alone)",
            v.object.kind.api_path(),
            &v.object.name,
            v.object.id,
            &v.owner
        );
    }
    say!("  PDM: {}", p.pdm.seen);
    say!("  DNS: {}", p.dns.line());
    match &p.object_storage {
        Some(s) => say!(
            "  object storage: buckets purged with access key {}{}",
            s.access_key_fingerprint,
            s.region
                .as_deref()
                .map(|r| format!(" (region {r})"))
                .unwrap_or_default()
        ),
        None => say!("  object storage: no credentials (SOVTUI_S3_*): buckets are not purged"),
    }
    if p.force {
        say!("  --force: catalyst-api's min-life guard is overridden");
    }
}

fn print_json(v: &impl serde::Serialize) -> CliResult {
    let text = serde_json::to_string_pretty(v).map_err(|e| CliError::Failed(e.into()))?;
    println!("{text}");
    Ok(())
}

fn map_err(e: Error) -> CliError {
    match e {
        Error::Refused(r) => CliError::usage(r.to_string()),
        Error::NoDeployment(m) => CliError::usage(m),
        Error::Changed(_) => CliError::Changed(e.to_string()),
        e => CliError::Failed(anyhow!("{e}")),
    }
}

pub fn run(config: Option<PathBuf>, args: DecommissionArgs) -> CliResult {
    let typed = args.confirm.as_deref().unwrap_or_default();
    let planned = super::armed::preamble(
        &args.fqdn,
        args.apply.then_some((typed, "the wipe")),
        args.plan.as_deref(),
        DecommissionPlan::read,
        |p| &p.fqdn,
    )?;
    let storage = storage_from_env()?;
    let fleet_path = config.unwrap_or_else(paths::fleet_file);
    let hetzner = super::phase0::client_for(&args.fqdn, &fleet_path, None)?;
    let mut opts = Options::new(journal::default_root());
    opts.wipe_deadline = Duration::from_secs(args.wipe_deadline);
    opts.verify_grace = Duration::from_secs(args.verify_grace);
    let rt = runtime()?;

    let plan = match planned {
        Some(p) => {
            // The plan's own catalyst-api: it names the record the operator approved.
            say!(
                "executing the plan file {}:",
                super::armed::plan_path(args.plan.as_deref())
            );
            p
        }
        None => {
            let mut inputs = decommission::inputs_from_fleet(
                &fleet_path,
                &args.fqdn,
                args.api.clone(),
                args.deployment.clone(),
            )
            .map_err(CliError::usage)?;
            inputs.force = args.force;
            let api = CatalystClient::new(&inputs.catalyst_api)
                .map_err(|e| CliError::usage(format!("catalyst-api: {e}")))?;
            rt.block_on(decommission::plan(
                &api,
                &hetzner,
                &inputs,
                storage.as_ref(),
                opts.dns_deadline,
            ))
            .map_err(map_err)?
        }
    };
    show_plan(&plan);
    if let Some(out) = &args.plan_out {
        plan.write(out)
            .map_err(|e| CliError::Failed(anyhow!("{e}")))?;
        say!("  plan written to {}", out.display());
    }
    if !args.apply {
        match &args.plan_out {
            Some(out) => say!(
                "  re-run with --apply --plan {} --confirm {} to wipe exactly this deployment",
                out.display(),
                plan.fqdn
            ),
            None => say!(
                "  re-run with --apply --confirm {} to wipe (add --plan-out PLAN.json here and \
                 --plan PLAN.json there to bind the wipe to this very plan)",
                plan.fqdn
            ),
        }
        if args.json {
            print_json(&plan)?;
        }
        return Ok(());
    }

    let api = CatalystClient::new(&plan.deployment.catalyst_api)
        .map_err(|e| CliError::usage(format!("catalyst-api: {e}")))?;
    let emit = |e: Event| match e {
        Event::Wiping { deployment_id } => {
            say!("wiping deployment {deployment_id} (POST …/wipe)")
        }
        Event::WipeAccepted { status } => say!("  catalyst-api: {status}"),
        Event::AlreadyWiped => say!("  the record is already wiped: verifying only"),
        Event::Progress {
            time,
            level,
            message,
        } => say!("  {time} {level:<5} {message}"),
        Event::Status { status } => say!("  status: {status}"),
        Event::Verifying { item } => say!("verifying {item}…"),
        Event::Checked { check } => {
            say!(
                "  {} {}: {}",
                check.state.mark(),
                check.title,
                check.summary
            );
            for l in &check.leftovers {
                say!("      left: {l}");
            }
            for n in &check.notes {
                say!("      {n}");
            }
        }
    };
    let report = rt
        .block_on(decommission::apply(
            &api,
            &hetzner,
            &plan,
            storage.as_ref(),
            &opts,
            &emit,
        ))
        .map_err(map_err)?;
    if let Some(j) = &report.journal {
        say!("  journal: {j}");
    }
    if args.json {
        print_json(&report)?;
    }
    if report.verified() {
        say!(
            "decommission of {}: VERIFIED — nothing of it is left in Hetzner, PDM or DNS",
            report.fqdn
        );
        Ok(())
    } else {
        let unchecked = report
            .verification
            .checks
            .iter()
            .filter(|c| c.state == CheckState::Unknown)
            .count();
        Err(CliError::Failed(anyhow!(
            "decommission of {}: NOT VERIFIED — {} leftover(s){}: {}",
            report.fqdn,
            report.leftovers.len(),
            if unchecked > 0 {
                format!(" ({unchecked} item(s) could not be checked)")
            } else {
                String::new()
            },
            report.leftovers.join("; ")
        )))
    }
}
