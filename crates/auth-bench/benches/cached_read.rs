//! Scenario 1: the cost of a cached read, on 1 and 2 threads, against the
//! caches people write instead — all in one binary, one run.

use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use auth_bench::PlainToken;
use auth_core::{ClientAuth, ClientCredentials, OAuth2};
use auth_emulator::{demo, Emulator, EmulatorConfig};
use criterion::{criterion_group, criterion_main, Criterion};

fn plain() -> PlainToken {
    PlainToken {
        header: "Bearer abc".into(),
        expires_at: Instant::now() + Duration::from_secs(3600),
    }
}

/// Runs `op` `iters` times on each of `threads` threads at once and returns
/// the wall time, i.e. the time per operation as each thread sees it.
fn parallel<F: Fn() + Sync>(threads: usize, iters: u64, op: F) -> Duration {
    let barrier = std::sync::Barrier::new(threads);
    let op = &op;
    let barrier = &barrier;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    barrier.wait();
                    let t = Instant::now();
                    for _ in 0..iters {
                        op();
                    }
                    t.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .max()
            .unwrap_or_default()
    })
}

/// Runs `body` on each of `threads` threads at once; each returns the time
/// its own loop took, and the slowest is the time per operation.
fn parallel_loops<F: Fn() -> Duration + Sync>(threads: usize, body: F) -> Duration {
    let barrier = std::sync::Barrier::new(threads);
    let (body, barrier) = (&body, &barrier);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    barrier.wait();
                    body()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .max()
            .unwrap_or_default()
    })
}

fn cached_read(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let emu = rt
        .block_on(Emulator::start(EmulatorConfig {
            // The bench measures the client, not the real servers' throttles.
            throttles: auth_emulator::Throttles::off(),
            ..EmulatorConfig::default()
        }))
        .expect("emulator");
    let creds = || {
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).expect("creds")
    };
    let url = emu.url("/oauth2/token");
    let asyncp = auth_reqwest::TokenProvider::builder(
        OAuth2::new(&url, ClientAuth::Basic).expect("url"),
        creds(),
    )
    .build()
    .expect("provider");
    rt.block_on(asyncp.token()).expect("warm the async cache");
    let blockp = auth_ureq::TokenProvider::builder(
        OAuth2::new(&url, ClientAuth::Basic).expect("url"),
        creds(),
    )
    .build()
    .expect("provider");
    blockp.token().expect("warm the blocking cache");

    // The same drivers with a Redis store configured (issue #12): a read
    // must stay in memory, the store is only for misses and renewals.
    let redis = auth_redis_testing::RedisServer::start();
    let config = || auth_redis::RedisConfig::new(&redis.url()).expect("redis url");
    let astore = rt
        .block_on(auth_redis::AsyncRedisTokenStore::new(config()))
        .expect("async store");
    let asyncr = auth_reqwest::TokenProvider::builder(
        OAuth2::new(&url, ClientAuth::Basic).expect("url"),
        creds(),
    )
    .store(Arc::new(astore))
    .build()
    .expect("provider");
    rt.block_on(asyncr.token())
        .expect("warm the async cache with a store");
    let bstore = auth_redis::RedisTokenStore::new(config()).expect("blocking store");
    let blockr = auth_ureq::TokenProvider::builder(
        OAuth2::new(&url, ClientAuth::Basic).expect("url"),
        creds(),
    )
    .store(Arc::new(bstore))
    .build()
    .expect("provider");
    blockr
        .token()
        .expect("warm the blocking cache with a store");

    let swap = Arc::new(ArcSwap::from_pointee(plain()));
    let tmutex = Arc::new(tokio::sync::Mutex::new(Some(plain())));
    let rwlock = Arc::new(RwLock::new(Some(plain())));
    let handle = rt.handle().clone();

    for threads in [1usize, 2] {
        let mut g = c.benchmark_group(format!("cached_read/{threads}"));
        // Async reads run inside one `block_on` per thread, as they do in a
        // service's tasks; entering the runtime per read would measure
        // `block_on`, not the cache.
        g.bench_function("async", |b| {
            b.iter_custom(|iters| {
                parallel_loops(threads, || {
                    handle.block_on(async {
                        let t = Instant::now();
                        for _ in 0..iters {
                            black_box(asyncp.token().await.expect("cached"));
                        }
                        t.elapsed()
                    })
                })
            })
        });
        g.bench_function("blocking", |b| {
            b.iter_custom(|iters| {
                parallel(threads, iters, || {
                    black_box(blockp.token().expect("cached"));
                })
            })
        });
        g.bench_function("async_redis", |b| {
            b.iter_custom(|iters| {
                parallel_loops(threads, || {
                    handle.block_on(async {
                        let t = Instant::now();
                        for _ in 0..iters {
                            black_box(asyncr.token().await.expect("cached"));
                        }
                        t.elapsed()
                    })
                })
            })
        });
        g.bench_function("blocking_redis", |b| {
            b.iter_custom(|iters| {
                parallel(threads, iters, || {
                    black_box(blockr.token().expect("cached"));
                })
            })
        });
        g.bench_function("arcswap_load_full", |b| {
            b.iter_custom(|iters| {
                parallel(threads, iters, || {
                    let t = swap.load_full();
                    black_box(Instant::now() < t.expires_at);
                    black_box(t);
                })
            })
        });
        g.bench_function("tokio_mutex", |b| {
            b.iter_custom(|iters| {
                parallel_loops(threads, || {
                    handle.block_on(async {
                        let t = Instant::now();
                        for _ in 0..iters {
                            let tok = tmutex.lock().await.clone();
                            black_box(tok.is_some_and(|tok| Instant::now() < tok.expires_at));
                        }
                        t.elapsed()
                    })
                })
            })
        });
        g.bench_function("std_rwlock", |b| {
            b.iter_custom(|iters| {
                parallel(threads, iters, || {
                    let t = rwlock.read().map(|g| g.clone()).unwrap_or_default();
                    black_box(t.is_some_and(|t| Instant::now() < t.expires_at));
                })
            })
        });
        g.finish();
    }
    drop(emu);
    drop(redis);
}

criterion_group!(benches, cached_read);
criterion_main!(benches);
