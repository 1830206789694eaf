//! Private files: a 0700 directory, 0600 files, every write an atomic
//! replace, and a refusal (as ssh's) to read secrets others could read.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::Error;

/// Environment variable that overrides the configuration directory.
pub const CONFIG_DIR_ENV: &str = "APIAUTH_CONFIG_DIR";

/// The configuration directory: `$APIAUTH_CONFIG_DIR`, else the platform's
/// (`$XDG_CONFIG_HOME/apiauth` or `~/.config/apiauth` on Linux,
/// `~/Library/Application Support/apiauth` on macOS,
/// `%APPDATA%\apiauth\config` on Windows). Not created here.
pub fn config_dir() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "apiauth")
        .map(|p| p.config_dir().to_path_buf())
        .ok_or(Error::NoConfigDir)
}

/// Creates `dir` (and parents) if missing, with mode 0700 for the last
/// component. An existing directory that others can read is refused.
pub fn ensure_private_dir(dir: &Path) -> Result<(), Error> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => check_mode(dir, &m, 0o700),
        Ok(_) => Err(Error::io(
            "using",
            dir,
            std::io::Error::new(ErrorKind::AlreadyExists, "exists and is not a directory"),
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
            }
            create_dir_0700(dir)
        }
        Err(e) => Err(Error::io("reading", dir, e)),
    }
}

#[cfg(unix)]
fn create_dir_0700(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        // Another process created it between our check and now.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("creating", dir, e)),
    }
}

#[cfg(not(unix))]
fn create_dir_0700(dir: &Path) -> Result<(), Error> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("creating", dir, e)),
    }
}

#[cfg(unix)]
fn check_mode(path: &Path, meta: &fs::Metadata, want: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::TooOpen {
            path: path.to_path_buf(),
            mode,
            want,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _meta: &fs::Metadata, _want: u32) -> Result<(), Error> {
    Ok(())
}

/// Reads a private file: `Ok(None)` if it does not exist, an error if
/// group or others may read it.
pub fn read_private(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("opening", path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io("reading", path, e))?;
    check_mode(path, &meta, 0o600)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| Error::io("reading", path, e))?;
    Ok(Some(bytes))
}

/// Replaces `path` with `bytes` atomically: a 0600 temporary file in the
/// same directory is written, flushed to disk, and renamed over the target,
/// and the directory is synced. A reader sees the old file or the new one,
/// never a mix, even if this process is killed midway.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = write_temporary(path, bytes)?;
    let renamed = fs::rename(&tmp, path).map_err(|e| Error::io("replacing", path, e));
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed?;
    sync_dir(parent(path));
    Ok(())
}

/// Creates `path` with `bytes` unless it exists: the bytes are written to
/// a 0600 temporary file first and linked into place, so a reader never
/// sees a partial file and of two processes racing, one wins. Returns
/// whether this call created it.
pub fn create_private(path: &Path, bytes: &[u8]) -> Result<bool, Error> {
    let tmp = write_temporary(path, bytes)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(parent(path));
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::io("creating", path, e)),
    }
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or_else(|| Path::new("."))
}

/// `bytes` in a new 0600 temporary file beside `path`, flushed to disk:
/// `.<name>.<pid>.<n>.tmp`, which a killed writer may leave behind (the
/// file store sweeps old ones).
fn write_temporary(path: &Path, bytes: &[u8]) -> Result<std::path::PathBuf, Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = parent(path).join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        unique_suffix()
    ));
    let written = (|| {
        let mut f = create_0600(&tmp)?;
        f.write_all(bytes)
            .map_err(|e| Error::io("writing", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("syncing", &tmp, e))
    })();
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Removes a file; a missing one is fine.
pub fn remove(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", path, e)),
    }
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

#[cfg(unix)]
fn create_0600(path: &Path) -> Result<File, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("creating", path, e))
}

#[cfg(not(unix))]
fn create_0600(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io("creating", path, e))
}

/// Makes the rename durable. Best effort: some file systems refuse to
/// open directories, and the rename itself is already atomic.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
