//! The one journal of every destructive run — drill, Phase-0 apply, purge. A record is appended
//! and fsynced *before* each step starts and after it ends, so whoever runs sovtui next — after an
//! SSH drop, a SIGHUP, a crash — can tell exactly which steps took effect and resume, redo or roll
//! back; [`unfinished`] is the one place that tells which runs never ended.
//!
//! No journal, no run: a run whose journal cannot be created does not start
//! ([`JournalError::Create`]), and a run whose journal stops accepting records stops at the next
//! step boundary ([`JournalError::Write`], which says how to roll back).
//!
//! Layout: `<state dir>/journal/<op>/<run id>.jsonl`, one JSON object per line, each naming its
//! format version, run, operation, Sovereign and time (docs/JOURNAL.md). Directories are 0700,
//! files 0600.

mod legacy;
mod replay;
mod unfinished;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::private_fs::{self, Create};

pub use replay::{Replay, RunState, read};
pub use unfinished::{Listing, Unfinished, unfinished};

/// The on-disk format written here (`"v"` of every record). A reader refuses a higher one.
pub const FORMAT: u32 = 1;

/// The destructive operations that journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// A region-kill failover drill (runbook §6).
    Drill,
    /// Creating or fixing a Sovereign's Hetzner objects (runbook §1).
    Phase0Apply,
    /// Deleting a Sovereign's Hetzner objects (`sovtui recover`, runbook §2.2–2.3).
    Purge,
    /// Wiping a Sovereign through catalyst-api and verifying it is gone (`sovtui decommission`,
    /// runbook §1.7/§2.1).
    Decommission,
    /// Creating a deployment through catalyst-api (the wizard's Provision, `sovtui deploy
    /// create`): the pre-flight it was gated on, any override of a ✗ item, and the create.
    Provision,
}

impl Op {
    pub const ALL: [Op; 5] = [
        Op::Drill,
        Op::Phase0Apply,
        Op::Purge,
        Op::Decommission,
        Op::Provision,
    ];

    /// The record's `op` and the directory name.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Drill => "drill",
            Op::Phase0Apply => "phase0-apply",
            Op::Purge => "purge",
            Op::Decommission => "decommission",
            Op::Provision => "provision",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// What an operator calls it.
    pub fn noun(self) -> &'static str {
        match self {
            Op::Drill => "drill",
            Op::Phase0Apply => "Phase-0 apply",
            Op::Purge => "purge",
            Op::Decommission => "decommission",
            Op::Provision => "provision",
        }
    }

    /// Idempotent operations converge whatever state an earlier run left, so a later run of the
    /// same operation on the same Sovereign that ended settles an earlier one that was cut off.
    /// A drill is not: its kill stays in effect until that very run is resumed or rolled back.
    pub fn later_run_settles(self) -> bool {
        matches!(
            self,
            Op::Phase0Apply | Op::Purge | Op::Decommission | Op::Provision
        )
    }

    /// What the operator does about a run whose journal stopped mid-way.
    pub fn remedy(self, fqdn: &str, run: &str) -> String {
        match self {
            Op::Drill => format!(
                "once the journal can be written again, roll the drill back with `sovtui drill \
                 rollback {run} --confirm {fqdn}` (or finish it with `sovtui drill resume {run} \
                 --confirm {fqdn}`)"
            ),
            Op::Phase0Apply => format!(
                "what it created stays; once the journal can be written again, finish it by \
                 running the same `sovtui phase0 apply` again, or remove what it created with \
                 `sovtui recover {fqdn} --apply --confirm {fqdn}`"
            ),
            Op::Purge => format!(
                "deleted objects cannot be restored; once the journal can be written again, \
                 finish the purge with `sovtui recover {fqdn} --apply --confirm {fqdn}` \
                 (idempotent: it lists again and verifies)"
            ),
            Op::Decommission => format!(
                "catalyst-api may still be wiping; once the journal can be written again, run \
                 `sovtui decommission {fqdn}` (it shows the record's status) and apply it again \
                 — a wiped record is only verified, never wiped twice"
            ),
            Op::Provision => format!(
                "the create may or may not have reached catalyst-api; look for {fqdn} with \
                 `sovtui deploy list --api URL` before provisioning it again"
            ),
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened. The `step` names are the run's own (`kill`, `delete server catalyst-x-cp1 #7`,
/// `create network catalyst-x`): short, stable, and what a notice shows as the last step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run's plan, exactly as shown to (and confirmed by) the operator.
    Planned {
        plan: Value,
    },
    StepStarted {
        step: String,
    },
    StepDone {
        step: String,
        #[serde(default)]
        detail: Value,
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
    /// The run ended — `completed`, `rolled_back`, `aborted`, `failed`, `verified-clean`,
    /// `objects-remain` … — with what it wants remembered (what a purge deleted, say).
    Finished {
        outcome: String,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        detail: Value,
    },
}

/// One record (one line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// [`FORMAT`].
    pub v: u32,
    pub run: String,
    pub op: Op,
    pub fqdn: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: Event,
}

/// Why a journal could not be created, written or read. The messages are complete sentences for
/// an operator: what happened to the run and what to do.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "cannot create the journal {}: {source} — the {} of {fqdn} was not started and nothing \
         was changed; make the state directory writable (or point XDG_STATE_HOME at one that \
         is) and run it again",
        path.display(), op.noun()
    )]
    Create {
        path: PathBuf,
        op: Op,
        fqdn: String,
        source: std::io::Error,
    },
    #[error(
        "cannot write the journal {}: {source} — the {} of {fqdn} stopped at the step boundary \
         {}; {}",
        path.display(),
        op.noun(),
        last_step.as_deref().map(|s| format!("after `{s}`")).unwrap_or_else(|| "before its first step".into()),
        op.remedy(fqdn, run)
    )]
    Write {
        path: PathBuf,
        op: Op,
        run: String,
        fqdn: String,
        last_step: Option<String>,
        source: std::io::Error,
    },
    #[error("cannot read the journal {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}:{line}: not a journal record ({error}); its run's history would be a guess — move \
         the file aside (it stays readable for a person) to go on",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        error: String,
    },
    #[error(
        "{}: written by a newer sovtui (journal format {found}; this one reads up to {FORMAT}) — \
         resume or roll it back with that version",
        path.display()
    )]
    Newer { path: PathBuf, found: u32 },
    #[error("{}: the journal names no Sovereign, so it cannot be continued", path.display())]
    NoSovereign { path: PathBuf },
}

/// Where the journals under a state dir live.
pub fn root(state_dir: &Path) -> PathBuf {
    state_dir.join("journal")
}

/// The operator's journals (`$XDG_STATE_HOME/sovtui/journal`).
pub fn default_root() -> PathBuf {
    root(&crate::config::paths::state_dir())
}

/// The file of run `run` of `op`.
pub fn path(root: &Path, op: Op, run: &str) -> PathBuf {
    root.join(op.as_str()).join(format!("{run}.jsonl"))
}

/// A fresh run id: `<op>-<UTC stamp>-<6 hex>`.
pub fn new_run_id(op: Op) -> String {
    format!(
        "{}-{}-{}",
        op.as_str(),
        Utc::now().format("%Y%m%dT%H%M%S"),
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    )
}

/// An open journal, appending. Each append opens the file again (never creating it), so a
/// journal deleted or replaced under a running sovtui fails the next append instead of
/// silently going to an unlinked file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    op: Op,
    run: String,
    fqdn: String,
    last_step: Option<String>,
}

impl Journal {
    /// Start the journal of a new run of `op` on `fqdn` under `root` (see [`root`]).
    pub fn create(root: &Path, op: Op, fqdn: &str) -> Result<Journal, JournalError> {
        Journal::create_with_id(root, op, &new_run_id(op), fqdn)
    }

    /// [`Journal::create`] with a chosen run id; refuses to continue an existing journal.
    pub fn create_with_id(
        root: &Path,
        op: Op,
        run: &str,
        fqdn: &str,
    ) -> Result<Journal, JournalError> {
        let path = path(root, op, run);
        let made = (|| {
            let dir = root.join(op.as_str());
            private_fs::own_dir(root)?;
            private_fs::own_dir(&dir)?;
            private_fs::open_append(&path, Create::New)?.sync_all()?;
            private_fs::sync_dir(&dir)
        })();
        if let Err(source) = made {
            return Err(JournalError::Create {
                path,
                op,
                fqdn: fqdn.into(),
                source,
            });
        }
        Ok(Journal {
            path,
            op,
            run: run.into(),
            fqdn: fqdn.into(),
            last_step: None,
        })
    }

    /// Continue an existing run's journal (resume or rollback); old drill journals included.
    pub fn reopen(path: &Path) -> Result<Journal, JournalError> {
        let replay = read(path)?;
        let state = RunState::fold(&replay.entries);
        let (Some(op), Some(run), Some(fqdn)) = (state.op, state.run.clone(), state.target) else {
            return Err(JournalError::NoSovereign { path: path.into() });
        };
        let j = Journal {
            path: path.into(),
            op,
            run,
            fqdn,
            last_step: state.last_step,
        };
        private_fs::open_append(path, Create::No).map_err(|e| j.write_error(e))?;
        Ok(j)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn run_id(&self) -> &str {
        &self.run
    }

    pub fn op(&self) -> Op {
        self.op
    }

    pub fn fqdn(&self) -> &str {
        &self.fqdn
    }

    fn write_error(&self, source: std::io::Error) -> JournalError {
        JournalError::Write {
            path: self.path.clone(),
            op: self.op,
            run: self.run.clone(),
            fqdn: self.fqdn.clone(),
            last_step: self.last_step.clone(),
            source,
        }
    }

    /// Append one record and make it durable before returning. On `Err` the run must not take
    /// its next step: return the error, whose message says how to roll back.
    pub fn append(&mut self, event: Event) -> Result<Entry, JournalError> {
        use std::io::Write;
        let entry = Entry {
            v: FORMAT,
            run: self.run.clone(),
            op: self.op,
            fqdn: self.fqdn.clone(),
            at: Utc::now(),
            event,
        };
        let written = serde_json::to_vec(&entry)
            .map_err(std::io::Error::other)
            .and_then(|mut line| {
                line.push(b'\n');
                let mut f = private_fs::open_append(&self.path, Create::No)?;
                f.write_all(&line)?;
                f.sync_data()
            });
        written.map_err(|e| self.write_error(e))?;
        if let Some(step) = entry.event.step() {
            self.last_step = Some(step.to_string());
        }
        Ok(entry)
    }

    /// The plan, before the first step.
    pub fn planned(&mut self, plan: &impl Serialize) -> Result<(), JournalError> {
        let plan =
            serde_json::to_value(plan).map_err(|e| self.write_error(std::io::Error::other(e)))?;
        self.append(Event::Planned { plan }).map(drop)
    }

    /// Before a step takes effect.
    pub fn started(&mut self, step: &str) -> Result<(), JournalError> {
        self.append(Event::StepStarted { step: step.into() })
            .map(drop)
    }

    /// After it took effect.
    pub fn done(&mut self, step: &str, detail: Value) -> Result<(), JournalError> {
        self.append(Event::StepDone {
            step: step.into(),
            detail,
        })
        .map(drop)
    }

    /// After it failed.
    pub fn failed(&mut self, step: &str, error: &str) -> Result<(), JournalError> {
        self.append(Event::StepFailed {
            step: step.into(),
            error: error.into(),
        })
        .map(drop)
    }

    /// The run's end. Not written when the run stopped because its journal failed: that run did
    /// not end, and [`unfinished`] must keep naming it.
    pub fn finish(&mut self, outcome: &str, detail: Value) -> Result<(), JournalError> {
        self.append(Event::Finished {
            outcome: outcome.into(),
            detail,
        })
        .map(drop)
    }
}

impl Event {
    /// The step a record is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Event::StepStarted { step }
            | Event::StepDone { step, .. }
            | Event::StepFailed { step, .. }
            | Event::RollbackStarted { step }
            | Event::RollbackDone { step } => Some(step),
            Event::Planned { .. } | Event::Finished { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests;
