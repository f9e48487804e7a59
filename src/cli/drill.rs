use std::path::PathBuf;

use super::{CliError, CliResult, DrillCommand};

pub fn run(_config: Option<PathBuf>, _cmd: DrillCommand) -> CliResult {
    Err(CliError::not_available("failover drills"))
}
