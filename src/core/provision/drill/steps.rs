//! The drill's steps and plan, in runbook §6.1 order. Each step has a rollback, unwound in reverse.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Continuous numbered writes into the primary.
    Probe,
    /// Kill the primary region through the Hetzner API.
    Kill,
    /// Promote the replica and wait for the new primary within the RTO deadline.
    Promote,
    /// Every acknowledged row present on the new primary?
    Verify,
    /// Restore the region, fail back, the old primary rejoins as a replica.
    Reverse,
}

impl Step {
    pub const ORDER: [Step; 5] = [
        Step::Probe,
        Step::Kill,
        Step::Promote,
        Step::Verify,
        Step::Reverse,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Probe => "probe",
            Step::Kill => "kill",
            Step::Promote => "promote",
            Step::Verify => "verify",
            Step::Reverse => "reverse",
        }
    }

    pub fn parse(name: &str) -> Option<Step> {
        Step::ORDER.into_iter().find(|s| s.name() == name)
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::Probe => "write probe into the primary",
            Step::Kill => "kill the primary region",
            Step::Promote => "promote the replica",
            Step::Verify => "verify zero transaction loss",
            Step::Reverse => "restore the region and fail back",
        }
    }

    /// Whether undoing this step changes the world (verify only reads).
    pub fn has_rollback(self) -> bool {
        !matches!(self, Step::Verify)
    }
}

/// How the primary region's control-plane server is killed (shown in the plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKill {
    /// Reversible: power it back on.
    PowerOff,
    /// Irreversible for that server: the region is rebuilt by Phase 0 on failback.
    Terminate,
}

/// How the replica is promoted (contract §7.4/§7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Promotion {
    /// A Continuum switchover request; the controller runs its seven-step sequence.
    ContinuumSwitchover,
    /// `spec.values.cnpgPair.replica.promoted: true` on the replica's HelmRelease (#5125).
    HelmReleaseValue,
}

/// One object the drill will change, by name, with what it does to it and how it is undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touch {
    pub step: Step,
    /// e.g. `hetzner/load_balancer`, `hetzner/firewall`, `hetzner/server`, `kube/Continuum`.
    pub kind: String,
    pub name: String,
    pub id: Option<String>,
    pub action: String,
    pub undo: String,
}

/// A precondition and the evidence that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    pub name: String,
    pub ok: bool,
    pub evidence: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_order() {
        for s in Step::ORDER {
            assert_eq!(Step::parse(s.name()), Some(s));
        }
        assert_eq!(Step::parse("nope"), None);
        assert!(!Step::Verify.has_rollback());
    }
}
