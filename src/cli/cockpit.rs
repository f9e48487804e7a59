//! `sovtui`: the cockpit on a fleet file.

use std::path::PathBuf;

use super::{CliError, CliResult};
use crate::tui::{self, Settings, source};

pub(super) fn init_logging() -> Option<crate::logging::LogGuard> {
    match crate::logging::init() {
        Ok(guard) => Some(guard),
        Err(e) => {
            eprintln!("sovtui: running without a log file: {e:#}");
            None
        }
    }
}

pub(super) fn finish(result: anyhow::Result<tui::ExitReason>) -> CliResult {
    match result {
        Ok(tui::ExitReason::InputClosed(why)) => {
            tracing::info!(why, "terminal went away");
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(CliError::Failed(e)),
    }
}

/// The catalyst-api the cockpit talks to: `--api`, else `SOVTUI_CATALYST_API`, else the fleet
/// file's. A malformed `--api` is a usage error before the terminal is taken over.
pub fn catalyst_api_for(
    flag: Option<&str>,
    env: Option<&str>,
    file: Option<&str>,
) -> Result<Option<String>, CliError> {
    if let Some(url) = flag {
        let url = url.trim();
        return match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(url.to_string())),
            _ => Err(CliError::usage(format!(
                "--api {url:?}: not an http(s) URL"
            ))),
        };
    }
    Ok(env
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .or(file)
        .map(str::to_string))
}

pub fn run_fleet_with_api(config: Option<PathBuf>, api: Option<String>) -> CliResult {
    let path = config.unwrap_or_else(crate::config::paths::fleet_file);
    let env = std::env::var("SOVTUI_CATALYST_API").ok();
    if !path.exists() {
        // With a catalyst-api to provision through, an operator without a fleet yet starts
        // with an empty one: the first Sovereign the wizard provisions joins it.
        if catalyst_api_for(api.as_deref(), env.as_deref(), None)?.is_none() {
            return Err(CliError::usage(format!(
                "{}: no fleet file (write one, pass --config FILE or --api URL, or try `sovtui demo`)",
                path.display()
            )));
        }
        crate::config::fleet_file::create_if_absent(&path)
            .map_err(|e| CliError::usage(e.to_string()))?;
    }
    // Fail before taking over the terminal when the file is broken from the start.
    let fleet =
        crate::config::fleet_file::load(&path).map_err(|e| CliError::usage(e.to_string()))?;
    let catalyst_api = catalyst_api_for(api.as_deref(), env.as_deref(), fleet.catalyst_api(None))?;
    let _log = init_logging();
    let banner = format!("fleet {}", path.display());
    finish(tui::run(Settings::from_env(banner), move |tx| async move {
        if let Some(url) = catalyst_api
            && tx.catalyst_api(url).await.is_err()
        {
            return;
        }
        source::live_fleet_source(tx, path).await
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_flag_beats_the_environment_which_beats_the_fleet_file() {
        let pick = |f, e, file| catalyst_api_for(f, e, file).expect("valid");
        assert_eq!(
            pick(
                Some("http://flag:1"),
                Some("http://env:2"),
                Some("http://file:3")
            )
            .as_deref(),
            Some("http://flag:1")
        );
        assert_eq!(
            pick(None, Some("http://env:2"), Some("http://file:3")).as_deref(),
            Some("http://env:2")
        );
        assert_eq!(
            pick(None, Some("  "), Some("http://file:3")).as_deref(),
            Some("http://file:3")
        );
        assert_eq!(pick(None, None, None), None);
        match catalyst_api_for(Some("console.openova.io"), None, None) {
            Err(CliError::Usage(m)) => assert!(m.starts_with("--api"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
