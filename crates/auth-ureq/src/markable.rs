//! Markable Lens: the `search` scope, whose token may be published.

use std::ops::Deref;

use auth_cell::{Driver, TokenCell};
use auth_core::PublishableToken;

use crate::{Error, TokenProvider, TokenProviderBuilder};

/// A [`TokenProvider`] for Markable's `search` scope, the one whose token
/// may be shown to the world (embedded in a web page, say). Only this type has [`publishable_token`](Self::publishable_token); a
/// plain [`TokenProvider`] cannot publish a token, so a `default`-scoped
/// token (which allows every operation) cannot leak through that door.
/// Everything else (`token`, `send`, …) is reached through `Deref`. See
/// the [crate docs](crate#markables-publishable-token) for an example.
#[derive(Clone, Debug)]
pub struct SearchTokenProvider {
    tokens: TokenProvider,
}

impl SearchTokenProvider {
    /// Builds from a builder for a [`auth_core::Markable`] provider, asking
    /// for the `search` scope. Fails if the provider is not Markable or the
    /// builder was given other scopes.
    pub fn new(builder: TokenProviderBuilder) -> Result<Self, Error> {
        Ok(Self {
            tokens: TokenProvider::build(builder.into_parts(true)?)?,
        })
    }

    /// A token value that may be published. Fetches one if needed.
    pub fn publishable_token(&self) -> Result<PublishableToken, Error> {
        let token = self.tokens.token()?;
        TokenCell::publishable(&token)
    }

    /// The underlying provider.
    #[must_use]
    pub fn provider(&self) -> &TokenProvider {
        &self.tokens
    }
}

impl Deref for SearchTokenProvider {
    type Target = TokenProvider;

    fn deref(&self) -> &TokenProvider {
        &self.tokens
    }
}
