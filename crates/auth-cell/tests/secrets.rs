//! Nothing the cell hands a driver or a caller prints a secret: not the
//! client secret, not the token, in any encoding the client sends them in
//! (raw, form-urlencoded with `+` or `%20`, either hex case, base64 of
//! `id:secret` in both alphabets).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::task::{Context, Waker};

use auth_cell::{ApiCall, CellBuilder, Demand, Limits, ManualClock, MemoryStore, Step, TokenStore};
use auth_core::{ClientAuth, ClientCredentials, OAuth2, TransportErrorKind};
use base64::Engine as _;
use common::Server;

/// The printable characters a form or Basic encoding changes.
const SECRET: &str = "s3+c/r=e%t&k:e\"y\\ ~!";
/// Tokens are RFC 6750 `b64token`s (the core refuses others): the
/// characters of that set an encoding changes.
const TOKEN: &str = "Tk+n/v=l~u-e.z_q9";

fn encodings(id: &str, value: &str) -> Vec<String> {
    let mut forms = vec![value.to_owned()];
    // WHATWG form encoding (what the client sends: `~` escaped, `*` not)
    // and RFC 3986 percent-encoding (`~` kept), spaces as `+` or `%20`.
    for keep in [&b"*-._"[..], &b"-._~"[..]] {
        for space in ["+", "%20"] {
            let encoded = percent(value, keep, space);
            forms.push(encoded.to_lowercase_hex());
            forms.push(encoded);
        }
    }
    let b64 = |s: &str| {
        [
            base64::engine::general_purpose::STANDARD.encode(s),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s),
        ]
    };
    // Basic: of the raw pair, and of the form-encoded pair (RFC 6749 §2.3.1).
    forms.extend(b64(&format!("{id}:{value}")));
    forms.extend(b64(&format!("{id}:{}", percent(value, b"*-._", "+"))));
    forms
}

fn percent(value: &str, keep: &[u8], space: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push_str(space);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

trait LowerHex {
    fn to_lowercase_hex(&self) -> String;
}

impl LowerHex for String {
    fn to_lowercase_hex(&self) -> String {
        let mut out = String::new();
        let mut chars = self.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '%' {
                for _ in 0..2 {
                    if let Some(h) = chars.next() {
                        out.push(h.to_ascii_lowercase());
                    }
                }
            }
        }
        out
    }
}

#[test]
fn debug_of_everything_the_cell_hands_out_holds_no_secret() {
    let clock = Arc::new(ManualClock::new());
    let store = MemoryStore::new();
    let builder = CellBuilder::new(
        OAuth2::new("https://auth.example.com/token", ClientAuth::Post)
            .unwrap()
            .into(),
        ClientCredentials::new("client", SECRET).unwrap(),
    )
    .clock(clock.clone());
    let mut out = format!("{builder:?}");
    let cell = builder.build(&Limits::default(), true).unwrap();
    let body = format!(
        r#"{{"access_token":{},"token_type":"Bearer","expires_in":3600}}"#,
        serde_json_string(TOKEN)
    );
    let server = Server::new(vec![(200, body)]);

    let Demand::Run(mut job, ticket) = cell.demand() else {
        panic!()
    };
    out += &format!("{job:?} {ticket:?} {cell:?}");
    while let Some(step) = job.next_step() {
        out += &format!("{step:?}");
        match step {
            Step::Lock { .. } => job.handle_stored(Ok(())),
            Step::Load => job.handle_loaded(Ok(None)),
            Step::Send(t) => {
                // The request really carries the secret (form-encoded).
                assert!(!t.request.body().is_empty());
                job.handle_response(server.answer());
            }
            Step::Save(e) => job.handle_stored(store.save(job.key(), &e)),
            Step::Remove(e) => job.handle_stored(store.remove(job.key(), &e)),
            _ => unreachable!(),
        }
    }
    let mut cx = Context::from_waker(Waker::noop());
    let mut ticket = ticket;
    let ready = cell.poll_ticket(&mut ticket, &mut cx);
    out += &format!("{ready:?} {:?} {store:?}", cell.read());
    let std::task::Poll::Ready(Demand::Ready(token)) = ready else {
        panic!("no token: {ready:?}")
    };
    assert_eq!(token.access_token().expose_secret(), TOKEN);
    // The URL's query may hold anything, here the token itself.
    let url: http::Uri = format!("https://api.example/items?t={}", percent(TOKEN, b"", "%20"))
        .parse()
        .unwrap();
    let error = cell.api_transport_error(
        &token,
        &url,
        TransportErrorKind::Reset,
        &format!("connection reset while sending {TOKEN} with {SECRET}"),
    );
    out += &format!("{error} {error:?}");
    let mut call = ApiCall::new(true);
    let judged = call.judge(
        &cell,
        &token,
        http::StatusCode::UNAUTHORIZED,
        &http::HeaderMap::new(),
        true,
    );
    out += &format!("{judged:?}");
    if let Some(job) = judged.job {
        out += &format!("{job:?}");
    }
    for secret in encodings("client", SECRET)
        .into_iter()
        .chain(encodings("client", TOKEN))
    {
        assert!(!out.contains(&secret), "`{secret}` leaked into:\n{out}");
    }
}

fn serde_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
