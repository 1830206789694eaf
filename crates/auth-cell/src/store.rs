//! Where tokens live besides memory. The traits live with the cell, so a
//! store (files, Redis) depends on the cell alone and serves both drivers.
//!
//! The cell decides every store call — when to read, save and remove, and
//! in which order — and the driver only performs it: a rejected token is
//! never written back after its removal, and a removal never deletes a
//! newer token another process saved.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use auth_core::{CacheKey, StoredToken};

use crate::Error;

/// A guard a store hands out from [`TokenStore::lock`]; dropping it
/// releases the lock.
pub type StoreLock = Box<dyn Any + Send>;

/// A blocking token store, for the blocking driver (and, through its
/// adapter, the async one).
///
/// Implementations must be safe to call from many threads. Errors (and
/// panics) are logged by the driver and never fail a token request: a
/// broken store costs a fetch, not an outage.
pub trait TokenStore: Send + Sync {
    /// The entry under `key`, if any. A corrupt entry should be `Ok(None)`.
    fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, Error>;

    /// Stores `token` under `key`, replacing any entry.
    fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), Error>;

    /// Deletes the entry under `key` **only if it still holds the token
    /// value of `rejected`**: another process may have saved a newer token
    /// since, and deleting it would cost every process a fetch.
    fn remove(&self, key: &CacheKey, rejected: &StoredToken) -> Result<(), Error>;

    /// A lock on `key` held across load, fetch and save of a cold start, so
    /// processes starting together make one token request between them.
    /// Wait at most `wait`; give up with `Ok(None)` (fetch unlocked) or an
    /// error. The default takes no lock.
    fn lock(&self, key: &CacheKey, wait: Duration) -> Result<Option<StoreLock>, Error> {
        let _ = (key, wait);
        Ok(None)
    }
}

/// An async token store, for the async driver.
///
/// The same contract as [`TokenStore`]; every call is bounded by the
/// driver's own limits, so a hung store delays no caller past its wait
/// limit.
#[async_trait]
pub trait AsyncTokenStore: Send + Sync {
    /// The entry under `key`, if any. A corrupt entry should be `Ok(None)`.
    async fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, Error>;

    /// Stores `token` under `key`, replacing any entry.
    async fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), Error>;

    /// Deletes the entry under `key` only if it still holds the token value
    /// of `rejected`.
    async fn remove(&self, key: &CacheKey, rejected: &StoredToken) -> Result<(), Error>;

    /// A lock held across a cold start's load, fetch and save; see
    /// [`TokenStore::lock`]. The default takes no lock.
    async fn lock(&self, key: &CacheKey, wait: Duration) -> Result<Option<StoreLock>, Error> {
        let _ = (key, wait);
        Ok(None)
    }
}

/// Whether `entry` holds the same token value as `other`.
#[must_use]
pub fn same_token(entry: &StoredToken, other: &StoredToken) -> bool {
    entry.access_token.expose_secret() == other.access_token.expose_secret()
}

/// A store in this process's memory: share one between providers built
/// separately to see them reuse a token (tests, examples, multi-tenant
/// services). Implements both traits.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<CacheKey, StoredToken>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether it holds no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, StoredToken>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenStore for MemoryStore {
    fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, Error> {
        Ok(self.map().get(key).cloned())
    }

    fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), Error> {
        self.map().insert(key.clone(), token.clone());
        Ok(())
    }

    fn remove(&self, key: &CacheKey, rejected: &StoredToken) -> Result<(), Error> {
        let mut map = self.map();
        if map.get(key).is_some_and(|e| same_token(e, rejected)) {
            map.remove(key);
        }
        Ok(())
    }
}

#[async_trait]
impl AsyncTokenStore for MemoryStore {
    async fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, Error> {
        TokenStore::load(self, key)
    }

    async fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), Error> {
        TokenStore::save(self, key, token)
    }

    async fn remove(&self, key: &CacheKey, rejected: &StoredToken) -> Result<(), Error> {
        TokenStore::remove(self, key, rejected)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keys name no secret; the entries hold tokens, so only count them.
        f.debug_struct("MemoryStore")
            .field("entries", &self.len())
            .finish()
    }
}
