//! Get a token and call an API with it, against an emulator started in-process.

use auth_core::{ClientAuth, ClientCredentials, OAuth2};
use auth_emulator::{demo, BlockingEmulator, EmulatorConfig};
use auth_ureq::TokenProvider;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = BlockingEmulator::start(EmulatorConfig::default())?;
    let provider = OAuth2::new(&emulator.url("/oauth2/token"), ClientAuth::Basic)?;
    let credentials = ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET)?;
    let tokens = TokenProvider::builder(provider, credentials)
        .scopes("read".parse()?)
        .build()?;

    let token = tokens.token()?;
    println!("token [redacted], scopes `{}`", token.granted_scopes());
    let request = http::Request::get(emulator.url("/oauth2/resource")).body(Vec::new())?;
    let response = tokens.send(request)?;
    println!("HTTP {}", response.status());
    Ok(())
}
