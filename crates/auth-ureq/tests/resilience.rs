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
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(3000));
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
}
