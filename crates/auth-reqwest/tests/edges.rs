//! The async driver at its edges (issue 9): a clock that moves while no
//! timer runs, runtimes dropped mid-fetch, a second runtime, cancelled
//! callers, the wait limit for the first caller, a panicking store, late
//! invalidations against a shared store. The emulator runs on its own
//! runtime thread, so dropping a test's runtime leaves it serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use auth_cell::{AsyncTokenStore, ManualClock};
use auth_core::{CacheKey, ClientAuth, ClientCredentials, OAuth2, RefreshPolicy, StoredToken};
use auth_emulator::{demo, BlockingEmulator, EmulatorConfig, Endpoint, Scheme};
use auth_reqwest::{Error, MemoryStore, TokenProvider, TokenProviderBuilder};

fn emulator() -> BlockingEmulator {
    BlockingEmulator::start(EmulatorConfig::default()).unwrap()
}

fn builder(emu: &BlockingEmulator) -> TokenProviderBuilder {
    TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).unwrap(),
    )
    .scopes("read".parse().unwrap())
    .policy(
        RefreshPolicy::default()
            .with_backoff_initial(Duration::from_millis(20))
            .with_backoff_max(Duration::from_millis(100)),
    )
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The headline defect: a `current_thread` runtime kept alive in a sync
/// wrapper, a token read, time passing beyond its life, a read again. The
/// old hot path skipped the clock while a timer task was "armed" and
/// handed back the expired token. Here time is a manual clock: no timer
/// can fire at all, and the read still refuses the token.
#[test]
fn a_sync_wrapper_never_gets_an_expired_token() {
    let emu = emulator();
    let clock = Arc::new(ManualClock::new());
    let p = builder(&emu).clock(clock.clone()).build().unwrap();
    let rt = current_thread();
    let first = rt.block_on(p.token()).unwrap();
    let lifetime = first.remaining(auth_cell::Clock::now(&*clock)).unwrap();
    clock.advance(lifetime + Duration::from_millis(500));
    let second = rt.block_on(p.token()).unwrap();
    assert!(second.is_usable(auth_cell::Clock::now(&*clock)));
    assert_ne!(first.id(), second.id());
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 2);
}

/// Items 1, 2, 7: the runtime driving a fetch is dropped mid-request. The
/// old driver deadlocked in `Runtime::drop` or left a flag set that made
/// every later caller wait out the limit. Here a second runtime gets a
/// token promptly: one round trip plus the abandoned request's backoff.
#[test]
fn a_runtime_dropped_mid_fetch_leaves_the_provider_working() {
    let emu = emulator();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(400));
    let p = builder(&emu).build().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let q = p.clone();
    rt.spawn(async move { q.token().await });
    std::thread::sleep(Duration::from_millis(100)); // the request is in flight
    drop(rt); // must not deadlock
    emu.set_latency(Endpoint::Oauth2Token, Duration::ZERO);
    let started = Instant::now();
    let token = current_thread().block_on(p.token()).unwrap();
    assert!(token.is_usable(Instant::now()));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

/// Items 2 and 13: the first caller, whose request is in flight, is
/// cancelled. Its request is finished by a task — resumed, not re-sent — and
/// every other caller gets its token: one request in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_first_caller_costs_no_second_request() {
    let emu = emulator();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(300));
    let p = builder(&emu).build().unwrap();
    let cancelled = tokio::time::timeout(Duration::from_millis(50), p.token()).await;
    assert!(
        cancelled.is_err(),
        "the first caller was cancelled mid-request"
    );
    let token = p.token().await.unwrap();
    assert!(token.is_usable(Instant::now()));
    assert_eq!(emu.counters().requests_to(Endpoint::Oauth2Token), 1);
}

/// Item 11: the wait limit bounds the caller that sends the request too.
/// Before, with `timeout(4 s)` and `wait_limit(1 s)`, the first caller
/// returned after 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_limit_bounds_the_first_caller() {
    let emu = emulator();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(1200));
    let p = builder(&emu)
        .timeout(Duration::from_secs(4))
        .wait_limit(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = p.token().await.unwrap_err();
    assert!(matches!(e, Error::WaitTimeout(_)), "{e}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the first caller waited {:?}",
        started.elapsed()
    );
    // Its request was handed to a task, not cut short: it serves the next
    // caller, one request in all.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(p.token().await.is_ok());
    assert_eq!(emu.counters().requests_to(Endpoint::Oauth2Token), 1);
}

/// A store that panics or hangs never reaches a caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_store_costs_a_fetch_not_a_caller() {
    struct Panics;
    #[async_trait]
    impl AsyncTokenStore for Panics {
        async fn load(&self, _: &CacheKey) -> Result<Option<StoredToken>, Error> {
            panic!("load")
        }
        async fn save(&self, _: &CacheKey, _: &StoredToken) -> Result<(), Error> {
            panic!("save")
        }
        async fn remove(&self, _: &CacheKey, _: &StoredToken) -> Result<(), Error> {
            panic!("remove")
        }
    }
    let emu = emulator();
    let p = builder(&emu).store(Arc::new(Panics)).build().unwrap();
    let t = p.token().await.unwrap();
    p.invalidate(&t);
    let again = p.token().await.unwrap();
    assert_ne!(t.id(), again.id());
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 2);
}

/// Item 12: two providers share a store. After a renewal saved t2, a late
/// invalidation of t1 leaves t2 for everyone (the old async driver removed
/// the entry unconditionally, and skipped the store outside a runtime).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_invalidation_keeps_a_newer_shared_token() {
    let emu = emulator();
    let store = Arc::new(MemoryStore::new());
    let a = builder(&emu).store(store.clone()).build().unwrap();
    let b = builder(&emu).store(store.clone()).build().unwrap();
    let t1 = a.token().await.unwrap();
    b.invalidate(&t1); // b never held t1, but the store did: removed
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(store.is_empty());
    let t2 = b.token().await.unwrap();
    assert_ne!(
        t1.access_token().expose_secret(),
        t2.access_token().expose_secret()
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(store.len(), 1);
    a.invalidate(&t1); // late: the store now holds t2
    tokio::time::sleep(Duration::from_millis(50)).await;
    let held = AsyncTokenStore::load(&*store, a.cell().key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        held.access_token.expose_secret(),
        t2.access_token().expose_secret()
    );
}

/// A store that never answers costs one bound (the request timeout), then
/// the fetch goes on without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_store_costs_one_timeout_not_a_caller() {
    struct Hangs;
    #[async_trait]
    impl AsyncTokenStore for Hangs {
        async fn load(&self, _: &CacheKey) -> Result<Option<StoredToken>, Error> {
            std::future::pending().await
        }
        async fn save(&self, _: &CacheKey, _: &StoredToken) -> Result<(), Error> {
            std::future::pending().await
        }
        async fn remove(&self, _: &CacheKey, _: &StoredToken) -> Result<(), Error> {
            std::future::pending().await
        }
    }
    let emu = emulator();
    let p = builder(&emu)
        .timeout(Duration::from_millis(300))
        .store(Arc::new(Hangs))
        .build()
        .unwrap();
    let started = Instant::now();
    let t = p.token().await.unwrap();
    assert!(t.is_usable(Instant::now()));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// The total timeout bounds a token request, body included (the token
/// client has no reqwest-level timeout: the driver's own timer is it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_token_endpoint_times_out_at_the_request_timeout() {
    let emu = emulator();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_secs(2));
    let p = builder(&emu)
        .timeout(Duration::from_millis(200))
        .policy(RefreshPolicy::default().with_waiting_retries(0))
        .wait_limit(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = p.token().await.unwrap_err();
    assert_eq!(
        e.transport_kind(),
        Some(auth_core::TransportErrorKind::Timeout),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}
