//! Phase-0 apply: create what is missing and fix what apply can fix, in dependency order
//! (network → firewall → SSH key → load balancer → servers → LB targets), awaiting every action.
//! Idempotent: a second run over the result plans no create and no update.

use std::collections::HashMap;
use std::path::PathBuf;

use futures::StreamExt;
use hcloud::apis::{firewalls_api, load_balancers_api, networks_api, servers_api, ssh_keys_api};
use hcloud::models;
use serde::Serialize;
use tokio::time::Instant;

use super::client::{ClientStats, HetznerClient, HetznerError};
use super::cloudinit::RenderError;
use super::inventory::{Inventory, Kind};
use super::journal::Journal;
use super::model::{DesiredServer, SovereignModel};
use super::plan::{self, Action, Phase0Plan, normalize_rules};

/// The load balancer's fixed private IP, clear of the servers' 10.0.1.2-… range.
pub const LB_PRIVATE_IP: &str = "10.0.1.254";

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "the Hetzner token was refused for writes ({source}); it is read-only or expired. {}",
        if *.touched == 0 { "Nothing was created or changed." } else { "Some objects were already created: run `phase0 plan` to see them." }
    )]
    ReadOnlyToken {
        source: HetznerError,
        touched: usize,
    },
    #[error("the Hetzner token was rejected ({0})")]
    Unauthorized(HetznerError),
    #[error(
        "{0} — an object with this name already exists outside what was listed (often a deleted \
         object that still lingers); wait and re-run, or run `sovtui recover` first"
    )]
    NameTaken(HetznerError),
    #[error("rendering cloud-init for {server}: {source}")]
    Render { server: String, source: RenderError },
    #[error(transparent)]
    Hetzner(HetznerError),
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum ApplyEvent {
    Planned {
        create: usize,
        update: usize,
    },
    Step {
        kind: Kind,
        name: String,
        action: String,
    },
    StepDone {
        kind: Kind,
        name: String,
        id: i64,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub fqdn: String,
    pub plan: Phase0Plan,
    /// `kind/name` of every object created.
    pub created: Vec<String>,
    /// `kind/name: change` of every fix applied.
    pub updated: Vec<String>,
    /// Differences apply does not change (re-create via recover).
    pub not_fixable: Vec<String>,
    pub orphans: Vec<String>,
    pub load_balancer_ip: Option<String>,
    pub control_plane_ip: Option<String>,
    pub journal: Option<String>,
    pub stats: ClientStats,
    pub elapsed_ms: u128,
}

impl ApplyReport {
    pub fn changed_anything(&self) -> bool {
        !self.created.is_empty() || !self.updated.is_empty()
    }
}

struct Ctx<'a> {
    client: &'a HetznerClient,
    emit: &'a (dyn Fn(ApplyEvent) + Send + Sync),
    journal: std::sync::Mutex<Option<Journal>>,
    touched: std::sync::atomic::AtomicUsize,
}

impl Ctx<'_> {
    fn step(&self, kind: Kind, name: &str, action: &str) {
        if let Ok(mut j) = self.journal.lock()
            && let Some(j) = j.as_mut()
        {
            j.record(
                "apply",
                serde_json::json!({"kind": kind, "name": name, "action": action}),
            );
        }
        (self.emit)(ApplyEvent::Step {
            kind,
            name: name.to_string(),
            action: action.to_string(),
        });
    }

    fn wrote(&self) {
        self.touched
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn fail(&self, e: HetznerError) -> ApplyError {
        if e.is_forbidden() {
            ApplyError::ReadOnlyToken {
                source: e,
                touched: self.touched.load(std::sync::atomic::Ordering::Relaxed),
            }
        } else if e.is_unauthorized() {
            ApplyError::Unauthorized(e)
        } else if e.is_uniqueness() {
            ApplyError::NameTaken(e)
        } else {
            ApplyError::Hetzner(e)
        }
    }
}

fn labels(map: &HashMap<String, String>) -> Option<HashMap<String, String>> {
    Some(map.clone())
}

/// Merge desired labels into existing ones (others' labels are kept).
fn merged(
    actual: Option<&HashMap<String, String>>,
    desired: &HashMap<String, String>,
) -> HashMap<String, String> {
    let mut m = actual.cloned().unwrap_or_default();
    m.extend(desired.iter().map(|(k, v)| (k.clone(), v.clone())));
    m
}

fn hc_rules(model: &SovereignModel) -> Vec<models::Rule> {
    normalize_rules(&model.firewall.rules)
        .into_iter()
        .map(|r| {
            let protocol = match r.protocol.as_str() {
                "icmp" => models::rule::Protocol::Icmp,
                "udp" => models::rule::Protocol::Udp,
                _ => models::rule::Protocol::Tcp,
            };
            let mut rule = models::Rule::new(models::rule::Direction::In, protocol);
            rule.port = r.port.map(Some);
            rule.source_ips = Some(r.source_ips);
            rule
        })
        .collect()
}

fn lb_service(s: &super::model::LbService) -> models::LoadBalancerService {
    models::LoadBalancerService::new(
        s.destination_port,
        models::LoadBalancerServiceHealthCheck::new(
            15,
            s.destination_port,
            models::load_balancer_service_health_check::Protocol::Tcp,
            3,
            10,
        ),
        s.listen_port,
        models::load_balancer_service::Protocol::Tcp,
        false,
    )
}

/// Apply the model. `journal_dir` = where the step journal goes (None: no journal).
pub async fn apply(
    client: &HetznerClient,
    model: &SovereignModel,
    journal_dir: Option<PathBuf>,
    emit: &(dyn Fn(ApplyEvent) + Send + Sync),
) -> Result<ApplyReport, ApplyError> {
    let started = Instant::now();
    let journal = journal_dir.and_then(|d| {
        Journal::create(&d, "phase0-apply", &model.slug)
            .map_err(|e| tracing::warn!(error = %e, "cannot open the apply journal"))
            .ok()
    });
    let journal_path = journal.as_ref().map(|j| j.path().display().to_string());
    let ctx = Ctx {
        client,
        emit,
        journal: std::sync::Mutex::new(journal),
        touched: Default::default(),
    };
    let inv = Inventory::fetch(client).await.map_err(|e| ctx.fail(e))?;
    let the_plan = plan::diff(model, &inv);
    emit(ApplyEvent::Planned {
        create: the_plan.summary.create,
        update: the_plan.summary.update,
    });
    let mut created = Vec::new();
    let mut updated = Vec::new();
    let not_fixable: Vec<String> = the_plan
        .items
        .iter()
        .flat_map(|i| {
            i.changes
                .iter()
                .filter(|c| !c.fixable)
                .map(move |c| format!("{}/{}: {}", i.kind.api_path(), i.name, c.what))
        })
        .collect();
    let orphans: Vec<String> = the_plan
        .items
        .iter()
        .filter(|i| i.action == Action::Orphan)
        .map(|i| {
            format!(
                "{}/{} ({})",
                i.kind.api_path(),
                i.name,
                i.id.unwrap_or_default()
            )
        })
        .collect();

    // 1. Network
    let d = &model.network;
    let network = match inv.networks.iter().find(|n| n.name == d.name) {
        Some(n) => {
            let mut n = n.clone();
            if !n
                .subnets
                .iter()
                .any(|s| s.ip_range.as_deref() == Some(d.subnet_range.as_str()))
            {
                ctx.step(Kind::Network, &d.name, "add-subnet");
                let mut subnet =
                    models::Subnet::new(d.network_zone.clone(), models::subnet::Type::Cloud);
                subnet.ip_range = Some(d.subnet_range.clone());
                let id = n.id;
                let r = client
                    .call("adding the subnet", move |cfg| {
                        let subnet = subnet.clone();
                        async move {
                            networks_api::add_subnet_to_network(
                                &cfg,
                                networks_api::AddSubnetToNetworkParams { id, subnet },
                            )
                            .await
                        }
                    })
                    .await
                    .map_err(|e| ctx.fail(e))?;
                ctx.wrote();
                client
                    .await_action("adding the subnet", &r.action)
                    .await
                    .map_err(|e| ctx.fail(e))?;
                updated.push(format!("networks/{}: subnet {}", d.name, d.subnet_range));
            }
            if !plan_labels_ok(&d.labels, Some(&n.labels)) {
                ctx.step(Kind::Network, &d.name, "labels");
                let id = n.id;
                let l = merged(Some(&n.labels), &d.labels);
                client
                    .call("labelling the network", move |cfg| {
                        let l = l.clone();
                        async move {
                            networks_api::replace_network(
                                &cfg,
                                networks_api::ReplaceNetworkParams {
                                    id,
                                    replace_network_request: models::ReplaceNetworkRequest {
                                        labels: Some(l),
                                        ..Default::default()
                                    },
                                },
                            )
                            .await
                        }
                    })
                    .await
                    .map_err(|e| ctx.fail(e))?;
                ctx.wrote();
                n.labels = merged(Some(&n.labels), &d.labels);
                updated.push(format!("networks/{}: labels", d.name));
            }
            n
        }
        None => {
            ctx.step(Kind::Network, &d.name, "create");
            let mut subnet =
                models::Subnet::new(d.network_zone.clone(), models::subnet::Type::Cloud);
            subnet.ip_range = Some(d.subnet_range.clone());
            let req = models::CreateNetworkRequest {
                ip_range: d.ip_range.clone(),
                labels: labels(&d.labels),
                name: d.name.clone(),
                subnets: Some(vec![subnet]),
                ..Default::default()
            };
            let r = client
                .call("creating the network", move |cfg| {
                    let req = req.clone();
                    async move {
                        networks_api::create_network(
                            &cfg,
                            networks_api::CreateNetworkParams {
                                create_network_request: req,
                            },
                        )
                        .await
                    }
                })
                .await
                .map_err(|e| ctx.fail(e))?;
            ctx.wrote();
            let n = r.network.map(|b| *b).ok_or_else(|| {
                ApplyError::Hetzner(HetznerError::Decode {
                    what: "creating the network".into(),
                    message: "answer carries no network".into(),
                })
            })?;
            created.push(format!("networks/{}", d.name));
            n
        }
    };
    emit(ApplyEvent::StepDone {
        kind: Kind::Network,
        name: d.name.clone(),
        id: network.id,
    });

    // 2. Firewall
    let d = &model.firewall;
    let firewall = match inv.firewalls.iter().find(|f| f.name == d.name) {
        Some(f) => {
            if plan::actual_rules(f) != normalize_rules(&d.rules) {
                ctx.step(Kind::Firewall, &d.name, "set-rules");
                let id = f.id;
                let rules = hc_rules(model);
                let r = client
                    .call("setting firewall rules", move |cfg| {
                        let rules = rules.clone();
                        async move {
                            firewalls_api::set_rules(
                                &cfg,
                                firewalls_api::SetRulesParams {
                                    id,
                                    set_rules_request: models::SetRulesRequest { rules },
                                },
                            )
                            .await
                        }
                    })
                    .await
                    .map_err(|e| ctx.fail(e))?;
                ctx.wrote();
                client
                    .await_actions("setting firewall rules", &r.actions)
                    .await
                    .map_err(|e| ctx.fail(e))?;
                updated.push(format!("firewalls/{}: rules", d.name));
            }
            if !plan_labels_ok(&d.labels, f.labels.as_ref()) {
                ctx.step(Kind::Firewall, &d.name, "labels");
                let id = f.id;
                let l = merged(f.labels.as_ref(), &d.labels);
                client
                    .call("labelling the firewall", move |cfg| {
                        let l = l.clone();
                        async move {
                            firewalls_api::replace_firewall(
                                &cfg,
                                firewalls_api::ReplaceFirewallParams {
                                    id,
                                    replace_firewall_request: models::ReplaceFirewallRequest {
                                        labels: Some(l),
                                        name: None,
                                    },
                                },
                            )
                            .await
                        }
                    })
                    .await
                    .map_err(|e| ctx.fail(e))?;
                ctx.wrote();
                updated.push(format!("firewalls/{}: labels", d.name));
            }
            f.clone()
        }
        None => {
            ctx.step(Kind::Firewall, &d.name, "create");
            let req = models::CreateFirewallRequest {
                apply_to: None,
                labels: labels(&d.labels),
                name: d.name.clone(),
                rules: Some(hc_rules(model)),
            };
            let r = client
                .call("creating the firewall", move |cfg| {
                    let req = req.clone();
                    async move {
                        firewalls_api::create_firewall(
                            &cfg,
                            firewalls_api::CreateFirewallParams {
                                create_firewall_request: req,
                            },
                        )
                        .await
                    }
                })
                .await
                .map_err(|e| ctx.fail(e))?;
            ctx.wrote();
            if let Some(actions) = &r.actions {
                client
                    .await_actions("creating the firewall", actions)
                    .await
                    .map_err(|e| ctx.fail(e))?;
            }
            created.push(format!("firewalls/{}", d.name));
            r.firewall.map(|b| *b).ok_or_else(|| {
                ApplyError::Hetzner(HetznerError::Decode {
                    what: "creating the firewall".into(),
                    message: "answer carries no firewall".into(),
                })
            })?
        }
    };
    emit(ApplyEvent::StepDone {
        kind: Kind::Firewall,
        name: d.name.clone(),
        id: firewall.id,
    });

    // 3. SSH key
    let d = &model.ssh_key;
    let ssh_key_id = match inv.ssh_keys.iter().find(|k| k.name == d.name) {
        Some(k) => {
            if !plan_labels_ok(&d.labels, Some(&k.labels)) {
                ctx.step(Kind::SshKey, &d.name, "labels");
                let id = k.id;
                let l = merged(Some(&k.labels), &d.labels);
                client
                    .call("labelling the SSH key", move |cfg| {
                        let l = l.clone();
                        async move {
                            ssh_keys_api::replace_ssh_key(
                                &cfg,
                                ssh_keys_api::ReplaceSshKeyParams {
                                    id,
                                    replace_ssh_key_request: models::ReplaceSshKeyRequest {
                                        labels: Some(l),
                                        name: None,
                                    },
                                },
                            )
                            .await
                        }
                    })
                    .await
                    .map_err(|e| ctx.fail(e))?;
                ctx.wrote();
                updated.push(format!("ssh_keys/{}: labels", d.name));
            }
            k.id
        }
        None => {
            ctx.step(Kind::SshKey, &d.name, "create");
            let req = models::CreateSshKeyRequest {
                labels: labels(&d.labels),
                name: d.name.clone(),
                public_key: d.public_key.clone(),
            };
            let r = client
                .call("creating the SSH key", move |cfg| {
                    let req = req.clone();
                    async move {
                        ssh_keys_api::create_ssh_key(
                            &cfg,
                            ssh_keys_api::CreateSshKeyParams {
                                create_ssh_key_request: req,
                            },
                        )
                        .await
                    }
                })
                .await
                .map_err(|e| ctx.fail(e))?;
            ctx.wrote();
            created.push(format!("ssh_keys/{}", d.name));
            r.ssh_key.id
        }
    };
    emit(ApplyEvent::StepDone {
        kind: Kind::SshKey,
        name: d.name.clone(),
        id: ssh_key_id,
    });

    // 4. Load balancer (before the servers: their user data carries its IP)
    let d = &model.load_balancer;
    let lb_created = !inv.load_balancers.iter().any(|l| l.name == d.name);
    let lb = match inv.load_balancers.iter().find(|l| l.name == d.name) {
        Some(l) => {
            let id = l.id;
            for s in &d.services {
                if l.services.iter().any(|x| x.listen_port == s.listen_port) {
                    continue;
                }
                ctx.step(
                    Kind::LoadBalancer,
                    &d.name,
                    &format!("add-service-{}", s.listen_port),
                );
                let svc = lb_service(s);
                let r = client
                    .call("adding a load balancer service", move |cfg| {
                        let svc = svc.clone();
                        async move {
                            load_balancers_api::add_service(
                                &cfg,
                                load_balancers_api::AddServiceParams {
                                    id,
                                    load_balancer_service: svc,
                                },
                            )
                            .await
                        }
                    })
                    .await
                    .map_err(|e| ctx.fail(e))?;
                ctx.wrote();
                client
                    .await_action("adding a service", &r.action)
                    .await
                    .map_err(|e| ctx.fail(e))?;
                updated.push(format!(
                    "load_balancers/{}: service {}",
                    d.name, s.listen_port
                ));
            }
            if !plan_labels_ok(&d.labels, Some(&l.labels)) {
                ctx.step(Kind::LoadBalancer, &d.name, "labels");
                let lbl = merged(Some(&l.labels), &d.labels);
                client
                    .call("labelling the load balancer", move |cfg| {
                        let lbl = lbl.clone();
                        async move {
                            load_balancers_api::replace_load_balancer(
                                &cfg,
                                load_balancers_api::ReplaceLoadBalancerParams {
                                    id,
                                    replace_load_balancer_request:
                                        models::ReplaceLoadBalancerRequest {
                                            labels: Some(lbl),
                                            name: None,
                                        },
                                },
                            )
                            .await
                        }
                    })
                    .await
                    .map_err(|e| ctx.fail(e))?;
                ctx.wrote();
                updated.push(format!("load_balancers/{}: labels", d.name));
            }
            l.clone()
        }
        None => {
            ctx.step(Kind::LoadBalancer, &d.name, "create");
            let req = models::CreateLoadBalancerRequest {
                algorithm: Some(Box::new(models::LoadBalancerAlgorithm::new(
                    models::load_balancer_algorithm::Type::RoundRobin,
                ))),
                labels: labels(&d.labels),
                load_balancer_type: d.load_balancer_type.clone(),
                location: Some(d.location.clone()),
                name: d.name.clone(),
                // Attached below at a fixed IP: auto-assignment would take 10.0.1.2, which
                // belongs to the first control plane.
                network: None,
                network_zone: None,
                public_interface: Some(true),
                services: Some(d.services.iter().map(lb_service).collect()),
                targets: None,
            };
            let r = client
                .call("creating the load balancer", move |cfg| {
                    let req = req.clone();
                    async move {
                        load_balancers_api::create_load_balancer(
                            &cfg,
                            load_balancers_api::CreateLoadBalancerParams {
                                create_load_balancer_request: req,
                            },
                        )
                        .await
                    }
                })
                .await
                .map_err(|e| ctx.fail(e))?;
            ctx.wrote();
            client
                .await_action("creating the load balancer", &r.action)
                .await
                .map_err(|e| ctx.fail(e))?;
            created.push(format!("load_balancers/{}", d.name));
            *r.load_balancer
        }
    };
    {
        let id = lb.id;
        if !lb.private_net.iter().any(|p| p.network == Some(network.id)) {
            ctx.step(Kind::LoadBalancer, &d.name, "attach-network");
            let net = network.id;
            let r = client
                .call(
                    "attaching the load balancer to the network",
                    move |cfg| async move {
                        load_balancers_api::attach_load_balancer_to_network(
                            &cfg,
                            load_balancers_api::AttachLoadBalancerToNetworkParams {
                                id,
                                attach_load_balancer_to_network_request:
                                    models::AttachLoadBalancerToNetworkRequest {
                                        ip: Some(LB_PRIVATE_IP.to_string()),
                                        ip_range: None,
                                        network: net,
                                    },
                            },
                        )
                        .await
                    },
                )
                .await
                .map_err(|e| ctx.fail(e))?;
            ctx.wrote();
            client
                .await_action("attaching the load balancer", &r.action)
                .await
                .map_err(|e| ctx.fail(e))?;
            if !lb_created {
                updated.push(format!("load_balancers/{}: network", d.name));
            }
        }
    }
    let lb_ip = lb.public_net.ipv4.ip.clone().flatten();
    emit(ApplyEvent::StepDone {
        kind: Kind::LoadBalancer,
        name: d.name.clone(),
        id: lb.id,
    });

    // 5. Servers, concurrently within the client's limits
    let results: Vec<Result<EnsuredServer, ApplyError>> =
        futures::stream::iter(
            model.servers.iter().map(|d| {
                let ctx = &ctx;
                let network = &network;
                let firewall = &firewall;
                let inv = &inv;
                let lb_ip = lb_ip.clone().unwrap_or_default();
                async move {
                    ensure_server(ctx, model, d, inv, network, firewall, ssh_key_id, &lb_ip).await
                }
            }),
        )
        .buffer_unordered(client.options().max_concurrency.max(1))
        .collect()
        .await;
    let mut servers: Vec<models::Server> = Vec::new();
    for r in results {
        let (s, fixes, was_created) = r?;
        if was_created {
            created.push(format!("servers/{}", s.name));
        }
        updated.extend(
            fixes
                .into_iter()
                .map(|f| format!("servers/{}: {f}", s.name)),
        );
        servers.push(s);
    }

    // 6. LB targets: the control planes, through their private IPs
    for t in &d.targets {
        let Some(sid) = servers.iter().find(|s| &s.name == t).map(|s| s.id) else {
            continue;
        };
        if lb
            .targets
            .iter()
            .any(|x| x.server.as_ref().map(|r| r.id) == Some(sid))
        {
            continue;
        }
        ctx.step(Kind::LoadBalancer, &d.name, &format!("add-target-{t}"));
        let id = lb.id;
        let mut target =
            models::LoadBalancerAddTarget::new(models::load_balancer_add_target::Type::Server);
        target.server = Some(Box::new(models::ResourceId::new(sid)));
        target.use_private_ip = Some(d.use_private_ip);
        let r = client
            .call("adding a load balancer target", move |cfg| {
                let target = target.clone();
                async move {
                    load_balancers_api::add_target(
                        &cfg,
                        load_balancers_api::AddTargetParams {
                            id,
                            load_balancer_add_target: target,
                        },
                    )
                    .await
                }
            })
            .await
            .map_err(|e| ctx.fail(e))?;
        ctx.wrote();
        client
            .await_action("adding a target", &r.action)
            .await
            .map_err(|e| ctx.fail(e))?;
        if !created
            .iter()
            .any(|c| c == &format!("load_balancers/{}", d.name))
        {
            updated.push(format!("load_balancers/{}: target {t}", d.name));
        }
    }

    let control_plane_ip = model
        .servers
        .first()
        .and_then(|d| servers.iter().find(|s| s.name == d.name))
        .and_then(|s| s.public_net.ipv4.as_ref().map(|v| v.ip.clone()));
    if let Ok(mut j) = ctx.journal.lock()
        && let Some(j) = j.as_mut()
    {
        j.record(
            "done",
            serde_json::json!({"created": &created, "updated": &updated}),
        );
    }
    Ok(ApplyReport {
        fqdn: model.fqdn.clone(),
        plan: the_plan,
        created,
        updated,
        not_fixable,
        orphans,
        load_balancer_ip: lb_ip,
        control_plane_ip,
        journal: journal_path,
        stats: client.stats(),
        elapsed_ms: started.elapsed().as_millis(),
    })
}

fn plan_labels_ok(
    desired: &HashMap<String, String>,
    actual: Option<&HashMap<String, String>>,
) -> bool {
    desired
        .iter()
        .all(|(k, v)| actual.and_then(|a| a.get(k)) == Some(v))
}

/// (server, fixes applied, created?)
type EnsuredServer = (models::Server, Vec<String>, bool);

/// Create (or fix) one server: create with firewall, key and user data, then attach it to the
/// network at its fixed private IP. Returns (server, fixes applied, created?).
#[allow(clippy::too_many_arguments)]
async fn ensure_server(
    ctx: &Ctx<'_>,
    model: &SovereignModel,
    d: &DesiredServer,
    inv: &Inventory,
    network: &models::Network,
    firewall: &models::Firewall,
    ssh_key_id: i64,
    lb_ip: &str,
) -> Result<EnsuredServer, ApplyError> {
    let client = ctx.client;
    let mut fixes = Vec::new();
    let (mut server, created) = match inv.servers.iter().find(|s| s.name == d.name) {
        Some(s) => (s.clone(), false),
        None => {
            let user_data = model
                .user_data(d, lb_ip)
                .map_err(|source| ApplyError::Render {
                    server: d.name.clone(),
                    source,
                })?;
            ctx.step(Kind::Server, &d.name, "create");
            let mut req = models::CreateServerRequest::new(
                d.image.clone(),
                d.name.clone(),
                d.server_type.clone(),
            );
            req.location = Some(d.location.clone());
            req.labels = Some(d.labels.clone());
            req.ssh_keys = Some(vec![ssh_key_id.to_string()]);
            req.firewalls = Some(vec![models::CreateServerRequestFirewalls {
                firewall: firewall.id,
            }]);
            req.start_after_create = Some(true);
            req.user_data = Some(user_data);
            let what = format!("creating server {}", d.name);
            let r = client
                .call(&what, move |cfg| {
                    let req = req.clone();
                    async move {
                        servers_api::create_server(
                            &cfg,
                            servers_api::CreateServerParams {
                                create_server_request: req,
                            },
                        )
                        .await
                    }
                })
                .await
                .map_err(|e| ctx.fail(e))?;
            ctx.wrote();
            client
                .await_action(&what, &r.action)
                .await
                .map_err(|e| ctx.fail(e))?;
            client
                .await_actions(&what, &r.next_actions)
                .await
                .map_err(|e| ctx.fail(e))?;
            (*r.server, true)
        }
    };
    let id = server.id;
    if !server
        .private_net
        .iter()
        .any(|p| p.network == Some(network.id))
    {
        ctx.step(Kind::Server, &d.name, "attach-network");
        let what = format!("attaching {} to the network", d.name);
        let req = models::AttachServerToNetworkRequest {
            alias_ips: None,
            ip: Some(d.private_ip.clone()),
            ip_range: None,
            network: network.id,
        };
        let r = client
            .call(&what, move |cfg| {
                let req = req.clone();
                async move {
                    servers_api::attach_server_to_network(
                        &cfg,
                        servers_api::AttachServerToNetworkParams {
                            id,
                            attach_server_to_network_request: req,
                        },
                    )
                    .await
                }
            })
            .await
            .map_err(|e| ctx.fail(e))?;
        ctx.wrote();
        client
            .await_action(&what, &r.action)
            .await
            .map_err(|e| ctx.fail(e))?;
        server.private_net.push(models::ServerPrivateNet {
            ip: Some(d.private_ip.clone()),
            network: Some(network.id),
            ..Default::default()
        });
        if !created {
            fixes.push(format!("attached to network at {}", d.private_ip));
        }
    }
    if !created {
        let applied = firewall
            .applied_to
            .iter()
            .any(|a| a.server.as_ref().map(|r| r.id) == Some(id));
        if !applied {
            ctx.step(Kind::Server, &d.name, "apply-firewall");
            let what = format!("applying the firewall to {}", d.name);
            let fw = firewall.id;
            let mut res = models::FirewallResource::new(models::firewall_resource::Type::Server);
            res.server = Some(Box::new(models::ResourceId::new(id)));
            let r = client
                .call(&what, move |cfg| {
                    let res = res.clone();
                    async move {
                        firewalls_api::apply_to_resources(
                            &cfg,
                            firewalls_api::ApplyToResourcesParams {
                                id: fw,
                                apply_to_resources_request: models::ApplyToResourcesRequest {
                                    apply_to: vec![res],
                                },
                            },
                        )
                        .await
                    }
                })
                .await
                .map_err(|e| ctx.fail(e))?;
            ctx.wrote();
            client
                .await_actions(&what, &r.actions)
                .await
                .map_err(|e| ctx.fail(e))?;
            fixes.push("firewall applied".into());
        }
        if !plan_labels_ok(&d.labels, Some(&server.labels)) {
            ctx.step(Kind::Server, &d.name, "labels");
            let what = format!("labelling {}", d.name);
            let l = merged(Some(&server.labels), &d.labels);
            client
                .call(&what, move |cfg| {
                    let l = l.clone();
                    async move {
                        servers_api::replace_server(
                            &cfg,
                            servers_api::ReplaceServerParams {
                                id,
                                replace_server_request: models::ReplaceServerRequest {
                                    labels: Some(l),
                                    name: None,
                                },
                            },
                        )
                        .await
                    }
                })
                .await
                .map_err(|e| ctx.fail(e))?;
            ctx.wrote();
            server.labels = merged(Some(&server.labels), &d.labels);
            fixes.push("labels".into());
        }
    }
    (ctx.emit)(ApplyEvent::StepDone {
        kind: Kind::Server,
        name: d.name.clone(),
        id,
    });
    Ok((server, fixes, created))
}
