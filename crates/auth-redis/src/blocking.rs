//! The blocking store, for `auth-ureq` and the CLI: plain sockets with
//! read and write timeouts, no async runtime anywhere.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use auth_cell::StoreLock;
use auth_core::{CacheKey, FingerprintKey, StoredToken};

use crate::config::RedisConfig;
use crate::entry::{self, Keys, RELEASE, REMOVE_IF};
use crate::shared::{millis, CallError, LeaseStep, Look, Setup, Shared};
use crate::Error;

/// Idle connections kept for reuse. A blocking process rarely has more
/// than one store call at a time (the cell runs one job at a time).
const POOL: usize = 4;

/// A shared token cache in Redis for the blocking driver
/// ([`auth_cell::TokenStore`]). Clone it freely (an `Arc` inside).
///
/// Every call is bounded by the configured timeouts and never fails:
/// Redis trouble is a miss (see the crate docs).
#[derive(Clone)]
pub struct RedisTokenStore {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Shared,
    idle: Mutex<Vec<redis::Connection>>,
}

impl RedisTokenStore {
    /// Builds the store and reads the fleet's fingerprint key (waiting at
    /// most the setup timeout; an unreachable Redis is not an error here:
    /// the store then works alone, see the crate docs). Fails only on a
    /// configuration no store can use.
    pub fn new(config: RedisConfig) -> Result<Self, Error> {
        let (client, setup) = Shared::setup(&config)?;
        let read = match &setup {
            Setup::Derived(_) => None,
            Setup::Shared(offered) => Some(read_fingerprint_key(&client, &config, offered)),
        };
        let shared = Shared::new(config, client, setup, read);
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The configuration it was built from.
    #[must_use]
    pub fn config(&self) -> &RedisConfig {
        &self.inner.shared.config
    }

    /// Whether the last Redis call succeeded (false during an outage).
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        self.inner.shared.health.is_healthy()
    }

    /// Whether this process shares tokens through Redis: false when Redis
    /// could not be reached while the store was built.
    #[must_use]
    pub fn is_shared(&self) -> bool {
        !self.inner.shared.detached
    }

    /// Sends `PING` on a new connection, within the connect and command
    /// timeouts; answers the round trip time. Ignores the circuit breaker
    /// (it is a diagnosis).
    pub fn ping(&self) -> Result<Duration, Error> {
        let cfg = &self.inner.shared.config;
        let unreachable = |reason: String| Error::Unreachable {
            url: cfg.display_url().to_owned(),
            reason: cfg.scrub(&reason),
        };
        let started = Instant::now();
        let mut conn =
            connect(&self.inner.shared.client, cfg).map_err(|e| unreachable(e.to_string()))?;
        let pong: String = redis::cmd("PING")
            .query(&mut conn)
            .map_err(|e| unreachable(e.to_string()))?;
        if pong != "PONG" {
            return Err(unreachable("it did not answer PING with PONG".into()));
        }
        Ok(started.elapsed())
    }

    /// The Redis key an entry for `key` is stored under (for operators).
    #[must_use]
    pub fn entry_key(&self, key: &CacheKey) -> String {
        self.inner.shared.keys(key).token
    }

    /// The Redis key of the fetch lease for `key`.
    #[must_use]
    pub fn lease_key(&self, key: &CacheKey) -> String {
        self.inner.shared.keys(key).lease
    }
}

impl Inner {
    /// Runs `f` on a pooled (or new) connection, bounded by the
    /// timeouts, with the breaker and the health updated.
    fn call<T>(
        &self,
        op: &str,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, CallError> {
        if !self.shared.allows() {
            return Err(CallError::Unavailable);
        }
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => match connect(&self.shared.client, &self.shared.config) {
                Ok(c) => c,
                Err(e) => return self.shared.record(op, Err(e)),
            },
        };
        let result = f(&mut conn);
        // A connection that failed mid-command may hold a late answer:
        // only clean ones go back.
        let reusable = match &result {
            Ok(_) => true,
            Err(e) => e.code().is_some() && !e.is_io_error() && !e.is_timeout(),
        };
        if reusable && redis::ConnectionLike::is_open(&conn) {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < POOL {
                idle.push(conn);
            }
        }
        self.shared.record(op, result)
    }

    fn release(&self, lease: &str, holder: &str) {
        let _ = self.call("release", |c| {
            redis::Script::new(RELEASE)
                .key(lease)
                .arg(holder)
                .invoke::<i64>(c)
        });
    }
}

fn connect(client: &redis::Client, config: &RedisConfig) -> redis::RedisResult<redis::Connection> {
    let conn = client.get_connection_with_timeout(config.connect_timeout)?;
    conn.set_read_timeout(Some(config.timeout))?;
    conn.set_write_timeout(Some(config.timeout))?;
    Ok(conn)
}

fn read_fingerprint_key(
    client: &redis::Client,
    config: &RedisConfig,
    offered: &[u8; 32],
) -> Result<Vec<u8>, String> {
    let budget = config.setup_timeout;
    let conn = client
        .get_connection_with_timeout(budget)
        .map_err(|e| e.to_string())?;
    let mut conn = conn;
    conn.set_read_timeout(Some(budget))
        .map_err(|e| e.to_string())?;
    conn.set_write_timeout(Some(budget))
        .map_err(|e| e.to_string())?;
    redis::Script::new(entry::FINGERPRINT_KEY)
        .key(entry::fingerprint_key_name(&config.prefix))
        .arg(offered.as_slice())
        .invoke::<Vec<u8>>(&mut conn)
        .map_err(|e| e.to_string())
}

/// The fetch lease of one cache key, held by this process; dropping it
/// releases the lease if it is still this holder's.
struct Lease {
    inner: Arc<Inner>,
    key: String,
    holder: String,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.inner.release(&self.key, &self.holder);
    }
}

impl auth_cell::TokenStore for RedisTokenStore {
    fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, auth_cell::Error> {
        let token = self.inner.shared.keys(key).token;
        let value = self.inner.call("load", |c| {
            redis::cmd("GET").arg(&token).query::<Option<Vec<u8>>>(c)
        });
        Ok(self.inner.shared.loaded(key, value))
    }

    fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), auth_cell::Error> {
        let shared = &self.inner.shared;
        if let Some((value, ttl_ms)) = shared.to_save(key, token) {
            let pipe = shared.save_pipeline(&shared.keys(key), &value, ttl_ms);
            let _ = self.inner.call("save", |c| pipe.query::<()>(c));
        }
        Ok(())
    }

    fn remove(&self, key: &CacheKey, rejected: &StoredToken) -> Result<(), auth_cell::Error> {
        let shared = &self.inner.shared;
        let (keys, tag) = (shared.keys(key), shared.codec.tag(rejected));
        let _ = self.inner.call("remove", |c| {
            redis::Script::new(REMOVE_IF)
                .key(&keys.token)
                .arg(&tag)
                .invoke::<i64>(c)
        });
        Ok(())
    }

    fn lock(&self, key: &CacheKey, wait: Duration) -> Result<Option<StoreLock>, auth_cell::Error> {
        let shared = &self.inner.shared;
        let keys: Keys = shared.keys(key);
        let holder = entry::holder_value();
        let started = Instant::now();
        // Past two lease lifetimes a holder is either gone (and its lease
        // taken over, by this loop if by nobody else) or slow: leave the
        // caller the rest of its wait for a fetch of its own.
        let wait = wait.min(shared.config.lease_ttl * 2);
        loop {
            let pipe = shared.lease_pipeline(&keys, &holder);
            let Ok(reply) = self.inner.call("lock", |c| pipe.query(c)) else {
                // Redis trouble (or a foreign value): fetch unlocked.
                return Ok(None);
            };
            let step = shared.after_look(key, &Look::from_reply(reply));
            tracing::trace!(
                ?step,
                waited_ms = started.elapsed().as_millis(),
                "looked at the fetch lease"
            );
            match step {
                LeaseStep::Taken => {
                    return Ok(Some(Box::new(Lease {
                        inner: Arc::clone(&self.inner),
                        key: keys.lease,
                        holder,
                    })))
                }
                LeaseStep::Shared => return Ok(None),
                LeaseStep::Expire => {
                    let ttl = millis(shared.config.lease_ttl);
                    let _ = self.inner.call("lock", |c| {
                        redis::cmd("PEXPIRE")
                            .arg(&keys.lease)
                            .arg(ttl)
                            .query::<i64>(c)
                    });
                }
                LeaseStep::Wait => {}
            }
            let waited = started.elapsed();
            if waited >= wait {
                tracing::debug!(
                    waited_ms = waited.as_millis(),
                    "gave up waiting for the fetch lease; fetching without it"
                );
                return Ok(None);
            }
            std::thread::sleep(shared.config.poll_interval.min(wait - waited));
        }
    }

    fn fingerprint_key(&self) -> Option<FingerprintKey> {
        Some(self.inner.shared.fingerprint.clone())
    }
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.inner.shared;
        f.debug_struct("RedisTokenStore")
            .field("url", &shared.config.display_url())
            .field("prefix", &shared.config.prefix)
            .field("encrypted", &shared.config.is_encrypted())
            .field("shared", &!shared.detached)
            .field("healthy", &shared.health.is_healthy())
            .finish_non_exhaustive()
    }
}
