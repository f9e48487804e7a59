//! Every bound sovtui puts on what it reads from the outside: deadlines on calls and streams,
//! caps on bodies and stream events, and which plain-HTTP destinations are acceptable. This is
//! the one place they are defined; docs/RELIABILITY.md lists them with their defaults.
//!
//! Values come from, later winning: the defaults below, the fleet file's `[limits]` table, the
//! `SOVTUI_*` environment variables of [`ENV`], and `--insecure-http`. The CLI installs the
//! result once at start ([`install`]); library callers that need other values (tests, embedders)
//! pass a `Limits` to the clients' `with_limits` constructors.

use std::sync::OnceLock;
use std::time::Duration;

/// Deadlines and caps of every outside call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// TCP (and TLS) connection set-up.
    pub connect: Duration,
    /// A whole ordinary exchange, from sending the request to the last byte of the answer
    /// (catalyst-api JSON, kubeconfig, Kubernetes LIST/GET, opening a stream up to its headers).
    pub request: Duration,
    /// Longest silence on the deployment event stream (SSE) before it counts as stalled and is
    /// reopened. catalyst-api sends no heartbeats, so this also bounds how long a quiet but healthy
    /// stream lives before a (de-duplicated) replay.
    pub sse_idle: Duration,
    /// Longest silence on a Kubernetes watch before it counts as stalled and is reopened; the
    /// server is asked to end each watch well before this.
    pub watch_idle: Duration,
    /// Largest single SSE event (all its `data:` lines together).
    pub max_event: usize,
    /// Largest response body read into memory.
    pub max_body: usize,
    /// Allow plain `http://` to hosts other than loopback (tokens and kubeconfigs would travel
    /// in clear).
    pub insecure_http: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
            sse_idle: Duration::from_secs(120),
            watch_idle: Duration::from_secs(330),
            max_event: 1024 * 1024,
            max_body: 64 * 1024 * 1024,
            insecure_http: false,
        }
    }
}

/// The environment variables, in the order of the fields they set.
pub const ENV: [&str; 7] = [
    "SOVTUI_CONNECT_TIMEOUT",
    "SOVTUI_REQUEST_TIMEOUT",
    "SOVTUI_SSE_IDLE",
    "SOVTUI_WATCH_IDLE",
    "SOVTUI_MAX_EVENT",
    "SOVTUI_MAX_BODY",
    "SOVTUI_INSECURE_HTTP",
];

/// The fleet file's `[limits]` table: every key optional, same spelling as the durations and
/// sizes of the environment (`"10s"`, `"500ms"`, `"2m"`, `"1MiB"`, `65536`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitsOverride {
    pub connect: Option<Duration>,
    pub request: Option<Duration>,
    pub sse_idle: Option<Duration>,
    pub watch_idle: Option<Duration>,
    pub max_event: Option<usize>,
    pub max_body: Option<usize>,
    pub insecure_http: Option<bool>,
}

impl LimitsOverride {
    pub fn is_empty(&self) -> bool {
        *self == LimitsOverride::default()
    }

    /// Read the `SOVTUI_*` variables; a value that does not parse is an error naming it.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let dur = |k: &str| -> Result<Option<Duration>, String> {
            get(k)
                .filter(|v| !v.trim().is_empty())
                .map(|v| parse_duration(&v).map_err(|e| format!("{k}: {e}")))
                .transpose()
        };
        let size = |k: &str| -> Result<Option<usize>, String> {
            get(k)
                .filter(|v| !v.trim().is_empty())
                .map(|v| parse_size(&v).map_err(|e| format!("{k}: {e}")))
                .transpose()
        };
        Ok(LimitsOverride {
            connect: dur(ENV[0])?,
            request: dur(ENV[1])?,
            sse_idle: dur(ENV[2])?,
            watch_idle: dur(ENV[3])?,
            max_event: size(ENV[4])?,
            max_body: size(ENV[5])?,
            insecure_http: match get(ENV[6]).as_deref().map(str::trim) {
                None | Some("") => None,
                Some("1" | "true" | "yes") => Some(true),
                Some("0" | "false" | "no") => Some(false),
                Some(v) => return Err(format!("{}: {v:?} is not true/false", ENV[6])),
            },
        })
    }
}

impl Limits {
    /// These limits with every value `o` sets replaced.
    pub fn with(mut self, o: &LimitsOverride) -> Self {
        if let Some(v) = o.connect {
            self.connect = v;
        }
        if let Some(v) = o.request {
            self.request = v;
        }
        if let Some(v) = o.sse_idle {
            self.sse_idle = v;
        }
        if let Some(v) = o.watch_idle {
            self.watch_idle = v;
        }
        if let Some(v) = o.max_event {
            self.max_event = v;
        }
        if let Some(v) = o.max_body {
            self.max_body = v;
        }
        if let Some(v) = o.insecure_http {
            self.insecure_http = v;
        }
        self
    }

    /// The limits in force: what [`install`] set, else the defaults with the environment applied
    /// (a malformed variable is ignored here; the CLI reports it at start).
    pub fn current() -> Limits {
        CURRENT
            .get_or_init(|| Limits::default().with(&LimitsOverride::from_env().unwrap_or_default()))
            .clone()
    }

    /// Short deadlines and small caps for tests of misbehaving servers.
    pub fn strict(deadline: Duration) -> Limits {
        Limits {
            connect: deadline,
            request: deadline,
            sse_idle: deadline,
            watch_idle: deadline,
            ..Limits::default()
        }
    }
}

static CURRENT: OnceLock<Limits> = OnceLock::new();

/// Set the process-wide limits once, at start; later calls (and calls after the first
/// [`Limits::current`]) change nothing and return false.
pub fn install(limits: Limits) -> bool {
    CURRENT.set(limits).is_ok()
}

/// `"250ms"`, `"10s"`, `"2m"`, or a bare number of seconds; never zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 500ms, 10s or 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m)")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs < 86_400.0) {
        return Err(format!(
            "{text:?} must be more than zero and less than a day"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `"1MiB"`, `"64MiB"`, `"512KiB"`, `"1GiB"`, or a bare number of bytes; never zero.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, ""),
    };
    let n: usize = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 65536, 512KiB or 1MiB"))?;
    let mult: usize = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (KiB, MiB, GiB)")),
    };
    match n.checked_mul(mult) {
        Some(0) | None => Err(format!("{text:?} must be more than zero and fit in memory")),
        Some(v) => Ok(v),
    }
}

/// A size for messages: `1 MiB`, `64 MiB`, `1500 bytes`.
pub fn show_size(bytes: usize) -> String {
    for (unit, n) in [("GiB", 1usize << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= n && bytes.is_multiple_of(n) {
            return format!("{} {unit}", bytes / n);
        }
    }
    format!("{bytes} bytes")
}

/// A deadline for messages: `30s`, `1.5s`, `250ms`.
pub fn show_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Whether `url` may carry secrets (a Hetzner token, a kubeconfig): `https://` anywhere, plain
/// `http://` only to a loopback host (the simulated world) unless `insecure_http` allows it.
/// `what` names the setting in the error.
pub fn check_transport(what: &str, url: &str, limits: &Limits) -> Result<(), String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("{what}: {url:?} is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if limits.insecure_http || is_loopback(&parsed) => Ok(()),
        "http" => Err(format!(
            "{what}: {url} is plain http:// to a host that is not loopback; tokens and \
             kubeconfigs would travel in clear — use https:// (or --insecure-http / \
             [limits] insecure_http = true if you really mean it)"
        )),
        other => Err(format!(
            "{what}: {url}: scheme {other:?} is neither http nor https"
        )),
    }
}

fn is_loopback(u: &reqwest::Url) -> bool {
    let Some(host) = u.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// Whether two absolute URLs share scheme, host and port (a server-given `streamURL` is only
/// followed to the origin of the API that gave it).
pub fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse_in_the_documented_spellings() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("10h").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1TB").is_err());
        assert_eq!(show_size(1 << 20), "1 MiB");
        assert_eq!(show_size(1500), "1500 bytes");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn environment_overrides_name_the_bad_variable() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let o = LimitsOverride::from_lookup(env(&[
            ("SOVTUI_REQUEST_TIMEOUT", "2s"),
            ("SOVTUI_MAX_EVENT", "4KiB"),
            ("SOVTUI_INSECURE_HTTP", "1"),
        ]))
        .expect("parses");
        let l = Limits::default().with(&o);
        assert_eq!(l.request, Duration::from_secs(2));
        assert_eq!(l.max_event, 4096);
        assert!(l.insecure_http);
        assert_eq!(l.connect, Limits::default().connect);
        let e =
            LimitsOverride::from_lookup(env(&[("SOVTUI_SSE_IDLE", "forever")])).expect_err("bad");
        assert!(e.contains("SOVTUI_SSE_IDLE"), "{e}");
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        let l = Limits::default();
        assert!(check_transport("x", "https://api.hetzner.cloud/v1", &l).is_ok());
        assert!(check_transport("x", "http://127.0.0.1:8080/v1", &l).is_ok());
        assert!(check_transport("x", "http://[::1]:8080", &l).is_ok());
        assert!(check_transport("x", "http://localhost:1", &l).is_ok());
        let e = check_transport("--api", "http://console.example.org", &l).expect_err("clear");
        assert!(e.contains("--api") && e.contains("https://"), "{e}");
        assert!(check_transport("x", "http://127.0.0.1.nip.io", &l).is_err());
        let open = Limits {
            insecure_http: true,
            ..Limits::default()
        };
        assert!(check_transport("x", "http://console.example.org", &open).is_ok());
        assert!(check_transport("x", "ftp://h", &open).is_err());
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin(
            "http://127.0.0.1:8080/sovereign",
            "http://127.0.0.1:8080/other/logs"
        ));
        assert!(!same_origin(
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8081/x"
        ));
        assert!(!same_origin("https://a.example", "http://a.example/x"));
        assert!(!same_origin("https://a.example", "https://evil.example/x"));
    }
}
