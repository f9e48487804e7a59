//! The provider catalogue of contract §4.4 (`providerSizes.ts`): providers, their regions, node sizes
//! with €/h and €/mo, the recommended default, the HQ → provider/region hint, and the pool and
//! registrar lists of §4.7. Hetzner prices are native EUR; the others are USD list × 0.92 as the UI
//! computes them (€/h rounded to 4 dp, €/mo = €/h × 730 rounded to 2 dp).
//!
//! The library's one home for regions and prices: Phase 0 (`provision::hetzner`) validates regions,
//! picks network zones and estimates cost from this file too.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Cloud providers the wizard offers. Only Hetzner is provisioned today; the others are design-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Hetzner,
    Huawei,
    Oci,
    Aws,
    Azure,
}

impl Provider {
    pub const ALL: [Provider; 5] = [
        Provider::Hetzner,
        Provider::Huawei,
        Provider::Oci,
        Provider::Aws,
        Provider::Azure,
    ];

    /// The wire name (`regions[].provider`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Hetzner => "hetzner",
            Provider::Huawei => "huawei",
            Provider::Oci => "oci",
            Provider::Aws => "aws",
            Provider::Azure => "azure",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        let s = s.trim();
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }

    pub fn label(self) -> &'static str {
        match self {
            Provider::Hetzner => "Hetzner Cloud",
            Provider::Huawei => "Huawei Cloud",
            Provider::Oci => "Oracle Cloud (OCI)",
            Provider::Aws => "Amazon Web Services",
            Provider::Azure => "Microsoft Azure",
        }
    }

    /// Whether catalyst-api can actually provision on this provider (runbook §1.3: Hetzner only).
    pub fn is_provisionable(self) -> bool {
        self == Provider::Hetzner
    }

    /// `PROVIDER_REGIONS`, in picker order.
    pub fn regions(self) -> &'static [&'static str] {
        match self {
            Provider::Hetzner => &HETZNER_REGIONS,
            Provider::Huawei => &[
                "eu-west-101",
                "eu-west-204",
                "cn-north-4",
                "ap-southeast-1",
                "me-east-1",
            ],
            Provider::Oci => &[
                "eu-frankfurt-1",
                "eu-amsterdam-1",
                "us-ashburn-1",
                "us-phoenix-1",
                "ap-singapore-1",
            ],
            Provider::Aws => &[
                "eu-central-1",
                "eu-west-1",
                "us-east-1",
                "us-west-2",
                "ap-southeast-1",
            ],
            Provider::Azure => &[
                "westeurope",
                "northeurope",
                "eastus",
                "westus2",
                "southeastasia",
            ],
        }
    }

    pub fn has_region(self, region: &str) -> bool {
        self.regions().contains(&region)
    }

    /// `PROVIDER_NODE_SIZES[provider]`.
    pub fn skus(self) -> &'static [Sku] {
        match self {
            Provider::Hetzner => HETZNER,
            Provider::Huawei => HUAWEI,
            Provider::Oci => OCI,
            Provider::Aws => AWS,
            Provider::Azure => AZURE,
        }
    }

    pub fn sku(self, id: &str) -> Option<&'static Sku> {
        self.skus().iter().find(|s| s.id == id)
    }

    /// The `recommended` SKU, the default for both control plane and workers.
    pub fn recommended_sku(self) -> &'static Sku {
        let skus = self.skus();
        skus.iter().find(|s| s.recommended).unwrap_or(&skus[0])
    }

    /// Hint shown on the token card of the Credentials step.
    pub fn token_hint(self) -> &'static str {
        match self {
            Provider::Hetzner => {
                "Hetzner Cloud Console → Project → Security → API Tokens (Read & Write)"
            }
            Provider::Huawei => "Huawei Cloud IAM access key (design-only provider)",
            Provider::Oci => "OCI API signing key (design-only provider)",
            Provider::Aws => "AWS access key (design-only provider)",
            Provider::Azure => "Azure service principal secret (design-only provider)",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hetzner locations in picker order, each with the network zone its subnet must name (contract
/// §5.3).
const HETZNER_LOCATIONS: [(&str, &str); 5] = [
    ("fsn1", "eu-central"),
    ("nbg1", "eu-central"),
    ("hel1", "eu-central"),
    ("ash", "us-east"),
    ("hil", "us-west"),
];

const HETZNER_REGIONS: [&str; 5] = {
    let mut regions = [""; 5];
    let mut i = 0;
    while i < regions.len() {
        regions[i] = HETZNER_LOCATIONS[i].0;
        i += 1;
    }
    regions
};

/// The network zone of a Hetzner location; `None` for a place Hetzner does not have.
pub fn hetzner_network_zone(region: &str) -> Option<&'static str> {
    HETZNER_LOCATIONS
        .iter()
        .find(|(location, _)| *location == region)
        .map(|(_, zone)| *zone)
}

/// List price of `lb11`, the load balancer Phase 0 creates (Hetzner price list, EUR excl. VAT):
/// (€/h, €/mo). The wizard does not show it; the Phase-0 cost estimate adds it.
pub const HETZNER_LB11_PRICE: (f64, f64) = (0.0088, 5.39);

/// Disk column of the size picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disk {
    Gb(u32),
    Variable,
    EbsOnly,
}

impl fmt::Display for Disk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disk::Gb(gb) => write!(f, "{gb} GB"),
            Disk::Variable => f.write_str("Variable"),
            Disk::EbsOnly => f.write_str("EBS-only"),
        }
    }
}

/// One node size of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sku {
    pub id: &'static str,
    pub vcpu: u32,
    pub ram_gb: u32,
    pub disk: Disk,
    pub eur_hour: f64,
    pub eur_month: f64,
    pub category: &'static str,
    pub recommended: bool,
}

#[allow(clippy::too_many_arguments)]
const fn sku(
    id: &'static str,
    vcpu: u32,
    ram_gb: u32,
    disk: Disk,
    eur_hour: f64,
    eur_month: f64,
    category: &'static str,
    recommended: bool,
) -> Sku {
    Sku {
        id,
        vcpu,
        ram_gb,
        disk,
        eur_hour,
        eur_month,
        category,
        recommended,
    }
}

#[rustfmt::skip]
static HETZNER: &[Sku] = &[
    sku("cx23", 2, 4, Disk::Gb(40), 0.0064, 3.99, "shared-intel", false),
    sku("cx33", 4, 8, Disk::Gb(80), 0.0104, 6.49, "shared-intel", false),
    sku("cx43", 8, 16, Disk::Gb(160), 0.0192, 11.99, "shared-intel", false),
    sku("cx53", 16, 32, Disk::Gb(320), 0.0360, 22.49, "shared-intel", false),
    sku("cpx22", 2, 4, Disk::Gb(80), 0.0128, 7.99, "shared-amd", false),
    sku("cpx32", 4, 8, Disk::Gb(160), 0.0232, 14.49, "shared-amd", true),
    sku("cpx42", 8, 16, Disk::Gb(320), 0.0408, 25.49, "shared-amd", false),
    sku("cpx52", 12, 24, Disk::Gb(480), 0.0585, 36.49, "shared-amd", false),
    sku("cpx62", 16, 32, Disk::Gb(640), 0.0809, 50.49, "shared-amd", false),
    sku("cax11", 2, 4, Disk::Gb(40), 0.0072, 4.49, "shared-arm", false),
    sku("cax21", 4, 8, Disk::Gb(80), 0.0128, 7.99, "shared-arm", false),
    sku("cax31", 8, 16, Disk::Gb(160), 0.0256, 15.99, "shared-arm", false),
    sku("cax41", 16, 32, Disk::Gb(320), 0.0505, 31.49, "shared-arm", false),
    sku("ccx13", 2, 8, Disk::Gb(80), 0.0256, 15.99, "dedicated", false),
    sku("ccx23", 4, 16, Disk::Gb(160), 0.0505, 31.49, "dedicated", false),
    sku("ccx33", 8, 32, Disk::Gb(240), 0.1001, 62.49, "dedicated", false),
    sku("ccx43", 16, 64, Disk::Gb(360), 0.2003, 124.99, "dedicated", false),
    sku("ccx53", 32, 128, Disk::Gb(600), 0.4006, 249.99, "dedicated", false),
    sku("ccx63", 48, 192, Disk::Gb(960), 0.6001, 374.49, "dedicated", false),
];

#[rustfmt::skip]
static HUAWEI: &[Sku] = &[
    sku("s7.large.2", 2, 4, Disk::Variable, 0.0782, 57.09, "general", false),
    sku("s7.xlarge.2", 4, 8, Disk::Variable, 0.1564, 114.17, "general", false),
    sku("s7.2xlarge.2", 8, 16, Disk::Variable, 0.3128, 228.34, "general", false),
    sku("s7.4xlarge.2", 16, 32, Disk::Variable, 0.6256, 456.69, "general", false),
    sku("c7n.large.2", 2, 4, Disk::Variable, 0.092, 67.16, "compute", false),
    sku("c7n.xlarge.2", 4, 8, Disk::Variable, 0.184, 134.32, "compute", true),
    sku("c7n.2xlarge.2", 8, 16, Disk::Variable, 0.368, 268.64, "compute", false),
    sku("c7n.4xlarge.2", 16, 32, Disk::Variable, 0.736, 537.28, "compute", false),
    sku("m7.large.8", 2, 16, Disk::Variable, 0.1049, 76.58, "memory", false),
    sku("m7.xlarge.8", 4, 32, Disk::Variable, 0.2098, 153.15, "memory", false),
    sku("m7.2xlarge.8", 8, 64, Disk::Variable, 0.4195, 306.24, "memory", false),
];

#[rustfmt::skip]
static OCI: &[Sku] = &[
    sku("VM.Standard.E5.Flex.1.8", 2, 8, Disk::Variable, 0.0423, 30.88, "amd", false),
    sku("VM.Standard.E5.Flex.2.16", 4, 16, Disk::Variable, 0.0846, 61.76, "amd", true),
    sku("VM.Standard.E5.Flex.4.32", 8, 32, Disk::Variable, 0.1693, 123.59, "amd", false),
    sku("VM.Standard.E5.Flex.8.64", 16, 64, Disk::Variable, 0.3386, 247.18, "amd", false),
    sku("VM.Standard.E4.Flex.2.16", 4, 16, Disk::Variable, 0.0681, 49.71, "amd", false),
    sku("VM.Standard.E4.Flex.4.32", 8, 32, Disk::Variable, 0.1362, 99.43, "amd", false),
    sku("VM.Standard3.Flex.2.16", 4, 16, Disk::Variable, 0.0957, 69.86, "intel", false),
    sku("VM.Standard3.Flex.4.32", 8, 32, Disk::Variable, 0.1914, 139.72, "intel", false),
    sku("VM.Standard.A1.Flex.2.12", 2, 12, Disk::Variable, 0.035, 25.55, "arm", false),
    sku("VM.Standard.A1.Flex.4.24", 4, 24, Disk::Variable, 0.0699, 51.03, "arm", false),
    sku("VM.Standard.A1.Flex.8.48", 8, 48, Disk::Variable, 0.1398, 102.05, "arm", false),
];

#[rustfmt::skip]
static AWS: &[Sku] = &[
    sku("m6i.large", 2, 8, Disk::EbsOnly, 0.0883, 64.46, "general", false),
    sku("m6i.xlarge", 4, 16, Disk::EbsOnly, 0.1766, 128.92, "general", true),
    sku("m6i.2xlarge", 8, 32, Disk::EbsOnly, 0.3533, 257.91, "general", false),
    sku("m6i.4xlarge", 16, 64, Disk::EbsOnly, 0.7066, 515.82, "general", false),
    sku("c6i.large", 2, 4, Disk::EbsOnly, 0.0782, 57.09, "compute", false),
    sku("c6i.xlarge", 4, 8, Disk::EbsOnly, 0.1564, 114.17, "compute", false),
    sku("c6i.2xlarge", 8, 16, Disk::EbsOnly, 0.3128, 228.34, "compute", false),
    sku("c6i.4xlarge", 16, 32, Disk::EbsOnly, 0.6256, 456.69, "compute", false),
    sku("r6i.large", 2, 16, Disk::EbsOnly, 0.1159, 84.61, "memory", false),
    sku("r6i.xlarge", 4, 32, Disk::EbsOnly, 0.2318, 169.21, "memory", false),
    sku("r6i.2xlarge", 8, 64, Disk::EbsOnly, 0.4637, 338.5, "memory", false),
    sku("m7g.large", 2, 8, Disk::EbsOnly, 0.0751, 54.82, "arm", false),
    sku("m7g.xlarge", 4, 16, Disk::EbsOnly, 0.1501, 109.57, "arm", false),
    sku("m7g.2xlarge", 8, 32, Disk::EbsOnly, 0.3003, 219.22, "arm", false),
    sku("m7g.4xlarge", 16, 64, Disk::EbsOnly, 0.6006, 438.44, "arm", false),
];

#[rustfmt::skip]
static AZURE: &[Sku] = &[
    sku("Standard_D2s_v5", 2, 8, Disk::Variable, 0.0883, 64.46, "general", false),
    sku("Standard_D4s_v5", 4, 16, Disk::Variable, 0.1766, 128.92, "general", true),
    sku("Standard_D8s_v5", 8, 32, Disk::Variable, 0.3533, 257.91, "general", false),
    sku("Standard_D16s_v5", 16, 64, Disk::Variable, 0.7066, 515.82, "general", false),
    sku("Standard_E2s_v5", 2, 16, Disk::Variable, 0.1159, 84.61, "memory", false),
    sku("Standard_E4s_v5", 4, 32, Disk::Variable, 0.2318, 169.21, "memory", false),
    sku("Standard_E8s_v5", 8, 64, Disk::Variable, 0.4637, 338.5, "memory", false),
    sku("Standard_D2ps_v5", 2, 8, Disk::Variable, 0.0708, 51.68, "arm", false),
    sku("Standard_D4ps_v5", 4, 16, Disk::Variable, 0.1417, 103.44, "arm", false),
    sku("Standard_D8ps_v5", 8, 32, Disk::Variable, 0.2834, 206.88, "arm", false),
];

/// Provider and region order suggested by the organisation's headquarters on the first visit of the
/// Provider step (the UI's HQ regex hint). Unknown places fall back to Hetzner in picker order.
pub fn hq_hint(headquarters: &str) -> (Provider, Vec<&'static str>) {
    let hq = headquarters.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| hq.contains(w));
    if any(&["germany", "deutschland", "austria", "switzerland"]) {
        (Provider::Hetzner, vec!["fsn1", "nbg1", "hel1"])
    } else if any(&[
        "finland", "nordic", "sweden", "norway", "denmark", "iceland", "estonia",
    ]) {
        (Provider::Hetzner, vec!["hel1", "fsn1", "nbg1"])
    } else if any(&["netherlands", "holland", "amsterdam"]) {
        (Provider::Oci, vec!["eu-amsterdam-1", "eu-frankfurt-1"])
    } else if any(&["france", "paris"]) {
        (Provider::Huawei, vec!["eu-west-101", "eu-west-204"])
    } else if any(&[
        "united kingdom",
        "uk",
        "england",
        "london",
        "ireland",
        "dublin",
    ]) {
        (Provider::Aws, vec!["eu-west-1", "eu-central-1"])
    } else if any(&["united states", "usa", "u.s.", ", us", "america"]) {
        (Provider::Aws, vec!["us-east-1", "us-west-2"])
    } else if any(&["singapore", "japan", "tokyo"]) {
        (Provider::Aws, vec!["ap-southeast-1"])
    } else if any(&[
        "china",
        "hong kong",
        "hk",
        "middle east",
        "uae",
        "dubai",
        "saudi",
        "oman",
        "qatar",
        "bahrain",
        "kuwait",
    ]) {
        (Provider::Huawei, vec!["me-east-1", "cn-north-4"])
    } else if any(&["australia", "sydney", "melbourne"]) {
        (Provider::Oci, vec!["ap-singapore-1"])
    } else {
        (Provider::Hetzner, Provider::Hetzner.regions().to_vec())
    }
}

/// A pool domain of the pool picker: the wizard id (`omani-works`) and the apex sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolDomain {
    pub id: String,
    pub apex: String,
}

impl PoolDomain {
    pub fn new(id: &str, apex: &str) -> Self {
        PoolDomain {
            id: id.to_string(),
            apex: apex.to_string(),
        }
    }

    /// The pools the [M] UI offers: only `omani-works`.
    pub fn ui_default() -> Vec<PoolDomain> {
        vec![PoolDomain::new("omani-works", "omani.works")]
    }

    /// The pool zones the runbook lists (§1.2 C).
    pub fn runbook() -> Vec<PoolDomain> {
        [
            "omani.works",
            "omani.homes",
            "omani.rest",
            "omani.trade",
            "omantel.biz",
        ]
        .iter()
        .map(|apex| PoolDomain::new(&apex.replace('.', "-"), apex))
        .collect()
    }
}

/// Registrars of the `byo-api` domain mode (`/api/v1/registrar/{registrar}/validate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registrar {
    Cloudflare,
    Namecheap,
    Godaddy,
    Ovh,
    Dynadot,
}

impl Registrar {
    pub const ALL: [Registrar; 5] = [
        Registrar::Cloudflare,
        Registrar::Namecheap,
        Registrar::Godaddy,
        Registrar::Ovh,
        Registrar::Dynadot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Registrar::Cloudflare => "cloudflare",
            Registrar::Namecheap => "namecheap",
            Registrar::Godaddy => "godaddy",
            Registrar::Ovh => "ovh",
            Registrar::Dynadot => "dynadot",
        }
    }

    pub fn parse(s: &str) -> Option<Registrar> {
        let s = s.trim();
        Registrar::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }

    /// What the token field must hold for this registrar.
    pub fn token_hint(self) -> &'static str {
        match self {
            Registrar::Cloudflare => "API token with Zone:Edit + DNS:Edit",
            Registrar::Namecheap => "apiUser:apiKey:clientIP",
            Registrar::Godaddy => "key:secret",
            Registrar::Ovh => "appKey:appSecret:consumerKey",
            Registrar::Dynadot => "Dynadot API key",
        }
    }
}

impl fmt::Display for Registrar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Name servers shown for `byo-manual` (the customer points the domain at these).
pub const OPENOVA_NAMESERVERS: [&str; 3] = ["ns1.openova.io", "ns2.openova.io", "ns3.openova.io"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_five_regions_and_one_recommended_sku() {
        for p in Provider::ALL {
            assert_eq!(p.regions().len(), 5, "{p}");
            assert_eq!(p.skus().iter().filter(|s| s.recommended).count(), 1, "{p}");
        }
        assert_eq!(Provider::Hetzner.recommended_sku().id, "cpx32");
        assert_eq!(Provider::Huawei.recommended_sku().id, "c7n.xlarge.2");
        assert_eq!(
            Provider::Oci.recommended_sku().id,
            "VM.Standard.E5.Flex.2.16"
        );
        assert_eq!(Provider::Aws.recommended_sku().id, "m6i.xlarge");
        assert_eq!(Provider::Azure.recommended_sku().id, "Standard_D4s_v5");
    }

    #[test]
    fn every_hetzner_region_has_its_network_zone() {
        assert_eq!(
            Provider::Hetzner.regions(),
            ["fsn1", "nbg1", "hel1", "ash", "hil"]
        );
        let zones: Vec<_> = Provider::Hetzner
            .regions()
            .iter()
            .map(|r| hetzner_network_zone(r))
            .collect();
        assert_eq!(
            zones,
            [
                Some("eu-central"),
                Some("eu-central"),
                Some("eu-central"),
                Some("us-east"),
                Some("us-west")
            ]
        );
        assert_eq!(hetzner_network_zone("eu-central-1"), None);
    }

    #[test]
    fn catalogue_sizes_match_the_contract() {
        assert_eq!(Provider::Hetzner.skus().len(), 19);
        assert_eq!(Provider::Huawei.skus().len(), 11);
        assert_eq!(Provider::Oci.skus().len(), 11);
        assert_eq!(Provider::Aws.skus().len(), 15);
        assert_eq!(Provider::Azure.skus().len(), 10);
        let cpx52 = Provider::Hetzner.sku("cpx52").unwrap();
        assert_eq!((cpx52.vcpu, cpx52.ram_gb), (12, 24));
        assert_eq!(cpx52.eur_hour, 0.0585);
        assert_eq!(cpx52.eur_month, 36.49);
        assert_eq!(cpx52.disk.to_string(), "480 GB");
        assert_eq!(
            Provider::Aws.sku("m6i.large").unwrap().disk.to_string(),
            "EBS-only"
        );
    }

    #[test]
    fn converted_prices_follow_the_ui_formula() {
        // USD × 0.92 rounded to 4 dp; month = hour × 730 rounded to 2 dp.
        for p in [
            Provider::Huawei,
            Provider::Oci,
            Provider::Aws,
            Provider::Azure,
        ] {
            for s in p.skus() {
                let month = (s.eur_hour * 730.0 * 100.0).round() / 100.0;
                assert!(
                    (month - s.eur_month).abs() < 0.011,
                    "{} {}",
                    s.id,
                    s.eur_month
                );
            }
        }
        let usd = 0.192_f64;
        let eur = (usd * 0.92 * 10_000.0).round() / 10_000.0;
        assert_eq!(Provider::Aws.sku("m6i.xlarge").unwrap().eur_hour, eur);
    }

    #[test]
    fn hq_hints() {
        assert_eq!(
            hq_hint("Frankfurt, Germany"),
            (Provider::Hetzner, vec!["fsn1", "nbg1", "hel1"])
        );
        assert_eq!(hq_hint("Helsinki, Finland").1[0], "hel1");
        assert_eq!(hq_hint("Amsterdam, Netherlands").0, Provider::Oci);
        assert_eq!(hq_hint("Paris, France").0, Provider::Huawei);
        assert_eq!(hq_hint("London, UK").0, Provider::Aws);
        assert_eq!(hq_hint("Tokyo, Japan").0, Provider::Aws);
        assert_eq!(hq_hint("Muscat, Oman").0, Provider::Huawei);
        assert_eq!(hq_hint("Sydney, Australia").0, Provider::Oci);
        let (p, regions) = hq_hint("Atlantis");
        assert_eq!(p, Provider::Hetzner);
        assert_eq!(regions, Provider::Hetzner.regions());
        // Every hinted region exists for its provider.
        for hq in [
            "Germany",
            "Finland",
            "Netherlands",
            "France",
            "UK",
            "US",
            "Japan",
            "China",
            "Australia",
        ] {
            let (p, regions) = hq_hint(hq);
            assert!(regions.iter().all(|r| p.has_region(r)), "{hq}");
        }
    }

    #[test]
    fn pools_and_registrars() {
        assert_eq!(PoolDomain::ui_default()[0].apex, "omani.works");
        let runbook = PoolDomain::runbook();
        assert_eq!(runbook.len(), 5);
        assert_eq!(runbook[4].id, "omantel-biz");
        assert_eq!(Registrar::parse("CloudFlare"), Some(Registrar::Cloudflare));
        assert_eq!(Registrar::parse("route53"), None);
        assert_eq!(Provider::parse(" AWS "), Some(Provider::Aws));
    }
}
