//! Armed Flux actions on one object of one Sovereign — reconcile now, suspend, resume — done with
//! a kube merge patch exactly as the `flux` CLI does, and each one recorded in the audit log
//! (JSON lines in the state dir) before it is sent and again with its outcome.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::objects::FluxKind;

/// The annotation Flux controllers watch to reconcile out of schedule.
pub const RECONCILE_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FluxAction {
    Reconcile,
    Suspend,
    Resume,
    /// Runbook C11: set the HelmRelease value `observability.enabled: false` (the chart's
    /// ServiceMonitor needs a CRD the Sovereign does not have yet) and reconcile, in one patch.
    DisableObservability,
}

impl FluxAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FluxAction::Reconcile => "reconcile",
            FluxAction::Suspend => "suspend",
            FluxAction::Resume => "resume",
            FluxAction::DisableObservability => "set observability.enabled=false and reconcile",
        }
    }

    /// The merge patch the action sends. Resume also asks for a reconcile, like `flux resume`.
    pub fn patch(self, now: DateTime<Utc>) -> serde_json::Value {
        let stamp = now.to_rfc3339_opts(SecondsFormat::Nanos, true);
        match self {
            FluxAction::Reconcile => {
                json!({"metadata": {"annotations": {RECONCILE_ANNOTATION: stamp}}})
            }
            FluxAction::Suspend => json!({"spec": {"suspend": true}}),
            FluxAction::Resume => json!({
                "metadata": {"annotations": {RECONCILE_ANNOTATION: stamp}},
                "spec": {"suspend": false}
            }),
            FluxAction::DisableObservability => json!({
                "metadata": {"annotations": {RECONCILE_ANNOTATION: stamp}},
                "spec": {"values": {"observability": {"enabled": false}}}
            }),
        }
    }
}

/// The object an action targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: FluxKind,
    pub namespace: String,
    pub name: String,
}

/// The HelmReleases of one Sovereign an action names: `name` (or `namespace/name`), or every
/// HelmRelease when `None`. One rule for the cockpit's selection and the headless
/// `sovtui fleet reconcile|suspend|resume`; an unknown name is an error listing what there is.
pub fn helm_release_targets(
    status: &super::model::SovereignStatus,
    name: Option<&str>,
) -> Result<Vec<ObjectRef>, String> {
    let of = |c: &std::sync::Arc<super::model::ComponentStatus>| ObjectRef {
        kind: FluxKind::HelmRelease,
        namespace: c.namespace.clone(),
        name: c.name.clone(),
    };
    let Some(name) = name else {
        if status.components.is_empty() {
            return Err(format!("{} has no HelmReleases (yet)", status.fqdn));
        }
        return Ok(status.components.iter().map(of).collect());
    };
    let (ns, bare) = match name.split_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, name),
    };
    let found: Vec<ObjectRef> = status
        .components
        .iter()
        .filter(|c| c.name == bare && ns.is_none_or(|ns| c.namespace == ns))
        .map(of)
        .collect();
    match found.len() {
        1 => Ok(found),
        0 => {
            let names: Vec<&str> = status.components.iter().map(|c| c.name.as_str()).collect();
            Err(format!(
                "{} has no HelmRelease {name:?} (it has: {})",
                status.fqdn,
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
        }
        _ => Err(format!(
            "{name:?} names HelmReleases in several namespaces of {}: name one as NAMESPACE/NAME",
            status.fqdn
        )),
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub time: DateTime<Utc>,
    pub user: String,
    pub fqdn: String,
    pub action: FluxAction,
    pub kind: FluxKind,
    pub namespace: String,
    pub name: String,
    /// `requested`, then `succeeded` or `failed`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Append one record as a JSON line (file 0600, directory 0700, created on first use).
pub fn append_audit(path: &Path, record: &AuditRecord) -> std::io::Result<()> {
    let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut f =
        crate::config::private_fs::open_append(path, crate::config::private_fs::Create::IfMissing)?;
    // One write per line keeps lines whole even with several sovtui processes appending.
    f.write_all(line.as_bytes())
}

/// Read back the audit log (lines that do not parse are skipped).
pub fn read_audit(path: &Path) -> std::io::Result<Vec<AuditRecord>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

fn user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Patch the object, journaling the request before and the outcome after.
pub(crate) async fn perform(
    client: Client,
    audit_log: &Path,
    fqdn: &str,
    target: &ObjectRef,
    action: FluxAction,
) -> anyhow::Result<AuditRecord> {
    let mut record = AuditRecord {
        time: Utc::now(),
        user: user(),
        fqdn: fqdn.to_string(),
        action,
        kind: target.kind,
        namespace: target.namespace.clone(),
        name: target.name.clone(),
        outcome: "requested".into(),
        error: None,
    };
    append_audit(audit_log, &record)
        .map_err(|e| anyhow::anyhow!("audit log {}: {e}", audit_log.display()))?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(client, &target.namespace, &target.kind.api_resource());
    let result = api
        .patch(
            &target.name,
            &PatchParams::default(),
            &Patch::Merge(action.patch(record.time)),
        )
        .await;
    record.time = Utc::now();
    match &result {
        Ok(_) => record.outcome = "succeeded".into(),
        Err(e) => {
            record.outcome = "failed".into();
            record.error = Some(e.to_string());
        }
    }
    let logged = append_audit(audit_log, &record);
    result.map_err(|e| {
        anyhow::anyhow!(
            "{} {} {}/{} on {fqdn}: {e}",
            action.as_str(),
            target.kind,
            target.namespace,
            target.name
        )
    })?;
    logged.map_err(|e| anyhow::anyhow!("audit log {}: {e}", audit_log.display()))?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_match_the_flux_cli() {
        let t = DateTime::parse_from_rfc3339("2026-11-29T13:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(
            FluxAction::Reconcile.patch(t),
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "2026-11-29T13:00:00.000000000Z"}}})
        );
        assert_eq!(
            FluxAction::Suspend.patch(t),
            json!({"spec": {"suspend": true}})
        );
        assert_eq!(FluxAction::Resume.patch(t)["spec"]["suspend"], json!(false));
    }

    #[test]
    fn audit_log_appends_json_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/audit.jsonl");
        let rec = AuditRecord {
            time: Utc::now(),
            user: "op".into(),
            fqdn: "a.b".into(),
            action: FluxAction::Suspend,
            kind: FluxKind::HelmRelease,
            namespace: "flux-system".into(),
            name: "bp-x".into(),
            outcome: "requested".into(),
            error: None,
        };
        append_audit(&path, &rec).expect("append");
        append_audit(&path, &rec).expect("append");
        let back = read_audit(&path).expect("read");
        assert_eq!(back, vec![rec.clone(), rec]);
    }
}
