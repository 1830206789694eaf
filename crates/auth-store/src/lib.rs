//! # auth-store: tokens and credentials on disk, safely
//!
//! - [`write_private`] replaces a file atomically (temporary file in the
//!   same directory, fsync, rename, directory fsync) with mode 0600, so a
//!   crash leaves the old file or the new one, never a broken one.
//! - [`read_private`] refuses a file that group or others can read, with a
//!   message that says how to fix it — as ssh does for private keys.
//! - [`FileTokenStore`] keeps tokens between processes, keyed by
//!   [`auth_core::CacheKey`], with a lock file so that twenty scripts
//!   starting together make one token request. A corrupt entry is ignored
//!   and rewritten; a lock held by a killed process is released by the OS.
//!
//! [`FileTokenStore`] implements [`auth_cell::TokenStore`], so it plugs
//! into the blocking driver directly and into the async one through its
//! `blocking_store` setter; this crate depends on the cell, never on a
//! driver.
//!
//! ```
//! use auth_store::{read_private, write_private};
//! let dir = std::env::temp_dir().join(format!("apiauth-doc-{}", std::process::id()));
//! auth_store::ensure_private_dir(&dir)?;
//! let file = dir.join("profile.json");
//! write_private(&file, b"{}")?;
//! assert_eq!(read_private(&file)?.as_deref(), Some(&b"{}"[..]));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), auth_store::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod file;
mod private;

pub use error::Error;
pub use file::{FileLock, FileTokenStore, DEFAULT_LOCK_WAIT};
pub use private::{
    config_dir, ensure_private_dir, read_private, remove, write_private, CONFIG_DIR_ENV,
};
