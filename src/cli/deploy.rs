//! `sovtui deploy create|watch|list --api URL` (design/CLI.md): the headless front-end of the
//! catalyst client library. `--json` prints one document (NDJSON for watch) on stdout; human text
//! goes to stderr.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::{CliError, CliResult, DeployCommand};
use crate::provision::catalyst::{
    CatalystClient, ClientError, CreateRequest, DeploymentFold, ErrorBody, FollowOptions,
    FollowUpdate, follow,
};

pub fn run(cmd: DeployCommand) -> CliResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.into()))?;
    rt.block_on(async move {
        match cmd {
            DeployCommand::Create { api, from, json } => create(&api, &from, json).await,
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

/// Read a request file (JSON or TOML by extension; JSON otherwise) into a JSON object.
pub fn read_request_file(path: &Path) -> Result<Value, CliError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("--from {shown}: cannot read: {e}")))?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let v: Value = if is_toml {
        let t: toml::Value = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            match line {
                Some(l) => CliError::usage(format!("{shown}:{l}: invalid TOML: {}", e.message())),
                None => CliError::usage(format!("{shown}: invalid TOML: {}", e.message())),
            }
        })?;
        serde_json::to_value(t)
            .map_err(|e| CliError::usage(format!("{shown}: cannot convert TOML: {e}")))?
    } else {
        serde_json::from_str(&text).map_err(|e| {
            CliError::usage(format!(
                "{shown}:{}:{}: invalid JSON: {e}",
                e.line(),
                e.column()
            ))
        })?
    };
    if !v.is_object() {
        return Err(CliError::usage(format!(
            "{shown}: the request must be an object of create-body fields"
        )));
    }
    Ok(v)
}

const STRING_FIELDS: &[&str] = &[
    "orgName",
    "orgEmail",
    "sovereignFQDN",
    "sovereignDomainMode",
    "sovereignPoolDomain",
    "sovereignSubdomain",
    "hetznerToken",
    "hetznerProjectID",
    "region",
    "controlPlaneSize",
    "workerSize",
    "sshPublicKey",
];
const KNOWN_EXTRA: &[&str] = &["workerCount", "haEnabled", "regions", "provider"];

fn str_of<'a>(o: &'a Map<String, Value>, k: &str) -> &'a str {
    o.get(k).and_then(Value::as_str).unwrap_or("").trim()
}

/// Required-field and type checks of the create body, naming every bad field at once.
/// Returns the problems and warnings (unknown keys).
pub fn check_request(v: &Value) -> (Vec<String>, Vec<String>) {
    let mut bad = Vec::new();
    let mut warn = Vec::new();
    let Some(o) = v.as_object() else {
        return (vec!["request: must be an object".into()], warn);
    };
    for (k, val) in o {
        if STRING_FIELDS.contains(&k.as_str()) {
            if !val.is_string() {
                bad.push(format!("{k}: must be a string"));
            }
        } else if !KNOWN_EXTRA.contains(&k.as_str()) && !k.starts_with("objectStorage") {
            warn.push(format!("{k}: unknown field, ignored by catalyst-api"));
        }
    }
    let regions = o.get("regions");
    let has_regions = regions
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let mut required = vec![
        "orgName",
        "orgEmail",
        "sovereignFQDN",
        "hetznerToken",
        "hetznerProjectID",
        "sshPublicKey",
    ];
    if !has_regions {
        required.push("region");
    }
    for k in required {
        if o.get(k)
            .is_none_or(|v| v.as_str().is_some_and(|s| s.trim().is_empty()))
        {
            bad.push(format!("{k}: required"));
        }
    }
    let email = str_of(o, "orgEmail");
    if !email.is_empty() {
        let ok = email.split_once('@').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.contains('@')
                && b.split_once('.')
                    .is_some_and(|(x, y)| !x.is_empty() && !y.is_empty())
        });
        if !ok {
            bad.push(format!("orgEmail: {email:?} is not an email address"));
        }
    }
    let mode = str_of(o, "sovereignDomainMode");
    if !mode.is_empty() && !["pool", "byo-manual", "byo-api"].contains(&mode) {
        bad.push(format!(
            "sovereignDomainMode: {mode:?} is not one of pool, byo-manual, byo-api"
        ));
    }
    if mode == "pool" {
        for k in ["sovereignPoolDomain", "sovereignSubdomain"] {
            if str_of(o, k).is_empty() {
                bad.push(format!("{k}: required when sovereignDomainMode is pool"));
            }
        }
    }
    check_count(o.get("workerCount"), "workerCount", &mut bad);
    if let Some(h) = o.get("haEnabled")
        && !h.is_boolean()
    {
        bad.push("haEnabled: must be true or false".into());
    }
    match regions {
        None | Some(Value::Null) => {}
        Some(Value::Array(rows)) => {
            for (i, r) in rows.iter().enumerate() {
                let Some(r) = r.as_object() else {
                    bad.push(format!("regions[{i}]: must be an object"));
                    continue;
                };
                for k in ["provider", "cloudRegion", "controlPlaneSize"] {
                    match r.get(k) {
                        Some(Value::String(s)) if !s.trim().is_empty() => {}
                        Some(Value::String(_)) | None => {
                            bad.push(format!("regions[{i}].{k}: required"))
                        }
                        Some(_) => bad.push(format!("regions[{i}].{k}: must be a string")),
                    }
                }
                if let Some(ws) = r.get("workerSize")
                    && !ws.is_string()
                {
                    bad.push(format!("regions[{i}].workerSize: must be a string"));
                }
                let count = r.get("workerCount").and_then(Value::as_i64).unwrap_or(0);
                check_count(
                    r.get("workerCount"),
                    &format!("regions[{i}].workerCount"),
                    &mut bad,
                );
                if count > 0 && str_of(r, "workerSize").is_empty() {
                    bad.push(format!(
                        "regions[{i}].workerSize: required when workerCount > 0"
                    ));
                }
            }
        }
        Some(_) => bad.push("regions: must be an array of region rows".into()),
    }
    (bad, warn)
}

fn check_count(v: Option<&Value>, name: &str, bad: &mut Vec<String>) {
    match v {
        None | Some(Value::Null) => {}
        Some(n) => match n.as_i64() {
            Some(c) if (0..=50).contains(&c) => {}
            Some(c) => bad.push(format!("{name}: {c} is outside 0–50")),
            None => bad.push(format!("{name}: must be a whole number")),
        },
    }
}

async fn create(api: &str, from: &Path, json_out: bool) -> CliResult {
    let client = client(api)?;
    let mut v = read_request_file(from)?;
    // The token may come from the environment instead of sitting in a file.
    if let Some(o) = v.as_object_mut()
        && str_of(o, "hetznerToken").is_empty()
        && let Ok(t) = std::env::var("HCLOUD_TOKEN")
        && !t.trim().is_empty()
    {
        o.insert("hetznerToken".into(), Value::String(t));
    }
    let (bad, warnings) = check_request(&v);
    for w in &warnings {
        eprintln!("sovtui: warning: {}: {w}", from.display());
    }
    if !bad.is_empty() {
        return Err(CliError::usage(format!(
            "{}: invalid deployment request:\n  {}",
            from.display(),
            bad.join("\n  ")
        )));
    }
    let req: CreateRequest = serde_json::from_value(v)
        .map_err(|e| CliError::usage(format!("{}: {e}", from.display())))?;
    let created = match client.create_deployment(&req).await {
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
        println!("{}", created.id);
        eprintln!(
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
                    eprintln!(
                        "{} {:<14} {:<5}{comp} {}",
                        ev.time, ev.phase, ev.level, ev.message
                    );
                }
                FollowUpdate::State => eprintln!("status: {}", f.status()),
                FollowUpdate::Components => {}
                FollowUpdate::Reconnecting { attempt, reason } => {
                    eprintln!("stream interrupted ({reason}); reconnecting (attempt {attempt})")
                }
                FollowUpdate::Polling => eprintln!(
                    "stream closed while status is {}; polling /events and /components/state",
                    f.status()
                ),
                FollowUpdate::Malformed(d) => eprintln!("skipped malformed stream data: {d}"),
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
            eprintln!(
                "Phase 0 failed at {}: {}",
                f.step.as_deref().unwrap_or("?"),
                f.error
            );
        }
        if fold.needs_refresh_watch() {
            eprintln!("ready with zero components while a kubeconfig exists: run refresh-watch");
        }
        eprintln!("final status: {}", fold.status());
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
    eprintln!(
        "{:<16}  {:<16}  {:<20}  SOVEREIGN",
        "ID", "STATUS", "STARTED"
    );
    for d in &deployments {
        eprintln!(
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

    #[test]
    fn every_bad_field_is_named() {
        let v = json!({
            "orgName": 5, "orgEmail": "nope", "sovereignDomainMode": "pool",
            "workerCount": "two", "haEnabled": "yes",
            "regions": [{"provider": "hetzner", "cloudRegion": "", "controlPlaneSize": "cpx32", "workerCount": 3}],
            "colour": "blue"
        });
        let (bad, warn) = check_request(&v);
        let joined = bad.join("\n");
        for needle in [
            "orgName: must be a string",
            "orgEmail: \"nope\" is not an email address",
            "sovereignFQDN: required",
            "hetznerToken: required",
            "hetznerProjectID: required",
            "sshPublicKey: required",
            "sovereignPoolDomain: required",
            "sovereignSubdomain: required",
            "workerCount: must be a whole number",
            "haEnabled: must be true or false",
            "regions[0].cloudRegion: required",
            "regions[0].workerSize: required when workerCount > 0",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in\n{joined}");
        }
        assert!(
            !joined.contains("region: required"),
            "regions[] replaces region"
        );
        assert_eq!(warn.len(), 1);
    }

    #[test]
    fn a_complete_request_passes() {
        let v = json!({"orgName": "Acme", "orgEmail": "a@b.io", "sovereignFQDN": "t1.omani.works",
            "sovereignDomainMode": "pool", "sovereignPoolDomain": "omani.works", "sovereignSubdomain": "t1",
            "hetznerToken": "x", "hetznerProjectID": "p", "region": "fsn1", "workerCount": 0,
            "haEnabled": false, "sshPublicKey": "ssh-ed25519 AAAA"});
        assert_eq!(check_request(&v), (vec![], vec![]));
    }
}
