//! What the runbook runs inside the mothership's pods, as plain functions until the world's
//! `pods/exec` can call them: PDM's health over `wget` (§1.2 D), `pdnsutil list-all-zones`
//! (§1.2 F), and catalyst-api's deployment records as files under `/var/lib/catalyst/deployments`
//! (§2.2 step 3: `ls`, `cat`, and a write back that rewrites the record).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::dns::Zones;
use crate::sim::catalyst::pdm::PdmZones;
use crate::sim::catalyst::store::Store;

/// Where catalyst-api keeps one JSON file per deployment.
pub const RECORDS_DIR: &str = "/var/lib/catalyst/deployments";

/// catalyst-api's deployment records, seen as the files of its pod.
#[derive(Clone, Default)]
pub struct RecordFiles(pub Option<Store>);

impl RecordFiles {
    /// `path → JSON` of every record file.
    pub fn files(&self) -> BTreeMap<String, String> {
        let Some(store) = &self.0 else {
            return BTreeMap::new();
        };
        store
            .lock()
            .values()
            .map(|d| {
                let events: Vec<Value> = d
                    .events
                    .iter()
                    .filter_map(|(_, e)| serde_json::to_value(e).ok())
                    .collect();
                let mut request = serde_json::to_value(&d.request).unwrap_or(Value::Null);
                if let Some(r) = request.as_object_mut() {
                    // The persisted record never holds the token (runbook §1.2 A).
                    r.insert("hetznerToken".into(), json!("<redacted>"));
                }
                let mut rec = json!({
                    "id": d.id, "status": d.status, "startedAt": d.started_at,
                    "request": request, "events": events,
                });
                if let Some(f) = &d.finished_at {
                    rec["finishedAt"] = json!(f);
                }
                if let Some(e) = &d.error {
                    rec["error"] = json!(e);
                }
                (
                    format!("{RECORDS_DIR}/{}.json", d.id),
                    serde_json::to_string_pretty(&rec).unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Write a record file back (`kubectl exec -i … cat > FILE`): status, finishedAt and events
    /// of the deployment take the file's values. Errors say why, as `sh` would.
    pub fn write(&self, path: &str, text: &str) -> Result<(), String> {
        let store = self.0.as_ref().ok_or("no such directory")?;
        let id = path
            .strip_prefix(RECORDS_DIR)
            .and_then(|p| p.strip_prefix('/'))
            .and_then(|p| p.strip_suffix(".json"))
            .ok_or_else(|| format!("{path}: not a deployment record"))?;
        let rec: Value = serde_json::from_str(text).map_err(|e| format!("{path}: {e}"))?;
        let status = rec["status"].as_str().ok_or("record without status")?;
        let events: Vec<crate::provision::wire::Event> =
            serde_json::from_value(rec["events"].clone()).unwrap_or_default();
        store
            .with(id, |d| {
                d.status = status.to_string();
                d.finished_at = rec["finishedAt"].as_str().map(str::to_string);
                let mut seq = d.next_seq;
                let known = d.events.len();
                for e in events.into_iter().skip(known) {
                    d.events.push_back((seq, e));
                    seq += 1;
                }
                d.next_seq = seq;
                d.notify();
            })
            .ok_or_else(|| format!("{path}: no such file"))
    }
}

/// The commands of the mothership's pods.
#[derive(Clone)]
pub struct Commands {
    pub zones: Zones,
    pub pdm: Option<PdmZones>,
    pub records: RecordFiles,
}

/// What a command printed and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Output {
    fn ok(stdout: String) -> Output {
        Output {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }

    fn fail(stderr: String, code: i32) -> Output {
        Output {
            stdout: String::new(),
            stderr,
            code,
        }
    }
}

impl Commands {
    /// `wget -qO- http://localhost:8080/healthz` in the pool-domain-manager pod.
    pub fn pdm_wget(&self, url: &str) -> Output {
        let Some(pdm) = &self.pdm else {
            return Output::fail(
                "wget: can't connect to remote host: Connection refused\n".into(),
                1,
            );
        };
        let path = url.strip_prefix("http://localhost:8080").unwrap_or(url);
        if path != "/healthz" {
            return Output::fail(
                "wget: server returned error: HTTP/1.1 404 Not Found\n".into(),
                1,
            );
        }
        match pdm.healthz() {
            (200, body) => Output::ok(body),
            (status, _) => Output::fail(
                format!("wget: server returned error: HTTP/1.1 {status} Service Unavailable\n"),
                1,
            ),
        }
    }

    /// `pdnsutil list-all-zones` in the powerdns pod: one zone per line, with the trailing dot
    /// stripped as pdnsutil prints them.
    pub fn pdnsutil_list_all_zones(&self) -> Output {
        let mut zones: Vec<String> = self.zones.all().into_iter().map(|(z, _)| z).collect();
        zones.sort();
        zones.dedup();
        Output::ok(zones.iter().map(|z| format!("{z}\n")).collect())
    }

    /// `ls /var/lib/catalyst/deployments/*.json` in the catalyst-api pod.
    pub fn ls_records(&self) -> Output {
        let files = self.records.files();
        if files.is_empty() {
            return Output::fail(
                format!("ls: {RECORDS_DIR}/*.json: No such file or directory\n"),
                1,
            );
        }
        Output::ok(files.keys().map(|p| format!("{p}\n")).collect())
    }

    /// `cat FILE` in the catalyst-api pod.
    pub fn cat_record(&self, path: &str) -> Output {
        match self.records.files().remove(path) {
            Some(text) => Output::ok(text),
            None => Output::fail(
                format!("cat: can't open '{path}': No such file or directory\n"),
                1,
            ),
        }
    }

    /// `cat > FILE` in the catalyst-api pod, with `text` on stdin.
    pub fn write_record(&self, path: &str, text: &str) -> Output {
        match self.records.write(path, text) {
            Ok(()) => Output::ok(String::new()),
            Err(e) => Output::fail(format!("sh: {e}\n"), 1),
        }
    }
}
