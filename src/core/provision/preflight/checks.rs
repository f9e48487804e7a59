//! The eight checks. Each answers for itself: a source that does not answer makes its item `?`,
//! never another item ✗.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::{Inputs, Item, Report, Verdict, fix, title};
use crate::config::fleet_file::MothershipEntry;
use crate::provision::dns;
use crate::provision::hetzner::client::{ClientOptions, HetznerClient};
use crate::provision::hetzner::inventory::Inventory;
use crate::provision::hetzner::ownership;
use crate::provision::limits::Limits;
use crate::provision::safe_text::terminal_safe;

fn item(id: &str, verdict: Verdict, evidence: Vec<String>) -> Item {
    Item {
        id: id.to_string(),
        title: title(id).to_string(),
        verdict,
        evidence: evidence
            .iter()
            .map(|e| terminal_safe(e).into_owned())
            .collect(),
        fix: if verdict == Verdict::Pass {
            String::new()
        } else {
            fix(id).to_string()
        },
    }
}

/// Run A–H (concurrently) and return them in order.
pub async fn run(inputs: &Inputs) -> Report {
    let fqdn = inputs
        .request
        .as_ref()
        .map(|r| r.sovereign_fqdn.clone())
        .filter(|f| !f.is_empty())
        .or_else(|| inputs.fqdn.clone())
        .unwrap_or_default();
    let http = reqwest::Client::builder()
        .connect_timeout(inputs.limits.connect)
        .timeout(inputs.limits.request)
        .user_agent(concat!("sovtui/", env!("CARGO_PKG_VERSION")))
        .build();
    let kube = match &inputs.mothership {
        Some(m) => Some(mothership_client(m, inputs).await),
        None => None,
    };
    let (a, c, d, e, f, g, h) = tokio::join!(
        check_a(inputs, &fqdn),
        check_c(inputs, &fqdn, http.as_ref().ok()),
        check_d(inputs, kube.as_ref(), http.as_ref().ok()),
        check_e(inputs, kube.as_ref()),
        check_f(inputs),
        check_g(inputs, http.as_ref().ok()),
        check_h(inputs, http.as_ref().ok()),
    );
    let b = check_b(inputs);
    Report {
        fqdn,
        items: vec![a, b, c, d, e, f, g, h],
    }
}

async fn mothership_client(m: &MothershipEntry, inputs: &Inputs) -> Result<kube::Client, String> {
    crate::provision::mothership::client(m, inputs.default_kubeconfig.as_deref(), &inputs.limits)
        .await
}

async fn bounded<T, E: std::fmt::Display>(
    limits: &Limits,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limits.request, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!(
            "{what}: no answer within {}",
            crate::provision::limits::show_duration(limits.request)
        )),
    }
}

/// A: the token reads (a full listing) and writes (a create that cannot succeed), and the project
/// is this Sovereign's own.
async fn check_a(inputs: &Inputs, fqdn: &str) -> Item {
    let creds = match &inputs.hetzner {
        Ok(c) => c.clone(),
        Err(why) => {
            return item(
                "A",
                Verdict::Unknown,
                vec![format!("no Hetzner token: {why}")],
            );
        }
    };
    let mut ev = vec![format!(
        "token {} from {}",
        creds.fingerprint(),
        creds.source.describe()
    )];
    let client = match HetznerClient::new(creds.clone(), ClientOptions::default()) {
        Ok(c) => c,
        Err(e) => return item("A", Verdict::Unknown, vec![e.to_string()]),
    };
    let inv = match Inventory::fetch(&client).await {
        Ok(inv) => inv,
        Err(e) if e.is_unauthorized() => {
            ev.push(format!("read: refused ({e})"));
            return item("A", Verdict::Fail, ev);
        }
        Err(e) => {
            ev.push(format!("read: {e}"));
            return item("A", Verdict::Unknown, ev);
        }
    };
    ev.push(format!("read: ok, {} objects in the project", inv.len()));
    let mut verdict = Verdict::Pass;
    // A create that can never succeed (no name, no key): Hetzner checks the token's permission
    // before the body, so a read-only token gets 403 and a read-write one 4xx invalid_input.
    let url = format!("{}/ssh_keys", creds.endpoint.trim_end_matches('/'));
    let probe = reqwest::Client::builder()
        .connect_timeout(inputs.limits.connect)
        .timeout(inputs.limits.request)
        .build()
        .map_err(|e| e.to_string());
    match probe {
        Ok(http) => match http
            .post(&url)
            .bearer_auth(creds.token_for_write_probe())
            .json(&serde_json::json!({}))
            .send()
            .await
        {
            Ok(r) if r.status().as_u16() == 403 => {
                ev.push("write: refused with 403 forbidden — a read-only token".into());
                verdict = Verdict::Fail;
            }
            Ok(r) if r.status().as_u16() == 401 => {
                ev.push("write: refused with 401".into());
                verdict = Verdict::Fail;
            }
            Ok(r) if matches!(r.status().as_u16(), 400 | 422) => {
                ev.push(
                    "write: allowed (the empty create was refused as invalid input only)".into(),
                );
            }
            Ok(r) => {
                ev.push(format!("write: could not tell (HTTP {})", r.status()));
                verdict = Verdict::Unknown;
            }
            Err(e) => {
                ev.push(format!("write: could not tell ({e})"));
                verdict = Verdict::Unknown;
            }
        },
        Err(e) => {
            ev.push(format!("write: {e}"));
            verdict = Verdict::Unknown;
        }
    }
    if !fqdn.is_empty() {
        let own = ownership::claim(&inv, fqdn, &inputs.known_sovereigns);
        let others: Vec<&String> = own.others.iter().filter(|o| *o != fqdn).collect();
        if others.is_empty() {
            ev.push("project: no other Sovereign's objects".into());
        } else {
            let names: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
            ev.push(format!(
                "project: holds objects of {} — not a project of its own",
                names.join(", ")
            ));
            verdict = Verdict::Fail;
        }
        if !own.ambiguous.is_empty() {
            ev.push(format!(
                "project: {} unlabelled object(s) that could belong to another Sovereign",
                own.ambiguous.len()
            ));
            if verdict == Verdict::Pass {
                verdict = Verdict::Fail;
            }
        }
    }
    item("A", verdict, ev)
}

fn check_b(inputs: &Inputs) -> Item {
    let Some(req) = &inputs.request else {
        return item(
            "B",
            Verdict::Unknown,
            vec!["no request (--from REQ) to read the key from".into()],
        );
    };
    match crate::provision::wizard::rules::check_ssh_public_key(&req.ssh_public_key) {
        Ok(k) => {
            let mut ev = vec![format!("{} {} {}", k.key_type, k.fingerprint, k.comment)];
            ev.extend(k.warnings.iter().map(|w| format!("warning: {w}")));
            item("B", Verdict::Pass, ev)
        }
        Err(why) => item("B", Verdict::Fail, vec![why]),
    }
}

/// `(subdomain, pool)` of the request (or of the FQDN: first label, rest).
fn sub_and_pool(inputs: &Inputs, fqdn: &str) -> (String, String) {
    if let Some(r) = &inputs.request
        && !r.sovereign_subdomain.is_empty()
        && !r.sovereign_pool_domain.is_empty()
    {
        return (
            r.sovereign_subdomain.clone(),
            r.sovereign_pool_domain.clone(),
        );
    }
    match fqdn.split_once('.') {
        Some((s, p)) => (s.to_string(), p.to_string()),
        None => (fqdn.to_string(), String::new()),
    }
}

async fn check_c(inputs: &Inputs, fqdn: &str, http: Option<&reqwest::Client>) -> Item {
    if fqdn.is_empty() {
        return item("C", Verdict::Unknown, vec!["no FQDN to check".into()]);
    }
    let lower = fqdn.to_ascii_lowercase();
    if let Some(bad) = super::FORBIDDEN_DOMAINS
        .iter()
        .find(|d| lower == **d || lower.ends_with(&format!(".{d}")))
    {
        return item(
            "C",
            Verdict::Fail,
            vec![format!("{fqdn} is under the forbidden test domain {bad}")],
        );
    }
    if lower.contains("novacloud") || lower.contains("nova-cloud") {
        return item(
            "C",
            Verdict::Fail,
            vec![format!(
                "{fqdn} uses the forbidden predecessor brand Nova Cloud"
            )],
        );
    }
    let mode = inputs
        .request
        .as_ref()
        .map(|r| r.sovereign_domain_mode.as_str())
        .unwrap_or("pool");
    if !mode.is_empty() && mode != "pool" {
        return item(
            "C",
            Verdict::Pass,
            vec![format!("domain mode {mode}: no pool subdomain to reserve")],
        );
    }
    let (sub, pool) = sub_and_pool(inputs, fqdn);
    let mut ev = Vec::new();
    if let Some(m) = &inputs.mothership
        && !m.pool_zones.contains(&pool)
    {
        return item(
            "C",
            Verdict::Fail,
            vec![format!(
                "{pool} is not one of the pool zones ({})",
                m.pool_zones.join(", ")
            )],
        );
    }
    let Some(pdm) = inputs.mothership.as_ref().and_then(|m| m.pdm.clone()) else {
        return item(
            "C",
            Verdict::Unknown,
            vec!["no PDM URL ([mothership] pdm) to ask".into()],
        );
    };
    let Some(http) = http else {
        return item("C", Verdict::Unknown, vec!["no HTTP client".into()]);
    };
    let url = format!("{pdm}/api/v1/pool/{pool}/check");
    let answer = bounded(&inputs.limits, "PDM check", async {
        let r = http.get(&url).query(&[("sub", &sub)]).send().await?;
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        Ok::<_, reqwest::Error>((status, body))
    })
    .await;
    match answer {
        Ok((200, body)) => {
            let available = body["available"].as_bool().unwrap_or(false);
            let reason = body["reason"].as_str().unwrap_or("");
            if available {
                ev.push(format!("PDM: {sub}.{pool} is AVAILABLE"));
                item("C", Verdict::Pass, ev)
            } else {
                ev.push(format!(
                    "PDM: {sub}.{pool} is not available ({})",
                    if reason.is_empty() {
                        "no reason given"
                    } else {
                        reason
                    }
                ));
                item("C", Verdict::Fail, ev)
            }
        }
        Ok((status, body)) => item(
            "C",
            Verdict::Unknown,
            vec![format!("PDM check answered HTTP {status}: {body}")],
        ),
        Err(e) => item("C", Verdict::Unknown, vec![e]),
    }
}

fn secret_keys(s: &Secret) -> BTreeMap<String, usize> {
    let mut keys: BTreeMap<String, usize> = s
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.len()))
        .collect();
    for (k, v) in s.string_data.iter().flatten() {
        keys.insert(k.clone(), v.len());
    }
    keys
}

async fn get_secret(
    client: &kube::Client,
    limits: &Limits,
    ns: &str,
    name: &str,
) -> Result<Option<Secret>, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    bounded(limits, &format!("secret {ns}/{name}"), api.get_opt(name)).await
}

async fn check_d(
    inputs: &Inputs,
    kube: Option<&Result<kube::Client, String>>,
    http: Option<&reqwest::Client>,
) -> Item {
    let Some(kube) = kube else {
        return item(
            "D",
            Verdict::Unknown,
            vec!["no [mothership] in the fleet file".into()],
        );
    };
    let client = match kube {
        Ok(c) => c,
        Err(e) => return item("D", Verdict::Unknown, vec![e.clone()]),
    };
    let mut ev = Vec::new();
    let mut verdict = Verdict::Pass;
    let mut worst = |v: Verdict| {
        verdict = match (verdict, v) {
            (Verdict::Fail, _) | (_, Verdict::Fail) => Verdict::Fail,
            (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
            _ => Verdict::Pass,
        }
    };
    match get_secret(
        client,
        &inputs.limits,
        "openova-system",
        "dynadot-api-credentials",
    )
    .await
    {
        Ok(Some(s)) => {
            let keys = secret_keys(&s);
            let missing: Vec<&str> = ["api-key", "api-secret", "domain"]
                .into_iter()
                .filter(|k| keys.get(*k).is_none_or(|n| *n == 0))
                .collect();
            if missing.is_empty() {
                ev.push(
                    "secret openova-system/dynadot-api-credentials: api-key, api-secret, domain"
                        .into(),
                );
            } else {
                ev.push(format!(
                    "secret openova-system/dynadot-api-credentials: missing {}",
                    missing.join(", ")
                ));
                worst(Verdict::Fail);
            }
        }
        Ok(None) => {
            ev.push("secret openova-system/dynadot-api-credentials: not found".into());
            worst(Verdict::Fail);
        }
        Err(e) => {
            ev.push(e);
            worst(Verdict::Unknown);
        }
    }
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "openova-system");
    match bounded(
        &inputs.limits,
        "deploy pool-domain-manager",
        deploys.get_opt("pool-domain-manager"),
    )
    .await
    {
        Ok(Some(d)) => {
            let want = d.spec.replicas.unwrap_or(1);
            let ready = d
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            ev.push(format!("deploy pool-domain-manager: {ready}/{want} READY"));
            if ready < want || ready == 0 {
                worst(Verdict::Fail);
            }
        }
        Ok(None) => {
            ev.push("deploy openova-system/pool-domain-manager: not found".into());
            worst(Verdict::Fail);
        }
        Err(e) => {
            ev.push(e);
            worst(Verdict::Unknown);
        }
    }
    match (inputs.mothership.as_ref().and_then(|m| m.pdm.clone()), http) {
        (Some(pdm), Some(http)) => {
            let url = format!("{pdm}/healthz");
            let answer = bounded(&inputs.limits, "PDM /healthz", async {
                let r = http.get(&url).send().await?;
                let status = r.status().as_u16();
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                Ok::<_, reqwest::Error>((status, body))
            })
            .await;
            match answer {
                Ok((200, body)) if body["status"] == "ok" => {
                    ev.push("PDM /healthz: {\"status\":\"ok\"}".into())
                }
                Ok((status, body)) => {
                    ev.push(format!("PDM /healthz: HTTP {status} {body}"));
                    worst(Verdict::Fail);
                }
                Err(e) => {
                    ev.push(e);
                    worst(Verdict::Fail);
                }
            }
        }
        _ => {
            ev.push("PDM /healthz: no PDM URL ([mothership] pdm)".into());
            worst(Verdict::Unknown);
        }
    }
    item("D", verdict, ev)
}

async fn check_e(inputs: &Inputs, kube: Option<&Result<kube::Client, String>>) -> Item {
    let Some(kube) = kube else {
        return item(
            "E",
            Verdict::Unknown,
            vec!["no [mothership] in the fleet file".into()],
        );
    };
    let client = match kube {
        Ok(c) => c,
        Err(e) => return item("E", Verdict::Unknown, vec![e.clone()]),
    };
    let ns = inputs
        .mothership
        .as_ref()
        .map(|m| m.catalyst_namespace.clone())
        .unwrap_or_else(|| "catalyst".into());
    match get_secret(client, &inputs.limits, &ns, "catalyst-ghcr-pull-token").await {
        Ok(Some(s)) => {
            let keys = secret_keys(&s);
            match keys.get("token") {
                Some(n) if *n > 0 => item(
                    "E",
                    Verdict::Pass,
                    vec![format!(
                        "secret {ns}/catalyst-ghcr-pull-token: key token ({n} bytes)"
                    )],
                ),
                _ => item(
                    "E",
                    Verdict::Fail,
                    vec![format!(
                        "secret {ns}/catalyst-ghcr-pull-token: no key token"
                    )],
                ),
            }
        }
        Ok(None) => item(
            "E",
            Verdict::Fail,
            vec![format!("secret {ns}/catalyst-ghcr-pull-token: not found")],
        ),
        Err(e) => item("E", Verdict::Unknown, vec![e]),
    }
}

async fn check_f(inputs: &Inputs) -> Item {
    let Some(m) = &inputs.mothership else {
        return item(
            "F",
            Verdict::Unknown,
            vec!["no [mothership] in the fleet file".into()],
        );
    };
    let Some(server) = m.dns else {
        return item(
            "F",
            Verdict::Unknown,
            vec!["no PowerDNS address ([mothership] dns) to ask".into()],
        );
    };
    let deadline = inputs.limits.request.min(Duration::from_secs(5));
    let mut ev = Vec::new();
    let mut verdict = Verdict::Pass;
    for zone in &m.pool_zones {
        match dns::ask(server, zone, dns::TYPE_SOA, deadline).await {
            Ok(a) if a.rcode == 0 && a.records.iter().any(|(t, _, _)| *t == dns::TYPE_SOA) => {
                ev.push(format!("{zone}: served (SOA)"));
            }
            Ok(a) => {
                ev.push(format!(
                    "{zone}: MISSING (PowerDNS answered {})",
                    a.rcode_name()
                ));
                verdict = Verdict::Fail;
            }
            Err(e) => {
                ev.push(e);
                if verdict == Verdict::Pass {
                    verdict = Verdict::Unknown;
                }
            }
        }
    }
    item("F", verdict, ev)
}

async fn check_g(inputs: &Inputs, http: Option<&reqwest::Client>) -> Item {
    let Some(http) = http else {
        return item("G", Verdict::Unknown, vec!["no HTTP client".into()]);
    };
    let registry = inputs
        .mothership
        .as_ref()
        .map(|m| m.registry.clone())
        .unwrap_or_else(|| "https://ghcr.io".into());
    let kit = &inputs.kit;
    if kit.charts.is_empty() {
        return item(
            "G",
            Verdict::Unknown,
            vec![format!("kit {} pins no charts", kit.name)],
        );
    }
    let results: Vec<(String, String, Result<Option<String>, String>)> =
        futures::stream::iter(kit.charts.iter().cloned())
            .map(|(chart, version)| {
                let url = format!(
                    "{registry}/v2/{}/{chart}/manifests/{version}",
                    kit.repository
                );
                async move {
                    let r = bounded(
                        &inputs.limits,
                        &format!("{chart}:{version}"),
                        super::oci::manifest_digest(http, &url, &inputs.limits),
                    )
                    .await;
                    (chart, version, r)
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
    let mut missing = Vec::new();
    let mut unknown = Vec::new();
    let mut found = 0;
    for (chart, version, r) in results {
        match r {
            Ok(Some(d)) if d.starts_with("sha256:") => found += 1,
            Ok(Some(_)) => unknown.push(format!(
                "{chart}:{version}: 200 without a Docker-Content-Digest"
            )),
            Ok(None) => missing.push(format!("{chart}:{version}")),
            Err(e) => unknown.push(e),
        }
    }
    missing.sort();
    let mut ev = vec![format!(
        "{found}/{} charts of kit {} found at {registry}/{}",
        kit.charts.len(),
        kit.name,
        kit.repository
    )];
    let verdict = if !missing.is_empty() {
        ev.push(format!("missing: {}", missing.join(", ")));
        Verdict::Fail
    } else if !unknown.is_empty() {
        Verdict::Unknown
    } else {
        Verdict::Pass
    };
    ev.extend(unknown.into_iter().take(5));
    item("G", verdict, ev)
}

async fn check_h(inputs: &Inputs, http: Option<&reqwest::Client>) -> Item {
    let Some(http) = http else {
        return item("H", Verdict::Unknown, vec!["no HTTP client".into()]);
    };
    let (ci, repo, wf) = match &inputs.mothership {
        Some(m) => (m.ci.clone(), m.ci_repo.clone(), m.ci_workflow.clone()),
        None => (
            "https://api.github.com".into(),
            "openova-io/openova".into(),
            "blueprint-release.yaml".into(),
        ),
    };
    let url = format!("{ci}/repos/{repo}/actions/workflows/{wf}/runs");
    let answer = bounded(&inputs.limits, "CI runs", async {
        let mut req = http
            .get(&url)
            .query(&[("branch", "main"), ("per_page", "5")])
            .header("accept", "application/vnd.github+json");
        if let Some(t) = &inputs.github_token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        Ok::<_, reqwest::Error>((status, body))
    })
    .await;
    let (status, body) = match answer {
        Ok(a) => a,
        Err(e) => return item("H", Verdict::Unknown, vec![e]),
    };
    if status != 200 {
        return item(
            "H",
            Verdict::Unknown,
            vec![format!("{wf} runs: HTTP {status}")],
        );
    }
    let runs: Vec<&serde_json::Value> = body["workflow_runs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| r["head_branch"] == "main")
                .take(5)
                .collect()
        })
        .unwrap_or_default();
    if runs.is_empty() {
        return item(
            "H",
            Verdict::Unknown,
            vec![format!("{wf}: no runs on main")],
        );
    }
    let mut ev = Vec::new();
    let mut verdict = Verdict::Pass;
    for r in &runs {
        let conclusion = r["conclusion"].as_str().unwrap_or("(none)");
        ev.push(format!(
            "run {} on {} ({}): {conclusion}",
            r["id"],
            r["head_branch"].as_str().unwrap_or("?"),
            r["event"].as_str().unwrap_or("?")
        ));
        if conclusion != "success" {
            verdict = Verdict::Fail;
        }
    }
    item("H", verdict, ev)
}
