//! # auth-hostile: a hostile server and case table for apiauth's tests
//!
//! A test-only crate (`publish = false`). It holds:
//!
//! - [`HostileServer`]: a raw-socket HTTP server on `127.0.0.1:0` that plays
//!   scripted [`Answer`]s — delays, silence, trickles, resets, cut bodies,
//!   no status line, HTTP/0.9, bad chunking, 1000 headers, bad
//!   `Content-Length`, endless bodies, redirects, and echoes of the client
//!   secret in every encoding — and counts the requests of every path;
//! - [`cases::all`]: the case table, each [`Case`] an endpoint, its answers
//!   and the [`Expect`]ed outcome;
//! - [`Oracle`]: the leak oracle, written from the specifications and
//!   independently of `auth-core`'s redactor, and the terminal check;
//! - [`mod@judge`]: what every run of every case must satisfy;
//! - [`KNOWN_FAILING`]: the cases the library fails today, which may only
//!   shrink ([`settle`]).
//!
//! The runners live in `tests/hostile/`: the async driver, the blocking
//! driver and the `apiauth` binary each run every case.
//!
//! In scope: answers a server can give, and what a client must make of
//! them. Out of scope: TLS (loopback http only), DNS, and proxies.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod answer;
pub mod cases;
pub mod encode;
pub mod expect;
pub mod judge;
pub mod known_failing;
pub mod oracle;
pub mod secrets;
pub mod server;

pub use answer::{Answer, Reply};
pub use cases::{Case, Endpoint};
pub use expect::{Class, Expect, Kind};
pub use judge::{judge, Observed, Runner, Terminal, Text};
pub use known_failing::{settle, Verdict, KNOWN_FAILING};
pub use oracle::{Leak, Oracle};
pub use server::{Credentials, HostileServer, Received, Script};

use std::time::Duration;

/// Per-request timeout the drivers are configured with.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Connect timeout the drivers are configured with.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Wait limit the drivers are configured with: the longest a caller waits
/// for a token.
pub const WAIT_LIMIT: Duration = Duration::from_secs(3);
/// A driver run's bound: a token wait, then an API or key-status call and
/// its one retry, with room for a slow machine.
pub const DRIVER_BOUND: Duration = Duration::from_secs(15);
/// The async driver's `register` has no timeout setting: its default total
/// timeout (30 s) and room.
pub const ASYNC_REGISTER_BOUND: Duration = Duration::from_secs(40);
/// The CLI's whole-command limit for these runs (`APIAUTH_TIMEOUT`,
/// docs/cli.md): every command that talks to a server ends within it, its
/// retries included, plus the watchdog's grace of 2 s.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(5);
/// A CLI run's bound: the limit, the watchdog's grace, and room for a slow
/// machine starting a process.
pub const CLI_BOUND: Duration = Duration::from_secs(20);
/// When a CLI run is killed (its outcome is then a failure).
pub const CLI_KILL: Duration = Duration::from_secs(40);

/// The case filter of a run: `HOSTILE_CASE` (a [`known_failing::glob`]
/// pattern, or a plain substring of the case name), if set.
#[must_use]
pub fn case_filter() -> Option<String> {
    std::env::var("HOSTILE_CASE").ok().filter(|s| !s.is_empty())
}

/// The cases a run covers (all of them, or those `HOSTILE_CASE` selects),
/// and whether that is all of them.
#[must_use]
pub fn selected_cases() -> (Vec<Case>, bool) {
    let all = cases::all();
    match case_filter() {
        None => (all, true),
        Some(f) => {
            let chosen = all
                .into_iter()
                .filter(|c| c.name.contains(&f) || known_failing::glob(&f, &c.name))
                .collect();
            (chosen, false)
        }
    }
}
