//! The append-only journal of a destructive run (drill, purge, apply). An entry is written and
//! fsynced *before* each step starts and after it ends, so whoever runs sovtui next — after an SSH
//! drop, a SIGHUP, a crash — can tell exactly which steps took effect and resume or roll back.
//!
//! Layout: `<state dir>/journal/<kind>/<run id>.jsonl`, one JSON object per line.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run's plan, exactly as shown to (and confirmed by) the operator.
    Planned {
        target: String,
        plan: serde_json::Value,
    },
    StepStarted {
        step: String,
    },
    StepDone {
        step: String,
        detail: serde_json::Value,
    },
    StepFailed {
        step: String,
        error: String,
    },
    RollbackStarted {
        step: String,
    },
    RollbackDone {
        step: String,
    },
    /// The run ended: `completed`, `rolled_back`, `failed`, `aborted`.
    Finished {
        outcome: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: Event,
}

/// An open journal, appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: std::fs::File,
}

/// Where the journals of one kind live.
pub fn dir(state_dir: &Path, kind: &str) -> PathBuf {
    state_dir.join("journal").join(kind)
}

impl Journal {
    /// Start a new run's journal; refuses to overwrite an existing one.
    pub fn create(state_dir: &Path, kind: &str, run_id: &str) -> Result<Journal> {
        let dir = dir(state_dir, kind);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{run_id}.jsonl"));
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("creating journal {}", path.display()))?;
        Ok(Journal { path, file })
    }

    /// Re-open an existing run's journal to continue it (resume or rollback).
    pub fn reopen(path: &Path) -> Result<Journal> {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("opening journal {}", path.display()))?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one entry and make it durable before returning.
    pub fn append(&mut self, event: Event) -> Result<Entry> {
        let entry = Entry {
            at: Utc::now(),
            event,
        };
        let mut line = serde_json::to_vec(&entry)?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.sync_data())
            .with_context(|| format!("writing journal {}", self.path.display()))?;
        Ok(entry)
    }
}

/// A journal read back.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    pub entries: Vec<Entry>,
    /// A last line cut off mid-write (the process died while appending): ignored, reported.
    pub truncated_tail: bool,
}

/// Read a journal. A torn final line is tolerated (that is what a kill mid-append leaves); a bad
/// line anywhere else is an error naming the file and line, because the history would be a guess.
pub fn read(path: &Path) -> Result<Replay> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut replay = Replay::default();
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => replay.entries.push(e),
            Err(_) if i + 1 == lines.len() => replay.truncated_tail = true,
            Err(e) => bail!("{}:{}: not a journal entry: {e}", path.display(), i + 1),
        }
    }
    Ok(replay)
}

/// What a replayed run tells: which steps are in effect, which one was cut off, whether it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunState {
    pub target: Option<String>,
    pub plan: Option<serde_json::Value>,
    /// Steps done and not rolled back, in the order they were done, with their details.
    pub done: Vec<(String, serde_json::Value)>,
    /// A step that started and has neither finished nor failed: interrupted.
    pub interrupted: Option<String>,
    pub failed: Option<(String, String)>,
    pub outcome: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl RunState {
    pub fn fold(entries: &[Entry]) -> RunState {
        let mut s = RunState::default();
        for e in entries {
            s.started_at.get_or_insert(e.at);
            s.updated_at = Some(e.at);
            match &e.event {
                Event::Planned { target, plan } => {
                    s.target = Some(target.clone());
                    s.plan = Some(plan.clone());
                }
                Event::StepStarted { step } => s.interrupted = Some(step.clone()),
                Event::StepDone { step, detail } => {
                    s.interrupted = None;
                    s.done.push((step.clone(), detail.clone()));
                }
                Event::StepFailed { step, error } => {
                    s.interrupted = None;
                    s.failed = Some((step.clone(), error.clone()));
                }
                Event::RollbackStarted { step } => s.interrupted = Some(format!("rollback:{step}")),
                Event::RollbackDone { step } => {
                    s.interrupted = None;
                    s.done.retain(|(d, _)| d != step);
                }
                Event::Finished { outcome } => s.outcome = Some(outcome.clone()),
            }
        }
        s
    }

    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    pub fn is_done(&self, step: &str) -> bool {
        self.done.iter().any(|(d, _)| d == step)
    }

    pub fn detail(&self, step: &str) -> Option<&serde_json::Value> {
        self.done.iter().find(|(d, _)| d == step).map(|(_, v)| v)
    }
}

/// Every run of `kind` that has not finished, newest first: what the next sovtui offers to resume
/// or roll back.
pub fn unfinished(state_dir: &Path, kind: &str) -> Result<Vec<(String, RunState)>> {
    let dir = dir(state_dir, kind);
    let Ok(read_dir) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut runs = Vec::new();
    for entry in read_dir.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        let Some(id) = path.file_stem().and_then(|s| s.to_str()).map(String::from) else {
            continue;
        };
        let state = RunState::fold(&read(&path)?.entries);
        if !state.is_finished() {
            runs.push((id, state));
        }
    }
    runs.sort_by_key(|r| std::cmp::Reverse(r.1.started_at));
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_tracks_done_interrupted_and_rollbacks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut j = Journal::create(dir.path(), "drill", "d1").expect("create");
        j.append(Event::Planned {
            target: "a.example".into(),
            plan: serde_json::json!({"steps": 5}),
        })
        .expect("append");
        for step in ["probe", "kill"] {
            j.append(Event::StepStarted { step: step.into() })
                .expect("append");
            j.append(Event::StepDone {
                step: step.into(),
                detail: serde_json::json!({}),
            })
            .expect("append");
        }
        j.append(Event::StepStarted {
            step: "promote".into(),
        })
        .expect("append");
        let state = RunState::fold(&read(j.path()).expect("read").entries);
        assert_eq!(state.interrupted.as_deref(), Some("promote"));
        assert!(state.is_done("kill"));
        assert_eq!(unfinished(dir.path(), "drill").expect("list").len(), 1);

        j.append(Event::RollbackStarted {
            step: "kill".into(),
        })
        .expect("append");
        j.append(Event::RollbackDone {
            step: "kill".into(),
        })
        .expect("append");
        j.append(Event::Finished {
            outcome: "rolled_back".into(),
        })
        .expect("append");
        let state = RunState::fold(&read(j.path()).expect("read").entries);
        assert!(!state.is_done("kill"));
        assert!(state.is_finished());
        assert!(unfinished(dir.path(), "drill").expect("list").is_empty());
        assert!(
            Journal::create(dir.path(), "drill", "d1").is_err(),
            "never overwritten"
        );
    }

    #[test]
    fn a_torn_last_line_is_tolerated_a_torn_middle_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.jsonl");
        let good = r#"{"at":"2026-11-29T10:00:00Z","event":"step_started","step":"kill"}"#;
        std::fs::write(&path, format!("{good}\n{{\"at\":\"2026-11")).expect("write");
        let replay = read(&path).expect("torn tail is fine");
        assert!(replay.truncated_tail);
        assert_eq!(replay.entries.len(), 1);

        std::fs::write(&path, format!("{good}\nnot json\n{good}\n")).expect("write");
        let err = read(&path).expect_err("torn middle").to_string();
        assert!(err.contains("x.jsonl:2"), "{err}");
    }
}
