//! A [tower] layer that puts apiauth tokens on the requests of any tower
//! HTTP client — tonic's gRPC channels, hyper's client, or your own stack —
//! and retries once with a new token when the server rejects one.
//!
//! [`AuthLayer`] takes an [`auth_reqwest::TokenProvider`] (the async driver:
//! tokens are fetched over reqwest, shared by every clone of the provider,
//! renewed ahead of expiry). Each request gets `Authorization: Bearer …`;
//! an HTTP 401 about the token, or gRPC `UNAUTHENTICATED`, invalidates that
//! token and sends the request once more with a new one when its body can
//! be replayed (see [`AuthLayer`] for exactly when).
//!
//! The inner service receives [`AuthBody<B>`] bodies. hyper's client takes
//! any body type; tonic's `Channel` wants its own, so map the body:
//!
//! ```ignore
//! let channel = tonic::transport::Endpoint::from_static("https://api.example.com")
//!     .connect_lazy();
//! let authorized = tower::ServiceBuilder::new()
//!     .layer(auth_tower::AuthLayer::new(provider))
//!     .map_request(|r: http::Request<auth_tower::AuthBody<tonic::body::Body>>| {
//!         r.map(tonic::body::Body::new)
//!     })
//!     .service(channel);
//! let mut client = my_proto::greeter_client::GreeterClient::new(authorized);
//! ```
//!
//! The README's tonic example is compiled and run by the tests
//! (`crates/auth-tower/tests/tonic.rs` holds the same code against a
//! loopback server).
//!
//! [tower]: https://docs.rs/tower

#![forbid(unsafe_code)]

mod layer;
mod replay;
mod response;

pub use layer::{AuthLayer, AuthService, ResponseFuture, DEFAULT_REPLAY_LIMIT};
pub use replay::AuthBody;
pub use response::AuthResponseBody;

/// A boxed error, as tower services commonly have.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a call through [`AuthService`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No token could be had: the driver's error says why and what to do.
    #[error(transparent)]
    Token(auth_reqwest::Error),
    /// The inner service failed (connection refused, timeout, …).
    #[error(transparent)]
    Service(BoxError),
}
