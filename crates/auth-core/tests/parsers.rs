//! Property tests of the response parsers: arbitrary bytes and arbitrary
//! JSON never panic, and no error ever carries the client secret or the
//! access token, even when the server echoes them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{
    ClientAuth, ClientCredentials, Markable, OAuth2, Openverse, Provider, RateLimits,
    ResponseContext, Scopes,
};
use proptest::prelude::*;

mod common;
#[path = "common/leaks.rs"]
mod leaks;
use serde_json::{json, Map, Value};

fn providers() -> Vec<(Provider, Scopes)> {
    vec![
        (
            OAuth2::new("https://as.example.com/token", ClientAuth::Basic)
                .unwrap()
                .into(),
            "read".parse().unwrap(),
        ),
        (Openverse::cc_catalog().into(), Scopes::empty()),
        (Markable::new().into(), "search".parse().unwrap()),
    ]
}

const KEYS: &[&str] = &[
    "access_token",
    "token_type",
    "expires_in",
    "expires_at",
    "scope",
    "error",
    "error_description",
    "error_uri",
    "data",
    "errors",
    "status",
    "title",
    "detail",
    "client_id",
    "client_secret",
    "name",
    "msg",
    "verified",
    "requests_today",
];

/// Arbitrary JSON built from the keys parsers look at, with the secret and
/// the token sprinkled in as values.
fn json(secret: String, token: String) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        Just(Value::String(secret.clone())),
        Just(Value::String(format!("your secret {secret} is wrong"))),
        "(bearer|Bearer|mac|)".prop_map(Value::String),
        "(default|search|read write|2026-11-22T18:25:43Z|3600|-1)".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        let token = token.clone();
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                move |pairs| {
                    let mut m = Map::new();
                    for (k, v) in pairs {
                        // The token only ever appears where a token belongs.
                        let v = if k == "access_token" && v.is_string() {
                            Value::String(token.clone())
                        } else {
                            v
                        };
                        m.insert(k.to_owned(), v);
                    }
                    Value::Object(m)
                }
            ),
        ]
    })
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(200u16),
        Just(201),
        Just(302),
        Just(400),
        Just(401),
        Just(403),
        Just(429),
        Just(500),
        Just(503),
        100u16..600,
    ]
}

/// Secrets from the whole printable set, as a client may be given.
const PRINTABLE: &str = "[ -~]{8,64}";

/// The secret as a server may echo it back: in one of the forms the
/// client sent it in.
fn echo(secret: &str, pick: usize) -> String {
    let forms = leaks::forms(ID, secret);
    forms[pick % forms.len()].clone()
}

const ID: &str = "client id";

fn check(body: Vec<u8>, status: u16, secret: &str, token: &str) -> Result<(), TestCaseError> {
    let wall = UNIX_EPOCH + Duration::from_secs(1_795_371_943);
    let creds = ClientCredentials::new(ID, secret).unwrap();
    let location = format!(
        "https://x.invalid/{}?s={}",
        echo(secret, 1),
        echo(secret, 2)
    );
    let response = http::Response::builder()
        .status(status)
        .header("location", location)
        .header("retry-after", "Sun, 22 Nov 2026 18:30:00 GMT")
        .body(body)
        .unwrap();
    for (p, scopes) in providers() {
        let cx = ResponseContext {
            credentials: &creds,
            requested: &scopes,
            wall,
        };
        if let Err(e) = p.parse_token_response(&response, cx) {
            let text = format!("{e} {e:?}");
            let leak = leaks::leaked(&text, ID, secret);
            prop_assert!(leak.is_none(), "secret leaked as {leak:?}: {text}");
            prop_assert!(!text.contains(token), "token leaked: {text}");
            prop_assert!(
                !text.chars().any(char::is_control),
                "control character: {text:?}"
            );
        }
    }
    // Registration knows no secret beforehand; it must hide the one it was sent.
    let ov = Openverse::cc_catalog();
    let issued = serde_json::from_slice::<Value>(response.body())
        .ok()
        .and_then(|v| v.get("client_secret")?.as_str().map(str::to_owned))
        .filter(|s| s.len() >= 8);
    if let (Err(e), Some(issued)) = (ov.parse_registration_response(&response, wall), issued) {
        let text = format!("{e} {e:?}");
        let leak = leaks::leaked(&text, "", &issued);
        prop_assert!(
            leak.is_none(),
            "issued secret leaked from registration as {leak:?}: {text}"
        );
    }
    let access = auth_core::AccessToken::new(token);
    if let Err(e) = ov.parse_key_status_response(&response, &access, wall) {
        let text = format!("{e} {e:?}");
        prop_assert!(
            !text.contains(token),
            "token leaked from key status: {text}"
        );
    }
    let _ = RateLimits::from_headers(response.headers(), wall);
    let _: SystemTime = wall;
    Ok(())
}

proptest! {
    #![proptest_config(common::proptest_config(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic_or_leak(
        secret in PRINTABLE,
        token in "[A-Za-z0-9]{16,32}",
        prefix in proptest::collection::vec(any::<u8>(), 0..64),
        suffix in proptest::collection::vec(any::<u8>(), 0..64),
        status in status(),
        pick in any::<usize>(),
    ) {
        let mut body = prefix;
        body.extend_from_slice(echo(&secret, pick).as_bytes());
        body.extend_from_slice(&suffix);
        check(body, status, &secret, &token)?;
    }

    #[test]
    fn arbitrary_json_never_panics_or_leaks(
        (secret, token, value) in (PRINTABLE, "[A-Za-z0-9]{16,64}", any::<usize>())
            .prop_flat_map(|(s, t, pick)| (Just(s.clone()), Just(t.clone()), json(echo(&s, pick), t))),
        status in status(),
        truncate in proptest::option::of(0usize..200),
    ) {
        let mut body = serde_json::to_vec(&value).unwrap();
        if let Some(n) = truncate {
            body.truncate(n);
        }
        check(body, status, &secret, &token)?;
    }
}

/// Every field a parser reads, holding the secret (long, or with quotes and
/// backslashes), in every status class: no error may show the secret, nor
/// any 24-character piece of it (a cut secret is still a leak).
#[test]
fn the_secret_in_any_field_never_reaches_an_error() {
    let long: String = "Zq9".repeat(43); // 129 characters, like real secrets
    let quoted = r#"ab"cd\ef"gh\ij"kl-secret-with-quotes"#.to_owned();
    let wall = UNIX_EPOCH + Duration::from_secs(1_795_371_943);
    for secret in [long, quoted] {
        let creds = ClientCredentials::new("client-id", secret.as_str()).unwrap();
        let pieces: Vec<&str> = (0..=secret.len().saturating_sub(24))
            .step_by(8)
            .map(|i| &secret[i..i + 24])
            .collect();
        for key in KEYS {
            for wrap_in_data in [false, true] {
                let inner = json!({ "access_token": "tok", *key: secret });
                let body = if wrap_in_data {
                    json!({ "data": inner })
                } else {
                    inner
                };
                for status in [200u16, 201, 400, 401, 403, 429, 500, 302] {
                    let response = http::Response::builder()
                        .status(status)
                        .body(serde_json::to_vec(&body).unwrap())
                        .unwrap();
                    for (p, scopes) in providers() {
                        let cx = ResponseContext {
                            credentials: &creds,
                            requested: &scopes,
                            wall,
                        };
                        if let Err(e) = p.parse_token_response(&response, cx) {
                            let text = format!("{e} {e:?}");
                            for piece in &pieces {
                                // Also in the shapes quoting gives it.
                                let debug = piece.escape_debug().to_string();
                                let json = serde_json::to_string(piece).unwrap();
                                for form in [*piece, debug.as_str(), json.trim_matches('"')] {
                                    assert!(!text.contains(form), "{key} / {status}: {text}");
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
