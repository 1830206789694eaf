//! RFC 6749 §5.1 / §5.2 token response, as `OAuth2::parse_token_response`
//! reads it: no panic, no unusable token accepted, and no client secret in
//! any encoding in the error.
#![no_main]

use apiauth_fuzz::{assert_no_client_secret, check_token, credentials, response_from, wall};
use auth_core::{ClientAuth, OAuth2, Provider, ResponseContext};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = response_from(data);
    let creds = credentials();
    let scopes = input.scopes();
    let Ok(provider) = OAuth2::new("https://auth.example.com/oauth2/token", ClientAuth::Basic)
    else {
        panic!("the fuzz token URL is refused");
    };
    let cx = ResponseContext {
        credentials: &creds,
        requested: &scopes,
        wall: wall(),
    };
    match Provider::from(provider).parse_token_response(&input.response, cx) {
        Ok(token) => check_token(&token),
        Err(e) => assert_no_client_secret(&e),
    }
});
