//! The provider: an [`auth_cell::TokenCell`] and the two things an async
//! driver does — send the cell's IO steps over reqwest, and wait on tokio's
//! timers for a ticket or a deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use auth_cell::{
    AsyncTokenStore, Demand, Driver, Job, Limits, Parts, ProviderBuilder, Read, StoreLock,
    TokenCell, TokenStore,
};
use auth_core::{CacheKey, ClientCredentials, Provider, Token};
use tracing::Instrument as _;

use crate::transport::{self, AuthTransport};
use crate::Error;

/// Gets, caches and renews one token; clone it freely (an `Arc` inside).
///
/// `token()` reads the cached token without taking any lock a fetch holds
/// and checks it against the clock every time; concurrent callers on a
/// cold cache share one request; the first read inside the refresh-ahead
/// window starts a refresh on a task while every caller keeps the valid
/// token. No caller waits longer than the wait limit, the first included.
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
        let token_client = match parts.token_client {
            Some(c) => c,
            None => transport::client(&parts.limits, false)?,
        };
        let token_url = parts.cell.provider().token_url().clone();
        let auth = AuthTransport::new(token_client, Some(&token_url), &parts.limits);
        let api_client = match parts.api_client {
            Some(c) => c,
            None => transport::client(&parts.limits, true)?,
        };
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
    /// caller. Never waits longer than the wait limit.
    pub async fn token(&self) -> Result<Arc<Token>, Error> {
        match self.inner.cell.read() {
            Read::Fresh(t) => Ok(t),
            Read::Refresh(t, job) => {
                self.inner.spawn(job);
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

    /// Follows the cell's answers within the wait limit. A job this caller
    /// gets runs inside its own future (no task hop on a cold read); out of
    /// time or cancelled, it leaves the rest — the request in flight
    /// included, resumed, not re-sent — to a task.
    async fn wait(&self, first: Demand) -> Result<Arc<Token>, Error> {
        let run = |job, left| {
            let mut inline = Inline(Some(Box::pin(run(Arc::clone(&self.inner), job))));
            async move { tokio::time::timeout(left, &mut inline).await.is_ok() }
        };
        self.inner
            .cell
            .wait_async(first, tokio::time::sleep, run)
            .await
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
            self.inner.spawn(job);
        }
    }

    /// The cache key of this provider's tokens.
    #[must_use]
    pub fn cache_key(&self) -> &CacheKey {
        self.inner.cell.key()
    }

    /// The dialect this provider speaks.
    #[must_use]
    pub fn provider(&self) -> &Provider {
        self.inner.cell.provider()
    }

    /// Where the machine is now (for status displays and tests).
    #[must_use]
    pub fn phase(&self) -> auth_core::Phase {
        self.inner.cell.phase()
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

impl Inner {
    /// Runs a job on a task. Called with no lock held (the cell's lock is
    /// its own and never held here), so a runtime that drops the task at
    /// once — it is shutting down — only makes the job report itself
    /// abandoned. Outside any runtime the job is dropped the same way.
    pub(crate) fn spawn(self: &Arc<Self>, job: Job) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(run(Arc::clone(self), job));
        }
    }
}

/// Performs a job's steps: the whole of the driver's IO. Store calls are
/// bounded by the request timeout.
async fn run(inner: Arc<Inner>, mut job: Job) {
    let mut guard: Option<StoreLock> = None;
    let (store, bound) = (inner.store.as_deref(), inner.limits.timeout);
    while let Some(step) = job.next_step() {
        let sleep = tokio::time::sleep;
        let Some(t) = job
            .perform_async(step, store, bound, sleep, &mut guard)
            .await
        else {
            continue;
        };
        let sent = inner
            .auth
            .send(t.request)
            .instrument(job.span().clone())
            .await;
        match sent {
            Ok(response) => job.handle_response(response),
            Err(f) => job.handle_transport_error(f.kind, &f.detail),
        }
    }
    drop(guard);
}

/// A job run inside the caller's future; dropped unfinished (the caller was
/// cancelled or timed out), it moves the rest of the job — the request in
/// flight included, resumed, not re-sent — to a task.
struct Inline(Option<Pin<Box<dyn Future<Output = ()> + Send>>>);

impl Future for Inline {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(fut) = self.0.as_mut() else {
            return Poll::Ready(());
        };
        let done = fut.as_mut().poll(cx);
        if done.is_ready() {
            self.0 = None;
        }
        done
    }
}

impl Drop for Inline {
    fn drop(&mut self) {
        if let (Some(fut), Ok(handle)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            handle.spawn(fut);
        }
    }
}

/// A blocking store (such as `auth_store::FileTokenStore`) for the async
/// driver: each call runs on tokio's blocking pool.
#[must_use]
pub fn blocking_store(store: Arc<dyn TokenStore>) -> Arc<dyn AsyncTokenStore> {
    Arc::new(BlockingStore(store))
}

struct BlockingStore(Arc<dyn TokenStore>);

impl BlockingStore {
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn TokenStore) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let store = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| Error::Store(format!("the store call did not finish: {e}")))?
    }
}

#[async_trait::async_trait]
impl AsyncTokenStore for BlockingStore {
    async fn load(&self, key: &CacheKey) -> Result<Option<auth_core::StoredToken>, Error> {
        let key = key.clone();
        self.call(move |s| s.load(&key)).await
    }

    async fn save(&self, key: &CacheKey, token: &auth_core::StoredToken) -> Result<(), Error> {
        let (key, token) = (key.clone(), token.clone());
        self.call(move |s| s.save(&key, &token)).await
    }

    async fn remove(&self, key: &CacheKey, rejected: &auth_core::StoredToken) -> Result<(), Error> {
        let (key, rejected) = (key.clone(), rejected.clone());
        self.call(move |s| s.remove(&key, &rejected)).await
    }

    async fn lock(&self, key: &CacheKey, wait: Duration) -> Result<Option<StoreLock>, Error> {
        let key = key.clone();
        self.call(move |s| s.lock(&key, wait)).await
    }
}
