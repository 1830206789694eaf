//! The cell's guarantees, deterministically: a clock moved by hand, canned
//! answers, jobs dropped, cancelled and panicked at their edges.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use auth_cell::{ApiCall, Clock, Demand, Limits, ManualClock, MemoryStore, Read, Step, TokenStore};
use auth_core::{RefreshPolicy, StoredToken};
use common::{builder, cell, run, token, Server};

fn noop() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

/// Issue 9's headline: a 4 s token read 4.5 s later. The old async driver
/// skipped the clock while a timer was "armed" and served it; the cell has
/// no timer to trust and checks every read against the clock.
#[test]
fn an_expired_token_is_never_read() {
    let clock = Arc::new(ManualClock::new());
    let cell = cell(&clock, false);
    let server = Server::new(vec![Server::token("t1", 4)]);
    let t1 = token(&cell, &clock, &server, None).unwrap();
    clock.advance(Duration::from_millis(4500));
    assert!(!t1.is_usable(clock.now()));
    assert!(matches!(cell.read(), Read::Miss));
    let t2 = token(&cell, &clock, &server, None).unwrap();
    assert_ne!(t1.id(), t2.id());
    assert!(t2.is_usable(clock.now()));
    assert_eq!(server.sends(), 2);
}

/// Two callers on a cold cell share one request; the second waits on a
/// ticket that resolves with the first one's token.
#[test]
fn a_cold_herd_shares_one_request() {
    let clock = Arc::new(ManualClock::new());
    let cell = cell(&clock, false);
    let server = Server::new(vec![Server::token("t1", 3600)]);
    let Demand::Run(job, mut first) = cell.demand() else {
        panic!("the first caller sends")
    };
    let Demand::Wait(mut second) = cell.demand() else {
        panic!("the second caller waits")
    };
    assert!(cell.poll_ticket(&mut second, &mut noop()).is_pending());
    run(job, &server, None);
    let Poll::Ready(Demand::Ready(a)) = cell.poll_ticket(&mut first, &mut noop()) else {
        panic!()
    };
    let Poll::Ready(Demand::Ready(b)) = cell.poll_ticket(&mut second, &mut noop()) else {
        panic!()
    };
    assert_eq!(a.id(), b.id());
    assert_eq!(server.sends(), 1);
}

/// Issue 9 items 2, 3, 7: the holder of the IO slot vanishes mid-request
/// (its task cancelled, its runtime dropped, its thread panicking). The old
/// drivers left a flag set and every later caller timed out; here the
/// dropped job reports the request abandoned, frees the slot, and wakes the
/// waiter, which drives the retry after the backoff.
#[test]
fn a_job_dropped_mid_request_frees_the_slot_and_wakes_waiters() {
    let clock = Arc::new(ManualClock::new());
    let cell = cell(&clock, false);
    let server = Server::new(vec![Server::token("t1", 3600)]);
    let Demand::Run(mut job, _) = cell.demand() else {
        panic!()
    };
    let Some(Step::Send(_)) = job.next_step() else {
        panic!()
    };
    let Demand::Wait(mut waiter) = cell.demand() else {
        panic!()
    };
    drop(job); // mid-request
    let got = match cell.poll_ticket(&mut waiter, &mut noop()) {
        Poll::Ready(d) => d,
        Poll::Pending => panic!("the waiter was not told the slot is free"),
    };
    // The abandoned request backs off; the waiter sleeps until it ends,
    // then takes the slot.
    let Demand::Wait(mut waiter) = got else {
        panic!("expected a wait for the backoff, got {got:?}")
    };
    clock.advance(cell.wake_in(&waiter).unwrap());
    let Poll::Ready(Demand::Run(job, mut waiter2)) = cell.poll_ticket(&mut waiter, &mut noop())
    else {
        panic!("the waiter did not get the slot")
    };
    run(job, &server, None);
    assert!(matches!(
        cell.poll_ticket(&mut waiter2, &mut noop()),
        Poll::Ready(Demand::Ready(_))
    ));
}

/// A panic inside the cell's lock (here: the clock, read under it) poisons
/// nothing for good: the next call works.
#[test]
fn a_panic_inside_the_lock_does_not_wedge_the_cell() {
    #[derive(Debug)]
    struct Flaky(Arc<ManualClock>, AtomicBool);
    impl Clock for Flaky {
        fn now(&self) -> Instant {
            if self.1.swap(false, Ordering::SeqCst) {
                panic!("clock failure");
            }
            self.0.now()
        }
        fn wall(&self) -> SystemTime {
            self.0.wall()
        }
    }
    let manual = Arc::new(ManualClock::new());
    let clock = Arc::new(Flaky(manual.clone(), AtomicBool::new(false)));
    let cell = builder(&manual)
        .clock(clock.clone())
        .build(&Limits::default(), false)
        .unwrap();
    let server = Server::new(vec![Server::token("t1", 3600)]);
    let Demand::Run(mut job, _) = cell.demand() else {
        panic!()
    };
    let Some(Step::Send(_)) = job.next_step() else {
        panic!()
    };
    clock.1.store(true, Ordering::SeqCst);
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        job.handle_response(http::Response::new(Vec::new()));
    }));
    assert!(panicked.is_err(), "the clock panicked under the lock");
    drop(job);
    // The poisoned lock is recovered, the abandoned request backs off, and
    // the next caller gets a token.
    let t = token(&cell, &manual, &server, None).unwrap();
    assert_eq!(t.access_token().expose_secret(), "t1");
}

/// Issue 9 item 9: a caller must not be handed an outcome older than its
/// own demand. Round 1 fails transiently and backs off; a new caller
/// within the backoff waits for the next attempt instead of getting round
/// 1's error.
#[test]
fn a_waiter_never_gets_an_older_outcome() {
    let clock = Arc::new(ManualClock::new());
    let cell = builder(&clock)
        .policy(RefreshPolicy::default().with_waiting_retries(0))
        .build(&Limits::default(), false)
        .unwrap();
    let server = Server::new(vec![(503, "{}".into()), Server::token("t2", 3600)]);
    let first = token(&cell, &clock, &server, None);
    assert!(first.is_err(), "round 1 fails: {first:?}");
    // Round 2, during round 1's backoff.
    let d = cell.demand();
    let Demand::Wait(mut t) = d else {
        panic!("round 2 must wait for its own attempt, got {d:?}")
    };
    assert!(cell.poll_ticket(&mut t, &mut noop()).is_pending());
    clock.advance(cell.wake_in(&t).unwrap());
    let Poll::Ready(Demand::Run(job, mut t)) = cell.poll_ticket(&mut t, &mut noop()) else {
        panic!()
    };
    run(job, &server, None);
    assert!(matches!(
        cell.poll_ticket(&mut t, &mut noop()),
        Poll::Ready(Demand::Ready(_))
    ));
}

/// Issue 9 items 4 and 5: an invalidated token never comes back — not from
/// the cache, not from the store, not from a token endpoint that hands the
/// same value out again.
#[test]
fn an_invalidated_token_never_comes_back() {
    let clock = Arc::new(ManualClock::new());
    let store = MemoryStore::new();
    let cell = cell(&clock, true);
    let server = Server::new(vec![
        Server::token("t1", 3600),
        Server::token("t1", 3600),
        Server::token("t2", 3600),
    ]);
    let t1 = token(&cell, &clock, &server, Some(&store)).unwrap();
    assert_eq!(store.len(), 1);
    if let Some(job) = cell.invalidate(&t1) {
        run(job, &server, Some(&store));
    }
    assert!(store.is_empty(), "the rejected entry is removed");
    assert!(matches!(cell.read(), Read::Miss));
    let t = token(&cell, &clock, &server, Some(&store)).unwrap();
    assert_eq!(t.access_token().expose_secret(), "t2");
    assert_eq!(
        server.sends(),
        3,
        "t1 reissued was refused, then t2 fetched"
    );
}

/// Issue 9 items 10 and 12: store operations are ordered and a removal is
/// conditional. A save still queued when its token is rejected is dropped;
/// a late invalidation of an old token does not delete a newer entry
/// another process saved.
#[test]
fn store_operations_are_ordered_and_removals_conditional() {
    let clock = Arc::new(ManualClock::new());
    let store = MemoryStore::new();
    let cell = cell(&clock, true);
    let server = Server::new(vec![Server::token("t1", 3600), Server::token("t2", 3600)]);
    // Fetch t1 but stop before its save runs.
    let Demand::Run(mut job, _) = cell.demand() else {
        panic!()
    };
    assert!(matches!(job.next_step(), Some(Step::Lock { .. })));
    job.handle_stored(Ok(()));
    assert!(matches!(job.next_step(), Some(Step::Load)));
    job.handle_loaded(Ok(None));
    let Some(Step::Send(_)) = job.next_step() else {
        panic!()
    };
    job.handle_response(
        http::Response::builder()
            .status(200)
            .body(Server::token("t1", 3600).1.into_bytes())
            .unwrap(),
    );
    let Read::Fresh(t1) = cell.read() else {
        panic!()
    };
    // The API rejects t1 while its save is still queued.
    assert!(cell.invalidate(&t1).is_none(), "the slot holder runs it");
    let mut steps = Vec::new();
    while let Some(step) = job.next_step() {
        match step {
            Step::Save(e) => {
                steps.push("save");
                store.save(job.key(), &e).unwrap();
                job.handle_stored(Ok(()));
            }
            Step::Remove(e) => {
                steps.push("remove");
                store.remove(job.key(), &e).unwrap();
                job.handle_stored(Ok(()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(steps, ["remove"], "the save of a rejected token is dropped");
    assert!(store.is_empty());

    // Another process saved t2; a late invalidation of t1 leaves it.
    let key = cell.key().clone();
    let other = StoredToken {
        key: key.as_str().to_owned(),
        access_token: auth_core::AccessToken::new("t2".to_owned()),
        token_type: "Bearer".into(),
        expires_at: None,
        scope: String::new(),
        publishable: false,
        issued_at: None,
    };
    store.save(&key, &other).unwrap();
    if let Some(job) = cell.invalidate(&t1) {
        run(job, &server, Some(&store));
    }
    assert_eq!(store.len(), 1, "a newer entry survives a late invalidation");
}

/// Inside the refresh-ahead window the first reader claims the refresh and
/// keeps the valid token; readers meanwhile neither wait nor claim twice.
#[test]
fn refresh_ahead_is_claimed_once_and_nobody_waits() {
    let clock = Arc::new(ManualClock::new());
    let cell = cell(&clock, false);
    let server = Server::new(vec![Server::token("t1", 3600), Server::token("t2", 3600)]);
    let t1 = token(&cell, &clock, &server, None).unwrap();
    clock.advance(Duration::from_secs(3600 - 60));
    assert!(t1.is_usable(clock.now()));
    let Read::Refresh(same, job) = cell.read() else {
        panic!("the refresh is due")
    };
    assert_eq!(same.id(), t1.id());
    assert!(
        matches!(cell.read(), Read::Fresh(t) if t.id() == t1.id()),
        "a second reader neither waits nor claims"
    );
    run(job, &server, None);
    let Read::Fresh(t2) = cell.read() else {
        panic!()
    };
    assert_ne!(t2.id(), t1.id());
    assert_eq!(server.sends(), 2);
}

/// A final error reaches every waiter of the round, once, and the next
/// caller within the cooldown gets it without a request.
#[test]
fn a_final_error_reaches_every_waiter_without_a_retry_loop() {
    let clock = Arc::new(ManualClock::new());
    let cell = cell(&clock, false);
    let server = Server::new(vec![(401, r#"{"error":"invalid_client"}"#.into())]);
    let Demand::Run(job, mut a) = cell.demand() else {
        panic!()
    };
    let Demand::Wait(mut b) = cell.demand() else {
        panic!()
    };
    run(job, &server, None);
    for t in [&mut a, &mut b] {
        let Poll::Ready(Demand::Failed(e)) = cell.poll_ticket(t, &mut noop()) else {
            panic!()
        };
        assert!(!e.is_retryable(), "{e}");
    }
    assert!(matches!(cell.demand(), Demand::Failed(_)));
    assert_eq!(server.sends(), 1);
}

/// Min-validity reads retire a token that is too short-lived and fetch a
/// new one, without touching the shared store entry.
#[test]
fn min_validity_retires_without_removing_the_store_entry() {
    let clock = Arc::new(ManualClock::new());
    let store = MemoryStore::new();
    let cell = cell(&clock, true);
    let server = Server::new(vec![Server::token("t1", 600), Server::token("t2", 3600)]);
    let t1 = token(&cell, &clock, &server, Some(&store)).unwrap();
    let Demand::Ready(same) = cell.demand_valid_for(Duration::from_secs(60)) else {
        panic!()
    };
    assert_eq!(same.id(), t1.id());
    let d = cell.demand_valid_for(Duration::from_secs(1800));
    let Demand::Run(job, _) = d else {
        panic!("{d:?}")
    };
    let mut removed = false;
    let mut job = job;
    while let Some(step) = job.next_step() {
        match step {
            Step::Remove(_) => removed = true,
            Step::Lock { .. } | Step::Save(_) => job.handle_stored(Ok(())),
            Step::Load => job.handle_loaded(TokenStore::load(&store, job.key())),
            Step::Send(_) => job.handle_response(
                http::Response::builder()
                    .status(200)
                    .body(Server::token("t2", 3600).1.into_bytes())
                    .unwrap(),
            ),
            _ => unreachable!(),
        }
    }
    assert!(!removed);
    let Read::Fresh(t2) = cell.read() else {
        panic!()
    };
    assert_eq!(t2.access_token().expose_secret(), "t2");
}

/// The retry-once rule: a rejected answer invalidates the token that was
/// sent, and is retried once when the request can be replayed, never twice.
#[test]
fn a_rejected_answer_is_invalidated_and_retried_once() {
    let clock = Arc::new(ManualClock::new());
    let cell = cell(&clock, false);
    let server = Server::new(vec![
        Server::token("t1", 3600),
        Server::token("t2", 3600),
        Server::token("t3", 3600),
    ]);
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    let unauthorized = http::StatusCode::UNAUTHORIZED;
    let mut call = ApiCall::new(true);
    let t1 = token(&cell, &clock, &server, None).unwrap();
    let ok = call.judge(&cell, &t1, http::StatusCode::OK, &h, false);
    assert!(!ok.rejected && !ok.retry);
    assert!(matches!(cell.read(), Read::Fresh(t) if t.id() == t1.id()));
    let first = call.judge(&cell, &t1, unauthorized, &h, true);
    assert!(first.rejected && first.retry && first.job.is_none());
    assert!(
        matches!(cell.read(), Read::Miss),
        "the rejected token is gone"
    );
    let t2 = token(&cell, &clock, &server, None).unwrap();
    let second = call.judge(&cell, &t2, unauthorized, &h, true);
    assert!(
        second.rejected && !second.retry,
        "retried once, never twice"
    );
    let mut once = ApiCall::new(false);
    let t3 = token(&cell, &clock, &server, None).unwrap();
    let j = once.judge(&cell, &t3, unauthorized, &h, true);
    assert!(j.rejected && !j.retry);
}

/// The builder refuses configurations no request could live with.
#[test]
fn the_builder_refuses_what_cannot_work() {
    let clock = Arc::new(ManualClock::new());
    let zero = Limits {
        timeout: Duration::ZERO,
        ..Limits::default()
    };
    assert!(builder(&clock).build(&zero, false).is_err());
    assert!(builder(&clock)
        .wait_limit(Duration::ZERO)
        .build(&Limits::default(), false)
        .is_err());
    let e = builder(&clock)
        .build_search(&Limits::default(), false)
        .unwrap_err();
    assert!(e.to_string().contains("Markable"), "{e}");
}

/// The blocking wait loop: a cold caller runs the job it is given and gets
/// the token; a second caller parked on the same round is woken with it.
#[test]
fn wait_blocking_runs_the_job_and_wakes_a_parked_waiter() {
    let clock = Arc::new(ManualClock::new());
    let cell = cell(&clock, false);
    let server = Server::new(vec![Server::token("t1", 3600)]);
    let Demand::Run(job, ticket) = cell.demand() else {
        panic!()
    };
    let waiter = {
        let cell = cell.clone();
        std::thread::spawn(move || cell.wait_blocking(cell.demand(), |_, _| panic!("not mine")))
    };
    std::thread::sleep(Duration::from_millis(50)); // the waiter parks
    run(job, &server, None);
    let mine = cell
        .wait_blocking(Demand::Wait(ticket), |_, _| panic!("already run"))
        .unwrap();
    let theirs = waiter.join().unwrap().unwrap();
    assert_eq!(mine.id(), theirs.id());
    assert_eq!(server.sends(), 1);
}

/// The wait limit bounds a caller whose job runs elsewhere and late.
#[test]
fn wait_blocking_ends_at_the_wait_limit() {
    let clock = Arc::new(ManualClock::new());
    let cell = builder(&clock)
        .wait_limit(Duration::from_millis(100))
        .build(&Limits::default(), false)
        .unwrap();
    let server = Server::new(vec![Server::token("t1", 3600)]);
    let started = Instant::now();
    let mut late = None;
    let e = cell
        .wait_blocking(cell.demand(), |job, left| {
            assert!(left <= Duration::from_millis(100));
            late = Some(job); // "handed to another thread" that is slow
        })
        .unwrap_err();
    assert!(matches!(e, auth_cell::Error::WaitTimeout(_)), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    run(late.unwrap(), &server, None);
    assert!(matches!(cell.read(), Read::Fresh(_)));
}

/// Found by the Redis store's tests: while the slot holder waits on the
/// store (Lock, Load) and the machine holds a token past its deadlines, a
/// waiter's ticket carried a wake-up time already past, so every poll
/// answered "look again" at once: an async waiter never yielded (two of
/// them filled a runtime's workers and starved the slot holder) and a
/// blocking one burned its thread. A waiter now waits for the slot
/// holder's signal.
#[test]
fn a_waiter_behind_a_slow_store_waits_instead_of_spinning() {
    let clock = Arc::new(ManualClock::new());
    let store = MemoryStore::new();
    let cell = builder(&clock)
        .policy(RefreshPolicy::default().with_refresh_ahead(Duration::ZERO))
        .build(&Limits::default(), true)
        .unwrap();
    let server = Server::new(vec![Server::token("t1", 60), Server::token("t2", 60)]);
    token(&cell, &clock, &server, Some(&store)).unwrap();
    clock.advance(Duration::from_secs(61));
    let Demand::Run(mut job, _first) = cell.demand() else {
        panic!("the first caller takes the slot")
    };
    // The slot holder is now waiting on the store's lock.
    assert!(matches!(job.next_step(), Some(Step::Lock { .. })));
    let mut waiter = match cell.demand() {
        Demand::Wait(t) => t,
        other => panic!("a second caller waits: {other:?}"),
    };
    for _ in 0..3 {
        assert!(
            cell.poll_ticket(&mut waiter, &mut noop()).is_pending(),
            "a waiter spins"
        );
    }
    assert_eq!(cell.wake_in(&waiter), None, "no wake-up time in the past");
    job.handle_stored(Ok(()));
    run(job, &server, Some(&store));
    let Poll::Ready(Demand::Ready(t2)) = cell.poll_ticket(&mut waiter, &mut noop()) else {
        panic!("the waiter gets the new token")
    };
    assert!(t2.is_usable(clock.now()));
}

/// Issue 12: processes sharing a store renew once per lifetime between
/// them. A refresh looks in the store first, under its lock; the second
/// process finds the token the first one renewed and sends nothing.
#[test]
fn cells_sharing_a_store_renew_once_between_them() {
    let clock = Arc::new(ManualClock::new());
    let store = MemoryStore::new();
    let a = builder(&clock).build(&Limits::default(), true).unwrap();
    let b = builder(&clock)
        .seed(8)
        .build(&Limits::default(), true)
        .unwrap();
    let server = Server::new(vec![Server::token("t1", 3600), Server::token("t2", 3600)]);
    let t1 = token(&a, &clock, &server, Some(&store)).unwrap();
    let from_store = token(&b, &clock, &server, Some(&store)).unwrap();
    assert_eq!(server.sends(), 1, "the second cell starts from the store");
    assert_eq!(
        from_store.access_token().expose_secret(),
        t1.access_token().expose_secret()
    );
    // Inside both refresh windows, still usable.
    clock.advance(Duration::from_secs(3500));
    for cell in [&a, &b] {
        match cell.read() {
            Read::Refresh(held, job) => {
                assert_eq!(held.access_token().expose_secret(), "t1");
                run(job, &server, Some(&store));
            }
            Read::Fresh(_) => panic!("the refresh window should have begun"),
            Read::Miss => panic!("t1 is still usable"),
        }
    }
    assert_eq!(server.sends(), 2, "one renewal for both");
    for cell in [&a, &b] {
        let Read::Fresh(t) = cell.read() else {
            panic!("both hold the renewed token")
        };
        assert_eq!(t.access_token().expose_secret(), "t2");
    }
}

/// The fleet-wide renewal's edge: a refresh that starts by taking the
/// store's lock is dropped there (its task cancelled, its runtime gone, a
/// store that panicked). The slot comes free, the held token keeps being
/// served, and the next read starts the refresh again.
#[test]
fn a_refresh_dropped_at_the_store_lock_frees_the_slot() {
    let clock = Arc::new(ManualClock::new());
    let store = MemoryStore::new();
    let cell = builder(&clock).build(&Limits::default(), true).unwrap();
    let server = Server::new(vec![Server::token("t1", 3600), Server::token("t2", 3600)]);
    token(&cell, &clock, &server, Some(&store)).unwrap();
    clock.advance(Duration::from_secs(3500));
    let Read::Refresh(held, mut job) = cell.read() else {
        panic!("inside the refresh window")
    };
    assert!(matches!(job.next_step(), Some(Step::Lock { .. })));
    // While it holds the slot, readers keep the valid token, no second job.
    assert!(matches!(cell.read(), Read::Fresh(_)));
    drop(job);
    assert_eq!(server.sends(), 1);
    let Read::Refresh(again, job) = cell.read() else {
        panic!("the next read starts the refresh again")
    };
    assert_eq!(again.id(), held.id());
    run(job, &server, Some(&store));
    assert_eq!(server.sends(), 2);
    let Read::Fresh(t2) = cell.read() else {
        panic!("renewed")
    };
    assert_eq!(t2.access_token().expose_secret(), "t2");
}
