//! Counters and gauges through the [`metrics`](https://docs.rs/metrics)
//! facade, with the `metrics` feature; without it, the same calls compile
//! to nothing.
//!
//! Every metric carries `provider` (`oauth2`, `openverse`, `markable`),
//! `client_id` and `scopes`, so two cells never share a series. Handles are
//! registered when the cell is built: install the recorder (a Prometheus
//! exporter, say) before building providers. The names and their meaning
//! are listed in `docs/observability.md`.

/// Token requests that got a token (`outcome="ok"`) or failed
/// (`outcome="error"`), background refreshes included.
pub const TOKEN_REQUESTS: &str = "apiauth_token_requests_total";
/// Calls answered from memory.
pub const CACHED_READS: &str = "apiauth_cached_reads_total";
/// Calls that found no usable token in memory (they wait for a load or a
/// fetch, or fail).
pub const CACHE_MISSES: &str = "apiauth_cache_misses_total";
/// Background refreshes that failed while the held token stayed in use.
pub const REFRESH_FAILURES: &str = "apiauth_refresh_failures_total";
/// Callers waiting for a token right now.
pub const WAITERS: &str = "apiauth_waiters";
/// Seconds the held token is still usable for, as of the last read or
/// renewal (0 when none is held).
pub const TOKEN_SECONDS_LEFT: &str = "apiauth_token_seconds_left";

#[cfg(feature = "metrics")]
mod on {
    use std::time::Duration;

    use metrics::{counter, gauge, Counter, Gauge};

    use super::*;

    /// The cell's metric handles, registered once.
    pub(crate) struct Metrics {
        ok: Counter,
        failed: Counter,
        hits: Counter,
        misses: Counter,
        refresh_failures: Counter,
        waiters: Gauge,
        seconds_left: Gauge,
    }

    impl Metrics {
        pub(crate) fn new(provider: &'static str, client_id: &str, scopes: &str) -> Self {
            let labels = [
                ("provider", provider.to_owned()),
                ("client_id", client_id.to_owned()),
                ("scopes", scopes.to_owned()),
            ];
            let with = |outcome: &'static str| {
                let mut l = labels.to_vec();
                l.push(("outcome", outcome.to_owned()));
                l
            };
            Self {
                ok: counter!(TOKEN_REQUESTS, &with("ok")),
                failed: counter!(TOKEN_REQUESTS, &with("error")),
                hits: counter!(CACHED_READS, &labels),
                misses: counter!(CACHE_MISSES, &labels),
                refresh_failures: counter!(REFRESH_FAILURES, &labels),
                waiters: gauge!(WAITERS, &labels),
                seconds_left: gauge!(TOKEN_SECONDS_LEFT, &labels),
            }
        }

        #[inline]
        pub(crate) fn hit(&self, left: impl FnOnce() -> Option<Duration>) {
            self.hits.increment(1);
            if let Some(left) = left() {
                self.seconds_left.set(left.as_secs_f64());
            }
        }

        pub(crate) fn miss(&self) {
            self.misses.increment(1);
        }

        pub(crate) fn fetched(&self, left: Option<Duration>) {
            self.ok.increment(1);
            self.seconds_left.set(left.map_or(0.0, |l| l.as_secs_f64()));
        }

        pub(crate) fn failed(&self, refreshing: bool) {
            self.failed.increment(1);
            if refreshing {
                self.refresh_failures.increment(1);
            }
        }

        pub(crate) fn dropped(&self) {
            self.seconds_left.set(0.0);
        }

        /// Counts a waiter until the guard drops (a cancelled one too).
        pub(crate) fn waiting(&self) -> Waiting {
            self.waiters.increment(1.0);
            Waiting(self.waiters.clone())
        }
    }

    /// See [`Metrics::waiting`].
    pub(crate) struct Waiting(Gauge);

    impl Drop for Waiting {
        fn drop(&mut self) {
            self.0.decrement(1.0);
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod on {
    use std::time::Duration;

    /// Without the feature: nothing, at no cost.
    pub(crate) struct Metrics;

    impl Metrics {
        pub(crate) fn new(_: &'static str, _: &str, _: &str) -> Self {
            Metrics
        }
        #[inline(always)]
        pub(crate) fn hit(&self, _: impl FnOnce() -> Option<Duration>) {}
        #[inline(always)]
        pub(crate) fn miss(&self) {}
        #[inline(always)]
        pub(crate) fn fetched(&self, _: Option<Duration>) {}
        #[inline(always)]
        pub(crate) fn failed(&self, _: bool) {}
        #[inline(always)]
        pub(crate) fn dropped(&self) {}
        #[inline(always)]
        pub(crate) fn waiting(&self) -> Waiting {
            Waiting
        }
    }

    pub(crate) struct Waiting;
}

pub(crate) use on::Metrics;
