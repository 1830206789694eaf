//! Provider dialects: how each server wants the token request, and how to
//! read its answer. Pure functions over `http` types; no IO.
//!
//! | dialect | token request | client authentication | errors |
//! |---|---|---|---|
//! | [`OAuth2`] | form POST to any token URL (RFC 6749 §4.4) | `client_secret_basic`, `client_secret_post` or `private_key_jwt` | §5.2 JSON |
//! | [`Openverse`] | form POST to `{base}/v1/auth_tokens/token/` | post | §5.2 JSON, DRF field errors on register |
//! | [`Markable`] | JSON POST of `{"data":{…}}` to `…/auth/client/authorize` | in the JSON body | JSON:API `{"errors":[…]}` |

use std::time::SystemTime;

use http::{Request, Response, Uri};

use crate::credentials::ClientCredentials;
use crate::error::Error;
use crate::redact::Redactor;
use crate::scope::{MarkableScope, Scopes};
use crate::secret::ClientSecret;
use crate::token::TokenResponse;

mod fields;
pub mod markable;
pub mod oauth2;
pub mod openverse;

pub use markable::Markable;
pub(crate) use oauth2::BuiltRequest;
pub use oauth2::{AssertionInput, ClientAuth, OAuth2};
pub use openverse::Openverse;

/// What a response parser needs besides the response: the credentials (to
/// redact the secret from any echo), the scopes asked for, and wall time
/// (for `Retry-After` dates and absolute expiries).
///
/// A client assertion sent with the request is not part of it: the token
/// machine, which sent the assertion, redacts it from its answer itself.
#[derive(Clone, Copy, Debug)]
pub struct ResponseContext<'a> {
    /// The credentials the request was made with.
    pub credentials: &'a ClientCredentials,
    /// The scopes the request asked for.
    pub requested: &'a Scopes,
    /// Wall-clock time when the response arrived.
    pub wall: SystemTime,
}

impl<'a> ResponseContext<'a> {
    pub(crate) fn redactor(&self) -> Redactor<'a> {
        self.redactor_sent(None)
    }

    /// The redactor for the answer to a request that carried `assertion`.
    pub(crate) fn redactor_sent(&self, assertion: Option<&'a str>) -> Redactor<'a> {
        redactor_for(self.credentials, assertion)
    }
}

/// Cuts the client secret (and the Basic credentials made from it), or the
/// client assertion sent, out of server text.
pub(crate) fn redactor_for<'a>(
    credentials: &'a ClientCredentials,
    assertion: Option<&'a str>,
) -> Redactor<'a> {
    let secret = credentials
        .client_secret()
        .map_or("", ClientSecret::expose_secret);
    Redactor::new([secret, assertion.unwrap_or("")]).with_client_id(credentials.client_id())
}

/// The secret of credentials for a dialect that knows no other way to
/// authenticate, or an error naming the dialect.
pub(crate) fn secret_only<'c>(
    dialect: &str,
    credentials: &'c ClientCredentials,
) -> Result<&'c ClientSecret, Error> {
    credentials.client_secret().ok_or_else(|| {
        Error::InvalidConfig(format!(
            "{dialect} authenticates clients with a client secret only; these credentials hold a private key (private_key_jwt), which it does not support: use the client secret it issued"
        ))
    })
}

/// One of the supported token-endpoint dialects.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum Provider {
    /// Any RFC 6749 client-credentials server.
    OAuth2(OAuth2),
    /// Creative Commons Catalog API / Openverse.
    Openverse(Openverse),
    /// Markable Lens API.
    Markable(Markable),
}

impl Provider {
    /// Builds the token request for these credentials and scopes. For
    /// `private_key_jwt` use [`Provider::token_request_at`].
    pub fn token_request(
        &self,
        credentials: &ClientCredentials,
        scopes: &Scopes,
    ) -> Result<Request<Vec<u8>>, Error> {
        self.build(credentials, scopes, None).map(|b| b.request)
    }

    /// Builds the token request, signing a new client assertion issued at
    /// `input.wall` with id `input.jti` when the credentials hold a key
    /// (see [`OAuth2::token_request_at`]).
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
        let plain = |request| BuiltRequest {
            request,
            assertion: None,
        };
        match self {
            Provider::OAuth2(p) => p.build(credentials, scopes, input),
            Provider::Openverse(p) => p.token_request(credentials, scopes).map(plain),
            Provider::Markable(p) => p.token_request(credentials, scopes).map(plain),
        }
    }

    /// Refuses credentials this provider cannot authenticate with (a
    /// private key for a dialect that takes secrets, a secret for
    /// `private_key_jwt`, …) without building a request.
    pub fn check_credentials(&self, credentials: &ClientCredentials) -> Result<(), Error> {
        match self {
            Provider::OAuth2(p) => p.auth().check(credentials),
            Provider::Openverse(_) => secret_only("the Openverse API", credentials).map(drop),
            Provider::Markable(_) => secret_only("the Markable API", credentials).map(drop),
        }
    }

    /// Reads the token endpoint's answer.
    pub fn parse_token_response(
        &self,
        response: &Response<Vec<u8>>,
        cx: ResponseContext<'_>,
    ) -> Result<TokenResponse, Error> {
        self.parse_answer(response, cx, &cx.redactor())
    }

    /// Reads the answer with the redactor of the exchange, which also knows
    /// the client assertion sent (the machine keeps it with the request).
    pub(crate) fn parse_answer(
        &self,
        response: &Response<Vec<u8>>,
        cx: ResponseContext<'_>,
        redactor: &Redactor<'_>,
    ) -> Result<TokenResponse, Error> {
        let token = match self {
            Provider::OAuth2(_) => oauth2::parse_token_response_redacting(response, cx, redactor),
            // Secret-only dialects: no assertion was sent to them.
            Provider::Openverse(p) => p.parse_token_response(response, cx),
            Provider::Markable(p) => p.parse_token_response(response, cx),
        }?;
        self.check_granted(&token, cx, redactor)?;
        Ok(token)
    }

    /// Refuses a token granted for fewer scopes than asked (RFC 6749 §3.3
    /// lets a server narrow them), or for Markable, for another scope than
    /// asked: kept, it would be served and cached under the scopes asked
    /// for, and every call needing them would fail until it expired.
    fn check_granted(
        &self,
        token: &TokenResponse,
        cx: ResponseContext<'_>,
        redactor: &Redactor<'_>,
    ) -> Result<(), Error> {
        let Some(granted) = &token.granted_scopes else {
            return Ok(());
        };
        let asked = match self {
            Provider::Markable(_) => Scopes::from(MarkableScope::from_scopes(cx.requested)?),
            _ => cx.requested.clone(),
        };
        let differs = match self {
            Provider::Markable(_) => *granted != asked,
            _ => !asked.difference(granted).is_empty(),
        };
        if differs {
            return Err(Error::ScopeNotGranted {
                requested: asked.canonical(),
                granted: redactor.text(&granted.canonical()),
            });
        }
        Ok(())
    }

    /// Checks scopes against what the dialect allows, before any request.
    pub fn check_scopes(&self, scopes: &Scopes) -> Result<(), Error> {
        match self {
            Provider::Markable(_) => MarkableScope::from_scopes(scopes).map(drop),
            _ => Ok(()),
        }
    }

    /// The URL token requests go to.
    #[must_use]
    pub fn token_url(&self) -> &Uri {
        match self {
            Provider::OAuth2(p) => p.token_url(),
            Provider::Openverse(p) => p.token_url(),
            Provider::Markable(p) => p.authorize_url(),
        }
    }

    /// A short name for logs and cache keys: `oauth2`, `openverse`, `markable`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Provider::OAuth2(_) => "oauth2",
            Provider::Openverse(_) => "openverse",
            Provider::Markable(_) => "markable",
        }
    }
}

impl From<OAuth2> for Provider {
    fn from(p: OAuth2) -> Self {
        Provider::OAuth2(p)
    }
}

impl From<Openverse> for Provider {
    fn from(p: Openverse) -> Self {
        Provider::Openverse(p)
    }
}

impl From<Markable> for Provider {
    fn from(p: Markable) -> Self {
        Provider::Markable(p)
    }
}
