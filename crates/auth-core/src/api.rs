//! Reading the answer of a protected API call, so drivers know when a token
//! was rejected (and must be invalidated and re-fetched once).

use std::time::{Duration, SystemTime};

use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, StatusCode};

/// What an API response says about the token that was sent with it.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiOutcome {
    /// Anything that is not about the token (2xx, 404, 500, …).
    NotAboutToken,
    /// 401: the token is expired, revoked or unknown (RFC 6750 §3.1
    /// `invalid_token`). Invalidate it; a retry with a new token may work.
    TokenRejected,
    /// 403, or 401 with `insufficient_scope`: the token is fine but may not
    /// do this. A new token would not help.
    Forbidden,
    /// 429: slow down.
    RateLimited {
        /// `Retry-After`, if sent.
        retry_after: Option<Duration>,
    },
}

/// Classifies an API response by status and `WWW-Authenticate`.
///
/// A 401 counts as "token rejected" unless its Bearer challenge names
/// another error: CC Catalog sends `error="invalid_token"`, Markable sends
/// no challenge at all, and either way a fresh token is the one fix to try.
#[must_use]
pub fn classify_api_response(
    status: StatusCode,
    headers: &HeaderMap,
    wall: SystemTime,
) -> ApiOutcome {
    match status {
        StatusCode::UNAUTHORIZED => match bearer_error(headers).as_deref() {
            Some("invalid_request") => ApiOutcome::NotAboutToken,
            Some("insufficient_scope") => ApiOutcome::Forbidden,
            _ => ApiOutcome::TokenRejected,
        },
        StatusCode::FORBIDDEN => ApiOutcome::Forbidden,
        StatusCode::TOO_MANY_REQUESTS => ApiOutcome::RateLimited {
            retry_after: crate::wire::retry_after(headers, wall),
        },
        _ => ApiOutcome::NotAboutToken,
    }
}

/// The `error` parameter of a `Bearer` challenge (RFC 6750 §3), if any.
fn bearer_error(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let Ok(v) = value.to_str() else { continue };
        let v = v.trim_start();
        if v.len() < 6 || !v[..6].eq_ignore_ascii_case("bearer") {
            continue;
        }
        for param in v[6..].split(',') {
            let Some((k, val)) = param.split_once('=') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("error") {
                return Some(val.trim().trim_matches('"').to_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with_challenge(c: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(WWW_AUTHENTICATE, HeaderValue::from_static(c));
        h
    }

    #[test]
    fn cc_catalog_invalid_token_is_a_rejection() {
        let wall = SystemTime::UNIX_EPOCH;
        let h = with_challenge(r#"Bearer realm="api", error="invalid_token""#);
        assert_eq!(
            classify_api_response(StatusCode::UNAUTHORIZED, &h, wall),
            ApiOutcome::TokenRejected
        );
        assert_eq!(
            classify_api_response(StatusCode::UNAUTHORIZED, &HeaderMap::new(), wall),
            ApiOutcome::TokenRejected
        );
        let h = with_challenge(r#"Bearer error="insufficient_scope""#);
        assert_eq!(
            classify_api_response(StatusCode::UNAUTHORIZED, &h, wall),
            ApiOutcome::Forbidden
        );
        let h = with_challenge(r#"Bearer error="invalid_request""#);
        assert_eq!(
            classify_api_response(StatusCode::UNAUTHORIZED, &h, wall),
            ApiOutcome::NotAboutToken
        );
        assert_eq!(
            classify_api_response(StatusCode::FORBIDDEN, &HeaderMap::new(), wall),
            ApiOutcome::Forbidden
        );
        assert_eq!(
            classify_api_response(StatusCode::OK, &HeaderMap::new(), wall),
            ApiOutcome::NotAboutToken
        );
    }
}
