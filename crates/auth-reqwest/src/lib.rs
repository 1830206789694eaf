//! # auth-reqwest: API tokens for async services
//!
//! Runs [`auth_core`]'s token machine over reqwest and tokio. The driver
//! decides nothing: it sends the requests the machine asks for, wakes it at
//! its deadlines, and publishes each new token to a lock-free cache.
//!
//! - [`TokenProvider::token`] — a valid token; cached reads take no lock,
//!   concurrent callers on a cold cache share one request, and a background
//!   task refreshes ahead of expiry so no caller waits while a valid token
//!   exists.
//! - [`TokenProvider::send`] — an authorized request, retried once with a
//!   fresh token when the API rejects the old one.
//! - [`register`] and [`TokenProvider::key_status`] for CC Catalog /
//!   Openverse; [`SearchTokenProvider`] for Markable's publishable tokens.
//! - [`AsyncTokenStore`] (or a blocking [`TokenStore`]) to keep tokens
//!   beyond the process.
//!
//! Everything besides sending and waiting — the lock-free cache, single
//! flight, store order, the retry-once rule, the builder checks — lives in
//! [`auth_cell`], shared with the blocking driver `auth-ureq`.
//!
//! Token requests never follow redirects, cap response bodies (64 KiB by
//! default), time out (10 s connect, 30 s total) and use rustls.
//!
//! ```
//! use auth_core::{ClientAuth, ClientCredentials, OAuth2};
//! use auth_emulator::{demo, Emulator, EmulatorConfig};
//! use auth_reqwest::TokenProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = Emulator::start(EmulatorConfig::default()).await?;
//! let provider = TokenProvider::builder(
//!     OAuth2::new(&emulator.url("/oauth2/token"), ClientAuth::Basic)?,
//!     ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET)?,
//! )
//! .scopes("read".parse()?)
//! .build()?;
//!
//! let token = provider.token().await?;          // one request
//! let again = provider.token().await?;          // from the cache
//! assert_eq!(token.id(), again.id());
//!
//! let request = reqwest::Client::new().get(emulator.url("/oauth2/resource")).build()?;
//! let response = provider.send(request).await?; // authorized, 401-retried
//! assert!(response.status().is_success());
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod markable;
#[cfg(feature = "middleware")]
mod middleware;
mod openverse;
mod provider;
mod transport;

pub use auth_cell::{
    AsyncTokenStore, Error, ManualClock, MemoryStore, ProviderBuilder, TokenStore,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT,
};
pub use markable::SearchTokenProvider;
#[cfg(feature = "middleware")]
pub use middleware::AuthMiddleware;
pub use openverse::register;
pub use provider::{blocking_store, TokenProvider, TokenProviderBuilder};

/// The cell and core crates, re-exported so one dependency is enough.
pub use {auth_cell, auth_core};
