//! Openverse `/v1/auth_tokens/register/` answer, as
//! `Openverse::parse_registration_response` reads it.
//!
//! The new client secret is in the body, so that is the secret the parser
//! knows: whenever the body's `client_secret` is the fuzz secret (plant it
//! with `"client_secret":"$S1"`), the error must not show it in any
//! encoding (the base64 of `id:secret` only when the body names the id
//! too). A success must carry exactly the body's credentials.
#![no_main]

use apiauth_fuzz::{response_from, wall, Secret, CLIENT_ID, CLIENT_SECRET};
use auth_core::Openverse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = response_from(data);
    let body: Option<serde_json::Value> = serde_json::from_slice(input.response.body()).ok();
    let text = |k: &str| {
        body.as_ref()
            .and_then(|b| b.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let (body_id, body_secret) = (text("client_id"), text("client_secret"));
    match Openverse::openverse_org().parse_registration_response(&input.response, wall()) {
        Ok(client) => {
            assert_eq!(Some(client.credentials.client_id()), body_id.as_deref());
            assert_eq!(
                client
                    .credentials
                    .client_secret()
                    .map(|s| s.expose_secret()),
                body_secret.as_deref()
            );
            assert!(!format!("{:?}", client.credentials).contains(CLIENT_SECRET));
        }
        Err(e) => {
            if body_secret.as_deref() == Some(CLIENT_SECRET) {
                match body_id.as_deref() {
                    Some(CLIENT_ID) => Secret::client().assert_clean(&e),
                    Some(id) => Secret::new(CLIENT_SECRET, id).assert_clean(&e),
                    None => Secret::without_id(CLIENT_SECRET).assert_clean(&e),
                }
            }
        }
    }
});
