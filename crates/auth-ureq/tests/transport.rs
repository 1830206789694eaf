//! The transport rules: redirects, body caps, timeouts, resets, garbage
//! bodies, each giving its typed error, and no secret in any output.

// The helpers below are test code too; clippy only exempts #[test] fns.
#![allow(clippy::unwrap_used)]

mod common;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth_core::{ClientAuth, ClientCredentials, OAuth2, TransportErrorKind};
use auth_emulator::{demo, BlockingEmulator, Endpoint, Fault, FaultPlan, Scheme};
use auth_ureq::{Error, TokenProvider, TokenProviderBuilder};
use common::{emulator, get, oauth2};

/// A provider that reports the first failure instead of retrying it.
fn impatient(emu: &BlockingEmulator) -> TokenProviderBuilder {
    oauth2(emu, ClientAuth::Basic).policy(common::fast_policy().with_waiting_retries(0))
}

fn fail_with(emu: &BlockingEmulator, fault: Fault) -> Error {
    emu.add_fault(FaultPlan::always(Endpoint::Oauth2Token, fault))
        .unwrap();
    impatient(emu).build().unwrap().token().unwrap_err()
}

#[test]
fn a_redirect_is_reported_not_followed() {
    let emu = emulator();
    let e = fail_with(&emu, Fault::Redirect { status: 307 });
    match &e {
        Error::Auth(auth_core::Error::UnexpectedStatus {
            status, location, ..
        }) => {
            assert_eq!(*status, 307);
            assert!(location
                .as_deref()
                .unwrap()
                .contains("evil.example.invalid"));
        }
        other => panic!("expected UnexpectedStatus, got {other:?}"),
    }
    assert!(!e.is_retryable());
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 1);
}

#[test]
fn a_huge_body_is_cut_off_at_the_cap() {
    let emu = emulator();
    let started = Instant::now();
    let e = fail_with(&emu, Fault::HugeBody);
    assert_eq!(
        e.transport_kind(),
        Some(TransportErrorKind::BodyTooLarge),
        "{e}"
    );
    assert!(!e.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_slow_body_hits_the_total_timeout() {
    let emu = emulator();
    emu.add_fault(FaultPlan::always(
        Endpoint::Oauth2Token,
        Fault::SlowBody { duration_ms: 3000 },
    ))
    .unwrap();
    let tokens = impatient(&emu)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = tokens.token().unwrap_err();
    assert_eq!(e.transport_kind(), Some(TransportErrorKind::Timeout), "{e}");
    assert!(e.is_retryable());
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_reset_and_a_truncated_body_are_told_apart() {
    let emu = emulator();
    let e = fail_with(&emu, Fault::ConnectionReset);
    assert_eq!(e.transport_kind(), Some(TransportErrorKind::Reset), "{e}");
    assert!(e.is_retryable());

    let emu = emulator();
    let e = fail_with(&emu, Fault::TruncatedBody);
    assert_eq!(e.transport_kind(), Some(TransportErrorKind::Body), "{e}");
}

#[test]
fn a_non_json_body_is_a_malformed_response() {
    let emu = emulator();
    let e = fail_with(&emu, Fault::NotJson);
    assert!(
        matches!(e, Error::Auth(auth_core::Error::MalformedResponse { .. })),
        "{e:?}"
    );
    let emu = emulator();
    let e = fail_with(&emu, Fault::Html);
    assert!(e.status().is_some(), "{e:?}");
}

#[test]
fn nothing_listening_is_a_connect_error() {
    let provider = OAuth2::new("http://127.0.0.1:1/token", ClientAuth::Basic).unwrap();
    let credentials = ClientCredentials::new("id", "secret").unwrap();
    let tokens = TokenProvider::builder(provider, credentials)
        .policy(common::fast_policy().with_waiting_retries(0))
        .build()
        .unwrap();
    let e = tokens.token().unwrap_err();
    assert_eq!(e.transport_kind(), Some(TransportErrorKind::Connect), "{e}");
}

#[test]
fn api_call_failures_are_transport_errors() {
    let emu = emulator();
    emu.add_fault(FaultPlan::always(
        Endpoint::Oauth2Resource,
        Fault::ConnectionReset,
    ))
    .unwrap();
    let tokens = oauth2(&emu, ClientAuth::Basic).build().unwrap();
    let e = tokens.send(get(emu.url("/oauth2/resource"))).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportErrorKind::Reset,
                ..
            }
        ),
        "{e:?}"
    );
}

/// Collects everything `tracing` writes while the closure runs on this thread.
fn capture_logs(run: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, run);
    let bytes = sink.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn no_secret_or_token_appears_in_any_output() {
    let emu = emulator();
    let wrong_secret = "wrong-secret-6f1d2c";
    let mut seen_tokens: Vec<String> = Vec::new();
    let mut output = String::new();
    let logs = capture_logs(|| {
        let mut note = |what: String| {
            output.push_str(&what);
            output.push('\n');
        };
        // Bad credentials.
        let bad = common::oauth2_with_secret(&emu, ClientAuth::Post, wrong_secret)
            .build()
            .unwrap();
        let e = bad.token().unwrap_err();
        note(format!("{e} {e:?} {bad:?}"));

        // A good run, then a rejected token and its renewal.
        let builder = impatient(&emu);
        note(format!("{builder:?}"));
        let tokens = builder.build().unwrap();
        let token = tokens.token().unwrap();
        seen_tokens.push(token.access_token().expose_secret().to_owned());
        note(format!("{token:?} {tokens:?}"));
        emu.expire_tokens();
        let response = tokens.send(get(emu.url("/oauth2/resource"))).unwrap();
        note(format!("{response:?}"));
        let token = tokens.token().unwrap();
        seen_tokens.push(token.access_token().expose_secret().to_owned());
        let authorized = tokens.authorize(get(emu.url("/x"))).unwrap();
        note(format!("{authorized:?}"));

        // Every kind of broken token endpoint, on a cold cache.
        for fault in [
            Fault::NotJson,
            Fault::Html,
            Fault::ConnectionReset,
            Fault::TruncatedBody,
            Fault::HugeBody,
            Fault::Redirect { status: 302 },
            Fault::WrongTokenType,
            Fault::MissingAccessToken,
            Fault::ServerError {
                status: 503,
                retry_after_secs: None,
            },
        ] {
            emu.add_fault(FaultPlan::next(Endpoint::Oauth2Token, fault, 1))
                .unwrap();
            let cold = impatient(&emu).build().unwrap();
            let e = cold.token().unwrap_err();
            note(format!("{e} {e:?}"));
        }
    });
    assert!(
        logs.contains("apiauth.fetch"),
        "logs were captured:\n{logs}"
    );
    assert!(logs.contains("token request failed"), "{logs}");
    let everything = format!("{logs}\n{output}");
    for secret in [demo::OAUTH2_CLIENT_SECRET, wrong_secret]
        .into_iter()
        .chain(seen_tokens.iter().map(String::as_str))
    {
        assert!(
            !everything.contains(secret),
            "a secret leaked into the output:\n{everything}"
        );
    }
}
