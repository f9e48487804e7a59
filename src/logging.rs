//! Logging to a file only (tracing-appender); nothing ever reaches the terminal.
//!
//! Files roll daily: `$XDG_STATE_HOME/sovtui/sovtui.log.YYYY-MM-DD` (UTC dates, the newest 14
//! kept, each 0600 in the 0700 state dir), and `sovtui.log` there is a symlink to the file in use. The level comes from `SOVTUI_LOG` (an `EnvFilter` directive such as
//! `debug` or `sovtui=trace`; default `info`). Never log secrets: tokens and kubeconfig contents
//! are not passed to `tracing` anywhere.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::config::private_fs::{self, Create};

pub const LOG_NAME: &str = "sovtui.log";
pub const LEVEL_ENV: &str = "SOVTUI_LOG";
/// Dated files kept.
const MAX_FILES: usize = 14;

/// Keep this alive for the life of the program: dropping it flushes the log.
pub struct LogGuard {
    _guard: WorkerGuard,
}

pub fn log_dir() -> PathBuf {
    crate::config::paths::state_dir()
}

/// Start file logging. Fails (and the caller may carry on without logs) when the state dir
/// cannot be created.
pub fn init() -> anyhow::Result<LogGuard> {
    let dir = crate::config::paths::ensure_state_dir()?;
    let (writer, guard) = tracing_appender::non_blocking(DailyFile::open(dir)?);
    let filter = EnvFilter::try_from_env(LEVEL_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .map_err(|e| anyhow::anyhow!("logging already initialised: {e}"))?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "sovtui started");
    Ok(LogGuard { _guard: guard })
}

/// The log writer: appends to `sovtui.log.<UTC date>`, created 0600, moving to a new file when
/// the date changes (tracing-appender's rolling appender creates its files with the default mode).
struct DailyFile {
    dir: PathBuf,
    day: String,
    file: File,
}

impl DailyFile {
    fn open(dir: PathBuf) -> std::io::Result<DailyFile> {
        let day = today();
        let file = Self::open_day(&dir, &day)?;
        Ok(DailyFile { dir, day, file })
    }

    fn open_day(dir: &Path, day: &str) -> std::io::Result<File> {
        let path = dir.join(format!("{LOG_NAME}.{day}"));
        let file = private_fs::open_append(&path, Create::IfMissing)?;
        link_current(dir, &path);
        prune(dir, MAX_FILES);
        Ok(file)
    }
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

impl Write for DailyFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let day = today();
        if day != self.day {
            self.file = Self::open_day(&self.dir, &day)?;
            self.day = day;
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Remove the oldest dated files beyond `keep`.
fn prune(dir: &Path, keep: usize) {
    let mut files = dated_log_files(dir);
    let excess = files.len().saturating_sub(keep);
    for old in files.drain(..excess) {
        let _ = std::fs::remove_file(old);
    }
}

/// `sovtui.log` → the dated file in use, so the documented path always works.
fn link_current(dir: &Path, current: &Path) {
    let link = dir.join(LOG_NAME);
    let Some(name) = current.file_name() else {
        return;
    };
    if std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()) {
        let _ = std::fs::remove_file(&link);
    }
    if !link.exists() {
        let _ = std::os::unix::fs::symlink(name, &link);
    }
}

/// The newest dated log file in `dir`.
pub fn newest_log_file(dir: &Path) -> Option<PathBuf> {
    dated_log_files(dir).pop()
}

/// The dated log files in `dir`, oldest first.
fn dated_log_files(dir: &Path) -> Vec<PathBuf> {
    let prefix = format!("{LOG_NAME}.");
    let Ok(read_dir) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = read_dir
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
                && p.is_file()
        })
        .collect();
    // Dated names (YYYY-MM-DD) sort chronologically.
    files.sort();
    files
}

/// The log file being written now (or the newest one).
pub fn current_log_file() -> Option<PathBuf> {
    newest_log_file(&log_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_is_the_latest_dated_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            "sovtui.log.2026-11-27",
            "sovtui.log.2026-11-29",
            "other.log",
        ] {
            std::fs::write(dir.path().join(name), "x").expect("write");
        }
        std::os::unix::fs::symlink("sovtui.log.2026-11-27", dir.path().join(LOG_NAME))
            .expect("symlink");
        let newest = newest_log_file(dir.path()).expect("newest");
        assert!(newest.ends_with("sovtui.log.2026-11-29"));
        link_current(dir.path(), &newest);
        assert_eq!(
            std::fs::read_link(dir.path().join(LOG_NAME)).expect("link"),
            PathBuf::from("sovtui.log.2026-11-29")
        );
    }

    #[test]
    fn the_daily_file_is_private_linked_and_old_files_are_pruned() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        for day in 1..=20 {
            std::fs::write(dir.path().join(format!("{LOG_NAME}.2026-01-{day:02}")), "x")
                .expect("write");
        }
        let mut w = DailyFile::open(dir.path().to_path_buf()).expect("open");
        w.write_all(b"hello\n").expect("write");
        let today = dir.path().join(format!("{LOG_NAME}.{}", today()));
        assert_eq!(std::fs::read_to_string(&today).expect("read"), "hello\n");
        let mode = std::fs::metadata(&today)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(newest_log_file(dir.path()), Some(today.clone()));
        assert_eq!(
            std::fs::canonicalize(dir.path().join(LOG_NAME)).expect("link"),
            std::fs::canonicalize(&today).expect("today")
        );
        let kept = dated_log_files(dir.path());
        assert_eq!(kept.len(), MAX_FILES, "{kept:?}");
        assert!(!dir.path().join(format!("{LOG_NAME}.2026-01-07")).exists());
        assert!(dir.path().join(format!("{LOG_NAME}.2026-01-08")).exists());
    }
}
