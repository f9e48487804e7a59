//! The mothership (Catalyst-Zero) as a recovery reaches it (runbook §2.2 steps 2 and 3): its
//! apiserver by the fleet file's `[mothership]` kubeconfig and context (kube-rs, body-capped like
//! every cluster), commands run in its pods over `pods/exec` ([`exec`]), PDM's allocation state
//! and release ([`pdm`]), and catalyst-api's deployment records as the files of its pod
//! ([`records`]).

pub mod exec;
pub mod pdm;
pub mod records;

use std::path::Path;

use crate::config::fleet_file::MothershipEntry;
use crate::provision::limits::Limits;

/// A kube client for the mothership: `[mothership] kubeconfig` (else `default_kubeconfig`, else
/// the default chain) at its context, under `limits` (connect and read deadlines, body cap).
pub async fn client(
    m: &MothershipEntry,
    default_kubeconfig: Option<&Path>,
    limits: &Limits,
) -> Result<kube::Client, String> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let path = m.kubeconfig.as_deref().or(default_kubeconfig);
    let kc = match path {
        Some(p) => {
            Kubeconfig::read_from(p).map_err(|e| format!("kubeconfig {}: {e}", p.display()))?
        }
        None => Kubeconfig::read().map_err(|e| format!("kubeconfig: {e}"))?,
    };
    let opts = KubeConfigOptions {
        context: Some(m.context.clone()),
        ..Default::default()
    };
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| format!("mothership context {}: {e}", m.context))?;
    cfg.connect_timeout = Some(limits.connect);
    cfg.read_timeout = Some(limits.request);
    crate::provision::kube_transport::client(cfg, &m.context, limits.max_body)
        .map_err(|e| format!("mothership context {}: {e}", m.context))
}

use serde::{Deserialize, Serialize};

/// Steps 2 and 3 of a recovery plan when a mothership is configured: which mothership (so the
/// armed run reaches the one the plan read), the PDM name and its state, the exact records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MothershipPlan {
    pub entry: MothershipEntry,
    /// None: no PDM URL (`[mothership] pdm` or `--pdm`); step 2 is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdm: Option<pdm::PdmPlan>,
    pub records: records::RecordsPlan,
}

/// What steps 2 and 3 did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MothershipReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdm: Option<pdm::PdmReport>,
    pub records: records::RecordsReport,
}

impl MothershipReport {
    /// PDM or a record was not as the plan showed: left alone, and the operator must look.
    pub fn changed_since_plan(&self) -> bool {
        self.pdm.as_ref().is_some_and(|p| p.changed_since_plan) || self.records.changed()
    }
}
