//! `X-RateLimit-Limit-<scope>` / `X-RateLimit-Available-<scope>` header
//! pairs, as `RateLimits::from_headers` reads them from any API answer.
//! Input: header lines (the response text format without a status line).
//! Asserts: no panic, one sorted entry per scope, each scope named by a
//! header, limits shortened, and `tightest` the least available.
#![no_main]

use apiauth_fuzz::{expand, read_headers, wall, Markers};
use auth_core::wire::retry_after;
use auth_core::RateLimits;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let data = expand(data, &Markers::default());
    let mut headers = HeaderMap::new();
    read_headers(&data, &mut headers);
    let limits = RateLimits::from_headers(&headers, wall());
    for pair in limits.scopes.windows(2) {
        assert!(
            pair[0].scope < pair[1].scope,
            "scopes not sorted and unique"
        );
    }
    for r in &limits.scopes {
        let named = headers.keys().any(|k| {
            let k = k.as_str();
            k.strip_prefix("x-ratelimit-limit-") == Some(r.scope.as_str())
                || k.strip_prefix("x-ratelimit-available-") == Some(r.scope.as_str())
        });
        assert!(named, "scope {:?} named by no header", r.scope);
        if let Some(l) = &r.limit {
            assert!(l.chars().count() <= 41, "limit not shortened");
        }
    }
    if let Some(t) = limits.tightest() {
        let least = limits.scopes.iter().filter_map(|r| r.available).min();
        assert_eq!(t.available, least);
    }
    assert_eq!(limits.retry_after, retry_after(&headers, wall()));
});
