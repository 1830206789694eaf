//! The token machine under a simulated clock: lifetimes of hours run in
//! microseconds because time only moves when the test moves it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use auth_core::{
    ClientCredentials, Error, Event, Markable, OAuthErrorCode, Phase, RefreshPolicy, Scopes,
    TokenResponse, TokenSource, TransportErrorKind,
};
use common::{Sim, SECRET};

const HOUR: u64 = 3600;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn ten_hour_tokens_refresh_ahead_and_survive_an_outage() {
    let mut sim = Sim::new(RefreshPolicy::default(), 1);
    sim.demand();
    sim.respond_ok("t0", 10 * HOUR);
    assert_eq!(sim.token_value().as_deref(), Some("t0"));

    // Three days of steady operation: every refresh happens inside the
    // window, 5–6.25 minutes before the margin, never every minute.
    let mut refreshes = 0;
    while sim.elapsed() < secs(72 * HOUR) {
        let before = sim.token_value();
        assert!(sim.fire_timeout(), "a refresh must always be scheduled");
        let token = sim
            .source
            .token(sim.now)
            .expect("still valid at refresh time");
        let left = token.usable_until().unwrap() - sim.now;
        assert!(
            left >= secs(300) && left <= secs(375),
            "refresh {left:?} before the margin"
        );
        assert_eq!(
            sim.token_value(),
            before,
            "the old token is served during the refresh"
        );
        refreshes += 1;
        sim.respond_ok(&format!("t{refreshes}"), 10 * HOUR);
    }
    assert!(
        (7..=8).contains(&refreshes),
        "{refreshes} refreshes in 72 h"
    );
    assert_eq!(sim.sent_at.len(), refreshes + 1);

    // Outage: every refresh attempt gets 503 until the token nears expiry.
    let current = sim.token_value().unwrap();
    assert!(sim.fire_timeout());
    let outage_start = sim.now;
    let usable_until = sim.source.token(sim.now).unwrap().usable_until().unwrap();
    let mut attempts = 0;
    while sim.pending.is_some() && sim.now < usable_until - secs(60) {
        attempts += 1;
        sim.respond_status(503, None, "upstream down");
        assert_eq!(
            sim.token_value().as_deref(),
            Some(current.as_str()),
            "valid token kept"
        );
        assert!(sim.fire_timeout());
    }
    let events = sim.take_events();
    assert!(
        events.iter().all(|e| !matches!(e, Event::Failed(_))),
        "no caller saw an error"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::RefreshFailed(Error::Server { .. }))));
    // Capped exponential backoff: a 5-minute window holds a handful of tries, not hundreds.
    assert!(
        (3..=15).contains(&attempts),
        "{attempts} attempts in {:?}",
        sim.now - outage_start
    );
    // Recovery.
    sim.respond_ok("after-outage", 10 * HOUR);
    assert_eq!(sim.token_value().as_deref(), Some("after-outage"));
    assert_eq!(sim.source.phase(sim.now), Phase::Fresh);
}

#[test]
fn a_59_second_token_is_still_usable() {
    let mut sim = Sim::new(RefreshPolicy::default(), 2);
    sim.demand();
    sim.respond_ok("short", 59);
    let t = sim.source.token(sim.now).unwrap();
    // Margin min(30 s, L/10) = 5.9 s; refresh window min(5 min, L/4).
    assert_eq!(
        t.usable_until().unwrap() - sim.now,
        Duration::from_millis(53_100)
    );
    let refresh = sim.source.poll_timeout().unwrap() - sim.now;
    assert!(
        refresh >= Duration::from_millis(34_650) && refresh <= Duration::from_millis(38_350),
        "{refresh:?}"
    );
    sim.advance(secs(53));
    assert!(sim.token_value().is_some());
    sim.advance(Duration::from_millis(100));
    assert!(
        sim.token_value().is_none(),
        "never at or past expiry minus the margin"
    );
}

#[test]
fn concurrent_demands_share_one_request() {
    let mut sim = Sim::new(RefreshPolicy::default(), 3);
    for _ in 0..1000 {
        sim.demand();
    }
    assert_eq!(sim.sent_at.len(), 1);
    sim.respond_ok("one", HOUR);
    assert_eq!(sim.take_events().len(), 1);
    for _ in 0..1000 {
        sim.demand();
    }
    assert_eq!(sim.sent_at.len(), 1, "a valid token needs no request");
}

#[test]
fn waiting_callers_get_the_error_after_the_retries() {
    let mut sim = Sim::new(RefreshPolicy::default(), 4);
    sim.demand();
    sim.transport_error(TransportErrorKind::Connect);
    assert!(
        sim.take_events().is_empty(),
        "first failure is retried quietly"
    );
    assert!(sim.pending.is_none());
    // No request before the backoff ends.
    let at = sim.source.poll_timeout().unwrap();
    assert!(at > sim.now);
    sim.demand();
    assert!(sim.pending.is_none(), "a demand does not jump the backoff");
    assert!(sim.fire_timeout());
    sim.transport_error(TransportErrorKind::Reset);
    assert!(sim.fire_timeout());
    sim.transport_error(TransportErrorKind::Timeout);
    let events = sim.take_events();
    assert_eq!(events.len(), 1, "{events:?}");
    let Event::Failed(Error::Transport { kind, .. }) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(*kind, TransportErrorKind::Timeout);
    assert_eq!(sim.sent_at.len(), 3);
}

#[test]
fn retry_after_is_honoured_and_reported_to_callers() {
    let mut sim = Sim::new(RefreshPolicy::default(), 5);
    sim.demand();
    sim.respond_status(429, Some(30), "");
    // 30 s exceeds max_wait (10 s): the caller hears at once, with the wait.
    let events = sim.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Failed(Error::RateLimited { retry_after: Some(d), .. })] if *d == secs(30)
        ),
        "{events:?}"
    );
    sim.advance(secs(10));
    sim.demand();
    assert!(sim.pending.is_none(), "no request before Retry-After ends");
    let events = sim.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Failed(Error::RateLimited { retry_after: Some(d), .. })] if *d == secs(20)
        ),
        "{events:?}"
    );
    sim.advance(secs(20));
    sim.demand();
    assert!(sim.pending.is_some(), "Retry-After has passed");
    sim.respond_ok("ok", HOUR);
    assert!(sim.token_value().is_some());

    // Retry-After as an HTTP date works the same.
    let mut sim = Sim::new(RefreshPolicy::default(), 5);
    sim.demand();
    let date = httpdate::fmt_http_date(sim.wall() + secs(5));
    sim.respond(
        http::Response::builder()
            .status(503)
            .header("retry-after", date)
            .body(Vec::new())
            .unwrap(),
    );
    let at = sim.source.poll_timeout().unwrap();
    assert!(at >= sim.now + secs(5), "{:?}", at - sim.now);
}

#[test]
fn final_errors_are_reported_once_and_not_retried_in_a_loop() {
    let policy = RefreshPolicy::default().with_final_failure_cooldown(secs(60));
    let mut sim = Sim::new(policy, 6);
    sim.demand();
    sim.respond_status(401, None, r#"{"error":"invalid_client"}"#);
    let events = sim.take_events();
    assert!(
        matches!(events.as_slice(), [Event::Failed(Error::Rejected(o))] if o.code == OAuthErrorCode::InvalidClient)
    );
    for _ in 0..100 {
        sim.advance(Duration::from_millis(500));
        sim.demand();
    }
    assert_eq!(sim.sent_at.len(), 1, "no new request during the cooldown");
    assert_eq!(
        sim.take_events().len(),
        100,
        "each caller hears the error at once"
    );
    sim.advance(secs(11));
    sim.demand();
    assert_eq!(sim.sent_at.len(), 2, "one new attempt after the cooldown");

    // New credentials lift the cooldown.
    sim.respond_status(400, None, r#"{"error":"invalid_scope"}"#);
    sim.source
        .handle_credentials(ClientCredentials::new("sim-client", "new-secret").unwrap());
    sim.demand();
    assert_eq!(sim.sent_at.len(), 3);
}

#[test]
fn invalidated_tokens_never_return_and_stale_invalidations_are_ignored() {
    let mut sim = Sim::new(RefreshPolicy::default(), 7);
    sim.demand();
    sim.respond_ok("first", HOUR);
    let first = sim.source.token(sim.now).unwrap();
    sim.source.handle_invalidate(first.id(), sim.now);
    assert!(sim.source.token(sim.now).is_none());
    sim.demand();
    sim.respond_ok("second", HOUR);
    // A late 401 for the first token must not throw the second away.
    sim.source.handle_invalidate(first.id(), sim.now);
    assert_eq!(sim.token_value().as_deref(), Some("second"));
}

#[test]
fn late_responses_are_ignored() {
    let mut sim = Sim::new(RefreshPolicy::default(), 8);
    sim.demand();
    let stale = sim.pending.take().unwrap();
    sim.source
        .handle_transport_error(stale.id, TransportErrorKind::Timeout, "timed out", sim.now);
    sim.drain();
    assert!(sim.fire_timeout());
    assert!(sim.pending.is_some());
    // The first request's answer arrives after all: it is not in flight any more.
    sim.source
        .handle_response(stale.id, common::ok("stale", HOUR), sim.now, sim.wall());
    sim.drain();
    assert!(sim.token_value().is_none());
    sim.respond_ok("fresh", HOUR);
    assert_eq!(sim.token_value().as_deref(), Some("fresh"));
}

#[test]
fn tokens_without_expiry_live_until_rejected() {
    let mut sim = Sim::with_provider(
        Markable::new().into(),
        "search".parse().unwrap(),
        RefreshPolicy::default(),
        9,
    );
    sim.demand();
    sim.respond(
        http::Response::builder()
            .status(200)
            .body(br#"{"data":{"access_token":"clienttoken123"}}"#.to_vec())
            .unwrap(),
    );
    let t = sim.source.token(sim.now).unwrap();
    assert!(t.usable_until().is_none());
    assert_eq!(t.publishable().unwrap().to_string(), "clienttoken123");
    assert_eq!(sim.source.poll_timeout(), None, "nothing to refresh");
    sim.advance(secs(365 * 24 * HOUR));
    assert!(sim.token_value().is_some());
    sim.source.handle_invalidate(t.id(), sim.now);
    assert!(sim.token_value().is_none());

    // With a policy lifetime for such tokens, they are refreshed.
    let policy = RefreshPolicy::default().with_unknown_lifetime(Some(secs(HOUR)));
    let mut sim = Sim::with_provider(Markable::new().into(), Scopes::empty(), policy, 9);
    sim.demand();
    sim.respond(
        http::Response::builder()
            .status(200)
            .body(br#"{"data":{"access_token":"x"}}"#.to_vec())
            .unwrap(),
    );
    let t = sim.source.token(sim.now).unwrap();
    assert!(
        t.publishable().is_none(),
        "a default-scope token has no publish door"
    );
    assert!(sim.source.poll_timeout().is_some());
}

#[test]
fn absurd_lifetimes_are_clamped() {
    let mut sim = Sim::new(RefreshPolicy::default(), 10);
    sim.demand();
    sim.respond_ok("forever", u64::MAX);
    let t = sim.source.token(sim.now).unwrap();
    assert_eq!(t.expires_at().unwrap() - sim.now, secs(24 * HOUR));
}

#[test]
fn cached_tokens_are_taken_when_usable() {
    let mut sim = Sim::new(RefreshPolicy::default(), 11);
    sim.demand();
    sim.respond_ok("stored", HOUR);
    let stored: TokenResponse = sim.source.token(sim.now).unwrap().to_response();

    // A new process reads the cache 10 minutes later.
    let mut other = Sim::new(RefreshPolicy::default(), 12);
    other.advance(secs(600));
    assert!(other
        .source
        .handle_cached(stored.clone(), other.now, sim.wall() + secs(600)));
    other.drain();
    assert_eq!(other.token_value().as_deref(), Some("stored"));
    let left = other.source.token(other.now).unwrap().expires_at().unwrap() - other.now;
    assert_eq!(left, secs(3000));
    // A stale cache entry is refused.
    let mut late = Sim::new(RefreshPolicy::default(), 13);
    assert!(!late
        .source
        .handle_cached(stored, late.now, sim.wall() + secs(2 * HOUR)));
}

#[test]
fn markable_scope_sets_are_checked_up_front() {
    let creds = ClientCredentials::new("id", "secret").unwrap();
    let e = TokenSource::new(
        Markable::new().into(),
        creds,
        "search default".parse().unwrap(),
        RefreshPolicy::default(),
        0,
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidScope { .. }), "{e}");
}

#[test]
fn debug_output_of_the_machine_holds_no_secret() {
    let mut sim = Sim::new(RefreshPolicy::default(), 14);
    sim.demand();
    let pending = format!("{:?}", sim.pending);
    assert!(!pending.contains(SECRET), "{pending}");
    sim.respond_ok("tok-abcdef", HOUR);
    let dump = format!("{:?} {:?}", sim.source, sim.events);
    assert!(!dump.contains(SECRET), "{dump}");
    assert!(!dump.contains("tok-abcdef"), "{dump}");
}

#[test]
fn a_long_outage_still_leaves_a_retry_before_expiry() {
    let mut sim = Sim::new(RefreshPolicy::default(), 15);
    sim.demand();
    sim.respond_ok("before", HOUR);
    let usable_until = sim.source.token(sim.now).unwrap().usable_until().unwrap();
    // Fail every attempt until 3 s before the token stops being usable.
    assert!(sim.fire_timeout());
    let mut attempts = 0;
    while sim.now + secs(3) < usable_until {
        attempts += 1;
        sim.respond_status(503, None, "down");
        assert!(
            sim.fire_timeout(),
            "a retry is always scheduled while the token lives"
        );
        assert!(
            sim.now < usable_until,
            "retry scheduled past the token's expiry"
        );
    }
    sim.respond_ok("after", HOUR);
    assert_eq!(sim.token_value().as_deref(), Some("after"));
    assert!(sim
        .take_events()
        .iter()
        .all(|e| !matches!(e, Event::Failed(_))));
    assert!(
        attempts < 40,
        "{attempts} attempts: denser near expiry, but bounded"
    );
}

#[test]
fn a_rejected_token_is_refused_from_a_store_and_ids_do_not_cross_machines() {
    let mut sim = Sim::new(RefreshPolicy::default(), 16);
    sim.demand();
    sim.respond_ok("rejected-one", HOUR);
    let t = sim.source.token(sim.now).unwrap();
    let stored = t.to_response();
    // Another machine's token with the same serial must not touch ours.
    let mut other = Sim::new(RefreshPolicy::default(), 16);
    other.demand();
    other.respond_ok("other", HOUR);
    let foreign = other.source.token(other.now).unwrap();
    sim.source.handle_invalidate(foreign.id(), sim.now);
    assert_eq!(sim.token_value().as_deref(), Some("rejected-one"));

    sim.source.handle_invalidate(t.id(), sim.now);
    // A store that failed to forget it offers it back: refused.
    assert!(!sim.source.handle_cached(stored, sim.now, sim.wall()));
    assert!(sim.token_value().is_none());
    assert!(!format!("{:?}", sim.source).contains("rejected-one"));
}

static KEY: std::sync::LazyLock<auth_core::FingerprintKey> =
    std::sync::LazyLock::new(|| auth_core::FingerprintKey::new([3; 32]));

#[test]
fn a_restored_token_keeps_the_margin_of_its_whole_lifetime() {
    let mut sim = Sim::new(RefreshPolicy::default(), 17);
    sim.demand();
    sim.respond_ok("stored", HOUR);
    let stored = auth_core::StoredToken::new(
        &sim.source.cache_key(&KEY),
        &sim.source.token(sim.now).unwrap(),
    );
    let json = stored.to_json().unwrap();

    // A new process 58 minutes later: 2 minutes left.
    let mut later = Sim::new(RefreshPolicy::default(), 18);
    let entry = auth_core::StoredToken::from_json(&json).unwrap();
    let wall = sim.wall() + secs(58 * 60);
    let key = later.source.cache_key(&KEY);
    assert!(
        auth_core::store::offer_stored(&mut later.source, &key, entry, later.now, wall).unwrap()
    );
    let t = later.source.token(later.now).unwrap();
    // The margin is min(30 s, 3600 s / 10) = 30 s, not a tenth of the 120 s left.
    assert_eq!(t.usable_until().unwrap() - later.now, secs(90));
}

#[test]
fn a_rejected_token_issued_again_is_refused_with_backoff() {
    let mut sim = Sim::new(RefreshPolicy::default(), 19);
    sim.demand();
    sim.respond_ok("t1", HOUR);
    let t1 = sim.source.token(sim.now).unwrap();
    sim.take_events();
    // The API answers 401: the driver invalidates and asks for a new one.
    sim.source.handle_invalidate(t1.id(), sim.now);
    sim.demand();
    assert_eq!(sim.sent_at.len(), 2);

    // The server hands back the token it cached, and keeps doing so.
    sim.respond_ok("t1", HOUR);
    let events = sim.take_events();
    assert!(
        events.iter().all(|e| !matches!(e, Event::TokenReady(_))),
        "{events:?}"
    );
    assert!(sim.token_value().is_none());
    assert_eq!(sim.source.last_error(), Some(&Error::ReissuedRejectedToken));
    // It backs off like any retryable failure: no request at once, not
    // even for a caller who asks again.
    assert!(sim.pending.is_none());
    sim.demand();
    assert!(sim.pending.is_none(), "a demand does not jump the backoff");
    assert_eq!(sim.source.phase(sim.now), Phase::BackingOff);
    let first_wait = sim.source.poll_timeout().unwrap() - sim.now;
    assert!(first_wait >= Duration::from_millis(125), "{first_wait:?}");

    assert!(sim.fire_timeout());
    sim.respond_ok("t1", HOUR);
    let second_wait = sim.source.poll_timeout().unwrap() - sim.now;
    assert!(
        second_wait >= first_wait,
        "{second_wait:?} < {first_wait:?}"
    );
    assert!(sim.take_events().is_empty(), "retried quietly at first");

    // After the policy's retries the waiting caller hears why.
    assert!(sim.fire_timeout());
    sim.respond_ok("t1", HOUR);
    let events = sim.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Failed(Error::ReissuedRejectedToken)]
        ),
        "{events:?}"
    );
    assert_eq!(sim.sent_at.len(), 4, "one request per backoff, no more");

    // Once the server issues a new token, it is taken.
    let wait = sim.source.poll_timeout();
    assert!(wait.is_none(), "nobody waits, nothing is held: {wait:?}");
    sim.advance(secs(60));
    sim.demand();
    sim.respond_ok("t2", HOUR);
    assert_eq!(sim.token_value().as_deref(), Some("t2"));
    assert!(matches!(
        sim.take_events().as_slice(),
        [Event::TokenReady(_)]
    ));
    assert_eq!(sim.source.last_error(), None);
}

#[test]
fn a_reissued_rejected_token_during_a_refresh_keeps_the_valid_one() {
    let mut sim = Sim::new(RefreshPolicy::default(), 20);
    sim.demand();
    sim.respond_ok("old", HOUR);
    let old = sim.source.token(sim.now).unwrap();
    sim.source.handle_invalidate(old.id(), sim.now);
    sim.demand();
    sim.respond_ok("current", HOUR);
    // At refresh time the server offers the rejected one again.
    assert!(sim.fire_timeout());
    sim.respond_ok("old", HOUR);
    assert_eq!(sim.token_value().as_deref(), Some("current"));
    assert!(sim
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::RefreshFailed(Error::ReissuedRejectedToken))));
    assert!(sim.source.poll_timeout().unwrap() > sim.now, "backing off");
}

#[test]
fn a_policy_that_cannot_work_is_refused_up_front() {
    let creds = ClientCredentials::new("id", "secret").unwrap();
    let policy = RefreshPolicy::default().with_backoff_initial(Duration::ZERO);
    let e = TokenSource::new(common::oauth2(), creds, Scopes::empty(), policy, 0).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidConfig(m) if m.contains("backoff_initial")),
        "{e}"
    );
}

// Each test below feeds a value the policy setters accept, or a server may
// send, that once overflowed an `Instant` or `Duration` sum and panicked.

#[test]
fn a_lifetime_too_long_for_instant_is_clamped_not_a_panic() {
    let max = Duration::MAX;
    for policy in [
        RefreshPolicy::default().with_max_lifetime(max),
        RefreshPolicy::default()
            .with_max_lifetime(max)
            .with_safety_margin(max)
            .with_refresh_ahead(max)
            .with_refresh_jitter(1.0),
    ] {
        let mut sim = Sim::new(policy, 21);
        sim.demand();
        sim.respond_ok("long", u64::MAX);
        let t = sim
            .source
            .token(sim.now)
            .expect("a token with a huge lifetime");
        let ages = secs(1_000_000 * 365 * 24 * HOUR);
        assert!(t.usable_until().unwrap() > sim.now + ages);
        assert!(t.usable_until() <= t.expires_at());
        assert!(sim.source.refresh_at().unwrap() <= t.usable_until().unwrap());
        sim.advance(secs(365 * 24 * HOUR));
        assert_eq!(sim.token_value().as_deref(), Some("long"));
    }
}

#[test]
fn an_assumed_lifetime_too_long_for_instant_is_clamped_not_a_panic() {
    let policy = RefreshPolicy::default()
        .with_max_lifetime(Duration::MAX)
        .with_unknown_lifetime(Some(Duration::MAX));
    let mut sim = Sim::new(policy, 22);
    sim.demand();
    sim.respond_ok("unstated", 0);
    assert_eq!(sim.token_value().as_deref(), Some("unstated"));
}

#[test]
fn a_retry_after_too_long_for_instant_is_a_long_wait_not_a_panic() {
    // u64::MAX seconds, and more digits than a u64 holds (once ignored,
    // so the machine retried after 250 ms).
    for retry_after in ["18446744073709551615", "99999999999999999999999"] {
        let policy = RefreshPolicy::default().with_max_retry_after(Duration::MAX);
        let mut sim = Sim::new(policy, 23);
        sim.demand();
        sim.respond(
            http::Response::builder()
                .status(429)
                .header("retry-after", retry_after)
                .body(Vec::new())
                .unwrap(),
        );
        let events = sim.take_events();
        assert!(
            matches!(
                events.as_slice(),
                [Event::Failed(Error::RateLimited { .. })]
            ),
            "{events:?}"
        );
        assert!(sim.source.poll_timeout().is_none(), "nobody waits");
        sim.advance(secs(100 * 365 * 24 * HOUR));
        sim.demand();
        assert!(sim.pending.is_none(), "the wait is not over");
    }
}

#[test]
fn an_uncapped_backoff_from_a_huge_start_does_not_panic() {
    let policy = RefreshPolicy::default()
        .with_backoff_initial(secs(u64::MAX))
        .with_backoff_max(Duration::MAX);
    let mut sim = Sim::new(policy, 24);
    sim.demand();
    sim.respond_status(503, None, "down");
    assert!(matches!(sim.take_events().as_slice(), [Event::Failed(_)]));
    sim.advance(secs(100 * 365 * 24 * HOUR));
    sim.demand();
    assert!(sim.pending.is_none(), "still backing off");
}

#[test]
fn an_endless_cooldown_does_not_panic() {
    let policy = RefreshPolicy::default()
        .with_final_failure_cooldown(Duration::MAX)
        .with_max_wait(Duration::MAX)
        .with_waiting_retries(u32::MAX);
    let mut sim = Sim::new(policy, 25);
    sim.demand();
    sim.respond_status(401, None, r#"{"error":"invalid_client"}"#);
    assert!(matches!(sim.take_events().as_slice(), [Event::Failed(_)]));
    sim.advance(secs(1000 * 365 * 24 * HOUR));
    sim.demand();
    assert!(sim.pending.is_none(), "still cooling down");
    assert!(matches!(sim.take_events().as_slice(), [Event::Failed(_)]));
}
