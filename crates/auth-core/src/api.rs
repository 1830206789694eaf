//! Reading the answer of a protected API call, so drivers know when a token
//! was rejected (and must be invalidated and re-fetched once).

use std::time::{Duration, SystemTime};

use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, StatusCode};

use crate::provider::Provider;

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
    /// do this. A new token would not help. (Some APIs answer a revoked token
    /// with 403 too; [`RejectionPolicy`] says which 403s reject it.)
    Forbidden,
    /// 429: slow down.
    RateLimited {
        /// `Retry-After`, if sent.
        retry_after: Option<Duration>,
    },
}

/// Which API answers mean "the token was rejected" (invalidate it, fetch a
/// new one, retry once).
///
/// APIs disagree: RFC 6750 §3.1 says a 401 with `invalid_token`, but some
/// answer a revoked token with a bare 403. Counting too little strands a
/// caller on a dead token; counting too much costs a token fetch per API
/// call. So it is a per-provider policy: start from
/// [`Provider::default_rejection`] and widen it for an API that needs it.
///
/// A 403 whose Bearer challenge names `insufficient_scope` is never a
/// rejection, whatever the policy: the token is fine, it just may not do
/// this, and a new one with the same scopes would not help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectionPolicy {
    forbidden_empty: bool,
    forbidden: bool,
    invalid_token_only: bool,
}

impl RejectionPolicy {
    /// 401 whose Bearer challenge says `invalid_token` or names no error
    /// (RFC 6750 §3.1); the OAuth2 and Markable default.
    ///
    /// Precisely: a 401 is a rejection unless its Bearer challenge names
    /// `invalid_request` (the request is wrong, not the token) or
    /// `insufficient_scope`. A 401 with no challenge (Markable), a non-Bearer
    /// challenge, or an error code RFC 6750 does not define counts as a
    /// rejection: a fresh token is the one fix to try, and only once.
    #[must_use]
    pub fn unauthorized() -> Self {
        Self {
            forbidden_empty: false,
            forbidden: false,
            invalid_token_only: false,
        }
    }

    /// Counts a 401 only when its Bearer challenge says
    /// `error="invalid_token"`: for APIs whose other 401s are not about
    /// the token. Openverse answers DRF's `NotAuthenticated` (a challenge
    /// naming no error) to a request it takes as anonymous that asks for
    /// more than it allows anonymous callers (a `page_size` over 20): a
    /// client sees it when a proxy drops its `Authorization` header, and a
    /// new token would not help. Any other 401 is handed back untouched.
    /// The Openverse default.
    #[must_use]
    pub fn with_invalid_token_only(self, yes: bool) -> Self {
        Self {
            invalid_token_only: yes,
            ..self
        }
    }

    /// Also counts a 403 with an empty body as a rejected token (stock
    /// django-oauth-toolkit answers a revoked token so); the Openverse
    /// default.
    #[must_use]
    pub fn with_forbidden_empty(self, yes: bool) -> Self {
        Self {
            forbidden_empty: yes,
            ..self
        }
    }

    /// Also counts every 403 (for APIs that answer any stale token with 403).
    #[must_use]
    pub fn with_forbidden(self, yes: bool) -> Self {
        Self {
            forbidden: yes,
            ..self
        }
    }

    /// Whether this answer rejects the token that was sent. Besides the
    /// HTTP statuses above, a gRPC `UNAUTHENTICATED` in the headers (see
    /// [`is_grpc_unauthenticated`]) does, whatever the policy.
    ///
    /// `body_is_empty`: whether the response body had no bytes. Drivers
    /// that stream the body can read just enough to tell.
    #[must_use]
    pub fn is_rejected(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body_is_empty: bool,
    ) -> bool {
        match status {
            StatusCode::UNAUTHORIZED if self.invalid_token_only => {
                bearer_error(headers).as_deref() == Some("invalid_token")
            }
            StatusCode::UNAUTHORIZED => read_unauthorized(headers) == Unauthorized::TokenRejected,
            StatusCode::FORBIDDEN => {
                bearer_error(headers).as_deref() != Some("insufficient_scope")
                    && (self.forbidden || (self.forbidden_empty && body_is_empty))
            }
            _ => is_grpc_unauthenticated(headers),
        }
    }
}

/// Whether a gRPC status in `fields` (response headers of a trailers-only
/// answer, or trailers) is `UNAUTHENTICATED` (16): the gRPC form of a
/// rejected token. gRPC answers it over HTTP 200, so it is judged apart
/// from the HTTP status.
#[must_use]
pub fn is_grpc_unauthenticated(fields: &HeaderMap) -> bool {
    fields
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"16")
}

/// The default: [`RejectionPolicy::unauthorized`].
impl Default for RejectionPolicy {
    fn default() -> Self {
        Self::unauthorized()
    }
}

impl Provider {
    /// The documented default for this dialect: 401 only
    /// ([`RejectionPolicy::unauthorized`]) for OAuth2 and Markable; for
    /// Openverse, a 401 that says `invalid_token` (its other 401s are about
    /// the request, see [`RejectionPolicy::with_invalid_token_only`]) or
    /// an empty-bodied 403 (see [`RejectionPolicy::with_forbidden_empty`]).
    #[must_use]
    pub fn default_rejection(&self) -> RejectionPolicy {
        match self {
            Provider::OAuth2(_) | Provider::Markable(_) => RejectionPolicy::unauthorized(),
            Provider::Openverse(_) => RejectionPolicy::unauthorized()
                .with_invalid_token_only(true)
                .with_forbidden_empty(true),
        }
    }
}

/// Classifies an API response by status and `WWW-Authenticate`.
///
/// A 401 counts as "token rejected" by the same rule as
/// [`RejectionPolicy::unauthorized`]: CC Catalog sends
/// `error="invalid_token"`, Markable sends no challenge at all, and either
/// way a fresh token is the one fix to try. Every 403 is
/// [`ApiOutcome::Forbidden`] here; a dialect that counts some 403s as
/// rejections (Openverse) needs [`RejectionPolicy::is_rejected`], which also
/// sees whether the body was empty.
#[must_use]
pub fn classify_api_response(
    status: StatusCode,
    headers: &HeaderMap,
    wall: SystemTime,
) -> ApiOutcome {
    match status {
        StatusCode::UNAUTHORIZED => match read_unauthorized(headers) {
            Unauthorized::TokenRejected => ApiOutcome::TokenRejected,
            Unauthorized::InsufficientScope => ApiOutcome::Forbidden,
            Unauthorized::BadRequest => ApiOutcome::NotAboutToken,
        },
        StatusCode::FORBIDDEN => ApiOutcome::Forbidden,
        StatusCode::TOO_MANY_REQUESTS => ApiOutcome::RateLimited {
            retry_after: crate::wire::retry_after(headers, wall),
        },
        _ => ApiOutcome::NotAboutToken,
    }
}

/// What a 401 says about the token sent with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unauthorized {
    /// Expired, revoked or unknown: a fresh token may work.
    TokenRejected,
    /// `insufficient_scope`: the token may not do this.
    InsufficientScope,
    /// `invalid_request`: the request is wrong, not the token.
    BadRequest,
}

/// The one definition of which 401s reject the token (RFC 6750 §3.1).
fn read_unauthorized(headers: &HeaderMap) -> Unauthorized {
    match bearer_error(headers).as_deref() {
        Some("invalid_request") => Unauthorized::BadRequest,
        Some("insufficient_scope") => Unauthorized::InsufficientScope,
        // `invalid_token`, no challenge, or a code RFC 6750 does not define.
        _ => Unauthorized::TokenRejected,
    }
}

/// The `error` parameter of a `Bearer` challenge (RFC 6750 §3), if any.
///
/// Reads each `WWW-Authenticate` field as the RFC 9110 §11.6.1 list of
/// challenges: several challenges in one field, parameters with or without
/// a space after the comma (Openverse sends
/// `Bearer realm="api",error="invalid_token",…`), and quoted strings that
/// hold commas or `=`.
fn bearer_error(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let Ok(v) = value.to_str() else { continue };
        let mut in_bearer = false;
        for element in split_list(v) {
            let (name, rest) = split_token(element.trim());
            if name.is_empty() {
                continue;
            }
            let rest = rest.trim_start();
            let param = if rest.starts_with('=') {
                // `name=…`: a parameter of the challenge being read.
                Some((name, rest))
            } else {
                // `scheme [first-param]`: a new challenge begins.
                in_bearer = name.eq_ignore_ascii_case("bearer");
                let (key, after) = split_token(rest);
                let after = after.trim_start();
                (!key.is_empty() && after.starts_with('=')).then_some((key, after))
            };
            if let Some((key, eq_value)) = param {
                if in_bearer && key.eq_ignore_ascii_case("error") {
                    return Some(param_value(&eq_value[1..]));
                }
            }
        }
    }
    None
}

/// Splits a header list at the commas outside quoted strings.
fn split_list(v: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in v.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&v[start..]);
    parts
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// The leading token of `s`, and what follows it.
fn split_token(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !is_tchar(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// A parameter value after its `=`: a token or a quoted string, unescaped.
fn param_value(s: &str) -> String {
    let s = s.trim_start();
    let Some(quoted) = s.strip_prefix('"') else {
        return split_token(s).0.to_owned();
    };
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientAuth, Markable, OAuth2, Openverse};
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

    fn oauth2() -> RejectionPolicy {
        Provider::from(OAuth2::new("https://as.example.com/token", ClientAuth::Basic).unwrap())
            .default_rejection()
    }

    fn openverse() -> RejectionPolicy {
        Provider::from(Openverse::openverse_org()).default_rejection()
    }

    fn markable() -> RejectionPolicy {
        Provider::from(Markable::new()).default_rejection()
    }

    #[test]
    fn oauth2_default_rejects_only_a_401_about_the_token() {
        let p = oauth2();
        assert_eq!(p, RejectionPolicy::unauthorized());
        assert_eq!(p, RejectionPolicy::default());
        let invalid = with_challenge(r#"Bearer realm="api", error="invalid_token""#);
        assert!(p.is_rejected(StatusCode::UNAUTHORIZED, &invalid, true));
        assert!(p.is_rejected(StatusCode::UNAUTHORIZED, &HeaderMap::new(), false));
        let scope = with_challenge(r#"Bearer error="insufficient_scope""#);
        assert!(!p.is_rejected(StatusCode::UNAUTHORIZED, &scope, true));
        let request = with_challenge(r#"Bearer error="invalid_request""#);
        assert!(!p.is_rejected(StatusCode::UNAUTHORIZED, &request, true));
        assert!(!p.is_rejected(StatusCode::FORBIDDEN, &HeaderMap::new(), true));
        assert!(!p.is_rejected(StatusCode::FORBIDDEN, &invalid, false));
        assert!(!p.is_rejected(StatusCode::OK, &HeaderMap::new(), true));
        assert!(!p.is_rejected(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), true));
    }

    #[test]
    fn openverse_default_also_rejects_an_empty_403() {
        let p = openverse();
        assert_eq!(
            p,
            RejectionPolicy::unauthorized()
                .with_invalid_token_only(true)
                .with_forbidden_empty(true)
        );
        assert!(p.is_rejected(StatusCode::FORBIDDEN, &HeaderMap::new(), true));
        // DRF's permission answer is about the key, not the token: a new
        // token would not help, so it is not a rejection.
        let detail = br#"{"detail":"You do not have permission to perform this action."}"#;
        assert!(!p.is_rejected(StatusCode::FORBIDDEN, &HeaderMap::new(), detail.is_empty()));
        // Openverse's own realm form, no space after the commas.
        let expired = with_challenge(
            r#"Bearer realm="api",error="invalid_token",error_description="The access token has expired.""#,
        );
        assert!(p.is_rejected(StatusCode::UNAUTHORIZED, &expired, false));
        // Its other 401s (page_size over 20 without a key, paging too
        // deep) come with a valid token and a challenge naming no error:
        // handed back, no token spent.
        let not_authenticated = with_challenge(r#"Bearer realm="api""#);
        assert!(!p.is_rejected(StatusCode::UNAUTHORIZED, &not_authenticated, false));
        assert!(!p.is_rejected(StatusCode::UNAUTHORIZED, &HeaderMap::new(), false));
        // An empty 403 that says the scope is short is still about scope.
        let scope = with_challenge(r#"Bearer error="insufficient_scope""#);
        assert!(!p.is_rejected(StatusCode::FORBIDDEN, &scope, true));
    }

    #[test]
    fn markable_default_rejects_a_401_without_a_challenge() {
        let p = markable();
        assert_eq!(p, RejectionPolicy::unauthorized());
        assert!(p.is_rejected(StatusCode::UNAUTHORIZED, &HeaderMap::new(), false));
        assert!(!p.is_rejected(StatusCode::FORBIDDEN, &HeaderMap::new(), true));
    }

    #[test]
    fn grpc_unauthenticated_rejects_the_token_under_every_policy() {
        let mut h = HeaderMap::new();
        h.insert("grpc-status", HeaderValue::from_static("16"));
        for p in [oauth2(), openverse(), markable()] {
            assert!(p.is_rejected(StatusCode::OK, &h, true));
        }
        for other in ["0", "7", "2", "160", ""] {
            h.insert("grpc-status", HeaderValue::from_static(other));
            assert!(!oauth2().is_rejected(StatusCode::OK, &h, true), "{other}");
        }
        assert!(!oauth2().is_rejected(StatusCode::OK, &HeaderMap::new(), true));
    }

    #[test]
    fn every_403_when_asked() {
        let p = RejectionPolicy::unauthorized().with_forbidden(true);
        assert!(p.is_rejected(StatusCode::FORBIDDEN, &HeaderMap::new(), false));
        assert!(p.is_rejected(StatusCode::FORBIDDEN, &HeaderMap::new(), true));
        let off = p.with_forbidden(false).with_forbidden_empty(false);
        assert_eq!(off, RejectionPolicy::unauthorized());
    }

    #[test]
    fn challenges_are_read_as_lists_with_quoted_strings() {
        let cases = [
            (r#"Bearer error="invalid_token""#, Some("invalid_token")),
            (r#"bearer Error=invalid_token"#, Some("invalid_token")),
            (
                r#"Bearer realm="a,error=x", error="insufficient_scope""#,
                Some("insufficient_scope"),
            ),
            (
                r#"Bearer error_description="error=\"x\"", error = "invalid_request""#,
                Some("invalid_request"),
            ),
            (
                r#"Basic realm="x", Bearer error="insufficient_scope""#,
                Some("insufficient_scope"),
            ),
            // `error` of another scheme is not the Bearer challenge's.
            (
                r#"Basic error="insufficient_scope", Bearer realm="api""#,
                None,
            ),
            (r#"Bearerish error="insufficient_scope""#, None),
            (r#"Bearer"#, None),
            ("", None),
            (r#"Bearer error="unterminated"#, Some("unterminated")),
        ];
        for (challenge, expected) in cases {
            let mut h = HeaderMap::new();
            h.insert(WWW_AUTHENTICATE, HeaderValue::from_str(challenge).unwrap());
            assert_eq!(bearer_error(&h).as_deref(), expected, "{challenge}");
        }
        // Two header fields: the Bearer one is found.
        let mut h = HeaderMap::new();
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="x""#),
        );
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer error="insufficient_scope""#),
        );
        assert_eq!(bearer_error(&h).as_deref(), Some("insufficient_scope"));
    }
}
