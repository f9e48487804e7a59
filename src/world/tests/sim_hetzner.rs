//! The simulated Hetzner Cloud API driven by the real `hcloud` crate over loopback.

use std::collections::HashMap;
use std::time::Duration;

use hcloud::apis::configuration::Configuration;
use hcloud::apis::{
    actions_api, datacenters_api, firewalls_api, floating_ips_api, images_api,
    load_balancer_types_api, load_balancers_api, locations_api, networks_api, pricing_api,
    primary_ips_api, server_types_api, servers_api, ssh_keys_api, volumes_api,
};
use hcloud::models;
use serde_json::{Value, json};
use sovtui_world::sim::clock::SimClock;
use sovtui_world::sim::hetzner::{
    DEFAULT_READONLY_TOKEN, DEFAULT_TOKEN, HetznerSim, HetznerSimConfig, Kind, RateBudget,
};

const FQDN: &str = "omantel.omani.works";
const SOVEREIGN: &str = "catalyst.openova.io/sovereign";

async fn start() -> (HetznerSim, SimClock, Configuration) {
    let clock = SimClock::new(1.0);
    let sim = HetznerSim::start(HetznerSimConfig::default(), clock.clone())
        .await
        .expect("simulator starts");
    let cfg = sim.hcloud_configuration(DEFAULT_TOKEN);
    (sim, clock, cfg)
}

fn labels(role: Option<&str>) -> HashMap<String, String> {
    let mut l = HashMap::from([(SOVEREIGN.to_string(), FQDN.to_string())]);
    if let Some(r) = role {
        l.insert("catalyst.openova.io/role".into(), r.into());
    }
    l
}

/// (HTTP status, Hetzner error code) of a failed hcloud call.
fn error_of<T: std::fmt::Debug>(e: hcloud::apis::Error<T>) -> (u16, String) {
    match e {
        hcloud::apis::Error::ResponseError(rc) => {
            let body: Value = serde_json::from_str(&rc.content).unwrap_or(Value::Null);
            (
                rc.status.as_u16(),
                body["error"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Poll an action with the hcloud crate until it is no longer running, advancing simulated
/// time between polls instead of sleeping.
async fn await_action(cfg: &Configuration, clock: &SimClock, id: i64) -> models::Action {
    let fut = async {
        loop {
            let a = actions_api::get_action(cfg, actions_api::GetActionParams { id })
                .await
                .expect("get action")
                .action;
            if a.status != models::action::Status::Running {
                return *a;
            }
            clock.advance(Duration::from_secs(1));
        }
    };
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("action finished in time")
}

async fn create_network(cfg: &Configuration, name: &str) -> models::Network {
    let mut req = models::CreateNetworkRequest::new("10.0.0.0/16".into(), name.into());
    let mut subnet = models::Subnet::new("eu-central".into(), models::subnet::Type::Cloud);
    subnet.ip_range = Some("10.0.1.0/24".into());
    req.subnets = Some(vec![subnet]);
    req.labels = Some(labels(None));
    *networks_api::create_network(
        cfg,
        networks_api::CreateNetworkParams {
            create_network_request: (req),
        },
    )
    .await
    .expect("create network")
    .network
    .expect("network in response")
}

fn tcp_in(port: &str) -> models::Rule {
    let mut r = models::Rule::new(models::rule::Direction::In, models::rule::Protocol::Tcp);
    r.port = Some(Some(port.into()));
    r.source_ips = Some(vec!["0.0.0.0/0".into(), "::/0".into()]);
    r
}

async fn create_server(
    cfg: &Configuration,
    name: &str,
    role: &str,
    network: Option<i64>,
) -> models::CreateServerResponse {
    let mut req =
        models::CreateServerRequest::new("ubuntu-24.04".into(), name.into(), "cx42".into());
    req.location = Some("fsn1".into());
    req.labels = Some(labels(Some(role)));
    req.networks = network.map(|n| vec![n]);
    servers_api::create_server(
        cfg,
        servers_api::CreateServerParams {
            create_server_request: (req),
        },
    )
    .await
    .expect("create server")
}

#[tokio::test]
async fn builds_a_sovereign_and_finds_it_by_label() {
    let (sim, clock, cfg) = start().await;
    let slug = FQDN.replace('.', "-");

    let net = create_network(&cfg, &format!("catalyst-{slug}-net")).await;
    assert_eq!(net.subnets[0].gateway, "10.0.0.1");

    let mut fw = models::CreateFirewallRequest::new(format!("catalyst-{slug}-fw"));
    fw.labels = Some(labels(None));
    fw.rules = Some(vec![tcp_in("80"), tcp_in("443"), tcp_in("6443")]);
    let mut apply = models::FirewallResource::new(models::firewall_resource::Type::LabelSelector);
    apply.label_selector = Some(Box::new(models::LabelSelector::new(format!(
        "{SOVEREIGN}={FQDN}"
    ))));
    fw.apply_to = Some(vec![apply]);
    let fw = firewalls_api::create_firewall(
        &cfg,
        firewalls_api::CreateFirewallParams {
            create_firewall_request: (fw),
        },
    )
    .await
    .expect("create firewall");
    let fw_id = fw.firewall.expect("firewall").id;
    assert_eq!(fw.actions.expect("apply actions").len(), 1);

    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("key")
        .public_key()
        .to_openssh()
        .expect("openssh");
    let created_key = ssh_keys_api::create_ssh_key(
        &cfg,
        ssh_keys_api::CreateSshKeyParams {
            create_ssh_key_request: (models::CreateSshKeyRequest::new(
                format!("catalyst-{slug}"),
                key.clone(),
            )),
        },
    )
    .await
    .expect("create ssh key");
    assert_eq!(created_key.ssh_key.fingerprint.len(), 47);

    let cp = create_server(
        &cfg,
        &format!("catalyst-{slug}-cp1"),
        "control-plane",
        Some(net.id),
    )
    .await;
    let w1 = create_server(&cfg, &format!("catalyst-{slug}-w1"), "worker", Some(net.id)).await;
    assert_eq!(cp.server.private_net[0].ip.as_deref(), Some("10.0.1.2"));
    assert_eq!(w1.server.private_net[0].ip.as_deref(), Some("10.0.1.3"));
    assert_eq!(cp.server.status, models::server::Status::Initializing);
    assert!(
        cp.root_password.is_some(),
        "no ssh key given → root password"
    );

    let mut lb =
        models::CreateLoadBalancerRequest::new("lb11".into(), format!("catalyst-{slug}-lb"));
    lb.location = Some("fsn1".into());
    lb.network = Some(net.id);
    lb.labels = Some(labels(None));
    lb.algorithm = Some(Box::new(models::LoadBalancerAlgorithm::new(
        models::load_balancer_algorithm::Type::RoundRobin,
    )));
    let lb = load_balancers_api::create_load_balancer(
        &cfg,
        load_balancers_api::CreateLoadBalancerParams {
            create_load_balancer_request: (lb),
        },
    )
    .await
    .expect("create load balancer");
    let lb_id = lb.load_balancer.id;
    let mut target =
        models::LoadBalancerAddTarget::new(models::load_balancer_add_target::Type::Server);
    target.server = Some(Box::new(models::ResourceId::new(cp.server.id)));
    target.use_private_ip = Some(true);
    load_balancers_api::add_target(
        &cfg,
        load_balancers_api::AddTargetParams {
            id: lb_id,
            load_balancer_add_target: target,
        },
    )
    .await
    .expect("add target");
    // Services through the raw control surface (same code path as POST …/actions/add_service).
    for (listen, dest) in [(80, 31080), (443, 31443)] {
        sim.control()
            .action(
                Kind::LoadBalancer,
                lb_id,
                "add_service",
                json!({"protocol": "tcp", "listen_port": listen, "destination_port": dest}),
            )
            .expect("add service");
    }

    let lb = load_balancers_api::get_load_balancer(
        &cfg,
        load_balancers_api::GetLoadBalancerParams { id: lb_id },
    )
    .await
    .expect("get lb")
    .load_balancer;
    assert_eq!(lb.services.len(), 2);
    assert_eq!(
        lb.targets[0].server.as_ref().map(|s| s.id),
        Some(cp.server.id)
    );
    assert_eq!(lb.private_net[0].ip.as_deref(), Some("10.0.1.4"));

    let listed = servers_api::list_servers(
        &cfg,
        servers_api::ListServersParams {
            label_selector: Some(format!(
                "{SOVEREIGN}={FQDN},catalyst.openova.io/role in (control-plane)"
            )),
            ..Default::default()
        },
    )
    .await
    .expect("list servers");
    assert_eq!(listed.servers.len(), 1);
    assert_eq!(listed.servers[0].name, format!("catalyst-{slug}-cp1"));
    let fws = listed.servers[0]
        .public_net
        .firewalls
        .clone()
        .unwrap_or_default();
    assert_eq!(fws.first().and_then(|f| f.id), Some(fw_id));
    assert_eq!(
        listed.servers[0].load_balancers.clone().unwrap_or_default(),
        vec![lb_id]
    );

    let none = servers_api::list_servers(
        &cfg,
        servers_api::ListServersParams {
            label_selector: Some(format!("{SOVEREIGN}!={FQDN}")),
            ..Default::default()
        },
    )
    .await
    .expect("list servers");
    assert!(none.servers.is_empty());

    let fw = firewalls_api::get_firewall(&cfg, firewalls_api::GetFirewallParams { id: fw_id })
        .await
        .expect("get firewall")
        .firewall;
    let applied = fw.applied_to[0]
        .applied_to_resources
        .clone()
        .unwrap_or_default();
    assert_eq!(applied.len(), 2, "label selector covers both servers");

    let net = networks_api::get_network(&cfg, networks_api::GetNetworkParams { id: net.id })
        .await
        .expect("get network")
        .network
        .expect("network");
    assert_eq!(net.servers.len(), 2);
    assert_eq!(net.load_balancers.clone().unwrap_or_default(), vec![lb_id]);

    // Primary IPs were created with the server, named as Hetzner does, without labels.
    let ips = primary_ips_api::list_primary_ips(&cfg, Default::default())
        .await
        .expect("list primary ips");
    assert_eq!(ips.primary_ips.len(), 4);
    for ip in &ips.primary_ips {
        let digits = ip
            .name
            .strip_prefix("primary_ip-")
            .expect("primary_ip- name");
        assert!(digits.chars().all(|c| c.is_ascii_digit()), "{}", ip.name);
        assert!(ip.auto_delete);
        assert!(ip.labels.is_empty());
    }
    let by_label = primary_ips_api::list_primary_ips(
        &cfg,
        primary_ips_api::ListPrimaryIpsParams {
            label_selector: Some(format!("{SOVEREIGN}={FQDN}")),
            ..Default::default()
        },
    )
    .await
    .expect("list primary ips by label");
    assert!(by_label.primary_ips.is_empty(), "the §2.3 blind spot");

    // The create action completes over simulated time and the server is running.
    let done = await_action(&cfg, &clock, cp.action.id).await;
    assert_eq!(done.status, models::action::Status::Success);
    assert_eq!(done.progress, 100);
    assert!(done.finished.is_some());
    let server = servers_api::get_server(&cfg, servers_api::GetServerParams { id: cp.server.id })
        .await
        .expect("get server")
        .server
        .expect("server");
    assert_eq!(server.status, models::server::Status::Running);

    // Power off through an action, awaited the same way.
    let off =
        servers_api::power_off_server(&cfg, servers_api::PowerOffServerParams { id: server.id })
            .await
            .expect("poweroff");
    let done = await_action(&cfg, &clock, off.action.id).await;
    assert_eq!(done.command, "stop_server");
    let server = servers_api::get_server(&cfg, servers_api::GetServerParams { id: server.id })
        .await
        .expect("get server")
        .server
        .expect("server");
    assert_eq!(server.status, models::server::Status::Off);
    let actions = servers_api::list_actions_for_server(
        &cfg,
        servers_api::ListActionsForServerParams {
            id: server.id,
            ..Default::default()
        },
    )
    .await
    .expect("server actions");
    let commands: Vec<&str> = actions.actions.iter().map(|a| a.command.as_str()).collect();
    assert!(
        commands.contains(&"create_server") && commands.contains(&"stop_server"),
        "{commands:?}"
    );
}

#[tokio::test]
async fn pages_through_lists_with_meta() {
    let (sim, _clock, cfg) = start().await;
    for i in 0..7 {
        sim.control()
            .create(
                Kind::Network,
                json!({"name": format!("net-{i}"), "ip_range": "10.0.0.0/16",
                       "labels": {"batch": if i % 2 == 0 { "even" } else { "odd" }}}),
            )
            .expect("create network");
    }
    let mut seen = Vec::new();
    let mut page = Some(1);
    while let Some(p) = page {
        let resp = networks_api::list_networks(
            &cfg,
            networks_api::ListNetworksParams {
                page: Some(p),
                per_page: Some(3),
                ..Default::default()
            },
        )
        .await
        .expect("list networks");
        let pg = &resp.meta.pagination;
        assert_eq!(pg.page, p);
        assert_eq!(pg.per_page, 3);
        assert_eq!(pg.last_page, Some(3));
        assert_eq!(pg.total_entries, Some(7));
        assert_eq!(pg.previous_page, if p > 1 { Some(p - 1) } else { None });
        seen.extend(resp.networks.into_iter().map(|n| n.name));
        page = pg.next_page;
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen[0], "net-0");
    let odd = networks_api::list_networks(
        &cfg,
        networks_api::ListNetworksParams {
            label_selector: Some("batch notin (even)".into()),
            ..Default::default()
        },
    )
    .await
    .expect("list odd");
    assert_eq!(odd.networks.len(), 3);
    let named = networks_api::list_networks(
        &cfg,
        networks_api::ListNetworksParams {
            name: Some("net-4".into()),
            ..Default::default()
        },
    )
    .await
    .expect("list by name");
    assert_eq!(named.networks.len(), 1);
}

#[tokio::test]
async fn answers_the_real_error_codes() {
    let (sim, _clock, cfg) = start().await;

    let bad = sovtui_world::sim::hetzner::hcloud_configuration(&sim.endpoint(), "not-a-token");
    let e = servers_api::list_servers(&bad, Default::default())
        .await
        .unwrap_err();
    assert_eq!(error_of(e), (401, "unauthorized".into()));

    let ro = sim.hcloud_configuration(DEFAULT_READONLY_TOKEN);
    servers_api::list_servers(&ro, Default::default())
        .await
        .expect("read-only token may read");
    let e = networks_api::create_network(
        &ro,
        networks_api::CreateNetworkParams {
            create_network_request: (models::CreateNetworkRequest::new(
                "10.0.0.0/16".into(),
                "x".into(),
            )),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error_of(e), (403, "forbidden".into()));

    let e = servers_api::get_server(&cfg, servers_api::GetServerParams { id: 424242 })
        .await
        .unwrap_err();
    assert_eq!(error_of(e), (404, "not_found".into()));

    create_network(&cfg, "dup").await;
    let e = networks_api::create_network(
        &cfg,
        networks_api::CreateNetworkParams {
            create_network_request: (models::CreateNetworkRequest::new(
                "10.0.0.0/16".into(),
                "dup".into(),
            )),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error_of(e), (409, "uniqueness_error".into()));

    let e = servers_api::list_servers(
        &cfg,
        servers_api::ListServersParams {
            label_selector: Some("role in (a".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error_of(e), (400, "invalid_input".into()));

    let log = sim.control().request_log();
    assert!(log.iter().any(|r| r.status == 401 && r.token == "invalid"));
    assert!(
        log.iter()
            .any(|r| r.status == 403 && r.token == "read-only")
    );
    let text = serde_json::to_string(&log).expect("log serialises");
    assert!(!text.contains(DEFAULT_TOKEN), "tokens never logged");
}

#[tokio::test]
async fn rate_limit_answers_429_with_headers() {
    let (sim, _clock, cfg) = start().await;
    sim.control().set_rate_budget(RateBudget {
        limit: 2,
        refill_per_second: 0.0,
    });
    let client = reqwest::Client::new();
    let url = format!("{}/servers", sim.endpoint());
    let first = client
        .get(&url)
        .bearer_auth(DEFAULT_TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["RateLimit-Limit"], "2");
    assert_eq!(first.headers()["RateLimit-Remaining"], "1");
    assert!(first.headers().contains_key("RateLimit-Reset"));
    servers_api::list_servers(&cfg, Default::default())
        .await
        .expect("second request");
    let third = client
        .get(&url)
        .bearer_auth(DEFAULT_TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(third.status(), 429);
    assert_eq!(third.headers()["RateLimit-Remaining"], "0");
    let body: Value = third.json().await.expect("json error body");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    let e = servers_api::list_servers(&cfg, Default::default())
        .await
        .unwrap_err();
    assert_eq!(error_of(e), (429, "rate_limit_exceeded".into()));
}

#[tokio::test]
async fn deleted_objects_linger_then_vanish() {
    let (sim, clock, cfg) = start().await;
    sim.control().set_linger(Duration::from_secs(30));
    let server = create_server(&cfg, "lingering", "worker", None).await;
    let id = server.server.id;
    let v4 = server
        .server
        .public_net
        .ipv4
        .clone()
        .and_then(|i| i.id)
        .expect("ipv4 id");

    let del = servers_api::delete_server(&cfg, servers_api::DeleteServerParams { id })
        .await
        .expect("delete answers success");
    assert_eq!(del.action.expect("delete action").command, "delete_server");

    // Still there, still listed: the DELETE-but-still-there quirk.
    servers_api::get_server(&cfg, servers_api::GetServerParams { id })
        .await
        .expect("still gettable while lingering");
    let listed = servers_api::list_servers(&cfg, Default::default())
        .await
        .expect("list");
    assert_eq!(listed.servers.len(), 1);
    primary_ips_api::get_primary_ip(&cfg, primary_ips_api::GetPrimaryIpParams { id: v4 })
        .await
        .expect("primary ip lingers too");

    clock.advance(Duration::from_secs(31));
    let e = servers_api::get_server(&cfg, servers_api::GetServerParams { id })
        .await
        .unwrap_err();
    assert_eq!(error_of(e), (404, "not_found".into()));
    let e = primary_ips_api::get_primary_ip(&cfg, primary_ips_api::GetPrimaryIpParams { id: v4 })
        .await
        .unwrap_err();
    assert_eq!(
        error_of(e),
        (404, "not_found".into()),
        "auto_delete primary IP went with the server"
    );
    let listed = servers_api::list_servers(&cfg, Default::default())
        .await
        .expect("list");
    assert!(listed.servers.is_empty());
}

#[tokio::test]
async fn snapshot_and_direct_store_access() {
    let (sim, clock, cfg) = start().await;
    let control = sim.control();
    let net = control
        .create(
            Kind::Network,
            json!({"name": "n", "ip_range": "10.0.0.0/16",
            "subnets": [{"type": "cloud", "network_zone": "eu-central", "ip_range": "10.0.1.0/24"}],
            "labels": {SOVEREIGN: FQDN}}),
        )
        .expect("network");
    let server = control
        .create(
            Kind::Server,
            json!({"name": "s1", "server_type": "cpx21", "image": "ubuntu-24.04",
            "location": "nbg1", "networks": [net["id"]], "labels": {SOVEREIGN: FQDN}}),
        )
        .expect("server");
    // Whatever the store renders must deserialize with the hcloud crate's models.
    let typed: models::Server = serde_json::from_value(server.clone()).expect("hcloud model");
    assert_eq!(typed.location.name, "nbg1");
    let snap = control.snapshot();
    assert_eq!(snap["servers"].as_array().map(Vec::len), Some(1));
    assert_eq!(snap["primary_ips"].as_array().map(Vec::len), Some(2));
    assert!(snap["actions"].as_array().is_some_and(|a| !a.is_empty()));
    let found = control
        .list(Kind::Server, Some(&format!("{SOVEREIGN}={FQDN}")))
        .expect("list");
    assert_eq!(found.len(), 1);
    let e = control
        .create(
            Kind::Server,
            json!({"name": "s1", "server_type": "cpx21", "image": "ubuntu-24.04"}),
        )
        .unwrap_err();
    assert_eq!(e.code, "uniqueness_error");
    let e = control
        .create(
            Kind::Server,
            json!({"name": "s2", "server_type": "nope", "image": "ubuntu-24.04"}),
        )
        .unwrap_err();
    assert_eq!(e.code, "invalid_input");
    control.fail_actions(
        "create_server",
        Some(("resource_unavailable", "no capacity in nbg1")),
    );
    let failing = control
        .create(
            Kind::Server,
            json!({"name": "s3", "server_type": "cpx21", "image": "ubuntu-24.04"}),
        )
        .expect("accepted; fails asynchronously");
    assert_eq!(failing["status"], "initializing");
    let id = failing["id"].as_i64().expect("id");
    let actions = control
        .request(
            axum::http::Method::GET,
            &format!("servers/{id}/actions?sort=id:asc"),
            Value::Null,
        )
        .expect("actions");
    let create_id = actions["actions"][0]["id"].as_i64().expect("create action");
    assert_eq!(actions["actions"][0]["command"], "create_server");
    clock.advance(Duration::from_secs(60));
    let a = actions_api::get_action(&cfg, actions_api::GetActionParams { id: create_id })
        .await
        .expect("get action")
        .action;
    assert_eq!(a.status, models::action::Status::Error);
    assert_eq!(
        a.error.map(|e| e.code),
        Some("resource_unavailable".to_string())
    );
    assert_eq!(
        control.get(Kind::Server, id).expect("server")["status"],
        "initializing"
    );
}

#[tokio::test]
async fn phase0_resources_and_a_recovery_purge_through_the_linger() {
    use sovtui_world::sim::hetzner::sovereign::{SovereignSpec, create_sovereign};
    let (sim, clock, cfg) = start().await;
    let control = sim.control();
    control.set_linger(Duration::from_secs(20));
    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("key")
        .public_key()
        .to_openssh()
        .expect("openssh");
    let mut spec = SovereignSpec::new(FQDN, "hel1", &key);
    spec.ha_enabled = true;
    spec.worker_count = 2;
    let res = create_sovereign(&control, &spec).expect("phase 0");
    assert_eq!(res.names.control_planes.len(), 3);
    assert!(!res.load_balancer_ip.is_empty() && !res.control_plane_ip.is_empty());
    // Unrelated project content must survive the purge.
    control
        .create(
            Kind::Network,
            json!({"name": "someone-else", "ip_range": "10.9.0.0/16"}),
        )
        .expect("other network");

    let selector = format!("{SOVEREIGN}={FQDN}");
    let servers = servers_api::list_servers(
        &cfg,
        servers_api::ListServersParams {
            label_selector: Some(selector.clone()),
            sort: Some(vec!["name:desc".into()]),
            ..Default::default()
        },
    )
    .await
    .expect("list")
    .servers;
    assert_eq!(servers.len(), 5);
    assert_eq!(
        servers[0].name,
        format!("catalyst-{}-w2", FQDN.replace('.', "-"))
    );
    let cp1 = servers
        .iter()
        .find(|s| s.name.ends_with("-cp1"))
        .expect("cp1");
    assert_eq!(cp1.private_net[0].ip.as_deref(), Some("10.0.1.2"));
    assert_eq!(cp1.location.network_zone, "eu-central");
    let w1 = servers
        .iter()
        .find(|s| s.name.ends_with("-w1"))
        .expect("w1");
    assert_eq!(w1.private_net[0].ip.as_deref(), Some("10.0.1.10"));
    assert_eq!(
        w1.labels
            .get("catalyst.openova.io/role")
            .map(String::as_str),
        Some("worker")
    );
    let lb = load_balancers_api::list_load_balancers(
        &cfg,
        load_balancers_api::ListLoadBalancersParams {
            label_selector: Some(selector.clone()),
            ..Default::default()
        },
    )
    .await
    .expect("lbs")
    .load_balancers;
    assert_eq!(lb[0].targets.len(), 3);
    assert_eq!(
        lb[0]
            .services
            .iter()
            .map(|s| s.destination_port)
            .collect::<Vec<_>>(),
        vec![31080, 31443]
    );

    // Pass 1 of operator-recover-sovereign.sh: label-selected deletes in its kind order.
    for s in &servers {
        servers_api::delete_server(&cfg, servers_api::DeleteServerParams { id: s.id })
            .await
            .expect("delete server");
    }
    load_balancers_api::delete_load_balancer(
        &cfg,
        load_balancers_api::DeleteLoadBalancerParams { id: lb[0].id },
    )
    .await
    .expect("delete lb");
    for n in networks_api::list_networks(
        &cfg,
        networks_api::ListNetworksParams {
            label_selector: Some(selector.clone()),
            ..Default::default()
        },
    )
    .await
    .expect("networks")
    .networks
    {
        networks_api::delete_network(&cfg, networks_api::DeleteNetworkParams { id: n.id })
            .await
            .expect("delete network");
    }
    for f in firewalls_api::list_firewalls(
        &cfg,
        firewalls_api::ListFirewallsParams {
            label_selector: Some(selector.clone()),
            ..Default::default()
        },
    )
    .await
    .expect("firewalls")
    .firewalls
    {
        // Accepted although the (lingering) servers still reference it.
        firewalls_api::delete_firewall(&cfg, firewalls_api::DeleteFirewallParams { id: f.id })
            .await
            .expect("delete firewall");
    }
    // Pass 2: SSH keys by slug substring.
    let slug = FQDN.replace('.', "-");
    for k in ssh_keys_api::list_ssh_keys(&cfg, Default::default())
        .await
        .expect("keys")
        .ssh_keys
    {
        if k.name.contains(&slug) {
            ssh_keys_api::delete_ssh_key(&cfg, ssh_keys_api::DeleteSshKeyParams { id: k.id })
                .await
                .expect("delete key");
        }
    }
    // Pass 3 would see everything again: the DELETEs answered success but nothing is gone yet.
    let lingering = servers_api::list_servers(&cfg, Default::default())
        .await
        .expect("list");
    assert_eq!(lingering.servers.len(), 5);
    // Re-deleting a lingering object is accepted again.
    servers_api::delete_server(&cfg, servers_api::DeleteServerParams { id: servers[0].id })
        .await
        .expect("second delete");

    clock.advance(Duration::from_secs(21));
    let snap = control.snapshot();
    for kind in [
        "servers",
        "load_balancers",
        "firewalls",
        "ssh_keys",
        "primary_ips",
    ] {
        assert_eq!(
            snap[kind].as_array().map(Vec::len),
            Some(0),
            "{kind}: {}",
            snap[kind]
        );
    }
    let nets: Vec<&str> = snap["networks"]
        .as_array()
        .map(|l| l.iter().filter_map(|n| n["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(nets, vec!["someone-else"]);
}

#[tokio::test]
async fn catalogue_with_prices_deserializes() {
    let (_sim, _clock, cfg) = start().await;
    let types = server_types_api::list_server_types(
        &cfg,
        server_types_api::ListServerTypesParams {
            name: Some("cpx32".into()),
            ..Default::default()
        },
    )
    .await
    .expect("server types");
    let cpx32 = &types.server_types[0];
    assert_eq!((cpx32.cores, cpx32.memory, cpx32.disk), (4, 8.0, 160.0));
    let fsn1 = cpx32
        .prices
        .iter()
        .find(|p| p.location == "fsn1")
        .expect("fsn1 price");
    assert_eq!(fsn1.price_monthly.net, "14.4900000000");
    assert_eq!(fsn1.price_hourly.net, "0.0232000000");
    assert_eq!(fsn1.price_monthly.gross, "17.2431000000");
    let all = server_types_api::list_server_types(
        &cfg,
        server_types_api::ListServerTypesParams {
            per_page: Some(50),
            ..Default::default()
        },
    )
    .await
    .expect("all server types");
    for name in ["cx22", "cx32", "cx42", "cpx21", "cx23", "cax11", "ccx13"] {
        assert!(all.server_types.iter().any(|t| t.name == name), "{name}");
    }
    let pricing = pricing_api::list_prices(&cfg).await.expect("pricing");
    assert_eq!(pricing.pricing.currency, "EUR");
    assert!(
        pricing
            .pricing
            .server_types
            .iter()
            .any(|t| t.name == "cx42")
    );
}

/// Every list and get the hcloud crate offers for the simulated kinds deserializes: a missing
/// required field in any rendered object would fail here.
#[tokio::test]
async fn every_kind_deserializes_with_the_hcloud_crate() {
    use sovtui_world::sim::hetzner::sovereign::{SovereignSpec, create_sovereign};
    let (sim, _clock, cfg) = start().await;
    let control = sim.control();
    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("key")
        .public_key()
        .to_openssh()
        .expect("openssh");
    let res = create_sovereign(&control, &SovereignSpec::new(FQDN, "nbg1", &key)).expect("phase 0");
    let server = res
        .created
        .iter()
        .find(|c| c.kind == Kind::Server)
        .expect("server")
        .id;
    let fip = control
        .create(
            Kind::FloatingIp,
            json!({"type": "ipv4", "server": server, "labels": {SOVEREIGN: FQDN}}),
        )
        .expect("floating ip");
    let vol = control
        .create(
            Kind::Volume,
            json!({"name": "data", "size": 10, "server": server, "format": "ext4"}),
        )
        .expect("volume");
    control
        .create(
            Kind::PrimaryIp,
            json!({"name": "spare", "type": "ipv6", "location": "nbg1"}),
        )
        .expect("primary ip");
    control
        .create(Kind::LoadBalancer, json!({"name": "sel", "load_balancer_type": "lb21", "location": "nbg1",
            "targets": [{"type": "label_selector", "label_selector": {"selector": format!("{SOVEREIGN}={FQDN}")}},
                        {"type": "ip", "ip": {"ip": "192.0.2.10"}}],
            "services": [{"protocol": "http", "health_check": {"protocol": "http", "http": {"path": "/healthz"}}}]}))
        .expect("selector lb");

    let locations = locations_api::list_locations(&cfg, Default::default())
        .await
        .expect("locations");
    assert!(locations.locations.iter().any(|l| l.name == "hel1"));
    let dcs = datacenters_api::list_data_centers(&cfg, Default::default())
        .await
        .expect("datacenters");
    assert_eq!(dcs.datacenters.len(), locations.locations.len());
    let images = images_api::list_images(
        &cfg,
        images_api::ListImagesParams {
            name: Some("ubuntu-24.04".into()),
            architecture: Some("x86".into()),
            ..Default::default()
        },
    )
    .await
    .expect("images");
    assert_eq!(images.images.len(), 1);
    load_balancer_types_api::list_load_balancer_types(&cfg, Default::default())
        .await
        .expect("lb types");
    let fips = floating_ips_api::list_floating_ips(&cfg, Default::default())
        .await
        .expect("fips");
    assert_eq!(fips.floating_ips[0].server, Some(server));
    let vols = volumes_api::list_volumes(&cfg, Default::default())
        .await
        .expect("volumes");
    assert_eq!(
        vols.volumes[0].linux_device,
        format!("/dev/disk/by-id/scsi-0HC_Volume_{}", vol["id"])
    );
    let lbs = load_balancers_api::list_load_balancers(&cfg, Default::default())
        .await
        .expect("lbs");
    let sel = lbs
        .load_balancers
        .iter()
        .find(|l| l.name == "sel")
        .expect("selector lb");
    assert_eq!(sel.targets[0].targets.as_ref().map(Vec::len), Some(1));
    ssh_keys_api::list_ssh_keys(&cfg, Default::default())
        .await
        .expect("keys");
    firewalls_api::list_firewalls(&cfg, Default::default())
        .await
        .expect("firewalls");
    primary_ips_api::list_primary_ips(&cfg, Default::default())
        .await
        .expect("primary ips");
    networks_api::list_networks(&cfg, Default::default())
        .await
        .expect("networks");
    let servers = servers_api::list_servers(&cfg, Default::default())
        .await
        .expect("servers");
    let s = &servers.servers[0];
    assert_eq!(
        s.public_net.floating_ips,
        vec![fip["id"].as_i64().expect("fip id")]
    );
    assert_eq!(
        s.volumes.clone().unwrap_or_default(),
        vec![vol["id"].as_i64().expect("vol id")]
    );
    let ids: Vec<i64> = servers_api::list_actions_for_server(
        &cfg,
        servers_api::ListActionsForServerParams {
            id: s.id,
            ..Default::default()
        },
    )
    .await
    .expect("server actions")
    .actions
    .iter()
    .map(|a| a.id)
    .collect();
    let multi = actions_api::get_multiple_actions(
        &cfg,
        actions_api::GetMultipleActionsParams { id: ids.clone() },
    )
    .await
    .expect("multiple actions");
    assert_eq!(multi.actions.len(), ids.len());
    servers_api::list_server_actions(&cfg, Default::default())
        .await
        .expect("all server actions");
    firewalls_api::list_firewall_actions(&cfg, Default::default())
        .await
        .expect("firewall actions");
    volumes_api::list_volume_actions(&cfg, Default::default())
        .await
        .expect("volume actions");
}

/// Runbook §7.1 rows as scenario data: orphans (C3), read-only token (M1), project limits (M2).
#[tokio::test]
async fn faults_as_data() {
    use sovtui_world::sim::hetzner::faults::HetznerFaults;
    let (sim, clock, cfg) = start().await;
    let faults: HetznerFaults = toml::from_str(
        r#"
        limits = { servers = 1 }
        read_only_tokens = ["expired-scope-token"]
        revoked_tokens = ["simrotokensimrotokensimrotokensimrotokensimrotokensimrotoken0001"]
        [[objects]]
        kind = "networks"
        body = { name = "catalyst-omantel-omani-works-net", ip_range = "10.0.0.0/16", labels = { "catalyst.openova.io/sovereign" = "omantel.omani.works" } }
        "#,
    )
    .expect("scenario data");
    sim.control().apply_faults(&faults).expect("applied");

    // C3: the orphan of an earlier partial apply makes the re-run fail.
    let e = networks_api::create_network(
        &cfg,
        networks_api::CreateNetworkParams {
            create_network_request: models::CreateNetworkRequest::new(
                "10.0.0.0/16".into(),
                "catalyst-omantel-omani-works-net".into(),
            ),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error_of(e), (409, "uniqueness_error".into()));

    // M2: the project limit.
    create_server(&cfg, "first", "worker", None).await;
    let mut req =
        models::CreateServerRequest::new("ubuntu-24.04".into(), "second".into(), "cx22".into());
    req.location = Some("fsn1".into());
    let e = servers_api::create_server(
        &cfg,
        servers_api::CreateServerParams {
            create_server_request: req,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error_of(e), (403, "resource_limit_exceeded".into()));

    // M1: a read-only token reads but cannot write; a revoked one cannot even read.
    let ro = sim.hcloud_configuration("expired-scope-token");
    servers_api::list_servers(&ro, Default::default())
        .await
        .expect("reads");
    let e = servers_api::delete_server(&ro, servers_api::DeleteServerParams { id: 1 })
        .await
        .unwrap_err();
    assert_eq!(error_of(e), (403, "forbidden".into()));
    let revoked = sim.hcloud_configuration(DEFAULT_READONLY_TOKEN);
    let e = servers_api::list_servers(&revoked, Default::default())
        .await
        .unwrap_err();
    assert_eq!(error_of(e), (401, "unauthorized".into()));

    // A slow API: the answer waits for simulated time, which the test advances.
    sim.control().set_latency(Duration::from_secs(3600));
    let slow = {
        let cfg = cfg.clone();
        tokio::spawn(async move { servers_api::list_servers(&cfg, Default::default()).await })
    };
    let log_len = sim.control().request_log().len();
    tokio::time::timeout(Duration::from_secs(30), async {
        while sim.control().delayed_requests() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("request arrived and is held back");
    assert!(!slow.is_finished());
    assert_eq!(
        sim.control().request_log().len(),
        log_len,
        "not answered yet"
    );
    sim.control().set_latency(Duration::ZERO);
    clock.advance(Duration::from_secs(3601));
    tokio::time::timeout(Duration::from_secs(30), slow)
        .await
        .expect("answered after the advance")
        .expect("task")
        .expect("list");

    sim.control().set_outage(true);
    let e = servers_api::list_servers(&cfg, Default::default())
        .await
        .unwrap_err();
    assert_eq!(error_of(e), (503, "unavailable".into()));
    sim.control().set_outage(false);
    servers_api::list_servers(&cfg, Default::default())
        .await
        .expect("back");

    let bad: HetznerFaults = toml::from_str("limits = { gadgets = 1 }").expect("syntax ok");
    let e = sim.control().apply_faults(&bad).unwrap_err();
    assert!(e.message.contains("limits"), "{e}");
}
