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
        // Handlers first: a supervisor may signal as soon as it has read the endpoints line.
        let terminated = termination()?;
        let world = World::start_with(
            scenario,
            args.speed,
            Some(args.state_dir.clone()),
            &args.listen,
        )
        .await?;
        let line = serde_json::to_string(&world.endpoints())?;
        println!("{line}");
        terminated.await?;
        drop(world);
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}

/// Resolves on SIGINT, SIGTERM or SIGHUP; the handlers are installed when this is called.
fn termination() -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        Ok(())
    })
}
