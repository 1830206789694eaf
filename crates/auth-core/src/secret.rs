//! Secret strings: client secrets, client assertions and access tokens.
//!
//! In scope: holding a secret so that it zeroizes on drop, prints
//! `[redacted]` in `Debug`, has no `Display` and no `PartialEq`, and is read
//! only through a method whose name says what it does (`expose_secret`).
//!
//! Out of scope: keeping copies that other libraries make (an
//! `http::HeaderValue` cannot zeroize; the header built from a token is
//! marked sensitive instead, so `http` itself hides it in `Debug`).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// Defines a newtype around [`SecretString`] with the redacting `Debug`.
///
/// Both secret kinds behave the same; a macro keeps them separate types so a
/// client secret can never be passed where an access token is expected.
macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a secret value. The `String` is moved in, so no copy is left behind.
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// The secret itself. Call this only where the value must go on
            /// the wire or to a file; never format it into a message.
            #[must_use]
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }

            /// Whether the secret is the empty string (a configuration mistake).
            #[must_use]
            pub fn is_empty(&self) -> bool {
                self.0.expose_secret().is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }
    };
}

secret_type!(
    /// A client secret (RFC 6749 §2.3.1 `client_secret`, Markable's "API secret").
    ///
    /// ```
    /// use auth_core::ClientSecret;
    /// let s = ClientSecret::new("hunter2");
    /// assert_eq!(format!("{s:?}"), "[redacted]");
    /// assert_eq!(s.expose_secret(), "hunter2");
    /// ```
    ClientSecret
);

secret_type!(
    /// An access token value (RFC 6749 §5.1 `access_token`).
    ///
    /// ```
    /// use auth_core::AccessToken;
    /// let t = AccessToken::new("DLBYIcfnKfolaXKcmMC8RIDCavc2hW");
    /// assert_eq!(format!("{t:?}"), "[redacted]");
    /// ```
    AccessToken
);

secret_type!(
    /// A signed client assertion (RFC 7523 §2.2 `client_assertion`): a
    /// compact JWS that authenticates the client until it expires, so it is
    /// kept like a secret. Made by `PrivateKey::client_assertion` (feature
    /// `private-key-jwt`).
    ClientAssertion
);

/// `client_assertion_type` for a JWT assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

impl ClientSecret {
    /// Compares with `other` in time that depends only on the lengths, so a
    /// server-side check (the emulator, a test) leaks no prefix information.
    #[must_use]
    pub fn matches(&self, other: &str) -> bool {
        constant_time_eq(self.expose_secret().as_bytes(), other.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_alternate_too() {
        let s = ClientSecret::new("s3cr3t-value");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s:#?}"), "[redacted]");
        let t = AccessToken::new("tok-value");
        assert_eq!(format!("{:?}", Some(t)), "Some([redacted])");
    }

    #[test]
    fn matches_compares_whole_values() {
        let s = ClientSecret::new("abc");
        assert!(s.matches("abc"));
        assert!(!s.matches("abd"));
        assert!(!s.matches("ab"));
        assert!(!s.matches("abcd"));
    }
}
