//! Neither the client secret nor a token may appear in any Debug, Display
//! or log output, in failing runs and successful ones. Its own test binary,
//! because it installs a global log subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::{ClientAuth, ClientCredentials, Markable, OAuth2, Openverse, RefreshPolicy};
use auth_emulator::{
    demo, ClientSpec, Emulator, EmulatorConfig, Endpoint, Fault, FaultPlan, Throttles,
};
use auth_reqwest::TokenProvider;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

const SECRET: &str = "S3cr3t-Hunter2-xyzzy-0451";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_in_any_output() {
    let capture = Capture::default();
    tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .init();

    // Many token requests from one IP: more than Openverse's anonymous limits.
    let mut config = EmulatorConfig {
        throttles: Throttles::off(),
        ..EmulatorConfig::default()
    };
    config.clients.push(ClientSpec::oauth2(
        "leak-test",
        SECRET,
        &["read"],
        &["read"],
    ));
    config
        .clients
        .push(ClientSpec::openverse("leak-ov", SECRET, true));
    config.clients.push(ClientSpec::markable(
        "leak-mk",
        SECRET,
        &["default", "search"],
    ));
    let emu = Emulator::start(config).await.unwrap();
    let mut out = String::new();
    let mut tokens = Vec::new();
    let policy = RefreshPolicy::default()
        .with_backoff_initial(Duration::from_millis(5))
        .with_waiting_retries(0);

    let make = |dialect: usize| {
        let b = match dialect {
            0 => TokenProvider::builder(
                OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
                ClientCredentials::new("leak-test", SECRET).unwrap(),
            ),
            1 => TokenProvider::builder(
                OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Post).unwrap(),
                ClientCredentials::new("leak-test", SECRET).unwrap(),
            ),
            2 => TokenProvider::builder(
                Openverse::with_base(emu.base_url()).unwrap(),
                ClientCredentials::new("leak-ov", SECRET).unwrap(),
            ),
            _ => TokenProvider::builder(
                Markable::with_base(emu.base_url()).unwrap(),
                ClientCredentials::new("leak-mk", SECRET).unwrap(),
            ),
        };
        b.policy(policy.clone())
            .timeout(Duration::from_millis(400))
            .build()
            .unwrap()
    };
    let endpoints = [
        Endpoint::Oauth2Token,
        Endpoint::Oauth2Token,
        Endpoint::OpenverseToken,
        Endpoint::MarkableAuthorize,
    ];
    for (dialect, endpoint) in endpoints.into_iter().enumerate() {
        for fault in [
            Fault::NotJson,
            Fault::Html,
            Fault::Redirect { status: 307 },
            Fault::WrongTokenType,
            Fault::MissingAccessToken,
            Fault::NegativeExpiresIn,
            Fault::TruncatedBody,
            Fault::ConnectionReset,
            Fault::ServerError {
                status: 500,
                retry_after_secs: None,
            },
        ] {
            emu.clear_faults();
            let p = make(dialect);
            out += &format!("{p:?}\n");
            let good = p.token().await.unwrap();
            tokens.push(good.access_token().expose_secret().to_owned());
            out += &format!("{good:?}\n");
            emu.add_fault(FaultPlan::next(endpoint, fault, 1)).unwrap();
            p.invalidate(&good);
            match p.token().await {
                Ok(t) => out += &format!("{t:?}\n"),
                Err(e) => out += &format!("{e}\n{e:?}\n"),
            }
        }
        emu.clear_faults();
    }
    // Wrong secret: the server's refusal, echoed through every layer.
    let wrong = TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, SECRET).unwrap(),
    )
    .build()
    .unwrap();
    let e = wrong.token().await.unwrap_err();
    out += &format!("{e}\n{e:?}\n");

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("apiauth.fetch"),
        "the fetch spans were captured"
    );
    for text in [&out, &logs] {
        assert!(!text.contains(SECRET), "client secret leaked:\n{text}");
        for t in &tokens {
            assert!(!text.contains(t.as_str()), "token leaked:\n{text}");
        }
    }
    // The output did exercise the failure paths.
    assert!(out.contains("malformed response"), "{out}");
    assert!(out.contains("redirect"), "{out}");
    assert!(out.contains("invalid_client"), "{out}");
}
