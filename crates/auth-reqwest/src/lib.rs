#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod discovery;
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
pub use discovery::discover;
pub use markable::SearchTokenProvider;
#[cfg(feature = "middleware")]
pub use middleware::AuthMiddleware;
pub use openverse::{register, register_with_client};
pub use provider::{blocking_store, TokenProvider, TokenProviderBuilder};

/// The cell and core crates, re-exported so one dependency is enough.
pub use {auth_cell, auth_core};
