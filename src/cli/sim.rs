use anyhow::Context;

use super::{CliError, CliResult, SimArgs};
use crate::sim::scenario::WorldScenario;
use crate::sim::world::World;

/// `sovtui sim`: the simulated world in the foreground until SIGINT/SIGTERM. Every service binds
/// a free loopback port; `--listen` places the control API.
pub fn run(args: SimArgs) -> CliResult {
    let scenario = WorldScenario::load(&args.scenario).map_err(CliError::Usage)?;
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(CliError::usage(format!(
            "--speed {}: must be a positive number",
            args.speed
        )));
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let world = World::start_with(
            scenario,
            args.speed,
            Some(args.state_dir.clone()),
            &args.listen,
        )
        .await?;
        let line = serde_json::to_string(&world.endpoints())?;
        println!("{line}");
        wait_for_termination().await?;
        drop(world);
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}

async fn wait_for_termination() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
    Ok(())
}
