//! Where tokens may live besides memory: the pluggable [`TokenStore`].
//!
//! The provider's own cache is an atomically swapped pointer; a store is
//! consulted only on a cold start (before the first fetch) and written after
//! each new token, so the hot path never pays for it.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use auth_core::{CacheKey, StoredToken};

use crate::Error;

/// A place to keep tokens across provider instances or processes (a file,
/// a shared cache for a fleet).
///
/// Implementations must be safe to call concurrently. Errors are logged by
/// the provider and never fail a token request.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The entry under `key`, if any. A corrupt entry should be `Ok(None)`.
    async fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, Error>;
    /// Replaces the entry under `key`.
    async fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), Error>;
    /// Deletes the entry under `key` (the API rejected the token).
    async fn remove(&self, key: &CacheKey) -> Result<(), Error> {
        let _ = key;
        Ok(())
    }
}

/// A store in this process's memory: shares tokens between providers built
/// separately with the same key (tests, examples, multi-tenant services).
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<CacheKey, StoredToken>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether the store is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, Error> {
        let entries = self
            .entries
            .lock()
            .map_err(|_| Error::Store("memory store poisoned".into()))?;
        Ok(entries.get(key).cloned())
    }

    async fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), Error> {
        self.entries
            .lock()
            .map_err(|_| Error::Store("memory store poisoned".into()))?
            .insert(key.clone(), token.clone());
        Ok(())
    }

    async fn remove(&self, key: &CacheKey) -> Result<(), Error> {
        self.entries
            .lock()
            .map_err(|_| Error::Store("memory store poisoned".into()))?
            .remove(key);
        Ok(())
    }
}
