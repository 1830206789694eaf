//! The one error type of the cell, re-exported by both drivers so a caller
//! matches the same variants and asks the same questions of either.

use std::time::Duration;

use auth_core::TransportErrorKind;
use http::StatusCode;

/// What went wrong while getting a token or calling an API with it.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Getting the token failed; the core says why (refused, rate limited,
    /// server error, transport failure on the token endpoint, bad
    /// configuration, …).
    #[error(transparent)]
    Auth(#[from] auth_core::Error),

    /// An API request failed before a response arrived. The detail names
    /// the cause and never a secret.
    #[error("the request to {endpoint} failed ({kind}): {detail}")]
    Transport {
        /// Which kind of failure.
        kind: TransportErrorKind,
        /// Where the request went: scheme, host and path (the query is
        /// left out; it may hold anything).
        endpoint: String,
        /// The HTTP client's description, redacted.
        detail: String,
    },

    /// No token arrived within the wait limit. The token endpoint is slow
    /// or unreachable; the provider keeps trying for later callers.
    #[error("no token within {0:?}; the token endpoint is slow or unreachable")]
    WaitTimeout(Duration),

    /// A token store failed. The provider itself only logs store failures
    /// and carries on; this comes from store calls made directly.
    #[error("token store failed: {0}")]
    Store(String),

    /// The API was used in a way this provider cannot serve.
    #[error("API misuse: {0}")]
    Misuse(String),
}

impl Error {
    /// Whether trying again later may succeed without any change.
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

    /// How long the server asked to wait, when it said.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.as_auth().and_then(auth_core::Error::retry_after)
    }

    /// The HTTP status the token endpoint answered with, when it answered.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        self.as_auth().and_then(auth_core::Error::status)
    }

    /// The kind of transport failure, on the token endpoint or the API.
    #[must_use]
    pub fn transport_kind(&self) -> Option<TransportErrorKind> {
        match self {
            Error::Auth(auth_core::Error::Transport { kind, .. })
            | Error::Transport { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// An invalid-configuration error with `what` as its message.
    pub fn config(what: impl Into<String>) -> Self {
        Error::Auth(auth_core::Error::InvalidConfig(what.into()))
    }

    /// A misuse error with `what` as its message.
    pub fn misuse(what: impl Into<String>) -> Self {
        Error::Misuse(what.into())
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
                endpoint: "https://api.example/x".into(),
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
        assert_eq!(
            errors[0].transport_kind(),
            Some(TransportErrorKind::Timeout)
        );
    }
}
