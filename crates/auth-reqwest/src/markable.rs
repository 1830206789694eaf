//! Markable's publishable tokens.

use std::ops::Deref;

use auth_core::{MarkableScope, Provider, PublishableToken, Scopes};

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
    /// Builds from a builder for a [`auth_core::Markable`] provider; the
    /// scope is forced to `search`.
    pub fn new(builder: TokenProviderBuilder) -> Result<Self, Error> {
        let provider = builder
            .scopes(Scopes::from(MarkableScope::Search))
            .build()?;
        if !matches!(provider.provider(), Provider::Markable(_)) {
            return Err(Error::Misuse(
                "a SearchTokenProvider needs a Markable provider".into(),
            ));
        }
        Ok(Self { provider })
    }

    /// The current token as a value that may be published.
    pub async fn publishable_token(&self) -> Result<PublishableToken, Error> {
        let token = self.provider.token().await?;
        token.publishable().ok_or_else(|| {
            Error::Misuse(
                "the server did not grant the search scope alone; this token must stay private"
                    .into(),
            )
        })
    }
}

impl Deref for SearchTokenProvider {
    type Target = TokenProvider;
    fn deref(&self) -> &TokenProvider {
        &self.provider
    }
}
