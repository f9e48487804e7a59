//! The one rule for which Hetzner token a destructive path uses — recover, Phase-0 plan/apply,
//! drills, CLI and cockpit alike — and the short fingerprint every plan shows instead of it.
//!
//! Most specific first, so the token is the one configured *for this Sovereign*:
//! 1. the Sovereign's `hetzner = { … }` entry in the fleet file (`--config`, default
//!    `$XDG_CONFIG_HOME/sovtui/fleet.toml`);
//! 2. the deployment request's `hetznerToken` (`phase0 --from REQUEST` only);
//! 3. `HCLOUD_TOKEN`;
//! 4. the hcloud CLI's config (`HCLOUD_CONFIG` or `~/.config/hcloud/cli.toml`, context
//!    `HCLOUD_CONTEXT` or the active one).
//!
//! A source that is configured but fails (an unreadable fleet file, an unset `token_env`, a
//! failing `token_cmd`) is an error, never a fall-through to a token of some other project. The
//! API root is `HCLOUD_ENDPOINT` when set, else the hcloud CLI context's endpoint when the token
//! came from there, else Hetzner's.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::client::{Credentials, DEFAULT_ENDPOINT};
use super::inventory::Inventory;
use crate::config::fleet_file::{self, HetznerTokenSource};

/// Where the token came from (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum TokenSource {
    /// Handed in by the caller (the demo's simulated world, tests).
    Explicit,
    /// The Sovereign's entry in the fleet file; `via` says how the entry names it.
    FleetFile {
        path: String,
        via: String,
    },
    /// `hetznerToken` of the deployment request.
    Request,
    EnvHcloudToken,
    HcloudCliConfig {
        path: String,
        context: String,
    },
}

impl TokenSource {
    /// One line for a plan.
    pub fn describe(&self) -> String {
        match self {
            TokenSource::Explicit => "handed in by the caller".into(),
            TokenSource::FleetFile { path, via } => format!("fleet file {path} ({via})"),
            TokenSource::Request => "the deployment request's hetznerToken".into(),
            TokenSource::EnvHcloudToken => "HCLOUD_TOKEN".into(),
            TokenSource::HcloudCliConfig { path, context } => {
                format!("hcloud CLI config {path}, context {context}")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "no Hetzner token for {fqdn}: give its fleet-file entry a `hetzner = {{ token_env = … }}`, \
         set HCLOUD_TOKEN, or configure an active context in the hcloud CLI config ({cli_config})"
    )]
    Missing { fqdn: String, cli_config: String },
    #[error("fleet file {path}: {message}")]
    FleetFile { path: String, message: String },
    #[error("hcloud CLI config {path}: {message}")]
    BadConfig { path: String, message: String },
}

/// The token for `fqdn` by the rule above. `fleet_file` is the fleet file to consult (a missing
/// file is skipped); `request_token` the deployment request's. Blocking (a `token_cmd` may run):
/// call it from `spawn_blocking` in async code.
pub fn resolve(
    fqdn: &str,
    fleet_file: Option<&Path>,
    request_token: Option<&str>,
) -> Result<Credentials, CredentialError> {
    let env_endpoint = std::env::var("HCLOUD_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty());
    let endpoint = || {
        env_endpoint
            .clone()
            .unwrap_or_else(|| DEFAULT_ENDPOINT.into())
    };
    if let Some(path) = fleet_file.filter(|p| p.exists()) {
        let shown = path.display().to_string();
        let fleet = fleet_file::load(path).map_err(|e| CredentialError::FleetFile {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if let Some(source) = fleet
            .sovereigns
            .iter()
            .find(|s| s.fqdn == fqdn)
            .and_then(|s| s.hetzner.clone())
        {
            let token = source.resolve().map_err(|e| CredentialError::FleetFile {
                path: shown.clone(),
                message: format!("the Hetzner token of {fqdn}: {e}"),
            })?;
            let via = match &source {
                HetznerTokenSource::TokenEnv(var) => format!("token_env {var}"),
                HetznerTokenSource::HcloudContext(ctx) => format!("hcloud_context {ctx}"),
                // The command may carry arguments an operator would rather not see echoed.
                HetznerTokenSource::TokenCmd(_) => "token_cmd".into(),
            };
            return Ok(Credentials::from_source(
                token.expose(),
                endpoint(),
                TokenSource::FleetFile { path: shown, via },
            ));
        }
    }
    if let Some(token) = request_token.map(str::trim).filter(|t| !t.is_empty()) {
        return Ok(Credentials::from_source(
            token,
            endpoint(),
            TokenSource::Request,
        ));
    }
    if let Ok(token) = std::env::var("HCLOUD_TOKEN")
        && !token.trim().is_empty()
    {
        return Ok(Credentials::from_source(
            token.trim(),
            endpoint(),
            TokenSource::EnvHcloudToken,
        ));
    }
    let path = hcloud_cli_config_path();
    let shown = path.as_ref().map_or_else(
        || "no home directory".to_string(),
        |p| p.display().to_string(),
    );
    let Some(path) = path.filter(|p| p.exists()) else {
        return Err(CredentialError::Missing {
            fqdn: fqdn.to_string(),
            cli_config: shown,
        });
    };
    let wanted = std::env::var("HCLOUD_CONTEXT").ok();
    let (context, token, ctx_endpoint) =
        read_cli_config(&path, wanted.as_deref()).map_err(|message| {
            CredentialError::BadConfig {
                path: shown.clone(),
                message,
            }
        })?;
    Ok(Credentials::from_source(
        token,
        env_endpoint
            .or(ctx_endpoint)
            .unwrap_or_else(|| DEFAULT_ENDPOINT.into()),
        TokenSource::HcloudCliConfig {
            path: shown,
            context,
        },
    ))
}

fn hcloud_cli_config_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("HCLOUD_CONFIG")
        && !p.is_empty()
    {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/hcloud/cli.toml"))
}

/// The hcloud CLI's `cli.toml`: `active_context` plus `[[contexts]]` with `name` and `token`.
fn read_cli_config(
    path: &Path,
    wanted: Option<&str>,
) -> Result<(String, String, Option<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let doc: toml::Value = toml::from_str(&text).map_err(|e| e.to_string())?;
    let name = match wanted {
        Some(w) => w.to_string(),
        None => doc
            .get("active_context")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or("no active_context (select one with `hcloud context use`)")?
            .to_string(),
    };
    let contexts = doc
        .get("contexts")
        .and_then(|v| v.as_array())
        .ok_or("no [[contexts]] table")?;
    let ctx = contexts
        .iter()
        .find(|c| c.get("name").and_then(|n| n.as_str()) == Some(name.as_str()))
        .ok_or_else(|| format!("context {name:?} not found"))?;
    let token = ctx
        .get("token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("context {name:?} has no token"))?;
    let endpoint = ctx
        .get("endpoint")
        .and_then(|e| e.as_str())
        .map(str::to_string);
    Ok((name, token.to_string(), endpoint))
}

/// What every destructive plan shows about the project it is about to act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSummary {
    pub token_source: TokenSource,
    /// [`Credentials::fingerprint`].
    pub token_fingerprint: String,
    pub endpoint: String,
    /// Servers in the project as listed for the plan (this Sovereign's and everyone else's).
    pub servers: usize,
}

impl ProjectSummary {
    pub fn new(creds: &Credentials, inv: &Inventory) -> Self {
        ProjectSummary {
            token_source: creds.source.clone(),
            token_fingerprint: creds.fingerprint(),
            endpoint: creds.endpoint.clone(),
            servers: inv.servers.len(),
        }
    }

    /// One line for a plan.
    pub fn line(&self) -> String {
        format!(
            "Hetzner project: token {} from {}, {} server(s) in the project, API {}",
            self.token_fingerprint,
            self.token_source.describe(),
            self.servers,
            self.endpoint
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_config_active_context() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("cli.toml");
        std::fs::write(
            &p,
            "active_context = \"b\"\n[[contexts]]\nname = \"a\"\ntoken = \"ta\"\n\
             [[contexts]]\nname = \"b\"\ntoken = \"tb\"\n",
        )
        .expect("write");
        let (ctx, token, _) = read_cli_config(&p, None).expect("read");
        assert_eq!((ctx.as_str(), token.as_str()), ("b", "tb"));
        let (_, token, _) = read_cli_config(&p, Some("a")).expect("read");
        assert_eq!(token, "ta");
        assert!(read_cli_config(&p, Some("zz")).is_err());
    }
}
