//! Conformance of the simulated Hetzner API with clients nobody here wrote: Debian's `hcloud` CLI
//! (hcloud-go) and `/usr/bin/python3` with python3-hcloud. Each test skips with a notice when its
//! client is not installed, and fails instead under `.ci/run`, which installs both.

use std::path::Path;

use serde_json::Value;
use sovtui_world::sim::clock::SimClock;
use sovtui_world::sim::hetzner::{DEFAULT_TOKEN, HetznerSim, HetznerSimConfig, Kind};

#[path = "../../../tests/support/tools.rs"]
mod tools;
// The hcloud CLI harness the cockpit's tests use too (it names `super::tools`).
#[path = "../../../tests/support/hcloud.rs"]
mod hcloud;
use hcloud::{Hcloud as Cli, run, which};

const FQDN: &str = "omantel.omani.works";
const SOVEREIGN: &str = "catalyst.openova.io/sovereign";

async fn start() -> HetznerSim {
    // Actions take simulated seconds; at this speed they finish within a few client polls.
    HetznerSim::start(HetznerSimConfig::default(), SimClock::new(50.0))
        .await
        .expect("simulator starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hcloud_cli_lists_and_creates() {
    let Some(bin) = which("hcloud") else {
        tools::missing(
            "hcloud_cli_lists_and_creates",
            "the hcloud CLI is not installed",
        );
        return;
    };
    let sim = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cli = Cli {
        bin,
        endpoint: sim.endpoint(),
        token: DEFAULT_TOKEN.into(),
        config: dir.path().join("cli.toml"),
    };
    let label = format!("{SOVEREIGN}={FQDN}");

    let servers = cli.json(&["server", "list", "-o", "json"]).await;
    // hcloud-go marshals an empty slice as `null`.
    assert!(
        servers.is_null() || servers == Value::Array(vec![]),
        "{servers}"
    );

    cli.run(&[
        "network",
        "create",
        "--name",
        "catalyst-net",
        "--ip-range",
        "10.0.0.0/16",
        "--label",
        &label,
    ])
    .await;
    cli.run(&[
        "network",
        "add-subnet",
        "catalyst-net",
        "--type",
        "cloud",
        "--network-zone",
        "eu-central",
        "--ip-range",
        "10.0.1.0/24",
    ])
    .await;
    cli.run(&[
        "firewall",
        "create",
        "--name",
        "catalyst-fw",
        "--label",
        &label,
    ])
    .await;
    cli.run(&[
        "firewall",
        "add-rule",
        "catalyst-fw",
        "--direction",
        "in",
        "--protocol",
        "tcp",
        "--port",
        "6443",
        "--source-ips",
        "0.0.0.0/0",
    ])
    .await;
    cli.run(&[
        "server",
        "create",
        "--name",
        "catalyst-cp1",
        "--type",
        "cpx32",
        "--image",
        "ubuntu-24.04",
        "--location",
        "fsn1",
        "--network",
        "catalyst-net",
        "--firewall",
        "catalyst-fw",
        "--label",
        &label,
    ])
    .await;
    cli.run(&[
        "load-balancer",
        "create",
        "--name",
        "catalyst-lb",
        "--type",
        "lb11",
        "--location",
        "fsn1",
        "--label",
        &label,
    ])
    .await;
    cli.run(&[
        "load-balancer",
        "attach-to-network",
        "catalyst-lb",
        "--network",
        "catalyst-net",
    ])
    .await;
    cli.run(&[
        "load-balancer",
        "add-target",
        "catalyst-lb",
        "--server",
        "catalyst-cp1",
        "--use-private-ip",
    ])
    .await;
    cli.run(&[
        "load-balancer",
        "add-service",
        "catalyst-lb",
        "--protocol",
        "tcp",
        "--listen-port",
        "443",
        "--destination-port",
        "31443",
    ])
    .await;

    let servers = cli
        .json(&["server", "list", "-o", "json", "-l", &label])
        .await;
    let list = servers.as_array().expect("server list is an array");
    assert_eq!(list.len(), 1, "{servers}");
    assert_eq!(list[0]["name"], "catalyst-cp1");
    assert_eq!(list[0]["status"], "running");
    assert_eq!(list[0]["private_net"][0]["ip"], "10.0.1.2");
    let lbs = cli.json(&["load-balancer", "list", "-o", "json"]).await;
    let lb = &lbs[0];
    assert_eq!(lb["name"], "catalyst-lb");
    assert_eq!(lb["services"][0]["destination_port"], 31443);
    assert_eq!(lb["targets"][0]["server"]["id"], list[0]["id"]);
    let fws = cli.json(&["firewall", "list", "-o", "json"]).await;
    assert_eq!(fws[0]["rules"][0]["port"], "6443");
    let ips = cli.json(&["primary-ip", "list", "-o", "json"]).await;
    assert_eq!(ips.as_array().map(Vec::len), Some(2));
    let types = cli.json(&["server-type", "list", "-o", "json"]).await;
    assert!(
        types
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == "cx42"))
    );
    // Human table output parses too (the CLI walks every page).
    let table = cli.run(&["server", "list"]).await;
    assert!(String::from_utf8_lossy(&table.stdout).contains("catalyst-cp1"));

    cli.run(&["server", "delete", "catalyst-cp1"]).await;
    let log = sim.control().request_log();
    let failed: Vec<_> = log.iter().filter(|r| r.status >= 400).collect();
    assert!(failed.is_empty(), "the CLI hit failing routes: {failed:?}");
    assert!(log.iter().all(|r| r.token == "read-write"));
    assert!(log.iter().any(|r| r.method == "DELETE" && r.status == 200));
    assert_eq!(
        sim.control()
            .list(Kind::LoadBalancer, Some(&label))
            .map(|l| l.len()),
        Ok(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_hcloud_lists_and_creates() {
    // Debian's python3-hcloud and the current one from PyPI (target/tools/py).
    for py in tools::pythons("python_hcloud_lists_and_creates", "hcloud") {
        python_hcloud(&py).await;
    }
}

async fn python_hcloud(py: &tools::Python) {
    let python = &py.path;
    println!("{}", py.label());
    let sim = start().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/hcloud_py.py");
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(script)
        .arg(sim.endpoint())
        .arg(DEFAULT_TOKEN)
        .arg(FQDN);
    let out = run(cmd, "python3 hcloud_py.py").await;
    let report: Value = serde_json::from_slice(&out.stdout).expect("script prints JSON");
    // Every resource was read through the client's models, and each kind has objects to read.
    let readable = report["readable"].as_object().expect("readable");
    for (name, count) in readable {
        assert!(
            count.as_u64().is_some_and(|n| n > 0),
            "{}: {name}: {count}",
            py.label()
        );
    }
    assert_eq!(
        report["servers_by_label"],
        serde_json::json!(["catalyst-omantel-omani-works-cp1"])
    );
    assert_eq!(report["action_status"], "success");
    assert_eq!(report["server_status"], "running");
    assert_eq!(report["private_ip"], "10.0.1.2");
    assert_eq!(
        report["locations"],
        serde_json::json!(["ash", "fsn1", "hel1", "hil", "nbg1", "sin"])
    );
    assert_eq!(report["networks_paged"], 3);
    assert!(report["primary_ip_names"].as_array().is_some_and(|n| {
        n.iter()
            .all(|n| n.as_str().is_some_and(|n| n.starts_with("primary_ip-")))
    }));
    assert!(
        report["cx42_monthly_net"]
            .as_str()
            .is_some_and(|p| p.starts_with("16.4"))
    );
    assert_eq!(
        report["after_delete_listed"], true,
        "DELETE-but-still-there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hcloud_cli_manages_every_kind() {
    let Some(bin) = which("hcloud") else {
        tools::missing(
            "hcloud_cli_manages_every_kind",
            "the hcloud CLI is not installed",
        );
        return;
    };
    let sim = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("key")
        .public_key()
        .to_openssh()
        .expect("openssh");
    let key_file = dir.path().join("id.pub");
    std::fs::write(&key_file, key).expect("write key");
    let key_file = key_file.to_string_lossy().to_string();
    let cli = Cli {
        bin,
        endpoint: sim.endpoint(),
        token: DEFAULT_TOKEN.into(),
        config: dir.path().join("cli.toml"),
    };
    let script: &[&[&str]] = &[
        &["location", "list"],
        &["location", "describe", "fsn1"],
        &["datacenter", "list"],
        &["datacenter", "describe", "fsn1-dc14"],
        &["server-type", "describe", "cx42"],
        &["load-balancer-type", "list"],
        &["image", "list"],
        &["image", "describe", "ubuntu-24.04"],
        &[
            "ssh-key",
            "create",
            "--name",
            "k1",
            "--public-key-from-file",
            &key_file,
        ],
        &["ssh-key", "describe", "k1"],
        &[
            "network",
            "create",
            "--name",
            "n1",
            "--ip-range",
            "10.0.0.0/16",
        ],
        &[
            "network",
            "add-subnet",
            "n1",
            "--type",
            "cloud",
            "--network-zone",
            "eu-central",
        ],
        &["network", "describe", "n1"],
        &["firewall", "create", "--name", "f1"],
        &[
            "server",
            "create",
            "--name",
            "s1",
            "--type",
            "cx22",
            "--image",
            "ubuntu-24.04",
            "--ssh-key",
            "k1",
        ],
        &["server", "describe", "s1"],
        &["server", "attach-to-network", "s1", "--network", "n1"],
        &[
            "firewall",
            "apply-to-resource",
            "f1",
            "--type",
            "server",
            "--server",
            "s1",
        ],
        &[
            "firewall",
            "apply-to-resource",
            "f1",
            "--type",
            "label_selector",
            "--label-selector",
            "a=b",
        ],
        &["firewall", "describe", "f1"],
        &[
            "firewall",
            "remove-from-resource",
            "f1",
            "--type",
            "server",
            "--server",
            "s1",
        ],
        &["server", "poweroff", "s1"],
        &["server", "poweron", "s1"],
        &["server", "reboot", "s1"],
        &["server", "shutdown", "s1"],
        &["server", "reset", "s1"],
        &["server", "add-label", "s1", "x=y"],
        &["server", "remove-label", "s1", "x"],
        &["server", "enable-protection", "s1", "delete", "rebuild"],
        &["server", "disable-protection", "s1", "delete", "rebuild"],
        &[
            "primary-ip",
            "create",
            "--name",
            "p1",
            "--type",
            "ipv4",
            "--datacenter",
            "fsn1-dc14",
        ],
        &["primary-ip", "describe", "p1"],
        &[
            "floating-ip",
            "create",
            "--type",
            "ipv4",
            "--home-location",
            "fsn1",
            "--name",
            "fl1",
        ],
        &["floating-ip", "assign", "fl1", "s1"],
        &["floating-ip", "describe", "fl1"],
        &["floating-ip", "unassign", "fl1"],
        &["floating-ip", "delete", "fl1"],
        &[
            "volume", "create", "--name", "v1", "--size", "10", "--server", "s1",
        ],
        &["volume", "describe", "v1"],
        &["volume", "detach", "v1"],
        &["volume", "resize", "v1", "--size", "20"],
        &["volume", "delete", "v1"],
        &[
            "load-balancer",
            "create",
            "--name",
            "lb1",
            "--type",
            "lb11",
            "--network-zone",
            "eu-central",
        ],
        &[
            "load-balancer",
            "add-target",
            "lb1",
            "--label-selector",
            "a=b",
        ],
        &["load-balancer", "add-service", "lb1", "--protocol", "http"],
        &[
            "load-balancer",
            "update-service",
            "lb1",
            "--listen-port",
            "80",
            "--destination-port",
            "8080",
        ],
        &["load-balancer", "describe", "lb1"],
        &[
            "load-balancer",
            "change-algorithm",
            "lb1",
            "--algorithm-type",
            "least_connections",
        ],
        &[
            "load-balancer",
            "delete-service",
            "lb1",
            "--listen-port",
            "80",
        ],
        &[
            "load-balancer",
            "remove-target",
            "lb1",
            "--label-selector",
            "a=b",
        ],
        &["load-balancer", "delete", "lb1"],
        &[
            "server",
            "list",
            "-o",
            "columns=id,name,ipv4,ipv6,private_net,datacenter,location,status,labels,volumes,protection,type",
        ],
        &["server", "delete", "s1"],
        &["network", "delete", "n1"],
        &["firewall", "delete", "f1"],
        &["ssh-key", "delete", "k1"],
        &["primary-ip", "delete", "p1"],
    ];
    for args in script {
        cli.run(args).await;
    }
    let failed: Vec<_> = sim
        .control()
        .request_log()
        .into_iter()
        .filter(|r| r.status >= 400)
        .collect();
    assert!(failed.is_empty(), "the CLI hit failing routes: {failed:?}");
    let described = cli.run(&["server-type", "describe", "cpx32"]).await;
    let text = String::from_utf8_lossy(&described.stdout);
    // The CLI shows gross prices: 14.49 net + 19 % VAT.
    assert!(text.contains("17.2431"), "monthly price shown: {text}");
}
