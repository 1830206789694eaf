//! What a Redis store is built from: the URL, the key prefix, the
//! timeouts, the lease, and the optional encryption key.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::Error;

/// Environment variable the CLI (and [`RedisConfig::from_env`]) reads the
/// Redis URL from.
pub const CACHE_URL_ENV: &str = "APIAUTH_CACHE_URL";
/// Environment variable holding the encryption key: 32 bytes, base64.
pub const CACHE_KEY_ENV: &str = "APIAUTH_CACHE_KEY";
/// Environment variable naming a file that holds the encryption key
/// (32 bytes, base64), read when [`CACHE_KEY_ENV`] is not set.
pub const CACHE_KEY_FILE_ENV: &str = "APIAUTH_CACHE_KEY_FILE";

/// Environment variable naming a PEM file of CA certificates to trust for
/// `rediss://` instead of the system's roots (a private CA).
pub const CACHE_CA_FILE_ENV: &str = "APIAUTH_CACHE_CA_FILE";

/// Default namespace of every key the store writes.
pub const DEFAULT_PREFIX: &str = "apiauth";
/// Default bound on one Redis command (a round trip on an open connection).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
/// Default bound on opening a connection (TCP, TLS, `AUTH`, `SELECT`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
/// Default bound on reading the shared fingerprint key when the store is
/// built (once per process, before any token is asked for).
pub const DEFAULT_SETUP_TIMEOUT: Duration = Duration::from_secs(1);
/// Default lifetime of the fetch lease: how long the fleet waits for a
/// holder that died before another process takes over.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
/// Default pause between two looks at the shared entry while another
/// process holds the lease.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Default lifetime in Redis of a token whose server stated no expiry.
pub const DEFAULT_NO_EXPIRY_TTL: Duration = Duration::from_secs(3600);

/// How to reach Redis and how to use it. Build one with
/// [`RedisConfig::new`] and adjust it with the `with_*` methods.
///
/// | setting | default |
/// |---|---|
/// | [`with_prefix`](Self::with_prefix) | `apiauth` |
/// | [`with_timeout`](Self::with_timeout) | 50 ms per command |
/// | [`with_connect_timeout`](Self::with_connect_timeout) | 200 ms per connection |
/// | [`with_setup_timeout`](Self::with_setup_timeout) | 1 s, once, when the store is built |
/// | [`with_lease_ttl`](Self::with_lease_ttl) | 10 s |
/// | [`with_poll_interval`](Self::with_poll_interval) | 50 ms |
/// | [`with_no_expiry_ttl`](Self::with_no_expiry_ttl) | 1 h |
/// | [`with_encryption_key`](Self::with_encryption_key) | none: tokens stored in clear |
/// | [`with_root_ca_pem`](Self::with_root_ca_pem) | the system's roots (`rediss://` only) |
///
/// `Debug` shows the URL without its user and password, and never the key.
#[derive(Clone)]
pub struct RedisConfig {
    pub(crate) url: RedisUrl,
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) setup_timeout: Duration,
    pub(crate) lease_ttl: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) no_expiry_ttl: Duration,
    pub(crate) encryption_key: Option<EncryptionKey>,
    pub(crate) root_ca: Option<Vec<u8>>,
}

impl RedisConfig {
    /// A configuration for `url`: `redis://[[user]:password@]host[:port][/db]`
    /// or `rediss://…` (TLS, verified against the system's roots).
    pub fn new(url: &str) -> Result<Self, Error> {
        Ok(Self {
            url: RedisUrl::parse(url)?,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            setup_timeout: DEFAULT_SETUP_TIMEOUT,
            lease_ttl: DEFAULT_LEASE_TTL,
            poll_interval: DEFAULT_POLL_INTERVAL,
            no_expiry_ttl: DEFAULT_NO_EXPIRY_TTL,
            encryption_key: None,
            root_ca: None,
        })
    }

    /// The configuration the environment asks for: the URL in
    /// `APIAUTH_CACHE_URL` and, if set, the encryption key from
    /// `APIAUTH_CACHE_KEY` or the file named by `APIAUTH_CACHE_KEY_FILE`,
    /// and the CA file named by `APIAUTH_CACHE_CA_FILE`.
    /// `Ok(None)` when no URL is set.
    pub fn from_env() -> Result<Option<Self>, Error> {
        let Some(url) = std::env::var(CACHE_URL_ENV).ok().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let mut config = Self::new(&url)?;
        if let Some(ca) = std::env::var_os(CACHE_CA_FILE_ENV).filter(|p| !p.is_empty()) {
            config = config.with_root_ca_file(Path::new(&ca))?;
        }
        Ok(Some(match EncryptionKey::from_env()? {
            Some(key) => config.with_encryption_key(key),
            None => config,
        }))
    }

    /// Namespace of every key (default `apiauth`): letters, digits and
    /// `-_.:{}`, at most 64 characters. Braces make a Redis Cluster hash
    /// tag, should you want every key on one shard.
    pub fn with_prefix(mut self, prefix: &str) -> Result<Self, Error> {
        let ok = |c: char| c.is_ascii_alphanumeric() || "-_.:{}".contains(c);
        if prefix.is_empty() || prefix.len() > 64 || !prefix.chars().all(ok) {
            return Err(Error::InvalidConfig(format!(
                "the key prefix `{}` must be 1 to 64 letters, digits or `-_.:{{}}`",
                prefix.escape_default()
            )));
        }
        self.prefix = prefix.to_owned();
        Ok(self)
    }

    /// Bound on one Redis command (default 50 ms). A command that takes
    /// longer is a miss, and opens the circuit breaker.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Bound on opening a connection (default 200 ms); raise it for a
    /// distant `rediss://` server, whose TLS handshake takes round trips.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Bound on reading the shared fingerprint key when the store is built
    /// (default 1 s). If Redis does not answer in time, the store works
    /// alone: see the crate docs.
    #[must_use]
    pub fn with_setup_timeout(mut self, timeout: Duration) -> Self {
        self.setup_timeout = timeout;
        self
    }

    /// Lifetime of the fetch lease (default 10 s): longer than a token
    /// request normally takes, short enough that a holder killed mid-fetch
    /// costs the fleet no more than this.
    #[must_use]
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Pause between two looks at the shared entry while another process
    /// holds the lease (default 50 ms).
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Lifetime in Redis of a token whose server stated no expiry
    /// (default 1 h); such a token is then fetched again.
    #[must_use]
    pub fn with_no_expiry_ttl(mut self, ttl: Duration) -> Self {
        self.no_expiry_ttl = ttl;
        self
    }

    /// Seals every entry with AES-256-GCM under `key`, the cache key as
    /// associated data. Every process sharing the cache needs the same key.
    #[must_use]
    pub fn with_encryption_key(mut self, key: EncryptionKey) -> Self {
        self.encryption_key = Some(key);
        self
    }

    /// Trusts the CA certificates in `pem` (one or more `CERTIFICATE`
    /// blocks) for `rediss://`, instead of the system's roots: for a Redis
    /// behind a private CA. The server's certificate must still name the
    /// host in the URL.
    pub fn with_root_ca_pem(mut self, pem: &[u8]) -> Result<Self, Error> {
        if !self.url.shown.starts_with("rediss://") {
            return Err(Error::InvalidConfig(
                "a CA certificate only applies to a rediss:// URL; use rediss:// for TLS".into(),
            ));
        }
        let text = String::from_utf8_lossy(pem);
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            return Err(Error::InvalidConfig(
                "the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        self.root_ca = Some(pem.to_vec());
        Ok(self)
    }

    /// [`with_root_ca_pem`](Self::with_root_ca_pem) with the contents of
    /// the file at `path`.
    pub fn with_root_ca_file(self, path: &Path) -> Result<Self, Error> {
        let pem = std::fs::read(path).map_err(|e| {
            Error::InvalidConfig(format!("cannot read the CA file {}: {e}", path.display()))
        })?;
        self.with_root_ca_pem(&pem)
    }

    /// The URL without its user and password: what may be shown.
    #[must_use]
    pub fn display_url(&self) -> &str {
        &self.url.shown
    }

    /// The key prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether entries are sealed.
    #[must_use]
    pub fn is_encrypted(&self) -> bool {
        self.encryption_key.is_some()
    }

    /// The per-command timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Refuses settings no store can work with.
    pub(crate) fn check(&self) -> Result<(), Error> {
        let zero = [
            ("timeout", self.timeout),
            ("connect timeout", self.connect_timeout),
            ("setup timeout", self.setup_timeout),
            ("poll interval", self.poll_interval),
        ];
        if let Some((name, _)) = zero.iter().find(|(_, d)| d.is_zero()) {
            return Err(Error::InvalidConfig(format!(
                "the {name} must be longer than zero"
            )));
        }
        if self.lease_ttl < Duration::from_millis(100) {
            return Err(Error::InvalidConfig(
                "the lease TTL must be at least 100 ms (it has to outlive a token request)".into(),
            ));
        }
        if self.no_expiry_ttl < Duration::from_secs(1) {
            return Err(Error::InvalidConfig(
                "the TTL of tokens without an expiry must be at least 1 s".into(),
            ));
        }
        Ok(())
    }

    /// A message about Redis with the URL's password cut out (a server or
    /// client error could quote it).
    pub(crate) fn scrub(&self, message: &str) -> String {
        match self.url.password.as_deref() {
            Some(p) if !p.is_empty() => message.replace(p.as_str(), "[redacted]"),
            _ => message.to_owned(),
        }
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.url.shown)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("lease_ttl", &self.lease_ttl)
            .field("poll_interval", &self.poll_interval)
            .field("encrypted", &self.encryption_key.is_some())
            .field("private_ca", &self.root_ca.is_some())
            .finish_non_exhaustive()
    }
}

/// A Redis URL: the full one for connecting, a shown one without userinfo.
#[derive(Clone)]
pub(crate) struct RedisUrl {
    pub(crate) full: Zeroizing<String>,
    pub(crate) shown: String,
    password: Option<Zeroizing<String>>,
}

impl RedisUrl {
    fn parse(text: &str) -> Result<Self, Error> {
        // Never echo the text: it may hold a password.
        let parsed = url::Url::parse(text).map_err(|e| {
            Error::InvalidConfig(format!(
                "the redis URL is not a URL ({e}); expected redis://HOST:PORT/DB or rediss://…"
            ))
        })?;
        let scheme = parsed.scheme();
        if scheme != "redis" && scheme != "rediss" {
            return Err(Error::InvalidConfig(format!(
                "the cache URL must start with redis:// or rediss://, not {}://",
                scheme.escape_default()
            )));
        }
        let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
            return Err(Error::InvalidConfig(
                "the redis URL names no host; expected redis://HOST:PORT/DB".into(),
            ));
        };
        let db = parsed.path().trim_start_matches('/');
        if !db.is_empty() && db.parse::<u32>().is_err() {
            return Err(Error::InvalidConfig(
                "the redis URL's path must be a database number, as in redis://HOST:6379/0".into(),
            ));
        }
        let password = parsed
            .password()
            .map(|p| Zeroizing::new(percent_decoded(p)));
        // Let redis parse it too, so a URL it refuses fails here, not at
        // the first token request.
        redis::Client::open(text).map_err(|e| {
            // The kind only: the detail may quote the URL.
            Error::InvalidConfig(format!("redis refuses the URL: {:?}", e.kind()))
        })?;
        let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
        let db = if db.is_empty() { "0" } else { db };
        Ok(Self {
            full: Zeroizing::new(text.to_owned()),
            shown: format!("{scheme}://{host}{port}/{db}"),
            password,
        })
    }
}

/// `%XX` escapes decoded (a URL's userinfo); invalid ones are kept as is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A 32-byte AES-256-GCM key for sealing cache entries. `Debug` hides it;
/// the bytes are zeroized on drop.
///
/// Make one with `head -c 32 /dev/urandom | base64` and give the same key
/// to every process of the fleet (`APIAUTH_CACHE_KEY`, or a file named by
/// `APIAUTH_CACHE_KEY_FILE`).
#[derive(Clone)]
pub struct EncryptionKey(pub(crate) Zeroizing<[u8; 32]>);

impl EncryptionKey {
    /// A key from 32 bytes.
    #[must_use]
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A key from base64 text (standard or URL-safe alphabet, padded or
    /// not, surrounding whitespace ignored) that decodes to 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        let text = text.trim();
        let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|e| e.decode(text).ok())
            .map(Zeroizing::new)
            .ok_or_else(|| {
                Error::InvalidKey(
                    "not base64; make one with `head -c 32 /dev/urandom | base64`".into(),
                )
            })?;
        let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            Error::InvalidKey(format!(
                "it decodes to {} bytes, not 32; make one with `head -c 32 /dev/urandom | base64`",
                bytes.len()
            ))
        })?;
        Ok(Self::new(bytes))
    }

    /// A key from a file holding its base64 text.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| Error::InvalidKey(format!("cannot read {}: {e}", path.display())))?;
        Self::from_base64(&text).map_err(|e| Error::InvalidKey(format!("{}: {e}", path.display())))
    }

    /// The key in `APIAUTH_CACHE_KEY`, else in the file named by
    /// `APIAUTH_CACHE_KEY_FILE`; `Ok(None)` when neither is set.
    pub fn from_env() -> Result<Option<Self>, Error> {
        if let Some(text) = std::env::var(CACHE_KEY_ENV).ok().map(Zeroizing::new) {
            if !text.trim().is_empty() {
                return Self::from_base64(&text)
                    .map(Some)
                    .map_err(|e| Error::InvalidKey(format!("{CACHE_KEY_ENV}: {e}")));
            }
        }
        match std::env::var_os(CACHE_KEY_FILE_ENV).filter(|p| !p.is_empty()) {
            Some(path) => Self::from_file(Path::new(&path)).map(Some),
            None => Ok(None),
        }
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn urls_are_shown_without_their_userinfo() {
        let c = RedisConfig::new("redis://user:s3cr%40t@cache.internal:6380/2").unwrap();
        assert_eq!(c.display_url(), "redis://cache.internal:6380/2");
        assert!(!format!("{c:?}").contains("s3cr"));
        assert_eq!(c.scrub("WRONGPASS s3cr@t"), "WRONGPASS [redacted]");
        let c = RedisConfig::new("redis://:a+b%2Fc@h:1/0").unwrap();
        assert_eq!(c.scrub("x a+b/c y"), "x [redacted] y");
        let c = RedisConfig::new("rediss://:pw@h").unwrap();
        assert_eq!(c.display_url(), "rediss://h/0");
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_them() {
        for bad in [
            "http://h:1/0",
            "redis://:pw@/0",
            "redis://h/x-pw",
            "not a url pw",
            "unix:///tmp/pw",
        ] {
            let e = RedisConfig::new(bad).unwrap_err().to_string();
            assert!(!e.contains("pw"), "{bad}: {e}");
        }
    }

    #[test]
    fn keys_are_32_bytes_of_base64() {
        let k =
            EncryptionKey::from_base64(" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= \n").unwrap();
        assert_eq!(k.0[31], 31);
        assert!(EncryptionKey::from_base64("AAEC").is_err());
        assert!(EncryptionKey::from_base64("%%%").is_err());
        assert_eq!(format!("{k:?}"), "EncryptionKey([redacted])");
    }

    #[test]
    fn unusable_settings_are_refused() {
        let c = RedisConfig::new("redis://h").unwrap();
        assert!(c.clone().with_timeout(Duration::ZERO).check().is_err());
        assert!(c
            .clone()
            .with_lease_ttl(Duration::from_millis(1))
            .check()
            .is_err());
        assert!(c.clone().with_prefix("a b").is_err());
        assert!(c.clone().with_prefix("").is_err());
        assert!(c.with_prefix("{team-a}").unwrap().check().is_ok());
    }
}
