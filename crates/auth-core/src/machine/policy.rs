//! The numbers that steer refresh and retry, each with a documented default.

use std::time::Duration;

use crate::error::Error;

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
/// With the defaults, a 10 h token is refreshed 5.5–6.75 minutes before it
/// expires (not every minute), and a 59 s token is handed out for 53 s and
/// refreshed 34.7–38.4 s after it was issued (docs/architecture.md checks
/// both against the machine).
///
/// [`TokenSource::new`](crate::TokenSource::new) refuses a policy that
/// cannot work (see [`validate`](Self::validate)); every other value, up to
/// `Duration::MAX`, is safe: deadlines saturate instead of overflowing.
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
    /// Checks that the policy can work; [`crate::TokenSource::new`] calls it.
    ///
    /// Refused, each with an [`Error::InvalidConfig`] naming the field:
    /// a zero `backoff_initial` (retries at the caller's rate), a
    /// `backoff_initial` above `backoff_max`, a `refresh_jitter` outside
    /// 0–1 or NaN (the field can be set without the clamping setter), a
    /// zero `max_lifetime` and a zero `unknown_lifetime` (every token would
    /// be dead on arrival). Any other value is accepted, however extreme:
    /// the machine saturates instead of overflowing.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |msg: &str| Err(Error::InvalidConfig(format!("refresh policy: {msg}")));
        if self.backoff_initial.is_zero() {
            return bad("backoff_initial is zero, which would retry failures without pause; set it above zero (default 250 ms)");
        }
        if self.backoff_initial > self.backoff_max {
            return bad(&format!(
                "backoff_initial ({:?}) exceeds backoff_max ({:?}); raise backoff_max or lower backoff_initial",
                self.backoff_initial, self.backoff_max
            ));
        }
        if !(0.0..=1.0).contains(&self.refresh_jitter) {
            return bad(&format!(
                "refresh_jitter is {}, not a fraction from 0 to 1; set it with with_refresh_jitter, which clamps",
                self.refresh_jitter
            ));
        }
        if self.max_lifetime.is_zero() {
            return bad("max_lifetime is zero, so every token would expire on arrival; set it above zero (default 24 h)");
        }
        if self.unknown_lifetime.is_some_and(|d| d.is_zero()) {
            return bad("unknown_lifetime is zero, so every token without a stated expiry would expire on arrival; use None to keep such tokens until rejected, or a positive duration");
        }
        Ok(())
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_nonsense_is_named() {
        assert_eq!(RefreshPolicy::default().validate(), Ok(()));
        let cases = [
            (
                RefreshPolicy::default().with_backoff_initial(Duration::ZERO),
                "backoff_initial is zero",
            ),
            (
                RefreshPolicy::default()
                    .with_backoff_initial(Duration::from_secs(61))
                    .with_backoff_max(Duration::from_secs(60)),
                "exceeds backoff_max",
            ),
            (
                RefreshPolicy {
                    refresh_jitter: f64::NAN,
                    ..RefreshPolicy::default()
                },
                "refresh_jitter is NaN",
            ),
            (
                RefreshPolicy {
                    refresh_jitter: 1.5,
                    ..RefreshPolicy::default()
                },
                "refresh_jitter is 1.5",
            ),
            (
                RefreshPolicy {
                    refresh_jitter: -0.1,
                    ..RefreshPolicy::default()
                },
                "refresh_jitter is -0.1",
            ),
            (
                RefreshPolicy::default().with_max_lifetime(Duration::ZERO),
                "max_lifetime is zero",
            ),
            (
                RefreshPolicy::default().with_unknown_lifetime(Some(Duration::ZERO)),
                "unknown_lifetime is zero",
            ),
        ];
        for (policy, words) in cases {
            let e = policy.validate().unwrap_err();
            assert!(matches!(e, Error::InvalidConfig(_)), "{e:?}");
            let s = e.to_string();
            assert!(s.contains(words), "{s}");
            assert!(!s.ends_with('.'), "{s}");
        }
    }

    #[test]
    fn extreme_but_meaningful_values_are_accepted() {
        let max = RefreshPolicy::default()
            .with_safety_margin(Duration::MAX)
            .with_refresh_ahead(Duration::MAX)
            .with_refresh_jitter(1.0)
            .with_max_lifetime(Duration::MAX)
            .with_unknown_lifetime(Some(Duration::MAX))
            .with_backoff_initial(Duration::MAX)
            .with_backoff_max(Duration::MAX)
            .with_max_retry_after(Duration::MAX)
            .with_waiting_retries(u32::MAX)
            .with_max_wait(Duration::MAX)
            .with_final_failure_cooldown(Duration::MAX);
        assert_eq!(max.validate(), Ok(()));
        let min = RefreshPolicy::default()
            .with_safety_margin(Duration::ZERO)
            .with_refresh_ahead(Duration::ZERO)
            .with_refresh_jitter(0.0)
            .with_max_lifetime(Duration::from_nanos(1))
            .with_backoff_initial(Duration::from_nanos(1))
            .with_backoff_max(Duration::from_nanos(1))
            .with_max_retry_after(Duration::ZERO)
            .with_waiting_retries(0)
            .with_max_wait(Duration::ZERO)
            .with_final_failure_cooldown(Duration::ZERO);
        assert_eq!(min.validate(), Ok(()));
    }
}
