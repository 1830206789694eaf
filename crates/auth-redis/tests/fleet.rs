//! Fleet-wide single flight against a real redis-server and the emulator:
//! processes on a cold shared cache make one token request between them,
//! and a lease holder killed mid-fetch is replaced after the lease TTL.
//!
//! Members are this test binary run again (see `common`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use auth_emulator::Endpoint;
use auth_redis_testing::RedisServer;
use common::*;

/// Not a test of its own: the entry point of a fleet member.
#[test]
fn fleet_member() {
    play_if_member();
}

fn herd(role: &str, processes: usize, callers: usize) {
    let _heavy = heavy();
    let redis = RedisServer::start();
    let emu = emulator(Duration::from_secs(3600));
    let env = [
        ("FLEET_REDIS", redis.url()),
        ("FLEET_TOKEN_URL", emu.url("/oauth2/token")),
        ("FLEET_CALLERS", callers.to_string()),
        ("FLEET_WAIT_MS", "20000".to_owned()),
    ];
    let started = Instant::now();
    let members = start_all(role, processes, &env);
    let mut all = Report::default();
    for m in members {
        let r = m.report(Duration::from_secs(60));
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.ok, callers as u64);
        all.merge(r);
    }
    let requests = token_requests(&emu);
    eprintln!(
        "{role} herd: {processes} processes x {callers} callers: {} tokens handed out, {} errors, \
         {requests} token request(s), {} distinct token(s), slowest call {} ms, all done in {} ms",
        all.ok,
        all.errors.len(),
        all.tokens.len(),
        all.max_ms,
        started.elapsed().as_millis()
    );
    assert_eq!(requests, 1, "one token request for the whole fleet");
    assert_eq!(all.tokens.len(), 1, "every caller got the same token");
    assert_eq!(all.ok, (processes * callers) as u64);
}

#[test]
fn four_async_processes_of_250_tasks_make_one_token_request() {
    herd("async", 4, 250);
}

#[test]
fn four_blocking_processes_of_16_threads_make_one_token_request() {
    herd("blocking", 4, 16);
}

/// The holder of the lease is killed (SIGKILL) while its request waits on
/// a slow token endpoint: the others wait out the lease, one of them takes
/// it over and fetches, and every caller gets that token.
fn holder_killed(role: &str) {
    let _heavy = heavy();
    let redis = RedisServer::start();
    let emu = emulator(Duration::from_secs(3600));
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_secs(60));
    let lease = Duration::from_secs(2);
    let env = [
        ("FLEET_REDIS", redis.url()),
        ("FLEET_TOKEN_URL", emu.url("/oauth2/token")),
        ("FLEET_CALLERS", "4".to_owned()),
        ("FLEET_WAIT_MS", "30000".to_owned()),
        ("FLEET_LEASE_MS", ms(lease)),
    ];
    let mut members = start_all(role, 4, &env);

    // Wait until one member holds the lease and its request is in flight.
    let until = Instant::now() + Duration::from_secs(20);
    let holder_pid = loop {
        assert!(Instant::now() < until, "no member took the lease");
        let leases = redis.keys("apiauth:v1:lease:*");
        if let (Some(key), 1) = (leases.first(), token_requests(&emu)) {
            let value = redis.get(key).unwrap();
            let value = String::from_utf8(value).unwrap();
            break value.split(':').next().unwrap().parse::<u32>().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let at = members
        .iter()
        .position(|m| m.pid() == holder_pid)
        .expect("the holder is a member");
    let mut holder = members.remove(at);
    holder.kill();
    let killed = Instant::now();
    // The one who takes over should not wait a minute for its answer.
    emu.set_latency(Endpoint::Oauth2Token, Duration::ZERO);

    let mut all = Report::default();
    for m in members {
        let r = m.report(Duration::from_secs(40));
        all.merge(r);
    }
    let recovered = killed.elapsed();
    let requests = token_requests(&emu);
    eprintln!(
        "{role}: lease holder (pid {holder_pid}) killed mid-fetch; the 3 others got {} tokens, \
         {} errors, {} distinct token(s), {requests} token requests in all (the killed one \
         included), all answered {} ms after the kill (lease TTL {} ms), slowest call {} ms",
        all.ok,
        all.errors.len(),
        all.tokens.len(),
        recovered.as_millis(),
        lease.as_millis(),
        all.max_ms
    );
    assert!(all.errors.is_empty(), "{:?}", all.errors);
    assert_eq!(all.ok, 12);
    assert_eq!(all.tokens.len(), 1);
    assert_eq!(requests, 2, "the killed holder's request and one takeover");
    assert!(recovered < lease + Duration::from_secs(5), "{recovered:?}");
}

#[test]
fn a_killed_lease_holder_is_replaced_after_the_lease_ttl_async() {
    holder_killed("async");
}

#[test]
fn a_killed_lease_holder_is_replaced_after_the_lease_ttl_blocking() {
    holder_killed("blocking");
}
