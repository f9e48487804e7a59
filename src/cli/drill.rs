//! `sovtui drill plan|run|resume|rollback|report`: region-kill failover drills, headless.

use std::path::PathBuf;

use super::{CliError, CliResult, DrillCommand, DrillHow, DrillKill, DrillPromotion, ReportFormat};
use crate::config::paths;
use crate::provision::drill::plan::{self, PlanOptions};
use crate::provision::drill::report;
use crate::provision::drill::steps::{Promotion, ServerKill};
use crate::provision::drill::{run as drill_run, target};

fn plan_options(how: DrillHow) -> PlanOptions {
    PlanOptions {
        server_kill: match how.kill {
            DrillKill::PowerOff => ServerKill::PowerOff,
            DrillKill::Terminate => ServerKill::Terminate,
        },
        promotion: match how.promotion {
            DrillPromotion::Switchover => Promotion::ContinuumSwitchover,
            DrillPromotion::HelmValue => Promotion::HelmReleaseValue,
        },
    }
}

pub fn run(config: Option<PathBuf>, cmd: DrillCommand) -> CliResult {
    let fleet_path = config.unwrap_or_else(paths::fleet_file);
    let state_dir = paths::state_dir();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.into()))?;
    rt.block_on(async move {
        match cmd {
            DrillCommand::Plan { fqdn, json, how } => {
                let t = target::connect(&fleet_path, &fqdn).await?;
                let p = plan::plan(&t.kube, &t.hetzner, &fqdn, plan_options(how)).await?;
                emit(
                    json,
                    &serde_json::to_value(&p).map_err(anyhow::Error::from)?,
                    &p.to_text(),
                );
                if p.ready() { Ok(()) } else { Err(refusal(&p)) }
            }
            DrillCommand::Run {
                fqdn,
                confirm,
                json,
                how,
            } => {
                super::armed::confirmed(&confirm, &fqdn, "the drill")?;
                let t = target::connect(&fleet_path, &fqdn).await?;
                let p = plan::plan(&t.kube, &t.hetzner, &fqdn, plan_options(how)).await?;
                say_part!("{}", p.to_text());
                if !p.ready() {
                    return Err(refusal(&p));
                }
                let outcome =
                    drill_run::run(&t, &state_dir, p, drill_run::RunOptions::default()).await?;
                finish(json, &state_dir, &outcome, false)
            }
            DrillCommand::Resume { id, confirm, json } => {
                let fqdn = armed(&state_dir, &id, &confirm, "resume")?;
                let t = target::connect(&fleet_path, &fqdn).await?;
                let outcome =
                    drill_run::resume(&t, &state_dir, &id, drill_run::RunOptions::default())
                        .await?;
                finish(json, &state_dir, &outcome, false)
            }
            DrillCommand::Rollback { id, confirm, json } => {
                let fqdn = armed(&state_dir, &id, &confirm, "rollback")?;
                let t = target::connect(&fleet_path, &fqdn).await?;
                let outcome = drill_run::rollback(&t, &state_dir, &id).await?;
                finish(json, &state_dir, &outcome, true)
            }
            DrillCommand::Report { id, format } => {
                let r = drill_run::report(&state_dir, &id)
                    .map_err(|e| CliError::Usage(format!("drill {id}: {e:#}")))?;
                match format {
                    ReportFormat::Md => print!(
                        "{}",
                        crate::provision::safe_text::terminal_safe(&r.to_markdown())
                    ),
                    ReportFormat::Json => println!(
                        "{}",
                        serde_json::to_string_pretty(&r).map_err(anyhow::Error::from)?
                    ),
                }
                Ok(())
            }
        }
    })
}

/// The Sovereign a journaled drill targets, once the operator typed it back: resuming repeats
/// kills, rolling back undoes them, so both are armed exactly like `run`.
fn armed(
    state_dir: &std::path::Path,
    id: &str,
    confirm: &str,
    what: &str,
) -> Result<String, CliError> {
    let fqdn =
        drill_run::target_of(state_dir, id).map_err(|e| CliError::Usage(format!("{e:#}")))?;
    super::armed::confirmed(
        confirm,
        &fqdn,
        &format!("the {what} of drill {id} on {fqdn}"),
    )?;
    Ok(fqdn)
}

fn refusal(p: &plan::DrillPlan) -> CliError {
    let failed: Vec<String> = p
        .failed_preconditions()
        .iter()
        .map(|f| format!("{} ({})", f.name, f.evidence))
        .collect();
    CliError::Failed(anyhow::anyhow!(
        "refusing to drill {}: precondition(s) failed: {}",
        p.target,
        failed.join("; ")
    ))
}

fn emit(json: bool, doc: &serde_json::Value, text: &str) {
    if json {
        println!("{doc}");
    } else {
        say_part!("{text}");
    }
}

/// Print the report and map the outcome onto the exit status (`super::exit`): `passed` 0,
/// `unverified` 3, `passed_region_destroyed` 5, anything else 1 — except `rolled_back` when a
/// rollback was what the operator asked for (0, or 5 when a terminate kill destroyed the region:
/// a rollback cannot bring terminated servers back, and exit 0 would hide that).
fn finish(
    json: bool,
    state_dir: &std::path::Path,
    outcome: &drill_run::Outcome,
    rollback_requested: bool,
) -> CliResult {
    let r = drill_run::report(state_dir, &outcome.id)?;
    match drill_run::write_report(state_dir, &outcome.id) {
        Ok(path) => say!("report: {}", path.display()),
        Err(e) => say!("report not written: {e:#}"),
    }
    if json {
        println!(
            "{}",
            serde_json::to_string(&r).map_err(anyhow::Error::from)?
        );
    } else {
        say_part!("{}", r.to_markdown());
    }
    for f in &r.failures {
        say!("FAILED: {f}");
    }
    let destroyed = r.region_destroyed_text();
    if let Some(line) = &destroyed {
        say!("REGION DESTROYED: {line}");
    }
    let ok_unless_destroyed = || match &destroyed {
        None => Ok(()),
        Some(line) => Err(CliError::RegionDestroyed(format!(
            "drill {} ended {}, but the region is destroyed: {line}",
            outcome.id, outcome.outcome
        ))),
    };
    match outcome.outcome.as_str() {
        "passed" | report::PASSED_REGION_DESTROYED => ok_unless_destroyed(),
        "rolled_back" if rollback_requested => ok_unless_destroyed(),
        "unverified" => Err(CliError::Unverified(format!(
            "drill {} is unverified: {}",
            outcome.id,
            r.unverified.join("; ")
        ))),
        _ => Err(CliError::Failed(anyhow::anyhow!(
            "drill {} ended {}{}",
            outcome.id,
            outcome.outcome,
            outcome
                .error
                .as_ref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ))),
    }
}
