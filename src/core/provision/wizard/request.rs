//! The library's rules for the `POST /api/v1/deployments` body of contract §4.8 / §1.6: reading one
//! from a file with field-level errors, and `validate_request` for `deploy create`.
//!
//! The body itself is a wire type (`provision::wire::request`, re-exported here): the wizard builds
//! it, the catalyst client posts it, and Phase 0 plans from it (`provision::hetzner::request` adds
//! its file reading and tofu rules).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::catalog::Provider;
use super::rules;

pub use crate::provision::wire::request::{DeploymentRequest, RegionRequest};

impl DeploymentRequest {
    /// The JSON body to POST.
    pub fn to_json(&self) -> Value {
        // Serializing plain strings, ints and bools into a Value cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// A copy with the token masked (serializes in contract field order), for echoes.
    pub fn masked(&self) -> DeploymentRequest {
        DeploymentRequest {
            hetzner_token: rules::mask_secret(&self.hetzner_token),
            ..self.clone()
        }
    }

    /// The same object with the token masked, for `--json` echoes and logs.
    pub fn to_json_masked(&self) -> Value {
        let mut v = self.to_json();
        if let Some(obj) = v.as_object_mut() {
            obj.insert(
                "hetznerToken".into(),
                Value::String(rules::mask_secret(&self.hetzner_token)),
            );
        }
        v
    }
}

/// One bad field, named by its wire path (`regions[1].workerSize`, `orgEmail`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Validate a request read from a file (or built by the wizard) against every rule catalyst-api and
/// the OpenTofu module will apply, plus the wizard's own. All failures are returned, in the API's
/// validation order.
pub fn validate_request(req: &DeploymentRequest) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut err = |f: &str, m: String| errs.push(FieldError::new(f, m));
    let providers = Provider::ALL.map(|p| p.as_str()).join(", ");

    for (i, r) in req.regions.iter().enumerate() {
        let path = |k: &str| format!("regions[{i}].{k}");
        let provider = Provider::parse(&r.provider);
        if r.provider.trim().is_empty() {
            err(&path("provider"), "is required".into());
        } else if provider.is_none() {
            err(
                &path("provider"),
                format!("`{}` is not one of {providers}", r.provider),
            );
        }
        if r.cloud_region.trim().is_empty() {
            err(&path("cloudRegion"), "is required".into());
        } else if let Some(p) = provider
            && !p.has_region(&r.cloud_region)
        {
            err(
                &path("cloudRegion"),
                format!(
                    "`{}` is not a {p} region ({})",
                    r.cloud_region,
                    p.regions().join(", ")
                ),
            );
        }
        if r.control_plane_size.trim().is_empty() {
            err(&path("controlPlaneSize"), "is required".into());
        } else if provider == Some(Provider::Hetzner)
            && !rules::is_hetzner_server_type(&r.control_plane_size)
        {
            err(
                &path("controlPlaneSize"),
                format!(
                    "`{}` is not a Hetzner server type (cx|cpx|ccx|cax + digits)",
                    r.control_plane_size
                ),
            );
        }
        if r.worker_count < 0 {
            err(
                &path("workerCount"),
                format!("{} is negative", r.worker_count),
            );
        } else if r.worker_count > rules::MAX_WORKERS {
            err(
                &path("workerCount"),
                format!("{} is more than {}", r.worker_count, rules::MAX_WORKERS),
            );
        }
        if r.worker_count > 0 {
            if r.worker_size.trim().is_empty() {
                err(
                    &path("workerSize"),
                    "is required when workerCount > 0".into(),
                );
            } else if provider == Some(Provider::Hetzner)
                && !rules::is_hetzner_server_type(&r.worker_size)
            {
                err(
                    &path("workerSize"),
                    format!(
                        "`{}` is not a Hetzner server type (cx|cpx|ccx|cax + digits)",
                        r.worker_size
                    ),
                );
            }
        }
    }

    if let Err(m) = rules::check_single_region(req.regions.iter().map(|r| r.cloud_region.as_str()))
    {
        err("regions", m);
    }

    if req.hetzner_token.trim().is_empty() {
        err("hetznerToken", "is required".into());
    } else if let Err(m) = rules::check_token_length(&req.hetzner_token) {
        err("hetznerToken", m);
    }
    if req.hetzner_project_id.trim().is_empty() {
        err("hetznerProjectID", "is required".into());
    }

    // Phase 0 is Hetzner: whatever catalyst-api applies (regions[0] or the top level) must satisfy
    // the OpenTofu module's `region`, `control_plane_size`, `worker_size` and `worker_count` rules.
    let hetzner_regions = Provider::Hetzner.regions().join(", ");
    if let Some(r0) = req.regions.first() {
        if !req.region.is_empty() && req.region != r0.cloud_region {
            err(
                "region",
                format!(
                    "`{}` differs from regions[0].cloudRegion `{}`, which catalyst-api applies instead",
                    req.region, r0.cloud_region
                ),
            );
        }
        if Provider::parse(&r0.provider).is_some_and(|p| !p.is_provisionable()) {
            err(
                "regions[0].provider",
                format!(
                    "`{}` is design-only; catalyst-api provisions the first region on hetzner",
                    r0.provider
                ),
            );
        }
    } else {
        if req.region.trim().is_empty() {
            err("region", "is required (or give regions[])".into());
        } else if !Provider::Hetzner.has_region(&req.region) {
            err(
                "region",
                format!("`{}` is not one of {hetzner_regions}", req.region),
            );
        }
        if req.control_plane_size.trim().is_empty() {
            err("controlPlaneSize", "is required (or give regions[])".into());
        } else if !rules::is_hetzner_server_type(&req.control_plane_size) {
            err(
                "controlPlaneSize",
                format!(
                    "`{}` is not a Hetzner server type (cx|cpx|ccx|cax + digits)",
                    req.control_plane_size
                ),
            );
        }
        if req.worker_count < 0 || req.worker_count > rules::MAX_WORKERS {
            err(
                "workerCount",
                format!("{} is outside 0–{}", req.worker_count, rules::MAX_WORKERS),
            );
        } else if req.worker_count > 0 {
            if req.worker_size.trim().is_empty() {
                err("workerSize", "is required when workerCount > 0".into());
            } else if !rules::is_hetzner_server_type(&req.worker_size) {
                err(
                    "workerSize",
                    format!(
                        "`{}` is not a Hetzner server type (cx|cpx|ccx|cax + digits)",
                        req.worker_size
                    ),
                );
            }
        }
    }

    let mode = req.sovereign_domain_mode.as_str();
    if req.sovereign_fqdn.trim().is_empty() {
        err("sovereignFQDN", "is required".into());
    } else {
        let shape = if mode == "pool" {
            rules::check_fqdn_tofu(&req.sovereign_fqdn)
        } else {
            rules::check_byo_domain(&req.sovereign_fqdn)
                .and_then(|_| rules::check_fqdn_tofu(&req.sovereign_fqdn))
        };
        if let Err(m) = shape {
            err("sovereignFQDN", m);
        }
    }
    if req.org_name.trim().is_empty() {
        err("orgName", "is required".into());
    }
    if let Err(m) = rules::check_email(&req.org_email) {
        err("orgEmail", m);
    }
    match rules::check_ssh_public_key(&req.ssh_public_key) {
        Err(m) => err("sshPublicKey", m),
        Ok(k) => {
            for w in k.warnings {
                err("sshPublicKey", w);
            }
        }
    }
    match mode {
        "pool" => {
            if req.sovereign_pool_domain.trim().is_empty() {
                err(
                    "sovereignPoolDomain",
                    "is required in pool mode (e.g. omani.works)".into(),
                );
            } else if let Err(m) = rules::check_byo_domain(&req.sovereign_pool_domain) {
                err("sovereignPoolDomain", format!("must be the pool apex: {m}"));
            }
            if let Err(m) = rules::check_subdomain(&req.sovereign_subdomain) {
                err("sovereignSubdomain", m);
            }
            let want = format!("{}.{}", req.sovereign_subdomain, req.sovereign_pool_domain);
            if !req.sovereign_fqdn.is_empty()
                && !req.sovereign_subdomain.is_empty()
                && !req.sovereign_pool_domain.is_empty()
                && req.sovereign_fqdn != want
            {
                err(
                    "sovereignFQDN",
                    format!(
                        "must be sovereignSubdomain.sovereignPoolDomain (`{want}`) in pool mode"
                    ),
                );
            }
        }
        "byo-manual" | "byo-api" => {}
        "" => err(
            "sovereignDomainMode",
            "is required (pool, byo-manual or byo-api)".into(),
        ),
        other => err(
            "sovereignDomainMode",
            format!("`{other}` is not one of pool, byo-manual, byo-api"),
        ),
    }
    errs
}

/// Why a request file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON/TOML at all: where it broke.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// Well-formed, but keys are unknown or of the wrong type.
    Fields(Vec<FieldError>),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Syntax {
                line,
                column,
                message,
            } => write!(f, "line {line}, column {column}: {message}"),
            ParseError::Fields(errs) => {
                let parts: Vec<String> = errs.iter().map(ToString::to_string).collect();
                f.write_str(&parts.join("; "))
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// File formats a request can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFormat {
    Json,
    Toml,
}

impl RequestFormat {
    /// By file extension: `.toml` is TOML, anything else JSON.
    pub fn from_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("toml") => RequestFormat::Toml,
            _ => RequestFormat::Json,
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
}

const TOP_KEYS: &[(&str, Kind)] = &[
    ("orgName", Kind::Str),
    ("orgEmail", Kind::Str),
    ("sovereignFQDN", Kind::Str),
    ("sovereignDomainMode", Kind::Str),
    ("sovereignPoolDomain", Kind::Str),
    ("sovereignSubdomain", Kind::Str),
    ("hetznerToken", Kind::Str),
    ("hetznerProjectID", Kind::Str),
    ("region", Kind::Str),
    ("controlPlaneSize", Kind::Str),
    ("workerSize", Kind::Str),
    ("workerCount", Kind::Int),
    ("haEnabled", Kind::Bool),
    ("sshPublicKey", Kind::Str),
];

const REGION_KEYS: &[(&str, Kind)] = &[
    ("provider", Kind::Str),
    ("cloudRegion", Kind::Str),
    ("controlPlaneSize", Kind::Str),
    ("workerSize", Kind::Str),
    ("workerCount", Kind::Int),
];

fn check_keys(
    obj: &serde_json::Map<String, Value>,
    spec: &[(&str, Kind)],
    prefix: &str,
    out: &mut Vec<FieldError>,
) {
    for (key, value) in obj {
        let field = format!("{prefix}{key}");
        let Some((_, kind)) = spec.iter().find(|(k, _)| k == key) else {
            if prefix.is_empty() && key == "regions" {
                continue;
            }
            let hint = spec
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(k, _)| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            out.push(FieldError::new(field, format!("unknown field{hint}")));
            continue;
        };
        let ok = match kind {
            Kind::Str => value.is_string(),
            Kind::Int => value.is_i64(),
            Kind::Bool => value.is_boolean(),
        };
        if !ok {
            let want = match kind {
                Kind::Str => "a string",
                Kind::Int => "an integer",
                Kind::Bool => "true or false",
            };
            out.push(FieldError::new(
                field,
                format!("must be {want}, found {value}"),
            ));
        }
    }
}

/// Read a request from JSON or TOML text: syntax errors with line and column, then unknown keys and
/// type errors per field. Semantic checks are [`validate_request`]'s job.
pub fn parse_request(text: &str, format: RequestFormat) -> Result<DeploymentRequest, ParseError> {
    let value: Value = match format {
        RequestFormat::Json => serde_json::from_str(text).map_err(|e| ParseError::Syntax {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?,
        RequestFormat::Toml => {
            let table: toml::Table = toml::from_str(text).map_err(|e| {
                let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
                ParseError::Syntax {
                    line,
                    column,
                    message: e.message().to_string(),
                }
            })?;
            serde_json::to_value(table).map_err(|e| ParseError::Syntax {
                line: 0,
                column: 0,
                message: e.to_string(),
            })?
        }
    };
    let Some(obj) = value.as_object() else {
        return Err(ParseError::Fields(vec![FieldError::new(
            "",
            "the request must be an object",
        )]));
    };
    let mut errs = Vec::new();
    check_keys(obj, TOP_KEYS, "", &mut errs);
    match obj.get("regions") {
        None => {}
        Some(Value::Array(rows)) => {
            for (i, row) in rows.iter().enumerate() {
                match row.as_object() {
                    Some(r) => check_keys(r, REGION_KEYS, &format!("regions[{i}]."), &mut errs),
                    None => errs.push(FieldError::new(
                        format!("regions[{i}]"),
                        "must be an object",
                    )),
                }
            }
        }
        Some(other) => errs.push(FieldError::new(
            "regions",
            format!("must be a list, found {other}"),
        )),
    }
    if !errs.is_empty() {
        return Err(ParseError::Fields(errs));
    }
    serde_json::from_value(value)
        .map_err(|e| ParseError::Fields(vec![FieldError::new("", e.to_string())]))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    // Spans are byte offsets; never slice inside a character of external text.
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::wizard::rules::tests::{ED25519, NISTP384};

    pub fn good() -> DeploymentRequest {
        DeploymentRequest {
            org_name: "Acme Financial".into(),
            org_email: "platform@acme.io".into(),
            sovereign_fqdn: "t42.omani.works".into(),
            sovereign_domain_mode: "pool".into(),
            sovereign_pool_domain: "omani.works".into(),
            sovereign_subdomain: "t42".into(),
            hetzner_token: "h".repeat(64),
            hetzner_project_id: "proj_abc123".into(),
            region: "fsn1".into(),
            control_plane_size: "cpx32".into(),
            worker_size: "cpx32".into(),
            worker_count: 0,
            ha_enabled: false,
            regions: vec![RegionRequest {
                provider: "hetzner".into(),
                cloud_region: "fsn1".into(),
                control_plane_size: "cpx32".into(),
                worker_size: "cpx32".into(),
                worker_count: 0,
            }],
            ssh_public_key: ED25519.into(),
        }
    }

    fn fields(req: &DeploymentRequest) -> Vec<String> {
        validate_request(req).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_good_request_passes() {
        assert_eq!(validate_request(&good()), vec![]);
    }

    #[test]
    fn json_keys_are_exactly_the_contract_ones_in_order() {
        let text = serde_json::to_string(&good()).unwrap();
        let keys: Vec<&str> = [
            "orgName",
            "orgEmail",
            "sovereignFQDN",
            "sovereignDomainMode",
            "sovereignPoolDomain",
            "sovereignSubdomain",
            "hetznerToken",
            "hetznerProjectID",
            "region",
            "controlPlaneSize",
            "workerSize",
            "workerCount",
            "haEnabled",
            "regions",
            "sshPublicKey",
        ]
        .to_vec();
        let mut last = 0;
        for k in &keys {
            let pos = text
                .find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} missing"));
            assert!(pos >= last, "{k} out of order");
            last = pos;
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_object().unwrap().len(), keys.len());
        let r0 = v["regions"][0].as_object().unwrap();
        let mut rk: Vec<&String> = r0.keys().collect();
        rk.sort();
        assert_eq!(
            rk,
            [
                "cloudRegion",
                "controlPlaneSize",
                "provider",
                "workerCount",
                "workerSize"
            ]
        );
        assert_eq!(v["workerCount"], 0);
        assert_eq!(v["haEnabled"], false);
    }

    #[test]
    fn debug_and_masked_json_hide_the_token() {
        let r = good();
        assert!(!format!("{r:?}").contains(&r.hetzner_token));
        assert!(!r.to_json_masked().to_string().contains(&r.hetzner_token));
        assert!(r.to_json().to_string().contains(&r.hetzner_token));
    }

    #[test]
    fn an_empty_request_names_every_required_field() {
        let f = fields(&DeploymentRequest::default());
        for want in [
            "hetznerToken",
            "hetznerProjectID",
            "region",
            "controlPlaneSize",
            "sovereignFQDN",
            "orgName",
            "orgEmail",
            "sshPublicKey",
            "sovereignDomainMode",
        ] {
            assert!(f.contains(&want.to_string()), "{want} not in {f:?}");
        }
    }

    /// Issue 15: runbook §1.3's shape (N regions × 1 cpx52, workerCount 0) is refused with the
    /// regions that would be lost, never sent for catalyst-api to build only the first.
    #[test]
    fn a_multi_region_request_is_refused_naming_the_regions_left_out() {
        let mut r = good();
        r.regions[0].control_plane_size = "cpx52".into();
        for region in ["nbg1", "hel1"] {
            let mut row = r.regions[0].clone();
            row.cloud_region = region.into();
            r.regions.push(row);
        }
        let errs = validate_request(&r);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].field, "regions");
        assert!(
            errs[0].message.contains("3 regions (fsn1, nbg1, hel1)")
                && errs[0]
                    .message
                    .contains("nbg1, hel1 would silently be left out"),
            "{}",
            errs[0]
        );
        r.regions.truncate(1);
        assert_eq!(validate_request(&r), vec![]);
    }

    #[test]
    fn region_row_rules() {
        let mut r = good();
        r.regions.push(RegionRequest {
            provider: "".into(),
            cloud_region: "".into(),
            control_plane_size: "".into(),
            worker_size: "".into(),
            worker_count: 2,
        });
        r.regions.push(RegionRequest {
            provider: "gcp".into(),
            cloud_region: "x".into(),
            control_plane_size: "n2".into(),
            worker_size: "".into(),
            worker_count: -1,
        });
        r.regions.push(RegionRequest {
            provider: "hetzner".into(),
            cloud_region: "us-east-1".into(),
            control_plane_size: "m6i.large".into(),
            worker_size: "big".into(),
            worker_count: 51,
        });
        let f = fields(&r);
        for want in [
            "regions[1].provider",
            "regions[1].cloudRegion",
            "regions[1].controlPlaneSize",
            "regions[1].workerSize",
            "regions[2].provider",
            "regions[2].workerCount",
            "regions[3].cloudRegion",
            "regions[3].controlPlaneSize",
            "regions[3].workerCount",
            "regions[3].workerSize",
        ] {
            assert!(f.contains(&want.to_string()), "{want} not in {f:?}");
        }
        assert!(!f.iter().any(|x| x.starts_with("regions[0]")));
    }

    #[test]
    fn the_dod_body_without_regions_is_valid() {
        // tests/dod: no regions[], cpx21 (not in the UI catalogue but accepted by tofu), 1 worker.
        let mut r = good();
        r.regions.clear();
        r.control_plane_size = "cpx21".into();
        r.worker_size = "cpx21".into();
        r.worker_count = 1;
        assert_eq!(validate_request(&r), vec![]);
        r.worker_size.clear();
        r.region = "eu-central-1".into();
        assert_eq!(fields(&r), vec!["region", "workerSize"]);
    }

    #[test]
    fn first_region_must_be_hetzner_and_agree_with_top_level() {
        let mut r = good();
        r.regions[0].provider = "aws".into();
        r.regions[0].cloud_region = "eu-central-1".into();
        r.regions[0].control_plane_size = "m6i.xlarge".into();
        let f = fields(&r);
        assert_eq!(f, vec!["region", "regions[0].provider"]);
    }

    #[test]
    fn token_project_email_key_rules() {
        let mut r = good();
        r.hetzner_token = "short".into();
        r.hetzner_project_id = " ".into();
        r.org_email = "platform@acme".into();
        r.ssh_public_key = NISTP384.into();
        r.org_name = "".into();
        assert_eq!(
            fields(&r),
            vec![
                "hetznerToken",
                "hetznerProjectID",
                "orgName",
                "orgEmail",
                "sshPublicKey"
            ]
        );
    }

    #[test]
    fn domain_mode_rules() {
        let mut r = good();
        r.sovereign_fqdn = "t43.omani.works".into();
        assert_eq!(fields(&r), vec!["sovereignFQDN"]);
        r.sovereign_subdomain = "43".into();
        r.sovereign_fqdn = "43.omani.works".into();
        assert_eq!(fields(&r), vec!["sovereignFQDN", "sovereignSubdomain"]);
        let mut r = good();
        r.sovereign_domain_mode = "byo".into();
        assert_eq!(fields(&r), vec!["sovereignDomainMode"]);
        r.sovereign_domain_mode = "byo-manual".into();
        r.sovereign_fqdn = "sovereign.acme.com".into();
        assert_eq!(validate_request(&r), vec![]);
        r.sovereign_fqdn = "acme".into();
        assert_eq!(fields(&r), vec!["sovereignFQDN"]);
        r.sovereign_domain_mode = "pool".into();
        r.sovereign_pool_domain.clear();
        r.sovereign_fqdn = "t42.omani.works".into();
        assert_eq!(fields(&r), vec!["sovereignPoolDomain"]);
    }

    #[test]
    fn parse_json_and_toml() {
        let text = serde_json::to_string_pretty(&good()).unwrap();
        assert_eq!(parse_request(&text, RequestFormat::Json).unwrap(), good());
        let toml_text = r#"
orgName = "Acme"
orgEmail = "platform@acme.io"
sovereignFQDN = "t42.omani.works"
sovereignDomainMode = "pool"
sovereignPoolDomain = "omani.works"
sovereignSubdomain = "t42"
hetznerProjectID = "p"
workerCount = 1
haEnabled = false

[[regions]]
provider = "hetzner"
cloudRegion = "nbg1"
controlPlaneSize = "cpx32"
workerSize = "cpx32"
workerCount = 1
"#;
        let r = parse_request(toml_text, RequestFormat::Toml).unwrap();
        assert_eq!(r.regions[0].cloud_region, "nbg1");
        assert_eq!(r.worker_count, 1);
        assert_eq!(
            RequestFormat::from_path("a/b.TOML".as_ref()),
            RequestFormat::Toml
        );
        assert_eq!(
            RequestFormat::from_path("a/b.json".as_ref()),
            RequestFormat::Json
        );
    }

    #[test]
    fn parse_errors_name_line_and_fields() {
        match parse_request("{\n  \"orgName\": \"a\",\n  oops\n}", RequestFormat::Json) {
            Err(ParseError::Syntax { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
        match parse_request("orgName = \"a\"\nworkerCount = = 2\n", RequestFormat::Toml) {
            Err(ParseError::Syntax { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
        let text = r#"{"orgname": "a", "workerCount": "2", "haEnabled": 1,
            "regions": [{"provider": "hetzner", "workerCount": 1.5, "zone": "x"}, 7]}"#;
        match parse_request(text, RequestFormat::Json) {
            Err(ParseError::Fields(errs)) => {
                // Key order depends on serde_json's map flavour; compare as a set.
                let mut f: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
                f.sort();
                assert_eq!(
                    f,
                    vec![
                        "haEnabled",
                        "orgname",
                        "regions[0].workerCount",
                        "regions[0].zone",
                        "regions[1]",
                        "workerCount",
                    ]
                );
                let orgname = errs.iter().find(|e| e.field == "orgname").unwrap();
                assert!(orgname.message.contains("did you mean `orgName`"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_request("[1]", RequestFormat::Json),
            Err(ParseError::Fields(_))
        ));
        assert!(matches!(
            parse_request(r#"{"regions": {}}"#, RequestFormat::Json),
            Err(ParseError::Fields(_))
        ));
    }
}
