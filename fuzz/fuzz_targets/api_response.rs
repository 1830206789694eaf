//! An API answer's status and `WWW-Authenticate` challenges (RFC 6750 §3,
//! RFC 9110 §11.6.1 lists), as `classify_api_response` and
//! `RejectionPolicy::is_rejected` read them. Input: the response text
//! format (the body only counts as empty or not).
//!
//! Asserts: no panic; only a 401 rejects a token under the plain policy,
//! and the classifier and the policy agree on it; a wider policy rejects at
//! least what a narrower one does; a 429 carries `Retry-After`.
#![no_main]

use apiauth_fuzz::{response_from, wall};
use auth_core::wire::retry_after;
use auth_core::{classify_api_response, ApiOutcome, Openverse, Provider, RejectionPolicy};
use http::StatusCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = response_from(data);
    let (status, headers) = (input.response.status(), input.response.headers());
    let empty = input.response.body().is_empty();
    let outcome = classify_api_response(status, headers, wall());

    let plain = RejectionPolicy::unauthorized();
    let empty_403 = plain.clone().with_forbidden_empty(true);
    let any_403 = plain.clone().with_forbidden(true);
    // Openverse's: only a 401 that says `invalid_token` costs a token.
    let strict = plain.clone().with_invalid_token_only(true);
    let d = strict.is_rejected(status, headers, empty);
    let (a, b, c) = (
        plain.is_rejected(status, headers, empty),
        empty_403.is_rejected(status, headers, empty),
        any_403.is_rejected(status, headers, empty),
    );
    assert_eq!(
        a,
        outcome == ApiOutcome::TokenRejected,
        "{status} {outcome:?}"
    );
    assert!(!a || b, "a wider policy rejects less");
    assert!(!b || c, "a wider policy rejects less");
    assert!(!d || a, "the invalid_token-only policy rejects more than the plain one");
    if a {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    if c {
        assert!(matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ));
    }
    assert_eq!(
        Provider::from(Openverse::openverse_org()).default_rejection(),
        strict.with_forbidden_empty(true)
    );
    match outcome {
        ApiOutcome::RateLimited { retry_after: r } => {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(r, retry_after(headers, wall()));
        }
        ApiOutcome::Forbidden => {
            assert!(matches!(
                status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            ));
        }
        _ => {}
    }
});
