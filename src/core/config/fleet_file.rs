//! The fleet file (`$XDG_CONFIG_HOME/sovtui/fleet.toml` or `--config`): which Sovereigns sovtui
//! watches and how to reach each one.
//!
//! ```toml
//! adopt_kubeconfig = false          # true: every context of $KUBECONFIG becomes a Sovereign too
//!
//! [[sovereign]]
//! fqdn = "omantel.omani.works"
//! kubeconfig = "kubeconfig"         # relative to this file; `~` expands; default: $KUBECONFIG chain
//! context = "omantel.omani.works"   # default: the FQDN
//! namespace = "flux-system"         # optional: watch Flux objects in one namespace only
//! tags = ["prod"]
//! catalyst_api = "https://console.openova.io"
//! deployment_id = "3f1c…"
//! hetzner = { token_env = "HCLOUD_TOKEN" }   # or { hcloud_context = "x" } or { token_cmd = "op read …" }
//!
//! [[sovereign]]                     # joined after provisioning: no credentials on disk
//! fqdn = "new.omani.works"
//! catalyst_api = "https://console.openova.io/sovereign"
//! deployment_id = "3f1c…"
//! kubeconfig_from = "catalyst"      # fetched from catalyst-api into memory (start and on 401)
//! ```
//!
//! Errors name the file, line and column, so a broken file can be fixed without guessing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A parsed, validated fleet file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FleetFile {
    /// Adopt every context of the default kubeconfig chain as a Sovereign.
    pub adopt_kubeconfig: bool,
    pub sovereigns: Vec<SovereignEntry>,
    /// The `[limits]` table (see `provision::limits`); read once, when sovtui starts.
    #[serde(skip)]
    pub limits: crate::provision::limits::LimitsOverride,
    /// The `[mothership]` table: Catalyst-Zero, where PDM, PowerDNS, the GHCR pull token and the
    /// deployment records live (runbook §1.2, §2.2).
    #[serde(skip)]
    pub mothership: Option<MothershipEntry>,
}

/// The runbook's pool zones (§1.2 C), the default of `[mothership] pool_zones`.
pub const DEFAULT_POOL_ZONES: &[&str] = &[
    "omani.works",
    "omani.homes",
    "omani.rest",
    "omani.trade",
    "omantel.biz",
];

/// How to reach the mothership (Catalyst-Zero). Its apiserver is found as a Sovereign's is: a
/// kubeconfig file (or the default chain) and a context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MothershipEntry {
    /// Absolute kubeconfig path; `None` means the default chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    pub context: String,
    /// Where catalyst-api runs (`catalyst`).
    pub catalyst_namespace: String,
    /// PDM's base URL (in-cluster: `http://pool-domain-manager.openova-system.svc.cluster.local:8080`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdm: Option<String>,
    pub pool_zones: Vec<String>,
    /// PowerDNS' public DNS address (`IP:PORT`), asked for the pool zones and Sovereign names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<std::net::SocketAddr>,
    /// The OCI registry of the bp-* charts (default `https://ghcr.io`).
    pub registry: String,
    /// GitHub's API root for the release workflow's runs (default `https://api.github.com`).
    pub ci: String,
    /// `owner/repo` and workflow file of §1.2 H.
    pub ci_repo: String,
    pub ci_workflow: String,
}

impl MothershipEntry {
    /// A mothership reached through `context` with every other setting at its default.
    pub fn with_context(context: &str) -> Self {
        MothershipEntry {
            kubeconfig: None,
            context: context.to_string(),
            catalyst_namespace: "catalyst".into(),
            pdm: None,
            pool_zones: DEFAULT_POOL_ZONES.iter().map(|z| z.to_string()).collect(),
            dns: None,
            registry: "https://ghcr.io".into(),
            ci: "https://api.github.com".into(),
            ci_repo: "openova-io/openova".into(),
            ci_workflow: "blueprint-release.yaml".into(),
        }
    }
}

/// One Sovereign and how to reach its apiserver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SovereignEntry {
    pub fqdn: String,
    /// Absolute kubeconfig path; `None` means the default chain (`$KUBECONFIG`, `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    pub context: String,
    /// Watch Flux objects in this namespace only (all namespaces when `None`).
    pub namespace: Option<String>,
    pub catalyst_api: Option<String>,
    pub deployment_id: Option<String>,
    pub hetzner: Option<HetznerTokenSource>,
    pub tags: Vec<String>,
    /// Came from `adopt_kubeconfig`, not from a `[[sovereign]]` table.
    pub adopted: bool,
    /// Reach the public hosts (`console.FQDN`, `api.FQDN`) here instead of through DNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeOverride>,
    /// Where the kubeconfig comes from: a file (`kubeconfig`, or the default chain) or
    /// catalyst-api's `GET /deployments/{id}/kubeconfig`, held in memory only.
    #[serde(default)]
    pub kubeconfig_from: KubeconfigFrom,
}

/// `probe = { resolve = "IP:PORT", scheme = "http" }`: where a probe of the Sovereign's public
/// hosts connects (the simulated world's ingress, a port-forward, a host not yet in DNS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeOverride {
    pub resolve: std::net::SocketAddr,
    #[serde(default = "default_probe_scheme")]
    pub scheme: String,
}

fn default_probe_scheme() -> String {
    "https".into()
}

/// The source of a Sovereign's kubeconfig.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KubeconfigFrom {
    /// `kubeconfig = PATH`, or the default chain when no path is given.
    #[default]
    File,
    /// catalyst-api `GET /api/v1/deployments/{deployment_id}/kubeconfig` (contract §1.10),
    /// fetched at start and again on 401; never written to disk.
    Catalyst,
}

impl SovereignEntry {
    /// A Sovereign reached through `context` of the default kubeconfig chain.
    pub fn adopted(context: &str) -> Self {
        SovereignEntry {
            fqdn: context.to_string(),
            kubeconfig: None,
            context: context.to_string(),
            namespace: None,
            catalyst_api: None,
            deployment_id: None,
            hetzner: None,
            tags: Vec::new(),
            adopted: true,
            probe: None,
            kubeconfig_from: KubeconfigFrom::File,
        }
    }

    pub fn is_prod(&self) -> bool {
        self.tags.iter().any(|t| t == "prod" || t == "production")
    }
}

/// Where the Hetzner token comes from. The token itself never appears in the fleet file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HetznerTokenSource {
    /// Name of an environment variable holding the token.
    TokenEnv(String),
    /// A context of the hcloud CLI's own config file.
    HcloudContext(String),
    /// A command whose stdout is the token (e.g. `op read op://infra/hetzner/token`).
    TokenCmd(String),
}

/// A secret token. `Debug` masks it; it is never written anywhere by us.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The token itself, for the one place that sends it (an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(****)")
    }
}

impl HetznerTokenSource {
    /// Fetch the token: read the environment variable, look the context up in the hcloud CLI's
    /// config (`$HCLOUD_CONFIG`, default `~/.config/hcloud/cli.toml`), or run the command
    /// (`sh -c`; its stderr is captured and never shown, only its exit status is reported).
    /// Blocking (a command may take a while): call it from `spawn_blocking` in async code.
    pub fn resolve(&self) -> Result<Token, String> {
        let hcloud_config = std::env::var_os("HCLOUD_CONFIG")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/hcloud/cli.toml"))
            });
        self.resolve_with(hcloud_config.as_deref())
    }

    /// `resolve` with an explicit hcloud CLI config path.
    pub fn resolve_with(&self, hcloud_config: Option<&Path>) -> Result<Token, String> {
        let token = match self {
            HetznerTokenSource::TokenEnv(var) => {
                std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
            }
            HetznerTokenSource::HcloudContext(ctx) => {
                let path = hcloud_config.ok_or("no hcloud CLI config (set HCLOUD_CONFIG)")?;
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("hcloud config {}: {e}", path.display()))?;
                let doc: toml::Value = toml::from_str(&text)
                    .map_err(|e| format!("hcloud config {}: {}", path.display(), e.message()))?;
                doc.get("contexts")
                    .and_then(toml::Value::as_array)
                    .and_then(|list| {
                        list.iter().find(|c| {
                            c.get("name").and_then(toml::Value::as_str) == Some(ctx.as_str())
                        })
                    })
                    .and_then(|c| c.get("token").and_then(toml::Value::as_str))
                    .map(str::to_string)
                    .ok_or_else(|| {
                        format!(
                            "hcloud config {}: no context {ctx:?} with a token",
                            path.display()
                        )
                    })?
            }
            HetznerTokenSource::TokenCmd(cmd) => {
                let out = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .output()
                    .map_err(|e| format!("token_cmd: cannot run: {e}"))?;
                if !out.status.success() {
                    return Err(format!("token_cmd failed ({})", out.status));
                }
                String::from_utf8(out.stdout)
                    .map_err(|_| "token_cmd: output is not UTF-8".to_string())?
            }
        };
        let token = token.trim().to_string();
        if token.is_empty() {
            return Err("the Hetzner token is empty".into());
        }
        Ok(Token(token))
    }
}

/// What is wrong with a fleet file, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", self.render())]
pub struct FleetFileError {
    pub path: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl FleetFileError {
    fn render(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}: {}", self.path.display(), self.message),
            (Some(l), None) => format!("{}:{l}: {}", self.path.display(), self.message),
            _ => format!("{}: {}", self.path.display(), self.message),
        }
    }

    fn at(path: &Path, text: &str, offset: Option<usize>, message: impl Into<String>) -> Self {
        let (line, column) = match offset {
            Some(off) => {
                let (l, c) = line_col(text, off);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        FleetFileError {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map(|nl| before.len() - nl)
        .unwrap_or(before.len() + 1);
    (line, column)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    adopt_kubeconfig: bool,
    #[serde(default, rename = "sovereign")]
    sovereigns: Vec<Spanned<RawSovereign>>,
    limits: Option<Spanned<RawLimits>>,
    mothership: Option<Spanned<RawMothership>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMothership {
    kubeconfig: Option<String>,
    context: Option<String>,
    catalyst_namespace: Option<String>,
    pdm: Option<Spanned<String>>,
    pool_zones: Option<Vec<String>>,
    dns: Option<Spanned<String>>,
    registry: Option<Spanned<String>>,
    ci: Option<Spanned<String>>,
    ci_repo: Option<String>,
    ci_workflow: Option<String>,
}

fn parse_mothership(
    path: &Path,
    base: &Path,
    text: &str,
    raw: Spanned<RawMothership>,
) -> Result<MothershipEntry, FleetFileError> {
    let table_at = Some(raw.span().start);
    let raw = raw.into_inner();
    let url = |key: &str, v: Spanned<String>| {
        let at = Some(v.span().start);
        let v = v.into_inner();
        match reqwest::Url::parse(&v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                Ok(v.trim_end_matches('/').to_string())
            }
            _ => Err(FleetFileError::at(
                path,
                text,
                at,
                format!("mothership.{key}: {v:?} is not an http(s) URL"),
            )),
        }
    };
    let context = raw.context.unwrap_or_else(|| "catalyst-zero".into());
    if context.is_empty() {
        return Err(FleetFileError::at(
            path,
            text,
            table_at,
            "mothership.context: must not be empty",
        ));
    }
    let mut m = MothershipEntry::with_context(&context);
    m.kubeconfig = raw.kubeconfig.map(|p| resolve_path(base, &p));
    if let Some(ns) = raw.catalyst_namespace.filter(|n| !n.is_empty()) {
        m.catalyst_namespace = ns;
    }
    m.pdm = raw.pdm.map(|v| url("pdm", v)).transpose()?;
    if let Some(zones) = raw.pool_zones {
        for z in &zones {
            check_fqdn(z).map_err(|why| {
                FleetFileError::at(
                    path,
                    text,
                    table_at,
                    format!("mothership.pool_zones: {why}"),
                )
            })?;
        }
        m.pool_zones = zones;
    }
    if let Some(d) = raw.dns {
        let at = Some(d.span().start);
        let d = d.into_inner();
        m.dns = Some(d.parse().map_err(|_| {
            FleetFileError::at(
                path,
                text,
                at,
                format!("mothership.dns: {d:?} is not IP:PORT"),
            )
        })?);
    }
    if let Some(r) = raw.registry {
        m.registry = url("registry", r)?;
    }
    if let Some(c) = raw.ci {
        m.ci = url("ci", c)?;
    }
    if let Some(r) = raw.ci_repo {
        if r.split('/').filter(|p| !p.is_empty()).count() != 2 {
            return Err(FleetFileError::at(
                path,
                text,
                table_at,
                format!("mothership.ci_repo: {r:?} is not OWNER/REPO"),
            ));
        }
        m.ci_repo = r;
    }
    if let Some(w) = raw.ci_workflow.filter(|w| !w.is_empty()) {
        m.ci_workflow = w;
    }
    Ok(m)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    connect: Option<Spanned<String>>,
    request: Option<Spanned<String>>,
    sse_idle: Option<Spanned<String>>,
    watch_idle: Option<Spanned<String>>,
    max_event: Option<Spanned<RawSize>>,
    max_body: Option<Spanned<RawSize>>,
    insecure_http: Option<bool>,
}

/// `65536` or `"1MiB"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(u64),
    Text(String),
}

fn parse_limits(
    path: &Path,
    text: &str,
    raw: RawLimits,
) -> Result<crate::provision::limits::LimitsOverride, FleetFileError> {
    use crate::provision::limits::{parse_duration, parse_size};
    let dur = |key: &str, v: Option<Spanned<String>>| match v {
        None => Ok(None),
        Some(v) => parse_duration(v.get_ref()).map(Some).map_err(|e| {
            FleetFileError::at(
                path,
                text,
                Some(v.span().start),
                format!("limits.{key}: {e}"),
            )
        }),
    };
    let size = |key: &str, v: Option<Spanned<RawSize>>| match v {
        None => Ok(None),
        Some(v) => {
            let at = Some(v.span().start);
            let parsed = match v.into_inner() {
                RawSize::Bytes(n) => parse_size(&n.to_string()),
                RawSize::Text(t) => parse_size(&t),
            };
            parsed
                .map(Some)
                .map_err(|e| FleetFileError::at(path, text, at, format!("limits.{key}: {e}")))
        }
    };
    Ok(crate::provision::limits::LimitsOverride {
        connect: dur("connect", raw.connect)?,
        request: dur("request", raw.request)?,
        sse_idle: dur("sse_idle", raw.sse_idle)?,
        watch_idle: dur("watch_idle", raw.watch_idle)?,
        max_event: size("max_event", raw.max_event)?,
        max_body: size("max_body", raw.max_body)?,
        insecure_http: raw.insecure_http,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSovereign {
    fqdn: Spanned<String>,
    kubeconfig: Option<String>,
    context: Option<String>,
    namespace: Option<String>,
    catalyst_api: Option<Spanned<String>>,
    deployment_id: Option<Spanned<String>>,
    hetzner: Option<Spanned<RawHetzner>>,
    #[serde(default)]
    tags: Vec<String>,
    probe: Option<Spanned<RawProbe>>,
    kubeconfig_from: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    resolve: String,
    scheme: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHetzner {
    token_env: Option<String>,
    hcloud_context: Option<String>,
    token_cmd: Option<String>,
}

/// Read and validate a fleet file.
pub fn load(path: &Path) -> Result<FleetFile, FleetFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| FleetFileError::at(path, "", None, format!("cannot read: {e}")))?;
    parse(path, &text)
}

/// Parse fleet-file text; `path` names the file in errors and anchors relative kubeconfig paths.
pub fn parse(path: &Path, text: &str) -> Result<FleetFile, FleetFileError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        FleetFileError::at(
            path,
            text,
            e.span().map(|s| s.start),
            e.message().trim().replace('\n', "; "),
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut seen = BTreeSet::new();
    let mut sovereigns = Vec::new();
    for spanned in raw.sovereigns {
        let table_start = spanned.span().start;
        let s = spanned.into_inner();
        let fqdn_at = Some(s.fqdn.span().start);
        let fqdn = s.fqdn.into_inner().trim().to_string();
        if let Err(why) = check_fqdn(&fqdn) {
            return Err(FleetFileError::at(
                path,
                text,
                fqdn_at,
                format!("fqdn: {why}"),
            ));
        }
        if !seen.insert(fqdn.clone()) {
            return Err(FleetFileError::at(
                path,
                text,
                fqdn_at,
                format!("fqdn: {fqdn:?} is listed twice"),
            ));
        }
        let catalyst_api = match s.catalyst_api {
            Some(url) => {
                let at = Some(url.span().start);
                let url = url.into_inner();
                match reqwest::Url::parse(&url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => Some(url),
                    _ => {
                        return Err(FleetFileError::at(
                            path,
                            text,
                            at,
                            format!("catalyst_api: {url:?} is not an http(s) URL"),
                        ));
                    }
                }
            }
            None => None,
        };
        let deployment_id = match s.deployment_id {
            Some(id) if catalyst_api.is_none() => {
                return Err(FleetFileError::at(
                    path,
                    text,
                    Some(id.span().start),
                    "deployment_id: needs catalyst_api in the same [[sovereign]]",
                ));
            }
            Some(id) => Some(id.into_inner()),
            None => None,
        };
        let hetzner = match s.hetzner {
            Some(h) => {
                let at = Some(h.span().start);
                let h = h.into_inner();
                let mut sources = Vec::new();
                if let Some(v) = h.token_env {
                    sources.push(HetznerTokenSource::TokenEnv(v));
                }
                if let Some(v) = h.hcloud_context {
                    sources.push(HetznerTokenSource::HcloudContext(v));
                }
                if let Some(v) = h.token_cmd {
                    sources.push(HetznerTokenSource::TokenCmd(v));
                }
                if sources.len() != 1 {
                    return Err(FleetFileError::at(
                        path,
                        text,
                        at,
                        "hetzner: give exactly one of token_env, hcloud_context, token_cmd",
                    ));
                }
                sources.pop()
            }
            None => None,
        };
        let probe = match s.probe {
            Some(p) => {
                let at = Some(p.span().start);
                let p = p.into_inner();
                let resolve = p.resolve.parse().map_err(|_| {
                    FleetFileError::at(
                        path,
                        text,
                        at,
                        format!("probe.resolve: {:?} is not IP:PORT", p.resolve),
                    )
                })?;
                let scheme = p.scheme.unwrap_or_else(default_probe_scheme);
                if !matches!(scheme.as_str(), "http" | "https") {
                    return Err(FleetFileError::at(
                        path,
                        text,
                        at,
                        format!("probe.scheme: {scheme:?} is neither http nor https"),
                    ));
                }
                Some(ProbeOverride { resolve, scheme })
            }
            None => None,
        };
        let kubeconfig_from = match s.kubeconfig_from {
            None => KubeconfigFrom::File,
            Some(v) => {
                let at = Some(v.span().start);
                match v.into_inner().as_str() {
                    "file" => KubeconfigFrom::File,
                    "catalyst" if s.kubeconfig.is_some() => {
                        return Err(FleetFileError::at(
                            path,
                            text,
                            at,
                            "kubeconfig_from: \"catalyst\" cannot be combined with kubeconfig = PATH",
                        ));
                    }
                    "catalyst" if catalyst_api.is_none() || deployment_id.is_none() => {
                        return Err(FleetFileError::at(
                            path,
                            text,
                            at,
                            "kubeconfig_from: \"catalyst\" needs catalyst_api and deployment_id in the same [[sovereign]]",
                        ));
                    }
                    "catalyst" => KubeconfigFrom::Catalyst,
                    other => {
                        return Err(FleetFileError::at(
                            path,
                            text,
                            at,
                            format!("kubeconfig_from: {other:?} is not \"file\" or \"catalyst\""),
                        ));
                    }
                }
            }
        };
        if s.context.as_deref() == Some("") {
            return Err(FleetFileError::at(
                path,
                text,
                Some(table_start),
                "context: must not be empty",
            ));
        }
        sovereigns.push(SovereignEntry {
            context: s.context.unwrap_or_else(|| fqdn.clone()),
            fqdn,
            kubeconfig: s.kubeconfig.map(|p| resolve_path(base, &p)),
            namespace: s.namespace.filter(|n| !n.is_empty()),
            catalyst_api,
            deployment_id,
            hetzner,
            tags: s.tags,
            adopted: false,
            probe,
            kubeconfig_from,
        });
    }
    let limits = match raw.limits {
        Some(l) => parse_limits(path, text, l.into_inner())?,
        None => Default::default(),
    };
    let mothership = raw
        .mothership
        .map(|m| parse_mothership(path, base, text, m))
        .transpose()?;
    Ok(FleetFile {
        adopt_kubeconfig: raw.adopt_kubeconfig,
        sovereigns,
        limits,
        mothership,
    })
}

fn check_fqdn(fqdn: &str) -> Result<(), String> {
    if fqdn.is_empty() {
        return Err("must not be empty".into());
    }
    if fqdn.len() > 253 {
        return Err("longer than 253 characters".into());
    }
    for label in fqdn.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(format!(
                "{fqdn:?} is not a DNS name (lowercase labels of a-z, 0-9, '-')"
            ));
        }
    }
    Ok(())
}

fn resolve_path(base: &Path, p: &str) -> PathBuf {
    let expanded = match p.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(rest))
            .unwrap_or_else(|| PathBuf::from(p)),
        None => PathBuf::from(p),
    };
    if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    }
}

/// The default kubeconfig chain: every entry of `$KUBECONFIG`, else `~/.kube/config`.
pub fn default_kubeconfig_paths() -> Vec<PathBuf> {
    match std::env::var_os("KUBECONFIG") {
        Some(v) if !v.is_empty() => std::env::split_paths(&v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        _ => std::env::var_os("HOME")
            .map(|h| vec![PathBuf::from(h).join(".kube").join("config")])
            .unwrap_or_default(),
    }
}

#[derive(Serialize)]
struct OutFile<'a> {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    adopt_kubeconfig: bool,
    sovereign: Vec<OutSovereign<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mothership: Option<&'a MothershipEntry>,
}

#[derive(Serialize)]
struct OutSovereign<'a> {
    fqdn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kubeconfig: Option<String>,
    context: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: &'a Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    catalyst_api: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hetzner: Option<&'a HetznerTokenSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probe: Option<&'a ProbeOverride>,
    kubeconfig_from: Option<KubeconfigFrom>,
}

impl FleetFile {
    /// The catalyst-api the wizard provisions through: the one of `fqdn`, or (without one) the
    /// first Sovereign that names one.
    pub fn catalyst_api(&self, fqdn: Option<&str>) -> Option<&str> {
        let named = |e: &&SovereignEntry| {
            e.catalyst_api
                .as_deref()
                .is_some_and(|u| !u.trim().is_empty())
        };
        match fqdn {
            Some(f) => self.sovereigns.iter().filter(|e| e.fqdn == f).find(named),
            None => self.sovereigns.iter().find(named),
        }
        .and_then(|e| e.catalyst_api.as_deref())
    }

    /// The fleet file text for this fleet (adopted Sovereigns are left to `adopt_kubeconfig`).
    /// `sovtui sim` uses it to write `DIR/fleet.toml`; `parse` reads it back unchanged.
    pub fn to_toml(&self) -> String {
        let out = OutFile {
            adopt_kubeconfig: self.adopt_kubeconfig,
            sovereign: self
                .sovereigns
                .iter()
                .filter(|s| !s.adopted)
                .map(|s| OutSovereign {
                    fqdn: &s.fqdn,
                    kubeconfig: s.kubeconfig.as_ref().map(|p| p.display().to_string()),
                    context: &s.context,
                    namespace: s.namespace.as_deref(),
                    tags: &s.tags,
                    catalyst_api: s.catalyst_api.as_deref(),
                    deployment_id: s.deployment_id.as_deref(),
                    hetzner: s.hetzner.as_ref(),
                    probe: s.probe.as_ref(),
                    kubeconfig_from: (s.kubeconfig_from != KubeconfigFrom::File)
                        .then_some(s.kubeconfig_from),
                })
                .collect(),
            mothership: self.mothership.as_ref(),
        };
        toml::to_string(&out).unwrap_or_default()
    }

    /// The Sovereigns to watch: the listed ones, plus (with `adopt_kubeconfig`) one per context
    /// name of `contexts` not already listed under that FQDN or context.
    pub fn with_adopted(&self, contexts: &[String]) -> Vec<SovereignEntry> {
        let mut all = self.sovereigns.clone();
        if self.adopt_kubeconfig {
            for ctx in contexts {
                let taken = all
                    .iter()
                    .any(|s| &s.fqdn == ctx || (s.kubeconfig.is_none() && &s.context == ctx));
                if !taken {
                    all.push(SovereignEntry::adopted(ctx));
                }
            }
        }
        all
    }
}

/// A Sovereign to add to a fleet file after provisioning: named by its catalyst-api and
/// deployment, its kubeconfig fetched from there into memory (`kubeconfig_from = "catalyst"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinEntry {
    pub fqdn: String,
    pub catalyst_api: String,
    pub deployment_id: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl JoinEntry {
    /// The `[[sovereign]]` table appended for this entry.
    pub fn to_toml(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut out = String::from("[[sovereign]]\n");
        out += &format!("fqdn = {}\n", q(&self.fqdn));
        out += &format!("catalyst_api = {}\n", q(&self.catalyst_api));
        out += &format!("deployment_id = {}\n", q(&self.deployment_id));
        out += "kubeconfig_from = \"catalyst\"\n";
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|t| q(t)).collect();
            out += &format!("tags = [{}]\n", tags.join(", "));
        }
        out
    }
}

/// Why a Sovereign was not appended to a fleet file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The FQDN is already listed (the error points at it); nothing was written.
    #[error("{0}")]
    AlreadyListed(FleetFileError),
    /// The file is broken, the entry is invalid, or the file cannot be written.
    #[error("{0}")]
    Invalid(FleetFileError),
}

/// Append `entry` to the fleet file at `path` (created, with its directory, when absent). The
/// existing text is kept byte for byte — comments, order, other entries — and the new table is
/// added at the end; the result is parsed before it replaces the file (atomically, by rename),
/// so a file this cannot extend cleanly is refused rather than damaged. No credential is written.
pub fn append_sovereign(path: &Path, entry: &JoinEntry) -> Result<FleetFile, AppendError> {
    let invalid = |text: &str, offset: Option<usize>, msg: String| {
        AppendError::Invalid(FleetFileError::at(path, text, offset, msg))
    };
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(invalid("", None, format!("cannot read: {e}"))),
    };
    let current = parse(path, &old).map_err(|e| {
        AppendError::Invalid(FleetFileError {
            message: format!("{} (fix the file first; nothing was added)", e.message),
            ..e
        })
    })?;
    if current.sovereigns.iter().any(|s| s.fqdn == entry.fqdn) {
        let quoted = toml::Value::String(entry.fqdn.clone()).to_string();
        return Err(AppendError::AlreadyListed(FleetFileError::at(
            path,
            &old,
            old.find(&quoted),
            format!(
                "fqdn: {:?} is already in the fleet; nothing was added",
                entry.fqdn
            ),
        )));
    }
    let mut text = old.clone();
    if text.is_empty() {
        text.push_str(NEW_FILE_HEADER);
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    if !text.ends_with("\n\n") {
        text.push('\n');
    }
    let block_at = text.len();
    text.push_str(&entry.to_toml());
    let updated = parse(path, &text).map_err(|e| {
        let offset = e.line.map(|_| block_at);
        invalid(
            &text,
            offset,
            format!("the new [[sovereign]] would not parse here: {}", e.message),
        )
    })?;
    let joined = updated
        .sovereigns
        .iter()
        .any(|s| s.fqdn == entry.fqdn && s.kubeconfig_from == KubeconfigFrom::Catalyst);
    if !joined || updated.sovereigns.len() != current.sovereigns.len() + 1 {
        return Err(invalid(
            &old,
            None,
            "the file's layout does not allow appending a [[sovereign]] table; add it by hand"
                .into(),
        ));
    }
    write_replacing(path, &text).map_err(|e| invalid("", None, e))?;
    Ok(updated)
}

/// An empty fleet file at `path` (and its directory) unless one exists; true when created.
pub fn create_if_absent(path: &Path) -> Result<bool, FleetFileError> {
    if path.exists() {
        return Ok(false);
    }
    write_replacing(path, NEW_FILE_HEADER).map_err(|e| FleetFileError::at(path, "", None, e))?;
    Ok(true)
}

const NEW_FILE_HEADER: &str =
    "# sovtui fleet file (see `sovtui --help`); Sovereigns may be added by sovtui.\n";

/// Write `text` to `path` through a sibling temporary file and a rename, keeping the old file's
/// permissions (0600 for a new one), so the fleet hub's watcher never reads half a file.
fn write_replacing(path: &Path, text: &str) -> Result<(), String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(d) = dir {
        super::private_fs::create_dirs(d)
            .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fleet.toml".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        // A new fleet file is private (it may name token files and hold tokens); an existing one
        // keeps the mode its operator gave it.
        super::private_fs::write_file(&tmp, text.as_bytes(), true)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PathBuf {
        PathBuf::from("/etc/sovtui/fleet.toml")
    }

    #[test]
    fn the_limits_table_sets_bounds_and_names_a_bad_value_by_line() {
        let text = "[limits]\nrequest = \"5s\"\nmax_event = \"256KiB\"\nmax_body = 1048576\n\
                    insecure_http = true\n\n[[sovereign]]\nfqdn = \"a.omani.works\"\n";
        let file = parse(&p(), text).expect("parses");
        let l = crate::provision::limits::Limits::default().with(&file.limits);
        assert_eq!(l.request, std::time::Duration::from_secs(5));
        assert_eq!(l.max_event, 256 * 1024);
        assert_eq!(l.max_body, 1 << 20);
        assert!(l.insecure_http);
        assert_eq!(
            l.connect,
            crate::provision::limits::Limits::default().connect
        );

        let text = "[limits]\nconnect = \"10s\"\nsse_idle = \"forever\"\n";
        let err = parse(&p(), text).expect_err("bad duration");
        assert_eq!(err.line, Some(3), "{err}");
        assert!(err.to_string().contains("limits.sse_idle"), "{err}");
        let err = parse(&p(), "[limits]\ntimeout = \"1s\"\n").expect_err("unknown key");
        assert!(err.to_string().contains("timeout"), "{err}");
    }

    #[test]
    fn probe_override_parses_round_trips_and_names_bad_fields() {
        let text = "[[sovereign]]\nfqdn = \"a.omani.works\"\nprobe = { resolve = \"127.0.0.1:8443\", scheme = \"http\" }\n";
        let file = parse(&p(), text).expect("parses");
        let probe = file.sovereigns[0].probe.clone().expect("probe");
        assert_eq!(probe.resolve, "127.0.0.1:8443".parse().expect("addr"));
        assert_eq!(probe.scheme, "http");
        let again = parse(&p(), &file.to_toml()).expect("round trip");
        assert_eq!(again.sovereigns[0].probe, Some(probe));

        let text =
            "[[sovereign]]\nfqdn = \"a.omani.works\"\nprobe = { resolve = \"127.0.0.1:8443\" }\n";
        let file = parse(&p(), text).expect("parses");
        assert_eq!(
            file.sovereigns[0].probe.as_ref().map(|p| p.scheme.as_str()),
            Some("https")
        );

        let text = "[[sovereign]]\nfqdn = \"a.omani.works\"\nprobe = { resolve = \"localhost\" }\n";
        let err = parse(&p(), text).expect_err("not IP:PORT").to_string();
        assert!(
            err.contains("probe.resolve") && err.contains(":3:"),
            "{err}"
        );
        let text = "[[sovereign]]\nfqdn = \"a.omani.works\"\nprobe = { resolve = \"127.0.0.1:1\", scheme = \"ftp\" }\n";
        let err = parse(&p(), text).expect_err("bad scheme").to_string();
        assert!(err.contains("probe.scheme"), "{err}");
    }

    #[test]
    fn the_wizard_provisions_through_the_named_catalyst_api() {
        let text = "[[sovereign]]\nfqdn = \"a.omani.works\"\n\n[[sovereign]]\nfqdn = \"b.omani.works\"\ncatalyst_api = \"http://127.0.0.1:4000\"\n";
        let file = parse(&p(), text).expect("parses");
        assert_eq!(file.catalyst_api(None), Some("http://127.0.0.1:4000"));
        assert_eq!(file.catalyst_api(Some("a.omani.works")), None);
        assert_eq!(
            file.catalyst_api(Some("b.omani.works")),
            Some("http://127.0.0.1:4000")
        );
    }

    #[test]
    fn parses_a_full_file() {
        let text = r#"
adopt_kubeconfig = true

[[sovereign]]
fqdn = "omantel.omani.works"
kubeconfig = "kube/omantel.yaml"
tags = ["prod"]
catalyst_api = "https://console.openova.io"
deployment_id = "abc"
hetzner = { token_env = "HCLOUD_TOKEN" }

[[sovereign]]
fqdn = "lab.example.org"
kubeconfig = "/abs/kubeconfig"
context = "lab"
namespace = "flux-system"
hetzner = { token_cmd = "op read x" }
"#;
        let f = parse(&p(), text).expect("valid");
        assert!(f.adopt_kubeconfig);
        assert_eq!(f.sovereigns.len(), 2);
        let a = &f.sovereigns[0];
        assert_eq!(a.context, "omantel.omani.works");
        assert_eq!(
            a.kubeconfig.as_deref(),
            Some(Path::new("/etc/sovtui/kube/omantel.yaml"))
        );
        assert!(a.is_prod());
        assert_eq!(
            a.hetzner,
            Some(HetznerTokenSource::TokenEnv("HCLOUD_TOKEN".into()))
        );
        let b = &f.sovereigns[1];
        assert_eq!(b.context, "lab");
        assert_eq!(b.namespace.as_deref(), Some("flux-system"));
        assert_eq!(b.kubeconfig.as_deref(), Some(Path::new("/abs/kubeconfig")));
        assert!(!b.is_prod());
    }

    #[test]
    fn to_toml_round_trips() {
        let text = "adopt_kubeconfig = true\n[[sovereign]]\nfqdn = \"a.b\"\nkubeconfig = \"/k/config\"\n\
                    context = \"ctx\"\nnamespace = \"flux-system\"\ntags = [\"prod\"]\n\
                    catalyst_api = \"http://127.0.0.1:9/\"\ndeployment_id = \"d1\"\n\
                    hetzner = { hcloud_context = \"x\" }\n\n[[sovereign]]\nfqdn = \"c.d\"\n";
        let f = parse(&p(), text).expect("valid");
        let again = parse(&p(), &f.to_toml()).expect("round trip");
        assert_eq!(again, f, "{}", f.to_toml());
    }

    #[test]
    fn empty_file_is_an_empty_fleet() {
        assert_eq!(parse(&p(), "").expect("valid"), FleetFile::default());
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let text = "[[sovereign]]\nfqdn = \"a.b\"\ntags = [\"prod\" \"x\"]\ncontext = \"c\"\n";
        let e = parse(&p(), text).expect_err("broken");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(
            e.to_string().starts_with("/etc/sovtui/fleet.toml:3:"),
            "{e}"
        );
    }

    #[test]
    fn unknown_fields_are_errors_at_their_line() {
        let text = "[[sovereign]]\nfqdn = \"a.b\"\nkubeconfg = \"x\"\n";
        let e = parse(&p(), text).expect_err("typo");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("kubeconfg"), "{e}");
    }

    #[test]
    fn validation_errors_point_at_the_field() {
        let dup = "[[sovereign]]\nfqdn = \"a.b\"\n\n[[sovereign]]\nfqdn = \"a.b\"\n";
        let e = parse(&p(), dup).expect_err("duplicate");
        assert_eq!(e.line, Some(5));
        assert!(e.message.contains("twice"));

        let bad = "[[sovereign]]\nfqdn = \"Not_A_Name\"\n";
        let e = parse(&p(), bad).expect_err("bad fqdn");
        assert_eq!(e.line, Some(2));
        assert!(e.message.starts_with("fqdn:"));

        let url = "[[sovereign]]\nfqdn = \"a.b\"\ncatalyst_api = \"ftp://x\"\n";
        let e = parse(&p(), url).expect_err("bad url");
        assert_eq!(e.line, Some(3));

        let two =
            "[[sovereign]]\nfqdn = \"a.b\"\nhetzner = { token_env = \"A\", token_cmd = \"b\" }\n";
        let e = parse(&p(), two).expect_err("two sources");
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("exactly one"));

        let orphan = "[[sovereign]]\nfqdn = \"a.b\"\ndeployment_id = \"x\"\n";
        let e = parse(&p(), orphan).expect_err("orphan id");
        assert_eq!(e.line, Some(3));
    }

    #[test]
    fn missing_fqdn_is_an_error() {
        let e = parse(&p(), "[[sovereign]]\ncontext = \"x\"\n").expect_err("no fqdn");
        assert!(e.message.contains("fqdn"), "{e}");
        assert!(e.line.is_some());
    }

    #[test]
    fn token_sources_resolve_without_showing_the_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("cli.toml");
        std::fs::write(
            &cfg,
            "active_context = \"a\"\n[[contexts]]\nname = \"a\"\ntoken = \"tok-a\"\n",
        )
        .expect("write");
        let t = HetznerTokenSource::HcloudContext("a".into())
            .resolve_with(Some(&cfg))
            .expect("context");
        assert_eq!(t.expose(), "tok-a");
        assert_eq!(format!("{t:?}"), "Token(****)");
        assert!(
            HetznerTokenSource::HcloudContext("b".into())
                .resolve_with(Some(&cfg))
                .is_err()
        );
        let t = HetznerTokenSource::TokenCmd("echo ' tok-cmd '; echo noise >&2".into())
            .resolve_with(None)
            .expect("cmd");
        assert_eq!(t.expose(), "tok-cmd");
        let e = HetznerTokenSource::TokenCmd("echo secret-in-stderr >&2; exit 3".into())
            .resolve_with(None)
            .expect_err("fails");
        assert!(!e.contains("secret-in-stderr"), "{e}");
        assert!(
            HetznerTokenSource::TokenEnv("SOVTUI_SURELY_UNSET_VAR".into())
                .resolve_with(None)
                .is_err()
        );
    }

    #[test]
    fn adoption_adds_unlisted_contexts_only() {
        let f = parse(
            &p(),
            "adopt_kubeconfig = true\n[[sovereign]]\nfqdn = \"a.b\"\n",
        )
        .expect("valid");
        let all = f.with_adopted(&["a.b".into(), "c.d".into()]);
        assert_eq!(all.len(), 2);
        assert!(all[1].adopted);
        assert_eq!(all[1].fqdn, "c.d");
        let off = parse(&p(), "[[sovereign]]\nfqdn = \"a.b\"\n").expect("valid");
        assert_eq!(off.with_adopted(&["c.d".into()]).len(), 1);
    }

    fn joined(fqdn: &str) -> JoinEntry {
        JoinEntry {
            fqdn: fqdn.into(),
            catalyst_api: "http://127.0.0.1:4000".into(),
            deployment_id: "d-42".into(),
            tags: vec!["prod".into()],
        }
    }

    #[test]
    fn appending_keeps_the_file_byte_for_byte_and_refuses_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fleet.toml");
        let original = "# my fleet\n[[sovereign]]\nfqdn = \"a.b\"  # the lab\nkubeconfig = \"k\"";
        std::fs::write(&path, original).expect("write");
        let fleet = append_sovereign(&path, &joined("new.omani.works")).expect("appended");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with(original), "{text}");
        assert_eq!(fleet.sovereigns.len(), 2);
        let new = &fleet.sovereigns[1];
        assert_eq!(new.kubeconfig_from, KubeconfigFrom::Catalyst);
        assert_eq!(new.deployment_id.as_deref(), Some("d-42"));
        assert_eq!(new.kubeconfig, None);
        assert!(new.is_prod());
        assert_eq!(load(&path).expect("loads"), fleet);

        let before = std::fs::read(&path).expect("read");
        match append_sovereign(&path, &joined("new.omani.works")) {
            Err(AppendError::AlreadyListed(e)) => {
                assert!(e.line.is_some(), "{e}");
                assert!(e.message.contains("already"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read(&path).expect("read"), before, "untouched");
    }

    #[test]
    fn appending_creates_a_missing_file_and_refuses_broken_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty/fleet.toml");
        assert!(create_if_absent(&empty).expect("created"));
        assert!(!create_if_absent(&empty).expect("kept"));
        assert_eq!(load(&empty).expect("valid"), FleetFile::default());
        let path = dir.path().join("sub/dir/fleet.toml");
        append_sovereign(&path, &joined("x.y")).expect("created");
        assert_eq!(load(&path).expect("loads").sovereigns.len(), 1);

        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, "[[sovereign]]\nfqdn = \n").expect("write");
        assert!(matches!(
            append_sovereign(&broken, &joined("x.y")),
            Err(AppendError::Invalid(_))
        ));
        assert_eq!(
            std::fs::read_to_string(&broken).expect("read"),
            "[[sovereign]]\nfqdn = \n"
        );

        let bad = JoinEntry {
            fqdn: "Not A Name".into(),
            ..joined("x")
        };
        let e = append_sovereign(&path, &bad).expect_err("bad fqdn");
        assert!(e.to_string().contains("fqdn"), "{e}");
    }

    #[test]
    fn kubeconfig_from_catalyst_needs_its_api_and_deployment() {
        let ok = "[[sovereign]]\nfqdn = \"a.b\"\ncatalyst_api = \"http://x\"\ndeployment_id = \"d\"\nkubeconfig_from = \"catalyst\"\n";
        let f = parse(&p(), ok).expect("valid");
        assert_eq!(f.sovereigns[0].kubeconfig_from, KubeconfigFrom::Catalyst);
        assert_eq!(parse(&p(), &f.to_toml()).expect("round trip"), f);

        let no_id = "[[sovereign]]\nfqdn = \"a.b\"\ncatalyst_api = \"http://x\"\nkubeconfig_from = \"catalyst\"\n";
        let e = parse(&p(), no_id).expect_err("no deployment");
        assert_eq!(e.line, Some(4), "{e}");
        let both = "[[sovereign]]\nfqdn = \"a.b\"\nkubeconfig = \"k\"\ncatalyst_api = \"http://x\"\ndeployment_id = \"d\"\nkubeconfig_from = \"catalyst\"\n";
        assert!(parse(&p(), both).is_err());
        let odd = "[[sovereign]]\nfqdn = \"a.b\"\nkubeconfig_from = \"s3\"\n";
        assert_eq!(parse(&p(), odd).expect_err("unknown").line, Some(3));
    }
}
