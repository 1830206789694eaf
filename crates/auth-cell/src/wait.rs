//! The caller's side of a demand, once for every driver: follow the cell's
//! answers until a token or an error, never past the caller's wait limit.
//! A driver lends only what is its own — how to sleep, how to run a job.
//!
//! The wait limit is counted on the real monotonic clock from the call's
//! start: it bounds a person's or a service's waiting, while the cell's
//! [`Clock`](crate::Clock) decides about tokens.

use std::future::{poll_fn, Future};
use std::pin::pin;
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
    /// `sleep(d)` is the runtime's timer. `run(job, left)` performs a job
    /// this caller got the slot for and answers whether it finished within
    /// `left`; when it did not, it must leave the job to finish elsewhere
    /// (a task), and the caller gets [`Error::WaitTimeout`].
    pub async fn wait_async<S, SF, R, RF>(
        &self,
        first: Demand,
        sleep: S,
        mut run: R,
    ) -> Result<Arc<Token>, Error>
    where
        S: Fn(Duration) -> SF,
        SF: Future<Output = ()>,
        R: FnMut(Job, Duration) -> RF,
        RF: Future<Output = bool>,
    {
        let limit = self.wait_limit();
        let deadline = Instant::now() + limit;
        let mut demand = first;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            demand = match demand {
                Demand::Ready(t) => return Ok(t),
                Demand::Failed(e) => return Err(e),
                Demand::Run(job, ticket) => {
                    if !run(job, left).await {
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
