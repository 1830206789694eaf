//! What goes into Redis, decided once for both stores: key names, the
//! entry's bytes (clear or sealed), its TTL, and when a shared entry is
//! good enough to stop waiting for the lease.
//!
//! An entry's value:
//!
//! ```text
//! v1:<digest>:json:<StoredToken JSON>                      (no encryption key)
//! v1:<digest>:aead:<base64(nonce ‖ AES-256-GCM ciphertext)> (with one)
//! ```
//!
//! `<digest>` is 128 bits of HMAC-SHA-256 of the token value under a key
//! derived from the fingerprint key, in hex: a conditional removal
//! compares it inside Redis (a Lua script) without reading the token, and
//! it tells nothing about the token to a reader without that key.

use std::time::{Duration, SystemTime};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use auth_core::datetime::parse_iso8601;
use auth_core::{CacheKey, FingerprintKey, StoredToken};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::Mac as _;
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::config::EncryptionKey;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The two keys of one cache key: its entry and its fetch lease.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    pub token: String,
    pub lease: String,
}

impl Keys {
    /// `<prefix>:v1:token:<hex SHA-256 of the cache key>` and the lease
    /// beside it. The cache key holds no secret (only a keyed fingerprint
    /// of it); hashing keeps Redis key names short and uniform.
    pub fn new(prefix: &str, key: &CacheKey) -> Self {
        let digest = hex(&sha2::Sha256::digest(key.as_str().as_bytes()));
        Self {
            token: format!("{prefix}:v1:token:{digest}"),
            lease: format!("{prefix}:v1:lease:{digest}"),
        }
    }
}

/// Where the fleet's shared fingerprint key lives.
pub(crate) fn fingerprint_key_name(prefix: &str) -> String {
    format!("{prefix}:v1:fingerprint-key")
}

/// The fingerprint key derived from an encryption key, so a fleet with
/// encryption keeps nothing about the secret in Redis in clear.
pub(crate) fn derived_fingerprint_key(key: &EncryptionKey) -> FingerprintKey {
    FingerprintKey::new(hmac(key.0.as_slice(), b"apiauth fingerprint key v1"))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // HMAC takes keys of any length: the error branch cannot be taken.
    if let Ok(mut mac) = <HmacSha256 as hmac::Mac>::new_from_slice(key) {
        mac.update(data);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Why an entry was not used. Never holds any part of the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// Not in this crate's format (another program's value, garbage).
    Garbage,
    /// Sealed, but not under this key and cache key (or tampered with).
    Undecryptable,
    /// In clear, but this store requires sealed entries.
    NotSealed,
    /// Sealed, but this store has no encryption key.
    Sealed,
    /// A valid entry of another cache key (copied or colliding).
    Foreign,
}

impl Unusable {
    pub fn describe(self) -> &'static str {
        match self {
            Unusable::Garbage => "not an apiauth entry",
            Unusable::Undecryptable => {
                "it does not decrypt under this key and cache key (another key, or moved)"
            }
            Unusable::NotSealed => "it is not encrypted, and this store requires encryption",
            Unusable::Sealed => "it is encrypted, and this store has no encryption key",
            Unusable::Foreign => "it belongs to another provider, client or scope set",
        }
    }
}

/// Encodes and decodes entries for one store.
pub(crate) struct Codec {
    aead: Option<Aes256Gcm>,
    digest_key: Zeroizing<[u8; 32]>,
}

impl Codec {
    pub fn new(encryption: Option<&EncryptionKey>, fingerprint: &FingerprintKey) -> Self {
        Self {
            aead: encryption.map(|k| Aes256Gcm::new(k.0.as_slice().into())),
            digest_key: Zeroizing::new(hmac(fingerprint.expose(), b"apiauth token digest v1")),
        }
    }

    /// `v1:<digest>:`: the prefix every entry holding `token`'s value
    /// starts with.
    pub fn tag(&self, token: &StoredToken) -> String {
        let mac = hmac(
            self.digest_key.as_slice(),
            token.access_token.expose_secret().as_bytes(),
        );
        format!("v1:{}:", hex(&mac[..16]))
    }

    /// The bytes to store; `None` only if sealing failed (it cannot with
    /// a valid key) or the entry cannot be encoded.
    pub fn encode(&self, key: &CacheKey, token: &StoredToken) -> Option<Vec<u8>> {
        let json = Zeroizing::new(token.to_json().ok()?);
        let mut value = self.tag(token).into_bytes();
        match &self.aead {
            None => {
                value.extend_from_slice(b"json:");
                value.extend_from_slice(&json);
            }
            Some(aead) => {
                let mut nonce = [0u8; 12];
                getrandom::getrandom(&mut nonce).ok()?;
                let sealed = aead
                    .encrypt(
                        Nonce::from_slice(&nonce),
                        Payload {
                            msg: &json,
                            aad: key.as_str().as_bytes(),
                        },
                    )
                    .ok()?;
                let mut raw = nonce.to_vec();
                raw.extend_from_slice(&sealed);
                value.extend_from_slice(b"aead:");
                value.extend_from_slice(STANDARD.encode(raw).as_bytes());
            }
        }
        Some(value)
    }

    /// The entry in `value`, if it is one of this store's for `key`.
    pub fn decode(&self, key: &CacheKey, value: &[u8]) -> Result<StoredToken, Unusable> {
        // `v1:` + 32 hex digits + `:` + a 4-letter kind + `:`
        let (head, body) = value.split_at_checked(41).ok_or(Unusable::Garbage)?;
        let well_formed = head.starts_with(b"v1:")
            && head[3..35].iter().all(u8::is_ascii_hexdigit)
            && head[35] == b':';
        if !well_formed {
            return Err(Unusable::Garbage);
        }
        let json = match (&head[36..41], &self.aead) {
            (b"json:", None) => Zeroizing::new(body.to_vec()),
            (b"aead:", Some(aead)) => {
                let raw = STANDARD.decode(body).map_err(|_| Unusable::Garbage)?;
                let (nonce, sealed) = raw.split_at_checked(12).ok_or(Unusable::Garbage)?;
                let plain = aead
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: sealed,
                            aad: key.as_str().as_bytes(),
                        },
                    )
                    .map_err(|_| Unusable::Undecryptable)?;
                Zeroizing::new(plain)
            }
            (b"json:", Some(_)) => return Err(Unusable::NotSealed),
            (b"aead:", None) => return Err(Unusable::Sealed),
            _ => return Err(Unusable::Garbage),
        };
        let entry = StoredToken::from_json(&json).map_err(|_| Unusable::Garbage)?;
        if entry.key != key.as_str() {
            return Err(Unusable::Foreign);
        }
        // The digest must match the token: a hand-edited entry could
        // otherwise survive a removal meant for it.
        if !value.starts_with(self.tag(&entry).as_bytes()) {
            return Err(Unusable::Garbage);
        }
        Ok(entry)
    }
}

/// How long the entry should live in Redis: until its token's expiry, or
/// `no_expiry` for a token without one. `None` when it has expired.
pub(crate) fn ttl(token: &StoredToken, now: SystemTime, no_expiry: Duration) -> Option<Duration> {
    match token.expires_at.as_deref() {
        None => Some(no_expiry),
        Some(at) => parse_iso8601(at)?
            .duration_since(now)
            .ok()
            .filter(|d| *d >= Duration::from_millis(1)),
    }
}

/// Whether a shared entry is worth loading instead of waiting on for a
/// lease: it expires no sooner than a safety margin from now. The margin
/// is the largest a caller is likely to apply — the core's default is
/// `min(30 s, L/10)`, the CLI's `min(60 s, L/10)` — so a process that
/// would refuse the entry anyway keeps waiting for the holder's.
pub(crate) fn is_fresh(token: &StoredToken, now: SystemTime) -> bool {
    let Some(expires) = token.expires_at.as_deref() else {
        return true;
    };
    let Some(expires) = parse_iso8601(expires) else {
        return false;
    };
    let Ok(left) = expires.duration_since(now) else {
        return false;
    };
    let lifetime = token
        .issued_at
        .as_deref()
        .and_then(parse_iso8601)
        .and_then(|issued| expires.duration_since(issued).ok())
        // Unknown: assume a long one, the widest margin.
        .unwrap_or(Duration::MAX);
    left > (lifetime / 10).min(Duration::from_secs(60))
}

/// A lease holder's value: this process's id (for an operator wondering
/// who holds it) and 128 random bits (so only the holder can release it).
pub(crate) fn holder_value() -> String {
    let mut random = [0u8; 16];
    if getrandom::getrandom(&mut random).is_err() {
        // No OS randomness: the time and a counter still tell holders apart.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        random = (nanos ^ u128::from(COUNTER.fetch_add(1, Ordering::Relaxed))).to_le_bytes();
    }
    format!("{}:{}", std::process::id(), hex(&random))
}

/// Releases a lease only if it still holds the holder's value: a holder
/// whose lease expired (and was taken by another) must not free the new
/// holder's.
pub(crate) const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Deletes an entry only if it still holds the rejected token (its value
/// starts with the token's digest tag); a newer token saved meanwhile by
/// another process stays.
pub(crate) const REMOVE_IF: &str = r"
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'string' and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Reads the fleet's fingerprint key, making it first if there is none
/// (or what is there is not 32 bytes): atomic, so every process that
/// starts together ends with the same key.
pub(crate) const FINGERPRINT_KEY: &str = r"
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'string' and string.len(v) == 32 then
  return v
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use auth_core::AccessToken;

    fn key(name: &str) -> CacheKey {
        let provider: auth_core::Provider = auth_core::OAuth2::new(
            "https://auth.example.com/token",
            auth_core::ClientAuth::Basic,
        )
        .unwrap()
        .into();
        CacheKey::new(&provider, name, "00ff", &auth_core::Scopes::default())
    }

    fn entry(key: &CacheKey, token: &str, expires_at: Option<&str>) -> StoredToken {
        StoredToken {
            key: key.as_str().to_owned(),
            access_token: AccessToken::new(token.to_owned()),
            token_type: "Bearer".into(),
            expires_at: expires_at.map(str::to_owned),
            scope: String::new(),
            publishable: false,
            issued_at: None,
        }
    }

    #[test]
    fn clear_and_sealed_entries_round_trip_and_refuse_each_other() {
        let fp = FingerprintKey::new([7; 32]);
        let clear = Codec::new(None, &fp);
        let sealed = Codec::new(Some(&EncryptionKey::new([9; 32])), &fp);
        let other = Codec::new(Some(&EncryptionKey::new([8; 32])), &fp);
        let (k, k2) = (key("a"), key("b"));
        let e = entry(&k, "tok-123", Some("2999-01-01T00:00:00Z"));

        let v = clear.encode(&k, &e).unwrap();
        assert!(v.starts_with(clear.tag(&e).as_bytes()));
        assert_eq!(
            clear.decode(&k, &v).unwrap().access_token.expose_secret(),
            "tok-123"
        );
        assert_eq!(clear.decode(&k2, &v).unwrap_err(), Unusable::Foreign);
        assert_eq!(sealed.decode(&k, &v).unwrap_err(), Unusable::NotSealed);

        let v = sealed.encode(&k, &e).unwrap();
        assert!(!String::from_utf8_lossy(&v).contains("tok-123"));
        assert_eq!(
            sealed.decode(&k, &v).unwrap().access_token.expose_secret(),
            "tok-123"
        );
        assert_eq!(sealed.decode(&k2, &v).unwrap_err(), Unusable::Undecryptable);
        assert_eq!(other.decode(&k, &v).unwrap_err(), Unusable::Undecryptable);
        assert_eq!(clear.decode(&k, &v).unwrap_err(), Unusable::Sealed);

        for garbage in [&b""[..], b"v1:", b"hello world", &[0xff; 80]] {
            assert_eq!(clear.decode(&k, garbage).unwrap_err(), Unusable::Garbage);
        }
        // A hand-edited token under an old digest is not trusted.
        let mut forged = clear.encode(&k, &e).unwrap();
        let at = forged.windows(7).position(|w| w == b"tok-123").unwrap();
        forged[at] = b'x';
        assert_eq!(clear.decode(&k, &forged).unwrap_err(), Unusable::Garbage);
    }

    #[test]
    fn ttl_follows_the_expiry() {
        let k = key("a");
        let now = parse_iso8601("2030-01-01T00:00:00Z").unwrap();
        let hour = Duration::from_secs(3600);
        assert_eq!(ttl(&entry(&k, "t", None), now, hour), Some(hour));
        assert_eq!(
            ttl(&entry(&k, "t", Some("2030-01-01T00:10:00Z")), now, hour),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            ttl(&entry(&k, "t", Some("2029-12-31T23:59:00Z")), now, hour),
            None
        );
        assert_eq!(ttl(&entry(&k, "t", Some("soon")), now, hour), None);
    }

    #[test]
    fn freshness_keeps_a_margin() {
        let k = key("a");
        let now = parse_iso8601("2030-01-01T00:00:00Z").unwrap();
        let mut e = entry(&k, "t", Some("2030-01-01T00:00:50Z"));
        assert!(!is_fresh(&e, now), "50 s left of an unknown lifetime");
        e.issued_at = Some("2029-12-31T23:59:10Z".into()); // 100 s lifetime: margin 10 s
        assert!(is_fresh(&e, now));
        e.expires_at = Some("2030-01-01T02:00:00Z".into());
        assert!(is_fresh(&e, now));
        e.expires_at = Some("2029-01-01T00:00:00Z".into());
        assert!(!is_fresh(&e, now));
    }

    #[test]
    fn holders_differ() {
        assert_ne!(holder_value(), holder_value());
        assert!(holder_value().starts_with(&format!("{}:", std::process::id())));
    }
}
