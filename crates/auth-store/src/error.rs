//! The one error type of `auth-store`.

use std::path::PathBuf;

/// What went wrong reading or writing private files.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`reading`, `writing`, …).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// A credentials file or directory is readable by others. Like ssh,
    /// apiauth refuses to use it until it is fixed.
    #[error("permissions {mode:04o} for {path} are too open: others could read the secrets in it; run `chmod {want:o} {path}`")]
    TooOpen {
        /// The offending path.
        path: PathBuf,
        /// Its current mode bits.
        mode: u32,
        /// The mode it should have (0600 for files, 0700 for directories).
        want: u32,
    },

    /// No configuration directory could be found.
    #[error("no configuration directory: set APIAUTH_CONFIG_DIR or HOME")]
    NoConfigDir,

    /// Another process held the fetch lock for too long.
    #[error("another apiauth process has held {path} for over {seconds} s; if none is running, delete the file")]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        seconds: u64,
    },
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
