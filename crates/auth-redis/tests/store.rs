//! Both stores against a real redis-server: what they write, what they
//! refuse, the lease, the fingerprint key, encryption at rest, and that no
//! secret reaches a log, a `Debug` or an error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use auth_cell::{AsyncTokenStore, TokenStore};
use auth_core::datetime::format_rfc3339;
use auth_core::{AccessToken, CacheKey, StoredToken};
use auth_redis::{AsyncRedisTokenStore, EncryptionKey, RedisConfig, RedisTokenStore};
use auth_redis_testing::RedisServer;
use common::*;

#[test]
fn fleet_member() {
    play_if_member();
}

const SECRET: &str = "s3cr3t-client-secret-value";

fn key(client: &str) -> CacheKey {
    let (provider, _) = oauth2("http://127.0.0.1:1/oauth2/token");
    CacheKey::new(
        &provider.into(),
        client,
        "0123abcd",
        &"read".parse().unwrap(),
    )
}

fn entry(key: &CacheKey, token: &str, lifetime: Duration) -> StoredToken {
    let now = SystemTime::now();
    StoredToken {
        key: key.as_str().to_owned(),
        access_token: AccessToken::new(token.to_owned()),
        token_type: "Bearer".into(),
        expires_at: Some(format_rfc3339(now + lifetime)),
        scope: "read".into(),
        publishable: false,
        issued_at: Some(format_rfc3339(now)),
    }
}

fn loaded(store: &RedisTokenStore, key: &CacheKey) -> Option<String> {
    TokenStore::load(store, key)
        .unwrap()
        .map(|e| e.access_token.expose_secret().to_owned())
}

fn sha256_hex(text: &str) -> String {
    // The store's key names: `<prefix>:v1:token:<hex SHA-256 of the cache key>`.
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn entries_are_namespaced_expire_with_their_token_and_hold_no_secret() {
    let redis = RedisServer::start();
    let store = RedisTokenStore::new(RedisConfig::new(&redis.url()).unwrap()).unwrap();
    let k = key("client-a");
    TokenStore::save(&store, &k, &entry(&k, "tok-A", Duration::from_secs(600))).unwrap();
    assert_eq!(loaded(&store, &k).as_deref(), Some("tok-A"));

    let name = format!("apiauth:v1:token:{}", sha256_hex(k.as_str()));
    assert_eq!(store.entry_key(&k), name);
    let mut keys = redis.keys("apiauth:*");
    keys.sort();
    assert_eq!(
        keys,
        ["apiauth:v1:fingerprint-key".to_owned(), name.clone()]
    );
    let pttl: i64 = redis.command(&["PTTL", &name])[1..].parse().unwrap();
    assert!((595_000..=600_000).contains(&pttl), "{pttl}");
    for k in &keys {
        assert!(!k.contains(SECRET) && !k.contains("client-a"), "{k}");
    }
    // A token without an expiry lives for the configured default.
    let mut forever = entry(&k, "tok-B", Duration::ZERO);
    forever.expires_at = None;
    TokenStore::save(&store, &k, &forever).unwrap();
    let pttl: i64 = redis.command(&["PTTL", &name])[1..].parse().unwrap();
    assert!(pttl > 3_590_000 && pttl <= 3_600_000, "{pttl}");
    // An expired one is not written.
    let k2 = key("client-b");
    let mut old = entry(&k2, "tok-C", Duration::ZERO);
    old.expires_at = Some(format_rfc3339(SystemTime::now() - Duration::from_secs(5)));
    TokenStore::save(&store, &k2, &old).unwrap();
    assert_eq!(loaded(&store, &k2), None);
}

#[test]
fn removal_deletes_only_the_rejected_token() {
    let redis = RedisServer::start();
    let store = RedisTokenStore::new(RedisConfig::new(&redis.url()).unwrap()).unwrap();
    let k = key("client-a");
    let (old, new) = (
        entry(&k, "tok-old", Duration::from_secs(600)),
        entry(&k, "tok-new", Duration::from_secs(600)),
    );
    TokenStore::save(&store, &k, &new).unwrap();
    // Another process rejected the old token after this one saved a new one.
    TokenStore::remove(&store, &k, &old).unwrap();
    assert_eq!(loaded(&store, &k).as_deref(), Some("tok-new"));
    // The rejected token itself, even as re-read (other fields differ), goes.
    let mut rejected = new.clone();
    rejected.issued_at = None;
    TokenStore::remove(&store, &k, &rejected).unwrap();
    assert_eq!(loaded(&store, &k), None);
}

#[test]
fn garbage_foreign_and_wrong_type_values_are_misses_and_get_overwritten() {
    let redis = RedisServer::start();
    let store = RedisTokenStore::new(RedisConfig::new(&redis.url()).unwrap()).unwrap();
    let (a, b) = (key("client-a"), key("client-b"));
    let name = store.entry_key(&a);
    for garbage in [&b"hello"[..], b"v1:zz", &[0xff; 200], b""] {
        redis.set(&name, garbage);
        assert_eq!(loaded(&store, &a), None);
    }
    // A valid entry copied from another cache key.
    TokenStore::save(&store, &b, &entry(&b, "tok-b", Duration::from_secs(600))).unwrap();
    redis.set(&name, &redis.get(&store.entry_key(&b)).unwrap());
    assert_eq!(loaded(&store, &a), None);
    // Another type altogether.
    let _ = redis.command(&["DEL", &name]);
    let _ = redis.command(&["LPUSH", &name, "x"]);
    assert_eq!(loaded(&store, &a), None);
    assert!(store.is_healthy(), "a foreign value is not an outage");
    TokenStore::save(&store, &a, &entry(&a, "tok-a", Duration::from_secs(600))).unwrap();
    assert_eq!(loaded(&store, &a).as_deref(), Some("tok-a"));
}

#[test]
fn the_lease_is_exclusive_released_by_its_holder_only_and_always_expires() {
    let redis = RedisServer::start();
    let config = RedisConfig::new(&redis.url())
        .unwrap()
        .with_lease_ttl(Duration::from_millis(800));
    let store = RedisTokenStore::new(config).unwrap();
    let k = key("client-a");
    let lease = store.lease_key(&k);

    let guard = TokenStore::lock(&store, &k, Duration::from_secs(1)).unwrap();
    assert!(guard.is_some());
    let holder = String::from_utf8(redis.get(&lease).unwrap()).unwrap();
    assert!(
        holder.starts_with(&format!("{}:", std::process::id())),
        "{holder}"
    );
    // Another caller waits at most its wait, then goes on without it.
    let t0 = std::time::Instant::now();
    assert!(TokenStore::lock(&store, &k, Duration::from_millis(200))
        .unwrap()
        .is_none());
    assert!(t0.elapsed() >= Duration::from_millis(200));
    drop(guard);
    assert_eq!(redis.get(&lease), None, "released on drop");

    // A fresh shared entry ends another process's wait at once.
    let other = RedisTokenStore::new(
        RedisConfig::new(&redis.url())
            .unwrap()
            .with_lease_ttl(Duration::from_millis(800)),
    )
    .unwrap();
    let guard = TokenStore::lock(&store, &k, Duration::from_secs(1)).unwrap();
    TokenStore::save(&store, &k, &entry(&k, "tok", Duration::from_secs(600))).unwrap();
    let t0 = std::time::Instant::now();
    assert!(TokenStore::lock(&other, &k, Duration::from_secs(5))
        .unwrap()
        .is_none());
    assert!(t0.elapsed() < Duration::from_secs(1));

    // An expired lease taken by someone else is not released by the old
    // holder's guard.
    std::thread::sleep(Duration::from_millis(900));
    redis.set(&lease, b"someone-else");
    let _ = redis.command(&["PEXPIRE", &lease, "5000"]);
    drop(guard);
    assert_eq!(redis.get(&lease).as_deref(), Some(&b"someone-else"[..]));

    // A lease without a TTL (written by hand) is given one.
    redis.set(&lease, b"stuck");
    let _ = TokenStore::lock(&store, &key("client-b"), Duration::from_millis(10));
    let _ = TokenStore::lock(&store, &k, Duration::from_millis(100)).unwrap();
    let pttl: i64 = redis.command(&["PTTL", &lease])[1..].parse().unwrap();
    assert!(pttl > 0 && pttl <= 800, "{pttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_store_does_the_same_and_releases_on_a_task() {
    let redis = RedisServer::start();
    let config = RedisConfig::new(&redis.url()).unwrap();
    let store = AsyncRedisTokenStore::new(config.clone()).await.unwrap();
    let blocking = tokio::task::spawn_blocking(move || RedisTokenStore::new(config).unwrap())
        .await
        .unwrap();
    assert_eq!(
        AsyncTokenStore::fingerprint_key(&store).unwrap().expose(),
        TokenStore::fingerprint_key(&blocking).unwrap().expose(),
        "both drivers share one fingerprint key, so one cache key"
    );
    let k = key("client-a");
    AsyncTokenStore::save(&store, &k, &entry(&k, "tok-A", Duration::from_secs(600)))
        .await
        .unwrap();
    let got = AsyncTokenStore::load(&store, &k).await.unwrap().unwrap();
    assert_eq!(got.access_token.expose_secret(), "tok-A");
    AsyncTokenStore::remove(&store, &k, &entry(&k, "other", Duration::from_secs(1)))
        .await
        .unwrap();
    assert!(AsyncTokenStore::load(&store, &k).await.unwrap().is_some());
    AsyncTokenStore::remove(&store, &k, &got).await.unwrap();
    assert!(AsyncTokenStore::load(&store, &k).await.unwrap().is_none());

    let guard = AsyncTokenStore::lock(&store, &k, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(guard.is_some());
    assert!(redis.get(&store.lease_key(&k)).is_some());
    assert!(
        AsyncTokenStore::lock(&store, &k, Duration::from_millis(100))
            .await
            .unwrap()
            .is_none()
    );
    drop(guard);
    for _ in 0..100 {
        if redis.get(&store.lease_key(&k)).is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the lease was not released");
}

#[test]
fn the_fingerprint_key_is_shared_and_put_back_after_redis_loses_it() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = RedisTokenStore::new(RedisConfig::new(&url).unwrap()).unwrap();
    let b = RedisTokenStore::new(RedisConfig::new(&url).unwrap()).unwrap();
    let key_a = TokenStore::fingerprint_key(&a).unwrap();
    assert_eq!(
        key_a.expose(),
        TokenStore::fingerprint_key(&b).unwrap().expose()
    );
    assert!(a.is_shared());
    // Redis restarts empty; the next save puts the key back, so a process
    // started now agrees with the running ones.
    redis.restart();
    let k = key("client-a");
    for _ in 0..50 {
        TokenStore::save(&a, &k, &entry(&k, "tok", Duration::from_secs(60))).unwrap();
        if redis.get("apiauth:v1:fingerprint-key").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let c = RedisTokenStore::new(RedisConfig::new(&url).unwrap()).unwrap();
    assert_eq!(
        key_a.expose(),
        TokenStore::fingerprint_key(&c).unwrap().expose()
    );
    // A corrupt key is replaced (the cache starts over).
    redis.set("apiauth:v1:fingerprint-key", b"short");
    let d = RedisTokenStore::new(RedisConfig::new(&url).unwrap()).unwrap();
    assert_ne!(
        key_a.expose(),
        TokenStore::fingerprint_key(&d).unwrap().expose()
    );
    assert_eq!(redis.get("apiauth:v1:fingerprint-key").unwrap().len(), 32);
}

#[test]
fn an_unreachable_redis_at_build_time_leaves_the_process_alone() {
    let port = auth_redis_testing::free_port();
    let t0 = std::time::Instant::now();
    let store =
        RedisTokenStore::new(RedisConfig::new(&format!("redis://127.0.0.1:{port}/0")).unwrap())
            .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert!(!store.is_shared());
    assert_eq!(
        TokenStore::fingerprint_key(&store).unwrap().expose(),
        auth_cell::process_key().expose()
    );
    let k = key("client-a");
    TokenStore::save(&store, &k, &entry(&k, "tok", Duration::from_secs(60))).unwrap();
    assert_eq!(loaded(&store, &k), None);
    assert!(TokenStore::lock(&store, &k, Duration::from_secs(5))
        .unwrap()
        .is_none());
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert!(store.ping().is_err());
}

fn sealed_config(url: &str, key: [u8; 32]) -> RedisConfig {
    RedisConfig::new(url)
        .unwrap()
        .with_encryption_key(EncryptionKey::new(key))
}

#[test]
fn sealed_entries_hide_the_token_and_the_secret_and_cannot_move() {
    let redis = RedisServer::start();
    let emu = emulator(Duration::from_secs(3600));
    let store = RedisTokenStore::new(sealed_config(&redis.url(), [7; 32])).unwrap();
    let tokens = blocking_provider(
        &emu.url("/oauth2/token"),
        Some(&store),
        policy(),
        Duration::from_secs(10),
    );
    let token = tokens.token().unwrap();
    let value = token.access_token().expose_secret().to_owned();
    let k = tokens.cell().key().clone();
    let raw = redis.get(&store.entry_key(&k)).unwrap();
    let raw_text = String::from_utf8_lossy(&raw).into_owned();
    assert!(
        raw_text.starts_with("v1:") && raw_text[36..].starts_with("aead:"),
        "{raw_text}"
    );
    for needle in [value.as_str(), auth_emulator::demo::OAUTH2_CLIENT_SECRET] {
        assert!(!raw.windows(needle.len()).any(|w| w == needle.as_bytes()));
    }
    // Nothing in Redis names or fingerprints the secret in clear: the
    // fingerprint key comes from the encryption key and is not stored.
    assert!(redis.get("apiauth:v1:fingerprint-key").is_none());

    // Copied to another cache key's entry: refused (the cache key is the
    // associated data), and so is the original under another key.
    let other = key("client-b");
    redis.set(&store.entry_key(&other), &raw);
    assert_eq!(loaded(&store, &other), None);
    assert_eq!(loaded(&store, &k).as_deref(), Some(value.as_str()));
    // A store with another key, or none, cannot read it either.
    let wrong = RedisTokenStore::new(sealed_config(&redis.url(), [8; 32])).unwrap();
    assert_eq!(loaded(&wrong, &k), None);
    let clear = RedisTokenStore::new(RedisConfig::new(&redis.url()).unwrap()).unwrap();
    assert_eq!(loaded(&clear, &k), None);
    // A token written in clear (by someone without the key) is refused.
    TokenStore::save(&clear, &k, &entry(&k, "planted", Duration::from_secs(600))).unwrap();
    assert_eq!(loaded(&store, &k), None);
    // Removal still works on sealed entries (it compares a keyed digest).
    let stored = entry(&k, "tok-x", Duration::from_secs(600));
    TokenStore::save(&store, &k, &stored).unwrap();
    TokenStore::remove(&store, &k, &stored).unwrap();
    assert_eq!(redis.get(&store.entry_key(&k)), None);
}

#[test]
fn no_secret_in_debug_errors_or_logs() {
    let redis = RedisServer::start();
    let logs = Logs::default();
    let _guard = logs.capture();
    let password = "redis-pa55word";
    let key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let emu = emulator(Duration::from_secs(3600));

    // A password Redis refuses, and a dead port: errors and warnings.
    let url = format!("redis://user:{password}@127.0.0.1:{}/0", redis.port());
    let config = RedisConfig::new(&url)
        .unwrap()
        .with_encryption_key(EncryptionKey::from_base64(key_b64).unwrap());
    let store = RedisTokenStore::new(config.clone()).unwrap();
    let tokens = blocking_provider(
        &emu.url("/oauth2/token"),
        Some(&store),
        policy(),
        Duration::from_secs(10),
    );
    let token = tokens.token().unwrap();
    let value = token.access_token().expose_secret().to_owned();
    let ping = store.ping().unwrap_err().to_string();
    let dead = RedisConfig::new(&format!(
        "redis://:{password}@127.0.0.1:{}/0",
        auth_redis_testing::free_port()
    ))
    .unwrap();
    let dead_store = RedisTokenStore::new(dead.clone()).unwrap();
    let dead_ping = dead_store.ping().unwrap_err().to_string();

    // And a working store, sealed, with a token in it.
    let ok = RedisTokenStore::new(sealed_config(&redis.url(), [1; 32])).unwrap();
    let k = tokens.cell().key().clone();
    TokenStore::save(&ok, &k, &StoredToken::new(&k, &token)).unwrap();
    let _ = TokenStore::load(&ok, &k).unwrap();
    redis.set(&ok.entry_key(&k), b"garbage");
    let _ = TokenStore::load(&ok, &k).unwrap();

    let shown = [
        format!("{config:?}"),
        format!("{store:?}"),
        format!("{dead_store:?}"),
        format!("{ok:?}"),
        format!("{:?}", EncryptionKey::from_base64(key_b64).unwrap()),
        format!("{:?}", TokenStore::fingerprint_key(&ok)),
        ping.clone(),
        dead_ping.clone(),
        config.display_url().to_owned(),
        logs.text(),
    ];
    for text in &shown {
        for secret in [
            password,
            key_b64,
            value.as_str(),
            auth_emulator::demo::OAUTH2_CLIENT_SECRET,
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert!(ping.contains("127.0.0.1"), "{ping}");
    assert!(
        logs.text().contains("WARN"),
        "the failures were logged: {}",
        logs.text()
    );
}

#[test]
fn one_warning_per_outage_and_one_notice_when_it_ends() {
    let redis = RedisServer::start();
    let logs = Logs::default();
    let _guard = logs.capture();
    let store = RedisTokenStore::new(RedisConfig::new(&redis.url()).unwrap()).unwrap();
    let k = key("client-a");
    redis.stop();
    let t0 = std::time::Instant::now();
    let mut calls = 0;
    while t0.elapsed() < Duration::from_secs(2) {
        assert_eq!(loaded(&store, &k), None);
        TokenStore::save(&store, &k, &entry(&k, "tok", Duration::from_secs(60))).unwrap();
        assert!(TokenStore::lock(&store, &k, Duration::from_secs(1))
            .unwrap()
            .is_none());
        calls += 3;
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!store.is_healthy());
    redis.restart();
    let t0 = std::time::Instant::now();
    while loaded(&store, &k).is_none() {
        TokenStore::save(&store, &k, &entry(&k, "tok", Duration::from_secs(60))).unwrap();
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "sharing did not resume"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let resumed = t0.elapsed();
    assert!(store.is_healthy());
    let text = logs.text();
    let warns = text.lines().filter(|l| l.contains("WARN")).count();
    let infos = text
        .lines()
        .filter(|l| l.contains(" INFO ") && l.contains("back"))
        .count();
    eprintln!("{calls} store calls in a 2 s outage: {warns} warning(s), {infos} notice(s); sharing resumed {} ms after the restart", resumed.as_millis());
    assert_eq!(warns, 1, "{text}");
    assert_eq!(infos, 1, "{text}");
}

/// Renewal across a fleet: process A holds the token it loaded and wants a
/// newer one while process B holds the lease, renewing. The entry is still
/// A's token, fresh: taken as shared, A would load the very token it holds
/// and send a renewal beside B's. A waits for B instead, and loads B's new
/// token; a process that holds nothing still takes the fresh entry at once.
#[test]
fn a_renewal_waits_for_the_lease_holder_instead_of_taking_its_own_token_as_shared() {
    let redis = RedisServer::start();
    let store = || RedisTokenStore::new(RedisConfig::new(&redis.url()).unwrap()).unwrap();
    let (a, b, cold) = (store(), store(), store());
    let k = key("client-renewal");
    TokenStore::save(&b, &k, &entry(&k, "t1", Duration::from_secs(600))).unwrap();
    assert_eq!(loaded(&a, &k).as_deref(), Some("t1"), "A holds t1");

    let guard = TokenStore::lock(&b, &k, Duration::from_secs(1)).unwrap();
    assert!(guard.is_some(), "B renews under the lease");
    // A cold process takes the fresh entry without waiting.
    let t0 = std::time::Instant::now();
    assert!(TokenStore::lock(&cold, &k, Duration::from_secs(5))
        .unwrap()
        .is_none());
    assert!(t0.elapsed() < Duration::from_secs(1));
    assert_eq!(loaded(&cold, &k).as_deref(), Some("t1"));

    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(150));
            TokenStore::save(&b, &k, &entry(&k, "t2", Duration::from_secs(600))).unwrap();
            drop(guard);
        });
        // A's look finds t1 while B holds the lease: it waits, and ends
        // when B's t2 is there.
        let _ = TokenStore::lock(&a, &k, Duration::from_secs(5)).unwrap();
        assert_eq!(loaded(&a, &k).as_deref(), Some("t2"), "A waited for B");
    });
}
