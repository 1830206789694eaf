//! The crate's one error type. Only building a store (and
//! [`ping`](crate::RedisTokenStore::ping)) can fail: once built, a store
//! turns every Redis failure into a cache miss.

/// Why a Redis store could not be configured, or why Redis did not answer
/// a [`ping`](crate::RedisTokenStore::ping). Messages never hold the
/// password of a Redis URL nor the encryption key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting no store can work with: the URL, a timeout, the prefix.
    #[error("invalid redis cache configuration: {0}")]
    InvalidConfig(String),
    /// The encryption key is not 32 bytes of base64, or cannot be read.
    #[error("invalid cache encryption key: {0}")]
    InvalidKey(String),
    /// Redis did not answer within the configured timeouts.
    #[error("redis at {url} is unreachable: {reason}")]
    Unreachable {
        /// The URL without its user and password.
        url: String,
        /// What went wrong (connect refused, timed out, an error reply).
        reason: String,
    },
}

impl Error {
    /// Whether trying again later may help (only [`Error::Unreachable`]).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unreachable { .. })
    }
}
