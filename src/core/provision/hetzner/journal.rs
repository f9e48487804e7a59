//! Append-only NDJSON journal of a destructive run, written (and flushed) before each step so an
//! interrupted run can be understood and resumed by the next invocation.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: std::fs::File,
}

impl Journal {
    /// `<dir>/<operation>-<slug>-<UTC timestamp>.ndjson`, directories created as needed.
    pub fn create(dir: &Path, operation: &str, slug: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let path = dir.join(format!("{operation}-{slug}-{stamp}.ndjson"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok(Journal { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One line `{"at": ..., "step": ..., ...detail}`; failures are logged, never fatal, because
    /// a full disk must not leave a purge half-done.
    pub fn record(&mut self, step: &str, detail: impl Serialize) {
        let mut line = serde_json::json!({"at": chrono::Utc::now().to_rfc3339(), "step": step});
        if let (Some(obj), Ok(serde_json::Value::Object(extra))) =
            (line.as_object_mut(), serde_json::to_value(detail))
        {
            obj.extend(extra);
        }
        let result = writeln!(self.file, "{line}").and_then(|_| self.file.sync_data());
        if let Err(e) = result {
            tracing::warn!(path = %self.path.display(), error = %e, "journal write failed");
        }
    }
}

/// What one journal says about its run: enough to tell an operator which run was cut off, when,
/// and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// The journal's file name (`<operation>-<slug>-<stamp>.ndjson`).
    pub file: String,
    pub path: PathBuf,
    /// The first `fqdn` a line names.
    pub fqdn: Option<String>,
    /// `at` of the first line.
    pub started_at: Option<String>,
    /// The last line's step and the object it names, e.g. `delete server catalyst-x-cp1 #12`.
    pub last_step: Option<String>,
    pub last_at: Option<String>,
    /// The run recorded its `done` step (it ended, well or with a reported failure).
    pub done: bool,
}

impl RunSummary {
    /// Folds the lines of one journal; lines that are not JSON objects (a torn last line is what a
    /// kill mid-append leaves) are skipped.
    fn read(dir: &Path, file: String) -> Option<Self> {
        let path = dir.join(&file);
        let text = std::fs::read_to_string(&path).ok()?;
        let mut run = RunSummary {
            file,
            path,
            fqdn: None,
            started_at: None,
            last_step: None,
            last_at: None,
            done: false,
        };
        let lines = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok());
        for line in lines {
            let field = |k: &str| line.get(k).and_then(|v| v.as_str()).map(str::to_string);
            if run.fqdn.is_none() {
                run.fqdn = field("fqdn");
            }
            if run.started_at.is_none() {
                run.started_at = field("at");
            }
            let Some(step) = field("step") else { continue };
            run.done |= step == "done";
            run.last_step = Some(match line.get("object") {
                Some(o) => format!(
                    "{step} {} {} #{}",
                    o.get("kind").and_then(|v| v.as_str()).unwrap_or("?"),
                    o.get("name").and_then(|v| v.as_str()).unwrap_or("?"),
                    o.get("id").and_then(|v| v.as_i64()).unwrap_or_default()
                ),
                None => step,
            });
            run.last_at = field("at");
        }
        Some(run)
    }

    /// `<fqdn or file> (started <UTC minute>, last step: <step>)`, for notices.
    pub fn describe(&self) -> String {
        let when = self
            .started_at
            .as_deref()
            .map(|at| {
                chrono::DateTime::parse_from_rfc3339(at)
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|_| at.to_string())
            })
            .unwrap_or_else(|| "at an unknown time".into());
        format!(
            "{} (started {when}, last step: {})",
            self.fqdn.as_deref().unwrap_or(&self.file),
            self.last_step.as_deref().unwrap_or("none")
        )
    }
}

/// Every readable journal of `operation` in `dir`, sorted by file name (so the runs of one
/// subject are oldest first).
pub fn runs(dir: &Path, operation: &str) -> Vec<RunSummary> {
    let Ok(read_dir) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{operation}-");
    let mut out: Vec<RunSummary> = read_dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| n.starts_with(&prefix) && n.ends_with(".ndjson"))
        .filter_map(|n| RunSummary::read(dir, n))
        .collect();
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

/// Journals of `operation` in `dir` that never recorded their `done` step (file names, sorted):
/// runs cut off mid-way. Phase-0 applies and purges (`recover`) both record `done` when they end;
/// for purges, `recover::interrupted_purges` also drops runs a later finished purge has redone.
pub fn interrupted(dir: &Path, operation: &str) -> Vec<String> {
    runs(dir, operation)
        .into_iter()
        .filter(|r| !r.done)
        .map(|r| r.file)
        .collect()
}

/// Where destructive runs are journaled.
pub fn default_dir() -> PathBuf {
    crate::config::paths::state_dir().join("journal")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupted_runs_are_those_without_done() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cut = Journal::create(dir.path(), "phase0-apply", "a").expect("journal");
        cut.record("network", serde_json::json!({}));
        let mut whole = Journal::create(dir.path(), "phase0-apply", "b").expect("journal");
        whole.record("network", serde_json::json!({}));
        whole.record("done", serde_json::json!({}));
        let mut other = Journal::create(dir.path(), "recover", "a").expect("journal");
        other.record("delete", serde_json::json!({}));
        let found = interrupted(dir.path(), "phase0-apply");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("phase0-apply-a-"), "{found:?}");
        assert!(interrupted(&dir.path().join("absent"), "phase0-apply").is_empty());
    }

    #[test]
    fn a_summary_names_the_subject_and_the_last_step_and_skips_a_torn_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut j = Journal::create(dir.path(), "recover", "t1-omani-works").expect("journal");
        j.record("start", serde_json::json!({"fqdn": "t1.omani.works"}));
        j.record(
            "delete",
            serde_json::json!({"object": {"kind": "server", "id": 7, "name": "catalyst-t1-cp1"}}),
        );
        let path = j.path().to_path_buf();
        drop(j);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("reopen");
        write!(f, "{{\"at\": \"2026-").expect("torn line");
        let runs = runs(dir.path(), "recover");
        assert_eq!(runs.len(), 1, "{runs:?}");
        let r = &runs[0];
        assert_eq!(r.fqdn.as_deref(), Some("t1.omani.works"));
        assert_eq!(
            r.last_step.as_deref(),
            Some("delete server catalyst-t1-cp1 #7")
        );
        assert!(!r.done);
        assert!(r.started_at.is_some() && r.last_at.is_some());
        let said = r.describe();
        assert!(said.starts_with("t1.omani.works (started 20"), "{said}");
        assert!(
            said.ends_with("UTC, last step: delete server catalyst-t1-cp1 #7)"),
            "{said}"
        );
    }
}
