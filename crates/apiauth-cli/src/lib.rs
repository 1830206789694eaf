//! # apiauth-cli: the `apiauth` command
//!
//! Gets, caches and renews API access tokens for shell scripts and people,
//! in the habit of `gh auth` and `gcloud auth print-access-token`:
//!
//! ```sh
//! apiauth profile add ci --provider oauth2 --token-url https://auth.example.com/token --client-id "$ID" <<<"$SECRET"
//! TOKEN=$(apiauth token --profile ci)
//! curl -H "Authorization: Bearer $TOKEN" https://api.example.com/items
//! ```
//!
//! In scope: profiles on disk (one private file each, the only place a
//! client secret is kept), a token cache shared by every process of the
//! user (so a cron job running every minute fetches a token once per
//! lifetime, and twenty scripts starting together make one request),
//! authenticated requests, Openverse registration and key status,
//! Markable's publishable `search` token, shell completions, and exit codes
//! a script can act on ([`exit`]).
//!
//! Out of scope: deciding anything about tokens. Every request, parse,
//! refresh and backoff decision is `auth-core`'s, driven by the blocking
//! `auth-ureq` driver; files are `auth-store`'s. No async runtime is in the
//! dependency tree, so the command starts in milliseconds.
//!
//! The binary calls [`main`]; the full manual is `docs/cli.md`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::process::ExitCode;

mod cli;
mod commands;
mod deadline;
mod failure;
mod logging;
mod profile;
mod secret_input;
mod target;

pub mod exit;

/// Runs `apiauth` with the process arguments and returns its exit status
/// (see [`exit`]). Errors are printed on stderr as one `apiauth: …` line and
/// a `hint: …` line; nothing printed ever holds a client secret.
#[must_use]
pub fn main() -> ExitCode {
    deadline::watch();
    ExitCode::from(run(std::env::args_os()))
}

/// Runs `apiauth` with `args` (the first is the program name) and returns
/// the exit code.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser as _;
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version print on stdout and succeed; usage errors
            // print on stderr with clap's own exit code, 2.
            let _ = e.print();
            return u8::try_from(e.exit_code()).unwrap_or(exit::USAGE);
        }
    };
    logging::install(cli.verbose);
    match commands::dispatch(cli) {
        Ok(()) => exit::OK,
        Err(failure) => {
            failure.report();
            failure.code
        }
    }
}
