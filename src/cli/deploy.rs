//! `sovtui deploy create|watch|list --api URL`: the headless front-end of the catalyst client
//! library. `--json` prints one document (NDJSON for watch) on stdout; human text
//! goes to stderr.

use std::path::Path;

use serde_json::{Value, json};

use super::{CliError, CliResult, DeployCommand};
use crate::provision::catalyst::{
    CatalystClient, ClientError, DeploymentFold, ErrorBody, FollowOptions, FollowUpdate, follow,
};
use crate::provision::preflight::{self, gate};
use crate::provision::wizard::{
    DeploymentRequest, FieldError, ParseError, RequestFormat, parse_request, validate_request,
};

pub fn run(config: Option<std::path::PathBuf>, cmd: DeployCommand) -> CliResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.into()))?;
    rt.block_on(async move {
        match cmd {
            DeployCommand::Create {
                api,
                from,
                override_preflight,
                json,
            } => {
                let fleet_file = config.unwrap_or_else(crate::config::paths::fleet_file);
                create(
                    &api,
                    &from,
                    &fleet_file,
                    override_preflight.as_deref(),
                    json,
                )
                .await
            }
            DeployCommand::Watch { api, id, json } => watch(&api, &id, json).await,
            DeployCommand::List { api, json } => list(&api, json).await,
        }
    })
}

fn client(api: &str) -> Result<CatalystClient, CliError> {
    CatalystClient::new(api)
        .map_err(|_| CliError::usage(format!("--api: {api:?} is not an http:// or https:// URL")))
}

/// 4xx answers are input errors (exit 2), everything else an operation failure (exit 1).
fn api_error(what: &str, e: ClientError) -> CliError {
    match e.status() {
        Some(s) if (400..500).contains(&s) && s != 409 => CliError::usage(format!("{what}: {e}")),
        _ => CliError::Failed(anyhow::anyhow!("{what}: {e}")),
    }
}

/// Read and check a request file (TOML by `.toml` extension, JSON otherwise) with the wizard's
/// own rules, so `deploy create` and the cockpit refuse the same things. Syntax errors name the
/// file, line and column; every bad field is named at once.
pub fn read_request(path: &Path) -> Result<DeploymentRequest, CliError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("--from {shown}: cannot read: {e}")))?;
    let mut req = parse_request(&text, RequestFormat::from_path(path)).map_err(|e| match e {
        ParseError::Syntax {
            line,
            column,
            message,
        } => CliError::usage(format!("{shown}:{line}:{column}: {message}")),
        ParseError::Fields(errs) => bad_fields(&shown.to_string(), &errs),
    })?;
    // The token may come from the environment instead of sitting in a file.
    if req.hetzner_token.trim().is_empty()
        && let Ok(t) = std::env::var("HCLOUD_TOKEN")
        && !t.trim().is_empty()
    {
        req.hetzner_token = t.trim().to_string();
    }
    let errs = validate_request(&req);
    if !errs.is_empty() {
        return Err(bad_fields(&shown.to_string(), &errs));
    }
    Ok(req)
}

fn bad_fields(file: &str, errs: &[FieldError]) -> CliError {
    let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
    CliError::usage(format!(
        "{file}: invalid deployment request:\n  {}",
        lines.join("\n  ")
    ))
}

/// The §1.2 pre-flight for `req` (when the fleet file names a mothership) and the gate's
/// decision; `Ok(None)`: not run, said why. Refusals are exit 1 (the request is fine; the
/// environment is not), a bad override exit 2.
async fn gate(
    req: &DeploymentRequest,
    fleet_file: &Path,
    typed: Option<&str>,
) -> Result<Option<(preflight::Report, Option<gate::Override>)>, CliError> {
    let limits = crate::provision::limits::Limits::current();
    let (f, r) = (fleet_file.to_path_buf(), req.clone());
    let inputs = tokio::task::spawn_blocking(move || {
        preflight::inputs_from_fleet(&f, Some(r), None, limits)
    })
    .await
    .map_err(|e| CliError::Failed(e.into()))?
    .map_err(CliError::usage)?;
    if inputs.mothership.is_none() {
        say!(
            "pre-flight (runbook §1.2) not run: {} has no [mothership] to check against",
            fleet_file.display()
        );
        if typed.is_some() {
            return Err(CliError::usage(
                "--override-preflight: there is no pre-flight to override (no [mothership])",
            ));
        }
        return Ok(None);
    }
    if let Some(t) = typed {
        gate::parse_override(t)
            .map_err(|e| CliError::usage(format!("--override-preflight: {e}")))?;
    }
    let report = preflight::run(&inputs).await;
    for i in &report.items {
        if i.verdict != preflight::Verdict::Pass {
            say!("pre-flight {} {} {}", i.id, i.verdict.mark(), i.title);
            for e in &i.evidence {
                say!("      {e}");
            }
        }
        if i.verdict == preflight::Verdict::Fail {
            say!("      fix: {}", i.fix);
        }
    }
    say!("pre-flight: {}", report.summary());
    match gate::decide(&report, typed.unwrap_or("")) {
        gate::Decision::Clear => Ok(Some((report, None))),
        gate::Decision::Refused { why, .. } => Err(CliError::Failed(anyhow::anyhow!(
            "{}: not created — {why}",
            req.sovereign_fqdn
        ))),
        gate::Decision::Overridden(o) => {
            say!(
                "pre-flight override of {} by {} — journaled before the create",
                o.items.join(", "),
                o.user
            );
            Ok(Some((report, Some(o))))
        }
    }
}

async fn create(
    api: &str,
    from: &Path,
    fleet_file: &Path,
    override_preflight: Option<&str>,
    json_out: bool,
) -> CliResult {
    let client = client(api)?;
    let req = read_request(from)?;
    // No journal, no create: the gate's report and any override are on disk before the POST.
    let mut journal = match gate(&req, fleet_file, override_preflight).await? {
        Some((report, r#override)) => {
            let plan = gate::GatedCreate {
                fqdn: req.sovereign_fqdn.clone(),
                api: client.root().to_string(),
                preflight: report,
                r#override,
            };
            let root = crate::provision::journal::default_root();
            let j = tokio::task::spawn_blocking(move || gate::journal_create(&root, &plan))
                .await
                .map_err(|e| CliError::Failed(e.into()))?
                .map_err(|e| CliError::Failed(e.into()))?;
            Some(j)
        }
        None => None,
    };
    let answer = client.create_deployment(&req).await;
    if let Some(j) = journal.as_mut() {
        let recorded = match &answer {
            Ok(c) => gate::created(j, &c.id),
            Err(e) => gate::not_created(j, &e.to_string()),
        };
        if let Err(e) = recorded {
            say!("{e}");
        }
    }
    let created = match answer {
        Ok(c) => c,
        Err(e) => {
            if let Some(ErrorBody::Json { error, .. }) = e.body()
                && e.status() == Some(409)
                && error == "subdomain-conflict"
            {
                return Err(CliError::usage(format!(
                    "sovereignSubdomain: {:?} is taken in {} ({e})",
                    req.sovereign_subdomain, req.sovereign_pool_domain
                )));
            }
            return Err(api_error("create deployment", e));
        }
    };
    if json_out {
        println!("{}", serde_json::to_string(&created).unwrap_or_default());
    } else {
        println!("{}", crate::provision::safe_text::one_line(&created.id));
        say!(
            "created deployment {} for {}; follow it with: sovtui deploy watch --api {} {}",
            created.id,
            req.sovereign_fqdn,
            client.root(),
            created.id
        );
    }
    Ok(())
}

fn summary(fold: &DeploymentFold) -> Value {
    json!({
        "type": "final",
        "id": fold.id,
        "status": fold.status(),
        "terminal": fold.is_terminal(),
        "state": fold.state,
        "phase0": fold.phase0_timeline(),
        "phase0Failure": fold.phase0_failure(),
        "components": fold.component_counts(),
        "firstSeenWarning": fold.first_seen_warning,
        "needsRefreshWatch": fold.needs_refresh_watch(),
        "duplicatesDropped": fold.duplicates,
        "malformed": fold.malformed,
    })
}

async fn watch(api: &str, id: &str, json_out: bool) -> CliResult {
    let client = client(api)?;
    let mut fold = DeploymentFold::new(id);
    let opts = FollowOptions::default();
    let result = follow(&client, &mut fold, &opts, |u, f| {
        if json_out {
            let line = match u {
                FollowUpdate::Event(ev) => json!({"type": "event", "event": ev}),
                FollowUpdate::State => json!({"type": "state", "state": f.state}),
                FollowUpdate::Components => {
                    json!({"type": "components", "components": f.components})
                }
                FollowUpdate::Reconnecting { attempt, reason } => {
                    json!({"type": "reconnecting", "attempt": attempt, "reason": reason})
                }
                FollowUpdate::Polling => json!({"type": "polling", "status": f.status()}),
                FollowUpdate::Malformed(d) => json!({"type": "malformed", "detail": d}),
            };
            println!("{line}");
        } else {
            match u {
                FollowUpdate::Event(ev) => {
                    let comp = match (&ev.component, &ev.state) {
                        (Some(c), Some(s)) => format!(" {c}={s}"),
                        _ => String::new(),
                    };
                    say!(
                        "{} {:<14} {:<5}{comp} {}",
                        ev.time,
                        ev.phase,
                        ev.level,
                        crate::provision::safe_text::one_line(&ev.message)
                    );
                }
                FollowUpdate::State => say!("status: {}", f.status()),
                FollowUpdate::Components => {}
                FollowUpdate::Reconnecting { attempt, reason } => {
                    say!("stream interrupted ({reason}); reconnecting (attempt {attempt})")
                }
                FollowUpdate::Polling => say!(
                    "stream closed while status is {}; polling /events and /components/state",
                    f.status()
                ),
                FollowUpdate::Malformed(d) => say!("skipped malformed stream data: {d}"),
            }
        }
    })
    .await;
    if let Err(e) = result {
        if e.status() == Some(404) {
            return Err(CliError::usage(format!(
                "ID: no deployment {id:?} at {}",
                client.root()
            )));
        }
        return Err(api_error("watch deployment", e));
    }
    let s = summary(&fold);
    if json_out {
        println!("{s}");
    } else {
        if let Some(f) = fold.phase0_failure() {
            say!(
                "Phase 0 failed at {}: {}",
                f.step.as_deref().unwrap_or("?"),
                f.error
            );
        }
        if fold.needs_refresh_watch() {
            say!("ready with zero components while a kubeconfig exists: run refresh-watch");
        }
        say!("final status: {}", fold.status());
    }
    if fold.status() == "ready" {
        Ok(())
    } else {
        let why = fold
            .state
            .as_ref()
            .and_then(|s| s.error.clone())
            .unwrap_or_else(|| format!("deployment ended {}", fold.status()));
        Err(CliError::Failed(anyhow::anyhow!("deployment {id}: {why}")))
    }
}

async fn list(api: &str, json_out: bool) -> CliResult {
    let client = client(api)?;
    let deployments = client
        .list_deployments()
        .await
        .map_err(|e| api_error("list deployments", e))?;
    if json_out {
        println!("{}", json!({"deployments": deployments}));
        return Ok(());
    }
    say!(
        "{:<16}  {:<16}  {:<20}  SOVEREIGN",
        "ID",
        "STATUS",
        "STARTED"
    );
    for d in &deployments {
        say!(
            "{:<16}  {:<16}  {:<20}  {}",
            d.id,
            d.status,
            d.started_at.as_deref().unwrap_or("-"),
            d.sovereign_fqdn
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn every_bad_field_is_named_with_the_wizard_rules() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = file(
            dir.path(),
            "bad.json",
            r#"{"orgName": "Acme", "orgEmail": "nope", "sovereignDomainMode": "pool",
               "regions": [{"provider": "hetzner", "cloudRegion": "", "controlPlaneSize": "cpx32", "workerCount": 3}]}"#,
        );
        let err = read_request(&p).expect_err("bad").to_string();
        for needle in [
            "orgEmail",
            "sovereignFQDN",
            "hetznerToken",
            "hetznerProjectID",
            "sshPublicKey",
            "sovereignSubdomain",
            "regions[0].cloudRegion",
            "regions[0].workerSize",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in\n{err}");
        }
    }

    #[test]
    fn wrong_types_and_unknown_keys_are_named_and_syntax_errors_give_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = file(
            dir.path(),
            "types.json",
            r#"{"orgName": 5, "workerCount": "two", "colour": "blue"}"#,
        );
        let err = read_request(&p).expect_err("bad").to_string();
        for needle in ["orgName", "workerCount", "colour"] {
            assert!(err.contains(needle), "missing {needle:?} in\n{err}");
        }
        let p = file(dir.path(), "broken.toml", "orgName = \"x\"\norgEmail = \n");
        let err = read_request(&p).expect_err("bad").to_string();
        assert!(err.contains("broken.toml:2:"), "{err}");
    }
}
