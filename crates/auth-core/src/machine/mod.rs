//! The token state machine: one cached token, refresh ahead of expiry, at
//! most one request in flight, backoff on failure.
//!
//! In scope: every decision — when to fetch, what to send, how to read the
//! answer, how long to wait after a failure, which error a waiting caller
//! gets. Out of scope: sending bytes, reading clocks, sleeping, waking
//! callers (the driver does those, see the crate docs for the contract).
//!
//! ```text
//!                 demand                      response ok
//!   ┌───────┐ ─────────────▶ ┌──────────┐ ─────────────────▶ ┌───────┐
//!   │ Empty │                │ Fetching │                    │ Fresh │
//!   └───────┘ ◀───────────── └──────────┘ ◀─┐                └───────┘
//!       ▲       final error /     │ transient│ backoff ends      │ refresh_at
//!       │       retries spent     ▼ failure  │                   ▼
//!       │                    ┌────────────┐  │              ┌────────────┐
//!       │                    │ BackingOff │──┘              │ Refreshing │
//!       │                    └────────────┘ ◀───────────────└────────────┘
//!       │     usable_until passes, or invalidate   failure (token kept while usable)
//!       └──────────────────────────────────────────────────────────
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::credentials::ClientCredentials;
use crate::error::{Error, TransportErrorKind};
use crate::provider::{redactor_for, AssertionInput, Provider, ResponseContext};
use crate::scope::Scopes;
use crate::secret::ClientAssertion;
use crate::token::{Dating, Lifetime, Token, TokenId, TokenResponse};

mod backoff;
mod event;
mod policy;

use backoff::Rng;
pub use event::{Event, RequestId, Transmit};
pub use policy::RefreshPolicy;

/// Where the machine is, for logs and tests. Derived from the state, never stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No usable token, nothing in flight, no backoff.
    Empty,
    /// No usable token; a request is in flight.
    Fetching,
    /// A usable token, before its refresh time.
    Fresh,
    /// A usable token and a refresh in flight or due.
    Refreshing,
    /// Waiting for a backoff or `Retry-After` to end (with or without a token).
    BackingOff,
}

#[derive(Debug)]
struct InFlight {
    id: RequestId,
    started: Instant,
    /// The client assertion the request carried (`private_key_jwt`), so
    /// the answer to it can be redacted of any echo.
    assertion: Option<ClientAssertion>,
}

/// The sans-IO token source. See the crate docs for the driving contract.
#[derive(Debug)]
pub struct TokenSource {
    provider: Provider,
    credentials: ClientCredentials,
    scopes: Scopes,
    policy: RefreshPolicy,
    rng: Rng,
    token: Option<Arc<Token>>,
    refresh_at: Option<Instant>,
    in_flight: Option<InFlight>,
    /// The in-flight request is yet to be built and handed out: it is
    /// built in `poll_transmit`, when it leaves, so a client assertion
    /// carries the time it was sent and is never reused.
    queued: bool,
    next_request: u64,
    next_token: u64,
    /// Callers want a token and there is no usable one.
    waiting: bool,
    /// Transient failures since callers started waiting.
    waiting_failures: u32,
    /// Consecutive failures, for the backoff exponent.
    failures: u32,
    /// No request before this instant (backoff, `Retry-After`, cooldown).
    retry_at: Option<Instant>,
    last_error: Option<Error>,
    events: VecDeque<Event>,
    /// This machine's number, carried in every [`TokenId`] it issues.
    source_id: u64,
    /// Fingerprints of tokens the API rejected, so a store that failed to
    /// forget one cannot hand it back through `handle_cached`.
    rejected: Rejected,
}

/// Numbers machines; a counter, not a clock or an OS random source.
static NEXT_SOURCE: AtomicU64 = AtomicU64::new(0);

/// The last few rejected token values, as 64-bit fingerprints. `Debug`
/// shows only how many: even a fingerprint of a token stays out of logs.
#[derive(Default)]
struct Rejected(VecDeque<u64>);

impl Rejected {
    const KEEP: usize = 16;

    fn fingerprint(value: &str) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in value.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }

    fn insert(&mut self, value: &str) {
        if self.0.len() == Self::KEEP {
            self.0.pop_front();
        }
        self.0.push_back(Self::fingerprint(value));
    }

    fn contains(&self, value: &str) -> bool {
        self.0.contains(&Self::fingerprint(value))
    }
}

impl fmt::Debug for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rejected", self.0.len())
    }
}

impl TokenSource {
    /// A machine for one (provider, credentials, scopes) triple.
    ///
    /// `seed` feeds the jitter generator; give each process a different one
    /// (the drivers use the clock and the process id). Fails if the scopes
    /// are not valid for the provider (e.g. two scopes for Markable), or if
    /// the policy cannot work (see [`RefreshPolicy::validate`]).
    pub fn new(
        provider: Provider,
        credentials: ClientCredentials,
        scopes: Scopes,
        policy: RefreshPolicy,
        seed: u64,
    ) -> Result<Self, Error> {
        provider.check_scopes(&scopes)?;
        provider.check_credentials(&credentials)?;
        policy.validate()?;
        Ok(Self {
            provider,
            credentials,
            scopes,
            policy,
            rng: Rng::new(seed),
            token: None,
            refresh_at: None,
            in_flight: None,
            queued: false,
            next_request: 0,
            next_token: 0,
            waiting: false,
            waiting_failures: 0,
            failures: 0,
            retry_at: None,
            last_error: None,
            events: VecDeque::new(),
            source_id: NEXT_SOURCE.fetch_add(1, Ordering::Relaxed),
            rejected: Rejected::default(),
        })
    }

    /// A caller wants a token at `now`.
    ///
    /// Call it on every cache miss, and whenever a caller reads a token that
    /// is inside its refresh window (cheaply: [`TokenSource::is_refresh_due`]).
    /// Then drain [`poll_transmit`](Self::poll_transmit) and
    /// [`poll_event`](Self::poll_event). If a usable token exists, the caller
    /// may use it at once; otherwise it waits for [`Event::TokenReady`] or
    /// [`Event::Failed`].
    pub fn handle_demand(&mut self, now: Instant) {
        self.drop_unusable(now);
        if self.token.is_some() {
            if self.is_refresh_due(now) {
                self.start_fetch(now);
            }
            return;
        }
        self.waiting = true;
        if self.in_flight.is_some() {
            return;
        }
        match self.retry_at {
            Some(at) if at > now => {
                let final_error = self.last_error.as_ref().is_some_and(|e| !e.is_retryable());
                if final_error || at - now > self.policy.max_wait {
                    let error = self.last_error_for_caller(at - now);
                    self.fail_waiters(error);
                }
                // Otherwise the caller waits; poll_timeout reports `at`.
            }
            _ => self.start_fetch(now),
        }
    }

    /// The request with `id` got `response` at `now` (monotonic) / `wall`
    /// (wall clock, for `Retry-After` dates and absolute expiries).
    ///
    /// Hand over every status unchanged, 3xx/4xx/5xx included, and do not
    /// follow redirects. A response for a request that is no longer in
    /// flight is ignored. A token the API already rejected is not taken
    /// again: it counts as a retryable failure
    /// ([`Error::ReissuedRejectedToken`]) and the machine backs off.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        response: http::Response<Vec<u8>>,
        now: Instant,
        wall: SystemTime,
    ) {
        let Some(flight) = self.take_in_flight(id) else {
            return;
        };
        let cx = ResponseContext {
            credentials: &self.credentials,
            requested: &self.scopes,
            wall,
        };
        let sent = flight
            .assertion
            .as_ref()
            .map(ClientAssertion::expose_secret);
        let parsed = self
            .provider
            .parse_answer(&response, cx, &cx.redactor_sent(sent))
            .and_then(|r| {
                // A server that hands back its cached token would otherwise
                // turn every API call into 401, fetch, 401 with no backoff;
                // as a failure it goes through the backoff like a 5xx.
                if self.rejected.contains(r.access_token.expose_secret()) {
                    Err(Error::ReissuedRejectedToken)
                } else {
                    Ok(r)
                }
            });
        match parsed.and_then(|r| self.install(r, flight.started, now, wall)) {
            Ok(()) => {}
            Err(e) => self.handle_failure(e, now),
        }
    }

    /// The request with `id` failed without a complete response. `detail` is
    /// the driver's description and must not contain secrets.
    pub fn handle_transport_error(
        &mut self,
        id: RequestId,
        kind: TransportErrorKind,
        detail: &str,
        now: Instant,
    ) {
        let Some(flight) = self.take_in_flight(id) else {
            return;
        };
        let sent = flight
            .assertion
            .as_ref()
            .map(ClientAssertion::expose_secret);
        let error = Error::Transport {
            kind,
            // Redact before cutting: a cut secret no longer matches.
            detail: crate::redact::shorten(
                &redactor_for(&self.credentials, sent).text(detail),
                200,
            ),
        };
        self.handle_failure(error, now);
    }

    /// Time has reached a deadline from [`poll_timeout`](Self::poll_timeout).
    /// Calling it early or late is harmless: it acts on `now` only.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.drop_unusable(now);
        if self.in_flight.is_some() || self.retry_at.is_some_and(|r| r > now) {
            return;
        }
        if self.waiting || self.is_refresh_due(now) {
            self.start_fetch(now);
        }
    }

    /// The API rejected the token `id` (401 `invalid_token`). It is never
    /// handed out again. A newer token is kept: the rejection is stale.
    pub fn handle_invalidate(&mut self, id: TokenId, now: Instant) {
        if let Some(t) = self.token.take_if(|t| t.id == id) {
            self.rejected.insert(t.access_token().expose_secret());
            self.refresh_at = None;
        }
        self.drop_unusable(now);
    }

    /// Offers a token from a persistent cache (see [`Token::to_response`]).
    /// It is taken only if it is itself usable, the API has not rejected it
    /// before, no request is in flight, and either no usable token is held
    /// or the offered one expires later than the held one (another process
    /// sharing the store renewed it: taking it spares this one a request).
    /// Then [`Event::TokenReady`] follows. Returns whether it was taken.
    pub fn handle_cached(&mut self, cached: TokenResponse, now: Instant, wall: SystemTime) -> bool {
        self.drop_unusable(now);
        if self.in_flight.is_some() || self.rejected.contains(cached.access_token.expose_secret()) {
            return false;
        }
        if let Some(held) = &self.token {
            let newer = match (cached.lifetime, held.expires_at_wall()) {
                (Lifetime::ExpiresAt(at), Some(held_at)) => at > held_at,
                _ => false,
            };
            if !newer || held.access_token().expose_secret() == cached.access_token.expose_secret()
            {
                return false;
            }
        }
        self.install(cached, now, now, wall).is_ok()
    }

    /// Replaces the credentials (a rotated secret or key). Clears a final failure
    /// so the next demand tries again at once; keeps the current token.
    pub fn handle_credentials(&mut self, credentials: ClientCredentials) {
        self.credentials = credentials;
        if self.last_error.as_ref().is_some_and(|e| !e.is_retryable()) {
            self.last_error = None;
            self.retry_at = None;
            self.failures = 0;
        }
    }

    /// The next request to send, if any, built now: `wall` is the
    /// wall-clock time it leaves, the `iat` of the client assertion a
    /// `private_key_jwt` request carries (each request gets a new one, with
    /// a new `jti` from the seeded generator). Call after every `handle_*`
    /// until it returns `None`, then drain [`poll_event`](Self::poll_event).
    /// At most one request is ever outstanding.
    ///
    /// Should the request fail to build (a key that cannot sign, a wall
    /// clock before 1970), it returns `None` and the failure is handled as
    /// a failed request started at the demand's instant: an event follows.
    ///
    /// Its answer changes after every `handle_*` call.
    #[must_use]
    pub fn poll_transmit(&mut self, wall: SystemTime) -> Option<Transmit> {
        if !std::mem::take(&mut self.queued) {
            return None;
        }
        let (id, started) = self.in_flight.as_ref().map(|f| (f.id, f.started))?;
        // The jti is drawn only for key credentials, so the jitter that
        // secret-credential machines draw stays as it was.
        let jti = self
            .credentials
            .key_algorithm()
            .is_some()
            .then(|| self.jti());
        let input = jti.as_deref().map(|jti| AssertionInput { wall, jti });
        match self.provider.build(&self.credentials, &self.scopes, input) {
            Ok(built) => {
                if let Some(flight) = self.in_flight.as_mut() {
                    flight.assertion = built.assertion;
                }
                Some(Transmit {
                    id,
                    request: built.request,
                })
            }
            Err(e) => {
                self.in_flight = None;
                self.handle_failure(e, started);
                None
            }
        }
    }

    /// A new assertion id: two draws from the seeded generator (whose state
    /// is 64 bits: ids are as unique as seeds), in hex. The second half is
    /// mixed with this machine's number, so machines of one process given
    /// the same seed still send different ids.
    fn jti(&mut self) -> String {
        let high = self.rng.next_u64();
        let low = self.rng.next_u64() ^ self.source_id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!("{high:016x}{low:016x}")
    }

    /// The next event, if any. Call after every `handle_*` until `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next: the end of a
    /// backoff callers wait on, or the refresh time of the held token. `None`
    /// while a request is in flight or nothing is scheduled.
    ///
    /// With extreme policy or server values the instant may lie ages ahead
    /// (up to the furthest one the platform's `Instant` can hold); a driver
    /// should treat such a deadline as "never" rather than add to it.
    ///
    /// Its answer changes after every `handle_*` call.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.in_flight.is_some() {
            return None;
        }
        let mut next: Option<Instant> = None;
        if self.waiting {
            next = self.retry_at;
        }
        if self.token.is_some() {
            if let Some(refresh) = self.refresh_at {
                let at = self.retry_at.map_or(refresh, |r| r.max(refresh));
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        next
    }

    /// The token, if one is usable at `now`. A pure query: it starts nothing.
    #[must_use]
    pub fn token(&self, now: Instant) -> Option<Arc<Token>> {
        self.token.as_ref().filter(|t| t.is_usable(now)).cloned()
    }

    /// Whether a refresh should start at `now`: a usable token is held, its
    /// refresh time has come, nothing is in flight and no backoff runs.
    #[must_use]
    pub fn is_refresh_due(&self, now: Instant) -> bool {
        self.in_flight.is_none()
            && self.token.is_some()
            && self.refresh_at.is_some_and(|r| r <= now)
            && self.retry_at.is_none_or(|r| r <= now)
    }

    /// When the held token should be refreshed, if it has a known expiry.
    #[must_use]
    pub fn refresh_at(&self) -> Option<Instant> {
        self.token.as_ref().and(self.refresh_at)
    }

    /// Where the machine is at `now`.
    #[must_use]
    pub fn phase(&self, now: Instant) -> Phase {
        let usable = self.token(now).is_some();
        let backing_off = self.retry_at.is_some_and(|r| r > now);
        match (usable, self.in_flight.is_some()) {
            (false, true) => Phase::Fetching,
            (true, true) => Phase::Refreshing,
            _ if backing_off => Phase::BackingOff,
            (true, false) if self.is_refresh_due(now) => Phase::Refreshing,
            (true, false) => Phase::Fresh,
            (false, false) => Phase::Empty,
        }
    }

    /// The last error, kept until a token arrives.
    #[must_use]
    pub fn last_error(&self) -> Option<&Error> {
        self.last_error.as_ref()
    }

    /// The provider this machine speaks to.
    #[must_use]
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The client credentials (the secret stays wrapped).
    #[must_use]
    pub fn credentials(&self) -> &ClientCredentials {
        &self.credentials
    }

    /// The scopes asked for.
    #[must_use]
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    fn take_in_flight(&mut self, id: RequestId) -> Option<InFlight> {
        let flight = self.in_flight.take_if(|f| f.id == id)?;
        // A transmit the driver never polled is void with its request.
        self.queued = false;
        Some(flight)
    }

    fn drop_unusable(&mut self, now: Instant) {
        if self.token.as_ref().is_some_and(|t| !t.is_usable(now)) {
            self.token = None;
            self.refresh_at = None;
        }
    }

    fn start_fetch(&mut self, now: Instant) {
        if self.in_flight.is_some() {
            return;
        }
        // What can be refused without building the request is refused
        // here, so a configuration error reaches the caller with this call;
        // the request itself is built when it leaves (`poll_transmit`).
        if let Err(e) = self.provider.check_credentials(&self.credentials) {
            self.handle_failure(e, now);
            return;
        }
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.in_flight = Some(InFlight {
            id,
            started: now,
            assertion: None,
        });
        self.queued = true;
    }

    /// Dates a parsed response and makes it the held token. `started` is
    /// when the request left: the server's clock started no earlier, so
    /// counting from there errs on the safe side.
    fn install(
        &mut self,
        response: TokenResponse,
        started: Instant,
        now: Instant,
        wall: SystemTime,
    ) -> Result<(), Error> {
        let stated = match response.lifetime {
            Lifetime::ExpiresIn(d) => Some(d),
            Lifetime::ExpiresAt(at) => {
                // Date and expires_at come from the same clock when the
                // server sends both; that cancels any skew with ours.
                let reference = response.server_date.unwrap_or(wall);
                match at.duration_since(reference) {
                    Ok(d) if !d.is_zero() => Some(d),
                    _ => return Err(already_expired()),
                }
            }
            Lifetime::Unknown => self.policy.unknown_lifetime,
        };
        let lifetime = stated.map(|d| d.min(self.policy.max_lifetime));
        // Margins scale with the whole lifetime. A token restored from a
        // store knows when it was issued: its margin must be the one it had
        // when fresh, not a tenth of what is left.
        let full = match (response.lifetime, response.issued_at) {
            (Lifetime::ExpiresAt(at), Some(issued)) => at
                .duration_since(issued)
                .ok()
                .map(|f| f.min(self.policy.max_lifetime)),
            _ => None,
        };
        let scale = |l: Duration| full.map_or(l, |f| f.max(l));
        let elapsed = now.saturating_duration_since(started);
        let issued_wall = response.issued_at.or_else(|| wall.checked_sub(elapsed));
        let dating = match lifetime {
            None => Dating {
                issued_at: started,
                expires_at: None,
                usable_until: None,
                expires_at_wall: None,
                issued_at_wall: issued_wall,
            },
            Some(l) => {
                let margin = self.policy.safety_margin.min(scale(l) / 10);
                let expires_at = far(started, l);
                // Subtracting from the (possibly clamped) expiry keeps the
                // whole margin before it even when the lifetime was cut.
                let usable_until = expires_at
                    .checked_sub(margin)
                    .filter(|u| *u > now)
                    .ok_or_else(already_expired)?;
                Dating {
                    issued_at: started,
                    expires_at: Some(expires_at),
                    usable_until: Some(usable_until),
                    expires_at_wall: wall.checked_sub(elapsed).and_then(|w| w.checked_add(l)),
                    issued_at_wall: issued_wall,
                }
            }
        };
        self.refresh_at = match (lifetime, dating.usable_until) {
            (Some(l), Some(usable_until)) => {
                let ahead = self.policy.refresh_ahead.min(scale(l) / 4);
                // `validate` keeps the fraction in 0–1, so this cannot fail;
                // the fallback only spares a panic should that ever change.
                let jitter = Duration::try_from_secs_f64(
                    ahead.as_secs_f64() * self.policy.refresh_jitter * self.rng.unit(),
                )
                .unwrap_or(Duration::ZERO);
                let at = usable_until
                    .checked_sub(ahead.saturating_add(jitter))
                    .unwrap_or(now);
                Some(at.max(now))
            }
            _ => None,
        };
        let id = TokenId {
            source: self.source_id,
            serial: self.next_token,
        };
        self.next_token += 1;
        let token = Arc::new(Token::new(id, response, &self.scopes, dating)?);
        self.token = Some(Arc::clone(&token));
        self.failures = 0;
        self.retry_at = None;
        self.last_error = None;
        self.waiting = false;
        self.waiting_failures = 0;
        self.events.push_back(Event::TokenReady(token));
        Ok(())
    }

    fn handle_failure(&mut self, error: Error, now: Instant) {
        let retryable = error.is_retryable();
        let delay = if retryable {
            self.failures = self.failures.saturating_add(1);
            let mut d = backoff::delay(
                self.policy.backoff_initial,
                self.policy.backoff_max,
                self.failures,
                &mut self.rng,
            );
            // While a usable token is held, never sleep past half the time
            // it has left: a long outage must not push the next attempt
            // beyond its expiry, and attempts grow denser as it nears.
            if let Some(left) = self.token.as_ref().and_then(|t| t.remaining(now)) {
                d = d.min((left / 2).max(self.policy.backoff_initial));
            }
            // The server's Retry-After is a floor we never undercut.
            if let Some(ra) = error.retry_after() {
                d = d.max(ra.min(self.policy.max_retry_after));
            }
            d
        } else {
            self.policy.final_failure_cooldown
        };
        self.retry_at = Some(far(now, delay));
        self.last_error = Some(error.clone());
        if !self.waiting {
            self.events.push_back(Event::RefreshFailed(error));
            return;
        }
        if retryable {
            // `waiting_retries` may be u32::MAX ("retry forever").
            self.waiting_failures = self.waiting_failures.saturating_add(1);
        }
        if !retryable
            || self.waiting_failures > self.policy.waiting_retries
            || delay > self.policy.max_wait
        {
            self.fail_waiters(error);
        }
    }

    fn fail_waiters(&mut self, error: Error) {
        self.waiting = false;
        self.waiting_failures = 0;
        self.events.push_back(Event::Failed(error));
    }

    /// The last error, with any `Retry-After` it carries brought up to date,
    /// so a caller turned away during a backoff learns the remaining wait.
    fn last_error_for_caller(&self, remaining: Duration) -> Error {
        match self.last_error.clone() {
            Some(Error::RateLimited { status, .. }) => Error::RateLimited {
                status,
                retry_after: Some(remaining),
            },
            Some(Error::Server {
                status, excerpt, ..
            }) => Error::Server {
                status,
                retry_after: Some(remaining),
                excerpt,
            },
            Some(e) => e,
            None => Error::Misuse("backing off without a recorded error".into()),
        }
    }
}

/// `from + d`, or the furthest instant the platform can represent when that
/// sum cannot be: a lifetime or delay too long for `Instant` (an
/// `expires_in` of `u64::MAX` seconds under a `Duration::MAX` policy cap)
/// means "not within any time this process will see", and the furthest
/// instant says exactly that while keeping every deadline an ordinary
/// `Instant` — so the comparisons elsewhere need no "never" case. The
/// result is monotonic in `d` (the exact largest representable offset, not
/// a halving guess), so a shorter duration never lands after a longer one.
fn far(from: Instant, d: Duration) -> Instant {
    if let Some(t) = from.checked_add(d) {
        return t;
    }
    // Representability is monotonic in the offset: `lo` always fits, `hi`
    // never does. About 94 halvings of a `Duration::MAX` range at most.
    let (mut lo, mut hi) = (Duration::ZERO, d);
    while hi - lo > Duration::from_nanos(1) {
        let mid = lo + (hi - lo) / 2;
        if from.checked_add(mid).is_some() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    from.checked_add(lo).unwrap_or(from)
}

fn already_expired() -> Error {
    Error::MalformedResponse {
        status: http::StatusCode::OK,
        reason: "the token expires before it could be used (its lifetime is shorter than the round trip, or its expiry is in the past; check the clocks)".into(),
        excerpt: "[redacted]".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_adds_when_it_can_and_clamps_when_it_cannot() {
        // Only an origin: nothing here depends on the clock's reading.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        assert_eq!(
            far(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let furthest = far(now, Duration::MAX);
        assert!(furthest > now + Duration::from_secs(1_000_000_000));
        // Exactly the last representable instant: not one nanosecond fits past it.
        assert!(furthest.checked_add(Duration::from_nanos(1)).is_none());
        // Monotonic: a shorter duration that also overflows lands no later.
        let shorter = Duration::MAX - Duration::from_secs(u64::MAX / 2);
        assert!(far(now, shorter) <= furthest);
        // At the end of time, nothing moves.
        assert_eq!(far(furthest, Duration::MAX), furthest);
    }
}
