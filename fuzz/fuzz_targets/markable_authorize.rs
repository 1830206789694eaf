//! Markable `/auth/client/authorize` answer — `{"data":{…}}` on success,
//! JSON:API `{"errors":[…]}` otherwise — as `Markable::parse_token_response`
//! reads it. The status line's words are the scope asked for (`search` or
//! `default`). Asserts: no panic, no unusable token accepted, a token is
//! publishable only when `search` was asked for, and no client secret in
//! any encoding in the error.
#![no_main]

use apiauth_fuzz::{assert_no_client_secret, check_token, credentials, response_from, wall};
use auth_core::{Markable, MarkableScope, Provider, ResponseContext};
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
    match Provider::from(Markable::new()).parse_token_response(&input.response, cx) {
        Ok(token) => {
            check_token(&token);
            if token.publishable {
                assert_eq!(
                    MarkableScope::from_scopes(&scopes).ok(),
                    Some(MarkableScope::Search),
                    "a token not asked for as `search` is publishable"
                );
            }
        }
        Err(e) => assert_no_client_secret(&e),
    }
});
