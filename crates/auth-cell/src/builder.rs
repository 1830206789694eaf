//! The one builder both drivers hand out: every setting, default and check
//! is written here once; a driver only says how to build its provider from
//! the checked [`Parts`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{ClientCredentials, Provider, RefreshPolicy, RejectionPolicy, Scopes};

use crate::clock::Clock;
use crate::config::{CellBuilder, Limits};
use crate::{Error, Fingerprinting, TokenCell};

/// A transport that builds providers on a [`TokenCell`]. Implemented by
/// each driver's provider type.
pub trait Driver: Sized {
    /// The HTTP client the driver sends with (`ureq::Agent`,
    /// `reqwest::Client`).
    type Client;
    /// The store trait object the driver performs store steps on.
    type Store: ?Sized + Fingerprinting + Send + Sync;

    /// Builds a provider from checked parts.
    fn build(parts: Parts<Self>) -> Result<Self, Error>;
}

/// What [`ProviderBuilder`] hands a driver once everything is checked.
#[non_exhaustive]
pub struct Parts<D: Driver> {
    /// The cell, built and checked.
    pub cell: TokenCell,
    /// Transport limits, checked.
    pub limits: Limits,
    /// The client for API calls, if the caller gave one.
    pub api_client: Option<D::Client>,
    /// The client for token requests, if the caller gave one.
    pub token_client: Option<D::Client>,
    /// The store, if any.
    pub store: Option<Arc<D::Store>>,
}

/// Configures a provider of driver `D`; see each driver's
/// `TokenProvider::builder`.
///
/// | setting | default |
/// |---|---|
/// | [`scopes`](Self::scopes) | none (the server's default; Markable: `default`) |
/// | [`policy`](Self::policy) | [`RefreshPolicy::default()`] |
/// | [`connect_timeout`](Self::connect_timeout) | 10 s |
/// | [`timeout`](Self::timeout) | 30 s, total per request including the body |
/// | [`max_body_bytes`](Self::max_body_bytes) | 64 KiB (token, registration and key-status bodies) |
/// | [`max_api_body_bytes`](Self::max_api_body_bytes) | 10 MiB (API bodies a driver reads itself) |
/// | [`api_client`](Self::api_client) | one with the timeouts above, for API calls |
/// | [`token_client`](Self::token_client) | apiauth's own: no redirects, rustls, the timeouts above |
/// | [`store`](Self::store) | none: the in-memory cache only |
/// | [`seed`](Self::seed) | from the clock, the process id and a counter |
/// | [`wait_limit`](Self::wait_limit) | `(waiting_retries + 1) × (timeout + max_wait)` |
/// | [`rejection`](Self::rejection) | the provider's [`Provider::default_rejection`] |
/// | [`clock`](Self::clock) | the system clocks |
#[must_use]
pub struct ProviderBuilder<D: Driver> {
    cell: CellBuilder,
    limits: Limits,
    api_client: Option<D::Client>,
    token_client: Option<D::Client>,
    store: Option<Arc<D::Store>>,
}

impl<D: Driver> ProviderBuilder<D> {
    /// A builder for `provider` and `credentials` with every default.
    pub fn new(provider: impl Into<Provider>, credentials: ClientCredentials) -> Self {
        Self {
            cell: CellBuilder::new(provider.into(), credentials),
            limits: Limits::default(),
            api_client: None,
            token_client: None,
            store: None,
        }
    }

    /// The scopes to ask for; checked against the provider by
    /// [`build`](Self::build) (Markable takes one of `default`, `search`).
    pub fn scopes(self, scopes: Scopes) -> Self {
        self.cell(|c| c.scopes(scopes))
    }

    /// When to refresh and how to retry; see [`RefreshPolicy`].
    pub fn policy(self, policy: RefreshPolicy) -> Self {
        self.cell(|c| c.policy(policy))
    }

    /// Seed of the refresh and backoff jitter, and of `private_key_jwt`
    /// assertion ids; give each process its own (see [`CellBuilder::seed`](crate::CellBuilder::seed)).
    pub fn seed(self, seed: u64) -> Self {
        self.cell(|c| c.seed(seed))
    }

    /// The longest any caller waits for a token, the one sending the
    /// request included (the store lock wait and its request are cut to it).
    pub fn wait_limit(self, limit: Duration) -> Self {
        self.cell(|c| c.wait_limit(limit))
    }

    /// The clock every decision reads (tests pass a [`crate::ManualClock`]).
    pub fn clock(self, clock: Arc<dyn Clock>) -> Self {
        self.cell(|c| c.clock(clock))
    }

    /// Which API answers reject a token.
    pub fn rejection(self, rejection: RejectionPolicy) -> Self {
        self.cell(|c| c.rejection(rejection))
    }

    /// Connect timeout of every request.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.limits.connect_timeout = timeout;
        self
    }

    /// Total timeout of one request: connect, send, headers and body.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = timeout;
        self
    }

    /// Largest token-endpoint (registration, key-status) body read; a
    /// larger one fails with `BodyTooLarge`. At least 1 KiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_body_bytes = bytes;
        self
    }

    /// Largest API body a driver reads itself (the blocking `send`; the
    /// async `send` hands the body back unread).
    pub fn max_api_body_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_api_body_bytes = bytes;
        self
    }

    /// The client for API calls made through the provider's `send`.
    pub fn api_client(mut self, client: D::Client) -> Self {
        self.api_client = Some(client);
        self
    }

    /// Replaces the client for token requests (a proxy, custom TLS roots).
    /// The driver still refuses redirects per request where its client
    /// allows; a client you pass must not follow them, or a redirect could
    /// carry the secret elsewhere.
    pub fn token_client(mut self, client: D::Client) -> Self {
        self.token_client = Some(client);
        self
    }

    /// A persistent cache shared with other providers or processes.
    pub fn store(mut self, store: Arc<D::Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Checks the configuration and builds the provider. No request is made.
    pub fn build(self) -> Result<D, Error> {
        D::build(self.into_parts(false)?)
    }

    /// Checks everything and hands back the parts. With `search`, the
    /// provider must be Markable and the scope is `search` (other scopes
    /// are refused, not replaced): the parts of a publishable-token provider.
    pub fn into_parts(self, search: bool) -> Result<Parts<D>, Error> {
        let has_store = self.store.is_some();
        let mut cell = self.cell;
        if let Some(key) = self
            .store
            .as_deref()
            .and_then(Fingerprinting::fingerprint_key)
        {
            cell = cell.fingerprint_key(key);
        }
        let cell = if search {
            cell.build_search(&self.limits, has_store)?
        } else {
            cell.build(&self.limits, has_store)?
        };
        Ok(Parts {
            cell,
            limits: self.limits,
            api_client: self.api_client,
            token_client: self.token_client,
            store: self.store,
        })
    }

    fn cell(mut self, f: impl FnOnce(CellBuilder) -> CellBuilder) -> Self {
        self.cell = f(self.cell);
        self
    }
}

impl<D: Driver> fmt::Debug for ProviderBuilder<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderBuilder")
            .field("cell", &self.cell)
            .field("limits", &self.limits)
            .field("api_client", &self.api_client.is_some())
            .field("token_client", &self.token_client.is_some())
            .field("store", &self.store.is_some())
            .finish()
    }
}
