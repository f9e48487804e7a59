//! The wizard draft: everything typed except secrets (provider tokens, registrar token, the
//! generated private key), saved so a crash or an SSH drop loses nothing else. The caller picks
//! the path (default under the XDG state dir). Written atomically with mode 0600.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::catalog::Registrar;
use super::components::Selection;
use super::fields::{DomainMode, OrgProfile, RegionRow, SshMode, Topology};
use super::model::{Wizard, WizardConfig};
use super::step::Step;

pub const DRAFT_VERSION: u32 = 1;

/// `$XDG_STATE_HOME/sovtui/wizard-draft.json`.
pub fn default_draft_path() -> PathBuf {
    crate::config::paths::state_dir().join("wizard-draft.json")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SshDraft {
    pub mode: SshMode,
    #[serde(default)]
    pub pasted_public_key: String,
    #[serde(default)]
    pub generated_public_key: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub private_key_saved_to: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainDraft {
    pub mode: DomainMode,
    #[serde(default)]
    pub pool_id: String,
    #[serde(default)]
    pub subdomain: String,
    #[serde(default)]
    pub byo_domain: String,
    #[serde(default)]
    pub registrar: Option<Registrar>,
    #[serde(default)]
    pub admin_email: String,
}

/// The serializable, secret-free wizard state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Draft {
    pub version: u32,
    pub step: Step,
    pub org: OrgProfile,
    pub topology: Option<Topology>,
    #[serde(default)]
    pub airgap: bool,
    #[serde(default)]
    pub ha_enabled: bool,
    #[serde(default)]
    pub regions_seeded: bool,
    #[serde(default)]
    pub regions: Vec<RegionRow>,
    #[serde(default)]
    pub hetzner_project_id: String,
    pub ssh: SshDraft,
    pub components: Vec<String>,
    pub domain: DomainDraft,
}

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("could not read the draft {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not write the draft {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the draft {path} is not valid (line {line}, column {column}): {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the draft {path} has version {found}; this sovtui reads version {DRAFT_VERSION}")]
    Version { path: PathBuf, found: u32 },
}

/// What a restore could not carry over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreNotes {
    /// Human sentences: secrets to re-enter, dropped unknown values.
    pub notes: Vec<String>,
}

impl Wizard {
    /// Snapshot without secrets.
    pub fn draft(&self) -> Draft {
        Draft {
            version: DRAFT_VERSION,
            step: self.step,
            org: self.org.clone(),
            topology: self.topology,
            airgap: self.airgap,
            ha_enabled: self.ha_enabled,
            regions_seeded: self.regions_seeded,
            regions: self.regions.clone(),
            hetzner_project_id: self.hetzner_project_id.clone(),
            ssh: SshDraft {
                mode: self.ssh.mode,
                pasted_public_key: self.ssh.pasted.clone(),
                generated_public_key: self.ssh.generated_public.clone(),
                fingerprint: self.ssh.fingerprint.clone(),
                private_key_saved_to: self.ssh.private_saved_to.clone(),
            },
            components: self.selection.ids().map(str::to_string).collect(),
            domain: DomainDraft {
                mode: self.domain.mode,
                pool_id: self.domain.pool_id.clone(),
                subdomain: self.domain.subdomain.clone(),
                byo_domain: self.domain.byo_domain.clone(),
                registrar: self.domain.registrar,
                admin_email: self.domain.admin_email.clone(),
            },
        }
    }

    /// Rebuild a wizard from a draft. Live checks start over (the caller's next `due_checks`
    /// re-validates), tokens must be re-entered, and the wizard lands on the saved step or on the
    /// first step that now has errors, whichever comes first.
    pub fn restore(draft: Draft, config: WizardConfig) -> (Wizard, RestoreNotes) {
        let mut notes = RestoreNotes::default();
        let mut w = Wizard::new(config);
        w.org = draft.org;
        w.topology = draft.topology;
        w.airgap = draft.airgap;
        w.ha_enabled = draft.ha_enabled;
        w.regions_seeded = draft.regions_seeded;
        w.regions = draft.regions;
        if w.regions_seeded && w.regions.len() != w.wanted_region_rows() {
            notes.notes.push(format!(
                "region rows adjusted from {} to the {} the topology needs",
                w.regions.len(),
                w.wanted_region_rows()
            ));
            w.set_airgap(w.airgap);
        }
        w.set_hetzner_project_id(&draft.hetzner_project_id);
        w.set_ssh_mode(draft.ssh.mode);
        w.set_pasted_key(&draft.ssh.pasted_public_key);
        match (
            draft.ssh.generated_public_key,
            draft.ssh.private_key_saved_to,
        ) {
            (Some(public), Some(saved)) => {
                w.ssh.generated_public = Some(public);
                w.ssh.fingerprint = draft.ssh.fingerprint;
                w.ssh.private_saved_to = Some(saved);
            }
            (Some(_), None) => notes.notes.push(
                "the generated SSH key's private half was never saved; generate a new key".into(),
            ),
            _ => {}
        }
        let (selection, unknown) = Selection::from_ids(&draft.components);
        if !unknown.is_empty() {
            notes.notes.push(format!(
                "unknown components dropped: {}",
                unknown.join(", ")
            ));
        }
        w.selection = selection;
        w.set_domain_mode(draft.domain.mode);
        if !draft.domain.pool_id.is_empty() && w.set_pool(&draft.domain.pool_id).is_err() {
            notes.notes.push(format!(
                "pool `{}` is not offered any more; choose a pool again",
                draft.domain.pool_id
            ));
        }
        w.set_subdomain(&draft.domain.subdomain);
        w.set_byo_domain(&draft.domain.byo_domain);
        w.set_registrar(draft.domain.registrar);
        w.set_admin_email(&draft.domain.admin_email);
        if !w.token_providers().is_empty() {
            notes
                .notes
                .push("provider tokens are never saved; enter them again".into());
        }
        if draft.domain.mode == DomainMode::ByoApi {
            notes
                .notes
                .push("the registrar token is never saved; enter it again".into());
        }
        // A hand-edited draft may claim a later step without rows: seed them as a visit would.
        if draft.step >= Step::Provider {
            w.seed_regions();
        }
        // Land on the saved step unless an earlier one now has errors (missing secrets).
        let blocked = Step::ALL
            .iter()
            .copied()
            .take_while(|s| *s < draft.step)
            .find(|s| {
                w.issues(*s)
                    .iter()
                    .any(|i| i.severity == super::model::Severity::Error)
            });
        w.step = blocked.unwrap_or(draft.step);
        (w, notes)
    }

    /// Save the draft to `path` (atomic replace, mode 0600; parent directories created).
    pub fn save_draft(&self, path: &Path) -> Result<(), DraftError> {
        let werr = |source| DraftError::Write {
            path: path.to_path_buf(),
            source,
        };
        let text =
            serde_json::to_vec_pretty(&self.draft()).map_err(|e| werr(std::io::Error::other(e)))?;
        crate::config::private_fs::replace_file(path, &text).map_err(werr)
    }
}

/// Read a draft; a missing file is `Ok(None)` (nothing to restore).
pub fn load_draft(path: &Path) -> Result<Option<Draft>, DraftError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(DraftError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    // Check the version first so a future format gets a clear message, not a field error.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        let found = v.get("version").and_then(serde_json::Value::as_u64);
        if let Some(found) = found
            && found != u64::from(DRAFT_VERSION)
        {
            return Err(DraftError::Version {
                path: path.to_path_buf(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| DraftError::Invalid {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
}

/// Remove the draft after a successful Provision. A missing file is fine.
pub fn discard_draft(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
