//! [`TokenProvider`]: an [`auth_cell::TokenCell`] and the two things a
//! blocking driver does — perform the cell's IO steps over ureq on the
//! calling thread, and park the thread until a ticket moves or a deadline
//! passes. No async runtime anywhere.

use std::fmt;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use auth_cell::{
    Demand, Driver, Job, Parts, ProviderBuilder, Read, StoreLock, TokenCell, TokenStore,
};
use auth_core::{CacheKey, ClientCredentials, Provider, Token, Transmit};

use crate::transport::Transport;
use crate::Error;

/// Gets, caches and renews one access token (one provider, client and
/// scope set) for any number of threads.
///
/// Cheap to clone: clones share the token, the cache and the connection pool.
///
/// ```no_run
/// use auth_core::{ClientAuth, ClientCredentials, OAuth2};
/// use auth_ureq::TokenProvider;
///
/// let provider = OAuth2::new("https://auth.example.com/oauth2/token", ClientAuth::Basic)?;
/// let credentials = ClientCredentials::new("my-client", "my-secret")?;
/// let tokens = TokenProvider::builder(provider, credentials)
///     .scopes("read".parse()?)
///     .build()?;
/// let request = http::Request::get("https://api.example.com/things").body(Vec::new())?;
/// let response = tokens.send(request)?;
/// println!("HTTP {}", response.status());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TokenProvider {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) cell: TokenCell,
    pub(crate) auth: Transport,
    pub(crate) api: Transport,
    store: Option<Arc<dyn TokenStore>>,
    /// The request timeout: a caller with less time left hands its request
    /// to a thread rather than cutting it short.
    timeout: Duration,
}

/// Configures a [`TokenProvider`]: the builder every apiauth driver shares
/// (see [`ProviderBuilder`] for every setting and default). Its clients are
/// `ureq::Agent`s; its store a blocking [`TokenStore`].
pub type TokenProviderBuilder = ProviderBuilder<TokenProvider>;

impl Driver for TokenProvider {
    type Client = ureq::Agent;
    type Store = dyn TokenStore;

    fn build(parts: Parts<Self>) -> Result<Self, Error> {
        let l = &parts.limits;
        let auth = match parts.token_client {
            Some(agent) => Transport::for_auth_with(agent, l.max_body_bytes),
            None => Transport::for_auth(l.connect_timeout, l.timeout, l.max_body_bytes),
        };
        let api_agent = parts
            .api_client
            .unwrap_or_else(|| Transport::default_api_agent(l.connect_timeout, l.timeout));
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                api: Transport::for_api(api_agent, l.max_api_body_bytes),
                auth,
                cell: parts.cell,
                store: parts.store,
                timeout: l.timeout,
            }),
        })
    }
}

impl TokenProvider {
    /// Starts configuring a provider for `provider` (an [`auth_core::OAuth2`],
    /// [`auth_core::Openverse`] or [`auth_core::Markable`]) and `credentials`.
    pub fn builder(
        provider: impl Into<Provider>,
        credentials: ClientCredentials,
    ) -> TokenProviderBuilder {
        ProviderBuilder::new(provider, credentials)
    }

    /// A usable token, fetching one if needed.
    ///
    /// Fast when a token is cached: one atomic load and one clock read, no
    /// lock. Threads that find no usable token share one fetch, sent by one
    /// of them. Inside the refresh-ahead window the first reader starts the
    /// refresh on a short-lived thread and, like every other caller, keeps
    /// the still-valid token. Never blocks longer than the wait limit, the
    /// request this caller sends itself included.
    pub fn token(&self) -> Result<Arc<Token>, Error> {
        match self.inner.cell.read() {
            Read::Fresh(t) => Ok(t),
            Read::Refresh(t, job) => {
                if let Some((job, _)) = self.inner.in_background(job, None) {
                    self.inner.run(job, None);
                }
                Ok(t)
            }
            Read::Miss => self.wait(self.inner.cell.demand()),
        }
    }

    /// A token with at least `min` of its life left: a shorter-lived one
    /// is retired and a new one fetched (the shared store entry is left for
    /// the new token to replace).
    pub fn token_valid_for(&self, min: Duration) -> Result<Arc<Token>, Error> {
        self.wait(self.inner.cell.demand_valid_for(min))
    }

    /// Follows the cell's answers within the wait limit; a job this caller
    /// gets runs on its thread (see [`Inner::run`]).
    fn wait(&self, first: Demand) -> Result<Arc<Token>, Error> {
        let run = |job, left| self.inner.run(job, Some(Instant::now() + left));
        self.inner.cell.wait_blocking(first, run)
    }

    /// Tells the provider the API rejected `token`: it is never handed out
    /// again, a store entry still holding it is removed (on this thread),
    /// and the next [`token`](Self::token) fetches a new one.
    pub fn invalidate(&self, token: &Token) {
        self.run_detached(self.inner.cell.invalidate(token));
    }

    /// Runs a job the cell handed out (see [`auth_cell::Judgement`]), if
    /// any, on this thread.
    pub fn run_detached(&self, job: Option<Job>) {
        if let Some(job) = job {
            self.inner.run(job, None);
        }
    }

    /// The provider dialect and endpoint this provider talks to.
    #[must_use]
    pub fn provider(&self) -> &Provider {
        self.inner.cell.provider()
    }

    /// Where the machine is now (for status displays and tests).
    #[must_use]
    pub fn phase(&self) -> auth_core::Phase {
        self.inner.cell.phase()
    }

    /// The key under which tokens are stored.
    #[must_use]
    pub fn cache_key(&self) -> &CacheKey {
        self.inner.cell.key()
    }

    /// The shared token cell under this provider.
    #[must_use]
    pub fn cell(&self) -> &TokenCell {
        &self.inner.cell
    }
}

impl Inner {
    /// Performs a job's steps on this thread. With a `deadline` (a caller
    /// running its own demand), the store lock wait is cut to what is left;
    /// a request that would not fit in it moves, with the rest of the job,
    /// to a short-lived thread where it gets its full timeout (and serves
    /// the next callers), while this caller waits out what it has left.
    fn run(self: &Arc<Self>, mut job: Job, deadline: Option<Instant>) {
        let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let mut guard: Option<StoreLock> = None;
        while let Some(step) = job.next_step() {
            let store = self.store.as_deref();
            let Some(t) = job.perform_blocking(step, store, left(), &mut guard) else {
                continue;
            };
            if left().is_none_or(|l| l >= self.timeout) {
                self.send(&mut job, t, None);
                continue;
            }
            match self.in_background(job, Some(t)) {
                None => return, // the guard goes with this frame: unlocked
                Some((back, t)) => {
                    job = back;
                    if let Some(t) = t {
                        self.send(&mut job, t, left());
                    }
                }
            }
        }
        drop(guard);
    }

    /// Sends one token request (within `within`, when given) and reports it.
    fn send(&self, job: &mut Job, t: Transmit, within: Option<Duration>) {
        let span = job.span().clone();
        match span.in_scope(|| self.auth.exchange_within(t.request, within)) {
            Ok(response) => job.handle_response(response),
            Err(f) => job.handle_transport_error(f.kind, &f.detail),
        }
    }

    /// Runs `job` (after sending `pending`) on a short-lived thread so no
    /// caller waits for it. Hands both back when no thread can be started.
    fn in_background(
        self: &Arc<Self>,
        job: Job,
        pending: Option<Transmit>,
    ) -> Option<(Job, Option<Transmit>)> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Job, Option<Transmit>)>(1);
        let inner = Arc::clone(self);
        // Logs of the work go where the caller's logs go.
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let spawned = thread::Builder::new()
            .name("apiauth-fetch".to_owned())
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    if let Ok((mut job, pending)) = rx.recv() {
                        if let Some(t) = pending {
                            inner.send(&mut job, t, None);
                        }
                        inner.run(job, None);
                    }
                });
            });
        // A channel rather than a move into the closure: if the thread does
        // not start, the job comes back here and is not lost.
        match spawned {
            Ok(_) => tx.send((job, pending)).err().map(|e| e.0),
            Err(_) => Some((job, pending)),
        }
    }
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("cell", &self.inner.cell)
            .finish_non_exhaustive()
    }
}
