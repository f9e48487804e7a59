//! `sovtui phase0 plan|apply`: the Hetzner objects of a deployment request, desired vs actual, and
//! an idempotent apply (armed with the FQDN typed back).

use std::path::Path;

use anyhow::anyhow;
use clap::Args;

use super::{CliError, CliResult, Phase0Command};
use crate::provision::hetzner::apply::{self, ApplyEvent};
use crate::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
use crate::provision::hetzner::inventory::Inventory;
use crate::provision::hetzner::model::{ModelOptions, SovereignModel};
use crate::provision::hetzner::naming::NamingVariant;
use crate::provision::hetzner::plan::{self, Action, Phase0Plan};
use crate::provision::hetzner::request::DeploymentRequest;
use crate::provision::journal;

/// Knobs of the model that are not in the wizard's request.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Resource naming: m = infra/hetzner/main.tf, r = runbook §1.5
    #[arg(long, value_enum, default_value = "m")]
    pub naming: NamingVariant,
    /// CIDR allowed to reach SSH (repeatable; none = no SSH rule)
    #[arg(long = "ssh-allowed-cidr", value_name = "CIDR")]
    pub ssh_allowed_cidrs: Vec<String>,
    /// k3s version for cloud-init
    #[arg(long, default_value = "v1.31.4+k3s1")]
    pub k3s_version: String,
    /// GitOps repository (env CATALYST_GITOPS_REPO_URL)
    #[arg(
        long,
        env = "CATALYST_GITOPS_REPO_URL",
        default_value = "https://github.com/openova-io/openova"
    )]
    pub gitops_repo_url: String,
    #[arg(long, env = "CATALYST_GITOPS_BRANCH", default_value = "main")]
    pub gitops_branch: String,
}

impl ModelArgs {
    fn options(&self) -> ModelOptions {
        ModelOptions {
            naming: self.naming,
            ssh_allowed_cidrs: self.ssh_allowed_cidrs.clone(),
            k3s_version: self.k3s_version.clone(),
            gitops_repo_url: self.gitops_repo_url.clone(),
            gitops_branch: self.gitops_branch.clone(),
            // Read here, never from a flag, so it stays out of shell history.
            ghcr_pull_token: std::env::var("CATALYST_GHCR_PULL_TOKEN").unwrap_or_default(),
            ..ModelOptions::default()
        }
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(anyhow!("starting the async runtime: {e}")))
}

fn load(from: &Path, model: &ModelArgs) -> Result<(DeploymentRequest, SovereignModel), CliError> {
    let req = DeploymentRequest::from_file(from).map_err(|e| CliError::usage(e.to_string()))?;
    req.validate_for_phase0()
        .map_err(|e| CliError::usage(format!("{}: {e}", from.display())))?;
    let m = SovereignModel::from_request(&req, &model.options());
    Ok((req, m))
}

pub(crate) fn client_for(request_token: Option<&str>) -> Result<HetznerClient, CliError> {
    let creds = Credentials::resolve(request_token).map_err(|e| CliError::usage(e.to_string()))?;
    HetznerClient::new(creds, ClientOptions::default()).map_err(|e| CliError::Failed(e.into()))
}

fn print_plan(p: &Phase0Plan) {
    eprintln!("Phase 0 plan for {} (naming {:?})", p.fqdn, p.naming);
    for i in &p.items {
        let mark = match i.action {
            Action::Create => "+ create   ",
            Action::Update => "~ update   ",
            Action::Unchanged => "= unchanged",
            Action::Orphan => "! orphan   ",
        };
        let id = i.id.map(|id| format!(" #{id}")).unwrap_or_default();
        eprintln!("  {mark} {:<15} {}{id}", i.kind.api_path(), i.name);
        for c in &i.changes {
            let note = if c.fixable {
                ""
            } else {
                " [not changed by apply]"
            };
            eprintln!("        - {}{note}", c.what);
        }
    }
    let s = &p.summary;
    eprintln!(
        "  {} to create, {} to update, {} unchanged, {} orphaned",
        s.create, s.update, s.unchanged, s.orphan
    );
    eprintln!(
        "  estimated cost: €{:.4}/h, €{:.2}/month{}",
        p.cost.eur_per_hour,
        p.cost.eur_per_month,
        if p.cost.unpriced.is_empty() {
            String::new()
        } else {
            format!(" (unpriced: {})", p.cost.unpriced.join(", "))
        }
    );
    if s.orphan > 0 {
        eprintln!(
            "  orphans are not deleted by apply; `sovtui recover {}` removes them",
            p.fqdn
        );
    }
}

fn print_json(v: &impl serde::Serialize) -> CliResult {
    let text = serde_json::to_string_pretty(v).map_err(|e| CliError::Failed(e.into()))?;
    println!("{text}");
    Ok(())
}

pub fn run(cmd: Phase0Command) -> CliResult {
    match cmd {
        Phase0Command::Plan { from, json, model } => {
            let (req, m) = load(&from, &model)?;
            let client = client_for(Some(&req.hetzner_token))?;
            let rt = runtime()?;
            let inv = rt
                .block_on(Inventory::fetch(&client))
                .map_err(|e| CliError::Failed(anyhow!("{e}")))?;
            let p = plan::diff(&m, &inv);
            print_plan(&p);
            if json {
                print_json(&serde_json::json!({"plan": p, "model": m}))?;
            }
            Ok(())
        }
        Phase0Command::Apply {
            from,
            confirm,
            json,
            model,
        } => {
            let (req, m) = load(&from, &model)?;
            crate::provision::confirm::typed_back(&confirm, &m.fqdn)
                .map_err(|why| CliError::usage(format!("--confirm arms the apply: {why}")))?;
            let client = client_for(Some(&req.hetzner_token))?;
            let rt = runtime()?;
            let emit = |e: ApplyEvent| {
                if let ApplyEvent::Step { kind, name, action } = e {
                    eprintln!("  {action:<14} {:<15} {name}", kind.api_path());
                }
            };
            let report = rt
                .block_on(apply::apply(
                    &client,
                    &m,
                    Some(journal::default_root()),
                    &emit,
                ))
                .map_err(|e| CliError::Failed(anyhow!("{e}")))?;
            print_plan(&report.plan);
            if report.changed_anything() {
                eprintln!(
                    "applied: {} created, {} updated; load balancer {}, control plane {}",
                    report.created.len(),
                    report.updated.len(),
                    report.load_balancer_ip.as_deref().unwrap_or("-"),
                    report.control_plane_ip.as_deref().unwrap_or("-")
                );
            } else {
                eprintln!("nothing to change");
            }
            for n in &report.not_fixable {
                eprintln!("  not changed: {n}");
            }
            if json {
                print_json(&report)?;
            }
            Ok(())
        }
    }
}
