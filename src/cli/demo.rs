//! `sovtui demo`: the cockpit on the embedded simulated world, reached through the same fleet-file
//! path an operator's fleet is.

use std::path::PathBuf;

use super::cockpit::{finish, init_logging};
use super::{CliError, CliResult, DemoArgs};
use crate::sim::scenario::WorldScenario;
use crate::sim::world::World;
use crate::tui::{self, FleetSender, Settings, source};

pub fn run_demo(args: DemoArgs) -> CliResult {
    let scenario = WorldScenario::load(&args.scenario).map_err(CliError::Usage)?;
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(CliError::usage(format!(
            "--speed {}: must be a positive number",
            args.speed
        )));
    }
    let _log = init_logging();
    let state_dir = crate::config::paths::state_dir().join(format!("demo-{}", std::process::id()));
    let banner = format!(
        "demo · SIMULATED world '{}' at {}× · state {}",
        scenario.name,
        args.speed,
        state_dir.display()
    );
    let dir = state_dir.clone();
    let result = tui::run(Settings::from_env(banner), move |tx| {
        demo_source(tx, scenario, args.speed, dir)
    });
    // The demo's files describe a world that no longer exists.
    let _ = std::fs::remove_dir_all(&state_dir);
    finish(result)
}

/// Start the world, then watch it like any fleet: through the fleet file it wrote.
async fn demo_source(tx: FleetSender, scenario: WorldScenario, speed: f64, dir: PathBuf) {
    let world = match World::start(scenario, speed, Some(dir.clone())).await {
        Ok(world) => world,
        Err(e) => {
            let _ = tx
                .error(format!("starting the simulated world: {e:#}"))
                .await;
            return;
        }
    };
    tracing::info!(endpoints = ?world.endpoints(), "simulated world up");
    if tx
        .catalyst_api(world.endpoints().catalyst_api)
        .await
        .is_err()
    {
        return;
    }
    let endpoints = world.endpoints();
    let creds = crate::provision::hetzner::client::Credentials::new(
        endpoints.hetzner_token,
        endpoints.hetzner,
    );
    if tx.hetzner(creds).await.is_err() {
        return;
    }
    // Drills on the simulated world journal next to it, not among the operator's real runs.
    if tx
        .message(crate::tui::Msg::DrillStateDir(dir.clone()))
        .await
        .is_err()
    {
        return;
    }
    source::live_fleet_source(tx, dir.join("fleet.toml")).await;
    drop(world);
}
