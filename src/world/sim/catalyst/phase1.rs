//! The Phase-1 watch (helmwatch, contract §3): kube-rs watches the new cluster's `bp-*`
//! HelmReleases in `flux-system`, derives each component's state from its Ready condition exactly
//! as catalyst does, emits an event per state change, warns once when nothing shows up within the
//! first-seen window, and ends at the termination gate of §3.2 or at the watch timeout.

use std::collections::{BTreeMap, BTreeSet};

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, LogParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Config};
use serde_json::Value;

use super::Ctx;
use super::helmwatch::{self, HrState, Ready, app_id};
use super::phase0::wait_for_kubeconfig;
use crate::provision::wire::{ComponentSnapshot, Event};

const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Wait for the kubeconfig, watch to the gate, then settle the deployment's final status.
pub(crate) async fn watch_and_finish(ctx: &Ctx, id: &str) {
    let outcome = match wait_for_kubeconfig(ctx, id).await {
        Err(e) => {
            ctx.emit(
                id,
                "component",
                "error",
                format!("Phase-1 watch could not start: {e}"),
            );
            "kubeconfig-missing".to_string()
        }
        Ok(kubeconfig) => {
            let generation = ctx
                .store
                .with(id, |d| {
                    d.watcher_generation += 1;
                    d.watcher_live = true;
                    d.watcher_generation
                })
                .unwrap_or(0);
            run_watch(ctx, id, &kubeconfig, generation).await
        }
    };
    if outcome != "superseded" {
        mark_phase1_done(ctx, id, &outcome).await;
    }
}

/// Start a fresh watcher for `refresh-watch`; its end only refreshes `componentStates`.
pub(crate) fn spawn_refresh(ctx: Ctx, id: String, kubeconfig: String) -> u64 {
    let generation = ctx
        .store
        .with(&id, |d| {
            d.watcher_generation += 1;
            d.watcher_live = true;
            d.watcher_generation
        })
        .unwrap_or(0);
    let ctx2 = ctx.clone();
    let id2 = id.clone();
    ctx2.spawn_for(&id2, async move {
        if run_watch(&ctx, &id, &kubeconfig, generation).await == "superseded" {
            return;
        }
        ctx.store.with(&id, |d| {
            let states: BTreeMap<String, String> = d
                .components
                .iter()
                .map(|(k, c)| (k.clone(), c.status.clone()))
                .collect();
            let mut r = d.result.clone().unwrap_or_default();
            r.component_states = Some(states);
            d.result = Some(r);
            d.notify();
        });
    });
    generation
}

async fn client_for(kubeconfig: &str) -> anyhow::Result<Client> {
    let kc = Kubeconfig::from_yaml(kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

fn helmrelease_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
        "helmreleases",
    )
}

fn depends_on(obj: &DynamicObject) -> Option<Vec<String>> {
    let deps = obj.data.pointer("/spec/dependsOn")?.as_array()?;
    let names: Vec<String> = deps
        .iter()
        .filter_map(|d| d.get("name").and_then(Value::as_str))
        .map(|n| app_id(n).to_string())
        .collect();
    (!names.is_empty()).then_some(names)
}

/// Go's `time.Duration.String()` for whole seconds: `15m0s`, `1h0m0s`, `45s`.
fn go_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Watch until the gate holds (`ready`/`failed`) or the watch times out (`timeout` /
/// `flux-not-reconciling`). Returns the outcome.
async fn run_watch(ctx: &Ctx, id: &str, kubeconfig: &str, generation: u64) -> String {
    let client = match client_for(kubeconfig).await {
        Ok(c) => c,
        Err(e) => {
            ctx.emit(
                id,
                "component",
                "error",
                format!("Phase-1 watch could not start: {e:#}"),
            );
            ctx.store.with(id, |d| d.watcher_live = false);
            return "watcher-start-failed".into();
        }
    };
    let _tailer = AbortOnDrop(tokio::spawn(tail_helm_controller(
        ctx.clone(),
        id.to_string(),
        client.clone(),
    )));
    let api: Api<DynamicObject> =
        Api::namespaced_with(client, "flux-system", &helmrelease_resource());
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let min = ctx.cfg.min_bootstrap_kit_hrs;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut states: BTreeMap<String, HrState> = BTreeMap::new();
    let first_seen = ctx.cfg.clock.sleep(ctx.cfg.first_seen_timeout);
    tokio::pin!(first_seen);
    let mut first_seen_done = false;
    let deadline = ctx.cfg.clock.sleep(ctx.cfg.watch_timeout);
    tokio::pin!(deadline);
    let Some(mut changes) = ctx.store.with(id, |d| d.changed.subscribe()) else {
        return "superseded".into();
    };
    let outcome = loop {
        tokio::select! {
            // A wipe or a refresh-watch bumps the generation: stop without touching the record.
            changed = changes.changed() => {
                if changed.is_err() || ctx.store.with(id, |d| d.watcher_generation) != Some(generation) {
                    return "superseded".into();
                }
            }
            _ = &mut deadline => {
                ctx.emit(id, "component", "warn",
                    "Phase-1 watch terminated by context: context deadline exceeded — see ComponentStates for current outcome");
                break if seen.is_empty() { "flux-not-reconciling" } else { "timeout" };
            }
            _ = &mut first_seen, if !first_seen_done => {
                first_seen_done = true;
                if seen.is_empty() {
                    ctx.emit(id, "component", "warn", format!(
                        "Phase 1 watch saw 0 HelmReleases in {}; the bootstrap-kit Kustomization may not be reconciling. Operator: run `flux get kustomization -n flux-system` on the new cluster.",
                        go_duration(ctx.cfg.first_seen_timeout)));
                }
            }
            item = stream.next() => {
                let Some(item) = item else { break "timeout" };
                if ctx.store.with(id, |d| d.watcher_generation) != Some(generation) {
                    return "superseded".into();
                }
                let obj = match item {
                    Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => o,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::debug!(deployment = %id, error = %e, "Phase-1 watch error; backing off");
                        continue;
                    }
                };
                let name = obj.metadata.name.clone().unwrap_or_default();
                if !name.starts_with("bp-") {
                    continue;
                }
                let ready = Ready::of(&obj.data);
                let state = if ctx.cfg.faults.components_installed_from_status {
                    HrState::Installed
                } else {
                    helmwatch::derive(ready.as_ref())
                };
                let comp = app_id(&name).to_string();
                let message = helmwatch::message(ready.as_ref(), state);
                let ready_time = ready.and_then(|r| r.last_transition_time)
                    .unwrap_or_else(|| GO_ZERO_TIME.into());
                seen.insert(name.clone());
                let changed = states.insert(comp.clone(), state) != Some(state);
                let snapshot = ComponentSnapshot {
                    app_id: comp.clone(),
                    status: state.wire().into(),
                    helm_release_name: name.clone(),
                    namespace: "flux-system".into(),
                    last_transition_at: ready_time,
                    message: message.clone(),
                    depends_on: depends_on(&obj),
                };
                ctx.store.with(id, |d| { d.components.insert(comp.clone(), snapshot); });
                if changed {
                    ctx.emit_event(id, Event {
                        time: ctx.now(),
                        phase: "component".into(),
                        level: state.level().into(),
                        message,
                        component: Some(comp),
                        state: Some(state.wire().into()),
                    });
                }
                let all_terminal = states.values().all(|s| s.ends_watch());
                if !seen.is_empty() && seen.len() >= min && all_terminal {
                    break if states.values().any(|s| *s == HrState::Failed) { "failed" } else { "ready" };
                }
            }
        }
    };
    ctx.store.with(id, |d| {
        if d.watcher_generation == generation {
            d.watcher_live = false;
        }
    });
    outcome.to_string()
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The `bp-*` HelmRelease a helm-controller line is about: `flux-system/bp-x` in the text, or a
/// JSON line whose `HelmRelease` object names one.
fn helmrelease_of(line: &str) -> Option<String> {
    if let Some(pos) = line.find("flux-system/bp-") {
        let rest = &line[pos + "flux-system/".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        return Some(name);
    }
    let v: Value = serde_json::from_str(line).ok()?;
    let hr = v.get("HelmRelease")?;
    let name = hr.get("name")?.as_str()?;
    let ns = hr
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("flux-system");
    (name.starts_with("bp-") && ns == "flux-system").then(|| name.to_string())
}

fn log_level(line: &str) -> &'static str {
    let l = line.to_ascii_lowercase();
    if l.contains("level=error") || l.contains("\"level\":\"error\"") {
        "error"
    } else if l.contains("level=warn") || l.contains("\"level\":\"warn") {
        "warn"
    } else {
        "info"
    }
}

/// The log tailer of contract §3.3: follow the first Running `app=helm-controller` pod in
/// `flux-system` from now on and turn lines about `bp-*` releases into `component-log` events.
/// Retries every 5 s without a pod and 2 s after a broken stream (simulated time).
async fn tail_helm_controller(ctx: Ctx, id: String, client: Client) {
    let pods: Api<Pod> = Api::namespaced(client, "flux-system");
    let pause = |secs: u64| {
        let ctx = ctx.clone();
        async move {
            // At most once a second in real time, whatever the speed: idle worlds stay idle.
            tokio::join!(
                ctx.sleep(std::time::Duration::from_secs(secs)),
                tokio::time::sleep(std::time::Duration::from_secs(1))
            );
        }
    };
    loop {
        let listed = pods
            .list(&ListParams::default().labels("app=helm-controller"))
            .await;
        if let Err(e) = &listed {
            tracing::debug!(deployment = %id, error = %e, "helm-controller pods not listable");
        }
        let running = listed.ok().and_then(|l| {
            l.items.into_iter().find_map(|p| {
                let phase = p.status.as_ref()?.phase.as_deref()?;
                (phase == "Running")
                    .then(|| p.metadata.name.clone())
                    .flatten()
            })
        });
        let Some(pod) = running else {
            pause(5).await;
            continue;
        };
        let params = LogParams {
            follow: true,
            tail_lines: Some(0),
            ..Default::default()
        };
        let opened = pods.log_stream(&pod, &params).await;
        if let Err(e) = &opened {
            tracing::debug!(deployment = %id, %pod, error = %e, "helm-controller log not readable");
        }
        if let Ok(stream) = opened {
            let mut lines = stream.lines();
            while let Some(line) = lines.next().await {
                let Ok(line) = line else { break };
                let Some(hr) = helmrelease_of(&line) else {
                    continue;
                };
                ctx.emit_event(
                    &id,
                    Event {
                        time: ctx.now(),
                        phase: "component-log".into(),
                        level: log_level(&line).into(),
                        message: line.clone(),
                        component: Some(app_id(&hr).to_string()),
                        state: None,
                    },
                );
            }
        }
        pause(2).await;
    }
}

/// `markPhase1Done` of [M] (contract §2.6), with [N]'s kubeconfig-missing/watcher failures as failed.
pub(crate) async fn mark_phase1_done(ctx: &Ctx, id: &str, outcome: &str) {
    let now = ctx.now();
    ctx.store.with(id, |d| {
        if d.status == "wiping" || d.status == "wiped" {
            return;
        }
        let states: BTreeMap<String, String> = d
            .components
            .iter()
            .map(|(k, c)| (k.clone(), c.status.clone()))
            .collect();
        let failed: Vec<&String> = states
            .iter()
            .filter(|(_, s)| s.as_str() == "failed")
            .map(|(k, _)| k)
            .collect();
        let (status, error) = match outcome {
            "flux-not-reconciling" => (
                "failed",
                Some("Phase 1 saw no HelmReleases before the watch timeout: Flux on the new Sovereign is not reconciling — check `flux get kustomization -n flux-system`".to_string()),
            ),
            "kubeconfig-missing" | "watcher-start-failed" => (
                "failed",
                Some(format!("Phase 1 could not start ({outcome}): the new cluster's kubeconfig never became usable")),
            ),
            _ if !failed.is_empty() => (
                "failed",
                Some(format!(
                    "Phase 1 finished with {} failed component(s): {}",
                    failed.len(),
                    failed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )),
            ),
            _ => ("ready", None),
        };
        let mut r = d.result.clone().unwrap_or_default();
        if !states.is_empty() {
            r.component_states = Some(states);
        }
        r.phase1_finished_at = Some(now.clone());
        r.phase1_outcome = Some(outcome.to_string());
        d.result = Some(r);
        d.status = status.into();
        d.error = error;
        d.finished_at = Some(now.clone());
        d.done = true;
        d.notify();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_controller_lines_are_attributed() {
        assert_eq!(
            helmrelease_of(r#"{"level":"error","msg":"x","HelmRelease":{"name":"bp-cilium","namespace":"flux-system"}}"#).as_deref(),
            Some("bp-cilium")
        );
        assert_eq!(
            helmrelease_of("level=info msg=\"reconciling flux-system/bp-cert-manager\"").as_deref(),
            Some("bp-cert-manager")
        );
        assert_eq!(
            helmrelease_of(r#"{"HelmRelease":{"name":"other","namespace":"flux-system"}}"#),
            None
        );
        assert_eq!(log_level(r#"{"level":"error"}"#), "error");
        assert_eq!(log_level("level=warn x"), "warn");
        assert_eq!(go_duration(std::time::Duration::from_secs(900)), "15m0s");
        assert_eq!(go_duration(std::time::Duration::from_secs(3600)), "1h0m0s");
    }
}
