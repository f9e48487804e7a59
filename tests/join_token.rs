//! The k3s join token through `sovtui phase0 apply` against the simulated Hetzner API: one random
//! token per Sovereign in every node's user data, kept 0600 under the state dir, the same for a
//! node a later apply re-creates, and a refusal (naming the file) when the cluster exists but the
//! token is gone — never a fresh token that could not join.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use sovtui::provision::hetzner::join_token;
use sovtui::sim::clock::SimClock;
use sovtui::sim::hetzner::{DEFAULT_TOKEN, HetznerSim, HetznerSimConfig, Kind};

const FQDN: &str = "t42.omani.works";

fn write_request(dir: &Path) -> std::path::PathBuf {
    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("keygen");
    let req = json!({
        "orgName": "Acme", "orgEmail": "platform@acme.io", "sovereignFQDN": FQDN,
        "sovereignDomainMode": "pool", "sovereignPoolDomain": "omani.works",
        "sovereignSubdomain": "t42", "hetznerToken": DEFAULT_TOKEN,
        "hetznerProjectID": "proj_abc123", "region": "fsn1", "controlPlaneSize": "cpx32",
        "workerSize": "cpx22", "workerCount": 2, "haEnabled": false,
        "regions": [{"provider": "hetzner", "cloudRegion": "fsn1", "controlPlaneSize": "cpx32",
                     "workerSize": "cpx22", "workerCount": 2}],
        "sshPublicKey": key.public_key().to_openssh().expect("openssh"),
    });
    let path = dir.join("request.json");
    std::fs::write(&path, req.to_string()).expect("request file");
    path
}

async fn apply(sim: &HetznerSim, home: &Path, request: &Path) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sovtui"));
    cmd.args(["phase0", "apply", "--from"])
        .arg(request)
        .args(["--confirm", FQDN])
        .env("HCLOUD_ENDPOINT", sim.endpoint())
        .env_remove("HCLOUD_TOKEN")
        .env("HCLOUD_CONFIG", "/nonexistent/cli.toml")
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .stdin(std::process::Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("sovtui phase0 apply"))
        .await
        .expect("join")
}

/// Server name → the K3S_TOKEN its user data carries.
fn node_tokens(sim: &HetznerSim) -> Vec<(i64, String, String)> {
    let c = sim.control();
    c.list(Kind::Server, None)
        .expect("servers")
        .iter()
        .filter_map(|s| {
            let id = s["id"].as_i64()?;
            let ud = c.user_data(id)?;
            let token = ud.split("K3S_TOKEN=").nth(1)?.split_whitespace().next()?;
            Some((id, s["name"].as_str()?.to_string(), token.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_gets_the_sovereigns_random_token_and_later_nodes_the_same_one() {
    let config = HetznerSimConfig {
        linger: Duration::ZERO,
        action_duration: Duration::from_millis(50),
        ..Default::default()
    };
    let sim = HetznerSim::start(config, SimClock::new(1.0))
        .await
        .expect("sim");
    let home = tempfile::tempdir().expect("home");
    let request = write_request(home.path());

    let out = apply(&sim, home.path(), &request).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = join_token::path(&home.path().join("state/sovtui"), FQDN);
    let stored = std::fs::read_to_string(&file).expect("token stored");
    let stored = stored.trim();
    assert_eq!(stored.len(), 64, "256 bits, hex");
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let nodes = node_tokens(&sim);
    assert_eq!(nodes.len(), 3, "cp1 and two workers: {nodes:?}");
    assert!(nodes.iter().all(|(_, _, t)| t == stored), "{nodes:?}");
    // Not printed by the apply.
    assert!(!String::from_utf8_lossy(&out.stderr).contains(stored));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(stored));

    // A worker is lost; the next apply re-creates it with the token the cluster runs on.
    let (wid, wname, _) = nodes
        .iter()
        .find(|(_, n, _)| n.contains("worker") || n.contains("-w"))
        .cloned()
        .unwrap_or_else(|| panic!("a worker among {nodes:?}"));
    sim.control()
        .delete(Kind::Server, wid)
        .expect("delete worker");
    let out = apply(&sim, home.path(), &request).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = node_tokens(&sim);
    let recreated = again
        .iter()
        .find(|(id, n, _)| *n == wname && *id != wid)
        .unwrap_or_else(|| panic!("{wname} re-created: {again:?}"));
    assert_eq!(recreated.2, stored);

    // The token file is gone while the cluster runs: no node with a token that cannot join.
    std::fs::remove_file(&file).expect("remove token");
    sim.control()
        .delete(Kind::Server, recreated.0)
        .expect("delete worker");
    let out = apply(&sim, home.path(), &request).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("/var/lib/rancher/k3s/server/token"),
        "{stderr}"
    );
    assert!(
        !file.exists(),
        "no fresh token stored for a running cluster"
    );
    assert!(
        !node_tokens(&sim).iter().any(|(_, n, _)| *n == wname),
        "the worker was not created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sovereigns_applied_from_the_same_inputs_get_different_tokens() {
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let sim = HetznerSim::start(HetznerSimConfig::default(), SimClock::new(1.0))
            .await
            .expect("sim");
        let home = tempfile::tempdir().expect("home");
        let out = apply(&sim, home.path(), &write_request(home.path())).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let nodes = node_tokens(&sim);
        assert!(!nodes.is_empty());
        tokens.push(nodes[0].2.clone());
    }
    assert_ne!(tokens[0], tokens[1]);
}
