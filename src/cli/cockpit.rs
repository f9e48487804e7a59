use std::path::PathBuf;

use super::{CliError, CliResult, DemoArgs};

pub fn run_fleet(_config: Option<PathBuf>) -> CliResult {
    Err(CliError::not_available("the cockpit on a fleet file"))
}

pub fn run_demo(_args: DemoArgs) -> CliResult {
    Err(CliError::not_available("the demo cockpit"))
}
