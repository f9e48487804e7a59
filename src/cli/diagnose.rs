//! `sovtui diagnose FQDN` and `sovtui troubleshoot lint FILE`: the troubleshooting walk, headless.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use super::{CliError, CliResult, DiagnoseArgs};
use crate::provision::troubleshoot::fixture::EvidenceFixture;
use crate::provision::troubleshoot::gather::{catalyst, kube as kube_gather, probe};
use crate::provision::troubleshoot::walk::{Outcome, diagnose_walk};
use crate::provision::troubleshoot::{Evidence, Placeholders, Tree, Walk, lint_file};

pub fn run_diagnose(config: Option<PathBuf>, args: DiagnoseArgs) -> CliResult {
    let tree = Tree::load_default().map_err(|e| CliError::usage(e.to_string()))?;
    let mut args = args;
    if let Some(file) = &config {
        fill_from_fleet(file, &mut args)?;
    }
    if args.deployment.is_some() && args.api.is_none() {
        return Err(CliError::usage(
            "--deployment needs --api (the catalyst-api root the deployment lives on)",
        ));
    }
    let mut evidence = Evidence::new();
    if let Some(file) = &args.evidence {
        let text = std::fs::read_to_string(file)
            .map_err(|e| CliError::usage(format!("{}: cannot read: {e}", file.display())))?;
        let fx: EvidenceFixture = serde_json::from_str(&text).map_err(|e| {
            CliError::usage(format!(
                "{}:{}:{}: {e}",
                file.display(),
                e.line(),
                e.column()
            ))
        })?;
        evidence.merge(fx.evidence());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(gather(&args, &mut evidence))?;

    let mut walk = Walk::new(Arc::new(tree), evidence);
    for a in &args.answers {
        let (node, label) = a
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--answer {a}: expected NODE=LABEL")))?;
        walk.set_override(node.trim(), label.trim())
            .map_err(|e| CliError::usage(format!("--answer {a}: {e}")))?;
    }
    let ph = Placeholders {
        fqdn: args.fqdn.clone(),
        deployment: args.deployment.clone(),
        api: args.api.clone(),
        ..Default::default()
    };
    let d = diagnose_walk(walk, &ph);
    if args.json {
        let doc = serde_json::to_string_pretty(&d).context("serialising the diagnosis")?;
        println!("{doc}");
    } else {
        eprint!("{}", d.to_text());
    }
    match &d.outcome {
        Outcome::Leaf { .. } => Ok(()),
        Outcome::Question { node, question, .. } => Err(CliError::Failed(anyhow::anyhow!(
            "the evidence does not decide {node} \"{question}\"; answer it with --answer {node}=<label>"
        ))),
    }
}

/// Take what the flags left open (kubeconfig, context, catalyst-api, deployment id) from the
/// fleet file's entry for the FQDN. Flags given explicitly win.
pub fn fill_from_fleet(file: &Path, args: &mut DiagnoseArgs) -> CliResult {
    let fleet =
        crate::config::fleet_file::load(file).map_err(|e| CliError::usage(e.to_string()))?;
    let Some(entry) = fleet.sovereigns.iter().find(|s| s.fqdn == args.fqdn) else {
        let known: Vec<&str> = fleet.sovereigns.iter().map(|s| s.fqdn.as_str()).collect();
        return Err(CliError::usage(format!(
            "{}: no [[sovereign]] with fqdn = \"{}\" (the file lists: {})",
            file.display(),
            args.fqdn,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    };
    if args.kubeconfig.is_none() {
        args.kubeconfig = match &entry.kubeconfig {
            Some(p) => Some(p.clone()),
            None => crate::config::fleet_file::default_kubeconfig_paths()
                .into_iter()
                .find(|p| p.exists()),
        };
        if args.context.is_none() {
            args.context = Some(entry.context.clone());
        }
    }
    if args.api.is_none() {
        args.api = entry.catalyst_api.clone();
    }
    if args.deployment.is_none() && args.api == entry.catalyst_api {
        args.deployment = entry.deployment_id.clone();
    }
    Ok(())
}

async fn gather(args: &DiagnoseArgs, ev: &mut Evidence) -> CliResult {
    if let Some(api) = &args.api {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .context("building the HTTP client")?;
        match &args.deployment {
            Some(dep) => catalyst::fetch(&http, api, dep, ev).await,
            // No deployment to look at: did the wizard even get past the Domain step?
            None => catalyst::check_subdomain(&http, api, &args.fqdn, ev).await,
        }
    }
    if args.probe {
        let http = probe::client().context("building the HTTP client")?;
        probe::probe(&http, &probe::public_urls(&args.fqdn), ev).await;
    }
    if let Some(path) = &args.kubeconfig {
        let context = args.context.clone().unwrap_or_else(|| args.fqdn.clone());
        let client = client_for(path, &context).await?;
        let snap = kube_gather::gather(&client, ev).await;
        snap.add_to(ev, &context);
        if let Some(mothership) = &args.catalyst_context {
            let client = client_for(path, mothership).await?;
            catalyst::tail_logs(&client, &args.catalyst_namespace, 500, ev).await;
        }
    }
    Ok(())
}

async fn client_for(path: &Path, context: &str) -> Result<kube::Client, CliError> {
    let kc = kube::config::Kubeconfig::read_from(path)
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    let opts = kube::config::KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| CliError::usage(format!("{}: context {context}: {e}", path.display())))?;
    // A diagnosis is interactive-speed work: an unreachable cluster should fail fast.
    cfg.connect_timeout = Some(std::time::Duration::from_secs(10));
    cfg.read_timeout = Some(std::time::Duration::from_secs(60));
    Ok(kube::Client::try_from(cfg).context("building the kube client")?)
}

pub fn run_lint(file: &Path) -> CliResult {
    let problems = lint_file(file);
    if problems.is_empty() {
        eprintln!("{}: no problems", file.display());
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    Err(CliError::usage(format!(
        "{}: {} problem(s)",
        file.display(),
        problems.len()
    )))
}
