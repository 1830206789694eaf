//! Client credentials: the pair a client authenticates with.

use std::fmt;

use crate::error::Error;
use crate::secret::ClientSecret;

/// A client identifier and its secret (RFC 6749 §2.2, §2.3.1).
///
/// The id is not secret and shows in `Debug`; the secret never does.
///
/// ```
/// use auth_core::ClientCredentials;
/// let c = ClientCredentials::new("pm8GMaIX", "YhVjvIBc").unwrap();
/// assert_eq!(c.client_id(), "pm8GMaIX");
/// assert!(!format!("{c:?}").contains("YhVjvIBc"));
/// ```
#[derive(Clone)]
pub struct ClientCredentials {
    client_id: String,
    client_secret: ClientSecret,
}

impl ClientCredentials {
    /// Builds credentials, refusing an empty id or secret, and ids with
    /// control characters (they could not be sent in a form body or header).
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
    ) -> Result<Self, Error> {
        let client_id = client_id.into();
        let client_secret = client_secret.into();
        if client_id.is_empty() {
            return Err(Error::InvalidConfig(
                "the client id is empty; pass the id the provider issued".into(),
            ));
        }
        if client_id.chars().any(char::is_control) {
            return Err(Error::InvalidConfig(
                "the client id contains a control character; check for a stray newline".into(),
            ));
        }
        if client_secret.is_empty() {
            return Err(Error::InvalidConfig(
                "the client secret is empty; pass the secret the provider issued".into(),
            ));
        }
        Ok(Self {
            client_id,
            client_secret,
        })
    }

    /// The client identifier.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret, still wrapped.
    #[must_use]
    pub fn client_secret(&self) -> &ClientSecret {
        &self.client_secret
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_parts_are_refused_with_a_hint() {
        let e = ClientCredentials::new("", "x").unwrap_err();
        assert!(e.to_string().contains("client id is empty"), "{e}");
        let e = ClientCredentials::new("id", "").unwrap_err();
        assert!(e.to_string().contains("client secret is empty"), "{e}");
        let e = ClientCredentials::new("id\n", "x").unwrap_err();
        assert!(e.to_string().contains("control character"), "{e}");
    }

    #[test]
    fn debug_shows_id_not_secret() {
        let c = ClientCredentials::new("the-id", "the-secret").unwrap();
        let d = format!("{c:?}");
        assert!(d.contains("the-id"));
        assert!(!d.contains("the-secret"));
    }
}
