#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod discovery;
mod markable;
mod openverse;
mod provider;
mod transport;

pub use auth_cell::{
    Error, ManualClock, MemoryStore, ProviderBuilder, TokenStore, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_API_BODY_BYTES, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT,
};
pub use discovery::discover;
pub use markable::SearchTokenProvider;
pub use openverse::{register, register_with_agent};
pub use provider::{TokenProvider, TokenProviderBuilder};

/// The cell and core crates, re-exported so one dependency is enough.
pub use {auth_cell, auth_core};
