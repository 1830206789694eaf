//! The smallest real program on the blocking driver: get a token from any
//! RFC 6749 server and print when it expires. No emulator, no runtime —
//! `cargo xtask bench` measures this binary's release size.
//!
//! ```sh
//! TOKEN_URL=https://auth.example.com/token CLIENT_ID=… CLIENT_SECRET=… \
//!     cargo run --release -p auth-ureq --example token
//! ```

use auth_core::{ClientAuth, ClientCredentials, OAuth2};
use auth_ureq::TokenProvider;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let provider = OAuth2::new(&var("TOKEN_URL")?, ClientAuth::Basic)?;
    let credentials = ClientCredentials::new(var("CLIENT_ID")?, var("CLIENT_SECRET")?)?;
    let tokens = TokenProvider::builder(provider, credentials).build()?;
    let token = tokens.token()?;
    println!(
        "token [redacted], scopes `{}`, usable for {:?}",
        token.granted_scopes(),
        token.remaining(std::time::Instant::now())
    );
    Ok(())
}
