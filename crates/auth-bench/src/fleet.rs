//! The fleet scenario (issue #12): processes sharing a Redis store, against
//! the same processes each on its own, on a cold cache and across one
//! refresh. The members are `auth_redis_testing::fleet`'s, the ones the
//! store's tests run, played by this binary run again.

use std::time::{Duration, Instant};

use auth_emulator::{Emulator, Scheme};
use auth_redis_testing::fleet::{gather, ms, start_all, Report};
use auth_redis_testing::RedisServer;
use serde_json::{json, Value};

/// How big a run is.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    /// Member processes.
    pub processes: usize,
    /// Async tasks per process on the cold cache.
    pub cold_callers: usize,
    /// Token lifetime in the refresh run; the run lasts 1.5 lifetimes.
    pub lifetime: Duration,
}

/// Runs the four fleet runs against `emu` (which must not be used by
/// anything else meanwhile) and a redis-server of its own.
///
/// # Panics
///
/// If redis-server cannot start or a member fails to report: the bench
/// must not print a figure it did not measure.
#[must_use]
pub fn run(emu: &Emulator, size: Size) -> Value {
    let redis = RedisServer::start();
    let url = emu.url("/oauth2/token");
    let requests = || emu.counters().token_total(Scheme::Oauth2);
    let one =
        |label: &str, shared: bool, callers: usize, lifetime: Duration, run: Option<Duration>| {
            let flushed = redis.command(&["FLUSHALL"]);
            assert!(flushed.contains("OK"), "FLUSHALL answered {flushed}");
            emu.set_lifetime(Scheme::Oauth2, lifetime)
                .expect("a valid lifetime");
            let mut env = vec![
                ("FLEET_REDIS", redis.url()),
                ("FLEET_TOKEN_URL", url.clone()),
                ("FLEET_CALLERS", callers.to_string()),
                ("FLEET_WAIT_MS", "20000".to_owned()),
            ];
            if let Some(run) = run {
                env.push(("FLEET_RUN_MS", ms(run)));
                env.push(("FLEET_EVERY_MS", "50".to_owned()));
            }
            if !shared {
                env.push(("FLEET_NO_STORE", "1".to_owned()));
            }
            let before = requests();
            let started = Instant::now();
            let members = start_all(&[], "async", size.processes, &env);
            let report: Report = gather(members, Duration::from_secs(120));
            let took = started.elapsed();
            let made = requests() - before;
            eprintln!(
                "  fleet {label}: {} processes, {made} token request(s), {} distinct token(s), \
             {} errors, slowest call {} ms",
                size.processes,
                report.tokens.len(),
                report.errors.len(),
                report.max_ms
            );
            json!({
                "token_requests": made,
                "distinct_tokens": report.tokens.len(),
                "calls": report.ok,
                "caller_errors": report.errors.len(),
                "max_wait_ms": report.max_ms,
                "all_done_ms": u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            })
        };
    let hour = Duration::from_secs(3600);
    let cold_shared = one("cold, shared", true, size.cold_callers, hour, None);
    let cold_alone = one("cold, alone", false, size.cold_callers, hour, None);
    let run = size.lifetime + size.lifetime / 2;
    let refresh_shared = one("refresh, shared", true, 4, size.lifetime, Some(run));
    let refresh_alone = one("refresh, alone", false, 4, size.lifetime, Some(run));
    emu.set_lifetime(Scheme::Oauth2, hour)
        .expect("a valid lifetime");
    json!({
        "processes": size.processes,
        "cold_callers_per_process": size.cold_callers,
        "lifetime_s": size.lifetime.as_secs(),
        "run_s": run.as_secs_f64(),
        "cold_shared": cold_shared,
        "cold_alone": cold_alone,
        "refresh_shared": refresh_shared,
        "refresh_alone": refresh_alone,
    })
}
