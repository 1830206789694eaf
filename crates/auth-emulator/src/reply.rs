//! The value handlers return before faults shape it into a response.

use axum::http::header::{HeaderName, CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Value};

#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Reply {
            status,
            headers: HeaderMap::new(),
            body,
        }
    }

    pub(crate) fn ok(body: Value) -> Self {
        Self::json(StatusCode::OK, body)
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
}
