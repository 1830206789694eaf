//! Authorization server discovery (RFC 8414, OpenID Connect Discovery 1.0):
//! from an issuer URL to a configured [`OAuth2`] provider.
//!
//! In scope: the two well-known requests, reading the metadata document
//! (issuer check, token endpoint, client authentication methods, scopes,
//! grant types), and picking the method the credentials can use. Out of
//! scope: fetching (the drivers do), caching the document, and every
//! field the client-credentials grant does not need.
//!
//! ```text
//!   issuer ──discovery_requests──▶ [oauth-authorization-server, openid-configuration]
//!                                        │ driver: GET the first; on
//!                                        │ Error::MetadataNotFound, the second
//!                                        ▼
//!   response ──Metadata::parse(issuer)──▶ Metadata ──provider(credentials)──▶ OAuth2
//! ```
//!
//! The document is hostile input: it is read only up to
//! [`MAX_METADATA_BYTES`], every piece of it that reaches an error is
//! sanitized and shortened, and its issuer must be exactly the one asked
//! for (RFC 8414 §3.3), so a document cannot speak for another server.

use std::time::SystemTime;

use http::header::RETRY_AFTER;
use http::{Method, Request, Response, StatusCode, Uri};
use serde_json::{Map, Value};

use crate::credentials::ClientCredentials;
use crate::error::Error;
use crate::provider::{ClientAuth, OAuth2};
use crate::redact::{sanitize, shorten, Redactor};
use crate::wire::{self, check_url, common_status_error, json_object, malformed};

/// RFC 8414 §3: inserted between the host and the issuer's path.
pub const OAUTH_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

/// OpenID Connect Discovery §4: appended to the issuer.
pub const OIDC_WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// The largest metadata document read, in bytes. Real ones are a few
/// kilobytes (the largest OpenID providers' stay under 20 KiB); a driver
/// may cap its reads at this size.
pub const MAX_METADATA_BYTES: usize = 256 * 1024;

/// How many of the server's methods an error lists.
const LISTED: usize = 16;

/// The two metadata requests for `issuer`, in the order to try them: the
/// RFC 8414 document (`/.well-known/oauth-authorization-server` inserted
/// between the host and the issuer's path, §3.1), then the OpenID Connect
/// one (`/.well-known/openid-configuration` appended to the issuer, §4).
/// A trailing `/` on the issuer's path is dropped first, as both specs say.
///
/// The issuer must be https (or http to a loopback host), with no query,
/// fragment or user info (RFC 8414 §2).
///
/// ```
/// use auth_core::discovery::discovery_requests;
/// let [oauth, oidc] = discovery_requests("https://login.example.com/tenant-1")?;
/// assert_eq!(oauth.uri(), "https://login.example.com/.well-known/oauth-authorization-server/tenant-1");
/// assert_eq!(oidc.uri(), "https://login.example.com/tenant-1/.well-known/openid-configuration");
/// assert_eq!(oauth.method(), "GET");
/// # Ok::<(), auth_core::Error>(())
/// ```
pub fn discovery_requests(issuer: &str) -> Result<[Request<Vec<u8>>; 2], Error> {
    let parts = IssuerParts::parse(issuer)?;
    let get = |url: String| -> Result<Request<Vec<u8>>, Error> {
        let uri = check_url(&url, false)?;
        wire::finish(wire::request(Method::GET, &uri, None), Vec::new())
    };
    Ok([
        get(format!(
            "{}://{}{OAUTH_WELL_KNOWN}{}",
            parts.scheme, parts.authority, parts.path
        ))?,
        get(format!(
            "{}://{}{}{OIDC_WELL_KNOWN}",
            parts.scheme, parts.authority, parts.path
        ))?,
    ])
}

/// The discovery exchange without IO: [`start`](Self::start) gives the
/// first request; the driver sends each request it is given and hands the
/// answer to [`handle_response`](Self::handle_response), until the
/// metadata or an error comes back. A 404 (or 410) at the RFC 8414 URL
/// moves on to the OpenID Connect one; anything else ends the exchange.
///
/// ```
/// use auth_core::discovery::{Discovery, DiscoveryStep};
/// let (mut discovery, first) = Discovery::start("https://login.example.com")?;
/// assert!(first.uri().path().starts_with("/.well-known/oauth-authorization-server"));
/// let not_found = http::Response::builder().status(404).body(Vec::new())?;
/// let DiscoveryStep::Send(second) = discovery.handle_response(&not_found)? else { panic!() };
/// assert_eq!(second.uri().path(), "/.well-known/openid-configuration");
/// let doc = br#"{"issuer":"https://login.example.com","token_endpoint":"https://login.example.com/token"}"#;
/// let found = http::Response::builder().status(200).body(doc.to_vec())?;
/// let DiscoveryStep::Done(metadata) = discovery.handle_response(&found)? else { panic!() };
/// assert_eq!(metadata.token_endpoint(), "https://login.example.com/token");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Discovery {
    issuer: String,
    next: Option<Request<Vec<u8>>>,
}

/// What to do after an answer: see [`Discovery`].
#[derive(Debug)]
pub enum DiscoveryStep {
    /// Send this request next.
    Send(Request<Vec<u8>>),
    /// The metadata, read and checked.
    Done(Metadata),
}

impl Discovery {
    /// The exchange for `issuer`, and its first request.
    pub fn start(issuer: &str) -> Result<(Self, Request<Vec<u8>>), Error> {
        let [first, second] = discovery_requests(issuer)?;
        let discovery = Self {
            issuer: issuer.to_owned(),
            next: Some(second),
        };
        Ok((discovery, first))
    }

    /// Reads the answer to the last request given.
    pub fn handle_response(
        &mut self,
        response: &Response<Vec<u8>>,
    ) -> Result<DiscoveryStep, Error> {
        match Metadata::parse(response, &self.issuer) {
            Ok(metadata) => Ok(DiscoveryStep::Done(metadata)),
            Err(Error::MetadataNotFound { .. }) if self.next.is_some() => {
                Ok(DiscoveryStep::Send(self.next.take().ok_or_else(|| {
                    Error::Misuse("no discovery request left".into())
                })?))
            }
            Err(e) => Err(e),
        }
    }
}

/// `issuer` with any `user:password@` before its host cut out, for error
/// messages: a password written into an issuer URL must not be quoted.
/// Everything up to the last `@` goes, so a password holding a `/` goes
/// too (an `@` in the path costs only some of the message).
fn without_userinfo(issuer: &str) -> String {
    let start = issuer.find("://").map_or(0, |i| i + 3);
    let end = issuer[start..]
        .find(['?', '#'])
        .map_or(issuer.len(), |i| start + i);
    match issuer[start..end].rfind('@') {
        Some(at) => format!(
            "{}[redacted]@{}",
            &issuer[..start],
            &issuer[start + at + 1..]
        ),
        None => issuer.to_owned(),
    }
}

/// An issuer split for the well-known URLs; `path` has no trailing `/`.
struct IssuerParts {
    scheme: String,
    authority: String,
    path: String,
}

impl IssuerParts {
    fn parse(issuer: &str) -> Result<Self, Error> {
        let shown = || sanitize(&shorten(&without_userinfo(issuer), 120));
        if issuer.contains(['?', '#']) {
            return Err(Error::InvalidConfig(format!(
                "the issuer `{}` has a query or fragment, which an issuer may not have (RFC 8414 §2)",
                shown()
            )));
        }
        let bad = || {
            Error::InvalidConfig(format!(
                "the issuer `{}` is not an https URL (plain http is accepted for loopback only); write it as https://host/path",
                shown()
            ))
        };
        let uri: Uri = check_url(issuer, false).map_err(|_| bad())?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(bad());
        };
        if authority.as_str().contains('@') {
            return Err(Error::InvalidConfig(format!(
                "the issuer `{}` holds a user name or password; an issuer is only scheme, host and path",
                shown()
            )));
        }
        Ok(Self {
            scheme: scheme.to_owned(),
            authority: authority.as_str().to_owned(),
            path: uri.path().trim_end_matches('/').to_owned(),
        })
    }
}

/// The parts of an authorization server's metadata (RFC 8414 §2, OpenID
/// Connect Discovery §3) that the client-credentials grant uses.
///
/// ```
/// use auth_core::discovery::Metadata;
/// use auth_core::{ClientAuth, ClientCredentials};
///
/// let body = br#"{
///   "issuer": "https://login.example.com",
///   "token_endpoint": "https://login.example.com/oauth2/token",
///   "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
///   "grant_types_supported": ["client_credentials"]
/// }"#;
/// let response = http::Response::builder().status(200).body(body.to_vec())?;
/// let metadata = Metadata::parse(&response, "https://login.example.com")?;
/// assert_eq!(metadata.token_endpoint(), "https://login.example.com/oauth2/token");
///
/// // A secret: client_secret_basic is not listed, so client_secret_post.
/// let creds = ClientCredentials::new("my-client", "my-secret")?;
/// let provider = metadata.provider(&creds)?;
/// assert_eq!(provider.auth(), ClientAuth::Post);
/// assert_eq!(provider.token_url(), "https://login.example.com/oauth2/token");
///
/// // The issuer must be the one asked for, exactly.
/// assert!(Metadata::parse(&response, "https://login.example.com/").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    issuer: String,
    token_endpoint: String,
    auth_methods: Vec<String>,
    auth_signing_algs: Option<Vec<String>>,
    scopes_supported: Option<Vec<String>>,
    grant_types_supported: Option<Vec<String>>,
}

impl Metadata {
    /// Reads the answer to one of the [`discovery_requests`] for `issuer`.
    ///
    /// - 404 or 410: [`Error::MetadataNotFound`]; the driver tries the next URL.
    /// - A redirect (never followed), 429 or 5xx: the errors a token
    ///   request gets for them (`Retry-After` read when in seconds, or as
    ///   a date against the response's `Date`).
    /// - A body over [`MAX_METADATA_BYTES`], not a JSON object, without an
    ///   `issuer` or `token_endpoint` string, or with a `token_endpoint`
    ///   that is not https (or loopback http): [`Error::MalformedResponse`].
    /// - An `issuer` other than `issuer`, byte for byte:
    ///   [`Error::IssuerMismatch`].
    ///
    /// `token_endpoint_auth_methods_supported` defaults to
    /// `["client_secret_basic"]` when absent (RFC 8414 §2).
    pub fn parse(response: &Response<Vec<u8>>, issuer: &str) -> Result<Self, Error> {
        IssuerParts::parse(issuer)?;
        let redactor = Redactor::default();
        let status = response.status();
        if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
            return Err(Error::MetadataNotFound { status });
        }
        if let Some(e) = status_error(response, &redactor) {
            return Err(e);
        }
        if !status.is_success() {
            return Err(Error::UnexpectedStatus {
                status,
                location: None,
                excerpt: redactor.excerpt(response),
            });
        }
        let size = response.body().len();
        if size > MAX_METADATA_BYTES {
            return Err(Error::MalformedResponse {
                status,
                reason: format!(
                    "the metadata document is {size} bytes; apiauth reads at most {MAX_METADATA_BYTES}"
                ),
                excerpt: "(too large to show)".into(),
            });
        }
        let obj = json_object(response, &redactor)?;
        let bad = |reason: String| malformed(response, &redactor, reason);
        let found = obj
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("the metadata has no `issuer` string".into()))?;
        if found != issuer {
            return Err(Error::IssuerMismatch {
                expected: sanitize(&shorten(issuer, 200)),
                found: sanitize(&shorten(found, 200)),
            });
        }
        let token_endpoint = obj
            .get("token_endpoint")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad("the metadata has no `token_endpoint` string, so it offers no client-credentials grant".into())
            })?;
        if check_url(token_endpoint, false).is_err() {
            return Err(bad(format!(
                "the metadata's token_endpoint `{}` is not an https URL (plain http is accepted for loopback only)",
                sanitize(&shorten(token_endpoint, 120))
            )));
        }
        let strings = |key: &str| string_list(&obj, key).map_err(&bad);
        Ok(Self {
            issuer: found.to_owned(),
            token_endpoint: token_endpoint.to_owned(),
            auth_methods: strings("token_endpoint_auth_methods_supported")?
                .unwrap_or_else(|| vec![ClientAuth::Basic.as_str().to_owned()]),
            auth_signing_algs: strings("token_endpoint_auth_signing_alg_values_supported")?,
            scopes_supported: strings("scopes_supported")?,
            grant_types_supported: strings("grant_types_supported")?,
        })
    }

    /// The issuer, identical to the one asked for.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The token endpoint URL, as the document writes it.
    #[must_use]
    pub fn token_endpoint(&self) -> &str {
        &self.token_endpoint
    }

    /// `token_endpoint_auth_methods_supported`, or its default
    /// `["client_secret_basic"]`.
    #[must_use]
    pub fn token_endpoint_auth_methods(&self) -> &[String] {
        &self.auth_methods
    }

    /// `token_endpoint_auth_signing_alg_values_supported`: the algorithms
    /// the server accepts for client assertions, if it says.
    #[must_use]
    pub fn token_endpoint_auth_signing_algs(&self) -> Option<&[String]> {
        self.auth_signing_algs.as_deref()
    }

    /// `scopes_supported`, if the document lists them.
    #[must_use]
    pub fn scopes_supported(&self) -> Option<&[String]> {
        self.scopes_supported.as_deref()
    }

    /// `grant_types_supported`, if the document lists them. Informative
    /// only: many servers that issue client-credentials tokens leave
    /// `client_credentials` out of it (or the whole list out), so it is not
    /// used to refuse a provider.
    #[must_use]
    pub fn grant_types_supported(&self) -> Option<&[String]> {
        self.grant_types_supported.as_deref()
    }

    /// Whether the server lists `method` among the token endpoint's
    /// authentication methods (`client_secret_basic` alone when the
    /// document names none).
    #[must_use]
    pub fn lists(&self, method: ClientAuth) -> bool {
        self.auth_methods.iter().any(|x| x == method.as_str())
    }

    /// The client authentication method for `credentials`: with a private
    /// key, `private_key_jwt` (which must be listed, and when the server
    /// lists signing algorithms, with the key's among them); with a secret,
    /// `client_secret_basic` if listed, else `client_secret_post`. Anything
    /// else is [`Error::NoAuthMethod`], naming what the server lists and
    /// what the credentials hold.
    pub fn auth_method_for(&self, credentials: &ClientCredentials) -> Result<ClientAuth, Error> {
        let listed = |m: ClientAuth| self.lists(m);
        let chosen = match credentials.key_algorithm() {
            Some(alg) => {
                let alg_accepted = self
                    .auth_signing_algs
                    .as_ref()
                    .is_none_or(|algs| algs.iter().any(|a| a == alg));
                (listed(ClientAuth::PrivateKeyJwt) && alg_accepted)
                    .then_some(ClientAuth::PrivateKeyJwt)
            }
            None => [ClientAuth::Basic, ClientAuth::Post]
                .into_iter()
                .find(|m| listed(*m)),
        };
        chosen.ok_or_else(|| Error::NoAuthMethod {
            supported: self.described_methods(),
            have: credentials.describe(),
        })
    }

    /// A provider for the document's token endpoint, with the method
    /// [`auth_method_for`](Self::auth_method_for) picks for `credentials`.
    pub fn provider(&self, credentials: &ClientCredentials) -> Result<OAuth2, Error> {
        OAuth2::new(&self.token_endpoint, self.auth_method_for(credentials)?)
    }

    /// The server's methods for an error message: sanitized, shortened,
    /// at most [`LISTED`], `private_key_jwt` with its algorithms.
    fn described_methods(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .auth_methods
            .iter()
            .take(LISTED)
            .map(|m| {
                let mut shown = sanitize(&shorten(m, 60));
                if m == ClientAuth::PrivateKeyJwt.as_str() {
                    if let Some(algs) = &self.auth_signing_algs {
                        let algs: Vec<String> = algs
                            .iter()
                            .take(LISTED)
                            .map(|a| sanitize(&shorten(a, 20)))
                            .collect();
                        shown.push_str(&format!(" (signed with {})", algs.join(", ")));
                    }
                }
                shown
            })
            .collect();
        if self.auth_methods.len() > LISTED {
            out.push(format!("… {} more", self.auth_methods.len() - LISTED));
        }
        out
    }
}

/// The errors every answer shares: a redirect, 429, 5xx. Without a wall
/// clock, a `Retry-After` date is measured against the response's `Date`;
/// with no `Date`, only delay-seconds are read.
fn status_error(response: &Response<Vec<u8>>, redactor: &Redactor<'_>) -> Option<Error> {
    let date = wire::date(response.headers());
    let mut error =
        common_status_error(response, redactor, date.unwrap_or(SystemTime::UNIX_EPOCH))?;
    let in_seconds = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().bytes().all(|b| b.is_ascii_digit()));
    if date.is_none() && !in_seconds {
        if let Error::RateLimited { retry_after, .. } | Error::Server { retry_after, .. } =
            &mut error
        {
            *retry_after = None;
        }
    }
    Some(error)
}

/// A member that must be an array of strings when present (`null` counts
/// as absent).
fn string_list(obj: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| format!("the metadata's `{key}` holds something other than strings")),
        Some(_) => Err(format!("the metadata's `{key}` is not an array of strings")),
    }
}
