//! `rediss://` against a real redis-server serving TLS with a certificate
//! from a CA made for the test: both stores share a token through it when
//! told to trust that CA, and without it the handshake fails and the store
//! is a miss, never a caller error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use auth_redis::{AsyncRedisTokenStore, RedisConfig, RedisTokenStore};
use auth_redis_testing::RedisServer;
use common::*;

#[test]
fn fleet_member() {
    play_if_member();
}

#[test]
fn both_stores_share_a_token_over_tls_with_a_private_ca() {
    let redis = RedisServer::start_tls();
    assert!(redis.url().starts_with("rediss://127.0.0.1:"));
    let emu = emulator(Duration::from_secs(3600));
    let url = emu.url("/oauth2/token");
    let config = || {
        RedisConfig::new(&redis.url())
            .unwrap()
            .with_root_ca_pem(redis.ca_pem().as_bytes())
            .unwrap()
            // A TLS handshake on a loaded 2-core machine: room to breathe.
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(2))
    };

    let store = RedisTokenStore::new(config()).unwrap();
    let blocking = blocking_provider(&url, Some(&store), policy(), Duration::from_secs(5));
    let first = blocking.token().unwrap();
    assert!(store.is_healthy(), "the TLS connection worked");
    assert_eq!(redis.keys("apiauth:v1:token:*").len(), 1, "saved over TLS");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let astore = rt.block_on(AsyncRedisTokenStore::new(config())).unwrap();
    let tokens = async_provider(&url, Some(&astore), policy(), Duration::from_secs(5));
    let second = rt.block_on(tokens.token()).unwrap();
    assert_eq!(
        second.access_token().expose_secret(),
        first.access_token().expose_secret(),
        "the async store read the blocking store's token over TLS"
    );
    assert_eq!(token_requests(&emu), 1);
}

#[test]
fn without_the_ca_the_handshake_fails_and_the_store_is_only_a_miss() {
    let redis = RedisServer::start_tls();
    let emu = emulator(Duration::from_secs(3600));
    // The system's roots do not know the test CA.
    let config = RedisConfig::new(&redis.url())
        .unwrap()
        .with_setup_timeout(Duration::from_millis(500));
    let store = RedisTokenStore::new(config).unwrap();
    let tokens = blocking_provider(
        &emu.url("/oauth2/token"),
        Some(&store),
        policy(),
        Duration::from_secs(5),
    );
    tokens.token().expect("no caller error");
    assert!(
        !store.is_shared(),
        "setup could not reach Redis: this process keeps to itself"
    );
    assert!(redis.keys("*").is_empty(), "nothing reached Redis");
    assert_eq!(token_requests(&emu), 1);
}

#[test]
fn a_ca_is_refused_for_plain_redis_and_when_it_is_not_pem() {
    let e = RedisConfig::new("redis://127.0.0.1:6379")
        .unwrap()
        .with_root_ca_pem(b"-----BEGIN CERTIFICATE-----")
        .unwrap_err();
    assert!(e.to_string().contains("rediss://"), "{e}");
    let e = RedisConfig::new("rediss://127.0.0.1:6379")
        .unwrap()
        .with_root_ca_pem(b"not a certificate")
        .unwrap_err();
    assert!(e.to_string().contains("no PEM certificate"), "{e}");
    let e = RedisConfig::new("rediss://127.0.0.1:6379")
        .unwrap()
        .with_root_ca_file(std::path::Path::new("/nonexistent/ca.pem"))
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}
