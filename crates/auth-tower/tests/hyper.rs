//! A hyper client through `AuthLayer` against the emulator's protected
//! resource: a token the server expired is replaced once, and `poll_ready`
//! never waits for a token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::task::Poll;
use std::time::Duration;

use auth_core::{ClientAuth, ClientCredentials, OAuth2};
use auth_emulator::{demo, Emulator, EmulatorConfig, Endpoint, Scheme};
use auth_tower::{AuthBody, AuthLayer, AuthService};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceExt};

type Hyper = Client<HttpConnector, AuthBody<Empty<Bytes>>>;

fn stack(emu: &Emulator) -> AuthService<Hyper> {
    let provider = auth_reqwest::TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).unwrap(),
    )
    .build()
    .unwrap();
    let hyper: Hyper = Client::builder(TokioExecutor::new()).build_http();
    tower::ServiceBuilder::new()
        .layer(AuthLayer::new(provider))
        .service(hyper)
}

fn get(emu: &Emulator) -> http::Request<Empty<Bytes>> {
    http::Request::get(emu.url("/oauth2/resource"))
        .body(Empty::new())
        .unwrap()
}

fn token_requests(emu: &Emulator) -> u64 {
    emu.counters().token_total(Scheme::Oauth2)
}

#[tokio::test]
async fn a_token_the_server_expired_is_replaced_once() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut svc = stack(&emu);
    let r = svc.ready().await.unwrap().call(get(&emu)).await.unwrap();
    assert_eq!(r.status(), 200);
    r.into_body().collect().await.unwrap();
    assert_eq!(token_requests(&emu), 1);

    // The server forgets every token: the next call gets 401
    // invalid_token, and the layer fetches a new one and sends again.
    emu.expire_tokens();
    let r = svc.ready().await.unwrap().call(get(&emu)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(token_requests(&emu), 2);
    let api_calls = emu
        .counters()
        .requests
        .get(&Endpoint::Oauth2Resource)
        .copied();
    assert_eq!(api_calls, Some(3), "one retry, not more");
}

#[tokio::test]
async fn poll_ready_does_not_wait_for_a_token() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    // A token endpoint that takes a minute: a poll_ready waiting for it
    // would be pending.
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_secs(60));
    let mut svc = stack(&emu);
    let ready = std::future::poll_fn(|cx| Poll::Ready(svc.poll_ready(cx))).await;
    assert!(matches!(ready, Poll::Ready(Ok(()))), "{ready:?}");
}

#[tokio::test]
async fn a_token_endpoint_failure_is_a_typed_error_naming_the_cause() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let provider = auth_reqwest::TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, "not-the-secret").unwrap(),
    )
    .build()
    .unwrap();
    let hyper: Hyper = Client::builder(TokioExecutor::new()).build_http();
    let mut svc = tower::Layer::layer(&AuthLayer::new(provider), hyper);
    let e = svc
        .ready()
        .await
        .unwrap()
        .call(get(&emu))
        .await
        .unwrap_err();
    assert!(matches!(e, auth_tower::Error::Token(_)), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("invalid_client"), "{text}");
    assert!(!text.contains("not-the-secret"), "{text}");
}
