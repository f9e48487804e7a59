//! Runbook §1.2's pre-flight checklist, A to H, checked rather than read: every item comes back
//! ✓ / ✗ / ? with the evidence it was decided on and, when it is not ✓, the runbook's fix.
//!
//! * A — the Hetzner token reads and writes (a write that cannot succeed: `POST /ssh_keys {}` is
//!   refused with 403 for a read-only token and 422 otherwise), and the project holds no other
//!   Sovereign's objects (the ownership rule's label evidence, `hetzner::ownership`).
//! * B — the SSH public key (the wizard's rule, `wizard::rules::check_ssh_public_key`).
//! * C — the subdomain is free at PDM (`GET /api/v1/pool/{pool}/check?sub=`) and not a
//!   forbidden test domain.
//! * D — `openova-system/dynadot-api-credentials` has `api-key`, `api-secret`, `domain`;
//!   `pool-domain-manager` is 1/1 ready; PDM's `/healthz` says `{"status":"ok"}`.
//! * E — `catalyst/catalyst-ghcr-pull-token` has a non-empty `token`.
//! * F — PowerDNS serves every pool zone (an SOA at each apex).
//! * G — every bp-* chart of the kit is in the registry at its target version (OCI manifest HEAD,
//!   with the anonymous Bearer-token exchange ghcr.io asks for: [`oci`]).
//! * H — the release workflow's last runs on main all concluded `success`.
//!
//! The mothership is reached with kube-rs; PDM, the registry and CI with reqwest, every call
//! bounded by `provision::limits`.

mod checks;
pub mod gate;
pub mod kit;
pub mod oci;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::fleet_file::MothershipEntry;
use crate::provision::hetzner::client::Credentials;
use crate::provision::limits::Limits;
use crate::provision::wizard::request::DeploymentRequest;

pub use checks::run;

/// ✓ / ✗ / ?.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Could not be decided (no input for it, or its source did not answer).
    Unknown,
}

impl Verdict {
    /// The mark the runbook's reader expects, with a word so the state never rests on a glyph or
    /// colour alone.
    pub fn mark(self) -> &'static str {
        match self {
            Verdict::Pass => "✓ ok",
            Verdict::Fail => "✗ FAIL",
            Verdict::Unknown => "? unknown",
        }
    }
}

/// One checklist item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// `A` … `H`.
    pub id: String,
    pub title: String,
    pub verdict: Verdict,
    /// What was seen (one line each).
    pub evidence: Vec<String>,
    /// The runbook's fix; shown whenever the item is not ✓.
    pub fix: String,
}

/// The whole checklist for one Sovereign-to-be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub fqdn: String,
    pub items: Vec<Item>,
}

impl Report {
    pub fn failed(&self) -> Vec<&Item> {
        self.items
            .iter()
            .filter(|i| i.verdict == Verdict::Fail)
            .collect()
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    /// One line: counts of each verdict.
    pub fn summary(&self) -> String {
        let n = |v| self.items.iter().filter(|i| i.verdict == v).count();
        format!(
            "{} ok, {} failed, {} unknown",
            n(Verdict::Pass),
            n(Verdict::Fail),
            n(Verdict::Unknown)
        )
    }
}

/// What the checklist is run with.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The deployment request (`--from REQ`, or the wizard's draft): FQDN, pool, SSH key.
    pub request: Option<DeploymentRequest>,
    /// The FQDN when there is no request.
    pub fqdn: Option<String>,
    /// The Hetzner credentials (the one credential rule), or why there are none.
    pub hetzner: Result<Credentials, String>,
    /// Sovereigns the caller knows of (fleet file), for the ownership rule.
    pub known_sovereigns: Vec<String>,
    /// `[mothership]` of the fleet file.
    pub mothership: Option<MothershipEntry>,
    /// The kit whose bp-* charts G looks for (default: the bootstrap kit).
    pub kit: kit::KitPins,
    pub limits: Limits,
    /// Bearer token for GitHub's API (`GITHUB_TOKEN`), never shown.
    pub github_token: Option<String>,
    /// The kubeconfig chain used when `[mothership]` names no file.
    pub default_kubeconfig: Option<PathBuf>,
}

/// The runbook's forbidden test domains (§1.2 C, DOD.md).
pub const FORBIDDEN_DOMAINS: &[&str] = &["openova.io", "omantel.openova.io", "eventforge.io"];

/// The runbook's fix for each item.
pub fn fix(id: &str) -> &'static str {
    match id {
        "A" => {
            "Use a separate Hetzner Cloud project per Sovereign (console.hetzner.cloud → Projects) and a Read & Write API token from it (Project → Security → API Tokens → New Token); store it in 1Password (OpenOva — Production, 'Catalyst — Hetzner Cloud token (<sovereign-fqdn>)')."
        }
        "B" => {
            "ssh-keygen -t ed25519 -C \"sovereign-admin@<your-org>\" -f ~/.ssh/sovereign_admin -N \"\" — then paste the PUBLIC half (*.pub): one unbroken line starting ssh-ed25519 AAAA…"
        }
        "C" => {
            "Pick a free subdomain of a pool zone (omani.works, omani.homes, omani.rest, omani.trade, omantel.biz) — if the name is a leftover of a failed run, run the §2.2 recovery first, then reuse it. Never use a forbidden test domain (openova.io, omantel.openova.io, Nova Cloud, eventforge.io)."
        }
        "D" => {
            "kubectl -n openova-system get secret dynadot-api-credentials (keys api-key, api-secret, domain); kubectl -n openova-system get deploy pool-domain-manager must show 1/1 READY; kubectl -n openova-system exec deploy/pool-domain-manager -- wget -q -O - http://localhost:8080/healthz must return {\"status\":\"ok\"}."
        }
        "E" => {
            "Create a fine-grained token with packages:read on org openova-io (github.com/settings/tokens?type=beta) and store it as secret catalyst/catalyst-ghcr-pull-token, key token: kubectl -n catalyst create secret generic catalyst-ghcr-pull-token --from-literal=token=<PAT>."
        }
        "F" => {
            "Bootstrap the missing pool zones in PowerDNS (PLATFORM-POWERDNS.md §\"Pool zone bootstrap\"); check with kubectl -n openova-system exec deploy/powerdns -- pdnsutil list-all-zones."
        }
        "G" => {
            "Publish the missing bp-* charts at the target versions of clusters/_template/bootstrap-kit/*.yaml before provisioning."
        }
        "H" => {
            "Do not provision; fix CI first. Check: gh run list --workflow=blueprint-release.yaml --limit 5 --json conclusion,headBranch,event --repo openova-io/openova — every recent run on main must show \"conclusion\": \"success\"."
        }
        _ => "",
    }
}

/// The title of each item.
pub fn title(id: &str) -> &'static str {
    match id {
        "A" => "Hetzner project + Read & Write token",
        "B" => "SSH public key",
        "C" => "Pool subdomain free",
        "D" => "Dynadot credentials + PDM ready and healthy",
        "E" => "GHCR pull token",
        "F" => "PowerDNS pool zones",
        "G" => "bp-* charts published at target version",
        "H" => "Release workflow green",
        _ => "",
    }
}

/// The items in order.
pub const IDS: [&str; 8] = ["A", "B", "C", "D", "E", "F", "G", "H"];

/// The inputs for a checklist from the fleet file (`[mothership]`, known Sovereigns, the
/// Hetzner token by the one credential rule) and a request or FQDN. Blocking (a `token_cmd` may
/// run): call it from `spawn_blocking` in async code.
pub fn inputs_from_fleet(
    fleet_file: &std::path::Path,
    request: Option<DeploymentRequest>,
    fqdn: Option<String>,
    limits: Limits,
) -> Result<Inputs, String> {
    let fleet = if fleet_file.exists() {
        Some(crate::config::fleet_file::load(fleet_file).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let fqdn = request
        .as_ref()
        .map(|r| r.sovereign_fqdn.clone())
        .filter(|f| !f.is_empty())
        .or(fqdn);
    let Some(name) = fqdn.clone() else {
        return Err("give the Sovereign-to-be: --from REQUEST or --fqdn FQDN".into());
    };
    let request_token = request
        .as_ref()
        .map(|r| r.hetzner_token.clone())
        .filter(|t| !t.is_empty());
    let hetzner = crate::provision::hetzner::credentials::resolve(
        &name,
        Some(fleet_file),
        request_token.as_deref(),
    )
    .map_err(|e| e.to_string());
    Ok(Inputs {
        request,
        fqdn,
        hetzner,
        known_sovereigns: fleet
            .as_ref()
            .map(|f| f.sovereigns.iter().map(|s| s.fqdn.clone()).collect())
            .unwrap_or_default(),
        mothership: fleet.and_then(|f| f.mothership),
        kit: kit::KitPins::bootstrap_kit(),
        limits,
        github_token: std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()),
        default_kubeconfig: None,
    })
}
