//! The IO slot: one [`Job`] at a time performs what the cell decided —
//! lock and read the store, send token requests, save and remove entries —
//! in the order it decided it.
//!
//! A driver's whole part is this loop (blocking shown; the async one awaits):
//!
//! ```text
//! let mut guard = None;                     // the store's lock, if any
//! while let Some(step) = job.next_step() {
//!     match step {
//!         Step::Lock { wait } => { guard = store.lock(job.key(), wait)?; job.handle_stored(..) }
//!         Step::Load          => job.handle_loaded(store.load(job.key())),
//!         Step::Send(t)       => match send(t.request) { Ok(r) => job.handle_response(r),
//!                                                        Err(e) => job.handle_transport_error(..) },
//!         Step::Save(entry)   => job.handle_stored(store.save(job.key(), &entry)),
//!         Step::Remove(entry) => job.handle_stored(store.remove(job.key(), &entry)),
//!     }
//! }
//! drop(guard);
//! ```
//!
//! Dropped before `next_step` returned `None` — its task cancelled, its
//! thread panicking, its runtime shut down — the job reports its request as
//! abandoned (a transient failure the machine backs off from), frees the
//! slot and wakes every waiter, so the next caller drives the retry.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use auth_core::{CacheKey, RequestId, StoredToken, Transmit, TransportErrorKind};

use crate::cell::{Log, Outbox, Shared, StoreOp};
use crate::store::{AsyncTokenStore, StoreLock, TokenStore};
use crate::sync;
use crate::Error;

/// How a job begins.
pub(crate) enum Start {
    /// Lock and read the store before asking the machine for a request.
    Load,
    /// Send this request the machine already made.
    Send(Box<Transmit>),
    /// Look at the machine and the store queue.
    Drive,
}

enum Phase {
    Lock,
    Load,
    Loading,
    Pending(Box<Transmit>),
    Sending { id: RequestId, at: Instant },
    Storing(&'static str),
    Drive,
    Done,
}

/// One IO step the driver performs, then reports with the matching
/// `handle_*` call.
#[derive(Debug)]
#[non_exhaustive]
pub enum Step {
    /// Take the store's cross-process lock on [`Job::key`], waiting at most
    /// `wait`; keep the guard until `next_step` returns `None`. Report with
    /// [`Job::handle_stored`].
    Lock {
        /// The longest to wait for the lock.
        wait: Duration,
    },
    /// Read the store's entry; report with [`Job::handle_loaded`].
    Load,
    /// Send this token request as is (no redirects, capped body, the
    /// configured timeouts, instrumented with [`Job::span`]); report with
    /// [`Job::handle_response`] (any status) or
    /// [`Job::handle_transport_error`].
    Send(Transmit),
    /// Write this entry; report with [`Job::handle_stored`].
    Save(StoredToken),
    /// Delete the entry if it still holds this token; report with
    /// [`Job::handle_stored`].
    Remove(StoredToken),
}

/// The right to do the cell's IO. See the module docs for the loop.
#[must_use = "a job holds the IO slot until it is run to completion or dropped"]
pub struct Job {
    shared: Arc<Shared>,
    id: u64,
    phase: Phase,
    span: tracing::Span,
}

impl Job {
    pub(crate) fn new(shared: Arc<Shared>, id: u64, start: Start) -> Self {
        let phase = match start {
            Start::Load => Phase::Lock,
            Start::Send(t) => Phase::Pending(t),
            Start::Drive => Phase::Drive,
        };
        Self {
            shared,
            id,
            phase,
            span: tracing::Span::none(),
        }
    }

    /// The store key every store step uses.
    #[must_use]
    pub fn key(&self) -> &CacheKey {
        &self.shared.key
    }

    /// The `apiauth.fetch` span of the request being sent: instrument the
    /// send with it. Status and elapsed time are recorded on it.
    #[must_use]
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The next step, or `None` when the job is done (drop the store guard
    /// then). Call after every report.
    pub fn next_step(&mut self) -> Option<Step> {
        let sh = Arc::clone(&self.shared);
        let mut st = sync::lock(&sh.state);
        let now = sh.clock.now();
        let mut out = Outbox::default();
        let step = loop {
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Lock => {
                    self.phase = Phase::Load;
                    break Some(Step::Lock {
                        wait: sh.wait_limit,
                    });
                }
                Phase::Load => {
                    self.phase = Phase::Loading;
                    break Some(Step::Load);
                }
                Phase::Loading => {
                    // The driver skipped the report: carry on as if empty.
                    st.loading = false;
                    self.phase = Phase::Drive;
                }
                Phase::Pending(t) => {
                    self.phase = Phase::Sending { id: t.id, at: now };
                    break Some(Step::Send(*t));
                }
                Phase::Sending { id, .. } => {
                    st.machine.handle_transport_error(
                        id,
                        TransportErrorKind::Other,
                        "the driver moved on without reporting the request",
                        now,
                    );
                    sh.process_events(&mut st, now, false, &mut out);
                    self.phase = Phase::Drive;
                }
                Phase::Storing(_) => self.phase = Phase::Drive,
                Phase::Drive => {
                    if st.round_is_open() && st.machine.token(now).is_none() {
                        if st.machine.poll_timeout().is_some_and(|at| at <= now) {
                            st.machine.handle_timeout(now);
                        }
                        st.machine.handle_demand(now);
                        sh.process_events(&mut st, now, false, &mut out);
                    } else if st.machine.is_refresh_due(now) {
                        // A refresh that looked in the store first and
                        // found nothing newer (or a load that brought a
                        // token already due): renew it now.
                        st.machine.handle_demand(now);
                        sh.process_events(&mut st, now, false, &mut out);
                    }
                    if let Some(t) = st.machine.poll_transmit(sh.clock.wall()) {
                        self.phase = Phase::Pending(Box::new(t));
                        continue;
                    }
                    // A request that could not be built failed as an event.
                    sh.process_events(&mut st, now, false, &mut out);
                    if let Some(op) = st.store_ops.pop_front() {
                        let (name, step) = match op {
                            StoreOp::Save(e) => ("save", Step::Save(e)),
                            StoreOp::Remove(e) => ("remove", Step::Remove(e)),
                        };
                        self.phase = Phase::Storing(name);
                        break Some(step);
                    }
                    // Done: free the slot; waiters look again (one of them
                    // may have to drive a retry when a backoff ends).
                    if st.busy == Some(self.id) {
                        st.busy = None;
                    }
                    st.notify(&mut out);
                    break None;
                }
                Phase::Done => break None,
            }
        };
        sh.publish(&st, now);
        drop(st);
        out.deliver(&sh.client_id);
        if let Some(Step::Send(t)) = &step {
            self.span = tracing::info_span!(
                "apiauth.fetch",
                provider = sh.provider.kind(),
                client_id = %sh.client_id,
                url = %t.request.uri(),
                status = tracing::field::Empty,
                elapsed_ms = tracing::field::Empty,
            );
        }
        step
    }

    /// The store answered a [`Step::Load`].
    pub fn handle_loaded(&mut self, result: Result<Option<StoredToken>, Error>) {
        let sh = Arc::clone(&self.shared);
        let mut st = sync::lock(&sh.state);
        let now = sh.clock.now();
        let mut out = Outbox::default();
        st.loading = false;
        match result {
            Ok(Some(entry)) => {
                if let Err(e) = auth_core::store::offer_stored(
                    &mut st.machine,
                    &sh.key,
                    entry,
                    now,
                    sh.clock.wall(),
                ) {
                    out.log(Log::StoreIgnored(e));
                }
                sh.process_events(&mut st, now, true, &mut out);
            }
            Ok(None) => {}
            Err(error) => out.log(Log::Store { op: "load", error }),
        }
        if matches!(self.phase, Phase::Loading) {
            self.phase = Phase::Drive;
        }
        sh.publish(&st, now);
        drop(st);
        out.deliver(&sh.client_id);
    }

    /// The token endpoint answered a [`Step::Send`] (any status).
    pub fn handle_response(&mut self, response: http::Response<Vec<u8>>) {
        let status = response.status().as_u16();
        self.report(|st, id, now, wall| st.machine.handle_response(id, response, now, wall));
        self.span.record("status", status);
        tracing::debug!(parent: &self.span, status, "token endpoint answered");
    }

    /// A [`Step::Send`] got no complete answer. `detail` must name the
    /// cause only; the core redacts the client secret from it anyway.
    pub fn handle_transport_error(&mut self, kind: TransportErrorKind, detail: &str) {
        self.report(|st, id, now, _| st.machine.handle_transport_error(id, kind, detail, now));
        tracing::debug!(parent: &self.span, kind = %kind, "token request got no answer");
    }

    fn report(
        &mut self,
        f: impl FnOnce(&mut crate::cell::State, RequestId, Instant, std::time::SystemTime),
    ) {
        let sh = Arc::clone(&self.shared);
        let mut st = sync::lock(&sh.state);
        let now = sh.clock.now();
        let mut out = Outbox::default();
        if let Phase::Sending { id, at } = self.phase {
            self.span.record(
                "elapsed_ms",
                u64::try_from(now.saturating_duration_since(at).as_millis()).unwrap_or(u64::MAX),
            );
            f(&mut st, id, now, sh.clock.wall());
            sh.process_events(&mut st, now, false, &mut out);
            self.phase = Phase::Drive;
        }
        sh.publish(&st, now);
        drop(st);
        out.deliver(&sh.client_id);
    }

    /// The store answered a [`Step::Lock`], [`Step::Save`] or
    /// [`Step::Remove`]. A failure is logged once and costs nothing else.
    pub fn handle_stored(&mut self, result: Result<(), Error>) {
        let op = match self.phase {
            Phase::Storing(op) => {
                self.phase = Phase::Drive;
                op
            }
            _ => "lock",
        };
        if let Err(error) = result {
            let mut out = Outbox::default();
            out.log(Log::Store { op, error });
            out.deliver(&self.shared.client_id);
        }
    }
}

/// Store calls, once for every driver: a panic becomes an error, a call
/// that outlasts its bound an error too; either is logged by the job and
/// costs a fetch, never a caller.
impl Job {
    /// Performs `step` if it is a store step, on a blocking store, and
    /// reports it; hands back the request of a [`Step::Send`] for the driver
    /// to send. The lock wait is cut to `wait_cap`; the lock's guard goes
    /// into `guard` (drop it when `next_step` returns `None`).
    pub fn perform_blocking(
        &mut self,
        step: Step,
        store: Option<&dyn TokenStore>,
        wait_cap: Option<Duration>,
        guard: &mut Option<StoreLock>,
    ) -> Option<Transmit> {
        let key = self.shared.key.clone();
        let caught = |what: &str, r: std::thread::Result<Result<(), Error>>| {
            r.unwrap_or_else(|_| Err(Error::Store(format!("the store panicked during {what}"))))
        };
        let call = |f: &mut dyn FnMut() -> Result<(), Error>| catch_unwind(AssertUnwindSafe(f));
        match (step, store) {
            (Step::Send(t), _) => return Some(t),
            (Step::Load, Some(s)) => {
                let loaded = catch_unwind(AssertUnwindSafe(|| s.load(&key)));
                self.handle_loaded(loaded.unwrap_or_else(|_| {
                    Err(Error::Store("the store panicked during load".into()))
                }));
            }
            (Step::Lock { wait }, Some(s)) => {
                let wait = wait_cap.map_or(wait, |c| c.min(wait));
                let r = call(&mut || s.lock(&key, wait).map(|g| *guard = g));
                self.handle_stored(caught("lock", r));
            }
            (Step::Save(e), Some(s)) => {
                let r = call(&mut || s.save(&key, &e));
                self.handle_stored(caught("save", r));
            }
            (Step::Remove(e), Some(s)) => {
                let r = call(&mut || s.remove(&key, &e));
                self.handle_stored(caught("remove", r));
            }
            (_, None) => self.handle_stored(Err(Error::misuse("a store step without a store"))),
        }
        None
    }

    /// Like [`perform_blocking`](Self::perform_blocking) for an async
    /// store; every call is bounded by `bound` on the runtime's timer
    /// (`sleep`).
    pub async fn perform_async<S, SF>(
        &mut self,
        step: Step,
        store: Option<&dyn AsyncTokenStore>,
        bound: Duration,
        sleep: S,
        guard: &mut Option<StoreLock>,
    ) -> Option<Transmit>
    where
        S: Fn(Duration) -> SF,
        SF: Future<Output = ()>,
    {
        let key = self.shared.key.clone();
        match (step, store) {
            (Step::Send(t), _) => return Some(t),
            (Step::Load, Some(s)) => {
                let mut loaded = None;
                let call = Box::pin(async { s.load(&key).await.map(|e| loaded = Some(e)) });
                let r = bounded("load", bound, sleep(bound), call).await;
                self.handle_loaded(r.map(|()| loaded.flatten()));
            }
            (Step::Lock { wait }, Some(s)) => {
                let call = Box::pin(async { s.lock(&key, wait).await.map(|g| *guard = g) });
                let r = bounded("lock", bound, sleep(bound), call).await;
                self.handle_stored(r);
            }
            (Step::Save(e), Some(s)) => {
                let r = bounded("save", bound, sleep(bound), s.save(&key, &e)).await;
                self.handle_stored(r);
            }
            (Step::Remove(e), Some(s)) => {
                let r = bounded("remove", bound, sleep(bound), s.remove(&key, &e)).await;
                self.handle_stored(r);
            }
            (_, None) => self.handle_stored(Err(Error::misuse("a store step without a store"))),
        }
        None
    }
}

/// A request that got no complete response, as a driver's transport
/// reports it: the kind the core backs off on, and the client's words.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong, for backoff and for the message.
    pub kind: TransportErrorKind,
    /// The HTTP client's description (redacted before anyone sees it).
    pub detail: String,
}

/// A failure outside a token job (registration, discovery): the core's
/// transport error, its detail sanitized and shortened.
impl From<Failure> for auth_core::Error {
    fn from(f: Failure) -> Self {
        auth_core::Error::Transport {
            kind: f.kind,
            detail: auth_core::redact::sanitize(&auth_core::redact::shorten(&f.detail, 200)),
        }
    }
}

impl Job {
    /// Puts back a request a [`Step::Send`] gave and that was not sent, so
    /// the job can move (to another thread, say) with it: the next
    /// [`next_step`](Self::next_step) gives it again.
    pub fn defer(&mut self, t: Transmit) {
        if matches!(self.phase, Phase::Sending { id, .. } if id == t.id) {
            self.phase = Phase::Pending(Box::new(t));
        }
    }

    /// Performs every step of the job on this thread: store calls here,
    /// requests through `send(request, within)` (the driver's transport),
    /// each in the job's span.
    ///
    /// With a `deadline` (a caller running its own demand) the store lock
    /// wait is cut to what is left, and a request that would not fit in it
    /// (less than `timeout` left) is not cut short: the job, request
    /// unsent, goes to `elsewhere` (a short-lived thread), where it gets its
    /// full timeout and serves the next callers; `elsewhere` hands it back
    /// when it cannot take it, and it is sent here within what is left.
    /// The store lock (`guard`: none to start with) travels with the job,
    /// so a fleet-wide lease is held until the request is answered.
    pub fn run_blocking<T, E>(
        mut self,
        mut guard: Option<StoreLock>,
        store: Option<&dyn TokenStore>,
        deadline: Option<Instant>,
        timeout: Duration,
        send: T,
        elsewhere: E,
    ) where
        T: Fn(http::Request<Vec<u8>>, Option<Duration>) -> Result<http::Response<Vec<u8>>, Failure>,
        E: FnOnce(Job, Option<StoreLock>) -> Option<(Job, Option<StoreLock>)>,
    {
        let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let mut elsewhere = Some(elsewhere);
        while let Some(step) = self.next_step() {
            let Some(t) = self.perform_blocking(step, store, left(), &mut guard) else {
                continue;
            };
            let within = left();
            if within.is_some_and(|l| l < timeout) {
                if let Some(hand) = elsewhere.take() {
                    self.defer(t);
                    match hand(self, guard.take()) {
                        None => return,
                        Some((back, lock)) => (self, guard) = (back, lock),
                    }
                    continue;
                }
            }
            let span = self.span().clone();
            match span.in_scope(|| send(t.request, within)) {
                Ok(response) => self.handle_response(response),
                Err(f) => self.handle_transport_error(f.kind, &f.detail),
            }
        }
        drop(guard);
    }

    /// Performs every step of the job: store calls bounded by `bound` on
    /// the runtime's timer, requests through `send` (the driver's
    /// transport), each in the job's span. The whole of an async driver's
    /// IO; the store lock is released when the job ends.
    pub async fn run_async<S, SF, T, TF>(
        mut self,
        store: Option<&dyn AsyncTokenStore>,
        bound: Duration,
        sleep: S,
        send: T,
    ) where
        S: Fn(Duration) -> SF,
        SF: Future<Output = ()>,
        T: Fn(http::Request<Vec<u8>>) -> TF,
        TF: Future<Output = Result<http::Response<Vec<u8>>, Failure>>,
    {
        let mut guard: Option<StoreLock> = None;
        while let Some(step) = self.next_step() {
            let performed = self.perform_async(step, store, bound, &sleep, &mut guard);
            let Some(t) = performed.await else {
                continue;
            };
            let sent = tracing::Instrument::instrument(send(t.request), self.span().clone());
            match sent.await {
                Ok(response) => self.handle_response(response),
                Err(f) => self.handle_transport_error(f.kind, &f.detail),
            }
        }
        drop(guard);
    }
}

/// Runs `call` until it ends, panics or `timer` fires, whichever is first.
async fn bounded<T>(
    what: &str,
    bound: Duration,
    timer: impl Future<Output = ()>,
    mut call: Pin<Box<dyn Future<Output = Result<T, Error>> + Send + '_>>,
) -> Result<T, Error> {
    let mut timer = std::pin::pin!(timer);
    std::future::poll_fn(|cx| {
        match catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(cx))) {
            Ok(Poll::Ready(r)) => return Poll::Ready(r),
            Err(_) => {
                return Poll::Ready(Err(Error::Store(format!(
                    "the store panicked during {what}"
                ))))
            }
            Ok(Poll::Pending) => {}
        }
        timer.as_mut().poll(cx).map(|()| {
            Err(Error::Store(format!(
                "the store did not answer {what} within {bound:?}"
            )))
        })
    })
    .await
}

impl Drop for Job {
    fn drop(&mut self) {
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        if matches!(phase, Phase::Done) {
            return;
        }
        let sh = Arc::clone(&self.shared);
        let mut st = sync::lock(&sh.state);
        let now = sh.clock.now();
        let mut out = Outbox::default();
        let abandoned = match phase {
            Phase::Sending { id, .. } => Some(id),
            Phase::Pending(t) => Some(t.id),
            Phase::Lock | Phase::Load | Phase::Loading => {
                st.loading = false;
                None
            }
            _ => None,
        };
        if let Some(id) = abandoned {
            st.machine.handle_transport_error(
                id,
                TransportErrorKind::Other,
                "the token request was abandoned: the task or thread sending it was cancelled, panicked or lost its runtime",
                now,
            );
            sh.process_events(&mut st, now, false, &mut out);
        }
        if st.busy == Some(self.id) {
            st.busy = None;
        }
        st.notify(&mut out);
        sh.publish(&st, now);
        drop(st);
        out.deliver(&sh.client_id);
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Lock => "lock",
            Phase::Load | Phase::Loading => "load",
            Phase::Pending(_) | Phase::Sending { .. } => "send",
            Phase::Storing(op) => op,
            Phase::Drive => "drive",
            Phase::Done => "done",
        };
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("phase", &phase)
            .finish()
    }
}
