//! The one error type of `auth-reqwest`.

use std::time::Duration;

use auth_core::TransportErrorKind;

/// What went wrong in the async driver.
#[non_exhaustive]
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// Getting the token failed; the core says why (refused, rate limited,
    /// server error, transport failure on the token endpoint, …).
    #[error(transparent)]
    Auth(#[from] auth_core::Error),

    /// An API request sent through [`TokenProvider::send`](crate::TokenProvider::send)
    /// failed before a response arrived.
    #[error("API request failed ({kind}): {detail}")]
    Transport {
        /// Which kind of failure.
        kind: TransportErrorKind,
        /// The HTTP client's description (no secrets: URLs and causes only).
        detail: String,
    },

    /// No token arrived within the wait limit. The token endpoint is slow
    /// or unreachable; the machine keeps trying in the background.
    #[error("no token within {0:?}; the token endpoint is slow or unreachable")]
    WaitTimeout(Duration),

    /// A token store failed. Reported from store calls made directly; the
    /// provider itself only logs store failures and carries on.
    #[error("token store: {0}")]
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
}
