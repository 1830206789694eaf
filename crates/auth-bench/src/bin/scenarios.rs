//! The end-to-end benchmark scenarios (2–5 of issue #6), each run side by
//! side with its baseline against the in-process emulator on loopback.
//! Prints one JSON object; `cargo xtask bench` folds it into the summary.
//!
//! Usage: `scenarios [--quick | --smoke] [--only herd|refresh_under_load|outage|exchange_overhead|fleet]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_bench::{ms, quantile, us, CheckThenFetch, HoldLockWhileFetching};
use auth_core::{ClientAuth, ClientCredentials, OAuth2};
use auth_emulator::{demo, Emulator, EmulatorConfig, Endpoint, Fault, FaultPlan, Scheme};
use serde_json::{json, Value};

const ID: &str = demo::OAUTH2_CLIENT_ID;
const SECRET: &str = demo::OAUTH2_CLIENT_SECRET;

fn creds() -> ClientCredentials {
    ClientCredentials::new(ID, SECRET).expect("demo credentials are valid")
}

fn async_provider(emu: &Emulator) -> auth_reqwest::TokenProvider {
    auth_reqwest::TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Post).expect("loopback url"),
        creds(),
    )
    .build()
    .expect("valid configuration")
}

fn blocking_provider(emu: &Emulator) -> auth_ureq::TokenProvider {
    auth_ureq::TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Post).expect("loopback url"),
        creds(),
    )
    .build()
    .expect("valid configuration")
}

fn token_requests(emu: &Emulator) -> u64 {
    emu.counters()
        .requests
        .get(&Endpoint::Oauth2Token)
        .copied()
        .unwrap_or(0)
}

fn main() {
    // The fleet scenario runs this binary again as its members.
    if auth_redis_testing::fleet::play_if_member() {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(scenarios());
}

async fn scenarios() {
    let args: Vec<String> = std::env::args().collect();
    // --smoke: every scenario, shrunk to seconds, to prove it still runs (CI).
    let smoke = args.iter().any(|a| a == "--smoke");
    let quick = smoke || args.iter().any(|a| a == "--quick");
    // `--only NAME` runs one scenario, for profiling it alone.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let wants = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let emu = Emulator::start(EmulatorConfig {
        // The bench measures the client, not the real servers' throttles.
        throttles: auth_emulator::Throttles::off(),
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts on loopback");
    let mut out = serde_json::Map::new();
    if wants("herd") {
        eprintln!("scenario: cold herd");
        out.insert(
            "herd".into(),
            herd(&emu, if smoke { 200 } else { 10_000 }).await,
        );
    }
    if wants("refresh_under_load") {
        eprintln!("scenario: refresh under load");
        let run_for = Duration::from_secs(match (smoke, quick) {
            (true, _) => 2,
            (false, true) => 8,
            (false, false) => 30,
        });
        out.insert(
            "refresh_under_load".into(),
            refresh_under_load(&emu, run_for).await,
        );
    }
    if wants("outage") {
        eprintln!("scenario: outage");
        let (lifetime, seconds) = match (smoke, quick) {
            (true, _) => (5, 1),
            (false, true) => (20, 6),
            (false, false) => (100, 30),
        };
        out.insert("outage".into(), outage(&emu, lifetime, seconds).await);
    }
    if wants("exchange_overhead") {
        eprintln!("scenario: exchange overhead");
        let rounds = match (smoke, quick) {
            (true, _) => 5,
            (false, true) => 100,
            (false, false) => 400,
        };
        out.insert(
            "exchange_overhead".into(),
            exchange_overhead(&emu, rounds).await,
        );
    }
    if wants("fleet") {
        eprintln!("scenario: fleet");
        let size = auth_bench::fleet::Size {
            processes: if smoke { 3 } else { 8 },
            cold_callers: if smoke { 10 } else { 100 },
            lifetime: Duration::from_secs(match (smoke, quick) {
                (true, _) => 3,
                (false, true) => 10,
                (false, false) => 30,
            }),
        };
        // Members are child processes; the emulator keeps serving on this
        // runtime while a blocking thread waits for them.
        let emu = Arc::new(emu);
        let e = Arc::clone(&emu);
        let fleet = tokio::task::spawn_blocking(move || auth_bench::fleet::run(&e, size))
            .await
            .expect("the fleet scenario");
        out.insert("fleet".into(), fleet);
    }
    println!("{}", Value::Object(out));
}

/// 10,000 async callers (and 64 threads) ask a cold cache at once, with a
/// 50 ms token endpoint.
async fn herd(emu: &Emulator, callers: usize) -> Value {
    emu.clear_faults();
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(50));

    // One round trip, for scale: a raw POST on a fresh connection.
    let raw = reqwest::Client::new();
    let t = Instant::now();
    auth_bench::fetch_plain(&raw, &emu.url("/oauth2/token"), ID, SECRET)
        .await
        .expect("raw fetch");
    let round_trip = t.elapsed();

    let provider = async_provider(emu);
    let before = token_requests(emu);
    let (waits, errors) = run_herd(callers, move || {
        let p = provider.clone();
        async move { p.token().await.map(drop).map_err(|e| e.to_string()) }
    })
    .await;
    let ours = token_requests(emu) - before;

    let baseline = Arc::new(CheckThenFetch::new(
        &emu.url("/oauth2/token"),
        ID,
        SECRET,
        1_000,
    ));
    let before = token_requests(emu);
    let (base_waits, base_errors) = run_herd(callers, move || {
        let b = Arc::clone(&baseline);
        async move { b.token().await.map(drop) }
    })
    .await;
    let theirs = token_requests(emu) - before;

    // The floor: the same number of tasks parked on one tokio watch channel
    // and woken by one send after a simulated 50 ms round trip, no HTTP and
    // no apiauth. What it costs above 50 ms is the runtime's wake-up bill.
    let (tx, _) = tokio::sync::watch::channel(0u8);
    let barrier = Arc::new(tokio::sync::Barrier::new(callers + 1));
    let parked: Vec<_> = (0..callers)
        .map(|_| {
            let (mut rx, b) = (tx.subscribe(), Arc::clone(&barrier));
            tokio::spawn(async move {
                b.wait().await;
                let t = Instant::now();
                let _ = rx.changed().await;
                t.elapsed()
            })
        })
        .collect();
    barrier.wait().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    tx.send_replace(1);
    let mut floor_waits = Vec::with_capacity(callers);
    for p in parked {
        floor_waits.push(p.await.expect("parked task"));
    }
    floor_waits.sort();

    // The blocking driver: 64 threads.
    let bp = blocking_provider(emu);
    let before = token_requests(emu);
    let barrier = Arc::new(std::sync::Barrier::new(64));
    let handles: Vec<_> = (0..64)
        .map(|_| {
            let (p, b) = (bp.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                b.wait();
                let t = Instant::now();
                let ok = p.token().is_ok();
                (t.elapsed(), ok)
            })
        })
        .collect();
    let mut bwaits: Vec<Duration> = Vec::new();
    let mut berrors = 0;
    for h in handles {
        let (d, ok) = h.join().expect("thread");
        bwaits.push(d);
        berrors += u64::from(!ok);
    }
    bwaits.sort();
    let blocking_requests = token_requests(emu) - before;
    emu.set_latency(Endpoint::Oauth2Token, Duration::ZERO);

    json!({
        "callers": callers,
        "token_requests": ours,
        "baseline_token_requests": theirs,
        "median_wait_ms": ms(quantile(&waits, 0.5)),
        "max_wait_ms": ms(quantile(&waits, 1.0)),
        "round_trip_ms": ms(round_trip),
        "errors": errors,
        "baseline_median_wait_ms": ms(quantile(&base_waits, 0.5)),
        "baseline_max_wait_ms": ms(quantile(&base_waits, 1.0)),
        "baseline_errors": base_errors,
        "baseline_max_connections": 1000,
        "wake_floor_max_wait_ms": ms(quantile(&floor_waits, 1.0)),
        "wake_floor_round_trip_ms": 50.0,
        "blocking_threads": 64,
        "blocking_token_requests": blocking_requests,
        "blocking_median_wait_ms": ms(quantile(&bwaits, 0.5)),
        "blocking_max_wait_ms": ms(quantile(&bwaits, 1.0)),
        "blocking_errors": berrors,
    })
}

/// Starts `n` tasks behind a barrier, each calling `f` once; returns their
/// sorted waits and the number of errors.
async fn run_herd<F, Fut>(n: usize, f: F) -> (Vec<Duration>, u64)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let b = Arc::clone(&barrier);
            let fut = f();
            tokio::spawn(async move {
                b.wait().await;
                let t = Instant::now();
                let r = fut.await;
                (t.elapsed(), r.is_ok())
            })
        })
        .collect();
    let mut waits = Vec::with_capacity(n);
    let mut errors = 0;
    for t in tasks {
        let (d, ok) = t.await.expect("task");
        waits.push(d);
        errors += u64::from(!ok);
    }
    waits.sort();
    (waits, errors)
}

/// Steady load with a 3 s token lifetime and a 100 ms token endpoint.
async fn refresh_under_load(emu: &Emulator, run_for: Duration) -> Value {
    emu.clear_faults();
    emu.set_lifetime(Scheme::Oauth2, Duration::from_secs(3))
        .expect("lifetime");
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(100));

    let provider = async_provider(emu);
    provider.token().await.expect("warm-up token");
    let before = token_requests(emu);
    let ours = steady_load(run_for, move || {
        let p = provider.clone();
        async move { p.token().await.map(drop).map_err(|e| e.to_string()) }
    })
    .await;
    let refreshes = token_requests(emu) - before;

    let baseline = Arc::new(HoldLockWhileFetching::new(
        &emu.url("/oauth2/token"),
        ID,
        SECRET,
    ));
    baseline.token().await.expect("warm-up token");
    let base_before = token_requests(emu);
    let theirs = steady_load(run_for, move || {
        let b = Arc::clone(&baseline);
        async move { b.token().await.map(drop) }
    })
    .await;
    let base_refreshes = token_requests(emu) - base_before;

    emu.set_lifetime(Scheme::Oauth2, Duration::from_secs(3600))
        .expect("lifetime");
    emu.set_latency(Endpoint::Oauth2Token, Duration::ZERO);
    json!({
        "seconds": run_for.as_secs(),
        "calls": ours.calls,
        "refreshes": refreshes,
        "p999_us": us(ours.p999),
        "max_us": us(ours.max),
        "errors": ours.errors,
        "baseline_calls": theirs.calls,
        "baseline_refreshes": base_refreshes,
        "baseline_p999_us": us(theirs.p999),
        "baseline_max_us": us(theirs.max),
        "baseline_errors": theirs.errors,
    })
}

struct Load {
    calls: usize,
    errors: u64,
    p999: Duration,
    max: Duration,
}

/// Eight tasks calling `f` every millisecond for `run_for`, timing each call.
async fn steady_load<F, Fut>(run_for: Duration, f: F) -> Load
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let until = Instant::now() + run_for;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let f = f.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut errors = 0u64;
                let mut tick = tokio::time::interval(Duration::from_millis(1));
                while Instant::now() < until {
                    tick.tick().await;
                    let t = Instant::now();
                    let r = f().await;
                    samples.push(t.elapsed());
                    errors += u64::from(r.is_err());
                }
                (samples, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (s, e) = t.await.expect("task");
        all.extend(s);
        errors += e;
    }
    all.sort();
    Load {
        calls: all.len(),
        errors,
        p999: quantile(&all, 0.999),
        max: quantile(&all, 1.0),
    }
}

/// The token endpoint answers 503 while a valid token is cached; the
/// outage covers the refresh window and ends before the token would.
async fn outage(emu: &Emulator, lifetime: u64, seconds: u64) -> Value {
    // Lifetime L: margin L/10, refresh window L/4 with up to L/16 jitter,
    // so refresh starts between 0.59 L and 0.65 L. The outage runs from
    // 0.55 L for `seconds`, ending before 0.9 L.
    emu.clear_faults();
    emu.set_lifetime(Scheme::Oauth2, Duration::from_secs(lifetime))
        .expect("lifetime");
    let provider = async_provider(emu);
    let first = provider.token().await.expect("first token");
    let start = Instant::now();
    let outage_at = start + Duration::from_secs_f64(lifetime as f64 * 0.55);
    let outage_end = outage_at + Duration::from_secs(seconds);

    let load = {
        let p = provider.clone();
        tokio::spawn(async move {
            let mut errors = 0u64;
            let mut calls = 0u64;
            while Instant::now() < outage_end + Duration::from_millis(500) {
                calls += 1;
                if p.token().await.is_err() {
                    errors += 1;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (calls, errors)
        })
    };
    tokio::time::sleep_until(outage_at.into()).await;
    let before = token_requests(emu);
    emu.add_fault(FaultPlan::always(
        Endpoint::Oauth2Token,
        Fault::ServerError {
            status: 503,
            retry_after_secs: None,
        },
    ))
    .expect("fault");
    tokio::time::sleep_until(outage_end.into()).await;
    emu.clear_faults();
    let during = token_requests(emu) - before;
    let recovered_at = loop {
        let t = provider.token().await.ok();
        if t.is_some_and(|t| t.id() != first.id()) {
            break Instant::now();
        }
        if Instant::now() > outage_end + Duration::from_secs(lifetime) {
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let (calls, errors) = load.await.expect("load task");
    emu.set_lifetime(Scheme::Oauth2, Duration::from_secs(3600))
        .expect("lifetime");
    json!({
        "seconds": seconds,
        "lifetime_s": lifetime,
        "calls": calls,
        "caller_errors": errors,
        "token_requests": during,
        "recovered_ms": ms(recovered_at.saturating_duration_since(outage_end)),
    })
}

/// One full exchange through each driver vs a raw POST of the same body,
/// and vs the `oauth2` crate, interleaved round by round.
async fn exchange_overhead(emu: &Emulator, rounds: usize) -> Value {
    emu.clear_faults();
    let url = emu.url("/oauth2/token");
    let body = format!("grant_type=client_credentials&client_id={ID}&client_secret={SECRET}");

    let asyncp = async_provider(emu);
    let blockp = Arc::new(blocking_provider(emu));
    let raw = reqwest::Client::new();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    // The same raw POST with the timeouts the driver must have: ureq's
    // timeout handling has costs of its own, shown separately.
    let timed_agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(auth_ureq::DEFAULT_CONNECT_TIMEOUT))
        .timeout_global(Some(auth_ureq::DEFAULT_TIMEOUT))
        .build()
        .into();
    let oauth_client = oauth2::basic::BasicClient::new(oauth2::ClientId::new(ID.into()))
        .set_client_secret(oauth2::ClientSecret::new(SECRET.into()))
        .set_auth_type(oauth2::AuthType::RequestBody)
        .set_token_uri(oauth2::TokenUrl::new(url.clone()).expect("token url"));
    let oauth_http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    let mut t_async = Vec::new();
    let mut t_raw = Vec::new();
    let mut t_oauth2 = Vec::new();
    let mut t_block = Vec::new();
    let mut t_ureq = Vec::new();
    let mut t_ureq_timed = Vec::new();
    for round in 0..(rounds + 10) {
        let warm = round >= 10; // the first rounds open connections
                                // Whoever goes first in a round pays for a colder cache (measured:
                                // 10–30 µs for the driver); alternating keeps that out of the ratio.
        let driver_first = round % 2 == 0;

        let driver = async {
            let t = Instant::now();
            let tok = asyncp.token().await.expect("async exchange");
            let d = t.elapsed();
            asyncp.invalidate(&tok);
            d
        };
        let plain = async {
            let t = Instant::now();
            let r = raw
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(body.clone())
                .send()
                .await
                .expect("raw post");
            let bytes = r.bytes().await.expect("raw body");
            let _: Value = serde_json::from_slice(&bytes).expect("json");
            t.elapsed()
        };
        let (da, dr) = if driver_first {
            let da = driver.await;
            (da, plain.await)
        } else {
            let dr = plain.await;
            (driver.await, dr)
        };
        if warm {
            t_async.push(da);
            t_raw.push(dr);
        }

        let t = Instant::now();
        oauth_client
            .exchange_client_credentials()
            .request_async(&oauth_http)
            .await
            .expect("oauth2 exchange");
        if warm {
            t_oauth2.push(t.elapsed());
        }

        let (bp, ag, u, b) = (
            Arc::clone(&blockp),
            agent.clone(),
            url.clone(),
            body.clone(),
        );
        let tag = timed_agent.clone();
        let (db, du, dt) = tokio::task::spawn_blocking(move || {
            let driver = || {
                let t = Instant::now();
                let tok = bp.token().expect("blocking exchange");
                let d = t.elapsed();
                bp.invalidate(&tok);
                d
            };
            let plain = |agent: &ureq::Agent| {
                let t = Instant::now();
                let mut r = agent
                    .post(&u)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("accept", "application/json")
                    .send(b.as_bytes())
                    .expect("raw ureq post");
                let text = r.body_mut().read_to_vec().expect("raw ureq body");
                let _: Value = serde_json::from_slice(&text).expect("json");
                t.elapsed()
            };
            if driver_first {
                let db = driver();
                (db, plain(&ag), plain(&tag))
            } else {
                let du = plain(&ag);
                let dt = plain(&tag);
                (driver(), du, dt)
            }
        })
        .await
        .expect("blocking round");
        if warm {
            t_block.push(db);
            t_ureq.push(du);
            t_ureq_timed.push(dt);
        }
    }
    for v in [
        &mut t_async,
        &mut t_raw,
        &mut t_oauth2,
        &mut t_block,
        &mut t_ureq,
        &mut t_ureq_timed,
    ] {
        v.sort();
    }
    let med = |v: &Vec<Duration>| quantile(v, 0.5);
    let ratio = |a: &Vec<Duration>, b: &Vec<Duration>| {
        (med(a).as_secs_f64() / med(b).as_secs_f64().max(1e-9) * 1000.0).round() / 1000.0
    };
    json!({
        "rounds": rounds,
        "async_vs_raw": ratio(&t_async, &t_raw),
        "blocking_vs_raw": ratio(&t_block, &t_ureq),
        "oauth2_crate_vs_raw": ratio(&t_oauth2, &t_raw),
        "blocking_vs_raw_same_timeouts": ratio(&t_block, &t_ureq_timed),
        "median_us": {
            "async_driver": us(med(&t_async)),
            "raw_reqwest": us(med(&t_raw)),
            "oauth2_crate": us(med(&t_oauth2)),
            "blocking_driver": us(med(&t_block)),
            "raw_ureq": us(med(&t_ureq)),
            "raw_ureq_same_timeouts": us(med(&t_ureq_timed)),
        }
    })
}
