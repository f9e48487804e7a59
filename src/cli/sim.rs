use super::{CliError, CliResult, SimArgs};

pub fn run(_args: SimArgs) -> CliResult {
    Err(CliError::not_available("the simulated world"))
}
