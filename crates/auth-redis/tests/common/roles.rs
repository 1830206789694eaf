//! The roles a fleet member plays (see `common`).

use std::time::{Duration, Instant};

use auth_core::RefreshPolicy;
use auth_redis::{AsyncRedisTokenStore, RedisTokenStore};

use super::*;

/// Plays `FLEET_ROLE` if this process is a fleet member; returns at once
/// in an ordinary test run.
pub fn play_if_member() {
    let Ok(role) = std::env::var("FLEET_ROLE") else {
        return;
    };
    // Warnings (and the store's notices) on stderr, which the parent shows.
    let _ = tracing_subscriber::fmt()
        .with_max_level(
            std::env::var("FLEET_LOG")
                .ok()
                .and_then(|l| l.parse().ok())
                .unwrap_or(tracing::Level::INFO),
        )
        .with_writer(|| PidWriter)
        .with_ansi(false)
        .try_init();
    let report = match role.as_str() {
        "async" => async_member(),
        "blocking" => blocking_member(),
        other => panic!("unknown role {other}"),
    };
    println!("{}", report.to_line());
    std::io::stdout().flush().unwrap();
}

/// `FLEET_CALLERS` callers; each asks once, or — with `FLEET_RUN_MS` —
/// every `FLEET_EVERY_MS` until the run ends (steady load).
struct Plan {
    redis: String,
    token_url: String,
    callers: usize,
    wait: Duration,
    run: Option<Duration>,
    every: Duration,
    policy: RefreshPolicy,
}

impl Plan {
    fn from_env() -> Plan {
        let run = std::env::var("FLEET_RUN_MS")
            .ok()
            .map(|_| env_ms("FLEET_RUN_MS"));
        let mut policy = policy();
        if std::env::var("FLEET_NO_REFRESH_AHEAD").is_ok() {
            policy = policy
                .with_refresh_ahead(Duration::ZERO)
                .with_refresh_jitter(0.0);
        }
        Plan {
            redis: env_var("FLEET_REDIS"),
            token_url: env_var("FLEET_TOKEN_URL"),
            callers: env_var("FLEET_CALLERS").parse().unwrap(),
            wait: env_ms("FLEET_WAIT_MS"),
            run,
            every: std::env::var("FLEET_EVERY_MS")
                .map_or(Duration::from_millis(20), |_| env_ms("FLEET_EVERY_MS")),
            policy,
        }
    }
}

fn async_member() -> Report {
    let plan = Plan::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = AsyncRedisTokenStore::new(member_config(&plan.redis))
            .await
            .unwrap();
        let tokens = async_provider(&plan.token_url, &store, plan.policy.clone(), plan.wait);
        await_go();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..plan.callers {
            let tokens = tokens.clone();
            let (run, every) = (plan.run, plan.every);
            tasks.push(tokio::spawn(async move {
                let mut report = Report::default();
                loop {
                    let t0 = Instant::now();
                    let outcome = tokens.token().await;
                    report.record(outcome, t0.elapsed());
                    match run {
                        Some(run) if started.elapsed() < run => tokio::time::sleep(every).await,
                        _ => return report,
                    }
                }
            }));
        }
        let mut report = Report::default();
        for t in tasks {
            report.merge(t.await.unwrap());
        }
        report.extra =
            serde_json::json!({ "healthy": store.is_healthy(), "shared": store.is_shared() });
        report
    })
}

fn blocking_member() -> Report {
    let plan = Plan::from_env();
    let store = RedisTokenStore::new(member_config(&plan.redis)).unwrap();
    let tokens = blocking_provider(&plan.token_url, &store, plan.policy.clone(), plan.wait);
    await_go();
    let started = Instant::now();
    let threads: Vec<_> = (0..plan.callers)
        .map(|_| {
            let tokens = tokens.clone();
            let (run, every) = (plan.run, plan.every);
            std::thread::spawn(move || {
                let mut report = Report::default();
                loop {
                    let t0 = Instant::now();
                    let outcome = tokens.token();
                    report.record(outcome, t0.elapsed());
                    match run {
                        Some(run) if started.elapsed() < run => std::thread::sleep(every),
                        _ => return report,
                    }
                }
            })
        })
        .collect();
    let mut report = Report::default();
    for t in threads {
        report.merge(t.join().unwrap());
    }
    report.extra =
        serde_json::json!({ "healthy": store.is_healthy(), "shared": store.is_shared() });
    report
}

/// stderr, each write prefixed with the member's pid.
struct PidWriter;

impl std::io::Write for PidWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut line = format!("[{}] ", std::process::id()).into_bytes();
        line.extend_from_slice(buf);
        std::io::stderr().write_all(&line)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
