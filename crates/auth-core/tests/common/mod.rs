//! A simulated world for the token machine: a clock that jumps, a token
//! endpoint whose answers the test chooses, and a log of what happened.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth_core::{
    ClientAuth, ClientCredentials, Event, OAuth2, Provider, RefreshPolicy, Scopes, TokenSource,
    Transmit, TransportErrorKind,
};
use http::Response;

pub const SECRET: &str = "sim-client-secret-Zq9";

pub struct Sim {
    pub source: TokenSource,
    pub start: Instant,
    pub now: Instant,
    pub wall0: SystemTime,
    /// The outstanding request, if the machine sent one.
    pub pending: Option<Transmit>,
    /// Every request sent: when.
    pub sent_at: Vec<Instant>,
    pub events: Vec<Event>,
}

pub fn oauth2() -> Provider {
    OAuth2::new("https://as.example.com/token", ClientAuth::Basic)
        .unwrap()
        .into()
}

impl Sim {
    pub fn new(policy: RefreshPolicy, seed: u64) -> Self {
        Self::with_provider(oauth2(), Scopes::empty(), policy, seed)
    }

    pub fn with_provider(
        provider: Provider,
        scopes: Scopes,
        policy: RefreshPolicy,
        seed: u64,
    ) -> Self {
        let creds = ClientCredentials::new("sim-client", SECRET).unwrap();
        let source = TokenSource::new(provider, creds, scopes, policy, seed).unwrap();
        // Only an origin: simulated time moves when the test says.
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        Self {
            source,
            start,
            now: start,
            wall0: UNIX_EPOCH + Duration::from_secs(1_795_371_943),
            pending: None,
            sent_at: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn wall(&self) -> SystemTime {
        self.wall0 + (self.now - self.start)
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Drains transmits and events after a handle_* call.
    pub fn drain(&mut self) {
        while let Some(t) = self.source.poll_transmit(self.wall()) {
            assert!(
                self.pending.is_none(),
                "a second request while one is in flight"
            );
            self.sent_at.push(self.now);
            self.pending = Some(t);
        }
        while let Some(e) = self.source.poll_event() {
            self.events.push(e);
        }
    }

    pub fn demand(&mut self) {
        self.source.handle_demand(self.now);
        self.drain();
    }

    /// Jumps to the machine's next deadline and fires it. False if none.
    pub fn fire_timeout(&mut self) -> bool {
        match self.source.poll_timeout() {
            Some(t) => {
                self.now = self.now.max(t);
                self.source.handle_timeout(self.now);
                self.drain();
                true
            }
            None => false,
        }
    }

    pub fn respond(&mut self, response: Response<Vec<u8>>) {
        let t = self.pending.take().expect("no request in flight");
        self.source
            .handle_response(t.id, response, self.now, self.wall());
        self.drain();
    }

    pub fn respond_ok(&mut self, token: &str, expires_in: u64) {
        self.respond(ok(token, expires_in));
    }

    pub fn respond_status(&mut self, status: u16, retry_after: Option<u64>, body: &str) {
        let mut b = Response::builder().status(status);
        if let Some(r) = retry_after {
            b = b.header("retry-after", r.to_string());
        }
        self.respond(b.body(body.as_bytes().to_vec()).unwrap());
    }

    pub fn transport_error(&mut self, kind: TransportErrorKind) {
        let t = self.pending.take().expect("no request in flight");
        self.source
            .handle_transport_error(t.id, kind, "connection reset by peer", self.now);
        self.drain();
    }

    pub fn token_value(&self) -> Option<String> {
        self.source
            .token(self.now)
            .map(|t| t.access_token().expose_secret().to_owned())
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

pub fn ok(token: &str, expires_in: u64) -> Response<Vec<u8>> {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(
            format!(
                r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{expires_in}}}"#
            )
            .into_bytes(),
        )
        .unwrap()
}

/// Proptest settings shared by the property tests: `APIAUTH_PROPTEST_CASES`
/// cases (default `default_cases`), and a fixed seed so CI runs the same
/// cases every time — set `APIAUTH_PROPTEST_SEED=random` (or a number) to
/// explore. Failures are saved in `tests/*.proptest-regressions` and
/// replayed first on every run.
pub fn proptest_config(default_cases: u32) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, RngSeed};
    let cases = std::env::var("APIAUTH_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let rng_seed = match std::env::var("APIAUTH_PROPTEST_SEED").as_deref() {
        Ok("random") => RngSeed::Random,
        Ok(n) => RngSeed::Fixed(n.parse().unwrap_or(0x5eed_a11c)),
        Err(_) => RngSeed::Fixed(0x5eed_a11c),
    };
    Config {
        cases,
        rng_seed,
        ..Config::default()
    }
}
