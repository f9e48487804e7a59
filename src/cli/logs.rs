use super::{CliError, CliResult};

pub fn run(_follow: bool) -> CliResult {
    Err(CliError::not_available("sovtui logs"))
}
