//! Deterministic names and labels of contract §5.3. The two naming variants disagree ([M] main.tf vs
//! [R] runbook §1.5), so the variant is a knob; recovery matches both.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::inventory::Kind;

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

/// The slugs whose Sovereign would give an object of `kind` exactly this `name`, in either
/// naming variant, for every role and index. Usually none or one; two when the name is one
/// Sovereign's key in [R] and another's in [M] (`catalyst-a-b-ssh` is `a.b`'s `-ssh` key and
/// `a.b.ssh`'s plain key), which ownership then treats as ambiguous. Kinds without deterministic
/// names (volumes, IPs) never match, and a longer sibling never does: `omantel-com` is not
/// `omantel-com-om`.
pub fn slugs_naming(kind: Kind, name: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(rest) = name.strip_prefix("catalyst-") else {
        return out;
    };
    // A server's index is its trailing digits (1-based, written without leading zeros).
    let digits = rest.len() - rest.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let index = rest[rest.len() - digits..]
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0 && !rest[rest.len() - digits..].starts_with('0'));
    for (cut, _) in rest.char_indices().skip(1) {
        let slug = &rest[..cut];
        if slug.ends_with('-') {
            continue;
        }
        let names = |v| Names::from_slug(slug, v);
        let spelled = [NamingVariant::M, NamingVariant::R]
            .into_iter()
            .any(|v| names(v).of_kind(kind, index).contains(&name.to_string()));
        if spelled {
            out.insert(slug.to_string());
        }
    }
    // The stem alone is a slug too (the [M] SSH key `catalyst-<slug>`).
    if !rest.is_empty()
        && [NamingVariant::M, NamingVariant::R].into_iter().any(|v| {
            Names::from_slug(rest, v)
                .of_kind(kind, index)
                .contains(&name.to_string())
        })
    {
        out.insert(rest.to_string());
    }
    out
}

/// The role a server's deterministic name gives it, when `name` is one of `fqdn`'s server names.
pub fn server_role(fqdn: &str, name: &str) -> Option<ServerRole> {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let n: u32 = name[name.len() - digits..].parse().ok()?;
    [NamingVariant::M, NamingVariant::R]
        .into_iter()
        .find_map(|v| {
            let names = Names::new(fqdn, v);
            if names.control_plane(n) == name {
                Some(ServerRole::ControlPlane)
            } else if names.worker(n) == name {
                Some(ServerRole::Worker)
            } else {
                None
            }
        })
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

    fn from_slug(slug: &str, variant: NamingVariant) -> Self {
        Names {
            variant,
            stem: format!("catalyst-{slug}"),
        }
    }

    /// Every name this variant gives an object of `kind`; servers at `index` (both roles).
    pub fn of_kind(&self, kind: Kind, index: Option<u32>) -> Vec<String> {
        match kind {
            Kind::Network => vec![self.network()],
            Kind::Firewall => vec![self.firewall()],
            Kind::SshKey => vec![self.ssh_key()],
            Kind::LoadBalancer => vec![self.load_balancer()],
            Kind::Server => index
                .map(|n| vec![self.control_plane(n), self.worker(n)])
                .unwrap_or_default(),
            Kind::Volume | Kind::FloatingIp | Kind::PrimaryIp => Vec::new(),
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

    fn slugs(kind: Kind, name: &str) -> Vec<String> {
        slugs_naming(kind, name).into_iter().collect()
    }

    #[test]
    fn names_match_exactly_never_a_longer_sibling() {
        assert_eq!(
            slugs(Kind::SshKey, "catalyst-t1-omani-works"),
            ["t1-omani-works"]
        );
        assert_eq!(
            slugs(Kind::Server, "catalyst-t1-omani-works-cp1"),
            ["t1-omani-works"]
        );
        assert_eq!(
            slugs(Kind::Server, "catalyst-t1-omani-works-worker-12"),
            ["t1-omani-works"]
        );
        assert_eq!(
            slugs(Kind::Network, "catalyst-t1-omani-works-network"),
            ["t1-omani-works"]
        );
        assert_eq!(
            slugs(Kind::Server, "catalyst-t11-omani-works-cp1"),
            ["t11-omani-works"]
        );
        // omantel.com never claims omantel.com.om's objects.
        assert_eq!(
            slugs(Kind::Network, "catalyst-omantel-com-om-net"),
            ["omantel-com-om"]
        );
        assert_eq!(
            slugs(Kind::SshKey, "catalyst-omantel-com-om"),
            ["omantel-com-om"]
        );
        // Kind-aware: a network name is not a server's, volumes and IPs have no names of ours.
        assert!(slugs(Kind::Server, "catalyst-t1-omani-works-net").is_empty());
        assert!(slugs(Kind::Volume, "catalyst-t1-omani-works-cp1").is_empty());
        assert!(slugs(Kind::PrimaryIp, "primary_ip-123456").is_empty());
        assert!(slugs(Kind::Server, "catalyst-t1-omani-works-cp01").is_empty());
        assert!(slugs(Kind::Server, "catalyst-t1-omani-works-cp0").is_empty());
        assert!(slugs(Kind::Firewall, "catalyst-t1-omani-worksx-fw").len() == 1);
        assert!(slugs(Kind::Firewall, "catalyst-t1-omani-works-fwx").is_empty());
        // The one spelling two slugs share: [R] key of a.b, [M] key of a.b.ssh.
        assert_eq!(slugs(Kind::SshKey, "catalyst-a-b-ssh"), ["a-b", "a-b-ssh"]);
    }
}
