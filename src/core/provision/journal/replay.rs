//! Reading a journal back and folding it into what it tells about its run.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{Entry, Event, FORMAT, JournalError, Op, legacy};

/// A journal read back.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    pub entries: Vec<Entry>,
    /// A last line cut off mid-write (the process died while appending): ignored, reported.
    pub truncated_tail: bool,
}

/// Read a journal. A torn final line is tolerated (that is what a kill mid-append leaves); a bad
/// line anywhere else is an error naming the file and line, because the history would be a guess.
/// Lines an older sovtui wrote (drill journals before the common format) are read as the records
/// they meant, with the run id from the file name and the operation from its directory.
pub fn read(path: &Path) -> Result<Replay, JournalError> {
    let text = std::fs::read_to_string(path).map_err(|source| JournalError::Read {
        path: path.into(),
        source,
    })?;
    let mut replay = Replay::default();
    let mut old = legacy::DrillLines::new(path);
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed = match serde_json::from_str::<Entry>(line) {
            Ok(e) if e.v > FORMAT => {
                return Err(JournalError::Newer {
                    path: path.into(),
                    found: e.v,
                });
            }
            Ok(e) => Ok(e),
            Err(e) => old.entry(line).ok_or(e),
        };
        match parsed {
            Ok(e) => replay.entries.push(e),
            Err(_) if i + 1 == lines.len() => replay.truncated_tail = true,
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.into(),
                    line: i + 1,
                    error: e.to_string(),
                });
            }
        }
    }
    Ok(replay)
}

/// What a replayed run tells: which steps are in effect, which one was cut off, whether it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunState {
    pub op: Option<Op>,
    pub run: Option<String>,
    /// The Sovereign's FQDN.
    pub target: Option<String>,
    pub plan: Option<Value>,
    /// Steps done and not rolled back, in the order they were done, with their details.
    pub done: Vec<(String, Value)>,
    /// A step that started and has neither finished nor failed: interrupted.
    pub interrupted: Option<String>,
    pub failed: Option<(String, String)>,
    /// The last step any record names (started, done, failed or rolled back).
    pub last_step: Option<String>,
    pub outcome: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl RunState {
    pub fn fold(entries: &[Entry]) -> RunState {
        let mut s = RunState::default();
        for e in entries {
            s.op.get_or_insert(e.op);
            s.run.get_or_insert_with(|| e.run.clone());
            if s.target.is_none() && !e.fqdn.is_empty() {
                s.target = Some(e.fqdn.clone());
            }
            s.started_at.get_or_insert(e.at);
            s.updated_at = Some(e.at);
            if let Some(step) = e.event.step() {
                s.last_step = Some(step.to_string());
            }
            match &e.event {
                Event::Planned { plan } => s.plan = Some(plan.clone()),
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
                Event::Finished { outcome, .. } => s.outcome = Some(outcome.clone()),
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

    pub fn detail(&self, step: &str) -> Option<&Value> {
        self.done.iter().find(|(d, _)| d == step).map(|(_, v)| v)
    }
}
