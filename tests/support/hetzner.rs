//! A simulated Hetzner project holding one Sovereign's Phase-0 objects, for tests of destructive
//! runs: the real hcloud-crate client against the simulator over loopback.

use std::time::Duration;

use serde_json::{Value, json};
use sovtui::provision::hetzner::apply;
use sovtui::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
use sovtui::provision::hetzner::model::{ModelOptions, SovereignModel};
use sovtui::provision::hetzner::request::DeploymentRequest;
use sovtui::sim::clock::SimClock;
use sovtui::sim::hetzner::{DEFAULT_TOKEN, HetznerSim, HetznerSimConfig, Kind, RateBudget};

/// A simulator without rate limiting; deleted objects linger for `linger`.
pub async fn sim(linger: Duration) -> HetznerSim {
    let config = HetznerSimConfig {
        linger,
        action_duration: Duration::from_millis(50),
        rate_budget: RateBudget {
            limit: 100_000,
            refill_per_second: 10_000.0,
        },
        ..Default::default()
    };
    HetznerSim::start(config, SimClock::new(1.0))
        .await
        .expect("sim starts")
}

pub fn client(sim: &HetznerSim) -> HetznerClient {
    let opts = ClientOptions {
        action_poll: Duration::from_millis(50),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(500),
        max_attempts: 200,
        ..Default::default()
    };
    HetznerClient::new(Credentials::new(DEFAULT_TOKEN, sim.endpoint()), opts).expect("client")
}

/// The Phase-0 model of a one-worker, non-HA Sovereign.
pub fn model(fqdn: &str) -> SovereignModel {
    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("keygen");
    let req = DeploymentRequest::from_json(
        &json!({
            "orgName": "Acme", "orgEmail": "platform@acme.io", "sovereignFQDN": fqdn,
            "sovereignDomainMode": "pool", "sovereignPoolDomain": "omani.works",
            "sovereignSubdomain": fqdn.split('.').next(), "hetznerToken": "",
            "hetznerProjectID": "proj_abc123", "region": "fsn1", "controlPlaneSize": "cpx32",
            "workerSize": "cpx22", "workerCount": 1, "haEnabled": false,
            "regions": [{"provider": "hetzner", "cloudRegion": "fsn1", "controlPlaneSize": "cpx32",
                         "workerSize": "cpx22", "workerCount": 1}],
            "sshPublicKey": key.public_key().to_openssh().expect("openssh"),
        })
        .to_string(),
    )
    .expect("request");
    req.validate_for_phase0().expect("valid request");
    SovereignModel::from_request(&req, &ModelOptions::default())
}

/// A simulator holding `fqdn`'s objects, created by a (journal-less) Phase-0 apply.
pub async fn with_sovereign(fqdn: &str) -> HetznerSim {
    let sim = sim(Duration::from_millis(300)).await;
    apply::apply(&client(&sim), &model(fqdn), None, &|_| {})
        .await
        .expect("apply");
    sim
}

/// Every object the project holds, as the simulator lists it.
pub fn objects(sim: &HetznerSim) -> Vec<Value> {
    Kind::ALL
        .iter()
        .flat_map(|k| sim.control().list(*k, None).expect("list"))
        .collect()
}

/// The DELETE requests the simulator answered.
pub fn deletes(sim: &HetznerSim) -> usize {
    sim.control()
        .request_log()
        .iter()
        .filter(|r| r.method == "DELETE")
        .count()
}

/// Run the real binary against the simulator with `state` as its XDG state home; returns (exit
/// code, stdout, stderr).
pub async fn sovtui(
    sim: &HetznerSim,
    state: &std::path::Path,
    args: &[&str],
) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .args(args)
        .env("HCLOUD_TOKEN", DEFAULT_TOKEN)
        .env("HCLOUD_ENDPOINT", sim.endpoint())
        .env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state)
        .env("HOME", state)
        .output()
        .await
        .expect("run sovtui");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}
