//! A newly provisioned Sovereign joins the operator's fleet: a `[[sovereign]]` entry naming its
//! catalyst-api and deployment (`kubeconfig_from = "catalyst"`) is appended to the fleet file, so
//! the membership survives restarts while the kubeconfig itself is only ever held in memory (the
//! hub fetches it at start and again on 401). The cockpit's progress view and
//! `sovtui fleet join` both call [`join`].

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::fleet_file::{self, AppendError, FleetFileError, JoinEntry};

/// What joining did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinOutcome {
    pub fleet_file: PathBuf,
    pub fqdn: String,
    pub deployment_id: String,
    /// Sovereigns in the fleet file afterwards.
    pub sovereigns: usize,
}

/// Why a Sovereign did not join.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JoinError {
    /// The FQDN is already in the fleet file (the error names its line); nothing was written.
    #[error("{0}")]
    AlreadyListed(FleetFileError),
    /// The fleet file is broken, the entry is invalid, or the file cannot be written.
    #[error("{0}")]
    File(FleetFileError),
    /// catalyst-api does not serve this deployment's kubeconfig (yet); nothing was written.
    #[error("{0}")]
    Catalyst(String),
}

/// Append `entry` to `fleet_file` (created when absent). With `verify`, first fetch the
/// kubeconfig from catalyst-api and check it parses, so a typo in the URL or the deployment id
/// is refused instead of becoming a Sovereign that never connects.
pub async fn join(
    fleet_file: &Path,
    entry: JoinEntry,
    verify: bool,
) -> Result<JoinOutcome, JoinError> {
    if verify {
        verify_kubeconfig(&entry).await?;
    }
    let path = fleet_file.to_path_buf();
    let for_write = entry.clone();
    let written =
        tokio::task::spawn_blocking(move || fleet_file::append_sovereign(&path, &for_write))
            .await
            .map_err(|e| JoinError::Catalyst(format!("joining: {e}")))?;
    match written {
        Ok(fleet) => {
            tracing::info!(fqdn = %entry.fqdn, file = %fleet_file.display(), "Sovereign joined the fleet");
            Ok(JoinOutcome {
                fleet_file: fleet_file.to_path_buf(),
                fqdn: entry.fqdn,
                deployment_id: entry.deployment_id,
                sovereigns: fleet.sovereigns.len(),
            })
        }
        Err(AppendError::AlreadyListed(e)) => Err(JoinError::AlreadyListed(e)),
        Err(AppendError::Invalid(e)) => Err(JoinError::File(e)),
    }
}

async fn verify_kubeconfig(entry: &JoinEntry) -> Result<(), JoinError> {
    let probe = crate::config::fleet_file::SovereignEntry {
        catalyst_api: Some(entry.catalyst_api.clone()),
        deployment_id: Some(entry.deployment_id.clone()),
        kubeconfig_from: crate::config::fleet_file::KubeconfigFrom::Catalyst,
        ..crate::config::fleet_file::SovereignEntry::adopted(&entry.fqdn)
    };
    super::cluster::fetch_kubeconfig(&probe)
        .await
        .map(|_| ())
        .map_err(JoinError::Catalyst)
}
