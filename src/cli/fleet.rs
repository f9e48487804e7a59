use std::path::PathBuf;

use super::{CliError, CliResult, FleetCommand};

pub fn run(_config: Option<PathBuf>, _cmd: FleetCommand) -> CliResult {
    Err(CliError::not_available("fleet status and watch"))
}
