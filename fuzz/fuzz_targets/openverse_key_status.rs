//! Openverse `/v1/rate_limit/` answer, as
//! `Openverse::parse_key_status_response` reads it for the access token the
//! request carried (the known token; plant it with `$T<c>`).
//!
//! Asserts: no panic; a standing only from a 2xx (or the 424 that says the
//! counts are unavailable); the model name kept short; and no error shows
//! the token in any form (base64 `id:token` is no form a token travels in).
#![no_main]

use apiauth_fuzz::{response_from, wall, Secret, ACCESS_TOKEN};
use auth_core::{AccessToken, Openverse};
use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn token_oracle() -> &'static Secret {
    static S: OnceLock<Secret> = OnceLock::new();
    S.get_or_init(|| Secret::without_id(ACCESS_TOKEN))
}

fuzz_target!(|data: &[u8]| {
    let input = response_from(data);
    let token = AccessToken::new(ACCESS_TOKEN);
    let status = input.response.status();
    match Openverse::openverse_org().parse_key_status_response(&input.response, &token, wall()) {
        Ok(standing) => {
            assert!(
                status.is_success() || status == StatusCode::FAILED_DEPENDENCY,
                "a standing read from HTTP {status}"
            );
            if let Some(model) = &standing.rate_limit_model {
                assert!(
                    model.chars().count() <= 61,
                    "rate_limit_model not shortened"
                );
            }
        }
        Err(e) => token_oracle().assert_clean(&e),
    }
});
