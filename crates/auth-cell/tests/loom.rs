//! Loom models of the cell's synchronization: every interleaving of a few
//! threads reading, demanding, fetching (succeeding, failing, abandoned)
//! and invalidating, with the invariants asserted at the end.
//!
//! Run by `cargo xtask ci` as
//! `RUSTFLAGS="--cfg apiauth_loom" cargo test -p auth-cell --test loom --release`
//! (with `LOOM_MAX_PREEMPTIONS=3`, which keeps it inside the time budget).

#![cfg(apiauth_loom)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use auth_cell::{Demand, Error, Job, ManualClock, Read, Step, TokenCell};
use auth_core::{StoredToken, Token};
use common::{cell, Server};
use loom::thread;

/// A persistent store as loom sees it: one entry, behind loom's mutex so
/// every interleaving of store IO with the cell is explored.
type Shelf = loom::sync::Mutex<Option<StoredToken>>;

/// Runs a job, counting concurrent sends: the slot admits one at a time.
fn run(job: Job, server: &Server, in_flight: &AtomicUsize, abandon: bool) {
    run_on(None, job, server, in_flight, abandon);
}

/// [`run`] with a store: loads, saves and conditional removals go to
/// `shelf`.
fn run_on(
    shelf: Option<&Shelf>,
    mut job: Job,
    server: &Server,
    in_flight: &AtomicUsize,
    abandon: bool,
) {
    while let Some(step) = job.next_step() {
        match step {
            Step::Send(_) => {
                assert_eq!(
                    in_flight.fetch_add(1, Ordering::SeqCst),
                    0,
                    "two requests in flight"
                );
                thread::yield_now();
                in_flight.fetch_sub(1, Ordering::SeqCst);
                if abandon {
                    return; // dropped mid-request
                }
                job.handle_response(server.answer());
            }
            Step::Lock { .. } => job.handle_stored(Ok(())),
            Step::Load => {
                let stored = shelf.and_then(|s| s.lock().unwrap().clone());
                job.handle_loaded(Ok(stored));
            }
            Step::Save(e) => {
                if let Some(s) = shelf {
                    *s.lock().unwrap() = Some(e);
                }
                job.handle_stored(Ok(()));
            }
            Step::Remove(e) => {
                if let Some(s) = shelf {
                    let mut held = s.lock().unwrap();
                    let same = held.as_ref().is_some_and(|h| {
                        h.access_token.expose_secret() == e.access_token.expose_secret()
                    });
                    if same {
                        *held = None;
                    }
                }
                job.handle_stored(Ok(()));
            }
            _ => unreachable!(),
        }
    }
}

/// A whole `token()` call as a driver makes it, waiting with loom's
/// `block_on` (so a lost wake-up is a deadlock loom reports) and jumping the
/// clock where a driver would sleep until a backoff ends.
fn get(
    cell: &TokenCell,
    clock: &ManualClock,
    server: &Server,
    in_flight: &AtomicUsize,
    abandon_first: bool,
) -> Result<Arc<Token>, Error> {
    let mut abandon = abandon_first;
    match cell.read() {
        Read::Fresh(t) => return Ok(t),
        Read::Refresh(t, job) => {
            run(job, server, in_flight, false);
            return Ok(t);
        }
        Read::Miss => {}
    }
    let mut demand = cell.demand();
    loop {
        demand = match demand {
            Demand::Ready(t) => return Ok(t),
            Demand::Failed(e) => return Err(e),
            Demand::Run(job, ticket) => {
                run(job, server, in_flight, std::mem::take(&mut abandon));
                Demand::Wait(ticket)
            }
            Demand::Wait(mut ticket) => {
                if let Some(wait) = cell.wake_in(&ticket) {
                    // A driver sleeps at most `wait`; here time jumps. The
                    // waker registered meanwhile must outlive this poll,
                    // which loom's `block_on` wakers do not: use a no-op.
                    let mut cx = Context::from_waker(Waker::noop());
                    match cell.poll_ticket(&mut ticket, &mut cx) {
                        Poll::Ready(d) => d,
                        Poll::Pending => {
                            clock.advance(wait);
                            Demand::Wait(ticket)
                        }
                    }
                } else {
                    loom::future::block_on(poll_fn(|cx| cell.poll_ticket(&mut ticket, cx)))
                }
            }
        };
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// One model's world: a cell, its clock, the fake token endpoint and the
/// in-flight counter.
#[derive(Clone)]
struct World {
    clock: Arc<ManualClock>,
    cell: TokenCell,
    server: Arc<Server>,
    in_flight: Arc<AtomicUsize>,
}

impl World {
    fn new(answers: Vec<(u16, String)>) -> Self {
        let clock = Arc::new(ManualClock::new());
        Self {
            cell: cell(&clock, false),
            clock,
            server: Server::new(answers),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn get(&self, abandon_first: bool) -> Result<Arc<Token>, Error> {
        get(
            &self.cell,
            &self.clock,
            &self.server,
            &self.in_flight,
            abandon_first,
        )
    }

    fn spawn(&self, abandon_first: bool) -> thread::JoinHandle<Result<Arc<Token>, Error>> {
        let world = self.clone();
        thread::spawn(move || world.get(abandon_first))
    }
}

/// Two callers on a cold cell and a reader: one request, one token, and
/// nobody sees a token that is not usable.
#[test]
fn cold_callers_share_one_request() {
    model(|| {
        let w = World::new(vec![Server::token("t1", 3600)]);
        let (a, b) = (w.spawn(false), w.spawn(false));
        if let Read::Fresh(t) = w.cell.read() {
            assert!(t.is_usable(auth_cell::Clock::now(&*w.clock)));
        }
        let (a, b) = (a.join().unwrap().unwrap(), b.join().unwrap().unwrap());
        assert_eq!(a.id(), b.id());
        assert_eq!(w.server.sends(), 1);
    });
}

/// A final failure reaches both waiters of the round, each once.
#[test]
fn a_failure_reaches_every_waiter() {
    model(|| {
        let w = World::new(vec![(401, r#"{"error":"invalid_client"}"#.into())]);
        let (a, b) = (w.spawn(false), w.spawn(false));
        for h in [a, b] {
            let e = h.join().unwrap().unwrap_err();
            assert!(!e.is_retryable(), "{e}");
        }
        assert_eq!(w.server.sends(), 1);
    });
}

/// The slot holder abandons its request (its task dropped mid-send) while
/// another caller waits: nothing wedges, and both callers end with the
/// token of the retry.
#[test]
fn an_abandoned_request_does_not_wedge_the_waiters() {
    model(|| {
        let w = World::new(vec![Server::token("t1", 3600)]);
        let (a, b) = (w.spawn(true), w.spawn(false));
        let (a, b) = (a.join().unwrap().unwrap(), b.join().unwrap().unwrap());
        assert_eq!(a.id(), b.id());
    });
}

/// An invalidation races a reader and a caller: once `invalidate` has
/// returned, the rejected token is never read again.
#[test]
fn an_invalidated_token_never_comes_back() {
    model(|| {
        let w = World::new(vec![Server::token("t1", 3600), Server::token("t2", 3600)]);
        let t1 = w.get(false).unwrap();
        let invalidator = {
            let (cell, t1) = (w.cell.clone(), t1.clone());
            thread::spawn(move || {
                assert!(cell.invalidate(&t1).is_none());
                if let Read::Fresh(t) = cell.read() {
                    assert_ne!(t.id(), t1.id(), "read back after invalidate");
                }
            })
        };
        let caller = w.spawn(false);
        invalidator.join().unwrap();
        let _ = caller.join().unwrap().unwrap();
        assert_ne!(w.get(false).unwrap().id(), t1.id());
    });
}

/// A transient failure leaves the round open: the slot holder finishes its
/// job and every waiter must learn it, so one of them drives the retry when
/// the backoff ends (a waiter that joined while the request was in flight
/// has no deadline to wake it otherwise).
#[test]
fn a_transient_failure_is_retried_by_a_waiter() {
    model(|| {
        let w = World::new(vec![(503, "{}".into()), Server::token("t1", 3600)]);
        let (a, b) = (w.spawn(false), w.spawn(false));
        let (a, b) = (a.join().unwrap().unwrap(), b.join().unwrap().unwrap());
        assert_eq!(a.id(), b.id());
        assert_eq!(w.server.sends(), 2);
    });
}

/// The store renewal path (fleet-wide renewal): a reader in the refresh
/// window claims the refresh, which looks in the store first and sends only
/// if the stored token is no newer; meanwhile the held token is
/// invalidated, which queues the removal of its store entry. Whatever the
/// order: one request at a time, the rejected token is never read again,
/// neither from memory nor revived from the store, and the store does not
/// end up holding it.
#[test]
fn a_refresh_through_the_store_never_revives_an_invalidated_token() {
    model(|| {
        let clock = Arc::new(ManualClock::new());
        let cell = cell(&clock, true);
        let server = Server::new(vec![
            Server::token("t1", 3600),
            Server::token("t2", 3600),
            Server::token("t3", 3600),
        ]);
        let shelf: Arc<Shelf> = Arc::new(loom::sync::Mutex::new(None));
        let in_flight = Arc::new(AtomicUsize::new(0));
        // t1, fetched and saved.
        let Demand::Run(job, _) = cell.demand() else {
            panic!("a cold cell sends")
        };
        run_on(Some(&shelf), job, &server, &in_flight, false);
        let Read::Fresh(t1) = cell.read() else {
            panic!("t1 is held")
        };
        clock.advance(std::time::Duration::from_secs(3600 - 60));

        let refresher = {
            let (cell, server, shelf, in_flight) = (
                cell.clone(),
                Arc::clone(&server),
                Arc::clone(&shelf),
                Arc::clone(&in_flight),
            );
            thread::spawn(move || {
                if let Read::Refresh(_, job) = cell.read() {
                    run_on(Some(&shelf), job, &server, &in_flight, false);
                }
            })
        };
        if let Some(job) = cell.invalidate(&t1) {
            run_on(Some(&shelf), job, &server, &in_flight, false);
        }
        // By value: a token revived from the store is a new `Token`.
        let secret = |t: &Token| t.access_token().expose_secret().to_owned();
        if let Read::Fresh(t) | Read::Refresh(t, _) = cell.read() {
            assert_ne!(secret(&t), secret(&t1), "read back after invalidate");
        }
        refresher.join().unwrap();
        // Drive whatever is left (a caller after the race).
        let mut demand = cell.demand();
        let mut steps = 0;
        let token = loop {
            steps += 1;
            assert!(steps < 100, "the caller after the race never got a token");
            demand = match demand {
                Demand::Ready(t) => break t,
                Demand::Failed(e) => panic!("{e}"),
                Demand::Run(job, ticket) => {
                    run_on(Some(&shelf), job, &server, &in_flight, false);
                    Demand::Wait(ticket)
                }
                Demand::Wait(mut ticket) => {
                    let mut cx = Context::from_waker(Waker::noop());
                    match cell.poll_ticket(&mut ticket, &mut cx) {
                        Poll::Ready(d) => d,
                        Poll::Pending => {
                            clock.advance(cell.wake_in(&ticket).unwrap_or_default());
                            Demand::Wait(ticket)
                        }
                    }
                }
            };
        };
        assert_ne!(secret(&token), secret(&t1), "the rejected token came back");
        let held = shelf.lock().unwrap();
        assert!(
            held.as_ref().is_none_or(|h| {
                h.access_token.expose_secret() != t1.access_token().expose_secret()
            }),
            "the store still holds the rejected token"
        );
    });
}
