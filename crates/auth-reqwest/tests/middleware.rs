//! The reqwest-middleware layer authorizes and retries a rejected token once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth_core::{ClientAuth, ClientCredentials, OAuth2};
use auth_emulator::{demo, Emulator, EmulatorConfig, Endpoint, Scheme};
use auth_reqwest::{AuthMiddleware, TokenProvider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middleware_authorizes_and_retries_once() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let provider = TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).unwrap(),
    )
    .build()
    .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(provider))
        .build();
    let r = client
        .get(emu.url("/oauth2/resource"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    emu.expire_tokens();
    let r = client
        .get(emu.url("/oauth2/resource"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c = emu.counters();
    assert_eq!(c.token_total(Scheme::Oauth2), 2);
    assert_eq!(
        c.requests[&Endpoint::Oauth2Resource],
        3,
        "two calls, one retried"
    );
}
