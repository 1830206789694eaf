//! The one error type of `auth-ureq`.

use std::time::Duration;

use auth_core::TransportErrorKind;
use http::StatusCode;

/// What went wrong while getting a token or making an API call with one.
///
/// No variant ever carries a client secret or an access token: server text
/// is redacted by `auth-core` before it gets here, and transport details are
/// redacted by this crate.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Getting a token failed, or the configuration was refused. This is
    /// `auth-core`'s error, unchanged: match on it for the server's
    /// RFC 6749 §5.2 error, rate limits, malformed responses and so on.
    #[error(transparent)]
    Auth(#[from] auth_core::Error),

    /// An API call made through [`TokenProvider::send`] got no complete
    /// answer (connect failure, timeout, reset, oversized body).
    ///
    /// [`TokenProvider::send`]: crate::TokenProvider::send
    #[error("API request failed ({kind}): {detail}")]
    Transport {
        /// Which kind of failure.
        kind: TransportErrorKind,
        /// What happened, free of secrets.
        detail: String,
    },

    /// No token arrived within the wait limit (see
    /// [`TokenProviderBuilder::wait_limit`](crate::TokenProviderBuilder::wait_limit)):
    /// the token endpoint is slow or unreachable.
    #[error("no token within {0:?}; the token endpoint is slow or unreachable")]
    WaitTimeout(Duration),

    /// The API was used in a way this provider cannot serve (for example
    /// `key_status` on a provider that is not Openverse).
    #[error("API misuse: {0}")]
    Misuse(String),

    /// A [`TokenStore`](crate::TokenStore) failed. Token requests never
    /// return it (store failures are logged and the fetch goes on); store
    /// implementations return it from their methods.
    #[error("token store failed: {0}")]
    Store(String),
}

impl Error {
    /// Whether trying again later may succeed without any change by the
    /// caller: transient transport failures, 5xx, 429, malformed responses.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Auth(e) => e.is_retryable(),
            Error::Transport { kind, .. } => kind.is_retryable(),
            Error::WaitTimeout(_) => true,
            Error::Store(_) | Error::Misuse(_) => false,
        }
    }

    /// The core error, when getting the token is what failed.
    #[must_use]
    pub fn as_auth(&self) -> Option<&auth_core::Error> {
        match self {
            Error::Auth(e) => Some(e),
            _ => None,
        }
    }

    /// How long the server asked to wait (`Retry-After`), if it said.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Auth(e) => e.retry_after(),
            _ => None,
        }
    }

    /// The HTTP status behind the error, when there was a response.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Auth(e) => e.status(),
            _ => None,
        }
    }

    /// The transport failure kind, for token fetches and API calls alike.
    #[must_use]
    pub fn transport_kind(&self) -> Option<TransportErrorKind> {
        match self {
            Error::Auth(auth_core::Error::Transport { kind, .. })
            | Error::Transport { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    pub(crate) fn misuse(what: impl Into<String>) -> Self {
        Error::Misuse(what.into())
    }

    pub(crate) fn config(what: impl Into<String>) -> Self {
        Error::Auth(auth_core::Error::InvalidConfig(what.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_retryability_follows_the_kind() {
        let errors = [
            Error::Transport {
                kind: TransportErrorKind::Timeout,
                detail: "no answer".into(),
            },
            Error::Store("disk full".into()),
            Error::config("x"),
            Error::misuse("y"),
            Error::WaitTimeout(Duration::from_secs(3)),
        ];
        for e in &errors {
            let s = e.to_string();
            // Lowercase, but an acronym keeps its capitals.
            assert!(
                s.chars().next().unwrap().is_lowercase() || s.starts_with("API "),
                "{s}"
            );
            assert!(!s.ends_with('.'), "{s}");
        }
        assert!(errors[0].is_retryable());
        assert!(!errors[1].is_retryable());
        assert!(!Error::Transport {
            kind: TransportErrorKind::BodyTooLarge,
            detail: String::new()
        }
        .is_retryable());
        assert_eq!(
            errors[0].transport_kind(),
            Some(TransportErrorKind::Timeout)
        );
    }
}
