//! An evidence set as stored in `fixtures/troubleshoot/evidence/*.json`: what catalyst-api and
//! the cluster say in one scenario, plus the leaf a walk must land on. The simulated world's
//! scenarios reuse the same messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::evidence::Evidence;
use super::gather::{CatalystSnapshot, ClusterSnapshot};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceFixture {
    /// The leaf the walk must land on, or `null` when the walk must stop and ask.
    pub leaf: Option<String>,
    /// When `leaf` is null: the node where the walk must ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asks: Option<String>,
    pub fqdn: String,
    #[serde(default)]
    pub description: String,
    /// A substring of the evidence line that must decide the last question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cites: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalyst: Option<CatalystSnapshot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterSnapshot>,
    /// Raw lines for sources a fixture states directly (e.g. HTTP probe answers).
    #[serde(default)]
    pub lines: BTreeMap<String, Vec<String>>,
}

impl EvidenceFixture {
    pub fn evidence(&self) -> Evidence {
        let mut ev = Evidence::new();
        if let Some(c) = &self.catalyst {
            c.add_to(&mut ev);
        }
        if let Some(k) = &self.cluster {
            k.add_to(&mut ev, &self.fqdn);
        }
        for (source, lines) in &self.lines {
            ev.mark(source);
            for l in lines {
                ev.push(source, l.clone(), Some("fixture".into()));
            }
        }
        ev
    }
}
