use std::path::{Path, PathBuf};

use super::{CliError, CliResult, DiagnoseArgs};

pub fn run_diagnose(_config: Option<PathBuf>, _args: DiagnoseArgs) -> CliResult {
    Err(CliError::not_available("diagnose"))
}

pub fn run_lint(_file: &Path) -> CliResult {
    Err(CliError::not_available("troubleshoot lint"))
}
