use super::{CliError, CliResult, Phase0Command};

pub fn run(_cmd: Phase0Command) -> CliResult {
    Err(CliError::not_available("phase0 plan/apply"))
}
