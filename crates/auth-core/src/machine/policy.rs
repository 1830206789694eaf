//! The numbers that steer refresh and retry, each with a documented default.

use std::time::Duration;

/// When to refresh and how to retry. Every field has a default chosen for
/// long-lived services; change any with the `with_*` methods.
///
/// Lifetime `L` below is the token's lifetime as the server stated it,
/// clamped to [`max_lifetime`](Self::max_lifetime).
///
/// | field | default | meaning |
/// |---|---|---|
/// | `safety_margin` | 30 s | stop handing a token out this long before expiry (at most `L/10`) |
/// | `refresh_ahead` | 5 min | start refreshing this long before the margin (at most `L/4`) |
/// | `refresh_jitter` | 0.25 | start up to this fraction of `refresh_ahead` earlier, at random |
/// | `max_lifetime` | 24 h | longer stated lifetimes are clamped to this |
/// | `unknown_lifetime` | none | lifetime assumed when the server states none (none: until rejected) |
/// | `backoff_initial` | 250 ms | first retry delay after a transient failure |
/// | `backoff_max` | 60 s | cap of the doubling retry delay |
/// | `max_retry_after` | 1 h | cap on a server's `Retry-After` |
/// | `waiting_retries` | 2 | transient failures retried before waiting callers get the error |
/// | `max_wait` | 10 s | a caller is never held by a backoff longer than this |
/// | `final_failure_cooldown` | 60 s | after a final error, no request for this long |
///
/// With the defaults, a 10 h token is refreshed about 5–6 minutes before it
/// expires (not every minute), and a 59 s token is handed out for 53 s and
/// refreshed after about 35–38 s.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub struct RefreshPolicy {
    /// Stop handing out a token this long before it expires, so a request
    /// in flight does not arrive with a dead token. Scaled down to `L/10`
    /// for short-lived tokens.
    pub safety_margin: Duration,
    /// Begin refreshing this long before the safety margin, so callers never
    /// wait while a valid token exists. Scaled down to `L/4`.
    pub refresh_ahead: Duration,
    /// Fraction (0–1) of `refresh_ahead` by which each refresh is moved
    /// earlier at random, so a fleet started together does not refresh together.
    pub refresh_jitter: f64,
    /// Stated lifetimes above this are clamped (an absurd `expires_in`
    /// cannot keep a token for years).
    pub max_lifetime: Duration,
    /// Lifetime assumed when the server states none. `None`: the token is
    /// used until the API rejects it (Markable's seed response has no expiry).
    pub unknown_lifetime: Option<Duration>,
    /// The first retry delay after a transient failure; it doubles after
    /// each further failure, with "equal jitter" (half fixed, half random).
    pub backoff_initial: Duration,
    /// The cap of the doubling delay.
    pub backoff_max: Duration,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
    /// How many transient failures are retried while callers wait with no
    /// usable token, before they get the error.
    pub waiting_retries: u32,
    /// The longest a caller with no usable token is held by a backoff; when
    /// the next attempt is further away, the caller gets the last error now.
    pub max_wait: Duration,
    /// After a final error (bad credentials, bad scope), no new request is
    /// made for this long; callers get the same error at once meanwhile.
    pub final_failure_cooldown: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            safety_margin: Duration::from_secs(30),
            refresh_ahead: Duration::from_secs(300),
            refresh_jitter: 0.25,
            max_lifetime: Duration::from_secs(24 * 3600),
            unknown_lifetime: None,
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(3600),
            waiting_retries: 2,
            max_wait: Duration::from_secs(10),
            final_failure_cooldown: Duration::from_secs(60),
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident : $field:ident : $ty:ty;)*) => {
        impl RefreshPolicy {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

setters! {
    /// Sets [`RefreshPolicy::safety_margin`].
    with_safety_margin: safety_margin: Duration;
    /// Sets [`RefreshPolicy::refresh_ahead`].
    with_refresh_ahead: refresh_ahead: Duration;
    /// Sets [`RefreshPolicy::max_lifetime`].
    with_max_lifetime: max_lifetime: Duration;
    /// Sets [`RefreshPolicy::unknown_lifetime`].
    with_unknown_lifetime: unknown_lifetime: Option<Duration>;
    /// Sets [`RefreshPolicy::backoff_initial`].
    with_backoff_initial: backoff_initial: Duration;
    /// Sets [`RefreshPolicy::backoff_max`].
    with_backoff_max: backoff_max: Duration;
    /// Sets [`RefreshPolicy::max_retry_after`].
    with_max_retry_after: max_retry_after: Duration;
    /// Sets [`RefreshPolicy::waiting_retries`].
    with_waiting_retries: waiting_retries: u32;
    /// Sets [`RefreshPolicy::max_wait`].
    with_max_wait: max_wait: Duration;
    /// Sets [`RefreshPolicy::final_failure_cooldown`].
    with_final_failure_cooldown: final_failure_cooldown: Duration;
}

impl RefreshPolicy {
    /// The longest a caller without a usable token can be owed an answer,
    /// for drivers to bound their waits: each retry the policy allows
    /// takes at most one request (`request_timeout`) plus one backoff no
    /// longer than `max_wait`. Past that, something is wrong and the caller
    /// should get an error rather than hang.
    #[must_use]
    pub fn max_caller_wait(&self, request_timeout: Duration) -> Duration {
        request_timeout
            .saturating_add(self.max_wait)
            .saturating_mul(self.waiting_retries.saturating_add(1))
    }

    /// Sets [`RefreshPolicy::refresh_jitter`], clamped to 0–1.
    #[must_use]
    pub fn with_refresh_jitter(mut self, fraction: f64) -> Self {
        self.refresh_jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }
}
