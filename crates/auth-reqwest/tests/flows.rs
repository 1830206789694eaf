//! Every flow of every dialect through the async driver, against the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::{
    ClientAuth, ClientCredentials, Error as CoreError, Markable, OAuth2, OAuthErrorCode, Openverse,
    Registration, TransportErrorKind,
};
use auth_emulator::{
    demo, Emulator, EmulatorConfig, Endpoint, Fault, FaultPlan, Scheme, Throttles,
};
use auth_reqwest::{register, Error, MemoryStore, SearchTokenProvider, TokenProvider};

fn creds(id: &str, secret: &str) -> ClientCredentials {
    ClientCredentials::new(id, secret).unwrap()
}

fn fast() -> auth_core::RefreshPolicy {
    auth_core::RefreshPolicy::default()
        .with_backoff_initial(Duration::from_millis(10))
        .with_backoff_max(Duration::from_millis(100))
}

fn oauth2(emu: &Emulator, auth: ClientAuth) -> TokenProvider {
    TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), auth).unwrap(),
        creds(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET),
    )
    .scopes("read write".parse().unwrap())
    .policy(fast())
    .build()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_basic_and_post_fetch_cache_and_call() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    for auth in [ClientAuth::Basic, ClientAuth::Post] {
        let p = oauth2(&emu, auth);
        let t = p.token().await.unwrap();
        assert_eq!(t.granted_scopes().canonical(), "read write");
        assert!(t.missing_scopes().is_empty());
        let again = p.token().await.unwrap();
        assert_eq!(t.id(), again.id(), "second read comes from the cache");
        let req = reqwest::Client::new()
            .get(emu.url("/oauth2/resource"))
            .build()
            .unwrap();
        let resp = p.send(req).await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_refusals_are_typed() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let bad = TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        creds(demo::OAUTH2_CLIENT_ID, "wrong-secret"),
    )
    .build()
    .unwrap();
    let e = bad.token().await.unwrap_err();
    assert_eq!(
        e.as_auth().and_then(CoreError::oauth_code),
        Some(&OAuthErrorCode::InvalidClient)
    );
    // Reported once, not retried in a loop: a second call answers at once.
    let e2 = bad.token().await.unwrap_err();
    assert_eq!(e.to_string(), e2.to_string());
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 1);

    let greedy = TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        creds(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET),
    )
    .scopes("read root".parse().unwrap())
    .build()
    .unwrap();
    let e = greedy.token().await.unwrap_err();
    assert_eq!(
        e.as_auth().and_then(CoreError::oauth_code),
        Some(&OAuthErrorCode::InvalidScope)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openverse_register_verify_and_raise_the_limit() {
    // The real throttles, but for the one-per-second key status one, which
    // a registration a moment ago would trip (they share a cache key).
    let emu = Emulator::start(EmulatorConfig {
        throttles: Throttles {
            key_status: None,
            ..Throttles::default()
        },
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let openverse = Openverse::with_base(emu.base_url()).unwrap();
    let registered = register(
        &openverse,
        &Registration::new(
            "My amazing project",
            "To access CC Catalog API",
            "me@example.org",
        ),
    )
    .await
    .unwrap();
    // The same name again is refused with the server's field error.
    let e = register(
        &openverse,
        &Registration::new("My amazing project", "again", "me@example.org"),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("name:"), "{e}");

    let p = TokenProvider::builder(openverse.clone(), registered.credentials.clone())
        .policy(fast())
        .build()
        .unwrap();
    let t = p.token().await.unwrap();
    assert_eq!(t.granted_scopes().canonical(), "read write");
    let status = p.key_status().await.unwrap();
    assert_eq!(status.verified, Some(false));

    // Unverified: throttled like an anonymous caller.
    let images = || {
        reqwest::Client::new()
            .get(emu.url("/v1/images/?q=test"))
            .build()
            .unwrap()
    };
    let mut unverified_ok = 0;
    loop {
        let r = p.send(images()).await.unwrap();
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            break;
        }
        assert_eq!(r.status(), 200);
        unverified_ok += 1;
        assert!(unverified_ok < 1000, "never throttled");
    }
    let limits = p.last_rate_limits().unwrap();
    assert!(limits.tightest().is_some(), "{limits:?}");

    // Follow the link from the outbox: an anonymous request too, so wait
    // out the hour first.
    let mail = emu
        .outbox()
        .into_iter()
        .find(|m| m.client_id == registered.credentials.client_id())
        .unwrap();
    emu.reset_rate_limits();
    let r = reqwest::get(&mail.link).await.unwrap();
    assert!(r.status().is_success());
    assert_eq!(p.key_status().await.unwrap().verified, Some(true));
    let mut verified_ok = 0;
    for _ in 0..(unverified_ok * 3) {
        if p.send(images()).await.unwrap().status() == 200 {
            verified_ok += 1;
        }
    }
    assert!(
        verified_ok > unverified_ok,
        "verified {verified_ok} vs unverified {unverified_ok}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markable_default_and_search() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let markable = Markable::with_base(emu.base_url()).unwrap();
    let c = || creds(demo::MARKABLE_CLIENT_ID, demo::MARKABLE_CLIENT_SECRET);

    let private = TokenProvider::builder(markable.clone(), c())
        .scopes("default".parse().unwrap())
        .build()
        .unwrap();
    let t = private.token().await.unwrap();
    assert!(t.publishable().is_none());
    let write = reqwest::Client::new()
        .post(emu.markable_api_url_for("/api/v1/catalogs"))
        .header("content-type", "application/json")
        .body(r#"{"name":"c"}"#)
        .build()
        .unwrap();
    assert!(private.send(write).await.unwrap().status().is_success());

    let search = SearchTokenProvider::new(TokenProvider::builder(markable, c())).unwrap();
    let published = search.publishable_token().await.unwrap();
    assert!(!published.as_str().is_empty());
    let q = reqwest::Client::new()
        .get(emu.markable_api_url_for("/api/v1/search?q=shoes"))
        .build()
        .unwrap();
    assert_eq!(search.send(q).await.unwrap().status(), 200);
    let write = reqwest::Client::new()
        .post(emu.markable_api_url_for("/api/v1/catalogs"))
        .header("content-type", "application/json")
        .body(r#"{"name":"c"}"#)
        .build()
        .unwrap();
    assert_eq!(search.send(write).await.unwrap().status(), 403);

    // Only Markable providers can be search providers.
    let e = SearchTokenProvider::new(TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        c(),
    ))
    .unwrap_err();
    assert!(matches!(e, Error::Auth(_) | Error::Misuse(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_on_a_cold_cache_make_one_request() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(50));
    let p = oauth2(&emu, ClientAuth::Basic);
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (p, b) = (p.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                b.wait().await;
                p.token().await.map(|t| t.id())
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap().unwrap());
    }
    assert_eq!(ids.len(), 1, "every caller got the same token");
    let c = emu.counters();
    assert_eq!(c.token_total(Scheme::Oauth2), 1);
    assert_eq!(c.max_token_in_flight, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_are_renewed_in_the_background() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emu.set_lifetime(Scheme::Oauth2, Duration::from_secs(1))
        .unwrap();
    let p = oauth2(&emu, ClientAuth::Basic);
    let started = Instant::now();
    let mut seen = std::collections::HashSet::new();
    let mut calls = 0;
    while started.elapsed() < Duration::from_millis(2600) {
        calls += 1;
        let t = p.token().await.unwrap();
        seen.insert(t.id());
        let req = reqwest::Client::new()
            .get(emu.url("/oauth2/resource"))
            .build()
            .unwrap();
        assert_eq!(p.send(req).await.unwrap().status(), 200);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen.len() >= 3, "renewed {} times", seen.len());
    // Renewal ran ahead of expiry: no API call needed the 401 retry.
    let c = emu.counters();
    assert_eq!(c.requests[&Endpoint::Oauth2Resource] as usize, calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_with_a_valid_token_is_invisible_to_callers() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emu.set_lifetime(Scheme::Oauth2, Duration::from_secs(3))
        .unwrap();
    let p = oauth2(&emu, ClientAuth::Basic);
    let first = p.token().await.unwrap();
    emu.add_fault(FaultPlan::next(
        Endpoint::Oauth2Token,
        Fault::ServerError {
            status: 503,
            retry_after_secs: None,
        },
        4,
    ))
    .unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2600) {
        p.token().await.expect("no caller error during the outage");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = p.token().await.unwrap();
    assert_ne!(now.id(), first.id(), "renewed once the endpoint recovered");
    let sent = emu.counters().requests[&Endpoint::Oauth2Token];
    assert!(
        (6..=8).contains(&sent),
        "{sent} token requests: 1 + 4 failures + 1-3 renewals"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_respected() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emu.add_fault(FaultPlan::next(
        Endpoint::Oauth2Token,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    ))
    .unwrap();
    let p = oauth2(&emu, ClientAuth::Basic);
    let started = Instant::now();
    p.token().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}",
        started.elapsed()
    );
    assert_eq!(emu.counters().requests[&Endpoint::Oauth2Token], 2);

    // A Retry-After longer than the policy's max_wait is reported at once.
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emu.add_fault(FaultPlan::next(
        Endpoint::Oauth2Token,
        Fault::RateLimited {
            retry_after_secs: 120,
        },
        1,
    ))
    .unwrap();
    let p = oauth2(&emu, ClientAuth::Basic);
    let e = p.token().await.unwrap_err();
    assert_eq!(
        e.as_auth().and_then(CoreError::retry_after),
        Some(Duration::from_secs(120))
    );
    let e = p.token().await.unwrap_err();
    assert!(e.as_auth().and_then(CoreError::retry_after).unwrap() <= Duration::from_secs(120));
    assert_eq!(
        emu.counters().requests[&Endpoint::Oauth2Token],
        1,
        "no request before Retry-After"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_refetched_and_the_call_retried_once() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let p = oauth2(&emu, ClientAuth::Basic);
    let first = p.token().await.unwrap();
    emu.expire_tokens();
    let req = reqwest::Client::new()
        .get(emu.url("/oauth2/resource"))
        .build()
        .unwrap();
    assert_eq!(p.send(req).await.unwrap().status(), 200);
    let c = emu.counters();
    assert_eq!(c.token_total(Scheme::Oauth2), 2, "one re-fetch");
    assert_eq!(c.requests[&Endpoint::Oauth2Resource], 2, "one retry");
    assert_ne!(p.token().await.unwrap().id(), first.id());

    // send_once does not retry, but still drops the dead token.
    emu.expire_tokens();
    let req = reqwest::Client::new()
        .get(emu.url("/oauth2/resource"))
        .build()
        .unwrap();
    assert_eq!(p.send_once(req).await.unwrap().status(), 401);
    p.token().await.unwrap();
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_faults_give_typed_errors() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let provider = || {
        TokenProvider::builder(
            OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
            creds(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET),
        )
        .policy(fast().with_waiting_retries(0))
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap()
    };
    let fault = |f: Fault| {
        emu.clear_faults();
        emu.add_fault(FaultPlan::next(Endpoint::Oauth2Token, f, 1))
            .unwrap();
    };

    fault(Fault::Redirect { status: 302 });
    let e = provider().token().await.unwrap_err();
    assert!(
        matches!(e.as_auth(), Some(CoreError::UnexpectedStatus { location: Some(l), .. }) if l.contains("evil.example.invalid")),
        "{e:?}"
    );

    fault(Fault::HugeBody);
    let e = provider().token().await.unwrap_err();
    assert!(
        matches!(
            e.as_auth(),
            Some(CoreError::Transport {
                kind: TransportErrorKind::BodyTooLarge,
                ..
            })
        ),
        "{e:?}"
    );

    fault(Fault::SlowBody { duration_ms: 3000 });
    let e = provider().token().await.unwrap_err();
    assert!(
        matches!(
            e.as_auth(),
            Some(CoreError::Transport {
                kind: TransportErrorKind::Timeout,
                ..
            })
        ),
        "{e:?}"
    );

    fault(Fault::ConnectionReset);
    let e = provider().token().await.unwrap_err();
    assert!(
        matches!(
            e.as_auth(),
            Some(CoreError::Transport {
                kind: TransportErrorKind::Reset | TransportErrorKind::Connect,
                ..
            })
        ),
        "{e:?}"
    );

    fault(Fault::NotJson);
    let e = provider().token().await.unwrap_err();
    assert!(
        matches!(e.as_auth(), Some(CoreError::MalformedResponse { .. })),
        "{e:?}"
    );

    fault(Fault::TruncatedBody);
    let e = provider().token().await.unwrap_err();
    assert!(
        matches!(
            e.as_auth(),
            Some(CoreError::Transport {
                kind: TransportErrorKind::Body | TransportErrorKind::Reset,
                ..
            })
        ),
        "{e:?}"
    );

    fault(Fault::WrongTokenType);
    let e = provider().token().await.unwrap_err();
    assert!(
        matches!(e.as_auth(), Some(CoreError::UnsupportedTokenType { token_type }) if token_type == "mac"),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_spares_the_next_instance_a_request() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let store = Arc::new(MemoryStore::new());
    let build = || {
        TokenProvider::builder(
            OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
            creds(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET),
        )
        .store(store.clone())
        .build()
        .unwrap()
    };
    let a = build();
    let t = a.token().await.unwrap();
    // The save runs in the background; wait for it without sleeping blindly.
    for _ in 0..100 {
        if !store.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let b = build();
    let t2 = b.token().await.unwrap();
    assert_eq!(
        t.access_token().expose_secret(),
        t2.access_token().expose_secret()
    );
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 1);
}

#[test]
fn configuration_errors_are_clear() {
    let e = OAuth2::new("http://auth.example.com/token", ClientAuth::Basic).unwrap_err();
    assert!(e.to_string().contains("plain http"), "{e}");
    let e = TokenProvider::builder(
        OAuth2::new("https://auth.example.com/token", ClientAuth::Basic).unwrap(),
        creds("id", "secret"),
    )
    .timeout(Duration::ZERO)
    .build()
    .unwrap_err();
    assert!(e.to_string().contains("timeouts"), "{e}");
    let e = TokenProvider::builder(Markable::new(), creds("id", "secret"))
        .scopes("default search".parse().unwrap())
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("exactly one scope"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_does_not_strand_the_other_callers() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(300));
    let p = oauth2(&emu, ClientAuth::Basic);
    // The first caller sends the request itself, then gives up.
    let leader = tokio::time::timeout(Duration::from_millis(50), p.token()).await;
    assert!(leader.is_err(), "the leader was cancelled mid-fetch");
    // A caller arriving afterwards waits for the request the leader left behind.
    let t = tokio::time::timeout(Duration::from_secs(5), p.token())
        .await
        .expect("no caller is stranded")
        .unwrap();
    assert!(t.is_usable(Instant::now()));
    assert!(emu.counters().requests[&Endpoint::Oauth2Token] <= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_never_served_even_without_a_refresh() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emu.set_lifetime(Scheme::Oauth2, Duration::from_secs(1))
        .unwrap();
    let p = oauth2(&emu, ClientAuth::Basic);
    let first = p.token().await.unwrap();
    emu.add_fault(FaultPlan::always(
        Endpoint::Oauth2Token,
        Fault::ServerError {
            status: 503,
            retry_after_secs: None,
        },
    ))
    .unwrap();
    let deadline = first.usable_until().unwrap();
    tokio::time::sleep_until((deadline + Duration::from_millis(50)).into()).await;
    // The hot path skips the clock while a timer guards the expiry; that
    // timer must have cleared the cache by now.
    match p.token().await {
        Ok(t) => assert_ne!(t.id(), first.id(), "an expired token was served"),
        Err(e) => assert!(e.is_retryable(), "{e}"),
    }
}

#[test]
fn a_timer_lost_with_its_runtime_falls_back_to_the_clock() {
    let emu = auth_emulator::BlockingEmulator::start(EmulatorConfig::default()).unwrap();
    emu.set_lifetime(Scheme::Oauth2, Duration::from_secs(1))
        .unwrap();
    let p = TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        creds(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET),
    )
    .build()
    .unwrap();
    let first = {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(p.token()).unwrap()
        // The runtime, and the timer task armed on it, end here.
    };
    std::thread::sleep(first.usable_until().unwrap() - Instant::now() + Duration::from_millis(50));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let next = rt.block_on(p.token()).unwrap();
    assert_ne!(
        next.id(),
        first.id(),
        "an expired token was served after its timer was lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_herd_that_joins_a_failing_fetch_hears_the_error() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(100));
    emu.add_fault(FaultPlan::next(
        Endpoint::Oauth2Token,
        Fault::ServerError {
            status: 503,
            retry_after_secs: None,
        },
        1,
    ))
    .unwrap();
    let p = TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        creds(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET),
    )
    .policy(fast().with_waiting_retries(0))
    .build()
    .unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(
                async move { tokio::time::timeout(Duration::from_secs(5), p.token()).await },
            )
        })
        .collect();
    let mut errors = 0;
    for t in tasks {
        match t.await.unwrap().expect("no caller hangs") {
            Ok(_) => {}
            Err(e) => {
                assert!(e.is_retryable(), "{e}");
                errors += 1;
            }
        }
    }
    assert!(
        errors > 0,
        "the callers that joined the failed fetch heard its error"
    );
    // The next caller starts afresh (after the short backoff) and succeeds.
    p.token().await.unwrap();
}
