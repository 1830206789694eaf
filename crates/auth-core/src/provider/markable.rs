//! Markable Lens API client authorization (seed `002_*.txt`).
//!
//! `POST {base}/auth/client/authorize` with
//! `{"data":{"client_id","client_secret","scope"}}`; the answer is
//! `{"data":{"access_token", …}}`, sometimes with `expires_at` (ISO 8601),
//! `scope` and `client_id`. Errors are JSON:API `{"errors":[…]}`.

use http::{Method, Request, Response, StatusCode, Uri};
use serde::Serialize;
use serde_json::Value;

use super::fields::read_token;
use super::ResponseContext;
use crate::credentials::ClientCredentials;
use crate::error::{Error, OAuthError, OAuthErrorCode};
use crate::redact::{shorten, Redactor};
use crate::scope::{MarkableScope, Scopes};
use crate::token::TokenResponse;
use crate::wire::{self, check_url, common_status_error, json_object, malformed};

/// The authorization server in the seed.
pub const MARKABLE_BASE: &str = "https://auth.markable.ai";
const AUTHORIZE_PATH: &str = "/auth/client/authorize";

/// The Markable Lens authorization endpoint.
///
/// The scope goes in the [`Scopes`] given to the machine: exactly one of
/// `default` or `search` (see [`MarkableScope`]); empty means `default`.
#[derive(Clone, Debug)]
pub struct Markable {
    authorize_url: Uri,
}

impl Default for Markable {
    fn default() -> Self {
        Self::new()
    }
}

impl Markable {
    /// The production endpoint, `https://auth.markable.ai/auth/client/authorize`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            authorize_url: wire::join(MARKABLE_BASE, AUTHORIZE_PATH)
                .parse()
                .unwrap_or_else(|_| {
                    Uri::from_static("https://auth.markable.ai/auth/client/authorize")
                }),
        }
    }

    /// Another base, e.g. a local emulator: https, or http to loopback.
    pub fn with_base(base: &str) -> Result<Self, Error> {
        Ok(Self {
            authorize_url: check_url(&wire::join(base, AUTHORIZE_PATH), false)?,
        })
    }

    /// Like [`Markable::with_base`] but accepting plain http to any host.
    pub fn with_base_allowing_insecure_http(base: &str) -> Result<Self, Error> {
        Ok(Self {
            authorize_url: check_url(&wire::join(base, AUTHORIZE_PATH), true)?,
        })
    }

    /// The authorization URL.
    #[must_use]
    pub fn authorize_url(&self) -> &Uri {
        &self.authorize_url
    }

    /// The JSON-envelope authorization request.
    pub fn token_request(
        &self,
        credentials: &ClientCredentials,
        scopes: &Scopes,
    ) -> Result<Request<Vec<u8>>, Error> {
        #[derive(Serialize)]
        struct Envelope<'a> {
            data: Data<'a>,
        }
        #[derive(Serialize)]
        struct Data<'a> {
            client_id: &'a str,
            client_secret: &'a str,
            scope: &'a str,
        }
        let secret = super::secret_only("the Markable API", credentials)?;
        let scope = MarkableScope::from_scopes(scopes)?;
        let body = serde_json::to_vec(&Envelope {
            data: Data {
                client_id: credentials.client_id(),
                client_secret: secret.expose_secret(),
                scope: scope.as_str(),
            },
        })
        .map_err(|e| Error::InvalidConfig(format!("could not encode the request: {e}")))?;
        let b = wire::request(Method::POST, &self.authorize_url, Some("application/json"));
        wire::finish(b, body)
    }

    /// Reads the answer. A token is publishable only when `search` was asked
    /// for and the server did not say it granted something else.
    pub fn parse_token_response(
        &self,
        response: &Response<Vec<u8>>,
        cx: ResponseContext<'_>,
    ) -> Result<TokenResponse, Error> {
        let redactor = cx.redactor();
        if let Some(e) = common_status_error(response, &redactor, cx.wall) {
            return Err(e);
        }
        let status = response.status();
        let obj = match json_object(response, &redactor) {
            Ok(obj) => obj,
            Err(_) if status == StatusCode::UNAUTHORIZED => {
                return Err(rejected(OAuthErrorCode::InvalidClient, None, status))
            }
            // A 4xx that is not JSON (a proxy's HTML page, a 404 text) is a
            // final answer, not a malformed one to retry.
            Err(_) if status.is_client_error() => {
                return Err(Error::UnexpectedStatus {
                    status,
                    location: None,
                    excerpt: redactor.excerpt(response),
                })
            }
            Err(e) => return Err(e),
        };
        if status.is_success() {
            // JSON:API errors in a 200 are errors (each carries its own
            // status), not a malformed token answer to retry.
            if !obj.contains_key("data") {
                if let Some(e) = api_errors(&obj, status, &redactor) {
                    return Err(e);
                }
            }
            let Some(Value::Object(data)) = obj.get("data") else {
                return Err(malformed(
                    response,
                    &redactor,
                    "expected {\"data\":{\"access_token\":…}}".into(),
                ));
            };
            let mut token = read_token(data, response, &redactor)?;
            let asked = MarkableScope::from_scopes(cx.requested)?;
            let granted_search_only = token
                .granted_scopes
                .as_ref()
                .is_none_or(|g| *g == Scopes::from(MarkableScope::Search));
            token.publishable = asked == MarkableScope::Search && granted_search_only;
            return Ok(token);
        }
        Err(api_errors(&obj, status, &redactor).unwrap_or_else(|| {
            if status == StatusCode::UNAUTHORIZED {
                rejected(OAuthErrorCode::InvalidClient, None, status)
            } else {
                Error::UnexpectedStatus {
                    status,
                    location: None,
                    excerpt: redactor.excerpt(response),
                }
            }
        }))
    }
}

fn rejected(code: OAuthErrorCode, description: Option<String>, status: StatusCode) -> Error {
    Error::Rejected(OAuthError {
        code,
        description,
        uri: None,
        status,
    })
}

/// Maps a JSON:API `{"errors":[{status,title,detail}]}` body onto the
/// RFC 6749 codes callers already match on.
fn api_errors(
    obj: &serde_json::Map<String, Value>,
    status: StatusCode,
    redactor: &Redactor<'_>,
) -> Option<Error> {
    let errors = obj.get("errors")?.as_array()?;
    let first = errors.first()?;
    let field = |k: &str| first.get(k).and_then(Value::as_str).unwrap_or("");
    let (title, detail) = (field("title"), field("detail"));
    let mut description = match (title.is_empty(), detail.is_empty()) {
        (false, false) => format!("{title}: {detail}"),
        (false, true) => title.to_owned(),
        (true, false) => detail.to_owned(),
        (true, true) => "no details given".to_owned(),
    };
    if errors.len() > 1 {
        description.push_str(&format!(" (and {} more)", errors.len() - 1));
    }
    let mentions_scope = description.to_ascii_lowercase().contains("scope");
    // Each JSON:API error names its own status (a string); it says more
    // than the HTTP status of a server that answers 200 to everything.
    let status = first
        .get("status")
        .and_then(|s| {
            let n = s.as_u64().and_then(|n| u16::try_from(n).ok());
            n.or_else(|| s.as_str()?.parse().ok())
        })
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(status);
    if status.is_server_error() {
        // The server failed, whatever status line it wrapped that in.
        return Some(Error::Server {
            status,
            retry_after: None,
            excerpt: shorten(&redactor.text(&description), 200),
        });
    }
    let code = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => OAuthErrorCode::InvalidClient,
        _ if mentions_scope => OAuthErrorCode::InvalidScope,
        _ => OAuthErrorCode::InvalidRequest,
    };
    Some(rejected(
        code,
        Some(shorten(&redactor.text(&description), 200)),
        status,
    ))
}
