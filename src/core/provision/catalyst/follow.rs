//! Following a deployment to a terminal state (contract §2.3, §2.6): the SSE stream folded into a
//! `DeploymentFold`, reconnecting (full replay, de-duplicated) when it breaks, and falling back to
//! polling `/events` and `/components/state` when `done` arrives for a non-terminal status.

use std::time::Duration;

use tokio::sync::mpsc;

use super::client::CatalystClient;
use super::error::ClientError;
use super::fold::{ComponentProgress, DeploymentFold};
use super::model::{DeploymentState, Event};
use super::sse::StreamItem;

/// What happened while following, for a front-end to render or print.
#[derive(Debug, Clone)]
pub enum FollowUpdate {
    /// A new (not replayed) event.
    Event(Event),
    /// A new state arrived (from `done`, `/events` or GET).
    State,
    /// `/components/state` changed what the fold knows.
    Components,
    /// The stream broke; reconnecting.
    Reconnecting {
        attempt: u32,
        reason: String,
    },
    /// `done` arrived with a non-terminal status: polling from now on.
    Polling,
    Malformed(String),
}

#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Interval between `/events` polls once the stream said `done` without a terminal status.
    pub poll_interval: Duration,
    /// Consecutive failed connections before giving up.
    pub max_failures: u32,
    pub stream_url: Option<String>,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll_interval: Duration::from_secs(2),
            max_failures: 20,
            stream_url: None,
        }
    }
}

/// Where `follow_async` reports: every new event and state change, with the fold as it is after
/// applying it. Returning `false` stops following.
pub trait FollowSink: Send {
    fn update(
        &mut self,
        update: &FollowUpdate,
        fold: &DeploymentFold,
    ) -> impl std::future::Future<Output = bool> + Send;
}

struct SyncSink<F>(F);

impl<F: FnMut(&FollowUpdate, &DeploymentFold) + Send> FollowSink for SyncSink<F> {
    async fn update(&mut self, update: &FollowUpdate, fold: &DeploymentFold) -> bool {
        (self.0)(update, fold);
        true
    }
}

/// Follow until the status is terminal, reporting to a synchronous callback.
pub async fn follow(
    client: &CatalystClient,
    fold: &mut DeploymentFold,
    opts: &FollowOptions,
    on_update: impl FnMut(&FollowUpdate, &DeploymentFold) + Send,
) -> Result<(), ClientError> {
    follow_async(client, fold, opts, &mut SyncSink(on_update)).await
}

/// Follow until the status is terminal (or the sink says stop), reporting to an async sink.
pub async fn follow_async(
    client: &CatalystClient,
    fold: &mut DeploymentFold,
    opts: &FollowOptions,
    sink: &mut impl FollowSink,
) -> Result<(), ClientError> {
    let id = fold.id.clone();
    let mut failures = 0u32;
    let mut polling = false;
    loop {
        if polling {
            match poll_once(client, fold, &id, sink).await {
                Ok(true) => failures = 0,
                Ok(false) => return Ok(()),
                Err(e) => {
                    failures += 1;
                    if failures >= opts.max_failures || is_permanent(&e) {
                        return Err(e);
                    }
                }
            }
            if fold.is_terminal() {
                return Ok(());
            }
            tokio::time::sleep(opts.poll_interval).await;
            continue;
        }

        let reason = match client.open_stream(&id, opts.stream_url.as_deref()).await {
            Err(e) => {
                failures += 1;
                if is_permanent(&e) || failures >= opts.max_failures {
                    return Err(e);
                }
                e.to_string()
            }
            Ok(mut stream) => {
                fold.begin_replay();
                while let Some(item) = stream.next().await {
                    let update = match item {
                        StreamItem::Event(ev) => {
                            if !fold.apply(ev.clone()) {
                                continue;
                            }
                            FollowUpdate::Event(ev)
                        }
                        StreamItem::Done(state) => {
                            fold.set_state(*state);
                            FollowUpdate::State
                        }
                        StreamItem::Malformed { detail } => {
                            fold.note_malformed(detail.clone());
                            FollowUpdate::Malformed(detail)
                        }
                    };
                    if !sink.update(&update, fold).await {
                        return Ok(());
                    }
                }
                if stream.saw_done() {
                    failures = 0;
                    if fold.is_terminal() {
                        return Ok(());
                    }
                    polling = true;
                    if !sink.update(&FollowUpdate::Polling, fold).await {
                        return Ok(());
                    }
                    continue;
                }
                failures += 1;
                stream
                    .interrupted()
                    .map(|r| format!("stream interrupted: {r}"))
                    .unwrap_or_else(|| "stream ended without a done frame".into())
            }
        };
        if failures >= opts.max_failures {
            return Err(ClientError::Malformed {
                url: client.url(&format!("/api/v1/deployments/{id}/logs")),
                detail: format!("stream broke {failures} times in a row ({reason})"),
            });
        }
        let update = FollowUpdate::Reconnecting {
            attempt: failures,
            reason,
        };
        if !sink.update(&update, fold).await {
            return Ok(());
        }
        tokio::time::sleep(backoff(failures)).await;
    }
}

/// One stateless catch-up: `/events` (folded, de-duplicated), then `/components/state`.
/// Returns false when the callback asked to stop.
pub async fn poll_once(
    client: &CatalystClient,
    fold: &mut DeploymentFold,
    id: &str,
    sink: &mut impl FollowSink,
) -> Result<bool, ClientError> {
    let resp = client.events(id).await?;
    fold.begin_replay();
    for ev in resp.events {
        if fold.apply(ev.clone()) && !sink.update(&FollowUpdate::Event(ev), fold).await {
            return Ok(false);
        }
    }
    let changed = fold.state.as_ref() != Some(&resp.state);
    fold.set_state(resp.state);
    if changed && !sink.update(&FollowUpdate::State, fold).await {
        return Ok(false);
    }
    if !fold.is_terminal() {
        let comps = client.components_state(id).await?;
        let before = fold.components.clone();
        fold.set_components(&comps);
        if fold.components != before && !sink.update(&FollowUpdate::Components, fold).await {
            return Ok(false);
        }
    }
    Ok(true)
}

fn is_permanent(e: &ClientError) -> bool {
    matches!(e.status(), Some(400..=499)) || matches!(e, ClientError::BadUrl(_))
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis((100u64 << failures.min(6)).min(5_000))
}

/// A message of `spawn_follow`: everything a reducer needs to keep its own fold in step.
#[derive(Debug, Clone)]
pub enum FollowMsg {
    /// A new, already de-duplicated event: apply it to your fold.
    Event(Event),
    State(Box<DeploymentState>),
    Components(Vec<ComponentProgress>),
    Reconnecting {
        attempt: u32,
        reason: String,
    },
    Polling,
    Malformed(String),
    /// The follow ended: terminal state reached (Ok) or gave up (the error, as text).
    Ended(Result<(), String>),
}

struct ChannelSink(mpsc::Sender<FollowMsg>);

impl FollowSink for ChannelSink {
    async fn update(&mut self, u: &FollowUpdate, f: &DeploymentFold) -> bool {
        let msg = match u {
            FollowUpdate::Event(ev) => FollowMsg::Event(ev.clone()),
            FollowUpdate::State => match &f.state {
                Some(s) => FollowMsg::State(Box::new(s.clone())),
                None => return true,
            },
            FollowUpdate::Components => {
                FollowMsg::Components(f.components.values().cloned().collect())
            }
            FollowUpdate::Reconnecting { attempt, reason } => FollowMsg::Reconnecting {
                attempt: *attempt,
                reason: reason.clone(),
            },
            FollowUpdate::Polling => FollowMsg::Polling,
            FollowUpdate::Malformed(d) => FollowMsg::Malformed(d.clone()),
        };
        self.0.send(msg).await.is_ok()
    }
}

/// Follow in a task of its own and send messages on a bounded channel (back-pressure instead
/// of loss). Dropping the receiver ends the task at its next message.
pub fn spawn_follow(
    client: CatalystClient,
    id: String,
    opts: FollowOptions,
    tx: mpsc::Sender<FollowMsg>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut fold = DeploymentFold::new(&id);
        let mut sink = ChannelSink(tx.clone());
        let result = follow_async(&client, &mut fold, &opts, &mut sink).await;
        let _ = tx
            .send(FollowMsg::Ended(result.map_err(|e| e.to_string())))
            .await;
    })
}
