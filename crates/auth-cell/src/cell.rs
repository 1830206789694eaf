//! The token cell: the lock-free cache of the current token, the machine
//! behind its lock, demand rounds and their outcomes, and the queue of
//! store operations.
//!
//! ```text
//!   read() ──▶ Slot<Cached> ── usable at clock.now()? ──▶ Fresh(token)
//!                 │ no                    │ yes, refresh due: try_lock, claim the
//!                 ▼                       ▼ slot ──▶ Refresh(token, Job)
//!   demand() ──▶ Mutex<State> ── token? ──▶ Ready
//!                 │ open (or join) a round; slot free and work to do
//!                 ├──▶ Run(Job, Ticket): this caller performs the IO steps
//!                 └──▶ Wait(Ticket): poll_ticket until the round resolves,
//!                      the slot frees (someone must drive a retry), or the
//!                      machine's deadline passes
//! ```
//!
//! Rules that make it safe at its edges:
//! - the cache is only ever written under the lock, from the machine's own
//!   answer, so a rejected or expired token cannot be put back by a racing
//!   caller; every read checks usability against a clock read of its own;
//! - the lock is never held while foreign code runs: wakers are woken and
//!   logs written after it is released, jobs are built after it is released
//!   (so a job dropped in a panic cannot re-enter a held lock);
//! - at most one [`Job`] holds the IO slot; one dropped before it finished
//!   (a cancelled task, a panic, a runtime shut down) reports its request as
//!   abandoned, frees the slot and wakes the waiters, so nothing wedges;
//! - a waiter's ticket names its round: it gets that round's outcome or a
//!   later one, never an earlier one.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use auth_core::{
    CacheKey, Event, Phase, Provider, RateLimits, RejectionPolicy, StoredToken, Token, TokenSource,
};

use crate::clock::Clock;
use crate::job::{Job, Start};
use crate::metrics::Metrics;
use crate::store::same_token;
use crate::sync::{self, Mutex, Slot};
use crate::Error;

/// The shared token cell one provider (and all its clones) runs on.
/// Cheap to clone.
#[derive(Clone)]
pub struct TokenCell {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    cache: Slot<Cached>,
    pub(crate) state: Mutex<State>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) key: CacheKey,
    pub(crate) provider: Provider,
    pub(crate) client_id: String,
    pub(crate) has_store: bool,
    pub(crate) wait_limit: Duration,
    rejection: RejectionPolicy,
    rate_limits: std::sync::Mutex<Option<RateLimits>>,
    pub(crate) metrics: Metrics,
}

/// What the hot path sees: a usable token and when the machine next wants
/// attention (refresh ahead, end of a refresh backoff). `check_at` is
/// `None` while a job holds the slot, so readers do not pile onto the lock.
struct Cached {
    token: Arc<Token>,
    check_at: Option<Instant>,
}

pub(crate) struct State {
    pub(crate) machine: TokenSource,
    /// The job holding the IO slot.
    pub(crate) busy: Option<u64>,
    next_job: u64,
    /// A job is between its `Lock` and its load report: callers must not
    /// make the machine ask for a token a stored one may make needless.
    pub(crate) loading: bool,
    /// Saves and removals, performed in this order by the slot holder.
    pub(crate) store_ops: VecDeque<StoreOp>,
    round: Round,
    /// Bumped whenever waiters should look again.
    signal: u64,
    wakers: HashMap<u64, Waker>,
    next_ticket: u64,
}

/// Callers that found no usable token wait on a round; its outcome is the
/// first token or final error after it opened.
#[derive(Default)]
struct Round {
    /// The newest round (0: none yet).
    epoch: u64,
    open: bool,
    /// The store was read for the open round.
    loaded: bool,
    /// The newest round with an outcome.
    resolved: u64,
    /// That outcome, when it was a failure.
    failure: Option<auth_core::Error>,
}

pub(crate) enum StoreOp {
    Save(StoredToken),
    Remove(StoredToken),
}

/// What the lock-free read found.
#[derive(Debug)]
pub enum Read {
    /// A usable token; nothing to do.
    Fresh(Arc<Token>),
    /// A usable token, and this caller claimed the refresh: run the job in
    /// the background (a task, a thread) and use the token meanwhile.
    Refresh(Arc<Token>, Job),
    /// No usable token: call [`TokenCell::demand`].
    Miss,
}

/// What a caller without a usable token does next.
#[derive(Debug)]
pub enum Demand {
    /// A usable token.
    Ready(Arc<Token>),
    /// The outcome of this caller's round: an error to return.
    Failed(Error),
    /// This caller holds the IO slot: perform the job's steps, then poll
    /// the ticket.
    Run(Job, Ticket),
    /// Wait until [`TokenCell::poll_ticket`] is ready, or until
    /// [`TokenCell::wake_in`] passes, or the caller's own deadline.
    Wait(Ticket),
}

/// A caller's place in a round. Copy it freely; it holds no resources.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    id: u64,
    epoch: u64,
    seen: u64,
    wake_at: Option<Instant>,
}

/// Foreign code to run once the lock is released.
#[derive(Default)]
pub(crate) struct Outbox {
    wakers: Vec<Waker>,
    logs: Vec<Log>,
}

pub(crate) enum Log {
    Ready {
        usable_for_s: Option<u64>,
        scopes: String,
    },
    Restored,
    Failed(auth_core::Error),
    RefreshFailed(auth_core::Error),
    StoreIgnored(auth_core::Error),
    Store {
        op: &'static str,
        error: Error,
    },
}

impl Outbox {
    pub(crate) fn log(&mut self, log: Log) {
        self.logs.push(log);
    }

    /// Writes the logs and wakes the waiters. Call with no lock held.
    pub(crate) fn deliver(self, client_id: &str) {
        for log in self.logs {
            match log {
                Log::Ready {
                    usable_for_s,
                    scopes,
                } => tracing::debug!(client_id, usable_for_s, scopes, "token ready"),
                Log::Restored => tracing::debug!(client_id, "token restored from the store"),
                Log::Failed(e) => tracing::warn!(client_id, error = %e, "token request failed"),
                Log::RefreshFailed(e) => tracing::warn!(
                    client_id,
                    error = %e,
                    "token refresh failed; the current token stays in use"
                ),
                Log::StoreIgnored(e) => {
                    tracing::warn!(client_id, error = %e, "stored token ignored")
                }
                Log::Store { op, error } => tracing::warn!(
                    client_id,
                    op,
                    error = %error,
                    "token store failed; carrying on without it"
                ),
            }
        }
        for w in self.wakers {
            w.wake();
        }
    }
}

/// What was decided under the lock, turned into values after it.
enum Next {
    Ready(Arc<Token>),
    Failed(Error),
    Run(Start, u64),
    Wait,
}

impl TokenCell {
    pub(crate) fn new(
        machine: TokenSource,
        key: &auth_core::FingerprintKey,
        clock: Arc<dyn Clock>,
        wait_limit: Duration,
        rejection: RejectionPolicy,
        has_store: bool,
    ) -> Self {
        let key = machine.cache_key(key);
        let provider = machine.provider().clone();
        let client_id = machine.credentials().client_id().to_owned();
        let metrics = Metrics::new(provider.kind(), &client_id, &machine.scopes().canonical());
        Self {
            shared: Arc::new(Shared {
                cache: Slot::empty(),
                state: Mutex::new(State {
                    machine,
                    busy: None,
                    next_job: 0,
                    loading: false,
                    store_ops: VecDeque::new(),
                    round: Round::default(),
                    signal: 0,
                    wakers: HashMap::new(),
                    next_ticket: 0,
                }),
                clock,
                key,
                provider,
                client_id,
                has_store,
                wait_limit,
                rejection,
                rate_limits: std::sync::Mutex::new(None),
                metrics,
            }),
        }
    }

    /// The hot path: the cached token if it is usable at a clock read made
    /// here, without taking any lock a fetch holds.
    ///
    /// Nothing on this path trusts a timer: the usability check is against
    /// `now`, every time. Inside the refresh-ahead window the first reader
    /// to get the lock (a `try_lock`, never a wait) claims the refresh.
    #[inline]
    pub fn read(&self) -> Read {
        let now = self.shared.clock.now();
        let hit = self.shared.cache.with(|c| {
            c.filter(|c| c.token.is_usable(now))
                .map(|c| (Arc::clone(&c.token), c.check_at.is_some_and(|at| at <= now)))
        });
        match &hit {
            Some((token, _)) => self.shared.metrics.hit(|| token.remaining(now)),
            None => self.shared.metrics.miss(),
        }
        match hit {
            Some((token, false)) => Read::Fresh(token),
            Some((token, true)) => match self.try_refresh() {
                Some(job) => Read::Refresh(token, job),
                None => Read::Fresh(token),
            },
            None => Read::Miss,
        }
    }

    #[cold]
    fn try_refresh(&self) -> Option<Job> {
        let sh = &*self.shared;
        let mut st = sync::try_lock(&sh.state)?;
        let now = sh.clock.now();
        let mut out = Outbox::default();
        let mut claimed = None;
        if st.busy.is_none() && sh.has_store && st.machine.is_refresh_due(now) {
            // Another process sharing the store may have renewed already:
            // look there first, under its lock; the job sends the refresh
            // only if it is still due (one request per lifetime per fleet).
            claimed = Some(sh.claim(&mut st, Start::Load));
        } else if st.busy.is_none() {
            if st.machine.is_refresh_due(now) {
                st.machine.handle_demand(now);
            } else if st.machine.poll_timeout().is_some_and(|at| at <= now) {
                st.machine.handle_timeout(now);
            }
            sh.process_events(&mut st, now, false, &mut out);
            if let Some(t) = st.machine.poll_transmit(sh.clock.wall()) {
                claimed = Some(sh.claim(&mut st, Start::Send(Box::new(t))));
            } else {
                // A request that could not be built failed as an event.
                sh.process_events(&mut st, now, false, &mut out);
            }
        }
        sh.publish(&st, now);
        drop(st);
        out.deliver(&sh.client_id);
        claimed.map(|(start, id)| Job::new(Arc::clone(&self.shared), id, start))
    }

    /// A caller found no usable token: join (or open) a round and learn
    /// what to do. See [`Demand`].
    pub fn demand(&self) -> Demand {
        let sh = &*self.shared;
        let mut st = sync::lock(&sh.state);
        let now = sh.clock.now();
        if let Some(t) = st.machine.token(now) {
            return Demand::Ready(t);
        }
        let epoch = st.open_round();
        let id = st.next_ticket;
        st.next_ticket += 1;
        let ticket = Ticket {
            id,
            epoch,
            seen: st.signal,
            wake_at: None,
        };
        self.advance(st, ticket, now)
    }

    /// Like [`demand`](Self::demand), but a held token with less than
    /// `min` left does not count: it is retired (never handed out again)
    /// and a new one fetched. The store entry is left alone: it belongs
    /// to every process sharing it, and a newer one replaces it.
    pub fn demand_valid_for(&self, min: Duration) -> Demand {
        let sh = &*self.shared;
        {
            let mut st = sync::lock(&sh.state);
            let now = sh.clock.now();
            if let Some(t) = st.machine.token(now) {
                if t.remaining(now).is_none_or(|left| left >= min) {
                    return Demand::Ready(t);
                }
                st.machine.handle_invalidate(t.id(), now);
                sh.publish(&st, now);
            }
        }
        self.demand()
    }

    /// Whether the caller's round has moved on; registers the waker when
    /// not. Ready answers are the same as [`demand`](Self::demand)'s
    /// (`Wait` included: keep polling with the new ticket).
    pub fn poll_ticket(&self, ticket: &mut Ticket, cx: &mut Context<'_>) -> Poll<Demand> {
        let sh = &*self.shared;
        // A usable token is the answer to any round, and the slot holds one
        // once a round succeeds: a herd of woken waiters takes it without
        // queueing on the lock.
        let now = sh.clock.now();
        let cached = sh.cache.with(|c| {
            c.filter(|c| c.token.is_usable(now))
                .map(|c| Arc::clone(&c.token))
        });
        if let Some(token) = cached {
            return Poll::Ready(Demand::Ready(token));
        }
        let mut st = sync::lock(&sh.state);
        let now = sh.clock.now();
        let moved = st.round.resolved >= ticket.epoch
            || st.signal != ticket.seen
            || ticket.wake_at.is_some_and(|w| w <= now);
        if moved {
            return Poll::Ready(self.advance(st, *ticket, now));
        }
        match st.wakers.get_mut(&ticket.id) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => w.clone_from(cx.waker()),
            None => {
                st.wakers.insert(ticket.id, cx.waker().clone());
            }
        }
        Poll::Pending
    }

    /// How long until the machine's next deadline (a backoff ending) for a
    /// waiting ticket, by the cell's clock; the driver sleeps no longer
    /// than this (nor past its caller's deadline) before polling again.
    #[must_use]
    pub fn wake_in(&self, ticket: &Ticket) -> Option<Duration> {
        ticket
            .wake_at
            .map(|at| at.saturating_duration_since(self.shared.clock.now()))
    }

    fn advance(
        &self,
        mut st: sync::MutexGuard<'_, State>,
        mut ticket: Ticket,
        now: Instant,
    ) -> Demand {
        let sh = &*self.shared;
        let mut out = Outbox::default();
        let next = sh.advance_locked(&mut st, &mut ticket, now, &mut out);
        sh.publish(&st, now);
        drop(st);
        out.deliver(&sh.client_id);
        match next {
            Next::Ready(t) => Demand::Ready(t),
            Next::Failed(e) => Demand::Failed(e),
            Next::Run(start, id) => {
                Demand::Run(Job::new(Arc::clone(&self.shared), id, start), ticket)
            }
            Next::Wait => Demand::Wait(ticket),
        }
    }

    /// The API rejected `token`: it is never handed out again, and a store
    /// entry still holding it is removed (after any save of it that is
    /// still queued, which is dropped). Returns a job when the store work
    /// has nobody to run it: run it (in the background is fine).
    #[must_use = "a returned job carries the store removal; run it"]
    pub fn invalidate(&self, token: &Token) -> Option<Job> {
        let sh = &*self.shared;
        let mut st = sync::lock(&sh.state);
        let now = sh.clock.now();
        st.machine.handle_invalidate(token.id(), now);
        if st.machine.token(now).is_none() {
            sh.metrics.dropped();
        }
        if sh.has_store {
            let rejected = StoredToken::new(&sh.key, token);
            st.store_ops
                .retain(|op| !matches!(op, StoreOp::Save(e) if same_token(e, &rejected)));
            st.store_ops.push_back(StoreOp::Remove(rejected));
        }
        let claimed = (st.busy.is_none() && !st.store_ops.is_empty())
            .then(|| sh.claim(&mut st, Start::Drive));
        sh.publish(&st, now);
        drop(st);
        tracing::debug!(client_id = %sh.client_id, "token invalidated");
        claimed.map(|(start, id)| Job::new(Arc::clone(&self.shared), id, start))
    }

    /// Whether an API answer rejects the token sent with it, by this
    /// provider's [`RejectionPolicy`]. Records its rate-limit headers.
    #[must_use]
    pub fn is_rejected(
        &self,
        status: http::StatusCode,
        headers: &http::HeaderMap,
        body_is_empty: bool,
    ) -> bool {
        self.record_rate_limits(headers);
        self.shared
            .rejection
            .is_rejected(status, headers, body_is_empty)
    }

    /// An API call made with `token` got no answer: the error, with the
    /// client secret and the token cut out of the transport's description.
    #[must_use]
    pub fn api_transport_error(
        &self,
        token: &Token,
        endpoint: &http::Uri,
        kind: auth_core::TransportErrorKind,
        detail: &str,
    ) -> Error {
        let st = sync::lock(&self.shared.state);
        let credentials = st.machine.credentials();
        let redactor = auth_core::redact::Redactor::new([
            credentials
                .client_secret()
                .map_or("", auth_core::ClientSecret::expose_secret),
            token.access_token().expose_secret(),
        ])
        .with_client_id(credentials.client_id());
        let detail = redactor.text(detail);
        // The query is left out: it may hold anything (an API key, say).
        let endpoint = redactor.endpoint(&endpoint.to_string());
        drop(st);
        Error::Transport {
            kind,
            endpoint,
            detail,
        }
    }

    /// Keeps the rate-limit headers of an API answer, when it has any.
    pub fn record_rate_limits(&self, headers: &http::HeaderMap) {
        let limits = RateLimits::from_headers(headers, self.shared.clock.wall());
        if limits.scopes.is_empty() && limits.retry_after.is_none() {
            return;
        }
        if let Ok(mut slot) = self.shared.rate_limits.lock() {
            *slot = Some(limits);
        }
    }

    /// The rate-limit headers of the last API answer that had any
    /// (CC Catalog / Openverse send `X-RateLimit-*` pairs).
    #[must_use]
    pub fn last_rate_limits(&self) -> Option<RateLimits> {
        self.shared.rate_limits.lock().ok().and_then(|r| r.clone())
    }

    /// The key under which tokens are stored.
    #[must_use]
    pub fn key(&self) -> &CacheKey {
        &self.shared.key
    }

    /// The provider dialect and endpoint.
    #[must_use]
    pub fn provider(&self) -> &Provider {
        &self.shared.provider
    }

    /// The Openverse dialect, for its extras (key status); a misuse error
    /// naming the provider for any other.
    pub fn openverse(&self) -> Result<&auth_core::Openverse, Error> {
        match self.provider() {
            Provider::Openverse(o) => Ok(o),
            other => Err(Error::misuse(format!(
                "key_status needs a CC Catalog / Openverse provider, not {}",
                other.kind()
            ))),
        }
    }

    /// The client id (not a secret).
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// The longest a caller waits for a token.
    #[must_use]
    pub fn wait_limit(&self) -> Duration {
        self.shared.wait_limit
    }

    /// The clock every decision reads.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    /// Where the machine is now (for status displays and tests).
    #[must_use]
    pub fn phase(&self) -> Phase {
        let st = sync::lock(&self.shared.state);
        st.machine.phase(self.shared.clock.now())
    }

    /// `token` as a value that may be published (Markable `search` alone),
    /// or the error that says why not.
    pub fn publishable(token: &Token) -> Result<auth_core::PublishableToken, Error> {
        token.publishable().ok_or_else(|| {
            Error::misuse(format!(
                "the server granted `{}`, not `search` alone; this token must not be published",
                token.granted_scopes()
            ))
        })
    }

    /// The answers that reject a token.
    #[must_use]
    pub fn rejection(&self) -> &RejectionPolicy {
        &self.shared.rejection
    }
}

impl State {
    /// Callers wait for a token.
    pub(crate) fn round_is_open(&self) -> bool {
        self.round.open
    }

    fn open_round(&mut self) -> u64 {
        if !self.round.open {
            self.round.epoch += 1;
            self.round.open = true;
            self.round.loaded = false;
        }
        self.round.epoch
    }
}

impl Shared {
    fn advance_locked(
        &self,
        st: &mut State,
        ticket: &mut Ticket,
        now: Instant,
        out: &mut Outbox,
    ) -> Next {
        // Twice at most: a round resolved with a token that is gone since
        // (expired, invalidated) opens a new one, which cannot be resolved
        // before this returns.
        for _ in 0..2 {
            if st.round.resolved >= ticket.epoch {
                if let Some(t) = st.machine.token(now) {
                    return Next::Ready(t);
                }
                if let Some(e) = st.round.failure.clone() {
                    return Next::Failed(Error::Auth(e));
                }
                ticket.epoch = st.open_round();
            }
            if st.busy.is_none() {
                if self.has_store && !st.round.loaded {
                    st.round.loaded = true;
                    let (start, id) = self.claim(st, Start::Load);
                    return Next::Run(start, id);
                }
                if st.machine.poll_timeout().is_some_and(|at| at <= now) {
                    st.machine.handle_timeout(now);
                }
                st.machine.handle_demand(now);
                self.process_events(st, now, false, out);
                if let Some(t) = st.machine.poll_transmit(self.clock.wall()) {
                    let (start, id) = self.claim(st, Start::Send(Box::new(t)));
                    return Next::Run(start, id);
                }
                // A request that could not be built failed as an event.
                self.process_events(st, now, false, out);
                if !st.store_ops.is_empty() {
                    let (start, id) = self.claim(st, Start::Drive);
                    return Next::Run(start, id);
                }
            } else if !st.loading {
                // The slot holder sends whatever this makes the machine ask.
                st.machine.handle_demand(now);
                self.process_events(st, now, false, out);
            }
            if st.round.resolved < ticket.epoch {
                break;
            }
        }
        ticket.seen = st.signal;
        // Only a deadline still ahead: one already past is the slot
        // holder's to act on (it signals when done), and a waiter told to
        // look again at once would spin without ever yielding.
        ticket.wake_at = st.machine.poll_timeout().filter(|at| *at > now);
        Next::Wait
    }

    /// Takes the IO slot. The caller builds the [`Job`] once the lock is
    /// released.
    pub(crate) fn claim(&self, st: &mut State, start: Start) -> (Start, u64) {
        let id = st.next_job;
        st.next_job += 1;
        st.busy = Some(id);
        if matches!(start, Start::Load) {
            st.loading = true;
        }
        (start, id)
    }

    /// Drains the machine's events: resolves the open round, queues saves,
    /// and collects logs for after the lock.
    pub(crate) fn process_events(
        &self,
        st: &mut State,
        now: Instant,
        restored: bool,
        out: &mut Outbox,
    ) {
        while let Some(event) = st.machine.poll_event() {
            match event {
                Event::TokenReady(token) => {
                    if restored {
                        out.log(Log::Restored);
                    } else {
                        self.metrics.fetched(token.remaining(now));
                        out.log(Log::Ready {
                            usable_for_s: token.remaining(now).map(|d| d.as_secs()),
                            scopes: token.granted_scopes().to_string(),
                        });
                        if self.has_store {
                            st.store_ops
                                .push_back(StoreOp::Save(StoredToken::new(&self.key, &token)));
                        }
                    }
                    st.resolve(None, out);
                }
                Event::Failed(e) => {
                    self.metrics.failed(false);
                    out.log(Log::Failed(e.clone()));
                    st.resolve(Some(e), out);
                }
                Event::RefreshFailed(e) => {
                    self.metrics.failed(true);
                    out.log(Log::RefreshFailed(e));
                }
                _ => {}
            }
        }
    }

    /// Makes the machine's current token (or none) what the hot path sees.
    /// Only ever called under the lock, from the machine's own answer.
    pub(crate) fn publish(&self, st: &State, now: Instant) {
        let token = st.machine.token(now);
        let check_at = if st.busy.is_some() {
            None
        } else {
            st.machine.poll_timeout()
        };
        // Most lock sections change nothing the hot path sees; an unchanged
        // slot is not replaced (no allocation, no reader-visible swap).
        let same = self.cache.with(|c| match (c, &token) {
            (None, None) => true,
            (Some(c), Some(t)) => Arc::ptr_eq(&c.token, t) && c.check_at == check_at,
            _ => false,
        });
        if !same {
            self.cache
                .store(token.map(|token| Arc::new(Cached { token, check_at })));
        }
    }
}

impl State {
    fn resolve(&mut self, failure: Option<auth_core::Error>, out: &mut Outbox) {
        if self.round.open {
            self.round.open = false;
            self.round.resolved = self.round.epoch;
            self.round.failure = failure;
        }
        self.notify(out);
    }

    /// Wakes every waiter (after the lock, through `out`).
    pub(crate) fn notify(&mut self, out: &mut Outbox) {
        self.signal += 1;
        out.wakers.extend(self.wakers.drain().map(|(_, w)| w));
    }
}

impl fmt::Debug for TokenCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCell")
            .field("key", &self.shared.key.as_str())
            .field("phase", &self.phase())
            .field("store", &self.shared.has_store)
            .finish_non_exhaustive()
    }
}
