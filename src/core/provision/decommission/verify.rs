//! Runbook §2.1's "after destroy, verify" — checked, not read off catalyst-api's report: Hetzner
//! by a full listing and the ownership rule, PDM by its check route, DNS by asking the
//! mothership's server for `console.<fqdn>`.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{DecommissionPlan, Event, Options, PdmName};
use crate::provision::catalyst::PdmClient;
use crate::provision::dns;
use crate::provision::hetzner::client::{HetznerClient, HetznerError};
use crate::provision::hetzner::inventory::{CloudObject, Inventory};
use crate::provision::hetzner::ownership::{self, MatchReason};
use crate::provision::safe_text::terminal_safe;

/// Outside text made terminal-safe, owned.
fn safe(s: &str) -> String {
    terminal_safe(s).into_owned()
}

/// How one item came out. Always shown with its word, never by colour or glyph alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckState {
    /// Nothing of the Sovereign is left here.
    Gone,
    /// Something is left; `leftovers` names it.
    Left,
    /// Could not be checked (no address for it, or it did not answer): not verified.
    Unknown,
}

impl CheckState {
    /// Mark and word.
    pub fn mark(self) -> &'static str {
        match self {
            CheckState::Gone => "✓ gone",
            CheckState::Left => "✗ LEFT",
            CheckState::Unknown => "? unchecked",
        }
    }
}

/// One verification item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `hetzner`, `pdm`, `dns`.
    pub item: String,
    pub title: String,
    pub state: CheckState,
    pub summary: String,
    /// What is left, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<String>,
    /// What was seen that is not a leftover (objects labelled for another Sovereign).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// DNS: until when a resolver that cached the answer before the wipe may still return it
    /// (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_resolve_until: Option<String>,
}

/// The three items, in the runbook's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub checks: Vec<Check>,
}

impl Verification {
    /// Every leftover and every item that could not be checked, one line each.
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.checks {
            match c.state {
                CheckState::Gone => {}
                CheckState::Left if !c.leftovers.is_empty() => {
                    out.extend(c.leftovers.iter().map(|l| format!("{}: {l}", c.title)))
                }
                CheckState::Left => out.push(format!("{}: {}", c.title, c.summary)),
                CheckState::Unknown => {
                    out.push(format!("{}: not checked — {}", c.title, c.summary))
                }
            }
        }
        out
    }
}

/// What the mothership's DNS answered for `console.<fqdn>` at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsSeen {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    pub name: String,
    /// `NOERROR`, `NXDOMAIN`, `REFUSED`, …, or `no-answer` / `not-asked`.
    pub rcode: String,
    pub addresses: Vec<String>,
    /// The largest TTL of the answer's A records (0: no records).
    pub ttl: u32,
    /// RFC 3339, UTC.
    pub at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

impl DnsSeen {
    pub fn resolves(&self) -> bool {
        !self.addresses.is_empty()
    }

    /// One line for a plan or a check.
    pub fn line(&self) -> String {
        let at = self.server.as_deref().unwrap_or("no DNS server");
        if !self.error.is_empty() {
            return format!("{}: no answer from {at} ({})", self.name, self.error);
        }
        if self.rcode == "not-asked" {
            return format!(
                "{}: not asked (no [mothership] dns in the fleet file)",
                self.name
            );
        }
        if self.resolves() {
            format!(
                "{} resolves to {} (TTL {} s) at {at}",
                self.name,
                self.addresses.join(", "),
                self.ttl
            )
        } else {
            format!("{} resolves nowhere at {at} ({})", self.name, self.rcode)
        }
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Ask `server` for `console.<fqdn>`'s A records.
pub async fn dns_seen(server: Option<SocketAddr>, fqdn: &str, deadline: Duration) -> DnsSeen {
    let name = format!("console.{fqdn}");
    let mut seen = DnsSeen {
        server: server.map(|s| s.to_string()),
        name: name.clone(),
        rcode: "not-asked".into(),
        at: now_rfc3339(),
        ..DnsSeen::default()
    };
    let Some(server) = server else {
        return seen;
    };
    match dns::ask(server, &name, dns::TYPE_A, deadline).await {
        Ok(a) => {
            seen.rcode = a.rcode_name().to_string();
            let records = a.a_records();
            seen.ttl = records.iter().map(|(_, t)| *t).max().unwrap_or(0);
            seen.addresses = records.iter().map(|(ip, _)| ip.to_string()).collect();
        }
        Err(e) => {
            seen.rcode = "no-answer".into();
            seen.error = safe(&e);
        }
    }
    seen.at = now_rfc3339();
    seen
}

/// PDM's view of the name: (state, one line).
pub async fn pdm_state(pdm: &PdmName) -> (CheckState, String) {
    let Some(pool) = &pdm.pool else {
        return (
            CheckState::Gone,
            "under no pool zone (a BYO domain): PDM holds nothing for it".into(),
        );
    };
    let name = format!("{}.{pool}", pdm.sub);
    let Some(url) = &pdm.url else {
        return (
            CheckState::Unknown,
            format!("{name}: no PDM URL ([mothership] pdm in the fleet file)"),
        );
    };
    let client = match PdmClient::new(url) {
        Ok(c) => c,
        Err(e) => return (CheckState::Unknown, safe(&format!("PDM {url}: {e}"))),
    };
    match client.check(pool, &pdm.sub).await {
        Ok(v) if v.available => (CheckState::Gone, format!("{name} is AVAILABLE at PDM")),
        Ok(v) => (
            CheckState::Left,
            safe(&format!(
                "{name} is held at PDM ({})",
                v.reason.as_deref().unwrap_or("not available")
            )),
        ),
        Err(e) => (
            CheckState::Unknown,
            safe(&format!("PDM check of {name}: {e}")),
        ),
    }
}

fn describe(o: &CloudObject) -> String {
    safe(&format!("{} {} #{}", o.kind.singular(), o.name, o.id))
}

fn why(reasons: &[MatchReason]) -> String {
    reasons
        .iter()
        .map(MatchReason::describe)
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Item 1: a full listing, the ownership rule; re-listed while objects linger (Hetzner keeps a
/// deleted object listed for a while) until `opts.verify_grace`.
async fn hetzner_check(
    client: &HetznerClient,
    plan: &DecommissionPlan,
    opts: &Options,
) -> Result<Check, HetznerError> {
    let until = Instant::now() + opts.verify_grace;
    let owned = loop {
        let inv = Inventory::fetch(client).await?;
        let owned = ownership::claim(&inv, &plan.fqdn, &plan.known_sovereigns);
        if (owned.ours.is_empty() && owned.ambiguous.is_empty()) || Instant::now() >= until {
            break owned;
        }
        tokio::time::sleep(opts.poll_interval).await;
    };
    let mut leftovers: Vec<String> = owned
        .ours
        .iter()
        .map(|c| format!("{} (ours by {})", describe(&c.object), why(&c.reasons)))
        .collect();
    leftovers.extend(owned.ambiguous.iter().map(|a| {
        format!(
            "{} is ambiguous ({}): may be ours — {}",
            describe(&a.object),
            a.candidates
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
            safe(&a.resolve)
        )
    }));
    let notes = owned
        .vetoed
        .iter()
        .map(|v| {
            format!(
                "not ours: {} is labelled for {} (its {} points here; the label decides)",
                describe(&v.object),
                safe(&v.owner),
                why(&v.reasons)
            )
        })
        .collect();
    let (state, summary) = if leftovers.is_empty() {
        (
            CheckState::Gone,
            format!(
                "nothing of {} in the project (full listing, ownership rule)",
                plan.fqdn
            ),
        )
    } else {
        (
            CheckState::Left,
            format!(
                "{} object(s) of {} still in the project",
                leftovers.len(),
                plan.fqdn
            ),
        )
    };
    Ok(Check {
        item: "hetzner".into(),
        title: "Hetzner objects".into(),
        state,
        summary,
        leftovers,
        notes,
        may_resolve_until: None,
    })
}

/// Item 3: the authoritative answer, re-asked while it still resolves until `opts.verify_grace`;
/// once it resolves nowhere, how long a cached answer may linger.
async fn dns_check(plan: &DecommissionPlan, ttl_before: u32, opts: &Options) -> Check {
    let server = plan.dns.server.as_deref().and_then(|s| s.parse().ok());
    let until = Instant::now() + opts.verify_grace;
    let seen = loop {
        let seen = dns_seen(server, &plan.fqdn, opts.dns_deadline).await;
        if !seen.resolves() || Instant::now() >= until {
            break seen;
        }
        tokio::time::sleep(opts.poll_interval).await;
    };
    let mut check = Check {
        item: "dns".into(),
        title: "DNS".into(),
        state: CheckState::Gone,
        summary: seen.line(),
        leftovers: Vec::new(),
        notes: Vec::new(),
        may_resolve_until: None,
    };
    if seen.rcode == "not-asked" || !seen.error.is_empty() {
        check.state = CheckState::Unknown;
    } else if seen.resolves() {
        check.state = CheckState::Left;
        check.leftovers.push(format!(
            "{} — the zone PDM wrote is still served",
            seen.line()
        ));
    } else if ttl_before > 0 {
        // The zone went at the latest now; a resolver that cached the answer just before keeps
        // it for at most its TTL.
        let until = chrono::Utc::now() + chrono::Duration::seconds(i64::from(ttl_before));
        check.may_resolve_until = Some(until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        check.notes.push(format!(
            "may resolve until {} UTC from resolvers that cached it before the wipe (TTL {} s)",
            until.format("%H:%M:%S"),
            ttl_before
        ));
    } else {
        check
            .notes
            .push("resolved nowhere before the wipe either: no resolver holds it".into());
    }
    check
}

/// The three items after the wipe. `ttl_before`: the TTL of `console.<fqdn>` seen before it.
pub async fn verify(
    client: &HetznerClient,
    plan: &DecommissionPlan,
    ttl_before: u32,
    opts: &Options,
    emit: &(dyn Fn(Event) + Send + Sync),
) -> Result<Verification, HetznerError> {
    emit(Event::Verifying {
        item: "hetzner".into(),
    });
    let hetzner = hetzner_check(client, plan, opts).await?;
    emit(Event::Checked {
        check: hetzner.clone(),
    });

    emit(Event::Verifying { item: "pdm".into() });
    let (state, summary) = pdm_state(&plan.pdm).await;
    let pdm = Check {
        item: "pdm".into(),
        title: "PDM name".into(),
        state,
        leftovers: if state == CheckState::Left {
            vec![summary.clone()]
        } else {
            Vec::new()
        },
        summary,
        notes: Vec::new(),
        may_resolve_until: None,
    };
    emit(Event::Checked { check: pdm.clone() });

    emit(Event::Verifying { item: "dns".into() });
    let dns = dns_check(plan, ttl_before, opts).await;
    emit(Event::Checked { check: dns.clone() });
    Ok(Verification {
        checks: vec![hetzner, pdm, dns],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(state: CheckState, leftovers: &[&str]) -> Check {
        Check {
            item: "x".into(),
            title: "X".into(),
            state,
            summary: "summary".into(),
            leftovers: leftovers.iter().map(|s| s.to_string()).collect(),
            notes: Vec::new(),
            may_resolve_until: None,
        }
    }

    #[test]
    fn leftovers_name_every_item_that_is_not_gone() {
        let v = Verification {
            checks: vec![
                check(CheckState::Gone, &[]),
                check(CheckState::Left, &["server a #1", "volume b #2"]),
                check(CheckState::Unknown, &[]),
            ],
        };
        assert_eq!(
            v.leftovers(),
            vec![
                "X: server a #1".to_string(),
                "X: volume b #2".into(),
                "X: not checked — summary".into()
            ]
        );
        let clean = Verification {
            checks: vec![check(CheckState::Gone, &[])],
        };
        assert!(clean.leftovers().is_empty());
    }

    #[tokio::test]
    async fn a_byo_name_holds_at_pdm_and_no_url_is_unchecked() {
        let byo = PdmName {
            url: None,
            pool: None,
            sub: "acme".into(),
            seen: String::new(),
        };
        assert_eq!(pdm_state(&byo).await.0, CheckState::Gone);
        let pool = PdmName {
            pool: Some("omani.works".into()),
            ..byo
        };
        assert_eq!(pdm_state(&pool).await.0, CheckState::Unknown);
    }
}
