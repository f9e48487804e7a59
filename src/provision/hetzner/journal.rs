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

/// Where destructive runs are journaled.
pub fn default_dir() -> PathBuf {
    crate::config::paths::state_dir().join("journal")
}
