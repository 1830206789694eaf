//! # auth-ureq: API access tokens for blocking Rust
//!
//! Gets, caches and renews client-credentials access tokens (RFC 6749
//! §4.4, CC Catalog / Openverse, Markable Lens) for scripts and blocking
//! programs, over [ureq](https://docs.rs/ureq) with rustls. No async
//! runtime is involved.
//!
//! Every decision — what to send, how to read the answer, when to refresh,
//! how long to back off — is made by [`auth_core`]'s sans-IO
//! [`TokenSource`](auth_core::TokenSource), shared between threads by the
//! [`auth_cell::TokenCell`] that the async driver uses too. This crate only
//! moves bytes and waits: it performs the cell's IO steps, hands back every
//! response unchanged, and parks threads until their turn.
//!
//! In scope: a thread-safe [`TokenProvider`] (lock-free cached reads, one
//! shared fetch for concurrent callers, refresh ahead of expiry, backoff
//! waits), authorized API calls with one retry on a rejected token
//! ([`TokenProvider::send`]), Openverse [`register`] and
//! [`TokenProvider::key_status`], Markable's publishable
//! [`SearchTokenProvider`], and pluggable persistent caches ([`TokenStore`]).
//!
//! Out of scope: async (see `auth-reqwest`), a long-lived background
//! thread (a refresh runs on a short-lived thread started by the first
//! caller that finds it due; no caller, no refresh), file stores.
//!
//! ## Example
//!
//! ```
//! use auth_core::{ClientAuth, ClientCredentials, OAuth2};
//! use auth_emulator::{demo, BlockingEmulator, EmulatorConfig};
//! use auth_ureq::TokenProvider;
//!
//! let emulator = BlockingEmulator::start(EmulatorConfig::default())?;
//! let provider = OAuth2::new(&emulator.url("/oauth2/token"), ClientAuth::Basic)?;
//! let credentials = ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET)?;
//! let tokens = TokenProvider::builder(provider, credentials)
//!     .scopes("read".parse()?)
//!     .build()?;
//!
//! // The first call fetches, later ones read the cache.
//! let token = tokens.token()?;
//! assert_eq!(format!("{:?}", token.access_token()), "[redacted]");
//!
//! // Authorized API calls; a 401 renews the token and retries once.
//! let request = http::Request::get(emulator.url("/oauth2/resource")).body(Vec::new())?;
//! let response = tokens.send(request)?;
//! assert_eq!(response.status(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Transport rules
//!
//! Token, registration and key-status requests go through an agent this
//! crate configures, whatever agent is given for API calls:
//!
//! - redirects are never followed: a 3xx reaches the core, which reports it
//!   as [`auth_core::Error::UnexpectedStatus`] with its `Location`;
//! - every status is handed to the core unchanged (4xx/5xx bodies carry the
//!   RFC 6749 §5.2 error);
//! - response bodies are capped (64 KiB by default); past the cap the
//!   request fails with [`auth_core::TransportErrorKind::BodyTooLarge`] —
//!   the cap is enforced while reading, `Content-Length` is not trusted;
//! - a connect timeout (10 s) and a total timeout (30 s, body included);
//! - TLS by rustls with the webpki roots; plain `http://` is refused by the
//!   core's provider constructors except to loopback;
//! - transport failures are sorted into connect, timeout, reset, body, TLS
//!   for the core's backoff; descriptions never hold a secret;
//! - each token request runs in a `tracing` span `apiauth.fetch` with the
//!   provider, client id, URL, status and elapsed time — never a secret.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod markable;
mod openverse;
mod provider;
mod transport;

pub use auth_cell::{
    Error, ManualClock, MemoryStore, ProviderBuilder, TokenStore, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_API_BODY_BYTES, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT,
};
pub use markable::SearchTokenProvider;
pub use openverse::{register, register_with_agent};
pub use provider::{TokenProvider, TokenProviderBuilder};

/// The cell and core crates, re-exported so one dependency is enough.
pub use {auth_cell, auth_core};
