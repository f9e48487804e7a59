//! `sovtui demo`: the cockpit on the embedded simulated world, reached through the same fleet-file
//! path an operator's fleet is.

use std::path::PathBuf;

use super::cockpit::{finish, init_logging};
use super::{CliError, CliResult, DemoArgs};
use crate::sim::dataplane::{DataPlaneKind, SharedDataPlane};
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
    let data_plane = DataPlaneKind::choose(args.data_plane.as_deref())
        .map_err(|e| CliError::usage(format!("{e:#}")))?;
    let _log = init_logging();
    let state_dir = crate::config::paths::state_dir().join(format!("demo-{}", std::process::id()));
    let banner = format!(
        "demo · SIMULATED world '{}' at {}× · data plane {} · state {}",
        scenario.name,
        args.speed,
        data_plane.as_str(),
        state_dir.display()
    );
    let dir = state_dir.clone();
    let speed = args.speed;
    let result = tui::run(Settings::from_env(banner), move |tx| {
        demo_source(tx, scenario, speed, data_plane, dir)
    });
    // The demo's files describe a world that no longer exists.
    let _ = std::fs::remove_dir_all(&state_dir);
    finish(result)
}

/// Give every Sovereign of `world` that has a CNPG pair a data plane of `kind` (synchronous,
/// `remote_apply`, as the scenario's Clusters declare), its files under `state_dir`.
pub async fn attach_data_planes(
    world: &World,
    kind: DataPlaneKind,
    state_dir: &std::path::Path,
) -> anyhow::Result<Vec<SharedDataPlane>> {
    let mut planes = Vec::new();
    for fqdn in world.cnpg_sovereigns() {
        let base = crate::sim::dataplane::files_dir(kind, &state_dir.join("dataplane").join(&fqdn));
        let plane = world
            .attach_data_plane(&fqdn, kind, &base, crate::sim::pgpair::Replication::Sync)
            .await?;
        tracing::info!(sovereign = %fqdn, data_plane = kind.as_str(), dir = %base.display(), "data plane up");
        planes.push(plane);
    }
    Ok(planes)
}

/// Start the world, then watch it like any fleet: through the fleet file it wrote.
async fn demo_source(
    tx: FleetSender,
    scenario: WorldScenario,
    speed: f64,
    data_plane: DataPlaneKind,
    dir: PathBuf,
) {
    // The Sovereigns the scenario provisions wait for the operator's first key.
    let world = match World::start_deferred(scenario, speed, Some(dir.clone())).await {
        Ok(world) => world,
        Err(e) => {
            let _ = tx
                .error(format!("starting the simulated world: {e:#}"))
                .await;
            return;
        }
    };
    tracing::info!(endpoints = ?world.endpoints(), "simulated world up");
    // Dropped with the world: the pairs' servers stop when the demo ends (and a watchdog stops
    // real PostgreSQL servers if the demo dies without unwinding).
    let _planes = match attach_data_planes(&world, data_plane, &dir).await {
        Ok(planes) => planes,
        Err(e) => {
            let _ = tx
                .error(format!(
                    "starting the {} data plane: {e:#}",
                    data_plane.as_str()
                ))
                .await;
            Vec::new()
        }
    };
    if tx
        .catalyst_api(world.endpoints().catalyst_api)
        .await
        .is_err()
    {
        return;
    }
    let endpoints = world.endpoints();
    let world_for_wizard = crate::tui::msg::DemoWorld {
        hetzner_token: endpoints.hetzner_token.clone(),
        hetzner_project: crate::sim::hetzner::PROJECT_ID.to_string(),
        state_dir: dir.clone(),
    };
    let creds = crate::provision::hetzner::client::Credentials::new(
        endpoints.hetzner_token,
        endpoints.hetzner,
    );
    if tx.hetzner(creds).await.is_err() {
        return;
    }
    // Drills on the simulated world journal next to it, not among the operator's real runs, and
    // report their timings in world time as well as wall time.
    // The presenter's pause key stops and restarts the world's clock.
    let clock = world.clock.clone();
    let demo_clock = crate::tui::msg::DemoClock {
        set_paused: std::sync::Arc::new(move |paused| {
            clock.set_paused(paused);
        }),
    };
    for msg in [
        crate::tui::Msg::DrillStateDir(dir.clone()),
        crate::tui::Msg::WorldSpeed(speed),
        crate::tui::Msg::DemoWorld(world_for_wizard),
        crate::tui::Msg::DemoClock(demo_clock),
    ] {
        if tx.message(msg).await.is_err() {
            return;
        }
    }
    let pending = world.provisioning_sovereigns();
    let go = std::sync::Arc::new(tokio::sync::Notify::new());
    if !pending.is_empty() {
        let gate = crate::tui::msg::DemoGate {
            go: go.clone(),
            sovereigns: pending.clone(),
        };
        if tx.message(crate::tui::Msg::DemoGate(gate)).await.is_err() {
            return;
        }
    }
    let errors = tx.clone();
    let begin = async {
        if !pending.is_empty() {
            go.notified().await;
            tracing::info!(sovereigns = ?pending, "first key: provisioning starts");
            if let Err(e) = world.begin_provisioning().await {
                let _ = errors
                    .error(format!("starting the provisioning: {e:#}"))
                    .await;
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = source::live_fleet_source(tx, dir.join("fleet.toml")) => {}
        _ = begin => {}
    }
    drop(world);
}
