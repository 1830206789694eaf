//! What a persistent token cache stores, and under which key.
//!
//! The drivers' `TokenStore` traits and the CLI's file cache all speak this
//! format, so a token fetched by a service can be read by a script.
//! Storage itself (files, locks, a shared cache) is IO and lives elsewhere.

use std::fmt;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::datetime::{format_rfc3339, parse_iso8601};
use crate::error::Error;
use crate::machine::TokenSource;
use crate::provider::Provider;
use crate::scope::Scopes;
use crate::secret::AccessToken;
use crate::token::{Lifetime, Token, TokenResponse, TokenType};

/// Which token a cache entry holds: provider dialect, token endpoint,
/// a keyed fingerprint of the client secret (or private key), client id
/// and scopes. Two sources with equal keys may share a token; a different
/// secret or key gives a different key, so a wrong secret never reads a
/// token fetched with the right one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

impl CacheKey {
    /// The key for a provider, client and scope set; `fingerprint` comes
    /// from [`FingerprintKey::fingerprint`].
    #[must_use]
    pub fn new(provider: &Provider, client_id: &str, fingerprint: &str, scopes: &Scopes) -> Self {
        // Space separates the parts: none of them can contain one (URLs,
        // hex and scope tokens exclude it; the id is checked for control
        // characters only, so it goes last but one and the scopes are
        // bracketed).
        // Extra request parameters (RFC 8707 `resource`, `audience`)
        // change which token the server issues, so they are part of the
        // key; form-encoded, they hold no space.
        let mut key = format!(
            "{} {} {} {} [{}]",
            provider.kind(),
            provider.token_url(),
            fingerprint,
            client_id.escape_default(),
            scopes.canonical()
        );
        if let Provider::OAuth2(p) = provider {
            let params = p.params_canonical();
            if !params.is_empty() {
                key.push(' ');
                key.push_str(&params);
            }
        }
        Self(key)
    }

    /// The key as one stable string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A stable, file-name-safe digest of the key (FNV-1a, 64 bits, hex).
    /// Not a security boundary: the stored entry repeats the full key and
    /// readers check it.
    #[must_use]
    pub fn digest(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.0.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key of a keyed fingerprint of client secrets: 32 random bytes kept
/// by whoever keeps the cache (a file store keeps one beside its entries;
/// without a store, each process makes its own).
///
/// Keyed, so a cache key seen elsewhere (a log, a Redis dump) cannot be
/// used to test guesses of the secret offline; HMAC-SHA-256, so it cannot
/// be turned back into the secret. `Debug` hides the bytes.
#[derive(Clone)]
pub struct FingerprintKey(zeroize::Zeroizing<[u8; 32]>);

impl FingerprintKey {
    /// A key from 32 bytes (draw them from the OS's random source).
    #[must_use]
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(zeroize::Zeroizing::new(bytes))
    }

    /// A key from a slice, which must hold exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
            Error::InvalidConfig(format!(
                "a fingerprint key is 32 bytes, not {}; delete the key file to have a new one made",
                bytes.len()
            ))
        })?;
        Ok(Self::new(bytes))
    }

    /// The bytes, to be written where the key is kept (privately).
    #[must_use]
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// The fingerprint of `credentials`' secret or private key: 128 bits
    /// of HMAC-SHA-256, in hex. A key is fingerprinted by its algorithm and
    /// private part under a tag of its own, so no secret and no other key
    /// can share its fingerprint (a key id does not count: the same key
    /// under another id fetches the same client's tokens).
    #[must_use]
    pub fn fingerprint(&self, credentials: &crate::ClientCredentials) -> String {
        use hmac::Mac as _;
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.0.as_slice()) else {
            // HMAC takes keys of any length; this branch cannot be taken.
            return String::new();
        };
        match (credentials.client_secret(), credentials.key_material()) {
            // Unchanged since v1, so existing cache entries stay valid.
            (Some(secret), _) => {
                mac.update(b"apiauth cache key v1\0");
                mac.update(secret.expose_secret().as_bytes());
            }
            (None, Some(key)) => {
                mac.update(b"apiauth cache key v1 private_key_jwt\0");
                mac.update(&key);
            }
            (None, None) => mac.update(b"apiauth cache key v1 no credential\0"),
        }
        let digest = mac.finalize().into_bytes();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey([redacted])")
    }
}

impl TokenSource {
    /// The cache key of the tokens this machine fetches, with the secret
    /// fingerprinted under `key`.
    #[must_use]
    pub fn cache_key(&self, key: &FingerprintKey) -> CacheKey {
        CacheKey::new(
            self.provider(),
            self.credentials().client_id(),
            &key.fingerprint(self.credentials()),
            self.scopes(),
        )
    }
}

/// A token as a persistent cache writes it (JSON). `Debug` hides the token.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredToken {
    /// The full [`CacheKey`]; an entry read under another key is ignored.
    pub key: String,
    /// The token value.
    #[serde(with = "exposed")]
    pub access_token: AccessToken,
    /// `Bearer`.
    pub token_type: String,
    /// RFC 3339 UTC expiry; absent for tokens with no known expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Granted scopes, canonical.
    #[serde(default)]
    pub scope: String,
    /// Whether the token may be published (Markable `search`).
    #[serde(default)]
    pub publishable: bool,
    /// RFC 3339 UTC issue time, so a restored token keeps the safety margin
    /// of its whole lifetime. Absent in entries from older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
}

impl StoredToken {
    /// The entry for `token` under `key`.
    #[must_use]
    pub fn new(key: &CacheKey, token: &Token) -> Self {
        Self {
            key: key.0.clone(),
            access_token: token.access_token().clone(),
            token_type: token.token_type().as_str().to_owned(),
            expires_at: token.expires_at_wall().map(format_rfc3339),
            scope: token.granted_scopes().canonical(),
            publishable: token.publishable().is_some(),
            issued_at: token.issued_at_wall().map(format_rfc3339),
        }
    }

    /// Reads an entry, checking that it belongs to `key`. Give the result to
    /// [`TokenSource::handle_cached`].
    pub fn into_response(self, key: &CacheKey) -> Result<TokenResponse, Error> {
        let corrupt = |what: &str| Error::InvalidConfig(format!("cached token ignored: {what}"));
        if self.key != key.0 {
            return Err(corrupt(
                "it belongs to another provider, client or scope set",
            ));
        }
        let lifetime = match &self.expires_at {
            Some(s) => Lifetime::ExpiresAt(
                parse_iso8601(s).ok_or_else(|| corrupt("its expiry is not a date"))?,
            ),
            None => Lifetime::Unknown,
        };
        if self.access_token.is_empty() {
            return Err(corrupt("the token is empty"));
        }
        Ok(TokenResponse {
            access_token: self.access_token,
            token_type: TokenType::parse(&self.token_type)?,
            lifetime,
            granted_scopes: Some(
                Scopes::parse(&self.scope).map_err(|_| corrupt("its scope is invalid"))?,
            ),
            server_date: None,
            publishable: self.publishable,
            // An unreadable issue time only costs the finer margin.
            issued_at: self.issued_at.as_deref().and_then(parse_iso8601),
        })
    }

    /// Serializes to JSON.
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec_pretty(self)
            .map_err(|e| Error::InvalidConfig(format!("could not encode the cached token: {e}")))
    }

    /// Parses JSON; a corrupt entry is an error the caller should treat as
    /// "no cached token" (and overwrite).
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(bytes).map_err(|e| {
            Error::InvalidConfig(format!(
                "cached token ignored: not a valid entry (line {}, column {})",
                e.line(),
                e.column()
            ))
        })
    }

    /// Whether the entry is still worth offering at wall time `wall`.
    #[must_use]
    pub fn is_fresh(&self, wall: SystemTime) -> bool {
        match &self.expires_at {
            None => true,
            Some(s) => parse_iso8601(s).is_some_and(|at| at > wall),
        }
    }
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("key", &self.key)
            .field("access_token", &self.access_token)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

mod exposed {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::secret::AccessToken;

    pub fn serialize<S: Serializer>(t: &AccessToken, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.expose_secret())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<AccessToken, D::Error> {
        String::deserialize(d).map(AccessToken::new)
    }
}

/// Used by drivers that restore from a store: offers `stored`, read under
/// `key` (the source's [`TokenSource::cache_key`]), to `source`. Returns
/// whether it was taken; a corrupt or foreign entry is refused.
pub fn offer_stored(
    source: &mut TokenSource,
    key: &CacheKey,
    stored: StoredToken,
    now: Instant,
    wall: SystemTime,
) -> Result<bool, Error> {
    let response = stored.into_response(key)?;
    Ok(source.handle_cached(response, now, wall))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientAuth, ClientCredentials, OAuth2, RefreshPolicy};
    use std::time::Duration;

    fn source(scopes: &str) -> TokenSource {
        TokenSource::new(
            OAuth2::new("http://127.0.0.1:1/token", ClientAuth::Basic)
                .unwrap()
                .into(),
            ClientCredentials::new("id", "secret").unwrap(),
            scopes.parse().unwrap(),
            RefreshPolicy::default(),
            1,
        )
        .unwrap()
    }

    #[test]
    fn keys_distinguish_scopes_and_are_order_free() {
        let k = &key();
        assert_eq!(source("a b").cache_key(k), source("b a").cache_key(k));
        assert_ne!(source("a").cache_key(k), source("a b").cache_key(k));
        assert_eq!(source("a").cache_key(k).digest().len(), 16);
    }

    fn key() -> FingerprintKey {
        FingerprintKey::new([7; 32])
    }

    #[test]
    fn keys_fingerprint_the_secret_under_a_key() {
        let creds = |s: &str| ClientCredentials::new("id", s).unwrap();
        let p: crate::Provider = OAuth2::new("http://127.0.0.1:1/token", ClientAuth::Basic)
            .unwrap()
            .into();
        let scopes = crate::Scopes::empty();
        let at = |k: &FingerprintKey, s: &str| {
            CacheKey::new(&p, "id", &k.fingerprint(&creds(s)), &scopes)
        };
        assert_eq!(at(&key(), "right"), at(&key(), "right"));
        assert_ne!(at(&key(), "right"), at(&key(), "wrong"));
        let other = FingerprintKey::new([8; 32]);
        assert_ne!(at(&key(), "right"), at(&other, "right"));
        let shown = at(&key(), "right").to_string();
        assert!(!shown.contains("right"), "{shown}");
        assert_eq!(format!("{:?}", key()), "FingerprintKey([redacted])");
        assert!(FingerprintKey::from_slice(&[1; 31]).is_err());
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // an arbitrary origin; time never moves here
    fn round_trip_through_json_and_back_into_a_machine() {
        let mut a = source("read");
        let now = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_371_943);
        a.handle_demand(now);
        let t = a.poll_transmit(wall).unwrap();
        let resp = http::Response::builder()
            .status(200)
            .body(br#"{"access_token":"tok-xyz","expires_in":3600,"scope":"read"}"#.to_vec())
            .unwrap();
        a.handle_response(t.id, resp, now, wall);
        let token = a.token(now).unwrap();
        let stored = StoredToken::new(&a.cache_key(&key()), &token);
        assert!(!format!("{stored:?}").contains("tok-xyz"));
        let json = stored.to_json().unwrap();
        let back = StoredToken::from_json(&json).unwrap();
        assert!(back.is_fresh(wall + Duration::from_secs(3599)));
        assert!(!back.is_fresh(wall + Duration::from_secs(3601)));

        let mut b = source("read");
        let kb = b.cache_key(&key());
        assert!(offer_stored(&mut b, &kb, back.clone(), now, wall).unwrap());
        assert_eq!(
            b.token(now).unwrap().access_token().expose_secret(),
            "tok-xyz"
        );
        let mut c = source("write");
        let kc = c.cache_key(&key());
        assert!(offer_stored(&mut c, &kc, back, now, wall).is_err());
        assert!(StoredToken::from_json(b"{\"key\":").is_err());
    }
}
