//! Simulated time. Every duration in the simulated world (reconcile steps, the Phase-0 timeline,
//! PDM reservation TTLs, linger windows) runs on this clock: real time scaled by `speed`, plus
//! whatever the control API has skipped ahead with `advance`. Tests advance time instead of sleeping.

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
        let inner = self.lock();
        inner.real_start.elapsed().mul_f64(inner.speed) + inner.skipped
    }

    /// Simulated wall-clock time, for timestamps in objects and events.
    pub fn now(&self) -> DateTime<Utc> {
        let (start, elapsed) = {
            let inner = self.lock();
            (
                inner.wall_start,
                inner.real_start.elapsed().mul_f64(inner.speed) + inner.skipped,
            )
        };
        start + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::zero())
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

    /// Sleep for a simulated duration: ends early when `advance` skips past the deadline.
    pub async fn sleep(&self, simulated: Duration) {
        let deadline = self.elapsed() + simulated;
        loop {
            let now = self.elapsed();
            if now >= deadline {
                return;
            }
            let notified = self.advanced.notified();
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

    #[tokio::test]
    async fn speed_scales_real_time() {
        let clock = SimClock::new(1000.0);
        let start = std::time::Instant::now();
        clock.sleep(Duration::from_secs(2)).await;
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(clock.elapsed() >= Duration::from_secs(2));
    }
}
