//! The caller's side of a demand, once for every driver: follow the cell's
//! answers until a token or an error, never past the caller's wait limit.
//! A driver lends only what is its own — how to sleep, how to run a job.
//!
//! The wait limit is counted on the real monotonic clock from the call's
//! start: it bounds a person's or a service's waiting, while the cell's
//! [`Clock`](crate::Clock) decides about tokens.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use auth_core::Token;

use crate::{Demand, Error, Job, TokenCell};

impl TokenCell {
    /// Follows `first` (from [`read`](Self::read)'s miss, [`demand`](Self::demand)
    /// or [`demand_valid_for`](Self::demand_valid_for)) for an async caller.
    ///
    /// `sleep(d)` is the runtime's timer. `run(job)` gives the future that
    /// performs a job this caller got the slot for; it runs inside this
    /// caller's future (no task hop on a cold read). When the caller runs
    /// out of time, or its future is dropped, the rest of that job — the
    /// request in flight included, resumed, not re-sent — goes to
    /// `spawn` (a task) and serves the next callers.
    pub async fn wait_async<S, SF, R, P>(
        &self,
        first: Demand,
        sleep: S,
        mut run: R,
        spawn: P,
    ) -> Result<Arc<Token>, Error>
    where
        S: Fn(Duration) -> SF,
        SF: Future<Output = ()>,
        R: FnMut(Job) -> JobFuture,
        P: Fn(JobFuture) + Clone,
    {
        let limit = self.wait_limit();
        let deadline = Instant::now() + limit;
        // Counted until this returns, or its future is dropped.
        let _waiting = (!matches!(first, Demand::Ready(_))).then(|| self.shared.metrics.waiting());
        let mut demand = first;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            demand = match demand {
                Demand::Ready(t) => return Ok(t),
                Demand::Failed(e) => return Err(e),
                Demand::Run(job, ticket) => {
                    let mut inline = Handoff(Some(run(job)), spawn.clone());
                    let mut timer = pin!(sleep(left));
                    let done = poll_fn(|cx| match inline.poll(cx) {
                        Poll::Ready(()) => Poll::Ready(true),
                        Poll::Pending => timer.as_mut().poll(cx).map(|()| false),
                    });
                    if !done.await {
                        return Err(Error::WaitTimeout(limit));
                    }
                    Demand::Wait(ticket)
                }
                Demand::Wait(mut ticket) => {
                    if left.is_zero() {
                        return Err(Error::WaitTimeout(limit));
                    }
                    let mut nap = pin!(sleep(self.nap(&ticket, left)));
                    poll_fn(|cx| match self.poll_ticket(&mut ticket, cx) {
                        Poll::Ready(next) => Poll::Ready(next),
                        Poll::Pending => nap.as_mut().poll(cx).map(|()| Demand::Wait(ticket)),
                    })
                    .await
                }
            };
        }
    }

    /// Follows `first` for a blocking caller: the thread parks until its
    /// ticket moves, the machine's next deadline, or its wait limit.
    /// `run(job, left)` performs a job this caller got the slot for; it
    /// may hand the job to another thread rather than outlast `left`.
    pub fn wait_blocking(
        &self,
        first: Demand,
        mut run: impl FnMut(Job, Duration),
    ) -> Result<Arc<Token>, Error> {
        let limit = self.wait_limit();
        let deadline = Instant::now() + limit;
        // Counted until this returns, or its future is dropped.
        let _waiting = (!matches!(first, Demand::Ready(_))).then(|| self.shared.metrics.waiting());
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut demand = first;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            demand = match demand {
                Demand::Ready(t) => return Ok(t),
                Demand::Failed(e) => return Err(e),
                Demand::Run(job, ticket) => {
                    run(job, left);
                    Demand::Wait(ticket)
                }
                Demand::Wait(mut ticket) => match self.poll_ticket(&mut ticket, &mut cx) {
                    Poll::Ready(next) => next,
                    Poll::Pending if left.is_zero() => return Err(Error::WaitTimeout(limit)),
                    Poll::Pending => {
                        // A spurious wake-up only costs one more poll.
                        thread::park_timeout(self.nap(&ticket, left));
                        Demand::Wait(ticket)
                    }
                },
            };
        }
    }

    /// How long a waiter sleeps at most: until the machine's next deadline
    /// (a backoff ending), never past its own.
    fn nap(&self, ticket: &crate::Ticket, left: Duration) -> Duration {
        self.wake_in(ticket).map_or(left, |w| w.min(left))
    }
}

/// A job's future, as an async driver runs it: on a task, or first inside
/// a caller's future.
pub type JobFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A job run inside a caller's future. Dropped unfinished (the caller was
/// cancelled or out of time) it hands the rest to the driver's `spawn`,
/// so the request in flight is resumed, not re-sent.
struct Handoff<P: Fn(JobFuture)>(Option<JobFuture>, P);

impl<P: Fn(JobFuture)> Handoff<P> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
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

impl<P: Fn(JobFuture)> Drop for Handoff<P> {
    fn drop(&mut self) {
        if let Some(fut) = self.0.take() {
            (self.1)(fut);
        }
    }
}

/// Wakes a parked waiter.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
