//! Persistent token caches: the blocking [`TokenStore`] trait and an
//! in-memory [`MemoryStore`].
//!
//! A store is optional. Without one, the provider's in-memory cache is the
//! only cache and a new process fetches a new token. With one, the cold path
//! (no usable token in memory) takes the store's lock, loads an entry and
//! offers it to the core before it asks the token endpoint; a fetched token
//! is saved; a rejected one is removed. The hot path never touches a store.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use auth_core::{CacheKey, StoredToken};

use crate::Error;

/// A place to keep tokens across processes (a file, a shared cache).
///
/// Every method may block; none is called on the hot path. Errors are
/// logged by the provider and never fail a token request, so a broken
/// store costs a fetch, not an outage.
///
/// Entries are in `auth-core`'s [`StoredToken`] format, so a token saved by
/// one apiauth driver can be read by another.
pub trait TokenStore: Send + Sync {
    /// The entry under `key`, if any.
    fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, Error>;

    /// Stores `token` under `key`, replacing any entry.
    fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), Error>;

    /// Forgets the entry under `key` (its token was rejected by the API).
    /// The default does nothing.
    fn remove(&self, key: &CacheKey) -> Result<(), Error> {
        let _ = key;
        Ok(())
    }

    /// A lock on `key` held across load, fetch and save on the cold path,
    /// so that several processes starting together make one token request.
    /// The returned guard is dropped to release it. The default takes no
    /// lock.
    fn lock(&self, key: &CacheKey) -> Result<Option<Box<dyn Any + Send>>, Error> {
        let _ = key;
        Ok(None)
    }
}

/// A [`TokenStore`] in process memory, for tests and examples: share one
/// between several providers to see them reuse a token.
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
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether it holds no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TokenStore for MemoryStore {
    fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, Error> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(entries.get(key).cloned())
    }

    fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), Error> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert(key.clone(), token.clone());
        Ok(())
    }

    fn remove(&self, key: &CacheKey) -> Result<(), Error> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(key);
        Ok(())
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
