//! `cargo xtask fuzz [SECONDS] [TARGET…]`: every cargo-fuzz target in
//! `fuzz/` for SECONDS each (default 60), one after another, then a table.
//! `cargo xtask fuzz --smoke`: build them all and run each for 5 s (what
//! `cargo xtask ci` does).
//!
//! Each run grows a working corpus under `fuzz/target/corpus/<target>`,
//! seeded read-only from the committed `fuzz/corpus/<target>`, so the
//! committed seeds stay a handful of readable files. A crash leaves its
//! input in `fuzz/artifacts/<target>/` and fails the task; the full
//! libFuzzer output is in `fuzz/target/logs/<target>.log`.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::workspace_root;

const DEFAULT_SECONDS: u64 = 60;
const SMOKE_SECONDS: u64 = 5;
/// One input running longer than this is a hang, reported like a crash.
const INPUT_TIMEOUT_SECONDS: u64 = 10;
/// The same for `build` and `run`, so `run` finds the build up to date.
/// No sanitizer: auth-core forbids `unsafe`, and AddressSanitizer would
/// halve the inputs tried per second for nothing; debug assertions stay on
/// so an arithmetic overflow is a crash, not a silently wrong number.
const BUILD_FLAGS: &[&str] = &[
    "--fuzz-dir",
    "fuzz",
    "--sanitizer",
    "none",
    "--debug-assertions",
];
/// cargo-fuzz needs nightly features; this lets the stable toolchain use them.
const BOOTSTRAP: (&str, &str) = ("RUSTC_BOOTSTRAP", "1");

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut only: Vec<&str> = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--smoke" => seconds = SMOKE_SECONDS,
            "-h" | "--help" => {
                println!(
                    "usage: cargo xtask fuzz [SECONDS] [TARGET…]   (default {DEFAULT_SECONDS} s each)\n       cargo xtask fuzz --smoke              (build, then {SMOKE_SECONDS} s each)"
                );
                return Ok(());
            }
            s if s.parse::<u64>().is_ok_and(|n| n > 0) => {
                seconds = s.parse().unwrap_or(DEFAULT_SECONDS);
            }
            s if s.starts_with('-') => return Err(format!("fuzz: unknown option `{s}`")),
            s => only.push(s),
        }
    }
    let cargo = cargo();
    if !is_installed(&cargo) {
        return Err(
            "cargo-fuzz is not installed; install it with `cargo install cargo-fuzz --locked`"
                .into(),
        );
    }
    let started = Instant::now();
    let mut targets = list_targets(&cargo)?;
    if !only.is_empty() {
        if let Some(unknown) = only.iter().find(|t| !targets.iter().any(|x| x == *t)) {
            return Err(format!(
                "fuzz: no target `{unknown}`; the targets are {}",
                targets.join(", ")
            ));
        }
        targets.retain(|t| only.contains(&t.as_str()));
    }
    let mut build = vec!["fuzz", "build"];
    build.extend_from_slice(BUILD_FLAGS);
    crate::run(&cargo, &build, &[BOOTSTRAP])?;

    let mut outcomes = Vec::with_capacity(targets.len());
    for target in &targets {
        eprintln!("\nfuzz: {target} for {seconds} s …");
        let outcome = run_target(&cargo, target, seconds)?;
        eprintln!("fuzz: {target}: {}", outcome.result);
        outcomes.push(outcome);
    }
    print_table(&outcomes);
    eprintln!(
        "\nfuzz: {} targets in {:.0} s (build included)",
        outcomes.len(),
        started.elapsed().as_secs_f64()
    );
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.ok)
        .map(|o| o.target.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzz: {} failed", failed.join(", ")))
    }
}

/// The step `cargo xtask ci` runs last: `--smoke`, or a loud warning
/// (and no failure) where cargo-fuzz is not installed. Says whether it ran.
pub(crate) fn ci_smoke() -> Result<bool, String> {
    if !is_installed(&cargo()) {
        let bar = "!".repeat(72);
        eprintln!(
            "\n{bar}\n!! WARNING: cargo-fuzz is not installed: the fuzz smoke step is SKIPPED.\n!! Install it with `cargo install cargo-fuzz --locked` (.ci/run does).\n{bar}"
        );
        return Ok(false);
    }
    eprintln!("\n$ cargo xtask fuzz --smoke");
    run(&["--smoke".to_owned()]).map(|()| true)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn is_installed(cargo: &str) -> bool {
    Command::new(cargo)
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn list_targets(cargo: &str) -> Result<Vec<String>, String> {
    let out = crate::output(cargo, &["fuzz", "list", "--fuzz-dir", "fuzz"])?;
    let targets: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if targets.is_empty() {
        return Err("fuzz: `cargo fuzz list` names no target".into());
    }
    Ok(targets)
}

struct Outcome {
    target: String,
    runs: Option<u64>,
    /// libFuzzer's own rate, which leaves out a rebuild before the run.
    rate: Option<u64>,
    /// The whole `cargo fuzz run`, as the clock on the wall saw it.
    seconds: f64,
    ok: bool,
    result: String,
}

fn run_target(cargo: &str, target: &str, seconds: u64) -> Result<Outcome, String> {
    let root = workspace_root();
    let work = Path::new("fuzz/target/corpus").join(target);
    let seeds = Path::new("fuzz/corpus").join(target);
    let logs = root.join("fuzz/target/logs");
    for dir in [root.join(&work), root.join(&seeds), logs.clone()] {
        fs::create_dir_all(&dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    }
    let log_path = logs.join(format!("{target}.log"));
    let log = File::create(&log_path)
        .map_err(|e| format!("could not create {}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("could not open {}: {e}", log_path.display()))?;

    let (work, seeds) = (path_arg(&work), path_arg(&seeds));
    let max_time = format!("-max_total_time={seconds}");
    let timeout = format!("-timeout={INPUT_TIMEOUT_SECONDS}");
    let mut args = vec!["fuzz", "run"];
    args.extend_from_slice(BUILD_FLAGS);
    args.extend_from_slice(&[
        target,
        &work,
        &seeds,
        "--",
        &max_time,
        &timeout,
        "-print_final_stats=1",
    ]);
    let started = Instant::now();
    let status = Command::new(cargo)
        .args(&args)
        .env(BOOTSTRAP.0, BOOTSTRAP.1)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .status()
        .map_err(|e| format!("could not start `{cargo} fuzz run`: {e}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    let runs = runs(&text);
    let rate = stat(&text, "average_exec_per_sec");
    let log_shown = relative(&log_path, &root);
    let (ok, result) = if status.success() {
        (true, "ok".to_owned())
    } else if let Some(artifact) = artifact(&text) {
        let kind = Path::new(&artifact)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('-').next())
            .unwrap_or("crash")
            .to_uppercase();
        let why = panic_message(&text).unwrap_or_else(|| "see the log".to_owned());
        (
            false,
            format!("{kind}: {why} (input {artifact}, log {log_shown})"),
        )
    } else {
        (false, format!("failed ({status}); see {log_shown}"))
    };
    Ok(Outcome {
        target: target.to_owned(),
        runs,
        rate,
        seconds: elapsed,
        ok,
        result,
    })
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn relative(p: &Path, root: &Path) -> String {
    path_arg(p.strip_prefix(root).unwrap_or(p))
}

/// A number from libFuzzer's final stats (`-print_final_stats=1`).
fn stat(log: &str, name: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| {
        l.strip_prefix("stat::")?
            .strip_prefix(name)?
            .strip_prefix(':')?
            .trim()
            .parse()
            .ok()
    })
}

/// Inputs tried: libFuzzer's final stats, else its last status line.
fn runs(log: &str) -> Option<u64> {
    stat(log, "number_of_executed_units").or_else(|| {
        log.lines().rev().find_map(|l| {
            let n = l.strip_prefix('#')?;
            let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
    })
}

/// Where libFuzzer saved the input that failed.
fn artifact(log: &str) -> Option<String> {
    log.lines().rev().find_map(|l| {
        let (_, path) = l.split_once("Test unit written to ")?;
        Some(path.trim().to_owned())
    })
}

/// The panic's message, first line, shortened.
fn panic_message(log: &str) -> Option<String> {
    let mut lines = log.lines();
    lines.find(|l| l.contains("panicked at"))?;
    let message = lines.next()?.trim();
    let mut short: String = message.chars().take(160).collect();
    if short.len() < message.len() {
        short.push('…');
    }
    Some(short)
}

fn print_table(outcomes: &[Outcome]) {
    let width = outcomes
        .iter()
        .map(|o| o.target.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "\n{:<width$}  {:>11}  {:>7}  {:>8}  result",
        "target", "runs", "seconds", "execs/s"
    );
    for o in outcomes {
        let runs = o.runs.map_or_else(|| "?".to_owned(), |r| r.to_string());
        let rate = o
            .rate
            .or_else(|| o.runs.map(|r| (r as f64 / o.seconds.max(0.001)) as u64))
            .map_or_else(|| "?".to_owned(), |r| r.to_string());
        println!(
            "{:<width$}  {:>11}  {:>7.1}  {:>8}  {}",
            o.target, runs, o.seconds, rate, o.result
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRASH_LOG: &str = "#1024\tpulse  cov: 10 ft: 12 corp: 3/40b exec/s: 512 rss: 40Mb\n\
        #2048\tNEW    cov: 11 ft: 13 corp: 4/50b\n\
        thread '<unnamed>' panicked at src/lib.rs:249:9:\n\
        secret leaked (raw: \"x\") in the Display/Debug output:\n\
        ==1== ERROR: libFuzzer: deadly signal\n\
        artifact_prefix='/w/fuzz/artifacts/oauth2_token/'; Test unit written to /w/fuzz/artifacts/oauth2_token/crash-da39a3ee\n";

    #[test]
    fn reads_runs_artifact_and_message() {
        assert_eq!(runs(CRASH_LOG), Some(2048));
        assert_eq!(
            artifact(CRASH_LOG).as_deref(),
            Some("/w/fuzz/artifacts/oauth2_token/crash-da39a3ee")
        );
        assert_eq!(
            panic_message(CRASH_LOG).as_deref(),
            Some("secret leaked (raw: \"x\") in the Display/Debug output:")
        );
        let done = "#99\tDONE cov: 1\nDone 99 runs in 5 second(s)\n\
            stat::number_of_executed_units: 101\nstat::average_exec_per_sec:     20\n";
        assert_eq!(runs(done), Some(101));
        assert_eq!(stat(done, "average_exec_per_sec"), Some(20));
        assert_eq!(stat(CRASH_LOG, "average_exec_per_sec"), None);
    }
}
