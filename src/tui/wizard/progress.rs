//! Following one deployment: a task runs [`crate::provision::catalyst::follow`] and forwards what
//! it learns as [`ProgressMsg`]s; the reducer keeps its own [`DeploymentFold`] by applying the same
//! updates in the same order, so the screen always shows the fold of the events (contract §2).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{KeyCode, KeyEvent};
use tokio::sync::mpsc;

use crate::provision::catalyst::fold::ComponentProgress;
use crate::provision::catalyst::{
    CatalystClient, DeploymentFold, DeploymentState, Event, FollowOptions, FollowSink,
    FollowUpdate, follow_async,
};

use super::cluster::{self, ClusterView};
use super::{Effects, WizardMsg};
use crate::tui::msg::Notice;

/// What the follow task reports.
#[derive(Debug, Clone)]
pub enum ProgressMsg {
    /// A new event (already de-duplicated by the task's fold), for follow run `run`.
    Event(u64, Event),
    State(u64, Box<DeploymentState>),
    Components(u64, BTreeMap<String, ComponentProgress>, Vec<String>),
    Malformed(u64, String),
    Reconnecting(u64, String),
    Polling(u64),
    /// The follow ended: terminal status, or an error.
    Ended(u64, Result<(), String>),
    /// An action (retry, refresh-watch) answered.
    ActionDone(Result<String, String>),
    /// The new Sovereign's apiserver, listed directly.
    Cluster(Result<ClusterView, String>),
    /// catalyst-api served the kubeconfig: time to join the fleet.
    KubeconfigServed,
    /// The fleet file was (or was not) extended with the new Sovereign.
    Joined(Result<String, String>),
}

/// Runbook expectations beyond the per-step spans of the fold (§1: cloud-init 3–5 min, Phase 1
/// 10–15 min), in seconds.
pub const CLOUD_INIT_EXPECTED: (i64, i64) = (180, 300);
pub const PHASE1_EXPECTED: (i64, i64) = (600, 900);

pub struct ProgressScreen {
    pub id: String,
    pub fqdn: String,
    pub fold: DeploymentFold,
    /// Log search: the query being typed or kept, and whether it is being typed.
    pub query: String,
    pub searching: bool,
    /// Lines scrolled up from the end of the log (0 follows the tail).
    pub scroll: usize,
    pub following: bool,
    pub link: String,
    pub message: Option<Notice>,
    /// Phase 1 as the new cluster's apiserver reports it (after flux-bootstrap).
    pub cluster: Option<ClusterView>,
    pub cluster_error: Option<String>,
    cluster_started: bool,
    cluster_stop: Arc<AtomicBool>,
    run: u64,
    /// The fleet file the new Sovereign joins once its kubeconfig is served (`None`: it does not).
    pub join_fleet: Option<std::path::PathBuf>,
    /// How joining went: `Ok(text)` joined or already listed, `Err(why)` refused.
    pub fleet_join: Option<Result<String, String>>,
}

impl Drop for ProgressScreen {
    fn drop(&mut self) {
        self.cluster_stop.store(true, Ordering::Relaxed);
    }
}

/// Where the follow task's updates go: straight into the reducer's bounded channel, awaiting
/// room when it is full. Back-pressure instead of loss or growth: a slow reducer slows the follow
/// (and the server's stream behind it) down; nothing is dropped and nothing queues without bound.
struct ReducerSink {
    tx: mpsc::Sender<crate::tui::msg::Msg>,
    run: u64,
}

impl FollowSink for ReducerSink {
    async fn update(&mut self, u: &FollowUpdate, f: &DeploymentFold) -> bool {
        let run = self.run;
        let m = match u {
            FollowUpdate::Event(ev) => ProgressMsg::Event(run, ev.clone()),
            FollowUpdate::State => match &f.state {
                Some(s) => ProgressMsg::State(run, Box::new(s.clone())),
                None => return true,
            },
            FollowUpdate::Components => {
                ProgressMsg::Components(run, f.components.clone(), f.component_order.clone())
            }
            FollowUpdate::Reconnecting { attempt, reason } => {
                ProgressMsg::Reconnecting(run, format!("attempt {attempt}: {reason}"))
            }
            FollowUpdate::Polling => ProgressMsg::Polling(run),
            FollowUpdate::Malformed(d) => ProgressMsg::Malformed(run, d.clone()),
        };
        send(&self.tx, m).await
    }
}

async fn send(tx: &mpsc::Sender<crate::tui::msg::Msg>, m: ProgressMsg) -> bool {
    tx.send(crate::tui::msg::Msg::Wizard(WizardMsg::Progress(m)))
        .await
        .is_ok()
}

impl ProgressScreen {
    pub fn new(id: String, fqdn: String) -> Self {
        ProgressScreen {
            fold: DeploymentFold::new(&id),
            id,
            fqdn,
            query: String::new(),
            searching: false,
            scroll: 0,
            following: false,
            link: "not connected".into(),
            message: None,
            cluster: None,
            cluster_error: None,
            cluster_started: false,
            cluster_stop: Arc::new(AtomicBool::new(false)),
            run: 0,
            join_fleet: None,
            fleet_join: None,
        }
    }

    pub fn title(&self) -> String {
        if self.fqdn.is_empty() {
            self.id.clone()
        } else {
            format!("{} ({})", self.fqdn, self.id)
        }
    }

    /// Start (or restart, after a retry) following the deployment.
    pub fn start(&mut self, fx: &Effects, api: Option<&str>, stream_url: Option<String>) {
        let Some(api) = api.map(str::to_string) else {
            self.message = Some(Notice::error("no catalyst-api URL configured"));
            return;
        };
        self.run += 1;
        let run = self.run;
        let id = self.id.clone();
        let Some(tx) = fx.tx.clone() else { return };
        self.following = true;
        self.link = "connecting…".into();
        fx.spawn(async move {
            let client = match CatalystClient::new(&api) {
                Ok(c) => c,
                Err(e) => {
                    return Some(WizardMsg::Progress(ProgressMsg::Ended(
                        run,
                        Err(e.to_string()),
                    )));
                }
            };
            let mut fold = DeploymentFold::new(&id);
            let opts = FollowOptions {
                stream_url,
                ..FollowOptions::default()
            };
            let mut sink = ReducerSink { tx, run };
            let result = follow_async(&client, &mut fold, &opts, &mut sink).await;
            send(
                &sink.tx,
                ProgressMsg::Ended(run, result.map_err(|e| e.to_string())),
            )
            .await;
            None
        });
    }

    pub fn on_msg(&mut self, msg: ProgressMsg, fx: &Effects, api: Option<&str>) {
        let current = |r: u64, s: &Self| r == s.run;
        match msg {
            ProgressMsg::Event(r, ev) if current(r, self) => {
                self.link = "streaming".into();
                self.fold.apply(ev);
                if !self.cluster_started
                    && self.fold.markers.iter().any(|(m, _)| m == "flux-bootstrap")
                {
                    self.start_cluster_watch(fx, api);
                }
            }
            ProgressMsg::Cluster(Ok(view)) => {
                self.cluster = Some(view);
                self.cluster_error = None;
            }
            ProgressMsg::Cluster(Err(e)) => self.cluster_error = Some(e),
            ProgressMsg::KubeconfigServed => self.join(fx, api),
            ProgressMsg::Joined(res) => {
                self.message = Some(match &res {
                    Ok(text) => Notice::info(text.clone()),
                    Err(e) => Notice::error(format!("joining the fleet: {e}")),
                });
                self.fleet_join = Some(res);
            }
            ProgressMsg::State(r, st) if current(r, self) => self.fold.set_state(*st),
            ProgressMsg::Components(r, comps, order) if current(r, self) => {
                self.fold.components = comps;
                self.fold.component_order = order;
            }
            ProgressMsg::Malformed(r, d) if current(r, self) => self.fold.note_malformed(d),
            ProgressMsg::Reconnecting(r, why) if current(r, self) => {
                // The task's fold de-duplicates the replay; only new events reach this one.
                self.link = format!("reconnecting ({why})");
            }
            ProgressMsg::Polling(r) if current(r, self) => {
                self.link = "stream done, status not terminal: polling /events".into();
            }
            ProgressMsg::Ended(r, res) if current(r, self) => {
                self.following = false;
                match res {
                    Ok(()) => self.link = format!("finished: {}", self.fold.status()),
                    Err(e) => {
                        self.link = "stopped".into();
                        self.message = Some(Notice::error(format!("following stopped: {e}")));
                    }
                }
            }
            ProgressMsg::ActionDone(Ok(text)) => {
                self.message = Some(Notice::info(text));
                if !self.following {
                    self.start(fx, api, None);
                }
            }
            ProgressMsg::ActionDone(Err(e)) => self.message = Some(Notice::error(e)),
            _ => {}
        }
    }

    /// After Phase 0: fetch the kubeconfig and watch the HelmReleases on the new apiserver.
    fn start_cluster_watch(&mut self, fx: &Effects, api: Option<&str>) {
        let (Some(api), Some(tx)) = (api.map(str::to_string), fx.tx.clone()) else {
            return;
        };
        self.cluster_started = true;
        let id = self.id.clone();
        let stop = self.cluster_stop.clone();
        let served = tx.clone();
        fx.spawn(async move {
            cluster::watch(
                api,
                id,
                stop,
                // Once per run, and it must arrive: a task of its own awaits room.
                move || {
                    tokio::spawn(async move {
                        send(&served, ProgressMsg::KubeconfigServed).await;
                    });
                },
                // A view per poll, each superseding the last: when the reducer's queue is
                // full this one is dropped and the next poll brings a fresh one.
                |r| {
                    !matches!(
                        tx.try_send(crate::tui::msg::Msg::Wizard(WizardMsg::Progress(
                            ProgressMsg::Cluster(r)
                        ))),
                        Err(mpsc::error::TrySendError::Closed(_))
                    )
                },
            )
            .await;
            None
        });
    }

    /// The kubeconfig is served: add the Sovereign to the fleet file (membership only; the
    /// fleet hub fetches the kubeconfig itself), so it stays in the fleet after a restart.
    fn join(&mut self, fx: &Effects, api: Option<&str>) {
        let (Some(path), Some(api)) = (self.join_fleet.clone(), api.map(str::to_string)) else {
            return;
        };
        if self.fleet_join.is_some() || self.fqdn.is_empty() {
            return;
        }
        let entry = crate::config::fleet_file::JoinEntry {
            fqdn: self.fqdn.clone(),
            catalyst_api: api,
            deployment_id: self.id.clone(),
            tags: Vec::new(),
        };
        fx.spawn(async move {
            use crate::provision::fleet::{JoinError, join};
            let res = match join(&path, entry, false).await {
                Ok(o) => Ok(format!(
                    "{} joined the fleet ({})",
                    o.fqdn,
                    o.fleet_file.display()
                )),
                Err(JoinError::AlreadyListed(_)) => {
                    Ok(format!("already in the fleet ({})", path.display()))
                }
                Err(e) => Err(e.to_string()),
            };
            Some(WizardMsg::Progress(ProgressMsg::Joined(res)))
        });
    }

    /// The phase a retry would re-run: the failed Phase-0 step, else tofu-init.
    pub fn retry_phase(&self) -> Option<String> {
        let f = self.fold.phase0_failure()?;
        Some(f.step.unwrap_or_else(|| "tofu-init".into()))
    }

    pub fn on_key(&mut self, key: KeyEvent, fx: &Effects, api: Option<&str>) -> bool {
        if self.searching {
            match key.code {
                KeyCode::Esc => {
                    self.query.clear();
                    self.searching = false;
                }
                KeyCode::Enter => self.searching = false,
                KeyCode::Backspace => {
                    self.query.pop();
                }
                KeyCode::Char(c) => self.query.push(c),
                _ => {}
            }
            return true;
        }
        match key.code {
            KeyCode::Char('/') => {
                self.searching = true;
                true
            }
            KeyCode::Up => {
                self.scroll = (self.scroll + 1).min(self.fold.log.len());
                true
            }
            KeyCode::Down => {
                self.scroll = self.scroll.saturating_sub(1);
                true
            }
            KeyCode::PageUp => {
                self.scroll = (self.scroll + 10).min(self.fold.log.len());
                true
            }
            KeyCode::PageDown => {
                self.scroll = self.scroll.saturating_sub(10);
                true
            }
            KeyCode::Char('R') => {
                match self.retry_phase() {
                    Some(phase) => self.action(fx, api, Action::Retry(phase)),
                    None => {
                        self.message = Some(Notice::warn(
                            "retry is offered when Phase 0 has failed (Phase 1 is retried by Flux)",
                        ))
                    }
                }
                true
            }
            KeyCode::Char('w') => {
                if self.fold.needs_refresh_watch() {
                    self.action(fx, api, Action::RefreshWatch);
                } else {
                    self.message = Some(Notice::warn(
                        "refresh-watch is offered when the run is ready with no components while a kubeconfig exists",
                    ));
                }
                true
            }
            KeyCode::Char('f') if !self.following => {
                self.start(fx, api, None);
                true
            }
            _ => false,
        }
    }

    fn action(&mut self, fx: &Effects, api: Option<&str>, action: Action) {
        let Some(api) = api.map(str::to_string) else {
            return;
        };
        let id = self.id.clone();
        self.message = Some(Notice::info(match &action {
            Action::Retry(p) => format!("retrying phase {p}…"),
            Action::RefreshWatch => "asking catalyst-api to restart the Phase-1 watch…".into(),
        }));
        fx.spawn(async move {
            let res = async {
                let c = CatalystClient::new(&api).map_err(|e| e.to_string())?;
                match action {
                    Action::Retry(p) => c
                        .retry_phase(&id, &p)
                        .await
                        .map(|r| format!("{}: {}", r.status, r.message))
                        .map_err(|e| e.to_string()),
                    Action::RefreshWatch => c
                        .refresh_watch(&id)
                        .await
                        .map(|_| "Phase-1 watch restarted".to_string())
                        .map_err(|e| e.to_string()),
                }
            }
            .await;
            Some(WizardMsg::Progress(ProgressMsg::ActionDone(res)))
        });
    }
}

enum Action {
    Retry(String),
    RefreshWatch,
}
