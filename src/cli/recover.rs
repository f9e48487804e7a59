use std::path::PathBuf;

use super::{CliError, CliResult, RecoverArgs};

pub fn run(_config: Option<PathBuf>, _args: RecoverArgs) -> CliResult {
    Err(CliError::not_available("recover"))
}
