//! # auth-cell: the one shared token cell under every apiauth driver
//!
//! `auth-core` decides (what to send, how to read the answer, when to
//! refresh, how long to back off); this crate shares that decision between
//! threads and tasks; a driver (`auth-reqwest`, `auth-ureq`) only moves
//! bytes and waits. It depends on no runtime and no HTTP client.
//!
//! In scope: the lock-free cache of the current token, the machine behind
//! its lock, demand rounds and their outcomes, the IO slot ([`Job`]) and
//! the order of store operations, the retry-once decision for API calls,
//! and the builder checks. Out of scope: sockets, sleeping, spawning.
//!
//! ## The driving contract
//!
//! 1. On every token request call [`TokenCell::read`]. `Fresh` → use it.
//!    `Refresh(token, job)` → use the token and run the job in the
//!    background (a task, a thread). `Miss` → step 2.
//! 2. Call [`TokenCell::demand`] and follow its answer with
//!    [`TokenCell::wait_async`] or [`TokenCell::wait_blocking`], lending
//!    them the driver's timer and job runner. They loop until `Ready` or
//!    `Failed`, never past the caller's own deadline (the cell's
//!    [`wait_limit`](TokenCell::wait_limit) from the call's start):
//!    - `Run(job, ticket)`: perform the job's steps (see [`job`]), then
//!      continue with `Wait(ticket)`;
//!    - `Wait(ticket)`: wait until [`TokenCell::poll_ticket`] is ready (it
//!      registers the task's waker) or [`TokenCell::wake_in`] has passed,
//!      then take its answer.
//! 3. After an API call made with a token, ask [`ApiCall::judge`]: it
//!    invalidates a rejected token (run the job it may return) and says
//!    whether to send the request once more.
//!
//! Both drivers hand out the same [`ProviderBuilder`]; they implement
//! [`Driver`] to turn its checked [`Parts`] into a provider.
//!
//! ## Guarantees (and how they are checked)
//!
//! - No token is handed out at or past its usable-until: every read checks
//!   against the clock, whatever any timer does. (Unit tests with a
//!   [`ManualClock`]; loom model `no_expired_token`.)
//! - At most one request in flight: one [`Job`] holds the IO slot. (Loom.)
//! - Every waiter gets the outcome of its own round or a later one, never
//!   an earlier one. (Loom, unit tests.)
//! - An invalidated token never comes back: the cache is only written
//!   under the lock from the machine's answer. (Loom, unit tests.)
//! - Nothing wedges: a job dropped unfinished (cancelled, panicked, its
//!   runtime gone) reports its request abandoned and frees the slot; the
//!   lock is never held while foreign code (wakers, logs, stores) runs.
//!   (Loom, unit tests, driver tests.)
//! - Store operations run in the order decided, one slot holder at a time:
//!   a rejected token is never written back; a removal only deletes an
//!   entry still holding the rejected value.
//!
//! ```
//! use std::sync::Arc;
//! use std::task::{Context, Poll, Waker};
//! use auth_cell::{CellBuilder, Demand, Limits, ManualClock, Read, Step};
//! use auth_core::{ClientAuth, ClientCredentials, OAuth2};
//!
//! let clock = Arc::new(ManualClock::new());
//! let cell = CellBuilder::new(
//!     OAuth2::new("https://auth.example.com/token", ClientAuth::Basic)?.into(),
//!     ClientCredentials::new("id", "secret")?,
//! )
//! .clock(clock.clone())
//! .build(&Limits::default(), false)?;
//!
//! assert!(matches!(cell.read(), Read::Miss));
//! let Demand::Run(mut job, mut ticket) = cell.demand() else { panic!("cold: this caller sends") };
//! while let Some(step) = job.next_step() {
//!     if let Step::Send(t) = step {
//!         assert_eq!(t.request.uri(), "https://auth.example.com/token");
//!         job.handle_response(http::Response::new(
//!             br#"{"access_token":"abc","token_type":"Bearer","expires_in":3600}"#.to_vec(),
//!         ));
//!     }
//! }
//! let mut cx = Context::from_waker(Waker::noop());
//! let Poll::Ready(Demand::Ready(token)) = cell.poll_ticket(&mut ticket, &mut cx) else { panic!() };
//! assert!(matches!(cell.read(), Read::Fresh(t) if t.id() == token.id()));
//!
//! // An hour later the same read refuses it, with no timer involved.
//! clock.advance(std::time::Duration::from_secs(3600));
//! assert!(matches!(cell.read(), Read::Miss));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod builder;
mod cell;
mod clock;
mod config;
mod discover;
mod error;
pub mod job;
pub mod metrics;
mod store;
mod sync;
mod wait;

pub use api::{copy_request, ApiCall, Judgement};
pub use builder::{Driver, Parts, ProviderBuilder};
pub use cell::{Demand, Read, Ticket, TokenCell};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    process_key, CellBuilder, Limits, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_API_BODY_BYTES,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT,
};
pub use discover::{discover_async, discover_blocking};
pub use error::Error;
pub use job::{Failure, Job, Step};
pub use store::{
    same_token, AsyncTokenStore, Fingerprinting, MemoryStore, Offload, OffloadFuture, Offloaded,
    StoreLock, TokenStore,
};
pub use wait::JobFuture;

/// The core crate, re-exported so one dependency is enough.
pub use auth_core;
