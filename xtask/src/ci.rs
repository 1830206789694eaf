//! `cargo xtask ci`: the one test command. README names it; `.ci/run` calls it.

use crate::output;

/// Crates that must never appear in a sans-IO crate's normal dependency tree.
const IO_CRATES: &[&str] = &["tokio", "reqwest", "ureq", "hyper", "mio", "socket2"];
/// A store depends on the cell, never on a driver.
const DRIVER_CRATES: &[&str] = &["auth-reqwest", "auth-ureq", "tokio", "reqwest", "ureq"];
/// Crates the blocking driver must not pull in: it promises no tokio.
const ASYNC_CRATES: &[&str] = &["tokio", "hyper", "mio", "reqwest"];
/// The signing crates of `private_key_jwt`: behind the `private-key-jwt`
/// feature, so a client with a secret builds none of them (and no
/// RUSTSEC-2023-0071 in its tree).
const KEY_CRATES: &[&str] = &["rsa", "p256", "ecdsa", "rand_chacha"];

pub(crate) fn run(_args: &[String]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let cargo = cargo.as_str();
    // Incremental caches doubled the target directory of a one-shot run and
    // buy nothing on a clean clone; whoever wants them sets the variable.
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        std::env::set_var("CARGO_INCREMENTAL", "0");
    }
    ensure_redis_server()?;
    crate::run(cargo, &["fmt", "--all", "--", "--check"], &[])?;
    crate::run(
        cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    crate::run(cargo, &["test", "--workspace"], &[])?;
    // The workspace build turns `private-key-jwt` on (the CLI wants it);
    // the core without it must build, lint clean and pass its tests too.
    crate::run(
        cargo,
        &[
            "clippy",
            "-p",
            "auth-core",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    crate::run(cargo, &["test", "-p", "auth-core"], &[])?;
    // Feature-gated integrations are tests too.
    crate::run(
        cargo,
        &[
            "test",
            "-p",
            "auth-reqwest",
            "--features",
            "middleware",
            "--test",
            "middleware",
        ],
        &[],
    )?;
    crate::run(
        cargo,
        &[
            "test",
            "-p",
            "auth-cell",
            "--features",
            "metrics",
            "--test",
            "metrics",
        ],
        &[],
    )?;
    // The cell's synchronization, model-checked by loom over every
    // interleaving within three preemptions (a separate target directory
    // keeps the `--cfg` build from invalidating the normal one).
    crate::run(
        cargo,
        &["test", "-p", "auth-cell", "--test", "loom", "--release"],
        &[
            ("RUSTFLAGS", "--cfg apiauth_loom"),
            ("CARGO_TARGET_DIR", "target/loom"),
            ("LOOM_MAX_PREEMPTIONS", "3"),
        ],
    )?;
    crate::run(
        cargo,
        &["doc", "--workspace", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    // The core's docs without `private-key-jwt` (what a secret-only user
    // builds) must not link to items the feature removes.
    crate::run(
        cargo,
        &["doc", "-p", "auth-core", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    check_tree(cargo, "auth-core", IO_CRATES)?;
    // A secret-only client's tree, driver included, holds no signing code.
    for package in ["auth-core", "auth-cell", "auth-reqwest", "auth-ureq"] {
        check_tree(cargo, package, KEY_CRATES)?;
    }
    // The cell is runtime-agnostic; stores plug into it, never into a driver.
    check_tree(cargo, "auth-cell", IO_CRATES)?;
    check_tree(cargo, "auth-store", DRIVER_CRATES)?;
    // The blocking driver and the CLI built on it promise no async runtime.
    check_tree(cargo, "auth-ureq", ASYNC_CRATES)?;
    check_tree(cargo, "apiauth-cli", ASYNC_CRATES)?;
    // The blocking Redis store (the CLI's) promises the same: no tokio.
    check_tree_with(
        cargo,
        "auth-redis",
        &["--no-default-features", "--features", "blocking"],
        ASYNC_CRATES,
    )?;
    // The demo is the project's main job: it must keep running end to end.
    crate::run(cargo, &["xtask", "demo"], &[])?;
    // The benchmarks must keep running; their numbers are not checked here.
    crate::run(cargo, &["xtask", "bench", "--smoke"], &[])?;
    // Every fuzz target builds and survives a few seconds (cargo-fuzz is
    // optional on a developer's machine; .ci/run installs it).
    let fuzzed = crate::fuzz::ci_smoke()?;
    // A CI machine's disk is finite: a run that outgrew it failed once.
    // Say what this run left, so growth shows before it fails.
    let root = crate::workspace_root();
    let gib = |dir: &str| bytes_under(&root.join(dir)) as f64 / f64::from(1u32 << 30);
    let skipped = if fuzzed {
        ""
    } else {
        "; the fuzz smoke step was SKIPPED (no cargo-fuzz)"
    };
    eprintln!(
        "\nxtask ci: all checks passed (build output: target/ {:.1} GiB, fuzz/target {:.1} GiB){skipped}",
        gib("target"),
        gib("fuzz/target")
    );
    Ok(())
}

/// Bytes in the files under `dir` (0 where it cannot be read).
fn bytes_under(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Fails if `cargo tree -p <package> -e normal` names any of `banned`.
fn check_tree(cargo: &str, package: &str, banned: &[&str]) -> Result<(), String> {
    check_tree_with(cargo, package, &[], banned)
}

/// Like [`check_tree`], with feature flags (`features`) for the build.
fn check_tree_with(
    cargo: &str,
    package: &str,
    features: &[&str],
    banned: &[&str],
) -> Result<(), String> {
    let mut args = vec!["tree", "-p", package];
    args.extend_from_slice(features);
    args.extend(["-e", "normal", "--prefix", "none"]);
    eprintln!(
        "\n$ {cargo} {}  (must not contain {banned:?})",
        args.join(" ")
    );
    let tree = output(cargo, &args)?;
    let mut found: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| banned.contains(name))
        .collect();
    found.dedup();
    if found.is_empty() {
        eprintln!("ok: none of them");
        Ok(())
    } else {
        Err(format!(
            "{package} {} must stay free of {banned:?}, but its dependency tree contains {found:?}",
            features.join(" ")
        ))
    }
}

/// The Redis store's tests run a real `redis-server` (never a mock): on a
/// fresh Debian or Ubuntu machine, install it the way `.ci/run` does; say
/// plainly what to do anywhere else.
pub(crate) fn ensure_redis_server() -> Result<(), String> {
    let present = || {
        std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if present() {
        return Ok(());
    }
    eprintln!("\nredis-server is missing (the Redis store's tests run a real one); installing it with apt-get");
    let root = output("id", &["-u"]).is_ok_and(|u| u.trim() == "0");
    let apt = |args: &[&str]| {
        let (program, args): (&str, Vec<&str>) = if root {
            ("apt-get", args.to_vec())
        } else {
            ("sudo", [&["apt-get"][..], args].concat())
        };
        crate::run(program, &args, &[])
    };
    let installed = apt(&["update"]).and_then(|()| apt(&["install", "-y", "redis-server"]));
    if installed.is_ok() && present() {
        return Ok(());
    }
    Err("redis-server is required by the tests and could not be installed; install the `redis-server` package (Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`) and run again".into())
}
