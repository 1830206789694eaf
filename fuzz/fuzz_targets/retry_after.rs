//! `Retry-After` (RFC 9110 §10.2.3) in both forms, delay-seconds and
//! HTTP-date, as `wire::retry_after` reads it.
//!
//! Input: the first line is the wall time in Unix seconds (the fixed fuzz
//! wall time if it is not a number); each further line is one
//! `Retry-After` value. Asserts: no panic; seconds read exactly (too many
//! digits saturate; a leading `+` is tolerated); a date is measured
//! against the wall time (a past date is zero); anything else is no delay;
//! and a 429 gives the same delay through
//! `classify_api_response` and through a token endpoint's error.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use apiauth_fuzz::{credentials, wall};
use auth_core::wire::retry_after;
use auth_core::{classify_api_response, ApiOutcome, ClientAuth, OAuth2, Provider, ResponseContext};
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let wall = lines
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .and_then(|l| l.trim().parse::<u64>().ok())
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .unwrap_or_else(wall);
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Ok(v) = HeaderValue::from_bytes(line.trim_ascii()) {
            headers.append(RETRY_AFTER, v);
        }
    }
    let got = retry_after(&headers, wall);

    // What the first value says, read independently.
    if let Some(v) = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            let want = v.parse::<u64>().unwrap_or(u64::MAX);
            assert_eq!(got, Some(Duration::from_secs(want)), "seconds {v:?}");
        } else if let Some(n) = v.strip_prefix('+').and_then(|n| n.parse::<u64>().ok()) {
            // Not delay-seconds (RFC 9110 §10.2.3: 1*DIGIT), but Rust's
            // `u64::from_str` takes a sign and the reader is lenient: `+5`
            // reads as 5 s. Tolerated, so the target looks for worse.
            assert!(
                got == Some(Duration::from_secs(n)) || got.is_none(),
                "signed seconds {v:?}"
            );
        } else if let Ok(at) = httpdate::parse_http_date(v) {
            let want = at.duration_since(wall).unwrap_or(Duration::ZERO);
            assert_eq!(got, Some(want), "date {v:?}");
        } else {
            assert_eq!(got, None, "neither seconds nor a date: {v:?}");
        }
    } else {
        assert_eq!(got, None);
    }

    // The same answer through the API classifier and a token endpoint.
    assert_eq!(
        classify_api_response(StatusCode::TOO_MANY_REQUESTS, &headers, wall),
        ApiOutcome::RateLimited { retry_after: got }
    );
    let mut response = Response::new(Vec::new());
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    *response.headers_mut() = headers;
    let creds = credentials();
    let scopes = auth_core::Scopes::empty();
    let Ok(p) = OAuth2::new("https://auth.example.com/token", ClientAuth::Post) else {
        panic!("the fuzz token URL is refused");
    };
    let cx = ResponseContext {
        credentials: &creds,
        requested: &scopes,
        wall,
    };
    match Provider::from(p).parse_token_response(&response, cx) {
        Ok(_) => panic!("a 429 gave a token"),
        Err(e) => {
            assert_eq!(e.retry_after(), got);
            let _ = e.to_string();
        }
    }
});
