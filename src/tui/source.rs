//! Fleet data sources. The cockpit gets fleet data only as messages from a source task, so a real
//! fleet, the simulated world's fleet (the demo) and a test's fixture are interchangeable: each
//! source holds a [`FleetSender`] and reports what it knows.

use tokio::sync::mpsc;

use crate::provision::fleet::model::SovereignStatus;

use super::app::{FleetMsg, Msg};

/// A three-Sovereign fleet (all installed; installing and pending; one failed HelmRelease) that
/// the cockpit's snapshot tests and the terminal-bytes bench draw. The demo itself runs the
/// simulated world (`cli::cockpit`).
pub const DEMO_FIXTURE: &str = include_str!("../../fixtures/demo-fleet.json");
pub const DEMO_FIXTURE_PATH: &str = "fixtures/demo-fleet.json";

/// The sending half a data source gets. Bounded: a source that outruns the screen waits.
#[derive(Debug, Clone)]
pub struct FleetSender {
    tx: mpsc::Sender<Msg>,
}

/// The reducer has gone away (the cockpit is shutting down); the source should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cockpit has closed")]
pub struct CockpitClosed;

impl FleetSender {
    pub fn new(tx: mpsc::Sender<Msg>) -> Self {
        FleetSender { tx }
    }

    async fn send(&self, msg: FleetMsg) -> Result<(), CockpitClosed> {
        self.tx
            .send(Msg::Fleet(msg))
            .await
            .map_err(|_| CockpitClosed)
    }

    pub async fn snapshot(&self, fleet: Vec<SovereignStatus>) -> Result<(), CockpitClosed> {
        self.send(FleetMsg::Snapshot(fleet)).await
    }

    pub async fn update(&self, sovereign: SovereignStatus) -> Result<(), CockpitClosed> {
        self.send(FleetMsg::Update(sovereign)).await
    }

    pub async fn removed(&self, fqdn: impl Into<String>) -> Result<(), CockpitClosed> {
        self.send(FleetMsg::Removed(fqdn.into())).await
    }

    pub async fn error(&self, message: impl Into<String>) -> Result<(), CockpitClosed> {
        self.send(FleetMsg::SourceError(message.into())).await
    }

    /// The Hetzner API (endpoint and token) the recovery pane uses.
    pub async fn hetzner(
        &self,
        creds: crate::provision::hetzner::client::Credentials,
    ) -> Result<(), CockpitClosed> {
        self.tx
            .send(Msg::HetznerEndpoint(creds))
            .await
            .map_err(|_| CockpitClosed)
    }

    /// Where the wizard and progress views reach catalyst-api.
    pub async fn catalyst_api(&self, url: impl Into<String>) -> Result<(), CockpitClosed> {
        self.tx
            .send(Msg::CatalystApi(url.into()))
            .await
            .map_err(|_| CockpitClosed)
    }

    /// Any message for the reducer (effects report back through this).
    pub async fn message(&self, msg: Msg) -> Result<(), CockpitClosed> {
        self.tx.send(msg).await.map_err(|_| CockpitClosed)
    }

    pub async fn event(
        &self,
        event: crate::provision::fleet::FleetEvent,
    ) -> Result<(), CockpitClosed> {
        self.send(FleetMsg::Event(Box::new(event))).await
    }
}

/// The live source: the fleet hub watching `fleet_file` (and its kubeconfigs), every change
/// forwarded to the cockpit until either side goes away.
pub async fn live_fleet_source(tx: FleetSender, fleet_file: std::path::PathBuf) {
    use crate::provision::fleet::{Fleet, FleetOptions};
    let (handle, mut events) = match Fleet::start(&fleet_file, FleetOptions::default()) {
        Ok(started) => started,
        Err(e) => {
            let _ = tx.error(format!("fleet file: {e}")).await;
            return;
        }
    };
    let live = super::views::LiveFleet {
        handle,
        tx: tx.clone(),
    };
    if tx.send(FleetMsg::Connected(live)).await.is_err() {
        return;
    }
    // A once-a-second tick keeps "stale for N s" counting while a cluster sends nothing.
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let sent = tokio::select! {
            event = events.recv() => match event {
                Some(event) => tx.event(event).await,
                None => break,
            },
            _ = tick.tick() => tx.send(FleetMsg::Tick).await,
        };
        if sent.is_err() {
            break;
        }
    }
}

/// Parse fleet JSON (a list of `SovereignStatus`), naming the line of the first problem.
pub fn parse_fleet(label: &str, text: &str) -> Result<Vec<SovereignStatus>, String> {
    serde_json::from_str(text).map_err(|e| format!("{label}:{}: {e}", e.line()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::flux::ComponentState;

    #[test]
    fn the_demo_fixture_has_the_three_promised_sovereigns() {
        let fleet = parse_fleet(DEMO_FIXTURE_PATH, DEMO_FIXTURE).expect("fixture parses");
        assert_eq!(fleet.len(), 3);
        assert!(fleet[0].worst().is_none() && fleet[0].components.len() == 35);
        assert!(fleet[1].counts().contains_key(&ComponentState::Installing));
        assert!(fleet[1].counts().contains_key(&ComponentState::Pending));
        assert_eq!(
            fleet[2].worst().map(|c| (c.name.as_str(), c.state)),
            Some(("bp-harbor", ComponentState::Failed))
        );
        let err = parse_fleet("x.json", "[\n{\"fqdn\": 3}]").expect_err("bad");
        assert!(err.starts_with("x.json:2:"), "{err}");
    }
}
