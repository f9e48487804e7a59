//! Hetzner-side faults and knobs as scenario data: a scenario file embeds a `HetznerFaults` and
//! the world applies it through the same control surface tests use, so a fault is data, not a
//! bespoke code path (runbook §7.1: orphans → `uniqueness_error`, M1 read-only token → 403,
//! M2 project limits → `resource_limit_exceeded`, rate limits → 429).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::{HetznerControl, Kind, RateBudget, TokenAccess};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActionFailure {
    pub code: String,
    pub message: String,
}

/// An object that exists before the scenario starts (e.g. orphans of an earlier partial apply).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedObject {
    /// Collection name as in the URL: `servers`, `networks`, `primary_ips`, …
    pub kind: String,
    /// The API's create body.
    pub body: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HetznerFaults {
    /// Simulated seconds a deleted object stays listed after DELETE answered success.
    pub linger_seconds: Option<f64>,
    /// Simulated seconds an ordinary action takes.
    pub action_seconds: Option<f64>,
    /// Simulated seconds every request takes (a slow API).
    pub latency_seconds: Option<f64>,
    pub rate_limit: Option<RateBudget>,
    /// Project limits by collection name, e.g. `{servers = 10, load_balancers = 1}`.
    pub limits: BTreeMap<String, usize>,
    /// Actions by command (`create_server`, …) that end in `error`.
    pub failing_actions: BTreeMap<String, ActionFailure>,
    /// Extra tokens that may only read (pass credential validation, fail at apply).
    pub read_only_tokens: Vec<String>,
    /// Tokens that are rejected with 401 even if configured (expired/revoked).
    pub revoked_tokens: Vec<String>,
    pub objects: Vec<SeedObject>,
    /// The API answers 503 to everything (catalyst-api: "could not reach Hetzner API").
    pub outage: bool,
}

fn seconds(field: &str, v: f64) -> ApiResult<Duration> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| ApiError::invalid_input(field, format!("{v} is not a non-negative duration")))
}

fn kind(field: &str, name: &str) -> ApiResult<Kind> {
    Kind::from_path(name)
        .ok_or_else(|| ApiError::invalid_input(field, format!("unknown kind '{name}'")))
}

impl HetznerControl {
    /// Apply scenario data; validation happens before anything changes, except that seeded
    /// objects are created in order and stop at the first failure (naming it).
    pub fn apply_faults(&self, f: &HetznerFaults) -> ApiResult<()> {
        let linger = f
            .linger_seconds
            .map(|s| seconds("linger_seconds", s))
            .transpose()?;
        let action = f
            .action_seconds
            .map(|s| seconds("action_seconds", s))
            .transpose()?;
        let latency = f
            .latency_seconds
            .map(|s| seconds("latency_seconds", s))
            .transpose()?;
        let limits: Vec<(Kind, usize)> = f
            .limits
            .iter()
            .map(|(k, n)| Ok((kind("limits", k)?, *n)))
            .collect::<ApiResult<_>>()?;
        let seeds: Vec<(Kind, &Value)> = f
            .objects
            .iter()
            .map(|o| Ok((kind("objects.kind", &o.kind)?, &o.body)))
            .collect::<ApiResult<_>>()?;
        if let Some(l) = linger {
            self.set_linger(l);
        }
        if let Some(a) = action {
            self.set_action_duration(a);
        }
        if let Some(l) = latency {
            self.set_latency(l);
        }
        if let Some(r) = f.rate_limit {
            self.set_rate_budget(r);
        }
        for (k, n) in limits {
            self.set_limit(k, Some(n));
        }
        for (command, failure) in &f.failing_actions {
            self.fail_actions(command, Some((&failure.code, &failure.message)));
        }
        for t in &f.read_only_tokens {
            self.add_token(t, TokenAccess::ReadOnly);
        }
        for t in &f.revoked_tokens {
            self.revoke_token(t);
        }
        if f.outage {
            self.set_outage(true);
        }
        for (i, (k, body)) in seeds.into_iter().enumerate() {
            self.create(k, body.clone()).map_err(|mut e| {
                e.message = format!("objects[{i}] ({}): {}", k.path(), e.message);
                e
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_from_toml() {
        let f: HetznerFaults = toml::from_str(
            r#"
            linger_seconds = 30
            limits = { servers = 10, load_balancers = 1 }
            read_only_tokens = ["ro"]
            [rate_limit]
            limit = 5
            refill_per_second = 0.5
            [failing_actions.create_server]
            code = "resource_unavailable"
            message = "no capacity"
            [[objects]]
            kind = "networks"
            body = { name = "catalyst-x-net", ip_range = "10.0.0.0/16" }
            "#,
        )
        .expect("parses");
        assert_eq!(f.limits.get("servers"), Some(&10));
        assert_eq!(f.objects[0].kind, "networks");
        assert!(toml::from_str::<HetznerFaults>("lingr_seconds = 1").is_err());
    }
}
