//! Markable's publishable tokens.

use std::ops::Deref;

use auth_cell::{Driver, TokenCell};
use auth_core::PublishableToken;

use crate::{Error, TokenProvider, TokenProviderBuilder};

/// A Markable provider fixed to the `search` scope: the one kind of
/// provider whose token may be published (embedded in a web page).
///
/// A plain [`TokenProvider`] has no `publishable_token` method, so a
/// `default`-scope token — which allows every operation — cannot be
/// published by accident.
#[derive(Clone, Debug)]
pub struct SearchTokenProvider {
    provider: TokenProvider,
}

impl SearchTokenProvider {
    /// Builds from a builder for a [`auth_core::Markable`] provider, asking
    /// for `search`. Fails if the provider is not Markable or the builder
    /// was given other scopes (they are refused, not silently replaced).
    pub fn new(builder: TokenProviderBuilder) -> Result<Self, Error> {
        Ok(Self {
            provider: TokenProvider::build(builder.into_parts(true)?)?,
        })
    }

    /// The current token as a value that may be published.
    pub async fn publishable_token(&self) -> Result<PublishableToken, Error> {
        let token = self.provider.token().await?;
        TokenCell::publishable(&token)
    }
}

impl Deref for SearchTokenProvider {
    type Target = TokenProvider;
    fn deref(&self) -> &TokenProvider {
        &self.provider
    }
}
