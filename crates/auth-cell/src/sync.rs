//! The one door to synchronization primitives, so `--cfg apiauth_loom`
//! swaps in loom's versions without touching the logic (tokio's pattern).
//!
//! Under loom the lock-free token slot becomes a loom mutex: `arc-swap` is
//! not loom-aware, and what the model checks is the cell's own protocol
//! around the slot, not `arc-swap`'s internals.

use std::sync::Arc;

#[cfg(not(apiauth_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

#[cfg(apiauth_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(apiauth_loom)]
pub(crate) use std::sync::{PoisonError, TryLockError};

/// An atomically replaced `Option<Arc<T>>` whose reads take no lock.
pub(crate) struct Slot<T> {
    #[cfg(not(apiauth_loom))]
    inner: arc_swap::ArcSwapOption<T>,
    #[cfg(apiauth_loom)]
    inner: loom::sync::Mutex<Option<Arc<T>>>,
}

impl<T> Slot<T> {
    pub(crate) fn empty() -> Self {
        Self {
            #[cfg(not(apiauth_loom))]
            inner: arc_swap::ArcSwapOption::empty(),
            #[cfg(apiauth_loom)]
            inner: loom::sync::Mutex::new(None),
        }
    }

    /// Runs `f` on the current value without taking a reference count.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        #[cfg(not(apiauth_loom))]
        {
            let guard = self.inner.load();
            f(guard.as_deref())
        }
        #[cfg(apiauth_loom)]
        {
            let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            f(guard.as_deref())
        }
    }

    pub(crate) fn store(&self, value: Option<Arc<T>>) {
        #[cfg(not(apiauth_loom))]
        self.inner.store(value);
        #[cfg(apiauth_loom)]
        {
            *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = value;
        }
    }
}

/// Locks `m`, recovering from poison: every critical section of the cell
/// leaves the state consistent between calls into the core, and a panic
/// elsewhere while holding it must not wedge every later caller.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Like [`lock`] but gives up at once when another thread holds it.
pub(crate) fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}
