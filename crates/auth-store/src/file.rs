//! A token cache in files: one JSON entry per cache key, written
//! atomically, read leniently, and a lock file for cross-process single
//! flight.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use auth_core::{CacheKey, FingerprintKey, StoredToken};

use crate::private::{create_private, ensure_private_dir, read_private, remove, write_private};
use crate::Error;

/// How long [`FileTokenStore::lock`] waits for another process by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);

/// Tokens in `<dir>/tokens/<digest>.json`, mode 0600, in a 0700 directory.
///
/// - A corrupt or truncated entry is ignored with a warning and rewritten
///   by the next save; it never fails a caller.
/// - [`lock`](Self::lock) takes an OS file lock (`flock`), which the kernel
///   releases when the holder exits, so a killed process cannot block the
///   others.
///
/// Cache keys fingerprint the client secret under a random key kept in
/// `<dir>/tokens/fingerprint.key` (0600, made on first use), so a wrong
/// secret never reads a token fetched with the right one, and a key seen
/// in a file name or log cannot be used to test guesses of the secret.
#[derive(Clone, Debug)]
pub struct FileTokenStore {
    dir: PathBuf,
    lock_wait: Duration,
    key: FingerprintKey,
}

/// Holds the fetch lock for one key until dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if let Err(e) = self.file.unlock() {
            tracing::warn!(path = %self.path.display(), error = %e, "could not release the token lock");
        }
    }
}

impl FileTokenStore {
    /// A store under `config_dir` (tokens go in its `tokens/` directory,
    /// created 0700 if missing).
    pub fn new(config_dir: &Path) -> Result<Self, Error> {
        ensure_private_dir(config_dir)?;
        let dir = config_dir.join("tokens");
        ensure_private_dir(&dir)?;
        let key = fingerprint_key(&dir.join("fingerprint.key"))?;
        sweep_stale_temporaries(&dir);
        Ok(Self {
            dir,
            lock_wait: DEFAULT_LOCK_WAIT,
            key,
        })
    }

    /// A store in [`crate::config_dir`].
    pub fn open_default() -> Result<Self, Error> {
        Self::new(&crate::config_dir()?)
    }

    /// How long [`lock`](Self::lock) waits for another process.
    #[must_use]
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Where the entry for `key` lives.
    #[must_use]
    pub fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.digest()))
    }

    /// The entry for `key`. A missing, corrupt or foreign entry is `None`
    /// (corrupt ones are logged); a file others can read is an error.
    pub fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, Error> {
        let path = self.path(key);
        let Some(bytes) = read_private(&path)? else {
            return Ok(None);
        };
        match StoredToken::from_json(&bytes) {
            Ok(entry) if entry.key == key.as_str() => Ok(Some(entry)),
            Ok(_) => {
                tracing::warn!(path = %path.display(), "cached token belongs to another key; ignoring it");
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cached token is corrupt; it will be rewritten");
                Ok(None)
            }
        }
    }

    /// Writes the entry for `key` (atomic replace, mode 0600).
    pub fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), Error> {
        let json = token.to_json().map_err(|e| {
            Error::io(
                "encoding",
                self.path(key),
                std::io::Error::other(e.to_string()),
            )
        })?;
        write_private(&self.path(key), &json)
    }

    /// Deletes the entry for `key`.
    pub fn remove(&self, key: &CacheKey) -> Result<(), Error> {
        remove(&self.path(key))
    }

    /// Takes the fetch lock for `key`, waiting up to the lock wait for
    /// another process to finish.
    pub fn lock(&self, key: &CacheKey) -> Result<FileLock, Error> {
        self.lock_within(key, self.lock_wait)
    }

    /// Takes the fetch lock for `key`, waiting at most `wait`.
    pub fn lock_within(&self, key: &CacheKey, wait: Duration) -> Result<FileLock, Error> {
        let path = self.dir.join(format!("{}.lock", key.digest()));
        let file = open_lock_file(&path)?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FileLock { file, path }),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("locking", &path, e)),
            }
            let waited = started.elapsed();
            if waited >= wait {
                return Err(Error::LockTimeout {
                    path,
                    seconds: wait.as_secs(),
                });
            }
            std::thread::sleep(pause.min(wait - waited));
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

#[cfg(unix)]
fn open_lock_file(path: &Path) -> Result<File, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("opening", path, e))
}

#[cfg(not(unix))]
fn open_lock_file(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io("opening", path, e))
}

impl FileTokenStore {
    /// Deletes the entry for `key` only if it still holds `rejected`'s
    /// token, under the fetch lock so no other process's fresh token can
    /// slip in between the check and the removal. When the lock is busy —
    /// another process (or this one) is fetching and will overwrite the
    /// entry — the removal is skipped: the rejected token lives only until
    /// that save.
    pub fn remove_if(&self, key: &CacheKey, rejected: &StoredToken) -> Result<bool, Error> {
        let path = self.dir.join(format!("{}.lock", key.digest()));
        let file = open_lock_file(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("locking", &path, e)),
        }
        let _guard = FileLock { file, path };
        match self.load(key)? {
            Some(entry) if auth_cell::same_token(&entry, rejected) => {
                self.remove(key)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl auth_cell::TokenStore for FileTokenStore {
    fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, auth_cell::Error> {
        FileTokenStore::load(self, key).map_err(store_error)
    }

    fn save(&self, key: &CacheKey, token: &StoredToken) -> Result<(), auth_cell::Error> {
        FileTokenStore::save(self, key, token).map_err(store_error)
    }

    fn remove(&self, key: &CacheKey, rejected: &StoredToken) -> Result<(), auth_cell::Error> {
        self.remove_if(key, rejected).map(drop).map_err(store_error)
    }

    fn lock(
        &self,
        key: &CacheKey,
        wait: Duration,
    ) -> Result<Option<auth_cell::StoreLock>, auth_cell::Error> {
        self.lock_within(key, wait.min(self.lock_wait))
            .map(|guard| Some(Box::new(guard) as auth_cell::StoreLock))
            .map_err(store_error)
    }
    fn fingerprint_key(&self) -> Option<FingerprintKey> {
        Some(self.key.clone())
    }
}

/// Removes temporary files a killed writer left behind (an atomic write
/// that never reached its rename). Only old ones: a young one may belong
/// to a write in progress. Best effort.
fn sweep_stale_temporaries(dir: &Path) {
    const STALE: Duration = Duration::from_secs(600);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Reads the store's fingerprint key, making it on first use. A corrupt
/// key file is replaced: entries made under the old key are then never
/// read again (the cache starts over), which costs a fetch, not an error.
fn fingerprint_key(path: &Path) -> Result<FingerprintKey, Error> {
    let fresh = || -> Result<[u8; 32], Error> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| {
            Error::io(
                "drawing a random key for",
                path,
                std::io::Error::other(e.to_string()),
            )
        })?;
        Ok(bytes)
    };
    // Twice: a process that loses the race to create the file reads the
    // winner's key.
    for _ in 0..2 {
        match read_private(path)? {
            Some(bytes) => match FingerprintKey::from_slice(&bytes) {
                Ok(key) => return Ok(key),
                Err(_) => {
                    tracing::warn!(path = %path.display(), "the fingerprint key is corrupt; making a new one (cached tokens will be fetched again)");
                    let bytes = fresh()?;
                    write_private(path, &bytes)?;
                    return Ok(FingerprintKey::new(bytes));
                }
            },
            None => {
                let bytes = fresh()?;
                if create_private(path, &bytes)? {
                    return Ok(FingerprintKey::new(bytes));
                }
            }
        }
    }
    Err(Error::io(
        "reading",
        path,
        std::io::Error::other("the key file keeps disappearing"),
    ))
}

fn store_error(e: Error) -> auth_cell::Error {
    auth_cell::Error::Store(e.to_string())
}
