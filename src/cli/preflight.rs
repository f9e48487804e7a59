//! `sovtui preflight [--from REQ | --fqdn FQDN] [--json]`: runbook §1.2's checklist A–H against
//! the Hetzner project, the mothership, the registry and CI. Exit 1 when any item is ✗.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use super::{CliError, CliResult};
use crate::config::paths;
use crate::provision::hetzner::request::DeploymentRequest;
use crate::provision::preflight::{self, Verdict};

#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// The deployment request (JSON or TOML) to check: FQDN, pool, token, SSH key
    #[arg(long, value_name = "REQUEST")]
    pub from: Option<PathBuf>,
    /// The Sovereign-to-be, without a request (B is then unknown)
    #[arg(long, value_name = "FQDN", conflicts_with = "from")]
    pub fqdn: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(config: Option<PathBuf>, args: PreflightArgs) -> CliResult {
    let fleet_file = config.unwrap_or_else(paths::fleet_file);
    let request = match &args.from {
        Some(p) => {
            Some(DeploymentRequest::from_file(p).map_err(|e| CliError::usage(e.to_string()))?)
        }
        None => None,
    };
    let limits = crate::provision::limits::Limits::current();
    let inputs = preflight::inputs_from_fleet(&fleet_file, request, args.fqdn.clone(), limits)
        .map_err(CliError::usage)?;
    let runtime = super::phase0::runtime()?;
    let report = runtime.block_on(preflight::run(&inputs));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| CliError::Failed(e.into()))?
        );
    } else {
        say!("Pre-flight (runbook §1.2) for {}", report.fqdn);
        for i in &report.items {
            say!("  {} {:<9} {}", i.id, i.verdict.mark(), i.title);
            for e in &i.evidence {
                say!("        {e}");
            }
            if i.verdict != Verdict::Pass && !i.fix.is_empty() {
                say!("        fix: {}", i.fix);
            }
        }
        say!("  {}", report.summary());
    }
    let failed: Vec<&str> = report.failed().iter().map(|i| i.id.as_str()).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(anyhow!(
            "pre-flight failed: {} — do not provision until fixed",
            failed.join(", ")
        )))
    }
}
