use std::net::SocketAddr;

use crate::config::Scheme;

/// Everything that can go wrong when starting or steering an emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The configured address is not a loopback address; the emulator only
    /// ever listens on 127.0.0.0/8 or `::1` so that it cannot be reached from
    /// another machine.
    #[error("refusing to bind non-loopback address {0}")]
    NonLoopback(SocketAddr),
    /// The listening socket could not be opened.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The background runtime of a [`BlockingEmulator`](crate::BlockingEmulator)
    /// could not be created or died before reporting its address.
    #[error("emulator runtime failed: {0}")]
    Runtime(String),
    /// A fault plan that cannot apply, e.g. a token-shape fault on an
    /// endpoint that issues no tokens, or a fraction outside `0..=1`.
    #[error("invalid fault plan: {0}")]
    InvalidFault(String),
    /// A configuration value out of range, e.g. a token lifetime under one second.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// No client with this id is registered for the scheme.
    #[error("unknown {scheme} client {client_id}")]
    UnknownClient {
        /// The scheme that was searched.
        scheme: Scheme,
        /// The id that was not found.
        client_id: String,
    },
}
