//! The whole-command time limit (`--timeout`, `APIAUTH_TIMEOUT`).
//!
//! A command that talks to a server ends within its limit whatever the
//! server does: the token request's wait limit, each request's timeout and
//! the retries in between are all cut to the time left, and the binary's
//! watchdog ends the process [`GRACE`] after the limit if a step still
//! runs (a chain of steps, each within its own bound, could add up). Only
//! the time after the command line is read counts: typing a secret at a
//! prompt is not limited.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The default limit, in seconds.
pub(crate) const DEFAULT_SECONDS: u64 = 30;

/// How long after the limit the watchdog ends the process.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

static DEADLINE: Mutex<Option<(Instant, Duration)>> = Mutex::new(None);

/// Starts the clock of a command limited to `total`.
pub(crate) fn start(total: Duration) {
    let mut d = DEADLINE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *d = Some((Instant::now() + total, total));
}

/// The time left (at least a millisecond, so a bound is never zero), and
/// the whole limit. Without a started clock, the default limit.
pub(crate) fn left() -> (Duration, Duration) {
    let d = *DEADLINE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match d {
        Some((at, total)) => (
            at.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
            total,
        ),
        None => {
            let total = Duration::from_secs(DEFAULT_SECONDS);
            (total, total)
        }
    }
}

/// Ends the process with exit code 6 when a started command overruns its
/// limit by [`GRACE`]. For the binary only: a library caller keeps its
/// process.
pub(crate) fn watch() {
    let spawned = std::thread::Builder::new()
        .name("apiauth-deadline".into())
        .spawn(|| loop {
            let d = *DEADLINE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let nap = match d {
                None => Duration::from_millis(50),
                Some((at, total)) => {
                    let end = at + GRACE;
                    let now = Instant::now();
                    if now >= end {
                        eprintln!(
                            "apiauth: gave up after the {} s limit (--timeout): the server did not finish answering",
                            total.as_secs()
                        );
                        eprintln!("hint: try again later, or allow more time with --timeout SECONDS");
                        std::process::exit(i32::from(crate::exit::NETWORK));
                    }
                    (end - now).min(Duration::from_millis(100))
                }
            };
            std::thread::sleep(nap);
        });
    // Without the thread, the per-step bounds still hold.
    drop(spawned);
}
