//! Simulated time. Every duration in the simulated world (reconcile steps, the Phase-0 timeline,
//! PDM reservation TTLs, linger windows) runs on this clock: real time scaled by `speed`, plus
//! whatever the control API has skipped ahead with `advance`, minus the real time it spent paused
//! (`pause`: a presenter freezing the demo's world). Tests advance time instead of sleeping.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug)]
struct Inner {
    speed: f64,
    real_start: Instant,
    wall_start: DateTime<Utc>,
    /// Simulated time skipped by `advance`.
    skipped: Duration,
    /// Real time spent paused, in earlier pauses.
    paused_for: Duration,
    /// Since when the clock stands still, if it does.
    paused_at: Option<Instant>,
}

impl Inner {
    /// Real time the clock has run (started, minus the pauses).
    fn running(&self) -> Duration {
        let now = self.paused_at.unwrap_or_else(Instant::now);
        now.duration_since(self.real_start)
            .saturating_sub(self.paused_for)
    }

    fn elapsed(&self) -> Duration {
        self.running().mul_f64(self.speed) + self.skipped
    }
}

/// A cheap-to-clone handle on the world's clock.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<Mutex<Inner>>,
    advanced: Arc<Notify>,
}

impl SimClock {
    /// `speed` = simulated seconds per real second (60 → a minute passes in a second).
    pub fn new(speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        SimClock {
            inner: Arc::new(Mutex::new(Inner {
                speed,
                real_start: Instant::now(),
                wall_start: Utc::now(),
                skipped: Duration::ZERO,
                paused_for: Duration::ZERO,
                paused_at: None,
            })),
            advanced: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned clock only means a panicking test thread; the data is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn speed(&self) -> f64 {
        self.lock().speed
    }

    /// Simulated time elapsed since the world started.
    pub fn elapsed(&self) -> Duration {
        self.lock().elapsed()
    }

    /// Simulated wall-clock time, for timestamps in objects and events.
    pub fn now(&self) -> DateTime<Utc> {
        let (start, elapsed) = {
            let inner = self.lock();
            (inner.wall_start, inner.elapsed())
        };
        start + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::zero())
    }

    /// Stop (`true`) or restart (`false`) simulated time: while paused, `elapsed` and `now` stand
    /// still and every `sleep` waits, so timelines, actions and TTLs freeze where they are.
    /// `advance` still skips ahead. Returns whether it changed anything.
    pub fn set_paused(&self, paused: bool) -> bool {
        let changed = {
            let mut inner = self.lock();
            match (inner.paused_at, paused) {
                (None, true) => {
                    inner.paused_at = Some(Instant::now());
                    true
                }
                (Some(since), false) => {
                    inner.paused_for += since.elapsed();
                    inner.paused_at = None;
                    true
                }
                _ => false,
            }
        };
        if changed {
            // Sleepers re-check: on pause they wait, on resume their deadlines count again.
            self.advanced.notify_waiters();
        }
        changed
    }

    pub fn is_paused(&self) -> bool {
        self.lock().paused_at.is_some()
    }

    /// Skip simulated time forward; every pending `sleep` re-checks its deadline.
    pub fn advance(&self, by: Duration) {
        self.lock().skipped += by;
        self.advanced.notify_waiters();
    }

    /// The real duration a simulated one takes at the current speed, ignoring advances.
    pub fn to_real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.speed())
    }

    /// Sleep for a simulated duration: ends early when `advance` skips past the deadline, and
    /// not while the clock is paused.
    pub async fn sleep(&self, simulated: Duration) {
        let deadline = self.elapsed() + simulated;
        loop {
            // Registered before the state is read, so a change in between is not missed.
            let notified = self.advanced.notified();
            let (now, paused) = {
                let inner = self.lock();
                (inner.elapsed(), inner.paused_at.is_some())
            };
            if now >= deadline {
                return;
            }
            if paused {
                notified.await;
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.to_real(deadline - now)) => {}
                _ = notified => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn advance_wakes_sleepers_without_waiting_real_time() {
        let clock = SimClock::new(1.0);
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(Duration::from_secs(3600)).await })
        };
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(3601));
        tokio::time::timeout(Duration::from_secs(10), sleeper)
            .await
            .expect("sleeper woke after advance")
            .expect("sleeper task");
        assert!(clock.elapsed() >= Duration::from_secs(3601));
    }

    /// Wait (on real time, not a fixed sleep) until `clock` has run `simulated` further.
    async fn until_ran(clock: &SimClock, simulated: Duration) {
        let target = clock.elapsed() + simulated;
        while clock.elapsed() < target {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_paused_clock_stands_still_and_its_sleepers_wait_until_it_resumes() {
        // A million simulated seconds per real one: any real time that leaked in would show.
        let clock = SimClock::new(1_000_000.0);
        let witness = SimClock::new(1_000_000.0);
        assert!(clock.set_paused(true));
        assert!(!clock.set_paused(true), "pausing twice changes nothing");
        assert!(clock.is_paused());
        let frozen = clock.elapsed();
        let frozen_now = clock.now();
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(Duration::from_secs(1000)).await })
        };
        // The witness runs 100 simulated seconds: the paused clock would have run as long.
        until_ran(&witness, Duration::from_secs(100)).await;
        assert_eq!(clock.elapsed(), frozen, "paused: no simulated time passes");
        assert_eq!(clock.now(), frozen_now);
        assert!(!sleeper.is_finished(), "a sleeper waits while paused");
        // `advance` still skips ahead while paused (not past the sleeper's deadline).
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.elapsed(), frozen + Duration::from_secs(5));
        until_ran(&witness, Duration::from_secs(100)).await;
        assert!(!sleeper.is_finished(), "still paused");
        assert!(clock.set_paused(false));
        assert!(!clock.is_paused());
        tokio::time::timeout(Duration::from_secs(10), sleeper)
            .await
            .expect("the sleeper ends once the clock runs again")
            .expect("sleeper task");
        // The pause is not made up for afterwards: time goes on from where it stood.
        let after = clock.elapsed();
        assert!(after >= frozen + Duration::from_secs(5));
        until_ran(&witness, Duration::from_secs(1)).await;
        assert!(clock.elapsed() > after, "running again");
    }

    #[tokio::test]
    async fn speed_scales_real_time() {
        let clock = SimClock::new(1000.0);
        let start = std::time::Instant::now();
        clock.sleep(Duration::from_secs(2)).await;
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(clock.elapsed() >= Duration::from_secs(2));
    }
}
