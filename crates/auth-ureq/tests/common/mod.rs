//! Helpers shared by the integration tests: an emulator, fast policies and
//! providers pointed at it.

#![allow(dead_code)] // each test binary uses a different subset
#![allow(clippy::unwrap_used)] // test fixtures: a failure here is a broken test setup

use std::time::Duration;

use auth_core::{ClientAuth, ClientCredentials, Markable, OAuth2, Openverse, RefreshPolicy};
use auth_emulator::{demo, BlockingEmulator, EmulatorConfig};
use auth_ureq::{TokenProvider, TokenProviderBuilder};

pub fn emulator() -> BlockingEmulator {
    BlockingEmulator::start(EmulatorConfig::default()).expect("emulator starts")
}

/// Backoffs of tens of milliseconds, so retry tests take well under a second.
pub fn fast_policy() -> RefreshPolicy {
    RefreshPolicy::default()
        .with_backoff_initial(Duration::from_millis(20))
        .with_backoff_max(Duration::from_millis(200))
        .with_max_wait(Duration::from_secs(2))
        .with_final_failure_cooldown(Duration::from_secs(1))
}

pub fn oauth2(emu: &BlockingEmulator, auth: ClientAuth) -> TokenProviderBuilder {
    oauth2_with_secret(emu, auth, demo::OAUTH2_CLIENT_SECRET)
}

pub fn oauth2_with_secret(
    emu: &BlockingEmulator,
    auth: ClientAuth,
    secret: &str,
) -> TokenProviderBuilder {
    let provider = OAuth2::new(&emu.url("/oauth2/token"), auth).unwrap();
    let credentials = ClientCredentials::new(demo::OAUTH2_CLIENT_ID, secret).unwrap();
    TokenProvider::builder(provider, credentials)
        .scopes("read write".parse().unwrap())
        .policy(fast_policy())
        .seed(7)
}

pub fn openverse(emu: &BlockingEmulator) -> Openverse {
    Openverse::with_base(emu.base_url()).unwrap()
}

pub fn markable(emu: &BlockingEmulator) -> TokenProviderBuilder {
    let credentials =
        ClientCredentials::new(demo::MARKABLE_CLIENT_ID, demo::MARKABLE_CLIENT_SECRET).unwrap();
    TokenProvider::builder(Markable::with_base(emu.base_url()).unwrap(), credentials)
        .policy(fast_policy())
        .seed(7)
}

pub fn get(url: String) -> http::Request<Vec<u8>> {
    http::Request::get(url).body(Vec::new()).unwrap()
}
