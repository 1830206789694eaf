//! Small wire helpers the provider dialects share: form encoding, request
//! building, URL checks, `Retry-After`, and the status classes every dialect
//! treats alike.

use std::time::{Duration, SystemTime};

use http::header::{ACCEPT, CONTENT_TYPE, LOCATION, RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};

use crate::error::Error;
use crate::redact::Redactor;

/// The `User-Agent` apiauth sends.
pub const USER_AGENT_VALUE: &str = concat!("apiauth/", env!("CARGO_PKG_VERSION"));

/// `application/x-www-form-urlencoded` byte serializer (WHATWG URL §5.2),
/// which RFC 6749 §2.3.1 also prescribes for the Basic credentials.
pub fn form_encode(input: &str, out: &mut String) {
    for &b in input.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
}

/// Encodes name/value pairs as a form body, in the order given.
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_encode(k, &mut out);
        out.push('=');
        form_encode(v, &mut out);
    }
    out
}

/// A request with apiauth's standard headers.
pub(crate) fn request(
    method: Method,
    uri: &Uri,
    content_type: Option<&'static str>,
) -> http::request::Builder {
    let mut b = Request::builder()
        .method(method)
        .uri(uri.clone())
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    if let Some(ct) = content_type {
        b = b.header(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    b
}

/// Finishes a builder, mapping the (configuration) error `http` may report.
pub(crate) fn finish(b: http::request::Builder, body: Vec<u8>) -> Result<Request<Vec<u8>>, Error> {
    b.body(body)
        .map_err(|e| Error::InvalidConfig(format!("could not build the request: {e}")))
}

/// Checks an endpoint URL: absolute, http or https, and plain http only to a
/// loopback host unless the caller opted in. Returns it parsed.
pub fn check_url(url: &str, allow_insecure_http: bool) -> Result<Uri, Error> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::InvalidConfig(format!("`{url}` is not a valid URL: {e}")))?;
    let host = uri.host().ok_or_else(|| {
        Error::InvalidConfig(format!(
            "`{url}` is not an absolute URL; write it as https://host/path"
        ))
    })?;
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if allow_insecure_http || is_loopback_host(host) => Ok(uri),
        Some("http") => Err(Error::InvalidConfig(format!(
            "`{url}` uses plain http to a host other than this machine, which would send the secret in clear; use https (plain http is accepted for loopback only; in Rust code, the `…_allowing_insecure_http` constructors allow it for a test network)"
        ))),
        _ => Err(Error::InvalidConfig(format!(
            "`{url}` must start with https:// (or http:// for loopback)"
        ))),
    }
}

/// Whether `host` is `localhost` or a loopback IP literal.
#[must_use]
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Joins a base URL and an absolute path, tolerating a trailing slash on
/// the base (`https://x/` + `/v1/…`).
pub(crate) fn join(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// Reads `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date,
/// the latter measured against `wall`. A date in the past means "now"; a
/// number of seconds too large for a `u64` means "very long" (saturated),
/// for the policy's `max_retry_after` to cap.
#[must_use]
pub fn retry_after(headers: &HeaderMap, wall: SystemTime) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // All digits and still no u64: an overflow, not garbage.
        return Some(Duration::from_secs(u64::MAX));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(wall).unwrap_or(Duration::ZERO))
}

/// The response's `Date` header, if it parses.
#[must_use]
pub fn date(headers: &HeaderMap) -> Option<SystemTime> {
    let v = headers.get(http::header::DATE)?.to_str().ok()?;
    httpdate::parse_http_date(v).ok()
}

/// The errors every dialect gives for redirects, 429 and 5xx. Returns
/// `None` for a status the dialect must read itself (2xx, 4xx).
pub(crate) fn common_status_error(
    response: &Response<Vec<u8>>,
    redactor: &Redactor<'_>,
    wall: SystemTime,
) -> Option<Error> {
    let status = response.status();
    let excerpt = || redactor.excerpt(response);
    if status.is_redirection() {
        let location = response.headers().get(LOCATION);
        return Some(Error::UnexpectedStatus {
            status,
            location: location.map(|l| redactor.location(l.as_bytes())),
            excerpt: excerpt(),
        });
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Some(Error::RateLimited {
            status,
            retry_after: retry_after(response.headers(), wall),
        });
    }
    if status.is_server_error() {
        return Some(Error::Server {
            status,
            retry_after: retry_after(response.headers(), wall),
            excerpt: excerpt(),
        });
    }
    if status.is_informational() {
        return Some(Error::UnexpectedStatus {
            status,
            location: None,
            excerpt: excerpt(),
        });
    }
    None
}

/// Parses a body as a JSON object, or explains (with the content type) why not.
pub(crate) fn json_object(
    response: &Response<Vec<u8>>,
    redactor: &Redactor<'_>,
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    match serde_json::from_slice::<serde_json::Value>(response.body()) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(malformed(
            response,
            redactor,
            "expected a JSON object".into(),
        )),
        Err(e) => {
            let ct = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("no content type");
            let reason = if response.body().is_empty() {
                "the body is empty; expected a JSON object".to_owned()
            } else if e.is_eof() {
                format!("the JSON body ends early ({ct}); it may have been truncated")
            } else {
                format!("the body is not JSON ({ct})")
            };
            Err(malformed(response, redactor, reason))
        }
    }
}

pub(crate) fn malformed(
    response: &Response<Vec<u8>>,
    redactor: &Redactor<'_>,
    reason: String,
) -> Error {
    Error::MalformedResponse {
        status: response.status(),
        // Reasons may quote a field the server sent, and a server may echo
        // the secret into any field.
        reason: redactor.text(&reason),
        excerpt: redactor.excerpt(response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_matches_whatwg() {
        let mut s = String::new();
        form_encode("a+b/c:d%e&f=g h~ü*", &mut s);
        assert_eq!(s, "a%2Bb%2Fc%3Ad%25e%26f%3Dg+h%7E%C3%BC*");
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://api.openverse.org/v1/", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/token", false).is_ok());
        assert!(check_url("http://localhost/token", false).is_ok());
        assert!(check_url("http://[::1]:9/token", false).is_ok());
        let e = check_url("http://example.com/token", false).unwrap_err();
        assert!(e.to_string().contains("plain http"), "{e}");
        assert!(check_url("http://example.com/token", true).is_ok());
        assert!(check_url("/token", false).is_err());
        assert!(check_url("ftp://example.com/token", false).is_err());
        assert!(check_url("not a url", false).is_err());
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let wall = httpdate::parse_http_date("Sun, 22 Nov 2026 10:00:00 GMT").unwrap();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h, wall), Some(Duration::from_secs(120)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 22 Nov 2026 10:00:30 GMT"),
        );
        assert_eq!(retry_after(&h, wall), Some(Duration::from_secs(30)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 22 Nov 2026 09:00:00 GMT"),
        );
        assert_eq!(retry_after(&h, wall), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, wall), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("-5"));
        assert_eq!(retry_after(&h, wall), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("99999999999"));
        assert_eq!(
            retry_after(&h, wall),
            Some(Duration::from_secs(99_999_999_999))
        );
        // Too large for u64: "very long", not "absent" (which would retry soon).
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("999999999999999999999999999999"),
        );
        assert_eq!(retry_after(&h, wall), Some(Duration::from_secs(u64::MAX)));
    }
}
