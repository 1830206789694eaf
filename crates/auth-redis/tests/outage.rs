//! Redis in trouble is a miss, never a caller error: stopped for 10 s
//! under steady load across token renewals, frozen (`DEBUG SLEEP`), or a
//! listener that never answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use auth_redis::{AsyncRedisTokenStore, EncryptionKey, RedisConfig, RedisTokenStore};
use auth_redis_testing::{RedisServer, StalledServer};
use common::*;

#[test]
fn fleet_member() {
    play_if_member();
}

/// Three processes (two async, one blocking) with steady load on
/// 4-second tokens, refreshed ahead as by default, while Redis runs, is
/// down for 10 s, and comes back empty.
///
/// Refreshes ahead do not consult the store (an auth-cell limit, see
/// docs/fleet.md), so each process renews once per lifetime whether Redis
/// is up or not; what the store shares is every cold start.
#[test]
fn a_ten_second_outage_under_steady_load_costs_no_caller_an_error() {
    let _heavy = heavy();
    let redis = RedisServer::start();
    let lifetime = Duration::from_secs(4);
    let emu = emulator(lifetime);
    let (up, down, grace, after) = (
        Duration::from_secs(6),
        Duration::from_secs(10),
        Duration::from_secs(10),
        Duration::from_secs(6),
    );
    let run = up + down + grace + after;
    let env = [
        ("FLEET_REDIS", redis.url()),
        ("FLEET_TOKEN_URL", emu.url("/oauth2/token")),
        ("FLEET_CALLERS", "4".to_owned()),
        ("FLEET_WAIT_MS", "9000".to_owned()),
        ("FLEET_RUN_MS", ms(run)),
        ("FLEET_EVERY_MS", "50".to_owned()),
    ];
    let mut members = vec![
        member("async", &env),
        member("async", &env),
        member("blocking", &env),
    ];
    for m in &members {
        m.ready();
    }
    for m in &mut members {
        m.go();
    }
    let started = Instant::now();
    let at = |d: Duration| std::thread::sleep(d.saturating_sub(started.elapsed()));

    at(up);
    let before_outage = token_requests(&emu);
    redis.stop();
    at(up + down);
    let during_outage = token_requests(&emu) - before_outage;
    redis.restart();
    at(up + down + grace);
    let mark = token_requests(&emu);
    // A process started now, on a cold cache of its own, finds the shared
    // token in the restarted Redis.
    let late_env: Vec<(&str, String)> = env
        .iter()
        .filter(|(k, _)| *k != "FLEET_RUN_MS")
        .map(|(k, v)| {
            (
                *k,
                if *k == "FLEET_CALLERS" {
                    "1".to_owned()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let mut late = member("async", &late_env);
    late.ready();
    late.go();
    let late = late.report(Duration::from_secs(20));
    at(run);
    let after_restart = token_requests(&emu) - mark;

    let mut all = Report::default();
    for m in members {
        all.merge(m.report(Duration::from_secs(30)));
    }
    // A process renews each token once, ahead of its expiry: at the
    // earliest after L − margin (L/10) − window (L/4) − jitter (window/4).
    let renewed_every = lifetime.as_secs_f64() * (1.0 - 0.1 - 0.25 - 0.0625);
    let per = |d: Duration| (d.as_secs_f64() / renewed_every).ceil() as u64 + 1;
    eprintln!(
        "outage: {} calls, {} errors, slowest {} ms; token requests: {before_outage} in {} s up \
         (bound: one per process per lifetime, {}), {during_outage} in the {} s outage (bound \
         {}), {after_restart} in the last {} s (from {} s after the restart; bound {}); a process started after the restart shared the fleet's \
         token: {}",
        all.ok + all.errors.len() as u64,
        all.errors.len(),
        all.max_ms,
        up.as_secs(),
        3 * per(up),
        down.as_secs(),
        3 * per(down),
        after.as_secs(),
        grace.as_secs(),
        3 * per(after),
        late.tokens.is_subset(&all.tokens),
    );
    assert!(all.errors.is_empty(), "{:?}", all.errors);
    assert!(late.errors.is_empty(), "{:?}", late.errors);
    assert!(before_outage <= 3 * per(up), "{before_outage}");
    assert!(during_outage <= 3 * per(down), "{during_outage}");
    assert!(after_restart <= 3 * per(after), "{after_restart}");
    assert!(
        late.tokens.is_subset(&all.tokens),
        "the late process fetched its own token"
    );
}

/// Slow Redis: every cold `token()` stays within a bound set by the
/// per-command timeout (50 ms), not by how long Redis stalls.
fn cold_calls_while<F: Fn() -> Duration>(label: &str, stall: Duration, call: F) -> Vec<Duration> {
    let t0 = Instant::now();
    let mut took = Vec::new();
    while t0.elapsed() < stall - Duration::from_millis(500) {
        took.push(call());
    }
    took.sort();
    eprintln!(
        "{label}: {} cold token() calls, median {} ms, max {} ms",
        took.len(),
        took[took.len() / 2].as_millis(),
        took[took.len() - 1].as_millis()
    );
    took
}

#[test]
fn a_frozen_redis_delays_no_caller_past_the_timeout() {
    let _heavy = heavy();
    let redis = RedisServer::start();
    let emu = emulator(Duration::from_secs(3600));
    let token_url = emu.url("/oauth2/token");
    let store = RedisTokenStore::new(RedisConfig::new(&redis.url()).unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let astore = rt
        .block_on(AsyncRedisTokenStore::new(
            RedisConfig::new(&redis.url()).unwrap(),
        ))
        .unwrap();
    // Warm the connections, then freeze the server for 4 s.
    let _ = blocking_provider(&token_url, Some(&store), policy(), Duration::from_secs(5))
        .token()
        .unwrap();
    rt.block_on(
        async_provider(&token_url, Some(&astore), policy(), Duration::from_secs(5)).token(),
    )
    .unwrap();
    let stall = Duration::from_secs(4);
    let port = redis.port();
    let sleeper = std::thread::spawn(move || {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::io::Write::write_all(&mut conn, b"DEBUG SLEEP 4\r\n").unwrap();
        let mut reply = [0u8; 5];
        std::io::Read::read_exact(&mut conn, &mut reply).unwrap();
    });
    std::thread::sleep(Duration::from_millis(100));
    // A new provider is a cold process: lock, load, fetch, save.
    let blocking = cold_calls_while("DEBUG SLEEP, blocking", stall / 2, || {
        let tokens = blocking_provider(&token_url, Some(&store), policy(), Duration::from_secs(5));
        let t0 = Instant::now();
        tokens.token().unwrap();
        t0.elapsed()
    });
    let asynchronous = cold_calls_while("DEBUG SLEEP, async", stall / 2, || {
        let tokens = async_provider(&token_url, Some(&astore), policy(), Duration::from_secs(5));
        let t0 = Instant::now();
        rt.block_on(tokens.token()).unwrap();
        t0.elapsed()
    });
    sleeper.join().unwrap();
    for took in [blocking, asynchronous] {
        assert!(*took.last().unwrap() < Duration::from_secs(1), "{took:?}");
    }
}

#[test]
fn a_listener_that_never_answers_delays_no_caller_past_the_timeout() {
    let _heavy = heavy();
    let stalled = StalledServer::start();
    let emu = emulator(Duration::from_secs(3600));
    let token_url = emu.url("/oauth2/token");
    // With an encryption key the store reads nothing from Redis when it is
    // built, so every call meets the stall.
    let config = RedisConfig::new(&stalled.url())
        .unwrap()
        .with_encryption_key(EncryptionKey::new([3; 32]));
    let store = RedisTokenStore::new(config.clone()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let astore = rt.block_on(AsyncRedisTokenStore::new(config)).unwrap();
    let stall = Duration::from_secs(3);
    let blocking = cold_calls_while("stalled listener, blocking", stall, || {
        let tokens = blocking_provider(&token_url, Some(&store), policy(), Duration::from_secs(5));
        let t0 = Instant::now();
        tokens.token().unwrap();
        t0.elapsed()
    });
    let asynchronous = cold_calls_while("stalled listener, async", stall, || {
        let tokens = async_provider(&token_url, Some(&astore), policy(), Duration::from_secs(5));
        let t0 = Instant::now();
        rt.block_on(tokens.token()).unwrap();
        t0.elapsed()
    });
    assert!(stalled.accepted() > 0, "the store did try");
    for took in [blocking, asynchronous] {
        assert!(*took.last().unwrap() < Duration::from_secs(1), "{took:?}");
    }
}
