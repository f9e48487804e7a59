//! The deployment as a fold of its events (contract §2): what the progress view and
//! `deploy watch` show. Reconnects replay the whole buffer with no ids, so the fold de-duplicates by
//! counting: per connection it counts how often each event key has been seen and treats an event
//! as new only when that count exceeds what earlier connections delivered. Legitimate repeats (the
//! same tofu line twice in one second) survive; events evicted from the server buffer simply never
//! come back.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{ComponentsState, DeploymentState, Event, PHASE0_MARKERS};

/// Default capacity of the tofu log ring.
pub const DEFAULT_LOG_CAPACITY: usize = 5_000;

type EventKey = (String, String, String, String, String);

fn key(ev: &Event) -> EventKey {
    (
        ev.time.clone(),
        ev.phase.clone(),
        ev.component.clone().unwrap_or_default(),
        ev.state.clone().unwrap_or_default(),
        ev.message.clone(),
    )
}

/// A bounded, searchable log of raw tofu lines (and other non-component lines).
#[derive(Debug, Clone, Serialize)]
pub struct LogRing {
    lines: VecDeque<Event>,
    capacity: usize,
    /// Lines pushed out at the front because the ring was full.
    pub evicted: u64,
}

impl LogRing {
    pub fn new(capacity: usize) -> Self {
        LogRing {
            lines: VecDeque::new(),
            capacity: capacity.max(1),
            evicted: 0,
        }
    }

    pub fn push(&mut self, ev: Event) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
            self.evicted += 1;
        }
        self.lines.push_back(ev);
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        self.lines.iter()
    }

    /// Indices of lines containing `needle` (case-insensitive).
    pub fn search(&self, needle: &str) -> Vec<usize> {
        let needle = needle.to_lowercase();
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.message.to_lowercase().contains(&needle))
            .map(|(i, _)| i)
            .collect()
    }
}

/// One component as the stream (or `/components/state`) last described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentProgress {
    pub id: String,
    pub state: String,
    pub message: String,
    pub since: String,
}

/// One Phase-0 step with its measured duration against the runbook's expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseSpan {
    pub phase: String,
    pub started_at: String,
    pub duration_secs: Option<i64>,
    /// Runbook range (§1): plan 30–60 s, apply 60–120 s.
    pub expected_secs: Option<(i64, i64)>,
    pub overrun: bool,
}

/// The Phase-0 failure as read from the state (contract §2.4: no error event carries it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase0Failure {
    /// The step named by the error prefix (`tofu apply: …` → `tofu-apply`), if recognisable.
    pub step: Option<String>,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeploymentFold {
    pub id: String,
    /// Latest State from a `done` frame, `/events` or GET.
    pub state: Option<DeploymentState>,
    /// Phase-0 markers in arrival order with their times.
    pub markers: Vec<(String, String)>,
    pub log: LogRing,
    pub components: BTreeMap<String, ComponentProgress>,
    /// Component ids in the order they were first seen.
    pub component_order: Vec<String>,
    /// helm-controller lines per component (`component-log`), the newest few per component.
    pub component_logs: BTreeMap<String, VecDeque<Event>>,
    /// Watch-level diagnostics (component-less warn/error `component` events), newest last.
    pub banners: Vec<Event>,
    /// The "0 HelmReleases in 15m0s" first-seen warning arrived.
    pub first_seen_warning: bool,
    /// Events applied (after de-dup).
    pub applied: u64,
    /// Replayed duplicates dropped.
    pub duplicates: u64,
    /// Frames or lines that could not be decoded, with what was wrong.
    pub malformed: Vec<String>,
    #[serde(skip)]
    seen: HashMap<EventKey, u32>,
    #[serde(skip)]
    seen_this_connection: HashMap<EventKey, u32>,
}

impl DeploymentFold {
    pub fn new(id: impl Into<String>) -> Self {
        Self::with_log_capacity(id, DEFAULT_LOG_CAPACITY)
    }

    pub fn with_log_capacity(id: impl Into<String>, capacity: usize) -> Self {
        DeploymentFold {
            id: id.into(),
            state: None,
            markers: Vec::new(),
            log: LogRing::new(capacity),
            components: BTreeMap::new(),
            component_order: Vec::new(),
            component_logs: BTreeMap::new(),
            banners: Vec::new(),
            first_seen_warning: false,
            applied: 0,
            duplicates: 0,
            malformed: Vec::new(),
            seen: HashMap::new(),
            seen_this_connection: HashMap::new(),
        }
    }

    /// A new connection (SSE reconnect or `/events` poll) is about to replay the buffer.
    pub fn begin_replay(&mut self) {
        self.seen_this_connection.clear();
    }

    /// Apply one event; returns false when it is a replayed duplicate.
    pub fn apply(&mut self, ev: Event) -> bool {
        let k = key(&ev);
        let here = self.seen_this_connection.entry(k.clone()).or_insert(0);
        *here += 1;
        let before = self.seen.entry(k).or_insert(0);
        if *here <= *before {
            self.duplicates += 1;
            return false;
        }
        *before = *here;
        self.applied += 1;
        self.fold_in(ev);
        true
    }

    fn fold_in(&mut self, ev: Event) {
        if PHASE0_MARKERS.contains(&ev.phase.as_str()) {
            if !self.markers.iter().any(|(p, _)| p == &ev.phase) {
                self.markers.push((ev.phase.clone(), ev.time.clone()));
            }
            self.log.push(ev);
            return;
        }
        if ev.is_component_transition() {
            let id = ev.component.clone().unwrap_or_default();
            if !self.components.contains_key(&id) {
                self.component_order.push(id.clone());
            }
            self.components.insert(
                id.clone(),
                ComponentProgress {
                    id,
                    state: ev.state.clone().unwrap_or_default(),
                    message: ev.message.clone(),
                    since: ev.time.clone(),
                },
            );
            return;
        }
        if ev.is_watch_diagnostic() {
            if ev.message.contains("HelmReleases in") {
                self.first_seen_warning = true;
            }
            self.banners.push(ev);
            return;
        }
        if ev.phase == "component-log" {
            const KEEP: usize = 200;
            let id = ev.component.clone().unwrap_or_default();
            let lines = self.component_logs.entry(id).or_default();
            if lines.len() == KEEP {
                lines.pop_front();
            }
            lines.push_back(ev);
            return;
        }
        self.log.push(ev);
    }

    /// Adopt a State (from `done`, `/events` or GET).
    pub fn set_state(&mut self, state: DeploymentState) {
        if let Some(cs) = state.component_states() {
            for (id, st) in cs {
                if !self.components.contains_key(id) {
                    self.component_order.push(id.clone());
                    self.components.insert(
                        id.clone(),
                        ComponentProgress {
                            id: id.clone(),
                            state: st.clone(),
                            message: String::new(),
                            since: String::new(),
                        },
                    );
                }
            }
        }
        self.state = Some(state);
    }

    /// Adopt a `/components/state` snapshot: the informer's view wins over older stream events.
    pub fn set_components(&mut self, snap: &ComponentsState) {
        for c in &snap.components {
            let entry = self.components.entry(c.app_id.clone());
            if let std::collections::btree_map::Entry::Vacant(_) = entry {
                self.component_order.push(c.app_id.clone());
            }
            self.components.insert(
                c.app_id.clone(),
                ComponentProgress {
                    id: c.app_id.clone(),
                    state: c.status.clone(),
                    message: c.message.clone(),
                    since: c.last_transition_at.clone(),
                },
            );
        }
    }

    pub fn note_malformed(&mut self, detail: impl Into<String>) {
        const KEEP: usize = 50;
        if self.malformed.len() == KEEP {
            self.malformed.remove(0);
        }
        self.malformed.push(detail.into());
    }

    pub fn status(&self) -> &str {
        self.state
            .as_ref()
            .map(|s| s.status.as_str())
            .unwrap_or("provisioning")
    }

    /// Terminal only for ready/failed/wiped/adopted/cancelled (contract §2.6).
    pub fn is_terminal(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.is_terminal())
    }

    /// Phase 0 failed: read from the state, since no error event carries it.
    pub fn phase0_failure(&self) -> Option<Phase0Failure> {
        let st = self.state.as_ref()?;
        if st.status != "failed" || self.markers.iter().any(|(p, _)| p == "flux-bootstrap") {
            return None;
        }
        let error = st
            .error
            .clone()
            .unwrap_or_else(|| "failed without an error message".into());
        let step = error
            .split_once(':')
            .map(|(s, _)| s.trim().replace(' ', "-"))
            .filter(|s| PHASE0_MARKERS.contains(&s.as_str()));
        Some(Phase0Failure { step, error })
    }

    /// `ready` with zero components while a kubeconfig exists: offer `refresh-watch`.
    pub fn needs_refresh_watch(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.needs_refresh_watch()) && self.components.is_empty()
    }

    /// Phase-0 steps with durations, then Phase 1 (from `flux-bootstrap` to `phase1FinishedAt`),
    /// each flagged when it overran the runbook's expectation (plan 30–60 s, apply 60–120 s,
    /// Phase 1 10–15 min). A failed step ends at the state's `finishedAt`.
    pub fn phase0_timeline(&self) -> Vec<PhaseSpan> {
        let parse = |t: &str| {
            DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|d| d.with_timezone(&Utc))
        };
        let state = self.state.as_ref();
        let finished = state.and_then(|s| s.finished_at.clone());
        let phase1_end = state.and_then(|s| {
            s.phase1_finished_at
                .clone()
                .or_else(|| s.result.as_ref()?.phase1_finished_at.clone())
        });
        let mut spans = Vec::new();
        let mut push = |phase: &str, started: &str, end: Option<String>| {
            let duration_secs = match (parse(started), end.as_deref().and_then(parse)) {
                (Some(a), Some(b)) => Some((b - a).num_seconds()),
                _ => None,
            };
            let expected_secs = match phase {
                "tofu-plan" => Some((30, 60)),
                "tofu-apply" => Some((60, 120)),
                "phase-1" => Some((600, 900)),
                _ => None,
            };
            let overrun =
                matches!((duration_secs, expected_secs), (Some(d), Some((_, hi))) if d > hi);
            spans.push(PhaseSpan {
                phase: phase.to_string(),
                started_at: started.to_string(),
                duration_secs,
                expected_secs,
                overrun,
            });
        };
        for (i, (phase, started)) in self.markers.iter().enumerate() {
            let end = match self.markers.get(i + 1) {
                Some((_, t)) => Some(t.clone()),
                None if phase == "flux-bootstrap" => None,
                None if self.is_terminal() => finished.clone(),
                None => None,
            };
            if phase == "flux-bootstrap" {
                push(phase, started, Some(started.clone()));
                push("phase-1", started, phase1_end.clone());
            } else {
                push(phase, started, end);
            }
        }
        spans
    }

    /// cloud-init posted the kubeconfig back: `GET /kubeconfig` will answer, and the new
    /// Sovereign can join the fleet and be watched from its own apiserver.
    pub fn kubeconfig_available(&self) -> bool {
        self.state
            .as_ref()
            .and_then(|s| s.result.as_ref())
            .and_then(|r| r.kubeconfig_path.as_deref())
            .is_some_and(|p| !p.is_empty())
    }

    /// Where the stream and the cluster's own HelmReleases disagree: `(id, stream, live)` for
    /// every component whose states differ or that only one side knows (`"-"` for missing).
    pub fn disagreements<'a>(
        &self,
        live: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<(String, String, String)> {
        let live: BTreeMap<&str, &str> = live.into_iter().collect();
        let mut out = Vec::new();
        for (id, c) in &self.components {
            match live.get(id.as_str()) {
                Some(l) if *l == c.state => {}
                Some(l) => out.push((id.clone(), c.state.clone(), l.to_string())),
                None => out.push((id.clone(), c.state.clone(), "-".into())),
            }
        }
        for (id, l) in &live {
            if !self.components.contains_key(*id) {
                out.push((id.to_string(), "-".into(), l.to_string()));
            }
        }
        out
    }

    /// Count of components per state.
    pub fn component_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for c in self.components.values() {
            *m.entry(c.state.clone()).or_insert(0) += 1;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(time: &str, phase: &str, msg: &str) -> Event {
        Event {
            time: time.into(),
            phase: phase.into(),
            level: "info".into(),
            message: msg.into(),
            component: None,
            state: None,
        }
    }

    fn comp(time: &str, id: &str, state: &str) -> Event {
        Event {
            component: Some(id.into()),
            state: Some(state.into()),
            ..ev(time, "component", &format!("{id} {state}"))
        }
    }

    fn history() -> Vec<Event> {
        vec![
            ev("2026-01-01T00:00:00Z", "tofu-init", "init"),
            ev("2026-01-01T00:00:01Z", "tofu", "same line"),
            ev("2026-01-01T00:00:01Z", "tofu", "same line"),
            ev("2026-01-01T00:00:10Z", "tofu-plan", "plan"),
            ev("2026-01-01T00:01:50Z", "tofu-apply", "apply"),
            ev("2026-01-01T00:05:00Z", "tofu-output", "out"),
            ev("2026-01-01T00:05:01Z", "flux-bootstrap", "fb"),
            comp("2026-01-01T00:06:00Z", "cilium", "installing"),
            comp("2026-01-01T00:07:00Z", "cilium", "installed"),
        ]
    }

    #[test]
    fn full_replay_after_reconnect_is_deduplicated_but_real_repeats_survive() {
        let h = history();
        let mut f = DeploymentFold::new("x");
        f.begin_replay();
        for e in &h[..5] {
            f.apply(e.clone());
        }
        // reconnect: the server replays everything from the start, then continues
        f.begin_replay();
        let fresh: Vec<bool> = h.iter().map(|e| f.apply(e.clone())).collect();
        assert_eq!(
            fresh,
            [false, false, false, false, false, true, true, true, true]
        );
        assert_eq!(f.applied, 9);
        assert_eq!(f.duplicates, 5);
        assert_eq!(f.log.search("same line").len(), 2);
        assert_eq!(f.components["cilium"].state, "installed");

        // equal to a fold that never reconnected
        let mut g = DeploymentFold::new("x");
        for e in &h {
            g.apply(e.clone());
        }
        assert_eq!(g.markers, f.markers);
        assert_eq!(g.components, f.components);
    }

    #[test]
    fn server_buffer_eviction_does_not_confuse_the_fold() {
        let h = history();
        let mut f = DeploymentFold::new("x");
        for e in &h[..7] {
            f.apply(e.clone());
        }
        // the server evicted its 4 oldest events before we reconnected
        f.begin_replay();
        let fresh: Vec<bool> = h[4..].iter().map(|e| f.apply(e.clone())).collect();
        assert_eq!(fresh, [false, false, false, true, true]);
        assert_eq!(f.markers.len(), 5);
    }

    #[test]
    fn disagreements_with_the_live_cluster() {
        let mut f = DeploymentFold::new("x");
        f.apply(comp("t", "cilium", "installed"));
        f.apply(comp("t", "flux", "installing"));
        let d = f.disagreements([
            ("cilium", "installed"),
            ("flux", "failed"),
            ("gitea", "pending"),
        ]);
        assert_eq!(
            d,
            vec![
                ("flux".into(), "installing".into(), "failed".into()),
                ("gitea".into(), "-".into(), "pending".into()),
            ]
        );
    }

    #[test]
    fn log_ring_is_bounded() {
        let mut f = DeploymentFold::with_log_capacity("x", 3);
        for i in 0..10 {
            f.apply(ev("2026-01-01T00:00:00Z", "tofu", &format!("line {i}")));
        }
        assert_eq!(f.log.len(), 3);
        assert_eq!(f.log.evicted, 7);
        assert_eq!(
            f.log.iter().next().map(|e| e.message.as_str()),
            Some("line 7")
        );
    }

    #[test]
    fn phase_timeline_flags_overruns() {
        let mut f = DeploymentFold::new("x");
        for e in history() {
            f.apply(e);
        }
        let t = f.phase0_timeline();
        let plan = t.iter().find(|s| s.phase == "tofu-plan").unwrap();
        assert_eq!(plan.duration_secs, Some(100));
        assert!(plan.overrun);
        let apply = t.iter().find(|s| s.phase == "tofu-apply").unwrap();
        assert_eq!(apply.duration_secs, Some(190));
        assert!(apply.overrun);
        let p1 = t.iter().find(|s| s.phase == "phase-1").unwrap();
        assert_eq!(p1.duration_secs, None, "still running");
        f.set_state(DeploymentState {
            id: "x".into(),
            status: "ready".into(),
            phase1_finished_at: Some("2026-01-01T00:17:01Z".into()),
            ..Default::default()
        });
        let p1 = f
            .phase0_timeline()
            .into_iter()
            .find(|s| s.phase == "phase-1")
            .unwrap();
        assert_eq!(p1.duration_secs, Some(720));
        assert!(!p1.overrun);
    }

    #[test]
    fn first_seen_warning_and_phase0_failure_and_terminal() {
        let mut f = DeploymentFold::new("x");
        f.apply(Event {
            level: "warn".into(),
            ..ev("t", "component", "Phase 1 watch saw 0 HelmReleases in 15m0s; the bootstrap-kit Kustomization may not be reconciling.")
        });
        assert!(f.first_seen_warning);
        assert_eq!(f.banners.len(), 1);
        f.apply(ev("t", "tofu-init", "init"));
        f.set_state(DeploymentState {
            id: "x".into(),
            status: "phase1-watching".into(),
            ..Default::default()
        });
        assert!(!f.is_terminal());
        f.set_state(DeploymentState {
            id: "x".into(),
            status: "failed".into(),
            error: Some("tofu apply: tofu apply -input=false -no-color -auto-approve tfplan failed: exit status 1".into()),
            ..Default::default()
        });
        assert!(f.is_terminal());
        let failure = f.phase0_failure().unwrap();
        assert_eq!(failure.step.as_deref(), Some("tofu-apply"));
    }
}
