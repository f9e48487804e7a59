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

/// Journals of `operation` in `dir` that never recorded their `done` step (file names, sorted):
/// runs cut off mid-way. Only operations that record `done` can be told apart this way; a purge
/// (`recover`) records none, so its interrupted runs are not found.
pub fn interrupted(dir: &Path, operation: &str) -> Vec<String> {
    let Ok(read_dir) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{operation}-");
    let mut out: Vec<String> = read_dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| n.starts_with(&prefix) && n.ends_with(".ndjson"))
        .filter(|n| {
            std::fs::read_to_string(dir.join(n)).is_ok_and(|text| {
                !text.lines().any(|l| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .is_ok_and(|v| v.get("step").and_then(|s| s.as_str()) == Some("done"))
                })
            })
        })
        .collect();
    out.sort();
    out
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
}
