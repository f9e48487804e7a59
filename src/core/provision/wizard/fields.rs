//! The plain data of each step: organisation profile, topology templates, region rows, SSH key
//! and domain settings, with the defaults of contract §4.2–4.7.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::catalog::{Provider, Registrar};

/// A secret typed by the operator. Not serializable, `Debug` shows nothing of it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The value, for the one place that needs it (the request body or a check body).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

pub const DEFAULT_ORG_NAME: &str = "Acme Financial";
pub const DEFAULT_HEADQUARTERS: &str = "Frankfurt, Germany";
pub const DEFAULT_ADMIN_EMAIL: &str = "platform@acme.io";

pub const INDUSTRIES: [&str; 11] = [
    "Financial Services",
    "Banking",
    "Insurance",
    "Healthcare",
    "Telecommunications",
    "Energy & Utilities",
    "Retail",
    "Manufacturing",
    "Government",
    "Technology",
    "Other",
];

pub const ORG_SIZES: [&str; 5] = [
    "Under 100",
    "100–500",
    "500–2,000",
    "2,000–10,000",
    "10,000+",
];

pub const COMPLIANCE_FRAMES: [&str; 8] = [
    "PCI DSS",
    "ISO 27001",
    "SOC 2",
    "GDPR",
    "HIPAA",
    "DORA",
    "NIS2",
    "FedRAMP",
];

/// Step 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgProfile {
    pub name: String,
    pub headquarters: String,
    pub industry: String,
    pub size: String,
    pub compliance: BTreeSet<String>,
}

impl Default for OrgProfile {
    fn default() -> Self {
        OrgProfile {
            name: DEFAULT_ORG_NAME.into(),
            headquarters: DEFAULT_HEADQUARTERS.into(),
            industry: "Financial Services".into(),
            size: "2,000–10,000".into(),
            compliance: BTreeSet::new(),
        }
    }
}

/// Step 2 templates (`model.ts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Topology {
    Citadel,
    Dual,
    Zoned,
    Compact,
    Solo,
    /// In the model, not in the picker.
    Triangle,
}

impl Topology {
    /// The picker's templates, in order.
    pub const PICKER: [Topology; 5] = [
        Topology::Citadel,
        Topology::Dual,
        Topology::Zoned,
        Topology::Compact,
        Topology::Solo,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Topology::Citadel => "citadel",
            Topology::Dual => "dual",
            Topology::Zoned => "zoned",
            Topology::Compact => "compact",
            Topology::Solo => "solo",
            Topology::Triangle => "triangle",
        }
    }

    pub fn parse(s: &str) -> Option<Topology> {
        Topology::PICKER
            .into_iter()
            .chain([Topology::Triangle])
            .find(|t| t.id().eq_ignore_ascii_case(s.trim()))
    }

    /// Region rows the template needs (before the air-gap row).
    pub fn region_count(self) -> usize {
        match self {
            Topology::Citadel => 4,
            Topology::Dual | Topology::Zoned | Topology::Compact => 2,
            Topology::Triangle => 3,
            Topology::Solo => 1,
        }
    }

    pub fn recommended(self) -> bool {
        self == Topology::Dual
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One region row of Step 3 (one per topology slot, plus the air-gap row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionRow {
    pub provider: Provider,
    pub cloud_region: String,
    pub control_plane_size: String,
    pub worker_size: String,
    pub worker_count: i64,
}

impl RegionRow {
    /// A row on `provider` in `region` with the recommended SKU for both roles and no workers.
    pub fn new(provider: Provider, region: &str) -> Self {
        let sku = provider.recommended_sku().id;
        RegionRow {
            provider,
            cloud_region: region.to_string(),
            control_plane_size: sku.into(),
            worker_size: sku.into(),
            worker_count: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SshMode {
    /// `POST /sshkey/generate`; the private half goes to a file the operator confirms.
    Generate,
    /// A public key pasted by the operator.
    Paste,
}

/// Step 4's SSH key. The private half of a generated key lives only in memory until written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKeyState {
    pub mode: SshMode,
    pub pasted: String,
    pub generated_public: Option<String>,
    pub fingerprint: Option<String>,
    pub(crate) private_key: Option<Secret>,
    pub private_saved_to: Option<std::path::PathBuf>,
    pub generate_error: Option<String>,
}

impl Default for SshKeyState {
    fn default() -> Self {
        SshKeyState {
            mode: SshMode::Generate,
            pasted: String::new(),
            generated_public: None,
            fingerprint: None,
            private_key: None,
            private_saved_to: None,
            generate_error: None,
        }
    }
}

impl SshKeyState {
    /// Whether a generated private key is waiting to be written somewhere.
    pub fn private_key_pending(&self) -> bool {
        self.private_key.is_some()
    }
}

/// `sovereignDomainMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DomainMode {
    #[serde(rename = "pool")]
    Pool,
    #[serde(rename = "byo-manual", alias = "byo")]
    ByoManual,
    #[serde(rename = "byo-api")]
    ByoApi,
}

impl DomainMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DomainMode::Pool => "pool",
            DomainMode::ByoManual => "byo-manual",
            DomainMode::ByoApi => "byo-api",
        }
    }

    /// Accepts the legacy persisted `byo` as `byo-manual`.
    pub fn parse(s: &str) -> Option<DomainMode> {
        match s.trim() {
            "pool" => Some(DomainMode::Pool),
            "byo-manual" | "byo" => Some(DomainMode::ByoManual),
            "byo-api" => Some(DomainMode::ByoApi),
            _ => None,
        }
    }
}

impl fmt::Display for DomainMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Step 6's typed values (live statuses live in the wizard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainFields {
    pub mode: DomainMode,
    pub pool_id: String,
    pub subdomain: String,
    pub byo_domain: String,
    pub registrar: Option<Registrar>,
    pub registrar_token: Secret,
    pub admin_email: String,
}
