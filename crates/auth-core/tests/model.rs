//! Model-based property test of the token machine: random sequences of
//! time, demands, answers and invalidations, with the machine's promises
//! checked after every step.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use auth_core::{Event, RefreshPolicy, TokenId, TransportErrorKind};
use common::Sim;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Action {
    Advance(Duration),
    Demand,
    FireTimeout,
    Ok {
        lifetime: u64,
    },
    ServerError {
        retry_after: Option<u64>,
    },
    RateLimited {
        retry_after: Option<u64>,
    },
    Transport,
    Final,
    Invalidate,
    /// The server answers with the last token the API rejected.
    Reissue,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => prop_oneof![
            (0u64..2_000).prop_map(Duration::from_millis),
            (0u64..300).prop_map(Duration::from_secs),
            (0u64..40_000).prop_map(Duration::from_secs),
        ].prop_map(Action::Advance),
        3 => Just(Action::Demand),
        3 => Just(Action::FireTimeout),
        3 => prop_oneof![Just(0u64), 1u64..120, Just(59), Just(3600), Just(36_000), Just(u64::MAX)]
            .prop_map(|lifetime| Action::Ok { lifetime }),
        1 => proptest::option::of(0u64..120).prop_map(|retry_after| Action::ServerError { retry_after }),
        1 => proptest::option::of(0u64..7200).prop_map(|retry_after| Action::RateLimited { retry_after }),
        1 => Just(Action::Transport),
        1 => Just(Action::Final),
        1 => Just(Action::Invalidate),
        1 => Just(Action::Reissue),
    ]
}

fn policy() -> RefreshPolicy {
    RefreshPolicy::default()
}

/// Runs `actions`, checking every invariant; returns a trace for the
/// determinism check.
fn run(seed: u64, actions: &[Action]) -> Result<Vec<String>, TestCaseError> {
    let policy = policy();
    let mut sim = Sim::new(policy.clone(), seed);
    let mut trace = Vec::new();
    let mut next_token = 0u64;
    // What the model believes: the newest token, and whether it is still good.
    let mut current: Option<(TokenId, Option<Instant>)> = None;
    let mut invalidated: HashSet<TokenId> = HashSet::new();
    // Values, too: a reissued value comes back under a new id.
    let mut rejected_values: Vec<String> = Vec::new();
    // No request may leave before this (backoff, Retry-After, cooldown).
    let mut not_before: Option<Instant> = None;
    let mut last_failure: Option<Instant> = None;

    for a in actions {
        let sent_before = sim.sent_at.len();
        let events_before = sim.events.len();
        match a {
            Action::Advance(d) => sim.advance(*d),
            Action::Demand => sim.demand(),
            Action::FireTimeout => {
                sim.fire_timeout();
            }
            Action::Ok { lifetime } if sim.pending.is_some() => {
                next_token += 1;
                sim.respond_ok(&format!("tok{next_token}"), *lifetime);
            }
            Action::ServerError { retry_after } if sim.pending.is_some() => {
                let at = sim.now;
                sim.respond_status(503, *retry_after, "down");
                last_failure = Some(at);
                if let Some(r) = retry_after {
                    not_before = Some(at + Duration::from_secs(*r).min(policy.max_retry_after));
                }
            }
            Action::RateLimited { retry_after } if sim.pending.is_some() => {
                let at = sim.now;
                sim.respond_status(429, *retry_after, "");
                last_failure = Some(at);
                if let Some(r) = retry_after {
                    not_before = Some(at + Duration::from_secs(*r).min(policy.max_retry_after));
                }
            }
            Action::Transport if sim.pending.is_some() => {
                last_failure = Some(sim.now);
                sim.transport_error(TransportErrorKind::Reset);
            }
            Action::Final if sim.pending.is_some() => {
                let at = sim.now;
                sim.respond_status(401, None, r#"{"error":"invalid_client"}"#);
                last_failure = Some(at);
                not_before = Some(at + policy.final_failure_cooldown);
            }
            Action::Invalidate => {
                if let Some(t) = sim.source.token(sim.now) {
                    invalidated.insert(t.id());
                    rejected_values.push(t.access_token().expose_secret().to_owned());
                    sim.source.handle_invalidate(t.id(), sim.now);
                    sim.drain();
                    current = None;
                }
            }
            Action::Reissue if sim.pending.is_some() => {
                if let Some(value) = rejected_values.last().cloned() {
                    last_failure = Some(sim.now);
                    sim.respond_ok(&value, 3600);
                }
            }
            _ => {} // an answer with nothing in flight
        }

        // A request sent in this step must respect every wait.
        if sim.sent_at.len() > sent_before {
            let at = *sim.sent_at.last().unwrap();
            if let Some(nb) = not_before {
                prop_assert!(
                    at >= nb,
                    "request at {:?} before {:?} ({a:?})",
                    at - sim.start,
                    nb - sim.start
                );
            }
            if let Some(f) = last_failure {
                prop_assert!(at > f, "request in the same instant as a failure");
            }
        }

        for e in &sim.events[events_before..] {
            match e {
                Event::TokenReady(t) => {
                    prop_assert!(
                        !rejected_values.contains(&t.access_token().expose_secret().to_owned()),
                        "a rejected token value was installed again"
                    );
                    current = Some((t.id(), t.usable_until()));
                    not_before = None;
                    last_failure = None;
                    trace.push(format!(
                        "ready {} at {:?}",
                        t.access_token().expose_secret(),
                        sim.now - sim.start
                    ));
                }
                Event::Failed(err) => {
                    trace.push(format!("failed {err} at {:?}", sim.now - sim.start))
                }
                Event::RefreshFailed(err) => {
                    trace.push(format!("refresh failed {err} at {:?}", sim.now - sim.start));
                }
                other => trace.push(format!("{other:?}")),
            }
        }
        if sim.sent_at.len() > sent_before {
            trace.push(format!("sent at {:?}", sim.now - sim.start));
        }

        // Never a token at or past expiry minus the safety margin.
        if let Some(t) = sim.source.token(sim.now) {
            if let (Some(exp), issued) = (t.expires_at(), t.issued_at()) {
                let margin = policy.safety_margin.min((exp - issued) / 10);
                prop_assert!(sim.now < exp - margin, "token served inside the margin");
            }
            prop_assert!(
                !invalidated.contains(&t.id()),
                "an invalidated token came back"
            );
        }
        // A valid token is never dropped because a refresh failed.
        if let Some((id, usable_until)) = current {
            if usable_until.is_none_or(|u| sim.now < u) {
                let held = sim.source.token(sim.now);
                prop_assert_eq!(held.map(|t| t.id()), Some(id), "a valid token was dropped");
            }
        }
        // A demand without a usable token is never stranded: a request is in
        // flight, the caller was told, or a deadline will wake the machine.
        if matches!(a, Action::Demand) && sim.source.token(sim.now).is_none() {
            let told = sim.events[events_before..]
                .iter()
                .any(|e| matches!(e, Event::Failed(_)));
            prop_assert!(
                sim.pending.is_some() || told || sim.source.poll_timeout().is_some(),
                "a waiting caller was stranded"
            );
        }
    }
    Ok(trace)
}

proptest! {
    #![proptest_config(common::proptest_config(10_000))]

    #[test]
    fn machine_keeps_its_promises(seed in any::<u64>(), actions in proptest::collection::vec(action(), 1..60)) {
        let first = run(seed, &actions)?;
        let second = run(seed, &actions)?;
        prop_assert_eq!(first, second, "same seed and actions must give the same trace");
    }
}
