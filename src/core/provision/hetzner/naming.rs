//! Deterministic names and labels of contract §5.3. The two naming variants disagree ([M] main.tf vs
//! [R] runbook §1.5), so the variant is a knob; recovery matches both.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub const SOVEREIGN_LABEL: &str = "catalyst.openova.io/sovereign";
pub const ROLE_LABEL: &str = "catalyst.openova.io/role";

/// Which spelling of the resource names to create.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NamingVariant {
    /// `infra/hetzner/main.tf`: `-net`, `catalyst-<slug>` key, `-cp1`, `-w1`.
    #[default]
    M,
    /// Runbook §1.5: `-network`, `-ssh`, `-cp-1`, `-worker-1`.
    R,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerRole {
    ControlPlane,
    Worker,
}

impl ServerRole {
    pub fn label(self) -> &'static str {
        match self {
            ServerRole::ControlPlane => "control-plane",
            ServerRole::Worker => "worker",
        }
    }
}

/// `t42.omani.works` → `t42-omani-works`.
pub fn slug(fqdn: &str) -> String {
    fqdn.replace('.', "-")
}

/// The name stem every object of a Sovereign starts with.
pub fn prefix(fqdn: &str) -> String {
    format!("catalyst-{}", slug(fqdn))
}

/// True when `name` is one of this Sovereign's deterministic names (either variant): exactly the
/// stem or the stem followed by `-`, so `t1` never claims `t11`'s objects.
pub fn name_matches(fqdn: &str, name: &str) -> bool {
    let stem = prefix(fqdn);
    name == stem
        || name
            .strip_prefix(&stem)
            .is_some_and(|rest| rest.starts_with('-'))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub variant: NamingVariant,
    stem: String,
}

impl Names {
    pub fn new(fqdn: &str, variant: NamingVariant) -> Self {
        Names {
            variant,
            stem: prefix(fqdn),
        }
    }

    pub fn network(&self) -> String {
        match self.variant {
            NamingVariant::M => format!("{}-net", self.stem),
            NamingVariant::R => format!("{}-network", self.stem),
        }
    }

    pub fn firewall(&self) -> String {
        format!("{}-fw", self.stem)
    }

    pub fn ssh_key(&self) -> String {
        match self.variant {
            NamingVariant::M => self.stem.clone(),
            NamingVariant::R => format!("{}-ssh", self.stem),
        }
    }

    /// 1-based index.
    pub fn control_plane(&self, n: u32) -> String {
        match self.variant {
            NamingVariant::M => format!("{}-cp{n}", self.stem),
            NamingVariant::R => format!("{}-cp-{n}", self.stem),
        }
    }

    /// 1-based index.
    pub fn worker(&self, n: u32) -> String {
        match self.variant {
            NamingVariant::M => format!("{}-w{n}", self.stem),
            NamingVariant::R => format!("{}-worker-{n}", self.stem),
        }
    }

    pub fn load_balancer(&self) -> String {
        format!("{}-lb", self.stem)
    }
}

pub fn sovereign_labels(fqdn: &str) -> HashMap<String, String> {
    HashMap::from([(SOVEREIGN_LABEL.to_string(), fqdn.to_string())])
}

pub fn server_labels(fqdn: &str, role: ServerRole) -> HashMap<String, String> {
    let mut labels = sovereign_labels(fqdn);
    labels.insert(ROLE_LABEL.to_string(), role.label().to_string());
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_variants_spell_the_contract_names() {
        let m = Names::new("t42.omani.works", NamingVariant::M);
        assert_eq!(m.network(), "catalyst-t42-omani-works-net");
        assert_eq!(m.ssh_key(), "catalyst-t42-omani-works");
        assert_eq!(m.control_plane(2), "catalyst-t42-omani-works-cp2");
        assert_eq!(m.worker(1), "catalyst-t42-omani-works-w1");
        let r = Names::new("t42.omani.works", NamingVariant::R);
        assert_eq!(r.network(), "catalyst-t42-omani-works-network");
        assert_eq!(r.ssh_key(), "catalyst-t42-omani-works-ssh");
        assert_eq!(r.control_plane(1), "catalyst-t42-omani-works-cp-1");
        assert_eq!(r.worker(3), "catalyst-t42-omani-works-worker-3");
        assert_eq!(r.load_balancer(), "catalyst-t42-omani-works-lb");
        assert_eq!(r.firewall(), "catalyst-t42-omani-works-fw");
    }

    #[test]
    fn name_match_does_not_claim_a_longer_sibling() {
        assert!(name_matches("t1.omani.works", "catalyst-t1-omani-works"));
        assert!(name_matches(
            "t1.omani.works",
            "catalyst-t1-omani-works-cp1"
        ));
        assert!(!name_matches(
            "t1.omani.works",
            "catalyst-t11-omani-works-cp1"
        ));
        assert!(!name_matches("t1.omani.works", "catalyst-t1-omani-worksx"));
        assert!(!name_matches("t1.omani.works", "primary_ip-123456"));
    }
}
