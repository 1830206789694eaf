//! The async store, for `auth-reqwest`: one multiplexed connection on
//! tokio, every command under a tokio timeout.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use auth_cell::StoreLock;
use auth_core::{CacheKey, FingerprintKey, StoredToken};
use redis::aio::MultiplexedConnection;

use crate::config::RedisConfig;
use crate::entry::{self, Keys, RELEASE, REMOVE_IF};
use crate::shared::{millis, CallError, LeaseStep, Look, Setup, Shared};
use crate::Error;

/// A shared token cache in Redis for the async driver
/// ([`auth_cell::AsyncTokenStore`]). Clone it freely (an `Arc` inside).
///
/// Every call is bounded by the configured timeouts and never fails:
/// Redis trouble is a miss (see the crate docs). Needs a tokio runtime
/// with the time driver enabled.
#[derive(Clone)]
pub struct AsyncRedisTokenStore {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Shared,
    conn: Mutex<Option<MultiplexedConnection>>,
}

impl AsyncRedisTokenStore {
    /// Builds the store and reads the fleet's fingerprint key (waiting at
    /// most the setup timeout; an unreachable Redis is not an error here:
    /// the store then works alone, see the crate docs). Fails only on a
    /// configuration no store can use.
    pub async fn new(config: RedisConfig) -> Result<Self, Error> {
        let (client, setup) = Shared::setup(&config)?;
        let read = match &setup {
            Setup::Derived(_) => None,
            Setup::Shared(offered) => {
                let budget = config.setup_timeout;
                let read = async {
                    let mut conn = client
                        .get_multiplexed_async_connection_with_config(&connection_config(
                            budget, budget,
                        ))
                        .await?;
                    redis::Script::new(entry::FINGERPRINT_KEY)
                        .key(entry::fingerprint_key_name(&config.prefix))
                        .arg(offered.as_slice())
                        .invoke_async::<Vec<u8>>(&mut conn)
                        .await
                };
                match tokio::time::timeout(budget, read).await {
                    Ok(r) => Some(r.map_err(|e| e.to_string())),
                    Err(_) => None,
                }
            }
        };
        let shared = Shared::new(config, client, setup, read);
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                conn: Mutex::new(None),
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
    /// timeouts; answers the round trip time. Ignores the circuit breaker.
    pub async fn ping(&self) -> Result<Duration, Error> {
        let cfg = &self.inner.shared.config;
        let unreachable = |reason: String| Error::Unreachable {
            url: cfg.display_url().to_owned(),
            reason: cfg.scrub(&reason),
        };
        let started = Instant::now();
        let bound = cfg.connect_timeout + cfg.timeout;
        let ping = async {
            let mut conn = connect(&self.inner.shared.client, cfg).await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        match tokio::time::timeout(bound, ping).await {
            Ok(Ok(pong)) if pong == "PONG" => Ok(started.elapsed()),
            Ok(Ok(_)) => Err(unreachable("it did not answer PING with PONG".into())),
            Ok(Err(e)) => Err(unreachable(e.to_string())),
            Err(_) => Err(unreachable(format!(
                "no answer within {} ms",
                bound.as_millis()
            ))),
        }
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

fn connection_config(connect: Duration, response: Duration) -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(connect))
        .set_response_timeout(Some(response))
}

async fn connect(
    client: &redis::Client,
    config: &RedisConfig,
) -> redis::RedisResult<MultiplexedConnection> {
    client
        .get_multiplexed_async_connection_with_config(&connection_config(
            config.connect_timeout,
            config.timeout,
        ))
        .await
}

impl Inner {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the shared connection (opened if needed), bounded by
    /// the timeouts, with the breaker and the health updated.
    async fn call<T, F, Fut>(&self, op: &str, f: F) -> Result<T, CallError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.shared.allows() {
            return Err(CallError::Unavailable);
        }
        let cfg = &self.shared.config;
        let existing = self.slot().clone();
        let conn = match existing {
            Some(c) => c,
            None => {
                let bound = cfg.connect_timeout;
                match tokio::time::timeout(bound, connect(&self.shared.client, cfg)).await {
                    Ok(Ok(c)) => {
                        *self.slot() = Some(c.clone());
                        c
                    }
                    Ok(Err(e)) => return self.shared.record(op, Err(e)),
                    Err(_) => return Err(self.shared.timed_out(op, bound)),
                }
            }
        };
        match tokio::time::timeout(cfg.timeout, f(conn)).await {
            Ok(result) => {
                if let Err(e) = &result {
                    if e.code().is_none() || e.is_io_error() || e.is_timeout() {
                        // The connection may be broken or hold a late answer.
                        self.slot().take();
                    }
                }
                self.shared.record(op, result)
            }
            Err(_) => {
                self.slot().take();
                Err(self.shared.timed_out(op, cfg.timeout))
            }
        }
    }

    async fn release(&self, lease: String, holder: String) {
        let _ = self
            .call("release", |mut c| async move {
                redis::Script::new(RELEASE)
                    .key(&lease)
                    .arg(&holder)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
    }
}

/// The fetch lease of one cache key, held by this process. Dropping it
/// releases the lease on a task of the current tokio runtime (a drop
/// cannot wait); outside any runtime the lease expires on its own after
/// its TTL.
struct Lease {
    inner: Arc<Inner>,
    key: String,
    holder: String,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let inner = Arc::clone(&self.inner);
            let (key, holder) = (
                std::mem::take(&mut self.key),
                std::mem::take(&mut self.holder),
            );
            handle.spawn(async move { inner.release(key, holder).await });
        }
    }
}

#[async_trait]
impl auth_cell::AsyncTokenStore for AsyncRedisTokenStore {
    async fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, auth_cell::Error> {
        let token = self.inner.shared.keys(key).token;
        let value = self
            .inner
            .call("load", |mut c| async move {
                redis::cmd("GET")
                    .arg(&token)
                    .query_async::<Option<Vec<u8>>>(&mut c)
                    .await
            })
            .await;
        Ok(self.inner.shared.loaded(key, value))
    }

    async fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), auth_cell::Error> {
        let shared = &self.inner.shared;
        if let Some((value, ttl_ms)) = shared.to_save(key, token) {
            let pipe = shared.save_pipeline(&shared.keys(key), &value, ttl_ms);
            let _ = self
                .inner
                .call("save", |mut c| async move {
                    pipe.query_async::<()>(&mut c).await
                })
                .await;
        }
        Ok(())
    }

    async fn remove(&self, key: &CacheKey, rejected: &StoredToken) -> Result<(), auth_cell::Error> {
        let shared = &self.inner.shared;
        let (keys, tag) = (shared.keys(key), shared.codec.tag(rejected));
        let _ = self
            .inner
            .call("remove", |mut c| async move {
                redis::Script::new(REMOVE_IF)
                    .key(&keys.token)
                    .arg(&tag)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
        Ok(())
    }

    async fn lock(
        &self,
        key: &CacheKey,
        wait: Duration,
    ) -> Result<Option<StoreLock>, auth_cell::Error> {
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
            let reply = self
                .inner
                .call(
                    "lock",
                    |mut c| async move { pipe.query_async(&mut c).await },
                )
                .await;
            let Ok(reply) = reply else {
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
                    let (lease, ttl) = (keys.lease.clone(), millis(shared.config.lease_ttl));
                    let _ = self
                        .inner
                        .call("lock", |mut c| async move {
                            redis::cmd("PEXPIRE")
                                .arg(&lease)
                                .arg(ttl)
                                .query_async::<i64>(&mut c)
                                .await
                        })
                        .await;
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
            tokio::time::sleep(shared.config.poll_interval.min(wait - waited)).await;
        }
    }

    fn fingerprint_key(&self) -> Option<FingerprintKey> {
        Some(self.inner.shared.fingerprint.clone())
    }
}

impl fmt::Debug for AsyncRedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.inner.shared;
        f.debug_struct("AsyncRedisTokenStore")
            .field("url", &shared.config.display_url())
            .field("prefix", &shared.config.prefix)
            .field("encrypted", &shared.config.is_encrypted())
            .field("shared", &!shared.detached)
            .field("healthy", &shared.health.is_healthy())
            .finish_non_exhaustive()
    }
}
