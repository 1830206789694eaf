//! Concurrency, expiry, outages, rate limits and rejected tokens.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use auth_core::ClientAuth;
use auth_emulator::{Endpoint, Fault, FaultPlan, Scheme};
use auth_ureq::Error;
use common::{emulator, fast_policy, get, oauth2};

#[test]
fn sixty_four_threads_on_a_cold_cache_share_one_request() {
    let emu = emulator();
    // Long enough that every thread arrives while the one request is out.
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(300));
    let tokens = oauth2(&emu, ClientAuth::Basic).build().unwrap();
    let barrier = Arc::new(Barrier::new(64));
    let handles: Vec<_> = (0..64)
        .map(|_| {
            let tokens = tokens.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                tokens.token().unwrap()
            })
        })
        .collect();
    let got: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(got.iter().all(|t| Arc::ptr_eq(t, &got[0])));
    let counters = emu.counters();
    assert_eq!(counters.token_total(Scheme::Oauth2), 1);
    assert_eq!(counters.max_token_in_flight, 1);
}

#[test]
fn a_token_that_expires_during_a_run_is_renewed_without_errors() {
    let emu = emulator();
    emu.set_lifetime(Scheme::Oauth2, Duration::from_secs(1))
        .unwrap();
    let tokens = oauth2(&emu, ClientAuth::Basic).build().unwrap();
    let end = Instant::now() + Duration::from_millis(2300);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let tokens = tokens.clone();
            let url = emu.url("/oauth2/resource");
            thread::spawn(move || {
                let mut calls = 0;
                while Instant::now() < end {
                    let response = tokens.send(get(url.clone())).unwrap();
                    assert_eq!(response.status(), 200);
                    calls += 1;
                    thread::sleep(Duration::from_millis(15));
                }
                calls
            })
        })
        .collect();
    let calls: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let counters = emu.counters();
    let fetched = counters.token_total(Scheme::Oauth2);
    // Refreshed ahead of each expiry, not once per call.
    assert!((3..=6).contains(&fetched), "{fetched} token requests");
    // Refresh ahead means the API never saw an expired token.
    assert_eq!(
        counters.requests_to(Endpoint::Oauth2Resource),
        u64::from(calls),
        "no call needed a retry"
    );
}

#[test]
fn an_outage_while_a_token_is_cached_costs_no_caller_an_error() {
    let emu = emulator();
    let policy = fast_policy()
        .with_max_lifetime(Duration::from_secs(2))
        .with_backoff_initial(Duration::from_millis(50));
    let tokens = oauth2(&emu, ClientAuth::Basic)
        .policy(policy)
        .build()
        .unwrap();
    let first = tokens.token().unwrap();
    let started = Instant::now();
    emu.add_fault(FaultPlan::always(
        Endpoint::Oauth2Token,
        Fault::ServerError {
            status: 503,
            retry_after_secs: None,
        },
    ))
    .unwrap();
    // The token is handed out for 1.8 s; refresh starts around 1.2 s.
    while started.elapsed() < Duration::from_millis(1650) {
        let token = tokens.token().unwrap();
        assert!(Arc::ptr_eq(&token, &first));
        thread::sleep(Duration::from_millis(5));
    }
    let retries = emu.counters().token_total(Scheme::Oauth2) - 1;
    assert!((1..=8).contains(&retries), "{retries} refresh attempts");

    emu.clear_faults();
    let deadline = Instant::now() + Duration::from_secs(2);
    let renewed = loop {
        let token = tokens.token().unwrap();
        if !Arc::ptr_eq(&token, &first) {
            break token;
        }
        assert!(Instant::now() < deadline, "never renewed");
        thread::sleep(Duration::from_millis(10));
    };
    assert!(renewed.usable_until() > first.usable_until());
}

#[test]
fn retry_after_is_respected_before_the_next_request() {
    let emu = emulator();
    emu.add_fault(FaultPlan::next(
        Endpoint::Oauth2Token,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    ))
    .unwrap();
    let tokens = oauth2(&emu, ClientAuth::Basic).build().unwrap();
    let control = emu.control();
    let observer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(850));
        control.counters().token_total(Scheme::Oauth2)
    });
    let started = Instant::now();
    let token = tokens.token();
    let waited = started.elapsed();
    assert!(token.is_ok(), "{token:?}");
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert_eq!(observer.join().unwrap(), 1, "no request during Retry-After");
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 2);
}

#[test]
fn a_retry_after_longer_than_max_wait_fails_at_once_and_sends_nothing() {
    let emu = emulator();
    emu.add_fault(FaultPlan::next(
        Endpoint::Oauth2Token,
        Fault::RateLimited {
            retry_after_secs: 30,
        },
        1,
    ))
    .unwrap();
    let tokens = oauth2(&emu, ClientAuth::Basic).build().unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        let e = tokens.token().unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(e.status(), Some(http::StatusCode::TOO_MANY_REQUESTS), "{e}");
        assert!(e.retry_after().unwrap() > Duration::from_secs(25), "{e}");
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 1);
}

#[test]
fn a_rejected_token_is_renewed_and_the_call_retried_once() {
    let emu = emulator();
    let tokens = oauth2(&emu, ClientAuth::Basic).build().unwrap();
    let url = emu.url("/oauth2/resource");
    assert_eq!(tokens.send(get(url.clone())).unwrap().status(), 200);
    let old = tokens.token().unwrap();

    emu.expire_tokens();
    assert_eq!(tokens.send(get(url.clone())).unwrap().status(), 200);
    let counters = emu.counters();
    assert_eq!(
        counters.token_total(Scheme::Oauth2),
        2,
        "exactly one re-fetch"
    );
    assert_eq!(
        counters.requests_to(Endpoint::Oauth2Resource),
        3,
        "one retry"
    );
    assert!(!Arc::ptr_eq(&old, &tokens.token().unwrap()));

    // send_once does not repeat the call, but the next one gets a new token.
    emu.expire_tokens();
    let refused = tokens.send_once(get(url.clone())).unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 2);
    assert_eq!(tokens.send_once(get(url)).unwrap().status(), 200);
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 3);
}

#[test]
fn a_final_error_reaches_every_waiting_caller_once() {
    let emu = emulator();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(200));
    let tokens = common::oauth2_with_secret(&emu, ClientAuth::Basic, "wrong")
        .build()
        .unwrap();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let tokens = tokens.clone();
            thread::spawn(move || tokens.token().unwrap_err())
        })
        .collect();
    for h in handles {
        let e = h.join().unwrap();
        assert!(
            matches!(e, Error::Auth(auth_core::Error::Rejected(_))),
            "{e}"
        );
    }
    // The cooldown keeps further callers from hammering the endpoint.
    assert!(tokens.token().is_err());
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 1);
}

#[test]
fn a_refresh_never_blocks_a_caller_holding_a_valid_token() {
    let emu = emulator();
    let policy = fast_policy().with_max_lifetime(Duration::from_secs(2));
    let tokens = oauth2(&emu, ClientAuth::Basic)
        .policy(policy)
        .build()
        .unwrap();
    let first = tokens.token().unwrap();
    let started = Instant::now();
    // The refresh will take half a second; the token stays usable to 1.8 s.
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(500));
    thread::sleep(Duration::from_millis(1350));
    let mut slowest = Duration::ZERO;
    let renewed = loop {
        let call = Instant::now();
        let token = tokens.token().unwrap();
        slowest = slowest.max(call.elapsed());
        if !Arc::ptr_eq(&token, &first) {
            break token;
        }
        assert!(
            started.elapsed() < Duration::from_millis(1800),
            "not renewed"
        );
        thread::sleep(Duration::from_millis(5));
    };
    assert!(
        slowest < Duration::from_millis(100),
        "a caller waited {slowest:?}"
    );
    assert!(renewed.usable_until() > first.usable_until());
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 2);
}

/// Issue 9 item 11: the wait limit bounds every caller, the one sending
/// the request included. Before, the sender was held by the request
/// timeout (4.1 s with a 4 s timeout and a 1 s limit).
#[test]
fn every_caller_gives_up_at_the_wait_limit_the_sender_included() {
    let emu = emulator();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(1200));
    let tokens = oauth2(&emu, ClientAuth::Basic)
        .timeout(Duration::from_secs(4))
        .wait_limit(Duration::from_millis(300))
        .build()
        .unwrap();
    let sender = {
        let tokens = tokens.clone();
        thread::spawn(move || {
            let started = Instant::now();
            (tokens.token(), started.elapsed())
        })
    };
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let e = tokens.token().unwrap_err();
    assert!(matches!(e, Error::WaitTimeout(_)), "{e}");
    assert!(e.is_retryable());
    assert!(started.elapsed() < Duration::from_millis(1000));
    let (sent, took) = sender.join().unwrap();
    assert!(matches!(sent, Err(Error::WaitTimeout(_))), "{sent:?}");
    assert!(
        took < Duration::from_millis(1000),
        "the sender waited {took:?}"
    );
    // Its request was not cut short: it finished on a thread and serves
    // the next caller, one request in all.
    thread::sleep(Duration::from_millis(1200));
    assert!(tokens.token().is_ok());
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 1);
}

/// Issue 9 item 8: a store lock held elsewhere (the file store waited up
/// to 60 s) no longer outlasts the wait limit: the lock wait is cut to the
/// caller's remaining time, and the caller fetches without it.
#[test]
fn a_slow_store_lock_does_not_outlast_the_wait_limit() {
    use auth_core::{CacheKey, StoredToken};
    use auth_ureq::TokenStore;
    struct SlowLock;
    impl TokenStore for SlowLock {
        fn load(&self, _: &CacheKey) -> Result<Option<StoredToken>, Error> {
            Ok(None)
        }
        fn save(&self, _: &CacheKey, _: &StoredToken) -> Result<(), Error> {
            Ok(())
        }
        fn remove(&self, _: &CacheKey, _: &StoredToken) -> Result<(), Error> {
            Ok(())
        }
        fn lock(
            &self,
            _: &CacheKey,
            wait: Duration,
        ) -> Result<Option<auth_cell::StoreLock>, Error> {
            // Another process holds it for a minute: wait as told, then fail.
            thread::sleep(wait.min(Duration::from_secs(60)));
            Err(Error::Store("lock busy".into()))
        }
    }
    let emu = emulator();
    let tokens = oauth2(&emu, ClientAuth::Basic)
        .wait_limit(Duration::from_millis(400))
        .store(Arc::new(SlowLock))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = tokens.token();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    // The lock wait used the whole limit, so the request went to a thread
    // with its full timeout; this caller got a token only if that thread
    // was quicker than its own last look.
    assert!(
        result.is_ok() || matches!(result, Err(Error::WaitTimeout(_))),
        "{result:?}"
    );
    // The request was not cut short and wasted: the next caller gets its
    // token, and one request was made in all.
    assert!(tokens.token().is_ok());
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 1);
}

/// Issue 9 item 3: a store that panics in `lock` or `load` left the old
/// driver's "sending" flag set; every cold caller then timed out. Now the
/// panic is a logged store error and the fetch goes on.
#[test]
fn a_store_panicking_in_lock_or_load_costs_nothing_but_the_store() {
    use auth_core::{CacheKey, StoredToken};
    use auth_ureq::TokenStore;
    struct Panics(bool);
    impl TokenStore for Panics {
        fn load(&self, _: &CacheKey) -> Result<Option<StoredToken>, Error> {
            panic!("load")
        }
        fn save(&self, _: &CacheKey, _: &StoredToken) -> Result<(), Error> {
            Ok(())
        }
        fn remove(&self, _: &CacheKey, _: &StoredToken) -> Result<(), Error> {
            Ok(())
        }
        fn lock(&self, _: &CacheKey, _: Duration) -> Result<Option<auth_cell::StoreLock>, Error> {
            if self.0 {
                panic!("lock")
            }
            Ok(None)
        }
    }
    for in_lock in [true, false] {
        let emu = emulator();
        let tokens = oauth2(&emu, ClientAuth::Basic)
            .wait_limit(Duration::from_secs(5))
            .store(Arc::new(Panics(in_lock)))
            .build()
            .unwrap();
        let t = tokens.token().unwrap();
        tokens.invalidate(&t);
        let again = tokens.token().unwrap();
        assert_ne!(t.id(), again.id());
        assert_eq!(emu.counters().token_total(Scheme::Oauth2), 2);
    }
}
