//! How a destructive pane runs a library call: on a thread of its own with a current-thread
//! runtime (the library's futures need not be `Send`, and a token command may block), its
//! progress events carried to the cockpit in order.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::msg::Msg;

/// Run `work` on a thread `sovtui-<what>` with a runtime of its own; its answer, awaited here.
pub async fn on_own_thread<T, F, Fut>(what: &'static str, work: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, String>>,
{
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("sovtui-{what}"))
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("{what} runtime: {e}"))
                .and_then(|rt| rt.block_on(work()));
            let _ = done_tx.send(result);
        });
    match spawned {
        Ok(_) => done_rx
            .await
            .unwrap_or_else(|_| Err(format!("the {what} thread stopped"))),
        Err(e) => Err(format!("cannot start the {what} thread: {e}")),
    }
}

/// The library's synchronous progress callback, feeding the cockpit.
pub struct Progress<E> {
    tx: mpsc::Sender<E>,
    dropped: AtomicUsize,
    what: &'static str,
}

/// A channel of `room` events from a run to the cockpit, and the task that forwards them as
/// `wrap` makes them into messages, in order (await it before the run's final message, so that
/// one comes last). Bounded: a run reports a few events per object, far fewer than `room`;
/// should the cockpit fall that far behind, an event is dropped and counted in the log rather
/// than the run waiting on the screen — the journal and the final report are the record.
pub fn progress<E: Send + 'static>(
    what: &'static str,
    room: usize,
    to: mpsc::Sender<Msg>,
    wrap: impl Fn(E) -> Msg + Send + 'static,
) -> (Progress<E>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel(room);
    let forward = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if to.send(wrap(event)).await.is_err() {
                break;
            }
        }
    });
    let progress = Progress {
        tx,
        dropped: AtomicUsize::new(0),
        what,
    };
    (progress, forward)
}

impl<E> Progress<E> {
    pub fn emit(&self, event: E) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(event) {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                dropped = n,
                "{} progress event dropped: the cockpit is behind",
                self.what
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_arrive_in_order_and_overflow_is_dropped_not_waited_for() {
        let (to, mut rx) = mpsc::channel(64);
        let (progress, forward) = progress("test", 2, to, |n: usize| Msg::WorldSpeed(n as f64));
        // The forwarder has not run yet: two fit, the rest are dropped without blocking.
        for n in 0..5 {
            progress.emit(n);
        }
        drop(progress);
        forward.await.expect("forward");
        let mut got = Vec::new();
        while let Ok(Msg::WorldSpeed(n)) = rx.try_recv() {
            got.push(n);
        }
        assert_eq!(got, [0.0, 1.0]);
    }

    #[tokio::test]
    async fn work_runs_on_its_own_thread_and_its_answer_comes_back() {
        let here = std::thread::current().id();
        let answer = on_own_thread("test", move || async move {
            Ok(std::thread::current().id() != here)
        })
        .await;
        assert_eq!(answer, Ok(true));
        let failed: Result<(), String> =
            on_own_thread("test", || async { Err("no".to_string()) }).await;
        assert_eq!(failed, Err("no".into()));
    }
}
