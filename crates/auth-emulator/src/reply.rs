//! The value handlers return before faults shape it into a response.

use axum::http::header::{HeaderName, CACHE_CONTROL, EXPIRES, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Value};

/// A body that is not JSON: Django's HTML error pages, an empty redirect.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    pub(crate) content_type: &'static str,
    pub(crate) bytes: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    /// The JSON body, unless `raw` is set.
    pub(crate) body: Value,
    pub(crate) raw: Option<Raw>,
}

/// Django's `never_cache` (`django.utils.cache.add_never_cache_headers`),
/// which Openverse puts on its auth views.
const NEVER_CACHE: &str = "max-age=0, no-cache, no-store, must-revalidate, private";

/// The page Django sends for an unknown URL when `DEBUG` is off.
const DJANGO_404: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n";

/// The page Django sends for an unhandled exception when `DEBUG` is off.
const DJANGO_500: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n";

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Reply {
            status,
            headers: HeaderMap::new(),
            body,
            raw: None,
        }
    }

    pub(crate) fn ok(body: Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    /// A body that is not JSON.
    pub(crate) fn raw(status: StatusCode, content_type: &'static str, bytes: &[u8]) -> Self {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: Value::Null,
            raw: Some(Raw {
                content_type,
                bytes: bytes.to_vec(),
            }),
        }
    }

    /// Adds a header; values here are built from ASCII the emulator controls,
    /// so an invalid one is a bug worth logging, not a reason to fail.
    pub(crate) fn header(mut self, name: HeaderName, value: &str) -> Self {
        match HeaderValue::from_str(value) {
            Ok(v) => {
                self.headers.append(name, v);
            }
            Err(_) => tracing::error!(header = %name, "invalid header value"),
        }
        self
    }

    /// RFC 6749 §5.1 / §5.2: token responses must not be cached.
    pub(crate) fn no_store(self) -> Self {
        self.header(CACHE_CONTROL, "no-store")
            .header(PRAGMA, "no-cache")
    }

    /// Django's `never_cache`: `Cache-Control` and an `Expires` of now.
    pub(crate) fn never_cache(self) -> Self {
        let now = crate::wire::http_date(std::time::SystemTime::now());
        self.header(CACHE_CONTROL, NEVER_CACHE)
            .header(EXPIRES, &now)
    }

    /// An RFC 6749 §5.2 error body.
    pub(crate) fn oauth_error(status: StatusCode, code: &str, description: &str) -> Self {
        Self::json(
            status,
            json!({ "error": code, "error_description": description }),
        )
        .no_store()
    }

    /// RFC 6750 §3.1: a rejected bearer token.
    pub(crate) fn invalid_token(body: Value) -> Self {
        Self::json(StatusCode::UNAUTHORIZED, body).header(
            WWW_AUTHENTICATE,
            "Bearer error=\"invalid_token\", error_description=\"The access token is invalid or expired\"",
        )
    }

    /// RFC 6750 §3.1: no credentials at all, so no error code.
    pub(crate) fn bearer_required(body: Value) -> Self {
        Self::json(StatusCode::UNAUTHORIZED, body).header(WWW_AUTHENTICATE, "Bearer")
    }

    /// A JSON:API error document, as Markable sends.
    pub(crate) fn jsonapi_error(status: StatusCode, detail: &str) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        Self::json(
            status,
            json!({ "errors": [{ "status": status.as_u16(), "title": title, "detail": detail }] }),
        )
    }

    /// Django REST Framework's error body, `{"detail":"…"}`.
    pub(crate) fn drf(status: StatusCode, detail: &str) -> Self {
        Self::json(status, json!({ "detail": detail }))
    }

    /// Django's own 404 page, for URLs no route matches.
    pub(crate) fn django_404() -> Self {
        Self::raw(StatusCode::NOT_FOUND, HTML, DJANGO_404.as_bytes())
    }

    /// Django's own 500 page, for an exception no view handled.
    pub(crate) fn django_500() -> Self {
        Self::raw(
            StatusCode::INTERNAL_SERVER_ERROR,
            HTML,
            DJANGO_500.as_bytes(),
        )
    }
}

/// Django's default content type for pages and empty responses.
pub(crate) const HTML: &str = "text/html; charset=utf-8";
