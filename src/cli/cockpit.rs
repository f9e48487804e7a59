//! `sovtui` (the cockpit on a fleet file) and `sovtui demo` (the cockpit on fixture data).

use std::path::PathBuf;

use super::{CliError, CliResult, DemoArgs};
use crate::tui::{self, Settings, source};

pub fn run_fleet(_config: Option<PathBuf>) -> CliResult {
    Err(CliError::not_available("the cockpit on a fleet file"))
}

pub fn run_demo(args: DemoArgs) -> CliResult {
    // Until the simulated world lands, the demo has exactly one data set: the fixture.
    if args.scenario != "demo" {
        return Err(CliError::not_available(&format!(
            "scenario {:?} (the simulated world is not built; `sovtui demo` shows fixture data)",
            args.scenario
        )));
    }
    let _log = match crate::logging::init() {
        Ok(guard) => Some(guard),
        Err(e) => {
            eprintln!("sovtui: running without a log file: {e:#}");
            None
        }
    };
    let banner = format!(
        "demo · FIXTURE DATA from {} (not live)",
        source::DEMO_FIXTURE_PATH
    );
    let settings = Settings::from_env(banner);
    match tui::run(settings, source::demo_fixture_source) {
        Ok(tui::ExitReason::InputClosed(why)) => {
            tracing::info!(why, "terminal went away");
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(CliError::Failed(e)),
    }
}
