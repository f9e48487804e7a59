//! The drill pane's tasks: the plan, and the run (start, resume or rollback) with its watchers —
//! the journal tail (the timeline), the probe's counters, and the observation of the Continuum
//! and the Hetzner objects. Each reports to the reducer as a [`DrillMsg`]; the drill logic is the
//! library's.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::{DrillMsg, Finished, Planned, RunMode};
use crate::provision::drill::observe;
use crate::provision::drill::plan::{self, DrillPlan, PlanOptions};
use crate::provision::drill::run::{self, RunOptions};
use crate::provision::drill::target::DrillTarget;
use crate::provision::fleet::FleetHandle;
use crate::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
use crate::provision::journal::{self, RunState};
use crate::tui::msg::Msg;

/// How the pane reaches a Sovereign: its apiserver through the live fleet hub when there is one
/// (else the fleet file's kubeconfig), its Hetzner project through the credentials the cockpit was
/// handed (else the fleet file's token source, else the environment).
#[derive(Clone, Default)]
pub struct Conn {
    pub live: Option<FleetHandle>,
    pub fleet_file: Option<PathBuf>,
    pub hetzner: Option<Credentials>,
}

impl Conn {
    pub async fn target(&self, fqdn: &str, opts: ClientOptions) -> Result<DrillTarget, String> {
        let kube = match &self.live {
            Some(live) => live
                .client(fqdn)
                .await
                .map_err(|e| format!("{fqdn}: {e:#}"))?,
            None => {
                let path = self
                    .fleet_file
                    .clone()
                    .ok_or_else(|| format!("{fqdn}: no fleet file to reach its apiserver"))?;
                let fleet = crate::config::fleet_file::load(&path).map_err(|e| e.to_string())?;
                let entry = fleet
                    .sovereigns
                    .iter()
                    .find(|s| s.fqdn == fqdn)
                    .cloned()
                    .ok_or_else(|| format!("{fqdn} is not in {}", path.display()))?;
                crate::provision::fleet::cluster::build_client(&entry, None)
                    .await
                    .map_err(|e| format!("{fqdn}: {e}"))?
            }
        };
        let (f, given, file) = (
            fqdn.to_string(),
            self.hetzner.clone(),
            self.fleet_file.clone(),
        );
        let creds = tokio::task::spawn_blocking(move || {
            crate::tui::recover::resolve_credentials(&f, given, file)
        })
        .await
        .map_err(|e| format!("token lookup: {e}"))??;
        let hetzner = HetznerClient::new(creds, opts).map_err(|e| e.to_string())?;
        Ok(DrillTarget {
            fqdn: fqdn.to_string(),
            kube,
            hetzner,
        })
    }
}

async fn send(tx: &mpsc::Sender<Msg>, msg: DrillMsg) -> bool {
    tx.send(Msg::Drill(msg)).await.is_ok()
}

/// Build the plan and find out which data plane the drill would use.
pub async fn plan(
    tx: mpsc::Sender<Msg>,
    conn: Conn,
    fqdn: String,
    options: PlanOptions,
    client_options: ClientOptions,
) {
    let result = async {
        let t = conn.target(&fqdn, client_options).await?;
        let p = plan::plan(&t.kube, &t.hetzner, &fqdn, options)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let data_plane = crate::provision::drill::dataplane::of_cluster(
            &t.kube,
            &p.namespace,
            &p.primary_cluster,
        )
        .await
        .map_err(|e| format!("{e:#}"))?;
        Ok(Box::new(Planned {
            plan: p,
            data_plane: data_plane.into(),
        }))
    }
    .await;
    send(&tx, DrillMsg::Planned { fqdn, result }).await;
}

pub struct RunJob {
    pub tx: mpsc::Sender<Msg>,
    pub conn: Conn,
    pub plan: DrillPlan,
    pub state_dir: PathBuf,
    pub id: String,
    pub mode: RunMode,
    pub abort: watch::Receiver<bool>,
    pub client_options: ClientOptions,
    pub warmup_rows: u64,
    pub world_speed: Option<f64>,
}

/// Run (or resume, or roll back) the drill; abort stops the run where it is and rolls back.
pub async fn run(job: RunJob) {
    let RunJob {
        tx,
        conn,
        plan,
        state_dir,
        id,
        mode,
        mut abort,
        client_options,
        warmup_rows,
        world_speed,
    } = job;
    let t = match conn.target(&plan.target, client_options).await {
        Ok(t) => t,
        Err(e) => {
            send(&tx, DrillMsg::Finished { id, result: Err(e) }).await;
            return;
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let watchers = [
        tokio::spawn(tail_journal(
            tx.clone(),
            state_dir.clone(),
            id.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(observe_loop(
            tx.clone(),
            t.clone(),
            plan.clone(),
            id.clone(),
            stop_rx.clone(),
        )),
    ];
    // Probe snapshots: one slot (`watch`), the newest replaces one not yet forwarded.
    let (ptx, prx) = watch::channel(Default::default());
    let forward = tokio::spawn(forward_probe(tx.clone(), id.clone(), prx, stop_rx));
    let opts = RunOptions {
        warmup_rows,
        progress: Some(ptx),
        world_speed,
        ..RunOptions::default()
    };
    let result = match mode {
        RunMode::Rollback => run::rollback(&t, &state_dir, &id).await,
        RunMode::Start | RunMode::Resume => {
            let running = async {
                match mode {
                    RunMode::Resume => run::resume(&t, &state_dir, &id, opts).await,
                    _ => run::run_with_id(&t, &state_dir, plan.clone(), opts, &id).await,
                }
            };
            let finished = tokio::select! {
                r = running => Some(r),
                _ = async { let _ = abort.wait_for(|a| *a).await; } => None,
            };
            match finished {
                Some(r) => r,
                None => {
                    // The run future is dropped where it stands (its journal is written before
                    // and after every step); the rollback undoes what took effect.
                    tracing::warn!(drill = %id, "aborting: rolling back");
                    run::rollback_as(&t, &state_dir, &id, "aborted").await
                }
            }
        }
    };
    let _ = stop_tx.send(true);
    for w in watchers {
        let _ = w.await;
    }
    let _ = forward.await;
    let result = match result {
        Ok(o) => match run::report(&state_dir, &id) {
            Ok(report) => {
                let (report_path, report_error) = match run::write_report(&state_dir, &id) {
                    Ok(p) => (Some(p), None),
                    Err(e) => (None, Some(format!("{e:#}"))),
                };
                Ok(Finished {
                    outcome: o.outcome,
                    error: o.error,
                    report: Box::new(report),
                    report_path,
                    report_error,
                })
            }
            Err(e) => Err(format!("reading the drill's journal: {e:#}")),
        },
        Err(e) => Err(format!("{e:#}")),
    };
    send(&tx, DrillMsg::Finished { id, result }).await;
}

/// Re-read the journal whenever it grows and report the folded state and the timeline.
async fn tail_journal(
    tx: mpsc::Sender<Msg>,
    state_dir: PathBuf,
    id: String,
    mut stop: watch::Receiver<bool>,
) {
    let path = run::journal_path(&state_dir, &id);
    let mut seen = usize::MAX;
    loop {
        if let Ok(replay) = journal::read(&path)
            && replay.entries.len() != seen
        {
            seen = replay.entries.len();
            let state = RunState::fold(&replay.entries);
            if let Ok(report) = run::report(&state_dir, &id)
                && !send(
                    &tx,
                    DrillMsg::Journal {
                        id: id.clone(),
                        state: Box::new(state),
                        report: Box::new(report),
                    },
                )
                .await
            {
                return;
            }
        }
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(150)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Read the Continuum, the pair and the Hetzner objects twice a second.
async fn observe_loop(
    tx: mpsc::Sender<Msg>,
    t: DrillTarget,
    plan: DrillPlan,
    id: String,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let observation = observe::observe(&t, &plan).await;
        if !send(
            &tx,
            DrillMsg::Observed {
                id: id.clone(),
                observation: Box::new(observation),
            },
        )
        .await
            || *stop.borrow()
        {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The probe publishes on every acknowledgement; the screen needs at most ten a second.
async fn forward_probe(
    tx: mpsc::Sender<Msg>,
    id: String,
    mut rx: watch::Receiver<crate::provision::drill::probe::ProbeStats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut latest = None;
    loop {
        tokio::select! {
            changed = rx.changed() => match changed {
                Ok(()) => latest = Some(rx.borrow_and_update().clone()),
                Err(_) => break,
            },
            _ = tick.tick() => {
                if let Some(stats) = latest.take()
                    && !send(&tx, DrillMsg::Probe { id: id.clone(), stats }).await
                {
                    return;
                }
            }
            _ = stop.changed() => break,
        }
    }
    if let Some(stats) = latest {
        send(&tx, DrillMsg::Probe { id, stats }).await;
    }
}
