//! The tower layer at its edges: a caller cancelled while its token is
//! fetched, a caller cancelled between a rejection and its retry, an inner
//! service that panics, and a runtime dropped mid-call with a second one
//! taking over. The emulator runs on its own runtime thread, so dropping a
//! test's runtime leaves it serving.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use auth_core::{ClientAuth, ClientCredentials, OAuth2, RefreshPolicy};
use auth_emulator::{demo, BlockingEmulator, EmulatorConfig, Endpoint, Scheme};
use auth_reqwest::TokenProvider;
use auth_tower::{AuthBody, AuthLayer, AuthService, BoxError};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceExt};

type Hyper = Client<HttpConnector, AuthBody<Empty<Bytes>>>;

fn emulator() -> BlockingEmulator {
    BlockingEmulator::start(EmulatorConfig::default()).unwrap()
}

/// A provider whose callers give up after 10 s: a provider wedged by an
/// abandoned fetch fails them with `WaitTimeout` instead of hanging the test.
fn provider(emu: &BlockingEmulator) -> TokenProvider {
    TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).unwrap(),
    )
    .policy(
        RefreshPolicy::default()
            .with_backoff_initial(Duration::from_millis(20))
            .with_backoff_max(Duration::from_millis(100)),
    )
    .wait_limit(Duration::from_secs(10))
    .build()
    .unwrap()
}

/// A hyper client behind the layer. hyper's pool belongs to the runtime
/// that builds it, so each runtime builds its own; the provider is shared.
fn stack(provider: &TokenProvider) -> AuthService<Hyper> {
    let hyper: Hyper = Client::builder(TokioExecutor::new()).build_http();
    tower::Layer::layer(&AuthLayer::new(provider.clone()), hyper)
}

fn get(emu: &BlockingEmulator) -> http::Request<Empty<Bytes>> {
    http::Request::get(emu.url("/oauth2/resource"))
        .body(Empty::new())
        .unwrap()
}

async fn ok(svc: &mut AuthService<Hyper>, emu: &BlockingEmulator) {
    let r = svc.ready().await.unwrap().call(get(emu)).await.unwrap();
    assert_eq!(r.status(), 200);
    r.into_body().collect().await.unwrap();
}

/// Waits (polling, at most 10 s) until `done` holds.
async fn until(done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the condition did not hold within 10 s");
}

fn resource_calls(emu: &BlockingEmulator) -> u64 {
    emu.counters().requests_to(Endpoint::Oauth2Resource)
}

/// The first caller is cancelled (its task aborted) while the token
/// request is in flight. The request is finished for the next caller, not
/// sent again, and the next caller is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_cancelled_while_its_token_is_fetched_costs_no_second_request() {
    let emu = emulator();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_secs(1));
    let p = provider(&emu);
    let mut svc = stack(&p);
    let mut caller = svc.clone();
    let request = get(&emu);
    let call = tokio::spawn(async move { caller.ready().await.unwrap().call(request).await });
    // Cancelled once its token request has reached the server.
    until(|| emu.counters().requests_to(Endpoint::Oauth2Token) == 1).await;
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    ok(&mut svc, &emu).await;
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 1);
    assert_eq!(
        resource_calls(&emu),
        1,
        "the cancelled call never reached the API"
    );
}

/// The server rejects the token; the caller is cancelled while the layer
/// waits for the new one. The rejected token is retired all the same: the
/// next call does not send it again (which would cost a 401 and a retry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_cancelled_before_its_retry_still_retires_the_rejected_token() {
    let emu = emulator();
    let p = provider(&emu);
    let mut svc = stack(&p);
    ok(&mut svc, &emu).await;
    let rejected = p.token().await.unwrap();

    emu.expire_tokens();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_secs(3));
    let mut caller = svc.clone();
    let request = get(&emu);
    let call = tokio::spawn(async move { caller.ready().await.unwrap().call(request).await });
    // Cancelled once the new token's request has reached the server: the
    // rejected attempt is behind it, and the retry is waiting for it.
    until(|| emu.counters().requests_to(Endpoint::Oauth2Token) == 2).await;
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    assert_eq!(resource_calls(&emu), 2, "the rejected attempt was sent");

    emu.set_latency(Endpoint::Oauth2Token, Duration::ZERO);
    ok(&mut svc, &emu).await;
    assert_eq!(
        resource_calls(&emu),
        3,
        "the next call went out once, with a new token"
    );
    let now = p.token().await.unwrap();
    assert_ne!(now.id(), rejected.id());
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 2);
}

/// An inner service that panics mid-call: the panic is the caller's (its
/// task reports it), and the layer, the provider and its cached token go on
/// serving the next call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_inner_service_leaves_the_layer_serving() {
    let emu = emulator();
    let p = provider(&emu);
    let hyper: Hyper = Client::builder(TokioExecutor::new()).build_http();
    let armed = Arc::new(AtomicBool::new(true));
    let trap = armed.clone();
    let inner = tower::service_fn(move |request: http::Request<AuthBody<Empty<Bytes>>>| {
        let mut hyper = hyper.clone();
        let trap = trap.clone();
        async move {
            assert!(
                !trap.swap(false, Ordering::SeqCst),
                "the inner service panics once"
            );
            hyper.call(request).await.map_err(BoxError::from)
        }
    });
    let svc = tower::Layer::layer(&AuthLayer::new(p.clone()), inner);

    let mut first = svc.clone();
    let request = get(&emu);
    let task = tokio::spawn(async move { first.ready().await.unwrap().call(request).await });
    let joined = task.await;
    assert!(
        joined.unwrap_err().is_panic(),
        "the panic reached the caller's task"
    );
    assert!(!armed.load(Ordering::SeqCst));

    let mut next = svc.clone();
    let r = next.ready().await.unwrap().call(get(&emu)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        emu.counters().token_total(Scheme::Oauth2),
        1,
        "the token fetched before the panic is still served"
    );
}

/// The runtime driving a call is dropped while the token request is in
/// flight. A second runtime, with its own client and the same provider,
/// is served promptly: nothing was left waiting for the dead runtime.
#[test]
fn a_runtime_dropped_mid_call_leaves_the_layer_working_on_another() {
    let emu = emulator();
    // Long enough that the fetch cannot finish between being seen and the
    // runtime's drop, however loaded the machine.
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_secs(5));
    let p = provider(&emu);
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    {
        let p = p.clone();
        let request = get(&emu);
        first.spawn(async move {
            let mut svc = stack(&p);
            started_tx.send(()).unwrap();
            let _ = svc.ready().await.unwrap().call(request).await;
        });
    }
    started_rx.recv().unwrap();
    // Wait until the token request has reached the server.
    for _ in 0..1000 {
        if emu.counters().requests_to(Endpoint::Oauth2Token) > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(emu.counters().requests_to(Endpoint::Oauth2Token), 1);
    drop(first); // must not deadlock
    emu.set_latency(Endpoint::Oauth2Token, Duration::ZERO);

    // A provider wedged by the dead runtime's fetch would fail this call
    // with WaitTimeout (see `provider`); a working one serves it with the
    // abandoned request's short backoff and one more request.
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        let mut svc = stack(&p);
        ok(&mut svc, &emu).await;
    });
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 2);
}
