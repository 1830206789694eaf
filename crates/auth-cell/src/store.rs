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
use auth_core::{CacheKey, FingerprintKey, StoredToken};

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

    /// The key cache keys fingerprint the client secret under, so a wrong
    /// secret never reads a token fetched with the right one. A store
    /// shared between processes returns the same key in each (a file
    /// store keeps one beside its entries, private to its owner); `None`
    /// (the default) uses a key private to this process
    /// ([`process_key`](crate::process_key)), so entries other processes
    /// wrote are never read.
    fn fingerprint_key(&self) -> Option<FingerprintKey> {
        None
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

    /// The key cache keys fingerprint the client secret under; see
    /// [`TokenStore::fingerprint_key`].
    fn fingerprint_key(&self) -> Option<FingerprintKey> {
        None
    }
}

/// A store trait object the builder can ask for its fingerprint key.
pub trait Fingerprinting {
    /// See [`TokenStore::fingerprint_key`].
    fn fingerprint_key(&self) -> Option<FingerprintKey>;
}

impl Fingerprinting for dyn TokenStore {
    fn fingerprint_key(&self) -> Option<FingerprintKey> {
        TokenStore::fingerprint_key(self)
    }
}

impl Fingerprinting for dyn AsyncTokenStore {
    fn fingerprint_key(&self) -> Option<FingerprintKey> {
        AsyncTokenStore::fingerprint_key(self)
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

/// Runs blocking work away from an async runtime's worker threads: how a
/// driver lends its runtime to [`Offloaded`].
pub trait Offload: Send + Sync + 'static {
    /// Runs `work` on a thread that may block and waits for it; an error
    /// says why it did not finish (a panic, a runtime shutting down).
    fn offload<T: Send + 'static>(&self, work: Box<dyn FnOnce() -> T + Send>) -> OffloadFuture<T>;
}

/// The answer of [`Offload::offload`].
pub type OffloadFuture<T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send>>;

/// A blocking [`TokenStore`] as an [`AsyncTokenStore`]: every call runs
/// through the driver's [`Offload`], so a file lock wait never stalls an
/// async worker.
pub struct Offloaded<O> {
    store: std::sync::Arc<dyn TokenStore>,
    offload: O,
}

impl<O: Offload> Offloaded<O> {
    /// Wraps `store`; calls run through `offload`.
    pub fn new(store: std::sync::Arc<dyn TokenStore>, offload: O) -> Self {
        Self { store, offload }
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn TokenStore) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let store = std::sync::Arc::clone(&self.store);
        self.offload
            .offload(Box::new(move || f(&*store)))
            .await
            .map_err(|e| Error::Store(format!("the store call did not finish: {e}")))?
    }
}

#[async_trait]
impl<O: Offload> AsyncTokenStore for Offloaded<O> {
    async fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, Error> {
        let key = key.clone();
        self.call(move |s| s.load(&key)).await
    }

    async fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), Error> {
        let (key, token) = (key.clone(), token.clone());
        self.call(move |s| s.save(&key, &token)).await
    }

    async fn remove(&self, key: &CacheKey, rejected: &StoredToken) -> Result<(), Error> {
        let (key, rejected) = (key.clone(), rejected.clone());
        self.call(move |s| s.remove(&key, &rejected)).await
    }

    async fn lock(&self, key: &CacheKey, wait: Duration) -> Result<Option<StoreLock>, Error> {
        let key = key.clone();
        self.call(move |s| s.lock(&key, wait)).await
    }

    fn fingerprint_key(&self) -> Option<FingerprintKey> {
        self.store.fingerprint_key()
    }
}

impl<O> fmt::Debug for Offloaded<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Offloaded").finish_non_exhaustive()
    }
}
