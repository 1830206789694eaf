//! Client credentials: what a client authenticates with.

use std::fmt;

#[cfg(feature = "private-key-jwt")]
use crate::assertion::PrivateKey;
use crate::error::Error;
use crate::secret::ClientSecret;

/// A client identifier and what proves it: a secret (RFC 6749 §2.3.1) or
/// a private key that signs client assertions (RFC 7523 §2.2,
/// `private_key_jwt`).
///
/// The id is not secret and shows in `Debug`; the secret and the key never
/// do.
///
/// ```
/// use auth_core::ClientCredentials;
/// let c = ClientCredentials::new("pm8GMaIX", "YhVjvIBc").unwrap();
/// assert_eq!(c.client_id(), "pm8GMaIX");
/// assert_eq!(c.client_secret().unwrap().expose_secret(), "YhVjvIBc");
/// assert!(!format!("{c:?}").contains("YhVjvIBc"));
/// ```
#[derive(Clone)]
pub struct ClientCredentials {
    client_id: String,
    proof: Proof,
}

/// What proves the client's identity.
#[derive(Clone)]
enum Proof {
    Secret(ClientSecret),
    #[cfg(feature = "private-key-jwt")]
    PrivateKey(PrivateKey),
}

impl ClientCredentials {
    /// Builds credentials, refusing an empty id or secret, and ids with
    /// control characters (they could not be sent in a form body or header).
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
    ) -> Result<Self, Error> {
        let client_id = checked_id(client_id.into())?;
        let client_secret = client_secret.into();
        if client_secret.is_empty() {
            return Err(Error::InvalidConfig(
                "the client secret is empty; pass the secret the provider issued".into(),
            ));
        }
        Ok(Self {
            client_id,
            proof: Proof::Secret(client_secret),
        })
    }

    /// Credentials for `private_key_jwt` (feature `private-key-jwt`): the
    /// client id and the private key
    /// whose public half is registered with the provider. Use them with
    /// [`ClientAuth::PrivateKeyJwt`](crate::ClientAuth::PrivateKeyJwt).
    /// Refuses an empty id and ids with control characters.
    ///
    /// ```
    /// use auth_core::{ClientCredentials, PrivateKey};
    /// # let pem = include_str!("../tests/fixtures/p256.pkcs8.pem");
    /// let key = PrivateKey::from_pem(pem)?;
    /// let c = ClientCredentials::with_private_key("my-client", key)?;
    /// assert!(c.client_secret().is_none());
    /// assert_eq!(c.private_key().map(|k| k.algorithm()), Some("ES256"));
    /// # Ok::<(), auth_core::Error>(())
    /// ```
    #[cfg(feature = "private-key-jwt")]
    pub fn with_private_key(client_id: impl Into<String>, key: PrivateKey) -> Result<Self, Error> {
        Ok(Self {
            client_id: checked_id(client_id.into())?,
            proof: Proof::PrivateKey(key),
        })
    }

    /// The client identifier.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret, still wrapped; `None` for key credentials.
    #[must_use]
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        match &self.proof {
            Proof::Secret(s) => Some(s),
            #[cfg(feature = "private-key-jwt")]
            Proof::PrivateKey(_) => None,
        }
    }

    /// The private key; `None` for secret credentials.
    #[cfg(feature = "private-key-jwt")]
    #[must_use]
    pub fn private_key(&self) -> Option<&PrivateKey> {
        match &self.proof {
            Proof::Secret(_) => None,
            Proof::PrivateKey(k) => Some(k),
        }
    }

    /// The signing algorithm of the private key (`RS256`, `ES256`);
    /// `None` for secret credentials.
    #[must_use]
    pub(crate) fn key_algorithm(&self) -> Option<&'static str> {
        match &self.proof {
            Proof::Secret(_) => None,
            #[cfg(feature = "private-key-jwt")]
            Proof::PrivateKey(k) => Some(k.algorithm()),
        }
    }

    /// What fingerprints the private key (see `FingerprintKey::fingerprint`);
    /// `None` for secret credentials.
    pub(crate) fn key_material(&self) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        match &self.proof {
            Proof::Secret(_) => None,
            #[cfg(feature = "private-key-jwt")]
            Proof::PrivateKey(k) => Some(k.fingerprint_material()),
        }
    }

    /// What the credentials hold, in words for an error message: `a client
    /// secret` or `a private key (ES256)`.
    #[must_use]
    pub(crate) fn describe(&self) -> String {
        match &self.proof {
            Proof::Secret(_) => "a client secret".into(),
            #[cfg(feature = "private-key-jwt")]
            Proof::PrivateKey(k) => format!("a private key ({})", k.algorithm()),
        }
    }
}

fn checked_id(client_id: String) -> Result<String, Error> {
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
    Ok(client_id)
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ClientCredentials");
        d.field("client_id", &self.client_id);
        match &self.proof {
            Proof::Secret(s) => d.field("client_secret", s),
            #[cfg(feature = "private-key-jwt")]
            Proof::PrivateKey(k) => d.field("private_key", k),
        };
        d.finish()
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
