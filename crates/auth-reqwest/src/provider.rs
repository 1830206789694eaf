//! The provider: an [`auth_cell::TokenCell`], its IO steps sent over
//! reqwest, its waits on tokio's timers.

use std::sync::Arc;
use std::time::Duration;

use auth_cell::{
    AsyncTokenStore, Demand, Driver, Job, JobFuture, Limits, Offload, OffloadFuture, Offloaded,
    Parts, ProviderBuilder, Read, TokenCell, TokenStore,
};
use auth_core::{ClientCredentials, Provider, Token};

use crate::transport::{self, AuthTransport};
use crate::Error;

/// Gets, caches and renews one token; clone it freely (an `Arc` inside).
/// See [`token`](Self::token) for what a read costs and promises.
#[derive(Clone)]
pub struct TokenProvider {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) cell: TokenCell,
    pub(crate) auth: AuthTransport,
    pub(crate) api_client: reqwest::Client,
    pub(crate) limits: Limits,
    store: Option<Arc<dyn AsyncTokenStore>>,
}

/// Configures a [`TokenProvider`]: the builder every apiauth driver shares
/// (see [`ProviderBuilder`] for every setting and default). Its clients are
/// `reqwest::Client`s; its store an [`AsyncTokenStore`] (a blocking one
/// through [`blocking_store`](crate::blocking_store)).
pub type TokenProviderBuilder = ProviderBuilder<TokenProvider>;

impl Driver for TokenProvider {
    type Client = reqwest::Client;
    type Store = dyn AsyncTokenStore;

    fn build(parts: Parts<Self>) -> Result<Self, Error> {
        let client =
            |given: Option<_>, api| given.map_or_else(|| transport::client(&parts.limits, api), Ok);
        let token_url = parts.cell.provider().token_url().clone();
        let token_client = client(parts.token_client, false)?;
        let auth = AuthTransport::new(token_client, Some(&token_url), &parts.limits);
        let api_client = client(parts.api_client, true)?;
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                cell: parts.cell,
                auth,
                api_client,
                limits: parts.limits,
                store: parts.store,
            }),
        })
    }
}

impl TokenProvider {
    /// Starts configuring a provider for `provider` and `credentials`.
    pub fn builder(
        provider: impl Into<Provider>,
        credentials: ClientCredentials,
    ) -> TokenProviderBuilder {
        ProviderBuilder::new(provider, credentials)
    }

    /// A usable token. Cached reads take no lock and read the clock; a cold
    /// or expired cache costs one request shared by every concurrent
    /// caller; the first read inside the refresh-ahead window starts a
    /// refresh on a task while every caller keeps the valid token. Never
    /// waits longer than the wait limit, the first caller included.
    pub async fn token(&self) -> Result<Arc<Token>, Error> {
        match self.inner.cell.read() {
            Read::Fresh(t) => Ok(t),
            Read::Refresh(t, job) => {
                self.run_detached(Some(job));
                Ok(t)
            }
            Read::Miss => self.wait(self.inner.cell.demand()).await,
        }
    }

    /// A token with at least `min` of its life left: a shorter-lived one
    /// is retired and a new one fetched (the shared store entry is left for
    /// the new token to replace).
    pub async fn token_valid_for(&self, min: Duration) -> Result<Arc<Token>, Error> {
        self.wait(self.inner.cell.demand_valid_for(min)).await
    }

    /// Follows the cell's answers within the wait limit (see
    /// [`TokenCell::wait_async`]: a job this caller gets runs in its future).
    async fn wait(&self, first: Demand) -> Result<Arc<Token>, Error> {
        let run = |job| -> JobFuture { Box::pin(run(Arc::clone(&self.inner), job)) };
        let cell = &self.inner.cell;
        cell.wait_async(first, tokio::time::sleep, run, spawn).await
    }

    /// The API rejected `token`: it is dropped and never handed out again,
    /// and a store entry still holding it is removed (on a task). The next
    /// [`token`](Self::token) fetches a new one.
    pub fn invalidate(&self, token: &Token) {
        self.run_detached(self.inner.cell.invalidate(token));
    }

    /// Runs a job the cell handed out (see [`auth_cell::Judgement`]), if
    /// any, on a task.
    pub fn run_detached(&self, job: Option<Job>) {
        if let Some(job) = job {
            spawn(Box::pin(run(Arc::clone(&self.inner), job)));
        }
    }

    /// The shared token cell under this provider.
    #[must_use]
    pub fn cell(&self) -> &TokenCell {
        &self.inner.cell
    }
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("cell", &self.inner.cell)
            .finish_non_exhaustive()
    }
}

/// Spawns a job's future. Called with no lock held (the cell's lock is its
/// own and never held here), so a runtime that drops the task at once — it
/// is shutting down — only makes the job report itself abandoned. Outside
/// any runtime the job is dropped the same way.
fn spawn(job: JobFuture) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(job);
    }
}

/// Performs a job's steps (see [`Job::run_async`]); store calls are
/// bounded by the request timeout.
async fn run(inner: Arc<Inner>, job: Job) {
    let (store, bound) = (inner.store.as_deref(), inner.limits.timeout);
    let send = |request| inner.auth.send(request);
    job.run_async(store, bound, tokio::time::sleep, send).await;
}

/// A blocking store (such as `auth_store::FileTokenStore`) for the async
/// driver: each call runs on tokio's blocking pool.
#[must_use]
pub fn blocking_store(store: Arc<dyn TokenStore>) -> Arc<dyn AsyncTokenStore> {
    Arc::new(Offloaded::new(store, BlockingPool))
}

struct BlockingPool;

impl Offload for BlockingPool {
    fn offload<T: Send + 'static>(&self, work: Box<dyn FnOnce() -> T + Send>) -> OffloadFuture<T> {
        let task = tokio::task::spawn_blocking(work);
        Box::pin(async { task.await.map_err(|e| e.to_string()) })
    }
}
