//! Whether Redis is usable right now: a health flag for the logs and a
//! short circuit breaker, shared by both stores.
//!
//! ```text
//!  healthy ──failure──▶ open (skip Redis for 250 ms) ──time passes──▶ half-open
//!     ▲                    ▲                                          │
//!     │                    └──failure: backoff doubles, up to 10 s ───┤
//!     └──────────────────────────success──────────────────────────────┘
//! ```
//!
//! One `warn!` when Redis goes bad, one `info!` when it is back: never one
//! per call. While the breaker is open every store call is an immediate
//! miss, so a dead Redis adds no latency to token requests; the first call
//! after the backoff tries again, and sharing resumes by itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// First pause after a failure.
pub(crate) const BACKOFF_START: Duration = Duration::from_millis(250);
/// Longest pause between two tries of a dead Redis.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(10);

pub(crate) struct Health {
    healthy: AtomicBool,
    breaker: Mutex<Breaker>,
    url: String,
}

#[derive(Default)]
struct Breaker {
    backoff: Duration,
    retry_at: Option<Instant>,
}

impl Health {
    pub fn new(shown_url: &str) -> Self {
        Self {
            healthy: AtomicBool::new(true),
            breaker: Mutex::new(Breaker::default()),
            url: shown_url.to_owned(),
        }
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a call may go to Redis now (the breaker is closed, or its
    /// backoff has passed).
    pub fn allows(&self) -> bool {
        self.breaker()
            .retry_at
            .is_none_or(|at| Instant::now() >= at)
    }

    /// Whether the last call succeeded.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// A call failed (unreachable, timed out, an error reply): open the
    /// breaker, and warn if this starts an outage.
    pub fn failed(&self, op: &str, reason: &str) {
        {
            let mut b = self.breaker();
            b.backoff = if b.backoff.is_zero() {
                BACKOFF_START
            } else {
                (b.backoff * 2).min(BACKOFF_MAX)
            };
            b.retry_at = Some(Instant::now() + b.backoff);
        }
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                url = %self.url,
                op,
                reason,
                "redis token cache unavailable; each process fetches its own tokens until it is back"
            );
        } else {
            tracing::debug!(url = %self.url, op, reason, "redis token cache still unavailable");
        }
    }

    /// A call succeeded: close the breaker, and say so if an outage ends.
    pub fn succeeded(&self) {
        {
            let mut b = self.breaker();
            if b.retry_at.is_some() {
                *b = Breaker::default();
            }
        }
        if !self.healthy.swap(true, Ordering::Relaxed) {
            tracing::info!(url = %self.url, "redis token cache is back; tokens are shared again");
        }
    }
}
