//! The provider: the core's machine behind a mutex, the current token behind
//! an atomically swapped pointer, and tasks that send requests and wake up
//! at the machine's deadlines.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use auth_core::{
    CacheKey, ClientCredentials, Event, Provider, RefreshPolicy, Scopes, StoredToken, Token,
    TokenSource, Transmit, TransportErrorKind,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::store::TokenStore;
use crate::transport::{self, Limits};
use crate::Error;

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout per request, body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a response body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Gets, caches and renews one token; clone it freely (an `Arc` inside).
///
/// `token()` reads the cached token without taking any lock a fetch holds;
/// concurrent callers on a cold cache share one request; a background task
/// refreshes ahead of expiry so callers never wait while a valid token
/// exists. Dropping the last clone stops the background task.
#[derive(Clone)]
pub struct TokenProvider {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The hot path: the current token, swapped atomically.
    cache: ArcSwapOption<Token>,
    state: Mutex<State>,
    /// The latest outcome for waiting callers: a token or the error that
    /// ends their wait.
    outcome: watch::Sender<Option<Result<Arc<Token>, auth_core::Error>>>,
    pub(crate) token_client: reqwest::Client,
    pub(crate) api_client: reqwest::Client,
    pub(crate) limits: Limits,
    store: Option<Arc<dyn TokenStore>>,
    key: CacheKey,
    client_id: String,
    wait_limit: Duration,
    pub(crate) rate_limits: Mutex<Option<auth_core::RateLimits>>,
    /// Non-zero (the timer's generation) while a live timer task will wake
    /// no later than the cached token's `usable_until` and clear it.
    expiry_watch: AtomicU64,
    timer_generation: AtomicU64,
    /// Set while the machine waits for a token callers demanded.
    demand_pending: AtomicBool,
}

struct State {
    machine: TokenSource,
    /// The wake-up task for the machine's next deadline, and its generation.
    timer: Option<(Instant, JoinHandle<()>, u64)>,
    /// Whether the store was read yet (only a cold start reads it).
    store_checked: bool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(state) = self.state.get_mut() {
            if let Some((_, task, _)) = state.timer.take() {
                task.abort();
            }
        }
    }
}

/// Configures a [`TokenProvider`]. See [`TokenProvider::builder`].
#[must_use]
pub struct TokenProviderBuilder {
    provider: Provider,
    credentials: ClientCredentials,
    scopes: Scopes,
    policy: RefreshPolicy,
    api_client: Option<reqwest::Client>,
    token_client: Option<reqwest::Client>,
    limits: Limits,
    store: Option<Arc<dyn TokenStore>>,
    seed: Option<u64>,
    wait_limit: Option<Duration>,
}

impl TokenProviderBuilder {
    /// The scopes to ask for (default: none, the server's default).
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = scopes;
        self
    }

    /// Refresh and retry policy (default: [`RefreshPolicy::default`]).
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The client for API calls made through [`TokenProvider::send`]
    /// (default: a client with the timeouts below).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.api_client = Some(client);
        self
    }

    /// Replaces the client for token requests. apiauth's own has redirects
    /// off, rustls, and the timeouts below; a client you pass must keep
    /// redirects off, or a redirect could carry the secret elsewhere.
    pub fn token_http_client(mut self, client: reqwest::Client) -> Self {
        self.token_client = Some(client);
        self
    }

    /// Connect timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.limits.connect_timeout = timeout;
        self
    }

    /// Total timeout per request, body included (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = timeout;
        self
    }

    /// Largest response body read from the token endpoint and through
    /// `send` (default 64 KiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_body_bytes = bytes;
        self
    }

    /// Where tokens are kept besides memory (default: nowhere).
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Seed for the refresh and backoff jitter (default: per process random).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The longest a caller waits for a token (default: enough for the
    /// policy's retries and timeouts, see [`TokenProviderBuilder::build`]).
    pub fn wait_limit(mut self, limit: Duration) -> Self {
        self.wait_limit = Some(limit);
        self
    }

    /// Checks the configuration and builds the provider. Needs no runtime;
    /// tasks are spawned on the runtime of the first caller.
    ///
    /// The default wait limit is `(waiting_retries + 1) × (timeout + max_wait)`:
    /// long enough for every retry the policy allows, so callers hear the
    /// real error rather than a timeout.
    pub fn build(self) -> Result<TokenProvider, Error> {
        if self.limits.timeout.is_zero() || self.limits.connect_timeout.is_zero() {
            return Err(
                auth_core::Error::InvalidConfig("timeouts must be above zero".into()).into(),
            );
        }
        if self.limits.max_body_bytes < 1024 {
            return Err(auth_core::Error::InvalidConfig(
                "max_body_bytes below 1 KiB cannot hold a token response".into(),
            )
            .into());
        }
        let wait_limit = self
            .wait_limit
            .unwrap_or_else(|| self.policy.max_caller_wait(self.limits.timeout));
        let client_id = self.credentials.client_id().to_owned();
        let machine = TokenSource::new(
            self.provider,
            self.credentials,
            self.scopes,
            self.policy,
            self.seed.unwrap_or_else(random_seed),
        )?;
        let token_client = match self.token_client {
            Some(c) => c,
            None => transport::token_client(&self.limits)?,
        };
        let api_client = match self.api_client {
            Some(c) => c,
            None => reqwest::Client::builder()
                .connect_timeout(self.limits.connect_timeout)
                .timeout(self.limits.timeout)
                .use_rustls_tls()
                .build()
                .map_err(|e| {
                    auth_core::Error::InvalidConfig(format!("could not build the HTTP client: {e}"))
                })?,
        };
        let key = machine.cache_key();
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                cache: ArcSwapOption::empty(),
                state: Mutex::new(State {
                    machine,
                    timer: None,
                    store_checked: self.store.is_none(),
                }),
                outcome: watch::Sender::new(None),
                token_client,
                api_client,
                limits: self.limits,
                store: self.store,
                key,
                client_id,
                wait_limit,
                rate_limits: Mutex::new(None),
                expiry_watch: AtomicU64::new(0),
                timer_generation: AtomicU64::new(0),
                demand_pending: AtomicBool::new(false),
            }),
        })
    }
}

fn random_seed() -> u64 {
    // RandomState is seeded from the OS once per process: fine for jitter,
    // and it keeps a fleet of instances from refreshing in lockstep.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

impl TokenProvider {
    /// Starts configuring a provider for `provider` and `credentials`.
    pub fn builder(
        provider: impl Into<Provider>,
        credentials: ClientCredentials,
    ) -> TokenProviderBuilder {
        TokenProviderBuilder {
            provider: provider.into(),
            credentials,
            scopes: Scopes::empty(),
            policy: RefreshPolicy::default(),
            api_client: None,
            token_client: None,
            limits: Limits {
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                timeout: DEFAULT_TIMEOUT,
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            },
            store: None,
            seed: None,
            wait_limit: None,
        }
    }

    /// A valid token. Cached reads take no lock; a cold or expired cache
    /// costs one request shared by every concurrent caller.
    pub async fn token(&self) -> Result<Arc<Token>, Error> {
        if let Some(t) = self.inner.cache.load().as_ref() {
            // A clock read costs more than the rest of this path. While a
            // timer is armed to clear the cache by the time the token stops
            // being usable, the read is not needed; without one (its runtime
            // shut down, say) the clock decides.
            if self.inner.expiry_watch.load(Ordering::Acquire) != 0 || t.is_usable(Instant::now()) {
                return Ok(Arc::clone(t));
            }
        }
        self.token_slow().await
    }

    #[cold]
    async fn token_slow(&self) -> Result<Arc<Token>, Error> {
        self.restore_from_store().await;
        let mut rx = self.inner.outcome.subscribe();
        // When callers already wait for a demanded token, join them without
        // touching the machine's lock: in a herd of thousands, queueing
        // every caller through it costs more than the round trip saves.
        // Subscribing first means the outcome cannot slip past.
        let joined = self.inner.demand_pending.load(Ordering::Acquire);
        let leader = if joined {
            None
        } else {
            let mut st = self.inner.lock();
            let now = Instant::now();
            if let Some(t) = st.machine.token(now) {
                self.inner.cache.store(Some(Arc::clone(&t)));
                return Ok(t);
            }
            st.machine.handle_demand(now);
            // The machine now waits for a token; pump clears this when it
            // hands out the outcome (a token or the error).
            self.inner.demand_pending.store(true, Ordering::Release);
            let leader = self.inner.pump_keeping_transmit(&mut st);
            if let Some(t) = st.machine.token(now) {
                return Ok(t);
            }
            leader
        };
        // The caller whose demand produced the request sends it itself:
        // a spawned task would add two cross-thread wake-ups to every cold
        // read. If this caller is cancelled midway, the guard hands the
        // request to a task, so the other waiters are not stranded.
        if let Some(t) = leader {
            let span = self.inner.fetch_span(&t);
            FlightGuard::new(Arc::clone(&self.inner), &t)
                .run(t.request)
                .instrument(span)
                .await;
        }
        let deadline = tokio::time::Instant::now() + self.inner.wait_limit;
        loop {
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Err(_) => return Err(Error::WaitTimeout(self.inner.wait_limit)),
                Ok(Err(_)) => return Err(Error::Misuse("the provider was dropped".into())),
                Ok(Ok(())) => match rx.borrow_and_update().clone() {
                    Some(Ok(t)) if t.is_usable(Instant::now()) => return Ok(t),
                    Some(Err(e)) => return Err(e.into()),
                    _ => {}
                },
            }
        }
    }

    /// The store is read once, on the first cold read: a token another
    /// process saved may spare a request.
    async fn restore_from_store(&self) {
        let Some(store) = &self.inner.store else {
            return;
        };
        if std::mem::replace(&mut self.inner.lock().store_checked, true) {
            return;
        }
        match store.load(&self.inner.key).await {
            Ok(Some(stored)) => {
                let mut st = self.inner.lock();
                match auth_core::store::offer_stored(
                    &mut st.machine,
                    stored,
                    Instant::now(),
                    SystemTime::now(),
                ) {
                    Ok(true) => {
                        tracing::debug!(client_id = %self.inner.client_id, "token restored from the store")
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "stored token ignored"),
                }
                self.inner.pump(&mut st);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "token store could not be read"),
        }
    }

    /// The API rejected `token`: it is dropped and never handed out again.
    /// The next [`token`](Self::token) fetches a new one.
    pub fn invalidate(&self, token: &Token) {
        let current = self.inner.cache.load_full();
        if current.as_ref().is_some_and(|c| c.id() == token.id()) {
            self.inner.cache.compare_and_swap(&current, None);
        }
        {
            let mut st = self.inner.lock();
            st.machine.handle_invalidate(token.id(), Instant::now());
            self.inner.pump(&mut st);
        }
        if let (Some(store), Ok(handle)) = (
            self.inner.store.clone(),
            tokio::runtime::Handle::try_current(),
        ) {
            let key = self.inner.key.clone();
            handle.spawn(async move {
                if let Err(e) = store.remove(&key).await {
                    tracing::warn!(error = %e, "token store could not drop a rejected token");
                }
            });
        }
    }

    /// The cache key of this provider's tokens.
    #[must_use]
    pub fn cache_key(&self) -> &CacheKey {
        &self.inner.key
    }

    /// The dialect this provider speaks.
    #[must_use]
    pub fn provider(&self) -> Provider {
        self.inner.lock().machine.provider().clone()
    }

    /// Where the machine is now (for status displays and tests).
    #[must_use]
    pub fn phase(&self) -> auth_core::Phase {
        self.inner.lock().machine.phase(Instant::now())
    }
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("key", &self.inner.key.as_str())
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the machine half-
        // updated in a way that matters more than losing the process's
        // tokens; keep serving rather than poisoning every caller.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Acts on everything the machine decided: sends, publishes, wakes.
    fn pump(self: &Arc<Self>, st: &mut State) {
        if let Some(t) = self.pump_keeping_transmit(st) {
            self.spawn_fetch(st, t);
        }
    }

    /// Like [`Inner::pump`], but hands the request (the machine makes at
    /// most one) back to the caller instead of spawning it.
    fn pump_keeping_transmit(self: &Arc<Self>, st: &mut State) -> Option<Transmit> {
        let transmit = st.machine.poll_transmit();
        while let Some(ev) = st.machine.poll_event() {
            match ev {
                // Clear before sending: a caller that still sees the flag
                // has subscribed already and gets this outcome.
                Event::TokenReady(token) => {
                    self.cache.store(Some(Arc::clone(&token)));
                    self.save_to_store(&token);
                    self.demand_pending.store(false, Ordering::Release);
                    self.outcome.send_replace(Some(Ok(token)));
                }
                Event::Failed(e) => {
                    tracing::warn!(client_id = %self.client_id, error = %e, "token request failed");
                    self.demand_pending.store(false, Ordering::Release);
                    self.outcome.send_replace(Some(Err(e)));
                }
                Event::RefreshFailed(e) => {
                    tracing::warn!(client_id = %self.client_id, error = %e, "token refresh failed; the current token stays in use");
                }
                _ => {}
            }
        }
        self.arm_timer(st);
        transmit
    }

    fn fetch_span(&self, t: &Transmit) -> tracing::Span {
        tracing::info_span!(
            "apiauth.fetch",
            client_id = %self.client_id,
            url = %t.request.uri(),
            status = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        )
    }

    fn spawn_fetch(self: &Arc<Self>, st: &mut State, t: Transmit) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            st.machine.handle_transport_error(
                t.id,
                TransportErrorKind::Other,
                "no tokio runtime to send the token request on",
                Instant::now(),
            );
            return;
        };
        let guard = FlightGuard {
            inner: Arc::clone(self),
            id: Some(t.id),
            replay: None,
        };
        let span = self.fetch_span(&t);
        handle.spawn(guard.run(t.request).instrument(span));
    }

    fn save_to_store(&self, token: &Arc<Token>) {
        let (Some(store), Ok(handle)) = (self.store.clone(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let key = self.key.clone();
        let stored = StoredToken::new(&key, token);
        handle.spawn(async move {
            if let Err(e) = store.save(&key, &stored).await {
                tracing::warn!(error = %e, "token store could not be written");
            }
        });
    }

    /// Keeps one wake-up task, at the machine's next deadline or when the
    /// cached token stops being usable, whichever comes first.
    fn arm_timer(self: &Arc<Self>, st: &mut State) {
        let usable_until = self.cache.load().as_ref().and_then(|t| t.usable_until());
        let deadline = match (st.machine.poll_timeout(), usable_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // A live timer that fires no later than needed is kept: when the
        // deadline moves later (every new token moves it later), one early
        // wake-up with nothing to do is cheaper than aborting and spawning a
        // task on every exchange.
        if let Some((at, task, generation)) = &st.timer {
            if !task.is_finished() && deadline.is_none_or(|d| *at <= d) {
                let guards_expiry = usable_until.is_none_or(|u| *at <= u);
                self.expiry_watch.store(
                    if guards_expiry { *generation } else { 0 },
                    Ordering::Release,
                );
                return;
            }
        }
        self.expiry_watch.store(0, Ordering::Release);
        if let Some((_, task, _)) = st.timer.take() {
            task.abort();
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(at) = deadline else {
            // Nothing scheduled: a cached token has no expiry, so no clock
            // read is needed either.
            if self.cache.load().is_some() {
                let generation = self.timer_generation.fetch_add(1, Ordering::Relaxed) + 1;
                self.expiry_watch.store(generation, Ordering::Release);
            }
            return;
        };
        let generation = self.timer_generation.fetch_add(1, Ordering::Relaxed) + 1;
        let watch = WatchGuard {
            inner: Arc::downgrade(self),
            generation,
        };
        let task = handle.spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            if let Some(inner) = watch.inner.upgrade() {
                let mut st = inner.lock();
                st.timer = None;
                let now = Instant::now();
                let expired = inner
                    .cache
                    .load()
                    .as_ref()
                    .is_some_and(|t| !t.is_usable(now));
                if expired {
                    inner.cache.store(None);
                }
                st.machine.handle_timeout(now);
                inner.pump(&mut st);
            }
            drop(watch);
        });
        st.timer = Some((at, task, generation));
        if usable_until.is_none_or(|u| at <= u) {
            self.expiry_watch.store(generation, Ordering::Release);
        }
    }
}

/// Lives inside a timer task: when the task ends or is dropped with its
/// runtime, the hot path goes back to reading the clock — unless a newer
/// timer has taken over.
struct WatchGuard {
    inner: Weak<Inner>,
    generation: u64,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            let _ = inner.expiry_watch.compare_exchange(
                self.generation,
                0,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }
}

/// Owns one token request until its outcome is reported, so the machine
/// never waits forever on a request nobody will answer. Dropped early — the
/// caller running it inline was cancelled — it hands a copy of the request
/// to a new task; with no runtime left it reports a transport failure.
struct FlightGuard {
    inner: Arc<Inner>,
    id: Option<auth_core::RequestId>,
    /// A copy of the request, for a caller-run fetch that may be cancelled.
    replay: Option<http::Request<Vec<u8>>>,
}

impl FlightGuard {
    /// A guard for a fetch run inline by a caller.
    fn new(inner: Arc<Inner>, t: &Transmit) -> Self {
        let r = &t.request;
        let mut copy = http::Request::new(r.body().clone());
        *copy.method_mut() = r.method().clone();
        *copy.uri_mut() = r.uri().clone();
        *copy.version_mut() = r.version();
        *copy.headers_mut() = r.headers().clone();
        Self {
            inner,
            id: Some(t.id),
            replay: Some(copy),
        }
    }

    async fn run(mut self, request: http::Request<Vec<u8>>) {
        let started = Instant::now();
        let result = transport::send(
            &self.inner.token_client,
            request,
            self.inner.limits.max_body_bytes,
        )
        .await;
        let span = tracing::Span::current();
        span.record("elapsed_ms", started.elapsed().as_millis() as u64);
        let Some(id) = self.id.take() else { return };
        let now = Instant::now();
        let mut st = self.inner.lock();
        match result {
            Ok(response) => {
                span.record("status", response.status().as_u16());
                tracing::debug!("token endpoint answered");
                st.machine
                    .handle_response(id, response, now, SystemTime::now());
            }
            Err(f) => {
                tracing::debug!(kind = %f.kind, "token request failed in transport");
                st.machine
                    .handle_transport_error(id, f.kind, &f.detail, now);
            }
        }
        self.inner.pump(&mut st);
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            if let (Some(request), Ok(handle)) =
                (self.replay.take(), tokio::runtime::Handle::try_current())
            {
                let guard = FlightGuard {
                    inner: Arc::clone(&self.inner),
                    id: Some(id),
                    replay: None,
                };
                handle.spawn(guard.run(request));
                return;
            }
            let mut st = self.inner.lock();
            st.machine.handle_transport_error(
                id,
                TransportErrorKind::Other,
                "the request task was cancelled",
                Instant::now(),
            );
            self.inner.pump(&mut st);
        }
    }
}
