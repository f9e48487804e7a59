//! HTTP probes of a Sovereign's public hosts (`console.<fqdn>`, `api.<fqdn>`): the status and
//! the `server` header tell a Cilium-Gateway envoy 403 (§2.9) from a healthy 200.

use crate::provision::troubleshoot::evidence::Evidence;

/// The public URLs worth probing for a Sovereign.
pub fn public_urls(fqdn: &str) -> Vec<String> {
    vec![
        format!("https://console.{fqdn}/"),
        format!("https://api.{fqdn}/healthz"),
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
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
}
