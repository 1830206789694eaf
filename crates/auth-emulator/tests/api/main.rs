//! Async tests over real HTTP with reqwest. One binary, several modules, so
//! the workspace links reqwest once for all of them.

// Helpers outside #[test] fns are not covered by allow-unwrap-in-tests;
// a failed unwrap is a failed test here, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod cc_catalog;
mod discovery;
mod faults;
mod jwt;
mod markable;
mod oauth2;
mod openverse;
mod throttles;

use auth_emulator::{Emulator, EmulatorConfig, Throttles};
use base64::Engine as _;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

/// An emulator with the demo clients, the defaults (Openverse flavour,
/// the real throttles).
pub(crate) async fn emu() -> Emulator {
    Emulator::start(EmulatorConfig::default()).await.unwrap()
}

/// The defaults with every throttle off, for tests that make many requests.
pub(crate) async fn quiet() -> Emulator {
    emu_with(EmulatorConfig {
        throttles: Throttles::off(),
        ..EmulatorConfig::default()
    })
    .await
}

pub(crate) async fn emu_with(config: EmulatorConfig) -> Emulator {
    Emulator::start(config).await.unwrap()
}

/// A client that, like a token client must, never follows redirects.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Status, headers and the body parsed as JSON.
pub(crate) async fn json(resp: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, headers, body)
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

/// RFC 6749 §2.3.1: form-urlencode id and secret, join with `:`, base64.
pub(crate) fn basic(id: &str, secret: &str) -> String {
    let pair = format!("{}:{}", form_encode(id), form_encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

pub(crate) fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A form body from pairs.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) const FORM: &str = "application/x-www-form-urlencoded";
