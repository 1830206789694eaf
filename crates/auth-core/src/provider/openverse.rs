//! Creative Commons Catalog API / Openverse: client credentials with
//! self-registration, email verification and key status.
//!
//! Wire facts (seed `000_*.txt` and DESIGN.md): register at
//! `/v1/auth_tokens/register/`, exchange at `/v1/auth_tokens/token/` with
//! the credentials in the form body, read the key's standing at
//! `/v1/rate_limit/`. Rate limits come back as `X-RateLimit-Limit-<scope>` /
//! `X-RateLimit-Available-<scope>` header pairs.

use std::time::{Duration, SystemTime};

use http::header::AUTHORIZATION;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use serde::Serialize;
use serde_json::Value;

use super::oauth2::{form_token_request, parse_token_response};
use super::{ClientAuth, ResponseContext};
use crate::credentials::ClientCredentials;
use crate::error::{Error, FieldError, SentCredentials};
use crate::redact::{shorten, Redactor};
use crate::scope::Scopes;
use crate::secret::{AccessToken, ClientSecret};
use crate::token::{Token, TokenResponse};
use crate::wire::{self, check_url, common_status_error, json_object, malformed};

/// The base URL in the seed document.
pub const CC_CATALOG_BASE: &str = "https://api.creativecommons.engineering";
/// Where the same API lives today.
pub const OPENVERSE_BASE: &str = "https://api.openverse.org";

/// Where each endpoint lives, as the two generations of the server route
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routes {
    /// Today's Openverse (`api/conf/urls/auth_tokens.py`): every route
    /// ends in a slash; the slash-less form gets a 301, which a POST
    /// must not follow.
    Openverse,
    /// The seed's CC Catalog API (`cccatalog/urls.py`): registration and
    /// key status without the slash, the token endpoint (from
    /// django-oauth-toolkit's URLs) with it.
    CcCatalog,
}

impl Routes {
    fn paths(self) -> [&'static str; 3] {
        match self {
            Routes::Openverse => [
                "/v1/auth_tokens/token/",
                "/v1/auth_tokens/register/",
                "/v1/rate_limit/",
            ],
            Routes::CcCatalog => [
                "/v1/auth_tokens/token/",
                "/v1/auth_tokens/register",
                "/v1/rate_limit",
            ],
        }
    }
}

/// A CC Catalog / Openverse deployment.
///
/// ```
/// use auth_core::Openverse;
/// let p = Openverse::openverse_org();
/// assert_eq!(p.token_url().to_string(), "https://api.openverse.org/v1/auth_tokens/token/");
/// let local = Openverse::with_base("http://127.0.0.1:8080/").unwrap();
/// assert_eq!(local.token_url().to_string(), "http://127.0.0.1:8080/v1/auth_tokens/token/");
/// ```
#[derive(Clone, Debug)]
pub struct Openverse {
    base: String,
    token_url: Uri,
    register_url: Uri,
    key_status_url: Uri,
}

impl Openverse {
    /// The deployment the seed names, `https://api.creativecommons.engineering`.
    #[must_use]
    pub fn cc_catalog() -> Self {
        Self::preset(CC_CATALOG_BASE, Routes::CcCatalog)
    }

    /// Today's deployment, `https://api.openverse.org`.
    #[must_use]
    pub fn openverse_org() -> Self {
        Self::preset(OPENVERSE_BASE, Routes::Openverse)
    }

    fn preset(base: &'static str, routes: Routes) -> Self {
        let [token, register, key_status] = routes.paths();
        // The presets are https URLs written above; they always parse.
        let url = |path: &str| {
            wire::join(base, path)
                .parse::<Uri>()
                .unwrap_or_else(|_| Uri::from_static("https://invalid.invalid/"))
        };
        Self {
            base: base.to_owned(),
            token_url: url(token),
            register_url: url(register),
            key_status_url: url(key_status),
        }
    }

    /// Any deployment routed as today's Openverse, e.g. a local emulator.
    /// https, or http to loopback.
    pub fn with_base(base: &str) -> Result<Self, Error> {
        Self::checked(base, Routes::Openverse, false)
    }

    /// Any deployment with the given [`Routes`] (a CC Catalog API
    /// deployment: [`Routes::CcCatalog`]).
    pub fn with_routes(base: &str, routes: Routes) -> Result<Self, Error> {
        Self::checked(base, routes, false)
    }

    /// Like [`Openverse::with_base`] but accepting plain http to any host.
    pub fn with_base_allowing_insecure_http(base: &str) -> Result<Self, Error> {
        Self::checked(base, Routes::Openverse, true)
    }

    fn checked(base: &str, routes: Routes, insecure: bool) -> Result<Self, Error> {
        let base = base.trim_end_matches('/');
        let [token, register, key_status] = routes.paths();
        let url = |path: &str| check_url(&wire::join(base, path), insecure);
        Ok(Self {
            base: base.to_owned(),
            token_url: url(token)?,
            register_url: url(register)?,
            key_status_url: url(key_status)?,
        })
    }

    /// The base URL, without a trailing slash.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `{base}/v1/auth_tokens/token/`.
    #[must_use]
    pub fn token_url(&self) -> &Uri {
        &self.token_url
    }

    /// `{base}/v1/rate_limit/` (CC Catalog: no slash), where a key's
    /// standing is read.
    #[must_use]
    pub fn key_status_url(&self) -> &Uri {
        &self.key_status_url
    }

    /// The token request: RFC 6749 client credentials with the id and
    /// secret in the form body, in the order the seed's curl example uses.
    pub fn token_request(
        &self,
        credentials: &ClientCredentials,
        scopes: &Scopes,
    ) -> Result<Request<Vec<u8>>, Error> {
        super::secret_only("the Openverse API", credentials)?;
        form_token_request(
            &self.token_url,
            ClientAuth::Post,
            credentials,
            None,
            scopes,
            &[],
            true,
        )
    }

    /// Reads the token response (RFC 6749 §5.1 / §5.2).
    pub fn parse_token_response(
        &self,
        response: &Response<Vec<u8>>,
        cx: ResponseContext<'_>,
    ) -> Result<TokenResponse, Error> {
        parse_token_response(response, cx)
    }

    /// `POST {base}/v1/auth_tokens/register/` with the JSON registration.
    pub fn register_request(&self, registration: &Registration) -> Result<Request<Vec<u8>>, Error> {
        registration.check()?;
        let body = serde_json::to_vec(registration)
            .map_err(|e| Error::InvalidConfig(format!("could not encode the registration: {e}")))?;
        let b = wire::request(Method::POST, &self.register_url, Some("application/json"));
        wire::finish(b, body)
    }

    /// Reads the registration answer: 201 (or 200 on older servers) with the
    /// new credentials, or 400 with field errors.
    pub fn parse_registration_response(
        &self,
        response: &Response<Vec<u8>>,
        wall: SystemTime,
    ) -> Result<RegisteredClient, Error> {
        // The new secret is in this body; keep it out of every excerpt, in
        // every form (with the new id, its Basic credentials too).
        let body = serde_json::from_slice::<Value>(response.body()).ok();
        let field = |k: &str| {
            body.as_ref()
                .and_then(|v| v.get(k)?.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let (body_id, body_secret) = (field("client_id"), field("client_secret"));
        let redactor = Redactor::new([&body_secret, ""]).with_client_id(&body_id);
        if let Some(e) = common_status_error(response, &redactor, wall) {
            return Err(e);
        }
        let status = response.status();
        let obj = json_object(response, &redactor)?;
        if status.is_success() {
            let text = |k: &str| obj.get(k).and_then(Value::as_str);
            let (id, secret) = (text("client_id"), text("client_secret"));
            let incomplete = |reason: String| Error::RegistrationIncomplete {
                reason,
                sent: Box::new(SentCredentials {
                    client_id: id.unwrap_or_default().to_owned(),
                    client_secret: secret.filter(|s| !s.is_empty()).map(ClientSecret::from),
                }),
            };
            let (Some(id), Some(secret)) = (id, secret) else {
                if id.is_none() && secret.is_none() {
                    return Err(malformed(
                        response,
                        &redactor,
                        "the registration answer lacks client_id and client_secret".into(),
                    ));
                }
                let missing = if id.is_none() {
                    "client_id"
                } else {
                    "client_secret"
                };
                return Err(incomplete(format!("it lacks {missing}")));
            };
            let credentials = ClientCredentials::new(id, secret).map_err(|e| {
                let reason = match e {
                    Error::InvalidConfig(r) => r,
                    other => other.to_string(),
                };
                incomplete(format!("the credentials it sent are unusable ({reason})"))
            })?;
            // The server's words, minus the new secret (a message may quote
            // it), made safe for a terminal.
            return Ok(RegisteredClient {
                credentials,
                name: redactor.text(text("name").unwrap_or_default()),
                message: text("msg").map(|m| redactor.text(m)),
            });
        }
        if status == StatusCode::BAD_REQUEST {
            return Err(Error::Registration {
                status,
                fields: field_errors(&obj, &redactor),
            });
        }
        Err(Error::UnexpectedStatus {
            status,
            location: None,
            excerpt: redactor.excerpt(response),
        })
    }

    /// `GET {base}/v1/rate_limit/` with the token.
    pub fn key_status_request(&self, token: &Token) -> Result<Request<Vec<u8>>, Error> {
        let b = wire::request(Method::GET, &self.key_status_url, None)
            .header(AUTHORIZATION, token.authorization_header().clone());
        wire::finish(b, Vec::new())
    }

    /// Whether an answer to [`key_status_request`](Self::key_status_request)
    /// says the server saw no valid token: 403 with DRF's
    /// `{"detail":"Forbidden"}` or the legacy bare `"Forbidden"`. The key
    /// status needs a token, and both servers answer so when the request
    /// reached them as anonymous; the CC Catalog server treats a dead
    /// token that way (it never answers 401), so a new token is the fix to
    /// try, once. A revoked key's 403 says something else and is not this.
    #[must_use]
    pub fn key_status_rejects_token(&self, response: &Response<Vec<u8>>) -> bool {
        if response.status() != StatusCode::FORBIDDEN {
            return false;
        }
        match serde_json::from_slice::<Value>(response.body()) {
            Ok(Value::String(s)) => s == "Forbidden",
            Ok(Value::Object(o)) => {
                o.len() == 1 && o.get("detail").and_then(Value::as_str) == Some("Forbidden")
            }
            _ => false,
        }
    }

    /// Reads `{"requests_this_minute","requests_today","rate_limit_model","verified"}`,
    /// the answer to [`key_status_request`](Self::key_status_request) with
    /// `token` (cut out of any error, as is every form of it).
    ///
    /// Nulls are read as unknown (an unverified key has no counts); a 424
    /// (the server's counter store is down) is a [`KeyStatus`] with
    /// [`counts_unavailable`](KeyStatus::counts_unavailable), not a failure.
    /// Any other answer is a [`Error::KeyStatusFailed`] naming this
    /// endpoint; 401 and 403 (also the legacy bare `"Forbidden"`) mean the
    /// key's token was refused.
    pub fn parse_key_status_response(
        &self,
        response: &Response<Vec<u8>>,
        token: &AccessToken,
        wall: SystemTime,
    ) -> Result<KeyStatus, Error> {
        let redactor = Redactor::new(["", token.expose_secret()]);
        let status = response.status();
        let unavailable = status == StatusCode::FAILED_DEPENDENCY;
        if !status.is_success() && !unavailable {
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .map(|l| redactor.location(l.as_bytes()));
            return Err(Error::KeyStatusFailed {
                status,
                endpoint: self.key_status_url.to_string(),
                retry_after: wire::retry_after(response.headers(), wall),
                location,
                excerpt: redactor.excerpt(response),
            });
        }
        let here = |reason: String| {
            malformed(
                response,
                &redactor,
                format!("key status ({}): {reason}", self.key_status_url),
            )
        };
        let obj = json_object(response, &redactor).map_err(|e| match e {
            Error::MalformedResponse { reason, .. } => here(reason),
            other => other,
        })?;
        let count = |k: &str| -> Result<Option<u64>, Error> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| here(format!("{k} is not a count"))),
            }
        };
        let verified = match obj.get("verified") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(here("verified is not a boolean".into())),
        };
        Ok(KeyStatus {
            requests_this_minute: count("requests_this_minute")?,
            requests_today: count("requests_today")?,
            // Server text shown to a person: redacted, made safe, short.
            rate_limit_model: obj
                .get("rate_limit_model")
                .and_then(Value::as_str)
                .map(|s| shorten(&redactor.text(s), 60)),
            verified,
            counts_unavailable: unavailable,
        })
    }
}

/// What a new client registers with.
#[derive(Clone, Debug, Serialize)]
pub struct Registration {
    /// The application's name; must be unique on the server.
    pub name: String,
    /// What the application does.
    pub description: String,
    /// Where the verification link is sent.
    pub email: String,
}

impl Registration {
    /// A registration request.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        email: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            email: email.into(),
        }
    }

    /// Catches what the server would refuse anyway, with the server's own
    /// shape of error, before a round trip.
    fn check(&self) -> Result<(), Error> {
        let mut fields = Vec::new();
        for (field, value) in [
            ("name", &self.name),
            ("description", &self.description),
            ("email", &self.email),
        ] {
            if value.trim().is_empty() {
                fields.push(FieldError {
                    field: field.into(),
                    messages: vec!["This field may not be blank.".into()],
                });
            }
        }
        if !self.email.trim().is_empty() && !self.email.contains('@') {
            fields.push(FieldError {
                field: "email".into(),
                messages: vec!["Enter a valid email address.".into()],
            });
        }
        if fields.is_empty() {
            Ok(())
        } else {
            Err(Error::Registration {
                status: StatusCode::BAD_REQUEST,
                fields,
            })
        }
    }
}

/// A newly registered client. The secret is shown once: store it now.
#[derive(Clone, Debug)]
pub struct RegisteredClient {
    /// The new credentials.
    pub credentials: ClientCredentials,
    /// The registered name.
    pub name: String,
    /// The server's message (usually: check your email).
    pub message: Option<String>,
}

/// A key's standing, from `/v1/rate_limit/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyStatus {
    /// Requests made in the current minute.
    pub requests_this_minute: Option<u64>,
    /// Requests made today.
    pub requests_today: Option<u64>,
    /// The rate-limit model (`standard`, `enhanced`, …).
    pub rate_limit_model: Option<String>,
    /// Whether the owner followed the email link. Until then the key is
    /// throttled like an anonymous caller.
    pub verified: Option<bool>,
    /// The server could not count right now (HTTP 424: its counter store
    /// is down); the counts are `None` for that reason, not for lack of
    /// history.
    pub counts_unavailable: bool,
}

/// Rate-limit state read from response headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// One entry per limit scope (`anon_burst`, `standard_sustained`, …), sorted.
    pub scopes: Vec<RateLimit>,
    /// `Retry-After`, when the response carried one (with a 429).
    pub retry_after: Option<Duration>,
}

/// One rate-limit scope from an `X-RateLimit-Limit-<scope>` /
/// `X-RateLimit-Available-<scope>` pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// The scope name after the prefix, lowercased as HTTP header names are.
    pub scope: String,
    /// The limit as the server wrote it, e.g. `20/min`.
    pub limit: Option<String>,
    /// Requests left in the current window.
    pub available: Option<u64>,
}

impl RateLimits {
    /// Reads the header pairs and `Retry-After` from any API response.
    #[must_use]
    pub fn from_headers(headers: &HeaderMap, wall: SystemTime) -> Self {
        let mut scopes: Vec<RateLimit> = Vec::new();
        for (name, value) in headers {
            let name = name.as_str();
            let Ok(value) = value.to_str() else { continue };
            let (scope, is_limit) = if let Some(s) = name.strip_prefix("x-ratelimit-limit-") {
                (s, true)
            } else if let Some(s) = name.strip_prefix("x-ratelimit-available-") {
                (s, false)
            } else {
                continue;
            };
            let idx = match scopes.iter().position(|r| r.scope == scope) {
                Some(i) => i,
                None => {
                    scopes.push(RateLimit {
                        scope: scope.to_owned(),
                        limit: None,
                        available: None,
                    });
                    scopes.len() - 1
                }
            };
            if is_limit {
                scopes[idx].limit = Some(shorten(value.trim(), 40));
            } else {
                scopes[idx].available = value.trim().parse().ok();
            }
        }
        scopes.sort_by(|a, b| a.scope.cmp(&b.scope));
        Self {
            scopes,
            retry_after: wire::retry_after(headers, wall),
        }
    }

    /// The scope with the fewest requests left, if any scope says.
    #[must_use]
    pub fn tightest(&self) -> Option<&RateLimit> {
        self.scopes
            .iter()
            .filter(|r| r.available.is_some())
            .min_by_key(|r| r.available)
    }
}

/// Django REST Framework field errors: `{"field": ["message", …], …}`.
fn field_errors(obj: &serde_json::Map<String, Value>, redactor: &Redactor<'_>) -> Vec<FieldError> {
    let clean = |s: &str| shorten(&redactor.text(s), 200);
    obj.iter()
        .map(|(field, v)| FieldError {
            field: clean(field),
            messages: match v {
                Value::Array(items) => items
                    .iter()
                    .map(|m| m.as_str().map_or_else(|| clean(&m.to_string()), clean))
                    .collect(),
                Value::String(s) => vec![clean(s)],
                other => vec![clean(&other.to_string())],
            },
        })
        .collect()
}
