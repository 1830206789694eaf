//! Private files and the file token cache.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use auth_core::{CacheKey, ClientAuth, OAuth2, Provider, Scopes, StoredToken};
use auth_store::{read_private, write_private, Error, FileTokenStore};

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("auth-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn key(scope: &str) -> CacheKey {
    let p: Provider = OAuth2::new("http://127.0.0.1:9/token", ClientAuth::Basic)
        .unwrap()
        .into();
    CacheKey::new(&p, "client", "f1f2", &Scopes::parse(scope).unwrap())
}

#[test]
fn the_fingerprint_key_is_made_once_kept_private_and_replaced_when_corrupt() {
    use auth_cell::TokenStore as _;
    let dir = tempdir("fpkey");
    let a = FileTokenStore::new(&dir)
        .unwrap()
        .fingerprint_key()
        .unwrap();
    let b = FileTokenStore::new(&dir)
        .unwrap()
        .fingerprint_key()
        .unwrap();
    assert_eq!(
        a.expose(),
        b.expose(),
        "two stores on one directory share the key"
    );
    let path = dir.join("tokens").join("fingerprint.key");
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let other = FileTokenStore::new(&tempdir("fpkey-other")).unwrap();
    assert_ne!(a.expose(), other.fingerprint_key().unwrap().expose());
    // A corrupt key: a new one, no error (the cache starts over).
    write_private(&path, b"short").unwrap();
    let c = FileTokenStore::new(&dir)
        .unwrap()
        .fingerprint_key()
        .unwrap();
    assert_ne!(a.expose(), c.expose());
    assert_eq!(read_private(&path).unwrap().unwrap().len(), 32);
}

fn entry(key: &CacheKey, token: &str) -> StoredToken {
    StoredToken::from_json(
        format!(
            r#"{{"key":{},"access_token":"{token}","token_type":"Bearer","expires_at":"2099-01-01T00:00:00Z","scope":"read"}}"#,
            serde_json_string(key.as_str())
        )
        .as_bytes(),
    )
    .unwrap()
}

fn serde_json_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn tokens_round_trip_with_private_modes() {
    let dir = tempdir("roundtrip");
    let store = FileTokenStore::new(&dir).unwrap();
    let k = key("read");
    assert!(store.load(&k).unwrap().is_none());
    store.save(&k, &entry(&k, "tok-1")).unwrap();
    let back = store.load(&k).unwrap().unwrap();
    assert_eq!(back.access_token.expose_secret(), "tok-1");
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("tokens")), 0o700);
        assert_eq!(mode(&store.path(&k)), 0o600);
    }
    // Another key does not see it.
    assert!(store.load(&key("write")).unwrap().is_none());
    store.remove(&k).unwrap();
    assert!(store.load(&k).unwrap().is_none());
    store.remove(&k).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn corrupt_entries_are_ignored_and_rewritten() {
    let dir = tempdir("corrupt");
    let store = FileTokenStore::new(&dir).unwrap();
    let k = key("read");
    for junk in [&b""[..], b"{\"key\":", b"\x00\xff garbage", b"[]"] {
        write_private(&store.path(&k), junk).unwrap();
        assert!(store.load(&k).unwrap().is_none(), "{junk:?}");
    }
    store.save(&k, &entry(&k, "tok-2")).unwrap();
    assert_eq!(
        store
            .load(&k)
            .unwrap()
            .unwrap()
            .access_token
            .expose_secret(),
        "tok-2"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
#[test]
fn files_others_can_read_are_refused_with_a_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir("perms");
    auth_store::ensure_private_dir(&dir).unwrap();
    let f = dir.join("credentials.json");
    write_private(&f, b"{}").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = read_private(&f).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::TooOpen { mode: 0o644, .. }), "{text}");
    assert!(text.contains("chmod 600"), "{text}");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = auth_store::ensure_private_dir(&dir).unwrap_err();
    assert!(e.to_string().contains("chmod 700"), "{e}");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_lock_excludes_and_times_out_and_is_released() {
    let dir = tempdir("lock");
    let store = FileTokenStore::new(&dir)
        .unwrap()
        .with_lock_wait(Duration::from_millis(150));
    let k = key("read");
    let held = store.lock(&k).unwrap();
    let e = store.lock(&k).unwrap_err();
    assert!(matches!(e, Error::LockTimeout { .. }), "{e}");
    // Another key is not blocked.
    drop(store.lock(&key("write")).unwrap());
    drop(held);
    drop(store.lock(&k).unwrap());
    std::fs::remove_dir_all(&dir).ok();
}

const WRITER_ENV: &str = "AUTH_STORE_TEST_WRITER";

/// In writer mode (set by the kill test) this loops forever replacing a
/// file with one of two large contents; otherwise it does nothing.
#[test]
fn writer_child() {
    let Ok(target) = std::env::var(WRITER_ENV) else {
        return;
    };
    let (a, b) = contents();
    let target = PathBuf::from(target);
    for i in 0u64.. {
        write_private(&target, if i % 2 == 0 { &a } else { &b }).unwrap();
    }
}

fn contents() -> (Vec<u8>, Vec<u8>) {
    (vec![b'a'; 4 << 20], vec![b'b'; 3 << 20])
}

#[cfg(unix)]
#[test]
fn a_writer_killed_mid_write_leaves_the_old_or_the_new_file() {
    let dir = tempdir("kill");
    auth_store::ensure_private_dir(&dir).unwrap();
    let target = dir.join("entry.json");
    let (a, b) = contents();
    write_private(&target, &a).unwrap();
    for round in 0..5 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "writer_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(WRITER_ENV, &target)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(60 + round * 37));
        child.kill().unwrap(); // SIGKILL: no cleanup runs
        child.wait().unwrap();
        let now = read_private(&target).unwrap().unwrap();
        assert!(
            now == a || now == b,
            "round {round}: a torn file of {} bytes",
            now.len()
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn temporaries_a_killed_writer_left_are_swept_when_old() {
    let dir = tempdir("sweep");
    let tokens = dir.join("tokens");
    FileTokenStore::new(&dir).unwrap();
    let old = tokens.join(".abc.json.1.0.tmp");
    let young = tokens.join(".abc.json.2.0.tmp");
    for p in [&old, &young] {
        std::fs::write(p, b"partial").unwrap();
    }
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    FileTokenStore::new(&dir).unwrap();
    assert!(!old.exists(), "an hour-old temporary is litter");
    assert!(young.exists(), "a young one may be a write in progress");
}
