//! helmwatch's reading of one HelmRelease (contract §2.5, §3.1), as the simulated catalyst-api
//! applies it: the component id, the state from the `Ready` condition alone, the message, the
//! event level. Written for the world alone (docs/WORLD.md); the library derives the same states
//! with its own code, which is what the Phase-1 tests compare.

use serde_json::Value;

/// The five states catalyst-api reports for a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HrState {
    Pending,
    Installing,
    Installed,
    Degraded,
    Failed,
}

impl HrState {
    /// The wire spelling (`state` of a `component` event, `status` of a snapshot).
    pub fn wire(self) -> &'static str {
        match self {
            HrState::Pending => "pending",
            HrState::Installing => "installing",
            HrState::Installed => "installed",
            HrState::Degraded => "degraded",
            HrState::Failed => "failed",
        }
    }

    /// Where the watch may stop (§3.2): `installed` and `failed`; `degraded` is not terminal.
    pub fn ends_watch(self) -> bool {
        matches!(self, HrState::Installed | HrState::Failed)
    }

    /// Event level of a transition (§2.5).
    pub fn level(self) -> &'static str {
        match self {
            HrState::Failed => "error",
            HrState::Degraded => "warn",
            _ => "info",
        }
    }

    /// The text shown when the Ready condition has no message of its own (§3.1).
    fn fallback_message(self) -> &'static str {
        match self {
            HrState::Pending => "HelmRelease observed, waiting for first reconcile",
            HrState::Installing => "Helm install in progress",
            HrState::Installed => "Helm install complete; Ready=True",
            HrState::Degraded => "Ready=False without InstallFailed/UpgradeFailed reason",
            HrState::Failed => "Helm install failed",
        }
    }
}

/// The `Ready` condition of a HelmRelease's `status.conditions`, the only one helmwatch reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ready {
    pub status: String,
    pub reason: String,
    pub message: String,
    pub last_transition_time: Option<String>,
}

impl Ready {
    /// Find it in a HelmRelease object; `None` when the controller has not written one yet.
    pub fn of(helmrelease: &Value) -> Option<Ready> {
        let conditions = helmrelease.pointer("/status/conditions")?.as_array()?;
        let ready = conditions
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))?;
        let text = |key: &str| {
            ready
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Some(Ready {
            status: text("status"),
            reason: text("reason"),
            message: text("message"),
            last_transition_time: ready
                .get("lastTransitionTime")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

/// `DeriveState` (§3.1): absent → pending; True → installed; False → pending when waiting on a
/// dependency, failed/installing by reason, degraded otherwise; Unknown (or anything else) →
/// installing.
pub fn derive(ready: Option<&Ready>) -> HrState {
    const FAILED: [&str; 5] = [
        "InstallFailed",
        "UpgradeFailed",
        "ChartPullError",
        "ChartLoadError",
        "ArtifactFailed",
    ];
    const WORKING: [&str; 3] = ["Progressing", "ReconcileStarted", "DependencyNotReady"];
    let Some(ready) = ready else {
        return HrState::Pending;
    };
    match ready.status.as_str() {
        "True" => HrState::Installed,
        "False" => {
            let lower = ready.message.to_lowercase();
            if lower.contains("dependency '") && lower.contains("is not ready") {
                HrState::Pending
            } else if FAILED.contains(&ready.reason.as_str()) {
                HrState::Failed
            } else if WORKING.contains(&ready.reason.as_str()) {
                HrState::Installing
            } else {
                HrState::Degraded
            }
        }
        _ => HrState::Installing,
    }
}

/// The message of a transition or snapshot: the Ready message, else the state's fallback.
pub fn message(ready: Option<&Ready>, state: HrState) -> String {
    match ready {
        Some(r) if !r.message.is_empty() => r.message.clone(),
        _ => state.fallback_message().to_string(),
    }
}

/// Component id of a HelmRelease (§2.5): its name without the `bp-` prefix.
pub fn app_id(helmrelease_name: &str) -> &str {
    helmrelease_name
        .strip_prefix("bp-")
        .unwrap_or(helmrelease_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ready(status: &str, reason: &str, message: &str) -> Option<Ready> {
        Ready::of(&json!({"status": {"conditions": [
            {"type": "Reconciling", "status": "True", "reason": "Progressing"},
            {"type": "Ready", "status": status, "reason": reason, "message": message,
             "lastTransitionTime": "2026-04-30T12:00:00Z"}]}}))
    }

    #[test]
    fn states_follow_the_contract_table() {
        assert_eq!(derive(None), HrState::Pending);
        assert_eq!(Ready::of(&json!({"status": {}})), None);
        let cases = [
            (ready("True", "InstallSucceeded", ""), HrState::Installed),
            (ready("Unknown", "Progressing", ""), HrState::Installing),
            (
                ready("False", "DependencyNotReady", "Dependency 'x' IS NOT READY"),
                HrState::Pending,
            ),
            (ready("False", "ChartPullError", "boom"), HrState::Failed),
            (ready("False", "ReconcileStarted", ""), HrState::Installing),
            (ready("False", "HealthCheckFailed", "x"), HrState::Degraded),
        ];
        for (cond, want) in cases {
            assert_eq!(derive(cond.as_ref()), want, "{cond:?}");
        }
        let r = ready("False", "InstallFailed", "chart boom");
        assert_eq!(
            r.as_ref().and_then(|r| r.last_transition_time.as_deref()),
            Some("2026-04-30T12:00:00Z")
        );
        assert_eq!(message(r.as_ref(), HrState::Failed), "chart boom");
        assert_eq!(
            message(None, HrState::Pending),
            "HelmRelease observed, waiting for first reconcile"
        );
    }

    #[test]
    fn ids_levels_and_terminal_states() {
        assert_eq!(app_id("bp-nats-jetstream"), "nats-jetstream");
        assert_eq!(app_id("catalyst-platform"), "catalyst-platform");
        assert_eq!(HrState::Failed.level(), "error");
        assert_eq!(HrState::Degraded.level(), "warn");
        assert!(!HrState::Degraded.ends_watch());
        assert!(HrState::Installed.ends_watch() && HrState::Failed.ends_watch());
    }
}
