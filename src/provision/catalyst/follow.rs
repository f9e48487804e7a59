//! Following a deployment to a terminal state (contract §2.3, §2.6): the SSE stream folded into a
//! `DeploymentFold`, reconnecting (full replay, de-duplicated) when it breaks, and falling back to
//! polling `/events` and `/components/state` when `done` arrives for a non-terminal status.

use std::time::Duration;

use super::client::CatalystClient;
use super::error::ClientError;
use super::fold::DeploymentFold;
use super::model::Event;
use super::sse::StreamItem;

/// What happened while following, for a front-end to render or print.
#[derive(Debug, Clone)]
pub enum FollowUpdate {
    /// A new (not replayed) event.
    Event(Event),
    /// A state arrived (from `done`, `/events` or GET).
    State,
    /// `/components/state` was polled.
    Components,
    /// The stream broke; reconnecting after `delay`.
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

/// Follow until the status is terminal; returns the fold. Every new event and state change is
/// reported to `on_update` with the fold as it is after applying it.
pub async fn follow(
    client: &CatalystClient,
    fold: &mut DeploymentFold,
    opts: &FollowOptions,
    mut on_update: impl FnMut(&FollowUpdate, &DeploymentFold),
) -> Result<(), ClientError> {
    let id = fold.id.clone();
    let mut failures = 0u32;
    let mut polling = false;
    loop {
        if polling {
            match poll_once(client, fold, &id, &mut on_update).await {
                Ok(()) => failures = 0,
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

        fold.begin_replay();
        let mut got_done = false;
        let result = client
            .stream_logs(&id, opts.stream_url.as_deref(), |item| match item {
                StreamItem::Event(ev) => {
                    if fold.apply(ev.clone()) {
                        on_update(&FollowUpdate::Event(ev), fold);
                    }
                }
                StreamItem::Done(state) => {
                    got_done = true;
                    fold.set_state(*state);
                    on_update(&FollowUpdate::State, fold);
                }
                StreamItem::Malformed { detail } => {
                    fold.note_malformed(detail.clone());
                    on_update(&FollowUpdate::Malformed(detail), fold);
                }
            })
            .await;
        match result {
            Ok(_) if got_done => {
                failures = 0;
                if fold.is_terminal() {
                    return Ok(());
                }
                polling = true;
                on_update(&FollowUpdate::Polling, fold);
            }
            Ok(_) => {
                failures += 1;
                on_update(
                    &FollowUpdate::Reconnecting {
                        attempt: failures,
                        reason: "stream ended without a done frame".into(),
                    },
                    fold,
                );
            }
            Err(e) => {
                failures += 1;
                if is_permanent(&e) || failures >= opts.max_failures {
                    return Err(e);
                }
                on_update(
                    &FollowUpdate::Reconnecting {
                        attempt: failures,
                        reason: e.to_string(),
                    },
                    fold,
                );
            }
        }
        if failures >= opts.max_failures {
            return Err(ClientError::Malformed {
                url: client.url(&format!("/api/v1/deployments/{id}/logs")),
                detail: format!("stream broke {failures} times in a row"),
            });
        }
        tokio::time::sleep(backoff(failures)).await;
    }
}

/// One stateless catch-up: `/events` (folded, de-duplicated), then `/components/state`.
pub async fn poll_once(
    client: &CatalystClient,
    fold: &mut DeploymentFold,
    id: &str,
    on_update: &mut impl FnMut(&FollowUpdate, &DeploymentFold),
) -> Result<(), ClientError> {
    let resp = client.events(id).await?;
    fold.begin_replay();
    for ev in resp.events {
        if fold.apply(ev.clone()) {
            on_update(&FollowUpdate::Event(ev), fold);
        }
    }
    let changed = fold.state.as_ref() != Some(&resp.state);
    fold.set_state(resp.state);
    if changed {
        on_update(&FollowUpdate::State, fold);
    }
    if !fold.is_terminal() {
        let comps = client.components_state(id).await?;
        let before = fold.components.clone();
        fold.set_components(&comps);
        if fold.components != before {
            on_update(&FollowUpdate::Components, fold);
        }
    }
    Ok(())
}

fn is_permanent(e: &ClientError) -> bool {
    matches!(e.status(), Some(400..=499)) || matches!(e, ClientError::BadUrl(_))
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis((100u64 << failures.min(6)).min(5_000))
}
