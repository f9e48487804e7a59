//! A generated world of many Sovereigns (`sovtui sim --sovereigns N`): what an operator running
//! a large fleet sees on a normal day. Most Sovereigns are healthy (the bootstrap kit, all
//! Ready); one in [`FAILING_ONE_IN`] is broken in one of a few realistic ways, taken in turn, so
//! the failures are spread over the fleet and every kind is present from 50 Sovereigns up.
//!
//! The Sovereigns are running clusters only: no Hetzner objects and no simulated operator each
//! (those are per-Sovereign costs the fleet views do not need); the scenario's fixed services
//! (catalyst-api, PDM, the mothership) start as in every world.

use std::collections::BTreeMap;

use super::kube::{ClusterScenario, FluxFault, ReleaseFault, ReleaseOverride};
use super::scenario::{SovereignScenario, Stage, WorldScenario};

/// One Sovereign in this many is failing.
pub const FAILING_ONE_IN: usize = 50;

/// Watch events each apiserver keeps for resuming clients. The history is most of what a
/// cluster costs the world (each event keeps its serialized line), and a real apiserver's watch
/// cache holds about this many per resource (`--default-watch-cache-size`, 100); a client whose
/// version is older relists, as it must against k3s too.
pub const WATCH_HISTORY: usize = 100;

/// Requests each apiserver keeps in its request log (for a look at what a client asked).
pub const REQUEST_LOG: usize = 200;

/// How a failing Sovereign is broken (handed out in the order of [`FAILURES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A HelmRelease whose install never finishes (`Ready=Unknown`, `Progressing`).
    StuckRelease,
    /// A HelmRelease whose install failed (`Ready=False`, `InstallFailed`).
    FailedInstall,
    /// The apiserver refuses connections (the cluster is down).
    ApiserverDown,
    /// Flux gave up on a HelmRelease (`Stalled=True`, `RetriesExceeded`).
    StalledRelease,
    /// The GitRepository cannot be fetched, so nothing of the kit is applied.
    SourceFailing,
}

pub const FAILURES: [Failure; 5] = [
    Failure::ApiserverDown,
    Failure::StuckRelease,
    Failure::FailedInstall,
    Failure::StalledRelease,
    Failure::SourceFailing,
];

const REGIONS: [&str; 3] = ["fsn1", "nbg1", "hel1"];

/// The FQDN of the `i`-th Sovereign (0-based), e.g. `sov-0042.fleet.omani.works`.
pub fn fqdn(i: usize) -> String {
    format!("sov-{:04}.fleet.omani.works", i + 1)
}

/// How the `i`-th Sovereign is broken, if it is.
pub fn failure_of(i: usize) -> Option<Failure> {
    // The first failing one is the 25th, not the first, so a small fleet's top rows are healthy
    // and the failures have to be found (the worst-first order and the filters are for that).
    (i % FAILING_ONE_IN == FAILING_ONE_IN / 2)
        .then(|| FAILURES[(i / FAILING_ONE_IN) % FAILURES.len()])
}

fn release_fault(name: &str, fault: ReleaseFault) -> BTreeMap<String, ReleaseOverride> {
    BTreeMap::from([(
        name.to_string(),
        ReleaseOverride {
            fault: Some(fault),
            ..ReleaseOverride::default()
        },
    )])
}

fn cluster(failure: Option<Failure>) -> ClusterScenario {
    let mut c = ClusterScenario {
        // Simulated seconds until the kit is applied: short, so a large world is Ready soon.
        bootstrap_seconds: 1.0,
        watch_history: Some(WATCH_HISTORY),
        request_log: Some(REQUEST_LOG),
        ..ClusterScenario::bootstrap_kit()
    };
    match failure {
        None | Some(Failure::ApiserverDown) => {}
        Some(Failure::StuckRelease) => {
            c.releases = release_fault("bp-keycloak", ReleaseFault::Stuck)
        }
        Some(Failure::FailedInstall) => {
            c.releases = release_fault(
                "bp-harbor",
                ReleaseFault::Fail {
                    reason: "InstallFailed".into(),
                    message: "Helm install failed for release harbor/harbor with chart \
                              bp-harbor@1.0.0: context deadline exceeded"
                        .into(),
                    stalled: false,
                },
            )
        }
        Some(Failure::StalledRelease) => {
            c.releases = release_fault(
                "bp-openbao",
                ReleaseFault::Fail {
                    reason: "UpgradeFailed".into(),
                    message: "Helm upgrade failed for release openbao/openbao with chart \
                              bp-openbao@1.0.0: timed out waiting for the condition"
                        .into(),
                    stalled: true,
                },
            )
        }
        Some(Failure::SourceFailing) => {
            c.git_repository_fault = Some(FluxFault {
                reason: "GitOperationFailed".into(),
                message: "failed to checkout and determine revision: unable to clone \
                          'https://github.com/openova-io/openova': authentication required"
                    .into(),
            })
        }
    }
    c
}

/// A world of `n` running Sovereigns, `n / FAILING_ONE_IN` of them failing (see [`Failure`]).
/// Tags: `prod` or `staging` (one in five) and the region. Nothing marks the broken ones: the
/// cockpit has to find them from their state.
pub fn scenario(n: usize) -> WorldScenario {
    WorldScenario {
        name: format!("fleet-{n}"),
        description: format!(
            "{n} running Sovereigns with the bootstrap kit; one in {FAILING_ONE_IN} is failing"
        ),
        sovereigns: (0..n)
            .map(|i| {
                let failure = failure_of(i);
                let region = REGIONS[i % REGIONS.len()];
                SovereignScenario {
                    fqdn: fqdn(i),
                    tags: vec![
                        if i % 5 == 4 { "staging" } else { "prod" }.to_string(),
                        region.to_string(),
                    ],
                    stage: Stage::Running,
                    region: region.to_string(),
                    extra_regions: Vec::new(),
                    hetzner: false,
                    cluster: cluster(failure),
                    request: None,
                    ingress: None,
                    apiserver_down: failure == Some(Failure::ApiserverDown),
                }
            })
            .collect(),
        ..WorldScenario::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_fail_in_every_way_and_the_rest_are_healthy() {
        let s = scenario(250);
        assert_eq!(s.sovereigns.len(), 250);
        let failing: Vec<Failure> = (0..250).filter_map(failure_of).collect();
        assert_eq!(failing.len(), 5);
        assert_eq!(failing, FAILURES);
        let down: Vec<&str> = s
            .sovereigns
            .iter()
            .filter(|s| s.apiserver_down)
            .map(|s| s.fqdn.as_str())
            .collect();
        assert_eq!(down, [fqdn(25).as_str()]);
        let healthy = &s.sovereigns[0];
        assert!(
            healthy.cluster.releases.is_empty() && healthy.cluster.git_repository_fault.is_none()
        );
        assert!(
            s.sovereigns
                .iter()
                .all(|s| s.stage == Stage::Running && !s.hetzner)
        );
        let names: std::collections::BTreeSet<&str> =
            s.sovereigns.iter().map(|s| s.fqdn.as_str()).collect();
        assert_eq!(names.len(), 250, "FQDNs are unique");
        // Every generated cluster resolves its kit the way a scenario file's would.
        for sov in &s.sovereigns {
            assert!(sov.cluster.resolve_kit().expect("kit").is_some());
        }
    }
}
