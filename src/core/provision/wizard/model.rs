//! The wizard state machine: every field of the seven steps, their validation, the live-check
//! bookkeeping, component cascades awaiting confirmation, navigation, Review and the request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::api_error::{ApiProblem, classify_create_error};
use super::catalog::{self, PoolDomain, Provider, Registrar};
use super::checks::{
    Availability, CheckKind, CheckReply, CheckRequest, GeneratedKey, LiveCheck, RegistrarStatus,
    Ticket, TokenStatus,
};
use super::components::{Change, Proposal, Selection, SelectionError};
use super::fields::{
    COMPLIANCE_FRAMES, DEFAULT_ADMIN_EMAIL, DEFAULT_ORG_NAME, DomainFields, DomainMode, INDUSTRIES,
    ORG_SIZES, OrgProfile, RegionRow, Secret, SshKeyState, SshMode, Topology,
};
use super::request::{DeploymentRequest, RegionRequest, validate_request};
use super::rules;
use super::step::{Reason, Step};

/// Free-text fields [`Wizard::set_text`] knows (plus `tokens.<provider>`).
pub const TEXT_FIELDS: [&str; 9] = [
    "orgName",
    "orgHeadquarters",
    "hetznerToken",
    "hetznerProjectID",
    "sshPublicKey",
    "sovereignSubdomain",
    "sovereignFQDN",
    "registrarToken",
    "orgEmail",
];

/// Knobs where sources disagree (contract §4.7: the UI offers one pool, the runbook five).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WizardConfig {
    pub pools: Vec<PoolDomain>,
}

impl Default for WizardConfig {
    fn default() -> Self {
        WizardConfig {
            pools: PoolDomain::ui_default(),
        }
    }
}

/// How serious an [`Issue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks Next; shown under the field.
    Error,
    /// Blocks Next until a live check answers.
    Pending,
    /// Shown, never blocks (something a later stage will reject although the web wizard accepts it).
    Warning,
}

/// A problem with one field (named by its wire path, e.g. `regions[1].workerSize`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub field: String,
    pub message: String,
    pub severity: Severity,
}

impl Issue {
    fn error(field: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            field: field.into(),
            message: message.into(),
            severity: Severity::Error,
        }
    }

    fn pending(field: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            field: field.into(),
            message: message.into(),
            severity: Severity::Pending,
        }
    }

    fn warning(field: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            field: field.into(),
            message: message.into(),
            severity: Severity::Warning,
        }
    }
}

/// Refusals of setters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WizardError {
    #[error("there is no region row {0}")]
    NoSuchRow(usize),
    #[error("`{value}` is not a valid {field} (one of: {allowed})")]
    NotAllowed {
        field: &'static str,
        value: String,
        allowed: String,
    },
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error("no component change is waiting for confirmation")]
    NothingPending,
    #[error("no generated private key to save")]
    NoPrivateKey,
    #[error("could not write the private key to {path}: {message}")]
    Io { path: PathBuf, message: String },
}

/// What happened to a component toggle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToggleOutcome {
    /// Applied at once (it touched only what was picked).
    Applied(Proposal),
    /// A cascade: shown to the operator, applied by [`Wizard::confirm_cascade`].
    NeedsConfirmation(Proposal),
    /// Nothing to do (already in the requested state).
    Unchanged,
}

/// Costs of the region rows, from the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    pub eur_hour: f64,
    pub eur_month: f64,
    /// Rows whose sizes are not in the catalogue (so not counted).
    pub unpriced_rows: Vec<usize>,
}

/// One labelled value of the Review page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewRow {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewSection {
    pub step: Step,
    pub rows: Vec<ReviewRow>,
}

#[derive(Debug, Clone)]
struct TokenCard {
    token: Secret,
    status: TokenStatus,
    ticket: Option<u64>,
}

impl Default for TokenCard {
    fn default() -> Self {
        TokenCard {
            token: Secret::default(),
            status: TokenStatus::Empty,
            ticket: None,
        }
    }
}

/// The wizard. Fields are read through accessors and changed through setters so every edit
/// re-derives its status and supersedes in-flight checks.
#[derive(Debug, Clone)]
pub struct Wizard {
    pub(crate) config: WizardConfig,
    pub(crate) step: Step,
    pub(crate) org: OrgProfile,
    pub(crate) topology: Option<Topology>,
    pub(crate) airgap: bool,
    pub(crate) ha_enabled: bool,
    pub(crate) regions: Vec<RegionRow>,
    pub(crate) regions_seeded: bool,
    tokens: BTreeMap<Provider, TokenCard>,
    pub(crate) hetzner_project_id: String,
    pub(crate) ssh: SshKeyState,
    ssh_ticket: Option<u64>,
    pub(crate) selection: Selection,
    pending_cascade: Option<Proposal>,
    pub(crate) domain: DomainFields,
    availability: Availability,
    availability_ticket: Option<u64>,
    registrar_status: RegistrarStatus,
    registrar_ticket: Option<u64>,
    server_errors: BTreeMap<String, String>,
    api_notice: Option<ApiProblem>,
    seq: u64,
}

impl Default for Wizard {
    fn default() -> Self {
        Wizard::new(WizardConfig::default())
    }
}

impl Wizard {
    pub fn new(config: WizardConfig) -> Self {
        let pool_id = config
            .pools
            .first()
            .map(|p| p.id.clone())
            .unwrap_or_default();
        Wizard {
            config,
            step: Step::Org,
            org: OrgProfile::default(),
            topology: Some(Topology::Zoned),
            airgap: false,
            ha_enabled: false,
            regions: Vec::new(),
            regions_seeded: false,
            tokens: BTreeMap::new(),
            hetzner_project_id: String::new(),
            ssh: SshKeyState::default(),
            ssh_ticket: None,
            selection: Selection::default(),
            pending_cascade: None,
            domain: DomainFields {
                mode: DomainMode::Pool,
                pool_id,
                subdomain: String::new(),
                byo_domain: String::new(),
                registrar: None,
                registrar_token: Secret::default(),
                admin_email: DEFAULT_ADMIN_EMAIL.into(),
            },
            availability: Availability::Idle,
            availability_ticket: None,
            registrar_status: RegistrarStatus::Incomplete,
            registrar_ticket: None,
            server_errors: BTreeMap::new(),
            api_notice: None,
            seq: 0,
        }
    }

    pub fn config(&self) -> &WizardConfig {
        &self.config
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// An edit of `field` clears what the server said about it.
    fn touch(&mut self, field: &str) {
        self.server_errors.remove(field);
    }

    // ---- Step 1: organisation -------------------------------------------------------------

    pub fn org(&self) -> &OrgProfile {
        &self.org
    }

    pub fn set_org_name(&mut self, name: &str) {
        self.org.name = name.to_string();
        self.touch("orgName");
    }

    /// The name that will be sent: a blank field means the default (the web wizard reverts a
    /// blank name on blur, so its Next is always enabled).
    pub fn effective_org_name(&self) -> String {
        match self.org.name.trim() {
            "" => DEFAULT_ORG_NAME.to_string(),
            name => name.to_string(),
        }
    }

    /// Leaving the field: a blank name reverts to the default, as in the web wizard.
    pub fn blur_org_name(&mut self) {
        if self.org.name.trim().is_empty() {
            self.org.name = DEFAULT_ORG_NAME.into();
        }
    }

    pub fn set_headquarters(&mut self, hq: &str) {
        self.org.headquarters = hq.to_string();
    }

    fn pick(field: &'static str, allowed: &[&str], value: &str) -> Result<String, WizardError> {
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(value.trim()))
            .map(|a| a.to_string())
            .ok_or_else(|| WizardError::NotAllowed {
                field,
                value: value.into(),
                allowed: allowed.join(", "),
            })
    }

    pub fn set_industry(&mut self, industry: &str) -> Result<(), WizardError> {
        self.org.industry = Self::pick("industry", &INDUSTRIES, industry)?;
        Ok(())
    }

    pub fn set_org_size(&mut self, size: &str) -> Result<(), WizardError> {
        self.org.size = Self::pick("organisation size", &ORG_SIZES, size)?;
        Ok(())
    }

    /// Toggle one compliance frame; returns whether it is now selected.
    pub fn toggle_compliance(&mut self, frame: &str) -> Result<bool, WizardError> {
        let frame = Self::pick("compliance frame", &COMPLIANCE_FRAMES, frame)?;
        if self.org.compliance.remove(&frame) {
            Ok(false)
        } else {
            self.org.compliance.insert(frame);
            Ok(true)
        }
    }

    // ---- Step 2: topology -----------------------------------------------------------------

    pub fn topology(&self) -> Option<Topology> {
        self.topology
    }

    pub fn airgap(&self) -> bool {
        self.airgap
    }

    /// [R] puts an HA toggle on Topology; [M] has none and always sends `false`. Default false.
    pub fn ha_enabled(&self) -> bool {
        self.ha_enabled
    }

    pub fn set_topology(&mut self, t: Option<Topology>) {
        self.topology = t;
        self.resize_regions();
    }

    pub fn set_airgap(&mut self, on: bool) {
        self.airgap = on;
        self.resize_regions();
    }

    pub fn set_ha_enabled(&mut self, on: bool) {
        self.ha_enabled = on;
    }

    /// Region rows the topology asks for: template slots plus one for AIR-GAP.
    pub fn wanted_region_rows(&self) -> usize {
        self.topology.map_or(0, Topology::region_count) + usize::from(self.airgap)
    }

    fn hinted_row(&self, index: usize) -> RegionRow {
        let (provider, regions) = catalog::hq_hint(&self.org.headquarters);
        let region = regions
            .get(index % regions.len().max(1))
            .copied()
            .unwrap_or(provider.regions()[0]);
        RegionRow::new(provider, region)
    }

    fn resize_regions(&mut self) {
        if !self.regions_seeded {
            return;
        }
        let want = self.wanted_region_rows();
        self.regions.truncate(want);
        while self.regions.len() < want {
            let row = self.hinted_row(self.regions.len());
            self.regions.push(row);
        }
    }

    /// First visit of the Provider step: rows from the HQ hint (provider, region order, the
    /// provider's recommended SKU, no workers). Later topology changes keep existing rows.
    pub fn seed_regions(&mut self) {
        if self.regions_seeded {
            return;
        }
        self.regions_seeded = true;
        self.regions.clear();
        self.resize_regions();
    }

    // ---- Step 3: provider -----------------------------------------------------------------

    pub fn regions(&self) -> &[RegionRow] {
        &self.regions
    }

    fn row_mut(&mut self, i: usize) -> Result<&mut RegionRow, WizardError> {
        self.regions.get_mut(i).ok_or(WizardError::NoSuchRow(i))
    }

    /// Changing the provider resets the row to that provider's first region and recommended SKU.
    pub fn set_row_provider(&mut self, i: usize, provider: Provider) -> Result<(), WizardError> {
        let row = self.row_mut(i)?;
        if row.provider != provider {
            *row = RegionRow::new(provider, provider.regions()[0]);
        }
        for key in [
            "provider",
            "cloudRegion",
            "controlPlaneSize",
            "workerSize",
            "workerCount",
        ] {
            self.touch(&format!("regions[{i}].{key}"));
        }
        Ok(())
    }

    pub fn set_row_region(&mut self, i: usize, region: &str) -> Result<(), WizardError> {
        self.row_mut(i)?.cloud_region = region.trim().to_string();
        self.touch(&format!("regions[{i}].cloudRegion"));
        Ok(())
    }

    pub fn set_row_control_plane_size(&mut self, i: usize, sku: &str) -> Result<(), WizardError> {
        self.row_mut(i)?.control_plane_size = sku.trim().to_string();
        self.touch(&format!("regions[{i}].controlPlaneSize"));
        Ok(())
    }

    pub fn set_row_worker_size(&mut self, i: usize, sku: &str) -> Result<(), WizardError> {
        self.row_mut(i)?.worker_size = sku.trim().to_string();
        self.touch(&format!("regions[{i}].workerSize"));
        Ok(())
    }

    /// The stepper: clamped to 0–50.
    pub fn set_row_worker_count(&mut self, i: usize, n: i64) -> Result<(), WizardError> {
        self.row_mut(i)?.worker_count = n.clamp(0, rules::MAX_WORKERS);
        self.touch(&format!("regions[{i}].workerCount"));
        Ok(())
    }

    // ---- Step 4: credentials --------------------------------------------------------------

    /// One token card per distinct provider across the region rows, in row order.
    pub fn token_providers(&self) -> Vec<Provider> {
        let mut out: Vec<Provider> = Vec::new();
        for r in &self.regions {
            if !out.contains(&r.provider) {
                out.push(r.provider);
            }
        }
        out
    }

    pub fn token_status(&self, provider: Provider) -> TokenStatus {
        self.tokens
            .get(&provider)
            .map_or(TokenStatus::Empty, |c| c.status.clone())
    }

    /// The token for display: masked.
    pub fn token_masked(&self, provider: Provider) -> String {
        rules::mask_secret(self.tokens.get(&provider).map_or("", |c| c.token.expose()))
    }

    pub fn set_token(&mut self, provider: Provider, token: &str) {
        let status = if token.trim().is_empty() {
            TokenStatus::Empty
        } else if rules::check_token_length(token).is_err() {
            TokenStatus::TooShort {
                len: token.trim().chars().count(),
            }
        } else {
            TokenStatus::Unchecked
        };
        self.tokens.insert(
            provider,
            TokenCard {
                token: Secret::new(token.trim()),
                status,
                ticket: None,
            },
        );
        if provider == Provider::Hetzner {
            self.touch("hetznerToken");
        }
    }

    /// The web wizard's demo bypass: `demo-mode-<provider>-` + 50 `x`, validated without a call.
    pub fn use_demo_token(&mut self, provider: Provider) {
        let token = format!("demo-mode-{provider}-{}", "x".repeat(50));
        self.tokens.insert(
            provider,
            TokenCard {
                token: Secret::new(token),
                status: TokenStatus::Demo,
                ticket: None,
            },
        );
    }

    pub fn hetzner_project_id(&self) -> &str {
        &self.hetzner_project_id
    }

    pub fn set_hetzner_project_id(&mut self, id: &str) {
        self.hetzner_project_id = id.trim().to_string();
        self.touch("hetznerProjectID");
    }

    pub fn ssh(&self) -> &SshKeyState {
        &self.ssh
    }

    pub fn set_ssh_mode(&mut self, mode: SshMode) {
        self.ssh.mode = mode;
        self.touch("sshPublicKey");
    }

    pub fn set_pasted_key(&mut self, key: &str) {
        self.ssh.pasted = key.to_string();
        self.touch("sshPublicKey");
    }

    /// The public key that will be sent, per the SSH mode.
    pub fn ssh_public_key(&self) -> String {
        match self.ssh.mode {
            SshMode::Paste => self.ssh.pasted.trim().to_string(),
            SshMode::Generate => self.ssh.generated_public.clone().unwrap_or_default(),
        }
    }

    /// Ask catalyst-api for a fresh Ed25519 pair (comment `catalyst@<fqdn>` when the FQDN is known).
    pub fn request_ssh_key(&mut self) -> CheckRequest {
        let seq = self.next_seq();
        self.ssh_ticket = Some(seq);
        self.ssh.generate_error = None;
        CheckRequest {
            ticket: Ticket {
                kind: CheckKind::SshKeyGenerate,
                seq,
            },
            check: LiveCheck::GenerateSshKey {
                fqdn: self.fqdn().unwrap_or_default(),
            },
        }
    }

    pub fn ssh_key_generating(&self) -> bool {
        self.ssh_ticket.is_some()
    }

    /// Write the generated private half to `path` with mode 0600 (refusing to replace an existing
    /// file unless `overwrite`), then forget it. It is never shown and never kept in a draft.
    pub fn save_private_key(&mut self, path: &Path, overwrite: bool) -> Result<(), WizardError> {
        let key = self
            .ssh
            .private_key
            .as_ref()
            .ok_or(WizardError::NoPrivateKey)?;
        crate::config::private_fs::write_file(path, key.expose().as_bytes(), overwrite).map_err(
            |e| WizardError::Io {
                path: path.to_path_buf(),
                message: e.to_string(),
            },
        )?;
        self.ssh.private_key = None;
        self.ssh.private_saved_to = Some(path.to_path_buf());
        Ok(())
    }

    /// The suggested file name for the private half: `<fqdn>.pem`, or `catalyst.pem`.
    pub fn suggested_private_key_name(&self) -> String {
        match self.fqdn() {
            Some(f) if !f.is_empty() => format!("{f}.pem"),
            _ => "catalyst.pem".into(),
        }
    }

    // ---- Step 5: components ---------------------------------------------------------------

    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    pub fn pending_cascade(&self) -> Option<&Proposal> {
        self.pending_cascade.as_ref()
    }

    /// Ask for a change. Plain changes apply at once; cascades wait for [`Self::confirm_cascade`].
    /// A new request replaces any cascade still waiting.
    pub fn request_change(&mut self, change: Change) -> Result<ToggleOutcome, WizardError> {
        self.pending_cascade = None;
        let proposal = self.selection.propose(&change)?;
        if proposal.is_empty() {
            return Ok(ToggleOutcome::Unchanged);
        }
        if proposal.is_cascade() {
            self.pending_cascade = Some(proposal.clone());
            Ok(ToggleOutcome::NeedsConfirmation(proposal))
        } else {
            self.selection.apply(&proposal);
            Ok(ToggleOutcome::Applied(proposal))
        }
    }

    /// Select or unselect one component card.
    pub fn toggle_component(&mut self, id: &str) -> Result<ToggleOutcome, WizardError> {
        let change = if self.selection.contains(id) {
            Change::RemoveComponent(id.into())
        } else {
            Change::AddComponent(id.into())
        };
        self.request_change(change)
    }

    /// Apply the waiting cascade (recomputed against the current selection, which cannot have
    /// changed in between because every change clears the pending one).
    pub fn confirm_cascade(&mut self) -> Result<Proposal, WizardError> {
        let pending = self
            .pending_cascade
            .take()
            .ok_or(WizardError::NothingPending)?;
        let proposal = self.selection.propose(&pending.change)?;
        self.selection.apply(&proposal);
        Ok(proposal)
    }

    pub fn cancel_cascade(&mut self) -> Option<Proposal> {
        self.pending_cascade.take()
    }

    // ---- Step 6: domain -------------------------------------------------------------------

    pub fn domain(&self) -> &DomainFields {
        &self.domain
    }

    pub fn availability(&self) -> &Availability {
        &self.availability
    }

    pub fn registrar_status(&self) -> &RegistrarStatus {
        &self.registrar_status
    }

    pub fn pool(&self) -> Option<&PoolDomain> {
        self.config
            .pools
            .iter()
            .find(|p| p.id == self.domain.pool_id)
    }

    /// The apex sent as `sovereignPoolDomain` (falls back to the raw id, like the UI).
    pub fn pool_apex(&self) -> String {
        self.pool()
            .map_or_else(|| self.domain.pool_id.clone(), |p| p.apex.clone())
    }

    pub fn set_domain_mode(&mut self, mode: DomainMode) {
        self.domain.mode = mode;
        self.refresh_availability();
        self.refresh_registrar();
        self.touch("sovereignFQDN");
    }

    pub fn set_pool(&mut self, pool_id: &str) -> Result<(), WizardError> {
        let Some(p) = self
            .config
            .pools
            .iter()
            .find(|p| p.id == pool_id || p.apex == pool_id)
        else {
            return Err(WizardError::NotAllowed {
                field: "pool domain",
                value: pool_id.into(),
                allowed: self
                    .config
                    .pools
                    .iter()
                    .map(|p| p.apex.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        self.domain.pool_id = p.id.clone();
        self.refresh_availability();
        self.touch("sovereignPoolDomain");
        Ok(())
    }

    /// Typed subdomain; lower-cased and trimmed as the server does.
    pub fn set_subdomain(&mut self, sub: &str) {
        self.domain.subdomain = sub.trim().to_ascii_lowercase();
        self.refresh_availability();
        self.touch("sovereignSubdomain");
        self.touch("sovereignFQDN");
    }

    fn refresh_availability(&mut self) {
        self.availability_ticket = None;
        self.availability =
            if self.domain.mode != DomainMode::Pool || self.domain.subdomain.is_empty() {
                Availability::Idle
            } else {
                match rules::check_subdomain(&self.domain.subdomain) {
                    Err(message) => Availability::Invalid { message },
                    Ok(()) => Availability::Unchecked,
                }
            };
    }

    pub fn set_byo_domain(&mut self, domain: &str) {
        self.domain.byo_domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        self.refresh_registrar();
        self.touch("sovereignFQDN");
    }

    pub fn set_registrar(&mut self, registrar: Option<Registrar>) {
        self.domain.registrar = registrar;
        self.refresh_registrar();
    }

    pub fn set_registrar_token(&mut self, token: &str) {
        self.domain.registrar_token = Secret::new(token.trim());
        self.refresh_registrar();
    }

    pub fn registrar_token_masked(&self) -> String {
        rules::mask_secret(self.domain.registrar_token.expose())
    }

    fn refresh_registrar(&mut self) {
        self.registrar_ticket = None;
        let ready = self.domain.mode == DomainMode::ByoApi
            && self.domain.registrar.is_some()
            && !self.domain.registrar_token.is_empty()
            && rules::check_byo_domain(&self.domain.byo_domain).is_ok();
        self.registrar_status = if ready {
            RegistrarStatus::Unchecked
        } else {
            RegistrarStatus::Incomplete
        };
    }

    pub fn set_admin_email(&mut self, email: &str) {
        self.domain.admin_email = email.trim().to_string();
        self.touch("orgEmail");
    }

    /// The Sovereign FQDN, once the domain step has enough to form it.
    pub fn fqdn(&self) -> Option<String> {
        match self.domain.mode {
            DomainMode::Pool if !self.domain.subdomain.is_empty() => {
                Some(format!("{}.{}", self.domain.subdomain, self.pool_apex()))
            }
            DomainMode::Pool => None,
            DomainMode::ByoManual | DomainMode::ByoApi if !self.domain.byo_domain.is_empty() => {
                Some(self.domain.byo_domain.clone())
            }
            _ => None,
        }
    }

    // ---- Text fields by wire name ---------------------------------------------------------

    /// Set a free-text field by the name its errors are keyed by, so a form can bind inputs and
    /// error lines to the same key. Secrets (`hetznerToken`, `tokens.<provider>`,
    /// `registrarToken`) are accepted here and never returned by [`Self::text`].
    pub fn set_text(&mut self, field: &str, value: &str) -> Result<(), WizardError> {
        match field {
            "orgName" => self.set_org_name(value),
            "orgHeadquarters" => self.set_headquarters(value),
            "hetznerToken" => self.set_token(Provider::Hetzner, value),
            "hetznerProjectID" => self.set_hetzner_project_id(value),
            "sshPublicKey" => self.set_pasted_key(value),
            "sovereignSubdomain" => self.set_subdomain(value),
            "sovereignFQDN" => self.set_byo_domain(value),
            "registrarToken" => self.set_registrar_token(value),
            "orgEmail" => self.set_admin_email(value),
            f => match f.strip_prefix("tokens.").and_then(Provider::parse) {
                Some(p) => self.set_token(p, value),
                None => {
                    return Err(WizardError::NotAllowed {
                        field: "text field",
                        value: f.into(),
                        allowed: TEXT_FIELDS.join(", "),
                    });
                }
            },
        }
        Ok(())
    }

    /// The current text of a non-secret field (None for secrets and unknown names).
    pub fn text(&self, field: &str) -> Option<String> {
        Some(match field {
            "orgName" => self.org.name.clone(),
            "orgHeadquarters" => self.org.headquarters.clone(),
            "hetznerProjectID" => self.hetzner_project_id.clone(),
            "sshPublicKey" => self.ssh.pasted.clone(),
            "sovereignSubdomain" => self.domain.subdomain.clone(),
            "sovereignFQDN" => self.domain.byo_domain.clone(),
            "orgEmail" => self.domain.admin_email.clone(),
            _ => return None,
        })
    }

    // ---- Live checks ----------------------------------------------------------------------

    /// Checks whose input is complete and unchecked. Call after the caller's debounce; each
    /// returned request is marked in flight. Perform it and hand the answer to [`Self::complete`].
    pub fn due_checks(&mut self) -> Vec<CheckRequest> {
        let mut out = Vec::new();
        for p in self.token_providers() {
            let due = self
                .tokens
                .get(&p)
                .is_some_and(|c| c.status == TokenStatus::Unchecked);
            if !due {
                continue;
            }
            let seq = self.next_seq();
            if let Some(card) = self.tokens.get_mut(&p) {
                card.status = TokenStatus::Checking;
                card.ticket = Some(seq);
                out.push(CheckRequest {
                    ticket: Ticket {
                        kind: CheckKind::Credentials(p),
                        seq,
                    },
                    check: LiveCheck::ValidateCredentials {
                        provider: p,
                        token: card.token.expose().to_string(),
                    },
                });
            }
        }
        if self.availability == Availability::Unchecked {
            let seq = self.next_seq();
            self.availability = Availability::Checking;
            self.availability_ticket = Some(seq);
            out.push(CheckRequest {
                ticket: Ticket {
                    kind: CheckKind::Subdomain,
                    seq,
                },
                check: LiveCheck::CheckSubdomain {
                    subdomain: self.domain.subdomain.clone(),
                    pool_domain: self.pool_apex(),
                },
            });
        }
        if self.registrar_status == RegistrarStatus::Unchecked
            && let Some(registrar) = self.domain.registrar
        {
            let seq = self.next_seq();
            self.registrar_status = RegistrarStatus::Checking;
            self.registrar_ticket = Some(seq);
            out.push(CheckRequest {
                ticket: Ticket {
                    kind: CheckKind::Registrar,
                    seq,
                },
                check: LiveCheck::ValidateRegistrar {
                    registrar,
                    domain: self.domain.byo_domain.clone(),
                    token: self.domain.registrar_token.expose().to_string(),
                },
            });
        }
        out
    }

    /// Whether [`Self::due_checks`] would return anything (for the caller's debounce timer).
    pub fn has_due_checks(&self) -> bool {
        self.token_providers().iter().any(|p| {
            self.tokens
                .get(p)
                .is_some_and(|c| c.status == TokenStatus::Unchecked)
        }) || self.availability == Availability::Unchecked
            || self.registrar_status == RegistrarStatus::Unchecked
    }

    /// Hand back the answer to a check. Returns false (and changes nothing) when the ticket was
    /// superseded by an edit since it was issued.
    pub fn complete(&mut self, ticket: Ticket, reply: &CheckReply) -> bool {
        match ticket.kind {
            CheckKind::Credentials(p) => match self.tokens.get_mut(&p) {
                Some(card) if card.ticket == Some(ticket.seq) => {
                    card.ticket = None;
                    card.status = TokenStatus::from_reply(reply);
                    true
                }
                _ => false,
            },
            CheckKind::Subdomain if self.availability_ticket == Some(ticket.seq) => {
                self.availability_ticket = None;
                self.availability = Availability::from_reply(reply);
                true
            }
            CheckKind::Registrar if self.registrar_ticket == Some(ticket.seq) => {
                self.registrar_ticket = None;
                self.registrar_status = RegistrarStatus::from_reply(reply);
                true
            }
            CheckKind::SshKeyGenerate if self.ssh_ticket == Some(ticket.seq) => {
                self.ssh_ticket = None;
                let checked = GeneratedKey::from_reply(reply).and_then(|key| {
                    rules::check_ssh_public_key(&key.public_key)
                        .map(|_| key)
                        .map_err(|e| format!("catalyst-api returned an unusable public key: {e}"))
                });
                match checked {
                    Ok(key) => {
                        self.ssh.generated_public = Some(key.public_key.trim().to_string());
                        self.ssh.fingerprint = Some(key.fingerprint);
                        self.ssh.private_key = Some(Secret::new(key.private_key));
                        self.ssh.private_saved_to = None;
                        self.ssh.generate_error = None;
                        self.touch("sshPublicKey");
                    }
                    Err(e) => self.ssh.generate_error = Some(e),
                }
                true
            }
            _ => false,
        }
    }

    // ---- Validation -----------------------------------------------------------------------

    /// Every problem of a step, errors first in field order, then pending checks, then warnings.
    pub fn issues(&self, step: Step) -> Vec<Issue> {
        let mut v = match step {
            Step::Org => self.org_issues(),
            Step::Topology => self.topology_issues(),
            Step::Provider => self.provider_issues(),
            Step::Credentials => self.credentials_issues(),
            Step::Components => self.components_issues(),
            Step::Domain => self.domain_issues(),
            Step::Review => self.review_issues(),
        };
        for (field, message) in &self.server_errors {
            if field_step(field) == step {
                v.push(Issue::error(field, format!("catalyst-api: {message}")));
            }
        }
        if let Some(p) = &self.api_notice
            && p.step == step
        {
            v.push(Issue::warning(
                p.field.clone().unwrap_or_default(),
                format!("last attempt: HTTP {} — {}", p.status, p.message),
            ));
        }
        v.sort_by_key(|i| match i.severity {
            Severity::Error => 0,
            Severity::Pending => 1,
            Severity::Warning => 2,
        });
        v
    }

    /// The blocking errors of a step keyed by field name (first message per field).
    pub fn field_errors(&self, step: Step) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for i in self.issues(step) {
            if i.severity == Severity::Error {
                out.entry(i.field).or_insert(i.message);
            }
        }
        out
    }

    pub fn warnings(&self, step: Step) -> Vec<Issue> {
        self.issues(step)
            .into_iter()
            .filter(|i| i.severity == Severity::Warning)
            .collect()
    }

    /// Whether Next is enabled on `step` (on Review: whether Provision is), with the reason if not.
    pub fn can_advance(&self, step: Step) -> Result<(), Reason> {
        match self
            .issues(step)
            .into_iter()
            .find(|i| i.severity != Severity::Warning)
        {
            None => Ok(()),
            Some(i) => Err(Reason::new(
                step,
                (!i.field.is_empty()).then_some(i.field.as_str()),
                i.message,
            )),
        }
    }

    fn org_issues(&self) -> Vec<Issue> {
        let mut v = Vec::new();
        if self.org.name.trim().is_empty() {
            v.push(Issue::warning(
                "orgName",
                format!("blank — \"{DEFAULT_ORG_NAME}\" will be used"),
            ));
        }
        if !INDUSTRIES.contains(&self.org.industry.as_str()) {
            v.push(Issue::error("orgIndustry", "choose an industry"));
        }
        if !ORG_SIZES.contains(&self.org.size.as_str()) {
            v.push(Issue::error("orgSize", "choose an organisation size"));
        }
        v
    }

    fn topology_issues(&self) -> Vec<Issue> {
        let mut v = Vec::new();
        if self.topology.is_none() {
            v.push(Issue::error("topology", "choose a topology"));
        }
        if self.ha_enabled {
            v.push(Issue::warning(
                "haEnabled",
                "HA creates 3 control-plane servers in the first region (the web wizard has no HA control)",
            ));
        }
        v
    }

    fn provider_issues(&self) -> Vec<Issue> {
        let mut v = Vec::new();
        if self.regions.is_empty() {
            v.push(Issue::error(
                "regions",
                "no region rows — choose a topology",
            ));
        }
        for (i, r) in self.regions.iter().enumerate() {
            let f = |k: &str| format!("regions[{i}].{k}");
            let p = r.provider;
            if r.cloud_region.is_empty() {
                v.push(Issue::error(f("cloudRegion"), "choose a region"));
            } else if !p.has_region(&r.cloud_region) {
                v.push(Issue::error(
                    f("cloudRegion"),
                    format!(
                        "`{}` is not a {p} region ({})",
                        r.cloud_region,
                        p.regions().join(", ")
                    ),
                ));
            }
            if r.control_plane_size.is_empty() {
                v.push(Issue::error(
                    f("controlPlaneSize"),
                    "choose a control-plane size",
                ));
            } else if p.sku(&r.control_plane_size).is_none() {
                v.push(Issue::error(
                    f("controlPlaneSize"),
                    format!("`{}` is not a {p} size", r.control_plane_size),
                ));
            }
            if !(0..=rules::MAX_WORKERS).contains(&r.worker_count) {
                v.push(Issue::error(
                    f("workerCount"),
                    format!("{} is outside 0–{}", r.worker_count, rules::MAX_WORKERS),
                ));
            }
            if r.worker_count > 0 {
                if r.worker_size.is_empty() {
                    v.push(Issue::error(f("workerSize"), "choose a worker size"));
                } else if p.sku(&r.worker_size).is_none() {
                    v.push(Issue::error(
                        f("workerSize"),
                        format!("`{}` is not a {p} size", r.worker_size),
                    ));
                }
            }
            if !p.is_provisionable() {
                v.push(Issue::warning(
                    f("provider"),
                    if i == 0 {
                        format!("{} is design-only; catalyst-api provisions the first region on hetzner only, so Provision will stay disabled", p.label())
                    } else {
                        format!("{} is design-only; only regions[0] is provisioned today", p.label())
                    },
                ));
            }
        }
        v
    }

    fn credentials_issues(&self) -> Vec<Issue> {
        let mut v = Vec::new();
        for p in self.token_providers() {
            let field = if p == Provider::Hetzner {
                "hetznerToken".to_string()
            } else {
                format!("tokens.{p}")
            };
            match self.token_status(p) {
                s if s.is_valid() => {}
                TokenStatus::Checking => v.push(Issue::pending(field, "validating the token…")),
                TokenStatus::Unchecked => v.push(Issue::pending(
                    field,
                    "the token has not been validated yet",
                )),
                TokenStatus::Empty => v.push(Issue::error(
                    field,
                    format!("enter the {} API token", p.label()),
                )),
                s => v.push(Issue::error(field, s.describe())),
            }
        }
        for p in self.token_providers() {
            if !p.is_provisionable() && self.token_status(p) != TokenStatus::Demo {
                v.push(Issue::warning(
                    format!("tokens.{p}"),
                    format!("catalyst-api probes only Hetzner, so a {} token is rejected; use demo mode for design-only providers", p.label()),
                ));
            }
        }
        if self.hetzner_project_id.is_empty() {
            // Not gated by the web wizard, but catalyst-api answers 400 without it.
            v.push(Issue::error(
                "hetznerProjectID",
                "the Hetzner project id is required (e.g. proj_abc123)",
            ));
        }
        match self.ssh.mode {
            SshMode::Paste => match rules::check_ssh_public_key(&self.ssh.pasted) {
                Err(m) => v.push(Issue::error("sshPublicKey", m)),
                Ok(k) => v.extend(
                    k.warnings
                        .into_iter()
                        .map(|w| Issue::warning("sshPublicKey", w)),
                ),
            },
            SshMode::Generate => {
                if self.ssh_ticket.is_some() {
                    v.push(Issue::pending("sshPublicKey", "generating a key pair…"));
                } else if let Some(e) = &self.ssh.generate_error {
                    v.push(Issue::error("sshPublicKey", e.clone()));
                } else if self.ssh.generated_public.is_none() {
                    v.push(Issue::error(
                        "sshPublicKey",
                        "generate a key pair (or paste a public key)",
                    ));
                } else if self.ssh.private_saved_to.is_none() {
                    v.push(Issue::error(
                        "sshPrivateKeyPath",
                        "save the private key to a file first — it is shown nowhere and cannot be fetched again",
                    ));
                }
            }
        }
        v
    }

    fn components_issues(&self) -> Vec<Issue> {
        match &self.pending_cascade {
            Some(p) => vec![Issue::pending(
                "components",
                format!(
                    "confirm or cancel: {} (+{} / -{})",
                    p.change,
                    p.add.len(),
                    p.remove.len()
                ),
            )],
            None => Vec::new(),
        }
    }

    fn domain_issues(&self) -> Vec<Issue> {
        let mut v = Vec::new();
        match self.domain.mode {
            DomainMode::Pool => {
                if self.pool().is_none() {
                    v.push(Issue::error("sovereignPoolDomain", "choose a pool domain"));
                }
                match &self.availability {
                    Availability::Available { .. } => {}
                    Availability::Idle => {
                        v.push(Issue::error("sovereignSubdomain", "enter a subdomain"))
                    }
                    Availability::Unchecked => v.push(Issue::pending(
                        "sovereignSubdomain",
                        "availability not checked yet",
                    )),
                    Availability::Checking => v.push(Issue::pending(
                        "sovereignSubdomain",
                        "checking availability…",
                    )),
                    other => v.push(Issue::error("sovereignSubdomain", other.describe())),
                }
            }
            DomainMode::ByoManual | DomainMode::ByoApi => {
                match rules::check_byo_domain(&self.domain.byo_domain) {
                    Err(m) => v.push(Issue::error("sovereignFQDN", m)),
                    Ok(()) => {
                        if let Err(m) = rules::check_fqdn_tofu(&self.domain.byo_domain) {
                            v.push(Issue::warning("sovereignFQDN", m));
                        }
                    }
                }
                v.push(Issue::warning(
                    "sovereignDomainMode",
                    "catalyst-api passes BYO modes to OpenTofu, whose domain_mode accepts only pool|byo: a BYO run may fail at tofu-plan",
                ));
                if self.domain.mode == DomainMode::ByoApi {
                    if self.domain.registrar.is_none() {
                        v.push(Issue::error("registrarType", "choose the registrar"));
                    }
                    if self.domain.registrar_token.is_empty() {
                        v.push(Issue::error(
                            "registrarToken",
                            "enter the registrar API token",
                        ));
                    }
                    match &self.registrar_status {
                        RegistrarStatus::Valid | RegistrarStatus::Incomplete => {}
                        RegistrarStatus::Unchecked => v.push(Issue::pending(
                            "registrarToken",
                            "the registrar token has not been validated yet",
                        )),
                        RegistrarStatus::Checking => v.push(Issue::pending(
                            "registrarToken",
                            "validating with the registrar…",
                        )),
                        RegistrarStatus::Failed { .. } => v.push(Issue::error(
                            "registrarToken",
                            self.registrar_status.describe(),
                        )),
                    }
                }
            }
        }
        if let Err(m) = rules::check_email(&self.domain.admin_email) {
            v.push(Issue::error("orgEmail", m));
        }
        v
    }

    fn review_issues(&self) -> Vec<Issue> {
        let mut v = Vec::new();
        for s in &Step::ALL[..6] {
            if let Err(r) = self.can_advance(*s) {
                v.push(Issue {
                    field: r.field.clone().unwrap_or_default(),
                    message: format!("step {} ({}): {}", s.number(), s, r.message),
                    severity: if self
                        .issues(*s)
                        .iter()
                        .any(|i| i.severity == Severity::Error)
                    {
                        Severity::Error
                    } else {
                        Severity::Pending
                    },
                });
                return v;
            }
        }
        for e in validate_request(&self.to_request()) {
            v.push(Issue::error(e.field, e.message));
        }
        v
    }

    // ---- Navigation -----------------------------------------------------------------------

    pub fn step(&self) -> Step {
        self.step
    }

    fn enter(&mut self, step: Step) {
        if step >= Step::Provider {
            self.seed_regions();
        }
        self.step = step;
    }

    /// Next: moves on when the current step passes.
    #[allow(clippy::should_implement_trait)] // the wizard's Next button, not an iterator
    pub fn next(&mut self) -> Result<Step, Reason> {
        self.can_advance(self.step)?;
        let next = self.step.next().ok_or_else(|| {
            Reason::new(
                Step::Review,
                None,
                "Review is the last step; provision from here",
            )
        })?;
        self.enter(next);
        Ok(next)
    }

    pub fn back(&mut self) -> Step {
        if let Some(p) = self.step.prev() {
            self.step = p;
        }
        self.step
    }

    /// Jump: backwards always; forwards only across steps that pass.
    pub fn goto(&mut self, target: Step) -> Result<Step, Reason> {
        if target > self.step {
            for s in Step::ALL[self.step.index()..target.index()].iter() {
                if *s >= Step::Provider {
                    self.seed_regions();
                }
                self.can_advance(*s)?;
            }
        }
        self.enter(target);
        Ok(target)
    }

    /// Step indicator: whether each step currently passes.
    pub fn step_done(&self, step: Step) -> bool {
        self.can_advance(step).is_ok()
    }

    /// The first step that does not pass (Review when all do).
    pub fn first_incomplete_step(&self) -> Step {
        Step::ALL[..6]
            .iter()
            .copied()
            .find(|s| self.can_advance(*s).is_err())
            .unwrap_or(Step::Review)
    }

    // ---- Review and the request -----------------------------------------------------------

    /// Σ over region rows of (control planes × CP €/h + workers × worker €/h); HA counts three
    /// control planes in the first row.
    pub fn cost(&self) -> Cost {
        let mut cost = Cost {
            eur_hour: 0.0,
            eur_month: 0.0,
            unpriced_rows: Vec::new(),
        };
        for (i, r) in self.regions.iter().enumerate() {
            let cps = if i == 0 && self.ha_enabled { 3.0 } else { 1.0 };
            let cp = r.provider.sku(&r.control_plane_size);
            let w = r.provider.sku(&r.worker_size);
            let workers = r.worker_count.max(0) as f64;
            match (cp, w) {
                (Some(cp), w) if r.worker_count == 0 || w.is_some() => {
                    cost.eur_hour += cps * cp.eur_hour + workers * w.map_or(0.0, |w| w.eur_hour);
                    cost.eur_month += cps * cp.eur_month + workers * w.map_or(0.0, |w| w.eur_month);
                }
                _ => cost.unpriced_rows.push(i),
            }
        }
        cost.eur_hour = (cost.eur_hour * 10_000.0).round() / 10_000.0;
        cost.eur_month = (cost.eur_month * 100.0).round() / 100.0;
        cost
    }

    /// Every captured value, tokens masked, the private key never.
    pub fn review(&self) -> Vec<ReviewSection> {
        let row = |l: &str, v: String| ReviewRow {
            label: l.to_string(),
            value: v,
        };
        let compliance = if self.org.compliance.is_empty() {
            "none".to_string()
        } else {
            self.org
                .compliance
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = vec![
            ReviewSection {
                step: Step::Org,
                rows: vec![
                    row("Organisation", self.effective_org_name()),
                    row("Headquarters", self.org.headquarters.clone()),
                    row("Industry", self.org.industry.clone()),
                    row("Size", self.org.size.clone()),
                    row("Compliance", compliance),
                ],
            },
            ReviewSection {
                step: Step::Topology,
                rows: vec![
                    row(
                        "Topology",
                        self.topology
                            .map_or("(none)".into(), |t| t.id().to_string()),
                    ),
                    row("Air-gap region", yes_no(self.airgap)),
                    row("HA control plane", yes_no(self.ha_enabled)),
                ],
            },
        ];
        let mut provider_rows = Vec::new();
        for (i, r) in self.regions.iter().enumerate() {
            let price = |id: &str| {
                r.provider.sku(id).map_or(String::new(), |s| {
                    format!(" (€{:.4}/h, €{:.2}/mo)", s.eur_hour, s.eur_month)
                })
            };
            let workers = if r.worker_count == 0 {
                "no workers".to_string()
            } else {
                format!(
                    "{} × {}{}",
                    r.worker_count,
                    r.worker_size,
                    price(&r.worker_size)
                )
            };
            provider_rows.push(row(
                &format!("Region {}", i + 1),
                format!(
                    "{} {} — control plane {}{}; {}",
                    r.provider,
                    r.cloud_region,
                    r.control_plane_size,
                    price(&r.control_plane_size),
                    workers
                ),
            ));
        }
        let cost = self.cost();
        provider_rows.push(row(
            "Estimated cost",
            format!("€{:.4}/h (€{:.2}/mo)", cost.eur_hour, cost.eur_month),
        ));
        out.push(ReviewSection {
            step: Step::Provider,
            rows: provider_rows,
        });
        let mut cred_rows: Vec<ReviewRow> = self
            .token_providers()
            .into_iter()
            .map(|p| {
                row(
                    &format!("{} token", p.label()),
                    format!(
                        "{} — {}",
                        self.token_masked(p),
                        self.token_status(p).describe()
                    ),
                )
            })
            .collect();
        cred_rows.push(row("Hetzner project", self.hetzner_project_id.clone()));
        let ssh = match (&self.ssh.mode, &self.ssh.fingerprint) {
            (SshMode::Generate, Some(fp)) => format!(
                "generated {fp}; private key saved to {}",
                self.ssh
                    .private_saved_to
                    .as_ref()
                    .map_or("(not saved)".into(), |p| p.display().to_string())
            ),
            _ => rules::check_ssh_public_key(&self.ssh_public_key()).map_or_else(
                |e| format!("invalid: {e}"),
                |k| {
                    format!("{} {} {}", k.key_type, k.fingerprint, k.comment)
                        .trim()
                        .to_string()
                },
            ),
        };
        cred_rows.push(row("SSH public key", ssh));
        out.push(ReviewSection {
            step: Step::Credentials,
            rows: cred_rows,
        });
        out.push(ReviewSection {
            step: Step::Components,
            rows: vec![row(
                "Components",
                format!(
                    "{} selected: {}",
                    self.selection.len(),
                    self.selection.ids().collect::<Vec<_>>().join(", ")
                ),
            )],
        });
        let mut domain_rows = vec![
            row("Domain mode", self.domain.mode.to_string()),
            row(
                "Sovereign FQDN",
                self.fqdn().unwrap_or_else(|| "(incomplete)".into()),
            ),
        ];
        match self.domain.mode {
            DomainMode::Pool => domain_rows.push(row("Pool domain", self.pool_apex())),
            DomainMode::ByoManual => domain_rows.push(row(
                "Name servers to set",
                catalog::OPENOVA_NAMESERVERS.join(", "),
            )),
            DomainMode::ByoApi => {
                domain_rows.push(row(
                    "Registrar",
                    self.domain
                        .registrar
                        .map_or("(none)".into(), |r| r.to_string()),
                ));
                domain_rows.push(row("Registrar token", self.registrar_token_masked()));
            }
        }
        domain_rows.push(row("Admin e-mail", self.domain.admin_email.clone()));
        out.push(ReviewSection {
            step: Step::Domain,
            rows: domain_rows,
        });
        out
    }

    /// The create body of contract §4.8, built from the current values (valid or not).
    pub fn to_request(&self) -> DeploymentRequest {
        let first = self.regions.first();
        let (sub, pool) = match self.domain.mode {
            DomainMode::Pool => (self.domain.subdomain.clone(), self.pool_apex()),
            // [I] The UI still sends the pool fields in BYO modes; empty says "not a pool run".
            _ => (String::new(), String::new()),
        };
        DeploymentRequest {
            org_name: self.effective_org_name(),
            org_email: self.domain.admin_email.clone(),
            sovereign_fqdn: self.fqdn().unwrap_or_default(),
            sovereign_domain_mode: self.domain.mode.as_str().to_string(),
            sovereign_pool_domain: pool,
            sovereign_subdomain: sub,
            hetzner_token: self
                .tokens
                .get(&Provider::Hetzner)
                .map_or(String::new(), |c| c.token.expose().to_string()),
            hetzner_project_id: self.hetzner_project_id.clone(),
            region: first
                .map(|r| r.cloud_region.clone())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "fsn1".into()),
            control_plane_size: first.map_or(String::new(), |r| r.control_plane_size.clone()),
            worker_size: first.map_or(String::new(), |r| r.worker_size.clone()),
            worker_count: first.map_or(0, |r| r.worker_count),
            ha_enabled: self.ha_enabled,
            regions: self
                .regions
                .iter()
                .map(|r| RegionRequest {
                    provider: r.provider.as_str().into(),
                    cloud_region: r.cloud_region.clone(),
                    control_plane_size: r.control_plane_size.clone(),
                    worker_size: r.worker_size.clone(),
                    worker_count: r.worker_count,
                })
                .collect(),
            ssh_public_key: self.ssh_public_key(),
        }
    }

    /// Provision: the request, if Review passes.
    pub fn provision(&mut self) -> Result<DeploymentRequest, Reason> {
        self.can_advance(Step::Review)?;
        self.api_notice = None;
        Ok(self.to_request())
    }

    /// A non-2xx answer to the create POST: placed on its step and field, the wizard moved there,
    /// nothing typed is lost. A 409 marks the subdomain taken so it must be changed.
    pub fn apply_create_error(
        &mut self,
        status: u16,
        content_type: Option<&str>,
        body: &str,
    ) -> ApiProblem {
        let problem = classify_create_error(status, content_type, body);
        if status == 409 || problem.code.as_deref() == Some("subdomain-conflict") {
            self.availability_ticket = None;
            self.availability = Availability::Taken {
                reason: "subdomain-conflict".into(),
                detail: problem.message.clone(),
            };
        } else if let (Some(field), false) = (&problem.field, problem.transient) {
            self.server_errors
                .insert(field.clone(), problem.message.clone());
        } else {
            self.api_notice = Some(problem.clone());
        }
        self.step = problem.step;
        problem
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// Which step owns a wire field.
pub fn field_step(field: &str) -> Step {
    match field {
        f if f.starts_with("regions") => Step::Provider,
        "orgName" | "orgIndustry" | "orgSize" | "orgHeadquarters" => Step::Org,
        "topology" | "haEnabled" => Step::Topology,
        "region" | "controlPlaneSize" | "workerSize" | "workerCount" => Step::Provider,
        f if f.starts_with("tokens.") => Step::Credentials,
        "hetznerToken" | "hetznerProjectID" | "sshPublicKey" | "sshPrivateKeyPath" => {
            Step::Credentials
        }
        "components" => Step::Components,
        "sovereignFQDN"
        | "sovereignDomainMode"
        | "sovereignPoolDomain"
        | "sovereignSubdomain"
        | "registrarType"
        | "registrarToken"
        | "orgEmail" => Step::Domain,
        _ => Step::Review,
    }
}
