//! Flux objects as the fleet and the progress views see them: HelmRelease → component state
//! (contract §3.1, `DeriveState`, plus the [N] additions `suspended` and `stalled`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The state of one bootstrap-kit component, derived from its HelmRelease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentState {
    Pending,
    Installing,
    Installed,
    Degraded,
    Failed,
    /// `Stalled=True`, or `Ready=False` with reason `RetriesExceeded`: Flux gave up retrying.
    Stalled,
    /// `spec.suspend: true` — catalyst-api reports these as installed; we keep them apart.
    Suspended,
}

impl ComponentState {
    pub const ALL: [ComponentState; 7] = [
        ComponentState::Pending,
        ComponentState::Installing,
        ComponentState::Installed,
        ComponentState::Degraded,
        ComponentState::Failed,
        ComponentState::Stalled,
        ComponentState::Suspended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComponentState::Pending => "pending",
            ComponentState::Installing => "installing",
            ComponentState::Installed => "installed",
            ComponentState::Degraded => "degraded",
            ComponentState::Failed => "failed",
            ComponentState::Stalled => "stalled",
            ComponentState::Suspended => "suspended",
        }
    }

    /// The glyph every front-end shows with the word (never colour alone).
    pub fn symbol(self) -> &'static str {
        match self {
            ComponentState::Installed => "✔",
            ComponentState::Installing => "◐",
            ComponentState::Pending => "○",
            ComponentState::Degraded => "▲",
            ComponentState::Failed => "✖",
            ComponentState::Stalled => "‼",
            ComponentState::Suspended => "‖",
        }
    }

    /// How bad a state is, for "worst item" columns: higher is worse.
    pub fn severity(self) -> u8 {
        match self {
            ComponentState::Installed => 0,
            ComponentState::Suspended => 1,
            ComponentState::Pending => 2,
            ComponentState::Installing => 3,
            ComponentState::Degraded => 4,
            ComponentState::Stalled => 5,
            ComponentState::Failed => 6,
        }
    }

    /// The canned message catalyst-api shows when the Ready condition carries none.
    pub fn canned_message(self) -> &'static str {
        match self {
            ComponentState::Pending => "HelmRelease observed, waiting for first reconcile",
            ComponentState::Installing => "Helm install in progress",
            ComponentState::Installed | ComponentState::Suspended => {
                "Helm install complete; Ready=True"
            }
            ComponentState::Degraded => "Ready=False without InstallFailed/UpgradeFailed reason",
            ComponentState::Failed | ComponentState::Stalled => "Helm install failed",
        }
    }
}

impl std::fmt::Display for ComponentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One status condition, as much of it as the derivation needs.
///
/// Type, status and reason are nearly always one of a few words; those are kept as the word
/// itself (see [`WORDS`]) rather than a string of their own. The fleet keeps a few conditions
/// for each of 80,000 HelmReleases at 2,000 Sovereigns and makes new ones on every change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionView {
    #[serde(rename = "type", deserialize_with = "word")]
    pub type_: Cow<'static, str>,
    #[serde(deserialize_with = "word")]
    pub status: Cow<'static, str>,
    #[serde(default, deserialize_with = "word")]
    pub reason: Cow<'static, str>,
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "lastTransitionTime")]
    pub last_transition_time: Option<String>,
}

const FAILED_REASONS: &[&str] = &[
    "InstallFailed",
    "UpgradeFailed",
    "ChartPullError",
    "ChartLoadError",
    "ArtifactFailed",
];
const INSTALLING_REASONS: &[&str] = &["Progressing", "ReconcileStarted", "DependencyNotReady"];

/// The condition types, statuses and reasons of the Flux controllers the fleet watches
/// (helm-controller, kustomize-controller, source-controller) and the kstatus words they share,
/// besides the reasons the derivation above names.
const WORDS: &[&str] = &[
    "Ready",
    "Released",
    "Reconciling",
    "Stalled",
    "Remediated",
    "TestSuccess",
    "Healthy",
    "ArtifactInStorage",
    "SourceVerified",
    "FetchFailed",
    "BuildFailed",
    "True",
    "False",
    "Unknown",
    "ReconciliationSucceeded",
    "ReconciliationFailed",
    "InstallSucceeded",
    "UpgradeSucceeded",
    "TestSucceeded",
    "TestFailed",
    "RollbackSucceeded",
    "RollbackFailed",
    "UninstallSucceeded",
    "UninstallFailed",
    "RetriesExceeded",
    "HealthCheckFailed",
    "ProgressingWithRetry",
    "Succeeded",
    "GitOperationSucceeded",
    "NewArtifact",
    "ArtifactUpToDate",
    "InitFailed",
];

/// A condition's word as the static one when it is known, else as the string it came as.
fn word<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Cow<'static, str>, D::Error> {
    struct Word;
    impl serde::de::Visitor<'_> for Word {
        type Value = Cow<'static, str>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(known_word(s).map_or_else(|| Cow::Owned(s.to_string()), Cow::Borrowed))
        }
        fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Self::Value, E> {
            Ok(known_word(&s).map_or(Cow::Owned(s), Cow::Borrowed))
        }
    }
    d.deserialize_str(Word)
}

fn known_word(s: &str) -> Option<&'static str> {
    WORDS
        .iter()
        .chain(FAILED_REASONS)
        .chain(INSTALLING_REASONS)
        .find(|w| **w == s)
        .copied()
}

/// `DeriveState` of contract §3.1: only the Ready condition decides, exactly as catalyst-api does.
pub fn derive_catalyst_state(conditions: &[ConditionView]) -> ComponentState {
    let Some(ready) = conditions.iter().find(|c| c.type_ == "Ready") else {
        return ComponentState::Pending;
    };
    match &*ready.status {
        "True" => ComponentState::Installed,
        "False" => {
            let msg = ready.message.to_lowercase();
            if msg.contains("dependency '") && msg.contains("is not ready") {
                ComponentState::Pending
            } else if FAILED_REASONS.contains(&&*ready.reason) {
                ComponentState::Failed
            } else if INSTALLING_REASONS.contains(&&*ready.reason) {
                ComponentState::Installing
            } else {
                ComponentState::Degraded
            }
        }
        // "Unknown", and anything a future Flux might send, counts as still working.
        _ => ComponentState::Installing,
    }
}

/// The fleet's richer view: suspended and stalled are told apart from what catalyst-api reports.
pub fn derive_state(conditions: &[ConditionView], suspended: bool) -> ComponentState {
    if suspended {
        return ComponentState::Suspended;
    }
    if is_stalled(conditions) {
        return ComponentState::Stalled;
    }
    derive_catalyst_state(conditions)
}

/// `IsStalledHelmRelease` of [N].
pub fn is_stalled(conditions: &[ConditionView]) -> bool {
    conditions.iter().any(|c| {
        (c.type_ == "Stalled" && c.status == "True")
            || (c.type_ == "Ready" && c.status == "False" && c.reason == "RetriesExceeded")
    })
}

/// The message a view shows: Ready.message, else the canned text of the state.
pub fn display_message(conditions: &[ConditionView], state: ComponentState) -> String {
    conditions
        .iter()
        .find(|c| c.type_ == "Ready" && !c.message.is_empty())
        .map(|c| c.message.clone())
        .unwrap_or_else(|| state.canned_message().to_string())
}

/// Component id as catalyst-api reports it: the HelmRelease name without its `bp-` prefix.
pub fn component_id(helmrelease_name: &str) -> &str {
    helmrelease_name
        .strip_prefix("bp-")
        .unwrap_or(helmrelease_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(status: &'static str, reason: &'static str, message: &str) -> Vec<ConditionView> {
        vec![ConditionView {
            type_: "Ready".into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            last_transition_time: None,
        }]
    }

    #[test]
    fn known_condition_words_are_not_copied_and_others_are_kept_as_sent() {
        let c: ConditionView = serde_json::from_str(
            r#"{"type":"Ready","status":"False","reason":"SomethingNew","message":"m"}"#,
        )
        .expect("condition");
        assert!(matches!(c.type_, Cow::Borrowed("Ready")));
        assert!(matches!(c.status, Cow::Borrowed("False")));
        assert!(matches!(&c.reason, Cow::Owned(r) if r == "SomethingNew"));
        // From an owned string too (a `Value`), and the default where the reason is absent.
        let c: ConditionView =
            serde_json::from_value(serde_json::json!({"type": "Released", "status": "True"}))
                .expect("condition");
        assert!(matches!(c.type_, Cow::Borrowed("Released")));
        assert_eq!(c.reason, "");
        assert!(serde_json::from_str::<ConditionView>(r#"{"type":7,"status":"True"}"#).is_err());
    }

    #[test]
    fn derivation_follows_the_contract_table() {
        use ComponentState::*;
        assert_eq!(derive_catalyst_state(&[]), Pending);
        assert_eq!(
            derive_catalyst_state(&ready("True", "InstallSucceeded", "")),
            Installed
        );
        assert_eq!(
            derive_catalyst_state(&ready("Unknown", "Progressing", "")),
            Installing
        );
        assert_eq!(
            derive_catalyst_state(&ready(
                "False",
                "DependencyNotReady",
                "dependency 'flux-system/bp-cilium' IS NOT READY"
            )),
            Pending
        );
        for r in FAILED_REASONS {
            assert_eq!(
                derive_catalyst_state(&ready("False", r, "boom")),
                Failed,
                "{r}"
            );
        }
        for r in INSTALLING_REASONS {
            assert_eq!(
                derive_catalyst_state(&ready("False", r, "")),
                Installing,
                "{r}"
            );
        }
        assert_eq!(
            derive_catalyst_state(&ready("False", "HealthCheckFailed", "x")),
            Degraded
        );
    }

    #[test]
    fn reconciling_and_stalled_do_not_change_the_catalyst_state() {
        let mut conds = ready("True", "InstallSucceeded", "");
        conds.push(ConditionView {
            type_: "Stalled".into(),
            status: "True".into(),
            ..Default::default()
        });
        assert_eq!(derive_catalyst_state(&conds), ComponentState::Installed);
        assert_eq!(derive_state(&conds, false), ComponentState::Stalled);
        assert_eq!(
            derive_state(&ready("False", "RetriesExceeded", "")[..], false),
            ComponentState::Stalled
        );
        assert_eq!(derive_state(&conds, true), ComponentState::Suspended);
    }

    #[test]
    fn ids_and_messages() {
        assert_eq!(component_id("bp-cert-manager"), "cert-manager");
        assert_eq!(component_id("catalyst-platform"), "catalyst-platform");
        assert_eq!(
            display_message(&[], ComponentState::Pending),
            "HelmRelease observed, waiting for first reconcile"
        );
        assert_eq!(
            display_message(
                &ready("False", "InstallFailed", "chart boom"),
                ComponentState::Failed
            ),
            "chart boom"
        );
    }
}
