//! Recovery step 3 (runbook §2.2, contract §8): catalyst-api's deployment records of the
//! Sovereign, read and rewritten the way the recovery script does it — through the mothership,
//! by `pods/exec` into the catalyst-api pod (`-l app.kubernetes.io/name=catalyst-api`): `ls
//! /var/lib/catalyst/deployments/*.json`, `cat` each, keep those whose `request.sovereignFQDN`
//! is the Sovereign; armed, each planned record is set to `cancelled` with `finishedAt` and an
//! `operator-recovery` event appended, streamed back with `sh -c 'cat > FILE'`, and read back.
//! `failed` records are cancelled too (the usual state after C3); `cancelled`, `wiped`,
//! `wiping` and `adopted` ones are left as they are.
//!
//! The alternative route ([`RecordRoute::Wipe`]) asks catalyst-api instead: `POST
//! /api/v1/deployments/{id}/wipe?force=true` (contract §1.14), followed until `wiped`.
//!
//! Either way a record is touched only if its file is byte for byte what the plan read (SHA-256):
//! a record that changed since the plan is reported, never overwritten.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::exec;
use crate::provision::hetzner::client::Credentials;
use crate::provision::hetzner::external::{StepOutcome, StepStatus, base, excerpt, http};
use crate::provision::limits::Limits;
use crate::provision::safe_text::one_line;

/// Where catalyst-api keeps one JSON file per deployment.
pub const RECORDS_DIR: &str = "/var/lib/catalyst/deployments";
/// The selector of catalyst-api's pods.
pub const API_SELECTOR: &str = "app.kubernetes.io/name=catalyst-api";
/// The `phase` of the event a recovery appends.
pub const RECOVERY_PHASE: &str = "operator-recovery";
/// Its message.
pub const RECOVERY_MESSAGE: &str = "cancelled by sovtui recover (runbook §2.2 step 3)";
/// States a recovery leaves alone.
pub const LEFT_ALONE: &[&str] = &["cancelled", "wiped", "wiping", "adopted"];

/// How step 3 changes a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum RecordRoute {
    /// The runbook's way: rewrite the record file in the catalyst-api pod (`cancelled`).
    #[default]
    Exec,
    /// catalyst-api's Cancel & Wipe route (`wiped`).
    Wipe,
}

impl RecordRoute {
    pub fn word(self) -> &'static str {
        match self {
            RecordRoute::Exec => "exec",
            RecordRoute::Wipe => "wipe",
        }
    }
}

/// One record as the plan read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedRecord {
    pub id: String,
    pub path: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    pub events: usize,
    /// SHA-256 of the file as read: the armed run touches it only if it is still this.
    pub sha256: String,
    /// Whether the armed run cancels it (false: already terminal, left alone).
    pub cancel: bool,
}

/// Step 3 as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordsPlan {
    pub namespace: String,
    pub route: RecordRoute,
    /// catalyst-api's base URL, for the wipe route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    pub records: Vec<PlannedRecord>,
    /// Why the records could not be read (the armed run then changes none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RecordsPlan {
    /// The plan's one line for step 3.
    pub fn summary(&self) -> StepOutcome {
        if let Some(e) = &self.error {
            return StepOutcome {
                status: StepStatus::Failed,
                detail: format!("deployment records unreadable ({e}): none will be changed"),
            };
        }
        let to = match self.route {
            RecordRoute::Exec => "cancelled (exec)",
            RecordRoute::Wipe => "wiped (catalyst-api wipe route)",
        };
        let cancel: Vec<String> = self
            .records
            .iter()
            .filter(|r| r.cancel)
            .map(|r| format!("{} ({} → {to})", r.id, r.status))
            .collect();
        let left: Vec<String> = self
            .records
            .iter()
            .filter(|r| !r.cancel)
            .map(|r| format!("{} ({}, left alone)", r.id, r.status))
            .collect();
        let all: Vec<String> = cancel.iter().chain(&left).cloned().collect();
        StepOutcome {
            status: if cancel.is_empty() {
                StepStatus::NothingToDo
            } else {
                StepStatus::Done
            },
            detail: if all.is_empty() {
                "no deployment record of this Sovereign".into()
            } else {
                all.join(", ")
            },
        }
    }
}

/// What step 3 did to one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordReport {
    pub id: String,
    pub planned_status: String,
    /// The status read back afterwards (None: not read).
    pub status_after: Option<String>,
    /// Not what the plan read: left alone.
    pub changed_since_plan: bool,
    pub outcome: StepOutcome,
}

/// What step 3 did.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RecordsReport {
    pub records: Vec<RecordReport>,
    /// Records of the Sovereign that were not in the plan: reported, untouched.
    pub appeared_after_plan: Vec<PlannedRecord>,
    /// Why the records could not be listed at apply time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RecordsReport {
    pub fn changed(&self) -> bool {
        !self.appeared_after_plan.is_empty() || self.records.iter().any(|r| r.changed_since_plan)
    }

    pub fn failed(&self) -> bool {
        self.error.is_some()
            || self
                .records
                .iter()
                .any(|r| r.outcome.status == StepStatus::Failed)
    }

    /// One line for the report.
    pub fn summary(&self) -> StepOutcome {
        let mut parts: Vec<String> = self
            .records
            .iter()
            .map(|r| r.outcome.detail.clone())
            .collect();
        parts.extend(self.appeared_after_plan.iter().map(|r| {
            format!(
                "{} ({}) appeared after the plan: not touched",
                r.id, r.status
            )
        }));
        if let Some(e) = &self.error {
            parts.push(e.clone());
        }
        let status = if self.failed() || self.changed() {
            StepStatus::Failed
        } else if self
            .records
            .iter()
            .any(|r| r.outcome.status == StepStatus::Done)
        {
            StepStatus::Done
        } else {
            StepStatus::NothingToDo
        };
        StepOutcome {
            status,
            detail: if parts.is_empty() {
                "no deployment record of this Sovereign".into()
            } else {
                parts.join("; ")
            },
        }
    }
}

/// A deployment id as catalyst-api makes them (hex) or close: safe in a path and a shell word.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn path_of(id: &str) -> String {
    format!("{RECORDS_DIR}/{id}.json")
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn fqdn_of(rec: &Value) -> Option<&str> {
    rec.pointer("/request/sovereignFQDN")
        .or_else(|| rec.get("sovereignFQDN"))
        .and_then(Value::as_str)
}

fn planned(id: &str, rec: &Value, raw: &[u8]) -> PlannedRecord {
    // Outside text shown on terminals: one safe line (the logic only compares known words).
    let safe = |v: Option<&str>| one_line(v.unwrap_or("")).into_owned();
    let status = safe(rec.get("status").and_then(Value::as_str));
    PlannedRecord {
        id: id.to_string(),
        path: path_of(id),
        cancel: !LEFT_ALONE.contains(&status.as_str()),
        status,
        finished_at: rec
            .get("finishedAt")
            .and_then(Value::as_str)
            .map(|f| safe(Some(f))),
        events: rec
            .get("events")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
        sha256: sha256(raw),
    }
}

/// The mothership's catalyst-api pod and a way to run commands in it.
pub struct Pod<'a> {
    pub client: &'a kube::Client,
    pub namespace: &'a str,
    pub name: String,
    pub limits: &'a Limits,
}

impl<'a> Pod<'a> {
    /// The running catalyst-api pod of `namespace`.
    pub async fn find(
        client: &'a kube::Client,
        namespace: &'a str,
        limits: &'a Limits,
    ) -> Result<Pod<'a>, String> {
        let name = exec::pod_of(client, namespace, API_SELECTOR, limits).await?;
        Ok(Pod {
            client,
            namespace,
            name,
            limits,
        })
    }

    async fn run(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<exec::Output, String> {
        exec::run(
            self.client,
            self.namespace,
            &self.name,
            argv,
            stdin,
            self.limits,
        )
        .await
    }

    /// The record ids in the pod (`ls DIR/*.json`, through `sh` for the glob).
    pub async fn ids(&self) -> Result<Vec<String>, String> {
        let out = self
            .run(&["sh", "-c", &format!("ls {RECORDS_DIR}/*.json")], None)
            .await?;
        if out.code != 0 {
            if out.stderr.contains("No such file") {
                return Ok(Vec::new());
            }
            return Err(format!("ls {RECORDS_DIR}/*.json: {}", out.why()));
        }
        let mut ids = Vec::new();
        for line in out.stdout_text().lines() {
            let name = line.trim().rsplit('/').next().unwrap_or("");
            match name.strip_suffix(".json") {
                Some(id) if valid_id(id) => ids.push(id.to_string()),
                _ => tracing::debug!(file = %line, "not a deployment record file; skipped"),
            }
        }
        Ok(ids)
    }

    /// `cat` one record: its bytes, or None when the file is gone.
    pub async fn read(&self, id: &str) -> Result<Option<Vec<u8>>, String> {
        let path = path_of(id);
        let out = self.run(&["cat", &path], None).await?;
        match out.code {
            0 => Ok(Some(out.stdout)),
            _ if out.stderr.contains("No such file") => Ok(None),
            _ => Err(format!("cat {path}: {}", out.why())),
        }
    }

    /// Write a record back: `sh -c 'cat > FILE'` with the JSON on stdin.
    pub async fn write(&self, id: &str, text: &[u8]) -> Result<(), String> {
        let path = path_of(id);
        let out = self
            .run(&["sh", "-c", &format!("cat > {path}")], Some(text))
            .await?;
        if out.code != 0 {
            return Err(format!("cat > {path}: {}", out.why()));
        }
        Ok(())
    }

    /// Every record of `fqdn`, as planned records, by id.
    pub async fn records_of(&self, fqdn: &str) -> Result<Vec<PlannedRecord>, String> {
        let mut out = Vec::new();
        for id in self.ids().await? {
            let Some(raw) = self.read(&id).await? else {
                continue;
            };
            let Ok(rec) = serde_json::from_slice::<Value>(&raw) else {
                tracing::debug!(%id, "record is not JSON; skipped");
                continue;
            };
            if fqdn_of(&rec) == Some(fqdn) {
                out.push(planned(&id, &rec, &raw));
            }
        }
        Ok(out)
    }
}

/// The dry run of step 3: every record of `fqdn` in the catalyst-api pod.
pub async fn plan(
    client: Result<&kube::Client, &str>,
    namespace: &str,
    fqdn: &str,
    route: RecordRoute,
    api_url: Option<String>,
    limits: &Limits,
) -> RecordsPlan {
    let mut plan = RecordsPlan {
        namespace: namespace.to_string(),
        route,
        api_url,
        records: Vec::new(),
        error: None,
    };
    if route == RecordRoute::Wipe && plan.api_url.is_none() {
        plan.error = Some("the wipe route needs catalyst-api's URL (--api)".into());
        return plan;
    }
    let result = match client {
        Ok(c) => match Pod::find(c, namespace, limits).await {
            Ok(pod) => pod.records_of(fqdn).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(records) => plan.records = records,
        Err(e) => plan.error = Some(e),
    }
    plan
}

/// The record rewritten as cancelled: status, finishedAt, the recovery event appended.
pub fn cancelled(rec: &Value, now: &str) -> Result<Value, String> {
    let mut rec = rec.clone();
    let obj = rec
        .as_object_mut()
        .ok_or("the record is not a JSON object")?;
    obj.insert("status".into(), json!("cancelled"));
    obj.insert("finishedAt".into(), json!(now));
    let event = json!({"time": now, "phase": RECOVERY_PHASE, "level": "warn",
                       "message": RECOVERY_MESSAGE});
    match obj.get_mut("events").and_then(Value::as_array_mut) {
        Some(events) => events.push(event),
        None => {
            obj.insert("events".into(), json!([event]));
        }
    }
    Ok(rec)
}

/// How the armed step 3 runs: the route's inputs and how long the wipe may take.
pub struct ApplyInputs<'a> {
    pub fqdn: &'a str,
    pub now: String,
    pub credentials: &'a Credentials,
    pub wipe_deadline: Duration,
    pub poll_interval: Duration,
    pub limits: &'a Limits,
}

fn record_report(
    p: &PlannedRecord,
    after: Option<String>,
    changed: bool,
    status: StepStatus,
    detail: String,
) -> RecordReport {
    RecordReport {
        id: p.id.clone(),
        planned_status: p.status.clone(),
        status_after: after,
        changed_since_plan: changed,
        outcome: StepOutcome { status, detail },
    }
}

/// The armed step 3: exactly the plan's records, each only if unchanged since the plan.
pub async fn apply(
    client: Result<&kube::Client, &str>,
    plan: &RecordsPlan,
    inputs: &ApplyInputs<'_>,
) -> RecordsReport {
    let mut report = RecordsReport::default();
    if let Some(e) = &plan.error {
        report.error = Some(format!(
            "the plan could not read the records ({e}): none changed"
        ));
        return report;
    }
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(format!("{e}: no record changed"));
            return report;
        }
    };
    let pod = match Pod::find(client, &plan.namespace, inputs.limits).await {
        Ok(p) => p,
        Err(e) => {
            report.error = Some(format!("{e}: no record changed"));
            return report;
        }
    };
    for p in &plan.records {
        report.records.push(one(&pod, plan, p, inputs).await);
    }
    // Records of the Sovereign that were not in the plan: reported, never touched.
    match pod.records_of(inputs.fqdn).await {
        Ok(now) => {
            report.appeared_after_plan = now
                .into_iter()
                .filter(|r| !plan.records.iter().any(|p| p.id == r.id))
                .collect();
        }
        Err(e) => report.error = Some(format!("listing the records afterwards: {e}")),
    }
    report
}

async fn one(
    pod: &Pod<'_>,
    plan: &RecordsPlan,
    p: &PlannedRecord,
    inputs: &ApplyInputs<'_>,
) -> RecordReport {
    let failed = |detail: String| record_report(p, None, false, StepStatus::Failed, detail);
    let raw = match pod.read(&p.id).await {
        Ok(Some(raw)) => raw,
        Ok(None) => {
            return record_report(
                p,
                None,
                true,
                StepStatus::Failed,
                format!(
                    "{}: gone since the plan (was {}): nothing done",
                    p.id, p.status
                ),
            );
        }
        Err(e) => return failed(format!("{}: {e}", p.id)),
    };
    let rec: Value = match serde_json::from_slice(&raw) {
        Ok(v) => v,
        Err(e) => {
            return failed(format!(
                "{}: the record is not JSON now ({e}): not touched",
                p.id
            ));
        }
    };
    let now_status = one_line(rec.get("status").and_then(Value::as_str).unwrap_or("")).into_owned();
    if sha256(&raw) != p.sha256 {
        let events = rec
            .get("events")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        return record_report(
            p,
            Some(now_status.clone()),
            true,
            StepStatus::Failed,
            format!(
                "{}: changed since the plan (status {} → {now_status}, {} → {events} events): \
                 not overwritten — review a fresh plan",
                p.id, p.status, p.events
            ),
        );
    }
    if !p.cancel {
        return record_report(
            p,
            Some(now_status),
            false,
            StepStatus::NothingToDo,
            format!("{}: {} — left alone", p.id, p.status),
        );
    }
    match plan.route {
        RecordRoute::Exec => cancel_by_exec(pod, p, &rec, inputs).await,
        RecordRoute::Wipe => wipe(pod, plan, p, inputs).await,
    }
}

async fn cancel_by_exec(
    pod: &Pod<'_>,
    p: &PlannedRecord,
    rec: &Value,
    inputs: &ApplyInputs<'_>,
) -> RecordReport {
    let failed = |detail: String| record_report(p, None, false, StepStatus::Failed, detail);
    let new = match cancelled(rec, &inputs.now) {
        Ok(v) => v,
        Err(e) => return failed(format!("{}: {e}", p.id)),
    };
    let text = match serde_json::to_vec_pretty(&new) {
        Ok(t) => t,
        Err(e) => return failed(format!("{}: {e}", p.id)),
    };
    if let Err(e) = pod.write(&p.id, &text).await {
        return failed(format!("{}: {e}", p.id));
    }
    // Read back: the file must say cancelled, with our finishedAt and our event last.
    let back = match pod.read(&p.id).await {
        Ok(Some(raw)) => serde_json::from_slice::<Value>(&raw).ok(),
        Ok(None) => None,
        Err(e) => {
            return failed(format!(
                "{}: written, but reading it back failed: {e}",
                p.id
            ));
        }
    };
    let status = back
        .as_ref()
        .and_then(|v| v.get("status"))
        .and_then(Value::as_str)
        .map(|s| one_line(s).into_owned());
    let ok = back.as_ref().is_some_and(|v| {
        v.get("status").and_then(Value::as_str) == Some("cancelled")
            && v.get("finishedAt").and_then(Value::as_str) == Some(inputs.now.as_str())
            && v.get("events")
                .and_then(Value::as_array)
                .and_then(|e| e.last())
                .and_then(|e| e.get("phase"))
                .and_then(Value::as_str)
                == Some(RECOVERY_PHASE)
    });
    if ok {
        record_report(
            p,
            status,
            false,
            StepStatus::Done,
            format!(
                "{}: {} → cancelled (finishedAt {}, {RECOVERY_PHASE} event appended; read back \
                 from {}/{})",
                p.id, p.status, inputs.now, pod.namespace, pod.name
            ),
        )
    } else {
        record_report(
            p,
            status.clone(),
            false,
            StepStatus::Failed,
            format!(
                "{}: written, but it reads back as {}",
                p.id,
                status.as_deref().unwrap_or("no record")
            ),
        )
    }
}

/// `GET /api/v1/deployments/{id}` → status (None: gone, 404/410).
async fn api_status(api: &str, id: &str) -> Result<Option<String>, String> {
    let url = format!("{}/api/v1/deployments/{id}", base(api));
    let resp = http()
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("catalyst-api unreachable: {e}"))?;
    let status = resp.status().as_u16();
    let body = crate::provision::hetzner::external::body_text(resp).await;
    match status {
        200 => {
            let v: Value = serde_json::from_str(&body)
                .map_err(|e| format!("deployment {id} is not JSON: {e}"))?;
            Ok(v.get("status")
                .and_then(Value::as_str)
                .map(|s| one_line(s).into_owned()))
        }
        404 | 410 => Ok(None),
        s => Err(format!(
            "GET deployment {id} answered {s}: {}",
            excerpt(&body)
        )),
    }
}

async fn wipe(
    pod: &Pod<'_>,
    plan: &RecordsPlan,
    p: &PlannedRecord,
    inputs: &ApplyInputs<'_>,
) -> RecordReport {
    let failed = |detail: String| record_report(p, None, false, StepStatus::Failed, detail);
    let Some(api) = plan.api_url.as_deref() else {
        return failed(format!("{}: the wipe route needs catalyst-api's URL", p.id));
    };
    // The body carries the Hetzner token.
    if let Err(e) = crate::provision::limits::check_transport("catalyst-api", api, inputs.limits) {
        return failed(format!("{}: {e}", p.id));
    }
    let url = format!("{}/api/v1/deployments/{}/wipe?force=true", base(api), p.id);
    let body = json!({"hetznerToken": inputs.credentials.token_for_wipe()});
    let status = match http().post(&url).json(&body).send().await {
        Ok(r) => r.status().as_u16(),
        Err(e) => return failed(format!("{}: catalyst-api unreachable: {e}", p.id)),
    };
    if !matches!(status, 200 | 202) {
        return failed(format!("{}: the wipe route answered {status}", p.id));
    }
    let deadline = tokio::time::Instant::now() + inputs.wipe_deadline;
    let last = loop {
        match api_status(api, &p.id).await {
            Ok(Some(s)) if s == "wiped" => break Some(s),
            Ok(None) => break None,
            Ok(Some(s)) if tokio::time::Instant::now() >= deadline => {
                return record_report(
                    p,
                    Some(s.clone()),
                    false,
                    StepStatus::Failed,
                    format!("{}: wipe accepted, still {s} at the deadline", p.id),
                );
            }
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return failed(format!("{}: wipe accepted, then {e}", p.id));
            }
            _ => tokio::time::sleep(inputs.poll_interval).await,
        }
    };
    // Read back through the mothership: the file says wiped, or is gone.
    let back = match pod.read(&p.id).await {
        Ok(Some(raw)) => serde_json::from_slice::<Value>(&raw).ok().and_then(|v| {
            v.get("status")
                .and_then(Value::as_str)
                .map(|s| one_line(s).into_owned())
        }),
        Ok(None) => None,
        Err(e) => return failed(format!("{}: wiped, but reading it back failed: {e}", p.id)),
    };
    match back.as_deref() {
        Some("wiped") | None => record_report(
            p,
            back.clone().or(last),
            false,
            StepStatus::Done,
            format!(
                "{}: {} → {} through catalyst-api's wipe route (read back from {}/{})",
                p.id,
                p.status,
                back.as_deref().unwrap_or("record removed"),
                pod.namespace,
                pod.name
            ),
        ),
        Some(s) => record_report(
            p,
            Some(s.to_string()),
            false,
            StepStatus::Failed,
            format!(
                "{}: catalyst-api says wiped, the record file says {s}",
                p.id
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_sets_status_finished_at_and_appends_the_recovery_event() {
        let rec = json!({"id": "ab12", "status": "failed", "finishedAt": "2026-12-06T09:00:00Z",
                         "request": {"sovereignFQDN": "t1.omani.works"},
                         "events": [{"time": "t", "phase": "tofu", "level": "error", "message": "x"}]});
        let out = cancelled(&rec, "2026-12-06T10:00:00Z").expect("an object");
        assert_eq!(out["status"], "cancelled");
        assert_eq!(out["finishedAt"], "2026-12-06T10:00:00Z");
        assert_eq!(out["request"], rec["request"], "the rest is kept");
        let events = out["events"].as_array().expect("events");
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1],
            json!({"time": "2026-12-06T10:00:00Z", "phase": RECOVERY_PHASE, "level": "warn",
                   "message": RECOVERY_MESSAGE})
        );
        // A record without events gets the one event; a non-object is refused.
        let bare = cancelled(&json!({"status": "provisioning"}), "now").expect("object");
        assert_eq!(bare["events"].as_array().map(Vec::len), Some(1));
        assert!(cancelled(&json!([1]), "now").is_err());
    }

    #[test]
    fn only_plain_ids_become_paths_and_shell_words() {
        assert!(valid_id("4f2c9a1b0d3e5f67"));
        assert!(valid_id("a-b_c"));
        for bad in ["", "a b", "a;rm -rf /", "../x", "$(id)", &"a".repeat(65)] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn planned_records_leave_terminal_states_alone_and_show_safe_text() {
        let raw = br#"{"status":"failed\u001b[2J","events":[1,2]}"#;
        let rec: Value = serde_json::from_slice(raw).expect("json");
        let p = planned("ab", &rec, raw);
        assert_eq!(p.status, "failed");
        assert!(p.cancel);
        assert_eq!(p.events, 2);
        assert_eq!(p.path, "/var/lib/catalyst/deployments/ab.json");
        for s in LEFT_ALONE {
            let rec = json!({"status": s});
            assert!(!planned("ab", &rec, b"{}").cancel, "{s}");
        }
    }
}
