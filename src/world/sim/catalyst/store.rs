//! Deployment records of the simulated catalyst-api: state, the durable event buffer (FIFO,
//! capped) and a change signal the SSE handlers tail.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::provision::wire::{
    ComponentSnapshot, DeploymentRequest, DeploymentResult, DeploymentState, Event,
};

/// Where a pool reservation lives, to commit or release it later.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub pool: String,
    pub subdomain: String,
    pub token: String,
}

#[derive(Debug)]
pub struct Deployment {
    pub id: String,
    pub request: DeploymentRequest,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    pub result: Option<DeploymentResult>,
    pub events: VecDeque<(u64, Event)>,
    pub next_seq: u64,
    /// The stream is closed: SSE clients get `done` right after the replay.
    pub done: bool,
    pub bearer_sha256: Vec<u8>,
    pub kubeconfig: Option<String>,
    pub reservation: Option<Reservation>,
    /// What "tofu state" holds: resource address → Hetzner id (survives for phase retries).
    pub tofu_state: BTreeMap<String, i64>,
    pub cp_ip: Option<String>,
    pub lb_ip: Option<String>,
    /// The Phase-1 once-flag of [M].
    pub phase1_claimed: bool,
    pub watcher_live: bool,
    pub watcher_generation: u64,
    pub components: BTreeMap<String, ComponentSnapshot>,
    /// Why cloud-init never posted a kubeconfig, when it failed.
    pub cloud_init_error: Option<String>,
    pub cloud_init_started: bool,
    pub last_wipe_report: Option<serde_json::Value>,
    /// Background work of this deployment (provisioning, cloud-init, watchers, wipe).
    pub tasks: Vec<tokio::task::AbortHandle>,
    pub changed: watch::Sender<u64>,
}

impl Deployment {
    pub fn state(&self) -> DeploymentState {
        let component_states = self
            .result
            .as_ref()
            .and_then(|r| r.component_states.clone());
        DeploymentState {
            id: self.id.clone(),
            status: self.status.clone(),
            started_at: Some(self.started_at.clone()),
            finished_at: self.finished_at.clone(),
            sovereign_fqdn: self.request.sovereign_fqdn.clone(),
            region: self.request.region.clone(),
            num_events: self.events.len() as u64,
            error: self.error.clone(),
            phase1_finished_at: self
                .result
                .as_ref()
                .and_then(|r| r.phase1_finished_at.clone()),
            result: self.result.clone(),
            component_states,
            last_wipe_report: self.last_wipe_report.clone(),
        }
    }

    pub fn in_flight(&self) -> bool {
        matches!(
            self.status.as_str(),
            "pending"
                | "provisioning"
                | "tofu-applying"
                | "flux-bootstrapping"
                | "phase1-watching"
                | "wiping"
        )
    }

    pub fn notify(&self) {
        self.changed.send_replace(self.next_seq);
    }
}

/// All deployments; one lock, held only for short synchronous sections.
#[derive(Debug, Clone, Default)]
pub struct Store {
    inner: Arc<Mutex<HashMap<String, Deployment>>>,
    pub buffer_cap: usize,
}

impl Store {
    pub fn new(buffer_cap: usize) -> Self {
        Store {
            inner: Arc::default(),
            buffer_cap: buffer_cap.max(1),
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Deployment>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on one deployment; None when it does not exist.
    pub fn with<R>(&self, id: &str, f: impl FnOnce(&mut Deployment) -> R) -> Option<R> {
        let mut map = self.lock();
        map.get_mut(id).map(f)
    }

    /// Append an event to the durable buffer (evicting the oldest past the cap) and wake tailers.
    pub fn push_event(&self, id: &str, ev: Event) {
        let cap = self.buffer_cap;
        self.with(id, |d| {
            let seq = d.next_seq;
            d.next_seq += 1;
            d.events.push_back((seq, ev));
            while d.events.len() > cap {
                d.events.pop_front();
            }
            d.notify();
        });
    }
}
