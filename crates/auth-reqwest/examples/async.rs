//! Get a token and call an API with it, against an emulator started
//! in-process: `cargo run -p auth-reqwest --example async`.

use auth_core::{ClientAuth, ClientCredentials, OAuth2};
use auth_emulator::{demo, Emulator, EmulatorConfig};
use auth_reqwest::TokenProvider;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let provider = OAuth2::new(&emulator.url("/oauth2/token"), ClientAuth::Basic)?;
    let credentials = ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET)?;
    let tokens = TokenProvider::builder(provider, credentials)
        .scopes("read".parse()?)
        .build()?;

    let token = tokens.token().await?; // one request; later reads hit the cache
    println!("token [redacted], scopes `{}`", token.granted_scopes());
    let request = reqwest::Client::new()
        .get(emulator.url("/oauth2/resource"))
        .build()?;
    let response = tokens.send(request).await?; // a 401 gets one re-fetch and retry
    println!("HTTP {}", response.status());
    Ok(())
}
