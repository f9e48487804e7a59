use super::{CliError, CliResult, DeployCommand};

pub fn run(_cmd: DeployCommand) -> CliResult {
    Err(CliError::not_available("deploy create/watch/list"))
}
