//! `cargo xtask ci`: the one test command. README names it; `.ci/run` calls it.

use crate::output;

/// Crates that must never appear in a sans-IO crate's normal dependency tree.
const IO_CRATES: &[&str] = &["tokio", "reqwest", "ureq", "hyper", "mio", "socket2"];

pub(crate) fn run(_args: &[String]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let cargo = cargo.as_str();
    crate::run(cargo, &["fmt", "--all", "--", "--check"], &[])?;
    crate::run(
        cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    crate::run(cargo, &["test", "--workspace"], &[])?;
    crate::run(
        cargo,
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    check_tree(cargo, "auth-core", IO_CRATES)?;
    eprintln!("\nxtask ci: all checks passed");
    Ok(())
}

/// Fails if `cargo tree -p <package> -e normal` names any of `banned`.
fn check_tree(cargo: &str, package: &str, banned: &[&str]) -> Result<(), String> {
    eprintln!("\n$ {cargo} tree -p {package} -e normal  (must not contain {banned:?})");
    let tree = output(
        cargo,
        &["tree", "-p", package, "-e", "normal", "--prefix", "none"],
    )?;
    let found: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| banned.contains(name))
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{package} must stay free of IO crates, but its dependency tree contains {found:?}"
        ))
    }
}
