//! The machine under extreme but accepted values: policies built from 0,
//! 1 ns, 1 s, `u64::MAX` seconds and `Duration::MAX`; servers that state
//! lifetimes and `Retry-After`s of billions of years, or expiries long
//! past; and a clock that jumps by as much. No input may panic, and the
//! machine's promises must hold wherever time ends up — up to the last
//! instant the platform can represent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth_core::store::offer_stored;
use auth_core::{
    AccessToken, ClientCredentials, Event, Lifetime, RefreshPolicy, Scopes, StoredToken,
    TokenResponse, TokenSource, TokenType, Transmit, TransportErrorKind,
};
use proptest::prelude::*;

const SECRET: &str = "extreme-client-secret";

#[derive(Clone, Debug)]
enum Action {
    /// Moves the clock; saturates at the last representable instant.
    Advance(Duration),
    Demand,
    FireTimeout,
    /// A 200 with this `expires_in` (0: no stated expiry).
    Ok(u64),
    /// A 200 with the value of the last token the API rejected.
    Reissue,
    /// A 503 or 429 with this `Retry-After`, if any.
    Status(u16, Option<&'static str>),
    Transport,
    Final,
    Invalidate,
    /// A store offers a token with this expiry and issue time, as offsets
    /// (seconds, may be negative) from the current wall time.
    Cached(i128, Option<i128>),
    /// The held token goes through the store's JSON and into a second
    /// machine with the same policy.
    RoundTrip,
}

fn extreme() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::from_secs(1)),
        Just(Duration::from_secs(u64::MAX)),
        Just(Duration::MAX),
    ]
}

fn nonzero() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::from_nanos(1)),
        Just(Duration::from_secs(1)),
        Just(Duration::from_secs(3600)),
        Just(Duration::from_secs(u64::MAX)),
        Just(Duration::MAX),
    ]
}

/// Only policies [`RefreshPolicy::validate`] accepts: the refused ones
/// never reach the machine (a unit test covers them).
fn policy() -> impl Strategy<Value = RefreshPolicy> {
    (
        (
            extreme(),
            extreme(),
            prop_oneof![Just(0.0), Just(0.25), Just(1.0)],
        ),
        (nonzero(), proptest::option::of(nonzero())),
        (nonzero(), nonzero()),
        (extreme(), extreme(), extreme()),
        prop_oneof![Just(0u32), Just(2), Just(u32::MAX)],
    )
        .prop_map(
            |(
                (margin, ahead, jitter),
                (max_life, unknown),
                (b1, b2),
                (ra, wait, cool),
                retries,
            )| {
                RefreshPolicy::default()
                    .with_safety_margin(margin)
                    .with_refresh_ahead(ahead)
                    .with_refresh_jitter(jitter)
                    .with_max_lifetime(max_life)
                    .with_unknown_lifetime(unknown)
                    .with_backoff_initial(b1.min(b2))
                    .with_backoff_max(b1.max(b2))
                    .with_max_retry_after(ra)
                    .with_max_wait(wait)
                    .with_final_failure_cooldown(cool)
                    .with_waiting_retries(retries)
            },
        )
}

fn offset() -> impl Strategy<Value = i128> {
    prop_oneof![
        Just(-i128::from(u64::MAX)),
        Just(-3600),
        Just(-1),
        Just(1),
        Just(3600),
        Just(99_999_999_999),
        Just(i128::from(u64::MAX)),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => prop_oneof![
            extreme(),
            Just(Duration::from_millis(300)),
            Just(Duration::from_secs(3600)),
            Just(Duration::from_secs(99_999_999_999)),
        ].prop_map(Action::Advance),
        3 => Just(Action::Demand),
        3 => Just(Action::FireTimeout),
        3 => prop_oneof![Just(0u64), Just(1), Just(3600), Just(99_999_999_999), Just(u64::MAX)]
            .prop_map(Action::Ok),
        1 => Just(Action::Reissue),
        2 => (
            prop_oneof![Just(503u16), Just(429)],
            proptest::option::of(prop_oneof![
                Just("0"),
                Just("1"),
                Just("99999999999"),
                Just("18446744073709551615"),
                Just("99999999999999999999999"),
                Just("Fri, 31 Dec 9999 23:59:59 GMT"),
                Just("Thu, 01 Jan 1970 00:00:00 GMT"),
            ]),
        ).prop_map(|(s, r)| Action::Status(s, r)),
        1 => Just(Action::Transport),
        1 => Just(Action::Final),
        1 => Just(Action::Invalidate),
        1 => (offset(), proptest::option::of(offset())).prop_map(|(e, i)| Action::Cached(e, i)),
        1 => Just(Action::RoundTrip),
    ]
}

/// `t + d`, or the last representable value on the way: the test side of
/// the clock must not panic either. Binary search, since representability
/// is monotonic in `d`.
fn saturating<T: Copy>(t: T, d: Duration, add: impl Fn(T, Duration) -> Option<T>) -> T {
    if let Some(r) = add(t, d) {
        return r;
    }
    let (mut lo, mut hi) = (Duration::ZERO, d);
    while hi - lo > Duration::from_nanos(1) {
        let mid = lo + (hi - lo) / 2;
        if add(t, mid).is_some() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    add(t, lo).unwrap()
}

fn shift(wall: SystemTime, secs: i128) -> SystemTime {
    let d = Duration::from_secs(u64::try_from(secs.unsigned_abs()).unwrap_or(u64::MAX));
    if secs >= 0 {
        saturating(wall, d, |t, d| t.checked_add(d))
    } else {
        wall.checked_sub(d).unwrap_or(UNIX_EPOCH)
    }
}

struct World {
    source: TokenSource,
    policy: RefreshPolicy,
    start: Instant,
    now: Instant,
    wall0: SystemTime,
    pending: Option<Transmit>,
    /// When each request left.
    sent_at: Vec<Instant>,
    events: Vec<Event>,
}

impl World {
    fn new(policy: RefreshPolicy, seed: u64) -> Self {
        // Only an origin: simulated time moves when the test says.
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        Self {
            source: source(policy.clone(), seed),
            policy,
            start,
            now: start,
            wall0: UNIX_EPOCH + Duration::from_secs(1_795_371_943),
            pending: None,
            sent_at: Vec::new(),
            events: Vec::new(),
        }
    }

    fn wall(&self) -> SystemTime {
        saturating(self.wall0, self.now.duration_since(self.start), |t, d| {
            t.checked_add(d)
        })
    }

    fn drain(&mut self) -> Result<(), TestCaseError> {
        while let Some(t) = self.source.poll_transmit(self.wall()) {
            prop_assert!(self.pending.is_none(), "two requests outstanding");
            self.sent_at.push(self.now);
            self.pending = Some(t);
        }
        while let Some(e) = self.source.poll_event() {
            self.events.push(e);
        }
        Ok(())
    }

    fn respond(&mut self, response: http::Response<Vec<u8>>) -> Result<(), TestCaseError> {
        let t = self.pending.take().unwrap();
        let wall = self.wall();
        self.source.handle_response(t.id, response, self.now, wall);
        self.drain()
    }
}

fn source(policy: RefreshPolicy, seed: u64) -> TokenSource {
    let creds = ClientCredentials::new("extreme-client", SECRET).unwrap();
    TokenSource::new(common::oauth2(), creds, Scopes::empty(), policy, seed).unwrap()
}

fn run(policy: RefreshPolicy, seed: u64, actions: &[Action]) -> Result<(), TestCaseError> {
    let mut w = World::new(policy, seed);
    let mut serial = 0u64;
    // Values the API rejected, newest last.
    let mut rejected: Vec<String> = Vec::new();
    let mut rejected_set: HashSet<String> = HashSet::new();
    // The last failure the machine must back off from, and whether a
    // request in that same instant would break the policy (a zero
    // cooldown after a final error allows one).
    let mut last_failure: Option<(Instant, bool)> = None;

    for a in actions {
        let sent_before = w.sent_at.len();
        let events_before = w.events.len();
        match a {
            Action::Advance(d) => w.now = saturating(w.now, *d, |t, d| t.checked_add(d)),
            Action::Demand => {
                w.source.handle_demand(w.now);
                w.drain()?;
            }
            Action::FireTimeout => {
                if let Some(t) = w.source.poll_timeout() {
                    w.now = w.now.max(t);
                    w.source.handle_timeout(w.now);
                    w.drain()?;
                }
            }
            Action::Ok(expires_in) if w.pending.is_some() => {
                serial += 1;
                w.respond(common::ok(&format!("tok{serial}"), *expires_in))?;
            }
            Action::Reissue if w.pending.is_some() => {
                if let Some(value) = rejected.last().cloned() {
                    w.respond(common::ok(&value, 3600))?;
                    last_failure = Some((w.now, true));
                }
            }
            Action::Status(status, retry_after) if w.pending.is_some() => {
                let mut b = http::Response::builder().status(*status);
                if let Some(r) = retry_after {
                    b = b.header("retry-after", *r);
                }
                last_failure = Some((w.now, true));
                w.respond(b.body(b"down".to_vec()).unwrap())?;
            }
            Action::Transport if w.pending.is_some() => {
                let t = w.pending.take().unwrap();
                last_failure = Some((w.now, true));
                w.source
                    .handle_transport_error(t.id, TransportErrorKind::Reset, "reset", w.now);
                w.drain()?;
            }
            Action::Final if w.pending.is_some() => {
                let strict = !w.policy.final_failure_cooldown.is_zero();
                last_failure = Some((w.now, strict));
                w.respond(
                    http::Response::builder()
                        .status(401)
                        .body(br#"{"error":"invalid_client"}"#.to_vec())
                        .unwrap(),
                )?;
            }
            Action::Invalidate => {
                if let Some(t) = w.source.token(w.now) {
                    let value = t.access_token().expose_secret().to_owned();
                    w.source.handle_invalidate(t.id(), w.now);
                    w.drain()?;
                    rejected_set.insert(value.clone());
                    rejected.push(value);
                }
            }
            Action::Cached(expires, issued) => {
                serial += 1;
                let wall = w.wall();
                let cached = TokenResponse {
                    access_token: AccessToken::new(format!("cached{serial}")),
                    token_type: TokenType::Bearer,
                    lifetime: Lifetime::ExpiresAt(shift(wall, *expires)),
                    granted_scopes: None,
                    server_date: None,
                    publishable: false,
                    issued_at: issued.map(|i| shift(wall, i)),
                };
                w.source.handle_cached(cached, w.now, wall);
                w.drain()?;
            }
            Action::RoundTrip => {
                if let Some(t) = w.source.token(w.now) {
                    let fp = auth_core::FingerprintKey::new([3; 32]);
                    let json = StoredToken::new(&w.source.cache_key(&fp), &t)
                        .to_json()
                        .unwrap();
                    let entry = StoredToken::from_json(&json).unwrap();
                    let mut other = source(w.policy.clone(), seed ^ 1);
                    // A far-future expiry may come back as "unknown"; it
                    // must come back without a panic, and usable if taken.
                    let key = other.cache_key(&fp);
                    if offer_stored(&mut other, &key, entry, w.now, w.wall()).unwrap() {
                        let back = other.token(w.now);
                        prop_assert!(back.is_some(), "a restored token not usable at once");
                    }
                }
            }
            _ => {} // an answer with nothing in flight
        }

        // At most one request outstanding (drain checks), and none in the
        // same instant as a failure — unless time cannot move any further.
        if w.sent_at.len() > sent_before {
            let at = *w.sent_at.last().unwrap();
            if let Some((f, strict)) = last_failure {
                if strict && f.checked_add(Duration::from_nanos(1)).is_some() {
                    prop_assert!(at > f, "a request in the instant of a failure ({a:?})");
                }
            }
        }
        for e in &w.events[events_before..] {
            if let Event::TokenReady(t) = e {
                prop_assert!(t.is_usable(w.now), "a token handed out already unusable");
                prop_assert!(
                    !rejected_set.contains(t.access_token().expose_secret()),
                    "a rejected token came back"
                );
                last_failure = None;
            }
        }
        if let Some(t) = w.source.token(w.now) {
            prop_assert!(t.is_usable(w.now));
            prop_assert!(t.usable_until().is_none_or(|u| w.now < u));
            prop_assert!(t.usable_until() <= t.expires_at(), "usable past expiry");
            prop_assert!(t.issued_at() <= w.now);
            prop_assert!(!rejected_set.contains(t.access_token().expose_secret()));
            if let (Some(r), Some(u)) = (w.source.refresh_at(), t.usable_until()) {
                prop_assert!(r <= u, "refresh scheduled after the token stops");
            }
        }
        // A caller without a token is never stranded.
        if matches!(a, Action::Demand) && w.source.token(w.now).is_none() {
            let told = w.events[events_before..]
                .iter()
                .any(|e| matches!(e, Event::Failed(_)));
            prop_assert!(
                w.pending.is_some() || told || w.source.poll_timeout().is_some(),
                "a waiting caller was stranded"
            );
        }
        // Queries never panic, wherever time is.
        let _ = (w.source.phase(w.now), w.source.is_refresh_due(w.now));
    }
    Ok(())
}

proptest! {
    #![proptest_config(common::proptest_config(3_000))]

    #[test]
    fn extreme_values_never_panic_and_promises_hold(
        policy in policy(),
        seed in any::<u64>(),
        actions in proptest::collection::vec(action(), 1..40),
    ) {
        run(policy, seed, &actions)?;
    }
}
