//! Where the cell's time comes from: the system clocks, or a clock a test
//! moves by hand so a ten-hour token lifetime passes in microseconds.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// A monotonic and a wall clock. Every decision the cell makes, the hot
/// path's usability check included, reads time from here and nowhere else.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Monotonic time, for deadlines and token usability.
    fn now(&self) -> Instant;
    /// Wall time, for `Retry-After` dates and absolute expiries.
    fn wall(&self) -> SystemTime;
}

/// The operating system's clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to: both times start where they were
/// read at construction and advance together by [`ManualClock::advance`].
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    wall: SystemTime,
    offset_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock stopped at the present moment.
    #[must_use]
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
            wall: SystemTime::now(),
            offset_nanos: AtomicU64::new(0),
        }
    }

    /// Moves both clocks forward by `by` (saturating at about 584 years).
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .offset_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |o| {
                Some(o.saturating_add(nanos))
            });
    }

    fn offset(&self) -> Duration {
        Duration::from_nanos(self.offset_nanos.load(Ordering::Acquire))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base.checked_add(self.offset()).unwrap_or(self.base)
    }

    fn wall(&self) -> SystemTime {
        self.wall.checked_add(self.offset()).unwrap_or(self.wall)
    }
}
