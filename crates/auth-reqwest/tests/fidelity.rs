//! The async driver against an emulator that answers like the real servers
//! (issue 11): both Openverse flavours, DRF throttles on the token endpoint,
//! key status with nulls, 424 and 403, a 401 that is not about the token,
//! Markable's API on a host of its own, and plain OAuth 2.0 varieties.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::{
    ClientAuth, ClientCredentials, Error as CoreError, Markable, OAuth2, Openverse, RefreshPolicy,
    Routes,
};
use auth_emulator::{
    demo, ClientSpec, Emulator, EmulatorConfig, Endpoint, Fault, FaultPlan, OAuth2Variety,
    OpenverseFlavour, Rate, RateLimitModel, Scheme, Throttles,
};
use auth_reqwest::{ManualClock, SearchTokenProvider, TokenProvider};
use http::StatusCode;

const FLAVOURS: [OpenverseFlavour; 2] = [OpenverseFlavour::Openverse, OpenverseFlavour::CcCatalog];

fn creds(id: &str, secret: &str) -> ClientCredentials {
    ClientCredentials::new(id, secret).unwrap()
}

/// The flavour's own throttles, minus the one-per-second key-status one
/// (whether two calls fall in one second is timing).
fn throttles(flavour: OpenverseFlavour) -> Throttles {
    let base = match flavour {
        OpenverseFlavour::Openverse => Throttles::default(),
        OpenverseFlavour::CcCatalog => Throttles::cc_catalog(),
    };
    Throttles {
        key_status: None,
        ..base
    }
}

async fn emulator(flavour: OpenverseFlavour, throttles: Throttles) -> Emulator {
    Emulator::start(EmulatorConfig {
        flavour,
        throttles,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

/// The dialect preset routed as the flavour's server is.
fn dialect(emu: &Emulator) -> Openverse {
    let routes = match emu.flavour() {
        OpenverseFlavour::Openverse => Routes::Openverse,
        OpenverseFlavour::CcCatalog => Routes::CcCatalog,
    };
    Openverse::with_routes(emu.base_url(), routes).unwrap()
}

fn fast() -> RefreshPolicy {
    RefreshPolicy::default()
        .with_backoff_initial(Duration::from_millis(10))
        .with_backoff_max(Duration::from_millis(100))
}

fn openverse(emu: &Emulator, id: &str, secret: &str) -> TokenProvider {
    TokenProvider::builder(dialect(emu), creds(id, secret))
        .policy(fast())
        .build()
        .unwrap()
}

fn demo_key(emu: &Emulator) -> TokenProvider {
    openverse(
        emu,
        demo::OPENVERSE_CLIENT_ID,
        demo::OPENVERSE_CLIENT_SECRET,
    )
}

fn get(url: String) -> reqwest::Request {
    reqwest::Client::new().get(url).build().unwrap()
}

fn images(emu: &Emulator, query: &str) -> reqwest::Request {
    get(emu.url(&format!("/v1/images/{query}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_key_status_on_both_flavours() {
    for flavour in FLAVOURS {
        let emu = emulator(flavour, throttles(flavour)).await;
        let p = demo_key(&emu);
        let t = p.token().await.unwrap();
        let scopes = match flavour {
            OpenverseFlavour::Openverse => "read write",
            OpenverseFlavour::CcCatalog => "groups read write",
        };
        assert_eq!(t.granted_scopes().canonical(), scopes, "{flavour}");
        let lifetime = t.usable_until().unwrap() - Instant::now();
        assert!(lifetime > Duration::from_secs(11 * 3600), "{lifetime:?}");

        // No history yet: null counts, read as unknown.
        let status = p.key_status().await.unwrap();
        assert_eq!(status.verified, Some(true));
        assert_eq!(status.rate_limit_model.as_deref(), Some("standard"));
        assert_eq!(
            (status.requests_this_minute, status.requests_today),
            (None, None)
        );
        assert!(!status.counts_unavailable);
        assert_eq!(p.send(images(&emu, "?q=cat")).await.unwrap().status(), 200);
        let status = p.key_status().await.unwrap();
        assert_eq!(
            (status.requests_this_minute, status.requests_today),
            (Some(1), Some(1)),
            "{flavour}"
        );

        // An unverified key counts per IP: always null.
        emu.add_client(ClientSpec::openverse("new", "new-secret", false))
            .unwrap();
        let fresh = openverse(&emu, "new", "new-secret");
        assert_eq!(
            fresh.send(images(&emu, "?q=cat")).await.unwrap().status(),
            200
        );
        let status = fresh.key_status().await.unwrap();
        assert_eq!(status.verified, Some(false));
        assert_eq!(status.requests_today, None);

        emu.add_client(
            ClientSpec::openverse("big", "big-secret", true)
                .with_rate_limit_model(RateLimitModel::Enhanced),
        )
        .unwrap();
        let big = openverse(&emu, "big", "big-secret");
        let status = big.key_status().await.unwrap();
        assert_eq!(status.rate_limit_model.as_deref(), Some("enhanced"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exempt_model_and_a_cache_outage() {
    for flavour in FLAVOURS {
        let emu = emulator(flavour, throttles(flavour)).await;
        emu.add_client(
            ClientSpec::openverse("free", "free-secret", true)
                .with_rate_limit_model(RateLimitModel::Exempt),
        )
        .unwrap();
        let free = openverse(&emu, "free", "free-secret");
        let p = demo_key(&emu);
        p.send(images(&emu, "?q=cat")).await.unwrap();
        emu.set_cache_outage(true);
        match flavour {
            OpenverseFlavour::Openverse => {
                let status = free.key_status().await.unwrap();
                assert_eq!(status.rate_limit_model.as_deref(), Some("exempt"));
                // 424: unknown right now, not a failure.
                let status = p.key_status().await.unwrap();
                assert!(status.counts_unavailable);
                assert_eq!(status.requests_today, None);
                assert_eq!(status.verified, Some(true));
            }
            OpenverseFlavour::CcCatalog => {
                // The legacy view knew no `exempt`, nor caught the outage.
                for e in [
                    free.key_status().await.unwrap_err(),
                    p.key_status().await.unwrap_err(),
                ] {
                    assert!(
                        matches!(
                            e.as_auth(),
                            Some(CoreError::KeyStatusFailed { status, .. })
                                if *status == StatusCode::INTERNAL_SERVER_ERROR
                        ),
                        "{e}"
                    );
                }
            }
        }
        emu.set_cache_outage(false);
        assert_eq!(p.key_status().await.unwrap().requests_today, Some(1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_status_forbidden_costs_one_new_token_then_is_typed() {
    for flavour in FLAVOURS {
        let emu = emulator(flavour, throttles(flavour)).await;
        let p = demo_key(&emu);
        p.token().await.unwrap();
        let tokens = || emu.counters().token_total(Scheme::Openverse);
        let excerpt = match flavour {
            // Openverse: the request arrived without its token (a proxy
            // dropped it, twice): `{"detail":"Forbidden"}`. A new token is
            // tried once; the second answer is the caller's.
            OpenverseFlavour::Openverse => {
                emu.add_fault(FaultPlan::next(
                    Endpoint::OpenverseRateLimit,
                    Fault::DropAuthorization,
                    2,
                ))
                .unwrap();
                "{\"detail\":\"Forbidden\"}"
            }
            // CC Catalog: a dead token makes the request anonymous, and the
            // view answers the bare string; a new token is the fix.
            OpenverseFlavour::CcCatalog => {
                emu.expire_tokens();
                let status = p
                    .key_status()
                    .await
                    .expect("the retry with a new token works");
                assert_eq!(status.rate_limit_model.as_deref(), Some("standard"));
                assert_eq!(tokens(), 2, "one new token");
                continue;
            }
        };
        let e = p.key_status().await.unwrap_err();
        match e.as_auth() {
            Some(CoreError::KeyStatusFailed {
                status,
                excerpt: got,
                ..
            }) => {
                assert_eq!(*status, StatusCode::FORBIDDEN);
                assert!(got.contains(excerpt), "{got}");
            }
            other => panic!("{flavour}: expected KeyStatusFailed 403, got {other:?}"),
        }
        assert_eq!(tokens(), 2, "one retry, not more");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drf_429_on_the_token_endpoint_is_a_rate_limit_for_hours() {
    // One anonymous request a day per IP: the first token request uses it.
    let emu = emulator(
        OpenverseFlavour::Openverse,
        Throttles {
            anon_burst: Some(Rate::per_day(1)),
            ..throttles(OpenverseFlavour::Openverse)
        },
    )
    .await;
    let first = demo_key(&emu);
    let held = first.token().await.unwrap();

    // The neighbour's clock is manual: the test moves it past the backoff.
    let clock = Arc::new(ManualClock::new());
    let second = TokenProvider::builder(
        dialect(&emu),
        creds(demo::OPENVERSE_CLIENT_ID, demo::OPENVERSE_CLIENT_SECRET),
    )
    .policy(fast())
    .clock(clock.clone())
    .build()
    .unwrap();
    let e = second.token().await.unwrap_err();
    assert!(
        matches!(e.as_auth(), Some(CoreError::RateLimited { .. })),
        "{e:?}"
    );
    assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    let wait = e.retry_after().unwrap();
    assert!(wait >= Duration::from_secs(3600), "{wait:?}");
    assert!(e.is_retryable());
    // Retry-After is honoured: a second later, far past the policy's
    // 100 ms backoff and far before the hours the server asked for, the
    // error is answered from memory, with the wait that is left.
    clock.advance(Duration::from_secs(1));
    let again = second.token().await.unwrap_err();
    let left = again.retry_after().unwrap();
    assert!(left >= Duration::from_secs(3500) && left < wait, "{left:?}");
    assert_eq!(emu.counters().token_total(Scheme::Openverse), 2);

    // The provider that holds a token is untouched by its neighbour's 429.
    assert_eq!(first.token().await.unwrap().id(), held.id());
    assert_eq!(
        first.send(images(&emu, "?q=cat")).await.unwrap().status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_refresh_keeps_serving_the_cached_token() {
    let emu = emulator(
        OpenverseFlavour::Openverse,
        Throttles {
            anon_burst: Some(Rate::per_day(1)),
            ..throttles(OpenverseFlavour::Openverse)
        },
    )
    .await;
    // The client takes the 12 h token for 8 s, so its refresh-ahead window
    // (the last 2 s before a 100 ms margin) opens 5.9 s in; the clock is
    // moved there.
    let clock = Arc::new(ManualClock::new());
    let policy = fast()
        .with_max_lifetime(Duration::from_secs(8))
        .with_safety_margin(Duration::from_millis(100))
        .with_refresh_ahead(Duration::from_secs(2))
        .with_refresh_jitter(0.0);
    let p = TokenProvider::builder(
        dialect(&emu),
        creds(demo::OPENVERSE_CLIENT_ID, demo::OPENVERSE_CLIENT_SECRET),
    )
    .policy(policy)
    .clock(clock.clone())
    .build()
    .unwrap();
    let held = p.token().await.unwrap();
    clock.advance(Duration::from_secs(6));
    let deadline = Instant::now() + Duration::from_secs(30);
    // Every read returns the held token; one of them starts the refresh,
    // which the token endpoint throttles.
    while emu.counters().token_total(Scheme::Openverse) < 2 {
        assert!(Instant::now() < deadline, "no refresh was attempted");
        assert_eq!(p.token().await.unwrap().id(), held.id());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Past the policy's backoff, still inside the window: the 429's
    // Retry-After holds the next attempt back.
    clock.advance(Duration::from_secs(1));
    assert_eq!(p.token().await.unwrap().id(), held.id());
    assert_eq!(p.send(images(&emu, "?q=cat")).await.unwrap().status(), 200);
    assert_eq!(emu.counters().token_total(Scheme::Openverse), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_that_is_not_about_the_token_leaves_it_alone() {
    let emu = emulator(
        OpenverseFlavour::Openverse,
        throttles(OpenverseFlavour::Openverse),
    )
    .await;
    let p = demo_key(&emu);
    let held = p.token().await.unwrap();
    // A proxy drops the header: the server sees an anonymous page_size of
    // 21 and answers DRF's NotAuthenticated, whose challenge names no error.
    emu.add_fault(FaultPlan::next(
        Endpoint::OpenverseImages,
        Fault::DropAuthorization,
        1,
    ))
    .unwrap();
    let r = p.send(images(&emu, "?q=cat&page_size=21")).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"api\""
    );
    assert_eq!(emu.counters().token_total(Scheme::Openverse), 1);
    assert_eq!(emu.counters().requests_to(Endpoint::OpenverseImages), 1);
    assert_eq!(p.token().await.unwrap().id(), held.id());
    // With its token, the same request is fine.
    let r = p.send(images(&emu, "?q=cat&page_size=21")).await.unwrap();
    assert_eq!(r.status(), 200);

    // An invalid_token 401 does cost the token: a new one, one retry.
    emu.expire_tokens();
    let r = p.send(images(&emu, "?q=cat")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(emu.counters().token_total(Scheme::Openverse), 2);
    assert_ne!(p.token().await.unwrap().id(), held.id());

    // The CC Catalog server never said 401: a dead token's search was
    // served as anonymous.
    let emu = emulator(
        OpenverseFlavour::CcCatalog,
        throttles(OpenverseFlavour::CcCatalog),
    )
    .await;
    let p = demo_key(&emu);
    p.token().await.unwrap();
    emu.expire_tokens();
    let r = p.send(images(&emu, "?q=cat")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-ratelimit-limit-anon_burst"));
    assert_eq!(emu.counters().token_total(Scheme::Openverse), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markable_on_its_own_api_host() {
    let emu = emulator(OpenverseFlavour::Openverse, Throttles::default()).await;
    let markable = Markable::with_base(emu.base_url()).unwrap();
    let c = || creds(demo::MARKABLE_CLIENT_ID, demo::MARKABLE_CLIENT_SECRET);
    let private = TokenProvider::builder(markable.clone(), c())
        .scopes("default".parse().unwrap())
        .policy(fast())
        .build()
        .unwrap();
    let t = private.token().await.unwrap();
    // Millisecond `expires_at`, years away (held for the policy's 24 h).
    let left = t.usable_until().unwrap() - Instant::now();
    assert!(left > Duration::from_secs(23 * 3600), "{left:?}");

    let write = |name: &str| {
        reqwest::Client::new()
            .post(emu.markable_api_url_for("/api/v1/catalogs"))
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"data":{{"type":"catalogs","attributes":{{"name":"{name}"}}}}}}"#
            ))
            .build()
            .unwrap()
    };
    assert_eq!(private.send(write("spring")).await.unwrap().status(), 201);
    // A conflict is the API's answer, not the token's.
    assert_eq!(private.send(write("spring")).await.unwrap().status(), 409);
    // The authorization host has no API.
    let r = private
        .send(get(emu.url("/api/v1/search?q=shoes")))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let search = SearchTokenProvider::new(TokenProvider::builder(markable, c())).unwrap();
    assert!(!search
        .publishable_token()
        .await
        .unwrap()
        .as_str()
        .is_empty());
    let q = || get(emu.markable_api_url_for("/api/v1/search?q=shoes"));
    assert_eq!(search.send(q()).await.unwrap().status(), 200);
    assert_eq!(search.send(write("summer")).await.unwrap().status(), 403);
    assert_eq!(emu.counters().token_total(Scheme::Markable), 2);

    // A rejected token on the API host is re-fetched from the auth host.
    emu.expire_tokens();
    assert_eq!(search.send(q()).await.unwrap().status(), 200);
    assert_eq!(emu.counters().token_total(Scheme::Markable), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_oauth2_varieties() {
    let emu = emulator(OpenverseFlavour::Openverse, Throttles::default()).await;
    emu.set_oauth2_variety(OAuth2Variety {
        lowercase_bearer: true,
        omit_scope: true,
        narrow_scopes: true,
    });
    let provider = |scopes: &str| {
        TokenProvider::builder(
            OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
            creds(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET),
        )
        .scopes(scopes.parse().unwrap())
        .policy(fast())
        .build()
        .unwrap()
    };
    // `bearer` and no `scope` (it is what was asked): both accepted.
    let p = provider("read write");
    let t = p.token().await.unwrap();
    assert_eq!(t.granted_scopes().canonical(), "read write");
    let r = p.send(get(emu.url("/oauth2/resource"))).await.unwrap();
    assert_eq!(r.status(), 200);

    // A narrowed grant is not the scope asked for: refused, not kept.
    let e = provider("read root").token().await.unwrap_err();
    match e.as_auth() {
        Some(CoreError::ScopeNotGranted { requested, granted }) => {
            assert_eq!(
                (requested.as_str(), granted.as_str()),
                ("read root", "read")
            );
        }
        other => panic!("expected ScopeNotGranted, got {other:?}"),
    }
}
