//! Openverse / CC Catalog `/v1/auth_tokens/token/` answer, as
//! `Openverse::parse_token_response` reads it: no panic, no unusable token
//! accepted, and no client secret in any encoding in the error.
#![no_main]

use apiauth_fuzz::{assert_no_client_secret, check_token, credentials, response_from, wall};
use auth_core::{Openverse, Provider, ResponseContext};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = response_from(data);
    let creds = credentials();
    let scopes = input.scopes();
    let cx = ResponseContext {
        credentials: &creds,
        requested: &scopes,
        wall: wall(),
    };
    match Provider::from(Openverse::openverse_org()).parse_token_response(&input.response, cx) {
        Ok(token) => check_token(&token),
        Err(e) => assert_no_client_secret(&e),
    }
});
