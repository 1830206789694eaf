//! [`TokenProvider`]: an [`auth_cell::TokenCell`], its IO steps performed
//! over ureq on the calling thread (or a short-lived one). No runtime.

use std::fmt;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use auth_cell::{
    Demand, Driver, Job, Parts, ProviderBuilder, Read, StoreLock, TokenCell, TokenStore,
};
use auth_core::{ClientCredentials, Provider, Token};

use crate::transport::{agent, Transport};
use crate::Error;

/// Gets, caches and renews one access token (one provider, client and
/// scope set) for any number of threads.
///
/// Cheap to clone: clones share the token, the cache and the connection
/// pool. See the [crate example](crate).
#[derive(Clone)]
pub struct TokenProvider {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) cell: TokenCell,
    pub(crate) auth: Transport,
    pub(crate) api: Transport,
    store: Option<Arc<dyn TokenStore>>,
    /// A caller with less time left hands its request to a thread.
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
        let auth = parts.token_client.unwrap_or_else(|| agent(l));
        let api = parts.api_client.unwrap_or_else(|| agent(l));
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                auth: Transport::new(auth, l.max_body_bytes, true),
                api: Transport::new(api, l.max_api_body_bytes, false),
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
                if let Some((job, lock)) = self.inner.in_background(job, None) {
                    self.inner.run(job, None, lock);
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
        let run = |job, left| self.inner.run(job, Some(Instant::now() + left), None);
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
            self.inner.run(job, None, None);
        }
    }

    /// The shared token cell under this provider.
    #[must_use]
    pub fn cell(&self) -> &TokenCell {
        &self.inner.cell
    }
}

impl Inner {
    /// Performs a job's steps on this thread (see [`Job::run_blocking`]):
    /// with a `deadline`, a request that would not fit moves to a thread.
    fn run(self: &Arc<Self>, job: Job, deadline: Option<Instant>, lock: Option<StoreLock>) {
        let send = |request, within| self.auth.exchange(request, within);
        let store = self.store.as_deref();
        let elsewhere = |job, lock| self.in_background(job, lock);
        job.run_blocking(lock, store, deadline, self.timeout, send, elsewhere);
    }

    /// Runs `job` (with the store lock it holds) on a short-lived thread so
    /// no caller waits for it. Hands both back when no thread can start.
    fn in_background(self: &Arc<Self>, job: Job, lock: Option<StoreLock>) -> Option<Handed> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Handed>(1);
        let inner = Arc::clone(self);
        // Logs of the work go where the caller's logs go.
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let spawned = thread::Builder::new()
            .name("apiauth-fetch".to_owned())
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    if let Ok((job, lock)) = rx.recv() {
                        inner.run(job, None, lock);
                    }
                });
            });
        // Sent, not moved in: if no thread starts, nothing is lost.
        match spawned {
            Ok(_) => tx.send((job, lock)).err().map(|e| e.0),
            Err(_) => Some((job, lock)),
        }
    }
}

/// A job and its store lock, handed to another thread.
type Handed = (Job, Option<StoreLock>);

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("cell", &self.inner.cell)
            .finish_non_exhaustive()
    }
}
