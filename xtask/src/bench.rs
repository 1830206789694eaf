//! `cargo xtask bench [--quick | --smoke]`: every performance claim,
//! measured against its baseline in the same run, reported as ratios.
//!
//! Writes `target/apiauth-bench/summary.json` (fixed keys, comparable over
//! time) and `details.json` (everything measured), and regenerates the
//! results table in `docs/performance.md`. `--smoke` only proves that every
//! scenario still runs (CI uses it); it writes nothing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{output, workspace_root};

const START: &str = "<!-- bench:start -->";
const END: &str = "<!-- bench:end -->";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let smoke = args.iter().any(|a| a == "--smoke");
    let quick = args.iter().any(|a| a == "--quick");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let cargo = cargo.as_str();
    let mode = if smoke {
        "--smoke"
    } else if quick {
        "--quick"
    } else {
        "--full"
    };

    // The fleet scenario and the cached reads with a store run a real
    // redis-server.
    crate::ci::ensure_redis_server()?;
    if smoke {
        // Criterion in test mode runs each benchmark once; the scenarios
        // run shrunk. Debug builds: this proves the code runs, not speed.
        crate::run(cargo, &["test", "-p", "auth-bench", "--benches"], &[])?;
        crate::run(
            cargo,
            &[
                "run",
                "-q",
                "-p",
                "auth-bench",
                "--bin",
                "scenarios",
                "--",
                "--smoke",
            ],
            &[],
        )?;
        eprintln!("\nxtask bench --smoke: every scenario ran");
        return Ok(());
    }

    // 1. Cached reads (criterion).
    let mut criterion_args = vec![
        "bench",
        "-p",
        "auth-bench",
        "--bench",
        "cached_read",
        "--",
        "--noplot",
    ];
    if quick {
        criterion_args.extend([
            "--warm-up-time",
            "1",
            "--measurement-time",
            "2",
            "--sample-size",
            "20",
        ]);
    }
    crate::run(cargo, &criterion_args, &[])?;
    let criterion = workspace_root().join("target/criterion");
    let mut cached = serde_json::Map::new();
    for threads in [1, 2] {
        let mut group = serde_json::Map::new();
        for name in [
            "async",
            "blocking",
            "async_redis",
            "blocking_redis",
            "arcswap_load_full",
            "tokio_mutex",
            "std_rwlock",
        ] {
            let path = criterion.join(format!("cached_read_{threads}/{name}/new/estimates.json"));
            group.insert(name.into(), json!(criterion_ns(&path)?));
        }
        cached.insert(format!("{threads}_thread"), Value::Object(group));
    }

    // 2–5. The end-to-end scenarios, in a release build.
    crate::run(
        cargo,
        &[
            "build",
            "--release",
            "-p",
            "auth-bench",
            "--bin",
            "scenarios",
        ],
        &[],
    )?;
    let scenarios_bin = workspace_root().join("target/release/scenarios");
    eprintln!("\n$ {} {mode}", scenarios_bin.display());
    let out = Command::new(&scenarios_bin)
        .arg(mode)
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("could not run the scenarios: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the scenarios failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let scenarios: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("the scenarios printed no JSON: {e}"))?;

    // 6. Footprint.
    let footprint = footprint(cargo)?;

    let c1 = &cached["1_thread"];
    let summary = json!({
        "cached_read_ns": {
            "async": c1["async"], "blocking": c1["blocking"],
            "arcswap_load_full": c1["arcswap_load_full"],
            "tokio_mutex": c1["tokio_mutex"], "std_rwlock": c1["std_rwlock"],
        },
        "herd": {
            "callers": scenarios["herd"]["callers"],
            "token_requests": scenarios["herd"]["token_requests"],
            "baseline_token_requests": scenarios["herd"]["baseline_token_requests"],
            "max_wait_ms": scenarios["herd"]["max_wait_ms"],
            "round_trip_ms": scenarios["herd"]["round_trip_ms"],
        },
        "refresh_under_load": {
            "refreshes": scenarios["refresh_under_load"]["refreshes"],
            "p999_us": scenarios["refresh_under_load"]["p999_us"],
            "max_us": scenarios["refresh_under_load"]["max_us"],
            "baseline_max_us": scenarios["refresh_under_load"]["baseline_max_us"],
        },
        "outage": {
            "seconds": scenarios["outage"]["seconds"],
            "caller_errors": scenarios["outage"]["caller_errors"],
            "token_requests": scenarios["outage"]["token_requests"],
            "recovered_ms": scenarios["outage"]["recovered_ms"],
        },
        "fleet": {
            "processes": scenarios["fleet"]["processes"],
            "cold_shared_token_requests": scenarios["fleet"]["cold_shared"]["token_requests"],
            "cold_alone_token_requests": scenarios["fleet"]["cold_alone"]["token_requests"],
            "refresh_shared_token_requests": scenarios["fleet"]["refresh_shared"]["token_requests"],
            "refresh_alone_token_requests": scenarios["fleet"]["refresh_alone"]["token_requests"],
            "caller_errors": [
                scenarios["fleet"]["cold_shared"]["caller_errors"],
                scenarios["fleet"]["cold_alone"]["caller_errors"],
                scenarios["fleet"]["refresh_shared"]["caller_errors"],
                scenarios["fleet"]["refresh_alone"]["caller_errors"],
            ],
            "cached_read_ns_async_redis": c1["async_redis"],
            "cached_read_ns_blocking_redis": c1["blocking_redis"],
        },
        "exchange_overhead_ratio": {
            "async_vs_raw": scenarios["exchange_overhead"]["async_vs_raw"],
            "blocking_vs_raw": scenarios["exchange_overhead"]["blocking_vs_raw"],
            "oauth2_crate_vs_raw": scenarios["exchange_overhead"]["oauth2_crate_vs_raw"],
        },
        "footprint": {
            "auth_core_crates": footprint["auth_core_crates"],
            "auth_ureq_crates": footprint["auth_ureq_crates"],
            "auth_reqwest_crates": footprint["auth_reqwest_crates"],
            "blocking_example_bytes": footprint["blocking_example_bytes"],
        },
    });
    let details = json!({
        "mode": mode, "cached_read_ns": cached, "scenarios": scenarios, "footprint": footprint,
        "machine": machine(),
    });
    let dir = workspace_root().join("target/apiauth-bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    std::fs::write(dir.join("summary.json"), pretty(&summary)).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("details.json"), pretty(&details)).map_err(|e| e.to_string())?;
    let table = render(&summary, &details, mode);
    update_doc(&table)?;
    println!("{table}");
    eprintln!("\nwrote target/apiauth-bench/summary.json, details.json and docs/performance.md");
    Ok(())
}

/// Criterion's point estimate of the mean, in nanoseconds.
fn criterion_ns(path: &Path) -> Result<f64, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    v["mean"]["point_estimate"]
        .as_f64()
        .map(|ns| (ns * 100.0).round() / 100.0)
        .ok_or_else(|| format!("{}: no mean estimate", path.display()))
}

fn footprint(cargo: &str) -> Result<Value, String> {
    let count = |package: &str| -> Result<usize, String> {
        let tree = output(
            cargo,
            &["tree", "-p", package, "-e", "normal", "--prefix", "none"],
        )?;
        let mut names: Vec<&str> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        names.sort_unstable();
        names.dedup();
        Ok(names.len())
    };
    crate::run(
        cargo,
        &[
            "build",
            "--release",
            "-p",
            "auth-ureq",
            "--example",
            "token",
        ],
        &[],
    )?;
    let example = workspace_root().join("target/release/examples/token");
    let bytes = std::fs::metadata(&example)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", example.display()))?;
    Ok(json!({
        "auth_core_crates": count("auth-core")?,
        "auth_ureq_crates": count("auth-ureq")?,
        "auth_reqwest_crates": count("auth-reqwest")?,
        "blocking_example_bytes": bytes,
        "cli_token_warm": cli_token_warm(cargo),
    }))
}

/// `apiauth token` with a warm disk cache: median wall time and peak RSS
/// over 20 runs. `null` if the CLI is not in the workspace.
fn cli_token_warm(cargo: &str) -> Value {
    let root = workspace_root();
    if !root.join("crates/apiauth-cli").exists() {
        return Value::Null;
    }
    if crate::run(cargo, &["build", "--release", "-p", "apiauth-cli"], &[]).is_err() {
        return Value::Null;
    }
    let bin = root.join("target/release/apiauth");
    let emu = match auth_emulator::BlockingEmulator::start(auth_emulator::EmulatorConfig {
        throttles: auth_emulator::Throttles::off(),
        ..auth_emulator::EmulatorConfig::default()
    }) {
        Ok(e) => e,
        Err(_) => return Value::Null,
    };
    let dir = std::env::temp_dir().join(format!("apiauth-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let token_url = emu.url("/oauth2/token");
    // `apiauth token` ad hoc from the environment; `via` wraps it (GNU time).
    let command = |via: Option<&str>| {
        let mut c = match via {
            Some(wrapper) => {
                let mut c = Command::new(wrapper);
                c.args(["-f", "%M"]).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        c.args([
            "token",
            "--provider",
            "oauth2",
            "--token-url",
            &token_url,
            "--auth",
            "basic",
        ])
        .env("APIAUTH_CONFIG_DIR", &dir)
        .env("APIAUTH_CLIENT_ID", auth_emulator::demo::OAUTH2_CLIENT_ID)
        .env(
            "APIAUTH_CLIENT_SECRET",
            auth_emulator::demo::OAUTH2_CLIENT_SECRET,
        );
        c
    };
    let run = || command(None).output();
    if !run().is_ok_and(|o| o.status.success()) {
        return Value::Null; // the cold run must work before warm runs mean anything
    }
    let before = emu.counters().token_requests_total;
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        if !run().is_ok_and(|o| o.status.success()) {
            return Value::Null;
        }
        times.push(t.elapsed());
    }
    times.sort();
    let fetched = emu.counters().token_requests_total - before;
    // Peak RSS through GNU time, when the machine has it.
    let peak_kib = command(Some("/usr/bin/time")).output().ok().and_then(|o| {
        String::from_utf8_lossy(&o.stderr)
            .trim()
            .lines()
            .last()?
            .trim()
            .parse::<u64>()
            .ok()
    });
    let _ = std::fs::remove_dir_all(&dir);
    json!({
        "runs": times.len(),
        "median_ms": ms(times[times.len() / 2]),
        "max_ms": ms(times[times.len() - 1]),
        "token_requests_during_warm_runs": fetched,
        "peak_rss_kib": peak_kib,
    })
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let rustc = output("rustc", &["--version"]).unwrap_or_default();
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "os": std::env::consts::OS,
        "rustc": rustc.trim(),
        "date": output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default().trim(),
    })
}

fn ratio(a: &Value, b: &Value) -> String {
    match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "n/a".into(),
    }
}

fn render(s: &Value, d: &Value, mode: &str) -> String {
    let c = &s["cached_read_ns"];
    let c2 = &d["cached_read_ns"]["2_thread"];
    let h = &s["herd"];
    let hd = &d["scenarios"]["herd"];
    let r = &s["refresh_under_load"];
    let o = &s["outage"];
    let x = &s["exchange_overhead_ratio"];
    let xd = &d["scenarios"]["exchange_overhead"]["median_us"];
    let f = &s["footprint"];
    let cli = &d["footprint"]["cli_token_warm"];
    let m = &d["machine"];
    let mut t = String::new();
    t += &format!(
        "Measured {} on {} ({} cores, {}), {}, with `cargo xtask bench {}`.\n\n",
        m["date"].as_str().unwrap_or(""),
        m["cpu"].as_str().unwrap_or(""),
        m["cores"],
        m["os"].as_str().unwrap_or(""),
        m["rustc"].as_str().unwrap_or(""),
        if mode == "--full" { "" } else { mode },
    );
    t += "| scenario | apiauth | baseline | ratio | target |\n|---|---|---|---|---|\n";
    for (label, ours, base, target) in [
        (
            "cached read, async, 1 thread (ns)",
            &c["async"],
            &c["arcswap_load_full"],
            "≤ 2× ArcSwap::load_full",
        ),
        (
            "cached read, blocking, 1 thread (ns)",
            &c["blocking"],
            &c["arcswap_load_full"],
            "≤ 2× ArcSwap::load_full",
        ),
        (
            "cached read, async, 2 threads (ns)",
            &c2["async"],
            &c2["arcswap_load_full"],
            "≤ 2× ArcSwap::load_full",
        ),
        (
            "cached read, blocking, 2 threads (ns)",
            &c2["blocking"],
            &c2["arcswap_load_full"],
            "≤ 2× ArcSwap::load_full",
        ),
        (
            "cached read, async vs tokio Mutex, 1 thread (ns)",
            &c["async"],
            &c["tokio_mutex"],
            "≤ 0.5×",
        ),
        (
            "cached read, async vs std RwLock, 1 thread (ns)",
            &c["async"],
            &c["std_rwlock"],
            "—",
        ),
        (
            "cached read, async vs tokio Mutex, 2 threads (ns)",
            &c2["async"],
            &c2["tokio_mutex"],
            "≤ 0.5×",
        ),
    ] {
        t += &format!(
            "| {label} | {ours} | {base} | {} | {target} |\n",
            ratio(ours, base)
        );
    }
    t += &format!(
        "| cold herd: token requests ({} async callers, 50 ms endpoint) | {} | {} (check-then-fetch) | — | exactly 1 |\n",
        h["callers"], h["token_requests"], h["baseline_token_requests"]
    );
    t += &format!(
        "| cold herd: max caller wait vs one round trip (ms) | {} | {} | {} | ≤ 1.2× |\n",
        h["max_wait_ms"],
        h["round_trip_ms"],
        ratio(&h["max_wait_ms"], &h["round_trip_ms"])
    );
    t += &format!(
        "| cold herd: tokio's own floor — {} tasks parked on one watch channel, woken after 50 ms (max wait, ms) | — | {} | {} of 50 ms | — |\n",
        h["callers"],
        hd["wake_floor_max_wait_ms"],
        ratio(&hd["wake_floor_max_wait_ms"], &json!(50.0))
    );
    t += &format!(
        "| cold herd, blocking: token requests / max wait ({} threads) | {} / {} ms | — | — | exactly 1 |\n",
        hd["blocking_threads"], hd["blocking_token_requests"], hd["blocking_max_wait_ms"]
    );
    let fl = &d["scenarios"]["fleet"];
    let c1 = &d["cached_read_ns"]["1_thread"];
    for (label, ours, base) in [
        (
            "cached read, async, store configured, 1 thread (ns)",
            &c1["async_redis"],
            &c["arcswap_load_full"],
        ),
        (
            "cached read, blocking, store configured, 1 thread (ns)",
            &c1["blocking_redis"],
            &c["arcswap_load_full"],
        ),
        (
            "cached read, async, store configured, 2 threads (ns)",
            &c2["async_redis"],
            &c2["arcswap_load_full"],
        ),
        (
            "cached read, blocking, store configured, 2 threads (ns)",
            &c2["blocking_redis"],
            &c2["arcswap_load_full"],
        ),
    ] {
        t += &format!(
            "| {label} | {ours} | {base} | {} | ≤ 2× ArcSwap::load_full |\n",
            ratio(ours, base)
        );
    }
    t += &format!(
        "| fleet, cold: token requests / slowest call (ms), {} processes × {} async callers, shared Redis store vs none | {} / {} | {} / {} | — | 1 request |\n",
        fl["processes"], fl["cold_callers_per_process"],
        fl["cold_shared"]["token_requests"], fl["cold_shared"]["max_wait_ms"],
        fl["cold_alone"]["token_requests"], fl["cold_alone"]["max_wait_ms"],
    );
    t += &format!(
        "| fleet, steady load for {} s on {} s tokens: token requests / caller errors, shared vs none | {} / {} | {} / {} | {} | one per renewal for the fleet |\n",
        fl["run_s"], fl["lifetime_s"],
        fl["refresh_shared"]["token_requests"], fl["refresh_shared"]["caller_errors"],
        fl["refresh_alone"]["token_requests"], fl["refresh_alone"]["caller_errors"],
        ratio(&fl["refresh_shared"]["token_requests"], &fl["refresh_alone"]["token_requests"]),
    );
    t += &format!(
        "| refresh under load: max `token()` latency (µs) | {} | {} (lock held while fetching) | {} | < 1 ms |\n",
        r["max_us"], r["baseline_max_us"], ratio(&r["max_us"], &r["baseline_max_us"])
    );
    t += &format!(
        "| refresh under load: p99.9 latency (µs) / refreshes | {} / {} | {} / {} | — | — |\n",
        r["p999_us"],
        r["refreshes"],
        d["scenarios"]["refresh_under_load"]["baseline_p999_us"],
        d["scenarios"]["refresh_under_load"]["baseline_refreshes"]
    );
    t += &format!(
        "| outage ({} s of 503s): caller errors / token requests / recovered after (ms) | {} / {} / {} | — | — | 0 errors |\n",
        o["seconds"], o["caller_errors"], o["token_requests"], o["recovered_ms"]
    );
    t += &format!(
        "| exchange, async driver vs raw reqwest (median µs) | {} | {} | {} | ≤ 1.05× |\n",
        xd["async_driver"], xd["raw_reqwest"], x["async_vs_raw"]
    );
    t += &format!(
        "| exchange, blocking driver vs raw ureq (median µs) | {} | {} | {} | ≤ 1.05× |\n",
        xd["blocking_driver"], xd["raw_ureq"], x["blocking_vs_raw"]
    );
    t += &format!(
        "| exchange, blocking driver vs raw ureq with the same timeouts (median µs) | {} | {} | {} | — |\n",
        xd["blocking_driver"],
        xd["raw_ureq_same_timeouts"],
        d["scenarios"]["exchange_overhead"]["blocking_vs_raw_same_timeouts"]
    );
    t += &format!(
        "| exchange, `oauth2` crate vs raw reqwest (median µs) | {} | {} | {} | — |\n",
        xd["oauth2_crate"], xd["raw_reqwest"], x["oauth2_crate_vs_raw"]
    );
    t += &format!(
        "| footprint: crates in auth-core / auth-ureq / auth-reqwest | {} / {} / {} | — | — | — |\n",
        f["auth_core_crates"], f["auth_ureq_crates"], f["auth_reqwest_crates"]
    );
    t += &format!(
        "| footprint: release blocking example (bytes) | {} | — | — | — |\n",
        f["blocking_example_bytes"]
    );
    if cli.is_object() {
        t += &format!(
            "| `apiauth token`, warm disk cache: median / max wall (ms), peak RSS (KiB), requests | {} / {} / {} / {} | — | — | 0 requests |\n",
            cli["median_ms"], cli["max_ms"], cli["peak_rss_kib"], cli["token_requests_during_warm_runs"]
        );
    }
    t
}

fn update_doc(table: &str) -> Result<(), String> {
    let path = workspace_root().join("docs/performance.md");
    let doc =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let (Some(a), Some(b)) = (doc.find(START), doc.find(END)) else {
        return Err(format!(
            "{} lacks the {START} / {END} markers",
            path.display()
        ));
    };
    let new = format!("{}{START}\n{table}{}", &doc[..a], &doc[b..]);
    std::fs::write(&path, new).map_err(|e| format!("writing {}: {e}", path.display()))
}
