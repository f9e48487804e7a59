//! `sovtui phase0 plan|apply`: the Hetzner objects of a deployment request, desired vs actual, and
//! an idempotent apply (armed with the FQDN typed back).

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;

use super::{CliError, CliResult, Phase0Command};
use crate::config::paths;
use crate::provision::hetzner::apply::{self, ApplyError, ApplyEvent};
use crate::provision::hetzner::client::{ClientOptions, HetznerClient};
use crate::provision::hetzner::credentials;
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

/// The Hetzner client for `fqdn` by the one credential rule ([`credentials::resolve`]).
pub(crate) fn client_for(
    fqdn: &str,
    fleet_file: &Path,
    request_token: Option<&str>,
) -> Result<HetznerClient, CliError> {
    let creds = credentials::resolve(fqdn, Some(fleet_file), request_token)
        .map_err(|e| CliError::usage(e.to_string()))?;
    HetznerClient::new(creds, ClientOptions::default()).map_err(|e| CliError::Failed(e.into()))
}

/// The Sovereigns of the fleet file (none when it is absent or unreadable: the labels in the
/// project still show the others).
pub(crate) fn fleet_sovereigns(fleet_file: &Path) -> Vec<String> {
    if !fleet_file.exists() {
        return Vec::new();
    }
    crate::config::fleet_file::load(fleet_file)
        .map(|f| f.sovereigns.into_iter().map(|s| s.fqdn).collect())
        .unwrap_or_default()
}

fn print_plan(p: &Phase0Plan) {
    say!(
        "Phase 0 plan for {} (naming {:?}, made {})",
        p.fqdn,
        p.naming,
        p.created_at
    );
    if let Some(project) = &p.project {
        say!("  {}", project.line());
    }
    for i in &p.items {
        let mark = match i.action {
            Action::Create => "+ create   ",
            Action::Update => "~ update   ",
            Action::Unchanged => "= unchanged",
            Action::Orphan => "! orphan   ",
            Action::Foreign => "x FOREIGN  ",
            Action::Ambiguous => "? AMBIGUOUS",
        };
        let id = i.id.map(|id| format!(" #{id}")).unwrap_or_default();
        say!("  {mark} {:<15} {}{id}", i.kind.api_path(), i.name);
        for c in &i.changes {
            let note = if c.fixable {
                ""
            } else {
                " [not changed by apply]"
            };
            say!("        - {}{note}", c.what);
        }
    }
    let s = &p.summary;
    say!(
        "  {} to create, {} to update, {} unchanged, {} orphaned",
        s.create,
        s.update,
        s.unchanged,
        s.orphan
    );
    say!(
        "  estimated cost: €{:.4}/h, €{:.2}/month{}",
        p.cost.eur_per_hour,
        p.cost.eur_per_month,
        if p.cost.unpriced.is_empty() {
            String::new()
        } else {
            format!(" (unpriced: {})", p.cost.unpriced.join(", "))
        }
    );
    if s.foreign + s.ambiguous > 0 {
        say!(
            "  {} name(s) held by another Sovereign's object and {} ambiguous: apply refuses \
             until they are resolved (see each item)",
            s.foreign,
            s.ambiguous
        );
    }
    if s.orphan > 0 {
        say!(
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

pub fn run(config: Option<PathBuf>, cmd: Phase0Command) -> CliResult {
    let fleet_path = config.unwrap_or_else(paths::fleet_file);
    let known = fleet_sovereigns(&fleet_path);
    match cmd {
        Phase0Command::Plan {
            from,
            out,
            json,
            model,
        } => {
            let (req, m) = load(&from, &model)?;
            let client = client_for(&m.fqdn, &fleet_path, Some(&req.hetzner_token))?;
            let rt = runtime()?;
            let (p, _) = rt
                .block_on(plan::fetch(&client, &m, &known))
                .map_err(|e| CliError::Failed(anyhow!("{e}")))?;
            print_plan(&p);
            if let Some(out) = &out {
                p.write(out).map_err(|e| CliError::Failed(anyhow!("{e}")))?;
                say!(
                    "  plan written to {}; apply exactly it with `sovtui phase0 apply --from {} \
                     --plan {} --confirm {}`",
                    out.display(),
                    from.display(),
                    out.display(),
                    p.fqdn
                );
            }
            if json {
                print_json(&serde_json::json!({"plan": p, "model": m}))?;
            }
            Ok(())
        }
        Phase0Command::Apply {
            from,
            confirm,
            plan: plan_file,
            json,
            model,
        } => {
            let (req, mut m) = load(&from, &model)?;
            super::armed::confirmed(&confirm, &m.fqdn, "the apply")?;
            let planned =
                super::armed::plan_for(&m.fqdn, plan_file.as_deref(), Phase0Plan::read, |p| {
                    &p.fqdn
                })?;
            let client = client_for(&m.fqdn, &fleet_path, Some(&req.hetzner_token))?;
            let rt = runtime()?;
            // The nodes' join token: the one the running cluster was built with, or a fresh
            // random one stored before the first server exists.
            let inv = rt
                .block_on(Inventory::fetch(&client))
                .map_err(|e| CliError::Failed(anyhow!("{e}")))?;
            m.cloud_init.join_token = crate::provision::hetzner::join_token::prepare(
                &crate::config::paths::state_dir(),
                &m,
                &inv,
            )
            .map_err(|e| CliError::Failed(anyhow!("k3s join token: {e:#}")))?;
            let emit = |e: ApplyEvent| {
                if let ApplyEvent::Step { kind, name, action } = e {
                    say!("  {action:<14} {:<15} {name}", kind.api_path());
                }
            };
            let journal_dir = Some(journal::default_root());
            let run = match &planned {
                Some(p) => rt.block_on(apply::apply_plan(
                    &client,
                    &m,
                    p,
                    &known,
                    journal_dir,
                    &emit,
                )),
                None => rt.block_on(apply::apply_known(&client, &m, &known, journal_dir, &emit)),
            };
            let report = run.map_err(|e| match e {
                ApplyError::Refused(r) => CliError::usage(r.to_string()),
                ApplyError::Drifted(_) => CliError::Changed(e.to_string()),
                e => CliError::Failed(anyhow!("{e}")),
            })?;
            print_plan(&report.plan);
            if report.changed_anything() {
                say!(
                    "applied: {} created, {} updated; load balancer {}, control plane {}",
                    report.created.len(),
                    report.updated.len(),
                    report.load_balancer_ip.as_deref().unwrap_or("-"),
                    report.control_plane_ip.as_deref().unwrap_or("-")
                );
            } else {
                say!("nothing to change");
            }
            for n in &report.not_fixable {
                say!("  not changed: {n}");
            }
            if json {
                print_json(&report)?;
            }
            Ok(())
        }
    }
}
