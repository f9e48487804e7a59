//! The failover-drill pane (runbook §6.1) for one multi-region Sovereign: the plan
//! (preconditions with their evidence, exact objects to touch, kill mode and promotion path),
//! arming (`:arm` + the FQDN typed back), then the live run — step timeline with timers, write
//! probe, Continuum phase, the Hetzner objects' states — with abort (rollback in reverse order)
//! at any moment, and the final report with the path of its Markdown file.
//!
//! The drill itself is `provision::drill::run`, driven by tasks in [`task`]; this module only
//! holds what they reported.

pub mod draw;
pub mod task;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use tokio::sync::{mpsc, watch};

use crate::provision::drill::observe::Observation;
use crate::provision::drill::plan::{DrillPlan, PlanOptions};
use crate::provision::drill::probe::ProbeStats;
use crate::provision::drill::report::Report;
use crate::provision::drill::steps::{Promotion, ServerKill};
use crate::provision::journal::RunState;

use super::arming::{Gate, PaneKey};
use super::msg::Msg;

pub use task::Conn;

/// Replies of the drill tasks, tagged with the Sovereign (plan) or run id they are about.
#[derive(Debug, Clone)]
pub enum DrillMsg {
    Planned {
        fqdn: String,
        result: Result<Box<Planned>, String>,
    },
    /// The run's journal changed (re-read and folded).
    Journal {
        id: String,
        state: Box<RunState>,
        report: Box<Report>,
    },
    Probe {
        id: String,
        stats: ProbeStats,
    },
    Observed {
        id: String,
        observation: Box<Observation>,
    },
    Finished {
        id: String,
        result: Result<Finished, String>,
    },
}

#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: DrillPlan,
    /// `postgres` when the primary publishes a DSN, else `simulated` (the demo): shown as such.
    pub data_plane: String,
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub outcome: String,
    pub error: Option<String>,
    pub report: Box<Report>,
    /// The Markdown report written under the state dir (None if it could not be written).
    pub report_path: Option<PathBuf>,
    pub report_error: Option<String>,
}

/// What Enter does once armed and confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Start,
    Resume,
    Rollback,
}

impl RunMode {
    pub fn label(self) -> &'static str {
        match self {
            RunMode::Start => "start the drill",
            RunMode::Resume => "resume the drill",
            RunMode::Rollback => "roll the drill back",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Planning,
    PlanFailed(String),
    Planned,
    /// An unfinished drill from an earlier session, offered for resume or rollback.
    Unfinished,
    Running,
    /// Abort requested: the run was stopped; its completed steps are being undone.
    Aborting,
    Done,
    Failed(String),
}

pub struct DrillScreen {
    pub fqdn: String,
    pub phase: Phase,
    pub options: PlanOptions,
    pub plan: Option<DrillPlan>,
    pub data_plane: Option<String>,
    /// The FQDN typed back, and why the last Enter did not start the drill.
    pub gate: Gate,
    pub mode: RunMode,
    /// The run shown (started here, or offered from the journal).
    pub run_id: Option<String>,
    pub journal: Option<RunState>,
    pub report: Option<Report>,
    pub probe: Option<ProbeStats>,
    pub observation: Option<Observation>,
    pub finished: Option<Finished>,
    /// Where journals and reports go.
    pub state_dir: PathBuf,
    /// Hetzner client tuning (tests poll actions faster).
    pub client_options: crate::provision::hetzner::client::ClientOptions,
    /// RunOptions tuning (tests use a short warm-up).
    pub warmup_rows: u64,
    /// The simulated world's speed (the demo): timings are shown in world time too.
    pub world_speed: Option<f64>,
    /// The demo's world is paused: its clock drives the Hetzner actions a run waits on, so no
    /// run starts until it resumes.
    pub world_paused: bool,
    /// Snapshot tests pin the clock the timers are drawn against.
    pub frozen_now: Option<DateTime<Utc>>,
    pub scroll: usize,
    abort: Option<watch::Sender<bool>>,
}

impl DrillScreen {
    pub fn new(fqdn: &str, state_dir: PathBuf) -> Self {
        DrillScreen {
            fqdn: fqdn.to_string(),
            phase: Phase::Planning,
            options: PlanOptions::default(),
            plan: None,
            data_plane: None,
            gate: Gate::new(fqdn, "the drill"),
            mode: RunMode::Start,
            run_id: None,
            journal: None,
            report: None,
            probe: None,
            observation: None,
            finished: None,
            state_dir,
            client_options: Default::default(),
            warmup_rows: crate::provision::drill::run::RunOptions::default().warmup_rows,
            world_speed: None,
            world_paused: false,
            frozen_now: None,
            scroll: 0,
            abort: None,
        }
    }

    /// A screen offering an unfinished run of an earlier session.
    pub fn unfinished(id: &str, state: RunState, state_dir: PathBuf) -> Self {
        let fqdn = state.target.clone().unwrap_or_default();
        let mut s = DrillScreen::new(&fqdn, state_dir);
        s.plan = state
            .plan
            .clone()
            .and_then(|p| serde_json::from_value(p).ok());
        if let Some(p) = &s.plan {
            s.options = p.options;
        }
        s.data_plane = state
            .plan
            .as_ref()
            .and_then(|p| p.get("data_plane"))
            .and_then(|v| v.as_str())
            .map(String::from);
        s.run_id = Some(id.to_string());
        s.report = crate::provision::drill::run::report(&s.state_dir, id).ok();
        s.journal = Some(state);
        s.phase = Phase::Unfinished;
        s.mode = RunMode::Resume;
        s
    }

    pub fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Aborting)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.frozen_now.unwrap_or_else(Utc::now)
    }

    /// Fetch the plan in a task (without a sender or runtime — snapshot tests — it just waits).
    pub fn start_plan(&mut self, tx: Option<&mpsc::Sender<Msg>>, conn: &Conn) -> bool {
        self.phase = Phase::Planning;
        self.plan = None;
        let (Some(tx), Ok(handle)) = (tx.cloned(), tokio::runtime::Handle::try_current()) else {
            return false;
        };
        handle.spawn(task::plan(
            tx,
            conn.clone(),
            self.fqdn.clone(),
            self.options,
            self.client_options.clone(),
        ));
        true
    }

    /// Why Enter cannot start (or resume, or roll back) now; `None` when it can.
    pub fn blocked_reason(&self, armed: bool) -> Option<String> {
        match &self.phase {
            Phase::Planned => {
                if let Some(p) = &self.plan
                    && !p.ready()
                {
                    let failed: Vec<&str> = p
                        .failed_preconditions()
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect();
                    return Some(format!(
                        "refused: precondition(s) failed: {}",
                        failed.join(", ")
                    ));
                }
            }
            Phase::Unfinished => {}
            Phase::Planning => return Some("the plan is still being fetched".into()),
            Phase::PlanFailed(_) => return Some("no plan".into()),
            Phase::Running | Phase::Aborting => return Some("the drill is running".into()),
            Phase::Done | Phase::Failed(_) => return Some("the drill has ended".into()),
        }
        if self.world_paused {
            return Some(
                "the simulated world is paused: resume it first (its clock runs the Hetzner actions the drill waits on)"
                    .into(),
            );
        }
        crate::tui::arming::not_confirmed(armed, &self.gate.typed(), &self.fqdn)
    }

    /// Keys the pane takes: the confirm field, Enter to run, F2/F3 to change the plan's kill
    /// mode and promotion path (or, for an unfinished run, resume vs roll back), `a` to abort a
    /// running drill, arrows to scroll. Everything else goes to the shell.
    pub fn on_key(
        &mut self,
        key: KeyEvent,
        armed: bool,
        tx: Option<&mpsc::Sender<Msg>>,
        conn: &Conn,
    ) -> bool {
        let editable = matches!(self.phase, Phase::Planned | Phase::Unfinished);
        let code = match self.gate.key(key, editable) {
            PaneKey::Shell => return false,
            PaneKey::Taken => return true,
            PaneKey::Pane(code) => code,
        };
        match code {
            KeyCode::Char('a') if self.phase == Phase::Running => self.abort(),
            KeyCode::F(2) if self.phase == Phase::Unfinished => {
                self.mode = match self.mode {
                    RunMode::Resume => RunMode::Rollback,
                    _ => RunMode::Resume,
                };
            }
            KeyCode::F(2) if matches!(self.phase, Phase::Planned | Phase::PlanFailed(_)) => {
                self.options.server_kill = match self.options.server_kill {
                    ServerKill::PowerOff => ServerKill::Terminate,
                    ServerKill::Terminate => ServerKill::PowerOff,
                };
                self.start_plan(tx, conn);
            }
            KeyCode::F(3) if matches!(self.phase, Phase::Planned | Phase::PlanFailed(_)) => {
                self.options.promotion = match self.options.promotion {
                    Promotion::ContinuumSwitchover => Promotion::HelmReleaseValue,
                    Promotion::HelmReleaseValue => Promotion::ContinuumSwitchover,
                };
                self.start_plan(tx, conn);
            }
            KeyCode::Up => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::Down => self.scroll += 1,
            KeyCode::Enter => {
                if self.gate.enter(self.blocked_reason(armed)) {
                    self.start_run(tx, conn);
                }
            }
            _ => return false,
        }
        true
    }

    fn start_run(&mut self, tx: Option<&mpsc::Sender<Msg>>, conn: &Conn) {
        let (Some(tx), Ok(handle)) = (tx.cloned(), tokio::runtime::Handle::try_current()) else {
            self.gate.refused = Some("no task runtime to run the drill in".into());
            return;
        };
        let Some(plan) = self.plan.clone() else {
            self.gate.refused = Some("no plan".into());
            return;
        };
        let mode = if self.phase == Phase::Unfinished {
            self.mode
        } else {
            RunMode::Start
        };
        let id = self
            .run_id
            .clone()
            .filter(|_| mode != RunMode::Start)
            .unwrap_or_else(crate::provision::drill::run::new_id);
        tracing::warn!(fqdn = %self.fqdn, drill = %id, ?mode, "drill confirmed");
        let (abort_tx, abort_rx) = watch::channel(false);
        self.abort = Some(abort_tx);
        self.run_id = Some(id.clone());
        self.mode = mode;
        self.finished = None;
        self.phase = if mode == RunMode::Rollback {
            Phase::Aborting
        } else {
            Phase::Running
        };
        handle.spawn(task::run(task::RunJob {
            tx,
            conn: conn.clone(),
            plan,
            state_dir: self.state_dir.clone(),
            id,
            mode,
            abort: abort_rx,
            client_options: self.client_options.clone(),
            warmup_rows: self.warmup_rows,
            world_speed: self.world_speed,
        }));
    }

    /// Stop the run now and roll back what it completed, newest first.
    pub fn abort(&mut self) {
        if self.phase != Phase::Running {
            return;
        }
        if let Some(a) = &self.abort {
            let _ = a.send(true);
        }
        tracing::warn!(fqdn = %self.fqdn, "drill abort requested");
        self.phase = Phase::Aborting;
    }

    /// Apply a task's reply (replies about another Sovereign or run are ignored).
    pub fn on_msg(&mut self, msg: DrillMsg) {
        let ours = |id: &str| self.run_id.as_deref() == Some(id);
        match msg {
            DrillMsg::Planned { fqdn, result } if fqdn == self.fqdn => {
                if matches!(self.phase, Phase::Planning) {
                    match result {
                        // A plan for options switched away from since (F2/F3) is stale.
                        Ok(p) if p.plan.options != self.options => {}
                        Ok(p) => {
                            self.data_plane = Some(p.data_plane);
                            self.plan = Some(p.plan);
                            self.phase = Phase::Planned;
                        }
                        Err(e) => self.phase = Phase::PlanFailed(e),
                    }
                }
            }
            DrillMsg::Journal { id, state, report } if ours(&id) => {
                self.journal = Some(*state);
                self.report = Some(*report);
            }
            DrillMsg::Probe { id, stats } if ours(&id) => self.probe = Some(stats),
            DrillMsg::Observed { id, observation } if ours(&id) => {
                self.observation = Some(*observation)
            }
            DrillMsg::Finished { id, result } if ours(&id) => {
                self.abort = None;
                match result {
                    Ok(f) => {
                        self.report = Some((*f.report).clone());
                        self.phase = Phase::Done;
                        self.finished = Some(f);
                    }
                    Err(e) => self.phase = Phase::Failed(e),
                }
            }
            _ => {}
        }
    }
}

/// The unfinished drills of a journal listing, newest first, as screens offering resume or
/// rollback (`state_dir`: where their reports go).
pub fn unfinished_drills(
    listing: &crate::provision::journal::Listing,
    state_dir: &std::path::Path,
) -> Vec<DrillScreen> {
    listing
        .of(crate::provision::journal::Op::Drill)
        .map(|r| DrillScreen::unfinished(&r.id, r.state.clone(), state_dir.to_path_buf()))
        .collect()
}
