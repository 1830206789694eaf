//! The blocking hand-off at its edge: a caller with less time left than a
//! request needs hands the job, request unsent, to a short-lived thread.
//! The store lock (a fleet's lease) must travel with it and be released
//! only after the answer is saved, or another process would fetch beside
//! it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth_cell::{StoreLock, TokenStore};
use auth_core::{CacheKey, ClientAuth, StoredToken};
use auth_emulator::{Endpoint, Scheme};
use auth_ureq::Error;
use common::{emulator, oauth2};

/// A store that records what happens to it, and whose lock guard records
/// its own release.
#[derive(Default)]
struct Recorder {
    events: Arc<Mutex<Vec<&'static str>>>,
}

struct Guard(Arc<Mutex<Vec<&'static str>>>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.lock().unwrap().push("unlock");
    }
}

impl TokenStore for Recorder {
    fn load(&self, _: &CacheKey) -> Result<Option<StoredToken>, auth_cell::Error> {
        self.events.lock().unwrap().push("load");
        Ok(None)
    }
    fn save(&self, _: &CacheKey, _: &StoredToken) -> Result<(), auth_cell::Error> {
        self.events.lock().unwrap().push("save");
        Ok(())
    }
    fn remove(&self, _: &CacheKey, _: &StoredToken) -> Result<(), auth_cell::Error> {
        self.events.lock().unwrap().push("remove");
        Ok(())
    }
    fn lock(&self, _: &CacheKey, _: Duration) -> Result<Option<StoreLock>, auth_cell::Error> {
        self.events.lock().unwrap().push("lock");
        Ok(Some(Box::new(Guard(Arc::clone(&self.events)))))
    }
}

#[test]
fn a_handed_off_request_keeps_the_store_lock_until_its_answer_is_saved() {
    let emu = emulator();
    // The request takes 3 s; the caller may wait 200 ms: it cannot send
    // within its time, so it hands the job to a thread (3 s leaves a
    // loaded machine ample room to look before the answer is saved).
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_secs(3));
    let store = Arc::new(Recorder::default());
    let events = Arc::clone(&store.events);
    let tokens = oauth2(&emu, ClientAuth::Basic)
        .timeout(Duration::from_secs(5))
        .wait_limit(Duration::from_millis(200))
        .store(store)
        .build()
        .unwrap();

    let e = tokens.token().unwrap_err();
    assert!(matches!(e, Error::WaitTimeout(_)), "{e}");
    // The caller is gone; the lock is still held by the handed-off job.
    let now: Vec<_> = events.lock().unwrap().clone();
    assert_eq!(now, ["lock", "load"], "released with the caller: {now:?}");

    // The job finishes on its thread: saved, then unlocked.
    let until = Instant::now() + Duration::from_secs(10);
    while !events.lock().unwrap().contains(&"unlock") {
        assert!(Instant::now() < until, "the lock was never released");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(*events.lock().unwrap(), ["lock", "load", "save", "unlock"]);
    // The next caller gets that token from memory, with no new request.
    tokens.token().unwrap();
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 1);
}
