//! `apiauth`: gets, caches and renews API access tokens. See `apiauth --help`
//! and `docs/cli.md`.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    apiauth_cli::main()
}
