//! The `metrics` feature: counters and gauges after a fetch, cached
//! reads, a miss, a refresh failure and a waiter, read back from a
//! recorder. (`cargo xtask ci` runs it with the feature on.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use auth_cell::metrics::{
    CACHED_READS, CACHE_MISSES, REFRESH_FAILURES, TOKEN_REQUESTS, TOKEN_SECONDS_LEFT, WAITERS,
};
use auth_cell::{Demand, ManualClock, Read};
use common::{cell, run, token, Server};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};

/// A recorder that keeps every value as it stands (metrics-util's
/// debugging recorder resets values when read).
#[derive(Clone)]
struct Values(Arc<Registry<Key, AtomicStorage>>);

impl Recorder for Values {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0
            .get_or_create_counter(key, |c| Counter::from_arc(Arc::clone(c)))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0
            .get_or_create_gauge(key, |g| Gauge::from_arc(Arc::clone(g)))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

fn matches(key: &Key, name: &str, with: &[(&str, &str)]) -> bool {
    key.name() == name
        && with
            .iter()
            .all(|(n, v)| key.labels().any(|l| l.key() == *n && l.value() == *v))
}

fn counter(values: &Values, name: &str, with: &[(&str, &str)]) -> u64 {
    let found: Vec<u64> = values
        .0
        .get_counter_handles()
        .into_iter()
        .filter(|(k, _)| matches(k, name, with))
        .map(|(_, v)| v.load(Ordering::SeqCst))
        .collect();
    assert_eq!(found.len(), 1, "{name} {with:?}: {found:?}");
    found[0]
}

fn gauge(values: &Values, name: &str) -> f64 {
    let found: Vec<f64> = values
        .0
        .get_gauge_handles()
        .into_iter()
        .filter(|(k, _)| matches(k, name, &[]))
        .map(|(_, v)| f64::from_bits(v.load(Ordering::SeqCst)))
        .collect();
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    found[0]
}

#[test]
fn a_fetch_reads_a_miss_a_refresh_failure_and_a_waiter_are_counted() {
    let values = Values(Arc::new(Registry::atomic()));
    let clock = Arc::new(ManualClock::new());
    // Handles are registered when the cell is built.
    let cell = metrics::with_local_recorder(&values, || cell(&clock, false));
    let server = Server::new(vec![
        Server::token("t1", 3600),
        (503, r#"{"error":"temporarily_unavailable"}"#.to_owned()),
    ]);
    let labels = [("provider", "oauth2"), ("client_id", "client")];

    // A cold call: one miss, one token request that succeeded.
    token(&cell, &clock, &server, None).unwrap();
    assert_eq!(counter(&values, CACHE_MISSES, &labels), 1);
    let ok = [labels[0], labels[1], ("outcome", "ok")];
    assert_eq!(counter(&values, TOKEN_REQUESTS, &ok), 1);
    // Usable-for: the lifetime less the margin kept before expiry.
    let left = gauge(&values, TOKEN_SECONDS_LEFT);
    assert!(left > 3500.0 && left < 3600.0, "{left}");

    // Three cached reads, ten minutes on.
    clock.advance(Duration::from_secs(600));
    for _ in 0..3 {
        assert!(matches!(cell.read(), Read::Fresh(_)));
    }
    assert_eq!(counter(&values, CACHED_READS, &labels), 3);
    assert_eq!(gauge(&values, TOKEN_SECONDS_LEFT), left - 600.0);

    // Inside the refresh window the refresh fails: the token stays in use.
    clock.advance(Duration::from_secs(3000 - 60));
    let Read::Refresh(_, job) = cell.read() else {
        panic!("the refresh is due")
    };
    run(job, &server, None);
    let error = [labels[0], labels[1], ("outcome", "error")];
    assert_eq!(counter(&values, TOKEN_REQUESTS, &error), 1);
    assert_eq!(counter(&values, REFRESH_FAILURES, &labels), 1);
    assert_eq!(counter(&values, TOKEN_REQUESTS, &ok), 1);

    // Past expiry, a caller waits for a fetch in flight: one waiter while
    // it waits, none after.
    clock.advance(Duration::from_secs(120));
    assert!(matches!(cell.read(), Read::Miss));
    let Demand::Run(job, _) = cell.demand() else {
        panic!("the first caller sends")
    };
    let waiting = std::thread::scope(|s| {
        let cell = &cell;
        let waiter = s.spawn(move || cell.wait_blocking(cell.demand(), |_, _| {}));
        // The waiter counts itself before it parks (a missing count fails
        // here after 10 s rather than hanging the suite).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while gauge(&values, WAITERS) < 1.0 {
            assert!(std::time::Instant::now() < deadline, "no waiter counted");
            std::thread::yield_now();
        }
        let during = gauge(&values, WAITERS);
        let server = Server::new(vec![Server::token("t2", 3600)]);
        run(job, &server, None);
        waiter.join().unwrap().unwrap();
        during
    });
    assert_eq!(waiting, 1.0);
    assert_eq!(gauge(&values, WAITERS), 0.0);
    assert_eq!(counter(&values, TOKEN_REQUESTS, &ok), 2);
}
