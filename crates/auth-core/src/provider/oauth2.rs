//! RFC 6749 client credentials (§4.4) against any compliant server.

use std::time::SystemTime;

use base64::Engine as _;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use serde_json::Value;

use super::fields::read_token;
use super::ResponseContext;
use crate::credentials::ClientCredentials;
use crate::error::{Error, OAuthError, OAuthErrorCode};
use crate::redact::{shorten, Redactor};
use crate::scope::Scopes;
use crate::secret::{ClientAssertion, ASSERTION_TYPE};
use crate::token::TokenResponse;
use crate::wire::{self, check_url, common_status_error, form_body, form_encode, json_object};

const FORM: &str = "application/x-www-form-urlencoded";

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1,
/// RFC 7523 §2.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    /// The RFC says servers must support it, so it is the default.
    #[default]
    Basic,
    /// `client_secret_post`: id and secret as form parameters in the body.
    Post,
    /// `private_key_jwt`: a JWT signed with the client's private key, sent
    /// as `client_assertion` (RFC 7523 §2.2, OpenID Connect Core §9).
    /// Needs `ClientCredentials::with_private_key` (feature `private-key-jwt`).
    PrivateKeyJwt,
}

impl ClientAuth {
    /// The OAuth metadata name (RFC 8414 `token_endpoint_auth_methods_supported`):
    /// `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
            ClientAuth::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Refuses a method the credentials cannot do: a secret with
    /// `private_key_jwt`, a private key with a secret method.
    pub fn check(self, credentials: &ClientCredentials) -> Result<(), Error> {
        match (self, credentials.key_algorithm().is_some()) {
            (ClientAuth::PrivateKeyJwt, false) => Err(Error::InvalidConfig(
                "private_key_jwt needs credentials with a private key (`ClientCredentials::with_private_key`, auth-core feature `private-key-jwt`), but these hold a client secret; use client_secret_basic or client_secret_post with a secret".into(),
            )),
            (ClientAuth::Basic | ClientAuth::Post, true) => Err(Error::InvalidConfig(format!(
                "{} sends a client secret, but these credentials hold a private key; use private_key_jwt (`ClientAuth::PrivateKeyJwt`) with a key",
                self.as_str()
            ))),
            _ => Ok(()),
        }
    }
}

/// What to sign a client assertion with besides the key: the wall time it
/// is issued at and its unique id. The token machine supplies both.
#[derive(Clone, Copy, Debug)]
pub struct AssertionInput<'a> {
    /// Wall-clock time of sending: the assertion's `iat`.
    pub wall: SystemTime,
    /// The assertion's `jti`, never repeated for this client.
    pub jti: &'a str,
}

/// A token request and the client assertion it carries, if any (kept so
/// that an answer echoing it can be redacted).
pub(crate) struct BuiltRequest {
    pub(crate) request: Request<Vec<u8>>,
    pub(crate) assertion: Option<ClientAssertion>,
}

/// A plain RFC 6749 client-credentials token endpoint.
///
/// ```
/// use auth_core::{ClientAuth, ClientCredentials, OAuth2, Scopes};
/// let p = OAuth2::new("https://auth.example.com/oauth2/token", ClientAuth::Basic).unwrap();
/// let creds = ClientCredentials::new("id", "secret").unwrap();
/// let req = p.token_request(&creds, &"read".parse().unwrap()).unwrap();
/// assert_eq!(req.body(), b"grant_type=client_credentials&scope=read");
/// ```
///
/// With `private_key_jwt` (feature `private-key-jwt`), each request carries
/// a new signed assertion, so it needs the wall time and a unique id
/// ([`OAuth2::token_request_at`]; the token machine supplies both):
///
/// ```
/// # #[cfg(feature = "private-key-jwt")] {
/// use std::time::{Duration, SystemTime};
/// use auth_core::{AssertionInput, ClientAuth, ClientCredentials, OAuth2, PrivateKey, Scopes};
/// # let pem = include_str!("../../tests/fixtures/p256.pkcs8.pem");
/// let p = OAuth2::new("https://auth.example.com/oauth2/token", ClientAuth::PrivateKeyJwt)?;
/// let creds = ClientCredentials::with_private_key("my-client", PrivateKey::from_pem(pem)?)?;
/// let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let req = p.token_request_at(&creds, &Scopes::empty(), AssertionInput { wall, jti: "1f2e" })?;
/// let body = String::from_utf8(req.body().clone()).unwrap();
/// assert!(body.starts_with("grant_type=client_credentials&client_id=my-client&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=ey"));
/// # }
/// # Ok::<(), auth_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OAuth2 {
    token_url: Uri,
    /// The token URL as configured: the assertion's `aud` unless
    /// [`OAuth2::with_assertion_audience`] set another.
    audience: String,
    auth: ClientAuth,
    /// Extra form parameters (`resource`, `audience`, …), sorted by name
    /// then value: part of every request and of the cache key.
    params: Vec<(String, String)>,
}

/// Parameters this dialect sets itself; an extra one may not replace them.
const RESERVED: &[&str] = &[
    "grant_type",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

impl OAuth2 {
    /// A provider for `token_url`. The URL must be https, or http to a
    /// loopback host (a local emulator); anything else sends the secret in
    /// clear and is refused.
    pub fn new(token_url: &str, auth: ClientAuth) -> Result<Self, Error> {
        Ok(Self {
            token_url: check_url(token_url, false)?,
            audience: token_url.to_owned(),
            auth,
            params: Vec::new(),
        })
    }

    /// Sets the `aud` of client assertions (`private_key_jwt`) to
    /// `audience` instead of the token URL. RFC 7523 §3 lets a server name
    /// its own audience: Auth0, for one, wants its tenant URL
    /// (`https://{tenant}/`); most servers, Entra ID and Okta among them,
    /// want the token URL, which is the default.
    pub fn with_assertion_audience(mut self, audience: &str) -> Result<Self, Error> {
        if audience.is_empty() || audience.chars().any(char::is_control) {
            return Err(Error::InvalidConfig(
                "the assertion audience is empty or holds a control character".into(),
            ));
        }
        audience.clone_into(&mut self.audience);
        Ok(self)
    }

    /// The `aud` of client assertions: the token URL as configured, or
    /// what [`OAuth2::with_assertion_audience`] set.
    #[must_use]
    pub fn assertion_audience(&self) -> &str {
        &self.audience
    }

    /// Asks for a token for the API at `uri` (RFC 8707 `resource`; may be
    /// given more than once). The URI must be absolute, without a
    /// fragment. Tokens for different resources never share a cache entry.
    pub fn with_resource(self, uri: &str) -> Result<Self, Error> {
        let parsed = uri.parse::<Uri>().ok().filter(|u| u.scheme().is_some());
        if parsed.is_none() || uri.contains('#') {
            return Err(Error::InvalidConfig(format!(
                "the resource `{}` must be an absolute URI without a fragment (RFC 8707 §2)",
                crate::redact::sanitize(&crate::redact::shorten(uri, 80))
            )));
        }
        self.with_param("resource", uri)
    }

    /// Asks for a token for `audience` (the `audience` parameter Auth0 and
    /// others use in place of `resource`). Part of the cache key.
    pub fn with_audience(self, audience: &str) -> Result<Self, Error> {
        self.with_param("audience", audience)
    }

    /// Adds any other form parameter to every token request. Part of the
    /// cache key, so tokens asked for with different parameters never mix.
    /// Refuses the parameters this dialect sets itself, empty names, and
    /// control characters.
    pub fn with_param(mut self, name: &str, value: &str) -> Result<Self, Error> {
        if name.is_empty() || RESERVED.contains(&name) {
            return Err(Error::InvalidConfig(format!(
                "`{}` cannot be an extra parameter: apiauth sets it (or it is empty)",
                crate::redact::sanitize(name)
            )));
        }
        if name.chars().chain(value.chars()).any(char::is_control) {
            return Err(Error::InvalidConfig(
                "an extra parameter holds a control character; check for a stray newline".into(),
            ));
        }
        self.params.push((name.to_owned(), value.to_owned()));
        self.params.sort();
        self.params.dedup();
        Ok(self)
    }

    /// The extra parameters, form-encoded in canonical order (empty when
    /// there are none): what the cache key records of them.
    #[must_use]
    pub fn params_canonical(&self) -> String {
        let pairs: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form_body(&pairs)
    }

    /// Like [`OAuth2::new`], but also accepts plain http to any host. Only
    /// for closed test networks: the client secret crosses the wire in clear.
    pub fn new_allowing_insecure_http(token_url: &str, auth: ClientAuth) -> Result<Self, Error> {
        Ok(Self {
            token_url: check_url(token_url, true)?,
            audience: token_url.to_owned(),
            auth,
            params: Vec::new(),
        })
    }

    /// The token URL.
    #[must_use]
    pub fn token_url(&self) -> &Uri {
        &self.token_url
    }

    /// The client authentication method.
    #[must_use]
    pub fn auth(&self) -> ClientAuth {
        self.auth
    }

    /// `POST token_url` with `grant_type=client_credentials` and, if any
    /// scopes, `scope=…` (RFC 6749 §4.4.2). For `private_key_jwt`, which
    /// needs the time and a unique id, use [`OAuth2::token_request_at`];
    /// this refuses it ([`Error::Misuse`]).
    pub fn token_request(
        &self,
        credentials: &ClientCredentials,
        scopes: &Scopes,
    ) -> Result<Request<Vec<u8>>, Error> {
        self.build(credentials, scopes, None).map(|b| b.request)
    }

    /// Like [`OAuth2::token_request`], and for `private_key_jwt` signs a new
    /// assertion issued at `input.wall` with id `input.jti`: the form then
    /// carries `client_id`, `client_assertion_type` and `client_assertion`
    /// (RFC 7523 §2.2; `client_id` is optional there, and sent because
    /// servers such as Entra ID document it). Secret methods ignore `input`.
    pub fn token_request_at(
        &self,
        credentials: &ClientCredentials,
        scopes: &Scopes,
        input: AssertionInput<'_>,
    ) -> Result<Request<Vec<u8>>, Error> {
        self.build(credentials, scopes, Some(input))
            .map(|b| b.request)
    }

    pub(crate) fn build(
        &self,
        credentials: &ClientCredentials,
        scopes: &Scopes,
        input: Option<AssertionInput<'_>>,
    ) -> Result<BuiltRequest, Error> {
        self.auth.check(credentials)?;
        let assertion = self.sign(credentials, input)?;
        let request = form_token_request(
            &self.token_url,
            self.auth,
            credentials,
            assertion.as_ref(),
            scopes,
            &self.params,
            false,
        )?;
        Ok(BuiltRequest { request, assertion })
    }

    /// The client assertion a `private_key_jwt` request carries; `None`
    /// for the secret methods.
    #[cfg(feature = "private-key-jwt")]
    fn sign(
        &self,
        credentials: &ClientCredentials,
        input: Option<AssertionInput<'_>>,
    ) -> Result<Option<ClientAssertion>, Error> {
        match (self.auth, credentials.private_key(), input) {
            (ClientAuth::PrivateKeyJwt, Some(key), Some(input)) => key
                .client_assertion(credentials.client_id(), &self.audience, input.wall, input.jti)
                .map(Some),
            (ClientAuth::PrivateKeyJwt, _, None) => Err(Error::Misuse(
                "a private_key_jwt request needs the wall time and a unique id: use `token_request_at` (the token machine does)".into(),
            )),
            _ => Ok(None),
        }
    }

    /// Without the `private-key-jwt` feature no credentials hold a key, and
    /// [`ClientAuth::check`] has refused `private_key_jwt` already.
    #[cfg(not(feature = "private-key-jwt"))]
    #[allow(clippy::unnecessary_wraps, clippy::unused_self)]
    fn sign(
        &self,
        _: &ClientCredentials,
        _: Option<AssertionInput<'_>>,
    ) -> Result<Option<ClientAssertion>, Error> {
        Ok(None)
    }

    /// Reads a §5.1 success or §5.2 error response.
    pub fn parse_token_response(
        &self,
        response: &Response<Vec<u8>>,
        cx: ResponseContext<'_>,
    ) -> Result<TokenResponse, Error> {
        parse_token_response(response, cx)
    }
}

/// Builds a client-credentials form request. `seed_order` puts the
/// credentials first, as the CC Catalog seed's curl example does.
pub(crate) fn form_token_request(
    uri: &Uri,
    auth: ClientAuth,
    credentials: &ClientCredentials,
    assertion: Option<&ClientAssertion>,
    scopes: &Scopes,
    params: &[(String, String)],
    seed_order: bool,
) -> Result<Request<Vec<u8>>, Error> {
    auth.check(credentials)?;
    let scope = scopes.canonical();
    let id = credentials.client_id();
    let secret = credentials
        .client_secret()
        .map_or("", |s| s.expose_secret());
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(6);
    match auth {
        ClientAuth::Basic => pairs.push(("grant_type", "client_credentials")),
        ClientAuth::Post if seed_order => {
            pairs.extend([
                ("client_id", id),
                ("client_secret", secret),
                ("grant_type", "client_credentials"),
            ]);
        }
        ClientAuth::Post => {
            pairs.extend([
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ]);
        }
        ClientAuth::PrivateKeyJwt => {
            let Some(assertion) = assertion else {
                return Err(Error::Misuse(
                    "a private_key_jwt request was built without its assertion".into(),
                ));
            };
            pairs.extend([
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion.expose_secret()),
            ]);
        }
    }
    if !scopes.is_empty() {
        pairs.push(("scope", &scope));
    }
    pairs.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let body = form_body(&pairs).into_bytes();
    let mut b = wire::request(Method::POST, uri, Some(FORM));
    if auth == ClientAuth::Basic {
        b = b.header(AUTHORIZATION, basic_header(credentials)?);
    }
    wire::finish(b, body)
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` — RFC 6749 §2.3.1
/// form-encodes both before RFC 7617 joins them, so a `:` in the id survives.
fn basic_header(credentials: &ClientCredentials) -> Result<HeaderValue, Error> {
    let mut plain = String::new();
    form_encode(credentials.client_id(), &mut plain);
    plain.push(':');
    form_encode(
        credentials
            .client_secret()
            .map_or("", |s| s.expose_secret()),
        &mut plain,
    );
    let mut encoded = String::from("Basic ");
    base64::engine::general_purpose::STANDARD.encode_string(plain.as_bytes(), &mut encoded);
    let mut v = HeaderValue::try_from(encoded)
        .map_err(|_| Error::InvalidConfig("the credentials cannot form a Basic header".into()))?;
    v.set_sensitive(true);
    Ok(v)
}

/// RFC 6749 §5.1 / §5.2, shared with the Openverse dialect.
pub(crate) fn parse_token_response(
    response: &Response<Vec<u8>>,
    cx: ResponseContext<'_>,
) -> Result<TokenResponse, Error> {
    parse_token_response_redacting(response, cx, &cx.redactor())
}

/// The same, with the redactor of the exchange (it may know the client
/// assertion that was sent, which the context does not).
pub(crate) fn parse_token_response_redacting(
    response: &Response<Vec<u8>>,
    cx: ResponseContext<'_>,
    redactor: &Redactor<'_>,
) -> Result<TokenResponse, Error> {
    let redactor = *redactor;
    if let Some(e) = common_status_error(response, &redactor, cx.wall) {
        return Err(e);
    }
    let status = response.status();
    if status.is_success() {
        let obj = json_object(response, &redactor)?;
        return read_token(&obj, response, &redactor);
    }
    // 4xx: §5.2 says 400 (401 for invalid_client) with a JSON error object.
    if let Ok(obj) = json_object(response, &redactor) {
        if let Some(Value::String(code)) = obj.get("error").filter(|c| c.as_str() != Some("")) {
            return Err(Error::Rejected(oauth_error(&obj, code, status, &redactor)));
        }
    }
    if status == StatusCode::UNAUTHORIZED {
        // No §5.2 body, but a 401 from a token endpoint can only mean the
        // client failed to authenticate.
        return Err(Error::Rejected(OAuthError {
            code: OAuthErrorCode::InvalidClient,
            description: Some("HTTP 401 without an RFC 6749 error body".into()),
            uri: None,
            status,
        }));
    }
    Err(Error::UnexpectedStatus {
        status,
        location: None,
        excerpt: redactor.excerpt(response),
    })
}

fn oauth_error(
    obj: &serde_json::Map<String, Value>,
    code: &str,
    status: StatusCode,
    redactor: &Redactor<'_>,
) -> OAuthError {
    let text = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .map(|s| shorten(&redactor.text(s), 200))
    };
    OAuthError {
        code: OAuthErrorCode::from_wire(&shorten(&redactor.text(code), 60)),
        description: text("error_description"),
        uri: text("error_uri"),
        status,
    }
}
