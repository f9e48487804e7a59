//! Which destructive runs never ended: the one answer the cockpit's start notice, `sovtui recover`
//! and `sovtui drill resume` all give.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Op, Replay, RunState, legacy, read};

/// A run whose journal has no end record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unfinished {
    pub op: Op,
    /// The run id (for journals of an older sovtui: the file name without extension).
    pub id: String,
    pub path: PathBuf,
    pub fqdn: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    /// The last step a record names, e.g. `delete server catalyst-x-cp1 #12` or `kill`.
    pub last_step: Option<String>,
    /// The whole fold (a drill's plan and steps in effect, for resume and rollback).
    #[serde(skip)]
    pub state: RunState,
}

impl Unfinished {
    /// `<fqdn or id> (started <UTC minute>, last step: <step>)`, for notices.
    pub fn describe(&self) -> String {
        let when = self
            .started_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "at an unknown time".into());
        format!(
            "{} (started {when}, last step: {})",
            self.fqdn.as_deref().unwrap_or(&self.id),
            self.last_step.as_deref().unwrap_or("none")
        )
    }
}

/// Every unfinished run under a journal root, newest first, and the journals that could not be
/// read (one broken file must not hide the others' runs, nor be passed over in silence).
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub runs: Vec<Unfinished>,
    /// One sentence per journal that could not be read, naming the file.
    pub unreadable: Vec<String>,
}

impl Listing {
    /// The unfinished runs of one operation, newest first.
    pub fn of(&self, op: Op) -> impl Iterator<Item = &Unfinished> {
        self.runs.iter().filter(move |r| r.op == op)
    }
}

/// Every run under `root` (see [`super::root`]) that has not ended, newest first. A run of an
/// idempotent operation (apply, purge) is settled by a later run of the same operation on the
/// same Sovereign that ended ([`Op::later_run_settles`]); a drill only by its own end. Journals
/// without a single record (the process died before the plan) took no step and are not listed.
pub fn unfinished(root: &Path) -> Listing {
    let mut listing = Listing::default();
    let mut all: Vec<(Op, String, PathBuf, RunState)> = Vec::new();
    let mut add = |op: Op, id: String, path: PathBuf, replay: Replay| {
        if !replay.entries.is_empty() {
            all.push((op, id, path, RunState::fold(&replay.entries)));
        }
    };
    for op in Op::ALL {
        for path in files(&root.join(op.as_str()), "jsonl") {
            let Some(id) = path.file_stem().and_then(|s| s.to_str()).map(String::from) else {
                continue;
            };
            match read(&path) {
                Ok(replay) => add(op, id, path, replay),
                Err(e) => listing.unreadable.push(e.to_string()),
            }
        }
    }
    for path in files(root, "ndjson") {
        if let Some(replay) = legacy::read_hetzner(&path)
            && let Some(op) = replay.entries.first().map(|e| e.op)
        {
            let id = replay.entries[0].run.clone();
            add(op, id, path, replay);
        }
    }

    let settled = |op: Op, s: &RunState| {
        op.later_run_settles()
            && s.target.is_some()
            && all.iter().any(|(o, _, _, later)| {
                *o == op
                    && later.is_finished()
                    && later.target == s.target
                    && later.started_at > s.started_at
            })
    };
    listing.runs = all
        .iter()
        .filter(|(op, _, _, s)| !s.is_finished() && !settled(*op, s))
        .map(|(op, id, path, s)| Unfinished {
            op: *op,
            id: id.clone(),
            path: path.clone(),
            fqdn: s.target.clone(),
            started_at: s.started_at,
            last_at: s.updated_at,
            last_step: s.last_step.clone(),
            state: s.clone(),
        })
        .collect();
    listing
        .runs
        .sort_by(|a, b| (b.started_at, &b.id).cmp(&(a.started_at, &a.id)));
    listing
}

/// The regular files `*.<ext>` directly in `dir` (none when it does not exist).
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let Ok(read_dir) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read_dir
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext) && p.is_file())
        .collect()
}
