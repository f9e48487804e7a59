//! HTTP probes of a Sovereign's public hosts (`console.<fqdn>`, `api.<fqdn>`): the status and
//! the `server` header tell a Cilium-Gateway envoy 403 (§2.9) from a healthy 200.

use crate::config::fleet_file::ProbeOverride;
use crate::provision::troubleshoot::evidence::Evidence;

/// The public hosts of a Sovereign.
pub fn public_hosts(fqdn: &str) -> [String; 2] {
    [format!("console.{fqdn}"), format!("api.{fqdn}")]
}

/// The public URLs worth probing for a Sovereign.
pub fn public_urls(fqdn: &str) -> Vec<String> {
    public_urls_via(fqdn, None)
}

/// The public URLs, reached through `via` when given: its scheme, and its port in the URL (a
/// resolve override only replaces the address, the port comes from the URL).
pub fn public_urls_via(fqdn: &str, via: Option<&ProbeOverride>) -> Vec<String> {
    let (scheme, port) = match via {
        Some(v) => (v.scheme.as_str(), format!(":{}", v.resolve.port())),
        None => ("https", String::new()),
    };
    let [console, api] = public_hosts(fqdn);
    vec![
        format!("{scheme}://{console}{port}/"),
        format!("{scheme}://{api}{port}/healthz"),
    ]
}

/// GET each URL once (no redirects followed) and record `GET <url> <status> <server>` under
/// `probe.http`; transport failures are recorded as `GET <url> error <reason>`.
pub async fn probe(http: &reqwest::Client, urls: &[String], ev: &mut Evidence) {
    ev.mark("probe.http");
    for url in urls {
        let line = match http.get(url).send().await {
            Ok(resp) => {
                let server = resp
                    .headers()
                    .get(reqwest::header::SERVER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_string();
                format!("GET {url} {} {server}", resp.status().as_u16())
            }
            Err(e) => format!("GET {url} error {e}"),
        };
        ev.push("probe.http", line, Some(format!("probe {url}")));
    }
}

/// A client for probes: short timeout, no redirects (a 302 to a login page is an answer too).
pub fn client() -> reqwest::Result<reqwest::Client> {
    client_via("", None)
}

/// As `client`, resolving the Sovereign's public hosts to `via.resolve` instead of through DNS.
pub fn client_via(fqdn: &str, via: Option<&ProbeOverride>) -> reqwest::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(v) = via {
        for host in public_hosts(fqdn) {
            b = b.resolve(&host, v.resolve);
        }
    }
    b.build()
}
