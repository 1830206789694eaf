//! RFC 6749 client credentials (§4.4) against any compliant server.

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
use crate::token::TokenResponse;
use crate::wire::{self, check_url, common_status_error, form_body, form_encode, json_object};

const FORM: &str = "application/x-www-form-urlencoded";

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    /// The RFC says servers must support it, so it is the default.
    #[default]
    Basic,
    /// `client_secret_post`: id and secret as form parameters in the body.
    Post,
}

impl ClientAuth {
    /// The OAuth metadata name: `client_secret_basic` or `client_secret_post`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
        }
    }
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
#[derive(Clone, Debug)]
pub struct OAuth2 {
    token_url: Uri,
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
            auth,
            params: Vec::new(),
        })
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
    /// scopes, `scope=…` (RFC 6749 §4.4.2).
    pub fn token_request(
        &self,
        credentials: &ClientCredentials,
        scopes: &Scopes,
    ) -> Result<Request<Vec<u8>>, Error> {
        form_token_request(
            &self.token_url,
            self.auth,
            credentials,
            scopes,
            &self.params,
            false,
        )
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
    scopes: &Scopes,
    params: &[(String, String)],
    seed_order: bool,
) -> Result<Request<Vec<u8>>, Error> {
    let scope = scopes.canonical();
    let id = credentials.client_id();
    let secret = credentials.client_secret().expose_secret();
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(4);
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
    form_encode(credentials.client_secret().expose_secret(), &mut plain);
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
    let redactor = cx.redactor();
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
