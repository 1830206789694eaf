//! Provider dialects: how each server wants the token request, and how to
//! read its answer. Pure functions over `http` types; no IO.
//!
//! | dialect | token request | client authentication | errors |
//! |---|---|---|---|
//! | [`OAuth2`] | form POST to any token URL (RFC 6749 §4.4) | `client_secret_basic` or `client_secret_post` | §5.2 JSON |
//! | [`Openverse`] | form POST to `{base}/v1/auth_tokens/token/` | post | §5.2 JSON, DRF field errors on register |
//! | [`Markable`] | JSON POST of `{"data":{…}}` to `…/auth/client/authorize` | in the JSON body | JSON:API `{"errors":[…]}` |

use std::time::SystemTime;

use http::{Request, Response, Uri};

use crate::credentials::ClientCredentials;
use crate::error::Error;
use crate::redact::Redactor;
use crate::scope::{MarkableScope, Scopes};
use crate::token::TokenResponse;

mod fields;
pub mod markable;
pub mod oauth2;
pub mod openverse;

pub use markable::Markable;
pub use oauth2::{ClientAuth, OAuth2};
pub use openverse::Openverse;

/// What a response parser needs besides the response: the credentials (to
/// redact the secret from any echo), the scopes asked for, and wall time
/// (for `Retry-After` dates and absolute expiries).
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
        Redactor::new([self.credentials.client_secret().expose_secret(), ""])
            .with_client_id(self.credentials.client_id())
    }
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
    /// Builds the token request for these credentials and scopes.
    pub fn token_request(
        &self,
        credentials: &ClientCredentials,
        scopes: &Scopes,
    ) -> Result<Request<Vec<u8>>, Error> {
        match self {
            Provider::OAuth2(p) => p.token_request(credentials, scopes),
            Provider::Openverse(p) => p.token_request(credentials, scopes),
            Provider::Markable(p) => p.token_request(credentials, scopes),
        }
    }

    /// Reads the token endpoint's answer.
    pub fn parse_token_response(
        &self,
        response: &Response<Vec<u8>>,
        cx: ResponseContext<'_>,
    ) -> Result<TokenResponse, Error> {
        let token = match self {
            Provider::OAuth2(p) => p.parse_token_response(response, cx),
            Provider::Openverse(p) => p.parse_token_response(response, cx),
            Provider::Markable(p) => p.parse_token_response(response, cx),
        }?;
        self.check_granted(&token, cx)?;
        Ok(token)
    }

    /// Refuses a token granted for fewer scopes than asked (RFC 6749 §3.3
    /// lets a server narrow them), or for Markable, for another scope than
    /// asked: kept, it would be served and cached under the scopes asked
    /// for, and every call needing them would fail until it expired.
    fn check_granted(&self, token: &TokenResponse, cx: ResponseContext<'_>) -> Result<(), Error> {
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
                granted: cx.redactor().text(&granted.canonical()),
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
