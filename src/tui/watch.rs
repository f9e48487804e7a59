//! Live reload: a notify watcher on the config dir, debounced, reported to the reducer as
//! [`Msg::ConfigChanged`]. The reducer decides whether a path is the active theme or keymap.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::msg::Msg;

/// Editors write a file in several steps; wait this long for quiet before reloading.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// Keeps the watcher alive; dropping it stops watching.
pub struct ConfigWatcher {
    _watcher: notify::RecommendedWatcher,
}

/// Watch `dir` (recursively) and send the changed paths to the reducer. `None` (with a log line)
/// when the dir does not exist or cannot be watched: the cockpit then runs without live reload.
pub fn spawn(dir: &Path, app_tx: mpsc::Sender<Msg>) -> Option<ConfigWatcher> {
    if !dir.is_dir() {
        tracing::info!(dir = %dir.display(), "config dir absent: no live reload of themes and keymaps");
        return None;
    }
    let (raw_tx, mut raw_rx) = mpsc::channel::<PathBuf>(256);
    let handler = move |res: notify::Result<notify::Event>| match res {
        Ok(ev) => {
            if ev.kind.is_access() {
                return;
            }
            for p in ev.paths {
                // Runs on notify's own thread, so blocking here only slows notify, never the UI.
                if raw_tx.blocking_send(p).is_err() {
                    return;
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "config watcher error"),
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot create config watcher");
            return None;
        }
    };
    if let Err(e) = watcher.watch(dir, RecursiveMode::Recursive) {
        tracing::warn!(error = %e, dir = %dir.display(), "cannot watch config dir");
        return None;
    }
    tokio::spawn(async move {
        while let Some(first) = raw_rx.recv().await {
            let mut paths = BTreeSet::from([first]);
            loop {
                match tokio::time::timeout(DEBOUNCE, raw_rx.recv()).await {
                    Ok(Some(p)) => {
                        paths.insert(p);
                    }
                    Ok(None) => break,
                    Err(_) => break,
                }
            }
            tracing::debug!(?paths, "config files changed");
            if app_tx
                .send(Msg::ConfigChanged(paths.into_iter().collect()))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    tracing::info!(dir = %dir.display(), "watching config dir for theme and keymap edits");
    Some(ConfigWatcher { _watcher: watcher })
}
