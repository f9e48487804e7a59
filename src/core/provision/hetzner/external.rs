//! The two non-Hetzner steps of the recovery (runbook §2.2): PDM release (contract §6.1) and the
//! catalyst-api record cancel (contract §1.14), as plain reqwest calls. Failures are reported,
//! never fatal: the Hetzner purge is the part that matters for a re-run.

use serde::Serialize;

use super::client::Credentials;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Done,
    NothingToDo,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct StepOutcome {
    pub status: StepStatus,
    pub detail: String,
}

impl StepOutcome {
    pub fn skipped(why: &str) -> Self {
        StepOutcome {
            status: StepStatus::Skipped,
            detail: why.to_string(),
        }
    }
    fn done(detail: String) -> Self {
        StepOutcome {
            status: StepStatus::Done,
            detail,
        }
    }
    fn nothing(detail: String) -> Self {
        StepOutcome {
            status: StepStatus::NothingToDo,
            detail,
        }
    }
    fn failed(detail: String) -> Self {
        StepOutcome {
            status: StepStatus::Failed,
            detail,
        }
    }
}

/// A client under the process-wide deadlines (a whole exchange within the request deadline).
pub(crate) fn http() -> reqwest::Client {
    let limits = crate::provision::limits::Limits::current();
    reqwest::Client::builder()
        .connect_timeout(limits.connect)
        .timeout(limits.request)
        .build()
        .unwrap_or_default()
}

/// The body for a report: at most the body cap is read; what does not arrive is left out.
pub(crate) async fn body_text(mut resp: reqwest::Response) -> String {
    let cap = crate::provision::limits::Limits::current().max_body;
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        if body.len() + chunk.len() > cap {
            break;
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8_lossy(&body).into_owned()
}

pub(crate) fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// Body excerpt for reports: JSON `error`/`detail` when present, else the first 200 chars.
pub(crate) fn excerpt(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        let e = v.get("error").and_then(|e| e.as_str()).unwrap_or("");
        let d = v.get("detail").and_then(|e| e.as_str()).unwrap_or("");
        if !e.is_empty() || !d.is_empty() {
            return format!("{e} {d}").trim().to_string();
        }
    }
    body.chars().take(200).collect()
}

/// Dry run: `GET /api/v1/pool/{pool}/check?sub=` — is the subdomain still held?
pub async fn pdm_check(pdm: &str, pool: &str, sub: &str) -> StepOutcome {
    let url = format!("{}/api/v1/pool/{pool}/check", base(pdm));
    let resp = match http().get(&url).query(&[("sub", sub)]).send().await {
        Ok(r) => r,
        Err(e) => return StepOutcome::failed(format!("PDM unreachable: {e}")),
    };
    let status = resp.status();
    let body = body_text(resp).await;
    if !status.is_success() {
        return StepOutcome::failed(format!("PDM check answered {status}: {}", excerpt(&body)));
    }
    let v: serde_json::Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return StepOutcome::failed(format!("PDM check answer is not JSON: {e}")),
    };
    let available = v.get("available").and_then(|a| a.as_bool());
    let reason = v.get("reason").and_then(|r| r.as_str()).unwrap_or("");
    match available {
        Some(true) => StepOutcome::nothing(format!("{sub}.{pool} is AVAILABLE in PDM")),
        Some(false) => StepOutcome::done(format!(
            "{sub}.{pool} is held in PDM ({reason}); --apply releases it"
        )),
        None => StepOutcome::failed("PDM check answer has no `available`".into()),
    }
}

/// `DELETE /api/v1/pool/{pool}/release?sub=` (the recovery script's form).
pub async fn pdm_release(pdm: &str, pool: &str, sub: &str) -> StepOutcome {
    let url = format!("{}/api/v1/pool/{pool}/release", base(pdm));
    let resp = match http().delete(&url).query(&[("sub", sub)]).send().await {
        Ok(r) => r,
        Err(e) => return StepOutcome::failed(format!("PDM unreachable: {e}")),
    };
    let status = resp.status().as_u16();
    let body = body_text(resp).await;
    match status {
        200 => StepOutcome::done(format!("released {sub}.{pool}")),
        202 => StepOutcome::done(format!(
            "released {sub}.{pool} with a DNS warning: {}",
            excerpt(&body)
        )),
        404 => StepOutcome::nothing(format!("{sub}.{pool} held no allocation")),
        _ => StepOutcome::failed(format!("PDM release answered {status}: {}", excerpt(&body))),
    }
}

/// Deployments on record for `fqdn`: (id, status).
async fn api_matching(api: &str, fqdn: &str) -> Result<Vec<(String, String)>, String> {
    let url = format!("{}/api/v1/deployments", base(api));
    let resp = http()
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("catalyst-api unreachable: {e}"))?;
    let status = resp.status();
    let body = body_text(resp).await;
    if !status.is_success() {
        return Err(format!(
            "GET /api/v1/deployments answered {status}: {}",
            excerpt(&body)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("deployment list is not JSON: {e}"))?;
    let items = v
        .as_array()
        .or_else(|| v.get("deployments").and_then(|d| d.as_array()))
        .ok_or("deployment list has neither an array nor `deployments`")?;
    let field = |d: &serde_json::Value, k: &str| {
        d.get(k)
            .or_else(|| d.get("request").and_then(|r| r.get(k)))
            .and_then(|x| x.as_str())
            .map(str::to_string)
    };
    Ok(items
        .iter()
        .filter(|d| field(d, "sovereignFQDN").as_deref() == Some(fqdn))
        .filter_map(|d| Some((field(d, "id")?, field(d, "status").unwrap_or_default())))
        .collect())
}

const TERMINAL: [&str; 5] = ["failed", "wiped", "cancelled", "adopted", "ready-wiped"];

pub async fn api_find(api: &str, fqdn: &str) -> StepOutcome {
    match api_matching(api, fqdn).await {
        Err(e) => StepOutcome::failed(e),
        Ok(found) if found.is_empty() => {
            StepOutcome::nothing(format!("no deployment on record for {fqdn}"))
        }
        Ok(found) => StepOutcome::done(
            found
                .iter()
                .map(|(id, st)| format!("{id} ({st})"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    }
}

/// Mark every open record for `fqdn` done: `POST …/wipe` (contract §1.14, needs the token again
/// because the stored one is redacted); where the route does not exist, the record-only DELETE.
pub async fn api_cancel(api: &str, fqdn: &str, creds: &Credentials) -> StepOutcome {
    let found = match api_matching(api, fqdn).await {
        Err(e) => return StepOutcome::failed(e),
        Ok(f) => f,
    };
    let open: Vec<&(String, String)> = found
        .iter()
        .filter(|(_, st)| !TERMINAL.contains(&st.as_str()))
        .collect();
    if open.is_empty() {
        return StepOutcome::nothing(format!(
            "no open deployment record for {fqdn} ({} on record)",
            found.len()
        ));
    }
    // The wipe body carries the Hetzner token.
    let limits = crate::provision::limits::Limits::current();
    if let Err(e) = crate::provision::limits::check_transport("catalyst-api", api, &limits) {
        return StepOutcome::failed(e);
    }
    let client = http();
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (id, _) in open {
        let wipe = format!("{}/api/v1/deployments/{id}/wipe?force=true", base(api));
        let body = serde_json::json!({"hetznerToken": creds.token_for_wipe()});
        let r = client.post(&wipe).json(&body).send().await;
        let status = match r {
            Ok(resp) => resp.status().as_u16(),
            Err(e) => {
                failed.push(format!("{id}: {e}"));
                continue;
            }
        };
        match status {
            200 | 202 => done.push(format!("{id}: wipe accepted ({status})")),
            404 | 405 => {
                let del = format!("{}/api/v1/deployments/{id}", base(api));
                match client.delete(&del).send().await {
                    Ok(resp) if resp.status().is_success() => {
                        done.push(format!("{id}: record deleted"))
                    }
                    Ok(resp) => {
                        failed.push(format!("{id}: record delete answered {}", resp.status()))
                    }
                    Err(e) => failed.push(format!("{id}: {e}")),
                }
            }
            409 => failed.push(format!(
                "{id}: wipe refused (409: in progress or too young)"
            )),
            s => failed.push(format!("{id}: wipe answered {s}")),
        }
    }
    if failed.is_empty() {
        StepOutcome::done(done.join("; "))
    } else {
        StepOutcome::failed(
            done.into_iter()
                .chain(failed)
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}
