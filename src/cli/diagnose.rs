//! `sovtui diagnose FQDN` and `sovtui troubleshoot lint FILE`: the troubleshooting walk, headless.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use super::{CliError, CliResult, DiagnoseArgs};
use crate::provision::troubleshoot::fixture::EvidenceFixture;
use crate::provision::troubleshoot::gather::Sources;
use crate::provision::troubleshoot::walk::{Outcome, diagnose_walk};
use crate::provision::troubleshoot::{Evidence, Placeholders, Tree, Walk, lint_file};

pub fn run_diagnose(config: Option<PathBuf>, args: DiagnoseArgs) -> CliResult {
    let tree = Tree::load_default().map_err(|e| CliError::usage(e.to_string()))?;
    let mut src = sources(&args);
    if let Some(file) = &config {
        src.fill_from_fleet(file).map_err(CliError::usage)?;
    }
    if src.deployment.is_some() && src.api.is_none() {
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
    rt.block_on(src.gather(&mut evidence))
        .map_err(CliError::usage)?;

    let mut walk = Walk::new(Arc::new(tree), evidence);
    for a in &args.answers {
        let (node, label) = a
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--answer {a}: expected NODE=LABEL")))?;
        walk.set_override(node.trim(), label.trim())
            .map_err(|e| CliError::usage(format!("--answer {a}: {e}")))?;
    }
    let ph = Placeholders {
        fqdn: src.fqdn.clone(),
        deployment: src.deployment.clone(),
        api: src.api.clone(),
        pdm: args.pdm.clone(),
        ..Default::default()
    };
    let d = diagnose_walk(walk, &ph);
    if args.json {
        let doc = serde_json::to_string_pretty(&d).context("serialising the diagnosis")?;
        println!("{doc}");
    } else {
        say_part!("{}", d.to_text());
    }
    match &d.outcome {
        Outcome::Leaf { .. } => Ok(()),
        Outcome::Question { node, question, .. } => Err(CliError::Failed(anyhow::anyhow!(
            "the evidence does not decide {node} \"{question}\"; answer it with --answer {node}=<label>"
        ))),
    }
}

/// The evidence sources the flags (and the fleet file) name.
fn sources(args: &DiagnoseArgs) -> Sources {
    Sources {
        fqdn: args.fqdn.clone(),
        api: args.api.clone(),
        deployment: args.deployment.clone(),
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        catalyst_context: args.catalyst_context.clone(),
        catalyst_namespace: args.catalyst_namespace.clone(),
        probe: args.probe,
        ..Default::default()
    }
}

pub fn run_lint(file: &Path) -> CliResult {
    let problems = lint_file(file);
    if problems.is_empty() {
        say!("{}: no problems", file.display());
        return Ok(());
    }
    for p in &problems {
        say!("{p}");
    }
    Err(CliError::usage(format!(
        "{}: {} problem(s)",
        file.display(),
        problems.len()
    )))
}
