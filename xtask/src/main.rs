//! `cargo xtask`: the project's chores, in Rust so they run the same everywhere.
//!
//! - `cargo xtask ci`   — everything CI checks, in the order it checks it.
//! - `cargo xtask demo` — the emulator plus every flow, on loopback.
//! - `cargo xtask bench` — the performance claims, measured side by side.
//! - `cargo xtask fuzz` — every cargo-fuzz target in `fuzz/`, one after another.

use std::process::{Command, ExitCode};

mod bench;
mod ci;
mod demo;
mod fuzz;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("help") | Some("--help") | Some("-h") | None => {
            print_help();
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`; run `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "usage: cargo xtask <task>\n\n\
         tasks:\n  \
           ci     fmt, clippy, tests, docs and the sans-IO dependency check\n  \
           demo   run the emulator and walk through every flow\n  \
           bench  measure the drivers against baselines [--quick | --smoke]\n  \
           fuzz   run every fuzz target [SECONDS (default 60)] [TARGET…] | --smoke\n"
    );
}

/// Runs a command from the workspace root, echoing it first, and fails with
/// the command line if it does not exit successfully.
pub(crate) fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("\n$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("could not start `{program}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// Runs a command and returns its standard output.
pub(crate) fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("could not start `{program}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn workspace_root() -> std::path::PathBuf {
    // xtask lives one level below the root.
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}
