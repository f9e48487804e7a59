//! Reads made only while a view needs them (HelmRelease detail: its Events; controller Pods):
//! one-shot lists, never watches, so an idle fleet costs nothing for them.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Client;
use kube::api::{Api, ListParams};
use serde::{Deserialize, Serialize};

use super::actions::ObjectRef;

/// How many Events of one object a view keeps (newest first).
pub const EVENTS_KEPT: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    /// `Normal` or `Warning`.
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
    pub last_seen: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodView {
    pub name: String,
    pub namespace: String,
    pub phase: String,
    /// Ready containers / all containers.
    pub ready: String,
    pub restarts: i32,
    pub node: Option<String>,
}

fn to_chrono(t: &k8s_openapi::jiff::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32)
}

fn event_time(e: &Event) -> Option<DateTime<Utc>> {
    e.last_timestamp
        .as_ref()
        .map(|t| &t.0)
        .or_else(|| e.event_time.as_ref().map(|t| &t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| &t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| &t.0))
        .and_then(to_chrono)
}

/// Events about one Flux object, newest first. Filtering happens here rather than with an
/// `involvedObject` field selector, which not every apiserver (or simulator) supports.
pub async fn object_events(client: Client, target: &ObjectRef) -> kube::Result<Vec<EventView>> {
    let api: Api<Event> = Api::namespaced(client, &target.namespace);
    let list = api.list(&ListParams::default()).await?;
    let mut out: Vec<(Option<DateTime<Utc>>, EventView)> = list
        .items
        .iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(target.name.as_str())
                && e.involved_object
                    .kind
                    .as_deref()
                    .is_none_or(|k| k == target.kind.as_str())
        })
        .map(|e| {
            let t = event_time(e);
            (
                t,
                EventView {
                    type_: e.type_.clone().unwrap_or_default(),
                    reason: e.reason.clone().unwrap_or_default(),
                    message: e.message.clone().unwrap_or_default(),
                    count: e.count.unwrap_or(1),
                    last_seen: t,
                },
            )
        })
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.0));
    out.truncate(EVENTS_KEPT);
    Ok(out.into_iter().map(|(_, e)| e).collect())
}

/// Pods of a namespace (optionally by label selector), e.g. `app=helm-controller` in flux-system.
pub async fn pods(
    client: Client,
    namespace: &str,
    label_selector: Option<&str>,
) -> kube::Result<Vec<PodView>> {
    let api: Api<Pod> = Api::namespaced(client, namespace);
    let mut lp = ListParams::default();
    if let Some(sel) = label_selector {
        lp = lp.labels(sel);
    }
    let list = api.list(&lp).await?;
    Ok(list
        .items
        .iter()
        .map(|p| {
            let statuses = p
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.clone())
                .unwrap_or_default();
            let total = p.spec.as_ref().map(|s| s.containers.len()).unwrap_or(0);
            PodView {
                name: p.metadata.name.clone().unwrap_or_default(),
                namespace: p.metadata.namespace.clone().unwrap_or_default(),
                phase: p
                    .status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_default(),
                ready: format!(
                    "{}/{}",
                    statuses.iter().filter(|c| c.ready).count(),
                    total.max(statuses.len())
                ),
                restarts: statuses.iter().map(|c| c.restart_count).sum(),
                node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
            }
        })
        .collect())
}
