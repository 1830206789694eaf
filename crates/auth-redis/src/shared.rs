//! What both stores share: the configuration, the health of Redis, the
//! entry codec, and every decision a store call makes — which commands to
//! send and what their answers mean. The stores only move these commands
//! over a blocking or an async connection.

use std::collections::HashMap;
use std::sync::PoisonError;
use std::time::{Duration, SystemTime};

use auth_core::{CacheKey, FingerprintKey, StoredToken};

use crate::config::RedisConfig;
use crate::entry::{self, Codec, Keys};
use crate::health::Health;
use crate::Error;

/// How a Redis call ended, once the health is updated.
pub(crate) enum CallError {
    /// Redis is unreachable, slow or refusing (READONLY, OOM, …), or the
    /// breaker is open: a miss.
    Unavailable,
    /// A key holds another type (WRONGTYPE): someone else's value; Redis
    /// itself is fine.
    WrongType,
}

pub(crate) struct Shared {
    pub config: RedisConfig,
    pub client: redis::Client,
    pub health: Health,
    pub codec: Codec,
    pub fingerprint: FingerprintKey,
    /// The fleet's random fingerprint key as kept in Redis, to put back
    /// (`SET NX`) with every save after Redis lost it (a restart without
    /// persistence), so processes started later agree with this one.
    pub reseed: Option<[u8; 32]>,
    /// The fingerprint key could not be read: entries of this process
    /// would be keyed apart from everyone's, so Redis is not used at all.
    pub detached: bool,
    /// Per entry key, the tag of the last token this process loaded or
    /// saved there: the token its cell holds. A look that finds that same
    /// token while another process holds the lease waits for the new one
    /// rather than take it as shared (see [`Shared::after_look`]).
    seen: std::sync::Mutex<HashMap<String, String>>,
}

/// Where the fingerprint key of a new store comes from.
pub(crate) enum Setup {
    /// Derived from the encryption key: nothing to read.
    Derived(FingerprintKey),
    /// To be read (or made) in Redis: these random bytes are offered.
    Shared([u8; 32]),
}

impl Shared {
    /// Checks `config` and says where the fingerprint key comes from.
    pub fn setup(config: &RedisConfig) -> Result<(redis::Client, Setup), Error> {
        config.check()?;
        let client = match &config.root_ca {
            None => redis::Client::open(config.url.full.as_str()),
            Some(pem) => redis::Client::build_with_tls(
                config.url.full.as_str(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
        }
        .map_err(|e| {
            Error::InvalidConfig(format!("redis refuses the URL or the CA: {:?}", e.kind()))
        })?;
        if let Some(key) = &config.encryption_key {
            return Ok((client, Setup::Derived(entry::derived_fingerprint_key(key))));
        }
        let mut offered = [0u8; 32];
        getrandom::getrandom(&mut offered).map_err(|e| {
            Error::InvalidConfig(format!("no random source for the fingerprint key: {e}"))
        })?;
        Ok((client, Setup::Shared(offered)))
    }

    /// The store, once the fingerprint key is known: `read` is what Redis
    /// answered the fingerprint-key script (`None`: it did not answer).
    pub fn new(
        config: RedisConfig,
        client: redis::Client,
        setup: Setup,
        read: Option<Result<Vec<u8>, String>>,
    ) -> Self {
        let health = Health::new(config.display_url());
        let (fingerprint, reseed, detached) = match (setup, read) {
            (Setup::Derived(key), _) => (key, None, false),
            (Setup::Shared(_), Some(Ok(bytes))) => match <[u8; 32]>::try_from(bytes.as_slice()) {
                Ok(bytes) => (FingerprintKey::new(bytes), Some(bytes), false),
                Err(_) => {
                    tracing::warn!(url = %config.display_url(), "redis returned a fingerprint key that is not 32 bytes; this process will not share tokens until it restarts");
                    (auth_cell::process_key(), None, true)
                }
            },
            (Setup::Shared(_), failed) => {
                let reason = match failed {
                    Some(Err(reason)) => config.scrub(&reason),
                    _ => format!("no answer within {} ms", config.setup_timeout.as_millis()),
                };
                tracing::warn!(
                    url = %config.display_url(),
                    reason,
                    "redis did not answer while the token store was built; this process will not share tokens until it restarts"
                );
                (auth_cell::process_key(), None, true)
            }
        };
        let codec = Codec::new(config.encryption_key.as_ref(), &fingerprint);
        Self {
            config,
            client,
            health,
            codec,
            fingerprint,
            reseed,
            detached,
            seen: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn remember(&self, key: &CacheKey, token: &StoredToken) {
        let tag = self.codec.tag(token);
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.insert(self.keys(key).token, tag);
    }

    fn already_held(&self, key: &CacheKey, token: &StoredToken) -> bool {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(&self.keys(key).token) == Some(&self.codec.tag(token))
    }

    pub fn keys(&self, key: &CacheKey) -> Keys {
        Keys::new(&self.config.prefix, key)
    }

    pub fn fingerprint_key_name(&self) -> String {
        entry::fingerprint_key_name(&self.config.prefix)
    }

    /// Whether a call may go to Redis at all now.
    pub fn allows(&self) -> bool {
        !self.detached && self.health.allows()
    }

    /// Records how a call ended. `Ok` values pass through.
    pub fn record<T>(&self, op: &str, result: redis::RedisResult<T>) -> Result<T, CallError> {
        match result {
            Ok(v) => {
                self.health.succeeded();
                Ok(v)
            }
            Err(e) if e.code() == Some("WRONGTYPE") => {
                self.health.succeeded();
                Err(CallError::WrongType)
            }
            Err(e) => {
                self.health.failed(op, &self.config.scrub(&e.to_string()));
                Err(CallError::Unavailable)
            }
        }
    }

    /// A call that outlasted its bound.
    #[cfg(feature = "async")]
    pub fn timed_out(&self, op: &str, bound: Duration) -> CallError {
        self.health
            .failed(op, &format!("no answer within {} ms", bound.as_millis()));
        CallError::Unavailable
    }

    /// What a `GET` of the entry means: the token, or a miss (a foreign
    /// or corrupt value is logged and left for the next save to replace).
    pub fn loaded(
        &self,
        key: &CacheKey,
        value: Result<Option<Vec<u8>>, CallError>,
    ) -> Option<StoredToken> {
        match value {
            Ok(Some(bytes)) => match self.codec.decode(key, &bytes) {
                Ok(entry) => {
                    self.remember(key, &entry);
                    Some(entry)
                }
                Err(why) => {
                    tracing::warn!(
                        reason = why.describe(),
                        "shared cached token ignored; the next save replaces it"
                    );
                    None
                }
            },
            Err(CallError::WrongType) => {
                tracing::warn!(
                    reason = "the key holds another type",
                    "shared cached token ignored; the next save replaces it"
                );
                None
            }
            Ok(None) | Err(CallError::Unavailable) => None,
        }
    }

    /// The value and TTL (ms) of a save; `None` when there is nothing
    /// worth storing (the token has expired).
    pub fn to_save(&self, key: &CacheKey, token: &StoredToken) -> Option<(Vec<u8>, u64)> {
        let ttl = entry::ttl(token, SystemTime::now(), self.config.no_expiry_ttl)?;
        let value = self.codec.encode(key, token)?;
        self.remember(key, token);
        Some((value, millis(ttl)))
    }

    /// The pipeline of a save: the entry with its TTL, and the fleet's
    /// fingerprint key put back if Redis lost it.
    pub fn save_pipeline(&self, keys: &Keys, value: &[u8], ttl_ms: u64) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&keys.token)
            .arg(value)
            .arg("PX")
            .arg(ttl_ms)
            .ignore();
        if let Some(seed) = &self.reseed {
            pipe.cmd("SET")
                .arg(self.fingerprint_key_name())
                .arg(seed.as_slice())
                .arg("NX")
                .ignore();
        }
        pipe
    }

    /// One look at the lease and the entry: take the lease if free, read
    /// the entry, and the lease's remaining life. Answer: `(entry,
    /// taken, pttl)`.
    pub fn lease_pipeline(&self, keys: &Keys, holder: &str) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        pipe.cmd("GET")
            .arg(&keys.token)
            .cmd("SET")
            .arg(&keys.lease)
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(millis(self.config.lease_ttl))
            .cmd("PTTL")
            .arg(&keys.lease);
        pipe
    }

    /// What one look at the lease means.
    pub fn after_look(&self, key: &CacheKey, look: &Look) -> LeaseStep {
        if look.taken {
            return LeaseStep::Taken;
        }
        if look.pttl == -1 {
            // A lease with no TTL (written by hand, or by something else)
            // would block the fleet forever: give it one first.
            return LeaseStep::Expire;
        }
        // A fresh entry is worth sharing unless it is the token this
        // process already holds: then the caller is renewing it (or it was
        // rejected), and the lease holder is fetching the one it needs.
        // Taking the entry as shared would send a second renewal beside
        // the holder's.
        let shared = look
            .entry
            .as_deref()
            .and_then(|bytes| self.codec.decode(key, bytes).ok())
            .is_some_and(|e| entry::is_fresh(&e, SystemTime::now()) && !self.already_held(key, &e));
        if shared {
            LeaseStep::Shared
        } else {
            LeaseStep::Wait
        }
    }
}

/// The answer to [`Shared::lease_pipeline`].
pub(crate) struct Look {
    pub entry: Option<Vec<u8>>,
    pub taken: bool,
    pub pttl: i64,
}

impl Look {
    pub fn from_reply(reply: (Option<Vec<u8>>, Option<String>, i64)) -> Self {
        Self {
            entry: reply.0,
            taken: reply.1.is_some(),
            pttl: reply.2,
        }
    }
}

/// What to do after a look at the lease.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LeaseStep {
    /// This process holds the lease: fetch, save, release.
    Taken,
    /// A fresh shared entry is there: load it instead of fetching.
    Shared,
    /// The lease has no TTL: give it one, then wait.
    Expire,
    /// Another process holds the lease: look again after the poll interval.
    Wait,
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}
