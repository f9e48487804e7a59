use anyhow::Context;

use super::{CliError, CliResult, SimArgs};
use crate::sim::scenario::WorldScenario;
use crate::sim::world::World;

/// The largest generated fleet: each Sovereign's apiserver has its own loopback port and file
/// descriptors (docs/PERFORMANCE.md has the memory it takes).
const MAX_SOVEREIGNS: usize = 10_000;

/// `sovtui sim`: the simulated world in the foreground until SIGINT/SIGTERM. Every service binds
/// a free loopback port; `--listen` places the control API. The Sovereigns with a CNPG pair get
/// a data plane (`--data-plane`), its files under the state dir; the endpoints line names it.
pub fn run(args: SimArgs) -> CliResult {
    let scenario = match args.sovereigns {
        Some(n) if n == 0 || n > MAX_SOVEREIGNS => {
            return Err(CliError::usage(format!(
                "--sovereigns {n}: between 1 and {MAX_SOVEREIGNS} (each apiserver takes a loopback port)"
            )));
        }
        Some(n) => crate::sim::large_fleet::scenario(n),
        None => WorldScenario::load(&args.scenario).map_err(CliError::Usage)?,
    };
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(CliError::usage(format!(
            "--speed {}: must be a positive number",
            args.speed
        )));
    }
    let data_plane = crate::sim::dataplane::DataPlaneKind::choose(args.data_plane.as_deref())
        .map_err(|e| CliError::usage(format!("{e:#}")))?;
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
        let planes = super::demo::attach_data_planes(&world, data_plane, &args.state_dir).await?;
        let mut line = serde_json::to_value(world.endpoints())?;
        line["data_plane"] = serde_json::json!(data_plane.as_str());
        println!("{}", serde_json::to_string(&line)?);
        terminated.await?;
        drop(planes);
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
