//! Phase-0 apply: create what is missing and fix what apply can fix, in dependency order
//! (network → firewall → SSH key → load balancer → servers → LB targets), awaiting every action.
//! Idempotent: a second run over the result plans no create and no update.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use hcloud::apis::configuration::Configuration;
use hcloud::apis::{
    Error as HcloudError, firewalls_api, load_balancers_api, networks_api, servers_api,
    ssh_keys_api,
};
use hcloud::models;
use serde::Serialize;
use tokio::time::Instant;

use super::client::{ClientStats, HetznerClient, HetznerError};
use super::cloudinit::RenderError;
use super::inventory::{Inventory, Kind};
use super::model::{DesiredServer, SovereignModel};
use super::plan::{self, Action, Phase0Plan, normalize_rules};
use crate::provision::journal::{Journal, JournalError, Op};

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
    /// No journal, no run: it could not be created (nothing was changed), or it stopped taking
    /// records (the apply stopped before its next write). The message says what to do.
    #[error("{0}")]
    Journal(String),
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
    journal: &'a std::sync::Mutex<Option<Journal>>,
    /// Set when the journal stopped taking records: no write to Hetzner follows.
    journal_failed: std::sync::Mutex<Option<String>>,
    touched: std::sync::atomic::AtomicUsize,
}

impl Ctx<'_> {
    /// Journal a record; a failure is kept so that the next write refuses (the step boundary).
    fn record(&self, record: impl FnOnce(&mut Journal) -> Result<(), JournalError>) -> bool {
        let result = match self.journal.lock() {
            Ok(mut j) => j.as_mut().map_or(Ok(()), record).map_err(|e| e.to_string()),
            Err(_) => Err("the journal is unusable after a panic".to_string()),
        };
        let Err(why) = result else { return true };
        if let Ok(mut failed) = self.journal_failed.lock() {
            failed.get_or_insert(why);
        }
        false
    }

    /// Err once the journal stopped taking records: the step boundary a run stops at.
    fn journal_ok(&self) -> Result<(), ApplyError> {
        match self.journal_failed.lock().as_deref() {
            Ok(None) => Ok(()),
            Ok(Some(why)) => Err(ApplyError::Journal(why.clone())),
            Err(_) => Err(ApplyError::Journal(
                "the journal is unusable after a panic".into(),
            )),
        }
    }

    fn step(&self, kind: Kind, name: &str, action: &str) {
        let step = format!("{action} {} {name}", kind.singular());
        if !self.record(|j| j.started(&step)) {
            return;
        }
        (self.emit)(ApplyEvent::Step {
            kind,
            name: name.to_string(),
            action: action.to_string(),
        });
    }

    fn done(&self, kind: Kind, name: &str, id: i64) {
        let step = format!("{} {name}", kind.singular());
        self.record(|j| j.done(&step, serde_json::json!({"id": id})));
        (self.emit)(ApplyEvent::StepDone {
            kind,
            name: name.to_string(),
            id,
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

    /// One write to Hetzner, named by `what` in errors. The client retries, so `send` gets a
    /// fresh copy of `body` on every attempt; only a success counts as touched.
    async fn write<B, T, E, F, Fut>(&self, what: &str, body: B, send: F) -> Result<T, ApplyError>
    where
        B: Clone,
        F: Fn(Arc<Configuration>, B) -> Fut,
        Fut: Future<Output = Result<T, HcloudError<E>>>,
    {
        self.journal_ok()?;
        let r = self
            .client
            .call(what, |cfg| send(cfg, body.clone()))
            .await
            .map_err(|e| self.fail(e))?;
        self.wrote();
        Ok(r)
    }

    async fn await_action(&self, what: &str, action: &models::Action) -> Result<(), ApplyError> {
        self.client
            .await_action(what, action)
            .await
            .map_err(|e| self.fail(e))
    }

    async fn await_actions(
        &self,
        what: &str,
        actions: &[models::Action],
    ) -> Result<(), ApplyError> {
        self.client
            .await_actions(what, actions)
            .await
            .map_err(|e| self.fail(e))
    }

    /// Bring one object's labels up to the model's. When a desired label is missing or differs:
    /// journal the `labels` step, merge the desired labels over the object's (others' labels
    /// stay) and write the result with the kind's replace call. Returns the labels written, or
    /// None when nothing needed changing.
    async fn relabel<O: Relabel>(
        &self,
        object: &O,
        what: &str,
        desired: &Labels,
    ) -> Result<Option<Labels>, ApplyError> {
        if plan::label_changes(desired, object.labels()).is_empty() {
            return Ok(None);
        }
        self.step(O::KIND, object.name(), "labels");
        let l = merged(object.labels(), desired);
        let id = object.id();
        self.write(what, l.clone(), move |cfg, l| O::replace_labels(cfg, id, l))
            .await?;
        Ok(Some(l))
    }
}

type Labels = HashMap<String, String>;

/// An hcloud object apply relabels. The generated API gives every kind its own replace call,
/// params and request type, with no trait in common: `relabel_through!` supplies one per kind.
trait Relabel {
    const KIND: Kind;
    type Error;
    fn id(&self) -> i64;
    fn name(&self) -> &str;
    fn labels(&self) -> Option<&Labels>;
    /// The kind's replace call with only the labels set.
    fn replace_labels(
        cfg: Arc<Configuration>,
        id: i64,
        labels: Labels,
    ) -> impl Future<Output = Result<(), HcloudError<Self::Error>>> + Send;
}

/// `impl Relabel` for one hcloud model, from the names of its replace call, params, request and
/// error types.
macro_rules! relabel_through {
    ($kind:ident, labels: |$o:ident| $labels:expr,
     $api:ident::$call:ident($params:ident { $field:ident: $request:ident }) -> $error:ident) => {
        impl Relabel for models::$kind {
            const KIND: Kind = Kind::$kind;
            type Error = $api::$error;
            fn id(&self) -> i64 {
                self.id
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn labels(&self) -> Option<&Labels> {
                let $o = self;
                $labels
            }
            async fn replace_labels(
                cfg: Arc<Configuration>,
                id: i64,
                labels: Labels,
            ) -> Result<(), HcloudError<Self::Error>> {
                let $field = models::$request {
                    labels: Some(labels),
                    ..Default::default()
                };
                $api::$call(&cfg, $api::$params { id, $field })
                    .await
                    .map(drop)
            }
        }
    };
}

relabel_through!(Network, labels: |o| Some(&o.labels),
    networks_api::replace_network(ReplaceNetworkParams {
        replace_network_request: ReplaceNetworkRequest
    }) -> ReplaceNetworkError);
relabel_through!(Firewall, labels: |o| o.labels.as_ref(),
    firewalls_api::replace_firewall(ReplaceFirewallParams {
        replace_firewall_request: ReplaceFirewallRequest
    }) -> ReplaceFirewallError);
relabel_through!(SshKey, labels: |o| Some(&o.labels),
    ssh_keys_api::replace_ssh_key(ReplaceSshKeyParams {
        replace_ssh_key_request: ReplaceSshKeyRequest
    }) -> ReplaceSshKeyError);
relabel_through!(LoadBalancer, labels: |o| Some(&o.labels),
    load_balancers_api::replace_load_balancer(ReplaceLoadBalancerParams {
        replace_load_balancer_request: ReplaceLoadBalancerRequest
    }) -> ReplaceLoadBalancerError);
relabel_through!(Server, labels: |o| Some(&o.labels),
    servers_api::replace_server(ReplaceServerParams {
        replace_server_request: ReplaceServerRequest
    }) -> ReplaceServerError);

/// The object a create answer must carry: without it the answer is malformed.
fn carried<T>(object: Option<Box<T>>, what: &str, noun: &str) -> Result<T, ApplyError> {
    object.map(|b| *b).ok_or_else(|| {
        ApplyError::Hetzner(HetznerError::Decode {
            what: what.into(),
            message: format!("answer carries no {noun}"),
        })
    })
}

fn labels(map: &Labels) -> Option<Labels> {
    Some(map.clone())
}

/// Merge desired labels into existing ones (others' labels are kept).
fn merged(actual: Option<&Labels>, desired: &Labels) -> Labels {
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

/// Apply the model. `journal_dir` = the journal root (`provision::journal::root`); the apply
/// refuses to start when its journal cannot be created there (None: no journal, library tests
/// only). Journaled: the plan, each step before its write, each object once it is ready, and a
/// final `finished` — `completed`, or `failed` with the error; only an apply whose process died or
/// whose journal stopped taking records lacks it (`provision::journal::unfinished`).
pub async fn apply(
    client: &HetznerClient,
    model: &SovereignModel,
    journal_dir: Option<PathBuf>,
    emit: &(dyn Fn(ApplyEvent) + Send + Sync),
) -> Result<ApplyReport, ApplyError> {
    let journal = match journal_dir {
        Some(d) => Some(
            Journal::create(&d, Op::Phase0Apply, &model.fqdn)
                .map_err(|e| ApplyError::Journal(e.to_string()))?,
        ),
        None => None,
    };
    let journal_path = journal.as_ref().map(|j| j.path().display().to_string());
    let journal = std::sync::Mutex::new(journal);
    let result = apply_steps(client, model, &journal, emit).await;
    let mut journal = journal.into_inner().ok().flatten();
    let ended = match (&result, journal.as_mut()) {
        // The run did not end; its journal must keep saying so.
        (Err(ApplyError::Journal(_)), _) | (_, None) => Ok(()),
        (Ok(r), Some(j)) => j.finish(
            "completed",
            serde_json::json!({"created": &r.created, "updated": &r.updated}),
        ),
        (Err(e), Some(j)) => j.finish("failed", serde_json::json!({"error": e.to_string()})),
    };
    ended.map_err(|e| ApplyError::Journal(e.to_string()))?;
    result.map(|r| ApplyReport {
        journal: journal_path,
        ..r
    })
}

/// The steps of [`apply`].
async fn apply_steps(
    client: &HetznerClient,
    model: &SovereignModel,
    journal: &std::sync::Mutex<Option<Journal>>,
    emit: &(dyn Fn(ApplyEvent) + Send + Sync),
) -> Result<ApplyReport, ApplyError> {
    let started = Instant::now();
    let ctx = Ctx {
        client,
        emit,
        journal,
        journal_failed: Default::default(),
        touched: Default::default(),
    };
    let inv = Inventory::fetch(client).await.map_err(|e| ctx.fail(e))?;
    let the_plan = plan::diff(model, &inv);
    ctx.record(|j| j.planned(&the_plan));
    ctx.journal_ok()?;
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
                let params = networks_api::AddSubnetToNetworkParams { id: n.id, subnet };
                let r = ctx
                    .write("adding the subnet", params, |cfg, p| async move {
                        networks_api::add_subnet_to_network(&cfg, p).await
                    })
                    .await?;
                ctx.await_action("adding the subnet", &r.action).await?;
                updated.push(format!("networks/{}: subnet {}", d.name, d.subnet_range));
            }
            let relabelled = ctx.relabel(&n, "labelling the network", &d.labels).await?;
            if let Some(l) = relabelled {
                n.labels = l;
                updated.push(format!("networks/{}: labels", d.name));
            }
            n
        }
        None => {
            ctx.step(Kind::Network, &d.name, "create");
            let mut subnet =
                models::Subnet::new(d.network_zone.clone(), models::subnet::Type::Cloud);
            subnet.ip_range = Some(d.subnet_range.clone());
            let params = networks_api::CreateNetworkParams {
                create_network_request: models::CreateNetworkRequest {
                    ip_range: d.ip_range.clone(),
                    labels: labels(&d.labels),
                    name: d.name.clone(),
                    subnets: Some(vec![subnet]),
                    ..Default::default()
                },
            };
            let r = ctx
                .write("creating the network", params, |cfg, p| async move {
                    networks_api::create_network(&cfg, p).await
                })
                .await?;
            let n = carried(r.network, "creating the network", "network")?;
            created.push(format!("networks/{}", d.name));
            n
        }
    };
    ctx.done(Kind::Network, &d.name, network.id);

    // 2. Firewall
    let d = &model.firewall;
    let firewall = match inv.firewalls.iter().find(|f| f.name == d.name) {
        Some(f) => {
            if plan::actual_rules(f) != normalize_rules(&d.rules) {
                ctx.step(Kind::Firewall, &d.name, "set-rules");
                let params = firewalls_api::SetRulesParams {
                    id: f.id,
                    set_rules_request: models::SetRulesRequest {
                        rules: hc_rules(model),
                    },
                };
                let r = ctx
                    .write("setting firewall rules", params, |cfg, p| async move {
                        firewalls_api::set_rules(&cfg, p).await
                    })
                    .await?;
                ctx.await_actions("setting firewall rules", &r.actions)
                    .await?;
                updated.push(format!("firewalls/{}: rules", d.name));
            }
            let relabelled = ctx.relabel(f, "labelling the firewall", &d.labels).await?;
            if relabelled.is_some() {
                updated.push(format!("firewalls/{}: labels", d.name));
            }
            f.clone()
        }
        None => {
            ctx.step(Kind::Firewall, &d.name, "create");
            let params = firewalls_api::CreateFirewallParams {
                create_firewall_request: models::CreateFirewallRequest {
                    apply_to: None,
                    labels: labels(&d.labels),
                    name: d.name.clone(),
                    rules: Some(hc_rules(model)),
                },
            };
            let r = ctx
                .write("creating the firewall", params, |cfg, p| async move {
                    firewalls_api::create_firewall(&cfg, p).await
                })
                .await?;
            if let Some(actions) = &r.actions {
                ctx.await_actions("creating the firewall", actions).await?;
            }
            created.push(format!("firewalls/{}", d.name));
            carried(r.firewall, "creating the firewall", "firewall")?
        }
    };
    ctx.done(Kind::Firewall, &d.name, firewall.id);

    // 3. SSH key
    let d = &model.ssh_key;
    let ssh_key_id = match inv.ssh_keys.iter().find(|k| k.name == d.name) {
        Some(k) => {
            let relabelled = ctx.relabel(k, "labelling the SSH key", &d.labels).await?;
            if relabelled.is_some() {
                updated.push(format!("ssh_keys/{}: labels", d.name));
            }
            k.id
        }
        None => {
            ctx.step(Kind::SshKey, &d.name, "create");
            let params = ssh_keys_api::CreateSshKeyParams {
                create_ssh_key_request: models::CreateSshKeyRequest {
                    labels: labels(&d.labels),
                    name: d.name.clone(),
                    public_key: d.public_key.clone(),
                },
            };
            let r = ctx
                .write("creating the SSH key", params, |cfg, p| async move {
                    ssh_keys_api::create_ssh_key(&cfg, p).await
                })
                .await?;
            created.push(format!("ssh_keys/{}", d.name));
            r.ssh_key.id
        }
    };
    ctx.done(Kind::SshKey, &d.name, ssh_key_id);

    // 4. Load balancer (before the servers: their user data carries its IP)
    let d = &model.load_balancer;
    let lb_created = !inv.load_balancers.iter().any(|l| l.name == d.name);
    let lb = match inv.load_balancers.iter().find(|l| l.name == d.name) {
        Some(l) => {
            for s in &d.services {
                if l.services.iter().any(|x| x.listen_port == s.listen_port) {
                    continue;
                }
                ctx.step(
                    Kind::LoadBalancer,
                    &d.name,
                    &format!("add-service-{}", s.listen_port),
                );
                let params = load_balancers_api::AddServiceParams {
                    id: l.id,
                    load_balancer_service: lb_service(s),
                };
                let r = ctx
                    .write(
                        "adding a load balancer service",
                        params,
                        |cfg, p| async move { load_balancers_api::add_service(&cfg, p).await },
                    )
                    .await?;
                ctx.await_action("adding a service", &r.action).await?;
                updated.push(format!(
                    "load_balancers/{}: service {}",
                    d.name, s.listen_port
                ));
            }
            let relabelled = ctx
                .relabel(l, "labelling the load balancer", &d.labels)
                .await?;
            if relabelled.is_some() {
                updated.push(format!("load_balancers/{}: labels", d.name));
            }
            l.clone()
        }
        None => {
            ctx.step(Kind::LoadBalancer, &d.name, "create");
            let params = load_balancers_api::CreateLoadBalancerParams {
                create_load_balancer_request: models::CreateLoadBalancerRequest {
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
                },
            };
            let r = ctx
                .write("creating the load balancer", params, |cfg, p| async move {
                    load_balancers_api::create_load_balancer(&cfg, p).await
                })
                .await?;
            ctx.await_action("creating the load balancer", &r.action)
                .await?;
            created.push(format!("load_balancers/{}", d.name));
            *r.load_balancer
        }
    };
    if !lb.private_net.iter().any(|p| p.network == Some(network.id)) {
        ctx.step(Kind::LoadBalancer, &d.name, "attach-network");
        let params = load_balancers_api::AttachLoadBalancerToNetworkParams {
            id: lb.id,
            attach_load_balancer_to_network_request: models::AttachLoadBalancerToNetworkRequest {
                ip: Some(LB_PRIVATE_IP.to_string()),
                ip_range: None,
                network: network.id,
            },
        };
        let what = "attaching the load balancer to the network";
        let r = ctx
            .write(what, params, |cfg, p| async move {
                load_balancers_api::attach_load_balancer_to_network(&cfg, p).await
            })
            .await?;
        ctx.await_action("attaching the load balancer", &r.action)
            .await?;
        if !lb_created {
            updated.push(format!("load_balancers/{}: network", d.name));
        }
    }
    let lb_ip = lb.public_net.ipv4.ip.clone().flatten();
    ctx.done(Kind::LoadBalancer, &d.name, lb.id);

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
        let mut target =
            models::LoadBalancerAddTarget::new(models::load_balancer_add_target::Type::Server);
        target.server = Some(Box::new(models::ResourceId::new(sid)));
        target.use_private_ip = Some(d.use_private_ip);
        let params = load_balancers_api::AddTargetParams {
            id: lb.id,
            load_balancer_add_target: target,
        };
        let r = ctx
            .write(
                "adding a load balancer target",
                params,
                |cfg, p| async move { load_balancers_api::add_target(&cfg, p).await },
            )
            .await?;
        ctx.await_action("adding a target", &r.action).await?;
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
    Ok(ApplyReport {
        fqdn: model.fqdn.clone(),
        plan: the_plan,
        created,
        updated,
        not_fixable,
        orphans,
        load_balancer_ip: lb_ip,
        control_plane_ip,
        journal: None,
        stats: client.stats(),
        elapsed_ms: started.elapsed().as_millis(),
    })
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
            let params = servers_api::CreateServerParams {
                create_server_request: req,
            };
            let r = ctx
                .write(&what, params, |cfg, p| async move {
                    servers_api::create_server(&cfg, p).await
                })
                .await?;
            ctx.await_action(&what, &r.action).await?;
            ctx.await_actions(&what, &r.next_actions).await?;
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
        let params = servers_api::AttachServerToNetworkParams {
            id,
            attach_server_to_network_request: models::AttachServerToNetworkRequest {
                alias_ips: None,
                ip: Some(d.private_ip.clone()),
                ip_range: None,
                network: network.id,
            },
        };
        let r = ctx
            .write(&what, params, |cfg, p| async move {
                servers_api::attach_server_to_network(&cfg, p).await
            })
            .await?;
        ctx.await_action(&what, &r.action).await?;
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
            let mut res = models::FirewallResource::new(models::firewall_resource::Type::Server);
            res.server = Some(Box::new(models::ResourceId::new(id)));
            let params = firewalls_api::ApplyToResourcesParams {
                id: firewall.id,
                apply_to_resources_request: models::ApplyToResourcesRequest {
                    apply_to: vec![res],
                },
            };
            let r = ctx
                .write(&what, params, |cfg, p| async move {
                    firewalls_api::apply_to_resources(&cfg, p).await
                })
                .await?;
            ctx.await_actions(&what, &r.actions).await?;
            fixes.push("firewall applied".into());
        }
        let relabelled = ctx
            .relabel(&server, &format!("labelling {}", d.name), &d.labels)
            .await?;
        if let Some(l) = relabelled {
            server.labels = l;
            fixes.push("labels".into());
        }
    }
    ctx.done(Kind::Server, &d.name, id);
    Ok((server, fixes, created))
}
