//! The runbook's kubectl commands against the world's mothership, as written (§1.2 D and F, §2.2
//! step 3), with every kubectl release found (a missing one is a printed skip).

use std::time::Duration;

use sovtui_world::sim::scenario::WorldScenario;
use sovtui_world::sim::world::World;

#[path = "../../../tests/support/tools.rs"]
mod tools;

const WAIT: Duration = Duration::from_secs(60);

async fn kubectl(
    k: &tools::Kubectl,
    kubeconfig: &std::path::Path,
    cache: &std::path::Path,
    args: &[&str],
    input: Option<&str>,
) -> (i32, String, String) {
    let connection = [
        format!("--kubeconfig={}", kubeconfig.display()),
        "--context=catalyst-zero".to_string(),
        format!("--cache-dir={}", cache.display()),
    ];
    k.run(&connection, args, input, WAIT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbooks_mothership_commands_work_with_kubectl() {
    let kubectls = tools::kubectls("the_runbooks_mothership_commands_work_with_kubectl");
    if kubectls.is_empty() {
        return;
    }
    let yaml = "name: m\nmothership:\n  missing_pool_zones: [omani.rest]\nsovereigns:\n  - fqdn: t7.omani.works\n    stage: provisioning\n";
    let scenario: WorldScenario = serde_yaml::from_str(yaml).expect("scenario");
    let dir = tempfile::tempdir().expect("tempdir");
    let world = World::start(scenario, 1.0, Some(dir.path().to_path_buf()))
        .await
        .expect("world");
    let kc = dir.path().join("kubeconfig");
    let id = world
        .deployments()
        .get("t7.omani.works")
        .cloned()
        .expect("deployment");
    for k in &kubectls {
        let cache = tempfile::tempdir().expect("cache");
        let run = |args: &'static [&'static str]| kubectl(k, &kc, cache.path(), args, None);

        // §1.2 D, as written.
        let (code, out, err) = run(&[
            "-n",
            "openova-system",
            "exec",
            "deploy/pool-domain-manager",
            "--",
            "wget",
            "-q",
            "-O",
            "-",
            "http://localhost:8080/healthz",
        ])
        .await;
        assert_eq!(code, 0, "{err}");
        assert!(out.starts_with("{\"status\":\"ok\""), "{out}{err}");

        // §1.2 F, as written (a pipe through sh so grep runs in the pod like the runbook's shell).
        let (code, out, err) = run(&[
            "-n",
            "openova-system",
            "exec",
            "deploy/powerdns",
            "--",
            "pdnsutil",
            "list-all-zones",
        ])
        .await;
        assert_eq!(code, 0, "{err}");
        let zones: Vec<&str> = out.lines().collect();
        for z in ["omani.works", "omani.homes", "omani.trade", "omantel.biz"] {
            assert!(zones.contains(&z), "{z} missing: {out}");
        }
        assert!(
            !zones.contains(&"omani.rest"),
            "the scenario removed omani.rest: {out}"
        );
        assert!(zones.contains(&"t7.omani.works"), "PDM's child zone: {out}");

        // §2.2 step 3: the records as files of the catalyst-api pod.
        let (code, out, err) = run(&[
            "-n",
            "catalyst",
            "exec",
            "deploy/catalyst-api",
            "--",
            "sh",
            "-c",
            "ls /var/lib/catalyst/deployments/*.json",
        ])
        .await;
        assert_eq!(code, 0, "{err}");
        let file = format!("/var/lib/catalyst/deployments/{id}.json");
        assert!(out.contains(&file), "{out}");
        let args = [
            "-n",
            "catalyst",
            "exec",
            "deploy/catalyst-api",
            "--",
            "cat",
            file.as_str(),
        ];
        let (code, out, err) = kubectl(k, &kc, cache.path(), &args, None).await;
        assert_eq!(code, 0, "{err}");
        let rec: serde_json::Value = serde_json::from_str(&out).expect("record JSON");
        assert_eq!(rec["request"]["sovereignFQDN"], "t7.omani.works");
        assert_eq!(rec["request"]["hetznerToken"], "<redacted>");
    }
}
