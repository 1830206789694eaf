//! A local server that speaks the three token schemes of apiauth — the CC
//! Catalog / Openverse API, the Markable Lens API and plain RFC 6749 client
//! credentials — and can be told to misbehave.
//!
//! It exists because a token client cannot be tested against the real
//! services offline, and the real services cannot be made to fail on
//! purpose. It is the independent "server side": it shares no code with
//! `auth-core`, so a bug in one is not mirrored in the other.
//!
//! In scope:
//! - every endpoint of the three schemes with the real success and error
//!   shapes (see `docs/emulator.md` for the full list);
//! - both generations of the Openverse server ([`OpenverseFlavour`]): the
//!   seed's CC Catalog API and today's Openverse, with their routes, status
//!   codes, bodies and headers as read from their public code;
//! - Openverse self-registration with an inspectable outbox, email
//!   verification and DRF throttles ([`Throttles`], on by default with the
//!   real values) with `X-RateLimit-*` headers;
//! - the Markable Lens API on a second listener, a host apart from its
//!   authorization server ([`Control::markable_api_url`]);
//! - plain OAuth 2.0 varieties ([`OAuth2Variety`]): lowercase `bearer`, an
//!   omitted `scope`, a narrowed scope;
//! - `private_key_jwt` clients ([`ClientSpec::oauth2_with_key`],
//!   [`demo::OAUTH2_JWT_CLIENT_ID`]) whose assertions the emulator verifies
//!   with its own code (signature, `aud`, `exp`, lifetime, `jti` replay);
//! - discovery documents (RFC 8414, OpenID Connect Discovery) for the OAuth
//!   2.0 server, each switchable ([`DiscoveryDocs`]);
//! - fault injection per endpoint ([`Fault`], [`FaultPlan`]): latency,
//!   5xx, 429, TCP resets, truncated / slow / huge / non-JSON / HTML bodies,
//!   wrong `Content-Type`, redirects, malformed token responses;
//! - counters, including the most token requests in flight at once;
//! - control from async code ([`Emulator`]), from plain synchronous code
//!   with no runtime ([`BlockingEmulator`]) and over HTTP under
//!   `/_emulator/`.
//!
//! Out of scope: TLS, persistence, and any listening address other than
//! loopback — [`EmulatorError::NonLoopback`] refuses the rest.
//!
//! Time: token expiry and throttle windows use [`std::time::Instant`].
//! Tests can use one-second lifetimes, [`Control::expire_tokens`],
//! [`Control::reset_rate_limits`], small [`Rate`]s or [`Throttles::off`]
//! instead of sleeping.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use auth_emulator::{demo, Emulator, EmulatorConfig, Endpoint, Fault, FaultPlan, Scheme};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = Emulator::start(EmulatorConfig::default()).await?;
//! emu.set_lifetime(Scheme::Oauth2, Duration::from_secs(1))?;
//! // The next token request gets a 503 with Retry-After: 1.
//! emu.add_fault(FaultPlan::next(
//!     Endpoint::Oauth2Token,
//!     Fault::ServerError { status: 503, retry_after_secs: Some(1) },
//!     1,
//! ))?;
//! let token_url = emu.url("/oauth2/token");
//! // … point a client at `token_url` with demo::OAUTH2_CLIENT_ID / _SECRET …
//! # let _ = (token_url, demo::OAUTH2_CLIENT_ID);
//! assert_eq!(emu.counters().token_total(Scheme::Oauth2), 0);
//! # Ok(()) }
//! ```
//!
//! From a plain `#[test]` with no runtime:
//!
//! ```
//! use auth_emulator::{BlockingEmulator, EmulatorConfig};
//!
//! let emu = BlockingEmulator::start(EmulatorConfig::default()).unwrap();
//! assert!(emu.base_url().starts_with("http://127.0.0.1:"));
//! assert!(emu.outbox().is_empty());
//! // Dropping `emu` stops the server and its thread.
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod admin;
mod config;
mod conn;
mod control;
mod discovery;
mod error;
mod fault;
mod jwt;
mod markable;
mod oauth2;
mod openverse;
mod reply;
mod server;
mod state;
mod throttle;
mod wire;

use std::ops::Deref;
use std::thread;

use tokio::sync::oneshot;

pub use config::{
    demo, ClientSpec, DiscoveryDocs, EmulatorConfig, Lifetimes, OAuth2Methods, OAuth2Variety,
    OpenverseFlavour, Period, Rate, RateLimitModel, Scheme, Throttles,
};
pub use control::{ConfigPatch, Control};
pub use error::EmulatorError;
pub use fault::{Endpoint, Fault, FaultPlan, Times};
pub use state::{Counters, Email, TokenCounters};

/// A running emulator inside the caller's tokio runtime.
///
/// Derefs to [`Control`] for every steering method. Dropping it stops
/// accepting connections; requests already being served finish.
#[derive(Debug)]
pub struct Emulator {
    control: Control,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Binds `config.addr` and the Markable API address (loopback only) and
    /// starts serving on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let bound = server::bind(&config).await?;
        let shared = bound.shared.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(bound, async {
            // A dropped sender means the same as a sent one: stop.
            let _ = rx.await;
        }));
        Ok(Emulator {
            control: Control::new(shared),
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Starts an emulator on its own runtime thread; see [`BlockingEmulator`].
    pub fn start_blocking(config: EmulatorConfig) -> Result<BlockingEmulator, EmulatorError> {
        BlockingEmulator::start(config)
    }

    /// A control handle that outlives borrows of `self`.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Stops accepting connections and waits until in-flight requests are done.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "auth-emulator task ended abnormally");
            }
        }
    }
}

impl Deref for Emulator {
    type Target = Control;

    fn deref(&self) -> &Control {
        &self.control
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A running emulator on a background thread with its own tokio runtime,
/// for blocking clients and tests that have no runtime.
///
/// Derefs to [`Control`]. Dropping it stops the runtime, which closes every
/// connection at once, and joins the thread.
#[derive(Debug)]
pub struct BlockingEmulator {
    control: Control,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl BlockingEmulator {
    /// Starts the emulator and returns once it is listening.
    pub fn start(config: EmulatorConfig) -> Result<BlockingEmulator, EmulatorError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("auth-emulator".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(EmulatorError::Runtime(e.to_string())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match server::bind(&config).await {
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                        Ok(bound) => {
                            let _ = ready_tx.send(Ok(bound.shared.clone()));
                            tokio::spawn(server::serve(bound, std::future::pending()));
                            let _ = stop_rx.await;
                        }
                    }
                });
                // Dropping the runtime here cancels the server and every
                // connection task, however busy.
            })
            .map_err(|e| EmulatorError::Runtime(e.to_string()))?;
        let shared = match ready_rx.recv() {
            Ok(Ok(shared)) => shared,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(EmulatorError::Runtime(
                    "emulator thread exited before it was ready".to_owned(),
                ));
            }
        };
        Ok(BlockingEmulator {
            control: Control::new(shared),
            shutdown: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// A control handle that outlives borrows of `self`.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Stops the server and joins its thread (the same as dropping).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Deref for BlockingEmulator {
    type Target = Control;

    fn deref(&self) -> &Control {
        &self.control
    }
}

impl Drop for BlockingEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!("auth-emulator thread panicked");
            }
        }
    }
}
