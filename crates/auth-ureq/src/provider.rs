//! [`TokenProvider`]: the blocking driver of [`auth_core::TokenSource`].
//!
//! Threads and the machine:
//!
//! ```text
//!   token() ──▶ ArcSwap cache ──usable──▶ return it (no lock)
//!                  │                         │ check_at passed: try_lock, and if
//!                  │ empty / unusable        │ nobody is sending, handle_demand and
//!                  ▼                         ▼ send the refresh on a new thread
//!             Mutex<State> ◀──────────── notify_all after every outcome
//!               │ nobody sending: claim the slot, (store lock + load), handle_demand,
//!               │   unlock, send, relock, handle_response
//!               │ somebody sending / backing off: Condvar::wait_timeout
//!               ▼   until notified, poll_timeout or the caller's deadline
//! ```
//!
//! The mutex is never held across network or store IO; the `sending` flag
//! (written only under the mutex) says a thread is doing IO for the machine,
//! so no second thread asks it for a request meanwhile.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use auth_core::redact::Redactor;
use auth_core::{
    classify_api_response, ApiOutcome, CacheKey, ClientCredentials, Event, Provider, RateLimits,
    RefreshPolicy, Scopes, StoredToken, Token, TokenSource, TransportErrorKind,
};
use http::header::AUTHORIZATION;
use http::{Request, Response};
use tracing::field;

use crate::store::TokenStore;
use crate::transport::{
    Failure, Transport, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_API_BODY_BYTES,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT,
};
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
    inner: Arc<Inner>,
}

struct Inner {
    /// The hot path: the usable token and when to look at the machine again.
    cache: ArcSwapOption<Cached>,
    state: Mutex<State>,
    /// Signalled after every outcome (token, failure, transient error).
    changed: Condvar,
    /// A thread is doing IO for the machine. Written only under `state`.
    sending: AtomicBool,
    auth: Transport,
    api: Transport,
    store: Option<Arc<dyn TokenStore>>,
    key: CacheKey,
    provider: Provider,
    credentials: ClientCredentials,
    /// The longest a caller waits for a token, whatever happens.
    wait_bound: Duration,
    last_rate_limits: Mutex<Option<RateLimits>>,
}

struct Cached {
    token: Arc<Token>,
    /// When the machine next wants attention (refresh-ahead, end of a
    /// refresh backoff); `None` while a refresh is in flight.
    check_at: Option<Instant>,
}

struct State {
    source: TokenSource,
    /// Counts `Event::Failed`; a waiter that saw it move gets `failure`.
    failures: u64,
    failure: Option<auth_core::Error>,
}

/// Configures a [`TokenProvider`]; see [`TokenProvider::builder`].
///
/// | setting | default |
/// |---|---|
/// | [`scopes`](Self::scopes) | none (the server's default; Markable: `default`) |
/// | [`policy`](Self::policy) | [`RefreshPolicy::default()`] |
/// | [`agent`](Self::agent) | an agent with the timeouts below, for API calls only |
/// | [`connect_timeout`](Self::connect_timeout) | 10 s |
/// | [`timeout`](Self::timeout) | 30 s, total per request including the body |
/// | [`max_body_bytes`](Self::max_body_bytes) | 64 KiB (auth endpoints) |
/// | [`max_api_body_bytes`](Self::max_api_body_bytes) | 10 MiB (responses read by `send`) |
/// | [`store`](Self::store) | none: the in-memory cache only |
/// | [`seed`](Self::seed) | from the clock, the process id and a counter |
/// | [`wait_limit`](Self::wait_limit) | `(waiting_retries + 1) × (timeout + max_wait)` + 1 s |
#[must_use]
pub struct TokenProviderBuilder {
    provider: Provider,
    credentials: ClientCredentials,
    scopes: Option<Scopes>,
    policy: RefreshPolicy,
    agent: Option<ureq::Agent>,
    connect_timeout: Duration,
    timeout: Duration,
    max_body_bytes: usize,
    max_api_body_bytes: usize,
    store: Option<Arc<dyn TokenStore>>,
    seed: Option<u64>,
    wait_limit: Option<Duration>,
}

impl TokenProvider {
    /// Starts configuring a provider for `provider` (an [`auth_core::OAuth2`],
    /// [`auth_core::Openverse`] or [`auth_core::Markable`]) and `credentials`.
    pub fn builder(
        provider: impl Into<Provider>,
        credentials: ClientCredentials,
    ) -> TokenProviderBuilder {
        TokenProviderBuilder {
            provider: provider.into(),
            credentials,
            scopes: None,
            policy: RefreshPolicy::default(),
            agent: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_api_body_bytes: DEFAULT_MAX_API_BODY_BYTES,
            store: None,
            seed: None,
            wait_limit: None,
        }
    }

    /// A usable token, fetching one if needed.
    ///
    /// Fast when a token is cached: one atomic load, no lock. Threads that
    /// find no usable token share one fetch. Inside the refresh-ahead window
    /// the first thread to notice starts the refresh on a short-lived
    /// background thread; every caller, that one included, keeps getting
    /// the still-valid token. Never blocks longer than the wait limit (see
    /// [`TokenProviderBuilder::wait_limit`]).
    pub fn token(&self) -> Result<Arc<Token>, Error> {
        let now = Instant::now();
        if let Some(cached) = self.inner.cache.load().as_ref() {
            if cached.token.is_usable(now) {
                if cached.check_at.is_some_and(|at| at <= now) {
                    self.refresh_ahead();
                }
                return Ok(Arc::clone(&cached.token));
            }
        }
        self.token_cold()
    }

    /// Tells the provider the API rejected `token` (a 401 `invalid_token`):
    /// it is never handed out again and the next [`token`](Self::token)
    /// fetches a new one. A token older than the current one is ignored.
    ///
    /// Pass only tokens this provider (or a clone) handed out.
    pub fn invalidate(&self, token: &Token) {
        let inner = &*self.inner;
        let now = Instant::now();
        let mut st = inner.lock();
        let held = st.source.token(now).is_some_and(|t| t.id() == token.id());
        st.source.handle_invalidate(token.id(), now);
        let (st, ready) = self.settle(st, now);
        drop(st);
        self.save(&ready);
        if held {
            tracing::debug!(client_id = %inner.credentials.client_id(), "token invalidated");
            if let Some(store) = &inner.store {
                // Without this the next cold path would restore the very
                // token the API just refused.
                if let Err(e) = store.remove(&inner.key) {
                    tracing::warn!(error = %e, "could not remove a rejected token from the store");
                }
            }
        }
    }

    /// Adds `Authorization: Bearer <token>` to `request`.
    pub fn authorize<B>(&self, mut request: Request<B>) -> Result<Request<B>, Error> {
        let token = self.token()?;
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization_header().clone());
        Ok(request)
    }

    /// Sends `request` with a token, using the configured agent, and reads
    /// the response (any status) up to `max_api_body_bytes`.
    ///
    /// When the API rejects the token (401, see
    /// [`auth_core::classify_api_response`]), the token is invalidated, a
    /// new one fetched and the request sent once more; the second answer is
    /// returned whatever it is. Use [`send_once`](Self::send_once) for
    /// requests that must not be repeated.
    ///
    /// Errors are token failures ([`Error::Auth`]) and transport failures of
    /// the API call ([`Error::Transport`]); HTTP error statuses are not errors.
    pub fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let again = copy_request(&request);
        let (token, response) = self.send_with_token(request)?;
        if !self.is_token_rejected(&response) {
            return Ok(response);
        }
        self.invalidate(&token);
        tracing::debug!("the API rejected the token; retrying once with a new one");
        self.send_with_token(again).map(|(_, response)| response)
    }

    /// Like [`send`](Self::send) but never repeats the request: a rejected
    /// token is invalidated (so the next call gets a new one) and the 401 is
    /// returned.
    pub fn send_once(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let (token, response) = self.send_with_token(request)?;
        if self.is_token_rejected(&response) {
            self.invalidate(&token);
        }
        Ok(response)
    }

    /// The rate-limit headers of the last API response seen by
    /// [`send`](Self::send), [`send_once`](Self::send_once) or
    /// [`key_status`](Self::key_status).
    #[must_use]
    pub fn last_rate_limits(&self) -> Option<RateLimits> {
        self.inner
            .last_rate_limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The provider dialect and endpoint this provider talks to.
    #[must_use]
    pub fn provider(&self) -> &Provider {
        &self.inner.provider
    }

    /// Where the machine is now (for status displays and tests).
    #[must_use]
    pub fn phase(&self) -> auth_core::Phase {
        self.inner.lock().source.phase(Instant::now())
    }

    /// The key under which tokens are stored.
    #[must_use]
    pub fn cache_key(&self) -> &CacheKey {
        &self.inner.key
    }

    pub(crate) fn auth_transport(&self) -> &Transport {
        &self.inner.auth
    }

    pub(crate) fn record_rate_limits(&self, response: &Response<Vec<u8>>) {
        let limits = RateLimits::from_headers(response.headers(), SystemTime::now());
        *self
            .inner
            .last_rate_limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(limits);
    }

    pub(crate) fn is_token_rejected(&self, response: &Response<Vec<u8>>) -> bool {
        matches!(
            classify_api_response(response.status(), response.headers(), SystemTime::now()),
            ApiOutcome::TokenRejected
        )
    }

    /// A transport failure of a call made with `token`, with every secret
    /// this provider knows cut out of the description.
    pub(crate) fn api_failure(&self, failure: Failure, token: &Token) -> Error {
        let redactor = Redactor::new([
            self.inner.credentials.client_secret().expose_secret(),
            token.access_token().expose_secret(),
        ]);
        Error::Transport {
            kind: failure.kind,
            detail: redactor.text(&failure.detail),
        }
    }

    fn send_with_token(
        &self,
        request: Request<Vec<u8>>,
    ) -> Result<(Arc<Token>, Response<Vec<u8>>), Error> {
        let token = self.token()?;
        let mut request = request;
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization_header().clone());
        let response = self
            .inner
            .api
            .exchange(request)
            .map_err(|f| self.api_failure(f, &token))?;
        self.record_rate_limits(&response);
        Ok((token, response))
    }

    /// The cold path: no usable token in the cache.
    fn token_cold(&self) -> Result<Arc<Token>, Error> {
        let inner = &*self.inner;
        let deadline = Instant::now() + inner.wait_bound;
        let mut st = inner.lock();
        let seen_failures = st.failures;
        let mut may_drive = true;
        // The store is read once per call: a waiter woken by a transient
        // failure retries the endpoint, not the store.
        let mut use_store = inner.store.is_some();
        loop {
            let now = Instant::now();
            if let Some(token) = st.source.token(now) {
                return Ok(token);
            }
            if st.failures != seen_failures {
                return Err(st.failure.clone().map_or_else(
                    || Error::misuse("a token request failed without an error"),
                    Error::Auth,
                ));
            }
            if now >= deadline {
                return Err(Error::WaitTimeout(inner.wait_bound));
            }
            if may_drive && !inner.sending.load(Ordering::Acquire) {
                st = self.drive_cold(st, use_store);
                may_drive = false;
                use_store = false;
                continue;
            }
            // Somebody else is sending, or a backoff runs: sleep until it
            // ends, an outcome is announced, or this caller's time is up.
            let wake = st
                .source
                .poll_timeout()
                .map_or(deadline, |at| at.min(deadline));
            let pause = wake
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            st = inner
                .changed
                .wait_timeout(st, pause)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            may_drive = true;
        }
    }

    /// Claims the IO slot and moves the machine: restore from the store
    /// (when `use_store`), then demand, send and report. Called with the
    /// lock held and nobody sending.
    fn drive_cold<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        use_store: bool,
    ) -> MutexGuard<'a, State> {
        let inner = &*self.inner;
        // Held across load, fetch and save, so processes sharing the store
        // make one request between them.
        let mut store_guard = None;
        if let Some(store) = inner.store.as_ref().filter(|_| use_store) {
            inner.sending.store(true, Ordering::Release);
            drop(st);
            store_guard = match store.lock(&inner.key) {
                Ok(guard) => guard,
                Err(e) => {
                    tracing::warn!(error = %e, "could not lock the token store; fetching anyway");
                    None
                }
            };
            let loaded = match store.load(&inner.key) {
                Ok(entry) => entry,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the token store; fetching anyway");
                    None
                }
            };
            st = inner.lock();
            inner.sending.store(false, Ordering::Release);
            // Threads that found the slot taken re-check it.
            inner.changed.notify_all();
            let now = Instant::now();
            if let Some(entry) = loaded {
                match auth_core::store::offer_stored(&mut st.source, entry, now, SystemTime::now())
                {
                    Ok(true) => tracing::debug!("token restored from the store"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "stored token ignored"),
                }
            }
            // A restored token is already in the store: nothing to save.
            let (guard, _restored) = self.settle(st, now);
            st = guard;
            if st.source.token(now).is_some() {
                return st;
            }
        }
        let now = Instant::now();
        if st.source.poll_timeout().is_some_and(|at| at <= now) {
            st.source.handle_timeout(now);
        }
        st.source.handle_demand(now);
        let (st, ready) = self.settle(st, now);
        if ready.is_empty() {
            return st;
        }
        drop(st);
        self.save(&ready);
        drop(store_guard);
        inner.lock()
    }

    /// Inside the refresh-ahead window: the first caller to get the
    /// machine starts the refresh on a short-lived thread and, like every
    /// other caller, goes on with the still-valid token. A caller that finds
    /// the machine busy does nothing.
    fn refresh_ahead(&self) {
        let inner = &*self.inner;
        if inner.sending.load(Ordering::Acquire) {
            return;
        }
        let mut st = match inner.state.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if inner.sending.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        if st.source.is_refresh_due(now) {
            st.source.handle_demand(now);
        } else if st.source.poll_timeout().is_some_and(|at| at <= now) {
            st.source.handle_timeout(now);
        }
        let mut ready = Vec::new();
        let transmit = self.drain(&mut st, now, &mut ready);
        let Some(transmit) = transmit else {
            drop(st);
            self.save(&ready);
            return;
        };
        self.claim(st);
        self.send_in_background(transmit);
    }

    /// Sends a claimed request on a new thread, or on this one if no thread
    /// can be started.
    fn send_in_background(&self, transmit: auth_core::Transmit) {
        let (tx, rx) = mpsc::sync_channel::<auth_core::Transmit>(1);
        let this = self.clone();
        // Logs of the refresh go where the caller's logs go.
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let spawned = thread::Builder::new()
            .name("apiauth-refresh".to_owned())
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    if let Ok(transmit) = rx.recv() {
                        this.finish_claimed(transmit);
                    }
                });
            });
        // A channel rather than a move into the closure: if the thread does
        // not start, the request comes back here and is not lost.
        let transmit = match spawned {
            Ok(_) => match tx.send(transmit) {
                Ok(()) => return,
                Err(mpsc::SendError(transmit)) => transmit,
            },
            Err(e) => {
                tracing::debug!(error = %e, "no refresh thread; refreshing on the caller's");
                transmit
            }
        };
        self.finish_claimed(transmit);
    }

    fn finish_claimed(&self, transmit: auth_core::Transmit) {
        let st = self.send_claimed(transmit);
        let (st, ready) = self.settle(st, Instant::now());
        drop(st);
        self.save(&ready);
    }

    /// After a `handle_*` call: drains events and, if the machine asked for
    /// a request, sends it on this thread (without the lock) and reports the
    /// outcome. Returns the tokens that became ready, for the store.
    fn settle<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        now: Instant,
    ) -> (MutexGuard<'a, State>, Vec<Arc<Token>>) {
        let mut ready = Vec::new();
        let mut transmit = self.drain(&mut st, now, &mut ready);
        while let Some(t) = transmit {
            self.claim(st);
            st = self.send_claimed(t);
            transmit = self.drain(&mut st, Instant::now(), &mut ready);
        }
        (st, ready)
    }

    fn drain(
        &self,
        st: &mut State,
        now: Instant,
        ready: &mut Vec<Arc<Token>>,
    ) -> Option<auth_core::Transmit> {
        let transmit = st.source.poll_transmit();
        let mut outcome = false;
        while let Some(event) = st.source.poll_event() {
            match event {
                Event::TokenReady(token) => {
                    tracing::debug!(
                        client_id = %self.inner.credentials.client_id(),
                        usable_for_s = token.remaining(now).map(|d| d.as_secs()),
                        scopes = %token.granted_scopes(),
                        "token ready"
                    );
                    ready.push(token);
                    outcome = true;
                }
                Event::Failed(e) => {
                    tracing::warn!(
                        client_id = %self.inner.credentials.client_id(),
                        error = %e,
                        "token request failed"
                    );
                    st.failures += 1;
                    st.failure = Some(e);
                    outcome = true;
                }
                Event::RefreshFailed(e) => tracing::warn!(
                    client_id = %self.inner.credentials.client_id(),
                    error = %e,
                    "token refresh failed; the current token is served meanwhile"
                ),
                other => tracing::debug!(event = ?other, "unhandled token event"),
            }
        }
        self.publish(st, now);
        if outcome {
            self.inner.changed.notify_all();
        }
        transmit
    }

    /// Makes the machine's current token (or none) what the hot path sees.
    fn publish(&self, st: &State, now: Instant) {
        let cached = st.source.token(now).map(|token| {
            Arc::new(Cached {
                token,
                check_at: st.source.poll_timeout(),
            })
        });
        self.inner.cache.store(cached);
    }

    /// Takes the IO slot and releases the lock. The claimant must then
    /// call [`send_claimed`](Self::send_claimed).
    fn claim(&self, st: MutexGuard<'_, State>) {
        self.inner.sending.store(true, Ordering::Release);
        drop(st);
    }

    /// Sends one claimed token request (the lock is not held), reports the
    /// outcome to the machine, releases the slot and wakes the waiters.
    /// Returns with the lock held; the caller drains.
    fn send_claimed(&self, transmit: auth_core::Transmit) -> MutexGuard<'_, State> {
        let inner = &*self.inner;
        let mut pending = Pending {
            inner,
            id: Some(transmit.id),
        };
        let span = tracing::info_span!(
            "apiauth_fetch",
            provider = inner.provider.kind(),
            client_id = %inner.credentials.client_id(),
            url = %transmit.request.uri(),
            status = field::Empty,
            elapsed_ms = field::Empty,
        );
        let _entered = span.enter();
        let started = Instant::now();
        let result = inner.auth.exchange(transmit.request);
        let now = Instant::now();
        let elapsed_ms = u64::try_from(now.duration_since(started).as_millis()).unwrap_or(u64::MAX);
        span.record("elapsed_ms", elapsed_ms);
        let mut st = inner.lock();
        pending.id = None;
        match result {
            Ok(response) => {
                span.record("status", response.status().as_u16());
                tracing::debug!(
                    status = response.status().as_u16(),
                    elapsed_ms,
                    "token endpoint answered"
                );
                st.source
                    .handle_response(transmit.id, response, now, SystemTime::now());
            }
            Err(failure) => {
                tracing::debug!(kind = %failure.kind, elapsed_ms, "token request got no answer");
                st.source
                    .handle_transport_error(transmit.id, failure.kind, &failure.detail, now);
            }
        }
        inner.sending.store(false, Ordering::Release);
        // Waiters re-check even when nothing final happened (a transient
        // failure): one of them drives the retry when the backoff ends.
        inner.changed.notify_all();
        st
    }

    fn save(&self, ready: &[Arc<Token>]) {
        let (Some(store), Some(token)) = (&self.inner.store, ready.last()) else {
            return;
        };
        let entry = StoredToken::new(&self.inner.key, token);
        if let Err(e) = store.save(&self.inner.key, &entry) {
            tracing::warn!(error = %e, "could not save the token to the store");
        }
    }
}

/// Reports a request whose thread unwound before it could report, so the
/// machine does not wait for it forever.
struct Pending<'a> {
    inner: &'a Inner,
    id: Option<auth_core::RequestId>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let mut st = self.inner.lock();
        st.source.handle_transport_error(
            id,
            TransportErrorKind::Other,
            "the request was abandoned (its thread panicked)",
            Instant::now(),
        );
        // The next caller drains whatever this produced.
        self.inner.sending.store(false, Ordering::Release);
        self.inner.changed.notify_all();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between calls into the machine, so a
        // panic elsewhere while holding the lock leaves nothing half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenProviderBuilder {
    /// The scopes to ask for. Checked against the provider by
    /// [`build`](Self::build) (Markable takes exactly one of `default`, `search`).
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// When to refresh and how to retry; see [`RefreshPolicy`].
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The agent for API calls made by [`TokenProvider::send`]. Token
    /// requests never use it: they go through an agent apiauth configures
    /// (no redirects, rustls, the timeouts and body cap set here).
    pub fn agent(mut self, agent: ureq::Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Connect timeout of every request (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Total timeout of one request: connect, send, headers and body
    /// (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest token-endpoint response body read (default 64 KiB); a larger
    /// one fails with [`TransportErrorKind::BodyTooLarge`].
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Largest API response body [`TokenProvider::send`] reads (default
    /// 10 MiB).
    pub fn max_api_body_bytes(mut self, bytes: usize) -> Self {
        self.max_api_body_bytes = bytes;
        self
    }

    /// A persistent cache shared with other providers or processes.
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Seed of the refresh jitter. Give each process a different one; the
    /// default mixes the clock, the process id and a counter.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The longest a caller of [`TokenProvider::token`] waits for a token.
    /// The default, `(waiting_retries + 1) × (timeout + max_wait)` plus one
    /// second, leaves room for every retry the policy allows, so callers
    /// hear the real error rather than [`Error::WaitTimeout`].
    pub fn wait_limit(mut self, limit: Duration) -> Self {
        self.wait_limit = Some(limit);
        self
    }

    /// Checks the configuration and builds the provider. No request is made.
    pub fn build(self) -> Result<TokenProvider, Error> {
        self.build_with(None)
    }

    pub(crate) fn provider_ref(&self) -> &Provider {
        &self.provider
    }

    pub(crate) fn scopes_ref(&self) -> Option<&Scopes> {
        self.scopes.as_ref()
    }

    /// Builds with `forced` scopes in place of the configured ones.
    pub(crate) fn build_with(self, forced: Option<Scopes>) -> Result<TokenProvider, Error> {
        if self.connect_timeout.is_zero() || self.timeout.is_zero() {
            return Err(Error::config(
                "timeouts must be longer than zero (a zero timeout fails every request)",
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(Error::config(
                "max_body_bytes below 1 KiB cannot hold a token response",
            ));
        }
        if self.max_api_body_bytes == 0 {
            return Err(Error::config(
                "max_api_body_bytes must be at least one byte",
            ));
        }
        if self.wait_limit.is_some_and(|l| l.is_zero()) {
            return Err(Error::config(
                "a zero wait limit fails every cold token request",
            ));
        }
        let scopes = forced.or(self.scopes).unwrap_or_default();
        let seed = self.seed.unwrap_or_else(default_seed);
        let source = TokenSource::new(
            self.provider.clone(),
            self.credentials.clone(),
            scopes,
            self.policy.clone(),
            seed,
        )?;
        let key = source.cache_key();
        let api_agent = self
            .agent
            .unwrap_or_else(|| Transport::default_api_agent(self.connect_timeout, self.timeout));
        // Each retry a waiting caller is owed takes at most one request
        // timeout plus one backoff no longer than max_wait; a second of
        // slack covers scheduling. Past that something is wrong, and the
        // caller gets an error instead of hanging.
        let wait_bound = self.wait_limit.unwrap_or_else(|| {
            self.policy
                .max_caller_wait(self.timeout)
                .saturating_add(Duration::from_secs(1))
        });
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                cache: ArcSwapOption::empty(),
                state: Mutex::new(State {
                    source,
                    failures: 0,
                    failure: None,
                }),
                changed: Condvar::new(),
                sending: AtomicBool::new(false),
                auth: Transport::for_auth(self.connect_timeout, self.timeout, self.max_body_bytes),
                api: Transport::for_api(api_agent, self.max_api_body_bytes),
                store: self.store,
                key,
                provider: self.provider,
                credentials: self.credentials,
                wait_bound,
                last_rate_limits: Mutex::new(None),
            }),
        })
    }
}

fn default_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let pid = u64::from(std::process::id());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    nanos ^ pid.rotate_left(32) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// A copy of a request for the one retry after a rejected token
/// (extensions are not copied: `http` cannot clone them).
fn copy_request(request: &Request<Vec<u8>>) -> Request<Vec<u8>> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let phase = inner.lock().source.phase(Instant::now());
        f.debug_struct("TokenProvider")
            .field("provider", &inner.provider.kind())
            .field("token_url", &inner.provider.token_url())
            .field("client_id", &inner.credentials.client_id())
            .field("key", &inner.key.as_str())
            .field("phase", &phase)
            .field("store", &inner.store.is_some())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TokenProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProviderBuilder")
            .field("provider", &self.provider.kind())
            .field("token_url", &self.provider.token_url())
            .field("credentials", &self.credentials)
            .field("scopes", &self.scopes)
            .field("policy", &self.policy)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_api_body_bytes", &self.max_api_body_bytes)
            .field("store", &self.store.is_some())
            .field("wait_limit", &self.wait_limit)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_clone_send_and_sync() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<TokenProvider>();
        shareable::<crate::SearchTokenProvider>();
        shareable::<Error>();
    }

    #[test]
    fn requests_are_copied_for_the_retry() {
        let original = Request::post("https://api.example.com/x")
            .header("x-a", "1")
            .body(b"body".to_vec())
            .unwrap();
        let copy = copy_request(&original);
        assert_eq!(copy.method(), original.method());
        assert_eq!(copy.uri(), original.uri());
        assert_eq!(copy.headers(), original.headers());
        assert_eq!(copy.body(), original.body());
    }
}
